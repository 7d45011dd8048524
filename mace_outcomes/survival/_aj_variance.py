"""Variances of the Aalen-Johansen estimate: Gray's delta method (cmprsk) and the
infinitesimal jackknife with delayed entry.

With delayed entry a row ``(start, stop]`` is at risk when ``start < t <= stop``. The
estimate depends on a row's weight only through its at-risk indicator and its event,
linearly, and
``1{start < t <= stop} = 1{t <= stop} - 1{t <= start}``: a row's influence is that of a
record leaving at its stop minus that of a censored record leaving at its start. Each
record's influence is the closed form of :func:`aalen_johansen_kernel` (common ``A(t)``
while at risk, ``B + C X(t)`` once gone), so the sum of squares over rows reduces to
cumulative sums binned at the entry and exit times -- no loop over rows or times.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aj_entry_ij_variance", "cuminc_delta_variance"]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)


def aj_entry_ij_variance(inv: np.ndarray, entry: np.ndarray, status: np.ndarray,
                         weights: np.ndarray, n_risk: np.ndarray, lam: np.ndarray,
                         gc: np.ndarray, surv: np.ndarray, cif: np.ndarray,
                         a_k: np.ndarray) -> np.ndarray:
    """Variance (m, K + 1) of (S, F_1, ..., F_K) with delayed entry.

    Parameters
    ----------
    inv : per row, the grid index of its stop time.
    entry : per row, the grid index of the last grid time at or before its start (-1
        when none: such an entry removes the row from no risk set).
    status, weights : per row; 0 censored, 1..K the cause.
    n_risk, lam, gc, surv, cif, a_k : the grid quantities of
        :func:`aalen_johansen_kernel` (entry-aware ``n_risk``; ``lam`` the all-cause
        hazard, ``gc`` the cumulative ``lam / (n (1 - lam))``, ``a_k`` the common
        influence of the rows still at risk).
    """
    m, n_causes = cif.shape
    w2 = weights * weights
    late = entry >= 0
    e0 = np.maximum(entry, 0)
    surv_m = np.r_[1.0, surv[:-1]]
    # exit record: m1 as in the kernel; entry record: a censoring at e0 (c0 = gc[e0])
    m1 = -gc[inv] + np.where(status > 0, _safe_div(np.ones(m), n_risk * (1.0 - lam))[inv],
                             0.0)
    c1 = -m1
    c0 = np.where(late, gc[e0], 0.0)
    dc = c1 - c0

    def gone(x):  # sum over rows that left at or before each time
        return np.cumsum(np.bincount(inv, weights=x, minlength=m))

    def at_risk(x):  # sum over rows with entry < j < exit (entered, not yet gone)
        return np.cumsum(np.bincount(entry + 1, weights=x, minlength=m)
                         - np.bincount(inv, weights=x, minlength=m))

    r_w2, r_c0, r_c02 = at_risk(w2), at_risk(w2 * c0), at_risk(w2 * c0 * c0)
    g_dc2 = gone(w2 * dc * dc)
    var = np.empty((m, n_causes + 1))
    var[:, 0] = surv ** 2 * (gc * gc * r_w2 - 2.0 * gc * r_c0 + r_c02 + g_dc2)
    for k in range(n_causes):  # a loop over causes; every term is vectorised
        f, a = cif[:, k], a_k[:, k]
        b1 = a_k[inv, k] + (status == k + 1) * surv_m[inv] / n_risk[inv] + m1 * cif[inv, k]
        b0 = np.where(late, a_k[e0, k] - gc[e0] * cif[e0, k], 0.0)
        db = b1 - b0
        left = gone(w2 * db * db) + 2.0 * f * gone(w2 * db * dc) + f * f * g_dc2
        # rows at risk: (A - b0 - c0 F)^2 expanded over the at-risk sums
        inside = (a * a * r_w2 - 2.0 * a * (at_risk(w2 * b0) + f * r_c0)
                  + at_risk(w2 * b0 * b0) + 2.0 * f * at_risk(w2 * b0 * c0) + f * f * r_c02)
        var[:, k + 1] = left + inside
    return var


def cuminc_delta_variance(n_risk: np.ndarray, n_event: np.ndarray, surv: np.ndarray,
                          cif: np.ndarray) -> np.ndarray:
    """Variance of the cumulative incidence as cmprsk's ``cuminc`` computes it.

    Parameters
    ----------
    n_risk : (m,) number at risk at each distinct time (unweighted counts).
    n_event : (m, K) events of each cause.
    surv, cif : the Aalen-Johansen estimates from :func:`aalen_johansen_kernel`.

    Returns
    -------
    (m, K) variances. As in cmprsk, the variance is updated at every event time but
    reported as a step function that moves only at event times of its own cause.

    Notes
    -----
    The delta-method variance of Gray's ``cinc`` routine (Gray 1988; cmprsk): with
    Kaplan-Meier S, ties corrected by (1 - (d - 1) / (n - 1)),
    v = v1 + F^2 v3 - 2 F v2 where v1, v2, v3 accumulate the squared, cross and
    squared-inverse-survival terms of both the cause and the competing causes.
    """
    m, n_causes = n_event.shape
    d_all = n_event.sum(axis=1)
    s_m = np.r_[1.0, surv[:-1]]
    inv_s = _safe_div(np.ones(m), surv)
    out = np.zeros((m, n_causes))
    for k in range(n_causes):
        nd1 = n_event[:, k]
        nd2 = d_all - nd1
        f = cif[:, k]

        def t6(nd):
            t5 = np.where(nd > 1, 1.0 - _safe_div(nd - 1.0, n_risk - 1.0), 1.0)
            return s_m * s_m * t5 * nd / (n_risk * n_risk)

        on2 = (nd2 > 0) & (surv > 0)
        t6b = np.where(on2, t6(nd2), 0.0)
        t4b = f * inv_s
        on1 = nd1 > 0
        t6a = np.where(on1, t6(nd1), 0.0)
        t4a = 1.0 + inv_s * f
        v1 = np.cumsum(t4b * t4b * t6b + t4a * t4a * t6a)
        v2 = np.cumsum(inv_s * t4b * t6b + inv_s * t4a * t6a)
        v3 = np.cumsum(inv_s * inv_s * (t6b + t6a))
        v = v1 + f * f * v3 - 2.0 * f * v2
        # carry the last value recorded at an event of this cause forward
        last = np.maximum.accumulate(np.where(on1, np.arange(m), -1))
        out[:, k] = np.where(last >= 0, v[np.maximum(last, 0)], 0.0)
    return out
