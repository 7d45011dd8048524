"""Augmented IPTW absolute risks under right-censoring and their influence functions.

The estimator of ``riskRegression::ate(estimator = "AIPTW")`` with a Cox outcome model,
a logistic treatment model and a Cox censoring model ("AIPTW,AIPCW"): for arm a and
horizon t,

    risk_a(t) = 1/n sum_i F_a,i(t) + w_i [Y_i(t) / G_i(T_i-) - F_a,i(t) + Aug_i(t)]
    Aug_i(t)  = sum_{c_j <= min(T_i, t)} (F_i(t) - F_i(c_j)) dM^C_i(c_j) / (G_i(c_j-) S_i(c_j-))

with w_i = 1{A_i = a} / pi_a(X_i), Y_i(t) = 1{T_i <= t, event}, F and S the Cox risk
and survival (Breslow), G the censoring survival, c_j the censoring times and
dM^C_i = dN^C_i - Y_i dLambda^C_i the censoring martingale increment. The influence
function is the derivative of the estimate along every nuisance estimate (propensity
coefficients; outcome and censoring Cox coefficients and baseline-hazard increments)
times that estimate's influence, plus the centred terms: ``ate``'s default
``known.nuisance = FALSE``. Every sum over subjects and censoring times is a matrix
product or a cumulative sum (memory O(n x censoring times), as ``ate``).

Reference: Ozenne BMH, Scheike TH, Staerk L, Gerds TA. On the estimation of average
treatment effects with right-censored time to event outcome and competing risks. Biom J
2020;62:751-63.
"""

from __future__ import annotations

import numpy as np

from ._adjusted_iptw import logistic_influence
from ._cox_influence import _breslow, coefficient_influence


def _reverse_from(m: np.ndarray, start: np.ndarray) -> np.ndarray:
    """For each row and each entry of ``start``: the sum of the row's columns >= start."""
    rev = np.concatenate([np.cumsum(m[:, ::-1], axis=1)[:, ::-1],
                          np.zeros((m.shape[0], 1))], axis=1)
    return rev[:, start]


def hazard_influence(b: dict, t: np.ndarray, d: np.ndarray, grad: np.ndarray,
                     d_beta: np.ndarray) -> np.ndarray:
    """Influence (n x M) of sum_k grad[m, k] dLambda0(u_k), Breslow increments ``u_k``.

    IF_i(dLambda0_k) = dN_i(u_k) / S0_k - Y_i(u_k) r_i dLambda0_k / S0_k
    - dLambda0_k xbar_k' D_b,i, summed against ``grad`` (M x K) by cumulative sums.
    """
    own = np.minimum(np.searchsorted(b["u"], t), len(b["u"]) - 1)   # own event time
    jump = d[:, None] * grad[:, own].T / b["s0_own"][:, None]
    cum = np.concatenate([np.zeros((grad.shape[0], 1)),
                          np.cumsum(grad * np.diff(b["c1"])[None, :], axis=1)], axis=1)
    at_risk = cum[:, b["k_i"]].T                                # sum over u_k <= T_i
    slope = grad @ np.diff(b["hx"], axis=0)                     # M x p
    return jump - b["r"][:, None] * at_risk - d_beta @ slope.T


