"""Log-rank family of tests: G-rho (Harrington & Fleming 1982) and the IPTW log-rank.

References
----------
Harrington DP, Fleming TR (1982). A class of rank test procedures for censored
survival data. Biometrika 69:553-566 (the G-rho family: rho = 0 is the log-rank
test, rho = 1 the Peto & Peto / Prentice modification of the Gehan-Wilcoxon test,
weighting each event time by the left-continuous pooled Kaplan-Meier S(t-)^rho).
Xie J, Liu C (2005). Adjusted Kaplan-Meier estimator and log-rank test with
inverse probability of treatment weighting for survival data. Statistics in
Medicine 24:3089-3110 (the weighted test, computed as RISCA's ``ipw.log.rank``).
Kaplan EL, Meier P (1958) JASA 53:457-481 (the pooled curve used by rho > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from .._display import frame_html, frame_text
from .._frames import survival_arrays
from ..errors import InputError, Problem
from ._kernels import time_grid
from .kaplan_meier import group_codes

__all__ = ["logrank", "LogrankResult", "grho_kernel", "iptw_logrank_kernel",
           "robust_score_kernel"]


def _by_time_group(inverse: np.ndarray, g: np.ndarray, k: int, values: np.ndarray,
                   n_times: int) -> np.ndarray:
    """Sum ``values`` into an (n_times, k) array indexed by (distinct time, group)."""
    return np.bincount(inverse * k + g, weights=values, minlength=n_times * k).reshape(
        n_times, k)


def _rev_cumsum0(x: np.ndarray) -> np.ndarray:
    return np.cumsum(x[::-1], axis=0)[::-1]


def grho_kernel(time: np.ndarray, event: np.ndarray, g: np.ndarray, k: int,
                rho: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """G-rho observed, expected and covariance for one stratum (subjects in any order).

    At each event time ``t`` with ``d`` events among ``n`` at risk (``n_g`` in group g)
    and weight ``u = S(t-)^rho`` (pooled left-continuous Kaplan-Meier):
    ``O_g += u d_g``, ``E_g += u d n_g / n`` and
    ``V_gh += u^2 d (n - d) / (n - 1) * (n_g / n) (1{g=h} - n_h / n)``
    (Harrington & Fleming 1982; R's ``survdiff``).
    """
    utime, inverse = time_grid(time)
    n_times = utime.size
    ev = np.asarray(event, dtype=float)
    D = _by_time_group(inverse, g, k, ev, n_times)
    N = _rev_cumsum0(_by_time_group(inverse, g, k, np.ones_like(ev), n_times))
    d, n = D.sum(axis=1), N.sum(axis=1)
    if rho != 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(d > 0, 1.0 - d / n, 1.0)
        s_left = np.r_[1.0, np.cumprod(step)[:-1]]
        u = s_left ** rho
    else:
        u = np.ones(n_times)
    keep = d > 0
    D, N, d, n, u = D[keep], N[keep], d[keep], n[keep], u[keep]
    obs = u @ D
    share = N / n[:, None]
    exp = (u * d) @ share
    with np.errstate(divide="ignore", invalid="ignore"):
        kt = np.where(n > 1, u * u * d * (n - d) / (n - 1), 0.0)
    var = np.diag(kt @ share) - (share * kt[:, None]).T @ share
    return obs, exp, var


def iptw_logrank_kernel(time: np.ndarray, event: np.ndarray, g: np.ndarray,
                        weights: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Xie & Liu (2005) IPTW log-rank score and variance for one stratum (any order).

    With weighted numbers at risk ``Y_g`` and of events ``d^w_g`` (group 1 = the second
    level), the score is ``U = sum_t [d^w_1 - Y_1 d^w / Y]`` and its variance
    ``sum_t d (n - d) / (n (n - 1)) * (Y_0^2 Q_1 + Y_1^2 Q_0) / Y^2``, where ``Q_g`` sums the
    squared weights at risk and ``d, n`` are the unweighted counts. With all weights 1
    this is the ordinary log-rank score and variance.

    Returns ``(U, var, observed, expected)`` (the last two weighted, per group).
    """
    utime, inverse = time_grid(time)
    n_times = utime.size
    ev = np.asarray(event, dtype=float)
    w = np.asarray(weights, dtype=float)
    ones = np.ones_like(ev)
    D = _by_time_group(inverse, g, 2, ev, n_times)
    N = _rev_cumsum0(_by_time_group(inverse, g, 2, ones, n_times))
    Dw = _by_time_group(inverse, g, 2, w * ev, n_times)
    Y = _rev_cumsum0(_by_time_group(inverse, g, 2, w, n_times))
    Q = _rev_cumsum0(_by_time_group(inverse, g, 2, w * w, n_times))
    d, n = D.sum(axis=1), N.sum(axis=1)
    keep = d > 0
    D, N, Dw, Y, Q, d, n = D[keep], N[keep], Dw[keep], Y[keep], Q[keep], d[keep], n[keep]
    dw, y = Dw.sum(axis=1), Y.sum(axis=1)
    expected = (dw / y)[:, None] * Y
    score = float(np.sum(Dw[:, 1] - expected[:, 1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 1, d * (n - d) / (n * (n - 1)), 0.0)
    var = float(np.sum(rate * (Y[:, 0] ** 2 * Q[:, 1] + Y[:, 1] ** 2 * Q[:, 0]) / y ** 2))
    return score, var, Dw.sum(axis=0), expected.sum(axis=0)


def robust_score_kernel(time: np.ndarray, event: np.ndarray, z: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Log-rank score ``U`` and each subject's weighted score residual (one stratum).

    ``U = sum_j (d1_j - d_j Y1_j / Y_j)``, the Cox score at beta = 0 for a 0/1 ``z``
    (Breslow ties). Subject i's residual is
    ``delta_i (z_i - zbar(T_i)) - sum_{t_j <= T_i} (z_i - zbar_j) d_j / Y_j``; summed
    within clusters and squared, they give the robust variance of ``U`` (Lin & Wei
    1989), i.e. R's robust score test of ``coxph(..., cluster=)``.
    """
    ev = np.asarray(event, dtype=float)
    zz = np.asarray(z, dtype=float)
    w = np.ones_like(ev) if weights is None else np.asarray(weights, dtype=float)
    utime, inv = time_grid(time)
    m = utime.size
    d = np.bincount(inv, weights=w * ev, minlength=m)
    y = _rev_cumsum0(np.bincount(inv, weights=w, minlength=m))
    y1 = _rev_cumsum0(np.bincount(inv, weights=w * zz, minlength=m))
    zbar = y1 / y  # y > 0 at every time some subject has
    hazard = d / y
    a, b = np.cumsum(hazard), np.cumsum(zbar * hazard)
    resid = ev * (zz - zbar[inv]) - (zz * a[inv] - b[inv])
    return float(np.sum(w * resid)), w * resid


@dataclass(frozen=True)
class LogrankResult:
    """Result of :func:`logrank`.

    Attributes
    ----------
    statistic : chi-square statistic (``z**2`` for the weighted test).
    df : degrees of freedom.
    p_value : upper-tail chi-square probability.
    method : description of the test.
    weighted : whether IPTW weights were used.
    table : DataFrame group, n, observed, expected (weighted sums when rho > 0 or weighted).
    z : signed standard normal statistic for two groups (second level minus expected), else None.
    rho : G-rho parameter.
    strata : stratifying column or None.
    variance : covariance matrix of O - E (over groups), summed over strata.
    """

    statistic: float
    df: int
    p_value: float
    method: str
    weighted: bool
    table: pd.DataFrame
    z: float | None
    rho: float
    strata: str | None
    variance: np.ndarray

    @property
    def p(self) -> float:
        return self.p_value

    def _footer(self) -> str:
        z = f", z = {self.z:.4g}" if self.z is not None else ""
        st = f"; stratified by {self.strata}" if self.strata else ""
        return (f"Chisq = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g}{z}"
                f"{st}")

    def __repr__(self) -> str:
        return frame_text(self.method, self.table.set_index("group"), self._footer())

    def _repr_html_(self) -> str:
        return frame_html(self.method, self.table.set_index("group"), self._footer())


def _chisq(obs: np.ndarray, exp: np.ndarray, var: np.ndarray) -> tuple[float, int]:
    # As R's survdiff: drop groups with nothing expected, then the first remaining.
    use = np.flatnonzero(exp > 0)
    if use.size < 2:
        return 0.0, 0
    keep = use[1:]
    diff = (obs - exp)[keep]
    vv = var[np.ix_(keep, keep)]
    try:
        sol = np.linalg.solve(vv, diff)
    except np.linalg.LinAlgError:
        sol = np.linalg.pinv(vv) @ diff
    return float(diff @ sol), int(keep.size)


def logrank(df: pd.DataFrame, time: str = "time", event: str = "event",
            group: str = "group", weights: str | None = None, rho: float = 0,
            strata: str | None = None, cluster: str | None = None) -> LogrankResult:
    """Compare survival between groups: G-rho log-rank family or the IPTW log-rank test.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time, event : follow-up time and 0/1 event indicator columns.
    group : column with two or more group labels.
    weights : optional column of IPTW weights. Gives the Xie & Liu (2005) adjusted
        log-rank test (two groups, rho = 0); with all weights 1 it is the ordinary
        log-rank test. Stratified, the scores and variances are summed over strata.
    rho : G-rho parameter (Harrington & Fleming 1982): 0 log-rank, 1 Peto-Peto, weighting
        each event time by ``S(t-)^rho`` of the pooled Kaplan-Meier curve (as R's survdiff).
    strata : optional column; observed, expected and variance are summed over strata.
    cluster : optional column of cluster ids (e.g. ``patient_id`` at lesion level): the
        robust log-rank score test, whose variance sums score residuals within clusters
        (Lin & Wei 1989; R's robust score test of ``coxph(Surv ~ group + cluster(id),
        ties = "breslow")``); two groups, rho = 0; with ``weights``, the weighted one.

    Returns
    -------
    LogrankResult

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [3, 5, 7, 2, 4, 9, 11, 12], "event": [1, 1, 1, 0, 1, 0, 1, 0],
    ...                    "arm": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> round(mo.logrank(df, group="arm").statistic, 4)
    2.8191
    """
    arr = survival_arrays(df, time=time, event=event, group=group, weights=weights,
                          strata=strata, cluster=cluster, min_groups=2)
    levels = list(arr.group_levels)
    k = len(levels)
    problems = []
    if weights is not None and k != 2:
        problems.append(Problem(f"the IPTW log-rank test compares two groups, found {k}",
                                group))
    if weights is not None and rho != 0:
        problems.append(Problem("the IPTW log-rank test is defined for rho = 0", None))
    if cluster is not None and (k != 2 or rho != 0):
        problems.append(Problem("the clustered (robust) log-rank test compares two groups "
                                "with rho = 0", cluster))
    if problems:
        raise InputError(problems)
    g_all = group_codes(arr)
    # The kernels bin subjects by time, so no sort is needed.
    if arr.strata is None:
        pieces = [np.arange(arr.time.size)]
    else:
        pieces = [np.flatnonzero(arr.strata == s) for s in np.unique(arr.strata)]
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    score = wvar = 0.0
    for idx in pieces:
        t, e, g = arr.time[idx], arr.event[idx], g_all[idx]
        if weights is None:
            o, x, v = grho_kernel(t, e, g, k, rho)
            obs += o
            exp += x
            var += v
        else:
            u, vv, o, x = iptw_logrank_kernel(t, e, g, arr.weights[idx])
            score += u
            wvar += vv
            obs += o
            exp += x
    counts = np.bincount(g_all, minlength=k)
    table = pd.DataFrame({"group": levels, "n": counts, "observed": obs, "expected": exp})
    if weights is None:
        stat, dfree = _chisq(obs, exp, var)
        z = None
        if k == 2 and var[1, 1] > 0:
            z = float((obs[1] - exp[1]) / np.sqrt(var[1, 1]))
        method = {0: "Log-rank test", 1: "Peto-Peto test (G-rho, rho = 1)"}.get(
            rho, f"G-rho test (rho = {rho})")
    else:
        z = score / np.sqrt(wvar) if wvar > 0 else float("nan")
        stat, dfree = float(z * z), 1
        var = np.array([[wvar, -wvar], [-wvar, wvar]])
        method = "IPTW log-rank test (Xie & Liu 2005)"
    if cluster is not None:
        score, resid = 0.0, np.zeros(arr.time.size)
        for idx in pieces:
            u, r = robust_score_kernel(arr.time[idx], arr.event[idx], g_all[idx] == 1,
                                       None if weights is None else arr.weights[idx])
            score += u
            resid[idx] = r
        per_cluster = np.bincount(arr.cluster, weights=resid)
        rvar = float(per_cluster @ per_cluster)
        z = score / np.sqrt(rvar) if rvar > 0 else float("nan")
        stat, dfree = float(z * z), 1
        var = np.array([[rvar, -rvar], [-rvar, rvar]])
        method = ("Robust log-rank score test, clustered by "
                  f"{cluster} (Lin & Wei 1989)" + (", weighted" if weights is not None else ""))
    p = float(chi2.sf(stat, dfree)) if dfree > 0 else float("nan")
    if weights is not None or cluster is not None:
        p = float(2 * norm.sf(abs(z)))
    return LogrankResult(statistic=float(stat), df=dfree, p_value=p, method=method,
                         weighted=weights is not None, table=table, z=z, rho=float(rho),
                         strata=strata, variance=var)
