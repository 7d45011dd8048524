"""mo.rate_ratio (negative binomial and Poisson event-count regression) and
event_counts, against R (tests/reference/counts.R: MASS::glm.nb, glm(family = poisson),
sandwich::vcovCL) and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.regression.counts import event_counts, rate_ratio

ADJUST = ["age", "sex", "inherit", "steroids"]
# R sorts factor levels in its locale ("autosomal" < "X-linked"); Python by code point
REF = {"inherit": "autosomal"}

CASES = [
    # key, method, covariates, weights, cluster
    ("cgd_nb", "negbin", None, None, None),
    ("cgd_nb_tight", "negbin", None, None, None),
    ("cgd_nb_adjusted", "negbin", ADJUST, None, None),
    ("cgd_poisson", "poisson", None, None, None),
    ("cgd_poisson_adjusted", "poisson", ADJUST, None, None),
    ("cgd_nb_cluster", "negbin", None, None, "center"),
    ("cgd_poisson_cluster", "poisson", None, None, "center"),
    ("cgd_nb_weighted", "negbin", None, "w", None),
    ("cgd_poisson_weighted", "poisson", None, "w", None),
]


def _cgd() -> pd.DataFrame:
    return reference_data("counts")


def _one(v) -> float:
    return float(np.ravel(v)[0])


@pytest.mark.parametrize("key,method,covs,weights,cluster", CASES, ids=[c[0] for c in CASES])
def test_matches_glm_nb_and_glm_poisson(key, method, covs, weights, cluster):
    r = reference("counts")[key]
    fit = rate_ratio(_cgd(), "treat", covariates=covs, weights=weights, cluster=cluster,
                     method=method, reference=REF if covs else None)
    assert list(fit.summary.index) == r["term"]
    np.testing.assert_allclose(fit.summary["coef"], r["coef"], rtol=1e-8)
    # R's glm takes the variance from the IRLS weights of the iterate before the last
    # (up to 3e-7 apart for the Poisson fits); ours at the converged means (see the closed
    # form below)
    se_tol = 1e-6 if method == "poisson" and weights is None and cluster is None else 1e-8
    np.testing.assert_allclose(fit.summary["se"], r["se"], rtol=se_tol)
    np.testing.assert_allclose(fit.vcov.to_numpy().ravel(order="F"), r["vcov"],
                               rtol=10 * se_tol, atol=1e-8)
    assert fit.loglik == pytest.approx(_one(r["loglik"]), rel=1e-10)
    assert fit.robust is (weights is not None or cluster is not None)
    if "naive_se" in r:
        np.testing.assert_allclose(fit.summary["naive_se"], r["naive_se"], rtol=1e-7)
    if method == "negbin":
        assert fit.theta == pytest.approx(_one(r["theta"]), rel=1e-8)
        assert fit.table["alpha"].iloc[0] == pytest.approx(1 / _one(r["theta"]), rel=1e-8)
        # MASS::theta.ml's information at theta; its SE.theta is taken one Newton step
        # earlier, which moves it by up to 3e-5 (weighted fit)
        assert fit.theta_se == pytest.approx(_one(r["theta_se_at_estimate"]), rel=1e-8)
        assert fit.theta_se == pytest.approx(_one(r["theta_se"]), rel=1e-4)
        assert fit.aic == pytest.approx(-_one(r["twologlik"]) + 2 * (len(r["coef"]) + 1),
                                        rel=1e-10)
    row = fit.table.iloc[0]
    b, se = _one(r["coef"][1:]), _one(r["se"][1:])
    assert row["term"] == "treatrIFN-g" and fit.treated == "rIFN-g"
    assert row["rate_ratio"] == pytest.approx(np.exp(b), rel=1e-8)
    assert row["lower"] == pytest.approx(np.exp(b - 1.959963984540054 * se), rel=se_tol)
    assert row["p"] == pytest.approx(2 * (1 - _norm_cdf(abs(b / se))), rel=100 * se_tol)


def _norm_cdf(x: float) -> float:
    from math import erf, sqrt

    return 0.5 * (1 + erf(x / sqrt(2)))


@pytest.mark.parametrize("method", ["negbin", "poisson"])
def test_quine_without_exposure(method):
    # MASS 4th ed. section 7.4: glm.nb(Days ~ Eth + Sex + Age + Lrn, quine)
    r = reference("counts")
    fit = rate_ratio(pd.DataFrame(r["quine_data"]), "Eth", count="Days", time=None,
                     covariates=["Sex", "Age", "Lrn"], method=method)
    ref = r["quine_nb" if method == "negbin" else "quine_poisson"]
    assert list(fit.summary.index) == ref["term"]
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-8)
    if method == "negbin":
        assert fit.theta == pytest.approx(_one(ref["theta"]), rel=1e-8)
    # no exposure: counts per arm, no rates
    q = pd.DataFrame(r["quine_data"])
    arms = fit.arms.set_index("arm")
    assert arms.loc["N", "events"] == q.loc[q["Eth"] == "N", "Days"].sum()
    assert arms["rate"].isna().all() and "events in 77 patients" in repr(fit)


def test_poisson_with_one_binary_covariate_is_the_ratio_of_crude_rates():
    # closed form: RR = (E1 / T1) / (E0 / T0), var(log RR) = 1/E1 + 1/E0
    d = _cgd()
    fit = rate_ratio(d, "treat", method="poisson")
    tot = reference("counts")["cgd_totals"]
    e0, e1 = tot["events"]
    t0, t1 = tot["days"]
    assert fit.table["rate_ratio"].iloc[0] == pytest.approx((e1 / t1) / (e0 / t0), rel=1e-12)
    assert fit.table["se"].iloc[0] == pytest.approx(np.sqrt(1 / e1 + 1 / e0), rel=1e-10)
    assert fit.summary["se"].iloc[0] == pytest.approx(np.sqrt(1 / e0), rel=1e-10)
    # the per-arm totals, treated arm first, as R's aggregate()
    arms = fit.arms.set_index("arm")
    for arm, ev, days, n in zip(tot["arm"], tot["events"], tot["days"], tot["n"], strict=True):
        assert arms.loc[arm, "events"] == ev and arms.loc[arm, "time"] == days
        assert arms.loc[arm, "n"] == n
        assert arms.loc[arm, "person_years"] == pytest.approx(days / 365.25, rel=1e-12)
        assert arms.loc[arm, "rate"] == pytest.approx(100 * ev / (days / 365.25), rel=1e-12)
    assert fit.arms["arm"].tolist() == ["rIFN-g", "placebo"]
    assert fit.p_value == fit.table["p"].iloc[0]


def test_event_counts_total_the_recurrent_rows_as_r_does():
    # counts.R: events = sum(status), time = max(tstop) - min(tstart) per id
    rows = reference_data("recurrent_cgd")
    got = event_counts(rows, id="id", time="tstop", event="status", start="tstart")
    want = _cgd()
    assert got["id"].tolist() == want["id"].tolist()
    np.testing.assert_array_equal(got["events"], want["events"])
    np.testing.assert_array_equal(got["time"], want["time"])
    assert got["treat"].tolist() == want["treat"].tolist()
    np.testing.assert_array_equal(got["w"], want["w"])
    assert got.attrs["not_carried"] == []
    # and the rate ratio of those counts is R's
    fit = rate_ratio(got, "treat")
    assert fit.table["coef"].iloc[0] == pytest.approx(
        reference("counts")["cgd_nb_tight"]["coef"][1], rel=1e-8)


def test_event_counts_from_registry_records():
    # time_to_event(recurrent=True) rows -> counts; columns that vary are named, not kept
    p = pd.DataFrame({"patient_id": [1, 2], "arm": ["OCT", "IVUS"],
                      "index_date": ["2020-01-01"] * 2,
                      "last_contact_date": ["2020-12-31", "2020-07-19"]})
    e = pd.DataFrame({"event_id": [1, 2, 3], "patient_id": [1, 1, 2],
                      "event_type": ["mi", "tvr", "mi"],
                      "event_date": ["2020-02-01", "2020-05-01", "2020-03-01"]})
    rows = mo.time_to_event(mo.Cohort(patients=p, events=e), "mace", recurrent=True)
    got = event_counts(rows)
    # patient 1: events on days 31 and 121, followed to day 365; patient 2: day 60, to 200
    assert got["patient_id"].astype(str).tolist() == ["1", "2"]
    assert got["events"].tolist() == [2, 1] and got["time"].tolist() == [365.0, 200.0]
    assert got["arm"].tolist() == ["OCT", "IVUS"]
    assert "event_type" in got.attrs["not_carried"]


def test_no_overdispersion_gives_the_poisson_fit():
    # counts less variable than Poisson: theta's likelihood rises without bound, the NB
    # tends to the Poisson model (a property of the NB2 family)
    d = pd.DataFrame({"arm": ["a"] * 6 + ["b"] * 6, "events": [2, 2, 2, 3, 2, 2] * 2,
                      "time": [100.0] * 6 + [50.0] * 6})
    nb = rate_ratio(d, method="negbin")
    po = rate_ratio(d, method="poisson")
    assert not np.isfinite(nb.theta) and "no overdispersion" in nb.notes[0]
    np.testing.assert_allclose(nb.summary[["coef", "se"]], po.summary[["coef", "se"]],
                               rtol=1e-10)
    # the same events in half the time
    assert nb.table["rate_ratio"].iloc[0] == pytest.approx(2.0, rel=1e-12)


def test_treated_arm_flips_the_ratio():
    d = _cgd()
    a = rate_ratio(d, "treat")
    b = rate_ratio(d, "treat", treated="placebo")
    assert b.table["term"].iloc[0] == "treatplacebo"
    assert b.table["rate_ratio"].iloc[0] == pytest.approx(1 / a.table["rate_ratio"].iloc[0],
                                                          rel=1e-9)
    assert b.table["se"].iloc[0] == pytest.approx(a.table["se"].iloc[0], rel=1e-8)


def test_statsmodels_count_model_has_other_standard_errors():
    # why the GLM at the estimated theta and not discrete_model.NegativeBinomial: the
    # same maximum, but the joint observed information of (b, alpha) gives SEs that are
    # not glm.nb's, while ours are (test above)
    from statsmodels.discrete.discrete_model import NegativeBinomial

    d = _cgd()
    r = reference("counts")["cgd_nb_adjusted"]
    fit = rate_ratio(d, "treat", covariates=ADJUST, reference=REF)
    x = np.column_stack([np.ones(len(d)), _design_of(fit, d)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = NegativeBinomial(d["events"].to_numpy(float), x,
                              offset=np.log(d["time"].to_numpy(float)),
                              loglike_method="nb2").fit(disp=0, method="newton", maxiter=200,
                                                        tol=1e-12)
    params = np.asarray(sm.params)
    np.testing.assert_allclose(params[:-1], r["coef"], rtol=1e-8)
    assert 1 / params[-1] == pytest.approx(_one(r["theta"]), rel=1e-8)
    gap = np.abs(np.asarray(sm.bse[:-1]) / np.asarray(r["se"]) - 1)
    assert gap.max() > 0.05  # 0.5 % to 12 % apart
    np.testing.assert_allclose(fit.summary["se"], r["se"], rtol=1e-8)


def _design_of(fit, d):
    from mace_outcomes._design import design

    z = (d["treat"] == "rIFN-g").to_numpy(float)
    return np.column_stack([z, design(d, ADJUST, reference=REF).x])


def test_bad_input_names_the_rows():
    d = _cgd().head(6).astype({"events": float})
    d.loc[1, "events"] = -1
    d.loc[3, "events"] = 1.5
    d.loc[4, "time"] = 0
    with pytest.raises(InputError) as err:
        rate_ratio(d, "treat")
    text = str(err.value)
    assert "whole number" in text and "rows [1, 3]" in text
    assert "positive number" in text and "rows [4]" in text
    with pytest.raises(InputError, match="rows \\[2\\]: weights must be positive"):
        rate_ratio(_cgd().assign(w=[1.0, 1.0, -1.0] + [1.0] * 125), "treat", weights="w")
    with pytest.raises(InputError, match="1 missing value"):
        rate_ratio(_cgd().assign(c=[None] + ["x"] * 127), "treat", cluster="c")
    # robust=False keeps the model variance with weights (R's vcov(glm.nb(weights = w)))
    r = reference("counts")["cgd_nb_weighted"]
    fit = rate_ratio(_cgd(), "treat", weights="w", robust=False)
    np.testing.assert_allclose(fit.summary["se"], r["naive_se"], rtol=1e-8)
    with pytest.raises(InputError, match="method must be one of"):
        rate_ratio(_cgd(), "treat", method="zip")
    with pytest.raises(InputError, match="exactly 2 arms, found"):
        rate_ratio(_cgd().assign(treat=["a", "b", "c", "d"] * 32), "treat")


def test_an_arm_without_events_is_named():
    # the Poisson / NB likelihood then has no maximum (the ratio is 0): one clear error
    d = pd.DataFrame({"arm": ["a"] * 5 + ["b"] * 5, "events": [0] * 5 + [1, 3, 0, 2, 5],
                      "time": [100.0] * 10})
    for method in ("poisson", "negbin"):
        with pytest.raises(InputError, match="no events in arm 'a' of 'arm'"):
            rate_ratio(d, method=method)


def test_simulation_with_known_rate_ratio_and_theta():
    # NB2 counts: rate 1.2 per year in control, ratio 0.6, gamma frailty of shape
    # theta = 1.5, follow-up 0.5 to 3 years; the estimates lie within 4 SE of the truth
    rng = np.random.default_rng(20261201)
    n = 6000
    arm = rng.integers(0, 2, n)
    years = rng.uniform(0.5, 3.0, n)
    frailty = rng.gamma(1.5, 1 / 1.5, n)
    events = rng.poisson(1.2 * 0.6 ** arm * years * frailty)
    d = pd.DataFrame({"arm": np.where(arm == 1, "new", "old"), "events": events,
                      "time": years * 365.25})
    fit = rate_ratio(d)
    row = fit.table.iloc[0]
    assert fit.treated == "old"  # sorted labels: "new" is the reference
    assert abs(row["coef"] - np.log(1 / 0.6)) < 4 * row["se"]
    assert abs(fit.theta - 1.5) < 4 * fit.theta_se
    rate = fit.summary.loc["(Intercept)", "coef"] + np.log(365.25)  # per year, "new" arm
    assert abs(rate - np.log(1.2 * 0.6)) < 4 * fit.summary.loc["(Intercept)", "se"]
