"""mo.landmark and the landmark figure, against R and direct counts.

References: tests/reference/split.R (R survival 3.5: ``survdiff`` and
``summary(survfit(...), times=)`` on lung windowed at day 180, horizon day 730).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from matplotlib.text import Text

import mace_outcomes as mo
from mace_outcomes.errors import InputError


def test_landmark_counts_as_r():
    r = reference("split")["landmark"]
    lung = reference_data("lung")
    out = mo.landmark(lung, at=r["at"])
    assert len(out) == r["n_after"]
    assert out.attrs["excluded_event"] == r["event_before"]
    assert out.attrs["excluded_censored"] == r["censored_before"]
    assert out.attrs["excluded_at_landmark"] == r["n_before"] - r["n_after"]
    kept = lung["time"] > r["at"]
    np.testing.assert_array_equal(out.index, lung.index[kept])  # labels kept
    np.testing.assert_allclose(out["time"], lung.loc[kept, "time"] - r["at"])
    assert out[["event", "age", "group"]].equals(lung.loc[kept, ["event", "age", "group"]])


def test_small_frame_by_hand_and_landmarks_compose():
    df = pd.DataFrame({"time": [10, 30, 30, 45, 365], "event": [1, 0, 1, 1, 0],
                       "arm": list("abab" + "a")})
    once = mo.landmark(df, at=30)
    assert once["time"].tolist() == [15.0, 335.0]  # day 30 itself is not "after"
    assert (once.attrs["excluded_event"], once.attrs["excluded_censored"]) == (2, 1)
    twice = mo.landmark(once, at=20)
    assert twice.attrs["landmark"] == 50.0
    assert twice["time"].tolist() == mo.landmark(df, at=50)["time"].tolist()


def test_same_as_time_to_event_landmark():
    # The records' own landmark= and the frame landmark agree (one rule).
    cohort = mo.load_example()
    whole = mo.time_to_event(cohort, "mace", horizon=365)
    want = mo.time_to_event(cohort, "mace", horizon=365, landmark=30)
    got = mo.landmark(whole, at=30).reset_index(drop=True)
    assert got["patient_id"].tolist() == want["patient_id"].tolist()
    np.testing.assert_allclose(got["time"], want["time"])
    np.testing.assert_array_equal(got["event"], want["event"])
    assert got.attrs["excluded_at_landmark"] == want.attrs["excluded_at_landmark"]


def test_errors_listed_together():
    df = pd.DataFrame({"time": [1.0, -2.0], "event": [1, 3]})
    with pytest.raises(InputError) as err:
        mo.landmark(df, at=0)
    text = str(err.value)
    assert "positive time" in text and "0 or more" in text and "0 or 1" in text


def _figure():
    lung = reference_data("lung")
    r = reference("split")["landmark"]
    lm = mo.landmark_curves(lung, at=r["at"], group="group", horizon=r["horizon"])
    fig = mo.plot_km(lm, landmark=r["at"], unit="days",
                     breaks=((0, 60, 120, 180), (0, 100, 200, 300, 400, 500)))
    return lung, r, fig


def test_figure_numbers_at_risk_as_r_and_direct_counts():
    lung, r, fig = _figure()
    try:
        risk = fig.risk_table
        first, second = risk["panel"].unique()
        for panel, ref, window in ((first, r["risk1"], (0, r["at"])),
                                   (second, r["risk2"], (r["at"], r["horizon"]))):
            got = risk[risk["panel"] == panel]
            want = pd.DataFrame(ref)
            want["group"] = want["strata"].str.replace("group=", "").astype(int)
            merged = got.merge(want, on=["group", "time"], suffixes=("", "_r"))
            assert len(merged) == len(want)
            np.testing.assert_allclose(merged["n_risk"], merged["n_risk_r"])
            # Direct count: after the window opens (time > lo) and followed to lo + t.
            lo = window[0]
            direct = [int(((lung["group"] == g) & (lung["time"] > lo)
                           & (lung["time"] >= lo + t)).sum())
                      for g, t in zip(merged["group"], merged["time"], strict=True)]
            np.testing.assert_allclose(merged["n_risk"], direct)
    finally:
        plt.close(fig)


def test_figure_tests_as_survdiff():
    lung, r, fig = _figure()
    try:
        tests = list(fig.landmark.tests.values())
        np.testing.assert_allclose(fig.landmark.table["p"].unique(), r["p"], rtol=1e-6)
        np.testing.assert_allclose([t.statistic for t in tests], r["chisq"], rtol=1e-8)
        np.testing.assert_allclose([t.p_value for t in tests], r["p"], rtol=1e-6)
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert sum("Log-rank" in s for s in texts) == 2  # one test per panel
    finally:
        plt.close(fig)


def test_landmark_figure_needs_both_windows():
    lung = reference_data("lung")
    km = mo.kaplan_meier(lung, group="group")
    with pytest.raises(InputError, match="two windows fitted"):
        mo.plot_km(km, landmark=30)
    lm = mo.landmark_curves(lung, at=30, group="group")
    with pytest.raises(InputError, match="fitted at 30"):
        mo.plot_km(lm, landmark=60)
