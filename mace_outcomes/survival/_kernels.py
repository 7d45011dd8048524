"""Risk-set kernels shared by the survival estimators.

Small pure numpy functions. No pandas, no I/O, no Python loop over subjects or
event times: subjects are binned to their distinct time (``np.bincount``; whole-day
times without any sort) and risk sets are reverse cumulative sums. Other rooms
(competing risks, Cox) may import these; their signatures are kept stable.

Conventions
-----------
* ``event`` 0/1; ``weights`` positive (``None`` = 1). :func:`risk_table` and the
  kernels built on it take subjects in any order (whole-day times are binned without
  sorting).
* A *distinct-time grid* is ``(utime, inverse)``: the distinct values of ``time``
  (ascending) and, per subject, the index of its time in ``utime``.
* ``n_risk`` at a time ``t`` counts subjects with ``time >= t`` (censored at
  ``t`` are still at risk at ``t``, as in Kaplan & Meier 1958 and R's survfit).
  With delayed entry (counting-process rows ``(start, stop]``) a row is at risk when
  ``start < t <= stop``: ``n_risk(t) = #{stop >= t} - #{start >= t}``, the second
  term one more reverse cumulative sum (:func:`entry_risk`).
* Times equal up to floating-point noise are one time, as R's ``aeqSurv``
  (:func:`tied_to_previous`): every binning goes through :func:`time_grid` or
  :func:`aeq_times`, so 2 and ``sqrt(2)**2`` are tied everywhere.

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
JASA 53:457-481.
Greenwood M (1926). The natural duration of cancer. Reports on Public Health and
Medical Subjects 33:1-26.
Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model.
Springer, sections 2.2 and 7.2 (infinitesimal-jackknife variance).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import norm

__all__ = [
    "RiskTable",
    "TIME_TOLERANCE",
    "tied_to_previous",
    "aeq_times",
    "snap_sorted",
    "time_grid",
    "entry_risk",
    "risk_table",
    "km_surv",
    "greenwood",
    "km_ij_log_variance",
    "ij_log_variance_binned",
    "rmst_area",
    "rmst_ij_influence",
    "confidence_band",
    "survfit_quantile",
    "StrataGrid",
    "strata_grid",
    "seg_cumsum",
    "seg_rev_cumsum",
    "seg_shift",
    "seg_cumprod",
    "segments",
    "seg_blocks",
    "seg_scan",
]


class RiskTable(NamedTuple):
    """Counts on the distinct-time grid (all floats; weighted when weights were given)."""

    time: np.ndarray  # distinct times
    n_risk: np.ndarray  # at risk just before each time
    n_event: np.ndarray  # events at each time
    n_censor: np.ndarray  # censored at each time
    inverse: np.ndarray  # for each subject (input order), the index of its distinct time


def _rev_cumsum(x: np.ndarray) -> np.ndarray:
    # Summing from the end keeps the small late risk sets exact (no total - cumsum loss).
    return np.cumsum(x[::-1])[::-1]


# R's survival tolerance (aeqSurv): sqrt of the double-precision machine epsilon.
TIME_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def tied_to_previous(distinct: np.ndarray, tol: float = TIME_TOLERANCE) -> np.ndarray:
    """For ascending distinct times, True where a time is tied with the one before it.

    R's ``aeqSurv`` rule: neighbours closer than ``tol`` absolutely, or than ``tol``
    times the mean absolute time, are one time (floating-point noise, e.g. ``2`` and
    ``sqrt(2)**2``, or ``age + futime / 12`` on an age scale). A tied run takes its
    first (smallest) value. Element 0 is always False.
    """
    u = np.asarray(distinct, dtype=float)
    out = np.zeros(u.size, dtype=bool)
    if u.size > 1:
        dy = np.diff(u)
        out[1:] = (dy <= tol) | (dy <= tol * float(np.mean(np.abs(u))))
    return out


def _merge_tied(utime: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tied = tied_to_previous(utime)
    if not tied.any():
        return utime, inverse
    code = np.cumsum(~tied, dtype=np.int64) - 1
    return utime[~tied], code[inverse]


def aeq_times(*times: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays with times tied up to floating-point noise replaced by one value.

    Ties are judged over the distinct values of all arrays together (``start`` and
    ``stop`` of counting-process rows), as R's ``aeqSurv`` does, and each time takes
    the first value of its tied run. Arrays are returned unchanged when nothing ties.
    """
    arrays = [np.asarray(t, dtype=float) for t in times]
    sizes = np.cumsum([a.size for a in arrays])[:-1]
    utime, inverse = time_grid(np.concatenate(arrays))
    return tuple(np.split(utime[inverse], sizes))