def aipw_kernel(t: np.ndarray, d: np.ndarray, a: np.ndarray, x: np.ndarray,
                beta: np.ndarray, vcov: np.ndarray, xc: np.ndarray, beta_c: np.ndarray,
                vcov_c: np.ndarray, z: np.ndarray, p: np.ndarray, times: np.ndarray,
                d_beta: np.ndarray | None = None,
                d_beta_c: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AIPTW risks (K x 2: treated, reference) and influence functions (n x K x 2).

    ``x``: the outcome Cox design with the treated indicator in column 0; ``xc``: the
    censoring Cox design; ``z``: the propensity design with intercept; ``p``: P(treated);
    ``a``: 1 for the treated arm. ``d_beta``/``d_beta_c``: the Cox coefficients'
    influence (default: :func:`coefficient_influence`, R's dfbeta). Without censored rows
    G = 1 and the censoring model drops out (``xc``, ``beta_c``, ``vcov_c`` unused).
    """
    n = len(t)
    centre = x.mean(axis=0)
    x, xc = x - centre, xc - xc.mean(axis=0)
    dc = 1 - d
    censored = bool(dc.any())
    bo = _breslow(t, d, x, beta)
    if d_beta is None:
        d_beta = coefficient_influence(t, d, x, beta, vcov)
    if censored:
        bc = _breslow(t, dc, xc, beta_c)
        if d_beta_c is None:
            d_beta_c = coefficient_influence(t, dc, xc, beta_c, vcov_c)
    else:                                  # no censoring: G = 1, no censoring times
        bc = dict(u=np.zeros(0), l0=np.zeros(1), r=np.ones(n))
    d_gamma = logistic_influence(z, a, p)
    u, l0, rc = bo["u"], bo["l0"], bc["r"]
    # censoring times after the last horizon add nothing: keep the first jc of them
    jc = int(np.searchsorted(bc["u"], times.max(), side="right"))
    c, lc_minus = bc["u"][:jc], bc["l0"][:jc]                  # c_j, Lambda_c(c_j-)
    dlc = np.diff(bc["l0"])[:jc]
    lc_t = bc["l0"][np.searchsorted(bc["u"], t, side="left")]  # Lambda_c(T_i-)
    g_t = np.exp(-lc_t * rc)                                   # G_i(T_i-)
    # outcome cumulative hazard at the horizons and at the censoring times
    l_tau = l0[np.searchsorted(u, times, side="right")]         # M
    l_cj = l0[np.searchsorted(u, c, side="right")]              # Lambda(c_j)
    l_cj_minus = l0[np.searchsorted(u, c, side="left")]         # Lambda(c_j-)
    before = c[None, :] <= times[:, None]                       # M x J: c_j <= horizon
    k_tau = np.searchsorted(c, times, side="right")             # censoring times <= t

    def upto(m):
        """sum_j m_ij over c_j <= min(T_i, t) (n_a x M): ``m`` is 0 after T_i already."""
        return np.concatenate([np.zeros((m.shape[0], 1)), np.cumsum(m, axis=1)],
                              axis=1)[:, k_tau]

    y_g = d[:, None] * (t[:, None] <= times[None, :]) / g_t[:, None]   # Y_i(t) / G_i(T_i-)
    risk = np.empty((len(times), 2))
    infl = np.empty((n, len(times), 2))
    for k, (arm, pa, sign, level) in enumerate(((a, p, 1.0, 1.0), (1 - a, 1 - p, -1.0, 0.0))):
        xa = x.copy()
        xa[:, 0] = level - centre[0]
        ra = np.exp(xa @ beta)
        w = arm / pa
        f_tau = 1 - np.exp(-np.outer(ra, l_tau))                # n x M
        # the augmentation, over this arm's rows only (w = 0 elsewhere): n_a x J
        s = np.flatnonzero(arm > 0)
        ts, rs, ws, fs = t[s], ra[s], w[s], f_tau[s]
        at = c[None, :] <= ts[:, None]                          # at risk of censoring
        dm = (dc[s, None] * (ts[:, None] == c[None, :])) - dlc[None, :] * rc[s, None]
        psi = np.exp(np.where(at, lc_minus[None, :] * rc[s, None]
                              + np.outer(rs, l_cj_minus), -np.inf))   # 1 / (G S), at risk
        q = dm * psi
        f_c = 1 - np.exp(-np.outer(rs, l_cj))                   # F_i(c_j)
        i1 = np.zeros((n, len(times)))
        i1[s] = upto(q)
        aug = np.zeros((n, len(times)))
        aug[s] = fs * i1[s] - upto(f_c * q)
        phi = f_tau + w[:, None] * (y_g - f_tau + aug)
        risk[:, k] = phi.mean(axis=0)
        out = (phi - risk[:, k]) / n
        # propensity: dw/dgamma = -w sign pi (1 - pi) / pi_a z
        dw = -w * sign * p * (1 - p) / pa
        out += d_gamma @ (((y_g - f_tau + aug) * dw[:, None]).T @ z / n).T
        # outcome Cox coefficients: through F(t), F(c_j) and S(c_j-)
        coef_f = (1 - w)[:, None] + w[:, None] * i1
        wr = ws * rs
        q_minus = l_cj_minus[None, :] * q
        dfb = ((coef_f * (1 - f_tau) * l_tau[None, :] * ra[:, None]).T @ xa
               + (wr[:, None] * (-upto((1 - f_c) * l_cj[None, :] * q)
                                 + fs * upto(q_minus) - upto(f_c * q_minus))).T
               @ xa[s]) / n
        out += d_beta @ dfb.T
        # outcome baseline hazard: through Lambda(t), Lambda(c_j) and Lambda(c_j-)
        g_tau = (coef_f * (1 - f_tau) * ra[:, None]).sum(axis=0) / n          # M
        b_j = -(wr[:, None] * (1 - f_c) * q).sum(axis=0) / n                   # J
        c_j = ((wr[:, None] * fs).T @ q - (wr[:, None] * f_c * q).sum(axis=0)) / n
        grad = (g_tau[:, None] * (u[None, :] <= times[:, None])
                + _reverse_from(np.where(before, b_j[None, :], 0.0),
                                np.searchsorted(c, u, side="left"))
                + _reverse_from(np.where(before, c_j, 0.0),
                                np.searchsorted(c, u, side="right")))
        out += hazard_influence(bo, t, d, grad, d_beta)
        if not censored:
            infl[:, :, k] = out
            continue
        # censoring Cox coefficients: through G(T_i-), G(c_j-) and dM
        wyg = w[:, None] * y_g
        r_m = psi * (dm * lc_minus[None, :] - dlc[None, :])
        wrc = ws * rc[s]
        dfc = (((wyg * (lc_t * rc)[:, None]).T @ xc)
               + (wrc[:, None] * (fs * upto(r_m) - upto(f_c * r_m))).T @ xc[s]) / n
        out += d_beta_c @ dfc.T
        # censoring baseline hazard: dLambda_c(c_l) enters G(T_i-) (c_l < T_i),
        # G(c_j-) (c_l < c_j) and dM(c_l)
        # sum over the arm's rows with T_i > c_l: reverse cumulative sums in time order
        order = np.argsort(ts, kind="stable")
        tail = np.concatenate([np.cumsum((wyg[s] * rc[s, None])[order][::-1], axis=0)[::-1],
                               np.zeros((1, len(times)))])
        g1 = tail[np.searchsorted(ts[order], c, side="right")].T / n
        v = ((wrc[:, None] * fs).T @ q - (wrc[:, None] * f_c * q).sum(axis=0)) / n
        g2 = _reverse_from(np.where(before, v, 0.0), np.arange(1, len(c) + 1))
        g3 = -((wrc[:, None] * fs).T @ psi - (wrc[:, None] * f_c * psi).sum(axis=0)) / n
        grad_c = np.zeros((len(times), len(bc["u"])))
        grad_c[:, :jc] = g1 + g2 + np.where(before, g3, 0.0)
        out += hazard_influence(bc, t, dc, grad_c, d_beta_c)
        infl[:, :, k] = out
    return risk, infl
