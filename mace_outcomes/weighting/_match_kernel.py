"""Greedy nearest-neighbour matching on a scalar distance: the kernel of ``mo.match``.

The rules are those of MatchIt's ``method = "nearest"`` on a distance vector (R package
MatchIt >= 4.5.4, ``nn_matchC_vec``), restated here and reproduced pair for pair:

* Every unit (both arms) is ranked by distance, ties by data order (R's stable
  ``order(distance)``); that rank is a unit's *position*.
* Focal units (treated for the ATT) are visited in the matching ``order``. A unit's
  candidates are the nearest still available control on each side of it in position
  (within its exact-matching stratum); a candidate farther than the caliper
  (``|d_t - d_c| > caliper``) is no candidate. The nearer of the two is taken.
* Ties: when the two candidates are exactly as far (``|d_t - d_l| == |d_t - d_r|``),
  MatchIt's walk alternates left and right one position at a time, left first, counting
  every unit it passes (matched controls and focal units included); the candidate it
  reaches first wins: the left one when ``pos_t - pos_l <= pos_r - pos_t``.
* Without replacement and ``ratio = k``, matching runs in k rounds: every focal unit
  (in order) gets its first control, then every one that got a first control gets a
  second, and so on; in round r the walk starts from the outermost positions of the
  unit's own matches (so the tie rule counts from there). A focal unit with no control
  in round 1 stays unmatched; one that finds none in a later round keeps fewer controls.
* With replacement, each focal unit takes its k nearest controls independently (no
  round structure, the order is irrelevant); ties are broken by the walk's order
  (fewer positions first, left before right). MatchIt orders k > 1 candidates with
  ``std::partial_sort``, which is not stable: for k > 1 with replacement, two controls
  *exactly* as far from the same focal unit may come in the other order there.

Without replacement the greedy order is sequential; the kernel keeps the controls
sorted by (stratum, position) and a "nearest available" pointer forest over that array
(union-find with path compression, Tarjan 1975), so each search is amortised nearly
O(1) and one Python loop over the focal units (no loop over controls) does the rest.

References
----------
Ho D, Imai K, King G, Stuart EA. MatchIt: nonparametric preprocessing for parametric
causal inference. J Stat Softw 2011;42(8). Source of MatchIt 4.7.1, src/internal.cpp
``find_control_vec`` and src/nn_matchC_vec.cpp.
"""

from __future__ import annotations

import math

import numpy as np


def matching_order(distance_focal: np.ndarray, order: str, seed: int | None = None
                   ) -> np.ndarray:
    """Indices (into the focal units, data order) in the order they are matched.

    ``largest`` / ``smallest``: by distance, ties in data order (R's stable ``order``);
    ``data``: data order; ``random``: a permutation from ``numpy.random.default_rng(seed)``
    (not R's ``sample()``: the same seed gives a different order than MatchIt).
    """
    d = np.asarray(distance_focal, dtype=float)
    if order == "largest":
        return np.argsort(-d, kind="stable")
    if order == "smallest":
        return np.argsort(d, kind="stable")
    if order == "data":
        return np.arange(d.size)
    if order == "random":
        return np.random.default_rng(seed).permutation(d.size)
    raise ValueError(f"unknown order {order!r}")


def _layout(distance: np.ndarray, focal: np.ndarray, strata: np.ndarray | None):
    """Positions, the controls sorted by (stratum, position) and each focal unit's
    insertion point and stratum block in that array."""
    n = distance.size
    ranked = np.argsort(distance, kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[ranked] = np.arange(n)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, np.int64)
    key = s * (n + 1) + pos
    ctrl = ranked[~focal[ranked]]  # controls by position
    if strata is not None:
        ctrl = ctrl[np.argsort(s[ctrl], kind="stable")]
    ckey = key[ctrl]
    foc = np.flatnonzero(focal)
    ins = np.searchsorted(ckey, key[foc])
    lo = np.searchsorted(ckey, s[foc] * (n + 1))
    hi = np.searchsorted(ckey, (s[foc] + 1) * (n + 1))
    return pos, ctrl, foc, ins, lo, hi


