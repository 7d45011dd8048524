"""time_to_event(recurrent=True, level="lesion"): every event attributed to its lesions
by the first-event rule, one (start, stop] row per gap per lesion; worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo

INDEX = pd.Timestamp("2020-01-01")


def _d(n: int) -> str:
    return (INDEX + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


def _cohort() -> mo.Cohort:
    p = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "arm": ["OCT", "IVUS", "IVUS", "OCT"],
                      "index_date": [_d(0)] * 4,
                      "last_contact_date": [_d(400), _d(300), _d(0), _d(90)],
                      "age": [60, 70, 65, 50]})
    les = pd.DataFrame({"lesion_id": ["A1", "A2", "A3", "B1", "B2", "C1", "D1"],
                        "patient_id": ["A", "A", "A", "B", "B", "C", "D"],
                        "vessel": ["LAD", "LAD", "RCA", "LCX", "RCA", "LAD", "LAD"],
                        "length_mm": [20.0, 12.0, 30.0, 18.0, 24.0, 15.0, 22.0]})
    ev = pd.DataFrame({
        "event_id": range(1, 9),
        "patient_id": ["A", "A", "A", "A", "A", "A", "B", "B"],
        "lesion_id": ["A1", None, "A1", None, None, None, None, None],
        "event_type": ["tlr", "mi", "stent_thrombosis", "mi", "stroke", "mi", "tvr",
                       "cardiac_death"],
        "event_date": [_d(30), _d(100), _d(100), _d(200), _d(200), _d(0), _d(50), _d(150)],
        "target_vessel": [None, "RCA", None, "LCX", None, "LAD", "RCA", None],
        "st_certainty": [None, None, "definite", None, None, None, None, None]})
    return mo.Cohort(patients=p, events=ev, lesions=les)


# By hand (MACE counts TVR, so a TLR is a TVR of its vessel):
#  A1: TLR day 30 (LAD: A1, A2); ST day 100 on A1; non-target (LCX) MI day 200 reaches
#      every lesion; followed to day 400.  A3: the RCA MI of day 100, then day 200.
#  B: TVR of the RCA day 50 (B2 only), cardiac death day 150 (every lesion, terminal).
#  C: no follow-up beyond day 0 (no rows); A's day-0 MI cannot end a row.
#  D: no event, followed to day 90.
WANT = [  # lesion, start, stop, event, terminal, event_type
    ("A1", 0, 30, 1, 0, "tlr"), ("A1", 30, 100, 1, 0, "stent_thrombosis"),
    ("A1", 100, 200, 1, 0, "mi"), ("A1", 200, 400, 0, 0, ""),
    ("A2", 0, 30, 1, 0, "tlr"), ("A2", 30, 200, 1, 0, "mi"), ("A2", 200, 400, 0, 0, ""),
    ("A3", 0, 100, 1, 0, "mi"), ("A3", 100, 200, 1, 0, "mi"), ("A3", 200, 400, 0, 0, ""),
    ("B1", 0, 150, 1, 1, "cardiac_death"),
    ("B2", 0, 50, 1, 0, "tvr"), ("B2", 50, 150, 1, 1, "cardiac_death"),
    ("D1", 0, 90, 0, 0, ""),
]
WANT_120 = [
    ("A1", 0, 30, 1, 0, "tlr"), ("A1", 30, 100, 1, 0, "stent_thrombosis"),
    ("A1", 100, 120, 0, 0, ""),
    ("A2", 0, 30, 1, 0, "tlr"), ("A2", 30, 120, 0, 0, ""),
    ("A3", 0, 100, 1, 0, "mi"), ("A3", 100, 120, 0, 0, ""),
    ("B1", 0, 120, 0, 0, ""),
    ("B2", 0, 50, 1, 0, "tvr"), ("B2", 50, 120, 0, 0, ""),
    ("D1", 0, 90, 0, 0, ""),
]


def _rows(df: pd.DataFrame) -> list[tuple]:
    return [(r.lesion_id, r.start, r.stop, r.event, r.terminal, r.event_type)
            for r in df.itertuples()]


def test_lesion_rows_by_hand():
    with pytest.warns(mo.StatisticalWarning) as caught:
        r = mo.time_to_event(_cohort(), "mace", recurrent=True, level="lesion")
    assert _rows(r) == WANT
    assert list(r.columns[:3]) == ["lesion_id", "patient_id", "arm"]
    assert r.loc[r["lesion_id"] == "B2", "arm"].unique().tolist() == ["IVUS"]
    # baseline and lesion covariates ride along
    assert r.loc[r["lesion_id"] == "A3", "length_mm"].unique().tolist() == [30.0]
    assert r.loc[r["lesion_id"] == "A3", "age"].unique().tolist() == [60]
    assert r.attrs["level"] == "lesion" and r.attrs["recurrent"] is True
    text = str(caught[0].message)
    assert "lesion level" in text
    assert "1 event(s) on day 0" in text and "patient_id [A]" in text
    assert "1 patient(s) without follow-up" in text and "patient_id [C]" in text
    assert r.attrs["events_on_day_0_ids"] == ["A"] and r.attrs["no_follow_up_ids"] == ["C"]


def test_lesion_rows_with_a_horizon():
    with pytest.warns(mo.StatisticalWarning):
        r = mo.time_to_event(_cohort(), "mace", horizon=120, recurrent=True, level="lesion")
    assert _rows(r) == WANT_120


def test_tlr_endpoint_stays_on_its_lesion():
    # "tlr" alone does not count TVR: the TLR of day 30 is A1's only
    with pytest.warns(mo.StatisticalWarning, match="patient_id \\[C\\]"):
        r = mo.time_to_event(_cohort(), "tlr", recurrent=True, level="lesion")
    a = r[r["patient_id"] == "A"]
    assert _rows(a) == [("A1", 0, 30, 1, 0, "tlr"), ("A1", 30, 400, 0, 0, ""),
                        ("A2", 0, 400, 0, 0, ""), ("A3", 0, 400, 0, 0, "")]


def test_first_lesion_row_is_the_first_event_of_the_lesion():
    # property on the shipped example: each lesion's first event row is
    # time_to_event(level="lesion")'s first event, and the rows tile (0, end]
    cohort = mo.load_example()
    first = mo.time_to_event(cohort, "mace", horizon=365, level="lesion")
    rec = mo.time_to_event(cohort, "mace", horizon=365, level="lesion", recurrent=True)
    first = first.set_index("lesion_id")
    same = rec["lesion_id"].to_numpy()[1:] == rec["lesion_id"].to_numpy()[:-1]
    np.testing.assert_array_equal(rec["start"].to_numpy()[1:][same],
                                  rec["stop"].to_numpy()[:-1][same])
    assert (rec["stop"] > rec["start"]).all()
    by = rec.groupby("lesion_id")
    assert (by["start"].min() == 0).all()
    late = first[(first["event"] == 1) & (first["time"] > 0)]
    got = rec[rec["event"] == 1].groupby("lesion_id")["stop"].min()
    np.testing.assert_array_equal(got.loc[late.index], late["time"])
    censored = first[first["status"] == 0]
    np.testing.assert_array_equal(by["stop"].max().loc[censored.index], censored["time"])
    # a patient-level recurrent count never exceeds the sum over its lesions
    pat = mo.time_to_event(cohort, "mace", horizon=365, recurrent=True)
    per_patient = pat.groupby("patient_id")["event"].sum()
    per_lesions = rec.groupby("patient_id")["event"].sum().reindex(per_patient.index)
    assert (per_lesions.fillna(0) >= per_patient).all()


def test_lesion_rows_cut_at_the_patients_exposure_change():
    # A's crossover on day 50 cuts each of A's lesion rows that spans it; the event
    # stays on the piece that ends at it
    changes = pd.DataFrame({"patient_id": ["A"], "time": [50], "column": ["crossover"]})
    with pytest.warns(mo.StatisticalWarning):
        r = mo.time_to_event(_cohort(), "mace", recurrent=True, level="lesion",
                             exposure_changes=changes)
    a = [(x.lesion_id, x.start, x.stop, x.event, x.event_type, x.crossover)
         for x in r[r["patient_id"] == "A"].itertuples()]
    assert a == [
        ("A1", 0, 30, 1, "tlr", 0), ("A1", 30, 50, 0, "", 0),
        ("A1", 50, 100, 1, "stent_thrombosis", 1), ("A1", 100, 200, 1, "mi", 1),
        ("A1", 200, 400, 0, "", 1),
        ("A2", 0, 30, 1, "tlr", 0), ("A2", 30, 50, 0, "", 0), ("A2", 50, 200, 1, "mi", 1),
        ("A2", 200, 400, 0, "", 1),
        ("A3", 0, 50, 0, "", 0), ("A3", 50, 100, 1, "mi", 1), ("A3", 100, 200, 1, "mi", 1),
        ("A3", 200, 400, 0, "", 1)]
    assert (r.loc[r["patient_id"] != "A", "crossover"] == 0).all()
    assert len(r) == len(WANT) + 3
