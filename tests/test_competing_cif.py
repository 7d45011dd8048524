"""Aalen-Johansen cumulative incidence and Gray's test against R (mgus2 reference numbers).

Reference: tests/reference/mgus2.json, made with R 4.2.2, survival 3.5.3 and cmprsk 2.2-11
(``cuminc``, ``timepoints``, ``survfit(Surv(time, factor(status)) ~ group)``).
"""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from scipy import stats

import mace_outcomes as mo

RTOL = 1e-6


@pytest.fixture(scope="module")
def mgus2():
    return reference_data("mgus2")


@pytest.fixture(scope="module")
def ref():
    return reference("mgus2")


def _step(table: pd.DataFrame, group, t: float) -> pd.DataFrame:
    sub = table[(table["group"] == group) & (table["time"] <= t)]
    return sub[sub["time"] == sub["time"].max()]


# ------------------------------------------------------------------ R reference values
def test_gray_test_matches_cmprsk(mgus2, ref):
    r = ref["gray_test"]
    for cause, stat, p in zip(r["cause"], r["stat"], r["p"], strict=True):
        g = mo.gray_test(mgus2, time="time", status="status", group="group", cause=int(cause))
        assert g.df == 1
        np.testing.assert_allclose(g.statistic, stat, rtol=RTOL)
        np.testing.assert_allclose(g.p_value, p, rtol=RTOL)
    tab = mo.gray_test(mgus2, group="group").table
    np.testing.assert_allclose(tab["statistic"], r["stat"], rtol=RTOL)
    np.testing.assert_allclose(tab["p"], r["p"], rtol=RTOL)
    assert tab["cause"].tolist() == [int(c) for c in r["cause"]]


def test_cif_timepoints_est_and_delta_variance_match_cuminc(mgus2, ref):
    r = ref["cif_timepoints"]
    for key, row in zip(["1", "2", "3", "4"], r["rows"], strict=True):
        group, cause = (int(x) for x in row.split())
        ci = mo.cumulative_incidence(mgus2, group="group", cause=cause, variance="delta")
        at = ci.at(r["times"])
        at = at[at["group"] == group]
        np.testing.assert_allclose(at["cif"], r["est"][key], rtol=RTOL)
        np.testing.assert_allclose(at["std_err"] ** 2, r["var"][key], rtol=RTOL)


def test_aalen_johansen_states_and_std_err_match_survfit(mgus2, ref):
    r = ref["aalen_johansen"]
    ci = mo.cumulative_incidence(mgus2, group="group", cause=1)
    for t, stratum, pstate, se in zip(r["time"], r["strata"], r["pstate"], r["std_err"],
                                      strict=True):
        group = int(stratum.split("=")[1])
        s = _step(ci.states, group, t)
        assert s["state"].tolist() == ["0", "1", "2"]
        np.testing.assert_allclose(s["prob"], pstate, rtol=RTOL)
        np.testing.assert_allclose(s["std_err"], se, rtol=RTOL)
    # the per-cause table carries the same numbers
    for cause in (1, 2):
        ci = mo.cumulative_incidence(mgus2, group="group", cause=cause)
        for t, stratum, pstate, se in zip(r["time"], r["strata"], r["pstate"], r["std_err"],
                                          strict=True):
            row = _step(ci.table, int(stratum.split("=")[1]), t)
            np.testing.assert_allclose(row["cif"], pstate[cause], rtol=RTOL)
            np.testing.assert_allclose(row["std_err"], se[cause], rtol=RTOL)


def test_confidence_limits_follow_the_stated_transform(mgus2, ref):
    r = ref["aalen_johansen"]
    f, se = r["pstate"][1][1], r["std_err"][1][1]  # group 0, cause 1, day 80
    z = stats.norm.ppf(0.975)
    expect = {
        "plain": (f - z * se, f + z * se),
        "log": (f * np.exp(-z * se / f), f * np.exp(z * se / f)),
        "log-log": (f ** np.exp(-z * se / (f * np.log(f))),
                    f ** np.exp(z * se / (f * np.log(f)))),
    }
    for conf_type, (lo, hi) in expect.items():
        at = mo.cumulative_incidence(mgus2, group="group", conf_type=conf_type).at(80)
        at = at[at["group"] == 0]
        np.testing.assert_allclose(at["lower"], lo, rtol=RTOL)
        np.testing.assert_allclose(at["upper"], hi, rtol=RTOL)


