"""The study file as a new user writes it: empty or coded arms, labels, endpoints,
lesion exclusions, durations; every number checked against a count of the input files."""

import json
import shutil

import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.datasets import example_path
from mace_outcomes.errors import InputError
from mace_outcomes.records.cohort import declared_arms
from mace_outcomes.records.durations import parse_duration
from mace_outcomes.report import read_study

CODED = """[study]
arms = {1 = "OCT-guided", 0 = "IVUS-guided"}
endpoints = ["mace", "macce"]
[endpoints.macce]
events = ["cardiac_death", "mi", "tvr", "stroke"]
label = "MACCE"
[exclusions]
"no intravascular imaging" = "arm == 9"
[exclusions.lesions]
"long lesion" = "total_stent_length_mm > 100"
[propensity]
bootstrap = 0
[figures]
formats = ["png"]
dpi = 72
[labels]
bmi = "Body-mass index, kg/m²"
[aliases]
"CD" = "cardiac_death"
"""


def _coded_folder(root):
    """The bundled cohort with arms coded 1 (OCT), 0 (IVUS), 9 (none) and an event alias."""
    folder = root / "coded"
    shutil.copytree(example_path(), folder)
    p = pd.read_csv(folder / "patients.csv")
    p["arm"] = p["arm"].map({"OCT": 1, "IVUS": 0, "none": 9})
    p.to_csv(folder / "patients.csv", index=False)
    e = pd.read_csv(folder / "events.csv")
    e["event_type"] = e["event_type"].replace({"cardiac_death": "CD"})
    e.to_csv(folder / "events.csv", index=False)
    (folder / "study.toml").write_text(CODED)
    return folder


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    root = tmp_path_factory.mktemp("coded")
    folder = _coded_folder(root)
    res = mo.analyze(folder, out=root / "results", progress=False)
    return folder, res.out, json.loads((res.out / "results.json").read_text())


def test_toml_keys_match_integer_and_boolean_codes():
    assert declared_arms({"1": "A", "0": "B"}, pd.Series([0, 1]))[:2] == ([1, 0], {1: "A", 0: "B"})
    assert declared_arms(["1", "0"], pd.Series([0.0, 1.0]))[0] == [1.0, 0.0]
    assert declared_arms({"True": "A", "false": "B"}, pd.Series([False, True]))[0] == [True, False]
    assert declared_arms([1, 0], pd.Series([0, 1]))[0] == [1, 0]
    assert declared_arms({"2": "A", "0": "B"}, pd.Series([0, 1]))[2] == ["2"]
    assert declared_arms([], pd.Series([0, 1])) == ([], {}, [])


def test_coded_arms_are_labelled_everywhere(coded):
    folder, out, res = coded
    p = pd.read_csv(folder / "patients.csv")
    les = pd.read_csv(folder / "lesions.csv")
    assert res["arms"] == {"treated": "OCT-guided", "control": "IVUS-guided",
                           "codes": {"treated": 1, "control": 0}}
    t1 = pd.read_csv(out / "tables" / "table1_patients.csv")
    assert any("OCT-guided" in str(c) for c in t1.columns)
    mace = res["endpoints"]["mace"]
    # patients per arm counted from the input file: 9 is excluded
    assert mace["n"] == int((p.arm != 9).sum())
    assert "OCT-guided" in json.dumps(mace["km_at_horizon"])
    assert (out / "tables" / "table4_outcomes.md").read_text().count("OCT-guided") >= 1
    flow = pd.DataFrame(res["attrition"]).set_index("reason")
    kept = les[les.patient_id.isin(p.loc[p.arm != 9, "patient_id"])]
    assert flow.loc["long lesion", "lesions"] == int((kept.total_stent_length_mm > 100).sum())


def test_labels_in_tables_and_captions(coded):
    _, out, res = coded
    t1 = (out / "tables" / "table1_patients.md").read_text()
    assert "Age, years" in t1 and "Body-mass index, kg/m²" in t1 and "age_years" not in t1
    t4 = (out / "tables" / "table4_outcomes.md").read_text()
    assert "MACCE" in t4 and "MACE" in t4
    page = (out / "report.html").read_text()
    assert "<figcaption>km_" not in page and "Kaplan-Meier cumulative incidence" in page


