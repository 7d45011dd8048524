"""The Cox model of a Dask DataFrame on the per-time statistics of ``regression/_pertime``.

Passes over the cluster (the rows never leave their workers):

0. with ``missing="complete_case"``: the rows with a missing used value are listed and
   counted (:mod:`._missing`) and the model reads the others;
1. validate every partition (the in-memory checks) and collect the distinct times
   (start and stop times of ``(start, stop]`` rows), the distinct (stratum, event
   time) pairs and the factor levels; the tie rule (R's ``aeqSurv``) is then applied
   once, on the client, to the distinct times of all partitions;
2. place each partition's rows on the global event-time grid once, by their codes on
   that grid (a row is at risk at ``t`` when ``start < t <= stop``), and keep them on
   the workers; the design (``covariates=[...]`` or a ``formula`` with factors,
   interactions and ``reference=`` levels) is built by the package's one builder with
   the levels of the whole frame (:mod:`._design`); sums per stratum then give the
   centring and the aliasing check (p x p);
3. every Newton step at ``beta`` is two tree sums: the per-time table
   (:func:`_pertime.pertime`, additive), whose hazard is computed on the client and
   broadcast, then the rows' sums (:func:`_pertime.newton_pieces`); the iteration is the
   in-memory one (:func:`regression._kernels.newton_raphson`, R's stopping rule, then
   the same monotone-likelihood check);
4. the robust variance: each partition's score residuals
   (:func:`_pertime.score_residuals`) weighted and multiplied out to p x p, or, with a
   cluster, summed per cluster id on the cluster (a group-by across partitions) first.

Ties, strata, weights, clusters, ``start=``, ``formula=``, ``reference=`` and
``missing=`` are those of the in-memory fit, and ``firth=True`` fits the Firth-penalised
likelihood from per-time sums (:mod:`._firth`); the result is a
:class:`~mace_outcomes.regression.fit.CoxResult`. Not on Dask: ``ph_test()`` (it needs
the rows in memory). An aliased column (an exact linear combination of earlier ones,
within strata) is reported as in memory: a NaN row and the same warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .._frames import (
    EXTREME_RELATIVE_WEIGHT,
    MISSING_POLICIES,
    _sort_key,
    missing_problems,
    row_ids,
    survival_arrays,
)
from ..errors import ExtremeWeightWarning, InputError, Problem
from ..regression import _kernels as K
from ..regression import _pertime as P
from ..regression.fit import CoxResult, _divergence, aliased_messages, wald_tables
from ..survival._kernels import time_grid
from ._design import (
    Spec,
    add_covariate_scans,
    build_spec,
    model_columns,
    scan_covariates,
)
from ._missing import complete_cases
from ._reduce import (
    Part,
    broadcast,
    frame_column,
    raise_problems,
    register_sizes,
    step,
    tree_sum,
)
from ._reduce import keep as keep_prepared
from .survival import unclustered

__all__ = ["cox", "DaskCox"]

SOURCE = "df"


@dataclass(frozen=True)
class Prepared:
    """One partition's rows, placed on the event-time grid (kept on its worker)."""

    x: np.ndarray
    w: np.ndarray
    place: P.Placement
    strata: np.ndarray  # global stratum codes (zeros without strata)
    cluster: np.ndarray | None  # the cluster ids as given
    ids: np.ndarray | None = None  # row ids for messages (weighted fits only)


@dataclass(frozen=True, eq=False, repr=False)  # the in-memory repr
class DaskCox(CoxResult):
    """A :class:`CoxResult` fitted on a Dask frame (the per-row state stays there)."""

    def ph_test(self, transform: str = "km", terms: bool = True) -> pd.DataFrame:
        raise InputError(Problem("ph_test() needs the rows of the fit: fit the model in "
                                 "memory for it", fix="mo.cox(ddf.compute(), ...).ph_test()"))


# -- pass 1: validation, times, levels ----------------------------------------------------

