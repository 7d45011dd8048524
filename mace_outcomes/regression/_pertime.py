"""Per-time statistics of the Cox partial likelihood: pieces that add over partitions.

The log partial likelihood, its score and information, and the score residuals are
built from two kinds of sums: sums over the rows' *event times* (a small per-time table,
``n_times x p``) and sums over *rows* given that table. Both kinds add over any
partition of the rows, so the same functions serve one in-memory array (one partition)
and a Dask frame (many).

Using it over partitions
------------------------
Stratum codes must be the same integers in every partition (one factorisation of the
whole column), and ``x`` centred by the same vector everywhere (the likelihood is
shift-invariant; centring only keeps ``exp(eta)`` in range).

1. Grid, once: the distinct ``(stratum, time)`` of the events of all partitions,
   ``event_grid(strata_of_events, times_of_events)`` on the concatenated event rows
   (each partition may first reduce its own events with ``event_grid``). Times tied up
   to floating-point noise should be snapped to one value first (R's ``aeqSurv``; the
   in-memory path does this in ``make_layout``).
2. Placement, once per partition (beta-free): ``place_rows(grid, time, event, strata,
   start)`` puts each row on the grid (``lo``/``hi``: the grid positions of its at-risk
   interval, and the grid position of its event). ``efron_terms(d)`` (``d`` the deaths
   per grid time, a beta-free sum) and ``death_sums(place, x, w)`` may also be computed
   once and passed on; both are optional shortcuts.
3. Each Newton step at ``beta``:

   a. ``table = sum of pertime(place, x, w, beta)`` over partitions (``PerTime.add``);
      every field is a sum over rows, hence additive;
   b. ``haz = hazard(table, ties, residuals=False)`` once, on the combined table (not
      additive: it divides and takes logs); broadcast it: it holds two ``n_times``
      vectors (``cum_a``, ``b``) besides p x p results;
   c. ``rows = sum of newton_pieces(place, x, w, beta, haz)`` over partitions
      (``RowSums.add``): the deaths' ``sum w eta``, ``sum w x`` and the weighted
      cross-product ``X' diag(c) X``, all additive;
   d. ``loglik, score, info = haz.combine(rows)`` (``-inf``/NaN for an overflowed trial
      step, which step-halving then shortens).
4. Robust variance, at the estimate: ``haz = hazard(table, ties)`` (default
   ``residuals=True``: adds three ``n_times x p`` tables), broadcast; per partition
   ``score_residuals(place, x, w, beta, haz)`` gives the per-row score residuals ``U``;
   sum ``w U`` within clusters (a groupby across partitions; without clusters
   ``sum_rows (w U)(w U)'`` is additive), then ``I^-1 (U'U) I^-1``.

Derivation (as R's survival documents its ``coxfit6``/``agfit4`` sums)
-----------------------------------------------------------------------
Row ``i``: weight ``w_i``, risk score ``r_i = w_i exp(eta_i)``, at risk at ``t`` in its
stratum when ``start_i < t <= stop_i``. An event time ``g`` has risk set ``R_g``, ``d``
deaths ``D_g`` (unweighted count) of summed weight ``W``, and per-time sums
``S0 = sum_R r``, ``S1 = sum_R r x``, ``E0 = sum_D r``, ``E1 = sum_D r x``.
Efron's ``k``-th term (``k = 0..d-1``) has ``f_k = k/d``, weight ``m_k = W/d``,
denominator ``D_k = S0 - f_k E0`` and mean ``xbar_k = (S1 - f_k E1) / D_k``; Breslow has
one term, ``f = 0``, ``m = W``. Then::

    loglik = sum_deaths w eta - sum_g sum_k m_k log D_k
    score  = sum_deaths w x   - sum_g sum_k m_k xbar_k
    info   = sum_g sum_k m_k [(S2 - f_k E2) / D_k - xbar_k xbar_k']

*Second moments.* With the hazard increments ``a_g = sum_k m_k / D_k`` (Efron's
baseline-hazard jump) and ``b_g = sum_k m_k f_k / D_k``, exchanging the sums over times
and rows::

    sum_g (a_g S2_g - b_g E2_g) = sum_i r_i x_i x_i' (sum_{g: i in R_g} a_g)
                                  - sum_{deaths i} r_i b_g(i) x_i x_i'
                                = X' diag(c) X,   c_i = r_i (dH_i - delta_i b_g(i)),

``dH_i = H(stop_i) - H(start_i)`` the row's increment of its stratum's cumulative
baseline hazard. One weighted cross-product over the rows per step, never an
``n x p^2`` array. ``c_i >= 0``: a death's ``dH_i >= a_g > b_g``.

*Means.* ``xbar_k = u + alpha_k delta`` with ``u = S1/S0``, ``delta = u - E1/E0`` and
``alpha_k = f_k E0 / D_k`` (check: ``D_k (u + alpha_k delta) = S1 - f_k E1``), so with
the per-time scalars ``P1 = sum_k m_k alpha_k``, ``P2 = sum_k m_k alpha_k^2``::

    sum_k m_k xbar_k        = W u + P1 delta
    sum_k m_k xbar_k xbar_k' = W u u' + P1 (u delta' + delta u') + P2 delta delta'

products of ``n_times x p`` tables (Breslow: ``alpha = 0``, ``b = 0``).

*Score residuals* (R's ``residuals(coxph, type="score")``; Efron's tied deaths share
their risk weight out over the ``d`` terms). With ``e_i = exp(eta_i)``,
``B_g = sum_k (m_k/D_k) xbar_k = a_g u + (sum_k m_k alpha_k / D_k) delta``, its
cumulative sum ``HB`` like ``H``, the mean of the terms' means ``M_g = u + mean_k(alpha_k)
delta`` and ``F_g = sum_k (m_k f_k / D_k) xbar_k``::

    U_i = delta_i (x_i - M_g(i)) - e_i (x_i dH_i - dHB_i) + delta_i e_i (x_i b_g(i) - F_g(i))

``sum_i w_i U_i`` is the score; ``(w U) I^-1`` are the dfbeta (Lin & Wei 1989).

References
----------
Efron B (1977) JASA 72:557-565. Breslow NE (1974) Biometrics 30:89-99.
Therneau TM, Grambsch PM (2000) Modeling Survival Data, ch. 3. Springer.
Lin DY, Wei LJ (1989) JASA 84:1074-1078.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import sparse

from ..survival._kernels import time_grid

__all__ = ["PerTime", "Hazard", "RowSums", "Placement", "Bins", "event_grid", "place_rows",
           "make_placement", "pertime", "hazard", "efron_terms", "risk_scores",
           "death_sums", "newton_pieces", "cross_product", "score_residuals"]


@dataclass(frozen=True)
class PerTime:
    """Per event time sums of one partition's rows at a given ``beta``; all additive.

    ``stratum``, ``time``: the grid (identical in every partition); ``d``: deaths
    (unweighted count); ``wd``: their summed weight; ``s0``, ``s1`` (n_times x p):
    sums of ``r``, ``r x`` over the rows at risk; ``e0``, ``e1``: the same over the deaths.
    """

    stratum: np.ndarray
    time: np.ndarray
    d: np.ndarray
    wd: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    e0: np.ndarray
    e1: np.ndarray

    def add(self, other: PerTime) -> PerTime:
        """The table of the union of both partitions' rows (same grid)."""
        if not (np.array_equal(self.stratum, other.stratum)
                and np.array_equal(self.time, other.time)):
            raise ValueError("per-time tables of different event-time grids cannot be added")
        with np.errstate(invalid="ignore"):  # inf + -inf of an overflowed trial step
            return PerTime(self.stratum, self.time,
                           *(getattr(self, f.name) + getattr(other, f.name)
                             for f in fields(self)[2:]))


