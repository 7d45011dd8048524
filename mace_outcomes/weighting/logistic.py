"""Logistic-regression kernels for propensity models: batched IRLS, Firth, separation.

The main propensity fit goes through statsmodels (:mod:`mace_outcomes.weighting.propensity`);
these kernels serve what statsmodels does not: Firth's bias-reduced fit and fitting
thousands of bootstrap replicates at once (one Newton iteration updates every replicate
through batched matrix products; frequency weights ``f`` carry the bootstrap resampling counts).

References
----------
Firth D. Bias reduction of maximum likelihood estimates. Biometrika 1993;80:27-38.
Heinze G, Schemper M. A solution to the problem of separation in logistic regression.
Stat Med 2002;21:2409-19.
Konis K. Linear programming algorithms for detecting separated data in binary logistic
regression models. DPhil thesis, University of Oxford, 2007.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.special import expit

# The products over rows (X b, X' diag(w) X, X' r) go through np.einsum rather than BLAS:
# with thousands of rows and a handful of columns they are memory-bound, and a threaded
# BLAS competing with the bootstrap's own threads (or other processes) was measured up to
# 20 times slower than einsum's single loop.

def _pairs(X: np.ndarray) -> np.ndarray:
    """Products of every pair of columns j <= k (p(p+1)/2 x n), shared by all replicates."""
    j, k = np.triu_indices(X.shape[1])
    return np.ascontiguousarray((X[:, j] * X[:, k]).T)


def _gram(w: np.ndarray, X: np.ndarray, P: np.ndarray | None = None) -> np.ndarray:
    """``X' diag(w_b) X`` for every row ``w_b`` of ``w`` (B x n) from the column-pair
    products: one pass over the rows, no B x p x n temporary."""
    P = _pairs(X) if P is None else P
    p = X.shape[1]
    j, k = np.triu_indices(p)
    flat = np.einsum("bn,kn->bk", w, P)
    G = np.empty((w.shape[0], p, p))
    G[:, j, k] = flat
    G[:, k, j] = flat
    return G


def _lin(b: np.ndarray, XT: np.ndarray) -> np.ndarray:
    """Linear predictors ``b X'`` (B x n) from ``XT`` = X' (p x n, contiguous)."""
    return np.einsum("bp,pn->bn", b, XT)


def _loglik(eta: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray:
    # log L = sum f [y eta - log(1 + e^eta)], with log(1 + e^eta) computed stably as
    # max(eta, 0) + log1p(e^-|eta|) (np.logaddexp's formula, at a quarter of its cost).
    t = np.exp(-np.abs(eta))
    np.log1p(t, out=t)
    t += np.maximum(eta, 0.0)
    np.subtract(y * eta, t, out=t)
    t *= f
    return t.sum(-1)  # pairwise summation: rounding stays below the line search's noise


def logistic_irls(X: np.ndarray, y: np.ndarray, f: np.ndarray | None = None,
                  firth: bool = False, max_iter: int = 100, tol: float = 1e-16,
                  max_step: float = 5.0, beta0: np.ndarray | None = None,
                  inference: bool = True) -> dict[str, np.ndarray]:
    """Fit ``B`` logistic regressions sharing ``X`` (n x p) and ``y`` (n,) at once.

    ``f`` (B x n) are frequency weights (bootstrap counts); ``None`` means one fit with
    unit weights. Newton-Raphson with step halving on the (penalised) log-likelihood.
    With ``firth=True`` the score is Firth's modified score
    ``U*(b) = X' [f (y - mu) + h (1/2 - mu)]`` with ``h`` the diagonal of the weighted hat
    matrix, which maximises ``l(b) + 1/2 log|I(b)|`` (Firth 1993; Heinze & Schemper 2002).

    ``beta0`` (p,) starts every fit there (the full-data estimate for bootstrap replicates:
    fewer Newton steps, same optimum).

    Returns beta (B x p), cov (B x p x p, inverse information at the estimate), loglik
    (B,), converged (B,), iterations and fitted (B x n); ``inference=False`` (bootstrap
    replicates) skips cov and loglik, two more passes over the rows.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    single = f is None
    f = np.ones((1, len(y))) if single else np.atleast_2d(np.asarray(f, dtype=float))
    B, p = f.shape[0], X.shape[1]
    beta = np.zeros((B, p)) if beta0 is None else np.tile(np.asarray(beta0, float), (B, 1))
    eye = np.eye(p)
    P = _pairs(X)
    XT = np.ascontiguousarray(X.T)
    obj = _objective(beta, f, firth, XT, y, P)
    converged = np.zeros(B, dtype=bool)
    iterations = 0
    for it in range(1, max_iter + 1):
        iterations = it
        active = ~converged
        if not active.any():
            break
        # all active (the first iterations): views, not copies of the B x n frequencies
        b, fa = (beta, f) if active.all() else (beta[active], f[active])
        eta = _lin(b, XT)
        mu = expit(eta)
        wv = fa * mu * (1 - mu)
        info = _gram(wv, X, P) + 1e-12 * eye
        resid = fa * (y - mu)
        if firth:
            inv = np.linalg.inv(info)
            h = wv * ((X @ inv) * X).sum(-1)
            resid = resid + h * (0.5 - mu)
        score = np.einsum("bn,pn->bp", resid, XT)
        step = np.linalg.solve(info, score[..., None])[..., 0]
        # Newton decrement U' I^-1 U: a scale-free measure of the distance to the optimum
        decrement = (score * step).sum(axis=1)
        # Cap the step so that separated replicates drift instead of overflowing.
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > max_step, step * (max_step / np.maximum(big, 1e-300)), step)
        old = obj[active]
        new_b = b + step
        # In the quadratic regime the full step is right and the change in log L is
        # below its rounding: no line search there (it would halve on noise), and no
        # pass over the rows to evaluate it.
        final = decrement < 1e-10
        new_obj = old.copy()
        if not final.all():
            look = ~final
            new_obj[look] = _objective(new_b[look], fa if look.all() else fa[look], firth,
                                       XT, y, P)
        # Step halving until the (penalised) log-likelihood rises by a fair share of
        # what the quadratic model promises (Armijo): a bare "did not go down" test lets
        # Firth's Newton steps, whose information misses the penalty's curvature,
        # oscillate around the optimum under quasi-separation.
        noise = 1e-15 * (1 + np.abs(old))
        for _ in range(40):
            gain = (score * step).sum(axis=1)
            worse = (new_obj < old + 1e-4 * gain - noise) & ~final
            if not worse.any():
                break
            step = np.where(worse[:, None], step / 2, step)
            new_b = b + step
            new_obj = np.where(worse, _objective(new_b, fa, firth, XT, y, P), new_obj)
        idx = np.flatnonzero(active)
        beta[idx] = new_b
        obj[idx] = new_obj
        # Converged: a negligible Newton decrement (scale-free, unlike the raw score with
        # covariates such as age in years); a stalled step alone is not convergence.
        done = decrement < tol
        converged[idx[done]] = True
    eta = _lin(beta, XT)
    mu = expit(eta)
    out = {"beta": beta, "converged": converged, "iterations": iterations, "fitted": mu}
    if inference:
        out["cov"] = np.linalg.pinv(_gram(f * mu * (1 - mu), X, P))
        out["loglik"] = _loglik(eta, y, f)
    if single:
        out = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 else v)
               for k, v in out.items()}
    return out


