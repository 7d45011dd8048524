"""Risk difference with clusters that span both arms (one patient, lesions in each arm)."""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.survival._kernels import km_ij_influence, risk_table


def test_influences_reproduce_rs_robust_standard_error():
    """Sum of squared IJ influences = survfit(robust=TRUE) variance of S (lung, IPTW)."""
    lung = reference_data("lung")
    ref = reference("lung")
    w = np.asarray(ref["iptw"]["weights_ate"])
    for g, row in zip((0, 1), ref["iptw"]["km_weighted_at_horizon"], strict=True):
        sel = lung["group"].to_numpy() == g
        t, e = lung["time"].to_numpy(float)[sel], lung["event"].to_numpy(float)[sel]
        surv, infl = km_ij_influence(risk_table(t, e, w[sel]), e, w[sel], 365)
        assert surv == pytest.approx(row["surv"], rel=1e-9)
        assert np.sqrt(np.sum(infl ** 2)) == pytest.approx(row["std_err"], rel=1e-6)


def test_identical_lesions_in_both_arms_give_no_difference_and_no_variance():
    rng = np.random.default_rng(3)
    n = 150
    time = rng.integers(5, 400, n).astype(float)
    event = (rng.random(n) < 0.4).astype(int)
    one = pd.DataFrame({"pid": np.arange(n), "time": time, "event": event})
    df = pd.concat([one.assign(arm="OCT"), one.assign(arm="IVUS")], ignore_index=True)
    rd = mo.risk_difference(df, treatment="arm", cluster="pid", horizon=300,
                            covariates=None, estimand=None)
    diff = rd.table.set_index("contrast").loc["difference"]
    assert diff["estimate"] == pytest.approx(0.0, abs=1e-12)
    # independent-arm variance would give a half-width near 0.08 here
    assert diff["upper"] - diff["lower"] == pytest.approx(0.0, abs=1e-6)
