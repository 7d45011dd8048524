"""Kaplan-Meier curves and log-rank tests of a Dask DataFrame.

One pass over the partitions validates the rows (the in-memory
:func:`~mace_outcomes._frames.survival_arrays` on each partition) and sums, per
(stratum, group, time), the counts at risk leaving, the (weighted) events and
censorings and the squared weights. The combined table is binned on the exact
distinct times (tied up to floating-point noise as in memory) and the in-memory
kernels finish the job: :func:`km_surv`, :func:`greenwood`,
:func:`ij_log_variance_binned`, :func:`confidence_band`, and the log-rank sums over
(stratum, time) cells. Clustered robust variances need each cluster's path through
time: the rows are shuffled so that a cluster sits in one partition, the small
per-time table is broadcast, and each partition returns one array per group
(:func:`km_ij_log_variance`, additive over clusters) or per-cluster score residuals.

``start=`` ((start, stop] rows, delayed entry) as in memory: the scan also sums the
rows entering per (stratum, group, start time); the start and stop times are tied up
to floating-point noise together, once, on their distinct values (R's ``aeqSurv``);
the entries are taken off the risk sets as one more reverse cumulative sum, and the
robust Kaplan-Meier variance treats each row as its own cluster when none is given,
as the in-memory kernel does. The log-rank test takes ``start=`` unweighted and
unclustered, as in memory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._frames import (
    EXTREME_RELATIVE_WEIGHT,
    _sort_key,
    extreme_weight_message,
    row_ids,
    survival_arrays,
)
from ..errors import ClusteringWarning, ExtremeWeightWarning, InputError, Problem
from ..survival._kernels import (
    RiskTable,
    confidence_band,
    greenwood,
    ij_log_variance_binned,
    km_ij_log_variance,
    km_surv,
    seg_cumsum,
    seg_rev_cumsum,
    segments,
    time_grid,
)
from ..survival.kaplan_meier import KaplanMeier, _check_conf
from ..survival.logrank import (
    LogrankResult,
    grho_statistic,
    iptw_statistic,
    logrank_problems,
    logrank_result,
)
from ._reduce import (
    Part,
    add_tables,
    broadcast,
    checked,
    frame_column,
    raise_problems,
    step,
    tree_sum,
)

__all__ = ["kaplan_meier", "logrank", "Scan", "scan"]

SUMS = ["n", "d", "we", "wc", "w2e", "w2c"]


@dataclass(frozen=True)
class Scan:
    """The combined per-(stratum, group, time) statistics of a Dask frame."""

    stats: pd.DataFrame  # one row per key present: SUMS columns
    n_rows: int
    groups: list  # group labels, sorted as in memory ("all" without a group)
    strata: list | None  # stratum labels, sorted
    raw: np.ndarray  # sorted distinct raw times
    code: np.ndarray  # grid index of each raw time (ties up to noise share one)
    utime: np.ndarray  # the grid
    g: np.ndarray  # group code of each stats row
    s: np.ndarray  # stratum code of each stats row
    t: np.ndarray  # grid index of each stats row
    wmax: dict  # group label -> largest weight
    # (start, stop] rows: per (stratum, group, start time) the rows entering and their
    # weight, and each such row's stratum, group and grid position (None: no start)
    entry: pd.DataFrame | None = None
    e_s: np.ndarray | None = None
    e_g: np.ndarray | None = None
    e_t: np.ndarray | None = None  # grid position (KM: last grid time <= start; -1 none)
    start_raw: np.ndarray | None = None  # sorted distinct raw start times
    start_pos: np.ndarray | None = None  # grid position of each of them (as e_t)

    def bins(self, col: str, k: int | None = None) -> np.ndarray:
        """(groups, grid) sums of a statistic."""
        k = len(self.groups) if k is None else k
        m = self.utime.size
        return np.bincount(self.g * m + self.t, weights=self.stats[col].to_numpy(),
                           minlength=k * m).reshape(k, m)

    def entered_later(self, col: str) -> np.ndarray:
        """(groups, grid) count (``col="n"``) or weight (``"w"``) of the rows entering
        at or after each grid time (KM grid): :func:`entry_risk` of the entry table."""
        k, m = len(self.groups), self.utime.size
        inside = self.e_t >= 0  # entries before the first time remove no one
        counts = np.bincount((self.e_g * m + self.e_t)[inside],
                             weights=self.entry[col].to_numpy()[inside], minlength=k * m)
        return np.cumsum(counts.reshape(k, m)[:, ::-1], axis=1)[:, ::-1]


def _validator(time, event, group, weights, cluster, strata, start=None):
    def validate(frame):
        return survival_arrays(frame, time=time, event=event, group=group, weights=weights,
                               cluster=cluster, strata=strata, start=start)
    return validate


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact distinct values (ascending) and each value's index among them: whole numbers
    in a modest range (days) by one ``bincount``, no sort; others by one sort. No ties
    are merged here: that is done once on the combined distinct times."""
    t = np.asarray(values, dtype=float)
    if t.size and (span := float(t.max() - t.min())) <= 4 * t.size + 4096:
        shifted = t - t.min()
        idx = shifted.astype(np.int64)
        if np.array_equal(idx, shifted):
            present = np.bincount(idx, minlength=int(span) + 1) > 0
            return np.flatnonzero(present) + t.min(), np.cumsum(present)[idx] - 1
    return np.unique(t, return_inverse=True)


