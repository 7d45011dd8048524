"""Restricted mean survival time (RMST): area under the Kaplan-Meier curve up to ``tau``.

References
----------
Royston P, Parmar MKB (2013). Restricted mean survival time: an alternative to the
hazard ratio for the design and analysis of randomized trials with a time-to-event
outcome. BMC Medical Research Methodology 13:152.
Uno H, Claggett B, Tian L, et al. (2014). Moving beyond the hazard ratio in
quantifying the between-group difference in survival analysis. Journal of Clinical
Oncology 32:2380-2385 (the difference / ratio contrasts of survRM2's ``rmst2``).
Kaplan EL, Meier P (1958) JASA 53:457-481; Greenwood M (1926) (the curve and the
variance ``sum_j A_j^2 d_j / (n_j (n_j - d_j))``, ``A_j`` the area from ``t_j`` to ``tau``).
Therneau TM, Grambsch PM (2000), sec. 7.2 (the infinitesimal-jackknife variance used
with weights or clusters; R's ``resid(survfit, type="sojourn")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from .._display import ResultMixin, frame_html, frame_text
from .._frames import no_other_keywords, renamed, survival_arrays
from ..errors import InputError, Problem
from ._kernels import km_surv, risk_table, rmst_area, rmst_ij_influence
from .kaplan_meier import _group_slices

__all__ = ["rmst", "RMSTResult", "rmst_kernel"]


def rmst_kernel(time: np.ndarray, event: np.ndarray, tau: float,
                weights: np.ndarray | None = None, robust: bool = False
                ) -> tuple[float, float, np.ndarray | None]:
    """RMST to ``tau`` for one group (subjects in any order).

    Returns ``(rmst, variance, influence)``. Without ``robust`` the variance is the
    Greenwood-type ``sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j))`` of survRM2 and R's
    ``survfit`` ``rmean`` (with weighted counts when weighted), and ``influence`` is None.
    With ``robust`` the variance is ``sum_i (w_i dRMST/dw_i)^2`` and ``influence`` holds
    ``w_i dRMST/dw_i`` per subject (to be summed within clusters by the caller).
    """
    tab = risk_table(time, event, weights)
    surv = km_surv(tab.n_risk, tab.n_event)
    value, tail = rmst_area(tab.time, surv, tau)
    if robust:
        w = np.ones(time.size) if weights is None else weights
        infl = w * rmst_ij_influence(tab, surv, event, tau)
        return value, float(np.sum(infl * infl)), infl
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((tab.n_event > 0) & (tab.n_risk > tab.n_event),
                     tab.n_event / (tab.n_risk * (tab.n_risk - tab.n_event)), 0.0)
    inside = tab.time <= tau
    return value, float(np.sum((tail * tail * g)[inside])), None


@dataclass(frozen=True, eq=False)
class RMSTResult(ResultMixin):
    """Restricted mean survival time per group and between-group contrasts.

    Attributes
    ----------
    table : DataFrame group, n, rmst, se, lower, upper (time units, as ``tau``).
    contrast : DataFrame indexed by contrast ("difference", "ratio", "rmtl_ratio"; the
        second group against the first; with more groups each against the first,
        labelled "difference (b vs a)"): estimate, se (on the scale tested: log for
        ratios), lower, upper, p.
    tau : truncation time.
    variance : "greenwood" or "robust".
    covariance : covariance matrix of the groups' RMSTs.
    notes : caveats (none are raised today; kept for the shared result contract).
    """

    table: pd.DataFrame
    contrast: pd.DataFrame
    tau: float
    conf_level: float
    variance: str
    weighted: bool
    groups: list
    covariance: np.ndarray
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    def _footer(self) -> str:
        c = self.contrast
        var = "robust (IJ)" if self.variance == "robust" else "Greenwood-type"
        text = f"tau = {self.tau:g} {self.time_unit}; {var} variance"
        if len(c):
            body = c.to_string(float_format=lambda v: f"{v:.4g}")
            text = f"{text}\n{body}"
        return text

    def __repr__(self) -> str:
        return frame_text("Restricted mean survival time", self.table.set_index("group"),
                          self._footer())

    def _repr_html_(self) -> str:
        html = frame_html("Restricted mean survival time", self.table.set_index("group"),
                          f"tau = {self.tau:g} {self.time_unit}")
        if len(self.contrast):
            html += frame_html("Contrasts", self.contrast)
        return html


def _contrasts(est, cov, tau, labels, z, conf_level) -> pd.DataFrame:
    rows = []
    names = []
    for b in range(1, len(est)):
        a = 0
        tag = "" if len(est) == 2 else f" ({labels[b]} vs {labels[a]})"
        va, vb, cab = cov[a, a], cov[b, b], cov[a, b]
        diff = est[b] - est[a]
        se_d = np.sqrt(va + vb - 2 * cab)
        # log ratio by the delta method
        se_r = np.sqrt(vb / est[b] ** 2 + va / est[a] ** 2 - 2 * cab / (est[a] * est[b]))
        la, lb = tau - est[a], tau - est[b]
        se_l = np.sqrt(vb / lb ** 2 + va / la ** 2 - 2 * cab / (la * lb))
        lr, ll = np.log(est[b] / est[a]), np.log(lb / la)
        with np.errstate(divide="ignore", invalid="ignore"):
            rows += [
                (diff, se_d, diff - z * se_d, diff + z * se_d, 2 * norm.sf(abs(diff / se_d))),
                (np.exp(lr), se_r, np.exp(lr - z * se_r), np.exp(lr + z * se_r),
                 2 * norm.sf(abs(lr / se_r))),
                (np.exp(ll), se_l, np.exp(ll - z * se_l), np.exp(ll + z * se_l),
                 2 * norm.sf(abs(ll / se_l))),
            ]
        names += [f"difference{tag}", f"ratio{tag}", f"rmtl_ratio{tag}"]
    frame = pd.DataFrame(rows, columns=["estimate", "se", "lower", "upper", "p"],
                         index=pd.Index(names, name="contrast"))
    return frame


def rmst(df: pd.DataFrame, time: str = "time", event: str = "event",
         group: str | None = "group", horizon: float | None = None,
         weights: str | pd.Series | np.ndarray | None = None,
         cluster: str | pd.Series | np.ndarray | None = None, conf_level: float = 0.95,
         robust: bool | None = None, **deprecated) -> RMSTResult:
    """Restricted mean survival time up to ``horizon`` (days) per group, with difference
    and ratios.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time, event : follow-up time and 0/1 event columns.
    group : group column (or None for one overall RMST). With two groups the contrasts
        are second level minus (over) first, as survRM2's ``rmst2`` arm 1 vs arm 0.
    horizon : truncation time (survRM2's ``tau``; ``tau=`` is accepted with a
        FutureWarning). Default, as survRM2: the smallest of the groups' largest
        observed times. A horizon beyond a group's last observed time is an error (the
        curve is not estimated there).
    weights : optional case weights (e.g. IPTW): weighted Kaplan-Meier curves; a column
        name or values aligned with the rows (e.g. ``ps.weights``).
    cluster : optional cluster ids for the robust variance (column name or aligned ids).
    conf_level : confidence level.
    robust : variance choice. Default: robust infinitesimal jackknife (Therneau &
        Grambsch 2000) whenever weights or a cluster are given; otherwise the
        Greenwood-type variance of survRM2 / R's ``survfit`` ``rmean`` (Royston &
        Parmar 2013; Uno et al. 2014). ``robust=False`` with weights reproduces R's
        ``print(survfit(..., weights=), rmean=tau)`` standard error.

    Returns
    -------
    RMSTResult

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [2, 4, 6, 8, 3, 5, 9, 10], "event": [1, 1, 0, 1, 1, 0, 1, 0],
    ...                    "arm": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> fit = mo.rmst(df, group="arm", horizon=8)
    >>> fit.table["rmst"].round(3).tolist()
    [5.5, 6.75]
    """
    tau = renamed(deprecated, "tau", "horizon", "rmst", horizon)
    no_other_keywords(deprecated, "rmst")
    arr = survival_arrays(df, time=time, event=event, group=group, weights=weights,
                          cluster=cluster, min_groups=1)
    if not (0 < conf_level < 1):
        raise InputError(Problem(f"conf_level must be between 0 and 1, not {conf_level!r}"))
    if robust is None:
        robust = weights is not None or cluster is not None
    slices = list(_group_slices(arr))
    largest = {label: float(arr.time[idx].max()) for label, idx in slices}
    limit = min(largest.values())
    if tau is None:
        tau = limit
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise InputError(Problem(f"horizon (RMST's tau) must be a positive time, not "
                                 f"{tau!r}", time))
    if tau > limit:
        late = [str(lab) for lab, v in largest.items() if v < tau]
        raise InputError(Problem(
            f"horizon (RMST's tau) = {tau:g} is beyond the last observed time in "
            f"group(s) {late} (smallest of the groups' largest times: {limit:g})", time,
            fix="choose a horizon no larger than that"))
    z = norm.ppf(1 - (1 - conf_level) / 2)
    labels, est, var, rows = [], [], [], []
    infl_cols = []
    n_cl = int(arr.cluster.max()) + 1 if arr.cluster is not None else arr.time.size
    for label, idx in slices:
        w = None if arr.weights is None else arr.weights[idx]
        value, v, infl = rmst_kernel(arr.time[idx], arr.event[idx], tau, w, robust)
        if robust:
            keys = arr.cluster[idx] if arr.cluster is not None else idx
            col = np.bincount(keys, weights=infl, minlength=n_cl)
            infl_cols.append(col)
            v = float(col @ col)
        labels.append(label)
        est.append(value)
        var.append(v)
        se = np.sqrt(v)
        rows.append({"group": label, "n": int(idx.size), "rmst": value, "se": se,
                     "lower": value - z * se, "upper": value + z * se})
    est_a = np.array(est)
    if robust:
        U = np.column_stack(infl_cols)
        cov = U.T @ U  # clusters may hold subjects of several groups
    else:
        cov = np.diag(var)
    contrast = (_contrasts(est_a, cov, tau, labels, z, conf_level) if len(labels) > 1
                else pd.DataFrame(columns=["estimate", "se", "lower", "upper", "p"]))
    return RMSTResult(table=pd.DataFrame(rows), contrast=contrast, tau=tau,
                      conf_level=conf_level, variance="robust" if robust else "greenwood",
                      weighted=weights is not None, groups=labels, covariance=cov)
