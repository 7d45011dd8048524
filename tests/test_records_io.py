"""Reading cohort folders in every supported format, study.toml exclusions, writing tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from records_cases import STUDY_TOML, base_tables, flow_tables

import mace_outcomes as mo
from mace_outcomes.records import read_table, write_table


def _write(folder, fmt, tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        write_table(df, folder / f"{name}.{fmt}")
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "sav", "tsv"])
def test_every_format_gives_the_same_time_to_event(tmp_path, fmt):
    p, le, e = base_tables()
    if fmt in ("parquet", "xlsx", "sav"):
        # Dates as dates, as these formats would store them.
        for col in ("index_date", "last_contact_date"):
            p[col] = pd.to_datetime(p[col])
        e["event_date"] = pd.to_datetime(e["event_date"])
    if fmt == "sav":
        # SPSS strings cannot be all-missing: give blanks as empty strings.
        e = e.fillna("")
    folder = _write(tmp_path / fmt, fmt, {"patients": p, "lesions": le, "events": e})
    cohort = mo.read_cohort(folder)
    tte = mo.time_to_event(cohort, "mace", horizon=365)
    assert tte["time"].tolist() == [150, 300, 5, 40, 200, 250]
    assert tte["event"].tolist() == [1, 0, 1, 1, 1, 0]
    assert cohort.source["patients"] == f"patients.{fmt}"


def test_spss_value_labels_become_categories(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    p, le, e = base_tables()
    p["arm"] = np.where(p["arm"] == "OCT", 1.0, 2.0)
    for col in ("index_date", "last_contact_date"):
        p[col] = pd.to_datetime(p[col]).dt.date
    pyreadstat.write_sav(p, str(tmp_path / "patients.sav"),
                         variable_value_labels={"arm": {1.0: "OCT", 2.0: "IVUS"},
                                                "diabetes": {0.0: "no", 1.0: "yes"}})
    write_table(le, tmp_path / "lesions.csv")
    write_table(e, tmp_path / "events.csv")
    cohort = mo.read_cohort(tmp_path)
    assert isinstance(cohort.patients["arm"].dtype, pd.CategoricalDtype)
    assert cohort.patients["arm"].astype(str).tolist() == ["OCT", "OCT", "IVUS", "IVUS",
                                                           "IVUS", "IVUS"]
    assert cohort.patients["diabetes"].astype(str).tolist()[:2] == ["yes", "no"]
    tte = mo.time_to_event(cohort, "mace", horizon=365)
    assert tte.groupby("arm", observed=True)["event"].sum().to_dict() == {"OCT": 1, "IVUS": 3}


def test_one_excel_workbook(tmp_path):
    p, le, e = base_tables()
    book = tmp_path / "registry.xlsx"
    with pd.ExcelWriter(book) as xw:
        p.to_excel(xw, sheet_name="Patients", index=False)
        le.to_excel(xw, sheet_name="lesions", index=False)
        e.to_excel(xw, sheet_name="events", index=False)
    cohort = mo.read_cohort(book)
    assert len(cohort.lesions) == 8
    assert mo.time_to_event(cohort, "mace", horizon=365)["event"].sum() == 4


def test_study_toml_exclusions_are_applied_in_order(tmp_path):
    p, le, e = flow_tables()
    folder = _write(tmp_path, "csv", {"patients": p, "lesions": le, "events": e})
    (folder / "study.toml").write_text(STUDY_TOML)
    cohort = mo.read_cohort(folder)
    assert cohort.attrition["patients"].tolist() == [88, 6, 3, 79]
    assert cohort.attrition["reason"].tolist() == [
        "records read", "no intravascular imaging", "in-stent restenosis", "kept"]
    assert cohort.arms == ["OCT", "IVUS"]
    raw = mo.read_cohort(folder, apply_exclusions=False)
    assert len(raw.patients) == 88


def test_folder_problems(tmp_path):
    p, le, e = base_tables()
    _write(tmp_path, "csv", {"patients": p, "events": e})
    write_table(p, tmp_path / "patients.xlsx")
    with pytest.raises(mo.InputError, match="several files"):
        mo.read_cohort(tmp_path)
    with pytest.raises(mo.InputError, match="no such folder"):
        mo.read_cohort(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(mo.InputError) as info:
        mo.read_cohort(empty)
    assert len(info.value.problems) == 2  # patients and events both missing


def test_alias_table_in_study_toml(tmp_path):
    p, le, e = base_tables()
    e["event_type"] = ["AMI", "ST", "CV death", "cardiac death", "REDO", "bleed"]
    folder = _write(tmp_path, "csv", {"patients": p, "lesions": le, "events": e})
    (folder / "study.toml").write_text('[aliases]\nREDO = "tvr"\n')
    cohort = mo.read_cohort(folder)
    assert cohort.events["event_type"].tolist()[4] == "tvr"


def test_alias_file_in_the_folder(tmp_path):
    p, le, e = base_tables()
    e["event_type"] = ["AMI", "ST", "CV death", "cardiac death", "REDO", "bleed"]
    folder = _write(tmp_path, "csv", {"patients": p, "lesions": le, "events": e})
    write_table(pd.DataFrame({"code": ["REDO"], "event_type": ["tlr"]}),
                folder / "aliases.csv")
    assert mo.read_cohort(folder).events["event_type"].tolist()[4] == "tlr"


def test_write_table_round_trip_and_bad_extension(tmp_path):
    df = pd.DataFrame({"patient_id": [1, 2], "time": [0.0, 365.0], "event_type": ["mi", ""]})
    for ext in ("csv", "parquet", "xlsx", "sav", "tsv"):
        back = read_table(write_table(df, tmp_path / f"t.{ext}"))
        assert back["time"].tolist() == [0.0, 365.0]
    with pytest.raises(mo.InputError, match="cannot write"):
        write_table(df, tmp_path / "t.docx")