@dataclass(frozen=True)
class RowSums:
    """Row sums of one partition given the broadcast :class:`Hazard`; all additive."""

    weta: float  # sum over deaths of w eta
    wx: np.ndarray  # (p,) sum over deaths of w x
    xcx: np.ndarray  # (p, p) X' diag(c) X

    def add(self, other: RowSums) -> RowSums:
        return RowSums(self.weta + other.weta, self.wx + other.wx, self.xcx + other.xcx)


@dataclass(frozen=True)
class Hazard:
    """What the rows need from the combined per-time table (broadcast), and the per-time
    parts of the log-likelihood, score and information."""

    cum_a: np.ndarray  # (m+1,) running sum of the hazard increments a_g (0 first)
    b: np.ndarray  # (m,) Efron's share b_g of the deaths' own second moments
    loglik: float  # sum_g sum_k m_k log D_k
    score: np.ndarray  # (p,) sum_g sum_k m_k xbar_k
    info: np.ndarray  # (p, p) sum_g sum_k m_k xbar_k xbar_k'
    finite: bool  # False when a trial beta overflowed
    # for score residuals only (None under ``hazard(..., residuals=False)``):
    cum_b: np.ndarray | None = None  # (m+1, p) running sum of B_g
    mean: np.ndarray | None = None  # (m, p) M_g: mean of the terms' means
    f_mean: np.ndarray | None = None  # (m, p) F_g

    def combine(self, rows: RowSums) -> tuple[float, np.ndarray, np.ndarray]:
        """``(loglik, score, information)`` from the rows' sums over all partitions
        (``-inf`` and NaN when a trial ``beta`` overflowed)."""
        if not self.finite:
            p = len(self.score)
            return -np.inf, np.full(p, np.nan), np.full((p, p), np.nan)
        return rows.weta - self.loglik, rows.wx - self.score, rows.xcx - self.info