def nearest_without_replacement(distance: np.ndarray, focal: np.ndarray, order: np.ndarray,
                                ratio: int = 1, caliper: float | None = None,
                                strata: np.ndarray | None = None) -> np.ndarray:
    """Greedy matching without replacement (MatchIt's rules, see the module).

    Parameters
    ----------
    distance : (n,) float distances of every unit.
    focal : (n,) bool, True for the units that receive matches (treated for the ATT).
    order : indices into the focal units (data order) in which they are matched.
    ratio : controls per focal unit.
    caliper : largest allowed ``|d_t - d_c|`` (same units as ``distance``), or None.
    strata : (n,) integer exact-matching strata, or None.

    Returns
    -------
    (n_focal, ratio) int64 array of matched unit indices per focal unit (data order),
    column r the control taken in round r + 1; -1 where none.
    """
    d = np.asarray(distance, dtype=float)
    focal = np.asarray(focal, dtype=bool)
    pos, ctrl, foc, ins, lo, hi = _layout(d, focal, strata)
    nc, nf = ctrl.size, foc.size
    out = np.full((nf, ratio), -1, dtype=np.int64)
    if nc == 0 or nf == 0:
        return out
    cal = np.inf if caliper is None else float(caliper)
    # plain lists: scalar access in the loop is several times faster than on arrays
    cd = d[ctrl].tolist()
    cpos = pos[ctrl].tolist()
    fd = d[foc].tolist()
    fpos = pos[foc].tolist()
    lo_l, hi_l = lo.tolist(), hi.tolist()
    # search bounds in the sorted controls and span positions of each focal unit's walk
    lft, rgt = ins.tolist(), ins.tolist()
    span_l, span_r = list(fpos), list(fpos)
    left = list(range(-1, nc - 1))       # left[j]: next candidate left of removed j
    right = list(range(1, nc + 1))       # right[j]: next candidate right of removed j
    free = [True] * nc
    n_taken = [0] * nf
    rec_t: list[int] = []
    rec_r: list[int] = []
    rec_j: list[int] = []
    alive = np.asarray(order, dtype=np.int64).tolist()

    def find_left(j: int) -> int:
        root = j
        while root >= 0 and not free[root]:
            root = left[root]
        while j >= 0 and j != root and not free[j]:  # path compression
            left[j], j = root, left[j]
        return root

    def find_right(j: int) -> int:
        root = j
        while root < nc and not free[root]:
            root = right[root]
        while j < nc and j != root and not free[j]:
            right[j], j = root, right[j]
        return root

    for r in range(ratio):
        still = []
        for t in alive:
            dt = fd[t]
            b_lo, b_hi = lo_l[t], hi_l[t]
            j_l = find_left(lft[t] - 1) if lft[t] > b_lo else -1
            j_r = find_right(rgt[t]) if rgt[t] < b_hi else nc
            ok_l = j_l >= b_lo
            ok_r = j_r < b_hi
            dl = abs(dt - cd[j_l]) if ok_l else np.inf
            dr = abs(dt - cd[j_r]) if ok_r else np.inf
            ok_l = ok_l and dl <= cal
            ok_r = ok_r and dr <= cal
            if ok_l and ok_r:
                if dl == dr:
                    take_left = span_l[t] - cpos[j_l] <= cpos[j_r] - span_r[t]
                else:
                    take_left = dl < dr
            elif ok_l or ok_r:
                take_left = ok_l
            else:
                if r > 0:
                    still.append(t)  # keeps its earlier controls, may find none later
                continue
            j = j_l if take_left else j_r
            if take_left:
                lft[t], span_l[t] = j, cpos[j]
            else:
                rgt[t], span_r[t] = j + 1, cpos[j]
            free[j] = False
            rec_t.append(t)
            rec_r.append(n_taken[t])
            rec_j.append(j)
            n_taken[t] += 1
            still.append(t)
        alive = still if r == 0 else alive
    out[np.asarray(rec_t, np.int64), np.asarray(rec_r, np.int64)] = ctrl[
        np.asarray(rec_j, np.int64)]
    return out


