"""Pre-flight: `validate` finds, by id and all at once, what would stop `analyze`.

Each cohort is the bundled one with known cells broken by hand, so the expected ids are
the ones edited (or, at lesion level, those patients' lesions read from lesions.csv).
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.datasets import example_path
from mace_outcomes.report.preflight import preflight
from mace_outcomes.report.study import Study, read_study


def _cohort(tmp_path, edit_patients=None, study_edit=None):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    if edit_patients is not None:
        patients = pd.read_csv(folder / "patients.csv")
        edit_patients(patients)
        patients.to_csv(folder / "patients.csv", index=False)
    if study_edit is not None:
        text = (folder / "study.toml").read_text()
        (folder / "study.toml").write_text(study_edit(text))
    return folder


def _validate(folder, capsys, *extra) -> str:
    assert main(["validate", str(folder), *extra]) == 1
    return capsys.readouterr().err


def _with_covariate(name):
    return lambda text: text.replace('"renal_insufficiency"', f'"{name}"')


def _infinite_egfr(p):
    p["egfr"] = p["egfr"].astype(object)
    p.loc[p.patient_id == "P002", "egfr"] = "inf"  # read back as a float infinity


def _blank_renal(p):
    p.loc[p.patient_id.isin(["P004", "P077"]), "renal_insufficiency"] = None


def test_infinite_covariate_is_named_by_patient(tmp_path, capsys):
    folder = _cohort(tmp_path, _infinite_egfr, _with_covariate("egfr"))
    err = _validate(folder, capsys)
    assert "1 problem" in err  # reported once (records check), not again by the model
    assert "infinite" in err and "egfr" in err and "rows [P002]" in err
    # also when egfr is only described, not modelled: no model accepts infinity
    cohort = mo.read_cohort(folder)
    problems = mo.records.validate.covariate_problems(cohort)
    assert [(p.column, p.rows) for p in problems] == [("egfr", ("P002",))]


def test_blank_propensity_covariate_by_patient_then_lesion_ids(tmp_path, capsys):
    folder = _cohort(tmp_path, _blank_renal)
    err = _validate(folder, capsys)
    assert "renal_insufficiency" in err and "rows [P004, P077]" in err
    assert "patients.csv" in err
    lesions = pd.read_csv(folder / "lesions.csv")
    expected = lesions.loc[lesions.patient_id.isin(["P004", "P077"]), "lesion_id"].tolist()
    assert len(expected) == 4  # both have two lesions: the rows are lesions, not patients
    (folder / "study.toml").write_text((folder / "study.toml").read_text().replace(
        'level = "patient"', 'level = "lesion"'))
    _, problems = preflight(folder, read_study(folder / "study.toml"))
    blank = [p for p in problems if p.column == "renal_insufficiency"]
    assert len(blank) == 1 and sorted(blank[0].rows) == sorted(expected)


def test_unknown_procedural_column_is_reported(tmp_path, capsys):
    folder = _cohort(tmp_path, study_edit=lambda t: t.replace('"perforation"',
                                                              '"perforations"'))
    err = _validate(folder, capsys)
    assert "'perforations'" in err and "procedural" in err and "lesions.csv" in err


def test_covariate_that_separates_the_arms_is_a_problem(tmp_path, capsys):
    # every OCT patient has sep = 1, every IVUS patient sep = 0: no overlap, no weights.
    # (Needs propensity's InputError on separation.)
    def separating(p):
        p["sep"] = (p["arm"] == "OCT").astype(int)

    folder = _cohort(tmp_path, separating, _with_covariate("sep"))
    err = _validate(folder, capsys)
    assert "propensity model" in err and "sep" in err and "separation" in err


def test_every_problem_at_once_and_exclusions_in_order(tmp_path, capsys):
    def broken(p):
        _blank_renal(p)
        p["age_years"] = p["age_years"].astype(object)
        p.loc[p.patient_id == "P003", "age_years"] = "seventy"

    folder = _cohort(tmp_path, broken, lambda t: t.replace('"any_ostial"', '"ostial_x"')
                     .replace('"perforation"', '"perforations"'))
    err = _validate(folder, capsys)
    assert err.startswith("4 problems")
    for words in ("P003", "age_years", "P004, P077", "['ostial_x']", "'perforations'"):
        assert words in err
    # the 'none' arm is removed by the first exclusion: no arm problem is reported
    assert "arm" not in err.replace("arms", "")


def test_a_broken_exclusion_is_reported_not_raised(tmp_path, capsys):
    folder = _cohort(tmp_path, study_edit=lambda t: t.replace(
        "in_stent_restenosis == 1", "in_stent_restenosys == 1"))
    err = _validate(folder, capsys)
    assert "in-stent restenosis" in err and "in_stent_restenosys" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", ["infinite", "blank", "procedural"])
def test_validate_and_analyze_report_the_same_problems(tmp_path, capsys, case):
    edits = {"infinite": (_infinite_egfr, _with_covariate("egfr")),
             "blank": (_blank_renal, None),
             "procedural": (None, lambda t: t.replace('"perforation"', '"perforations"'))}
    folder = _cohort(tmp_path, *edits[case])
    from_validate = _validate(folder, capsys)
    out = tmp_path / "results"
    assert main(["analyze", str(folder), "--out", str(out), "--quiet"]) == 1
    assert capsys.readouterr().err == from_validate
    assert not out.exists()


def test_a_study_given_as_an_object_is_checked_too(tmp_path):
    folder = _cohort(tmp_path)
    cohort, problems = preflight(folder, Study(endpoints="mace", dpi=0, source="api"))
    assert cohort is None and {p.column for p in problems} == {"endpoints", "dpi"}
    cohort, problems = preflight(folder, read_study(folder / "study.toml"))
    assert problems == [] and len(cohort.patients) == 79  # the paper's analysed cohort


def _blank_severe_calcification(folder):
    lesions = pd.read_csv(folder / "lesions.csv")
    lesions.loc[lesions.lesion_id.isin(["L010", "L020"]), "severe_calcification"] = None
    lesions.to_csv(folder / "lesions.csv", index=False)


def test_impute_accepts_blank_patient_covariates_not_lesion_ones(tmp_path, capsys):
    impute = lambda t: t.replace('level = "patient"', 'level = "lesion"\nmissing = "impute"')  # noqa: E731
    folder = _cohort(tmp_path, _blank_renal, impute)
    _, problems = preflight(folder, read_study(folder / "study.toml"))
    assert problems == []  # the patients' blanks are imputed
    (folder / "study.toml").write_text((folder / "study.toml").read_text().replace(
        '"renal_insufficiency"', '"renal_insufficiency", "severe_calcification"'))
    _blank_severe_calcification(folder)
    err = _validate(folder, capsys)
    assert err.startswith("1 problem") and "severe_calcification" in err
    assert "rows [L010, L020]" in err and "patients' covariates only" in err
    assert 'missing = "complete_case"' in err


def test_match_is_refused_until_matching_is_available(tmp_path):
    from mace_outcomes.report.preflight import matching_ready

    folder = _cohort(tmp_path, study_edit=lambda t: t.replace(
        'level = "patient"', 'level = "patient"\nadjustment = ["iptw", "match"]'))
    _, problems = preflight(folder, read_study(folder / "study.toml"))
    refused = [p for p in problems if p.column == "adjustment"]
    if matching_ready():
        assert refused == []
    else:
        assert len(refused) == 1 and "not yet" in refused[0].reason


def test_blank_covariates_without_a_policy_name_ids_count_and_both_settings(tmp_path, capsys):
    folder = _cohort(tmp_path, _blank_renal)
    out = tmp_path / "results"
    assert main(["analyze", str(folder), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("1 problem")  # one clear error
    for words in ("renal_insufficiency", "rows [P004, P077]", "2 blank (missing) value(s)",
                  'missing = "complete_case"', 'missing = "impute"'):
        assert words in err
    assert not out.exists() and not list(tmp_path.glob(".results*"))  # nothing written
