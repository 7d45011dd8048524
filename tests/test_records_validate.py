"""Validation: one test per problem, each asserting the error names the offending rows."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from records_cases import base_tables, day, flow_tables

import mace_outcomes as mo
from mace_outcomes.records import FollowUpWarning


def _error(patients, events, lesions=None, **kw) -> mo.ValidationError:
    with pytest.raises(mo.ValidationError) as info:
        mo.Cohort(patients=patients, events=events, lesions=lesions, **kw)
    assert isinstance(info.value, mo.InputError)
    return info.value


def _problem(err: mo.InputError, words: str, column: str | None = None):
    hits = [p for p in err.problems if words in p.reason
            and (column is None or p.column == column)]
    assert hits, f"no problem mentioning {words!r} in:\n{err}"
    return hits[0]


def test_valid_records_pass():
    p, le, e = base_tables()
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    assert (len(cohort.patients), len(cohort.lesions), len(cohort.events)) == (6, 8, 6)


def test_missing_required_columns_are_all_listed():
    p, le, e = base_tables()
    err = _error(p.drop(columns=["last_contact_date"]), e.drop(columns=["event_date"]),
                 le.drop(columns=["vessel"]))
    missing = {(pr.source, pr.column) for pr in err.problems if "required column" in pr.reason}
    assert missing == {("patients", "last_contact_date"), ("events", "event_date"),
                       ("lesions", "vessel")}


@pytest.mark.parametrize("table, col, ids", [
    ("patients", "patient_id", ("P2",)),
    ("lesions", "lesion_id", ("L3",)),
    ("events", "event_id", ("E2",)),
])
def test_duplicate_ids(table, col, ids):
    p, le, e = base_tables()
    frames = {"patients": p, "lesions": le, "events": e}
    t = frames[table]
    t.loc[t.index[-1], col] = ids[0]  # last row reuses an existing id
    err = _error(p, e, le)
    pr = _problem(err, f"duplicate {col}", col)
    assert pr.rows == ids and pr.source == table


def test_missing_id_named_by_row_number():
    p, le, e = base_tables()
    e.loc[2, "event_id"] = None
    pr = _problem(_error(p, e, le), "missing event_id")
    assert pr.rows == (3,)


def test_missing_patient_id_of_an_event():
    p, le, e = base_tables()
    e["patient_id"] = e["patient_id"].astype(object)
    e.loc[e.event_id == "E5", "patient_id"] = None  # E5 also names lesion L6
    p["patient_id"] = [1, 2, 3, 4, 5, 6]
    le["patient_id"] = [1, 1, 2, 3, 4, 5, 5, 6]
    e["patient_id"] = e["patient_id"].map({"P1": 1, "P2": 2, "P3": 3, "P4": 4, "P6": 6})
    err = _error(p, e, le)
    assert _problem(err, "missing patient_id").rows == ("E5",)
    assert len(err.problems) == 1


def test_unparseable_date():
    p, le, e = base_tables()
    e.loc[e.event_id == "E5", "event_date"] = "31/02/2019x"
    p.loc[p.patient_id == "P4", "index_date"] = "not a date"
    err = _error(p, e, le)
    assert _problem(err, "unparseable date", "event_date").rows == ("E5",)
    assert _problem(err, "unparseable date", "index_date").rows == ("P4",)


def test_missing_date():
    p, le, e = base_tables()
    p.loc[p.patient_id.isin(["P2", "P6"]), "last_contact_date"] = None
    e.loc[e.event_id == "E1", "event_date"] = ""
    err = _error(p, e, le)
    assert _problem(err, "missing date", "last_contact_date").rows == ("P2", "P6")
    assert _problem(err, "missing date", "event_date").rows == ("E1",)


def test_last_contact_before_index():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P5", "last_contact_date"] = day(-3)
    assert _problem(_error(p, e, le), "last_contact_date before index_date").rows == ("P5",)


def test_event_of_unknown_patient():
    p, le, e = base_tables()
    e.loc[e.event_id == "E6", "patient_id"] = "P99"
    pr = _problem(_error(p, e, le), "event of a patient not in the patients table")
    assert pr.rows == ("E6",) and pr.column == "patient_id"


def test_lesion_of_unknown_patient():
    p, le, e = base_tables()
    le.loc[le.lesion_id == "L8", "patient_id"] = "P77"
    pr = _problem(_error(p, e, le), "lesion of a patient not in the patients table")
    assert pr.rows == ("L8",)


def test_event_names_unknown_lesion():
    p, le, e = base_tables()
    e.loc[e.event_id == "E5", "lesion_id"] = "L42"
    assert _problem(_error(p, e, le), "lesion not in the lesions table").rows == ("E5",)


def test_event_names_lesion_of_another_patient():
    p, le, e = base_tables()
    e.loc[e.event_id == "E5", "lesion_id"] = "L1"  # L1 belongs to P1, E5 is P5's
    assert _problem(_error(p, e, le), "lesion of another patient").rows == ("E5",)


def test_event_before_index_date():
    p, le, e = base_tables()
    e.loc[e.event_id == "E6", "event_date"] = day(-1)
    assert _problem(_error(p, e, le), "before the index date").rows == ("E6",)


def test_event_after_death():
    p, le, e = base_tables()
    extra = pd.DataFrame({"event_id": ["E7"], "patient_id": ["P4"], "event_type": ["mi"],
                          "event_date": [day(41)]})
    err = _error(p, pd.concat([e, extra], ignore_index=True), le)
    assert _problem(err, "after the patient's death").rows == ("E7",)


def test_more_than_one_death():
    p, le, e = base_tables()
    extra = pd.DataFrame({"event_id": ["E8"], "patient_id": ["P4"],
                          "event_type": ["noncardiac_death"], "event_date": [day(40)]})
    err = _error(p, pd.concat([e, extra], ignore_index=True), le)
    assert set(_problem(err, "more than one death").rows) == {"E4", "E8"}


def test_unknown_event_type():
    p, le, e = base_tables()
    e.loc[e.event_id == "E6", "event_type"] = "hospitalisation"
    pr = _problem(_error(p, e, le), "unknown or missing event type")
    assert pr.rows == ("E6",) and "hospitalisation" in pr.reason


def test_unknown_vessel_and_certainty():
    p, le, e = base_tables()
    le.loc[le.lesion_id == "L2", "vessel"] = "OM9"
    e.loc[e.event_id == "E2", "st_certainty"] = None
    err = _error(p, e, le)
    assert _problem(err, "unknown or missing vessel").rows == ("L2",)
    assert _problem(err, "without its ARC certainty").rows == ("E2",)


def test_every_problem_reported_at_once():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P5", "last_contact_date"] = day(-3)
    e.loc[e.event_id == "E6", "event_type"] = "hospitalisation"
    e.loc[e.event_id == "E1", "patient_id"] = "P99"
    le.loc[le.lesion_id == "L8", "lesion_id"] = "L7"
    err = _error(p, e, le)
    reasons = " | ".join(pr.reason for pr in err.problems)
    for words in ("before index_date", "unknown or missing event type",
                  "not in the patients table", "duplicate lesion_id"):
        assert words in reasons
    assert len(err.problems) >= 4
    assert "E6" in str(err) and "L7" in str(err) and "P5" in str(err)


def test_arm_labels_checked_only_for_comparisons():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P6", "arm"] = "none"
    cohort = mo.Cohort(patients=p, events=e, lesions=le)  # a third label is allowed here
    with pytest.raises(mo.ValidationError) as info:
        mo.time_to_event(cohort, "mace", horizon=365)
    assert _problem(info.value, "exactly two arm labels").rows == ("P6",)
    # ... and disappears once the patients without imaging are excluded.
    tte = mo.time_to_event(cohort.exclude("no imaging", "arm == 'none'"), "mace")
    assert sorted(tte["arm"].unique()) == ["IVUS", "OCT"]
    # A single-arm registry can opt out.
    single = mo.Cohort(patients=p.assign(arm="OCT"), events=e, lesions=le)
    assert len(mo.time_to_event(single, require_two_arms=False)) == 6
    with pytest.raises(mo.ValidationError, match="found 1"):
        mo.time_to_event(single)


def test_arm_missing_label():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P2", "arm"] = None
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    with pytest.raises(mo.ValidationError) as info:
        mo.time_to_event(cohort)
    assert _problem(info.value, "missing arm").rows == ("P2",)


def test_event_after_last_contact_extends_followup_with_warning():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P5", "last_contact_date"] = day(150)  # TVR is on day 200
    with pytest.warns(FollowUpWarning, match="P5"):
        cohort = mo.Cohort(patients=p, events=e, lesions=le)
    fu = cohort.followup.set_index("patient_id")
    assert fu.loc["P5", "days"] == 200 and fu.loc["P5", "extended"]
    assert fu.loc["P4", "days"] == 40  # follow-up ends at death
    tte = mo.time_to_event(cohort, "all_cause_death").set_index("patient_id")
    assert tte.loc["P5", "time"] == 200 and tte.loc["P5", "event"] == 0


def test_last_contact_after_death_is_noted():
    p, le, e = base_tables()
    p.loc[p.patient_id == "P3", "last_contact_date"] = day(400)  # died on day 5
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    assert any("after death" in n and "P3" in n for n in cohort.notes)
    assert "after death" in cohort.summary()
    assert cohort.followup.set_index("patient_id").loc["P3", "days"] == 5


def test_alias_table_maps_codes():
    p, le, e = base_tables()
    e["event_type"] = ["AMI", "ST", "CV death", "cardiac-death", "REDO-PCI", "BARC 3"]
    with pytest.raises(mo.ValidationError) as info:
        mo.Cohort(patients=p, events=e, lesions=le)
    assert set(_problem(info.value, "unknown or missing event type").rows) == {"E5", "E6"}
    cohort = mo.Cohort(patients=p, events=e, lesions=le,
                       aliases={"redo pci": "tvr", "BARC 3": "bleeding"})
    assert cohort.events["event_type"].tolist() == [
        "mi", "stent_thrombosis", "cardiac_death", "cardiac_death", "tvr", "bleeding"]
    table = pd.DataFrame({"code": ["REDO-PCI", "barc_3"], "event_type": ["tvr", "bleeding"]})
    assert mo.Cohort(patients=p, events=e, lesions=le,
                     aliases=table).events["event_type"].iloc[4] == "tvr"


def test_ids_of_different_types_are_matched():
    # Integer ids in patients, text ids in events (e.g. CSV vs Excel): one id space.
    p, le, e = flow_tables()
    e["patient_id"] = e["patient_id"].astype(str)
    le["patient_id"] = le["patient_id"].astype(float)
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    assert len(cohort.events) == 4


def test_attrition_reproduces_the_paper_flow():
    p, le, e = flow_tables()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = mo.Cohort(patients=p, events=e, lesions=le)
    analysed = (cohort.exclude("no intravascular imaging", p["arm"] == "none")
                .exclude("in-stent restenosis", "in_stent_restenosis == 1"))
    att = analysed.attrition
    # The published flow: 88 screened, 6 without imaging, 3 ISR, 79 analysed (84 lesions).
    assert att["patients"].tolist() == [88, 6, 3, 79]
    assert att["lesions"].tolist() == [93, 6, 3, 84]
    assert att["events"].tolist() == [4, 0, 3, 1]
    assert att["reason"].tolist()[1:3] == ["no intravascular imaging", "in-stent restenosis"]
    # Every input record is either kept or excluded, exactly once.
    for col in ("patients", "lesions", "events"):
        assert att[col].iloc[0] == att[col].iloc[1:].sum()
    ex = analysed.excluded
    # integer ids are held as text, as when the tables are read from files
    assert sorted(ex.loc[ex.table == "patients", "id"], key=int) == [str(i) for i in range(1, 10)]
    assert sorted(ex.loc[ex.table == "events", "id"]) == ["1", "2", "3"]
    counts = analysed.patients["arm"].value_counts()
    assert (counts["OCT"], counts["IVUS"]) == (32, 47)
    lesion_arm = analysed.lesions["patient_id"].map(analysed.patients.set_index(
        "patient_id")["arm"]).value_counts()
    assert (lesion_arm["OCT"], lesion_arm["IVUS"]) == (33, 51)
    assert "88" in analysed.summary() and "in-stent restenosis" in analysed.summary()


def test_exclusion_errors_name_the_problem():
    p, le, e = base_tables()
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    with pytest.raises(mo.InputError, match="no_such_column"):
        cohort.exclude("bad", "no_such_column == 1")
    with pytest.raises(mo.InputError, match="3 values") as info:
        cohort.exclude("bad", pd.Series([True, False, True]))
    assert info.value.problems[0].rows == ("P4", "P5", "P6")
    with pytest.raises(mo.InputError, match="missing for some patients") as info:
        cohort.exclude("bad", pd.Series([1, None, 0, 0, 0, 1], dtype=object))
    assert info.value.problems[0].rows == ("P2",)
    # A mask on a re-sorted copy is aligned on the index, not by position.
    shuffled = cohort.patients.iloc[::-1]
    kept = cohort.exclude("old", shuffled["age"] > 75).patients["patient_id"].tolist()
    assert kept == ["P1", "P2", "P3", "P5", "P6"]
