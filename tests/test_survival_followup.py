"""Reverse Kaplan-Meier follow-up against R's quantile(survfit(Surv(time, 1 - event) ~ ...))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo


def load(name):
    return reference(name), reference_data(name)


def num(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_reverse_km_matches_r(name):
    ref, df = load(name)
    r = ref["reverse_km_followup"]
    fu = mo.followup(df, time="time", event="event", group="group")
    per = fu.table[fu.table["group"] != "overall"]
    assert [str(g) for g in per["group"]] == r["group"]
    for col in ("q1", "median", "q3"):
        np.testing.assert_array_equal(per[col].to_numpy(float), num(r[col]), err_msg=col)
    est, lower, upper = (num(row) for row in r["overall"])
    np.testing.assert_array_equal(fu.overall["estimate"], est)
    np.testing.assert_array_equal(fu.overall["lower"], lower)
    np.testing.assert_array_equal(fu.overall["upper"], upper)
    assert fu.table.set_index("group").loc["overall", "n"] == len(df)


def test_flat_curve_at_half_gives_midpoint():
    # R's quantile.survfit: a curve equal to 1 - p over [t1, t2) gives (t1 + t2) / 2
    r = reference("spot_checks")["quantile_flat"]
    df = pd.DataFrame({"time": [1, 2, 3, 4], "event": [1, 1, 1, 1]})
    med = mo.kaplan_meier(df).median()
    assert med["median"].iloc[0] == r["median_all_events"]  # (2 + 3) / 2
    # the last flat piece: midpoint to the last time
    df = pd.DataFrame({"time": [1, 2, 5], "event": [1, 0, 0]})
    q = mo.kaplan_meier(df).quantile([1 / 3])
    assert q["time"].iloc[0] == pytest.approx(r["third_last_flat"])  # (1 + 5) / 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 15), st.integers(0, 1)), min_size=3, max_size=50))
def test_reverse_quantiles_equal_survival_port(rows):
    survival = pytest.importorskip("survival")
    df = pd.DataFrame(rows, columns=["time", "event"])
    df["time"] = df["time"].astype(float)
    df["cens"] = 1 - df["event"]
    if df["cens"].sum() == 0:
        return
    fu = mo.followup(df)
    f = survival.survfit("Surv(time, cens) ~ 1", data=df)
    q = survival.quantile(f, probs=[0.25, 0.5, 0.75])
    for ours, theirs in (("estimate", q.quantile), ("lower", q.lower), ("upper", q.upper)):
        np.testing.assert_allclose(fu.overall[ours], np.asarray(theirs, dtype=float).ravel(),
                                   equal_nan=True, err_msg=ours)


def test_bad_input():
    with pytest.raises(mo.InputError):
        mo.followup(pd.DataFrame({"time": [1, np.nan], "event": [0, 1]}))
