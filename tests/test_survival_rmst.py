"""RMST against R's survfit rmean, survRM2's rmst2 and R's IJ residuals (type="sojourn")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.survival._kernels import km_surv, risk_table, rmst_area
from mace_outcomes.survival.rmst import rmst_kernel

SETS = ["lung", "veteran"]


def load(name):
    return reference(name), reference_data(name)


@pytest.mark.parametrize("name", SETS)
def test_rmean_matches_survfit(name):
    ref, df = load(name)
    r = ref["rmst"]
    fit = mo.rmst(df, group="group", tau=r["tau"])
    assert [str(g) for g in fit.table["group"]] == r["group"]
    np.testing.assert_allclose(fit.table["rmst"], r["rmean"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], r["se"], rtol=1e-6)


@pytest.mark.parametrize("name", SETS)
def test_rmst2_matches_survrm2(name):
    ref, df = load(name)
    r = ref["rmst2"]
    fit = mo.rmst(df, group="group", tau=r["tau"])
    for arm, key in ((0, "rmst_arm0"), (1, "rmst_arm1")):
        row = fit.table.iloc[arm]
        np.testing.assert_allclose([row["rmst"], row["se"], row["lower"], row["upper"]],
                                   r[key], rtol=1e-6)
    for name_r, name_c in (("diff", "difference"), ("ratio", "ratio"),
                           ("rmtl_ratio", "rmtl_ratio")):
        got = fit.contrast.loc[name_c, ["estimate", "lower", "upper", "p"]].to_numpy(float)
        np.testing.assert_allclose(got, r[name_r], rtol=1e-6, err_msg=name_r)


def test_default_tau_is_smallest_largest_time():
    ref, df = load("lung")
    fit = mo.rmst(df, group="group")
    assert fit.tau == min(df.loc[df["group"] == g, "time"].max() for g in (0, 1))


def lung_weighted():
    _, df = load("lung")
    i = np.arange(1, len(df) + 1)
    df["cl"] = i % 37
    df["wc"] = 1 + (i % 5) / 3
    return df


def test_robust_rmst_matches_r_sojourn_residuals():
    # R, per group: f <- survfit(Surv(time, event) ~ 1, weights=wc); r <- resid(f, times=365,
    # type="sojourn"); sqrt(sum(rowsum(wc * r, cl)^2)) and sqrt(sum((wc * r)^2))
    r = reference("spot_checks")["rmst_weighted_cluster"]
    df = lung_weighted()
    clus = mo.rmst(df, group="group", tau=365, weights="wc", cluster="cl")
    np.testing.assert_allclose(clus.table["rmst"], r["rmst"], rtol=1e-9)
    np.testing.assert_allclose(clus.table["se"], r["se_cluster"], rtol=1e-9)
    plain = mo.rmst(df, group="group", tau=365, weights="wc")
    assert plain.variance == "robust"
    np.testing.assert_allclose(plain.table["se"], r["se_robust"], rtol=1e-9)
    # robust=False with weights: R's print(survfit(..., weights=wc), rmean=365) se(rmean)
    naive = mo.rmst(df, group="group", tau=365, weights="wc", robust=False)
    np.testing.assert_allclose(naive.table["se"], r["se_naive"], rtol=1e-9)


def test_robust_difference_variance_uses_cluster_covariance():
    # clusters spanning both groups: var(diff) = sum_k (U1_k - U0_k)^2, not v1 + v0
    df = lung_weighted()
    fit = mo.rmst(df, group="group", tau=365, weights="wc", cluster="cl")
    cov = fit.covariance
    assert fit.contrast.loc["difference", "se"] == pytest.approx(
        np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), rel=1e-12)
    assert abs(cov[0, 1]) > 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10), st.integers(0, 1), st.floats(0.3, 3.0)),
                min_size=3, max_size=25), st.floats(1.0, 9.0))
def test_ij_influence_is_derivative_of_rmst(rows, tau):
    # the IJ term of each subject equals w_i * dRMST/dw_i (finite differences)
    df = pd.DataFrame(rows, columns=["time", "event", "w"]).sort_values("time", kind="stable")
    t = df["time"].to_numpy(float)
    e = df["event"].to_numpy(int)
    w = df["w"].to_numpy(float)

    def area(ww):
        tab = risk_table(t, e, ww)
        return rmst_area(tab.time, km_surv(tab.n_risk, tab.n_event), tau)[0]

    _, _, infl = rmst_kernel(t, e, tau, w, robust=True)
    h = 1e-6
    for i in range(t.size):
        up, dn = w.copy(), w.copy()
        up[i] += h
        dn[i] -= h
        deriv = (area(up) - area(dn)) / (2 * h)
        assert infl[i] == pytest.approx(w[i] * deriv, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", SETS)
def test_rmst_agrees_with_lifelines(name):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    ref, df = load(name)
    fit = mo.rmst(df, group="group", tau=ref["horizon"])
    for g in (0, 1):
        sub = df[df["group"] == g]
        kmf = KaplanMeierFitter().fit(sub["time"], sub["event"])
        value = restricted_mean_survival_time(kmf, t=ref["horizon"])
        assert fit.table["rmst"].iloc[g] == pytest.approx(value, rel=1e-9)


def test_bad_tau_and_input():
    _, df = load("lung")
    with pytest.raises(mo.InputError, match="tau"):
        mo.rmst(df, group="group", tau=5000)
    with pytest.raises(mo.InputError):
        mo.rmst(df, group="group", tau=-1)
    with pytest.raises(mo.InputError):
        mo.rmst(df.assign(event=3), group="group", tau=365)


def test_repr_and_single_group():
    _, df = load("lung")
    fit = mo.rmst(df, group=None, tau=365)
    assert list(fit.table["group"]) == ["all"] and fit.contrast.empty
    assert "Restricted mean" in repr(mo.rmst(df, group="group", tau=365))
