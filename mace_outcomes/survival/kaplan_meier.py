"""Kaplan-Meier survival curves with Greenwood or robust (infinitesimal-jackknife) variance.

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
JASA 53:457-481 (the product-limit estimate).
Greenwood M (1926). The natural duration of cancer. Reports on Public Health and
Medical Subjects 33:1-26 (its variance).
Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model.
Springer, sec. 7.2 (the infinitesimal-jackknife / robust variance used with weights
or clusters, as R's ``survfit(..., robust=TRUE)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from .._frames import (
    ColumnArg,
    SurvivalArrays,
    survival_arrays,
    warn_extreme_weights,
    warn_unclustered,
)
from ..errors import InputError, Problem
from ._kernels import (
    RiskTable,
    aeq_times,
    confidence_band,
    entry_risk,
    greenwood,
    ij_log_variance_binned,
    km_ij_log_variance,
    km_surv,
    survfit_quantile,
    time_grid,
)

__all__ = ["kaplan_meier", "KaplanMeier", "km_curves"]

CONF_TYPES = ("log-log", "log", "plain")


def km_curves(time: np.ndarray, event: np.ndarray, codes: np.ndarray | None = None,
              n_groups: int = 1, weights: np.ndarray | None = None,
              cluster: np.ndarray | None = None, robust: bool = False,
              conf_type: str = "log-log", conf_level: float = 0.95,
              start: np.ndarray | None = None) -> list[dict[str, np.ndarray]]:
    """Kernel: Kaplan-Meier curves of several groups at once (subjects in any order).

    ``codes`` (0 .. n_groups-1, or None for one group) says each subject's group.
    Subjects are binned to (group, distinct time) with one ``np.bincount`` per
    quantity: no sort for whole-day times and no loop over subjects or times.

    Returns, per group, a dict of arrays on the group's distinct times (censoring
    times included): ``time, n_risk, n_event, n_censor, surv, std_err, lower, upper``
    and ``se_log`` (standard error of ``log S``); with weights also the unweighted
    ``n_risk_unweighted, n_event_unweighted``.

    Variance: Greenwood (1926) ``var(log S) = sum d / (n (n - d))`` (Kaplan & Meier
    1958), or with ``robust=True`` the infinitesimal jackknife (Therneau & Grambsch
    2000; R's ``survfit(robust=TRUE)``), summed within ``cluster`` when given.
    ``std_err`` is the standard error of S.

    Delayed entry (``start``, rows ``(start, stop]`` with ``time`` the stop): the grid
    is the distinct stop times, as R's survfit, and
    ``n_risk(t) = #{stop >= t} - #{start >= t}``, the entries a second reverse
    cumulative sum (:func:`entry_risk`); start and stop are tied up to floating-point
    noise together (:func:`aeq_times`).
    """
    if start is not None:
        time, start = aeq_times(time, start)
    utime, inv = time_grid(time)
    m = utime.size
    k = int(n_groups)
    offset = None if codes is None else np.asarray(codes, dtype=np.int64) * m
    key = inv if codes is None else offset + inv
    ev = np.asarray(event, dtype=float)

    def bins(values=None):
        return np.bincount(key, weights=values, minlength=k * m).reshape(k, m)

    raw_event, raw_all = bins(ev), bins()
    if weights is None:
        n_event, n_censor = raw_event, raw_all - raw_event
    else:
        w = np.asarray(weights, dtype=float)
        n_event, n_censor = bins(w * ev), bins(w * (1.0 - ev))
        if robust and cluster is None:
            w2 = w * w
            w2e, w2c = bins(w2 * ev), bins(w2 * (1.0 - ev))
    if weights is None and robust and cluster is None:
        w2e, w2c = raw_event, raw_all - raw_event
    n_risk = np.cumsum((n_event + n_censor)[:, ::-1], axis=1)[:, ::-1]
    raw_risk = np.cumsum(raw_all[:, ::-1], axis=1)[:, ::-1]
    entry = None
    if start is not None:
        raw_risk = raw_risk - entry_risk(utime, start, offset, None, k * m)
        n_risk = (raw_risk if weights is None
                  else n_risk - entry_risk(utime, start, offset, weights, k * m))
        entry = np.searchsorted(utime, start, side="right") - 1
    out = []
    for g in range(k):
        keep = raw_all[g] > 0
        tab = RiskTable(utime[keep], n_risk[g, keep], n_event[g, keep], n_censor[g, keep],
                        np.zeros(0, dtype=np.int64))
        surv = km_surv(tab.n_risk, tab.n_event)
        if robust:
            if cluster is None and entry is None:
                var_log = ij_log_variance_binned(tab.n_risk, tab.n_event, w2e[g, keep],
                                                 w2c[g, keep])
            else:
                members = np.arange(inv.size) if codes is None else np.flatnonzero(codes == g)
                remap = np.cumsum(keep) - 1
                tab = tab._replace(inverse=remap[inv[members]])
                # a start before the group's first kept time is an entry at -1
                var_log = km_ij_log_variance(
                    tab, ev[members], None if weights is None else w[members],
                    None if cluster is None else np.asarray(cluster)[members],
                    None if entry is None else
                    np.where(entry[members] >= 0, remap[np.maximum(entry[members], 0)], -1))
            with np.errstate(invalid="ignore"):
                se_log = np.sqrt(np.maximum(var_log, 0.0))
            # Once S is 0 no perturbation of the weights moves it: R reports se 0 there.
            se_log = np.where(surv > 0, se_log, 0.0)
            std_err = surv * se_log
        else:
            se_log = np.sqrt(greenwood(tab.n_risk, tab.n_event))
            with np.errstate(invalid="ignore"):
                std_err = surv * se_log  # NaN where S = 0 (infinite Greenwood sum), as R
        lower, upper = confidence_band(surv, se_log, conf_type, conf_level)
        cur = {"time": tab.time, "n_risk": tab.n_risk, "n_event": tab.n_event,
               "n_censor": tab.n_censor, "surv": surv, "std_err": std_err,
               "lower": lower, "upper": upper, "se_log": se_log}
        if weights is not None:
            cur["n_risk_unweighted"] = raw_risk[g, keep]
            cur["n_event_unweighted"] = raw_event[g, keep]
        out.append(cur)
    return out


def _check_conf(conf_type: str, conf_level: float) -> None:
    problems = []
    if conf_type not in CONF_TYPES:
        problems.append(Problem(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}"))
    if not (0 < conf_level < 1):
        problems.append(Problem(f"conf_level must be between 0 and 1, not {conf_level!r}"))
    if problems:
        raise InputError(problems)


def _group_slices(arr: SurvivalArrays):
    """Yield (label, row positions) per group; kernels bin by time, so no sort is needed."""
    if arr.group is None:
        yield "all", np.arange(arr.time.size)
        return
    codes = group_codes(arr)
    for c, level in enumerate(arr.group_levels):
        yield level, np.flatnonzero(codes == c)


def group_codes(arr: SurvivalArrays) -> np.ndarray:
    """Integer code (position in ``arr.group_levels``) of each subject's group."""
    return pd.Categorical(arr.group, categories=arr.group_levels).codes.astype(np.int64)


@dataclass(frozen=True, eq=False)
class KaplanMeier(ResultMixin):
    """Kaplan-Meier curves, one per group.

    Attributes
    ----------
    table : DataFrame with a row per group and distinct time (censoring times
        included): group, time, n_risk, n_event, n_censor, surv, std_err (of S),
        lower, upper; weighted fits add n_risk_unweighted, n_event_unweighted.
    conf_type, conf_level : the pointwise interval.
    weighted : whether case weights were used.
    variance : "greenwood" or "robust" (infinitesimal jackknife).
    group : the grouping column, or None (the single group is labelled "all").
    groups : group labels in sorted order.
    notes : caveats recorded while fitting (e.g. extreme weights).
    """

    table: pd.DataFrame
    conf_type: str
    conf_level: float
    weighted: bool
    variance: str
    group: str | None
    groups: list
    cluster: str | None = None
    time_unit: str = "days"
    n: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # -- views -----------------------------------------------------------------------
    def _curve(self, label) -> pd.DataFrame:
        return self.table[self.table["group"] == label]

    def at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """Survival at given times (R's ``summary(fit, times=, extend=TRUE)``).

        ``n_risk`` counts those still followed at each time (time >= t). Before the
        first time the curve is 1 with standard error 0; after the last it is carried.
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for label in self.groups:
            c = self._curve(label)
            grid = c["time"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            safe = np.maximum(idx, 0)
            before = idx < 0
            nxt = np.searchsorted(grid, t, side="left")
            inside = nxt < grid.size
            frame = {"group": [label] * t.size, "time": t}
            for col in ("surv", "lower", "upper"):
                frame[col] = np.where(before, 1.0, c[col].to_numpy()[safe])
            frame["std_err"] = np.where(before, 0.0, c["std_err"].to_numpy()[safe])
            cols = ["n_risk"] + (["n_risk_unweighted"] if self.weighted else [])
            for col in cols:
                v = c[col].to_numpy()
                frame[col] = np.where(inside, v[np.minimum(nxt, grid.size - 1)], 0.0)
            rows.append(pd.DataFrame(frame))
        order = ["group", "time", "surv", "std_err", "lower", "upper", "n_risk"]
        order += ["n_risk_unweighted"] if self.weighted else []
        return pd.concat(rows, ignore_index=True)[order]

    def risk_table(self, times: float | Sequence[float]) -> pd.DataFrame:
        """Numbers at risk at ``times`` with events and censorings accumulated up to them."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for label in self.groups:
            c = self._curve(label)
            grid = c["time"].to_numpy()
            nxt = np.searchsorted(grid, t, side="left")
            inside = nxt < grid.size
            upto = np.searchsorted(grid, t, side="right")
            cum_e = np.r_[0.0, np.cumsum(c["n_event"].to_numpy())][upto]
            cum_c = np.r_[0.0, np.cumsum(c["n_censor"].to_numpy())][upto]
            frame = {"group": [label] * t.size, "time": t,
                     "n_risk": np.where(inside, c["n_risk"].to_numpy()[
                         np.minimum(nxt, grid.size - 1)], 0.0),
                     "cum_events": cum_e, "cum_censored": cum_c}
            if self.weighted:
                v = c["n_risk_unweighted"].to_numpy()
                frame["n_risk_unweighted"] = np.where(inside, v[np.minimum(nxt, grid.size - 1)],
                                                      0.0)
            rows.append(pd.DataFrame(frame))
        return pd.concat(rows, ignore_index=True)

    def quantile(self, probs: float | Sequence[float] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Survival-time quantiles with limits read off the confidence curves (as R).

        The ``p`` quantile is the first time the curve falls to ``1 - p``; its lower
        (upper) limit is where the lower (upper) confidence curve does. Brookmeyer &
        Crowley (1982).
        """
        p = np.atleast_1d(np.asarray(probs, dtype=float))
        rows = []
        for label in self.groups:
            c = self._curve(label)
            t = c["time"].to_numpy()
            rows.append(pd.DataFrame({
                "group": [label] * p.size, "prob": p,
                "time": survfit_quantile(t, c["surv"].to_numpy(), p),
                "lower": survfit_quantile(t, c["lower"].to_numpy(), p),
                "upper": survfit_quantile(t, c["upper"].to_numpy(), p)}))
        return pd.concat(rows, ignore_index=True)

    def median(self) -> pd.DataFrame:
        """Median survival per group with its confidence interval (NaN if not reached)."""
        q = self.quantile([0.5]).rename(columns={"time": "median"})
        return q[["group", "median", "lower", "upper"]]

    def plot(self, **kwargs):
        """Draw the curves: delegates to :func:`mace_outcomes.plots.plot_km`."""
        from ..plots import plot_km  # lazy: plotting pulls in matplotlib

        return plot_km(self, **kwargs)

    # -- display ---------------------------------------------------------------------
    def _summary_frame(self) -> pd.DataFrame:
        med = self.median().set_index("group")
        rows = []
        for label in self.groups:
            c = self._curve(label)
            rows.append({"group": label, "n": self.n.get(label, np.nan),
                         "events": c["n_event"].sum(), "median": med.loc[label, "median"],
                         "lower": med.loc[label, "lower"], "upper": med.loc[label, "upper"]})
        return pd.DataFrame(rows).set_index("group")

    def _footer(self) -> str:
        var = ("robust (infinitesimal jackknife)" if self.variance == "robust"
               else "Greenwood")
        w = "weighted; " if self.weighted else ""
        return (f"{w}{var} variance; {self.conf_type} {self.conf_level:.0%} CI; "
                f"time in {self.time_unit}")

    def __repr__(self) -> str:
        return frame_text("Kaplan-Meier survival", self._summary_frame(), self._footer())

    def _repr_html_(self) -> str:
        return frame_html("Kaplan-Meier survival", self._summary_frame(), self._footer())


def kaplan_meier(df: pd.DataFrame, time: str = "time", event: str = "event",
                 group: str | None = None, weights: ColumnArg = None,
                 cluster: ColumnArg = None, conf_type: str = "log-log",
                 conf_level: float = 0.95, robust: bool | None = None, *,
                 start: str | None = None) -> KaplanMeier:
    """Kaplan-Meier (1958) product-limit survival curves, per group.

    Parameters
    ----------
    df : DataFrame, one row per subject (or lesion).
    time, event : follow-up time (days) and 0/1 event indicator columns.
    group : optional column of group labels; one curve per label (sorted).
    weights : optional column of positive case weights (e.g. IPTW). The curve is
        the weighted product-limit estimate; ``n_risk`` is the weighted count and
        the unweighted count is reported beside it.
    cluster : optional column of cluster ids (e.g. patient for lesion-level data).
    conf_type : "log-log" (default), "log" or "plain" pointwise intervals.
    conf_level : confidence level.
    robust : variance choice. Default: the robust infinitesimal-jackknife variance
        (Therneau & Grambsch 2000; R's ``survfit(robust=TRUE)``) whenever weights or
        a cluster are given, else Greenwood (1926).
    start : column of entry times: rows ``(start, stop]`` with ``time`` the stop, as R's
        ``Surv(start, stop, event)`` (delayed entry / left truncation, e.g. patients who
        join a registry after the index procedure, or an age time scale). A row is at
        risk at ``t`` when ``start < t <= stop``; the curve is the product-limit
        estimate over those risk sets (conditional on being event-free at entry).

    Returns
    -------
    KaplanMeier

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [5, 8, 8, 12, 20, 22], "event": [1, 1, 0, 1, 0, 1],
    ...                    "arm": ["a", "a", "b", "b", "a", "b"]})
    >>> km = mo.kaplan_meier(df, group="arm")
    >>> km.at(10)[["group", "surv"]].round(3).values.tolist()
    [['a', 0.333], ['b', 1.0]]
    """
    from ..scale import is_dask  # a Dask frame: the same fit from partition sums
    if is_dask(df):
        from ..scale.survival import kaplan_meier as on_dask
        return on_dask(df, time, event, group, weights, cluster, conf_type, conf_level,
                       robust, start=start)
    _check_conf(conf_type, conf_level)
    arr = survival_arrays(df, time=time, event=event, group=group, weights=weights,
                          cluster=cluster, start=start)
    warn_unclustered(df, cluster, "kaplan_meier")
    notes = []
    if arr.weights is not None:
        msg = warn_extreme_weights(df, arr.weights, [] if arr.group is None else [arr.group])
        notes += [msg] if msg else []
    if robust is None:
        robust = weights is not None or cluster is not None
    if arr.group is None:
        labels, codes = ["all"], None
    else:
        labels, codes = list(arr.group_levels), group_codes(arr)
    curves = km_curves(arr.time, arr.event, codes, len(labels), arr.weights, arr.cluster,
                       robust, conf_type, conf_level, start=arr.start)
    tables = []
    counts = {}
    for label, cur in zip(labels, curves, strict=True):
        cur.pop("se_log")
        frame = pd.DataFrame(cur)
        frame.insert(0, "group", label)
        tables.append(frame)
    sizes = (np.bincount(codes, minlength=len(labels)) if codes is not None
             else [arr.time.size])
    counts = {label: int(c) for label, c in zip(labels, sizes, strict=True)}
    table = pd.concat(tables, ignore_index=True)
    cols = ["group", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower",
            "upper"]
    if weights is not None:
        cols += ["n_risk_unweighted", "n_event_unweighted"]
    return KaplanMeier(table=table[cols], conf_type=conf_type, conf_level=conf_level,
                       weighted=weights is not None,
                       variance="robust" if robust else "greenwood", group=group,
                       groups=list(arr.group_levels) if group is not None else ["all"],
                       cluster=cluster, n=counts, notes=notes)