def test_no_primary_endpoint_unless_asked(coded):
    _, out, res = coded
    assert "primary_endpoint" not in res and "Primary endpoint" not in res["sections"]
    t23 = pd.read_csv(out / "tables" / "table2_3_lesions.csv")
    assert not t23.astype(str).apply(lambda c: c.str.contains("tent expansion")).any().any()


def test_custom_composite_counts_its_events(coded):
    folder, _, res = coded
    e = pd.read_csv(folder / "events.csv")
    p = pd.read_csv(folder / "patients.csv")
    e = e.merge(p[["patient_id", "index_date", "arm"]], on="patient_id")
    e = e[e.arm != 9]
    days = (pd.to_datetime(e.event_date) - pd.to_datetime(e.index_date)).dt.days
    types = {"CD", "undetermined_death", "mi", "tvr", "tlr", "stroke"}
    hand = e[e.event_type.isin(types) & (days <= 365)].patient_id.nunique()
    assert res["endpoints"]["macce"]["events"] == hand


@pytest.mark.slow
def test_init_template_runs_end_to_end(tmp_path):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    (folder / "study.toml").unlink()
    p = pd.read_csv(folder / "patients.csv")
    p = p[p.arm != "none"]
    p.to_csv(folder / "patients.csv", index=False)
    for name in ("lesions", "events"):  # their records go with the patients
        t = pd.read_csv(folder / f"{name}.csv")
        t[t.patient_id.isin(p.patient_id)].to_csv(folder / f"{name}.csv", index=False)
    assert main(["init", str(folder / "study.toml")]) == 0
    assert main(["validate", str(folder)]) == 0
    res = mo.analyze(folder, out=tmp_path / "r", bootstrap=0, progress=False).results
    # empty arms: from the data, the first sorted label (IVUS) the reference
    assert res["arms"]["treated"] == "OCT" and res["arms"]["control"] == "IVUS"
    assert res["endpoints"]["mace"]["n"] == len(p)  # the template excludes nobody
    assert "primary_endpoint" not in res


@pytest.mark.slow
def test_lesion_level_table_4b_says_lesions(tmp_path):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    text = (folder / "study.toml").read_text().replace('level = "patient"', 'level = "lesion"')
    text = text.replace('primary_outcome = "stent_expansion"', "")
    (folder / "study.toml").write_text(text.replace("covariates = [", "covariates0 = ["))
    with pytest.raises(InputError):  # an unknown key is refused, not ignored
        read_study(folder / "study.toml")
    (folder / "study.toml").write_text(text.replace(
        '[propensity]', '[propensity]\ncovariates = []\n#').replace(
        'covariates = ["renal', '# covariates = ["renal'))
    res = mo.analyze(folder, out=tmp_path / "r", bootstrap=0, progress=False)
    t4 = (res.out / "tables" / "table4_outcomes.md").read_text()
    assert "(lesions" in t4 and "(patients)" not in t4


@pytest.mark.parametrize("text, days", [(365, 365.0), ("365d", 365.0), ("12m", 365.0),
                                        ("1y", 365.0), ("6m", 182.5), ("2w", 14.0)])
def test_durations_in_days(text, days):
    assert parse_duration(text) == pytest.approx(days)  # a month is 365/12 days


@pytest.mark.parametrize("bad", ["1 year", "-3m", "0d", True, "y"])
def test_bad_durations_are_input_errors(bad):
    with pytest.raises(InputError):
        parse_duration(bad)


def test_cli_horizon_1y_equals_365_days(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["tte", str(example_path()), "--horizon", "1y", "-o", str(a)]) == 0
    assert main(["tte", str(example_path()), "--horizon", "365", "-o", str(b)]) == 0
    assert a.read_text() == b.read_text()
    assert main(["tte", str(example_path()), "--horizon", "1 year", "-o",
                 str(tmp_path / "c.csv")]) == 1


def test_study_horizon_in_months(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[study]\nhorizon_days = 6\ntime_unit = "months"\n')
    assert read_study(f).horizon_days == pytest.approx(182.5)
    f.write_text('[study]\nhorizon_days = "1y"\n')
    assert read_study(f).horizon_days == 365.0
