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


def loglik_score_info(beta: np.ndarray, x: np.ndarray, z: np.ndarray, w: np.ndarray,
                      lay: Layout, info: bool = True):
    """Log partial likelihood, score and observed information at ``beta``.

    Parameters
    ----------
    beta : (p,) coefficients.
    x : (n, p) covariates in sorted order (centred for numerical stability).
    z : ``design_products(x)`` (only its first 1+p columns are used if ``info`` is False).
    w : (n,) case weights in sorted order. Deaths are ``lay.ev``.
    lay : :class:`Layout`.

    Returns
    -------
    loglik, score (p,), information (p, p) or None.

    Notes
    -----
    ``l = sum_deaths w_i eta_i - sum_terms m_k log(S0 - f_k E0)`` with the term weight
    ``m_k = meanwt`` (Efron) or ``wd`` (Breslow); the score and information follow by
    differentiation (Cox 1972; Breslow 1974; Efron 1977).
    """
    p = x.shape[1]
    eta = np.einsum("ij,j->i", x, beta)
    with np.errstate(over="ignore"):  # a trial step may overflow; step-halving recovers
        r = w * np.exp(eta)
    zz = z if info else z[:, :1 + p]
    S, E = group_sums(lay, r, zz)
    wd = np.add.reduceat(w[lay.ev], lay.gstart) if len(lay.ev) else np.zeros(0)
    tg, f = lay.term_group, lay.term_f
    mw = (wd / lay.d)[tg] * lay.term_mult
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf of an overflowed step
        den = S[tg, 0] - f * E[tg, 0]
        loglik = float(np.einsum("i,i->", w[lay.ev], eta[lay.ev])
                       - np.einsum("t,t->", mw, np.log(den)))
    if not np.isfinite(loglik):
        return -np.inf, np.full(p, np.nan), np.full((p, p), np.nan) if info else None
    m1 = (S[tg, 1:1 + p] - f[:, None] * E[tg, 1:1 + p]) / den[:, None]
    score = np.einsum("i,ij->j", w[lay.ev], x[lay.ev]) - np.einsum("t,tj->j", mw, m1)
    if not info:
        return loglik, score, None
    ng = len(lay.d)
    a = np.bincount(tg, weights=mw / den, minlength=ng)
    b = np.bincount(tg, weights=mw * f / den, minlength=ng)
    s2 = a @ S[:, 1 + p:] - b @ E[:, 1 + p:]
    imat = _unpack(s2, p) - np.einsum("t,ti,tj->ij", mw, m1, m1)
    return loglik, score, imat


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
    if strata is None:
        xc = x - x.mean(axis=0)
    else:
        codes = np.asarray(strata)
        cnt = np.bincount(codes)
        means = np.stack([np.bincount(codes, weights=x[:, j]) / cnt for j in range(p)], 1)
        xc = x - means[codes]
    gram = xc.T @ xc  # one pass over the rows; the rest works on p x p
    ss = np.diag(gram).copy()
    scale = np.sqrt(np.where(ss > 0, ss, 1.0))
    corr = gram / np.outer(scale, scale)
    # a column whose centred values vanish (against its raw size) is aliased outright
    alias = ss <= (tol * n) * np.maximum(np.abs(x).max(axis=0), 1e-300) ** 2
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


