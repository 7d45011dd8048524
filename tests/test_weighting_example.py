"""compare_arms on the bundled calibrated cohort against the seed paper's Table 4 counts."""

import warnings

import numpy as np
import pytest
from conftest import reference
from scipy import stats

import mace_outcomes as mo

PAPER = reference("paper_tables")
T4 = PAPER["table4_outcomes"]
N = {arm: PAPER["arms"][arm]["patients"] for arm in ("OCT", "IVUS")}
ENDPOINTS = {"mace": "mace_1y_patients", "cardiac_death": "cardiovascular_death_1y",
             "mi": "myocardial_infarction_1y", "tvr": "tvr_1y",
             "stent_thrombosis": "stent_thrombosis_1y"}
COVARIATES = ["age_years", "renal_insufficiency", "diabetes", "any_ostial"]


@pytest.fixture(scope="module")
def cohort():
    return mo.load_example()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_counts_rare_path_and_exact_test_follow_the_paper(cohort, endpoint):
    tte = mo.time_to_event(cohort, endpoint=endpoint, horizon=365)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        cmp = mo.compare_arms(tte, "arm", COVARIATES, treated="OCT")
    tab = cmp.table.set_index("analysis")
    paper = T4[ENDPOINTS[endpoint]]
    assert (tab["events_treated"] == paper["OCT"]).all()
    assert (tab["events_control"] == paper["IVUS"]).all()
    assert (tab["n_treated"] == N["OCT"]).all() and (tab["n_control"] == N["IVUS"]).all()
    assert np.isfinite(tab[["hr", "lower", "upper", "p"]].to_numpy(float)).all()
    if min(paper["OCT"], paper["IVUS"]) == 0:
        # an arm without events: Firth rows and Fisher's exact test on the published counts
        table = [[paper["OCT"], N["OCT"] - paper["OCT"]],
                 [paper["IVUS"], N["IVUS"] - paper["IVUS"]]]
        np.testing.assert_allclose(tab["exact_p"], stats.fisher_exact(table)[1], rtol=1e-10)
        assert tab["method"].str.startswith("Firth").all()
        assert (tab["p"] > 0.1).all()  # 0 against 1-2 events is never "significant"
    else:
        assert tab["exact_p"].isna().all() and not tab["method"].str.contains("Firth").any()
    if endpoint == "mi":
        # the paper's printed p for MI (0.405) is Fisher's exact test
        assert tab["exact_p"].iloc[0] == pytest.approx(paper["p"], abs=5e-4)