def _scan_part(frame, time, event, weights, cluster, strata, covariates, numeric,
               start=None) -> Part:
    part = Part(len(frame))
    if len(frame) == 0:
        return part
    part.add_problems(missing_problems(frame, [time, event, *covariates, weights, cluster,
                                               strata, start], SOURCE), stage=0)
    if part.problems:
        return part
    try:
        arr = survival_arrays(frame, time=time, event=event, weights=weights, cluster=cluster,
                              strata=strata, source=SOURCE, start=start)
    except InputError as err:
        part.add_problems(err.problems, stage=1)
        return part
    cov = scan_covariates(frame, covariates, numeric, part, SOURCE, stage=2)
    s = (np.zeros(arr.time.size, np.int64) if strata is None
         else np.asarray(arr.strata_levels, dtype=object)[arr.strata])
    dead = arr.event == 1
    events = pd.DataFrame({"s": s[dead], "t": arr.time[dead]}).drop_duplicates()
    # with (start, stop] rows the tie rule judges the start and stop times together
    times = np.unique(arr.time if start is None else np.r_[arr.time, arr.start])
    part.payload = {"times": times, "events": events, "n_event": int(dead.sum()),
                    "strata": set(pd.unique(s).tolist()), **cov}
    return part


def _add_scan(a, b):
    return {"times": np.union1d(a["times"], b["times"]),
            "events": pd.concat([a["events"], b["events"]]).drop_duplicates(),
            "n_event": a["n_event"] + b["n_event"], "strata": a["strata"] | b["strata"],
            **add_covariate_scans(a, b)}


def _in_memory_order(part: Part, *orders: list) -> None:
    """List the problems found on the cluster in the in-memory checks' order (missing
    values, then the survival columns, then the covariates: each by column), not in
    the order the partitions met them."""
    ranks = [{c: i for i, c in enumerate(dict.fromkeys(o))} for o in orders]
    part.problems = dict(sorted(part.problems.items(),
                                key=lambda kv: (kv[0][0], ranks[kv[0][0]].get(kv[0][2], -1))))


# -- pass 2: placement, centring, aliasing -------------------------------------------------

def _prepare(frame, time, event, weights, cluster, strata, spec: Spec, strata_levels, raw,
             code, grid, start=None) -> Prepared | None:
    if len(frame) == 0:
        return None
    arr = survival_arrays(frame, time=time, event=event, weights=weights, cluster=cluster,
                          strata=strata, source=SOURCE, start=start)
    s = (np.zeros(arr.time.size, np.int64) if strata is None else pd.Categorical(
        np.asarray(arr.strata_levels, dtype=object)[arr.strata],
        categories=strata_levels).codes.astype(np.int64))
    # rows are placed by their codes on the client's grid (times tied up to noise share
    # one code), so no partition judges ties on its own subset of the times (whole-number
    # codes are never within the tie tolerance of each other below ~10^8 distinct times)
    t = code[np.searchsorted(raw, arr.time)].astype(float)
    entry = None if start is None else code[np.searchsorted(raw, arr.start)].astype(float)
    place = P.place_rows(grid, t, arr.event, None if strata is None else s, entry)
    w = np.ones(t.size) if arr.weights is None else arr.weights
    cl = None if cluster is None else frame[cluster].to_numpy()
    ids = (None if weights is None
           else np.asarray(row_ids(frame, np.ones(len(frame), bool)), dtype=object))
    return Prepared(spec.x(frame), w, place, s, cl, ids)


def _moments_part(prep: Prepared | None, k: int) -> Part:
    if prep is None:
        return Part(0)
    x, w, s = prep.x, prep.w, prep.strata
    sums = np.stack([np.bincount(s, weights=x[:, j], minlength=k) for j in range(x.shape[1])],
                    axis=1)  # a loop over columns only
    return Part(len(w), payload=(np.bincount(s, minlength=k).astype(float), sums, w.sum(),
                                 w @ x, np.abs(x).max(axis=0), x.min(axis=0), x.max(axis=0),
                                 np.bincount(s, weights=w, minlength=k)))