# ------------------------------------------------------------------ contract and shape
def test_table_contract_and_at_before_first_event(mgus2):
    ci = mo.cumulative_incidence(mgus2, group="group", cause=1)
    for col in ("group", "time", "cif", "std_err", "lower", "upper", "n_risk", "n_event"):
        assert col in ci.table.columns
    assert ci.cause == 1 and ci.causes == [1, 2] and ci.groups == [0, 1]
    # one row per distinct time per group, censoring times included
    n_times = mgus2.groupby("group")["time"].nunique()
    assert ci.table.groupby("group").size().to_dict() == n_times.to_dict()
    assert ci.table.groupby("group")["n_event"].sum().to_dict() == \
        mgus2[mgus2["status"] == 1].groupby("group").size().to_dict()
    at = ci.at(0.5)
    assert (at["cif"] == 0).all()
    assert at["n_risk"].tolist() == mgus2.groupby("group").size().tolist()
    overall = mo.cumulative_incidence(mgus2)
    assert overall.groups == ["all"] and set(overall.table["group"]) == {"all"}
    assert "Cumulative incidence of cause 1" in repr(ci)
    assert "<div>" in ci._repr_html_()


def test_plot_delegates_to_plots_room(mgus2, monkeypatch):
    import mace_outcomes.plots as plots

    seen = {}
    monkeypatch.setattr(plots, "plot_cif", lambda res, **kw: seen.update(res=res, kw=kw),
                        raising=False)
    ci = mo.cumulative_incidence(mgus2, group="group")
    ci.plot(title="x")
    assert seen["res"] is ci and seen["kw"] == {"title": "x"}


# ------------------------------------------------------------------ properties
def _frames(draw_status_max):
    return st.lists(
        st.tuples(st.integers(1, 25), st.integers(0, draw_status_max)),
        min_size=3, max_size=60,
    ).map(lambda rows: pd.DataFrame(rows, columns=["time", "status"]))