def snap_sorted(time: np.ndarray) -> np.ndarray:
    """Ascending times with those tied up to floating-point noise set to one value (the
    first of their run), for kernels that bin sorted times by equality."""
    t = np.asarray(time, dtype=float)
    if t.size < 2:
        return t
    new = np.r_[True, t[1:] != t[:-1]]
    utime, inv = _merge_tied(t[new], np.cumsum(new) - 1)
    return utime[inv] if utime.size < int(new.sum()) else t


def time_grid(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times (ascending) and, for each subject, the index of its time among them.

    Works on arrays in any order. Whole-number times in a modest range (days, as
    registry data has) are binned directly in O(n) without sorting the subjects;
    other times fall back to one argsort. Times tied up to floating-point noise
    (:func:`tied_to_previous`) share one grid time, the first of their run.
    """
    t = np.asarray(time, dtype=float)
    if t.size == 0:
        return t, np.zeros(0, dtype=np.int64)
    tmin, tmax = float(t.min()), float(t.max())
    span = tmax - tmin
    if span <= 4 * t.size + 4096:
        shifted = t - tmin
        idx = shifted.astype(np.int64)
        if np.array_equal(idx, shifted):
            present = np.bincount(idx, minlength=int(span) + 1) > 0
            remap = np.cumsum(present, dtype=np.int64) - 1
            return _merge_tied(np.flatnonzero(present) + tmin, remap[idx])
    order = np.argsort(t)
    srt = t[order]
    new = np.empty(t.size, dtype=bool)
    new[0] = True
    np.not_equal(srt[1:], srt[:-1], out=new[1:])
    inverse = np.empty(t.size, dtype=np.int64)
    inverse[order] = np.cumsum(new, dtype=np.int64) - 1
    return _merge_tied(srt[new], inverse)


def entry_risk(utime: np.ndarray, start: np.ndarray, key_offset: np.ndarray | None = None,
               weights: np.ndarray | None = None, size: int | None = None) -> np.ndarray:
    """Per grid cell, the (weighted) count of rows that enter at or after its time.

    ``#{start >= utime[j]}`` is what delayed entry takes off ``#{stop >= utime[j]}``:
    each start is binned to the last grid time at or before it and the bins are summed
    from the end (one more reverse cumulative sum). ``start`` must already be on the
    grid's tolerance (:func:`aeq_times`). ``key_offset`` (``group * len(utime)``) and
    ``size`` bin several groups at once; the result is then (groups, len(utime)).
    """
    m = utime.size
    c = np.searchsorted(utime, start, side="right") - 1  # last grid time <= start
    inside = c >= 0  # starts before the first time remove no one from any risk set
    key = c if key_offset is None else key_offset + c
    wts = None if weights is None else np.asarray(weights, dtype=float)[inside]
    total = m if size is None else size
    counts = np.bincount(key[inside], weights=wts, minlength=total).astype(float)
    out = np.cumsum(counts.reshape(-1, m)[:, ::-1], axis=1)[:, ::-1]
    return out if size is not None else out[0]


class StrataGrid(NamedTuple):
    """Cells (stratum, distinct time), ordered by stratum then time.

    Every cumulative quantity of a risk-set kernel runs along the cells and restarts at
    each stratum's first cell, so all strata are handled in one pass (the ``seg_*``
    helpers). Without strata there is one segment and the cells are the distinct times.
    """

    time: np.ndarray  # time of each cell
    stratum: np.ndarray  # stratum code of each cell (0 without strata)
    inverse: np.ndarray  # for each subject (input order), the index of its cell
    starts: np.ndarray  # index of the first cell of each stratum present
    seg: np.ndarray  # for each cell, the index of its stratum among those present


def segments(stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First index of each run of equal codes and, per element, the index of its run."""
    new = np.empty(stratum.size, dtype=bool)
    new[:1] = True
    np.not_equal(stratum[1:], stratum[:-1], out=new[1:])
    return np.flatnonzero(new), np.cumsum(new, dtype=np.int64) - 1


