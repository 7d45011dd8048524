"""Partition statistics and their tree sum: the one reduction of every Dask estimator.

A partition yields a :class:`Part`: the rows it holds, the input problems it found
(:class:`~mace_outcomes.errors.Problem` keyed by column and reason, with the first row
ids and their count) and a payload of additive statistics. Parts add in a tree
(:func:`tree_sum`), so the client receives one small combined table; the problems of
all partitions come back together and raise one :class:`InputError` naming the
column, the reason, the first 20 row ids and their count, as the in-memory check does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem

__all__ = ["is_dask", "Part", "CountedProblem", "tree_sum", "checked", "raise_problems",
           "add_tables", "frame_column", "broadcast", "SHOWN", "on_step", "step", "keep",
           "partitions_kept", "nbytes", "cluster_memory", "PERSIST_KEY"]

SHOWN = 20  # row ids an error message lists (the rest are counted)
_ON_STEP: ContextVar[Callable[[str], None] | None] = ContextVar("on_step", default=None)


@contextmanager
def on_step(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(what)`` at every pass over the cluster made inside the block:
    each Newton step of a Cox or propensity fit, and each one-pass estimator (a progress
    bar for fits that take minutes)."""
    token = _ON_STEP.set(callback)
    try:
        yield
    finally:
        _ON_STEP.reset(token)


def step(what: str) -> None:
    """Report one pass (``what``: e.g. "Cox Newton step") to the :func:`on_step` callback."""
    callback = _ON_STEP.get()
    if callback is not None:
        callback(what)


def is_dask(obj) -> bool:
    """True for a Dask collection (DataFrame or Series), judged by the module of its type
    (or of a base class) without importing dask."""
    return any(c.__module__.split(".", 1)[0] == "dask" for c in type(obj).__mro__)
_MISSING = re.compile(r"^\d+ missing values? \(of \d+ rows\)$")


@dataclass(frozen=True)
class CountedProblem(Problem):
    """A :class:`Problem` found on a cluster: ``rows`` holds the first row ids only and
    ``n_rows`` counts them all, so the message reads as the in-memory one."""

    n_rows: int = 0

    def __str__(self) -> str:
        where = [str(self.source)] if self.source else []
        if self.column:
            where.append(f"column '{self.column}'")
        if self.rows:
            shown = ", ".join(map(str, self.rows[:SHOWN]))
            more = f" (+{self.n_rows - SHOWN} more)" if self.n_rows > SHOWN else ""
            where.append(f"rows [{shown}]{more}")
        text = ": ".join([", ".join(where), self.reason]) if where else self.reason
        return text + (f" -- {self.fix}" if self.fix else "")


@dataclass
class Part:
    """One partition's (or several partitions') contribution."""

    n: int = 0
    problems: dict = field(default_factory=dict)  # (stage, source, column, reason, fix)
    # -> (first ids, count)
    payload: Any = None

    def add_problems(self, found: list[Problem], stage: int = 0) -> None:
        """Record problems; only those of the earliest stage found are raised (the
        in-memory checks stop at the first failing step: missing values, then the
        survival columns, then the covariates)."""
        for p in found:
            reason = "<missing>" if _MISSING.match(p.reason) else p.reason
            key = (stage, p.source, p.column, reason, p.fix)
            ids, count = self.problems.get(key, ((), 0))
            self.problems[key] = ((ids + tuple(p.rows))[:SHOWN], count + len(p.rows))


def _combine(a: Part, b: Part, add: Callable[[Any, Any], Any]) -> Part:
    out = Part(a.n + b.n, dict(a.problems))
    for key, (ids, count) in b.problems.items():
        old_ids, old_count = out.problems.get(key, ((), 0))
        out.problems[key] = ((old_ids + ids)[:SHOWN], old_count + count)
    if out.problems:  # statistics of bad input are never used
        return out
    if a.payload is None or b.payload is None:
        out.payload = a.payload if b.payload is None else b.payload
    else:
        out.payload = add(a.payload, b.payload)
    return out


def _combine_all(parts: list[Part], add) -> Part:
    out = parts[0]
    for p in parts[1:]:
        out = _combine(out, p, add)
    return out


