"""The main job end to end on the bundled cohort, checked against independent numbers."""

import html
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
            "Propensity overlap", "Adjusted (standardised) risks"]


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


# ------------------------------------------------ missing covariates: impute, complete case
COVARIATES = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]


def _blanked(tmp_path, policy: str, m: int = 4):
    """The bundled cohort with covariate values blanked (analysed patients only) and the
    study asking for ``policy``; returns the folder and {column: blanked ids}."""
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    ids = mo.load_example().patients["patient_id"].tolist()  # the analysed patients
    blanked = {"renal_insufficiency": [ids[3], ids[9], ids[40]],
               "any_ostial": [ids[40], ids[60]]}  # ids[40] in both: counted once
    patients = pd.read_csv(folder / "patients.csv")
    for col, who in blanked.items():
        patients.loc[patients.patient_id.isin(who), col] = None
    patients.to_csv(folder / "patients.csv", index=False)
    study = (folder / "study.toml").read_text().replace(
        'level = "patient"', f'level = "patient"\nmissing = "{policy}"\nm = {m}').replace(
        'endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
        'endpoints = ["mace"]')
    (folder / "study.toml").write_text(study)
    return folder, blanked


@pytest.mark.slow
def test_imputed_comparison_is_rubins_pool_of_the_per_imputation_fits(tmp_path):
    folder, blanked = _blanked(tmp_path, "impute")
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False).results
    # independently: the same imputation (seed = [propensity] seed) and one fit per data set
    tte = mo.time_to_event(mo.read_cohort(folder), "mace", horizon=365)
    imp = mo.impute(tte, variables=COVARIATES, m=4, seed=2024, treatment="arm")
    fits = [mo.compare_arms(d, treatment="arm", covariates=COVARIATES, treated="OCT")
            for d in imp.datasets]
    expected = mo.pool(fits).summary
    rows = pd.DataFrame(res["endpoints"]["mace"]["comparison"]).set_index("analysis")
    for a in ("crude", "IPTW-ATE", "overlap"):
        ref = expected.loc[f"{a}: hr"]
        assert rows.loc[a, "hr"] == pytest.approx(ref["hr"], rel=1e-10)
        assert rows.loc[a, "lower"] == pytest.approx(ref["hr_lower"], rel=1e-8)
        assert rows.loc[a, "fmi"] == pytest.approx(ref["fmi"], rel=1e-8)
    # the complete-case sensitivity rows leave out exactly the blanked patients
    cc = pd.DataFrame(res["endpoints"]["mace"]["complete_case"]).set_index("analysis")
    n_blank = len(set().union(*blanked.values()))
    assert cc.loc["crude", "n_treated"] + cc.loc["crude", "n_control"] == 79 - n_blank
    # Table 1 counts the blanks per arm; the report says which analysis is primary
    arm = mo.load_example().patients.set_index("patient_id")["arm"]
    t1 = pd.DataFrame(res["table1"])
    for col, who in blanked.items():
        line = t1[(t1["variable"].str.startswith(read_study(folder / "study.toml").label(col)))
                  & (t1["row_type"] == "missing")]
        assert line[["OCT", "IVUS"]].astype(int).values.tolist() == [
            [int((arm[who] == "OCT").sum()), int((arm[who] == "IVUS").sum())]]
    page = (tmp_path / "results" / "report.html").read_text()
    assert "Primary analysis: the comparison on m = 4 multiply imputed data sets" in page
    assert "<h2>Multiple imputation</h2>" in page
    assert "<h2>Complete-case sensitivity analysis</h2>" in page


@pytest.mark.slow
def test_complete_case_attrition_counts_exactly_the_blanked_patients(tmp_path):
    folder, blanked = _blanked(tmp_path, "complete_case")
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False).results
    flow = pd.DataFrame(res["attrition"]).set_index("reason")
    # in order: every blank renal value, then the ostial blanks not already left out
    assert flow.loc["missing renal_insufficiency", "patients"] == 3
    assert flow.loc["missing any_ostial", "patients"] == 1
    assert flow.loc["kept", "patients"] == 79 - 4
    assert res["primary_analysis"].startswith("Primary analysis: complete cases")


def _pairs_by_hand(cohort, hierarchy, horizon, treated="OCT"):
    """Pocock's wins and losses of ``treated`` per level, pair by pair: within the pair's
    shared follow-up the first to have the level's event loses; else the next level."""
    end = mo.time_to_event(cohort, "all_cause_death", horizon=horizon).set_index("patient_id")
    first = []  # per level: the day of the event, inf without one
    for h in hierarchy:
        lev = mo.time_to_event(cohort, h, horizon=horizon).set_index("patient_id")
        lev = lev.reindex(end.index)
        first.append(np.where(lev["event"] == 1, lev["time"], np.inf))
    fu, is_t = end["time"].to_numpy(), (end["arm"] == treated).to_numpy()
    wins, losses = [0] * len(hierarchy), [0] * len(hierarchy)
    for i in np.flatnonzero(is_t):
        for j in np.flatnonzero(~is_t):
            shared = min(fu[i], fu[j])
            for k, t in enumerate(first):
                ti = t[i] if t[i] <= shared else np.inf
                tj = t[j] if t[j] <= shared else np.inf
                if ti != tj:
                    (losses if ti < tj else wins)[k] += 1
                    break
    return wins, losses


