"""write_table never replaces a file unasked and never a cohort's input file: the bytes of
every file it must not touch are compared before and after (SHA-256)."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest
from records_cases import base_tables

import mace_outcomes as mo
from mace_outcomes.records import io as records_io
from mace_outcomes.records import write_table
from mace_outcomes.records.io import cohort_files

NEW = pd.DataFrame({"patient_id": ["P1", "P2"], "time": [30.0, 365.0]})


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def cohort_dir(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    for name, df in zip(("patients", "lesions", "events"), base_tables(), strict=True):
        write_table(df, folder / f"{name}.csv")
    (folder / "study.toml").write_text("[study]\nhorizon_days = 365\n")
    write_table(pd.DataFrame({"code": ["AMI"], "event_type": ["mi"]}),
                folder / "aliases.csv")
    return folder


def test_an_existing_file_is_refused_and_left_as_it_was(tmp_path):
    out = tmp_path / "tte.csv"
    out.write_bytes(b"precious\r\n")
    for target in (out, tmp_path / "." / "tte.csv"):
        with pytest.raises(mo.InputError, match="exists; it is never overwritten"):
            write_table(NEW, target)
    assert out.read_bytes() == b"precious\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tte.csv"]  # no staging debris


def test_overwrite_replaces_a_file_that_is_not_a_cohort_input(tmp_path, cohort_dir):
    out = tmp_path / "tte.csv"
    out.write_text("old\n")
    before = _digests(cohort_dir)
    assert write_table(NEW, out, overwrite=True, protect=cohort_dir) == out
    assert out.read_text() == "patient_id,time\nP1,30.0\nP2,365.0\n"
    assert _digests(cohort_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort", "tte.csv"]


def test_a_cohort_input_is_refused_even_with_overwrite(tmp_path, cohort_dir):
    before = _digests(cohort_dir)
    cohort = mo.read_cohort(cohort_dir)
    os.link(cohort_dir / "patients.csv", tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to(cohort_dir / "events.csv")
    cases = {cohort_dir / "patients.csv": "patients table",
             tmp_path / "cohort" / ".." / "cohort" / "events.csv": "events table",
             cohort_dir / "lesions.csv": "lesions table",
             cohort_dir / "aliases.csv": "aliases table",
             tmp_path / "hard.csv": "patients table",  # another name for the same file
             tmp_path / "soft.csv": "events table"}
    for target, what in cases.items():
        for protect in (cohort_dir, str(cohort_dir), cohort, [tmp_path / "x", cohort_dir]):
            with pytest.raises(mo.InputError, match=f"cohort's own {what}"):
                write_table(NEW, target, overwrite=True, protect=protect)
    assert _digests(cohort_dir) == before
    # study.toml has no writable extension: refused for that reason before any check
    with pytest.raises(mo.InputError, match="cannot write '.toml'"):
        write_table(NEW, cohort_dir / "study.toml", overwrite=True, protect=cohort_dir)
    assert [what for what, _ in cohort_files(cohort_dir)] == [
        "events table", "lesions table", "patients table", "study file", "aliases table"]


def test_a_workbook_is_protected_as_one_input(tmp_path):
    book = tmp_path / "registry.xlsx"
    book.write_bytes(b"not really a workbook")
    with pytest.raises(mo.InputError, match="cohort's own workbook"):
        write_table(NEW, book, overwrite=True, protect=book)
    assert book.read_bytes() == b"not really a workbook"


def test_a_name_taken_while_writing_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "tte.csv"
    real = records_io._write_format

    def racing(df, path):
        real(df, path)
        out.write_text("someone else's\n")  # the name is taken between check and move

    monkeypatch.setattr(records_io, "_write_format", racing)
    with pytest.raises(mo.InputError, match="exists"):
        write_table(NEW, out)
    assert out.read_text() == "someone else's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tte.csv"]


def test_overwrite_replaces_a_link_not_the_file_it_points_to(tmp_path):
    elsewhere = tmp_path / "keep.csv"
    elsewhere.write_text("keep\n")
    link = tmp_path / "tte.csv"
    link.symlink_to(elsewhere)
    write_table(NEW, link, overwrite=True)
    assert not link.is_symlink() and pd.read_csv(link)["time"].tolist() == [30.0, 365.0]
    assert elsewhere.read_text() == "keep\n"


def test_a_folder_is_never_a_target(tmp_path):
    (tmp_path / "tte.csv").mkdir()
    with pytest.raises(mo.InputError, match="this is a folder"):
        write_table(NEW, tmp_path / "tte.csv", overwrite=True)
