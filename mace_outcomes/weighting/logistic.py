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


def _gram(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``X' diag(w_b) X`` for every row ``w_b`` of ``w`` (B x n) as one BLAS product."""
    return np.matmul(X.T[None, :, :] * w[:, None, :], X)


def _loglik(eta: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray:
    # log L = sum f [y eta - log(1 + e^eta)], computed stably.
    return (f * (y * eta - np.logaddexp(0.0, eta))).sum(-1)


def logistic_irls(X: np.ndarray, y: np.ndarray, f: np.ndarray | None = None,
                  firth: bool = False, max_iter: int = 100, tol: float = 1e-16,
                  max_step: float = 5.0) -> dict[str, np.ndarray]:
    """Fit ``B`` logistic regressions sharing ``X`` (n x p) and ``y`` (n,) at once.

    ``f`` (B x n) are frequency weights (bootstrap counts); ``None`` means one fit with
    unit weights. Newton-Raphson with step halving on the (penalised) log-likelihood.
    With ``firth=True`` the score is Firth's modified score
    ``U*(b) = X' [f (y - mu) + h (1/2 - mu)]`` with ``h`` the diagonal of the weighted hat
    matrix, which maximises ``l(b) + 1/2 log|I(b)|`` (Firth 1993; Heinze & Schemper 2002).

    Returns beta (B x p), cov (B x p x p, inverse information at the estimate), loglik
    (B,), converged (B,) and iterations.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    single = f is None
    f = np.ones((1, len(y))) if single else np.atleast_2d(np.asarray(f, dtype=float))
    B, p = f.shape[0], X.shape[1]
    beta = np.zeros((B, p))
    eye = np.eye(p)
    obj = _objective(beta, f, firth, X, y)
    converged = np.zeros(B, dtype=bool)
    iterations = 0
    for it in range(1, max_iter + 1):
        iterations = it
        active = ~converged
        if not active.any():
            break
        b = beta[active]
        fa = f[active]
        eta = b @ X.T
        mu = expit(eta)
        wv = fa * mu * (1 - mu)
        info = _gram(wv, X) + 1e-12 * eye
        resid = fa * (y - mu)
        if firth:
            inv = np.linalg.inv(info)
            h = wv * ((X @ inv) * X).sum(-1)
            resid = resid + h * (0.5 - mu)
        score = resid @ X
        step = np.linalg.solve(info, score[..., None])[..., 0]
        # Newton decrement U' I^-1 U: a scale-free measure of the distance to the optimum
        decrement = (score * step).sum(axis=1)
        # Cap the step so that separated replicates drift instead of overflowing.
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > max_step, step * (max_step / np.maximum(big, 1e-300)), step)
        old = obj[active]
        new_b = b + step
        new_obj = _objective(new_b, fa, firth, X, y)
        # Step halving until the (penalised) log-likelihood rises by a fair share of
        # what the quadratic model promises (Armijo): a bare "did not go down" test lets
        # Firth's Newton steps, whose information misses the penalty's curvature,
        # oscillate around the optimum under quasi-separation.
        noise = 1e-15 * (1 + np.abs(old))
        for _ in range(40):
            gain = (score * step).sum(axis=1)
            worse = new_obj < old + 1e-4 * gain - noise
            if not worse.any():
                break
            step = np.where(worse[:, None], step / 2, step)
            new_b = b + step
            new_obj = np.where(worse, _objective(new_b, fa, firth, X, y), new_obj)
        idx = np.flatnonzero(active)
        beta[idx] = new_b
        obj[idx] = new_obj
        # Converged: a negligible Newton decrement (scale-free, unlike the raw score with
        # covariates such as age in years); a stalled step alone is not convergence.
        done = decrement < tol
        converged[idx[done]] = True
    eta = beta @ X.T
    mu = expit(eta)
    info = _gram(f * mu * (1 - mu), X)
    cov = np.linalg.pinv(info)
    out = {"beta": beta, "cov": cov, "loglik": _loglik(eta, y, f), "converged": converged,
           "iterations": iterations, "fitted": mu}
    if single:
        out = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 else v)
               for k, v in out.items()}
    return out


def _objective(b, fa, firth, X, y):
    """The (penalised) log-likelihood of the active replicates only."""
    eta = b @ X.T
    ll = _loglik(eta, y, fa)
    if firth:
        mu = expit(eta)
        info = _gram(fa * mu * (1 - mu), X)
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
