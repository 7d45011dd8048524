"""Formulas, reference levels and joint Wald tests of terms against R
(tests/reference/design.R: coxph, crr); one naming (R's) in every model; lesion-level
frames without a cluster warn."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.outcomes.compare import _design as outcome_design

R = reference("design")


@pytest.fixture(scope="module")
def lung(lung_design):
    return lung_design


@pytest.fixture(scope="module")
def mgus2():
    d = reference_data("mgus2")
    hgb = d["hgb"].to_numpy()
    return d.assign(anemia=np.where(hgb < 10, "severe", np.where(hgb < 12, "mild", "none")))


# -- formula, terms and reference levels against R ---------------------------------------

@pytest.mark.parametrize("formula", ["arm * wl + age + ecog",
                                     "Surv(time, event) ~ arm * wl + age + ecog",
                                     "~ arm*wl + age + factor(ecog)"])
def test_formula_fit_equals_coxph(lung, formula):
    ref = R["cox"]
    fit = mo.cox(lung, formula=formula)
    assert list(fit.summary.index) == ref["term"]
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-8)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-10)


def test_joint_wald_of_a_multilevel_factor_equals_r(lung):
    fit = mo.cox(lung, formula="arm * wl + age + ecog")
    chisq, df, p = fit.wald_test("ecog")
    ref = R["wald_ecog"]
    assert df == ref["df"] == 3
    assert chisq == pytest.approx(ref["chisq"], rel=1e-8)
    assert p == pytest.approx(ref["p"], rel=1e-8)
    table = fit.anova().set_index("term")
    assert list(table.index) == list(R["anova"])
    for term, row in R["anova"].items():
        assert table.loc[term, "df"] == row["df"]
        assert table.loc[term, "chisq"] == pytest.approx(row["chisq"], rel=1e-8)
        assert table.loc[term, "p"] == pytest.approx(row["p"], rel=1e-8)
    # a one-column term: the Wald chi-square is z squared (closed form)
    assert fit.wald_test("age").chisq == pytest.approx(fit.summary.loc["age", "z"] ** 2,
                                                       rel=1e-12)
    with pytest.raises(mo.InputError, match="no term 'stage'"):
        fit.wald_test("stage")


def test_robust_wald_uses_the_robust_covariance(lung):
    fit = mo.cox(lung, formula="arm * wl + age + ecog", robust=True)
    ref = R["cox_robust"]
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-8)
    chisq, df, p = fit.wald_test("ecog")
    assert (df, chisq) == (3, pytest.approx(ref["wald_ecog"]["chisq"], rel=1e-8))
    assert p == pytest.approx(ref["wald_ecog"]["p"], rel=1e-8)


def test_reference_level_equals_relevel(lung):
    ref = R["cox_reference"]
    fit = mo.cox(lung, formula="ecog + age", reference={"ecog": "1"})
    assert list(fit.summary.index) == [t.replace("ecog_ref1", "ecog") for t in ref["term"]]
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-8)
    # the same reference through covariates=[...]
    same = mo.cox(lung, covariates=["ecog", "age"], reference={"ecog": "1"})
    pd.testing.assert_frame_equal(same.summary, fit.summary)


def test_covariates_list_is_the_main_effects_formula(lung):
    by_list = mo.cox(lung, "time", "event", ["arm", "age", "ecog"])
    by_formula = mo.cox(lung, formula="arm + age + ecog")
    pd.testing.assert_frame_equal(by_list.summary, by_formula.summary)
    with pytest.raises(mo.InputError, match="not both"):
        mo.cox(lung, covariates=["arm"], formula="arm + age")


def test_fine_gray_formula_equals_crr_on_model_matrix(mgus2):
    ref = R["fine_gray"]
    fit = mo.fine_gray(mgus2, formula="group * age + anemia", reference={"anemia": "none"})
    assert list(fit.summary.index) == ref["term"]
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.summary["se"], ref["se"], rtol=1e-8)
    chisq, df, p = fit.wald_test("anemia")
    assert df == ref["wald_anemia"]["df"] == 2
    assert chisq == pytest.approx(ref["wald_anemia"]["chisq"], rel=1e-8)
    assert p == pytest.approx(ref["wald_anemia"]["p"], rel=1e-8)


# -- one naming: R's, in every model -------------------------------------------------------

@pytest.fixture(scope="module")
def vessels():
    rng = np.random.default_rng(7)
    n = 300
    vessel = rng.choice(["LAD", "LCX", "RCA"], n)
    age = rng.normal(65, 9, n).round()
    arm = np.where(rng.random(n) < 0.3 + 0.2 * (vessel == "RCA"), "OCT", "IVUS")
    time = rng.exponential(400, n).round() + 1
    return pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)], "arm": arm,
                         "vessel": vessel, "age": age, "time": time,
                         "event": (time < 365).astype(int),
                         "status": np.where(time < 365, rng.integers(1, 3, n), 0),
                         "expansion": rng.normal(80, 10, n)})


def test_every_model_names_dummies_as_r(vessels):
    want = ["vesselLCX", "vesselRCA"]
    ps = mo.propensity(vessels, "arm", ["vessel", "age"])
    assert list(ps.coef.index)[-3:] == want + ["age"]
    assert list(ps.balance()["covariate"]) == want + ["age"]
    ps_f = mo.propensity(vessels, "arm", formula="arm ~ C(vessel) + age")
    np.testing.assert_allclose(ps_f.scores, ps.scores, rtol=1e-12)
    assert list(ps_f.balance()["covariate"]) == want + ["age"]
    assert list(outcome_design(vessels, np.zeros(len(vessels)), ["vessel", "age"]).columns) \
        == ["(Intercept)", "treated"] + want + ["age"]
    assert list(mo.cox(vessels, covariates=["arm", "vessel"]).summary.index) \
        == ["armOCT"] + want
    assert list(mo.fine_gray(vessels, covariates=["vessel"]).summary.index) == want
    # a chosen reference renames the dummies as R's relevel does
    assert list(mo.cox(vessels, covariates=["vessel"], reference={"vessel": "RCA"})
                .summary.index) == ["vesselLAD", "vesselLCX"]


def test_compare_outcome_adjusts_for_r_dummies(vessels):
    # the adjusted OLS of compare_outcome is least squares on the R-named design
    res = mo.compare_outcome(vessels, "expansion", "arm", covariates=["vessel", "age"])
    row = res.table.set_index("analysis").loc["regression"]
    t = (vessels["arm"] == "OCT").to_numpy(float)
    x = np.column_stack([np.ones(len(t)), t, vessels["vessel"] == "LCX",
                         vessels["vessel"] == "RCA", vessels["age"]]).astype(float)
    beta = np.linalg.lstsq(x, vessels["expansion"].to_numpy(), rcond=None)[0]
    assert row["estimate"] == pytest.approx(beta[1], rel=1e-10)


def test_patsy_only_constructs_are_a_clear_input_error(vessels):
    for bad in ("~ np.log(age) + vessel", "~ C(vessel, Treatment('LAD'))", "~ age - 1",
                "~ I(age**2)"):
        with pytest.raises(mo.InputError, match="nothing else is evaluated"):
            mo.propensity(vessels, "arm", formula=bad)


def test_separation_by_a_factor_level_is_told_by_column_and_level(vessels):
    d = vessels.copy()
    d.loc[d["vessel"] == "LCX", "arm"] = "IVUS"  # every LCX patient had IVUS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.ExtremeWeightWarning)  # not the point here
        with pytest.warns(mo.SeparationWarning, match="every patient with vessel = LCX"):
            mo.propensity(d, "arm", ["vessel", "age"])


# -- lesion-level frames without a cluster ------------------------------------------------

@pytest.fixture(scope="module")
def lesions():
    return mo.time_to_event(mo.load_example(), endpoint="mace", level="lesion")


def _run_all(df, **kw):
    mo.kaplan_meier(df, group="arm", **kw)
    mo.logrank(df, group="arm", **kw)
    return mo.cox(df, covariates=["arm"], **kw)


def test_lesion_level_frame_without_cluster_warns(lesions):
    assert lesions.attrs["level"] == "lesion" and lesions["patient_id"].duplicated().any()
    with pytest.warns(mo.ClusteringWarning) as caught:
        fit = _run_all(lesions)
    said = [str(w.message) for w in caught if issubclass(w.category, mo.ClusteringWarning)]
    assert [m.split(":")[0] for m in said] == ["kaplan_meier", "logrank", "cox"]
    assert all('cluster="patient_id"' in m for m in said)
    assert any("lesion level" in m for m in fit.warnings)  # the result records it
    assert issubclass(mo.ClusteringWarning, mo.StatisticalWarning)
    # a frame that lost its attrs (a CSV round trip) is still known by lesion_id
    plain = pd.DataFrame(lesions.to_dict("list"))
    assert plain.attrs == {}
    with pytest.warns(mo.ClusteringWarning):
        mo.kaplan_meier(plain, group="arm")


def test_no_warning_with_cluster_or_at_patient_level(lesions):
    patients = mo.time_to_event(mo.load_example(), endpoint="mace", level="patient")
    one_each = lesions.drop_duplicates("patient_id")  # attrs kept, no patient repeats
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.ClusteringWarning)
        _run_all(lesions, cluster="patient_id")
        _run_all(patients)
        _run_all(one_each)