def _objective(b, fa, firth, XT, y, P):
    """The (penalised) log-likelihood of the active replicates only (``XT`` = X')."""
    eta = _lin(b, XT)
    ll = _loglik(eta, y, fa)
    if firth:
        mu = expit(eta)
        info = _gram(fa * mu * (1 - mu), XT.T, P)
        sign, logdet = np.linalg.slogdet(info)
        ll = ll + 0.5 * np.where(sign > 0, logdet, -np.inf)
    return ll


def separation(X: np.ndarray, y: np.ndarray, tol: float = 1e-7) -> np.ndarray | None:
    """Direction of (quasi-)complete separation, or ``None`` when there is none.

    Solves Konis's (2007) linear programme: maximise ``sum_i s_i x_i'b`` subject to
    ``s_i x_i'b >= 0`` for all ``i`` (``s_i = 2y_i - 1``) and ``-1 <= b <= 1``. A positive
    optimum means some ``b`` pushes every fitted probability to the observed side, i.e. the
    maximum-likelihood estimate does not exist (infinite coefficients).
    """
    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    A = s[:, None] * X
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    A = A / scale
    res = linprog(-A.sum(0), A_ub=-A, b_ub=np.zeros(len(s)), bounds=[(-1, 1)] * X.shape[1],
                  method="highs")
    if res.status != 0 or -res.fun <= tol * len(s):
        return None
    return res.x / scale


def separated_rows(X: np.ndarray, y: np.ndarray, margin: float = 1e-3,
                   bound: float = 1e3) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose fitted probability maximum likelihood drives to exactly 0 or 1.

    ``X`` (n x p) includes the intercept column. Row ``i`` is separated when some ``b``
    gives ``s_i x_i'b > 0`` while ``s_j x_j'b >= 0`` for every row (``s = 2y - 1``): along
    ``b`` the likelihood keeps rising and ``x_i'b`` diverges. The union of such rows is
    found by one linear programme, maximise ``sum_i t_i`` subject to ``t_i <= s_i x_i'b``,
    ``0 <= t_i <= margin``, ``|b| <= bound`` on standardised covariates (separation is
    invariant to affine changes of a covariate when an intercept is present): directions
    add, so a single ``b`` puts every separable row at the cap. All rows separated is
    complete separation, some is quasi-complete (Albert & Anderson 1984; Konis 2007).

    Returns the boolean mask (n,) and the direction ``b`` on the standardised scale
    (its non-zero entries name the covariates involved).
    """
    from scipy import sparse

    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    n, p = X.shape
    sd = X.std(axis=0)
    const = sd == 0
    centre = np.where(const, 0.0, X.mean(axis=0)) if const.any() else np.zeros(p)
    Xs = (X - centre) / np.where(const, np.abs(X).max(axis=0).clip(min=1e-300), sd)
    A = s[:, None] * Xs
    lhs = sparse.hstack([sparse.csr_matrix(-A), sparse.identity(n, format="csr")],
                        format="csr")
    cost = np.r_[np.zeros(p), -np.ones(n)]
    bounds = [(-bound, bound)] * p + [(0.0, margin)] * n
    res = linprog(cost, A_ub=lhs, b_ub=np.zeros(n), bounds=bounds, method="highs")
    if res.status != 0:
        return np.zeros(n, dtype=bool), np.zeros(p)
    return res.x[p:] > margin / 2, res.x[:p]