@pytest.mark.slow
def test_landmark_total_events_and_win_ratio_sections(tmp_path):
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    hierarchy = ["cardiac_death", "stroke", "mi", "tvr"]
    study = (folder / "study.toml").read_text().replace(
        'level = "patient"', 'level = "patient"\nlandmarks = [30]\nrecurrent = true\n'
        f'win_ratio = {json.dumps(hierarchy)}').replace(
        'endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
        'endpoints = ["mace"]')
    (folder / "study.toml").write_text(study)
    out = tmp_path / "results"
    res = mo.analyze(folder, out=out, bootstrap=0, progress=False).results
    for title in ("Landmark analysis: MACE, 30 days", "Total events (first and repeat)",
                  "Mean cumulative events: MACE", "Win ratio"):
        assert title in res["sections"]
    for name in ("landmark_mace_30", "mcf_mace", "win_ratio"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    cohort = mo.load_example()
    tte = mo.time_to_event(cohort, "mace", horizon=365)
    lm = pd.DataFrame(res["landmarks"]["30"]["table"]).set_index(["window", "group"])
    for arm in ("OCT", "IVUS"):
        mine = tte[tte.arm == arm]
        assert lm.loc[("0 to 30", arm), "events"] == ((mine.time <= 30) & (mine.event == 1)).sum()
        assert lm.loc[("30 to 365", arm), "n"] == (mine.time > 30).sum()
        assert lm.loc[("30 to 365", arm), "events"] == ((mine.time > 30) & (mine.event == 1)
                                                       ).sum()
    total = pd.DataFrame(res["recurrent"]["table"]).set_index("arm")
    assert total.loc["OCT", "first events"] == tte.loc[tte.arm == "OCT", "event"].sum()
    assert (total["total events"] >= total["first events"]).all()
    wins, losses = _pairs_by_hand(cohort, hierarchy, 365)
    levels = pd.DataFrame(res["win_ratio"]["table"])
    assert levels["wins"].tolist() == wins and levels["losses"].tolist() == losses
    summary = pd.DataFrame(res["win_ratio"]["summary"]).iloc[0]
    assert summary["win_ratio"] == pytest.approx(sum(wins) / sum(losses), rel=1e-12)
    checklist = (out / "tables" / "strobe_record_checklist.csv").read_text()
    assert "Landmark analysis: MACE, 30 days" in checklist and "Win ratio" in checklist


@pytest.mark.slow
def test_matched_row_figure_balance_and_counts(tmp_path):
    from mace_outcomes.report.preflight import matching_ready

    if not matching_ready():
        pytest.skip("propensity-score matching is not available yet")
    from mace_outcomes.weighting.match import match

    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    study = (folder / "study.toml").read_text().replace(
        'level = "patient"', 'level = "patient"\nadjustment = ["iptw", "overlap", "match"]'
    ).replace('endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
              'endpoints = ["mace"]') + "\n[matching]\nratio = 1\ncaliper = 0.2\n"
    (folder / "study.toml").write_text(study)
    out = tmp_path / "results"
    res = mo.analyze(folder, out=out, bootstrap=0, progress=False).results
    # independently: MatchIt-style matching, then Cox weighted by the matching weights with
    # the matched sets as clusters
    tte = mo.time_to_event(mo.load_example(), "mace", horizon=365)
    m = match(tte, treatment="arm", covariates=COVARIATES, treated="OCT", seed=2024)
    d = m.data.assign(oct=(m.data["arm"] == "OCT").astype(int))
    ref = mo.cox(d, covariates=["oct"], weights="match_weight", cluster="subclass").summary
    rows = pd.DataFrame(res["endpoints"]["mace"]["comparison"]).set_index("analysis")
    assert rows.loc["matched", "hr"] == pytest.approx(ref.loc["oct", "hr"], rel=1e-8)
    counts = pd.DataFrame(res["matching"]["counts"]).set_index("group")
    assert counts.loc["OCT", "matched"] + counts.loc["OCT", "unmatched"] == 32
    assert counts.loc["OCT", "matched"] == counts.loc["IVUS", "matched"]  # 1:1, no replacement
    assert counts.loc["IVUS", "matched"] == (m.data["arm"] == "IVUS").sum()
    for name in ("km_mace_matched", "love_matched"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    assert {"Matched sample", "Kaplan-Meier: MACE, matched"} <= set(res["sections"])


def test_analyze_docstring_names_every_report_file():
    doc = mo.analyze.__doc__
    for name in ("results.json", "report.html", "report.docx"):
        assert name in doc.split("Parameters")[0]


@pytest.mark.slow
def test_matched_table_flow_adjusted_risks_and_suppressed_json(tmp_path):
    from mace_outcomes.report.preflight import matching_ready

    if not matching_ready():
        pytest.skip("propensity-score matching is not available yet")
    from mace_outcomes.weighting.match import match

    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    study = (folder / "study.toml").read_text().replace(
        'level = "patient"', 'level = "patient"\nadjustment = ["iptw", "match"]'
    ).replace('endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
              'endpoints = ["mace"]') + "\n[report]\nmin_cell = 5\n"
    (folder / "study.toml").write_text(study)
    out = tmp_path / "results"
    res = mo.analyze(folder, out=out, bootstrap=0, progress=False).results
    tte = mo.time_to_event(mo.load_example(), "mace", horizon=365)
    m = match(tte, treatment="arm", covariates=COVARIATES, treated="OCT", seed=2024)
    n = m.data["arm"].value_counts()
    # the matched Table 1 counts exactly the matched patients of each arm
    t1 = pd.read_csv(out / "tables" / "table1_matched.csv")
    assert [c for c in t1.columns if c.startswith(("OCT (", "IVUS ("))] == [
        f"OCT (n = {n['OCT']})", f"IVUS (n = {n['IVUS']})"]
    assert (out / "figures" / "flow_matched.png").stat().st_size > 1000
    # adjusted risks: the outcome model diverges on this cohort (no event with renal
    # insufficiency in one arm); the report says why instead of stopping
    with pytest.warns(mo.StatisticalWarning), pytest.raises(mo.InputError) as err:
        mo.adjusted_risk(tte, treatment="arm", covariates=COVARIATES, method="aipw",
                         treated="OCT")
    reason = err.value.problems[0].reason.replace("['renal_insufficiency']",
                                                  "renal_insufficiency")  # names as words
    assert reason in res["adjusted_risk"]["failed"]["aipw"]
    page = (out / "report.html").read_text()
    assert "<h2>Adjusted (standardised) risks</h2>" in page
    assert html.escape(reason) in page
    iptw = mo.adjusted_risk(tte, treatment="arm", covariates=COVARIATES, method="iptw",
                            treated="OCT").table.set_index("arm")
    got = pd.DataFrame(res["adjusted_risk"]["table"]).set_index("arm")
    assert got.loc["OCT", "risk"] == pytest.approx(iptw.loc["OCT", "risk"], rel=1e-12)
    # results.json: the counts the tables suppress are suppressed there too (4 MACE events,
    # 1 and 3 per arm; 3 in-stent restenosis exclusions), the analyst's copy stays exact
    saved = json.loads((out / "results.json").read_text())
    assert saved["endpoints"]["mace"]["events"] == "<5" and res["endpoints"]["mace"][
        "events"] == 4
    crude = saved["endpoints"]["mace"]["comparison"][0]
    assert (crude["events_treated"], crude["events_control"]) == ("<5", "<5")
    assert crude["n_treated"] == 32
    excluded = [r for r in saved["attrition"] if r["reason"] == "in-stent restenosis"][0]
    assert excluded["patients"] == "<5"
    assert "<h2>Small-cell suppression</h2>" in page and "results.json" in page
    checklist = pd.read_csv(out / "tables" / "strobe_record_checklist.csv").set_index("item")
    assert "Adjusted (standardised) risks" in checklist.loc["STROBE 16c", "where"]


@pytest.mark.slow
def test_lesion_level_imputation_is_per_patient_merged_to_lesions(tmp_path):
    folder, _ = _blanked(tmp_path, "impute", m=3)
    (folder / "study.toml").write_text((folder / "study.toml").read_text().replace(
        'level = "patient"', 'level = "lesion"'))
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False).results
    # independently: impute the patients, give each lesion its patient's values, then one
    # comparison per completed data set clustered by patient, pooled
    cohort = mo.read_cohort(folder)
    patients = mo.time_to_event(cohort, "mace", horizon=365)
    lesions = mo.time_to_event(cohort, "mace", horizon=365, level="lesion")
    imp = mo.impute(patients, variables=COVARIATES, m=3, seed=2024, treatment="arm")
    fits = []
    for d in imp.datasets:
        filled = lesions.drop(columns=COVARIATES).merge(
            d[["patient_id", *COVARIATES]], on="patient_id", how="left")
        assert len(filled) == len(lesions) == 84
        fits.append(mo.compare_arms(filled, treatment="arm", covariates=COVARIATES,
                                    treated="OCT", cluster="patient_id"))
    expected = mo.pool(fits).summary
    rows = pd.DataFrame(res["endpoints"]["mace"]["comparison"]).set_index("analysis")
    for a in ("IPTW-ATE", "overlap"):
        assert rows.loc[a, "hr"] == pytest.approx(expected.loc[f"{a}: hr", "hr"], rel=1e-10)
    assert "Primary endpoint" in res["sections"]
    assert res["primary_endpoint"]["notes"][0].startswith("pooled over m = 3 imputations")
