"""compare_arms / risk_difference against R (coxph, survfit, RISCA, survRM2, coxphf)."""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from scipy import stats

import mace_outcomes as mo

COVARIATES = {"lung": ["age", "ph_ecog", "ph_karno", "wt_loss"],
              "veteran": ["age", "karno", "diagtime", "prior"]}


def load(name):
    return reference_data(name), reference(name)


def check_cox(row, ref, rel=1e-6):
    for k in ("hr", "lower", "upper", "p"):
        assert row[k] == pytest.approx(ref[k], rel=rel), k


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_rows_match_r(name):
    df, ref = load(name)
    h, iptw = ref["horizon"], ref["iptw"]
    cmp = mo.compare_arms(df, "group", COVARIATES[name], horizon=h)
    tab = cmp.table.set_index("analysis")
    assert list(tab.index) == ["crude", "IPTW-ATE", "overlap"]
    check_cox(tab.loc["crude"], ref["cox_group_only"])
    check_cox(tab.loc["IPTW-ATE"], iptw["cox_weighted_robust"])
    check_cox(tab.loc["overlap"], iptw["cox_overlap_robust"])
    assert tab.loc["crude", "logrank_p"] == pytest.approx(ref["logrank"]["p"], rel=1e-6)
    assert tab.loc["IPTW-ATE", "logrank_p"] == pytest.approx(iptw["adjusted_logrank_ate"]["p"],
                                                             rel=1e-6)
    km = {r["group"]: r for r in iptw["km_weighted_at_horizon"]}
    row = tab.loc["IPTW-ATE"]
    assert row["surv_treated"] == pytest.approx(km["1"]["surv"], rel=1e-6)
    assert row["surv_control"] == pytest.approx(km["0"]["surv"], rel=1e-6)
    # risk difference at the horizon from R's weighted KM and its robust SE
    rd = km["0"]["surv"] - km["1"]["surv"]
    se = np.hypot(km["0"]["std_err"], km["1"]["std_err"])
    assert row["rd"] == pytest.approx(rd, rel=1e-6)
    assert row["rd_lower"] == pytest.approx(rd - stats.norm.ppf(0.975) * se, rel=1e-6)
    crude_km = {r["group"]: r for r in ref["km_at_horizon_loglog"]}
    assert tab.loc["crude", "surv_treated"] == pytest.approx(crude_km["1"]["surv"], rel=1e-6)
    # survRM2 difference of the crude row (tau = horizon as in the reference)
    est, lo, hi, p = ref["rmst2"]["diff"]
    assert tab.loc["crude", "rmst_diff"] == pytest.approx(est, rel=1e-6)
    assert tab.loc["crude", "rmst_lower"] == pytest.approx(lo, rel=1e-6)
    # counts and ESS
    assert tab.loc["crude", "events_treated"] == df.event[df.group == 1].sum()
    assert tab.loc["IPTW-ATE", "ess_treated"] == pytest.approx(iptw["ess"]["treated"], rel=1e-6)
    # E-value of each row = closed form on its HR and CI limit nearest 1
    for _, r in tab.iterrows():
        limit = r["upper"] if r["hr"] < 1 else r["lower"]
        ev = mo.e_value(r["hr"], r["lower"], r["upper"], rare=False)
        assert r["e_value"] == pytest.approx(ev.e_value)
        if not r["lower"] <= 1 <= r["upper"]:
            assert r["e_value_ci"] == pytest.approx(
                mo.e_value(limit, measure="HR", rare=False).e_value)