def tree_sum(ddf, per_partition: Callable[..., Part], add: Callable[[Any, Any], Any],
             *args, split_every: int = 8) -> Part:
    """Apply ``per_partition(frame, *args)`` to every partition (of a Dask frame, or to
    every object of a list of delayed / persisted ones) and add the parts in a tree of
    fan-in ``split_every`` on the cluster; return the combined :class:`Part`.

    ``args`` are passed once to the workers (wrap large ones with :func:`broadcast`).
    """
    import dask

    blocks = ddf if isinstance(ddf, list) else ddf.to_delayed()
    level = [dask.delayed(per_partition, pure=True)(p, *args) for p in blocks]
    merge = dask.delayed(_combine_all, pure=True)
    while len(level) > 1:
        level = [merge(level[i:i + split_every], add)
                 for i in range(0, len(level), split_every)]
    (out,) = dask.compute(level[0])
    return out


def broadcast(value):
    """A value shipped to the workers once and shared by every partition's task."""
    import dask

    return dask.delayed(value, pure=True, traverse=False)


def checked(frame: pd.DataFrame, validate: Callable[[pd.DataFrame], Any],
            part: Part | None = None, stage: int = 0) -> tuple[Part, Any]:
    """Run the in-memory ``validate`` on one partition: the part (with any problems) and
    what ``validate`` returned (None when it raised an :class:`InputError`)."""
    part = Part(len(frame)) if part is None else part
    if len(frame) == 0:
        return part, None
    try:
        return part, validate(frame)
    except InputError as err:
        part.add_problems(err.problems, stage)
        return part, None


def raise_problems(part: Part, upto: int | None = None) -> None:
    """Raise the one :class:`InputError` for the problems of the earliest stage found on
    the cluster (only if that stage is at most ``upto``, when given)."""
    found = []
    first = min((key[0] for key in part.problems), default=0)
    if upto is not None and first > upto:
        return
    for (stage, source, column, reason, fix), (ids, count) in part.problems.items():
        if stage != first:
            continue
        if reason == "<missing>":
            reason = f"{count} missing value{'s' if count != 1 else ''} (of {part.n} rows)"
        found.append(CountedProblem(reason, column, tuple(ids), source, fix, count))
    if found:
        raise InputError(found)


def add_tables(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Sum two statistics tables keyed by their index (the union of their keys)."""
    if a.empty:
        return b
    if b.empty:
        return a
    both = pd.concat([a, b])
    return both.groupby(level=list(range(both.index.nlevels)), sort=False,
                        dropna=False).sum()


def frame_column(ddf, value, role: str, source: str = "data"):
    """``weights=`` / ``cluster=`` / ``strata=`` of a Dask frame: a column name, or a Dask
    Series aligned with it (added as a column). Returns the frame and the column name."""
    if value is None or isinstance(value, str):
        return ddf, value
    if is_dask(value):
        name = str(getattr(value, "name", None) or role)
        if name in ddf.columns:
            name = f"__{role}__"
        return ddf.assign(**{name: value}), name
    raise InputError(Problem(f"on a Dask frame {role}= must be a column name or a Dask "
                             f"Series, not {type(value).__name__}", role, source=source,
                             fix="add the values as a column of the frame"))


def grid_codes(raw: np.ndarray, raw_sorted: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Grid index of each raw time, given the sorted distinct raw times and their codes
    on the tie-merged grid (times equal up to floating-point noise share a code)."""
    return code[np.searchsorted(raw_sorted, raw)]


# -- keeping prepared partitions on the workers, or not ------------------------------------

PERSIST_KEY = "mace_outcomes.persist"  # dask config: "auto" (default), True or False
# of the workers' summed memory limits that "auto" fills with kept partitions: Dask's
# spill target (0.6) less the workers' own memory and a pass's working memory
PERSIST_SHARE = 0.35


def nbytes(obj) -> int:
    """Memory held by a prepared partition: numpy arrays, sparse matrices, pandas objects
    and the dataclasses / tuples / dicts holding them (``dask.sizeof`` counts a
    dataclass as a few bytes, which is why it is not used for them)."""
    import dataclasses

    if obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "indptr") and hasattr(obj, "indices"):  # scipy sparse (CSR/CSC)
        return int(obj.data.nbytes + obj.indices.nbytes + obj.indptr.nbytes)
    if isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
        return int(obj.memory_usage(deep=True).sum() if isinstance(obj, pd.DataFrame)
                   else obj.memory_usage(deep=True))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(v) for v in obj)
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    from dask.sizeof import sizeof

    return int(sizeof(obj))


