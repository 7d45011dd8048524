"""Batched survival kernels for a two-arm comparison: many weight vectors at once.

The bootstrap (and the simulation study) needs the IPTW Cox hazard ratio, the weighted
Kaplan-Meier risk at a horizon and the RMST difference for thousands of weight vectors
on the same data. With a single binary covariate every quantity reduces to per-arm
weighted sums over the distinct event times, so all replicates are fitted together:
arrays are (replicates x event times), there is no loop over subjects or times, and
Newton's method updates every replicate's coefficient in one vectorised step.

Ties follow Efron (1977) exactly as R's ``coxph`` does with case weights: at an event time
with ``d`` tied events (counted with their frequency), the ``k``-th of them sees the risk
set minus ``k/d`` of the tied events' weighted risk, and each contributes the mean weight
of the tied events. Frequency weights (bootstrap counts) multiplied into the case weights
reproduce the fit on the duplicated rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..survival._kernels import snap_sorted


@dataclass(frozen=True)
class EventTimeLayout:
    """Sorting of one data set, shared by every replicate."""

    order: np.ndarray      # row order by time
    starts: np.ndarray     # start of each distinct time in the sorted rows
    utimes: np.ndarray     # distinct times (all rows)
    is_event_time: np.ndarray  # distinct times with at least one event in the data
    z_sorted: np.ndarray
    e_sorted: np.ndarray
    presorted: bool = False  # rows already in time order: no replicate needs a gather


def layout(time: np.ndarray, event: np.ndarray, z: np.ndarray) -> EventTimeLayout:
    """Sort once; every replicate reuses the groups of tied times."""
    presorted = bool(np.all(time[1:] >= time[:-1]))
    order = np.arange(len(time)) if presorted else np.argsort(time, kind="stable")
    ts = snap_sorted(time[order])  # noise ties are one time, as R's aeqSurv
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    utimes = ts[starts]
    ev = np.add.reduceat(event[order].astype(float), starts) > 0
    return EventTimeLayout(order, starts, utimes, ev, z[order].astype(bool),
                           event[order].astype(bool), presorted)


def arm_sums(lay: EventTimeLayout, W: np.ndarray, F: np.ndarray) -> dict[str, np.ndarray]:
    """Per-arm weighted risk sets and event sums at the distinct event times.

    ``W`` (B x n) are case weights, ``F`` (B x n) frequencies (counts of the tied events
    for Efron's rule). Returned arrays are (B x T) over the event times ``times``.
    """
    Ws, Fs = (W, F) if lay.presorted else (W[:, lay.order], F[:, lay.order])
    z, e = lay.z_sorted, lay.e_sorted
    out = {}
    for name, arm in (("1", z), ("0", ~z)):
        at = np.add.reduceat(Ws * arm, lay.starts, axis=1)
        risk = np.cumsum(at[:, ::-1], axis=1)[:, ::-1]
        out["R" + name] = risk[:, lay.is_event_time]
        out["D" + name] = np.add.reduceat(Ws * (arm & e), lay.starts,
                                          axis=1)[:, lay.is_event_time]
        out["N" + name] = np.add.reduceat(Fs * (arm & e), lay.starts,
                                          axis=1)[:, lay.is_event_time]
    out["times"] = lay.utimes[lay.is_event_time]
    return out


def cox_binary(s: dict[str, np.ndarray], max_iter: int = 30, tol: float = 1e-9,
               max_coef: float = 20.0) -> dict[str, np.ndarray]:
    """Efron-tie weighted Cox fit of ``h(t) = h0(t) exp(b z)`` for every replicate.

    Returns coef (B,), information (B,) (the weighted model-based information) and
    converged (B,). A replicate with no events in one arm has no finite maximum
    (monotone likelihood): its coefficient is returned as -inf / +inf.
    """
    R0, R1, D0, D1 = s["R0"], s["R1"], s["D0"], s["D1"]
    d = s["N0"] + s["N1"]
    B = R0.shape[0]
    K = int(d.max()) if d.size else 0
    has = d > 0
    dd = np.where(has, d, 1.0)
    meanw = np.where(has, (D0 + D1) / dd, 0.0)
    # c[b, j, k] = k / d_j for k < d_j; masked beyond.
    k = np.arange(max(K, 1))
    c = k[None, None, :] / dd[..., None]
    mask = (k[None, None, :] < d[..., None])

    def parts(b):
        eb = np.exp(b)[:, None, None]
        s1 = eb * (R1[..., None] - c * D1[..., None])
        s0 = (R0[..., None] - c * D0[..., None]) + s1
        s0 = np.where(mask, s0, 1.0)
        frac = np.where(mask, s1 / s0, 0.0)
        ll = (b[:, None] * D1).sum(1) - (meanw * np.where(mask, np.log(s0), 0.0).sum(2)).sum(1)
        score = D1.sum(1) - (meanw * frac.sum(2)).sum(1)
        info = (meanw * (frac - frac ** 2).sum(2)).sum(1)
        return ll, score, info

    b = np.zeros(B)
    ll, score, info = parts(b)
    converged = np.zeros(B, dtype=bool)
    for _ in range(max_iter):
        step = np.where(info > 0, score / np.where(info > 0, info, 1.0), np.sign(score))
        step = np.clip(step, -2.0, 2.0)
        new_b = np.clip(b + step, -max_coef, max_coef)
        new_ll, new_score, new_info = parts(new_b)
        # Step halving keeps the concave log-likelihood increasing.
        for _ in range(10):
            worse = new_ll < ll - 1e-10 * (1 + np.abs(ll))
            if not worse.any():
                break
            new_b = np.where(worse, (b + new_b) / 2, new_b)
            new_ll, new_score, new_info = parts(new_b)
        # converged replicates stay put, so a replicate's estimate does not depend on
        # which others share its block
        new_b = np.where(converged, b, new_b)
        done = np.abs(new_b - b) < tol
        b = new_b
        ll, score, info = (np.where(converged, old, new) for old, new in
                           ((ll, new_ll), (score, new_score), (info, new_info)))
        converged |= done
        if converged.all():
            break
    # Monotone likelihood: an arm without events drives b to -inf (treated) / +inf.
    no1 = (D1.sum(1) == 0) & (D0.sum(1) > 0)
    no0 = (D0.sum(1) == 0) & (D1.sum(1) > 0)
    b = np.where(no1, -np.inf, np.where(no0, np.inf, b))
    b = np.where((D1.sum(1) == 0) & (D0.sum(1) == 0), np.nan, b)
    return {"coef": b, "information": info, "converged": converged | no1 | no0}


def km_binary(s: dict[str, np.ndarray], horizon: float | None = None,
              tau: float | None = None) -> dict[str, np.ndarray]:
    """Weighted Kaplan-Meier survival per arm at ``horizon`` and RMST up to ``tau``.

    ``S_k(t) = prod_{t_j <= t} (1 - D_kj / R_kj)`` over the event times; RMST is the area
    under the step function from 0 to ``tau``. Returns surv1, surv0, rmst1, rmst0 (B,).
    """
    times = s["times"]
    out = {}
    for a in ("1", "0"):
        R, D = s["R" + a], s["D" + a]
        with np.errstate(invalid="ignore", divide="ignore"):
            haz = np.where(R > 0, D / np.where(R > 0, R, 1.0), 0.0)
        surv = np.cumprod(1.0 - haz, axis=1)
        if horizon is not None:
            j = np.searchsorted(times, horizon, side="right")
            out["surv" + a] = surv[:, j - 1] if j > 0 else np.ones(R.shape[0])
        if tau is not None:
            j = np.searchsorted(times, tau, side="right")
            t = np.r_[0.0, times[:j], tau]
            left = np.column_stack([np.ones(R.shape[0]), surv[:, :j]])
            out["rmst" + a] = (left * np.diff(t)[None, :]).sum(1)
    return out