def strata_grid(time: np.ndarray, strata: np.ndarray | None = None) -> StrataGrid:
    """The (stratum, distinct time) cells of subjects given in any order.

    ``strata`` are integer codes (``None``: one stratum). The cell key
    ``stratum * n_times + time index`` is binned without a sort when its span is modest
    (as :func:`time_grid` does for days) and sorted once otherwise.
    """
    utime, inv = time_grid(time)
    if strata is None or utime.size == 0:
        zero = np.zeros(utime.size, dtype=np.int64)
        return StrataGrid(utime, zero, inv, np.zeros(min(utime.size, 1), dtype=np.int64),
                          zero)
    s = np.asarray(strata, dtype=np.int64)
    s = s - s.min()
    m = utime.size
    key = s * m + inv
    span = int(key.max()) + 1
    if span <= 8 * key.size + (1 << 22):  # at most ~40 bytes a subject: no sort
        present = np.zeros(span, dtype=bool)
        present[key] = True
        ukey = np.flatnonzero(present)
        rank = np.cumsum(present, dtype=np.int32 if span < 2**31 else np.int64)
        cell = rank[key].astype(np.int64) - 1
    else:
        ukey, cell = np.unique(key, return_inverse=True)
    stratum = ukey // m
    starts, seg = segments(stratum)
    return StrataGrid(utime[ukey % m], stratum, cell.reshape(-1), starts, seg)


