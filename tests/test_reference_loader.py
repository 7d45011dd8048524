"""The shared loader of tests/reference (conftest.py): copies, not shared objects."""

from conftest import REFERENCE_DIR, reference, reference_data


def test_a_test_cannot_change_another_tests_data():
    first = reference_data("lung")
    first.loc[0, "time"] = -1
    first["extra"] = 1
    again = reference_data("lung")
    assert again.loc[0, "time"] == 455 and "extra" not in again


def test_a_test_cannot_change_another_tests_r_numbers():
    first = reference("lung")
    first["cox_group_only"]["hr"] = 99.0
    first["iptw"]["weights_ate"][0] = -1.0
    again = reference("lung")
    assert again["cox_group_only"]["hr"] != 99.0 and again["iptw"]["weights_ate"][0] > 0


def test_every_r_script_has_its_json():
    scripts = sorted(REFERENCE_DIR.glob("*.R"))
    assert scripts
    for script in scripts:
        assert script.with_suffix(".json").exists(), script.name
        assert reference(script.stem), script.name
