"""Firth-penalised Cox against coxphf 1.13.4 (firth.json) and its own properties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.regression import _kernels as K
from mace_outcomes.regression.firth import firth_products, penalised_loglik

FIRTH = reference("firth")
ZERO = reference_data("firth_zero")
RARE = reference_data("firth_rare")
CASES = {"firth_zero_group": (ZERO, ["group"]), "firth_zero_group_age": (ZERO, ["group", "age"]),
         "firth_rare_group": (RARE, ["group"])}


@pytest.mark.parametrize("key", list(CASES))
def test_firth_matches_coxphf(key):
    df, cov = CASES[key]
    ref = FIRTH[key]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Firth never warns of monotone likelihood
        fit = mo.cox(df, "time", "event", cov, firth=True)
    s = fit.summary
    assert fit.firth and fit.ties == "breslow" and not fit.robust
    assert list(s.index) == np.atleast_1d(ref["term"]).tolist()
    for col in ("coef", "se", "p"):
        np.testing.assert_allclose(s[col], np.atleast_1d(ref[col]), rtol=1e-6, err_msg=col)
    # profile penalised-likelihood limits (HR scale) to 1e-4
    np.testing.assert_allclose(s["lower"], np.atleast_1d(ref["lower"]), rtol=1e-4)
    np.testing.assert_allclose(s["upper"], np.atleast_1d(ref["upper"]), rtol=1e-4)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-6)


def test_standard_cox_on_rare_data_matches_r():
    ref = FIRTH["standard_rare_group"]
    fit = mo.cox(RARE, "time", "event", ["group"])
    for col in ("coef", "hr", "se", "naive_se", "p", "lower", "upper"):
        np.testing.assert_allclose(fit.summary[col], [ref[col]], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-6)
    assert fit.n == ref["n"] and fit.n_event == ref["nevent"]


def test_monotone_likelihood_warns_and_reports_no_finite_wald():
    assert ZERO.loc[ZERO.group == 1, "event"].sum() == 0  # the monotone case
    with pytest.warns(mo.MonotoneLikelihoodWarning, match=r"'group'.*firth=True"):
        fit = mo.cox(ZERO, "time", "event", ["group", "age"])
    row = fit.summary.loc["group"]
    assert row["coef"] == -np.inf and row["se"] == np.inf
    assert np.isnan(row["p"]) and np.isnan(row["lower"]) and np.isnan(row["upper"])
    assert any("group" in m and "firth=True" in m for m in fit.warnings)
    # the other term keeps a finite estimate, and no warning names it
    assert np.isfinite(fit.summary.loc["age", "se"])
    assert not any("'age'" in m for m in fit.warnings)


def test_no_monotone_warning_for_ordinary_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error", mo.MonotoneLikelihoodWarning)
        fit = mo.cox(RARE, "time", "event", ["group", "age"])
    assert fit.warnings == []


def test_penalised_score_is_gradient_of_penalised_loglik():
    # closed-form check of the third-order terms: U* = d l* / d beta (central differences)
    df = ZERO.assign(age2=(ZERO.age - 60) ** 2 / 100)
    x = df[["group", "age", "age2"]].to_numpy(float)
    x = x - x.mean(0)
    lay = K.make_layout(df.time.to_numpy(float), df.event.to_numpy(), None, "breslow")
    xs, w = x[lay.order], np.ones(len(x))
    z = firth_products(xs)
    b = np.array([-0.8, 0.03, -0.2])
    _, u, _, _ = penalised_loglik(b, xs, z, w, lay)
    h = 1e-6
    num = [(penalised_loglik(b + h * e, xs, z, w, lay, grad=False)[0]
            - penalised_loglik(b - h * e, xs, z, w, lay, grad=False)[0]) / (2 * h)
           for e in np.eye(3)]
    np.testing.assert_allclose(u, num, rtol=1e-6, atol=1e-8)


def test_weighted_firth_unit_weights_equal_unweighted():
    ref = FIRTH["firth_zero_group_age"]
    fit = mo.cox(ZERO.assign(w=1.0), "time", "event", ["group", "age"], firth=True,
                 weights="w")
    assert fit.robust  # weights given: robust variance, as everywhere
    np.testing.assert_allclose(fit.summary["coef"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.summary["naive_se"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-6)
    assert np.all(np.isfinite(fit.summary[["se", "lower", "upper", "p"]].to_numpy()))
    assert np.all(fit.summary["lower"] < fit.summary["hr"])
    assert np.all(fit.summary["hr"] < fit.summary["upper"])


def test_weighted_firth_does_not_depend_on_the_scale_of_the_weights():
    # IPTW, stabilised IPTW and doubled weights differ by a constant factor: one answer
    rng = np.random.default_rng(7)
    w = rng.uniform(0.5, 3.0, len(RARE))
    fits = [mo.cox(RARE.assign(w=c * w), "time", "event", ["group", "age"], firth=True,
                   weights="w").summary for c in (1.0, 0.37, 4.0)]
    for other in fits[1:]:
        np.testing.assert_allclose(other[["coef", "se", "lower", "upper", "p"]],
                                   fits[0][["coef", "se", "lower", "upper", "p"]], rtol=1e-6)
    # equal weights are no weights: coxphf's point estimate and penalised likelihood
    equal = mo.cox(RARE.assign(w=2.5), "time", "event", ["group"], firth=True, weights="w",
                   robust=False)
    ref = FIRTH["firth_rare_group"]
    np.testing.assert_allclose(equal.summary["coef"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(equal.summary["upper"], ref["upper"], rtol=1e-4)
    np.testing.assert_allclose(equal.loglik, ref["loglik"], rtol=1e-6)


def test_categorical_arm_without_events_warns_by_term_and_firth_fits():
    # the seed study's situation: no events at all in the OCT arm
    df = ZERO.assign(arm=np.where(ZERO.group == 1, "OCT", "IVUS"))
    with pytest.warns(mo.MonotoneLikelihoodWarning, match="'armOCT'"):
        fit = mo.cox(df, "time", "event", ["arm", "age"])
    assert fit.summary.loc["armOCT", "hr"] == 0 and np.isnan(fit.summary.loc["armOCT", "p"])
    firth = mo.cox(df, "time", "event", ["arm", "age"], firth=True)
    ref = FIRTH["firth_zero_group_age"]
    np.testing.assert_allclose(firth.summary["coef"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(firth.summary["upper"], ref["upper"], rtol=1e-4)


def test_weighted_firth_interval_is_not_narrowed_by_a_collapsed_sandwich():
    # with an arm free of events the sandwich is near zero for that arm; the interval
    # must stay at least as wide (on the log scale) as the model-based one of the
    # effective sample, i.e. it still contains HR = 1 here as the unweighted one does
    rng = np.random.default_rng(0)
    df = ZERO.assign(w=rng.uniform(0.5, 2.0, len(ZERO)))
    fit = mo.cox(df, "time", "event", ["group", "age"], firth=True, weights="w")
    row = fit.summary.loc["group"]
    assert row["lower"] < 1 < row["upper"]
    assert row["se"] >= row["naive_se"] * (1 - 1e-12)


def test_firth_says_it_handles_ties_by_breslow_whatever_ties_asks():
    # coxphf's penalised likelihood is Breslow's: the estimates cannot depend on `ties`,
    # and a fit asked for Efron (the default) says so instead of ignoring it silently
    efron = mo.cox(RARE, covariates=["group"], firth=True)
    breslow = mo.cox(RARE, covariates=["group"], firth=True, ties="breslow")
    np.testing.assert_array_equal(efron.summary.to_numpy(), breslow.summary.to_numpy())
    assert any("Breslow" in n and "'efron'" in n for n in efron.notes)
    assert not any("does not apply" in n for n in breslow.notes)