def nearest_with_replacement(distance: np.ndarray, focal: np.ndarray, ratio: int = 1,
                             caliper: float | None = None,
                             strata: np.ndarray | None = None) -> np.ndarray:
    """Each focal unit's ``ratio`` nearest controls, controls reusable (vectorised).

    Same parameters and return value as :func:`nearest_without_replacement` (no order:
    with replacement it does not matter); controls per row nearest first.
    """
    d = np.asarray(distance, dtype=float)
    focal = np.asarray(focal, dtype=bool)
    pos, ctrl, foc, ins, lo, hi = _layout(d, focal, strata)
    nf, k = foc.size, int(ratio)
    out = np.full((nf, k), -1, dtype=np.int64)
    if ctrl.size == 0 or nf == 0:
        return out
    cal = np.inf if caliper is None else float(caliper)
    step = np.arange(1, k + 1)
    cand = np.concatenate([ins[:, None] - step, ins[:, None] + step - 1], axis=1)
    ok = np.concatenate([cand[:, :k] >= lo[:, None], cand[:, k:] < hi[:, None]], axis=1)
    safe = np.clip(cand, 0, ctrl.size - 1)
    unit = ctrl[safe]
    dist = np.abs(d[foc][:, None] - d[unit])
    ok &= dist <= cal
    # the walk's order: positions passed, then left (0) before right (1)
    walk = np.abs(pos[unit] - pos[foc][:, None])
    side = np.repeat([[0, 1]], nf, axis=0).repeat(k, axis=1)
    row = np.repeat(np.arange(nf)[:, None], 2 * k, axis=1)
    keys = (side.ravel(), walk.ravel(), np.where(ok, dist, np.inf).ravel(),
            (~ok).ravel(), row.ravel())
    idx = np.lexsort(keys).reshape(nf, 2 * k)[:, :k] % (2 * k)
    chosen = np.take_along_axis(unit, idx, axis=1)
    good = np.take_along_axis(ok, idx, axis=1)
    out[good] = chosen[good]
    return out


# -- the distance: R's glm(family = binomial) iterate by iterate ---------------------------

_THRESH = 30.0  # R's logit link clamps eta outside +-30 (family.c)
_DBL_EPS = float(np.finfo(float).eps)


def _exp(eta: np.ndarray) -> np.ndarray:
    """``exp`` of the C library, as R calls it (numpy's vectorised exp differs from it in
    the last bit for a few per cent of values)."""
    # values beyond +-30 are replaced by the link's clamps: cap them before exp overflows
    return np.fromiter(map(math.exp, np.minimum(eta, _THRESH + 1).tolist()), dtype=float,
                       count=eta.size)


def _logit_inverse(eta: np.ndarray, e: np.ndarray) -> np.ndarray:
    """R's logit ``linkinv`` (family.c) from ``e = exp(eta)``."""
    t = np.where(eta < -_THRESH, _DBL_EPS, np.where(eta > _THRESH, 1 / _DBL_EPS, e))
    return t / (1 + t)


def _mu_eta(eta: np.ndarray, e: np.ndarray) -> np.ndarray:
    """R's logit ``mu.eta`` (family.c) from ``e = exp(eta)``."""
    return np.where(np.abs(eta) > _THRESH, _DBL_EPS, e / ((1 + e) * (1 + e)))


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Binomial deviance (only its relative change is used: the last bits do not matter)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-2 * np.log(np.where(y == 1, mu, 1 - mu)).sum())


