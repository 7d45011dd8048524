"""The report draws what compare_arms fitted, and reports every patient it leaves out.

Checked against direct counts on the time-to-event frames (numbers at risk are the rows,
or the sum of the weights, still followed at each time), against the comparison's own
stored curves, and by counting the estimator calls the report makes.
"""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.datasets import example_path
from mace_outcomes.report import _html


def _cohort(tmp_path, level="patient", lesionless=(), free_text=False):
    """A copy of the bundled cohort with a smaller study (two endpoints, no primary
    outcome, PNG figures only), so a whole-study run takes a few seconds."""
    folder = tmp_path / "cohort"
    shutil.copytree(example_path(), folder)
    study = (folder / "study.toml").read_text()
    study = study.replace('level = "patient"', f'level = "{level}"')
    study = re.sub(r'primary_outcome = "[^"]*"', 'primary_outcome = ""', study)
    study = study.replace('endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
                          'endpoints = ["mace", "cardiac_death"]')
    study = study.replace('width = "single"', 'width = "single"\nformats = ["png"]')
    (folder / "study.toml").write_text(study)
    lesions = pd.read_csv(folder / "lesions.csv")
    lesions = lesions[~lesions["patient_id"].isin(lesionless)]
    if free_text:
        lesions["operator_remark"] = [f"long free-text remark number {i} about this lesion"
                                      for i in range(len(lesions))]
    lesions.to_csv(folder / "lesions.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def spied(tmp_path_factory):
    """One patient-level study run, counting estimator calls and keeping each comparison
    and each figure's at-risk table."""
    tmp = tmp_path_factory.mktemp("engine")
    folder = _cohort(tmp)
    calls = {"kaplan_meier": 0, "logrank": 0}
    comparisons, risk = [], {}
    km, lr, cmp = mo.kaplan_meier, mo.logrank, mo.compare_arms
    figure = _html.Writer.figure

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    def keep(*a, **k):
        comparisons.append((a[0], cmp(*a, **k)))
        return comparisons[-1][1]

    def record(self, name, fig, **caption):
        if getattr(fig, "risk_table", None) is not None:
            risk[name] = fig.risk_table.copy()
        return figure(self, name, fig, **caption)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mo, "kaplan_meier", count("kaplan_meier", km))
        mp.setattr(mo, "logrank", count("logrank", lr))
        mp.setattr(mo, "compare_arms", keep)
        mp.setattr(_html.Writer, "figure", record)
        res = mo.analyze(folder, out=tmp / "results", bootstrap=0, progress=False)
    return res, calls, comparisons, risk


def test_report_fits_each_analysis_once(spied):
    res, calls, comparisons, _ = spied
    eps = res.results["endpoints"]
    without_events = sum(e["events"] == 0 for e in eps.values())
    assert len(comparisons) == len(eps) - without_events == 2
    # curves only for an endpoint without events (nothing was compared); no log-rank refit
    assert calls == {"kaplan_meier": without_events, "logrank": 0}


def test_km_figures_show_the_compared_curves(spied):
    res, _, comparisons, risk = spied
    for (tte, comp), ep in zip(comparisons, ["mace", "cardiac_death"], strict=True):
        for analysis, suffix in (("crude", "crude"), ("IPTW-ATE", "iptw")):
            shown = risk[f"km_{ep}_{suffix}"]
            days = np.unique(shown["time_days"].to_numpy())
            stored = comp.curves[analysis].risk_table(days)
            ps = comp.propensity.get(analysis)
            w = np.ones(len(tte)) if ps is None else ps.weights.to_numpy()
            for arm in (comp.treated, comp.control):
                fig_n = shown.loc[shown["group"] == arm, "n_risk"].to_numpy()
                assert fig_n == pytest.approx(
                    stored.loc[stored["group"] == arm, "n_risk"].to_numpy(), rel=1e-12)
                # independent count: rows (or weights) still followed at each time
                t = tte["time"].to_numpy()
                mine = (tte["arm"] == arm).to_numpy()
                direct = [(w * mine * (t >= d)).sum() for d in days]
                assert fig_n == pytest.approx(direct, rel=1e-12)
        # results.json reports the crude test the figure shows
        assert res.results["endpoints"][ep]["logrank"]["p"] == comp.tests["crude"].p_value


def test_analyze_refuses_a_study_file_that_does_not_exist(tmp_path):
    with pytest.raises(mo.InputError, match="study file not found") as err:
        mo.analyze(out=tmp_path / "results", study=tmp_path / "typo.toml", progress=False)
    assert "typo.toml" in str(err.value)
    assert not (tmp_path / "results").exists()


def test_lesion_level_flow_and_free_text_note(tmp_path):
    folder = _cohort(tmp_path, level="lesion", lesionless=["P001", "P002"], free_text=True)
    res = mo.analyze(folder, out=tmp_path / "results", bootstrap=0, progress=False)
    assert any("LesionRecordsWarning" in w and "P001" in w for w in res.results["warnings"])
    flow = pd.DataFrame(json.loads((res.out / "results.json").read_text())["attrition"])
    line = flow[flow["reason"] == "no lesion records"]
    assert len(line) == 1 and line["patients"].iloc[0] == 2
    # every input patient accounted for: input = excluded + analysed
    assert flow.loc[flow.stage == "input", "patients"].iloc[0] == (
        flow.loc[flow.stage != "input", "patients"].sum())
    # the paper's 79 analysed patients (84 lesions), less the two without lesion rows
    assert flow.loc[flow.stage == "analysed", "patients"].iloc[0] == 79 - 2
    assert res.results["endpoints"]["mace"]["n"] == 84 - 2
    md = (res.out / "tables" / "table2_3_lesions.md").read_text()
    assert "operator_remark" in md and "Not described" in md
