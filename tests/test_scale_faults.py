"""Faults on a real two-process local cluster: a worker lost in the middle of a fit is
replaced and its tasks rerun, with the in-memory result to 1e-10; and rows are never
dropped silently when the bad ones are spread over several partitions."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client, reference_data

import mace_outcomes as mo

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.xdist_group("dask_cluster_faults")

EXACT = 1e-10  # Dask against in memory: the same sums, added in another order
PS_COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]


@pytest.fixture(scope="module")
def client():
    yield from dask_client("survival", "propensity", "cox")


def lung_ids() -> pd.DataFrame:
    d = reference_data("lung")
    return d.assign(patient_id=[f"p{i}" for i in range(len(d))])


class ExitOnNthTask(distributed.WorkerPlugin):
    """Ends its worker's process (as a crash would) when the worker starts its ``n``-th
    task named ``prefix...``; a marker file created atomically makes this happen once on
    the whole cluster, so the worker the nanny starts in its place runs normally."""

    name = "exit-on-nth-task"

    def __init__(self, prefix: str, n: int, marker: str):
        self.prefix, self.n, self.marker, self.started = prefix, n, marker, 0

    def transition(self, key, start, finish, **kwargs) -> None:
        name = str(key[0] if isinstance(key, tuple) else key)
        if finish != "executing" or not name.startswith(self.prefix):
            return
        self.started += 1
        if self.started < self.n:
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)


def _with_lost_worker(client, tmp_path, fit, prefix: str):
    """Run ``fit()`` while one worker dies as it starts its 6th ``prefix`` task; return
    the result and the worker addresses before and after."""
    marker = str(tmp_path / "worker-lost")
    before = set(client.scheduler_info()["workers"])
    client.register_plugin(ExitOnNthTask(prefix, 6, marker))
    try:
        res = fit()
    finally:
        client.unregister_worker_plugin(ExitOnNthTask.name)
    assert os.path.exists(marker), "no worker was lost during the fit"
    client.wait_for_workers(2, timeout=30)
    return res, before, set(client.scheduler_info()["workers"])


# -- a worker lost in the middle of a fit ---------------------------------------------------

def test_cox_fit_survives_a_lost_worker_with_the_in_memory_result(client, tmp_path):
    """A worker process exits as it starts its 6th partial-likelihood task (one per
    partition and Newton evaluation: 8 partitions x at least 2 evaluations, so one of
    the two workers always gets there), i.e. deterministically between Newton steps,
    after the partitions' prepared rows were kept on it. The nanny starts a new worker,
    the scheduler recomputes the lost rows and reruns the lost tasks, and the fit equals
    the in-memory one to 1e-10."""
    df = reference_data("lung")
    kw = dict(covariates=["group", "age", "ph_ecog"])
    mem = mo.cox(df, **kw)
    res, before, after = _with_lost_worker(
        client, tmp_path, lambda: mo.cox(dd.from_pandas(df, npartitions=8), **kw),
        "_pertime_part")
    pd.testing.assert_frame_equal(res.summary, mem.summary, check_exact=False, rtol=EXACT,
                                  atol=1e-13)
    np.testing.assert_allclose(res.loglik, mem.loglik, rtol=EXACT)
    assert (res.n, res.n_event, res.iterations) == (mem.n, mem.n_event, mem.iterations)
    assert len(after) == 2 and len(after - before) == 1  # one worker replaced


@pytest.mark.slow
def test_propensity_fit_survives_a_lost_worker_with_the_in_memory_result(client, tmp_path):
    """As for Cox, with the worker lost at its 6th logistic Newton-step task (8
    partitions x at least 2 steps): the model rows kept on that worker are rebuilt, and
    the coefficients and weights equal the in-memory fit."""
    df = lung_ids().dropna(subset=PS_COVARIATES).reset_index(drop=True)
    mem = mo.propensity(df, "group", PS_COVARIATES)

    def fit():
        ps = mo.propensity(dd.from_pandas(df, npartitions=8), "group", PS_COVARIATES)
        return ps, ps.weights.compute()

    (res, weights), before, after = _with_lost_worker(client, tmp_path, fit,
                                                         "_newton_part")
    np.testing.assert_allclose(res.coef.to_numpy(), mem.coef.to_numpy(), rtol=1e-9,
                               atol=1e-12)
    pd.testing.assert_series_equal(weights, mem.weights, check_exact=False, rtol=EXACT)
    assert len(after) == 2 and len(after - before) == 1


# -- no silent row drops across partitions ----------------------------------------------------

def _missing_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, list[int], list[int]]:
    """Missing time or event in rows spread over every partition of 6."""
    time_rows = [3, 60, 121, 170, 205]
    event_rows = [40, 95, 150, 201]
    df = df.astype({"time": float, "event": float})
    df.loc[time_rows, "time"] = np.nan
    df.loc[event_rows, "event"] = np.nan
    return df, time_rows, event_rows


@pytest.mark.parametrize("fit", [
    lambda d: mo.kaplan_meier(d, group="group"),
    lambda d: mo.cox(d, covariates=["group", "age"]),
], ids=["kaplan_meier", "cox"])
def test_missing_time_or_event_in_several_partitions_names_every_row(client, fit):
    """9 rows with a missing time or event, in at least 4 of 6 partitions: one error
    with a problem per column naming exactly those rows' patient ids, and their count."""
    df, time_rows, event_rows = _missing_rows(lung_ids())
    ddf = dd.from_pandas(df, npartitions=6)
    bad = ddf.map_partitions(lambda p: pd.Series([int((p["time"].isna()
                                                       | p["event"].isna()).sum())]),
                             meta=(None, "i8")).compute()
    assert bad.sum() == 9 and (bad > 0).sum() >= 4  # the rows really are spread
    with pytest.raises(mo.InputError) as mem:
        fit(df)
    with pytest.raises(mo.InputError) as res:
        fit(ddf)
    assert str(res.value) == str(mem.value)
    by_column = {p.column: p for p in res.value.problems}
    assert set(by_column) == {"time", "event"}
    for col, rows in (("time", time_rows), ("event", event_rows)):
        p = by_column[col]
        assert sorted(p.rows) == sorted(f"p{i}" for i in rows)
        assert p.n_rows == len(rows)
        assert p.reason.startswith(f"{len(rows)} missing value")


def test_propensity_trimmed_plus_kept_rows_count_every_row(client):
    """trim=0.2: every row is either kept or trimmed (none lost between partitions), the
    trimmed ones are those with a score outside [0.2, 0.8], as in memory."""
    df = lung_ids().dropna(subset=PS_COVARIATES).reset_index(drop=True)
    mem = mo.propensity(df, "group", PS_COVARIATES, trim=0.2)
    res = mo.propensity(dd.from_pandas(df, npartitions=6), "group", PS_COVARIATES, trim=0.2)
    kept = res.kept.compute()
    n_trimmed = sum(res.n_trimmed.values())
    assert n_trimmed > 0 and len(kept) == len(df)
    assert int(kept.sum()) + n_trimmed == len(df)
    assert res.n_trimmed == mem.n_trimmed
    pd.testing.assert_series_equal(kept, mem.kept)
    # a score outside [0.2, 0.8] is the trimmed row, by the definition of trim=
    ps = res.scores.compute()
    assert n_trimmed == int(((ps < 0.2) | (ps > 0.8)).sum())
    summary = res.summary()
    assert int((summary["n"] - summary["n_trimmed"]).sum()) == int(kept.sum())