@settings(max_examples=40, deadline=None)
@given(_frames(1))
def test_without_competing_events_cif_is_one_minus_km(d):
    ci = mo.cumulative_incidence(d, cause=1)
    km = KaplanMeierFitter().fit(d["time"], d["status"])
    surv = km.survival_function_.iloc[:, 0]
    expect = 1.0 - surv.reindex(ci.table["time"]).to_numpy()
    np.testing.assert_allclose(ci.table["cif"], expect, rtol=1e-10, atol=1e-12)
    # one cause: the influence of F is minus that of S, so the standard errors agree
    # (atol: a variance that is exactly 0 comes out as ~1e-17 from the cumulative sums)
    st0 = ci.states[ci.states["state"] == "0"]["std_err"].to_numpy()
    np.testing.assert_allclose(ci.table["std_err"], st0, rtol=1e-9, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(_frames(3))
def test_cifs_and_survival_sum_to_one(d):
    ci = mo.cumulative_incidence(d, cause=1)
    total = ci.states.groupby("time")["prob"].sum()
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    probs = ci.states["prob"]
    assert ((probs >= -1e-12) & (probs <= 1 + 1e-12)).all()
    # cumulative incidence never decreases
    assert (np.diff(ci.table["cif"]) >= -1e-12).all()


@settings(max_examples=25, deadline=None)
@given(_frames(2), st.floats(0.1, 10))
def test_constant_weights_change_nothing(d, c):
    d = d.assign(w=c)
    plain = mo.cumulative_incidence(d, cause=1).table
    weighted = mo.cumulative_incidence(d, cause=1, weights="w").table
    np.testing.assert_allclose(weighted["cif"], plain["cif"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(weighted["std_err"], plain["std_err"], rtol=1e-8, atol=1e-7)
    np.testing.assert_allclose(weighted["n_risk"], c * plain["n_risk"], rtol=1e-12)
    np.testing.assert_array_equal(weighted["n_risk_unweighted"], plain["n_risk"])
    np.testing.assert_array_equal(weighted["n_event_unweighted"], plain["n_event"])


def test_gray_statistic_does_not_depend_on_group_labels(mgus2):
    d = mgus2.assign(g3=pd.cut(mgus2["age"], [0, 65, 75, 200], labels=["a", "b", "c"])
                     .astype(str))
    base = mo.gray_test(d, group="g3").table
    relabel = d.assign(g3=d["g3"].map({"a": "z", "b": "y", "c": "x"}))
    other = mo.gray_test(relabel, group="g3").table
    assert base["df"].tolist() == [2, 2]
    np.testing.assert_allclose(other["statistic"], base["statistic"], rtol=1e-9)


def test_gray_strata_of_one_copy_each_adds_scores(mgus2):
    # two identical strata double the score and its variance: the statistic doubles
    d2 = pd.concat([mgus2.assign(s=0), mgus2.assign(s=1)], ignore_index=True)
    one = mo.gray_test(mgus2, group="group").table["statistic"]
    two = mo.gray_test(d2, group="group", strata="s").table["statistic"]
    np.testing.assert_allclose(two, 2 * one, rtol=1e-9)


# ------------------------------------------------------------------ bad input
def test_bad_input_raises_input_error(mgus2):
    bad = mgus2.head(10).copy()
    bad["status"] = bad["status"].astype(float)
    bad.loc[3, "status"] = -1
    bad.loc[5, "status"] = 1.5
    with pytest.raises(mo.InputError) as info:
        mo.cumulative_incidence(bad)
    assert info.value.problems[0].column == "status"
    assert info.value.problems[0].rows == (3, 5)
    with pytest.raises(mo.InputError, match="cause"):
        mo.cumulative_incidence(mgus2, cause=0)
    with pytest.raises(mo.InputError, match="conf_type"):
        mo.cumulative_incidence(mgus2, conf_type="arcsine")
    with pytest.raises(mo.InputError, match="unweighted"):
        mo.cumulative_incidence(mgus2.assign(w=1.0), weights="w", variance="delta")
    with pytest.raises(mo.InputError, match="at least 2 groups"):
        mo.gray_test(mgus2.assign(g=1), group="g")
    with pytest.raises(mo.InputError, match="no events of cause 3"):
        mo.gray_test(mgus2, group="group", cause=3)


def test_weighted_cif_std_err_matches_survfit_port(mgus2):
    # survfit(Surv(time, factor(status)) ~ group, weights = w): robust (IJ) standard errors
    sv = pytest.importorskip("survival")
    w = np.random.default_rng(7).uniform(0.3, 3.0, len(mgus2))
    d = mgus2.assign(w=w, st=pd.Categorical(mgus2["status"], categories=[0, 1, 2]))
    ci = mo.cumulative_incidence(d, group="group", weights="w")
    for g in (0, 1):
        sub = d[d["group"] == g]
        fit = sv.survfit("Surv(time, st) ~ 1", data=sub, weights="w")
        tm, ps, se = (np.asarray(fit.time), np.asarray(fit.pstate), np.asarray(fit.std_err))
        for t in (12.0, 37.0, 80.0, 136.0, 300.0):
            i = np.searchsorted(tm, t, side="right") - 1
            s = _step(ci.states, g, t)
            np.testing.assert_allclose(s["prob"], ps[i], rtol=RTOL)
            np.testing.assert_allclose(s["std_err"], se[i], rtol=RTOL)


def test_gray_test_holds_its_size_under_the_null():
    # simulation with known truth: both arms share the cumulative incidences
    rng = np.random.default_rng(2024)
    pvals = []
    for _ in range(300):
        n = 150
        t1, t2 = rng.exponential(10, n), rng.exponential(15, n)
        c = rng.uniform(0, 25, n)
        t = np.minimum(np.minimum(t1, t2), c)
        status = np.where(t == c, 0, np.where(t1 <= t2, 1, 2))
        d = pd.DataFrame({"time": np.ceil(t), "status": status, "arm": rng.integers(0, 2, n)})
        pvals.append(mo.gray_test(d, group="arm").p_value)
    rate = np.mean(np.array(pvals) < 0.05)
    assert 0.02 <= rate <= 0.09, rate
    # and the p-values are roughly uniform
    assert stats.kstest(pvals, "uniform").pvalue > 0.001
