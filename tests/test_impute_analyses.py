"""Analyses of multiply imputed data: compare_arms, compare_outcome, propensity balance
and table_one accept an Imputations and re-fit within each completed data set.

Independent sources: the pooled result is Rubin's rules (``mo.pool``, held to mice's
pool in test_pool.py) over the per-imputation analyses run by hand here; with m identical
completed data sets the between-imputation variance is 0 by definition and every
summary equals the analysis of the frame itself (a property); averaged balance is the
arithmetic mean of the per-imputation SMDs, and a Table 1 p-value the median of the
per-imputation p-values (the median-P rule), both computed here with numpy.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

import mace_outcomes as mo

COVARIATES = ["age", "wt_loss"]
T1 = {"group": "group", "variables": ["age", "wt_loss", "ph_karno", "ph_ecog"],
      "categorical": ["ph_ecog"]}


@cache
def complete() -> pd.DataFrame:
    return reference_data("lung").dropna(subset=["age", "wt_loss", "ph_ecog", "ph_karno"])


@cache
def imputed():
    d = complete()
    d = d.assign(wt_loss=d["wt_loss"].mask(d["age"] % 3 == 0),
                 ph_karno=d["ph_karno"].mask(d["age"] % 4 == 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mo.impute(d, variables=["age", "wt_loss", "ph_karno"], m=4, seed=3,
                         iterations=3, treatment="group")


@cache
def identical():
    """m = 3 imputations of a frame without missing values: three copies of it."""
    imp = mo.impute(complete(), variables=COVARIATES, m=3, seed=1, iterations=2,
                    treatment="group")
    assert all(x.equals(complete()) for x in imp.datasets)
    return imp


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_compare_arms_on_imputations_is_the_pool_of_the_per_imputation_comparisons():
    imp = imputed()
    res = _quiet(mo.compare_arms, imp, treatment="group", covariates=COVARIATES)
    by_hand = [_quiet(mo.compare_arms, d, treatment="group", covariates=COVARIATES)
               for d in imp.datasets]
    pd.testing.assert_frame_equal(res.summary, mo.pool(by_hand).summary, check_exact=True)
    assert res.m == 4 and len(res.per_imputation) == 4
    for mine, theirs in zip(res.per_imputation, by_hand, strict=True):
        pd.testing.assert_frame_equal(mine.table, theirs.table, check_exact=True)
    assert "fmi" in res.table.columns and res.table["fmi"].notna().all()
    # the completed data sets differ, so the analyses do: b > 0 on the weighted rows
    assert (res.summary.loc["IPTW-ATE: hr", "b"] > 0)


def test_compare_arms_on_identical_imputations_is_the_frame_analysis():
    res = _quiet(mo.compare_arms, identical(), treatment="group", covariates=COVARIATES)
    frame = _quiet(mo.compare_arms, complete(), treatment="group", covariates=COVARIATES)
    s, t = res.summary, frame.table.set_index("analysis")
    assert (s["b"] == 0).all()
    hr = s.loc[[f"{a}: hr" for a in t.index], "hr"].to_numpy()
    np.testing.assert_allclose(hr, t["hr"].to_numpy(), rtol=1e-12)
    # total variance = the frame's own (Wald) variance when b = 0
    z = 1.959963984540054
    se = (np.log(t["upper"]) - np.log(t["lower"])).to_numpy() / (2 * z)
    np.testing.assert_allclose(s.loc[[f"{a}: hr" for a in t.index], "se"], se, rtol=1e-12)
    np.testing.assert_allclose(s.loc[[f"{a}: rd" for a in t.index], "estimate"], t["rd"],
                               rtol=1e-12)


def test_compare_outcome_on_imputations_is_the_pool_and_identical_copies_the_frame():
    imp = imputed()
    kw = {"outcome": "ph_karno", "treatment": "group", "covariates": COVARIATES}
    res = _quiet(mo.compare_outcome, imp, **kw)
    by_hand = [_quiet(mo.compare_outcome, d, **kw) for d in imp.datasets]
    pd.testing.assert_frame_equal(res.summary, mo.pool(by_hand).summary, check_exact=True)
    assert len(res.per_imputation) == 4

    same = _quiet(mo.compare_outcome, identical(), **kw)
    frame = _quiet(mo.compare_outcome, complete(), **kw).table
    assert (same.summary["b"] == 0).all()
    np.testing.assert_allclose(same.summary["estimate"], frame["estimate"], rtol=1e-12)


def test_propensity_balance_is_averaged_over_the_imputations():
    imp = imputed()
    ps = _quiet(mo.propensity, imp, "group", COVARIATES, estimand="ATO")
    each = [_quiet(mo.propensity, d, "group", COVARIATES, estimand="ATO").balance()
            for d in imp.datasets]
    smd = np.column_stack([b["smd_weighted"] for b in each])
    avg = ps.balance()
    np.testing.assert_allclose(avg["smd_weighted"], smd.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(avg["smd_unweighted"],
                               np.column_stack([b["smd_unweighted"] for b in each]).mean(1),
                               rtol=1e-12)
    np.testing.assert_allclose(avg["max_abs_smd_weighted"], np.abs(smd).max(axis=1))
    assert list(avg["balanced"]) == list(np.abs(smd).max(axis=1) < 0.1)
    long = ps.balance(per_imputation=True)
    assert list(long["imputation"]) == [1, 1, 2, 2, 3, 3, 4, 4]
    np.testing.assert_array_equal(long["smd_weighted"], smd.T.ravel())
    # the imputations differ in wt_loss, so its balance does
    assert np.ptp(smd[1]) > 0 and ps.m == 4 and ps.estimand == "ATO"


def test_table_one_on_identical_imputations_is_the_frame_table():
    t_imp = _quiet(mo.table_one, identical(), **T1)
    t_frame = _quiet(mo.table_one, complete(), **T1)
    text = [c for c in t_frame.table.columns if c not in ("p", "smd")]
    pd.testing.assert_frame_equal(t_imp.table[text], t_frame.table[text])
    np.testing.assert_allclose(t_imp.table["p"], t_frame.table["p"], rtol=1e-12)
    np.testing.assert_allclose(t_imp.table["smd"], t_frame.table["smd"], rtol=1e-12)
    num = t_frame.numbers.select_dtypes("number").columns
    np.testing.assert_allclose(t_imp.numbers[num], t_frame.numbers[num], rtol=1e-12)
    assert any("Multiple imputation, m = 3" in r for r in t_imp.rules)


def test_table_one_on_imputations_averages_summaries_and_takes_the_median_p():
    imp = imputed()
    t = _quiet(mo.table_one, imp, **T1)
    first = _quiet(mo.table_one, imp.datasets[0], **T1)
    fixed = dict(T1, nonnormal=[v for v, s in zip(first.table["variable"],
                                                   first.table["statistic"], strict=True)
                                if s.startswith("median")])
    each = [first] + [_quiet(mo.table_one, d, **fixed) for d in imp.datasets[1:]]
    p = np.column_stack([e.table["p"] for e in each])
    rows = t.table["p"].notna()
    np.testing.assert_allclose(t.table.loc[rows, "p"], np.median(p[rows], axis=1))
    key = ["variable", "level", "group"]
    for col in ("mean", "sd", "median", "percent"):
        wide = np.column_stack([e.numbers.set_index(key)[col] for e in each])
        got = t.numbers.set_index(key)[col].to_numpy()
        np.testing.assert_allclose(got, wide.mean(axis=1), rtol=1e-12)
    smd = np.column_stack([e.table["smd"] for e in each])
    np.testing.assert_allclose(t.table.loc[rows, "smd"], smd[rows].mean(axis=1), rtol=1e-12)


def test_table_one_mean_sd_cell_prints_the_averaged_mean_and_sd():
    imp = imputed()
    t = _quiet(mo.table_one, imp, **dict(T1, nonnormal=False))
    r = t.table.set_index("variable").loc["wt_loss"]
    assert r["statistic"] == "mean ± SD"
    for arm in t.arms:
        means = [d.loc[d["group"] == arm, "wt_loss"].mean() for d in imp.datasets]
        sds = [d.loc[d["group"] == arm, "wt_loss"].std() for d in imp.datasets]
        mean, sd = (float(x) for x in r[arm].split(" ± "))
        assert mean == pytest.approx(np.mean(means), abs=0.051)  # printed to 1 decimal
        assert sd == pytest.approx(np.mean(sds), abs=0.051)


def test_table_one_overall_column_is_refused_for_imputations():
    with pytest.raises(mo.errors.InputError, match="overall"):
        mo.table_one(imputed(), overall=True, **T1)
