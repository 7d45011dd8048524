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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from .._display import ResultMixin, deprecated_alias, frame_html, frame_text
from .._frames import ColumnArg, survival_arrays, warn_extreme_weights, warn_unclustered
from ..errors import InputError, Problem
from ._kernels import (
    StrataGrid,
    seg_cumprod,
    seg_cumsum,
    seg_rev_cumsum,
    seg_shift,
    strata_grid,
    time_grid,
)
from .kaplan_meier import group_codes

__all__ = ["logrank", "LogrankResult", "grho_kernel", "iptw_logrank_kernel",
           "robust_score_kernel", "grho_statistic", "iptw_statistic"]


def _by_time_group(inverse: np.ndarray, g: np.ndarray, k: int, values: np.ndarray,
                   n_times: int) -> np.ndarray:
    """Sum ``values`` into an (n_times, k) array indexed by (distinct time, group)."""
    return np.bincount(inverse * k + g, weights=values, minlength=n_times * k).reshape(
        n_times, k)


def _at_risk(grid: StrataGrid, g: np.ndarray, k: int, values: np.ndarray) -> np.ndarray:
    """(cells, k) sums of ``values`` over subjects still at risk, within each stratum."""
    by_cell = _by_time_group(grid.inverse, g, k, values, grid.time.size)
    return seg_rev_cumsum(by_cell, grid.starts, grid.seg)


def _entered_later(grid: StrataGrid, start_code: np.ndarray, strata: np.ndarray | None,
                   g: np.ndarray, k: int) -> np.ndarray:
    """(cells, k) counts of rows of the cell's stratum that enter at or after its time
    (``start >= t``): in the ``stop >= t`` sums but not at risk (delayed entry). Times
    are grid codes, so ``stratum * span + code`` orders cells and starts alike."""
    span = int(max(grid.time.max(), start_code.max())) + 1
    st = np.zeros(start_code.size, np.int64) if strata is None else np.asarray(strata)
    st = st - (0 if strata is None else st.min())
    cell_key = grid.stratum * span + grid.time.astype(np.int64)
    c = np.searchsorted(cell_key, st * span + start_code, side="right") - 1
    inside = c >= 0
    inside[inside] = grid.stratum[c[inside]] == st[inside]  # a cell of the row's stratum
    by_cell = np.bincount(c[inside] * k + g[inside], minlength=grid.time.size * k)
    return seg_rev_cumsum(by_cell.reshape(-1, k).astype(float), grid.starts, grid.seg)


