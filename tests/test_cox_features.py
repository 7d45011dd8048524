"""Cox features against R: categorical terms, strata, clusters, weights, PH test.

``reference/cox_extra.csv`` is a generated lesion-level data set (weekly times, so
many ties; 3-level arm; two sites; patients with 1-2 lesions; non-integer weights).
``reference/cox_extra.json`` holds R 4.2 / survival 3.5 results made by
``reference/cox_extra.R``; ``lung.json`` / ``veteran.json`` hold the shared ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo

COV = ["arm", "x1", "x2"]
FITS = {
    "weighted_cluster_efron": dict(weights="w", cluster="cid"),
    "weighted_strata_breslow": dict(weights="w", strata="site", ties="breslow"),
    "strata_efron": dict(strata="site"),
    "cluster_efron": dict(cluster="cid"),
}


@pytest.fixture(scope="module")
def extra():
    return reference_data("cox_extra"), reference("cox_extra")


@pytest.mark.parametrize("key", list(FITS))
def test_cox_options_match_r(extra, key):
    df, ref = extra
    fit = mo.cox(df, "time", "event", COV, **FITS[key])
    r = ref[key]
    assert list(fit.summary.index) == r["term"]  # R-style dummy names, IVUS the reference
    for col in ("coef", "se", "naive_se", "p"):
        np.testing.assert_allclose(fit.summary[col], r[col], rtol=1e-6, err_msg=col)
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=1e-6)
    t = fit.tests.set_index("test")["statistic"]
    np.testing.assert_allclose([t["likelihood_ratio"], t["wald"], t["score"]],
                               [r["lr"], r["wald"], r["score"]], rtol=1e-6)
    assert fit.robust == ("weights" in FITS[key] or "cluster" in FITS[key])


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_ph_test_matches_cox_zph(name):
    df = reference_data(name)
    ref = reference(name)["ph_test"]
    cov = [t for t in ref["term"] if t != "GLOBAL"]
    tab = mo.cox(df, "time", "event", cov).ph_test()
    assert tab["term"].tolist() == ref["term"]
    np.testing.assert_allclose(tab["chisq"], ref["chisq"], rtol=1e-6)
    np.testing.assert_allclose(tab["p"], ref["p"], rtol=1e-6)
    assert tab["df"].tolist() == [1] * (len(cov)) + [len(cov)]


@pytest.mark.parametrize("key,kw", [
    ("zph_strata_terms", dict(fit="strata_efron")),
    ("zph_weighted_columns", dict(fit="weighted_cluster_efron", terms=False)),
    ("zph_strata_rank", dict(fit="strata_efron", transform="rank")),
    ("zph_strata_identity", dict(fit="strata_efron", transform="identity")),
])
def test_ph_test_options_match_cox_zph(extra, key, kw):
    df, ref = extra
    kw = dict(kw)
    fit = mo.cox(df, "time", "event", COV, **FITS[kw.pop("fit")])
    tab = fit.ph_test(**kw)
    assert tab["term"].tolist() == ref[key]["term"]
    np.testing.assert_allclose(tab["chisq"], ref[key]["chisq"], rtol=1e-6)
    if "df" in ref[key]:
        assert tab["df"].tolist() == ref[key]["df"]