def score_residuals(beta: np.ndarray, x: np.ndarray, w: np.ndarray, lay: Layout) -> np.ndarray:
    """Score residuals per sorted row, as R's ``residuals(coxph, type="score")``.

    For subject ``j`` (risk score ``e_j = exp(eta_j)``, unweighted):

    ``U_j = delta_j (x_j - mean_k xbar_k) - e_j sum_{g: t_g <= t_j} sum_k c_jk h_k (x_j - xbar_k)``

    with ``h_k = m_k / den_k`` the hazard increment of Efron term ``k``,
    ``xbar_k = (S1 - f_k E1) / den_k`` and ``c_jk = 1 - f_k`` when ``j`` is one of
    the tied deaths of that group (its risk weight is shared out over the ``d``
    terms, Efron 1977), 1 otherwise. ``sum_j w_j U_j`` is the total score. The
    weighted residuals ``w_j U_j`` times the inverse information are the dfbeta
    whose cross-product is the robust sandwich variance (Lin & Wei 1989).
    """
    n, p = x.shape
    eta = np.einsum("ij,j->i", x, beta)
    e = np.exp(eta)
    r = w * e
    z = np.empty((n, 1 + p))
    z[:, 0] = 1.0
    z[:, 1:] = x
    S, E = group_sums(lay, r, z)
    ng = len(lay.d)
    if ng == 0:
        return np.zeros((n, p))
    wd = np.add.reduceat(w[lay.ev], lay.gstart)
    tg, f = lay.term_group, lay.term_f
    mw = (wd / lay.d)[tg] * lay.term_mult
    den = S[tg, 0] - f * E[tg, 0]
    xbar = (S[tg, 1:] - f[:, None] * E[tg, 1:]) / den[:, None]
    h = mw / den
    A = np.bincount(tg, weights=h, minlength=ng)
    B = np.stack([np.bincount(tg, weights=h * xbar[:, j], minlength=ng) for j in range(p)], 1)
    hd = h * (1 - f)  # the dying subjects' own share of each Efron term
    Ad = np.bincount(tg, weights=hd, minlength=ng)
    Bd = np.stack([np.bincount(tg, weights=hd * xbar[:, j], minlength=ng) for j in range(p)],
                  1)
    # number of terms per group (d under Efron, 1 under Breslow) for the mean of xbar_k
    nterm = np.bincount(tg, minlength=ng)
    wt_mean = (lay.term_mult / np.repeat(lay.d, nterm) if len(tg) else np.zeros(0))
    Mbar = np.stack([np.bincount(tg, weights=wt_mean * xbar[:, j], minlength=ng)
                     for j in range(p)], 1)
    # cumulative hazard sums within strata, mapped from groups to blocks to rows
    cA = np.cumsum(A)
    cB = np.cumsum(B, axis=0)
    base = lay.gfirst
    cA = cA - np.r_[0.0, cA][base]
    cB = cB - np.vstack([np.zeros((1, p)), cB])[base]
    nb = len(lay.bstart)
    # last group at or before each block, in the same stratum
    gi = np.searchsorted(lay.gblock, np.arange(nb), side="right") - 1
    blk_first_block = lay.next_first  # used only to test stratum membership below
    ok = gi >= 0
    # a group belongs to the block's stratum iff the group's block shares next_first
    same = np.zeros(nb, dtype=bool)
    same[ok] = blk_first_block[lay.gblock[gi[ok]]] == blk_first_block[ok]
    bA = np.where(same, cA[np.maximum(gi, 0)], 0.0)
    bB = np.where(same[:, None], cB[np.maximum(gi, 0)], 0.0)
    rowA, rowB = bA[lay.block], None
    if lay.entry is not None:
        # (start, stop] rows: only the groups with start < t_g <= stop, a difference of
        # running sums over all groups (a row's groups lie in its own stratum)
        gA = np.r_[0.0, np.cumsum(A)]
        gB = np.vstack([np.zeros((1, p)), np.cumsum(B, axis=0)])
        en = lay.entry
        rowA = gA[en.row_out] - gA[en.row_in]
        rowB = gB[en.row_out] - gB[en.row_in]
    resid = np.empty((n, p))
    for j in range(p):  # column by column: no n x p temporaries
        col = x[:, j] * rowA
        col -= bB[:, j][lay.block] if rowB is None else rowB[:, j]
        col *= e
        resid[:, j] = -col
    gev = np.repeat(np.arange(ng), lay.d)
    ev = lay.ev
    resid[ev] += x[ev] - Mbar[gev]
    resid[ev] += e[ev, None] * (x[ev] * (A - Ad)[gev, None] - (B - Bd)[gev])
    return resid


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