def linear_predictor(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``X @ beta`` summed column by column, left to right, as R's ``x %*% beta`` through
    the reference BLAS: the same coefficients give the same bits."""
    eta = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        eta += beta[j] * X[:, j]
    return eta


def r_least_squares(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares as R's ``Cdqrls`` solves them (LINPACK ``dqrdc2`` Householder QR,
    then ``dqrsl``), operation for operation with the reference BLAS (``ddot``: products
    summed left to right; ``dnrm2`` of mid-range values: the square root of the left to
    right sum of squares), so the coefficients carry R's own rounding. Full column rank
    is assumed (collinearity is refused before); a column that would need R's pivoting
    falls back to numpy's solver.
    """
    n, p = A.shape
    aug = np.empty((n, p + 1), order="F")
    aug[:, :p] = A
    aug[:, p] = y
    b = _householder_solve(aug)
    return np.linalg.lstsq(A, y, rcond=None)[0] if b is None else b


def _householder_solve(x: np.ndarray) -> np.ndarray | None:
    """:func:`r_least_squares` on ``x = [A | y]`` (Fortran order), overwritten.

    ``dqrsl``'s ``Q'y`` applies each reflection to ``y`` with the very operations
    ``dqrdc2`` applies it to the later columns of ``A``, so ``y`` rides along as the last
    column. None when R would pivot (a column's norm under 1e-11 of its original).
    """
    n, p = x.shape[0], x.shape[1] - 1
    if n <= p:
        return None
    norms = np.sqrt(np.einsum("ij,ij->j", x[:, :p], x[:, :p]))
    buf = np.empty((n, p), order="F")
    for l in range(p):
        col = x[l:, l]
        sq = buf[:n - l, 0]
        np.multiply(col, col, out=sq)
        nrm = float(np.sqrt(np.cumsum(sq, out=sq)[-1]))
        if nrm == 0 or nrm < 1e-11 * norms[l]:
            return None
        if col[0] != 0:
            nrm = float(np.copysign(nrm, col[0]))
        col *= 1.0 / nrm
        col[0] = 1.0 + col[0]
        # every later column's ddot at once (cumsum runs down each column), then daxpy
        rest = x[l:, l + 1:]
        tmp = buf[:n - l, :p - l]
        np.multiply(col[:, None], rest, out=tmp)
        t = -np.cumsum(tmp, axis=0, out=tmp)[-1] / col[0]
        np.multiply(col[:, None], t[None, :], out=tmp)
        rest += tmp
        col[0] = -nrm
    b = x[:p, p].copy()
    for j in range(p - 1, -1, -1):
        b[j] = b[j] / x[j, j]
        if j > 0:
            b[:j] += -b[j] * x[:j, j]
    return b


def glm_logit(X: np.ndarray, y: np.ndarray, epsilon: float = 1e-8, maxit: int = 25
              ) -> dict:
    """Logistic regression by R's ``glm.fit`` iterations (IRLS from ``mu = (y + 1/2)/2``,
    stopping when ``|dev - dev_old| / (|dev| + 0.1) < epsilon``).

    The estimate is R's last iterate, not the exact maximum: following R's steps gives
    the same coefficients to ~1e-13 instead of to R's convergence tolerance (~1e-9), so
    matching on the distance meets the same near-ties R meets. ``X`` includes the
    intercept column. Returns beta, cov (inverse information at beta), eta (the linear
    predictor, R's ``linear.predictors``), fitted, iterations, converged.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    # mu starts at (y + 1/2) / 2: two values, so two calls of the C library's log and exp
    start = {v: math.log(((v + 0.5) / 2) / (1 - (v + 0.5) / 2)) for v in (0.0, 1.0)}
    eta = np.where(y == 1, start[1.0], start[0.0])
    e = np.where(y == 1, math.exp(start[1.0]), math.exp(start[0.0]))
    mu = _logit_inverse(eta, e)
    dev_old = _deviance(y, mu)
    p = X.shape[1]
    beta = np.zeros(p)
    converged, iterations = False, 0
    for it in range(1, maxit + 1):
        iterations = it
        g = _mu_eta(eta, e)
        good = g != 0
        if good.all():
            z = eta + (y - mu) / g
            w = np.sqrt(g ** 2 / (mu * (1 - mu)))
            rows = X
        else:
            z = eta[good] + (y - mu)[good] / g[good]
            w = np.sqrt(g[good] ** 2 / (mu * (1 - mu))[good])
            rows = X[good]
        aug = np.empty((rows.shape[0], p + 1), order="F")
        np.multiply(rows, w[:, None], out=aug[:, :p])
        np.multiply(z, w, out=aug[:, p])
        solved = _householder_solve(aug)
        beta = (np.linalg.lstsq(rows * w[:, None], z * w, rcond=None)[0] if solved is None
                else solved)
        eta = linear_predictor(X, beta)
        e = _exp(eta)
        mu = _logit_inverse(eta, e)
        dev = _deviance(y, mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            converged = True
            break
        dev_old = dev
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    with np.errstate(all="ignore"):
        cov = np.linalg.pinv(info)
    return {"beta": beta, "cov": cov, "eta": eta, "fitted": mu, "iterations": iterations,
            "converged": converged}


def r_sd(x: np.ndarray) -> float:
    """R's ``sd(x)``: the mean and the sum of squares accumulated in long double, the mean
    corrected by a second pass (R's cov.c), so the caliper in logit units carries R's
    rounding."""
    x = np.asarray(x, dtype=float)
    n = x.size
    xl = x.astype(np.longdouble)
    tmp = np.longdouble(float(xl.sum() / n))
    mean = float(tmp + (xl - tmp).sum() / n)
    ss = ((xl - mean) ** 2).sum()
    return float(np.sqrt(float(ss / (n - 1))))
