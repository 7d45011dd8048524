"""Reading a registry never changes its data: merged rows, ids, headers, lesion-less patients.

Every file here is written by hand; the expected line numbers, ids and counts are read
off the text of the file.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.errors import InputError, ValidationError
from mace_outcomes.records import read_table
from mace_outcomes.records.tte import LesionRecordsWarning

HEADER = "patient_id,arm,index_date,last_contact_date"
EVENTS = "event_id,patient_id,event_type,event_date\n"


def _folder(tmp_path, patients: str, events: str = EVENTS, lesions: str | None = None,
            ext: str = "csv"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / f"patients.{ext}").write_text(patients)
    (tmp_path / f"events.{ext}").write_text(events)
    if lesions is not None:
        (tmp_path / f"lesions.{ext}").write_text(lesions)
    return tmp_path


def _message(err) -> str:
    return str(err.value)


# --- 1. rows merged by a stray quote ----------------------------------------------------
def test_stray_quote_in_a_date_merges_two_rows_and_is_named_by_line(tmp_path):
    # Line 3 opens a quote in index_date that closes on line 4: pandas reads 3 rows of 4.
    text = (f"{HEADER}\n"
            "P1,OCT,2020-01-01,2021-01-01\n"
            'P2,IVUS,"2020-01-02,2021-01-02\n'
            'P3,OCT,2020-01-03",2021-01-03\n'
            "P4,IVUS,2020-01-04,2021-01-04\n")
    _folder(tmp_path, text)
    with pytest.raises(InputError) as err:
        mo.read_cohort(tmp_path)
    msg = _message(err)
    assert "patients.csv" in msg and "index_date" in msg
    assert "lines 3-4" in msg and "stray double quote" in msg


def test_eighty_eight_rows_are_not_read_as_eighty_six(tmp_path):
    rows = [f"P{i},OCT,2020-01-01,2021-01-01" for i in range(1, 89)]
    # Two stray quote pairs, each swallowing the following row into an arm cell.
    rows[9] = 'P10,"OCT,2020-01-01,2021-01-01'
    rows[10] = 'P11,OCT",2020-01-01,2021-01-01'
    rows[49] = 'P50,"IVUS,2020-01-01,2021-01-01'
    rows[50] = 'P51,IVUS",2020-01-01,2021-01-01'
    path = tmp_path / "patients.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    assert len(pd.read_csv(path)) == 86  # what a plain read makes of it
    with pytest.raises(InputError) as err:
        read_table(path)
    msg = _message(err)
    # Data row k is on file line k + 1 (line 1 is the header).
    assert "patients.csv" in msg and "lines 11-12, 51-52" in msg


def test_stray_quote_in_a_covariate_swallowing_a_row_is_an_error(tmp_path):
    text = ("patient_id,arm,index_date,last_contact_date,age,diabetes\n"
            'P1,OCT,2020-01-01,2021-01-01,"61,1\n'
            'P2,IVUS,2020-01-02,2021-01-02,70",0\n'
            "P3,OCT,2020-01-03,2021-01-03,65,1\n")
    (tmp_path / "patients.csv").write_text(text)
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "patients.csv")
    assert "lines 2-3" in _message(err) and "age" in _message(err)


def test_a_merged_record_with_one_field_too_many_is_caught_by_its_field_count(tmp_path):
    # The merged record has 6 fields for a 5-column header (a plain read even takes the
    # first column as the index and shifts the others).
    text = (f"{HEADER},note\n"
            'P1,OCT,2020-01-01,2021-01-01,"calcified\n'
            'P2,IVUS,2020-01-02,2021-01-02",ok\n'
            "P3,OCT,2020-01-03,2021-01-03,\n")
    (tmp_path / "patients.csv").write_text(text)
    assert pd.read_csv(tmp_path / "patients.csv").index[0] == "P1"
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "patients.csv")
    assert "lines 2-3 does not have the header's 5 fields" in _message(err)


def test_a_quoted_multi_line_note_is_legal_csv(tmp_path):
    # Blank lines between rows and a note over three lines (one of them blank): 3 rows.
    text = (f"{HEADER},note\n"
            'P1,OCT,2020-01-01,2021-01-01,"calcified\n\nrotablation"\n'
            "\n"
            "P2,IVUS,2020-01-02,2021-01-02,\n"
            'P3,OCT,2020-01-03,2021-01-03,"long lesion\nin LAD"\n')
    (tmp_path / "patients.csv").write_text(text)
    df = read_table(tmp_path / "patients.csv")
    assert df["patient_id"].tolist() == ["P1", "P2", "P3"]
    assert df["note"].iloc[0] == "calcified\n\nrotablation"


def test_merged_rows_in_a_tsv_file(tmp_path):
    text = ("event_id\tpatient_id\tevent_type\tevent_date\n"
            "E1\tP1\tmi\t2020-03-01\n"
            'E2\t"P2\tmi\t2020-04-01\n'
            'E3\tP3"\ttvr\t2020-05-01\n')
    (tmp_path / "events.tsv").write_text(text)
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "events.tsv")
    msg = _message(err)
    assert "events.tsv" in msg and "patient_id" in msg and "lines 3-4" in msg


def test_unclosed_quote_says_how_to_fix(tmp_path):
    (tmp_path / "patients.csv").write_text(f'{HEADER}\nP1,"OCT,2020-01-01,2021-01-01\n')
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "patients.csv")
    assert "patients.csv" in _message(err) and "stray quote" in _message(err)


# --- 2. ids are text --------------------------------------------------------------------
def test_leading_zeros_keep_ids_apart_and_an_orphan_event_is_reported(tmp_path):
    patients = (f"{HEADER}\n"
                "001,OCT,2020-01-01,2021-01-01\n"
                "002,IVUS,2020-01-01,2021-01-01\n")
    events = EVENTS + "E1,1,mi,2020-02-01\nE2,002,mi,2020-03-01\n"
    _folder(tmp_path, patients, events)
    with pytest.raises(ValidationError) as err:
        mo.read_cohort(tmp_path)
    problems = err.value.problems
    assert len(problems) == 1
    assert problems[0].reason == "event of a patient not in the patients table"
    assert problems[0].rows == ("E1",) and problems[0].source == "events.csv"


def test_001_and_1_are_two_patients(tmp_path):
    patients = (f"{HEADER}\n"
                "001,OCT,2020-01-01,2021-01-01\n"
                "1,IVUS,2020-01-01,2021-01-01\n")
    events = EVENTS + "E1,1,mi,2020-02-01\n"
    cohort = mo.read_cohort(_folder(tmp_path, patients, events))
    assert cohort.patients["patient_id"].tolist() == ["001", "1"]
    tte = mo.time_to_event(cohort, "mi")
    assert tte.set_index("patient_id")["event"].to_dict() == {"001": 0, "1": 1}


def test_ids_that_look_like_numbers_or_missing_survive(tmp_path):
    patients = (f"{HEADER}\n"
                "1E3,OCT,2020-01-01,2021-01-01\n"
                "NA,IVUS,2020-01-01,2021-01-01\n"
                "07,OCT,2020-01-01,2021-01-01\n"
                "7,IVUS,2020-01-01,2021-01-01\n")
    events = EVENTS + "E1,NA,mi,2020-02-01\nE2,07,tvr,2020-03-01\n"
    cohort = mo.read_cohort(_folder(tmp_path, patients, events))
    assert cohort.patients["patient_id"].tolist() == ["1E3", "NA", "07", "7"]
    tte = mo.time_to_event(cohort, "mace").set_index("patient_id")
    assert tte["event_type"].to_dict() == {"1E3": "", "NA": "mi", "07": "tvr", "7": ""}


def test_an_empty_id_cell_is_still_missing(tmp_path):
    patients = (f"{HEADER}\n"
                "P1,OCT,2020-01-01,2021-01-01\n"
                ",IVUS,2020-01-01,2021-01-01\n")
    with pytest.raises(ValidationError) as err:
        mo.read_cohort(_folder(tmp_path, patients))
    (problem,) = err.value.problems
    assert problem.reason == "missing patient_id" and problem.rows == (2,)


def test_other_columns_keep_the_usual_missing_values(tmp_path):
    patients = (f"{HEADER},age\n"
                "NA,OCT,2020-01-01,2021-01-01,NA\n"
                "N/A,IVUS,2020-01-01,2021-01-01,61\n")
    df = read_table(_folder(tmp_path, patients) / "patients.csv")
    assert df["patient_id"].tolist() == ["NA", "N/A"]
    assert df["age"].isna().tolist() == [True, False] and df["age"].dtype == float


REGISTRY_IDS = {"numeric": [7, 12, 1000], "text": ["007", "12", "1E3"]}
EXPECTED_IDS = {"numeric": ["7", "12", "1000"], "text": ["007", "12", "1E3"]}


def _tables(kind: str):
    ids = REGISTRY_IDS[kind]
    p = pd.DataFrame({"patient_id": ids, "arm": ["OCT", "IVUS", "OCT"],
                      "index_date": ["2020-01-01"] * 3,
                      "last_contact_date": ["2021-01-01"] * 3})
    e = pd.DataFrame({"event_id": [1, 2], "patient_id": ids[:2], "event_type": ["mi", "tvr"],
                      "event_date": ["2020-02-01", "2020-03-01"]})
    return p, e


def _write_format(folder, kind: str, fmt: str):
    """The registry in one format, written with the format's own library."""
    p, e = _tables(kind)
    folder.mkdir()
    for name, df in (("patients", p), ("events", e)):
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            path.write_text(df.to_csv(index=False))
        elif fmt == "parquet":
            df.to_parquet(path, index=False)
        elif fmt == "xlsx":
            import openpyxl

            wb = openpyxl.Workbook()
            ws = wb.active
            ws.append(list(df.columns))
            for row in df.itertuples(index=False):
                ws.append(list(row))
            wb.save(path)
        elif fmt == "sav":
            import pyreadstat

            out = df.copy()
            if kind == "numeric":  # SPSS numbers are doubles: 7 is stored as 7.0
                out["patient_id"] = out["patient_id"].astype(float)
            out["event_id"] = out["event_id"].astype(float) if "event_id" in out else None
            pyreadstat.write_sav(out.dropna(axis=1, how="all"), str(path))
    return folder