def _add_moments(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], np.maximum(a[4], b[4]),
            np.minimum(a[5], b[5]), np.maximum(a[6], b[6]), a[7] + b[7])


def _gram_part(prep: Prepared | None, means: np.ndarray, center: np.ndarray, lo, hi) -> Part:
    if prep is None:
        return Part(0)
    x, w = prep.x, prep.w
    xc = x - means[prep.strata]
    xw = x - center
    top = x == hi
    return Part(len(w), payload=(xc.T @ xc, np.einsum("ij,ij,i->j", xw, xw, w),
                                 np.all(top | (x == lo), axis=0), w @ top,
                                 top.sum(axis=0).astype(float)))


def _add_gram(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] & b[2], a[3] + b[3], a[4] + b[4])


def _relative_part(prep: Prepared | None, cells, hi, strata_means) -> Part:
    """Each row's weight over the mean of its cells (the in-memory rule of
    :func:`~mace_outcomes._frames.relative_weights`): largest ratio, flagged rows."""
    if prep is None:
        return Part(0)
    w = prep.w
    rel = np.full(w.size, np.inf)
    for j, means in cells:  # a loop over the two-level columns
        m = means[(prep.x[:, j] == hi[j]).astype(np.int64)]
        rel = np.minimum(rel, w / np.where(m > 0, m, 1.0))
    if strata_means is not None:
        m = strata_means[prep.strata]
        rel = np.minimum(rel, w / np.where(m > 0, m, 1.0))
    big = rel > EXTREME_RELATIVE_WEIGHT
    return Part(len(w), payload=(float(rel.max()), int(big.sum()), tuple(prep.ids[big][:20])))


def extreme_weights(placed, lo, hi, two, sw_hi, n_hi, sw, n, sw_s, n_s, strata) -> str | None:
    """The in-memory fit's extreme-weight warning: a weight over 10 times the mean weight
    of every two-level covariate level and stratum it belongs to."""
    cells = [(j, np.array([(sw - sw_hi[j]) / (n - n_hi[j]), sw_hi[j] / n_hi[j]]))
             for j in np.flatnonzero(two)]
    strata_means = None if strata is None else sw_s / n_s
    if not cells and strata_means is None:  # no cells: the whole sample
        strata_means = np.array([sw / n])
    rel, count, ids = tree_sum(placed, _relative_part,
                               lambda a, b: (max(a[0], b[0]), a[1] + b[1], (a[2] + b[2])[:20]),
                               broadcast(cells), hi, strata_means).payload
    if not count:
        return None
    msg = (f"extreme weights: {count} weight(s) over {EXTREME_RELATIVE_WEIGHT:g} "
           f"times the mean weight of their covariate level or stratum, the largest "
           f"{rel:.3g} times (rows {list(ids)}); these subjects dominate the weighted "
           "estimate: check the weights, or truncate them or use overlap weights")
    warnings.warn(msg, ExtremeWeightWarning, stacklevel=4)
    return msg


def _centred(prep: Prepared | None, center: np.ndarray, keep: np.ndarray) -> Prepared | None:
    return None if prep is None else replace(prep, x=(prep.x[:, keep] - center[keep]))


# -- pass 3: Newton steps --------------------------------------------------------------

def _pertime_part(prep: Prepared | None, beta) -> Part:
    if prep is None:
        return Part(0)
    return Part(len(prep.w), payload=P.pertime(prep.place, prep.x, prep.w, beta))


def _pieces_part(prep: Prepared | None, beta, haz) -> Part:
    if prep is None:
        return Part(0)
    return Part(len(prep.w), payload=P.newton_pieces(prep.place, prep.x, prep.w, beta, haz))


