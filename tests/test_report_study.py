"""The study file: template round trip and clear errors."""

import pytest

import mace_outcomes as mo
from mace_outcomes.report.study import Study, read_study, write_study_template


def test_template_reads_back_as_the_defaults(tmp_path):
    path = write_study_template(tmp_path / "study.toml")
    study = read_study(path)
    defaults = Study()
    for name in Study.__dataclass_fields__:
        if name != "source":
            assert getattr(study, name) == getattr(defaults, name), name
    with pytest.raises(mo.InputError, match="exists"):
        write_study_template(path)


def test_unknown_keys_and_bad_values_are_all_listed(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[study]\nlevel = "vessel"\nhorizon = 3\n[propensity]\nestimand = "X"\n'
                    '[extra]\na = 1\n')
    with pytest.raises(mo.InputError) as info:
        read_study(path)
    text = str(info.value)
    for piece in ("unknown key 'horizon'", "unknown section [extra]", "estimand", "level"):
        assert piece in text
    assert len(info.value.problems) == 4


def test_missing_file_gives_defaults(tmp_path):
    assert read_study(tmp_path / "none.toml") == Study()


def test_values_are_checked_together(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[study]\nhorizon_days = -1\nendpoints = ["mace", "heart_attack"]\n'
                    '[propensity]\nbootstrap = 1.5\ncovariates = "age"\n'
                    '[figures]\nformats = ["png", "bmp"]\n')
    with pytest.raises(mo.InputError) as info:
        read_study(path)
    columns = {p.column for p in info.value.problems}
    assert {"horizon_days", "endpoints", "bootstrap", "covariates", "formats"} <= columns
    assert "heart_attack" in str(info.value)


NEW_KEYS = {"study": ["m", "adjustment", "landmarks", "recurrent", "win_ratio"],
            "matching": ["ratio", "caliper", "std_caliper", "replace", "order", "exact"],
            "report": ["min_cell"]}


def test_template_documents_every_key_in_its_section():
    from mace_outcomes.report.study import TEMPLATE

    for section, keys in NEW_KEYS.items():
        body = TEMPLATE.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
        for key in keys:
            assert f"\n{key} = " in f"\n{body}", (section, key)


def test_new_keys_are_read_and_every_problem_listed_at_once(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[study]\nmissing = "impute"\nm = 5\nadjustment = ["iptw"]\n'
                    'landmarks = [30, 90]\nrecurrent = true\nwin_ratio = ["cardiac_death", '
                    '"mi"]\n[matching]\nratio = 2\ncaliper = 0\n[report]\nmin_cell = 5\n')
    study = read_study(path)
    assert (study.m, study.adjustment, study.landmarks, study.recurrent) == (
        5, ["iptw"], [30, 90], True)
    assert study.matching["ratio"] == 2 and study.matching["caliper"] == 0
    assert study.matching["order"] == "largest" and study.min_cell == 5
    path.write_text('[study]\nm = 1\nadjustment = ["iptw", "matched"]\nlandmarks = [90, 30]\n'
                    'recurrent = "yes"\nwin_ratio = ["death"]\nseed = 3\n'
                    '[matching]\nratio = 0\norder = "best"\nwidth = 1\n'
                    '[report]\nmin_cell = -1\n')
    with pytest.raises(mo.InputError) as info:
        read_study(path)
    columns = [p.column for p in info.value.problems]
    assert sorted(columns) == sorted(["m", "adjustment", "landmarks", "recurrent", "win_ratio",
                                      "seed", "ratio", "order", "width", "min_cell"])
    text = str(info.value)
    assert "'seed' belongs in [propensity]" in text and "['matched']" in text


def test_landmarks_after_the_horizon_and_match_without_covariates(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[study]\nhorizon_days = "6m"\nlandmarks = [30, 200]\n'
                    'adjustment = ["match"]\n')
    with pytest.raises(mo.InputError) as info:
        read_study(path)
    text = str(info.value)
    assert "[200]" in text and "182.5 days" in text and "nothing to match on" in text
