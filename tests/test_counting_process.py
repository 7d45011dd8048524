"""Counting-process (start, stop] rows and R's tolerance for tied times.

References: tests/reference/counting.R (R survival 3.5: the Stanford heart transplant
data ``heart``, an age-scale analysis of ``mgus2``, times 2 and sqrt(2)^2) and
properties that hold for every input (splitting a row at an interior time leaves every
risk set, hence every estimate, unchanged; ``start = 0`` is no delayed entry).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.survival._kernels import aeq_times, tied_to_previous, time_grid

REF = reference("counting")
COV = ["age", "transplant", "surgery"]
KM_COLS = ["time", "n_risk", "n_event", "surv", "std_err", "lower", "upper"]


def heart() -> pd.DataFrame:
    h = reference_data("heart")
    return h.assign(w=1 + (h["id"] % 3) / 2)


def mgus2_age() -> pd.DataFrame:
    m = reference_data("mgus2_age")
    return m.assign(entry=m["age"], exit=m["age"] + m["futime"] / 12)


def r_cox(fit, ref: dict) -> None:
    s = fit.summary
    np.testing.assert_allclose(s["coef"], ref["coef"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(s["se"], ref["se"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s["naive_se"], ref["naive_se"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-10)
    stats = fit.tests.set_index("test")["statistic"]
    np.testing.assert_allclose([stats["likelihood_ratio"], stats["wald"], stats["score"]],
                               [ref["lr"], ref["wald"], ref["score"]], rtol=1e-8)
    assert (fit.n, fit.n_event) == (ref["n"], ref["nevent"])


def r_km(km, ref: dict) -> None:
    got = km.table
    want = pd.DataFrame({c: pd.to_numeric(pd.Series(ref[c]), errors="coerce")
                         for c in KM_COLS})
    assert len(got) == len(want)
    for c in KM_COLS:
        np.testing.assert_allclose(got[c].to_numpy(float), want[c], rtol=1e-8, atol=1e-10,
                                   err_msg=c)


@pytest.mark.parametrize("case, kwargs", [
    ("heart_efron", {}),
    ("heart_breslow", {"ties": "breslow"}),
    ("heart_cluster", {"cluster": "id"}),
    ("heart_cluster_breslow", {"cluster": "id", "ties": "breslow"}),
    ("heart_weighted", {"weights": "w", "cluster": "id"}),
])
def test_cox_heart_matches_r(case, kwargs):
    fit = mo.cox(heart(), "stop", "event", COV, start="start", **kwargs)
    r_cox(fit, REF[case])


def test_cox_heart_strata_matches_r():
    fit = mo.cox(heart(), "stop", "event", ["age", "transplant"], start="start",
                 strata="surgery")
    r_cox(fit, REF["heart_strata"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_age_scale_matches_r(ties):
    fit = mo.cox(mgus2_age(), "exit", "death", ["sex"], start="entry", ties=ties)
    r_cox(fit, REF["mgus2_age_cox" + ("_breslow" if ties == "breslow" else "")])


def test_age_scale_data_has_noise_ties():
    # age + futime / 12 makes times equal but for rounding: the case aeqSurv exists for
    m = mgus2_age()
    u = np.unique(np.r_[m["entry"], m["exit"]])
    assert tied_to_previous(u).sum() > 0


@pytest.mark.parametrize("case, kwargs", [
    ("heart_km_all", {}),
    ("heart_km", {"group": "transplant"}),
    ("heart_km_weighted_cluster", {"group": "transplant", "weights": "w", "cluster": "id"}),
    ("heart_km_robust", {"group": "transplant", "robust": True}),
])
def test_km_heart_matches_r(case, kwargs):
    km = mo.kaplan_meier(heart(), "stop", "event", start="start", conf_type="log", **kwargs)
    r_km(km, REF[case])


def test_km_age_scale_matches_r():
    km = mo.kaplan_meier(mgus2_age(), "exit", "death", group="sex", start="entry",
                         conf_type="log")
    r_km(km, REF["mgus2_age_km"])


def test_logrank_delayed_entry_matches_survdiff_formula():
    ref = REF["heart_logrank"]
    res = mo.logrank(heart(), "stop", "event", group="transplant", start="start")
    assert res.table["observed"].iloc[1] == ref["observed1"]
    np.testing.assert_allclose(res.table["expected"].iloc[1], ref["expected1"], rtol=1e-10)
    np.testing.assert_allclose(res.variance[1, 1], ref["var"], rtol=1e-10)
    np.testing.assert_allclose(res.statistic, ref["chisq"], rtol=1e-10)


def test_logrank_delayed_entry_stratified_sums_strata():
    a, b = REF["heart_logrank_surgery0"], REF["heart_logrank_surgery1"]
    res = mo.logrank(heart(), "stop", "event", group="transplant", start="start",
                     strata="surgery")
    np.testing.assert_allclose(res.table["expected"].iloc[1], a["expected1"] + b["expected1"],
                               rtol=1e-10)
    np.testing.assert_allclose(res.variance[1, 1], a["var"] + b["var"], rtol=1e-10)


def test_logrank_start_refuses_weights():
    with pytest.raises(InputError, match="start"):
        mo.logrank(heart(), "stop", "event", group="transplant", start="start", weights="w")


# -- tied times (R's aeqSurv) ---------------------------------------------------------------

def ties_frame(two: float) -> pd.DataFrame:
    return pd.DataFrame({"time": [1, 2, two, 3, 3, 4], "event": [1, 1, 1, 0, 1, 1],
                         "x": [0, 1, 0, 1, 0, 1], "s": [0, 0, 1, 1, 0, 1]})


def test_noise_tie_is_one_time():
    two = np.sqrt(2) ** 2
    assert two != 2.0
    utime, inv = time_grid(np.array([two, 1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(utime, [1.0, 2.0, 3.0])
    assert inv[0] == inv[2] == 1
    assert not tied_to_previous(np.array([1.0, 1.0 + 1e-6]))[1]
    start, stop = aeq_times(np.array([0.0, two]), np.array([2.0, 5.0]))
    assert start[1] == stop[0] == 2.0


def test_km_and_cox_tie_noise_as_r():
    d = ties_frame(np.sqrt(2) ** 2)
    r_km(mo.kaplan_meier(d, conf_type="log"), REF["ties_km"])
    r_cox(mo.cox(d, covariates=["x"]), REF["ties_cox"])


def test_noise_ties_stratified_cox_and_logrank():
    noisy, exact = ties_frame(np.sqrt(2) ** 2), ties_frame(2.0)
    a = mo.cox(noisy, covariates=["x"], strata="s")
    b = mo.cox(exact, covariates=["x"], strata="s")
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-12)
    la = mo.logrank(noisy, group="x")
    lb = mo.logrank(exact, group="x")
    np.testing.assert_allclose(la.statistic, lb.statistic, rtol=1e-12)


# -- properties ------------------------------------------------------------------------------

def split_rows(d: pd.DataFrame, rng) -> pd.DataFrame:
    """Each row cut at an interior time: (start, cut] censored, (cut, stop] as before."""
    cut = d["start"] + rng.uniform(0.2, 0.8, len(d)) * (d["stop"] - d["start"])
    first = d.assign(stop=cut, event=0)
    second = d.assign(start=cut)
    return pd.concat([first, second], ignore_index=True)


def simulated(n=300, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stop = np.ceil(rng.exponential(200, n)) + 1
    return pd.DataFrame({"start": np.floor(rng.uniform(0, 1, n) * (stop - 1)), "stop": stop,
                         "event": rng.integers(0, 2, n), "x": rng.normal(size=n),
                         "arm": rng.integers(0, 2, n), "site": rng.integers(0, 3, n),
                         "patient_id": np.arange(n)})


@pytest.mark.parametrize("kwargs", [{}, {"ties": "breslow"}, {"strata": "site"},
                                    {"firth": True}])
def test_cox_split_rows_leave_fit_unchanged(kwargs):
    d = simulated()
    whole = mo.cox(d, "stop", "event", ["x", "arm"], start="start", **kwargs)
    split = mo.cox(split_rows(d, np.random.default_rng(4)), "stop", "event", ["x", "arm"],
                   start="start", cluster="patient_id", robust=False, **kwargs)
    # Firth iterates to coxphf's step criterion (1e-6) on a design scaled by the rows' SDs
    tol = 1e-6 if kwargs.get("firth") else 1e-9
    np.testing.assert_allclose(split.summary["coef"], whole.summary["coef"], rtol=tol)
    np.testing.assert_allclose(split.summary["naive_se"], whole.summary["naive_se"],
                               rtol=tol)
    if not kwargs.get("firth"):
        np.testing.assert_allclose(split.loglik, whole.loglik, rtol=1e-11)


def test_robust_cox_split_rows_clustered_equal_unsplit():
    # the cluster sums the pieces' score residuals into the subject's own
    d = simulated()
    whole = mo.cox(d, "stop", "event", ["x", "arm"], start="start", robust=True)
    split = mo.cox(split_rows(d, np.random.default_rng(5)), "stop", "event", ["x", "arm"],
                   start="start", cluster="patient_id")
    np.testing.assert_allclose(split.summary["se"], whole.summary["se"], rtol=1e-9)


def test_km_split_rows_and_zero_start():
    d = simulated()
    whole = mo.kaplan_meier(d, "stop", "event", group="arm", start="start")
    split = mo.kaplan_meier(split_rows(d, np.random.default_rng(6)), "stop", "event",
                            group="arm", start="start")
    events = split.table[split.table["n_event"] > 0].reset_index(drop=True)
    want = whole.table[whole.table["n_event"] > 0].reset_index(drop=True)
    for c in ["time", "n_risk", "surv", "std_err"]:
        np.testing.assert_allclose(events[c], want[c], rtol=1e-12)
    zero = mo.kaplan_meier(d.assign(start=0.0), "stop", "event", group="arm", start="start")
    plain = mo.kaplan_meier(d, "stop", "event", group="arm")
    pd.testing.assert_frame_equal(zero.table, plain.table)


def test_firth_zero_start_equals_no_start():
    d = simulated()
    a = mo.cox(d.assign(start=0.0), "stop", "event", ["x", "arm"], start="start", firth=True)
    b = mo.cox(d, "stop", "event", ["x", "arm"], firth=True)
    np.testing.assert_allclose(a.summary["coef"], b.summary["coef"], rtol=1e-10)


def test_start_validation_names_every_row():
    d = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "start": [0, 5, -1, np.nan],
                      "stop": [3, 5, 4, 6], "event": [1, 0, 1, 0], "x": [0, 1, 0, 1]})
    with pytest.raises(InputError) as err:
        mo.kaplan_meier(d, "stop", "event", start="start")
    text = str(err.value)
    for what in ("P2", "P3", "P4", "negative start", "before 'stop'", "missing"):
        assert what in text


def test_noise_ties_competing_risks():
    # times 2 and sqrt(2)^2 must give what two exact 2s give (one time, as R's aeqSurv)
    def frame(two):
        return pd.DataFrame({"time": [1, 2, two, 2.5, 3, 3, 4, 5],
                             "status": [1, 2, 1, 0, 1, 2, 1, 0],
                             "arm": [0, 1, 1, 0, 0, 1, 1, 0]})
    noisy, exact = frame(np.sqrt(2) ** 2), frame(2.0)
    a = mo.cumulative_incidence(noisy, group="arm").table
    b = mo.cumulative_incidence(exact, group="arm").table
    assert len(a) == len(b)
    np.testing.assert_allclose(a.select_dtypes("number"), b.select_dtypes("number"),
                               rtol=1e-12)
    fa = mo.fine_gray(noisy, covariates=["arm"]).summary["coef"]
    fb = mo.fine_gray(exact, covariates=["arm"]).summary["coef"]
    np.testing.assert_allclose(fa, fb, rtol=1e-10)


def test_noise_ties_bootstrap_layout():
    from mace_outcomes.weighting.batch import layout

    t = np.array([1.0, 2.0, np.sqrt(2) ** 2, 3.0])
    lay = layout(t, np.array([1, 1, 0, 1]), np.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(lay.utimes, [1.0, 2.0, 3.0])


def test_ph_test_on_a_start_stop_fit_is_refused_not_miscomputed():
    d = pd.DataFrame({"start": [0, 0, 5, 0, 2, 0], "stop": [4, 6, 9, 8, 7, 3],
                      "event": [1, 0, 1, 1, 0, 1], "x": [0, 1, 1, 0, 1, 0]})
    fit = mo.cox(d, time="stop", event="event", start="start", covariates=["x"])
    with pytest.raises(mo.InputError, match="not available yet for \\(start, stop\\]"):
        fit.ph_test()
