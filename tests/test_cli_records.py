"""The console script's records subcommands: validate and tte."""

from __future__ import annotations

import pandas as pd
from records_cases import STUDY_TOML, base_tables, flow_tables

from mace_outcomes.cli import main
from mace_outcomes.records import write_table


def _folder(tmp_path, tables, study=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, df in zip(("patients", "lesions", "events"), tables, strict=True):
        write_table(df, tmp_path / f"{name}.csv")
    if study:
        (tmp_path / "study.toml").write_text(study)
    return tmp_path


def test_validate_prints_summary(tmp_path, capsys):
    folder = _folder(tmp_path, flow_tables(), STUDY_TOML)
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "79 patients" in out and "84 lesions" in out
    assert "no intravascular imaging" in out and "in-stent restenosis" in out


def test_validate_lists_every_problem_and_fails(tmp_path, capsys):
    p, le, e = base_tables()
    p.loc[p.patient_id == "P5", "last_contact_date"] = "2018-01-01"
    e.loc[e.event_id == "E6", "event_type"] = "hospitalisation"
    e.loc[e.event_id == "E1", "patient_id"] = "P99"
    folder = _folder(tmp_path, (p, le, e))
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "3 problems" in err
    for words in ("P5", "E6", "E1", "patients.csv", "events.csv"):
        assert words in err


def test_tte_writes_the_table(tmp_path, capsys):
    folder = _folder(tmp_path / "cohort", base_tables())
    out = tmp_path / "out" / "tte.csv"
    assert main(["tte", str(folder), "--endpoint", "mace", "--horizon", "365",
                 "--level", "patient", "-o", str(out)]) == 0
    tte = pd.read_csv(out, keep_default_na=False)
    assert tte["patient_id"].tolist() == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert tte["time"].tolist() == [150, 300, 5, 40, 200, 250]
    assert tte["event"].tolist() == [1, 0, 1, 1, 1, 0]
    assert "wrote 6 rows" in capsys.readouterr().out
    lesion_out = tmp_path / "lesion.parquet"
    assert main(["tte", str(folder), "--level", "lesion", "--horizon", "365",
                 "-o", str(lesion_out)]) == 0
    assert len(pd.read_parquet(lesion_out)) == 8


def test_tte_applies_study_exclusions_before_the_arm_check(tmp_path, capsys):
    folder = _folder(tmp_path / "flow", flow_tables(), STUDY_TOML)
    out = tmp_path / "flow.csv"
    assert main(["tte", str(folder), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 79
    # Without the study file, the arm 'none' makes a two-arm table impossible.
    (folder / "study.toml").unlink()
    assert main(["tte", str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "exactly two arm labels" in err and "none (6)" in err


def test_validate_reports_text_in_numeric_covariates_by_id(tmp_path, capsys):
    import shutil

    from mace_outcomes.datasets import example_path

    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    patients = pd.read_csv(folder / "patients.csv")
    patients["age_years"] = patients["age_years"].astype(object)
    patients.loc[patients.patient_id == "P002", "age_years"] = "seventy"
    patients.to_csv(folder / "patients.csv", index=False)
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "P002" in err and "age_years" in err and "patients.csv" in err
    assert main(["validate"]) == 0  # the bundled cohort