@dataclass(frozen=True)
class Bins:
    """Rows listed by bin (CSR): bin ``k`` holds ``rows[ptr[k]:ptr[k+1]]``."""

    rows: np.ndarray
    ptr: np.ndarray
    pattern: sparse.csr_matrix  # the same (bins x rows) pattern, 32-bit indices when they fit

    @classmethod
    def of(cls, bins: np.ndarray, rows: np.ndarray, nbins: int, n: int) -> Bins:
        """List ``rows`` (ascending) by ``bins[rows]``."""
        b = bins[rows]
        if b.size > 1 and np.any(b[1:] < b[:-1]):
            rows = rows[np.argsort(b, kind="stable")]
        ptr = np.r_[0, np.cumsum(np.bincount(b, minlength=nbins))]
        # scipy copies and scans 64-bit indices on every construction: convert once
        it = np.int32 if n < 2 ** 31 - 1 else np.int64
        pattern = sparse.csr_matrix((np.ones(rows.size), rows.astype(it), ptr.astype(it)),
                                    shape=(nbins, n))
        return cls(rows, ptr, pattern)

    def sums(self, r: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per bin, the sums of ``r`` and of ``r x``: one sparse product, no n x p
        temporary."""
        nb = len(self.ptr) - 1
        if not self.rows.size:
            return np.zeros(nb), np.zeros((nb, x.shape[1]))
        vals = np.empty(self.rows.size + 1)
        vals[:-1] = r[self.rows]
        vals[-1] = 0.0
        s0 = np.add.reduceat(vals, np.minimum(self.ptr[:-1], self.rows.size))
        s0[self.ptr[:-1] == self.ptr[1:]] = 0.0  # reduceat gives an element for an empty bin
        pat = self.pattern
        mat = sparse.csr_matrix((vals[:-1], pat.indices, pat.indptr), shape=pat.shape)
        return s0, mat @ x


@dataclass(frozen=True)
class Placement:
    """A partition's rows on the event-time grid (beta-free; built once).

    Row ``i`` is at risk at the grid positions ``lo[i] <= g < hi[i]``; ``dead`` are the
    rows with an event and ``dgrp`` their grid positions. ``at_hi``, ``at_lo`` list the
    rows at risk somewhere by ``hi`` and by ``lo`` (rows with ``lo = 0`` left out: they
    never count there), ``deaths`` the deaths by position, so that binned sums are one
    sparse product.
    """

    stratum: np.ndarray
    time: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    dead: np.ndarray
    dgrp: np.ndarray
    at_hi: Bins
    at_lo: Bins
    deaths: Bins
    lo_any: bool  # whether any row has lo > 0


def make_placement(stratum: np.ndarray, time: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   dead: np.ndarray, dgrp: np.ndarray) -> Placement:
    """A :class:`Placement` from the rows' grid intervals and the deaths' positions."""
    m, n = len(time), len(lo)
    active = np.flatnonzero(hi > lo)  # rows at risk at no event time add nothing
    bins = np.zeros(n, dtype=np.int64)
    bins[dead] = dgrp
    return Placement(stratum, time, lo, hi, dead, dgrp, Bins.of(hi, active, m + 1, n),
                     Bins.of(lo, active[lo[active] > 0], m + 1, n), Bins.of(bins, dead, m, n),
                     bool(lo.any()))


def event_grid(strata: np.ndarray | None, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(stratum, time)`` of event rows, sorted by stratum then time.

    Give the strata and times of the event rows only (of all partitions, or of one to
    reduce it first). Returns ``(stratum, time)`` arrays.
    """
    t = np.asarray(time, dtype=float)
    s = np.zeros(t.size, np.int64) if strata is None else np.asarray(strata, np.int64)
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    keep = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1])] if t.size else np.zeros(0, bool)
    return s[keep], t[keep]


