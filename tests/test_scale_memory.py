"""Prepared partitions kept on the workers only when they fit (``scale._reduce.keep``):
the rule with given numbers, the sizes it reads, and the property that a fit whose
partitions are rebuilt from the source at every pass gives the same numbers as the fit
whose partitions are kept (and as the in-memory fit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from conftest import dask_client, reference_data
from scipy import sparse

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.scale import _reduce as reduce_module
from mace_outcomes.scale._reduce import (
    PERSIST_KEY,
    PERSIST_SHARE,
    cluster_memory,
    keep,
    nbytes,
    partitions_kept,
)

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.xdist_group("dask_cluster_memory")

SAME = 1e-12  # the same sums in the same order, kept or rebuilt
EXACT = 1e-10  # Dask against in memory: the same sums, added in another order
PS_COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]
GB = 1e9


@pytest.fixture(scope="module")
def client():
    yield from dask_client("propensity", "cox")


# -- the rule, with given numbers ---------------------------------------------------------------

@pytest.mark.parametrize(("estimate", "memory", "setting", "expected"), [
    # 10^8 rows x 100 bytes in 50 partitions on 2 x 4 GB: 0.35 x 8 GB / 0.2 GB = 14 kept
    (10 * GB, 8 * GB, "auto", 14),
    (2.5 * GB, 8 * GB, "auto", 50),  # under 0.35 x 8 GB: all kept
    (2.9 * GB, 8 * GB, "AUTO", 48),  # 2.8 GB / 0.058 GB
    (100 * GB, 8 * GB, "auto", 1),
    (1000 * GB, 8 * GB, "auto", 0),  # a partition over the budget: every one rebuilt
    (10 * GB, None, "auto", 50),  # no limit known: all kept
    (10 * GB, 8 * GB, True, 50),  # forced either way
    (1.0, 8 * GB, False, 0),
])
def test_rule_keeps_the_partitions_that_fit_in_a_share_of_the_workers_memory(
        estimate, memory, setting, expected):
    assert partitions_kept(estimate, 50, memory, setting, share=0.35) == expected


def test_rule_refuses_an_unknown_setting():
    with pytest.raises(InputError, match=PERSIST_KEY):
        partitions_kept(1.0, 4, 8 * GB, "sometimes")


def test_size_counts_every_array_of_a_nested_partition():
    @dataclass(frozen=True)
    class Rows:
        x: np.ndarray
        bins: object
        rest: tuple

    csr = sparse.csr_matrix((np.ones(5), np.arange(5, dtype=np.int32),
                             np.arange(6, dtype=np.int32)), shape=(5, 5))
    rows = Rows(np.zeros((100, 3)), csr, (np.zeros(100, np.int8), None))
    # hand count: 100 x 3 x 8 + (5 x 8 + 5 x 4 + 6 x 4) + 100 x 1
    assert nbytes(rows) == 2400 + 84 + 100


# -- on a real cluster ----------------------------------------------------------------------

def test_cluster_memory_is_the_sum_of_the_workers_limits(client):
    limits = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
    assert cluster_memory() == pytest.approx(sum(limits.values()))


def test_keep_leaves_partitions_lazy_when_they_exceed_the_limit(client):
    blocks = [dask.delayed(np.arange)(i, i + 1000) for i in range(4)]
    assert keep(blocks, estimate=8 * cluster_memory()) == blocks  # the same graphs
    # two of them fit in the share of the memory: those are kept, the others stay lazy
    half = keep(blocks, estimate=4 * PERSIST_SHARE * cluster_memory() / 2.5)
    assert [a is b for a, b in zip(half, blocks, strict=True)] == [False, False, True, True]
    kept = keep(blocks, estimate=1.0)
    # sized from the first partition when no estimate is given: 4 x 8,000 bytes is small
    sized = keep(blocks)
    distributed.wait([*kept, *sized])
    in_memory = {k for keys in client.has_what().values() for k in keys}
    assert {d.key for d in [*kept, *sized]} <= in_memory
    with dask.config.set({PERSIST_KEY: False}):
        assert keep(blocks, estimate=1.0) == blocks


def _lung():
    return reference_data("lung").dropna(subset=PS_COVARIATES).reset_index(drop=True)


def _prepare_tasks(fit, prefix: str) -> tuple[object, int]:
    with distributed.get_task_stream() as ts:
        out = fit()
    return out, sum(str(t["key"]).strip("('").startswith(prefix) for t in ts.data)


COX_TERMS = ["group", "age", "ph_ecog"]


def _cox_fit(df):
    return mo.cox(dd.from_pandas(df, npartitions=4), covariates=COX_TERMS, robust=True)


def _cox_columns(fit) -> np.ndarray:
    return fit.summary[["coef", "se", "naive_se"]].to_numpy()


def test_cox_rebuilt_at_every_pass_equals_the_kept_and_the_in_memory_fit(client):
    df = _lung()
    mem = mo.cox(df, covariates=COX_TERMS, robust=True)
    with dask.config.set({PERSIST_KEY: True}):
        kept, kept_tasks = _prepare_tasks(lambda: _cox_fit(df), "_prepare")
    with dask.config.set({PERSIST_KEY: False}):
        lazy, lazy_tasks = _prepare_tasks(lambda: _cox_fit(df), "_prepare")
    np.testing.assert_allclose(_cox_columns(lazy), _cox_columns(kept), rtol=SAME)
    np.testing.assert_allclose(_cox_columns(kept), _cox_columns(mem), rtol=EXACT)
    assert lazy.iterations == kept.iterations == mem.iterations
    assert kept_tasks == 4  # prepared once, on the workers
    # rebuilt at each pass: moments, Gram, every Newton evaluation (2 sums), robust meat
    assert lazy_tasks >= 4 * (3 + 2 * (lazy.iterations + 1))


@pytest.mark.slow
def test_cox_partly_kept_equals_the_fit_rebuilt_at_every_pass(client, monkeypatch):
    df = _lung()
    with dask.config.set({PERSIST_KEY: False}):
        lazy, lazy_tasks = _prepare_tasks(lambda: _cox_fit(df), "_prepare")
    monkeypatch.setattr(reduce_module, "partitions_kept", lambda *a, **k: 2)
    mixed, mixed_tasks = _prepare_tasks(lambda: _cox_fit(df), "_prepare")
    np.testing.assert_allclose(_cox_columns(mixed), _cox_columns(lazy), rtol=SAME)
    # two kept (prepared once), two rebuilt at every pass, and the first one measured
    assert mixed_tasks == 1 + 2 + lazy_tasks // 2


def test_propensity_rebuilt_at_every_step_equals_the_kept_and_the_in_memory_fit(
        client, monkeypatch):
    df = _lung()
    mem = mo.propensity(df, "group", PS_COVARIATES)

    def fit():
        return mo.propensity(dd.from_pandas(df, npartitions=4), "group", PS_COVARIATES)

    with dask.config.set({PERSIST_KEY: True}):
        kept, kept_tasks = _prepare_tasks(fit, "_model_rows")
    with dask.config.set({PERSIST_KEY: False}):
        lazy, lazy_tasks = _prepare_tasks(fit, "_model_rows")
    monkeypatch.setattr(reduce_module, "partitions_kept", lambda *a, **k: 2)
    mixed, mixed_tasks = _prepare_tasks(fit, "_model_rows")
    for a in (lazy, mixed):
        np.testing.assert_allclose(a.coef.to_numpy(), kept.coef.to_numpy(), rtol=SAME)
    np.testing.assert_allclose(kept.coef.to_numpy(), mem.coef.to_numpy(), rtol=EXACT,
                               atol=1e-13)
    np.testing.assert_allclose(lazy.weights.compute().to_numpy(), mem.weights.to_numpy(),
                               rtol=EXACT)
    assert kept_tasks == 4
    assert lazy_tasks >= 4 * 3  # at least two Newton steps and the information at the end
    assert mixed_tasks == 2 + lazy_tasks // 2