@pytest.mark.parametrize("kind", ["numeric", "text"])
def test_same_ids_from_every_format_and_from_dataframes(tmp_path, kind):
    got = {}
    for fmt in ("csv", "xlsx", "sav", "parquet"):
        cohort = mo.read_cohort(_write_format(tmp_path / fmt, kind, fmt))
        got[fmt] = (cohort.patients["patient_id"].tolist(),
                    cohort.events["event_id"].tolist(),
                    cohort.events["patient_id"].tolist())
    p, e = _tables(kind)
    cohort = mo.Cohort(patients=p, events=e)
    got["memory"] = (cohort.patients["patient_id"].tolist(),
                     cohort.events["event_id"].tolist(),
                     cohort.events["patient_id"].tolist())
    expected = (EXPECTED_IDS[kind], ["1", "2"], EXPECTED_IDS[kind][:2])
    assert got == {k: expected for k in got}


def test_float_ids_in_memory_match_integer_ids_and_fractions_are_refused():
    p, e = _tables("numeric")
    as_float = mo.Cohort(patients=p.astype({"patient_id": float}), events=e)
    assert as_float.patients["patient_id"].tolist() == ["7", "12", "1000"]
    p["patient_id"] = [7.0, 12.5, 1000.0]
    with pytest.raises(ValidationError) as err:
        mo.Cohort(patients=p, events=e.iloc[:1])
    (problem,) = err.value.problems
    assert problem.column == "patient_id" and "whole numbers" in problem.reason
    assert problem.rows == (2,)