def place_rows(grid: tuple[np.ndarray, np.ndarray], time: np.ndarray, event: np.ndarray,
               strata: np.ndarray | None = None, start: np.ndarray | None = None
               ) -> Placement:
    """Put one partition's rows on the event-time ``grid`` (from :func:`event_grid`).

    A row is at risk at grid time ``t`` of its stratum when ``start < t <= time`` (no
    ``start``: from the stratum's first event). Times equal up to floating-point noise
    (R's ``aeqSurv``) are judged equal, over the grid and this partition's times.
    """
    gs, gt = np.asarray(grid[0], np.int64), np.asarray(grid[1], float)
    n, m = len(time), len(gt)
    st = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    parts = [gt, np.asarray(time, float)] + ([] if start is None else [np.asarray(start,
                                                                                  float)])
    _, code = time_grid(np.concatenate(parts))
    span = int(code.max()) + 2 if code.size else 1
    gkey = gs * span + code[:m]
    if np.any(np.diff(gkey) <= 0):
        raise ValueError("the grid must be sorted and distinct (use event_grid)")
    skey = st * span
    hi = np.searchsorted(gkey, skey + code[m:m + n], side="right")
    if start is None:
        lo = np.searchsorted(gkey, skey - 1, side="right")
    else:
        lo = np.searchsorted(gkey, skey + code[m + n:], side="right")
    dead = np.flatnonzero(np.asarray(event) == 1)
    dgrp = hi[dead] - 1
    bad = (dgrp < 0) | (gkey[np.maximum(dgrp, 0)] != skey[dead] + code[m:m + n][dead])
    if bad.any():
        raise ValueError(f"{int(bad.sum())} event rows have a time not on the grid")
    return make_placement(gs, gt, lo.astype(np.int64), hi.astype(np.int64), dead, dgrp)