def seg_cumsum(x: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative sum along axis 0 restarting at each segment start."""
    c = np.cumsum(x, axis=0)
    if starts.size <= 1:
        return c
    return c - (c[starts] - x[starts])[seg]


def seg_rev_cumsum(x: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Sum from each row to the end of its segment (axis 0): risk sets within strata."""
    r = np.cumsum(x[::-1], axis=0)[::-1]
    if starts.size <= 1:
        return r
    after = np.zeros((starts.size,) + x.shape[1:], dtype=r.dtype)
    after[:-1] = r[starts[1:]]  # what the later strata add
    return r - after[seg]


def seg_shift(x: np.ndarray, starts: np.ndarray, first: float) -> np.ndarray:
    """``x`` one row later along axis 0 within each segment; ``first`` at each start."""
    out = np.empty_like(x)
    out[1:] = x[:-1]
    out[starts] = first
    return out


def seg_cumprod(x: np.ndarray, starts: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative product along axis 0 restarting at each segment start.

    Several segments: ``exp`` of the segmented sum of ``log |x|``, with zeros and signs
    counted separately, so a stratum whose curve reaches 0 does not touch the others.
    """
    if starts.size <= 1:
        return np.cumprod(x, axis=0)
    zero = x == 0
    with np.errstate(divide="ignore"):
        logs = np.log(np.abs(np.where(zero, 1.0, x)))
    out = np.exp(seg_cumsum(logs, starts, seg))
    out[seg_cumsum(zero.astype(np.int64), starts, seg) > 0] = 0.0
    neg = seg_cumsum((x < 0).astype(np.int64), starts, seg) % 2 == 1
    out[neg] = -out[neg]
    return out


def seg_blocks(starts: np.ndarray, m: int) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """How :func:`seg_scan` lays the ``m`` cells of the segments out in padded blocks.

    Segments are grouped by their length rounded up to an eighth of the power of two
    above it (1, 2, ..., 8, 10, 12, 14, 16, 20, 24, ...); each group is one
    (segments, width) block, padded after each segment's end. Padding adds less than a
    quarter to the work and there are about ``4 log2(m)`` blocks at most, whatever the
    number of segments. Each block is ``(cells, flat, n_rows, width)``: the cells it
    holds and their positions in the flattened block.
    """
    starts = np.asarray(starts, dtype=np.int64)
    length = np.diff(np.r_[starts, m])
    eighth = 1 << np.maximum(np.frexp((length - 1).astype(float))[1] - 3, 0)
    cls = -(-length // eighth) * eighth
    cell_cls = np.repeat(cls, length)
    pos = np.arange(m) - np.repeat(starts, length)
    blocks = []
    for k in np.unique(cls):  # one block per length class, not per segment
        in_k = cls == k
        width = int(length[in_k].max())
        cells = np.flatnonzero(cell_cls == k)
        row = np.repeat(np.arange(int(in_k.sum())), length[in_k])
        blocks.append((cells, row * width + pos[cells], int(in_k.sum()), width))
    return blocks


def seg_scan(ufunc: np.ufunc, x: np.ndarray,
             blocks: list[tuple[np.ndarray, np.ndarray, int, int]] | None) -> np.ndarray:
    """``ufunc.accumulate`` along axis 0 restarting at each segment, exactly.

    Each segment is accumulated on its own (blocks from :func:`seg_blocks`; ``None``:
    one segment), so every value is bit for bit what the segment alone would give.
    :func:`seg_cumsum` subtracts the running total of the earlier segments instead: its
    rounding moves exact values such as a cumulative incidence of 1, and a NaN or
    infinity in one segment would reach all later ones.
    """
    if blocks is None:
        return ufunc.accumulate(x, axis=0)
    out = None if len(blocks) == 1 else np.empty_like(x)
    for cells, flat, n_rows, width in blocks:
        pad = np.zeros((n_rows * width,) + x.shape[1:], dtype=x.dtype)
        pad[flat] = x if out is None else x[cells]
        acc = ufunc.accumulate(pad.reshape((n_rows, width) + x.shape[1:]), axis=1)
        got = acc.reshape(pad.shape).take(flat, axis=0)
        if out is None:
            return got
        out[cells] = got
    return out


def risk_table(time: np.ndarray, event: np.ndarray,
               weights: np.ndarray | None = None) -> RiskTable:
    """Numbers at risk, events and censorings at each distinct time.

    ``n_risk[j] = sum of weights with time >= utime[j]``. The arrays may be in any
    order; ``inverse`` maps each subject (in the order given) to its distinct time.
    """
    t = np.asarray(time, dtype=float)
    utime, inverse = time_grid(t)
    ev = np.asarray(event, dtype=float)
    w = np.ones_like(ev) if weights is None else np.asarray(weights, dtype=float)
    m = utime.size
    n_event = np.bincount(inverse, weights=w * ev, minlength=m)
    n_censor = np.bincount(inverse, weights=w * (1.0 - ev), minlength=m)
    n_risk = _rev_cumsum(n_event + n_censor)
    return RiskTable(utime, n_risk, n_event, n_censor, inverse)


def km_surv(n_risk: np.ndarray, n_event: np.ndarray) -> np.ndarray:
    """Product-limit estimate ``S(t_j) = prod_{i<=j} (1 - d_i / n_i)`` (Kaplan & Meier 1958)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_event > 0, (n_risk - n_event) / n_risk, 1.0)
    return np.cumprod(factor)


def greenwood(n_risk: np.ndarray, n_event: np.ndarray) -> np.ndarray:
    """Greenwood (1926) variance of ``log S``: ``sum_{i<=j} d_i / (n_i (n_i - d_i))``.

    Infinite once every subject at risk has failed (R reports a NaN standard error there).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    return np.cumsum(term)


def _hazard_parts(n_risk, n_event):
    """``g_j = d_j / (n_j (n_j - d_j))`` summed to ``G``, and ``a_j = 1 / (n_j - d_j)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        full = n_risk > n_event
        g = np.where((n_event > 0) & full, n_event / (n_risk * (n_risk - n_event)), 0.0)
        a = np.where(full, 1.0 / (n_risk - n_event), 0.0)
    return np.cumsum(g), a


def km_ij_influence(tab: RiskTable, event: np.ndarray, weights: np.ndarray | None,
                    t0: float) -> tuple[float, np.ndarray]:
    """``S(t0)`` and each subject's weighted influence ``w_i dS(t0)/dw_i`` on it.

    The same derivative as :func:`km_ij_log_variance` (Therneau & Grambsch 2000, sec.
    7.2) at one time: ``S(t0) [G(min(t0, T_i)) - delta_i 1{T_i <= t0} a(T_i)]``. Summed
    within clusters, the influences give the robust covariance of curves whose clusters
    hold subjects of several groups (e.g. one patient's lesions in both arms).
    """
    ev = np.asarray(event, dtype=float)
    w = np.ones_like(ev) if weights is None else np.asarray(weights, dtype=float)
    last = int(np.searchsorted(tab.time, t0, side="right")) - 1
    if last < 0:
        return 1.0, np.zeros_like(ev)
    G, a = _hazard_parts(tab.n_risk, tab.n_event)
    surv = float(km_surv(tab.n_risk, tab.n_event)[last])
    j = tab.inverse
    return surv, w * surv * (G[np.minimum(j, last)] - ev * (j <= last) * a[j])


def ij_log_variance_binned(n_risk: np.ndarray, n_event: np.ndarray, w2_event: np.ndarray,
                           w2_censor: np.ndarray) -> np.ndarray:
    """Infinitesimal-jackknife variance of ``log S`` without clusters, from binned sums.

    ``w2_event[j]`` / ``w2_censor[j]`` sum the squared weights of the subjects with an
    event / censored at grid time ``j``. With each subject its own cluster (see
    :func:`km_ij_log_variance`),
    ``sum_i (w_i D_i)^2 = sum_{T_i<=t} b_i^2 + G(t)^2 sum_{T_i>t} w_i^2``, where
    ``b_i^2 = w_i^2 G^2`` if censored and ``w_i^2 (G - a)^2`` if an event (written so,
    not expanded, to avoid cancellation).
    """
    G, a = _hazard_parts(n_risk, n_event)
    gone = np.cumsum(w2_censor * G * G + w2_event * (G - a) ** 2)
    w2 = w2_event + w2_censor
    remaining = _rev_cumsum(w2) - w2
    return gone + G * G * remaining


def km_ij_log_variance(tab: RiskTable, event: np.ndarray, weights: np.ndarray | None,
                       cluster: np.ndarray | None = None,
                       entry: np.ndarray | None = None) -> np.ndarray:
    """Infinitesimal-jackknife variance of ``log S`` on the grid of ``tab``.

    The derivative of the (weighted) Kaplan-Meier curve with respect to subject
    ``i``'s weight is (Therneau & Grambsch 2000, sec. 7.2)::

        dS(t)/dw_i = S(t) [ G(min(t, T_i)) - delta_i 1{T_i <= t} / (n(T_i) - d(T_i)) ]

    with ``G(t) = sum_{s<=t} d(s) / (n(s)(n(s) - d(s)))``. The robust variance is
    ``sum_k (sum_{i in cluster k} w_i dS/dw_i)^2``, which is what R's
    ``survfit(..., robust=TRUE)`` (and ``cluster=``) reports. Each subject's term
    changes only when the subject leaves the risk set, so the sum over subjects is
    carried forward by cumulative sums (no loop over times). Returned divided by
    ``S(t)^2`` (a variance of ``log S``); multiply by ``S^2`` for the variance of S.
    Entries where the curve has reached 0 are meaningless and should be set by the
    caller (R reports a zero standard error there).

    Delayed entry (``entry``: per subject, the grid index of the last time at or before
    its start, -1 if none): the subject's derivative loses ``G(min(t, start_i))``, the
    hazard before it entered. That is a second record of the subject, of weight
    ``-w_i``, leaving at its start, so the same bookkeeping applies (each subject its
    own cluster when none is given).
    """
    ev = np.asarray(event, dtype=float)
    w = np.ones_like(ev) if weights is None else np.asarray(weights, dtype=float)
    G, a = _hazard_parts(tab.n_risk, tab.n_event)
    j = tab.inverse
    m = tab.time.size
    if entry is not None:
        cluster = np.arange(ev.size) if cluster is None else np.asarray(cluster)
        late = np.flatnonzero(np.asarray(entry) >= 0)  # earlier entries change nothing
        j = np.r_[j, np.asarray(entry)[late]]
        ev = np.r_[ev, np.zeros(late.size)]
        w = np.r_[w, -w[late]]
        cluster = np.r_[cluster, cluster[late]]
    if cluster is None:
        w2 = w * w
        return ij_log_variance_binned(tab.n_risk, tab.n_event,
                                      np.bincount(j, weights=w2 * ev, minlength=m),
                                      np.bincount(j, weights=w2 * (1.0 - ev), minlength=m))
    b = w * (G[j] - ev * a[j])  # subject's weighted term once it has left the risk set
    # Cluster k contributes A_k(t) = B_k(t) + G(t) R_k(t): B_k sums b_i of members already
    # gone, R_k the weights of members still at risk. Track sum B^2, sum B R, sum R^2 by
    # the change each departure makes, in time order within each cluster (ties in time
    # may be taken in any order: their changes are summed before G(t) is applied).
    cl = np.asarray(cluster, dtype=np.int64)
    order = np.argsort(cl * m + j)
    cls = cl[order]
    bs, ws = b[order], w[order]
    first = np.r_[True, cls[1:] != cls[:-1]]
    gid = np.cumsum(first) - 1
    start_pos = np.flatnonzero(first)
    cb, cw = np.cumsum(bs) - bs, np.cumsum(ws) - ws  # exclusive running sums
    b_before = cb - cb[start_pos][gid]
    w_before = cw - cw[start_pos][gid]
    r_total = np.add.reduceat(ws, start_pos)
    r_before = r_total[gid] - w_before
    js = j[order]
    d_b2 = np.bincount(js, weights=bs * (2.0 * b_before + bs), minlength=m)
    d_br = np.bincount(js, weights=(b_before + bs) * (r_before - ws) - b_before * r_before,
                       minlength=m)
    d_r2 = np.bincount(js, weights=(r_before - ws) ** 2 - r_before ** 2, minlength=m)
    sb2 = np.cumsum(d_b2)
    sbr = np.cumsum(d_br)
    sr2 = np.sum(r_total ** 2) + np.cumsum(d_r2)
    return sb2 + 2.0 * G * sbr + G * G * sr2


def rmst_area(time: np.ndarray, surv: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """Area under the step curve ``S`` from 0 to ``tau`` and the area from each grid time.

    Returns ``(rmst, tail)`` with ``tail[j] = integral_{time[j]}^{tau} S(t) dt`` (0 beyond tau).
    """
    t_end = np.minimum(np.r_[time[1:], tau], tau)
    width = np.clip(t_end - np.minimum(time, tau), 0.0, None)
    pieces = surv * width
    first = min(float(time[0]), tau) if time.size else tau
    tail = _rev_cumsum(pieces) if time.size else pieces
    return first + float(tail[0] if time.size else 0.0), tail


def rmst_ij_influence(tab: RiskTable, surv: np.ndarray, event: np.ndarray, tau: float
                      ) -> np.ndarray:
    """Per-subject derivative of the RMST (area under S to ``tau``) w.r.t. its weight.

    Integrates the Kaplan-Meier influence ``dS(t)/dw_i`` of :func:`km_ij_log_variance`
    over ``[0, tau]``; multiply by ``w_i``, sum within clusters and square-sum for the
    robust variance.
    """
    ev = np.asarray(event, dtype=float)
    G, a = _hazard_parts(tab.n_risk, tab.n_event)
    t = tab.time
    # I(u) = int_0^u S, H(u) = int_0^u S G, evaluated at grid times (S, G right-continuous).
    nxt = np.minimum(np.r_[t[1:], tau], tau)
    width = np.clip(nxt - np.minimum(t, tau), 0.0, None)
    lead = min(float(t[0]), tau)  # before the first time S = 1, G = 0
    I_at = lead + np.r_[0.0, np.cumsum(surv * width)[:-1]]
    H_at = np.r_[0.0, np.cumsum(surv * G * width)[:-1]]
    I_tau = lead + float(np.sum(surv * width))
    H_tau = float(np.sum(surv * G * width))
    j = tab.inverse
    within = t[j] <= tau
    H_i = np.where(within, H_at[j], H_tau)
    I_i = np.where(within, I_at[j], I_tau)
    return H_i + G[j] * (I_tau - I_i) - np.where(within, ev * a[j] * (I_tau - I_at[j]), 0.0)


def confidence_band(surv: np.ndarray, se_log: np.ndarray, conf_type: str = "log-log",
                    conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits for S from the standard error of ``log S`` (as R's survfit_confint).

    * ``"log-log"``: ``exp(-exp(log(-log S) -+ z se / log S))`` (Kalbfleisch & Prentice);
      undefined (NaN) where ``S`` is 0 or 1.
    * ``"log"``: ``S exp(-+ z se)``, upper limit capped at 1; NaN where ``S == 0``.
    * ``"plain"``: ``S -+ z se S`` clipped to [0, 1].
    """
    z = norm.ppf(1 - (1 - conf_level) / 2)
    s = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            h = z * se * s
            return np.maximum(s - h, 0.0), np.minimum(s + h, 1.0)
        if conf_type == "log":
            xx = np.where(s == 0, np.nan, s)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        if conf_type == "log-log":
            xx = np.where((s == 0) | (s == 1), np.nan, s)
            h = z * se / np.log(xx)
            ll = np.log(-np.log(xx))
            return np.exp(-np.exp(ll - h)), np.exp(-np.exp(ll + h))
    raise ValueError(f"conf_type must be 'log-log', 'log' or 'plain', not {conf_type!r}")


def survfit_quantile(time: np.ndarray, surv: np.ndarray, probs,
                     tol: float = 1.4901161193847656e-08, first: float = 0.0) -> np.ndarray:
    """Times at which a step curve first falls to ``1 - p``, as R's ``quantile.survfit``.

    Where the curve sits exactly at ``1 - p`` over an interval, the midpoint of the
    interval is returned (for the last flat piece, the midpoint to the last time).
    NaN entries of ``surv`` (undefined confidence limits) are ignored; ``NaN`` is
    returned where the curve never reaches ``1 - p``.
    """
    p = np.atleast_1d(np.asarray(probs, dtype=float))
    x = np.r_[first, np.asarray(time, dtype=float)]
    y = np.r_[0.0, 1.0 - np.asarray(surv, dtype=float)]
    out = np.full(p.shape, np.nan)
    if np.all(np.isnan(y)) or np.nanmax(y) < p.min():
        return out
    xmax = x[-1]
    # Keep the first occurrence of each value (NaN counts as one value), as duplicated().
    key = np.where(np.isnan(y), np.inf, y)
    _, first_idx = np.unique(key, return_index=True)
    keep = np.zeros(y.size, dtype=bool)
    keep[first_idx] = True
    x, y = x[keep], y[keep]
    y_last = y[-1]
    ok = ~np.isnan(y)
    xv, yv = x[ok], y[ok]
    order = np.argsort(yv, kind="stable")
    ys, xs = yv[order], xv[order]
    # approx(method="constant", f=1): the node with the smallest y >= level.
    i1 = np.searchsorted(ys, p - tol, side="left")
    i2 = np.searchsorted(ys, p + tol, side="left")
    n = ys.size
    x1 = np.where(i1 < n, xs[np.minimum(i1, n - 1)], np.nan)
    x2 = np.where(i2 < n, xs[np.minimum(i2, n - 1)], np.nan)
    out = (x1 + x2) / 2
    out[p == 0] = x[0]
    if not np.isnan(y_last):
        last = np.abs(p - y_last) < tol
        out[last] = (x1[last] + xmax) / 2
    return out
