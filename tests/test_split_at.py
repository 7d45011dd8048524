"""mo.split_at against R's tmerge, and the counting-process property of a split.

References: tests/reference/split.R (R survival 3.5 ``tmerge`` with ``event()`` and
``tdc()``; the Stanford heart transplant ``jasa`` data of the survival vignette).
"""

from __future__ import annotations

import time as clock

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError


def _small():
    r = reference("split")["small"]
    dose, statin = pd.DataFrame(r["dose"]), pd.DataFrame(r["statin"])
    changes = pd.concat([
        pd.DataFrame({"id": dose["id"], "time": dose["t"], "column": "dose",
                      "value": dose["v"]}),
        pd.DataFrame({"id": statin["id"], "time": statin["t"], "column": "statin",
                      "value": 1})], ignore_index=True)
    return pd.DataFrame(r["base"]), changes, pd.DataFrame(r["split"])


def _jasa():
    d = reference_data("split_jasa").assign(trt=0)
    tx = d[d["txtime"].notna()]
    changes = pd.DataFrame({"subject": tx["subject"], "futime": tx["txtime"],
                            "column": "trt", "value": 1})
    return mo.split_at(d.drop(columns="txtime"), changes, id="subject", time="futime",
                       event="fustat")


def test_small_data_as_tmerge():
    base, changes, want = _small()
    got = mo.split_at(base, changes, id="id")
    assert got["id"].tolist() == want["id"].tolist()
    for ours, theirs in (("start", "tstart"), ("time", "tstop"), ("event", "death"),
                         ("dose", "dose"), ("statin", "statin")):
        np.testing.assert_allclose(got[ours].to_numpy(float), want[theirs], err_msg=ours)
    # Changes on days 20 (id 2, its last day), 12 (id 4, after day 8), 12 (id 1, after
    # day 10) cannot act; the day-0 change of id 3 sets its starting dose.
    assert got.attrs["split_at"] == {"changes": 9, "used": 5, "at_baseline": 1,
                                     "ignored_after_followup": 3}
    assert "3 change(s)" in got.attrs["notes"][0]


def test_jasa_transplant_as_tmerge_and_coxph():
    r = reference("split")["jasa"]
    got = _jasa()
    want = r["split"]
    assert got["subject"].tolist() == want["subject"]
    np.testing.assert_allclose(got["start"], want["tstart"], atol=1e-12)
    np.testing.assert_allclose(got["futime"], want["tstop"], atol=1e-12)
    np.testing.assert_array_equal(got["fustat"], want["death"])
    np.testing.assert_array_equal(got["trt"], want["trt"])
    fit = mo.cox(got, time="futime", event="fustat", start="start",
                 covariates=["trt", "age", "surgery"])
    np.testing.assert_allclose(fit.summary["coef"], r["coef"], rtol=1e-7)
    np.testing.assert_allclose(fit.summary["se"], r["se"], rtol=1e-7)
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=1e-9)


def test_split_with_unchanged_covariate_fits_as_the_unsplit_data():
    # Property: cutting follow-up where a covariate "changes" to its own value leaves the
    # risk sets, hence Cox and Kaplan-Meier, exactly as they were.
    lung = reference_data("lung").dropna(subset=["ph_ecog"]).reset_index(drop=True)
    lung["patient_id"] = np.arange(len(lung)) + 1
    rng = np.random.default_rng(7)
    n = len(lung)
    ids = rng.integers(1, n + 1, 3 * n)
    when = np.round(rng.uniform(0, 1100, ids.size))
    changes = pd.DataFrame({"patient_id": ids, "time": when, "column": "ph_ecog",
                            "value": lung["ph_ecog"].to_numpy()[ids - 1]})
    split = mo.split_at(lung, changes)
    assert len(split) > 1.5 * n  # it really was cut
    assert split.groupby("patient_id")["event"].sum().equals(
        lung.set_index("patient_id")["event"].rename_axis("patient_id"))
    whole = mo.cox(lung, covariates=["ph_ecog", "age", "group"])
    cut = mo.cox(split, covariates=["ph_ecog", "age", "group"], start="start")
    np.testing.assert_allclose(cut.summary["coef"], whole.summary["coef"], rtol=1e-9)
    np.testing.assert_allclose(cut.summary["se"], whole.summary["se"], rtol=1e-9)
    km_whole = mo.kaplan_meier(lung, group="group").at([100, 300, 700])
    km_cut = mo.kaplan_meier(split, group="group", start="start").at([100, 300, 700])
    np.testing.assert_allclose(km_cut["surv"], km_whole["surv"], rtol=1e-12)
    np.testing.assert_allclose(km_cut["n_risk"], km_whole["n_risk"])


def test_new_column_is_missing_before_its_first_change():
    base = pd.DataFrame({"patient_id": [1, 2], "time": [10.0, 5.0], "event": [1, 0]})
    changes = pd.DataFrame({"patient_id": [1], "time": [3.0], "column": ["drug"],
                            "value": ["ticagrelor"]})
    out = mo.split_at(base, changes)
    assert out["drug"].isna().tolist() == [True, False, True]
    assert out["drug"].iloc[1] == "ticagrelor"
    assert out["event"].tolist() == [0, 1, 0]


def test_every_problem_named_at_once():
    base = pd.DataFrame({"patient_id": [1, 1, 2], "time": [10.0, 10.0, -1.0],
                         "event": [1, 0, 2]})
    changes = pd.DataFrame({"patient_id": [9], "time": [3.0], "column": ["event"],
                            "value": [1]})
    with pytest.raises(InputError) as err:
        mo.split_at(base, changes)
    text = str(err.value)
    for piece in ("more than one row", "positive number", "0 or 1", "not in df",
                  "follow-up column"):
        assert piece in text
    assert "9" in text


def test_vectorised_at_scale():
    n = 100_000
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"patient_id": np.arange(n), "time": rng.uniform(1, 365, n),
                         "event": rng.integers(0, 2, n), "stage": 0})
    ids = rng.integers(0, n, 3 * n)
    changes = pd.DataFrame({"patient_id": ids, "time": rng.uniform(0.5, 365, ids.size),
                            "column": "stage", "value": 1})
    t0 = clock.perf_counter()
    out = mo.split_at(base, changes)
    assert clock.perf_counter() - t0 < 5.0
    inside = changes["time"].to_numpy() < base["time"].to_numpy()[ids]
    # One extra row per distinct change date inside follow-up (closed form).
    assert len(out) == n + changes.loc[inside, ["patient_id", "time"]].drop_duplicates().shape[0]
    assert out["event"].sum() == base["event"].sum()