def risk_scores(x: np.ndarray, w: np.ndarray, beta: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Linear predictor ``eta = x beta`` and risk scores ``r = w exp(eta)``."""
    eta = x @ beta
    with np.errstate(over="ignore"):  # a trial step may overflow; step-halving recovers
        r = np.exp(eta)
        r *= w
    return eta, r


def pertime(place: Placement, x: np.ndarray, w: np.ndarray, beta: np.ndarray,
            r: np.ndarray | None = None) -> PerTime:
    """The per-time table of one partition's rows at ``beta`` (``r``: its risk scores
    ``w exp(x beta)`` when already computed)."""
    if r is None:
        r = risk_scores(x, w, beta)[1]
    m = len(place.time)
    with np.errstate(invalid="ignore", over="ignore"):  # an overflowed trial step: NaN
        # at risk at g: hi > g and not lo > g (reverse cumulative sums over the grid)
        h0, h1 = place.at_hi.sums(r, x)
        s0 = np.cumsum(h0[:0:-1])[::-1]
        s1 = np.cumsum(h1[:0:-1], axis=0)[::-1]
        if place.at_lo.rows.size:
            l0, l1 = place.at_lo.sums(r, x)
            s0 -= np.cumsum(l0[:0:-1])[::-1]
            s1 -= np.cumsum(l1[:0:-1], axis=0)[::-1]
        e0, e1 = place.deaths.sums(r, x)
    d = np.bincount(place.dgrp, minlength=m).astype(float)
    wd = np.bincount(place.dgrp, weights=w[place.dead], minlength=m)
    return PerTime(place.stratum, place.time, d, wd, s0, s1, e0, e1)


def efron_terms(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Efron's terms ``k = 1..d-1`` of the times with tied deaths (``d`` per time):
    the tied times, their term counts ``d - 1``, the first term of each and every term's
    fraction ``f = k/d``. Beta-free: compute once and pass to :func:`hazard`."""
    tied = np.flatnonzero(d > 1)
    km1 = d[tied].astype(np.int64) - 1
    first = np.cumsum(km1) - km1
    f = (np.arange(int(km1.sum())) - np.repeat(first, km1) + 1) / np.repeat(d[tied], km1)
    return tied, km1, first, f