def _scan_part(frame, time, event, group, weights, cluster, strata, start=None) -> Part:
    part, arr = checked(frame, _validator(time, event, group, weights, cluster, strata, start))
    if arr is None:
        return part
    ev = arr.event.astype(float)
    w = np.ones(ev.size) if arr.weights is None else arr.weights
    g_code, g_levels = (pd.factorize(arr.group) if group is not None
                        else (np.zeros(ev.size, np.int64), np.array(["all"], dtype=object)))
    s_code, s_levels = ((np.zeros(ev.size, np.int64), np.zeros(1, np.int64)) if strata is None
                        else (arr.strata, np.asarray(arr.strata_levels, dtype=object)))
    t_levels, t_code = distinct(arr.time)
    # one bincount per sum over the (stratum, group, time) cells of this partition
    ng, nt = len(g_levels), t_levels.size
    key = (s_code * ng + g_code) * nt + t_code
    cell, key = distinct(key)
    cell = cell.astype(np.int64)
    w2 = w * w
    sums = {name: np.bincount(key, weights=v, minlength=cell.size) for name, v in (
        ("n", None), ("d", ev), ("we", w * ev), ("wc", w * (1.0 - ev)), ("w2e", w2 * ev),
        ("w2c", w2 * (1.0 - ev)))}
    sums["n"] = sums["n"].astype(float)
    index = pd.MultiIndex.from_arrays(
        [pd.Index(s_levels).take(cell // (ng * nt)), pd.Index(g_levels).take(cell // nt % ng),
         t_levels[cell % nt]], names=["s", "g", "t"])
    wmax = pd.Series(dtype=float)  # only weights can be extreme
    if weights is not None:
        wmax = pd.Series(w).groupby(g_code).max()
        wmax.index = pd.Index(g_levels).take(wmax.index.to_numpy())
    part.payload = {"stats": pd.DataFrame(sums, index=index), "wmax": wmax,
                    "entry": None if start is None else _entries(arr.start, s_code, s_levels,
                                                                 g_code, g_levels, w)}
    return part


def _entries(start, s_code, s_levels, g_code, g_levels, w) -> pd.DataFrame:
    """Per (stratum, group, start time): the rows entering then and their weight."""
    t_levels, t_code = distinct(start)
    ng, nt = len(g_levels), t_levels.size
    cell, key = distinct((s_code * ng + g_code) * nt + t_code)
    cell = cell.astype(np.int64)
    index = pd.MultiIndex.from_arrays(
        [pd.Index(s_levels).take(cell // (ng * nt)), pd.Index(g_levels).take(cell // nt % ng),
         t_levels[cell % nt]], names=["s", "g", "t"])
    return pd.DataFrame({"n": np.bincount(key, minlength=cell.size).astype(float),
                         "w": np.bincount(key, weights=w, minlength=cell.size)}, index=index)


def _add_scans(a: dict, b: dict) -> dict:
    return {"stats": add_tables(a["stats"], b["stats"]),
            "wmax": pd.concat([a["wmax"], b["wmax"]]).groupby(level=0).max(),
            "entry": None if a["entry"] is None else add_tables(a["entry"], b["entry"])}


def _columns_present(ddf, names: dict, source: str = "data") -> None:
    missing = [c for c in names.values() if isinstance(c, str) and c not in ddf.columns]
    if missing:
        raise InputError([Problem(f"column not found (columns are {list(ddf.columns)})",
                                  column=c, source=source) for c in missing])


def scan(ddf, time: str, event: str, group: str | None = None, weights: str | None = None,
         cluster: str | None = None, strata: str | None = None, min_groups: int = 1,
         source: str = "data", start: str | None = None, joint: bool = False) -> Scan:
    """Validate every partition and sum the survival statistics over the cluster.

    With ``start`` the start and stop times are tied up to floating-point noise together
    (R's ``aeqSurv``, once, on their distinct values) and the grid is, as in memory, the
    distinct tied stop times (Kaplan-Meier) or, with ``joint``, the codes of the joint
    (start, stop) grid (the log-rank test).
    """
    _columns_present(ddf, {"time": time, "event": event, "group": group, "weights": weights,
                           "cluster": cluster, "strata": strata, "start": start}, source)
    cols = list(dict.fromkeys(c for c in (time, start, event, group, weights, cluster, strata,
                                          "lesion_id", "patient_id")
                              if c is not None and c in ddf.columns))
    step("survival pass")
    part = tree_sum(ddf[cols], _scan_part, _add_scans, time, event, group, weights, cluster,
                    strata, start)
    if part.n == 0 and not part.problems:
        raise InputError(Problem("the table has no rows", source=source))
    raise_problems(part)
    stats = part.payload["stats"]
    s_vals, g_vals, t_vals = (stats.index.get_level_values(i) for i in range(3))
    groups = sorted(pd.unique(g_vals).tolist(), key=_sort_key)
    if group is not None and len(groups) < min_groups:
        raise InputError(Problem(f"needs at least {min_groups} groups, found {len(groups)} "
                                 f"({groups})", group, (), source))
    strata_levels = None if strata is None else sorted(pd.unique(s_vals).tolist(),
                                                       key=_sort_key)
    t_raw = np.asarray(t_vals, dtype=float)
    raw = np.unique(t_raw)
    g = pd.Categorical(g_vals, categories=groups).codes.astype(np.int64)
    s = (np.zeros(len(stats), np.int64) if strata is None
         else pd.Categorical(s_vals, categories=strata_levels).codes.astype(np.int64))
    if start is None:
        utime, code = time_grid(raw)
        return Scan(stats, part.n, groups, strata_levels, raw, code, utime, g, s,
                    code[np.searchsorted(raw, t_raw)], part.payload["wmax"].to_dict())
    entry = part.payload["entry"]
    e_s, e_g, e_t = (entry.index.get_level_values(i) for i in range(3))
    e_raw = np.asarray(e_t, dtype=float)
    start_raw = np.unique(e_raw)
    both = np.union1d(raw, start_raw)
    ju, jc = time_grid(both)
    if joint:  # the log-rank kernel: codes of the joint grid
        utime, code, start_pos = ju, jc[np.searchsorted(both, raw)], \
            jc[np.searchsorted(both, start_raw)]
    else:  # Kaplan-Meier: the distinct tied stop times; a start at the last one before it
        utime, code = time_grid(ju[jc[np.searchsorted(both, raw)]])
        start_pos = np.searchsorted(utime, ju[jc[np.searchsorted(both, start_raw)]],
                                    side="right") - 1
    return Scan(stats, part.n, groups, strata_levels, raw, code, utime, g, s,
                code[np.searchsorted(raw, t_raw)], part.payload["wmax"].to_dict(), entry,
                (np.zeros(len(entry), np.int64) if strata is None else pd.Categorical(
                    e_s, categories=strata_levels).codes.astype(np.int64)),
                pd.Categorical(e_g, categories=groups).codes.astype(np.int64),
                start_pos[np.searchsorted(start_raw, e_raw)], start_raw, start_pos)


# -- warnings, as in memory ----------------------------------------------------------------

def _flag_part(frame, weights, group, means) -> Part:
    w = frame[weights].to_numpy(dtype=float)
    g = frame[group].to_numpy() if group is not None else np.full(len(frame), "all", object)
    mean = pd.Series(g).map(means).to_numpy(dtype=float)
    big = w / mean > EXTREME_RELATIVE_WEIGHT
    return Part(len(frame), payload=(int(big.sum()), row_ids(frame, big)[:20]))


def extreme_weights(ddf, sc: Scan, weights: str, group: str | None,
                    stacklevel: int = 4) -> str | None:
    """The in-memory extreme-weight warning (weight over 10 times its group's mean):
    the means and maxima come from the scan; the rows only if one is flagged."""
    tot = sc.bins("we").sum(axis=1) + sc.bins("wc").sum(axis=1)
    counts = sc.bins("n").sum(axis=1)
    means = {label: tot[i] / counts[i] for i, label in enumerate(sc.groups)}
    rel = max(sc.wmax[label] / means[label] for label in sc.groups)
    if not rel > EXTREME_RELATIVE_WEIGHT:
        return None
    cols = [c for c in (weights, group, "lesion_id", "patient_id")
            if c is not None and c in ddf.columns]
    part = tree_sum(ddf[list(dict.fromkeys(cols))], _flag_part,
                    lambda a, b: (a[0] + b[0], (a[1] + b[1])[:20]), weights, group, means)
    n_big, ids = part.payload
    msg = extreme_weight_message(n_big, "arm", rel, ids)
    warnings.warn(msg, ExtremeWeightWarning, stacklevel=stacklevel)
    return msg


def unclustered(ddf, cluster, estimator: str, stacklevel: int = 4) -> str | None:
    """The in-memory lesion-level warning: a ``lesion_id`` frame whose patients repeat."""
    if cluster is not None or "lesion_id" not in ddf.columns or "patient_id" not in ddf.columns:
        return None
    if ddf["patient_id"].nunique().compute() == len(ddf):
        return None
    msg = (f"{estimator}: the frame is lesion level (several lesions per patient) and no "
           "cluster is given, so standard errors, intervals and p-values treat the lesions "
           "of one patient as independent (too small); pass cluster=\"patient_id\"")
    warnings.warn(msg, ClusteringWarning, stacklevel=stacklevel)
    return msg


# -- Kaplan-Meier ------------------------------------------------------------------------

def _km_cluster_part(frame, time, event, group, weights, cluster, groups, raw, code,
                     curves, start=None, starts=None) -> Part:
    """Each group's robust variance of ``log S`` summed over this partition's clusters
    (without a cluster, with ``start``: each row its own cluster, as in memory)."""
    if len(frame) == 0:
        return Part(0, payload=[np.zeros(tab.time.size) for tab, _ in curves])
    arr = survival_arrays(frame, time=time, event=event, group=group, weights=weights,
                          cluster=cluster, start=start)
    ev = arr.event.astype(float)
    gc = (np.zeros(ev.size, np.int64) if group is None
          else pd.Categorical(arr.group, categories=groups).codes)
    tcode = code[np.searchsorted(raw, arr.time)]
    cl = np.arange(ev.size) if cluster is None else arr.cluster
    entry = None
    if start is not None:
        start_raw, start_pos = starts
        entry = start_pos[np.searchsorted(start_raw, arr.start)]
    out = []
    for gi, (tab, remap) in enumerate(curves):  # one pass per group (a handful)
        members = np.flatnonzero(gc == gi)
        if members.size == 0:
            out.append(np.zeros(tab.time.size))
            continue
        # a start before the group's first kept time is an entry at -1 (as in memory)
        out.append(km_ij_log_variance(
            tab._replace(inverse=remap[tcode[members]]), ev[members],
            None if arr.weights is None else arr.weights[members], cl[members],
            None if entry is None else
            np.where(entry[members] >= 0, remap[np.maximum(entry[members], 0)], -1)))
    return Part(len(frame), payload=out)


def _clustered_var_log(ddf, sc: Scan, time, event, group, weights, cluster, curves,
                       start=None):
    cols = [c for c in (time, start, event, group, weights, cluster) if c is not None]
    rows = ddf[list(dict.fromkeys(cols))]
    if cluster is not None:  # a cluster's rows in one partition
        rows = rows.shuffle(on=cluster)
    part = tree_sum(rows, _km_cluster_part,
                    lambda a, b: [x + y for x, y in zip(a, b, strict=True)],
                    time, event, group, weights, cluster, sc.groups, broadcast(sc.raw),
                    broadcast(sc.code), broadcast(curves), start,
                    None if start is None else broadcast((sc.start_raw, sc.start_pos)))
    return part.payload


def kaplan_meier(df, time: str = "time", event: str = "event", group: str | None = None,
                 weights=None, cluster=None, conf_type: str = "log-log",
                 conf_level: float = 0.95, robust: bool | None = None, *,
                 start: str | None = None) -> KaplanMeier:
    """:func:`mace_outcomes.kaplan_meier` of a Dask DataFrame: the same result."""
    _check_conf(conf_type, conf_level)
    ddf, wcol = frame_column(df, weights, "weights")
    ddf, ccol = frame_column(ddf, cluster, "cluster")
    sc = scan(ddf, time, event, group, wcol, ccol, start=start)
    unclustered(ddf, cluster, "kaplan_meier")
    notes = []
    if weights is not None:
        msg = extreme_weights(ddf, sc, wcol, group)
        notes += [msg] if msg else []
    if robust is None:
        robust = weights is not None or cluster is not None
    raw_event, raw_all = sc.bins("d"), np.rint(sc.bins("n")).astype(np.int64)
    if weights is None:
        n_event, n_censor = raw_event, raw_all - raw_event
    else:
        n_event, n_censor = sc.bins("we"), sc.bins("wc")
    n_risk = np.cumsum((n_event + n_censor)[:, ::-1], axis=1)[:, ::-1]
    raw_risk = np.cumsum(raw_all[:, ::-1], axis=1)[:, ::-1]
    if start is not None:  # delayed entry: rows entering at or after t are not at risk
        raw_risk = raw_risk - sc.entered_later("n")
        n_risk = raw_risk if weights is None else n_risk - sc.entered_later("w")
    keeps = [raw_all[g] > 0 for g in range(len(sc.groups))]
    tabs = [RiskTable(sc.utime[keep], n_risk[g, keep], n_event[g, keep], n_censor[g, keep],
                      np.zeros(0, dtype=np.int64)) for g, keep in enumerate(keeps)]
    clustered = None
    if robust and (cluster is not None or start is not None):
        clustered = _clustered_var_log(ddf, sc, time, event, group, wcol, ccol,
                                       [(tab, np.cumsum(keep) - 1)
                                        for tab, keep in zip(tabs, keeps, strict=True)],
                                       start)
    elif robust:
        w2e, w2c = sc.bins("w2e"), sc.bins("w2c")
    tables = []
    for g, (label, tab, keep) in enumerate(zip(sc.groups, tabs, keeps, strict=True)):
        surv = km_surv(tab.n_risk, tab.n_event)
        if robust:
            var_log = (clustered[g] if clustered is not None else
                       ij_log_variance_binned(tab.n_risk, tab.n_event, w2e[g, keep],
                                              w2c[g, keep]))
            with np.errstate(invalid="ignore"):
                se_log = np.sqrt(np.maximum(var_log, 0.0))
            se_log = np.where(surv > 0, se_log, 0.0)  # R: se 0 once S is 0
            std_err = surv * se_log
        else:
            se_log = np.sqrt(greenwood(tab.n_risk, tab.n_event))
            with np.errstate(invalid="ignore"):
                std_err = surv * se_log
        lower, upper = confidence_band(surv, se_log, conf_type, conf_level)
        cur = {"group": label, "time": tab.time, "n_risk": tab.n_risk,
               "n_event": tab.n_event, "n_censor": tab.n_censor, "surv": surv,
               "std_err": std_err, "lower": lower, "upper": upper}
        if weights is not None:
            cur["n_risk_unweighted"] = raw_risk[g, keep]
            cur["n_event_unweighted"] = raw_event[g, keep]
        tables.append(pd.DataFrame(cur))
    counts = {label: int(c) for label, c in zip(sc.groups, raw_all.sum(axis=1), strict=True)}
    return KaplanMeier(table=pd.concat(tables, ignore_index=True), conf_type=conf_type,
                       conf_level=conf_level, weighted=weights is not None,
                       variance="robust" if robust else "greenwood", group=group,
                       groups=list(sc.groups), cluster=cluster, n=counts, notes=notes)


# -- log-rank ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Cells:
    """(stratum, time) cells of a scan, ordered by stratum then time."""

    key: np.ndarray  # stratum * n_times + time index, ascending
    of_row: np.ndarray  # cell of each stats row
    starts: np.ndarray
    seg: np.ndarray


def cells(sc: Scan) -> Cells:
    key = sc.s * sc.utime.size + sc.t
    ukey = np.unique(key)
    starts, seg = segments(ukey // sc.utime.size)
    return Cells(ukey, np.searchsorted(ukey, key), starts, seg)


def _by_cell(sc: Scan, cl: Cells, values: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(cl.of_row * k + sc.g, weights=values,
                       minlength=cl.key.size * k).reshape(-1, k)


def _entered_later(sc: Scan, cl: Cells, k: int) -> np.ndarray:
    """(cells, k) rows of the cell's stratum entering at or after its time (the in-memory
    kernel's rule: each start at the last cell of its stratum at or before it)."""
    m = sc.utime.size
    c = np.searchsorted(cl.key, sc.e_s * m + sc.e_t, side="right") - 1
    inside = c >= 0
    inside[inside] = cl.key[c[inside]] // m == sc.e_s[inside]  # a cell of its stratum
    by_cell = np.bincount(c[inside] * k + sc.e_g[inside],
                          weights=sc.entry["n"].to_numpy()[inside], minlength=cl.key.size * k)
    return seg_rev_cumsum(by_cell.reshape(-1, k), cl.starts, cl.seg)


def _residual_part(frame, time, event, group, weights, strata, cluster, groups, strata_levels,
                   raw, code, m, ukey, per_cell) -> pd.DataFrame:
    """Each row's weighted log-rank score residual (robust_score_kernel's formula) with its
    cluster id, from the broadcast per-cell zbar, A and B."""
    if len(frame) == 0:
        return pd.DataFrame({"cluster": frame[cluster], "r": np.zeros(0)})
    arr = survival_arrays(frame, time=time, event=event, group=group, weights=weights,
                          strata=strata)
    ev = arr.event.astype(float)
    z = (pd.Categorical(arr.group, categories=groups).codes == 1).astype(float)
    s = (np.zeros(ev.size, np.int64) if strata is None else pd.Categorical(
        np.asarray(arr.strata_levels, dtype=object)[arr.strata],
        categories=strata_levels).codes.astype(np.int64))
    cell = np.searchsorted(ukey, s * m + code[np.searchsorted(raw, arr.time)])
    zbar, a, b = per_cell
    resid = ev * (z - zbar[cell]) - (z * a[cell] - b[cell])
    w = np.ones(ev.size) if arr.weights is None else arr.weights
    return pd.DataFrame({"cluster": frame[cluster].to_numpy(), "r": w * resid},
                        index=frame.index)


def _robust_score(ddf, sc: Scan, cl: Cells, time, event, group, weights, strata, cluster):
    """Robust (Lin & Wei 1989) log-rank score and its cluster-summed variance."""
    import dask

    k = len(sc.groups)
    we, wc = sc.stats["we"].to_numpy(), sc.stats["wc"].to_numpy()
    d = _by_cell(sc, cl, we, k).sum(axis=1)
    at = _by_cell(sc, cl, we + wc, k)
    y = seg_rev_cumsum(at.sum(axis=1), cl.starts, cl.seg)
    y1 = seg_rev_cumsum(at[:, 1], cl.starts, cl.seg)
    zbar = y1 / y
    hazard = d / y
    per_cell = (zbar, seg_cumsum(hazard, cl.starts, cl.seg),
                seg_cumsum(zbar * hazard, cl.starts, cl.seg))
    cols = [c for c in (time, event, group, weights, strata, cluster) if c is not None]
    meta = pd.DataFrame({"cluster": ddf[cluster]._meta, "r": np.zeros(0)})
    res = ddf[list(dict.fromkeys(cols))].map_partitions(
        _residual_part, time, event, group, weights, strata, cluster, sc.groups, sc.strata,
        broadcast(sc.raw), broadcast(sc.code), sc.utime.size, broadcast(cl.key),
        broadcast(per_cell), meta=meta)
    per_cluster = res.groupby("cluster")["r"].sum()
    score, var = dask.compute(res["r"].sum(), (per_cluster ** 2).sum())
    return float(score), float(var)


def logrank(df, time: str = "time", event: str = "event", group: str = "group",
            weights=None, rho: float = 0, strata=None, cluster=None, *,
            start: str | None = None) -> LogrankResult:
    """:func:`mace_outcomes.logrank` of a Dask DataFrame: the same result."""
    ddf, wcol = frame_column(df, weights, "weights")
    ddf, ccol = frame_column(ddf, cluster, "cluster")
    ddf, scol = frame_column(ddf, strata, "strata")
    sc = scan(ddf, time, event, group, wcol, ccol, scol, min_groups=2, start=start,
              joint=True)
    unclustered(ddf, cluster, "logrank")
    notes = []
    if weights is not None:
        msg = extreme_weights(ddf, sc, wcol, group)
        notes += [msg] if msg else []
    k = len(sc.groups)
    problems = logrank_problems(k, group, weights is not None, rho,
                                None if cluster is None else ccol)
    if start is not None and (weights is not None or cluster is not None):
        problems.append(Problem("start= is taken by the unweighted, unclustered test only",
                                start, fix="use mo.cox(..., start=, weights=, cluster=) "
                                           "and its robust score test"))
    if problems:
        raise InputError(problems)
    cl = cells(sc)
    col = {c: sc.stats[c].to_numpy() for c in SUMS}
    D = _by_cell(sc, cl, col["d"], k)
    N = seg_rev_cumsum(_by_cell(sc, cl, col["n"], k), cl.starts, cl.seg)
    if start is not None:
        N = N - _entered_later(sc, cl, k)
    var = score = wvar = rvar = None
    if weights is None:
        obs, exp, var = grho_statistic(D, N, cl.starts, cl.seg, rho)
    else:
        def risk(values):
            return seg_rev_cumsum(_by_cell(sc, cl, values, k), cl.starts, cl.seg)
        score, wvar, obs, exp = iptw_statistic(D, N, _by_cell(sc, cl, col["we"], k),
                                               risk(col["we"] + col["wc"]),
                                               risk(col["w2e"] + col["w2c"]))
    counts = np.bincount(sc.g, weights=col["n"], minlength=k).astype(np.int64)
    table = pd.DataFrame({"group": sc.groups, "n": counts, "observed": obs, "expected": exp})
    if cluster is not None:
        score, rvar = _robust_score(ddf, sc, cl, time, event, group, wcol, scol, ccol)
    return logrank_result(table, obs, exp, var, score, wvar, rvar, rho=rho, strata=strata,
                          cluster=cluster, weighted=weights is not None, notes=notes)