def test_fractional_ids_in_a_parquet_file_are_refused(tmp_path):
    pd.DataFrame({"patient_id": [1.0, 2.5]}).to_parquet(tmp_path / "patients.parquet")
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "patients.parquet")
    assert "patients.parquet" in _message(err) and "2.5" in _message(err)


# --- 3. duplicate column headers --------------------------------------------------------
def test_duplicate_header_in_csv_is_an_error(tmp_path):
    events = ("event_id,patient_id,event_type,event_date,event_date\n"
              "E1,P1,mi,2020-02-01,2020-02-03\n")
    path = tmp_path / "events.csv"
    path.write_text(events)
    assert "event_date.1" in pd.read_csv(path).columns  # what a plain read does
    with pytest.raises(InputError) as err:
        read_table(path)
    (problem,) = err.value.problems
    assert problem.source == "events.csv" and problem.column == "event_date"
    assert "2 times" in problem.reason


def test_a_real_column_named_like_a_renamed_duplicate_is_fine(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text(f"{HEADER},dose.1\nP1,OCT,2020-01-01,2021-01-01,3\n")
    assert read_table(path).columns.tolist()[-1] == "dose.1"


def test_duplicate_header_in_excel_and_in_memory(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "patients"
    ws.append(["patient_id", "arm", "arm "])
    ws.append(["P1", "OCT", "IVUS"])
    wb.save(tmp_path / "p.xlsx")
    with pytest.raises(InputError) as err:
        read_table(tmp_path / "p.xlsx")
    assert err.value.problems[0].column == "arm" and "p.xlsx" in _message(err)
    p = pd.DataFrame([["P1", "OCT", "2020-01-01", "2021-01-01", "x"]],
                     columns=["patient_id", "arm", "index_date", "last_contact_date", "arm"])
    with pytest.raises(ValidationError) as err:
        mo.Cohort(patients=p, events=pd.DataFrame(columns=EVENTS.strip().split(",")))
    assert err.value.problems[0].column == "arm"


# --- 4. lesion level: patients without lesion records ------------------------------------
def test_lesion_level_accounts_for_patients_without_lesions(tmp_path):
    patients = (f"{HEADER}\n"
                "P1,OCT,2020-01-01,2021-01-01\n"
                "P2,IVUS,2020-01-01,2021-01-01\n"
                "P3,OCT,2020-01-01,2021-01-01\n"
                "P4,IVUS,2020-01-01,2021-01-01\n")
    lesions = ("lesion_id,patient_id,vessel\n"
               "L1,P1,LAD\nL2,P1,RCA\nL3,P2,LCX\nL4,P4,LAD\n")
    events = EVENTS + "E1,P3,mi,2020-02-01\nE2,P2,tvr,2020-03-01\n"
    cohort = mo.read_cohort(_folder(tmp_path, patients, events, lesions))
    with pytest.warns(LesionRecordsWarning, match=r"1 patient\(s\).*\[P3\]"):
        tte = mo.time_to_event(cohort, "mace", level="lesion")
    assert tte["lesion_id"].tolist() == ["L1", "L2", "L3", "L4"]
    att = pd.DataFrame(tte.attrs["attrition"])
    assert att["reason"].tolist() == ["records read", "no lesion records", "kept"]
    # Input = excluded + analysed, for every table: P3 and its MI leave together.
    assert att["patients"].tolist() == [4, 1, 3]
    assert att["lesions"].tolist() == [4, 0, 4]
    assert att["events"].tolist() == [2, 1, 1]
    assert np.array_equal(att.iloc[0, 2:].to_numpy(), att.iloc[1:, 2:].sum().to_numpy())
    # The patient-level analysis keeps everyone and the user's cohort is unchanged.
    assert len(mo.time_to_event(cohort, "mace")) == 4 and len(cohort.patients) == 4


def test_lesion_level_is_silent_when_every_patient_has_lesions(tmp_path):
    patients = f"{HEADER}\nP1,OCT,2020-01-01,2021-01-01\nP2,IVUS,2020-01-01,2021-01-01\n"
    lesions = "lesion_id,patient_id,vessel\nL1,P1,LAD\nL2,P2,RCA\n"
    cohort = mo.read_cohort(_folder(tmp_path, patients, lesions=lesions))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tte = mo.time_to_event(cohort, "mace", level="lesion")
    assert pd.DataFrame(tte.attrs["attrition"])["patients"].tolist() == [2, 2]
