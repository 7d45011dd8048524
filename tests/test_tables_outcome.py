"""outcome_table against R (survival 3.5, coxphf, RISCA via tests/reference), lifelines, pandas."""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError


@pytest.fixture(scope="module")
def lung():
    d = reference_data("lung")
    ref = reference("lung")
    d["w"] = ref["iptw"]["weights_ate"]
    return d, ref


def test_whole_follow_up_matches_r(lung):
    d, ref = lung
    ot = mo.outcome_table({"death": d}, group="group", horizon=365, weights="w", arms=[1, 0],
                          censor_at_horizon=False)
    r = ot.table.iloc[0]
    cox = ref["cox_group_only"]  # coxph(Surv ~ group)
    for mine, theirs in (("hr", "hr"), ("lower", "lower"), ("upper", "upper"), ("p", "p")):
        assert r[mine] == pytest.approx(cox[theirs], rel=1e-6)
    assert r["logrank_p"] == pytest.approx(ref["logrank"]["p"], rel=1e-6)
    wc = ref["iptw"]["cox_weighted_robust"]  # coxph(..., weights = w_ate, robust = TRUE)
    for mine, theirs in (("hr_adj", "hr"), ("lower_adj", "lower"), ("upper_adj", "upper"),
                         ("p_adj", "p")):
        assert r[mine] == pytest.approx(wc[theirs], rel=1e-6)
    assert r["logrank_p_adj"] == pytest.approx(ref["iptw"]["adjusted_logrank_ate"]["p"],
                                               rel=1e-6)
    for row in ref["km_at_horizon_loglog"]:  # survfit at 365, log-log
        a = int(row["group"])
        assert r[f"km_{a}"] == pytest.approx(100 * (1 - row["surv"]), rel=1e-6)
        assert r[f"km_lower_{a}"] == pytest.approx(100 * (1 - row["upper"]), rel=1e-6)
        assert r[f"km_upper_{a}"] == pytest.approx(100 * (1 - row["lower"]), rel=1e-6)
    for row in ref["iptw"]["km_weighted_at_horizon"]:  # weighted, robust IJ variance
        a = int(row["group"])
        assert r[f"km_adj_{a}"] == pytest.approx(100 * (1 - row["surv"]), rel=1e-6)
        assert r[f"km_adj_lower_{a}"] == pytest.approx(100 * (1 - row["upper"]), rel=1e-6)
    # events counted by the horizon
    for a in (0, 1):
        sel = d[d.group == a]
        n_ev = int(((sel.event == 1) & (sel.time <= 365)).sum())
        assert r[f"n_event_{a}"] == n_ev and r[f"n_{a}"] == len(sel)
        assert r[f"percent_{a}"] == pytest.approx(100 * n_ev / len(sel))


def test_censored_at_horizon_matches_lifelines(lung):
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    d, _ = lung
    ot = mo.outcome_table({"death": d}, group="group", horizon=365, arms=[1, 0])
    h = pd.DataFrame({"time": np.minimum(d.time, 365),
                      "event": ((d.event == 1) & (d.time <= 365)).astype(int),
                      "group": d.group})
    cph = CoxPHFitter().fit(h, "time", "event")
    r = ot.table.iloc[0]
    assert r["hr"] == pytest.approx(float(np.exp(cph.params_["group"])), rel=1e-5)
    assert r["p"] == pytest.approx(float(cph.summary.loc["group", "p"]), rel=1e-4)
    lr = logrank_test(h.time[h.group == 1], h.time[h.group == 0],
                      h.event[h.group == 1], h.event[h.group == 0])
    assert r["logrank_p"] == pytest.approx(lr.p_value, rel=1e-6)
    assert r["comparison"] == "1 vs 0" and r["method"] == "Cox"