def test_rare_event_path_firth_and_exact_test():
    df = reference_data("firth_zero")
    ref = reference("firth")["firth_zero_group"]
    cmp = mo.compare_arms(df, "group", ["age"])
    tab = cmp.table.set_index("analysis")
    crude = tab.loc["crude"]
    assert crude["hr"] == pytest.approx(np.exp(ref["coef"]), rel=1e-6)
    assert crude["lower"] == pytest.approx(ref["lower"], rel=1e-4)
    assert crude["upper"] == pytest.approx(ref["upper"], rel=1e-4)
    assert crude["p"] == pytest.approx(ref["p"], rel=1e-4)
    hit = (df.event == 1) & (df.time <= 365)
    table = [[hit[df.group == 1].sum(), (~hit)[df.group == 1].sum()],
             [hit[df.group == 0].sum(), (~hit)[df.group == 0].sum()]]
    np.testing.assert_allclose(tab["exact_p"], stats.fisher_exact(table)[1], rtol=1e-10)
    assert tab["method"].str.contains("Firth").all()
    assert any("no events" in n and "exact" in n for n in cmp.notes)
    # never an infinite or p ~ 0 result from 0 vs 2 events
    assert np.isfinite(tab[["hr", "lower", "upper"]].to_numpy()).all()
    assert (tab["p"] > 0.05).all()


def test_lesion_level_clusters_by_patient():
    df, _ = load("lung")
    # duplicate a few rows as second lesions of the same patients
    d = df.assign(patient_id=np.arange(len(df)))
    d = pd.concat([d, d.iloc[:20]], ignore_index=True)
    cmp = mo.compare_arms(d, "group", COVARIATES["lung"], overlap=False)
    assert cmp.cluster == "patient_id"
    fit = mo.cox(d, covariates=["group"], cluster="patient_id")
    crude = cmp.table.set_index("analysis").loc["crude"]
    assert crude["lower"] == pytest.approx(fit.summary.loc["group", "lower"], rel=1e-8)


def test_risk_difference_crude_matches_r_km():
    df, ref = load("lung")
    km = {r["group"]: r for r in ref["km_at_horizon_loglog"]}
    rd = mo.risk_difference(df, "group", horizon=365)
    tab = rd.table.set_index("contrast")
    r1, r0 = 1 - km["1"]["surv"], 1 - km["0"]["surv"]
    se1, se0 = km["1"]["std_err"], km["0"]["std_err"]
    assert tab.loc["difference", "estimate"] == pytest.approx(r1 - r0, rel=1e-6)
    se_log = np.sqrt((se1 / r1) ** 2 + (se0 / r0) ** 2)
    assert tab.loc["ratio", "upper"] == pytest.approx(
        r1 / r0 * np.exp(stats.norm.ppf(0.975) * se_log), rel=1e-6)
    assert not rd.weighted and rd.variance == "greenwood"
    adj = mo.risk_difference(df, "group", COVARIATES["lung"], horizon=365)
    kmw = {r["group"]: r for r in ref["iptw"]["km_weighted_at_horizon"]}
    assert adj.table.loc[0, "estimate"] == pytest.approx(kmw["0"]["surv"] - kmw["1"]["surv"],
                                                        rel=1e-6)


def test_bootstrap_columns():
    df, _ = load("veteran")
    cmp = mo.compare_arms(df, "group", COVARIATES["veteran"], horizon=180, n_boot=200, seed=1)
    tab = cmp.table.set_index("analysis")
    assert np.isnan(tab.loc["crude", "boot_lower"])
    r = tab.loc["IPTW-ATE"]
    assert r["boot_lower"] < r["hr"] < r["boot_upper"]


def test_att_row_matches_r():
    # R: ps <- fitted(glm(group ~ age + ph_ecog + ph_karno + wt_loss, binomial));
    # w <- ifelse(group == 1, 1, ps / (1 - ps));
    # coxph(Surv(time, event) ~ group, weights = w, robust = TRUE)  (survival 3.x)
    r = reference("spot_checks")["iptw_att_cox"]
    df, _ = load("lung")
    cmp = mo.compare_arms(df, "group", COVARIATES["lung"], estimand="ATT", overlap=False)
    row = cmp.table.set_index("analysis").loc["IPTW-ATT"]
    assert np.log(row["hr"]) == pytest.approx(r["log_hr"], rel=1e-6)
    assert row["lower"] == pytest.approx(r["lower"], rel=1e-6)
    assert row["upper"] == pytest.approx(r["upper"], rel=1e-6)
    assert row["p"] == pytest.approx(r["p"], rel=1e-6)
