"""Adjusted (g-formula) absolute risks against R's riskRegression::ate and survival.

Reference: tests/reference/adjusted_risk.R on lung (arm = group), Cox outcome model with
Breslow ties, horizons 180 and 365 days.
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
    r = mo.adjusted_risk(d, treatment="group", covariates=[], times=[365])
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
        _fit(method="aipw")
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
    r = mo.adjusted_risk(d, treatment="group", covariates=COVARIATES, times=[180, 365])
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
