"""compare_arms and outcome_table report the same estimation: equal numbers on equal data.

The property: for the same rows, arm rule and weights, every number the two public
functions both report -- hazard ratio, its limits and p, the log-rank p and the
Kaplan-Meier estimate at the horizon per arm -- is identical, crude and weighted, at
patient level and at lesion level (clustered by patient), on the ordinary Cox path, the
Firth path of an arm without events, and the monotone-likelihood path.
"""

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

import mace_outcomes as mo

COVARIATES = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]


def _lung_lesions():
    d = reference_data("lung").assign(patient_id=lambda x: np.arange(len(x)))
    return pd.concat([d, d.iloc[:40]], ignore_index=True)  # second lesions of 40 patients


def _cases():
    cohort = mo.load_example()
    lung = reference_data("lung")
    mono = reference_data("cox_faults_monotone")
    return {
        # name: (frame, arm column, covariates, cluster, horizon)
        "lung": (lung, "group", ["age", "ph_ecog", "ph_karno", "wt_loss"], None, 365),
        "lung lesions": (_lung_lesions(), "group", ["age", "ph_ecog", "ph_karno", "wt_loss"],
                         "patient_id", 365),
        "example mace": (mo.time_to_event(cohort, "mace", horizon=365), "arm", COVARIATES,
                         None, 365),
        # no cardiac death in OCT: the Firth path, with and without clusters
        "example cardiac death": (mo.time_to_event(cohort, "cardiac_death", horizon=365), "arm",
                                  COVARIATES, None, 365),
        "example cardiac death lesions": (mo.time_to_event(
            cohort, "cardiac_death", horizon=365, level="lesion"), "arm", COVARIATES,
            "patient_id", 365),
        "example tvr lesions": (mo.time_to_event(cohort, "tvr", horizon=365, level="lesion"),
                                "arm", COVARIATES, "patient_id", 365),
        # events in both arms, every OCT event after the last IVUS subject left: monotone
        "monotone": (mono, "arm", None, None, float(mono["time"].max())),
    }


CASES = _cases()


def _pairs(name):
    df, arm, covs, cluster, horizon = CASES[name]
    with pytest.warns() if name == "monotone" else _nothing():
        cmp = mo.compare_arms(df, arm, covs, cluster=cluster, horizon=horizon, overlap=False)
    ps = None
    if covs is not None:
        ps = mo.propensity(df, arm, covs, estimand="ATE")
        assert ps.kept.all()
    with pytest.warns() if name == "monotone" else _nothing():
        ot = mo.outcome_table({"ep": df}, group=arm, horizon=horizon, cluster=cluster,
                              weights=None if ps is None else ps.weights,
                              censor_at_horizon=False)
    return cmp, ot.table.iloc[0]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _same(a, b):
    return (np.isnan(a) and np.isnan(b)) or a == b


@pytest.mark.parametrize("name", list(CASES))
def test_compare_arms_rows_equal_outcome_table_columns(name):
    cmp, ot = _pairs(name)
    tab = cmp.table.set_index("analysis")
    t, c = cmp.treated, cmp.control
    assert ot["comparison"] == f"{t} vs {c}"  # one arm rule for both
    columns = [("crude", "")] + ([("IPTW-ATE", "_adj")] if "IPTW-ATE" in tab.index else [])
    for analysis, sfx in columns:
        row = tab.loc[analysis]
        for mine in ("hr", "lower", "upper", "p"):
            assert _same(row[mine], ot[f"{mine}{sfx}"]), (analysis, mine, row[mine],
                                                          ot[f"{mine}{sfx}"])
        assert _same(row["logrank_p"], ot[f"logrank_p{sfx}"]), analysis
        km = "km_adj_" if sfx else "km_"
        assert 100 * (1 - row["surv_treated"]) == ot[f"{km}{t}"], analysis
        assert 100 * (1 - row["surv_control"]) == ot[f"{km}{c}"], analysis
        # both name the same model (in their own words)
        assert ("Firth" in row["method"]) == ("Firth" in ot[f"method{sfx}"]), analysis


def test_the_cases_cover_every_path():
    methods = {name: _pairs(name)[0].table["method"].tolist() for name in
               ("example cardiac death lesions", "monotone", "lung lesions")}
    assert all("Firth" in m for m in methods["example cardiac death lesions"])
    assert "monotone likelihood" in methods["monotone"][0]
    assert methods["lung lesions"] == ["Cox, robust SE", "Cox, robust SE"]


def test_three_arms_each_comparison_is_its_two_arm_comparison():
    d = reference_data("lung")
    d = d.assign(arm=np.select([d.group == 0, d.age < 63], ["ref", "young"], "old"))
    ot = mo.outcome_table({"death": d}, group="arm", horizon=365, reference="ref",
                          censor_at_horizon=False).table.set_index("comparison")
    assert sorted(ot.index) == ["old vs ref", "young vs ref"]
    for arm in ("old", "young"):
        pair = d[d.arm.isin([arm, "ref"])]
        row = mo.compare_arms(pair, "arm", treated=arm).table.iloc[0]
        got = ot.loc[f"{arm} vs ref"]
        for col in ("hr", "lower", "upper", "p", "logrank_p"):
            assert got[col] == row[col], col
        assert got[f"km_{arm}"] == 100 * (1 - row["surv_treated"])
        assert got["km_ref"] == 100 * (1 - row["surv_control"])


def test_outcome_table_and_compare_arms_name_the_same_method():
    # lesion level: the clustered Cox is "Cox, robust SE" in both tables
    tte = mo.time_to_event(mo.load_example(), "mace", horizon=365, level="lesion")
    ot = mo.outcome_table({"mace": tte}, group="arm", horizon=365, cluster="patient_id")
    comp = mo.compare_arms(tte, treatment="arm", covariates=["renal_insufficiency"],
                           cluster="patient_id")
    assert ot.table.loc[0, "method"] == comp.table.loc[0, "method"] == "Cox, robust SE"
