"""Stratified log-rank (G-rho, IPTW, clustered) and Gray's test computed in one pass.

R reference: tests/reference/strata.R -> strata.json (survdiff with strata(), cmprsk's
cuminc(strata=)); gray_f_one.R -> gray_f_one.json (cmprsk 2.2-12's crstm where the pooled
cumulative incidence reaches 1). Property oracle: the unstratified kernels called one
stratum at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.survival._kernels import seg_blocks, seg_scan
from mace_outcomes.survival.competing import gray_kernel
from mace_outcomes.survival.logrank import grho_kernel, iptw_logrank_kernel, robust_score_kernel

R = reference("strata")
TOL = 1e-8


def _lung() -> pd.DataFrame:
    d = reference_data("lung")
    inst = pd.to_numeric(pd.Series(R["lung_inst"]), errors="coerce")  # "NA" -> NaN
    return d.assign(inst=inst.to_numpy(), ecog3=np.minimum(d["ph_ecog"], 2))


def _veteran() -> pd.DataFrame:
    d = reference_data("veteran")
    return d.assign(celltype=R["veteran_celltype"],
                    arm3=np.digitize(d["karno"], [40.5, 70.5]))


def _mgus2() -> pd.DataFrame:
    d = reference_data("mgus2")
    return d.assign(age3=np.digitize(d["age"], [65, 75]), hgb3=np.digitize(d["hgb"], [12, 14]))


# ------------------------------------------------------------------ against R
@pytest.mark.parametrize("rho", [0, 1])
@pytest.mark.parametrize("name, group, strata", [("lung", "group", "inst"),
                                                 ("lung", "ecog3", "inst"),
                                                 ("veteran", "group", "celltype"),
                                                 ("veteran", "arm3", "celltype")])
def test_stratified_grho_matches_survdiff(name, group, strata, rho):
    df = _lung() if name == "lung" else _veteran()
    df = df.dropna(subset=[strata])  # as R's na.action drops the row with missing inst
    r = R["survdiff"][f"{name}_{group}_rho{rho}"]
    res = mo.logrank(df, group=group, strata=strata, rho=rho)
    assert res.statistic == pytest.approx(r["chisq"], rel=TOL)
    assert res.df == r["df"] and int(res.table["n"].sum()) == r["n"]
    np.testing.assert_allclose(res.table["observed"], r["observed"], rtol=TOL)
    np.testing.assert_allclose(res.table["expected"], r["expected"], rtol=TOL)
    np.testing.assert_allclose(res.variance, np.asarray(r["variance"]), rtol=TOL, atol=1e-10)


def test_missing_stratum_label_is_an_input_error_not_a_silent_drop():
    with pytest.raises(mo.InputError, match="inst"):
        mo.logrank(_lung(), group="group", strata="inst")


@pytest.mark.parametrize("key, group, strata, rho", [("group_age3", "group", "age3", 0),
                                                     ("group_age3_rho1", "group", "age3", 1),
                                                     ("hgb3_group", "hgb3", "group", 0)])
def test_stratified_gray_matches_cuminc(key, group, strata, rho):
    r = R["cuminc"][key]
    res = mo.gray_test(_mgus2(), group=group, strata=strata, rho=rho)
    assert [str(c) for c in res.table["cause"]] == r["cause"]
    np.testing.assert_allclose(res.table["statistic"], r["stat"], rtol=TOL)
    assert res.table["df"].tolist() == r["df"]
    p = np.asarray(r["p"])
    np.testing.assert_allclose(res.table["p"][p > 0], p[p > 0], rtol=1e-6)


F_ONE = reference("gray_f_one")  # cmprsk 2.2-12 crstm where the pooled F(t-) reaches 1


def _nan(x) -> np.ndarray:
    return np.asarray(x, dtype=float)  # null (NaN in R) -> nan


@pytest.mark.parametrize("case", ["one_group_left", "arm_failed", "undefined"])
def test_gray_kernel_matches_crstm_where_f_reaches_one(case):
    # crstm adds a dF / (1 - F(t-)) to c only where a != 0: F(t-) = 1 with one group left
    # at risk (a = 0) is defined, with two groups left it is 0/0 (NaN); per stratum and
    # stratified, NaN in the same entries
    r = F_ONE[case]
    time, mark = _nan(r["time"]), np.asarray(r["mark"])
    group, strata = np.asarray(r["group"]), np.asarray(r["strata"])
    k = r["ng"]
    s, v = gray_kernel(time, mark, group, k, 0.0, strata=strata)
    np.testing.assert_allclose(s, _nan(r["all"]["s"]).reshape(k - 1), rtol=1e-10)
    np.testing.assert_allclose(v, _nan(r["all"]["v"]).reshape(k - 1, k - 1), rtol=1e-10)
    for part in r["per_stratum"]:
        i = np.flatnonzero(strata == part["stratum"])
        ps, pv = gray_kernel(time[i], mark[i], group[i], k, 0.0)
        np.testing.assert_allclose(ps, _nan(part["s"]).reshape(k - 1), rtol=1e-10)
        np.testing.assert_allclose(pv, _nan(part["v"]).reshape(k - 1, k - 1), rtol=1e-10)


@pytest.mark.parametrize("case", ["one_group_left", "arm_failed"])
def test_gray_test_where_f_reaches_one_with_one_group_left_matches_cuminc(case):
    r = F_ONE[case]
    d = pd.DataFrame({"time": r["time"], "status": r["mark"], "group": r["group"],
                      "s": r["strata"]})
    res = mo.gray_test(d, group="group", strata="s")
    want = r["cuminc"]
    assert not want["error"] and want["cause"][0] == "1"
    assert res.statistic == pytest.approx(want["stat"][0], rel=1e-9)
    assert res.p_value == pytest.approx(want["p"][0], rel=1e-6)


def test_gray_stratum_with_undefined_variance_gives_nan_not_a_crash():
    # F(t-) = 1 in stratum 0 with two groups still at risk: Gray's variance is 0/0 there
    # and cmprsk's cuminc stops with an error; the statistic is NaN
    r = F_ONE["undefined"]
    assert r["cuminc"]["error"]
    d = pd.DataFrame({"time": r["time"], "status": r["mark"], "group": r["group"],
                      "s": r["strata"]})
    res = mo.gray_test(d, group="group", strata="s")
    assert np.isnan(res.statistic) and np.isnan(res.p_value)


# ------------------------------------------------------------------ property: sum of strata
rows = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 1), st.integers(0, 2),
                          st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=50)
SPREAD = st.sampled_from([1, 7, 10**9])  # 10**9: the cell keys are sorted, not binned


def _arrays(data, spread):
    a = np.asarray(data, dtype=float)
    time, event, group, stratum, w = a.T
    return time * 1.5, event, group.astype(np.int64), stratum.astype(np.int64) * spread, w / 2


def _pieces(stratum):
    return [np.flatnonzero(stratum == s) for s in np.unique(stratum)]


@settings(max_examples=60, deadline=None)
@given(rows, SPREAD, st.sampled_from([0.0, 1.0, 0.5]), st.sampled_from([2, 3]))
def test_property_grho_is_sum_of_per_stratum_kernels(data, spread, rho, k):
    time, event, group, stratum, _ = _arrays(data, spread)
    group = group % k
    obs, exp, var = grho_kernel(time, event, group, k, rho, strata=stratum)
    parts = [grho_kernel(time[i], event[i], group[i], k, rho) for i in _pieces(stratum)]
    np.testing.assert_allclose(obs, sum(p[0] for p in parts), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(exp, sum(p[1] for p in parts), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(var, sum(p[2] for p in parts), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(rows, SPREAD)
def test_property_iptw_and_robust_score_are_sums_over_strata(data, spread):
    time, event, group, stratum, w = _arrays(data, spread)
    group = group % 2
    u, v, o, x = iptw_logrank_kernel(time, event, group, w, strata=stratum)
    score, resid = robust_score_kernel(time, event, group == 1, w, strata=stratum)
    pieces = _pieces(stratum)
    parts = [iptw_logrank_kernel(time[i], event[i], group[i], w[i]) for i in pieces]
    for got, j in ((u, 0), (v, 1), (o, 2), (x, 3)):
        np.testing.assert_allclose(got, sum(p[j] for p in parts), rtol=1e-9, atol=1e-12)
    want = np.zeros(time.size)
    for i in pieces:
        want[i] = robust_score_kernel(time[i], event[i], group[i] == 1, w[i])[1]
    np.testing.assert_allclose(resid, want, rtol=1e-9, atol=1e-12)
    assert score == pytest.approx(want.sum(), rel=1e-9, abs=1e-12)


# F(t-) = 1 in stratum 3 with one group left: the stratified sums must restart exactly
# (running totals of stratum 1 once rounded F to 1 - 1e-16 there) and a = 0 adds nothing
F_ONE_ROWS = ([(0, 0, 0, 0, 1)] * 3 + [(0, 0, 0, 1, 1)] * 3 + [(0, 1, 0, 1, 3)] * 2
              + [(0, 1, 0, 3, 3)] * 2 + [(1, 1, 1, 3, 3), (2, 1, 1, 3, 1)])


@settings(max_examples=60, deadline=None)
@given(rows, SPREAD, st.sampled_from([0.0, 1.0]), st.sampled_from([2, 3]))
@example(F_ONE_ROWS, 1, 0.0, 2)
@example(F_ONE_ROWS[:5] + F_ONE_ROWS[6:], 1, 0.0, 2)
@example(F_ONE_ROWS, 10**9, 1.0, 3)
def test_property_gray_is_sum_of_per_stratum_kernels(data, spread, rho, k):
    time, event, group, stratum, w = _arrays(data, spread)
    group = group % k
    mark = np.where(event == 0, 0, np.where(w > 1, 1, 2))  # both causes
    s, v = gray_kernel(time, mark, group, k, rho, strata=stratum)
    s_sum, v_sum = np.zeros(k - 1), np.zeros((k - 1, k - 1))
    for i in _pieces(stratum):
        o = np.argsort(time[i], kind="stable")  # the one-stratum kernel as cmprsk: sorted
        ps, pv = gray_kernel(time[i][o], mark[i][o], group[i][o], k, rho)
        s_sum, v_sum = s_sum + ps, v_sum + pv
    np.testing.assert_allclose(s, s_sum, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v, v_sum, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_property_seg_scan_is_each_segment_alone_bit_for_bit(lengths, seed):
    # the stratified Gray kernel tests F(t-) = 1 exactly: its restarting sums and
    # products must be exactly numpy's on each segment alone, not merely close
    x = np.random.default_rng(seed).uniform(0.1, 1.9, (sum(lengths), 2))
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    blocks = seg_blocks(starts, x.shape[0])
    pieces = np.split(x, starts[1:])
    assert np.array_equal(seg_scan(np.add, x, blocks),
                          np.concatenate([np.cumsum(p, axis=0) for p in pieces]))
    assert np.array_equal(seg_scan(np.multiply, x, blocks),
                          np.concatenate([np.cumprod(p, axis=0) for p in pieces]))


def test_public_logrank_stratified_variants_agree_with_per_stratum_sums():
    # clustered + weighted + stratified through logrank(): score residuals per stratum
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({"time": rng.integers(1, 60, n).astype(float),
                       "event": rng.binomial(1, 0.6, n), "arm": rng.integers(0, 2, n),
                       "s": rng.integers(0, 25, n), "cid": rng.integers(0, 120, n),
                       "w": rng.uniform(0.5, 3.0, n)})
    res = mo.logrank(df, group="arm", strata="s", cluster="cid", weights="w")
    resid = np.zeros(n)
    for i in _pieces(df["s"].to_numpy()):
        sub = df.iloc[i]
        resid[i] = robust_score_kernel(sub["time"].to_numpy(), sub["event"].to_numpy(),
                                       sub["arm"].to_numpy() == 1, sub["w"].to_numpy())[1]
    per_cluster = np.bincount(df["cid"], weights=resid)
    assert res.statistic == pytest.approx(resid.sum() ** 2 / (per_cluster @ per_cluster),
                                          rel=1e-9)
