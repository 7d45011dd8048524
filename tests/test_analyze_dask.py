"""``analyze(engine="dask")`` against the in-memory ``analyze`` on the same folder.

The in-memory engine is the independent reference (its estimators are held against R
in the other test modules): run on the same Parquet records and the same patient-level
study, every number both report -- Kaplan-Meier at the horizon by arm, the log-rank
statistic, the crude and weighted hazard ratios with their limits, Table 1 counts and
the follow-up table -- agrees to 1e-10. The progress bar is told of every Newton step
of every Cox fit (counted against the fit's own iteration count), settings the Dask
engine cannot run are refused before any work, and the output folder keeps its safety
rules. The runs use the module's two-process cluster through its scheduler address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.errors import InputError

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.xdist_group("dask_cluster")

STUDY = """\
[study]
title = "Dask engine check"
synthetic = true
arms = ["OCT", "IVUS"]
horizon_days = 365
level = "patient"
endpoints = ["mace"]
adjustment = ["iptw"]
{extra}
[propensity]
covariates = ["renal_insufficiency", "any_left_main"]
bootstrap = 0

[figures]
formats = ["png"]
dpi = 300
"""


@pytest.fixture(scope="module")
def client():
    yield from dask_client("io", "tte", "survival", "cox", "propensity", "compare",
                           "balance")


def _folder(root, extra: str = ""):
    """A simulated registry of 300 patients as Parquet files, with a patient-level study."""
    sim = mo.simulate_registry(n_patients=300, seed=11)
    root.mkdir()
    sim.patients.assign(arm=sim.patients["arm"].astype(str)).to_parquet(
        root / "patients.parquet")
    sim.events.drop(columns="lesion_id").to_parquet(root / "events.parquet")
    (root / "study.toml").write_text(STUDY.format(extra=extra))
    return root


@pytest.fixture(scope="module")
def runs(client, tmp_path_factory):
    """Both engines on one folder; each Cox fit of the Dask run with the number of
    progress calls made while it ran."""
    import mace_outcomes.scale.cox as dask_cox
    from mace_outcomes.report import _dask

    tmp = tmp_path_factory.mktemp("analyze_dask")
    folder = _folder(tmp / "cohort")
    calls, fits = [], []
    fit, record = dask_cox.cox, _dask.Steps.__call__

    def counted(self, what):
        calls.append(what)
        return record(self, what)

    def cox(*a, **k):
        before = calls.count("Cox Newton step")
        result = fit(*a, **k)
        fits.append((calls.count("Cox Newton step") - before, result.iterations))
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dask_cox, "cox", cox)
        mp.setattr(_dask.Steps, "__call__", counted)
        dask_run = mo.analyze(folder, tmp / "dask", engine="dask", progress=False,
                              scheduler=client.scheduler.address)
    memory = mo.analyze(folder, tmp / "memory", progress=False)
    return {"dask": dask_run, "memory": memory, "fits": fits, "folder": folder,
            "tmp": tmp, "json": json.loads((tmp / "dask" / "results.json").read_text())}


def _close(a, b, tol=1e-10):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 1e-3)


def test_dask_report_numbers_equal_the_in_memory_report(runs):
    d, m = runs["dask"].results, runs["memory"].results
    assert runs["json"]["engine"]["name"] == "dask"
    assert d["arms"]["treated"] == m["arms"]["treated"] == "OCT"
    e_d, e_m = d["endpoints"]["mace"], m["endpoints"]["mace"]
    assert (e_d["n"], e_d["events"]) == (e_m["n"], e_m["events"]) == (300, e_m["events"])
    km_d = e_d["km_at_horizon"].set_index("group").sort_index()
    km_m = e_m["km_at_horizon"].set_index("group").sort_index()
    for col in ("surv", "std_err", "lower", "upper", "n_risk"):
        _close(km_d[col], km_m[col])
    _close(e_d["logrank"]["statistic"], e_m["logrank"]["statistic"])
    c_d = e_d["comparison"].set_index("analysis")
    c_m = e_m["comparison"].set_index("analysis")
    assert list(c_d.index) == list(c_m.index) == ["crude", "IPTW-ATE"]
    for col in ("hr", "lower", "upper", "p", "surv_treated", "surv_control", "logrank_p",
                "rmst_diff", "ess_treated"):
        _close(c_d[col], c_m[col])
    assert (c_d[["events_treated", "events_control"]].to_numpy()
            == c_m[["events_treated", "events_control"]].to_numpy()).all()
    # the balance table of the propensity model
    b_d = d["propensity"]["balance"].set_index("covariate")
    b_m = m["propensity"]["balance"].set_index("covariate").loc[b_d.index]
    _close(b_d["smd_weighted"], b_m["smd_weighted"])


def test_table_one_and_follow_up_equal_the_in_memory_tables(runs):
    d, m = runs["dask"].results, runs["memory"].results
    t_d, t_m = d["table1"], m["table1"]
    # categorical rows: the same counts and percentages, cell for cell
    cats = t_m[t_m["row_type"].isin(["binary", "level"])]
    got = t_d.set_index(["variable", "level"]).loc[list(zip(cats["variable"],
                                                            cats["level"], strict=True))]
    assert (got[["OCT", "IVUS"]].to_numpy() == cats[["OCT", "IVUS"]].to_numpy()).all()
    assert len(cats) >= 10
    # the arm sizes in the header and every variable described
    assert list(t_d["variable"].unique()) == list(t_m["variable"].unique())
    fu_d = d["followup"].set_index("group")
    fu_m = m["followup"].set_index("group").loc[fu_d.index]
    assert fu_d["n"].tolist() == fu_m["n"].tolist() and fu_d.loc["overall", "n"] == 300
    _close(fu_d.drop(columns="n"), fu_m[fu_d.drop(columns="n").columns])
    # the attrition accounts for every record read
    att = d["attrition"].set_index("stage")
    assert att.loc["analysed", "patients"] == att.loc["input", "patients"] == 300


def test_continuous_rows_are_the_in_memory_mean_sd_and_t_test(runs):
    """Table 1 shows mean ± SD for every continuous variable on Dask: the in-memory
    table_one with nonnormal=False gives the same cells and p (Student or Welch by
    Levene's test, computed from the cluster's sums)."""
    from mace_outcomes.report import read_study
    from mace_outcomes.report.analyze import _ID_COLUMNS, _labels

    patients = pd.read_parquet(runs["folder"] / "patients.parquet")
    labels = _labels(read_study(runs["folder"] / "study.toml"), patients.columns)
    ref = mo.table_one(patients, group="arm", exclude=list(_ID_COLUMNS), labels=labels,
                       arms=["OCT", "IVUS"], nonnormal=False).table
    got = runs["dask"].results["table1"]
    cont = ref[ref["row_type"] == "continuous"]
    assert len(cont) >= 4
    mine = got.set_index("variable").loc[cont["variable"]]
    mine = mine[mine["row_type"] == "continuous"]
    assert (mine[["OCT", "IVUS", "test"]].to_numpy()
            == cont[["OCT", "IVUS", "test"]].to_numpy()).all()
    _close(mine["p"], cont["p"])
    _close(mine["smd"], cont["smd"])


def test_progress_is_told_of_every_cox_newton_step(runs):
    fits = runs["fits"]
    assert len(fits) == 2  # crude and IPTW-ATE rows of the one endpoint
    for told, iterations in fits:
        assert iterations >= 1 and told >= iterations


def test_the_bar_shows_the_stage_and_its_newton_step():
    from mace_outcomes.report._dask import Steps

    class Bar:
        def set_postfix_str(self, text):
            self.text = text

    steps = Steps(Bar())
    steps.begin("endpoints: mace")
    for _ in range(3):
        steps("Cox Newton step")
    assert steps.bar.text == "endpoints: mace: Cox Newton step 3"
    steps.begin("endpoints: mi")  # counted afresh in each stage, and in all
    steps("Cox Newton step")
    assert steps.bar.text == "endpoints: mi: Cox Newton step 1"
    assert steps.counts["Cox Newton step"] == 4
    assert set(steps.seconds) == {"endpoints: mace"}


def test_report_files_written_through_the_safe_output(runs):
    out = runs["tmp"] / "dask"
    listed = (out / ".mace-outcomes").read_text().splitlines()[1:]
    for name in ("report.html", "report.docx", "results.json", "tables/table1_patients.csv",
                 "figures/km_mace_crude.png", "figures/km_mace_iptw.png", "figures/flow.png"):
        assert name in listed and (out / name).is_file()
    # a folder holding a file the package did not write is refused before any work
    (out / "my_notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="did not write"):
        mo.analyze(runs["folder"], out, engine="dask", progress=False,
                   scheduler="tcp://127.0.0.1:1")
    assert (out / "my_notes.txt").read_text() == "keep me"


def test_the_existing_cluster_is_left_running(client, runs):
    assert len(client.scheduler_info()["workers"]) == 2
    assert client.submit(sum, [1, 2]).result() == 3


def test_lesion_level_and_other_settings_refused_before_any_work(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "cohort", extra='missing = "impute"\nlandmarks = [30]')
    text = (folder / "study.toml").read_text().replace('level = "patient"', 'level = "lesion"')
    (folder / "study.toml").write_text(text)
    monkeypatch.setattr(distributed, "LocalCluster", None)  # no cluster may be started
    with pytest.raises(InputError) as err:
        mo.analyze(folder, tmp_path / "out", engine="dask", progress=False)
    message = str(err.value)
    for setting in ("level = 'lesion'", "missing = 'impute'", "landmarks"):
        assert setting in message
    assert 'set level = "patient"' in message and 'engine="memory"' in message
    assert not (tmp_path / "out").exists()


def test_dask_missing_is_one_error_naming_the_extra(tmp_path, monkeypatch):
    from mace_outcomes.report import _dask

    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(InputError, match=r'pip install "mace_outcomes\[dask\]"'):
        with _dask.cluster(None):
            pass


def test_cli_scheduler_without_dask_engine_is_an_input_error(tmp_path, capsys):
    code = main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--scheduler", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    assert code == 1
    assert "--scheduler is used only with --engine dask" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="only with engine='dask'"):
        mo.analyze(tmp_path, tmp_path / "out", scheduler="tcp://127.0.0.1:8786")


def test_importing_the_package_does_not_import_dask():
    code = ("import sys, mace_outcomes, mace_outcomes.report.analyze, mace_outcomes.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_local_cluster_is_closed_after_a_failed_run(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "cohort")
    text = (folder / "study.toml").read_text().replace('"any_left_main"]', '"no_such"]')
    (folder / "study.toml").write_text(text)
    started = []
    local = distributed.LocalCluster

    def spy(*a, **k):
        assert k["threads_per_worker"] == 1 and k["processes"] is True
        assert k["n_workers"] == min(2, os.cpu_count())
        started.append(local(*a, **k))
        return started[-1]

    monkeypatch.setattr(distributed, "LocalCluster", spy)
    with pytest.raises(InputError, match="no_such"):
        mo.analyze(folder, tmp_path / "out", engine="dask", progress=False)
    assert len(started) == 1 and started[0].status.name == "closed"
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))  # the staging folder removed