def cluster_memory() -> float | None:
    """The sum of the workers' memory limits of the current distributed client (bytes),
    or None without a client or when a worker has no limit."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return None
    limits = [w.get("memory_limit") for w in client.scheduler_info(
        n_workers=-1)["workers"].values()]
    if not limits or any(not lim for lim in limits):
        return None
    return float(sum(limits))


def partitions_kept(estimate: float, n_blocks: int, memory: float | None, setting="auto",
                    share: float = PERSIST_SHARE) -> int:
    """The rule of :func:`keep`: how many of ``n_blocks`` prepared partitions (of
    ``estimate`` bytes in all) to keep on the workers. ``setting`` True keeps all, False
    none; ``"auto"`` keeps all when no memory limit is known, else as many as fit in
    ``share`` of the workers' summed ``memory`` (the rest of it is the working memory of
    the passes, the workers' own, and the new copy of a column while a fit replaces
    it): all when the estimate is under it."""
    if isinstance(setting, str):
        if setting.lower() != "auto":
            raise InputError(Problem(f"{PERSIST_KEY} must be 'auto', True or False, not "
                                     f"{setting!r}", fix="dask.config.set({"
                                     f"'{PERSIST_KEY}': 'auto'}})"))
        if memory is None or estimate < share * memory:
            return n_blocks
        return min(n_blocks, int(share * memory // (estimate / n_blocks)))
    return n_blocks if setting else 0


def keep(blocks: list, estimate: float | None = None, persist=None) -> list:
    """Prepared partitions (a list of delayed objects) kept on the workers for the passes
    of an iterative fit, when they fit; otherwise the ones beyond the memory budget are
    left lazy, so that every pass rebuilds them from the source (a Parquet read and the
    preparation per pass: slower per pass, but a table larger than the cluster's memory
    is fitted with the memory of the kept share and of a few partitions).

    ``estimate`` is their total size in bytes; without it the first partition is
    measured (:func:`nbytes`, on its worker) and multiplied by the number of partitions.
    ``persist`` (default: the dask config key ``"mace_outcomes.persist"``, itself
    ``"auto"`` when unset) forces the choice with True or False; ``"auto"`` applies
    :func:`partitions_kept` to the workers' summed memory limits.
    """
    import dask

    register_sizes()  # on the client too, when the types came before Dask
    setting = dask.config.get(PERSIST_KEY, "auto") if persist is None else persist
    if not blocks:
        return []
    memory = cluster_memory() if isinstance(setting, str) else None
    if isinstance(setting, str) and memory is not None and estimate is None:
        # measured where it is built: the partition itself never reaches the client
        (first,) = dask.compute(dask.delayed(nbytes, pure=True)(blocks[0]))
        estimate = first * len(blocks)
    k = partitions_kept(estimate or 0.0, len(blocks), memory, setting)
    logging.getLogger("mace_outcomes.scale").info(
        "%d prepared partitions, %s bytes estimated, workers' memory %s bytes: %d kept, "
        "%d rebuilt at every pass", len(blocks), f"{estimate:.3g}" if estimate else "?",
        f"{memory:.3g}" if memory else "?", k, len(blocks) - k)
    return list(dask.persist(*blocks[:k])) + list(blocks[k:]) if k else list(blocks)


_SIZED: list[type] = []


def register_sizes(*types: type) -> None:
    """Tell Dask the real size of these containers of arrays (a prepared partition;
    Dask's generic ``sizeof`` counts a dataclass as ~56 bytes), so that its memory
    manager and its scheduler's transfer costs see what a kept partition holds. Only
    where Dask is already imported (a worker, a client): the in-memory path does not
    import it; :func:`keep` registers the types again once it is."""
    import sys

    _SIZED.extend(t for t in types if t not in _SIZED)
    if "dask" in sys.modules and _SIZED:
        from dask.sizeof import sizeof

        sizeof.register(tuple(_SIZED))(nbytes)
