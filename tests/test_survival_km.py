"""Kaplan-Meier against R (survival 3.5.3), lifelines and the PyPI `survival` port."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import mace_outcomes as mo

SETS = ["lung", "veteran"]
RTOL = 1e-6


def load(name):
    ref = reference(name)
    df = reference_data(name)
    df["w"] = ref["iptw"]["weights_ate"]
    return ref, df


def num(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def assert_curve(table, ref_curve, cols=("time", "n_risk", "n_event", "n_censor", "surv",
                                         "std_err", "lower", "upper")):
    for col in cols:
        np.testing.assert_allclose(table[col].to_numpy(float), num(ref_curve[col]),
                                   rtol=RTOL, atol=1e-12, err_msg=col)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key,conf_type", [("km_loglog", "log-log"), ("km_log", "log")])
def test_km_by_group_matches_r(name, key, conf_type):
    ref, df = load(name)
    km = mo.kaplan_meier(df, group="group", conf_type=conf_type)
    assert km.groups == [0, 1] and km.variance == "greenwood" and not km.weighted
    for g, curve in ref[key].items():
        assert_curve(km.table[km.table["group"] == int(g)], curve)


@pytest.mark.parametrize("name", SETS)
def test_km_overall_matches_r(name):
    ref, df = load(name)
    km = mo.kaplan_meier(df)
    assert km.groups == ["all"]
    assert_curve(km.table, ref["km_overall_loglog"]["all"])


@pytest.mark.parametrize("name", SETS)
def test_km_at_horizon_matches_r(name):
    ref, df = load(name)
    at = mo.kaplan_meier(df, group="group").at(ref["horizon"])
    for row, r in zip(at.itertuples(), ref["km_at_horizon_loglog"], strict=True):
        assert row.group == int(r["group"]) and row.time == r["time"]
        for col in ("surv", "std_err", "lower", "upper", "n_risk"):
            assert getattr(row, col) == pytest.approx(r[col], rel=RTOL), col


@pytest.mark.parametrize("name", SETS)
def test_plain_interval_is_s_plus_minus_z_se(name):
    # closed form on R's own surv and std_err
    ref, df = load(name)
    km = mo.kaplan_meier(df, group="group", conf_type="plain")
    z = norm.ppf(0.975)
    for g, curve in ref["km_loglog"].items():
        t = km.table[km.table["group"] == int(g)]
        s, se = num(curve["surv"]), num(curve["std_err"])
        ok = ~np.isnan(se)
        np.testing.assert_allclose(t["lower"].to_numpy()[ok], np.maximum(s - z * se, 0)[ok],
                                   rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(t["upper"].to_numpy()[ok], np.minimum(s + z * se, 1)[ok],
                                   rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name", SETS)
def test_weighted_robust_km_matches_r(name):
    ref, df = load(name)
    km = mo.kaplan_meier(df, group="group", weights="w")
    assert km.weighted and km.variance == "robust"
    for g, curve in ref["iptw"]["km_weighted_robust_loglog"].items():
        t = km.table[km.table["group"] == int(g)]
        assert_curve(t, curve)
        # the unweighted counts kept beside the weighted ones
        plain = mo.kaplan_meier(df[df["group"] == int(g)])
        np.testing.assert_array_equal(t["n_risk_unweighted"], plain.table["n_risk"])
        np.testing.assert_array_equal(t["n_event_unweighted"], plain.table["n_event"])


@pytest.mark.parametrize("name", SETS)
def test_weighted_km_at_horizon_matches_r(name):
    ref, df = load(name)
    at = mo.kaplan_meier(df, group="group", weights="w").at(ref["horizon"])
    for row, r in zip(at.itertuples(), ref["iptw"]["km_weighted_at_horizon"], strict=True):
        for col in ("surv", "std_err", "lower", "upper", "n_risk"):
            assert getattr(row, col) == pytest.approx(r[col], rel=RTOL), col


def lung_with_clusters():
    _, df = load("lung")
    i = np.arange(1, len(df) + 1)
    df["cl"] = i % 37
    df["wc"] = 1 + (i % 5) / 3
    return df


def test_cluster_robust_matches_r():
    # R: survfit(Surv(time, event) ~ group, weights=wc, cluster=cl, conf.type="log-log"),
    # summary(times=c(100, 365, 700)), with cl = row %% 37, wc = 1 + (row %% 5) / 3
    r = reference("spot_checks")["km_cluster_robust"]
    r_w = np.column_stack([r["weighted"][c] for c in ("surv", "std_err", "lower", "upper")])
    # the same without weights (cluster alone switches to the robust variance)
    r_u = np.column_stack([r["unweighted"][c] for c in ("surv", "std_err")])
    df = lung_with_clusters()
    at = mo.kaplan_meier(df, group="group", weights="wc", cluster="cl").at([100, 365, 700])
    np.testing.assert_allclose(at[["surv", "std_err", "lower", "upper"]], r_w, rtol=1e-9)
    km = mo.kaplan_meier(df, group="group", cluster="cl")
    assert km.variance == "robust" and not km.weighted
    np.testing.assert_allclose(km.at([100, 365, 700])[["surv", "std_err"]], r_u, rtol=1e-9)


def test_singleton_clusters_equal_unclustered_robust():
    _, df = load("veteran")
    df["id"] = np.arange(len(df))
    a = mo.kaplan_meier(df, group="group", weights="w").table
    b = mo.kaplan_meier(df, group="group", weights="w", cluster="id").table
    np.testing.assert_allclose(a["std_err"], b["std_err"], rtol=1e-9)


def test_quantiles_and_median_match_r():
    # R: quantile(survfit(Surv(time, event) ~ group, lung, conf.type="log-log"))
    r = reference("spot_checks")["km_quantiles"]
    _, df = load("lung")
    km = mo.kaplan_meier(df, group="group")
    q = km.quantile()
    np.testing.assert_array_equal(q["time"], r["time"])
    np.testing.assert_array_equal(q["lower"], r["lower"])
    np.testing.assert_array_equal(q["upper"], r["upper"])
    med = km.median()
    assert list(med.columns) == ["group", "median", "lower", "upper"]
    # the median is the middle of the three probabilities, per group
    np.testing.assert_array_equal(med[["median", "lower", "upper"]],
                                  np.column_stack([r[c][1::3] for c in ("time", "lower", "upper")]))


def test_curve_reaching_zero_and_at_semantics_match_r():
    # R: survfit(Surv(time, event) ~ 1, conf.type="log-log") on this toy set,
    # summary(censored=TRUE) and summary(times=c(.5, 2.5, 5, 7), extend=TRUE)
    r = reference("spot_checks")["km_toy"]
    df = pd.DataFrame({"time": [1, 2, 2, 3, 4, 5, 5, 6], "event": [1, 1, 0, 1, 0, 1, 1, 1],
                       "w": [1, 2, 1.5, 1, 1, 0.5, 2, 1]})
    t = mo.kaplan_meier(df).table
    np.testing.assert_allclose(t["std_err"][:5], r["std_err"][:5], rtol=1e-9)
    np.testing.assert_allclose(t["lower"][:5], r["lower"][:5], rtol=1e-9)
    assert t["surv"].iloc[-1] == 0 and np.isnan(t["std_err"].iloc[-1])
    assert np.isnan(t["lower"].iloc[-1]) and np.isnan(t["upper"].iloc[-1])
    at = mo.kaplan_meier(df).at(r["at_times"])
    np.testing.assert_array_equal(at["n_risk"], r["at_n_risk"])
    np.testing.assert_allclose(at["surv"], r["at_surv"])
    # weighted robust: R prints std.err 0 once the curve is 0; n.risk weighted
    w = mo.kaplan_meier(df, weights="w").table
    np.testing.assert_allclose(w["n_risk"], r["weighted_n_risk"])
    np.testing.assert_allclose(w["std_err"], r["weighted_std_err"], rtol=1e-9,
                               atol=1e-12)
    # summary(times=c(0, 2, 4.5, 10), extend=TRUE): n.risk, cumsum(n.event), cumsum(n.censor)
    rt = mo.kaplan_meier(df).risk_table(r["risk_times"])
    np.testing.assert_array_equal(rt["n_risk"], r["risk_n_risk"])
    np.testing.assert_array_equal(rt["cum_events"], r["risk_cum_events"])
    np.testing.assert_array_equal(rt["cum_censored"], r["risk_cum_censored"])


@pytest.mark.parametrize("name", SETS)
def test_unweighted_km_agrees_with_lifelines(name):
    from lifelines import KaplanMeierFitter

    _, df = load(name)
    km = mo.kaplan_meier(df, group="group")
    for g in (0, 1):
        sub = df[df["group"] == g]
        f = KaplanMeierFitter().fit(sub["time"], sub["event"])
        t = km.table[km.table["group"] == g]
        s = f.survival_function_.iloc[:, 0].reindex(t["time"]).to_numpy()
        np.testing.assert_allclose(t["surv"], s, rtol=1e-10)
        ci = f.confidence_interval_.reindex(t["time"])  # lifelines: log(-log) Greenwood
        ok = (t["surv"] < 1).to_numpy() & (t["surv"] > 0).to_numpy()
        np.testing.assert_allclose(t["lower"][ok], ci.iloc[:, 0].to_numpy()[ok], rtol=1e-8)
        np.testing.assert_allclose(t["upper"][ok], ci.iloc[:, 1].to_numpy()[ok], rtol=1e-8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 1), st.integers(0, 1)),
                min_size=2, max_size=60))
def test_km_equals_pypi_survival_port(rows):
    survival = pytest.importorskip("survival")
    df = pd.DataFrame(rows, columns=["time", "event", "group"]).astype(float)
    df["event"] = df["event"].astype(int)
    km = mo.kaplan_meier(df, conf_type="log")
    f = survival.survfit("Surv(time, event) ~ 1", data=df, conf_type="log")
    t = km.table
    np.testing.assert_allclose(t["time"], f.time)
    np.testing.assert_allclose(t["n_risk"], f.n_risk)
    np.testing.assert_allclose(t["n_event"], f.n_event)
    np.testing.assert_allclose(t["surv"], f.surv, rtol=1e-10, atol=1e-14)
    se_log = np.asarray(f.std_err, dtype=float)  # port: std. error of log S
    ok = np.isfinite(se_log)
    with np.errstate(invalid="ignore"):
        se_s = t["surv"].to_numpy() * se_log
    np.testing.assert_allclose(t["std_err"].to_numpy()[ok], se_s[ok], rtol=1e-9, atol=1e-14)
    lo = np.asarray(f.lower, dtype=float)
    np.testing.assert_allclose(t["lower"].to_numpy()[ok], lo[ok], rtol=1e-9, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 1)), min_size=2, max_size=40),
       st.floats(0.2, 5.0))
def test_constant_weights_leave_curve_unchanged(rows, c):
    # a common weight rescales every risk set: S is unchanged, IJ variance too
    df = pd.DataFrame(rows, columns=["time", "event"])
    df["w"] = c
    df["one"] = 1.0
    a = mo.kaplan_meier(df, weights="w").table
    b = mo.kaplan_meier(df, weights="one").table
    np.testing.assert_allclose(a["surv"], b["surv"], rtol=1e-12)
    np.testing.assert_allclose(a["std_err"], b["std_err"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(a["n_risk"], c * b["n_risk"], rtol=1e-12)


def test_bad_input_raises_input_error():
    df = pd.DataFrame({"time": [1.0, -2.0, np.nan, 4.0], "event": [1, 2, 0, 1],
                       "w": [1.0, 0.0, -1, np.nan], "g": ["a", "b", None, "a"]})
    with pytest.raises(mo.InputError) as err:
        mo.kaplan_meier(df, group="g", weights="w")
    text = str(err.value)
    for piece in ("'time'", "'event'", "'w'", "'g'", "negative"):
        assert piece in text
    with pytest.raises(mo.InputError):
        mo.kaplan_meier(df.iloc[[0, 3]], conf_type="logit")
    with pytest.raises(mo.InputError):
        mo.kaplan_meier(df.iloc[[0, 3]], time="missing_column")


def test_repr_reads_like_r():
    _, df = load("lung")
    km = mo.kaplan_meier(df, group="group")
    text = repr(km)
    assert "median" in text and "Greenwood" in text and "284" in text
    assert "<table" in km._repr_html_()


def test_plot_delegates_to_plots_room(monkeypatch):
    import mace_outcomes.plots as plots

    seen = {}

    def fake_plot_km(km, **kw):
        seen["km"], seen["kw"] = km, kw
        return "figure"

    monkeypatch.setattr(plots, "plot_km", fake_plot_km, raising=False)
    _, df = load("lung")
    km = mo.kaplan_meier(df, group="group")
    assert km.plot(title="x") == "figure"
    assert seen["km"] is km and seen["kw"] == {"title": "x"}


def test_fractional_and_large_times_take_the_sorting_path_correctly():
    # times in weeks (fractional) and in seconds since an epoch (huge span) must give the
    # same curve as days: the product-limit estimate depends on the order of times only
    _, df = load("veteran")
    days = mo.kaplan_meier(df, group="group", weights="w").table
    for scale, shift in ((1 / 7.3, 0.0), (86400.0, 1.6e9)):
        other = mo.kaplan_meier(df.assign(time=df["time"] * scale + shift), group="group",
                                weights="w").table
        for col in ("n_risk", "n_event", "surv", "std_err", "lower", "upper"):
            np.testing.assert_allclose(other[col], days[col], rtol=1e-12, err_msg=col)
