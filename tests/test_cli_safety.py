"""The console script is safe to use: no silent defaults, no traceback, no overwriting."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pandas as pd
import pytest
from records_cases import base_tables

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.records import write_table
from mace_outcomes.report.study import read_study


def _folder(path, events=None):
    path.mkdir(parents=True)
    p, le, e = base_tables()
    for name, df in (("patients", p), ("lesions", le), ("events", e if events is None
                                                         else events(e))):
        write_table(df, path / f"{name}.csv")
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- study file
def test_a_study_path_with_a_typo_is_an_error(tmp_path, capsys):
    folder = _folder(tmp_path / "cohort")
    assert main(["validate", str(folder)]) == 0  # no study.toml in the folder: defaults
    capsys.readouterr()
    typo = tmp_path / "studdy.toml"
    assert main(["validate", str(folder), "--study", str(typo)]) == 1
    assert "study file not found" in capsys.readouterr().err
    out = tmp_path / "results"
    assert main(["analyze", str(folder), "--study", str(typo), "--out", str(out),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "studdy.toml" in err and "not found" in err
    assert not out.exists()
    with pytest.raises(mo.InputError, match="not found"):
        read_study(typo, required=True)


BAD_STUDY = """\
seed = 1
[study]
title = 123
synthetic = "yes"
arms = ["OCT"]
horizon_days = inf
level = "vessel"
endpoints = "mace"
primary_outcome = 3
[exclusions]
"old" = 1
[aliases]
"HA" = 2
[propensity]
covariates = ["age", "age"]
estimand = "ate"
bootstrap = -1
seed = "abc"
[tables]
procedural = "perforation"
[figures]
width = "wide"
unit = "weeks"
formats = ["png", "bmp"]
dpi = 0
[other]
a = 1
"""
# one problem per key (the top-level 'seed' is misplaced, [other] is unknown)
BAD_KEYS = {"title", "synthetic", "arms", "horizon_days", "level", "endpoints",
            "primary_outcome", "exclusions", "aliases", "covariates", "estimand",
            "bootstrap", "seed", "procedural", "width", "unit", "formats", "dpi"}


def test_every_bad_study_value_is_reported_in_one_message(tmp_path, capsys):
    folder = _folder(tmp_path / "cohort")
    study = tmp_path / "bad.toml"
    study.write_text(BAD_STUDY)
    assert main(["validate", str(folder), "--study", str(study)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("20 problems")  # 18 keys + misplaced 'seed' + [other]
    with pytest.raises(mo.InputError) as info:
        read_study(study)
    problems = info.value.problems
    assert {p.column for p in problems if p.column} == BAD_KEYS
    assert all(p.source == str(study) for p in problems)
    assert "unknown section [other]" in err and "belongs in [propensity]" in err
    # a string is not iterated: no "unknown endpoint 'm'"
    assert "'m'" not in err and "not a single string" in err
    assert "'bmp'" in err and "seed = 2024" in err  # the fix shows a valid value


def test_aliases_section_is_accepted_and_used(tmp_path, capsys):
    def coded(e):
        e.loc[e.event_id == "E1", "event_type"] = "HEART_ATTACK"
        return e

    folder = _folder(tmp_path / "cohort", coded)
    assert main(["validate", str(folder)]) == 1
    assert "HEART_ATTACK" in capsys.readouterr().err
    study = tmp_path / "s.toml"
    study.write_text('[aliases]\n"HEART_ATTACK" = "mi"\n')
    assert main(["validate", str(folder), "--study", str(study)]) == 0
    assert read_study(study).aliases == {"HEART_ATTACK": "mi"}


# ----------------------------------------------------------------------------- bugs
def _boom(*args, **kwargs):
    raise TypeError("unsupported operand\ntype(s) for +: 'int' and 'str'")


def test_an_internal_error_is_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    folder = _folder(tmp_path / "cohort")
    monkeypatch.setattr("mace_outcomes.report.preflight.preflight", _boom)
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("mace-outcomes: internal error (TypeError: unsupported operand "
                          "type(s) for +: 'int' and 'str'). This is a bug")
    assert "--debug" in err
    for argv in (["--debug", "validate", str(folder)], ["validate", str(folder), "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "_boom" in err and "internal error" in err


def test_input_errors_stay_exit_1_and_interrupts_exit_130(tmp_path, capsys, monkeypatch):
    assert main(["validate", str(tmp_path / "missing")]) == 1
    assert "no such folder" in capsys.readouterr().err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mace_outcomes.report.preflight.preflight", interrupted)
    assert main(["validate", str(_folder(tmp_path / "cohort"))]) == 130
    assert capsys.readouterr().err == ""


def test_the_console_script_shows_no_traceback(tmp_path):
    # a real process: a study file that is a folder, then a real internal error
    folder = _folder(tmp_path / "cohort")
    run = [sys.executable, "-m", "mace_outcomes.cli"]
    res = subprocess.run(run + ["validate", str(folder), "--study", str(folder)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "is a folder" in res.stderr
    assert "Traceback" not in res.stderr
    code = ("import sys, mace_outcomes.report.preflight as m\n"
            "def f(*a, **k): raise ZeroDivisionError('division by zero')\n"
            "m.preflight = f\nfrom mace_outcomes.cli import main\n"
            f"sys.exit(main(['validate', {str(folder)!r}]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "internal error (ZeroDivisionError: division by zero)" in res.stderr


# ----------------------------------------------------------------------------- tte -o
def test_tte_never_overwrites_an_existing_file(tmp_path, capsys):
    folder = _folder(tmp_path / "cohort")
    out = tmp_path / "tte.csv"
    out.write_text("precious\n")
    assert main(["tte", str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "never overwritten" in err and str(out) in err
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort", "tte.csv"]  # no debris


def test_tte_refuses_the_cohorts_own_tables(tmp_path, capsys):
    folder = _folder(tmp_path / "cohort")
    before = {p.name: _digest(p) for p in folder.iterdir()}
    for target in (folder / "patients.csv", tmp_path / "cohort" / ".." / "cohort" /
                   "events.csv"):
        assert main(["tte", str(folder), "-o", str(target)]) == 1
        err = capsys.readouterr().err
        assert f"cohort's own {target.stem} table" in err
    link = tmp_path / "also_patients.csv"  # another name for the same file
    os.link(folder / "patients.csv", link)
    assert main(["tte", str(folder), "-o", str(link)]) == 1
    assert "cohort's own patients table" in capsys.readouterr().err
    assert {p.name: _digest(p) for p in folder.iterdir()} == before


def test_tte_refuses_a_file_created_while_it_was_writing(tmp_path, capsys, monkeypatch):
    folder = _folder(tmp_path / "cohort")
    out = tmp_path / "tte.csv"

    def racing_write(frame, path):
        out.write_text("someone else's\n")  # the name is taken between check and write
        return write_table(frame, path)

    monkeypatch.setattr("mace_outcomes.records.write_table", racing_write)
    assert main(["tte", str(folder), "-o", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert out.read_text() == "someone else's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort", "tte.csv"]
    monkeypatch.undo()
    fresh = tmp_path / "new" / "tte.csv"
    assert main(["tte", str(folder), "--horizon", "365", "-o", str(fresh)]) == 0
    # the hand-worked times of the base cohort (records_cases)
    assert pd.read_csv(fresh)["time"].tolist() == [150, 300, 5, 40, 200, 250]
