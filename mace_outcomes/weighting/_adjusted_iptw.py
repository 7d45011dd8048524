"""IPTW absolute risks with a Cox censoring model and their influence functions.

    risk_a(t) = 1/n sum_j 1{A_j = a} delta_j 1{T_j <= t} / (pi_a(X_j) G(T_j- | X_j))

with the logistic propensity ``pi`` and the Cox (Breslow) censoring survival ``G``, as
``riskRegression::ate(estimator = "IPTW")``. The influence function adds the
propensity model's (logistic score times its inverse information) and the censoring
model's (coefficients and baseline hazard) terms, so the nuisance models are not
treated as known.
"""

from __future__ import annotations

import numpy as np

from ._cox_influence import _breslow, coefficient_influence


def _sum_upto(keys: np.ndarray, vals: np.ndarray, q: np.ndarray) -> np.ndarray:
    """For each ``q``: the sum of the rows of ``vals`` whose key is <= q (cumulative sums)."""
    order = np.argsort(keys, kind="stable")
    cum = np.concatenate([np.zeros((1,) + vals.shape[1:]), np.cumsum(vals[order], axis=0)])
    return cum[np.searchsorted(keys[order], q, side="right")]


def logistic_influence(z: np.ndarray, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Logistic score times the inverse information (dfbeta scale); ``z`` has an intercept."""
    info = (z * (p * (1 - p))[:, None]).T @ z
    return ((a - p)[:, None] * z) @ np.linalg.inv(info)


def iptw_kernel(t: np.ndarray, d: np.ndarray, a: np.ndarray, x: np.ndarray, z: np.ndarray,
                p: np.ndarray, beta_c: np.ndarray, vcov_c: np.ndarray,
                times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IPTW risks (K x 2: treated, reference) and influence functions (n x K x 2).

    ``x``: the censoring model's design; ``z``: the propensity design with intercept;
    ``p``: P(treated); ``a``: 1 for the treated arm.
    """
    n = len(t)
    x = x - x.mean(axis=0)
    dc = 1 - d
    c = _breslow(t, dc, x, beta_c)
    k_minus = np.searchsorted(c["u"], t, side="left")        # censoring times < own time
    lc = c["l0"][k_minus]                                    # Lambda_c(T_j-)
    g = np.exp(-lc * c["r"])
    d_gamma = logistic_influence(z, a, p)
    d_bc = coefficient_influence(t, dc, x, beta_c, vcov_c)
    y = d[:, None] * (t[:, None] <= times[None, :])           # n x K
    risk = np.empty((len(times), 2))
    infl = np.empty((n, len(times), 2))
    for k, (arm, pa, sign) in enumerate(((a, p, 1.0), (1 - a, 1 - p, -1.0))):  # two arms
        h = (arm / (pa * g))[:, None] * y                     # n x K
        risk[:, k] = h.mean(axis=0)
        # propensity: d(1/pi_a) = -(1/pi_a^2) * sign * pi (1 - pi) z
        g_gamma = -(h * (sign * p * (1 - p) / pa)[:, None]).T @ z / n      # K x q
        # censoring: d(1/G) = (1/G) (dLambda_c(T-) + Lambda_c(T-) x'dbeta_c) exp(eta_c)
        w = h * (c["r"] / n)[:, None]                        # n x K
        g_bc = (w * lc[:, None]).T @ x                       # K x p
        jump = w.sum(axis=0) - _sum_upto(t, w, t)            # sum over T_j > T_i
        comp = _comp(c, k_minus, w)
        g_hc = (w.T @ c["hx"][k_minus])                      # K x p
        d_lc = (dc / c["s0_own"])[:, None] * jump - c["r"][:, None] * comp - d_bc @ g_hc.T
        infl[:, :, k] = ((h - risk[:, k]) / n + d_gamma @ g_gamma.T + d_bc @ g_bc.T + d_lc)
    return risk, infl


def _comp(c: dict, k_minus: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_j w_j C1(min(k_i, k_minus_j)) for every subject i (n x K)."""
    c1 = c["c1"]
    k_i = c["k_i"]
    below = _sum_upto(k_minus, w * c1[k_minus][:, None], k_i)   # k_minus_j <= k_i
    above = w.sum(axis=0) - _sum_upto(k_minus, w, k_i)          # k_minus_j > k_i
    return below + c1[k_i][:, None] * above
