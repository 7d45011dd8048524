"""Breslow risk-set sums and the Cox coefficients' influence, for the adjusted risks."""

from __future__ import annotations

import numpy as np


def _breslow(t: np.ndarray, d: np.ndarray, x: np.ndarray, beta: np.ndarray) -> dict:
    """Risk-set sums at the event times and the cumulative Breslow quantities.

    Cumulative arrays carry a leading zero: index k counts the first k event times.
    """
    r = np.exp(x @ beta)
    u = np.unique(t[d > 0])
    n_event = np.bincount(np.searchsorted(u, t[d > 0]), minlength=len(u))
    order = np.argsort(t)
    first = np.searchsorted(t[order], u, side="left")       # risk set: t_j >= u_k
    s0 = np.cumsum(r[order][::-1])[::-1][first]
    xbar = np.cumsum((r[:, None] * x)[order][::-1], axis=0)[::-1][first] / s0[:, None]
    dl0 = n_event / s0                                       # Breslow increments
    def cum(a):
        return np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
    own = np.minimum(np.searchsorted(u, t), len(u) - 1)      # own event time's index
    return dict(r=r, u=u, s0_own=s0[own], xbar_own=xbar[own], l0=cum(dl0),
                hx=cum(xbar * dl0[:, None]), c1=cum(dl0 / s0),
                k_i=np.searchsorted(u, t, side="right"))


def coefficient_influence(t: np.ndarray, d: np.ndarray, x: np.ndarray, beta: np.ndarray,
                          vcov: np.ndarray) -> np.ndarray:
    """Breslow score residuals times the model variance: R's ``residuals(fit, "dfbeta")``."""
    x = x - x.mean(axis=0)
    b = _breslow(t, d, x, beta)
    k = b["k_i"]
    score = (d[:, None] * (x - b["xbar_own"])
             - b["r"][:, None] * (x * b["l0"][k][:, None] - b["hx"][k]))
    return score @ vcov
