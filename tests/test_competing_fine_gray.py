"""Fine-Gray regression against cmprsk's crr (mgus2 reference), R's finegray + weighted
coxph (through the ``survival`` port), lifelines, and a simulation with known truth."""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from lifelines import CoxPHFitter

import mace_outcomes as mo

RTOL = 1e-6


@pytest.fixture(scope="module")
def mgus2():
    return reference_data("mgus2")


@pytest.fixture(scope="module")
def ref():
    return reference("mgus2")["fine_gray"]


def test_crr_coefficients_se_and_p_match_cmprsk(mgus2, ref):
    fit = mo.fine_gray(mgus2, time="time", status="status", covariates=["group", "age"],
                       cause=1)
    s = fit.summary
    assert s.index.tolist() == ref["term"]
    for col in ("coef", "hr", "se", "p"):
        np.testing.assert_allclose(s[col], ref[col], rtol=RTOL, err_msg=col)
    z = np.array(ref["coef"]) / np.array(ref["se"])
    np.testing.assert_allclose(s["z"], z, rtol=RTOL)
    np.testing.assert_allclose(s["lower"], np.exp(np.array(ref["coef"]) - 1.959963984540054
                                                  * np.array(ref["se"])), rtol=RTOL)
    assert fit.converged and fit.variance == "crr" and not fit.weighted
    assert (fit.n, fit.n_event, fit.n_competing) == (
        len(mgus2), int((mgus2["status"] == 1).sum()), int((mgus2["status"] == 2).sum()))
    assert fit.loglik[1] > fit.loglik[0]
    lr = fit.tests.set_index("test").loc["pseudo_likelihood_ratio"]
    np.testing.assert_allclose(lr["statistic"], 2 * (fit.loglik[1] - fit.loglik[0]))
    assert lr["df"] == 2
    assert "Fine-Gray" in repr(fit) and "<div>" in fit._repr_html_()


def _finegray_coxph(d: pd.DataFrame, weights: np.ndarray):
    """R's finegray() + coxph(weights = fgwt * w, ties = "breslow", cluster = id)."""
    sv = pytest.importorskip("survival")
    d = d.assign(id=np.arange(len(d)) + 1, w=weights,
                 st=pd.Categorical(d["status"], categories=[0, 1, 2]))
    fg = pd.DataFrame(dict(sv.finegray("Surv(time, st) ~ group + age + w + id", data=d,
                                       etype="1", id="id")))
    fg["ww"] = fg["fgwt"] * fg["w"]
    fit = sv.coxph("Surv(fgstart, fgstop, fgstatus) ~ group + age", data=fg, weights="ww",
                   ties="breslow", cluster="id")
    return (np.asarray(fit.coefficients), np.sqrt(np.diag(np.asarray(fit.var))),
            np.sqrt(np.diag(np.asarray(fit.naive_var))))


def test_weighted_fit_is_finegray_plus_weighted_coxph(mgus2):
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(mgus2))
    coef, se, naive = _finegray_coxph(mgus2, w)
    fit = mo.fine_gray(mgus2.assign(w=w), covariates=["group", "age"], weights="w")
    np.testing.assert_allclose(fit.summary["coef"], coef, rtol=RTOL)
    np.testing.assert_allclose(fit.summary["se"], se, rtol=RTOL)
    np.testing.assert_allclose(fit.summary["naive_se"], naive, rtol=RTOL)
    assert fit.weighted and fit.variance == "robust"


def test_unit_weights_reproduce_finegray_not_crr_on_tied_data(mgus2, ref):
    # mgus2 has failures tied with censorings: finegray counts failures first in G,
    # so its estimate differs slightly from crr's -- the documented difference.
    coef, se, _ = _finegray_coxph(mgus2, np.ones(len(mgus2)))
    fit = mo.fine_gray(mgus2.assign(w=1.0), covariates=["group", "age"], weights="w")
    np.testing.assert_allclose(fit.summary["coef"], coef, rtol=RTOL)
    np.testing.assert_allclose(fit.summary["se"], se, rtol=RTOL)
    assert not np.allclose(fit.summary["coef"], ref["coef"], rtol=1e-4)