def hazard(table: PerTime, ties: str = "efron", terms: tuple | None = None,
           residuals: bool = True) -> Hazard:
    """Hazard increments and per-time likelihood parts from the combined table.

    ``terms``: ``efron_terms(table.d)`` when already computed. ``residuals=False`` leaves
    out the three ``n_times x p`` tables that only :func:`score_residuals` reads: a
    Newton step needs just ``cum_a`` and ``b`` (two ``n_times`` vectors to broadcast).
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    d, wd, s0, e0 = table.d, table.wd, table.s0, table.e0
    m, p = table.s1.shape
    has = d > 0
    if not has.all():  # a time without deaths (in one partition's table) adds nothing
        d, s0 = np.where(has, d, 1.0), np.where(has, s0, 1.0)
    # the term k = 0 of every time (Breslow's only term): f = 0, alpha = 0, D = S0
    mw = wd / d if ties == "efron" else wd
    none = (np.zeros(0, np.int64),) * 4
    tied, km1, first, f = (none if ties == "breslow" else
                           efron_terms(d) if terms is None else terms)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        a = mw / s0
        loglik = float(mw @ np.log(s0))
        u = table.s1 / s0[:, None]
        # Efron's terms k = 1..d-1 of the tied times only (alpha_k = f_k E0 / D_k and
        # m_k = m constant within a time)
        st, et, mt = s0[tied], e0[tied], mw[tied]
        inv = 1.0 / (np.repeat(st, km1) - f * np.repeat(et, km1))  # 1 / D_k
        fi = f * inv
        # per tied time: sum log D, sum 1/D, sum f/D, sum f/D^2, sum f^2/D^2
        sums = (np.add.reduceat(np.stack([np.log(inv), inv, fi, fi * inv, fi * fi], 1),
                                first, axis=0) if tied.size else np.zeros((0, 5)))
        loglik -= float(mt @ sums[:, 0])
        a[tied] += mt * sums[:, 1]
        b = np.zeros(m)
        b[tied] = mt * sums[:, 2]
        p1 = mt * et * sums[:, 2]  # sum_k m_k alpha_k
        p2 = mt * et ** 2 * sums[:, 4]  # sum_k m_k alpha_k^2
        ut = u[tied]
        # delta = u - E1/E0 at the tied times (deaths of weight 0 have alpha = 0)
        delta = ut - table.e1[tied] / np.where(et > 0, et, 1.0)[:, None]
    if not (np.isfinite(loglik) and np.all(np.isfinite(u)) and np.all(np.isfinite(delta))):
        return Hazard(np.zeros(m + 1), b, -np.inf, np.full(p, np.nan),
                      np.full((p, p), np.nan), False)
    u[~has] = 0.0
    score = wd @ u + p1 @ delta
    cross = _atb(ut, p1, delta)
    info = cross_product(u, wd) + cross + cross.T + cross_product(delta, p2)
    cum_a = np.r_[0.0, np.cumsum(a)]
    if not residuals:
        return Hazard(cum_a, b, loglik, score, info, True)
    bg = a[:, None] * u
    bg[tied] += (mt * et * sums[:, 3])[:, None] * delta  # + sum_k m_k alpha_k / D_k delta
    cum_b = np.vstack([np.zeros((1, p)), np.cumsum(bg, axis=0)])
    mean = u.copy()
    mean[tied] += (et * sums[:, 2] / d[tied])[:, None] * delta  # + mean_k alpha_k delta
    f_mean = np.zeros((m, p))
    f_mean[tied] = b[tied, None] * ut + (mt * et * sums[:, 4])[:, None] * delta
    return Hazard(cum_a, b, loglik, score, info, True, cum_b, mean, f_mean)


def _atb(a: np.ndarray, c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A' diag(c) B`` over row blocks (see :func:`cross_product`)."""
    p = a.shape[1]
    block = int(np.clip((1 << 19) // max(p * p, 1), 256, 16384))
    out = np.zeros((p, b.shape[1]))
    for s in range(0, len(c), block):  # a loop over row blocks, not subjects
        out += a[s:s + block].T @ (b[s:s + block] * c[s:s + block, None])
    return out


def cross_product(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``X' diag(c) X`` over row blocks of about ``2^19 / p^2`` rows.

    Each block's product then runs on one BLAS thread (OpenBLAS threads only larger
    products): on a shared machine, threads contending for busy cores cost several
    times more than they save. The blocks' temporaries stay in cache.
    """
    return _atb(x, c, x)


def death_sums(place: Placement, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum over deaths of w x`` (beta-free: computed once per partition)."""
    return w[place.dead] @ x[place.dead]


def newton_pieces(place: Placement, x: np.ndarray, w: np.ndarray, beta: np.ndarray,
                  haz: Hazard, eta_r: tuple[np.ndarray, np.ndarray] | None = None,
                  wx: np.ndarray | None = None) -> RowSums:
    """One partition's additive row sums given the broadcast :class:`Hazard`.

    ``eta_r``: ``risk_scores(x, w, beta)`` and ``wx``: ``death_sums(place, x, w)`` when
    already computed (both are optional shortcuts).
    """
    p = x.shape[1]
    if not haz.finite:  # an overflowed trial step: combine() reports -inf
        return RowSums(np.nan, np.full(p, np.nan), np.full((p, p), np.nan))
    r = risk_scores(x, w, beta)[1] if eta_r is None else eta_r[1]
    wx = death_sums(place, x, w) if wx is None else wx
    # c_i = r_i (dH_i - delta_i b_g(i)); rows at risk at no event time get 0
    c = haz.cum_a[place.hi]
    if place.lo_any:
        c -= haz.cum_a[place.lo]
    c *= r
    if haz.b.any():
        dead = place.dead
        c[dead] -= r[dead] * haz.b[place.dgrp]
    return RowSums(float(wx @ beta), wx, cross_product(x, c))


def score_residuals(place: Placement, x: np.ndarray, w: np.ndarray, beta: np.ndarray,
                    haz: Hazard) -> np.ndarray:
    """Per-row score residuals ``U`` (n x p) of one partition (see the module notes)."""
    n, p = x.shape
    if not haz.finite:
        return np.full((n, p), np.nan)
    if haz.cum_b is None:
        raise ValueError("score residuals need the tables of hazard(..., residuals=True)")
    e = np.exp(x @ beta)
    dh = haz.cum_a[place.hi]
    if place.lo_any:
        dh -= haz.cum_a[place.lo]
    resid = np.empty((n, p))
    for j in range(p):  # column by column: no n x p temporaries
        cum = np.ascontiguousarray(haz.cum_b[:, j])  # n_times + 1: a fast gather source
        col = x[:, j] * dh
        col -= cum[place.hi]
        if place.lo_any:
            col += cum[place.lo]
        col *= e
        resid[:, j] = -col
    dead, g = place.dead, place.dgrp
    resid[dead] += x[dead] - haz.mean[g]
    resid[dead] += e[dead, None] * (x[dead] * haz.b[g, None] - haz.f_mean[g])
    return resid
