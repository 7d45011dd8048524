"""Partial-likelihood kernels of the Cox model on sorted arrays.

Everything here is a small pure numpy function: no pandas, no I/O, no Python
loop over subjects or event times. The rows are sorted once (by stratum, then
time) by :func:`make_layout`; every risk-set sum is then a block sum
(``np.add.reduceat`` over rows sharing a stratum and a time) followed by a
reverse cumulative sum within the stratum.

Notation (per distinct event time ``t`` of a stratum, a "tie group" ``g``):

* ``r_i = w_i exp(eta_i)`` the weighted risk score,
* ``S0, S1, S2`` the sums of ``r, r x, r x x'`` over the risk set (time >= t),
* ``E0, E1, E2`` the same sums over the ``d`` subjects dying at ``t``,
* ``wd`` the summed case weight of those deaths, ``meanwt = wd / d``.

Breslow (1974) uses the denominator ``S0`` for every death. Efron (1977)
replaces the ``k``-th of the ``d`` tied deaths' denominator by
``S0 - (k/d) E0`` (k = 0..d-1), each term carrying the weight ``meanwt``; this is
the convention of R's ``coxph`` with case weights. The expansion over ``k`` is
done for all tie groups at once ("terms" arrays of total length = number of
deaths), so Efron's correction is vectorised too.

The fit's log-likelihood, score, information and score residuals
(:func:`cox_objective`, :func:`score_residuals`) treat the sorted rows as one
partition of :mod:`._pertime`: per-time tables of ``S0, S1, E0, E1`` and the
information's second moments as one weighted cross-product ``X' diag(c) X`` (no
``S2``: no ``n x p(p+1)/2`` array). ``S2``/``E2`` sums (:func:`design_products`,
:func:`group_sums`) serve only the per-group information of the PH test and Firth's
penalty derivatives.

References
----------
Cox DR (1972). Regression models and life-tables. JRSS B 34:187-220.
Breslow NE (1974). Covariance analysis of censored survival data. Biometrics 30:89-99.
Efron B (1977). The efficiency of Cox's likelihood function for censored data.
JASA 72:557-565.
Lin DY, Wei LJ (1989). The robust inference for the Cox proportional hazards model.
JASA 84:1074-1078.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..survival._kernels import tied_to_previous, time_grid
from . import _pertime as P


@dataclass(frozen=True)
class Layout:
    """Row order and risk-set bookkeeping shared by every kernel.

    All arrays index the *sorted* rows (``order`` maps sorted -> original).
    A *block* is a run of rows with the same stratum and time; a *group* is a
    block holding at least one death; a *term* is one of Efron's ``d`` terms of a
    group (one term per group under Breslow).
    """

    order: np.ndarray  # permutation: sorted position -> original row
    bstart: np.ndarray  # first sorted row of each block
    block: np.ndarray  # block id of each sorted row
    next_first: np.ndarray  # per block: first block of the next stratum (n_blocks at end)
    gblock: np.ndarray  # block id of each group
    gstart: np.ndarray  # start of each group within the death rows ``ev``
    ev: np.ndarray  # sorted positions of the deaths (ascending)
    d: np.ndarray  # deaths per group (unweighted count)
    gfirst: np.ndarray  # per group: first group of its stratum
    term_group: np.ndarray  # group of each term
    term_f: np.ndarray  # Efron fraction k/d of each term (0 under Breslow)
    term_mult: np.ndarray  # multiplicity of the term (d under Breslow, 1 under Efron)
    block_ptr: np.ndarray  # CSR row pointer of rows into blocks (bstart + [n])
    group_ptr: np.ndarray  # CSR row pointer of deaths into groups (gstart + [n_deaths])
    rows: np.ndarray  # arange(n), the CSR column indices
    entry: Entry | None = None  # delayed entry of (start, stop] rows; None: all enter at 0


@dataclass(frozen=True)
class Entry:
    """Bookkeeping of delayed entry: rows that enter at or after a group's time leave
    its risk set. Rows are taken in (stratum, start) order and cut into entry blocks;
    ``S(t) = sum_{stop >= t} - sum_{start >= t}``, both reverse cumulative sums."""

    ptr: np.ndarray  # CSR row pointer of the entry blocks (into ``cols``)
    cols: np.ndarray  # sorted-row positions in (stratum, start) order
    gfirst: np.ndarray  # per group: first entry block with start >= the group's time
    gend: np.ndarray  # per group: first entry block of the next stratum
    row_in: np.ndarray  # per sorted row: groups (all strata) with key <= its start key
    row_out: np.ndarray  # per sorted row: groups with key <= its stop key


def _tied_blocks(tb: np.ndarray, sb: np.ndarray, one_stratum: bool) -> np.ndarray:
    """Blocks whose time is tied (up to floating-point noise, R's ``aeqSurv``) with the
    previous block of the same stratum, so they are merged into it."""
    if one_stratum:  # block times ascend: judge neighbours directly
        return tied_to_previous(tb)
    utime, inv = time_grid(tb)  # ties judged over all distinct times, as R
    snapped = utime[inv]
    out = np.zeros(tb.size, dtype=bool)
    out[1:] = (snapped[1:] == snapped[:-1]) & (sb[1:] == sb[:-1])
    return out


def make_layout(time: np.ndarray, event: np.ndarray, strata: np.ndarray | None,
                ties: str = "efron", start: np.ndarray | None = None) -> Layout:
    """Sort rows by (stratum, time) once and index blocks, tie groups, Efron terms.

    With ``start`` (entry times of (start, stop] rows) the start and stop times are put
    on one grid (tied up to floating-point noise as R's ``aeqSurv``) and the entry
    bookkeeping (:class:`Entry`) is added.
    """
    n = len(time)
    st = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    codes = None
    if start is not None:
        _, inv = time_grid(np.concatenate([time, start]))
        codes = inv[:n], inv[n:]
        time = codes[0]
    # one sort; the order within a block is immaterial (sums), so no stable sort is needed
    if strata is None:
        order = np.argsort(time)
    else:
        order = np.lexsort((time, st))
    ts, ss, es = time[order], st[order], event[order]
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    new_block[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
    bstart = np.flatnonzero(new_block)
    if codes is None:
        merge = _tied_blocks(ts[bstart], ss[bstart], strata is None)
        if merge.any():
            new_block[bstart[merge]] = False
            bstart = np.flatnonzero(new_block)
    block = np.cumsum(new_block) - 1
    nb = len(bstart)
    bstrat = ss[bstart]
    # first block of the next stratum, for reverse cumulative sums within strata
    new_stratum = np.r_[True, bstrat[1:] != bstrat[:-1]]
    sfirst = np.flatnonzero(new_stratum)
    send = np.r_[sfirst[1:], nb]
    next_first = np.repeat(send, np.diff(np.r_[sfirst, nb]))
    ev = np.flatnonzero(es == 1)
    evblock = block[ev]
    gnew = np.r_[True, evblock[1:] != evblock[:-1]] if len(ev) else np.zeros(0, bool)
    gstart = np.flatnonzero(gnew)
    gblock = evblock[gstart]
    d = np.diff(np.r_[gstart, len(ev)])
    gstrat = bstrat[gblock]
    gs_new = np.r_[True, gstrat[1:] != gstrat[:-1]] if len(gblock) else np.zeros(0, bool)
    gfirst = np.repeat(np.flatnonzero(gs_new), np.diff(np.r_[np.flatnonzero(gs_new),
                                                             len(gblock)]))
    if ties == "efron":
        term_group = np.repeat(np.arange(len(d)), d)
        k = np.arange(len(ev)) - np.repeat(gstart, d)
        term_f = k / np.repeat(d, d)
        term_mult = np.ones(len(ev))
    elif ties == "breslow":
        term_group = np.arange(len(d))
        term_f = np.zeros(len(d))
        term_mult = d.astype(float)
    else:
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    entry = None
    if codes is not None:
        # grid codes are below 2n, so stratum * (2n + 1) + code orders by (stratum, time)
        entry = _entry(ss, codes[0][order], codes[1][order], bstart[gblock], 2 * n + 1)
    return Layout(order, bstart, block, next_first, gblock, gstart, ev, d, gfirst,
                  term_group, term_f, term_mult, np.r_[bstart, n], np.r_[gstart, len(ev)],
                  np.arange(n), entry)


def _entry(ss: np.ndarray, stop_c: np.ndarray, start_c: np.ndarray, grow: np.ndarray,
           m: int) -> Entry:
    """Entry blocks and, per group and row, their positions (integer keys
    ``stratum * m + time code``; ``grow``: a sorted row of each group)."""
    ekey = ss * m + start_c
    cols = np.argsort(ekey, kind="stable")
    ek = ekey[cols]
    new = np.r_[True, ek[1:] != ek[:-1]] if ek.size else np.zeros(0, bool)
    bfirst = np.flatnonzero(new)
    ebkey = ek[bfirst]
    gkey = ss[grow] * m + stop_c[grow]
    gfirst = np.searchsorted(ebkey, gkey, side="left")
    gend = np.searchsorted(ebkey, (ss[grow] + 1) * m, side="left")
    row_in = np.searchsorted(gkey, ekey, side="right")
    row_out = np.searchsorted(gkey, ss * m + stop_c, side="right")
    return Entry(np.r_[bfirst, ek.size], cols, gfirst, gend, row_in, row_out)


def design_products(x: np.ndarray) -> np.ndarray:
    """Columns ``[1, x, upper triangle of x x']`` whose risk-set sums give S0, S1, S2."""
    n, p = x.shape
    iu, ju = np.triu_indices(p)
    z = np.empty((n, 1 + p + len(iu)))
    z[:, 0] = 1.0
    z[:, 1:1 + p] = x
    for k, (i, j) in enumerate(zip(iu, ju, strict=True)):  # a loop over columns only
        np.multiply(x[:, i], x[:, j], out=z[:, 1 + p + k])
    return z


def _unpack(vec: np.ndarray, p: int) -> np.ndarray:
    """Rebuild symmetric p x p matrices from packed upper triangles (last axis)."""
    iu, ju = np.triu_indices(p)
    out = np.zeros(vec.shape[:-1] + (p, p))
    out[..., iu, ju] = vec
    out[..., ju, iu] = vec
    return out


def group_sums(lay: Layout, r: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Risk-set sums ``S`` and death sums ``E`` of ``r * z`` for each tie group.

    ``S[g] = sum_{i in stratum, t_i >= t_g} r_i z_i``; ``E[g]`` sums the deaths at t_g.
    """
    nb = len(lay.bstart)
    n = len(r)
    # block sums as a sparse (blocks x rows) matrix holding r times z: one pass in C,
    # no n x k temporary
    blk = sparse.csr_matrix((r, lay.rows, lay.block_ptr), shape=(nb, n)) @ z
    rc = np.empty((nb + 1, z.shape[1]))
    rc[:nb] = np.cumsum(blk[::-1], axis=0)[::-1]
    rc[nb] = 0.0
    S = rc[lay.gblock] - rc[lay.next_first[lay.gblock]]
    if lay.entry is not None:
        S -= _entered_later(lay.entry, r, z)
    if len(lay.ev):
        E = sparse.csr_matrix((r[lay.ev], lay.ev, lay.group_ptr), shape=(len(lay.d), n)) @ z
    else:
        E = np.zeros((0, z.shape[1]))
    return S, E


def _entered_later(en: Entry, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per group, the sums of ``r z`` over rows of its stratum entering at or after its
    time (``start >= t``): they are in ``stop >= t`` but not at risk at ``t``."""
    nb = len(en.ptr) - 1
    blk = sparse.csr_matrix((r[en.cols], en.cols, en.ptr), shape=(nb, len(r))) @ z
    rc = np.zeros((nb + 1, z.shape[1]))
    rc[:nb] = np.cumsum(blk[::-1], axis=0)[::-1]
    return rc[en.gfirst] - rc[en.gend]


def place_layout(lay: Layout, time: np.ndarray | None = None,
                 strata: np.ndarray | None = None) -> P.Placement:
    """The sorted rows of ``lay`` as one partition on its event-time grid (the tie
    groups): row ``i`` is at risk at groups ``lo[i] <= g < hi[i]``. ``time``/``strata``
    (sorted rows) label the grid; without them the grid is labelled by group index."""
    ng, nb = len(lay.d), len(lay.bstart)
    ev_first = lay.ev[lay.gstart] if ng else np.zeros(0, np.int64)
    gtime = (np.arange(ng, dtype=float) if time is None
             else np.asarray(time, float)[ev_first])
    gstrat = (np.zeros(ng, np.int64) if strata is None
              else np.asarray(strata, np.int64)[ev_first])
    if lay.entry is None:
        # at risk from the first group of the block's stratum to the last group at or
        # before the block
        has = np.zeros(nb, np.int64)
        has[lay.gblock] = 1
        hi_b = np.cumsum(has)
        hi = hi_b[lay.block]
        new_stratum = np.flatnonzero(lay.next_first[1:] != lay.next_first[:-1]) + 1
        if new_stratum.size:
            first = np.zeros(nb, np.int64)
            first[new_stratum] = new_stratum
            lo = (hi_b - has)[np.maximum.accumulate(first)][lay.block]
        else:
            lo = np.zeros(len(lay.block), np.int64)
    else:
        lo, hi = lay.entry.row_in, lay.entry.row_out
    return P.make_placement(gstrat, gtime, lo.astype(np.int64), hi.astype(np.int64),
                            lay.ev, np.repeat(np.arange(ng), lay.d))


def layout_ties(lay: Layout) -> str:
    """The tie method ``lay`` was built for (when no deaths are tied both are one)."""
    return "efron" if len(lay.term_group) > len(lay.d) else "breslow"


def cox_objective(x: np.ndarray, w: np.ndarray, lay: Layout, ties: str | None = None,
                  place: P.Placement | None = None):
    """``fun(beta) -> (loglik, score, information)`` of the in-memory rows, for
    :func:`newton_raphson`.

    ``x`` (n, p): covariates in sorted order, centred; ``w``: case weights in sorted
    order. The rows are one partition of :mod:`._pertime`: per step one per-time table
    (risk-set sums of ``r`` and ``r x``), its hazard increments, and one weighted
    cross-product ``X' diag(c) X`` for the information -- never the ``n x p(p+1)/2``
    products of ``x`` (the derivation is in :mod:`._pertime`).
    """
    ties = layout_ties(lay) if ties is None else ties
    place = place_layout(lay) if place is None else place
    wx = P.death_sums(place, x, w)
    terms = P.efron_terms(np.bincount(place.dgrp, minlength=len(place.time)))

    def fun(beta: np.ndarray):
        eta, r = P.risk_scores(x, w, beta)
        haz = P.hazard(P.pertime(place, x, w, beta, r=r), ties, terms, residuals=False)
        return haz.combine(P.newton_pieces(place, x, w, beta, haz, (eta, r), wx))

    return fun


def aliased_columns(x: np.ndarray, strata: np.ndarray | None = None,
                    tol: float = 1e-11) -> tuple[np.ndarray, np.ndarray]:
    """Columns of the design that are exact linear combinations of earlier ones.

    Columns are centred within strata first (the partial likelihood ignores a shift of
    a covariate within a stratum, so a column constant within strata is aliased with
    them). On their correlation matrix, column ``j`` is aliased when the share of its
    variance left after regression on the earlier non-aliased columns (a Cholesky
    pivot, ``1 - R^2``) is under ``tol`` -- R's rule, where the Cholesky decomposition of
    the information, taken in column order, meets a pivot under ``toler.chol`` and the
    later column's coefficient is ``NA``.

    Returns the boolean mask of aliased columns and, per column, the coefficients of
    its combination of the others (zero rows for non-aliased columns).
    """
    n, p = x.shape
    codes = None if strata is None else np.asarray(strata)
    if codes is None:
        means = np.einsum("ij->j", x)[None, :] / max(n, 1)  # no slow axis-0 reduction
    else:
        cnt = np.bincount(codes)
        means = np.stack([np.bincount(codes, weights=x[:, j]) / cnt for j in range(p)], 1)
    # one pass over the rows in blocks (no n x p temporary, one BLAS thread per block, as
    # _pertime.cross_product); the rest works on p x p
    block = int(np.clip((1 << 19) // (p * p), 256, 16384))
    gram = np.zeros((p, p))
    for s in range(0, n, block):  # a loop over row blocks, not subjects
        xc = x[s:s + block] - (means[0] if codes is None else means[codes[s:s + block]])
        gram += xc.T @ xc
    return aliased_from_gram(gram, n, _column_absmax(x), tol)


def aliased_from_gram(gram: np.ndarray, n: int, size: np.ndarray,
                      tol: float = 1e-11) -> tuple[np.ndarray, np.ndarray]:
    """:func:`aliased_columns` from the within-strata centred cross-product ``gram`` of
    ``n`` rows and each column's ``max |x|`` (``size``): sums that add over partitions,
    so the Dask fit applies the same rule."""
    p = len(gram)
    ss = np.diag(gram).copy()
    scale = np.sqrt(np.where(ss > 0, ss, 1.0))
    corr = gram / np.outer(scale, scale)
    # a column whose centred values vanish (against its raw size) is aliased outright
    alias = ss <= (tol * n) * np.maximum(size, 1e-300) ** 2
    combo = np.zeros((p, p))
    for j in range(p):  # a loop over columns only
        kept = np.flatnonzero(~alias[:j])
        if alias[j] or not len(kept):
            continue
        c = np.linalg.solve(corr[np.ix_(kept, kept)], corr[kept, j])
        if corr[j, j] - corr[kept, j] @ c <= tol:
            alias[j] = True
            combo[j, kept] = c * scale[j] / scale[kept]
    return alias, combo


def _column_absmax(x: np.ndarray, k: int = 64) -> np.ndarray:
    """``max |x|`` per column; numpy's axis-0 reduction of a C-ordered n x p array steps
    row by row, so ``k`` rows are reduced side by side first."""
    n, p = x.shape
    head = (n // k) * k
    out = np.zeros(p)
    if head and x.flags.c_contiguous:
        wide = x[:head].reshape(-1, k * p)
        out = np.maximum(wide.max(axis=0), -wide.min(axis=0)).reshape(k, p).max(axis=0)
    elif head:
        out = np.maximum(x[:head].max(axis=0), -x[:head].min(axis=0))
    if head < n:
        out = np.maximum(out, np.abs(x[head:]).max(axis=0))
    return out


def solve_sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve a symmetric system, falling back to the pseudo-inverse if singular."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a) @ b


def inverse_sym(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric matrix (pseudo-inverse if singular)."""
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a)


def newton_raphson(fun, beta0: np.ndarray, eps: float = 1e-9, max_iter: int = 30,
                   max_step: float | None = None, first: tuple | None = None):
    """Maximise ``fun(beta) -> (loglik, score, hessian_neg)`` by Newton-Raphson.

    Step-halving when the log-likelihood does not increase (as R's ``coxph``);
    convergence when ``|1 - l_old / l_new| <= eps`` (R's criterion). Returns
    ``(beta, loglik, score, info, iterations, converged)``; ``first`` may hold
    ``fun(beta0)`` when the caller already has it.
    """
    beta = np.asarray(beta0, dtype=float).copy()
    ll, u, imat = fun(beta) if first is None else first
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        step = solve_sym(imat, u)
        if max_step is not None:
            big = np.max(np.abs(step))
            if big > max_step:
                step = step * (max_step / big)
        for _ in range(40):
            new = beta + step
            ll_new, u_new, i_new = fun(new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        done = abs(1 - ll / ll_new) <= eps if ll_new != 0 else abs(ll - ll_new) <= eps
        beta, ll, u, imat = new, ll_new, u_new, i_new
        if done:
            converged = True
            break
    return beta, ll, u, imat, it, converged


def score_residuals(beta: np.ndarray, x: np.ndarray, w: np.ndarray, lay: Layout,
                    place: P.Placement | None = None) -> np.ndarray:
    """Score residuals per sorted row, as R's ``residuals(coxph, type="score")``.

    For subject ``j`` (risk score ``e_j = exp(eta_j)``, unweighted), with ``h_k`` the
    hazard increment of Efron term ``k`` and ``xbar_k`` its mean:

    ``U_j = delta_j (x_j - mean_k xbar_k) - e_j sum_{g: j at risk} sum_k c_jk h_k (x_j - xbar_k)``

    with ``c_jk = 1 - f_k`` when ``j`` is one of the tied deaths of that group (its risk
    weight is shared out over the ``d`` terms, Efron 1977), 1 otherwise; computed from
    per-time tables (:func:`._pertime.score_residuals`). ``sum_j w_j U_j`` is the total
    score; the weighted residuals ``w_j U_j`` times the inverse information are the
    dfbeta whose cross-product is the robust sandwich variance (Lin & Wei 1989).
    """
    n, p = x.shape
    if len(lay.d) == 0:
        return np.zeros((n, p))
    place = place_layout(lay) if place is None else place
    haz = P.hazard(P.pertime(place, x, w, beta), layout_ties(lay))
    return P.score_residuals(place, x, w, beta, haz)


def robust_variance(resid: np.ndarray, w: np.ndarray, imat_inv: np.ndarray,
                    cluster: np.ndarray | None) -> np.ndarray:
    """Sandwich variance ``D' D`` from dfbeta ``D = (w U) I^-1`` summed within clusters.

    Lin & Wei (1989); with ``cluster`` the dfbeta are summed per cluster first,
    as R's ``coxph(..., cluster=)``.
    """
    u = resid * w[:, None]
    if cluster is not None:
        nc = int(cluster.max()) + 1
        u = np.stack([np.bincount(cluster, weights=u[:, j], minlength=nc)
                      for j in range(u.shape[1])], 1)
    # I^-1 (U'U) I^-1 == D'D; the n x p products avoid BLAS, whose threads only contend
    # on tall-skinny arrays
    meat = np.einsum("ij,ik->jk", u, u)
    return imat_inv @ meat @ imat_inv


def group_score_info(beta: np.ndarray, x: np.ndarray, z: np.ndarray, w: np.ndarray,
                     lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Each tie group's contribution to the score and to the information.

    Returns ``u`` (n_groups, p) -- the weighted Schoenfeld residuals summed over the
    group, ``sum_deaths w_i x_i - sum_k m_k xbar_k`` -- and ``v`` (n_groups, p, p),
    ``sum_k m_k (S2_k / den_k - xbar_k xbar_k')`` with Efron's ``S2_k = S2 - f_k E2``.
    Their sums over groups are the total score and information; time-weighted
    sums give the Grambsch & Therneau (1994) test.
    """
    p = x.shape[1]
    r = w * np.exp(np.einsum("ij,j->i", x, beta))
    S, E = group_sums(lay, r, z)
    ng = len(lay.d)
    wd = np.add.reduceat(w[lay.ev], lay.gstart)
    tg, f = lay.term_group, lay.term_f
    mw = (wd / lay.d)[tg] * lay.term_mult
    den = S[tg, 0] - f * E[tg, 0]
    m1 = (S[tg, 1:1 + p] - f[:, None] * E[tg, 1:1 + p]) / den[:, None]
    tstart = np.flatnonzero(np.r_[True, tg[1:] != tg[:-1]])
    wx = np.add.reduceat(w[lay.ev, None] * x[lay.ev], lay.gstart, axis=0)
    u = wx - np.add.reduceat(mw[:, None] * m1, tstart, axis=0)
    a = np.bincount(tg, weights=mw / den, minlength=ng)
    b = np.bincount(tg, weights=mw * f / den, minlength=ng)
    s2 = _unpack(a[:, None] * S[:, 1 + p:] - b[:, None] * E[:, 1 + p:], p)
    outer = (mw[:, None, None] * m1[:, :, None] * m1[:, None, :])
    v = s2 - np.add.reduceat(outer, tstart, axis=0)
    return u, v
