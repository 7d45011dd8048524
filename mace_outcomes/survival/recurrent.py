"""Mean cumulative number of recurrent events (mean frequency function), per group.

Rows are ``(start, stop]`` gaps between a patient's events (``time_to_event(...,
recurrent=True)``): the event column marks an event at ``stop``, ``id`` says whose row it
is. Without a terminal event the estimate is the Nelson-Aalen-type sum
``mu(t) = sum_{t_k <= t} dN(t_k) / Y(t_k)`` over all events of all patients, with the
Lawless & Nadeau (1995) robust variance clustered on the patient: R's
``survfit(Surv(start, stop, event) ~ arm, id = id)`` cumulative hazard and ``std.chaz``.
With ``terminal=`` (a 0/1 death column, 1 on the patient's last row) death stops the
count: Ghosh & Lin (2000) ``mu(t) = int_0^t S(u-) dR(u)``, ``S`` the Kaplan-Meier curve
of death and ``dR = dN / Y`` among those alive and followed.

References
----------
Nelson W (1988). Graphical analysis of system repair data. J Quality Technology 20:24-35.
Lawless JF, Nadeau C (1995). Some simple robust methods for the analysis of recurrent
events. Technometrics 37:158-168.
Ghosh D, Lin DY (2000). Nonparametric analysis of recurrent events and death.
Biometrics 56:554-562 (the estimator and its variance, eq. 2.2 and sec. 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from .._display import ResultMixin, frame_html, frame_text
from .._frames import row_ids, survival_arrays, warn_extreme_weights
from ..errors import InputError, Problem
from ._kernels import aeq_times, entry_risk, time_grid
from .kaplan_meier import group_codes

__all__ = ["mean_frequency", "MeanFrequency", "mean_frequency_curve"]


def _cluster_moments(leave: np.ndarray, cluster: np.ndarray, after: np.ndarray,
                     before: np.ndarray, m: int) -> np.ndarray:
    """``M(t_j) = sum_k V_k(t_j) V_k(t_j)^T`` on a grid of ``m`` times.

    Each record (a row's departure, or its entry) adds ``before`` (p values) to its
    cluster's state ``V_k`` until grid index ``leave`` and ``after`` from it on. ``M``
    changes only where a record leaves: the change is the cluster's outer product after
    minus before, found by running sums within the cluster (records sorted by cluster,
    then time) and binned on the grid, so there is no loop over clusters or times.
    """
    p = after.shape[1]
    _, cl = np.unique(cluster, return_inverse=True)
    v0 = np.zeros((int(cl.max()) + 1 if cl.size else 0, p))
    np.add.at(v0, cl, before)
    order = np.lexsort((leave, cl))
    cls, js = cl[order], leave[order]
    delta = (after - before)[order]
    first = np.r_[True, cls[1:] != cls[:-1]]
    run = np.cumsum(delta, axis=0) - delta  # exclusive running sum over all records
    run -= run[np.flatnonzero(first)][np.cumsum(first) - 1]  # restart at each cluster
    v_before = v0[cls] + run
    v_after = v_before + delta
    change = (v_after[:, :, None] * v_after[:, None, :]
              - v_before[:, :, None] * v_before[:, None, :]).reshape(-1, p * p)
    binned = np.stack([np.bincount(js, weights=change[:, c], minlength=m)
                       for c in range(p * p)], axis=1)  # p*p columns, not a loop over data
    return (v0.T @ v0).reshape(1, p * p) + np.cumsum(binned, axis=0)


def mean_frequency_curve(start: np.ndarray, stop: np.ndarray, event: np.ndarray,
                         cluster: np.ndarray, weights: np.ndarray | None = None,
                         terminal: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Kernel: the mean frequency function of one group and its robust standard error.

    On the distinct stop times ``t_k``: ``Y_k`` the (weighted) rows at risk
    (``start < t_k <= stop``), ``d_k`` the events, ``D_k`` the terminal events,
    ``S(t_k-) = prod_{l<k} (1 - D_l / Y_l)`` and ``mu(t) = sum_{t_k<=t} S(t_k-) d_k / Y_k``
    (``S = 1`` without ``terminal``: the Nelson-Aalen sum). Patient ``i``'s influence
    (Ghosh & Lin 2000) is ``psi_i(t) = int S/Y dM_i - mu(t) int dM^D_i / Y +
    int mu dM^D_i / Y`` with ``M_i``, ``M^D_i`` its weighted event and death martingales;
    the variance is ``sum_i psi_i(t)^2`` (Lawless & Nadeau 1995 without deaths; R's
    robust ``std.chaz``). Each part is ``b`` once a row has left and ``-G(t) w`` while
    it is at risk, so a cluster's ``psi`` is ``c(t) . V_k(t)`` for a state
    ``V_k = (B13, B2, R)`` that changes only at its rows' entries and departures
    (:func:`_cluster_moments`).
    """
    stop = np.asarray(stop, dtype=float)
    ev = np.asarray(event, dtype=float)
    w = np.ones_like(stop) if weights is None else np.asarray(weights, dtype=float)
    dead = np.zeros_like(stop) if terminal is None else np.asarray(terminal, dtype=float)
    utime, j = time_grid(stop)
    m = utime.size
    n_risk = (np.cumsum(np.bincount(j, weights=w, minlength=m)[::-1])[::-1]
              - entry_risk(utime, start, weights=w))
    d = np.bincount(j, weights=w * ev, minlength=m)
    dd = np.bincount(j, weights=w * dead, minlength=m)
    surv = np.cumprod(1.0 - dd / n_risk)
    s_minus = np.r_[1.0, surv[:-1]]
    mean = np.cumsum(s_minus * d / n_risk)
    n2 = n_risk * n_risk
    g13 = np.cumsum((s_minus * d + mean * dd) / n2)  # compensators of the two jump parts
    g2 = np.cumsum(dd / n2)
    # departures: b = w (jumps at stop - compensator to stop); entries: weight -w at start
    leave_after = np.column_stack([
        w * (ev * s_minus[j] / n_risk[j] + dead * mean[j] / n_risk[j] - g13[j]),
        w * (dead / n_risk[j] - g2[j]), np.zeros_like(w)])
    leave_before = np.column_stack([np.zeros_like(w), np.zeros_like(w), w])
    e = np.searchsorted(utime, start, side="right") - 1  # last grid time <= start
    late = np.flatnonzero(e >= 0)  # rows entering before the first time are at risk from 0
    we = w[late]
    enter_after = np.column_stack([we * g13[e[late]], we * g2[e[late]], np.zeros_like(we)])
    enter_before = np.column_stack([np.zeros_like(we), np.zeros_like(we), -we])
    moments = _cluster_moments(np.r_[j, e[late]], np.r_[cluster, np.asarray(cluster)[late]],
                               np.r_[leave_after, enter_after],
                               np.r_[leave_before, enter_before], m).reshape(m, 3, 3)
    coef = np.column_stack([np.ones(m), -mean, mean * g2 - g13])
    var = np.einsum("ti,tij,tj->t", coef, moments, coef)
    return {"time": utime, "n_risk": n_risk, "n_event": d, "mean": mean,
            "std_err": np.sqrt(np.maximum(var, 0.0))}


def _log_interval(mean, se, conf_level):
    """``mu exp(-+ z se / mu)``: positive limits for a positive count; 0 while mu is 0."""
    z = norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.exp(z * se / mean)
    pos = mean > 0
    return np.where(pos, mean / h, 0.0), np.where(pos, mean * h, 0.0)


@dataclass(frozen=True, eq=False)
class MeanFrequency(ResultMixin):
    """Mean cumulative number of events per patient, one curve per group.

    Attributes
    ----------
    table : group, time, mean, std_err, lower, upper, n_risk, n_event: a row per group
        and distinct stop time (events per patient; ``n_risk`` rows at risk, weighted
        when weights were given).
    estimator : "nelson-aalen" (no terminal event) or "ghosh-lin" (death stops the count).
    conf_level : of the log-transformed pointwise interval.
    weighted, group, groups, id, terminal, time_unit, n (patients per group), notes.
    """

    table: pd.DataFrame
    estimator: str
    conf_level: float
    weighted: bool
    group: str | None
    groups: list
    id: str | None
    terminal: str | None = None
    time_unit: str = "days"
    n: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """The curves at ``times`` (a step function: 0 before the first event time,
        carried after the last); ``n_risk`` is read at the next grid time (0 beyond)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for label in self.groups:
            c = self.table[self.table["group"] == label]
            grid = c["time"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            nxt = np.searchsorted(grid, t, side="left")
            frame = {"group": [label] * t.size, "time": t}
            for col in ("mean", "std_err", "lower", "upper"):
                frame[col] = np.where(idx < 0, 0.0, c[col].to_numpy()[np.maximum(idx, 0)])
            frame["n_risk"] = np.where(nxt < grid.size, c["n_risk"].to_numpy()[
                np.minimum(nxt, grid.size - 1)], 0.0)
            rows.append(pd.DataFrame(frame))
        return pd.concat(rows, ignore_index=True)

    def plot(self, **kwargs):
        """Draw the curves: delegates to :func:`mace_outcomes.plots.plot_mean_frequency`."""
        from ..plots import plot_mean_frequency  # lazy: plotting pulls in matplotlib

        return plot_mean_frequency(self, **kwargs)

    def _summary_frame(self) -> pd.DataFrame:
        rows = []
        for label in self.groups:
            c = self.table[self.table["group"] == label]
            last = c.iloc[-1]
            rows.append({"group": label, "patients": self.n.get(label, np.nan),
                         "events": c["n_event"].sum(), "last_time": last["time"],
                         "mean": last["mean"], "lower": last["lower"], "upper": last["upper"]})
        return pd.DataFrame(rows).set_index("group")

    def _footer(self) -> str:
        how = ("Ghosh-Lin (death as a terminal event)" if self.estimator == "ghosh-lin"
               else "Nelson-Aalen")
        w = "weighted; " if self.weighted else ""
        return (f"{w}{how}; robust variance clustered on {self.id or 'row'}; log "
                f"{self.conf_level:.0%} CI; time in {self.time_unit}")

    def __repr__(self) -> str:
        return frame_text("Mean cumulative number of events", self._summary_frame(),
                          self._footer())

    def _repr_html_(self) -> str:
        return frame_html("Mean cumulative number of events", self._summary_frame(),
                          self._footer())


def _terminal_values(df: pd.DataFrame, terminal: str, stop: np.ndarray,
                     cluster: np.ndarray) -> np.ndarray:
    """The 0/1 death column, checked to be 1 at most on each patient's last row."""
    if terminal not in df.columns:
        raise InputError(Problem(f"column not found (columns are {list(df.columns)})",
                                 terminal, source="data"))
    raw = pd.to_numeric(df[terminal], errors="coerce").to_numpy(dtype=float)
    problems = []
    bad = ~np.isin(raw, (0.0, 1.0))
    if bad.any():
        problems.append(Problem("terminal must be 0 (alive) or 1 (died at the row's stop)",
                                terminal, row_ids(df, bad), "data"))
    dead = np.where(bad, 0.0, raw)
    last = np.zeros(int(cluster.max()) + 1)
    np.maximum.at(last, cluster, stop)
    early = (dead == 1) & (stop < last[cluster])
    if early.any():
        problems.append(Problem("a terminal event before the patient's last row", terminal,
                                row_ids(df, early), "data",
                                fix="flag death on the last (start, stop] row only"))
    if problems:
        raise InputError(problems)
    return dead


def mean_frequency(df: pd.DataFrame, time: str = "stop", event: str = "event",
                   start: str | None = "start", id: str | None = "patient_id",
                   group: str | None = "arm", terminal: str | None = None,
                   weights: str | None = None, conf_level: float = 0.95) -> MeanFrequency:
    """Mean cumulative number of events per patient (mean frequency function), per group.

    Parameters
    ----------
    df : DataFrame of ``(start, stop]`` rows, one per gap between a patient's events
        (``time_to_event(cohort, endpoint, recurrent=True)``).
    time, event, start : the row's stop (days), 0/1 event at stop, and entry (None: every
        row starts at 0, one row per patient).
    id : patient column; the robust variance sums each patient's rows (None: each row).
    group : column of groups (None: one curve labelled "all").
    terminal : optional 0/1 death column (1 on the patient's last row): the Ghosh-Lin
        estimator, in which death stops the count, instead of Nelson-Aalen.
    weights : optional positive case weights (e.g. IPTW), constant within a patient.
    conf_level : level of the log-transformed pointwise interval.

    Returns
    -------
    MeanFrequency (``.table``: group, time, mean, std_err, lower, upper, n_risk, n_event).

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"patient_id": [1, 1, 2, 3], "arm": "a",
    ...                    "start": [0, 10, 0, 0], "stop": [10, 30, 20, 40],
    ...                    "event": [1, 1, 0, 1]})
    >>> mo.mean_frequency(df).at(35)["mean"].round(4).tolist()
    [0.8333]
    """
    arr = survival_arrays(df, time=time, event=event, group=group, weights=weights,
                          cluster=id, start=start)
    n_rows = arr.time.size
    cluster = arr.cluster if arr.cluster is not None else np.arange(n_rows)
    stop = arr.time
    begin = np.zeros(n_rows) if arr.start is None else arr.start
    stop, begin = aeq_times(stop, begin)
    dead = None if terminal is None else _terminal_values(df, terminal, stop, cluster)
    notes = []
    if arr.weights is not None:
        msg = warn_extreme_weights(df, arr.weights, [] if arr.group is None else [arr.group])
        notes += [msg] if msg else []
    if arr.group is None:
        labels, codes = ["all"], np.zeros(n_rows, dtype=np.int64)
    else:
        labels, codes = list(arr.group_levels), group_codes(arr)
    tables, counts = [], {}
    for g, label in enumerate(labels):  # a handful of groups; the kernel is vectorised
        rows = np.flatnonzero(codes == g)
        cur = mean_frequency_curve(begin[rows], stop[rows], arr.event[rows], cluster[rows],
                                   None if arr.weights is None else arr.weights[rows],
                                   None if dead is None else dead[rows])
        cur["lower"], cur["upper"] = _log_interval(cur["mean"], cur["std_err"], conf_level)
        frame = pd.DataFrame(cur)
        frame.insert(0, "group", label)
        tables.append(frame)
        counts[label] = int(np.unique(cluster[rows]).size)
    cols = ["group", "time", "mean", "std_err", "lower", "upper", "n_risk", "n_event"]
    table = pd.concat(tables, ignore_index=True)[cols]
    return MeanFrequency(table=table, estimator="nelson-aalen" if dead is None else "ghosh-lin",
                         conf_level=conf_level, weighted=arr.weights is not None, group=group,
                         groups=labels, id=id, terminal=terminal, n=counts, notes=notes)