def test_zero_events_uses_firth_like_coxphf():
    z = reference_data("firth_zero")  # no events in group 1
    ref = reference("firth")["firth_zero_group"]
    ot = mo.outcome_table({"zero": z}, group="group", horizon=5000, arms=[1, 0])
    r = ot.table.iloc[0]
    assert "Firth" in r["method"] and "no events in 1" in r["method"]
    assert r["hr"] == pytest.approx(np.exp(ref["coef"]), rel=1e-6)
    assert r["lower"] == pytest.approx(ref["lower"], rel=1e-4)
    assert r["upper"] == pytest.approx(ref["upper"], rel=1e-4)
    assert r["p"] == pytest.approx(ref["p"], rel=1e-4)
    assert r["n_event_1"] == 0 and r["km_1"] == 0.0
    assert "Firth" in ot.to_markdown()
    # without Firth the HR does not exist (monotone likelihood) and the method says so
    plain = mo.outcome_table({"zero": z}, group="group", horizon=5000, arms=[1, 0],
                             firth=False).table.iloc[0]
    assert not np.isfinite(plain["lower"]) and "use firth" in plain["method"]


def test_several_endpoints_and_exports(lung, tmp_path):
    d, _ = lung
    other = d.assign(event=((d.event == 1) & (d.age > 65)).astype(int))
    ot = mo.outcome_table({"death": d, "death_over_65": other}, group="group", horizon=365,
                          arms=[1, 0])
    assert ot.table["endpoint"].tolist() == ["death", "death_over_65"]
    assert set(ot.effects["analysis"]) == {"crude"}
    f = ot.formatted()
    n1 = int(((other.group == 1) & (other.event == 1) & (other.time <= 365)).sum())
    assert f.loc[1, "1, n (%)"] == f"{n1}/86 ({100 * n1 / 86:.1f}%)"
    assert "HR (95% CI)" in ot.to_markdown()
    assert r"\toprule" in ot.to_latex()
    back = pd.read_csv(ot.to_csv(tmp_path / "o.csv", tidy=True))
    assert back["hr"].to_numpy() == pytest.approx(ot.table["hr"].to_numpy())
    assert "Clinical outcomes" in repr(ot)


def test_bad_input(lung):
    d, _ = lung
    with pytest.raises(InputError, match="nope"):
        mo.outcome_table({"x": d}, group="nope")
    bad = d.copy()
    bad.loc[4, "time"] = -1
    with pytest.raises(InputError, match="negative time"):
        mo.outcome_table({"x": bad}, group="group")
    with pytest.raises(InputError, match="reference"):
        mo.outcome_table({"x": d}, group="group", reference=7)


def test_clustered_matches_r(lung):
    # R 4.2 / survival 3.5.3, lung with pairs of rows as clusters (id = (row - 1) %/% 2):
    # coxph(Surv(pmin(time, 365), event & time <= 365) ~ group, cluster = id);
    # survfit(Surv(time, event) ~ group, cluster = id, robust = TRUE, conf.type = "log-log")
    want = reference("spot_checks")["outcome_pairs_clustered"]
    d, _ = lung
    d = d.assign(pair=np.arange(len(d)) // 2)
    r = mo.outcome_table({"death": d}, group="group", horizon=365, arms=[1, 0],
                         cluster="pair").table.iloc[0]
    assert r["hr"] == pytest.approx(want["hr"], rel=1e-6)
    assert r["lower"] == pytest.approx(want["lower"], rel=1e-6)
    assert r["upper"] == pytest.approx(want["upper"], rel=1e-6)
    assert r["p"] == pytest.approx(want["p"], rel=1e-5)
    # robust (IJ) KM limits at 365 days (R's rows: group 0, group 1): S lower/upper ->
    # incidence upper/lower
    assert r["km_upper_0"] == pytest.approx(100 * (1 - want["km_lower"][0]), rel=1e-6)
    assert r["km_lower_1"] == pytest.approx(100 * (1 - want["km_upper"][1]), rel=1e-6)
