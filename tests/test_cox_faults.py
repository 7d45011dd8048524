"""Faults of the Cox path against R: monotone likelihood with events in both arms,
aliased covariates, one huge weight, and the extreme-weight warning.

``reference/cox_faults.json`` holds R 4.2 / survival 3.5 results made by
``reference/cox_faults.R`` from ``reference/lung.csv`` and
``reference/cox_faults_monotone.csv`` (two arms with events; every OCT event after the
last IVUS subject left follow-up).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes._frames import EXTREME_RELATIVE_WEIGHT, relative_weights

R = reference("cox_faults")
MONO = reference_data("cox_faults_monotone")


def lung() -> pd.DataFrame:
    d = reference_data("lung")
    return d.assign(combo=d.age + 2 * d.ph_ecog, age_copy=d.age, ecog3=3 * d.ph_ecog + 1,
                    w=1 + (np.arange(1, len(d) + 1) % 3) / 2)


def _r(key: str, field: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(R[key][field])],
                    dtype=float)


# -- 1. monotone likelihood although both arms have events ------------------------------

def test_monotone_data_is_monotone_in_r_with_events_in_both_arms():
    r = R["monotone"]
    assert r["events"]["IVUS"] > 0 and r["events"]["OCT"] > 0
    assert r["last_ivus_time"] < r["first_oct_event"]  # the construction
    assert "Loglik converged before variable" in r["warnings"]  # R: coefficient infinite
    assert r["coef"] < -15 and r["se"] > 1e3


def test_cox_flags_the_diverging_term_with_the_sign_of_r():
    with pytest.warns(mo.MonotoneLikelihoodWarning, match="'armOCT'"):
        fit = mo.cox(MONO, covariates=["arm"])
    assert fit.summary.loc["armOCT", "coef"] == -np.inf
    # the log-likelihood reaches R's supremum
    assert fit.loglik[1] == pytest.approx(R["monotone"]["loglik"][1], abs=1e-6)


def test_compare_arms_falls_back_to_firth_under_monotone_likelihood():
    with pytest.warns(mo.MonotoneLikelihoodWarning, match="'arm'"):
        cmp = mo.compare_arms(MONO, "arm")
    row = cmp.table.set_index("analysis").loc["crude"]
    assert "Firth" in row["method"]
    firth = mo.cox(MONO, covariates=["arm"], firth=True).summary.loc["armOCT"]
    assert np.isfinite(row["hr"]) and 0 < row["hr"] < 1
    for col in ("hr", "lower", "upper", "p"):
        assert row[col] == pytest.approx(firth[col], rel=1e-10)
    assert any("monotone likelihood" in n for n in cmp.notes)


def test_compare_arms_keeps_plain_cox_for_ordinary_data():
    d = lung().assign(arm=lambda x: np.where(x.group == 1, "B", "A"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.MonotoneLikelihoodWarning)
        row = mo.compare_arms(d, "arm").table.iloc[0]
    assert row["method"] == "Cox"
    assert np.log(row["hr"]) == pytest.approx(
        mo.cox(d, covariates=["group"]).summary.loc["group", "coef"], rel=1e-12)


# -- 2. aliased covariates ----------------------------------------------------------------

ALIASED = {
    "aliased_combo": dict(covariates=["group", "age", "ph_ecog", "combo", "ph_karno"]),
    "aliased_copy": dict(covariates=["group", "age", "age_copy"]),
    "aliased_strata": dict(covariates=["group", "age", "ecog3"], strata="ph_ecog"),
    "aliased_weighted": dict(covariates=["group", "age", "ph_ecog", "combo"], weights="w"),
}


@pytest.mark.parametrize("key", list(ALIASED))
def test_aliased_covariate_is_nan_and_the_others_match_r(key):
    with pytest.warns(mo.StatisticalWarning, match="aliased covariate") as rec:
        fit = mo.cox(lung(), **ALIASED[key])
    assert not any(issubclass(w.category, mo.MonotoneLikelihoodWarning) for w in rec)
    coef, se = _r(key, "coef"), _r(key, "se")
    na = np.isnan(coef)
    assert list(fit.summary.index) == R[key]["term"]
    assert fit.summary["coef"].isna().to_numpy().tolist() == na.tolist()
    assert fit.summary.loc[~na, "coef"].to_numpy() == pytest.approx(coef[~na], abs=1e-8)
    assert fit.summary.loc[~na, "se"].to_numpy() == pytest.approx(se[~na], abs=1e-8)
    assert fit.summary.loc[na, ["se", "p", "lower", "upper"]].isna().all().all()
    for name in np.array(R[key]["term"])[na]:
        assert any(f"'{name}'" in m for m in fit.warnings)
    stats = fit.tests.set_index("test")
    assert stats.loc["likelihood_ratio", "statistic"] == pytest.approx(R[key]["lr"], rel=1e-8)
    assert stats.loc["wald", "statistic"] == pytest.approx(R[key]["wald"], rel=1e-8)
    assert stats.loc["score", "statistic"] == pytest.approx(R[key]["score"], rel=1e-8)
    assert (stats["df"] == R[key]["lr_df"]).all()


def test_aliased_fit_equals_r_fit_without_the_column():
    full, reduced = R["aliased_combo"], R["aliased_combo_reduced"]
    fit = mo.cox(lung(), covariates=["group", "age", "ph_ecog", "ph_karno"])
    assert fit.summary["coef"].to_numpy() == pytest.approx(reduced["coef"], abs=1e-8)
    assert full["loglik"] == pytest.approx(reduced["loglik"], abs=1e-9)


def test_affine_copy_is_aliased_not_monotone():
    # x2 = 2 x1 + 1: the fit without x2 is R's fit of group + age
    d = lung().assign(x2=lambda x: 2 * x.age + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.MonotoneLikelihoodWarning)
        with pytest.warns(mo.StatisticalWarning, match="'x2'.*2 x 'age'"):
            fit = mo.cox(d, covariates=["group", "age", "x2"])
    assert np.isnan(fit.summary.loc["x2", "coef"])
    assert fit.summary["coef"].to_numpy()[:2] == pytest.approx(
        R["aliased_copy"]["coef"][:2], abs=1e-8)


# -- 3. one weight of 1e5 -------------------------------------------------------------------

def _big_weight() -> pd.DataFrame:
    d = reference_data("lung")
    d["w"] = 1.0
    d.loc[25, "w"] = 1e5  # R's row 26
    return d


@pytest.mark.parametrize("key,cov", [("big_weight", ["group"]),
                                     ("big_weight_age", ["group", "age"])])
def test_one_huge_weight_is_not_divergence(key, cov):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.MonotoneLikelihoodWarning)
        warnings.simplefilter("ignore", mo.ExtremeWeightWarning)
        fit = mo.cox(_big_weight(), covariates=cov, weights="w")
    assert fit.summary["coef"].to_numpy() == pytest.approx(R[key]["coef"], abs=1e-6)
    assert fit.summary["se"].to_numpy() == pytest.approx(R[key]["se"], abs=1e-6)
    assert fit.summary["naive_se"].to_numpy() == pytest.approx(R[key]["naive_se"], abs=1e-6)


def test_r_default_stops_early_on_the_huge_weight():
    # R's relative criterion stops after 2 iterations and warns of an infinite
    # coefficient; its estimate is 1.5e-5 short of the maximum we report
    r = R["big_weight_default"]
    assert r["iter"] == 2 and "Loglik converged" in r["warnings"]
    assert r["coef"] == pytest.approx(R["big_weight"]["coef"], abs=1e-4)


# -- 4. extreme user-supplied weights --------------------------------------------------------

def test_relative_weight_rule_by_hand():
    w = np.r_[np.ones(11), 100.0]
    assert relative_weights(w)[-1] == pytest.approx(100 / (111 / 12))  # 10.81
    arm = np.r_[np.zeros(6), np.ones(6)]
    assert relative_weights(w, [arm])[-1] == pytest.approx(100 / (105 / 6))  # 5.71
    assert relative_weights(np.r_[w, np.nan])[-1] == 0  # trimmed rows take no part


@pytest.mark.parametrize("estimator", ["cox", "kaplan_meier", "logrank"])
def test_each_estimator_warns_of_one_huge_weight(estimator):
    fn = getattr(mo, estimator)
    kw = dict(covariates=["group"]) if estimator == "cox" else dict(group="group")
    with pytest.warns(mo.ExtremeWeightWarning, match=r"rows \[25\]"):
        fn(_big_weight(), weights="w", **kw)


def _iptw_unequal_arms() -> pd.DataFrame:
    # 10% treated: ATE weights ~10 for the treated, ~1.1 for controls
    rng = np.random.default_rng(7)
    n = 400
    ps = rng.uniform(0.04, 0.16, n)
    arm = (rng.uniform(size=n) < ps).astype(int)
    return pd.DataFrame({"time": rng.exponential(300, n).round() + 1,
                         "event": rng.integers(0, 2, n), "arm": arm,
                         "w": np.where(arm == 1, 1 / ps, 1 / (1 - ps))})


@pytest.mark.parametrize("estimator", ["cox", "kaplan_meier", "logrank"])
def test_propensity_like_weights_do_not_warn(estimator):
    d = _iptw_unequal_arms()
    # the premise: against the overall mean some weights look extreme, within arms none
    assert relative_weights(d.w).max() > EXTREME_RELATIVE_WEIGHT
    assert relative_weights(d.w, [d.arm]).max() < EXTREME_RELATIVE_WEIGHT
    fn = getattr(mo, estimator)
    kw = dict(covariates=["arm"]) if estimator == "cox" else dict(group="arm")
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.ExtremeWeightWarning)
        fn(d, weights="w", **kw)


def test_propensity_weights_of_lung_do_not_warn_anywhere():
    d = reference_data("lung")
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.ExtremeWeightWarning)
        ps = mo.propensity(d, "group", ["age", "ph_ecog", "ph_karno"])
        d = d.assign(w=ps.weights)
        mo.cox(d, covariates=["group", "age"], weights="w")
        mo.kaplan_meier(d, group="group", weights="w")
        mo.logrank(d, group="group", weights="w")


def test_cox_records_the_extreme_weight_warning():
    with pytest.warns(mo.ExtremeWeightWarning):
        fit = mo.cox(_big_weight(), covariates=["group"], weights="w")
    assert any(m.startswith("extreme weights") for m in fit.warnings)
