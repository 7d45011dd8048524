"""One rule for which arm is treated and which is the reference, in every output.

The reference is the first arm in sorted order (R's factor levels: IVUS for IVUS/OCT),
so every HR reads OCT vs IVUS, as R's ``coxph(Surv(time, event) ~ arm)`` term
``armOCT`` does; naming the arms (study file, ``treated=``) turns all of them at once.
"""

import numpy as np
import pytest

import mace_outcomes as mo
from mace_outcomes._frames import arm_order


@pytest.fixture(scope="module")
def tte():
    cohort = mo.load_example()
    return mo.time_to_event(cohort, endpoint="mace", horizon=365, level="patient")


def test_arm_order_rule():
    assert arm_order(["OCT", "IVUS"]) == ["OCT", "IVUS"]
    assert arm_order([1, 0, 1]) == [1, 0]
    assert arm_order([True, False]) == [True, False]
    assert arm_order(["OCT", "IVUS"], treated="IVUS") == ["IVUS", "OCT"]
    assert arm_order(["OCT", "IVUS"], reference="OCT") == ["IVUS", "OCT"]
    assert arm_order(["a", "b", "c"], reference="b") == ["a", "c", "b"]
    with pytest.raises(mo.InputError, match="treated='DES' is not one of the arms"):
        arm_order(["OCT", "IVUS"], treated="DES")


def test_every_hazard_ratio_reads_treated_vs_reference(tte):
    cox = mo.cox(tte, time="time", event="event", covariates=["arm"])
    assert list(cox.summary.index) == ["armOCT"]  # R's dummy for the non-reference arm
    hr = float(cox.summary.loc["armOCT", "hr"])
    assert hr < 1  # 1 vs 3 MACE: OCT is not worse
    crude = mo.compare_arms(tte, treatment="arm", covariates=["renal_insufficiency"]).table.iloc[0]
    ot = mo.outcome_table({"mace": tte}, group="arm", horizon=365).table.iloc[0]
    assert ot["comparison"] == "OCT vs IVUS"
    assert np.isclose(crude["hr"], hr, rtol=1e-6) and np.isclose(ot["hr"], hr, rtol=1e-6)
    # naming IVUS as treated inverts every one of them together
    ot_rev = mo.outcome_table({"mace": tte}, group="arm", horizon=365,
                              treated="IVUS").table.iloc[0]
    crude_rev = mo.compare_arms(tte, treatment="arm", covariates=["renal_insufficiency"],
                                treated="IVUS").table.iloc[0]
    assert ot_rev["comparison"] == "IVUS vs OCT"
    assert np.isclose(ot_rev["hr"], 1 / hr, rtol=1e-6)
    assert np.isclose(crude_rev["hr"], 1 / hr, rtol=1e-6)


def test_continuous_and_rmst_contrasts_read_treated_minus_reference():
    lesions = mo.load_example().lesions
    df = lesions.merge(mo.load_example().patients[["patient_id", "arm"]], on="patient_id")
    df["y"] = df["minimum_stent_area_mm2"]
    res = mo.compare_outcome(df, outcome="y", treatment="arm", covariates=[],
                             cluster="patient_id")
    crude = res.table.iloc[0]
    means = df.groupby("arm")["y"].mean()
    assert np.isclose(crude["estimate"], means["OCT"] - means["IVUS"], rtol=1e-9)
