"""Tables 1-4 of the bundled (synthetic, calibrated) cohort against the published tables.

The published numbers (tests/reference/paper_tables.json) are the independent source:
counts must agree exactly and means ± SD / medians (Q1, Q3) to the printed precision,
except where the paper contradicts itself (listed here, as in the data's README).
"""

from pathlib import Path

import pandas as pd
import pytest
from conftest import reference

import mace_outcomes as mo
from mace_outcomes.tables import compare_to_reported

ROOT = Path(__file__).resolve().parents[1]
PAPER = reference("paper_tables")
ARMS = ["OCT", "IVUS"]
# Where the printed paper is inconsistent (see data/README.md): the consistent value is used
KNOWN = {("presentation", "ACS", "IVUS", "count"),        # printed 27 (70.2%): 33 of 47
         ("burr_artery_ratio", "", "OCT", "sd"),          # printed 0.5 for a ratio ~0.55
         ("burr_artery_ratio", "", "IVUS", "sd")}


@pytest.fixture(scope="module")
def cohort():
    if not (ROOT / "data" / "patients.csv").exists():
        pytest.skip("bundled cohort not present")
    return mo.read_cohort(ROOT / "data")


def lesion_frame(cohort):
    return cohort.lesions.merge(cohort.patients[["patient_id", "arm"]], on="patient_id",
                                suffixes=("_lesion", ""))


def mismatches(result, block):
    cmp = compare_to_reported(result, block)
    cmp = cmp[cmp["statistic"] != "p"]
    key = list(zip(cmp.variable, cmp.level, cmp.group, cmp.statistic, strict=True))
    bad = cmp[[not a and k not in KNOWN for a, k in zip(cmp.agrees, key, strict=True)]]
    return cmp, bad


@pytest.mark.parametrize("key", ["table1_patients", "table2_lesions", "table3_imaging"])
def test_tables_1_2_3_reproduce_the_paper(cohort, key):
    block = PAPER[key]
    frame = cohort.patients if key.endswith("patients") else lesion_frame(cohort)
    variables = [v for v in block if v in frame.columns]
    assert len(variables) >= len(block) - 2  # table 3: two rows are derived, not stored
    digits = {v: max(len(str(x).split(".")[1]) if "." in str(x) else 0
                     for a in ARMS for x in block[v][a])
              for v in variables if isinstance(block[v].get("OCT"), list)}
    t = mo.table_one(frame, group="arm", variables=variables, arms=ARMS, digits=digits)
    cmp, bad = mismatches(t, {v: block[v] for v in variables})
    assert len(cmp) > 30
    assert bad.empty, bad.to_string()
    if key == "table1_patients":  # percentages as printed: 20 (62.5%) men in the OCT arm
        male = t.table[t.table.variable == "male"].iloc[0]
        assert male["OCT"] == "20 (62.5%)" and male["IVUS"] == "32 (68.1%)"
    elif key == "table2_lesions":  # 33.3% vs 3.9% scoring balloon, as printed in the text
        sb = t.table[t.table.variable == "scoring_balloon_after_ra"].iloc[0]
        assert sb["OCT"] == "11 (33.3%)" and sb["IVUS"] == "2 (3.9%)"


def test_table4_events_at_one_year(cohort):
    endpoints = {"mace": "mace_1y_patients", "cardiac_death": "cardiovascular_death_1y",
                 "mi": "myocardial_infarction_1y", "tvr": "tvr_1y",
                 "stent_thrombosis": "stent_thrombosis_1y"}
    tte = {ep: mo.time_to_event(cohort, endpoint=ep, horizon=365) for ep in endpoints}
    ot = mo.outcome_table(tte, group="arm", horizon=365, arms=ARMS)
    for ep, key in endpoints.items():
        r = ot.table[ot.table.endpoint == ep].iloc[0]
        for a in ARMS:
            assert r[f"n_event_{a}"] == PAPER["table4_outcomes"][key][a], (ep, a)
    mace = ot.table[ot.table.endpoint == "mace"].iloc[0]
    assert f"{mace['percent_OCT']:.1f}" == "3.1" and f"{mace['percent_IVUS']:.1f}" == "6.4"
    # arms with no events get the Firth HR, and the table says so
    cd = ot.table[ot.table.endpoint == "cardiac_death"].iloc[0]
    assert cd["method"] == "Firth Cox (no events in OCT)"
    assert 0 < cd["hr"] < 1 and pd.notna(cd["upper"])
