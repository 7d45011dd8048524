"""compare_arms' weighted rows describe the rows they analysed, and its bootstrap obeys
the memory budget it is given."""

import numpy as np
import pytest
from conftest import reference_data

import mace_outcomes as mo

COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]


def test_weighted_rows_count_the_rows_the_propensity_fit_kept():
    df = reference_data("lung")
    cmp = mo.compare_arms(df, "group", COVARIATES, trim=0.3, overlap=False)
    ps = cmp.propensity["IPTW-ATE"]
    kept = ps.kept.to_numpy()
    assert 0 < (~kept).sum() < len(df)  # trimming at 0.3 removes some rows, not all
    row = cmp.table.set_index("analysis").loc["IPTW-ATE"]
    crude = cmp.table.set_index("analysis").loc["crude"]
    for arm, label in (("treated", 1), ("control", 0)):
        mine = (df["group"] == label).to_numpy()
        # counts of the analysed rows, by hand
        assert row[f"n_{arm}"] == (mine & kept).sum()
        assert row[f"events_{arm}"] == df["event"].to_numpy()[mine & kept].sum()
        assert crude[f"n_{arm}"] == mine.sum()
    # the stored weighted curves hold exactly those rows (unweighted count at time 0)
    at0 = cmp.curves["IPTW-ATE"].at(0).set_index("group")
    assert at0.loc[1, "n_risk_unweighted"] == (kept & (df["group"] == 1).to_numpy()).sum()


def test_bootstrap_memory_budget_is_passed_through():
    df = reference_data("veteran")
    covs = ["age", "karno", "diagtime", "prior"]
    with pytest.raises(mo.InputError, match="memory_gb"):
        mo.compare_arms(df, "group", covs, horizon=180, n_boot=50, seed=1, overlap=False,
                        memory_gb=1e-9)
    ok = mo.compare_arms(df, "group", covs, horizon=180, n_boot=50, seed=1, overlap=False,
                         memory_gb=2.0).table.set_index("analysis").loc["IPTW-ATE"]
    assert np.isfinite(ok["boot_lower"]) and ok["boot_lower"] < ok["hr"] < ok["boot_upper"]