def _objective(prepared: list, ties: str, p: int, last: dict):
    """``fun(beta) -> (loglik, score, information)`` summed over the partitions."""
    def fun(beta: np.ndarray):
        step("Cox Newton step")
        table = tree_sum(prepared, _pertime_part, lambda a, b: a.add(b), beta).payload
        haz = P.hazard(table, ties)
        last["beta"], last["haz"] = beta, haz
        if not haz.finite:
            return haz.combine(P.RowSums(0.0, np.zeros(p), np.zeros(0)))
        rows = tree_sum(prepared, _pieces_part, lambda a, b: a.add(b), beta,
                        broadcast(haz)).payload
        return haz.combine(rows)

    return fun


# -- pass 4: robust variance -------------------------------------------------------------

def _weighted_residuals(prep: Prepared, beta, haz) -> np.ndarray:
    return P.score_residuals(prep.place, prep.x, prep.w, beta, haz) * prep.w[:, None]


def _meat_part(prep: Prepared | None, beta, haz) -> Part:
    if prep is None:
        return Part(0)
    u = _weighted_residuals(prep, beta, haz)
    return Part(len(prep.w), payload=np.einsum("ij,ik->jk", u, u))


def _cluster_sums(prep: Prepared | None, beta, haz, p: int) -> pd.DataFrame:
    cols = [f"u{j}" for j in range(p)]
    if prep is None:
        return pd.DataFrame({"cluster": [], **{c: [] for c in cols}})
    u = pd.DataFrame(_weighted_residuals(prep, beta, haz), columns=cols)
    # summed within the partition first: one row per cluster crosses the network
    return u.groupby(prep.cluster).sum().rename_axis("cluster").reset_index()


def _frame_meat(frame: pd.DataFrame) -> Part:
    u = frame.to_numpy(dtype=float)
    return Part(len(frame), payload=np.einsum("ij,ik->jk", u, u))


def _meat(prepared: list, beta, haz, p: int, clustered: bool, cluster_meta) -> np.ndarray:
    haz = broadcast(haz)
    if not clustered:
        return tree_sum(prepared, _meat_part, np.add, beta, haz).payload
    import dask
    import dask.dataframe as dd

    meta = pd.DataFrame({"cluster": cluster_meta,
                         **{f"u{j}": pd.Series(dtype=float) for j in range(p)}})
    sums = dd.from_delayed([dask.delayed(_cluster_sums, pure=True)(prep, beta, haz, p)
                            for prep in prepared], meta=meta, verify_meta=False)
    per_cluster = sums.groupby("cluster").sum()
    return tree_sum(per_cluster, _frame_meat, np.add).payload


# -- the public function -----------------------------------------------------------------

