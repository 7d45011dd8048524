"""Firth-penalised Cox regression (Heinze & Schemper 2001), as R's ``coxphf``.

The penalised log partial likelihood is ``l*(b) = l(b) + 1/2 log det I(b)`` (Firth
1993's Jeffreys-prior penalty), ``l`` the Breslow log partial likelihood and ``I``
its observed information. Its maximiser is finite even under monotone likelihood
(an arm with no events). The penalised score is
``U*_r = U_r + 1/2 tr(I^{-1} dI/db_r)``, which needs third-order risk-set sums;
they are computed as the other sums are (block sums + reverse cumulative sums).

Inference, as ``coxphf(..., pl=TRUE)``:

* ``se``: ``sqrt(diag(I(b)^{-1}))`` at the penalised estimate;
* ``lower``/``upper``: profile penalised-likelihood limits, the ``b_j`` where
  ``2 (l*(b) - max_{b_-j} l*(b_j, b_-j)) = chi2_1(conf_level)``;
* ``p``: the penalised likelihood-ratio test of ``b_j = 0``;
* ``loglik``: penalised log-likelihood at 0 and at the estimate.

With ``weights`` (e.g. IPTW; no package offers this yet) the weights are first
rescaled to sum to their Kish effective sample size ``(sum w)^2 / sum w^2``. Firth's
penalty ``0.5 log|I|`` does not grow with the weights, so without a fixed scale the
estimate would depend on it (IPTW weights sum to about 2n, stabilised ones to n); on
the effective-sample scale the weighted likelihood carries the information of the
sample the weights leave, and integer frequency weights with equal values behave as
replicated rows of that size. Then ``l*`` is the weighted penalised likelihood and:

* ``se`` is the robust sandwich ``D'D`` of Lin & Wei (1989) with dfbeta
  ``D = (w U) I^{-1}`` (score residuals of the partial likelihood at the penalised
  estimate; the penalty's O(1) share of the estimating function is ignored), summed
  within clusters when ``cluster`` is given -- floored, term by term, by the
  model-based variance of the effective-sample likelihood, because the sandwich
  collapses for a term near monotone likelihood (an arm with almost no events leaves
  almost no score residuals) and would give falsely narrow intervals exactly where
  Firth's method is needed; ``robust=False`` keeps the model-based variance alone;
* ``lower``/``upper`` and ``p`` are the profile penalised-likelihood limits and the
  penalised LR test, with the likelihood-ratio statistic of term ``j`` multiplied by
  ``naive_var_j / var_j`` (``var_j = se_j^2``; a first-order Rao-Scott correction), so
  the interval's width follows that variance while it keeps the profile's asymmetry.
  ``naive_se`` is the model-based SE of the effective-sample likelihood.

Unit weights give the unweighted (coxphf) point estimate and penalised likelihood;
the intervals then differ only through the robust variance.

References
----------
Firth D (1993). Bias reduction of maximum likelihood estimates. Biometrika 80:27-38.
Heinze G, Schemper M (2001). A solution to the problem of monotone likelihood in Cox
regression. Biometrics 57:114-119.
Lin DY, Wei LJ (1989). JASA 84:1074-1078.
Rao JNK, Scott AJ (1984). On chi-squared tests for multiway contingency tables with
cell proportions estimated from survey data. Ann Stat 12:46-60.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from . import _kernels as K

__all__ = ["penalised_loglik", "firth_fit"]


#: said when ``firth=True`` comes with Efron's ties (coxphf's partial likelihood is Breslow's)
TIES_NOTE = ("ties={ties!r} does not apply: the Firth penalised likelihood handles ties by "
             "Breslow's method, as R's coxphf")


def firth_products(x: np.ndarray) -> np.ndarray:
    """Columns ``[1, x, x x' (p*p), x x x' (p^3)]`` of every row."""
    n, p = x.shape
    xx = (x[:, :, None] * x[:, None, :]).reshape(n, p * p)
    xxx = (xx[:, :, None] * x[:, None, :]).reshape(n, p ** 3)
    return np.hstack([np.ones((n, 1)), x, xx, xxx])


def penalised_loglik(beta: np.ndarray, x: np.ndarray, z: np.ndarray, w: np.ndarray,
                     lay: K.Layout, grad: bool = True):
    """Penalised log partial likelihood (Breslow), penalised score and information.

    Returns ``(l*, U*, I, l)`` with ``I`` the observed information of the
    unpenalised likelihood (used as Newton's Hessian, as coxphf does) and ``l`` the
    unpenalised log-likelihood.
    """
    p = x.shape[1]
    eta = x @ beta
    with np.errstate(over="ignore"):
        r = w * np.exp(eta)
    S, _ = K.group_sums(lay, r, z)
    wd = np.add.reduceat(w[lay.ev], lay.gstart)
    return penalised_from_sums(S, wd, float(w[lay.ev] @ eta[lay.ev]), w[lay.ev] @ x[lay.ev],
                               p, grad)


def penalised_from_sums(S: np.ndarray, wd: np.ndarray, w_eta: float, wx: np.ndarray, p: int,
                        grad: bool = True):
    """``(l*, U*, I, l)`` of :func:`penalised_loglik` from its sums: ``S`` the risk-set
    sums of ``r z`` per event time (``z`` of :func:`firth_products`), ``wd`` the deaths'
    weight per event time, ``w_eta`` and ``wx`` the deaths' ``sum w eta`` and ``sum w x``
    (sums that add over partitions: the Dask fit uses this too)."""
    s0 = S[:, 0]
    s1 = S[:, 1:1 + p] / s0[:, None]
    s2 = S[:, 1 + p:1 + p + p * p].reshape(-1, p, p) / s0[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ll = float(w_eta - wd @ np.log(s0))
    if not np.isfinite(ll):
        return -np.inf, np.full(p, np.nan), np.full((p, p), np.nan), -np.inf
    u = wx - wd @ s1
    v = s2 - s1[:, :, None] * s1[:, None, :]
    imat = np.tensordot(wd, v, axes=1)
    sign, logdet = np.linalg.slogdet(imat)
    if sign <= 0:
        return -np.inf, np.full(p, np.nan), imat, ll
    pll = ll + 0.5 * logdet
    if not grad:
        return pll, None, imat, ll
    s3 = S[:, 1 + p + p * p:].reshape(-1, p, p, p) / s0[:, None, None, None]
    # dV/db_r with the normalised moments m1 = s1, m2 = s2, m3 = s3 per group:
    # m3_r - m2 m1_r - m2_r m1' - m1 m2_r' + 2 m1 m1' m1_r  (derivative of m2 - m1 m1')
    dv = (s3
          - s2[:, :, :, None] * s1[:, None, None, :]
          - np.einsum("gir,gj->gijr", s2, s1)
          - np.einsum("gi,gjr->gijr", s1, s2)
          + 2 * s1[:, :, None, None] * s1[:, None, :, None] * s1[:, None, None, :])
    di = np.tensordot(wd, dv, axes=1)  # (p, p, p): dI/db_r in the last axis
    iinv = K.inverse_sym(imat)
    ustar = u + 0.5 * np.einsum("ij,jir->r", iinv, di)
    return pll, ustar, imat, ll


def _maximise(fun, beta0, free, max_iter=100, tol=1e-10):
    """Newton on the free coordinates of ``fun(b) -> (l*, U*, I, l)`` with
    step-halving and steps capped at 5 (Heinze & Schemper's safeguard)."""
    beta = np.asarray(beta0, dtype=float).copy()
    pll, u, imat, ll = fun(beta)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        uf = u[free]
        step = np.zeros_like(beta)
        step[free] = K.solve_sym(imat[np.ix_(free, free)], uf)
        big = np.max(np.abs(step))
        if big > 5:
            step *= 5 / big
        for _ in range(50):
            new = beta + step
            p2, u2, i2, l2 = fun(new)
            if np.isfinite(p2) and p2 >= pll - 1e-13 * abs(pll):
                break
            step /= 2
        beta, dl = new, p2 - pll
        pll, u, imat, ll = p2, u2, i2, l2
        if np.max(np.abs(u[free])) < tol and abs(dl) < 1e-12 * (1 + abs(pll)):
            break
        if np.max(np.abs(step)) < 1e-13:
            break
    return beta, pll, u, imat, ll, it


def _coxphf_iterate(fun, p, max_iter=50, max_halving=5, eps=1e-6, gconv=1e-4,
                    max_step=0.5):
    """The estimation loop of coxphf (Heinze & Schemper 2001), kept step for step.

    Newton steps ``I^{-1} U*`` clipped to ``max_step`` per (standardised)
    coordinate; up to ``max_halving`` halvings towards the previous estimate while the
    penalised log-likelihood does not increase (from the second iteration on);
    convergence when every step is <= ``eps`` and every penalised score <= ``gconv``.
    Following the same path makes the estimate agree with coxphf's to rounding
    rather than to its 1e-6 tolerance.
    """
    beta = np.zeros(p)
    pll, u, imat, ll = fun(beta)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        b0, pll0 = beta, pll
        step = np.clip(K.solve_sym(imat, u), -max_step, max_step)
        beta = b0 + step
        pll, u, imat, ll = fun(beta)
        hs = 0
        while it != 1 and not pll > pll0 and hs <= max_halving:
            hs += 1
            beta = (beta + b0) / 2
            pll, u, imat, ll = fun(beta)
        if np.all(np.abs(beta - b0) <= eps) and np.all(np.abs(u) <= gconv):
            break
    return beta, pll, u, imat, ll, it


def _profile_limits(fun, beta, pll, j, q, scale, se):
    """Profile penalised-likelihood limits of coefficient ``j`` (root search)."""
    p = len(beta)
    free = [k for k in range(p) if k != j]
    cache = {"b": beta.copy()}

    def prof(bj):
        b0 = cache["b"].copy()
        b0[j] = bj
        if free:
            b, pl, *_ = _maximise(fun, b0, free)
            cache["b"] = b
        else:
            pl = fun(b0)[0]
        return scale * 2 * (pll - pl) - q

    out = []
    step0 = max(se, 0.1) if np.isfinite(se) else 1.0
    for sgn in (-1.0, 1.0):
        cache["b"] = beta.copy()
        lo, hi = beta[j], beta[j] + sgn * step0
        fhi = prof(hi)
        n = 0
        while fhi < 0 and n < 60:
            lo = hi
            hi = beta[j] + sgn * step0 * 2 ** (n + 1)
            fhi = prof(hi)
            n += 1
        if fhi < 0:
            out.append(sgn * np.inf)
            continue
        cache["b"] = beta.copy()
        out.append(optimize.brentq(prof, min(lo, hi), max(lo, hi), xtol=1e-10, rtol=1e-12))
    return out[0], out[1]


def _profile_at(fun, beta, j, value):
    p = len(beta)
    free = [k for k in range(p) if k != j]
    b0 = beta.copy()
    b0[j] = value
    if free:
        return _maximise(fun, b0, free)[1]
    return fun(b0)[0]


def firth_fit(*, x, w, lay, cluster, names, terms, robust, conf_level, n, n_event, state,
              weighted):
    """Fit the Firth-penalised Cox model on sorted, centred arrays (see module notes).

    Returns the fields of a :class:`~mace_outcomes.regression.fit.CoxResult` as a dict:
    the caller wraps them, so this module never imports the public one.
    """
    p = x.shape[1]
    if weighted:
        # Weights rescaled to sum to their Kish effective sample size: the penalised
        # likelihood then carries the information of the effective sample, and, since
        # Firth's penalty does not scale with the weights, the estimate no longer
        # depends on their arbitrary scale (IPTW, stabilised IPTW and overlap weights
        # of the same design give one answer). Unit weights are unchanged.
        w = w * (w.sum() / np.dot(w, w))
    # coxphf works on covariates scaled to unit SD: its estimation path and its
    # reported log-likelihood (whose penalty then shifts by -sum(log sd)) follow.
    sd = x.std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    xs = x / sd
    z = firth_products(xs)

    def fun(b):
        return penalised_loglik(b, xs, z, w, lay)

    beta, pll, u, imat, ll, iters = _coxphf_iterate(fun, p)
    pll0 = fun(np.zeros(p))[0]
    naive_s = K.inverse_sym(imat)
    use_robust = bool(robust)
    if use_robust:
        resid = K.score_residuals(beta, xs, w, lay)
        rob = K.robust_variance(resid, w, naive_s, cluster)
        # the sandwich collapses for a term near monotone likelihood (an arm with
        # almost no events has almost no score residuals), so it is floored by the
        # model-based variance of the likelihood of the effective sample
        floor = np.diag(naive_s)
        target = np.maximum(np.diag(rob), floor)
        adj = np.sqrt(target / np.diag(rob))
        var_s = rob * np.outer(adj, adj)
        scale = np.diag(naive_s) / target
        variance = "robust sandwich; Rao-Scott-scaled profile penalised likelihood"
    else:
        var_s = naive_s
        scale = np.ones(p)
        variance = "model-based; profile penalised likelihood"
    summary, tests, var = profile_tables(fun, beta, pll, pll0, scale, var_s, naive_s, sd,
                                         names, conf_level)
    state.update(beta=beta / sd, imat=imat / np.outer(sd, sd), loglik_unpenalised=ll)
    return dict(summary=summary, loglik=(pll0, pll), tests=tests, n=n, n_event=n_event,
                ties="breslow", robust=use_robust, firth=True, warnings=[],
                conf_level=conf_level, variance=variance, iterations=iters,
                vcov=pd.DataFrame(var, index=names, columns=names), terms=terms,
                _state=state)


def profile_tables(fun, beta, pll, pll0, scale, var_s, naive_s, sd, names, conf_level):
    """The summary (profile penalised-likelihood limits and LR p per term, Rao-Scott
    scaled by ``scale``) and the global tests of a Firth fit on covariates scaled by
    ``sd``; also the variance on the original scale. Shared with the Dask fit."""
    p = len(names)
    se_s = np.sqrt(np.diag(var_s))
    q = stats.chi2.ppf(conf_level, 1)
    lower, upper, pval = np.empty(p), np.empty(p), np.empty(p)
    for j in range(p):  # a loop over terms: each limit is a root search
        lo, hi = _profile_limits(fun, beta, pll, j, q, scale[j], se_s[j])
        lower[j], upper[j] = np.exp(lo / sd[j]), np.exp(hi / sd[j])
        stat = scale[j] * 2 * (pll - _profile_at(fun, beta, j, 0.0))
        pval[j] = stats.chi2.sf(max(stat, 0.0), 1)
    coef = beta / sd
    var = var_s / np.outer(sd, sd)
    se = np.sqrt(np.diag(var))
    summary = pd.DataFrame({"coef": coef, "hr": np.exp(coef), "se": se, "lower": lower,
                            "upper": upper, "p": pval, "z": coef / se,
                            "naive_se": np.sqrt(np.diag(naive_s)) / sd},
                           index=pd.Index(names, name="term"))
    _, u0, i0, _ = fun(np.zeros(p))
    tests = pd.DataFrame({"test": ["likelihood_ratio", "wald", "score"],
                          "statistic": [2 * (pll - pll0), float(coef @ K.solve_sym(var, coef)),
                                        float(u0 @ K.solve_sym(i0, u0))],
                          "df": [p, p, p]})
    tests["p"] = stats.chi2.sf(tests["statistic"], tests["df"])
    return summary, tests, var
