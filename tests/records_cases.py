"""Small hand-made cohorts for the records tests (every expected value is worked out by hand).

The base cohort follows the seed paper's narrative (Table 4 and its text): OCT, one
non-target-vessel MI within a year; IVUS, a sudden death on day 5 (cardiac death with
probable stent thrombosis), a heart-failure death about a month after discharge and one
TVR for restenosis.
"""

from __future__ import annotations

import pandas as pd

INDEX = pd.Timestamp("2019-01-01")


def day(n: float) -> str:
    return (INDEX + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


def base_tables():
    """patients (6), lesions (8), events (6) -- all valid."""
    patients = pd.DataFrame({
        "patient_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "arm": ["OCT", "OCT", "IVUS", "IVUS", "IVUS", "IVUS"],
        "index_date": [day(0)] * 6,
        "last_contact_date": [day(540), day(300), day(700), day(700), day(600), day(250)],
        "age": [61, 72, 68, 80, 55, 70],
        "diabetes": [1, 0, 1, 1, 0, 0],
    })
    lesions = pd.DataFrame({
        "lesion_id": ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"],
        "patient_id": ["P1", "P1", "P2", "P3", "P4", "P5", "P5", "P6"],
        "vessel": ["LAD", "RCA", "LAD", "LAD", "LCX", "RCA", "LAD", "LAD"],
        "bifurcation": [1, 0, 0, 1, 0, 1, 0, 0],
    })
    events = pd.DataFrame({
        "event_id": ["E1", "E2", "E3", "E4", "E5", "E6"],
        "patient_id": ["P1", "P3", "P3", "P4", "P5", "P2"],
        "lesion_id": [None, "L4", None, None, "L6", None],
        "event_type": ["mi", "stent_thrombosis", "cardiac_death", "cardiac_death", "tvr",
                       "bleeding"],
        "event_date": [day(150), day(5), day(5), day(40), day(200), day(20)],
        "target_vessel": ["LCX", None, None, None, None, None],
        "st_certainty": [None, "probable", None, None, None, None],
    })
    return patients, lesions, events


def flow_tables():
    """88 screened patients: 6 without imaging (arm 'none'), 3 with in-stent restenosis.

    79 analysed (32 OCT, 47 IVUS), one lesion per patient plus 5 second lesions
    (1 OCT, 4 IVUS) -> 84 lesions (33, 51); one event per excluded-for-ISR patient.
    """
    n = 88
    arm = ["none"] * 6 + ["IVUS"] * 3 + ["OCT"] * 32 + ["IVUS"] * 47
    isr = [0] * 6 + [1] * 3 + [0] * 79
    patients = pd.DataFrame({
        "patient_id": list(range(1, n + 1)),
        "arm": arm,
        "index_date": [day(0)] * n,
        "last_contact_date": [day(400)] * n,
        "in_stent_restenosis": isr,
    })
    second = [10, 42, 43, 44, 45]  # 10 is OCT, 42-45 are IVUS (after the 9 excluded)
    lesions = pd.DataFrame({
        "lesion_id": list(range(1, n + 1)) + [100 + s for s in second],
        "patient_id": list(range(1, n + 1)) + second,
        "vessel": ["LAD"] * (n + len(second)),
    })
    events = pd.DataFrame({
        "event_id": [1, 2, 3, 4],
        "patient_id": [7, 8, 9, 50],
        "event_type": ["tvr", "tvr", "mi", "mi"],
        "event_date": [day(30), day(40), day(50), day(60)],
    })
    return patients, lesions, events


STUDY_TOML = """
[study]
title = "Flow test"
arms = ["OCT", "IVUS"]
horizon_days = 365

[exclusions]
"no intravascular imaging" = "arm == 'none'"
"in-stent restenosis" = "in_stent_restenosis == 1"
"""
