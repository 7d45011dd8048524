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
