"""Validation against a known truth: data from mo.simulate_registry (confounding by
indication; true marginal HR in cohort.truth). The full study (>= 200 data sets) is
benchmarks/simulation_coverage.py; this is its small, fixed-seed version."""

import numpy as np
import pytest
from simulation import (
    confounded_sample,
    registry_sample,
    simulation_study,
    summarise,
)


@pytest.fixture(scope="module")
def registry_study():
    res = simulation_study(lambda s: registry_sample(s, n_patients=2500), n_datasets=20,
                           n_boot=100, seed=100)
    return res, summarise(res).set_index("method")


def test_crude_biased_weighted_recover_marginal_hr(registry_study):
    res, summ = registry_study
    # The simulator steers the treated arm away from high-risk patients, so the crude HR
    # flatters it: biased towards benefit by many Monte-Carlo SEs.
    crude = summ.loc["crude"]
    assert crude["bias"] < -0.1 and crude["bias_z"] < -4
    for method in ("IPTW-ATE", "overlap"):
        row = summ.loc[method]
        # bias small relative to the estimator's SE and within Monte-Carlo error
        assert abs(row["bias"]) < 0.5 * row["empirical_sd"], method
        assert abs(row["bias_z"]) < 2.5, method
        assert abs(row["bias"]) < abs(crude["bias"]) / 3


def test_interval_coverage(registry_study):
    res, summ = registry_study
    # 20 data sets: at 95% coverage, 4 or more misses has probability ~1.6%.
    for method in ("IPTW-ATE", "overlap", "IPTW-ATE bootstrap"):
        assert summ.loc[method, "coverage"] >= 17 / 20, method
    assert summ.loc["crude", "coverage"] < summ.loc["IPTW-ATE", "coverage"]
    # the robust SE does not understate the spread of the estimates (it is known to be
    # conservative for the ATE when the propensity model is estimated; Austin 2016)
    for method in ("IPTW-ATE", "overlap"):
        assert summ.loc[method, "mean_se"] > 0.8 * summ.loc[method, "empirical_sd"]


def test_exact_marginal_truth_copula_model():
    # A second generator whose marginal HR is exactly 0.7 by construction (shared
    # uniform draw, exponential potential times): checks the truth, not the simulator.
    res = simulation_study(lambda s: confounded_sample(s, n=600), n_datasets=12, seed=7)
    summ = summarise(res).set_index("method")
    assert np.allclose(res["truth"], 0.7)
    assert summ.loc["crude", "bias_z"] > 4       # confounding inflates the crude HR here
    assert abs(summ.loc["IPTW-ATE", "bias_z"]) < 2.5
    assert summ.loc["IPTW-ATE", "coverage"] >= 10 / 12
