"""The main job end to end on the bundled cohort, checked against independent numbers."""

import json
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test
from PIL import Image

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.datasets import example_path
from mace_outcomes.report import read_study

SECTIONS = ["Patient flow", "Follow-up", "Table 1", "Tables 2-3", "Primary endpoint",
            "Balance", "Table 4a", "Table 4b", "Crude and adjusted comparison",
            "Kaplan-Meier: MACE", "Kaplan-Meier: MACE, weighted", "Forest plot", "Love plot",
            "Propensity overlap"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis") / "results"
    # through the console entry point, as a user runs it (bootstrap kept small for speed)
    assert main(["analyze", "--out", str(out), "--bootstrap", "100", "--quiet"]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_flow_and_events_match_the_paper(run):
    _, res = run
    flow = pd.DataFrame(res["attrition"]).set_index("stage")
    assert flow.loc["input", "patients"] == 88
    assert flow.loc["analysed", "patients"] == 79 and flow.loc["analysed", "lesions"] == 84
    mace = pd.DataFrame(res["endpoints"]["mace"]["comparison"]).set_index("analysis")
    assert (mace.loc["crude", "events_treated"], mace.loc["crude", "events_control"]) == (1, 3)
    assert (mace.loc["crude", "n_treated"], mace.loc["crude", "n_control"]) == (32, 47)


def test_reported_logrank_equals_lifelines(run):
    _, res = run
    tte = mo.time_to_event(mo.load_example(), "mace", horizon=365)
    a, b = tte[tte.arm == "OCT"], tte[tte.arm == "IVUS"]
    ref = logrank_test(a.time, b.time, a.event, b.event)
    assert res["endpoints"]["mace"]["logrank"]["p"] == pytest.approx(ref.p_value, rel=1e-9)


def test_primary_endpoint_reproduces_the_paper(run):
    _, res = run
    rows = pd.DataFrame(res["primary_endpoint"]["rows"]).set_index("analysis")
    crude = rows.loc["crude"]
    # paper: 82 +- 8 % (OCT) vs 75 +- 9 % (IVUS), per lesion
    assert round(crude["value_treated"]) == 82 and round(crude["value_control"]) == 75
    assert {"regression", "IPTW-ATE", "overlap", "AIPW"} <= set(rows.index)


def test_every_section_file_and_figure(run):
    out, res = run
    assert all(s in res["sections"] for s in SECTIONS)
    page = (out / "report.html").read_text()
    for s in SECTIONS:
        assert f"<h2>{s}</h2>" in page
    assert "data:image/png;base64," in page and "src=\"figures/" not in page  # self-contained
    for name in ("km_mace_crude", "km_mace_iptw", "forest", "love", "overlap"):
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
        with Image.open(out / "figures" / f"{name}.png") as im:
            assert round(im.info["dpi"][0]) == 300
            assert im.size[0] >= 3.4 * 300  # at least a journal single column at 300 dpi
    for name in ("table1_patients", "table2_3_lesions", "table4_outcomes", "comparison"):
        for ext in ("csv", "md", "html"):
            assert (out / "tables" / f"{name}.{ext}").exists()


def test_results_json_is_strict_json(run):
    out, _ = run
    text = (out / "results.json").read_text()
    assert "NaN" not in text  # an infinite limit is the string "Infinity", never a bare token
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in results.json"))


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_opens_in_headless_chromium(run, tmp_path):
    out, _ = run
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium on this machine")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--dump-dom", (out / "report.html").as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body"))]
    n = int(body.split('data-images="')[1].split('"')[0])
    loaded = int(body.split('data-images-loaded="')[1].split('"')[0])
    assert n >= 10 and loaded == n
    for s in SECTIONS:
        assert f"<h2>{s}</h2>" in dom


def test_bad_input_writes_nothing_and_exits_1(tmp_path, capsys):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    events = pd.read_csv(folder / "events.csv")
    events.loc[0, "patient_id"] = "P999"  # a patient who does not exist
    events.loc[1, "event_date"] = "not a date"
    events.to_csv(folder / "events.csv", index=False)
    out = tmp_path / "results"
    assert main(["analyze", str(folder), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "E001" in err and "patient_id" in err  # the row ids and columns are named
    assert "E002" in err and "event_date" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".results")]


def test_init_writes_a_template_analyze_accepts(tmp_path):
    path = tmp_path / "study.toml"
    assert main(["init", str(path)]) == 0
    study = read_study(path)
    assert study.horizon_days == 365 and study.estimand == "ATE"
    assert np.isfinite(study.dpi)


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    assert main(["analyze", "--out", str(out), "--quiet"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "precious"
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    assert main(["analyze", str(folder), "--out", str(folder), "--quiet"]) == 1
    assert "overlaps the cohort folder" in capsys.readouterr().err
    assert (folder / "patients.csv").exists()


def test_unknown_covariates_and_text_in_numbers_are_named(tmp_path, capsys):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    study = (folder / "study.toml").read_text().replace('"renal_insufficiency"', '"renal"')
    (folder / "study.toml").write_text(study)
    patients = pd.read_csv(folder / "patients.csv")
    patients["age_years"] = patients["age_years"].astype(object)
    patients.loc[patients.patient_id == "P002", "age_years"] = "seventy"
    patients["egfr"] = patients["egfr"].astype(object)
    patients.loc[patients.patient_id == "P003", "egfr"] = ">90"
    patients.to_csv(folder / "patients.csv", index=False)
    out = tmp_path / "results"
    assert main(["analyze", str(folder), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "P002" in err and "age_years" in err and "P003" in err and "egfr" in err
    assert not out.exists()
    patients = pd.read_csv(example_path() / "patients.csv")
    patients.to_csv(folder / "patients.csv", index=False)
    assert main(["analyze", str(folder), "--out", str(out), "--quiet"]) == 1
    assert "['renal']" in capsys.readouterr().err


def test_a_cohort_without_events_is_reported(tmp_path):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    events = pd.read_csv(folder / "events.csv").iloc[:0]
    events.to_csv(folder / "events.csv", index=False)
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False)
    assert res.results["endpoints"]["mace"]["events"] == 0
    assert "no MACE events" in res.results["endpoints"]["mace"]["notes"][0]


@pytest.mark.slow
def test_lesion_level_study_is_clustered_by_patient(tmp_path):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    study = (folder / "study.toml").read_text().replace('level = "patient"', 'level = "lesion"')
    (folder / "study.toml").write_text(study)
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False).results
    mace = res["endpoints"]["mace"]
    assert mace["n"] == 84  # one row per lesion (paper: 33 + 51)
    comp = pd.DataFrame(mace["comparison"]).set_index("analysis")
    assert comp.loc["crude", "method"] == "Cox, robust SE"  # clustered by patient
    tte = mo.time_to_event(mo.load_example(), "mace", horizon=365, level="lesion")
    naive = mo.logrank(tte, group="arm").p_value
    assert mace["logrank"]["p"] != pytest.approx(naive)  # the clustered test was used
    page = (tmp_path / "results" / "report.html").read_text()
    assert "p from the cluster-robust log-rank (score) test" in page  # and the figure says so
    assert "Table 4b. Clinical outcomes (lesions" in page