def _simulate(n, beta, p=0.4, seed=0):
    """Fine & Gray (1999, section 5) design: P(cause 1 | x) = 1 - (1 - p)^exp(x b),
    cause-1 times from the subdistribution, cause-2 exponential; uniform censoring."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    eta = np.exp(x @ beta)
    p1 = 1.0 - (1.0 - p) ** eta
    cause1 = rng.random(n) < p1
    u = rng.random(n)
    # invert F1(t | x) = 1 - (1 - p (1 - e^-t))^eta, conditional on cause 1
    t1 = -np.log(1.0 - (1.0 - (1.0 - u * p1) ** (1.0 / eta)) / p)
    t2 = rng.exponential(1.0 / np.exp(0.5 * x[:, 1]), n)
    t = np.where(cause1, t1, t2)
    c = rng.uniform(0, 3, n)
    status = np.where(t <= c, np.where(cause1, 1, 2), 0)
    return pd.DataFrame({"time": np.minimum(t, c), "status": status, "a": x[:, 0],
                         "b": x[:, 1]})


def test_simulation_recovers_true_subdistribution_hazard_ratios():
    beta = np.array([0.5, -0.4])
    d = _simulate(4000, beta, seed=11)
    fit = mo.fine_gray(d, covariates=["a", "b"])
    zs = (fit.summary["coef"] - beta) / fit.summary["se"]
    assert np.all(np.abs(zs) < 4), zs
    # the crr sandwich is close to the model-based SE in a correctly specified model
    ratio = fit.summary["se"] / fit.summary["naive_se"]
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    one = mo.fine_gray(d, covariates=["a"])
    wald = one.tests.set_index("test").loc["wald"]
    np.testing.assert_allclose(wald["statistic"], one.summary["z"].iloc[0] ** 2, rtol=1e-10)
    np.testing.assert_allclose(wald["p"], one.summary["p"].iloc[0], rtol=1e-8)


def test_continuous_times_unit_weights_equal_crr():
    # without ties between failure and censoring times finegray's G is crr's G
    d = _simulate(600, np.array([0.3, 0.2]), seed=5)
    assert d["time"].is_unique
    # (crr's stopping rule is looser than coxph's: tighten it to compare estimators)
    crr = mo.fine_gray(d, covariates=["a", "b"], gtol=1e-13)
    fg = mo.fine_gray(d.assign(w=1.0), covariates=["a", "b"], weights="w")
    np.testing.assert_allclose(fg.summary["coef"], crr.summary["coef"], rtol=1e-8)
    np.testing.assert_allclose(fg.summary["naive_se"], crr.summary["naive_se"], rtol=1e-8)
    # constant weights leave the estimate unchanged
    fg3 = mo.fine_gray(d.assign(w=3.0), covariates=["a", "b"], weights="w")
    np.testing.assert_allclose(fg3.summary["coef"], fg.summary["coef"], rtol=1e-8)


def test_without_competing_events_it_is_cox():
    d = _simulate(500, np.array([0.4, -0.3]), seed=2)
    d = d.assign(status=np.where(d["status"] == 2, 0, d["status"]))
    fit = mo.fine_gray(d, covariates=["a", "b"])
    cph = CoxPHFitter().fit(d.assign(event=d["status"])[["time", "event", "a", "b"]],
                            "time", "event")
    np.testing.assert_allclose(fit.summary["coef"], cph.params_[["a", "b"]], rtol=1e-5)
    np.testing.assert_allclose(fit.summary["naive_se"],
                               cph.standard_errors_[["a", "b"]], rtol=1e-5)


def test_bad_input(mgus2):
    bad = mgus2.head(20).astype({"status": float, "age": float})
    bad.loc[2, "status"] = 0.5
    with pytest.raises(mo.InputError) as info:
        mo.fine_gray(bad, covariates=["age"])
    assert info.value.problems[0].column == "status" and info.value.problems[0].rows == (2,)
    miss = mgus2.head(20).astype({"age": float})
    miss.loc[4, "age"] = np.nan
    with pytest.raises(mo.InputError, match="age"):
        mo.fine_gray(miss, covariates=["age"])
    with pytest.raises(mo.InputError, match="no events of cause 3"):
        mo.fine_gray(mgus2, covariates=["age"], cause=3)
    with pytest.raises(mo.InputError, match="positive"):
        mo.fine_gray(mgus2.assign(w=0.0), covariates=["age"], weights="w")


def test_monotone_likelihood_is_flagged_not_reported_as_finite(mgus2):
    # no cause-1 events in group 1: crr runs to its iteration limit and prints a huge
    # coefficient with a small sandwich SE; here the term is named and left non-finite
    d = mgus2.assign(status=np.where((mgus2["group"] == 1) & (mgus2["status"] == 1), 0,
                                     mgus2["status"]))
    with pytest.warns(mo.MonotoneLikelihoodWarning, match="'group'"), \
            pytest.warns(RuntimeWarning, match="did not converge"):
        fit = mo.fine_gray(d, covariates=["group", "age"])
    s = fit.summary
    assert s.loc["group", "coef"] == -np.inf and np.isnan(s.loc["group", "p"])
    assert np.isfinite(s.loc["age", "coef"]) and np.isfinite(s.loc["age", "p"])
    assert any("monotone" in m for m in fit.warnings)


def test_no_warning_on_a_regular_fit(mgus2):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = mo.fine_gray(mgus2, covariates=["group", "age"])
        mo.fine_gray(_simulate(800, np.array([1.0, -0.8]), seed=4), covariates=["a", "b"])
    assert fit.warnings == []


def test_censoring_distribution_conventions():
    from mace_outcomes.regression.fine_gray import censoring_km_left

    # times 0 0 2 2 2 5: censored at 0 (one of two), at 2 one failure + one censoring
    t = np.array([0.0, 0.0, 2.0, 2.0, 2.0, 5.0])
    mark = np.array([0, 1, 1, 0, 2, 0])
    ut, g_crr = censoring_km_left(t, mark)
    _, g_fg = censoring_km_left(t, mark, failures_first=True)
    np.testing.assert_array_equal(ut, [0.0, 2.0, 5.0])
    # crr: G read at time*(1 - 100 eps) is G(0) = 1 - 1/6 at time 0; censoring risk set at
    # 2 holds all 4 subjects with T >= 2
    np.testing.assert_allclose(g_crr, [5 / 6, 5 / 6, 5 / 6 * (1 - 1 / 4)])
    # finegray: G(0-) = 1, failures leave before censorings at a tied time (6 - 1 at 0,
    # 4 - 2 at 2)
    np.testing.assert_allclose(g_fg, [1.0, 1 - 1 / 5, (1 - 1 / 5) * (1 - 1 / 2)])


def test_row_order_and_time_scale_do_not_matter(mgus2, ref):
    d = mgus2.sample(frac=1.0, random_state=1).assign(time=mgus2["time"] * 30.4375)
    fit = mo.fine_gray(d, covariates=["group", "age"])
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=RTOL)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=RTOL)
