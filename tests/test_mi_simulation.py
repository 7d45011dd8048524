"""Validation of multiple imputation against a known truth.

Data from mo.simulate_registry, whose outcome model is a proportional-hazards Weibull
model with conditional HR 0.7 for the arm and log HR 0.7 for renal insufficiency given
the other confounders, age, diabetes and LVEF < 50 %. Renal insufficiency is deleted in
30 % of patients at random given age, the arm and the event (MAR, depending on the
outcome), so the complete-case Cox fit is biased and chained-equation imputation with the
outcome in its models should not be. The full study (1,000 data sets, m = 20) is
benchmarks/mi_coverage.py; this is its small, fixed-seed version (30 data sets, m = 5).

Thresholds: with 30 data sets the Monte-Carlo SE of a bias is the empirical SD / sqrt(30)
(about 0.02-0.03 here). An unbiased method's bias z-score is roughly standard normal, so
|z| < 3 fails with probability ~0.3 %; the complete-case bias of the arm's log HR is
about -0.32 (1,000 data sets), some 10 Monte-Carlo SEs at n = 30, so |z| > 3 has a
wide margin.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # 30 data sets x 5 imputations: ~40 s of CPU

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "mi_coverage.py"


def _bench():
    spec = importlib.util.spec_from_file_location("mi_coverage", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study():
    bench = _bench()
    # one incomplete variable: its model is fitted on the same observed rows and complete
    # predictors in every round, so further iterations only repeat the same kind of draw
    res = bench.run(30, m=5, seed=300, iterations=1)
    return res, bench.summarise(res).set_index(["term", "method"])


def test_truth_and_missingness(study):
    res, _ = study
    # the truths are the simulator's: log(conditional_hr = 0.7) and renal's log HR 0.7
    assert np.allclose(res.loc[res["term"] == "armOCT", "truth"], np.log(0.7))
    assert np.allclose(res.loc[res["term"] == "renal_insufficiency", "truth"], 0.7)
    # 30 % missing on average: the intercept is solved on each data set
    share = res["n_missing"].to_numpy() / 2000
    assert abs(share.mean() - 0.3) < 0.01


def test_complete_case_biased_imputation_not(study):
    _, s = study
    full = s.loc[("armOCT", "full data")]
    cc = s.loc[("armOCT", "complete case")]
    mi = s.loc[("armOCT", "multiple imputation")]
    assert abs(full["bias_z"]) < 3          # the analysis model recovers the truth
    assert abs(mi["bias_z"]) < 3            # MI: within 3 Monte-Carlo SEs of zero
    assert cc["bias_z"] < -3                # complete cases: selected on event x arm
    assert abs(mi["bias"]) < abs(cc["bias"]) / 4
    # renal insufficiency's own coefficient, where ~40 % of the information is missing
    assert abs(s.loc[("renal_insufficiency", "multiple imputation"), "bias_z"]) < 3


def test_imputation_intervals(study):
    _, s = study
    for term in ("armOCT", "renal_insufficiency"):
        mi = s.loc[(term, "multiple imputation")]
        # 30 intervals at 95 %: 6 or more misses has probability ~0.3 %
        assert mi["coverage"] >= 25 / 30, term
        # Rubin's total variance tracks the spread of the pooled estimates
        assert 0.7 < mi["model_se"] / mi["empirical_se"] < 1.5, term
    assert (s.loc[("armOCT", "complete case"), "coverage"]
            < s.loc[("armOCT", "multiple imputation"), "coverage"])