def grho_kernel(time: np.ndarray, event: np.ndarray, g: np.ndarray, k: int,
                rho: float = 0.0, strata: np.ndarray | None = None,
                start: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """G-rho observed, expected and covariance summed over strata (subjects in any order).

    At each event time ``t`` with ``d`` events among ``n`` at risk (``n_g`` in group g)
    and weight ``u = S(t-)^rho`` (pooled left-continuous Kaplan-Meier):
    ``O_g += u d_g``, ``E_g += u d n_g / n`` and
    ``V_gh += u^2 d (n - d) / (n - 1) * (n_g / n) (1{g=h} - n_h / n)``
    (Harrington & Fleming 1982; R's ``survdiff``). With ``strata`` (integer codes) the
    times are cells (stratum, time): risk sets and the Kaplan-Meier weight are computed
    within each stratum and the sums run over all cells, i.e. over strata.

    With ``start`` (rows ``(start, stop]``, ``time`` the stop) the risk sets are
    ``start < t <= stop``: the entries are one more reverse cumulative sum taken off.
    Times are then binned as codes of the joint (start, stop) grid, tied up to
    floating-point noise as R's ``aeqSurv``.
    """
    if start is not None:
        _, codes = time_grid(np.concatenate([time, start]))
        time, start_code = codes[:len(time)], codes[len(time):]
    grid = strata_grid(time, strata)
    ev = np.asarray(event, dtype=float)
    D = _by_time_group(grid.inverse, g, k, ev, grid.time.size)
    N = _at_risk(grid, g, k, np.ones_like(ev))
    if start is not None:
        N = N - _entered_later(grid, start_code, strata, g, k)
    return grho_statistic(D, N, grid.starts, grid.seg, rho)


def grho_statistic(D: np.ndarray, N: np.ndarray, starts: np.ndarray, seg: np.ndarray,
                   rho: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """G-rho observed, expected and covariance from the per-cell table (the second half
    of :func:`grho_kernel`, shared with the Dask test).

    ``D`` and ``N`` are (cells, groups) events and numbers at risk, the cells ordered by
    stratum then time; ``starts`` / ``seg`` are the strata's segments of the cells.
    """
    d, n = D.sum(axis=1), N.sum(axis=1)
    if rho != 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(d > 0, 1.0 - d / n, 1.0)
        u = seg_shift(seg_cumprod(step, starts, seg), starts, 1.0) ** rho
    else:
        u = np.ones(d.size)
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
                        weights: np.ndarray, strata: np.ndarray | None = None
                        ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Xie & Liu (2005) IPTW log-rank score and variance summed over strata (any order).

    With weighted numbers at risk ``Y_g`` and of events ``d^w_g`` (group 1 = the second
    level), the score is ``U = sum_t [d^w_1 - Y_1 d^w / Y]`` and its variance
    ``sum_t d (n - d) / (n (n - 1)) * (Y_0^2 Q_1 + Y_1^2 Q_0) / Y^2``, where ``Q_g`` sums the
    squared weights at risk and ``d, n`` are the unweighted counts. With all weights 1
    this is the ordinary log-rank score and variance.

    Returns ``(U, var, observed, expected)`` (the last two weighted, per group). With
    ``strata``, risk sets are taken within strata and the sums run over all strata.
    """
    grid = strata_grid(time, strata)
    n_cells = grid.time.size
    ev = np.asarray(event, dtype=float)
    w = np.asarray(weights, dtype=float)
    D = _by_time_group(grid.inverse, g, 2, ev, n_cells)
    N = _at_risk(grid, g, 2, np.ones_like(ev))
    Dw = _by_time_group(grid.inverse, g, 2, w * ev, n_cells)
    Y = _at_risk(grid, g, 2, w)
    Q = _at_risk(grid, g, 2, w * w)
    return iptw_statistic(D, N, Dw, Y, Q)


def iptw_statistic(D: np.ndarray, N: np.ndarray, Dw: np.ndarray, Y: np.ndarray,
                   Q: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Xie & Liu's score, variance, observed and expected from the per-cell (cells, 2)
    table of events ``D``, at risk ``N``, weighted events ``Dw``, weighted at risk ``Y``
    and squared weights at risk ``Q`` (the second half of :func:`iptw_logrank_kernel`,
    shared with the Dask test)."""
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
                        weights: np.ndarray | None = None, strata: np.ndarray | None = None
                        ) -> tuple[float, np.ndarray]:
    """Log-rank score ``U`` and each subject's weighted score residual (within strata).

    ``U = sum_j (d1_j - d_j Y1_j / Y_j)``, the Cox score at beta = 0 for a 0/1 ``z``
    (Breslow ties). Subject i's residual is
    ``delta_i (z_i - zbar(T_i)) - sum_{t_j <= T_i} (z_i - zbar_j) d_j / Y_j``; summed
    within clusters and squared, they give the robust variance of ``U`` (Lin & Wei
    1989), i.e. R's robust score test of ``coxph(..., cluster=)``. With ``strata`` the
    risk sets and the sums over earlier times stay within each subject's stratum.
    """
    ev = np.asarray(event, dtype=float)
    zz = np.asarray(z, dtype=float)
    w = np.ones_like(ev) if weights is None else np.asarray(weights, dtype=float)
    grid = strata_grid(time, strata)
    inv, m = grid.inverse, grid.time.size
    d = np.bincount(inv, weights=w * ev, minlength=m)
    y = seg_rev_cumsum(np.bincount(inv, weights=w, minlength=m), grid.starts, grid.seg)
    y1 = seg_rev_cumsum(np.bincount(inv, weights=w * zz, minlength=m), grid.starts, grid.seg)
    zbar = y1 / y  # y > 0 at every cell some subject has
    hazard = d / y
    a = seg_cumsum(hazard, grid.starts, grid.seg)
    b = seg_cumsum(zbar * hazard, grid.starts, grid.seg)
    resid = ev * (zz - zbar[inv]) - (zz * a[inv] - b[inv])
    return float(np.sum(w * resid)), w * resid


@dataclass(frozen=True, eq=False)
class LogrankResult(ResultMixin):
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
    notes : caveats recorded while testing (e.g. extreme weights).
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
    notes: list[str] = field(default_factory=list)

    p = deprecated_alias("p_value", "p")

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
            group: str = "group", weights: ColumnArg = None, rho: float = 0,
            strata: ColumnArg = None, cluster: ColumnArg = None, *,
            start: str | None = None) -> LogrankResult:
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
    strata : optional column; observed, expected and variance are summed over strata
        (risk sets and the rho > 0 Kaplan-Meier weight are taken within each stratum).
        A missing stratum label is an ``InputError`` naming the rows (R's survdiff
        drops such rows silently): drop or label them first.
    cluster : optional column of cluster ids (e.g. ``patient_id`` at lesion level): the
        robust log-rank score test, whose variance sums score residuals within clusters
        (Lin & Wei 1989; R's robust score test of ``coxph(Surv ~ group + cluster(id),
        ties = "breslow")``); two groups, rho = 0; with ``weights``, the weighted one.
    start : column of entry times of rows ``(start, stop]`` (``time`` the stop): the
        G-rho test with delayed entry, risk sets ``start < t <= stop`` (R's survdiff takes
        no such rows; the statistic is survdiff's formula on these risk sets, and with
        untied event times it equals ``coxph(Surv(start, stop, event) ~ group,
        ties = "breslow")``'s score test). Not with ``weights`` or ``cluster``: use
        ``mo.cox(..., start=, cluster=)`` and its robust score test there.

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
    from ..scale import is_dask  # a Dask frame: the same test from partition sums
    if is_dask(df):
        from ..scale.survival import logrank as on_dask
        return on_dask(df, time, event, group, weights, rho, strata, cluster, start=start)
    arr = survival_arrays(df, time=time, event=event, group=group, weights=weights,
                          strata=strata, cluster=cluster, min_groups=2, start=start)
    warn_unclustered(df, cluster, "logrank")
    notes = []
    if arr.weights is not None:
        msg = warn_extreme_weights(df, arr.weights, [arr.group])
        notes += [msg] if msg else []
    levels = list(arr.group_levels)
    k = len(levels)
    problems = logrank_problems(k, group, weights is not None, rho, cluster)
    if start is not None and (weights is not None or cluster is not None):
        problems.append(Problem("start= is taken by the unweighted, unclustered test only",
                                start, fix="use mo.cox(..., start=, weights=, cluster=) "
                                           "and its robust score test"))
    if problems:
        raise InputError(problems)
    g_all = group_codes(arr)
    var = score = wvar = rvar = None
    # One pass over all strata: the kernels bin subjects by (stratum, time) cells.
    if weights is None:
        obs, exp, var = grho_kernel(arr.time, arr.event, g_all, k, rho, arr.strata,
                                    arr.start)
    else:
        score, wvar, obs, exp = iptw_logrank_kernel(arr.time, arr.event, g_all, arr.weights,
                                                    arr.strata)
    counts = np.bincount(g_all, minlength=k)
    table = pd.DataFrame({"group": levels, "n": counts, "observed": obs, "expected": exp})
    if cluster is not None:
        score, resid = robust_score_kernel(arr.time, arr.event, g_all == 1,
                                           None if weights is None else arr.weights,
                                           arr.strata)
        per_cluster = np.bincount(arr.cluster, weights=resid)
        rvar = float(per_cluster @ per_cluster)
    return logrank_result(table, obs, exp, var, score, wvar, rvar, rho=rho, strata=strata,
                          cluster=cluster, weighted=weights is not None, notes=notes)


def logrank_problems(k: int, group, weighted: bool, rho: float, cluster) -> list[Problem]:
    """What the weighted and the clustered tests cannot take: more than two groups, or
    rho other than 0."""
    problems = []
    if weighted and k != 2:
        problems.append(Problem(f"the IPTW log-rank test compares two groups, found {k}",
                                group))
    if weighted and rho != 0:
        problems.append(Problem("the IPTW log-rank test is defined for rho = 0", None))
    if cluster is not None and (k != 2 or rho != 0):
        problems.append(Problem("the clustered (robust) log-rank test compares two groups "
                                "with rho = 0", cluster))
    return problems


def logrank_result(table: pd.DataFrame, obs, exp, var, score, wvar, rvar, *, rho: float,
                   strata, cluster, weighted: bool, notes: list) -> LogrankResult:
    """The test from its pieces, shared by the in-memory and the Dask paths: the G-rho
    chi-square (``var``: k x k), else the IPTW z (``score``, ``wvar``), and with a cluster
    the robust score test (``score``, ``rvar``: the summed cluster residuals squared)."""
    k = len(obs)
    if not weighted:
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
        z = score / np.sqrt(rvar) if rvar > 0 else float("nan")
        stat, dfree = float(z * z), 1
        var = np.array([[rvar, -rvar], [-rvar, rvar]])
        method = ("Robust log-rank score test, clustered by "
                  f"{cluster} (Lin & Wei 1989)" + (", weighted" if weighted else ""))
    p = float(chi2.sf(stat, dfree)) if dfree > 0 else float("nan")
    if weighted or cluster is not None:
        p = float(2 * norm.sf(abs(z)))
    return LogrankResult(statistic=float(stat), df=dfree, p_value=p, method=method,
                         weighted=weighted, table=table, z=z, rho=float(rho),
                         strata=strata, variance=var, notes=notes)
