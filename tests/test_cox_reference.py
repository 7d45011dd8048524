"""Cox model against R's coxph (survival 3.5-3) on lung and veteran: every Cox key."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo

COVARIATES = {"lung": ["group", "age", "ph_ecog"], "veteran": ["group", "karno", "age"]}


def _load(name):
    return reference_data(name), reference(name)


def _check(fit, ref, rtol=1e-6):
    s = fit.summary
    terms = np.atleast_1d(ref["term"]).tolist()
    assert list(s.index) == terms
    for col in ("coef", "hr", "se", "naive_se", "p", "lower", "upper"):
        np.testing.assert_allclose(s[col].to_numpy(), np.atleast_1d(ref[col]), rtol=rtol,
                                   err_msg=col)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=rtol)
    assert fit.n == ref["n"] and fit.n_event == ref["nevent"]


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize("key,ties", [("cox_efron", "efron"), ("cox_breslow", "breslow")])
def test_cox_matches_r(name, key, ties):
    df, ref = _load(name)
    fit = mo.cox(df, "time", "event", COVARIATES[name], ties=ties)
    assert not fit.robust and fit.ties == ties
    _check(fit, ref[key])


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_cox_group_only_matches_r(name):
    df, ref = _load(name)
    fit = mo.cox(df, "time", "event", ["group"])
    _check(fit, ref["cox_group_only"])
    # the score test of a single binary covariate is the log-rank test (Efron ties aside,
    # R's survdiff agrees to a few decimals); the LR test is 2 * (l1 - l0)
    lr = fit.tests.set_index("test").loc["likelihood_ratio", "statistic"]
    l0, l1 = ref["cox_group_only"]["loglik"]
    assert lr == pytest.approx(2 * (l1 - l0), rel=1e-9)


@pytest.mark.parametrize("name", ["lung", "veteran"])
@pytest.mark.parametrize("key,wkey", [("cox_weighted_robust", "weights_ate"),
                                      ("cox_overlap_robust", "weights_ato")])
def test_weighted_robust_cox_matches_r(name, key, wkey):
    df, ref = _load(name)
    df = df.assign(w=ref["iptw"][wkey])
    fit = mo.cox(df, "time", "event", ["group"], weights="w")
    assert fit.robust
    _check(fit, ref["iptw"][key])
    # R's Wald test with robust=TRUE uses the robust variance
    wald = fit.tests.set_index("test").loc["wald", "statistic"]
    r = ref["iptw"][key]
    assert wald == pytest.approx((r["coef"] / r["se"]) ** 2, rel=1e-6)


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_cluster_of_singletons_equals_weights_robust(name):
    # cluster = row id gives the same sandwich as robust=TRUE with weights (R: identical)
    df, ref = _load(name)
    df = df.assign(w=ref["iptw"]["weights_ate"], id=np.arange(len(df)))
    fit = mo.cox(df, "time", "event", ["group"], weights="w", cluster="id")
    np.testing.assert_allclose(fit.summary["se"], ref["iptw"]["cox_weighted_robust"]["se"],
                               rtol=1e-6)