def cox(df, time: str = "time", event: str = "event", covariates=None, weights=None,
        cluster=None, strata=None, ties: str = "efron", firth: bool = False,
        conf_level: float = 0.95, robust: bool | None = None, *, formula: str | None = None,
        reference: dict | None = None, missing: str = "error",
        start: str | None = None) -> DaskCox:
    """:func:`mace_outcomes.cox` of a Dask DataFrame: the same estimates and tests,
    with ``start=`` ((start, stop] rows), ``formula=``, ``reference=``,
    ``missing="complete_case"`` and ``firth=True`` (:mod:`._firth`) as in memory.

    Not on Dask: ``ph_test()``.
    """
    import dask

    if covariates is None and formula is None:
        covariates = ["group"]
    if ties not in ("efron", "breslow"):
        raise InputError(Problem(f"ties must be 'efron' or 'breslow', not {ties!r}"))
    if not 0 < conf_level < 1:
        raise InputError(Problem(f"conf_level must be in (0, 1), not {conf_level}"))
    if missing not in MISSING_POLICIES:
        raise InputError(Problem(f"missing must be one of {MISSING_POLICIES}, got "
                                 f"{missing!r}", source=SOURCE))
    if covariates is not None:
        covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    ddf, wcol = frame_column(df, weights, "weights")
    ddf, ccol = frame_column(ddf, cluster, "cluster")
    ddf, scol = frame_column(ddf, strata, "strata")
    absent = [c for c in (time, start, event, wcol, ccol, scol)
              if c is not None and c not in ddf.columns]
    if absent:
        raise InputError([Problem(f"column not found (columns are {list(ddf.columns)})",
                                  column=c, source=SOURCE) for c in absent])
    variables, numeric = model_columns(ddf, covariates, formula, reference, SOURCE)
    cols = list(dict.fromkeys(c for c in (time, start, event, wcol, ccol, scol, *variables,
                                          "lesion_id", "patient_id")
                              if c is not None and c in ddf.columns))
    ddf = ddf[cols]
    msgs, dropped = [], pd.DataFrame({"id": [], "variable": []})
    if missing == "complete_case":  # the used columns given by name, as in memory
        used = [c for c in dict.fromkeys([time, event, *variables, weights, cluster, strata,
                                          start]) if isinstance(c, str) and c in ddf.columns]
        ddf, dropped, msgs = complete_cases(ddf, used)
    part = tree_sum(ddf, _scan_part, _add_scan, time, event, wcol, ccol, scol, variables,
                    numeric, start)
    if part.n == 0:
        raise InputError(Problem("the table has no rows", source=SOURCE))
    _in_memory_order(part, [time, event, *variables, wcol, ccol, scol, start],
                     [time, start, event, wcol, ccol, scol], variables)
    raise_problems(part)
    scan = part.payload
    spec = build_spec(ddf, covariates, numeric, scan, SOURCE, formula, reference)
    if not spec.names:
        raise InputError(Problem("give at least one covariate"))
    if scan["n_event"] == 0:
        raise InputError(Problem("no events: a Cox model cannot be fitted", column=event))
    said = unclustered(ddf, cluster, "cox")
    msgs += [said] if said else []

    strata_levels = None if strata is None else sorted(scan["strata"], key=_sort_key)
    # the tie rule (R's aeqSurv) once, on the distinct (start and) stop times of all rows
    raw = scan["times"]
    code = time_grid(raw)[1]
    ev = scan["events"]
    ev_s = (np.zeros(len(ev), np.int64) if strata is None else
            pd.Categorical(ev["s"], categories=strata_levels).codes.astype(np.int64))
    grid = P.event_grid(ev_s, code[np.searchsorted(raw, ev["t"].to_numpy(float))])
    k = 1 if strata is None else len(strata_levels)

    placed = [dask.delayed(_prepare, pure=True)(blk, time, event, wcol, ccol, scol, spec,
                                                strata_levels, broadcast(raw),
                                                broadcast(code), broadcast(grid), start)
              for blk in ddf.to_delayed()]
    placed = keep_prepared(placed)
    counts, sums, sw, swx, xmax, lo, hi, sw_s = tree_sum(placed, _moments_part, _add_moments,
                                                         k).payload
    center = swx / sw if weights is not None else sums.sum(axis=0) / counts.sum()
    means = sums / np.where(counts > 0, counts, 1.0)[:, None]
    gram, wss, two, sw_hi, n_hi = tree_sum(placed, _gram_part, _add_gram, broadcast(means),
                                           center, lo, hi).payload
    if weights is not None:
        said = extreme_weights(placed, lo, hi, two, sw_hi, n_hi, sw, part.n, sw_s, counts,
                               strata)
        msgs += [said] if said else []
    alias, combo = K.aliased_from_gram(gram, part.n, xmax)
    if alias.all():
        raise InputError(Problem("every covariate is constant within strata: nothing to fit",
                                 column=event))
    msgs += aliased_messages(list(spec.names), alias, combo, stacklevel=4)
    keep = ~alias
    prepared = keep_prepared([dask.delayed(_centred, pure=True)(prep, center, keep)
                              for prep in placed])
    del placed

    names = [n for n, fitted in zip(spec.names, keep, strict=True) if fitted]
    p = len(names)
    if robust is None:
        robust = weights is not None or cluster is not None
    cluster_meta = ddf[ccol]._meta if cluster is not None else None
    if firth:
        from ..regression.firth import TIES_NOTE
        from ._firth import firth_fit

        msgs += [] if ties == "breslow" else [TIES_NOTE.format(ties=ties)]
        fields = firth_fit(prepared, names, part.n, sums.sum(axis=0)[keep] / counts.sum()
                           - center[keep], weights is not None, robust, conf_level,
                           lambda rows, b, haz: _meat(rows, b, haz, p, cluster is not None,
                                                      cluster_meta))
        return _with_aliased(DaskCox(**fields, n=part.n, n_event=scan["n_event"],
                                     warnings=msgs, conf_level=conf_level,
                                     terms=_kept_terms(spec, names),
                                     weighted=weights is not None, dropped=dropped), spec)
    last: dict = {}
    fun = _objective(prepared, ties, p, last)
    ll0, u0, i0 = at_zero = fun(np.zeros(p))
    beta, ll, u, imat, iters, converged = K.newton_raphson(fun, np.zeros(p), first=at_zero)
    fit_msgs = []
    if not converged:
        fit_msgs.append(f"Newton-Raphson did not converge in {iters} iterations")
        warnings.warn(fit_msgs[-1], RuntimeWarning, stacklevel=3)
    # the in-memory check reads the weighted spread of each centred column only
    spread = np.sqrt(wss[keep] / sw)[None, :]
    beta, ll, u, imat, iters, infinite = _divergence(fun, beta, ll, u, imat, iters, spread,
                                                     np.ones(1))
    naive = K.inverse_sym(imat)
    if robust:
        if last.get("beta") is not beta:
            fun(beta)
        meat = _meat(prepared, beta, last["haz"], p, cluster is not None, cluster_meta)
        var = naive @ meat @ naive
        variance = "robust (cluster sandwich)" if cluster is not None else "robust sandwich"
    else:
        var, variance = naive, "model-based"
    return _result(names, beta, ll0, ll, u0, i0, var, naive, infinite, conf_level, ties,
                   robust, variance, iters, spec, part.n, scan["n_event"], msgs + fit_msgs,
                   weights is not None, dropped)


