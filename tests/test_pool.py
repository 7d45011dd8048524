"""mo.pool: Rubin's rules with Barnard-Rubin df, held against R's mice::pool.

tests/reference/pool.R imputes survival::lung (extra ECOG and age values removed) once with
``mice(m = 5, seed = 1)``, saves the five completed data sets as pool_completed_{i}.csv and
pools coxph / lm fits with mice 3.15's ``pool`` (and ``pool.scalar`` for survival, RMST
and the HC0 regression row); the same completed data sets are analysed here.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.weighting.pool import barnard_rubin, rubin

POOLED = ["estimate", "se", "lower", "upper", "p", "df", "riv", "lambda", "fmi", "ubar", "b",
          "t"]
SCALAR = ["estimate", "se", "lower", "upper", "p", "df", "riv", "fmi", "ubar", "b", "t"]


@cache
def _completed() -> tuple[pd.DataFrame, ...]:
    out = []
    for i in range(1, 6):
        d = reference_data(f"pool_completed_{i}")
        out.append(d.assign(ecog1=(d["ph_ecog"] >= 1).astype(int)))
    return tuple(out)


def completed() -> list[pd.DataFrame]:
    return [d.copy() for d in _completed()]


def _agree(summary: pd.DataFrame, ref: dict, cols, rtol=1e-8):
    for c in cols:
        np.testing.assert_allclose(summary[c].to_numpy(float), np.atleast_1d(ref[c]),
                                   rtol=rtol, err_msg=c)


def test_cox_matches_mice_pool():
    ref = reference("pool")["cox"]
    fits = [mo.cox(d, covariates=["age", "female", "ph_ecog", "wt_loss"]) for d in completed()]
    res = mo.pool(fits)
    assert list(res.summary.index) == ref["term"]
    np.testing.assert_allclose(res.summary["estimate"], ref["estimate"], rtol=1e-10)
    _agree(res.summary, ref, POOLED)
    assert res.m == ref["m"] == 5
    assert res.dfcom == ref["dfcom"] == fits[0].n_event - 4  # events - terms, as mice
    np.testing.assert_allclose(res.summary["hr"], np.exp(ref["estimate"]), rtol=1e-10)
    np.testing.assert_allclose(res.summary["hr_lower"], np.exp(ref["lower"]), rtol=1e-8)
    np.testing.assert_allclose(res.summary["hr_upper"], np.exp(ref["upper"]), rtol=1e-8)


def test_robust_cox_pools_the_robust_se_as_mice():
    # mice takes tidy()'s robust.se when coxph reports one
    ref = reference("pool")["cox_robust"]
    fits = [mo.cox(d, covariates=["age", "female", "ph_ecog"], robust=True)
            for d in completed()]
    res = mo.pool(fits)
    _agree(res.summary, ref, POOLED)
    assert res.dfcom == ref["dfcom"]


def test_given_dfcom_is_used_for_every_term():
    ref = reference("pool")["cox_dfcom50"]
    res = mo.pool([mo.cox(d, covariates=["age", "female"]) for d in completed()], dfcom=50)
    _agree(res.summary, ref, POOLED)
    assert res.dfcom == 50 and (res.summary["dfcom"] == 50).all()


def test_linear_model_frames_match_mice_with_the_residual_df():
    ref = reference("pool")["lm"]
    frames, dfres = [], []
    for d in completed():
        fit = sm.OLS(d["wt_loss"], sm.add_constant(d[["age", "female", "ph_ecog"]])).fit()
        frames.append(pd.DataFrame({"term": ["(Intercept)", "age", "female", "ph_ecog"],
                                    "estimate": fit.params.to_numpy(),
                                    "se": fit.bse.to_numpy()}))
        dfres.append(fit.df_resid)
    res = mo.pool(frames, dfcom=dfres[0])
    assert list(res.summary.index) == ref["term"]
    _agree(res.summary, ref, POOLED)
    assert res.dfcom == ref["dfcom"] == 224


def test_compare_arms_crude_hr_matches_mice():
    ref = reference("pool")["crude_cox"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comps = [mo.compare_arms(d, "ecog1", treated=1) for d in completed()]
    res = mo.pool(comps)
    row = res.summary.loc["crude: hr"]
    for c in POOLED:
        np.testing.assert_allclose(row[c], ref[c], rtol=1e-8, err_msg=c)
    assert row["dfcom"] == ref["dfcom"]  # events - 1
    np.testing.assert_allclose(row["hr"], np.exp(ref["estimate"]), rtol=1e-10)
    # the RMST difference row is the survfit-rmean pooling of R (large-sample dfcom)
    rm = reference("pool")["rmst_difference"]
    _agree(res.summary.loc[["crude: rmst_diff"]], rm, SCALAR, rtol=1e-8)


def test_compare_outcome_adjusted_row_matches_hc0_pooling():
    ref = reference("pool")["ols_hc0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = [mo.compare_outcome(d, "wt_loss", "female", ["age", "ph_ecog"], treated=1)
                for d in completed()]
    n = len(completed()[0])
    row = mo.pool(outs, dfcom=n - 4).summary.loc[["regression: mean difference"]]
    np.testing.assert_allclose(row["estimate"], np.mean(ref["Q"]), rtol=1e-10)
    _agree(row, ref, SCALAR)
    default = mo.pool(outs)
    assert (default.summary["dfcom"] == n - 2).all()
    assert any("dfcom = n - 2" in note for note in default.notes)


def test_survival_is_pooled_on_the_cloglog_scale_as_r():
    ref = reference("pool")["km"]
    frames = [mo.kaplan_meier(d, group="ecog1").at(365) for d in completed()]
    res = mo.pool(frames)
    assert list(res.summary.index) == ["0 at 365", "1 at 365"]
    for j, r in enumerate(ref):
        row = res.summary.iloc[[j]]
        _agree(row, r, SCALAR, rtol=1e-8)
        _agree(row, r, ["surv", "surv_lower", "surv_upper"], rtol=1e-8)
    assert np.isinf(res.dfcom)


def test_cloglog_pooling_by_hand():
    # two imputations: S = 0.5 (se 0.05) and 0.6 (se 0.04)
    frames = [pd.DataFrame({"group": ["a"], "time": [365.0], "surv": [s], "std_err": [se]})
              for s, se in ((0.5, 0.05), (0.6, 0.04))]
    res = mo.pool(frames).summary.iloc[0]
    g = [np.log(-np.log(0.5)), np.log(-np.log(0.6))]
    u = [(0.05 / (0.5 * np.log(0.5))) ** 2, (0.04 / (0.6 * np.log(0.6))) ** 2]
    b = (g[0] - g[1]) ** 2 / 2
    t = (u[0] + u[1]) / 2 + 1.5 * b
    df = 1 / (1.5 * b / t) ** 2          # (m - 1) / lambda^2, infinite dfcom
    assert res["estimate"] == pytest.approx((g[0] + g[1]) / 2, rel=1e-12)
    assert res["t"] == pytest.approx(t, rel=1e-12)
    assert res["df"] == pytest.approx(df, rel=1e-12)
    assert res["surv"] == pytest.approx(np.exp(-np.exp((g[0] + g[1]) / 2)), rel=1e-12)
    # survival falls as g rises: the upper survival limit comes from the lower g limit
    assert res["surv_upper"] == pytest.approx(np.exp(-np.exp(res["lower"])), rel=1e-12)
    assert res["surv_lower"] < res["surv"] < res["surv_upper"]
    half = stats.t.ppf(0.975, df) * np.sqrt(t)
    assert res["upper"] - res["estimate"] == pytest.approx(half, rel=1e-9)
    assert res["p"] == pytest.approx(2 * stats.t.sf(abs(res["estimate"]) / np.sqrt(t), df),
                                     rel=1e-9)


def test_rmst_difference_matches_r_survfit_rmean_pooling():
    ref = reference("pool")["rmst_difference"]
    res = mo.pool([mo.rmst(d, group="ecog1", horizon=365) for d in completed()])
    _agree(res.summary.loc[["difference"]], ref, SCALAR, rtol=1e-8)
    ratio = res.summary.loc["ratio"]  # pooled on the log scale, back-transformed
    assert ratio["ratio"] == pytest.approx(np.exp(ratio["estimate"]), rel=1e-12)


def test_fine_gray_without_competing_events_pools_the_breslow_cox_coefficients():
    # no competing events: the subdistribution hazard is the hazard, crr's ties Breslow's
    ref = reference("pool")["cox_breslow"]
    fits = [mo.fine_gray(d.assign(status=d["event"]), covariates=["age", "female"])
            for d in completed()]
    res = mo.pool(fits)
    np.testing.assert_allclose(res.summary["estimate"], ref["estimate"], rtol=1e-8)
    assert res.dfcom == ref["dfcom"] == fits[0].n_event - 2
    se2 = np.mean([f.summary["se"].to_numpy() ** 2 for f in fits], axis=0)
    np.testing.assert_allclose(res.summary["ubar"], se2, rtol=1e-12)  # crr's sandwich SE


def test_equal_imputations_have_no_between_variance():
    fit = mo.cox(completed()[0], covariates=["age", "female"])
    res = mo.pool([fit] * 4).summary
    dfcom = fit.n_event - 2
    assert (res["b"] == 0).all() and (res["riv"] == 0).all() and (res["lambda"] == 0).all()
    np.testing.assert_allclose(res["t"], fit.summary["se"] ** 2, rtol=1e-14)
    np.testing.assert_allclose(res["estimate"], fit.summary["coef"], rtol=1e-14)
    # lambda floored at 1e-4 (mice): df_old = (m - 1) / 1e-8, df_obs = (dfcom + 1) /
    # (dfcom + 3) dfcom (1 - 1e-4), so df is just under df_obs (< dfcom)
    dfobs, dfold = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - 1e-4), 3 / 1e-8
    np.testing.assert_allclose(res["df"], dfold * dfobs / (dfold + dfobs), rtol=1e-12)
    assert (res["df"] < dfobs).all() and (res["df"] > dfobs * (1 - 1e-5)).all()
    np.testing.assert_allclose(res["fmi"], 2 / (res["df"] + 3), rtol=1e-14)
    assert (res["fmi"] < 0.02).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.floats(1.0, 1e4), st.integers(0, 2 ** 31 - 1))
def test_barnard_rubin_df_never_exceeds_the_complete_data_df(m, dfcom, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(m, 3)) * rng.uniform(0.01, 3, 3)
    u = rng.uniform(0.01, 2, size=(m, 3))
    out = rubin(q, u, dfcom)
    assert np.all(out["df"] <= dfcom * (dfcom + 1) / (dfcom + 3) + 1e-9)
    assert np.all(out["df"] <= barnard_rubin(m, out["b"], out["t"], np.inf) + 1e-9)
    assert np.all((out["lower"] < out["estimate"]) & (out["estimate"] < out["upper"]))
    assert np.all((0 <= out["fmi"]) & (out["fmi"] <= 1))


def test_inputs_that_cannot_be_pooled_are_named():
    fits = [mo.cox(d, covariates=["age", "female"]) for d in completed()[:3]]
    other = mo.cox(completed()[3], covariates=["age"])
    with pytest.raises(InputError, match=r"rows \[3\].*terms differ"):
        mo.pool([fits[0], fits[1], other])
    with pytest.raises(InputError, match="m >= 2"):
        mo.pool(fits[:1])
    with pytest.raises(InputError, match="different kinds"):
        mo.pool([fits[0], mo.rmst(completed()[0], group="ecog1", horizon=365)])
    with pytest.raises(InputError, match="cannot pool results of type"):
        mo.pool([1.0, 2.0])
    with pytest.raises(InputError, match="list of per-imputation results"):
        mo.pool(fits[0].summary)


def test_identical_copies_give_back_each_rows_own_wald_interval():
    # b = 0 and dfcom = inf: df = (m - 1) / 1e-8, t(df) ~ normal, so pooling copies of one
    # result returns its own intervals: the SE is read on the right scale (log for ratios)
    d = completed()[0].assign(wl=lambda x: (x["wt_loss"] > 10).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = mo.compare_outcome(d, "wl", "female", ["age", "ph_ecog"], treated=1)
        arms = mo.compare_arms(d, "ecog1", ["age"], treated=1)
    tab = out.table
    res = mo.pool([out] * 3, dfcom=np.inf).summary
    ratio = tab["measure"].isin(["risk ratio", "odds ratio"]).to_numpy()
    assert ratio.sum() >= 4 and (~ratio).sum() >= 3
    np.testing.assert_allclose(res["ratio"][ratio], tab["estimate"][ratio], rtol=1e-12)
    np.testing.assert_allclose(res["ratio_lower"][ratio], tab["lower"][ratio], rtol=1e-7)
    np.testing.assert_allclose(res["ratio_upper"][ratio], tab["upper"][ratio], rtol=1e-7)
    # a binary outcome's differences are Wald intervals in every row, crude included
    np.testing.assert_allclose(res["lower"][~ratio], tab["lower"][~ratio], rtol=1e-7)
    np.testing.assert_allclose(res["upper"][~ratio], tab["upper"][~ratio], rtol=1e-7)
    assert res["ratio"][~ratio].isna().all()
    pooled = mo.pool([arms] * 3, dfcom=np.inf).summary
    for col, lo, hi in (("hr", "lower", "upper"), ("rmst_diff", "rmst_lower", "rmst_upper"),
                        ("rd", "rd_lower", "rd_upper")):
        rows = pooled.loc[[f"{a}: {col}" for a in arms.table["analysis"]]]
        pre = "hr_" if col == "hr" else ""
        value = rows["hr"] if col == "hr" else rows["estimate"]
        np.testing.assert_allclose(value, arms.table[col], rtol=1e-12)
        tol = 1e-7 * float((arms.table[hi] - arms.table[lo]).max())  # t(2e8) vs normal
        np.testing.assert_allclose(rows[f"{pre}lower"], arms.table[lo], rtol=0, atol=tol)
        np.testing.assert_allclose(rows[f"{pre}upper"], arms.table[hi], rtol=0, atol=tol)


def test_pooled_limits_on_very_few_df_are_infinite_without_overflow_warnings():
    # two tiny fits pooled on 1 complete-data df: the Barnard-Rubin df fall below 1 and
    # the t quantile makes the log-scale upper limit huge; exp of it is inf, silently
    d1 = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8], "event": [1, 0, 1, 1, 0, 1, 1, 0],
                       "x": [0, 1, 0, 1, 1, 0, 1, 0]})
    d2 = d1.assign(x=[0, 1, 1, 1, 0, 0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = mo.pool([mo.cox(d1, covariates=["x"]), mo.cox(d2, covariates=["x"])], dfcom=1)
    row = res.summary.iloc[0]
    assert row["df"] < 1
    assert row["hr_upper"] == np.inf or row["hr_upper"] > 1e100
    assert np.isclose(row["hr"], np.exp(row["estimate"]))
