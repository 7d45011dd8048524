"""Adjusted absolute risks (g-formula, IPTW, AIPTW) against R's riskRegression::ate.

Reference: tests/reference/adjusted_risk.R (riskRegression 2022.11.28) on lung and veteran
(arm = group), Cox outcome and censoring models with Breslow ties, a logistic treatment
model; simultaneous bands by property and by a simulation with known truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes._design import design
from mace_outcomes.errors import InputError
from mace_outcomes.weighting import adjusted

COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]


def _fit(**kw):
    kw = {"method": "gformula", **kw}
    return mo.adjusted_risk(reference_data("lung"), treatment="group", covariates=COVARIATES,
                            times=[180, 365], **kw)


def _r(key, part):
    return pd.DataFrame(reference("adjusted_risk")[key][part])


def test_gformula_risks_equal_ate():
    got = _fit().table.sort_values(["arm", "time"]).reset_index(drop=True)
    want = _r("gformula_breslow", "risk").sort_values(["arm", "time"]).reset_index(drop=True)
    assert got["arm"].astype(str).tolist() == want["arm"].tolist()
    np.testing.assert_allclose(got["risk"], want["risk"], atol=1e-6)


def test_difference_and_ratio_estimates_equal_ate():
    c = _fit().contrast
    for measure, part in (("difference", "difference"), ("ratio", "ratio")):
        got = c[c["measure"] == measure].sort_values("time")
        np.testing.assert_allclose(got["estimate"], _r("gformula_breslow", part)["estimate"],
                                   atol=1e-6)


def _kernel(d_beta=None):
    d = reference_data("lung")
    terms = ["group", *COVARIATES]
    fit = mo.cox(d, covariates=terms, ties="breslow", reference={"group": 0})
    x = design(d, terms, reference={"group": 0}).x
    return adjusted.gformula_kernel(d["time"].to_numpy(float), d["event"].to_numpy(float),
                                    x, np.array([180.0, 365.0]),
                                    fit.summary["coef"].to_numpy(), fit.vcov.to_numpy(),
                                    d_beta)


def test_standard_errors_equal_ate_given_its_coefficient_influence():
    # riskRegression 2022.11.28's iidCox coefficient influence differs from survival's
    # dfbeta (which ours equals, below); given iidCox's, every SE equals ate's.
    _, infl = _kernel(np.asarray(reference("adjusted_risk")["iidcox_ifbeta_breslow"]))
    se = np.sqrt((infl ** 2).sum(axis=0))                   # times x (treated, reference)
    want = _r("gformula_breslow", "risk").set_index(["arm", "time"])["se"]
    got = [se[k, a] for arm, a in (("0", 1), ("1", 0)) for k in (0, 1)]
    np.testing.assert_allclose(got, want.loc[[("0", 180), ("0", 365), ("1", 180),
                                              ("1", 365)]].to_numpy(), atol=1e-6)
    diff = np.sqrt(((infl[:, :, 0] - infl[:, :, 1]) ** 2).sum(axis=0))
    np.testing.assert_allclose(diff, _r("gformula_breslow", "difference")["se"], atol=1e-6)


def test_standard_errors_with_dfbeta_close_to_ate():
    # with survival's dfbeta (the default) the SEs are within 5 % of ate's
    got = _fit().table.sort_values(["arm", "time"])
    want = _r("gformula_breslow", "risk").sort_values(["arm", "time"])
    np.testing.assert_allclose(got["se"], want["se"], rtol=0.025)
    c = _fit().contrast
    np.testing.assert_allclose(c.loc[c["measure"] == "difference", "se"],
                               _r("gformula_breslow", "difference")["se"], rtol=0.05)


def test_coefficient_influence_is_dfbeta():
    d = reference_data("lung")
    terms = ["group", *COVARIATES]
    fit = mo.cox(d, covariates=terms, ties="breslow", reference={"group": 0})
    x = design(d, terms, reference={"group": 0}).x
    b, v = fit.summary["coef"].to_numpy(), fit.vcov.to_numpy()
    t, e = d["time"].to_numpy(float), d["event"].to_numpy(float)
    _, infl = _kernel()
    np.testing.assert_allclose(infl.sum(axis=0), 0, atol=1e-10)  # any IF sums to zero
    dfb = np.asarray(reference("adjusted_risk")["dfbeta_breslow"])
    np.testing.assert_allclose(adjusted.coefficient_influence(t, e, x, b, v), dfb,
                               atol=1e-9)


def test_confidence_limits_and_p_follow_the_normal_approximation():
    r = _fit(conf_level=0.9)
    tab = r.table
    np.testing.assert_allclose(tab["upper"] - tab["risk"], 1.6448536269514722 * tab["se"])
    c = r.contrast
    z = (c["estimate"] - np.where(c["measure"] == "ratio", 1.0, 0.0)) / c["se"]
    from scipy import stats
    np.testing.assert_allclose(c["p"], 2 * stats.norm.sf(np.abs(z)))


def test_no_confounding_effect_when_covariates_are_unrelated():
    # With a Cox model whose only term is the arm, the g-formula risk of each arm is
    # 1 - exp(-L0(t) exp(b z)): Breslow's estimator in closed form (hand computation).
    d = reference_data("lung")
    r = mo.adjusted_risk(d, treatment="group", covariates=[], times=[365], method="gformula")
    b = mo.cox(d, covariates=["group"], ties="breslow").summary["coef"].iloc[0]
    t, e, z = d["time"].to_numpy(), d["event"].to_numpy(), d["group"].to_numpy()
    u = np.unique(t[e == 1])
    u = u[u <= 365]
    l0 = sum((e[t == s]).sum() / np.exp(b * z[t >= s]).sum() for s in u)
    tab = r.table.set_index("arm")
    np.testing.assert_allclose(tab.loc[1, "risk"], 1 - np.exp(-l0 * np.exp(b)), atol=1e-12)
    np.testing.assert_allclose(tab.loc[0, "risk"], 1 - np.exp(-l0), atol=1e-12)


def test_unavailable_method_and_arms_are_reported():
    with pytest.raises(InputError, match="method"):
        _fit(method="tmle")
    with pytest.raises(InputError, match="estimand"):
        _fit(estimand="ATT")
    d = reference_data("lung").assign(group=lambda x: x["group"] + (x.index % 3 == 0) * 2)
    with pytest.raises(InputError, match="two arms"):
        mo.adjusted_risk(d, treatment="group", covariates=["age"])


def test_untied_times_match_ate_fully():
    # lung with times made distinct (as the R script): risks, SEs, limits, difference and
    # ratio with their SEs and p all equal ate's GFORMULA rows
    d = reference_data("lung")
    d["time"] = d["time"] + np.arange(len(d)) * 1e-4
    r = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES, times=[180, 365],
                         method="gformula")
    want = _r("untied", "risk")
    want = want[want["estimator"] == "GFORMULA"].sort_values(["arm", "time"])
    got = r.table.assign(arm=r.table["arm"].astype(str)).sort_values(["arm", "time"])
    for col in ("risk", "se", "lower", "upper"):
        np.testing.assert_allclose(got[col], want[col], atol=1e-6)
    for measure in ("difference", "ratio"):
        w = _r("untied", measure)
        w = w[w["estimator"] == "GFORMULA"].sort_values("time")
        g = r.contrast[r.contrast["measure"] == measure].sort_values("time")
        for col in ("estimate", "se", "lower", "upper", "p"):
            np.testing.assert_allclose(g[col], w[col], atol=1e-6, rtol=1e-6)


def test_iptw_untied_times_match_ate_fully():
    # IPTW with a logistic propensity and a Cox (Breslow) censoring model on the arm and
    # covariates, as ate(treatment = glm, censor = coxph): risks, SEs and contrasts
    d = reference_data("lung")
    d["time"] = d["time"] + np.arange(len(d)) * 1e-4
    r = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES, times=[180, 365],
                         method=["gformula", "iptw"])
    assert r.table["method"].tolist() == ["gformula"] * 4 + ["iptw"] * 4
    tab = r.table[r.table["method"] == "iptw"]
    got = tab.assign(arm=tab["arm"].astype(str)).sort_values(["arm", "time"])
    want = _r("untied", "risk")
    want = want[want["estimator"] == "IPTW"].sort_values(["arm", "time"])
    for col in ("risk", "se", "lower", "upper"):
        np.testing.assert_allclose(got[col], want[col], atol=1e-6)
    con = r.contrast[r.contrast["method"] == "iptw"]
    for measure in ("difference", "ratio"):
        w = _r("untied", measure)
        w = w[w["estimator"] == "IPTW"].sort_values("time")
        g = con[con["measure"] == measure].sort_values("time")
        for col in ("estimate", "se", "p"):
            np.testing.assert_allclose(g[col], w[col], atol=1e-6, rtol=1e-6)


def test_iptw_influence_sums_to_zero_and_treated_label_is_respected():
    d = reference_data("lung")
    r1 = mo.adjusted_risk(d, treatment="group", covariates=["age"], times=[365],
                          method="iptw")
    r0 = mo.adjusted_risk(d, treatment="group", covariates=["age"], times=[365],
                          method="iptw", treated=0)
    # swapping the treated arm swaps the risks, not their values
    a = r1.table.set_index("arm")["risk"]
    b = r0.table.set_index("arm")["risk"]
    np.testing.assert_allclose(a.sort_index(), b.sort_index(), atol=1e-12)
    diff1 = r1.contrast.query("measure == 'difference'")["estimate"].iloc[0]
    diff0 = r0.contrast.query("measure == 'difference'")["estimate"].iloc[0]
    np.testing.assert_allclose(diff1, -diff0, atol=1e-12)


# --- AIPTW ("AIPTW,AIPCW"): Cox outcome, logistic treatment, Cox censoring models --------

LUNG = ("lung", COVARIATES)
VETERAN = ("veteran", ["age", "karno", "diagtime", "prior"])
_NAMES = {"GFORMULA": "gformula", "IPTW": "iptw", "AIPTW": "aipw"}


def _untied(name):
    d = reference_data(name)
    d["time"] = d["time"] + np.arange(len(d)) * 1e-4      # as the R script
    return d


def _r_rows(key, part):
    w = _r(key, part)
    return w.assign(method=w["estimator"].map(_NAMES))


def _check_against_ate(r, key, methods, risk_cols, contrast_cols, atol=1e-6, rtol=0.0):
    got = r.table.assign(arm=r.table["arm"].astype(str))
    m = got.merge(_r_rows(key, "risk"), on=["method", "time", "arm"], suffixes=("", "_r"))
    assert len(m) == len(got) and set(m["method"]) == set(methods)
    for col in risk_cols:
        np.testing.assert_allclose(m[col], m[col + "_r"], atol=atol, rtol=rtol, err_msg=col)
    for measure in ("difference", "ratio"):
        g = r.contrast[r.contrast["measure"] == measure]
        m = g.merge(_r_rows(key, measure), on=["method", "time"], suffixes=("", "_r"))
        assert len(m) == len(g)
        for col in contrast_cols:
            np.testing.assert_allclose(m[col], m[col + "_r"], atol=atol, rtol=rtol,
                                       err_msg=f"{measure} {col}")


@pytest.mark.parametrize("data, key, times", [
    (LUNG, "aipw_lung", [60, 180, 365, 540, 730]),
    (VETERAN, "aipw_veteran", [7, 30, 60, 90, 120, 180, 270, 365]),
])
def test_aipw_matches_ate_fully(data, key, times):
    # ate(coxph, treatment = glm, censor = coxph, estimator = c("GFORMULA", "IPTW",
    # "AIPTW"), se = TRUE): risks, SEs, limits (clipped at 0 as ate), difference and ratio
    name, covariates = data
    r = mo.adjusted_risk(_untied(name), treatment="group", covariates=covariates,
                         times=times, method=["gformula", "iptw", "aipw"])
    _check_against_ate(r, key, {"gformula", "iptw", "aipw"},
                       ("risk", "se", "lower", "upper"),
                       ("estimate", "se", "lower", "upper", "p"))
    assert (r.table["lower"] == 0).any()        # the earliest horizon's limit is clipped


def test_aipw_is_the_default_method():
    d = _untied("lung")
    r = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES, times=[180, 365])
    assert set(r.table["method"]) == {"aipw"}
    _check_against_ate(r, "untied", {"aipw"}, ("risk", "se"), ("estimate", "se", "p"))


def test_aipw_without_censoring_matches_ate_and_the_hand_formula():
    # every row an event: ate's AIPTW without a censoring model, and in closed form
    # 1/n sum F_a(t|X) + 1{A=a}/pi_a(X) (Y(t) - F_a(t|X)) from the fitted Cox and logistic
    d = _untied("veteran").assign(event=1)
    cov = VETERAN[1]
    r = mo.adjusted_risk(d, treatment="group", covariates=cov, times=[30, 90, 180],
                         method=["gformula", "aipw"])
    _check_against_ate(r, "aipw_veteran_uncensored", {"gformula", "aipw"},
                       ("risk", "se", "lower", "upper"), ("estimate", "se", "p"))
    fit = mo.cox(d, covariates=["group", *cov], ties="breslow")
    coef = fit.summary["coef"]
    eta = d[cov].to_numpy(float) @ coef[cov].to_numpy()
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    order = np.argsort(t)
    risk_set = np.exp(eta + coef["group"] * d["group"].to_numpy())[order][::-1].cumsum()[::-1]
    l0 = np.cumsum(e[order] / risk_set)              # Breslow, distinct times
    ps = mo.propensity(d, "group", cov, treated=1).scores.to_numpy()
    tab = r.table[r.table["method"] == "aipw"].set_index(["arm", "time"])["risk"]
    for arm, pa in ((1, ps), (0, 1 - ps)):
        for h in (30, 90, 180):
            big_l = l0[np.searchsorted(t[order], h, side="right") - 1]
            f = 1 - np.exp(-big_l * np.exp(eta + coef["group"] * arm))
            want = np.mean(f + (d["group"].to_numpy() == arm) / pa * ((t <= h) - f))
            np.testing.assert_allclose(tab.loc[(arm, h)], want, atol=1e-10)


def test_aipw_with_tied_event_times_matches_ate_estimates():
    # lung's event times as read (tied), censored times moved by half a day: estimates
    # equal ate's; IPTW/AIPTW SEs within 0.2 % (ate's iidCox treats tied event times
    # otherwise; the g-formula's SEs then differ by up to 2 %, tested above)
    d = reference_data("lung").astype({"time": float})
    cens = np.flatnonzero(d["event"].to_numpy() == 0)
    d.loc[d.index[cens], "time"] += 0.5 + (np.arange(len(cens)) + 1) * 1e-4
    r = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES, times=[180, 365],
                         method=["gformula", "iptw", "aipw"])
    _check_against_ate(r, "aipw_lung_event_ties", {"gformula", "iptw", "aipw"}, ("risk",),
                       ("estimate",))
    weighted = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES,
                                times=[180, 365], method=["iptw", "aipw"])
    _check_against_ate(weighted, "aipw_lung_event_ties", {"iptw", "aipw"}, ("se",),
                       ("se",), atol=0, rtol=2e-3)


def test_aipw_influence_functions_sum_to_zero_and_arms_swap():
    # every term of the influence function (centred estimate, score residuals, Breslow
    # martingale sums) sums to zero over the sample at the fitted models
    d = reference_data("veteran")
    risk, infl = adjusted._KERNELS["aipw"](d, "time", "event", "group", ["age", "karno"],
                                           [1, 0], np.array([30.0, 90.0, 180.0]), "breslow")
    assert infl.shape == (len(d), 3, 2) and np.all(infl.std(axis=0) > 0)
    np.testing.assert_allclose(infl.sum(axis=0), 0, atol=1e-10)
    r1 = mo.adjusted_risk(d, treatment="group", covariates=["age", "karno"],
                          times=[90, 180])
    r0 = mo.adjusted_risk(d, treatment="group", covariates=["age", "karno"],
                          times=[90, 180], treated=0)
    a = r1.table.set_index(["arm", "time"]).sort_index()
    b = r0.table.set_index(["arm", "time"]).sort_index()
    np.testing.assert_allclose(a[["risk", "se"]], b[["risk", "se"]], atol=1e-12)
    d1 = r1.contrast.query("measure == 'difference'")["estimate"].to_numpy()
    d0 = r0.contrast.query("measure == 'difference'")["estimate"].to_numpy()
    np.testing.assert_allclose(d1, -d0, atol=1e-12)


@pytest.mark.filterwarnings("ignore::mace_outcomes.errors.StatisticalWarning")
def test_aipw_and_gformula_find_the_known_truth_of_a_large_simulated_cohort():
    # exponential outcome (Cox model right), logistic arm, exponential censoring: both
    # estimates lie within 3 SEs of the true standardised 1-year risks
    rng = np.random.default_rng(7)
    n = 2000
    x = rng.standard_normal(n)
    arm = (rng.random(n) < 1 / (1 + np.exp(-1.2 * x))).astype(int)
    t = rng.exponential(1 / (np.exp(-6 - 0.5 * arm + 0.8 * x)))
    c = np.minimum(rng.exponential(700, n), 730)
    d = pd.DataFrame(dict(time=np.minimum(t, c), event=(t <= c).astype(int), arm=arm, x=x))
    gx, gw = np.polynomial.hermite_e.hermegauss(60)
    gw = gw / gw.sum()
    truth = {a: 1 - (np.exp(-365 * np.exp(-6 - 0.5 * a + 0.8 * gx)) * gw).sum()
             for a in (0, 1)}
    r = mo.adjusted_risk(d, covariates=["x"], times=[365], method=["gformula", "aipw"])
    tab = r.table.set_index(["method", "arm"])
    for a in (0, 1):
        for m in ("gformula", "aipw"):
            assert abs(tab.loc[(m, a), "risk"] - truth[a]) < 3 * tab.loc[(m, a), "se"]


# --- simultaneous bands over time ---------------------------------------------------------

VET_TIMES = [7, 30, 60, 90, 120, 180, 270, 365]


def _veteran_band(seed=1, n_sim=2000, method=("gformula", "iptw", "aipw")):
    return mo.adjusted_risk(_untied("veteran"), treatment="group", covariates=VETERAN[1],
                            times=VET_TIMES, method=list(method), band=True, n_sim=n_sim,
                            seed=seed)


def test_band_contains_the_pointwise_interval_and_lies_below_bonferroni():
    from scipy import stats
    r = _veteran_band()
    for frame in (r.table, r.contrast):
        assert (frame["band_lower"] <= frame["lower"] + 1e-12).all()
        assert (frame["band_upper"] >= frame["upper"] - 1e-12).all()
        k = frame.groupby(["method", "arm" if "arm" in frame else "measure"])["se"].apply(
            lambda s: int((s > 1e-12).sum()))
        q = frame.groupby(["method", "arm" if "arm" in frame else "measure"])[
            "band_quantile"].first()
        bonferroni = stats.norm.ppf(1 - 0.025 / k)
        assert (q > 1.96).all() and (q < bonferroni).all(), (q, bonferroni)
    # the unclipped band is risk -/+ quantile x se
    t = r.table[(r.table["band_lower"] > 0) & (r.table["band_upper"] < 1)]
    np.testing.assert_allclose(t["band_upper"] - t["risk"], t["band_quantile"] * t["se"])


def test_band_over_one_time_is_the_pointwise_interval():
    # the sup over a single time is |N(0, 1)|: its 95 % quantile is 1.96 (MC error ~0.03)
    r = mo.adjusted_risk(_untied("veteran"), treatment="group", covariates=VETERAN[1],
                         times=[90], band=True, n_sim=20000, seed=4)
    np.testing.assert_allclose(r.table["band_quantile"], 1.959964, atol=0.06)


def test_band_is_reproducible_with_its_seed_and_close_to_ate():
    a, b = (_veteran_band(seed=11, n_sim=500, method=["aipw"]) for _ in range(2))
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.contrast, b.contrast)
    assert (a.n_sim, a.seed, a.band) == (500, 11, True)
    # ate(band = TRUE) with 10000 draws of its own generator: the critical values agree
    # within simulation error (both random; measured differences up to ~0.04)
    ours = _veteran_band(seed=2, n_sim=10000).table.groupby(["method", "arm"])[
        "band_quantile"].first()
    ref = pd.DataFrame(reference("adjusted_risk")["aipw_veteran"]["band"])
    ref = ref.assign(method=ref["estimator"].map(_NAMES)).groupby(["method", "arm"])[
        "quantile"].first()
    for (m, arm), q in ours.items():
        assert abs(q - ref.loc[(m, str(arm))]) < 0.1, (m, arm, q, ref.loc[(m, str(arm))])


def _exponential_cohort(rng, n=500):
    """Known truth: hazard exp(-6 - 0.5 arm + 0.7 x), x ~ N(0, 1), logistic arm on x,
    censoring exponential with hazard exp(-6.4 + 0.3 x), administrative at 730 days."""
    x = rng.standard_normal(n)
    arm = (rng.random(n) < 1 / (1 + np.exp(-0.8 * x))).astype(int)
    t = rng.exponential(np.exp(6 + 0.5 * arm - 0.7 * x))
    c = np.minimum(rng.exponential(np.exp(6.4 - 0.3 * x)), 730)
    return pd.DataFrame(dict(time=np.minimum(t, c), event=(t <= c).astype(int), arm=arm,
                             x=x))


def _true_risk(arm, times):
    gx, gw = np.polynomial.hermite_e.hermegauss(60)        # E over x ~ N(0, 1)
    hazard = np.exp(-6 - 0.5 * arm + 0.7 * gx)
    return 1 - (np.exp(-np.outer(times, hazard)) * gw / gw.sum()).sum(axis=1)


@pytest.mark.slow
def test_band_covers_the_true_curve_about_95_percent():
    # 100 cohorts of 500 from a known exponential model: each arm's AIPTW band over 12
    # horizons covers the whole true curve in about 95 % of cohorts (the influence-function
    # SEs run ~5 % small at this size, so a little less: 0.87-0.90 at n = 300, 0.92-0.94
    # at n = 800 in 200-400 cohorts), far more often than the pointwise intervals do at once
    import warnings
    rng = np.random.default_rng(20261201)
    times = np.linspace(30, 365, 12)
    band_cover, pointwise_cover, n_rep = 0, 0, 100
    for rep in range(n_rep):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = mo.adjusted_risk(_exponential_cohort(rng), covariates=["x"], times=times,
                                 band=True, n_sim=1000, seed=rep)
        for arm in (0, 1):
            t = r.table[r.table["arm"] == arm]
            true = _true_risk(arm, times)
            band_cover += ((t["band_lower"] <= true) & (true <= t["band_upper"])).all()
            pointwise_cover += ((t["lower"] <= true) & (true <= t["upper"])).all()
    assert 0.85 <= band_cover / (2 * n_rep) <= 0.995
    assert pointwise_cover < band_cover


# --- standardised curves on the event-time grid -------------------------------------------

def test_curve_grid_is_the_event_times_and_risks_are_steps_between_them():
    # times=None: every distinct event time; at any time between two event times each
    # method's risk (and SE) equals the curve's value at the earlier event time
    d = _untied("veteran")
    cov = VETERAN[1]
    curve = mo.adjusted_risk(d, treatment="group", covariates=cov, times=None,
                             method=["gformula", "iptw", "aipw"])
    grid = np.unique(d.loc[d["event"] == 1, "time"])
    assert curve.curve and np.array_equal(
        np.sort(curve.table["time"].unique()), grid)
    between = (grid[10:40:5] + grid[11:41:5]) / 2
    mid = mo.adjusted_risk(d, treatment="group", covariates=cov, times=between,
                           method=["gformula", "iptw", "aipw"])
    prev = grid[np.searchsorted(grid, between) - 1]
    got = mid.table.assign(time=np.tile(np.repeat(prev, 1), 6)).set_index(
        ["method", "arm", "time"]).sort_index()
    want = curve.table.set_index(["method", "arm", "time"]).loc[got.index]
    np.testing.assert_allclose(got[["risk", "se"]], want[["risk", "se"]], atol=1e-12)


def test_curve_at_ate_horizons_matches_ate():
    # the curve's rows are the same numbers ate gives at the horizons (checked on R's grid)
    d = _untied("veteran")
    curve = mo.adjusted_risk(d, treatment="group", covariates=VETERAN[1], times=None)
    grid = np.sort(curve.table["time"].unique())
    at = grid[np.searchsorted(grid, VET_TIMES, side="right") - 1]   # last event <= horizon
    t = curve.table.set_index(["arm", "time"])
    want = _r_rows("aipw_veteran", "risk")
    want = want[want["method"] == "aipw"]
    for _, row in want.iterrows():
        h = at[VET_TIMES.index(row["time"])]
        np.testing.assert_allclose(t.loc[(int(row["arm"]), h), ["risk", "se"]],
                                   row[["risk", "se"]].to_numpy(float), atol=1e-6)


def test_band_and_curve_input_errors():
    d = reference_data("veteran")
    with pytest.raises(InputError, match="n_sim"):
        mo.adjusted_risk(d, treatment="group", covariates=["age"], band=True, n_sim=0)
    with pytest.raises(InputError, match="times"):
        mo.adjusted_risk(d, treatment="group", covariates=["age"], times=[-1, 30])
    with pytest.raises(InputError, match="no events"):
        mo.adjusted_risk(d.assign(event=0), treatment="group", covariates=["age"],
                         times=None)
    with pytest.raises(InputError, match="no censored rows"):
        mo.adjusted_risk(d.assign(event=1), treatment="group", covariates=["age"],
                         method="iptw")


def test_infinite_nuisance_coefficient_is_an_error_and_warnings_are_noted():
    # ECOG 3 (one patient, an event) has no censored row: the censoring model's
    # coefficient diverges, so IPTW/AIPTW cannot be computed (the g-formula still can)
    d = reference_data("lung").assign(ecog=lambda x: x["ph_ecog"].astype(int).astype(str))
    with pytest.warns(mo.StatisticalWarning), pytest.raises(InputError, match="censoring"):
        mo.adjusted_risk(d, treatment="group", covariates=["age", "ecog"])
    g = mo.adjusted_risk(d, treatment="group", covariates=["age", "ecog"], method="gformula")
    assert np.isfinite(g.table[["risk", "se"]].to_numpy()).all()
    # a strong confounder gives extreme weights: the warning is passed on and noted
    rng = np.random.default_rng(3)
    x = rng.standard_normal(400)
    t = rng.exponential(300, 400)
    d = pd.DataFrame(dict(time=np.minimum(t, 500), event=(t < 500).astype(int), x=x,
                          arm=(rng.random(400) < 1 / (1 + np.exp(-4 * x))).astype(int)))
    with pytest.warns(mo.StatisticalWarning, match="positivity"):
        r = mo.adjusted_risk(d, covariates=["x"], times=[180])
    assert any(n.startswith("aipw: positivity") for n in r.notes)