def _result(names, beta, ll0, ll, u0, i0, var, naive, infinite, conf_level, ties, robust,
            variance, iters, spec, n, n_event, msgs, weighted, dropped) -> DaskCox:
    """The in-memory fit's summary, tests and messages from the fitted pieces."""
    summary, tests = wald_tables(names, beta, var, naive, infinite, (ll0, ll), u0, i0,
                                 conf_level, msgs, stacklevel=5)
    return _with_aliased(DaskCox(summary=summary, loglik=(ll0, ll), tests=tests, n=n,
                                 n_event=n_event, ties=ties, robust=bool(robust), firth=False,
                                 warnings=msgs, conf_level=conf_level, variance=variance,
                                 iterations=iters,
                                 vcov=pd.DataFrame(var, index=names, columns=names),
                                 terms=_kept_terms(spec, names), weighted=weighted,
                                 dropped=dropped), spec)


def _kept_terms(spec: Spec, names: list) -> dict:
    """Each term's fitted columns (an aliased column left out, a term without any
    dropped), as in memory."""
    terms = {t: [c for c in cols if c in names] for t, cols in spec.terms.items()}
    return {t: cols for t, cols in terms.items() if cols}


def _with_aliased(fit: DaskCox, spec: Spec) -> DaskCox:
    """The aliased columns back as NaN rows of ``summary`` and ``vcov`` (design order)."""
    every = list(spec.names)
    return replace(fit, summary=fit.summary.reindex(pd.Index(every, name="term")),
                   vcov=fit.vcov.reindex(index=every, columns=every))


register_sizes(Prepared, P.Placement, P.Bins)  # a worker unpickling them imports this
