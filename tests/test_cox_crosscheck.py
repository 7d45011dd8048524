"""Cox model against independent implementations: lifelines and the `survival`
package (a port of R's survival), plus input validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mace_outcomes as mo

LUNG = reference_data("lung")
LUNG_REF = reference("lung")


def test_unweighted_cox_matches_lifelines():
    lifelines = pytest.importorskip("lifelines")
    cov = ["group", "age", "ph_ecog"]
    cph = lifelines.CoxPHFitter().fit(LUNG[["time", "event"] + cov], "time", "event",
                                      fit_options={"precision": 1e-14, "r_precision": 1e-14})
    fit = mo.cox(LUNG, "time", "event", cov)  # Efron ties, as lifelines
    np.testing.assert_allclose(fit.summary["coef"], cph.params_[cov], rtol=1e-6)
    np.testing.assert_allclose(fit.summary["se"], cph.standard_errors_[cov], rtol=1e-6)
    assert fit.loglik[1] == pytest.approx(cph.log_likelihood_, rel=1e-9)


def test_lifelines_robust_se_differs_from_r_under_efron_ties_ours_does_not():
    # lung has tied death times; R's robust SE uses Efron-adjusted score residuals
    lifelines = pytest.importorskip("lifelines")
    ref = LUNG_REF["iptw"]["cox_weighted_robust"]
    df = LUNG[["time", "event", "group"]].assign(w=LUNG_REF["iptw"]["weights_ate"])
    cph = lifelines.CoxPHFitter().fit(df, "time", "event", weights_col="w", robust=True)
    ours = mo.cox(df, "time", "event", ["group"], weights="w")
    assert ours.summary.loc["group", "se"] == pytest.approx(ref["se"], rel=1e-6)
    assert abs(cph.standard_errors_["group"] / ref["se"] - 1) > 1e-4


def _frame(data):
    n, seed, max_time = data
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "time": rng.integers(1, max_time + 1, n).astype(float),  # many ties
        "event": rng.binomial(1, 0.6, n),
        "x1": rng.normal(size=n).round(3),
        "x2": rng.integers(0, 2, n),
        "w": rng.uniform(0.3, 3.0, n).round(3),
        "site": rng.integers(0, 2, n),
    })


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.tuples(st.integers(25, 120), st.integers(0, 2**31), st.integers(3, 15)),
       ties=st.sampled_from(["efron", "breslow"]), weighted=st.booleans(),
       strata=st.booleans())
def test_cox_equals_survival_package(data, ties, weighted, strata):
    survival = pytest.importorskip("survival")
    df = _frame(data)
    assume(df.event.sum() >= 5 and df.x2.nunique() == 2)
    assume(df.groupby("x2").event.sum().min() >= 2)  # no monotone likelihood
    fit = mo.cox(df, "time", "event", ["x1", "x2"], ties=ties,
                 weights="w" if weighted else None, strata="site" if strata else None)
    assume(not fit.warnings)
    formula = "Surv(time, event) ~ x1 + x2" + (" + strata(site)" if strata else "")
    kw = dict(weights="w", robust=True) if weighted else {}
    ref = survival.coxph(formula, data=df, ties=ties, **kw)
    np.testing.assert_allclose(fit.summary["coef"], ref.coefficients, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.summary["se"], np.sqrt(np.diag(np.asarray(ref.var))),
                               rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, ref.loglik, rtol=1e-8)


def test_score_test_is_logrank_for_binary_covariate_without_ties():
    # closed form: with no tied times the Cox score test equals the log-rank chi-square
    rng = np.random.default_rng(11)
    n = 200
    g = rng.integers(0, 2, n)
    t = rng.exponential(1 / np.exp(0.5 * g)) * 1000 + rng.uniform(0, 1e-3, n)
    df = pd.DataFrame({"time": t, "event": rng.binomial(1, 0.8, n), "g": g})
    fit = mo.cox(df, "time", "event", ["g"])
    from scipy import stats

    # log-rank by hand: sum over event times of O - E and its hypergeometric variance
    d = df.sort_values("time")
    at_risk = np.arange(n, 0, -1)
    at_risk1 = d.g[::-1].cumsum()[::-1].to_numpy()
    e = d.event.to_numpy()
    o_e = np.sum(e * (d.g.to_numpy() - at_risk1 / at_risk))
    v = np.sum(e * at_risk1 / at_risk * (1 - at_risk1 / at_risk))
    score = fit.tests.set_index("test").loc["score", "statistic"]
    assert score == pytest.approx(o_e ** 2 / v, rel=1e-9)
    assert fit.tests.set_index("test").loc["score", "p"] == pytest.approx(
        stats.chi2.sf(o_e ** 2 / v, 1), rel=1e-9)


@pytest.mark.parametrize("change,column,rows", [
    (lambda d: d.assign(time=d.time.where(d.index != 3, -1.0)), "time", [3]),
    (lambda d: d.assign(event=d.event.where(d.index != 5, 2)), "event", [5]),
    (lambda d: d.assign(age=d.age.where(~d.index.isin([2, 7]), np.nan)), "age", [2, 7]),
    (lambda d: d.assign(w=np.where(d.index == 4, 0.0, 1.0)), "w", [4]),
    (lambda d: d.assign(cid=np.where(d.index == 6, None, "a")), "cid", [6]),
])
def test_bad_input_names_column_and_rows(change, column, rows):
    df = change(LUNG.assign(w=1.0, cid="a"))
    kw = {}
    if column == "w":
        kw["weights"] = "w"
    if column == "cid":
        kw["cluster"] = "cid"
    with pytest.raises(mo.InputError) as err:
        mo.cox(df, "time", "event", ["group", "age"], **kw)
    problems = [p for p in err.value.problems if p.column == column]
    assert problems and list(problems[0].rows) == rows


def test_bad_covariates_raise_input_error():
    with pytest.raises(mo.InputError, match="not found"):
        mo.cox(LUNG, "time", "event", ["nope"])
    with pytest.raises(mo.InputError, match="single level"):
        mo.cox(LUNG.assign(arm="OCT"), "time", "event", ["arm"])
    with pytest.raises(mo.InputError, match="constant"):
        mo.cox(LUNG.assign(k=1.0), "time", "event", ["k"])
    with pytest.raises(mo.InputError, match="ties"):
        mo.cox(LUNG, "time", "event", ["group"], ties="exact")
    with pytest.raises(mo.InputError, match="no events"):
        mo.cox(LUNG.assign(event=0), "time", "event", ["group"])


def test_categorical_dummies_reference_is_first_sorted_level():
    df = LUNG.assign(arm=np.where(LUNG.group == 1, "OCT", "IVUS"))
    fit = mo.cox(df, "time", "event", ["arm", "age", "ph_ecog"])
    ref = LUNG_REF["cox_efron"]
    assert list(fit.summary.index) == ["armOCT", "age", "ph_ecog"]
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-6)
    # a pandas Categorical keeps its own level order: IVUS becomes the effect level
    df["arm"] = pd.Categorical(df["arm"], categories=["OCT", "IVUS"])
    fit = mo.cox(df, "time", "event", ["arm", "age", "ph_ecog"])
    assert fit.summary.index[0] == "armIVUS"
    assert fit.summary["coef"].iloc[0] == pytest.approx(-ref["coef"][0], rel=1e-6)


def test_repr_reads_like_r_print():
    fit = mo.cox(LUNG, "time", "event", ["group"])
    text = repr(fit)
    assert "n = 213, events = 151" in text and "likelihood ratio" in text
    assert "<table" in fit._repr_html_()
