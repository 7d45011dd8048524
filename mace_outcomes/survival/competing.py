"""Competing risks: Aalen-Johansen cumulative incidence and Gray's k-sample test.

Status coding everywhere: 0 censored, 1, 2, ... the causes (e.g. 1 = the event of
interest, 2 = death from another cause).

References
----------
Aalen OO, Johansen S (1978). An empirical transition matrix for non-homogeneous Markov
chains based on censored observations. Scand J Statist 5:141-150.
Gray RJ (1988). A class of K-sample tests for comparing the cumulative incidence of a
competing risk. Ann Statist 16:1141-1154.
Efron B (1982). The jackknife, the bootstrap and other resampling plans (the
infinitesimal jackknife used for the standard errors, as R's ``survfit`` does for
multi-state curves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._display import ResultMixin, deprecated_alias, frame_html, frame_text
from .._frames import ColumnArg, survival_arrays
from ..errors import InputError, Problem
from ._aj_variance import aj_entry_ij_variance, cuminc_delta_variance
from ._kernels import (
    aeq_times,
    entry_risk,
    seg_blocks,
    seg_rev_cumsum,
    seg_scan,
    seg_shift,
    segments,
    snap_sorted,
    strata_grid,
)

__all__ = ["cumulative_incidence", "gray_test", "CumulativeIncidence", "GrayTest",
           "aalen_johansen_kernel", "cuminc_delta_variance", "gray_kernel"]

_CONF_TYPES = ("log-log", "log", "plain")
_VARIANCES = ("aalen-johansen", "delta")


# --------------------------------------------------------------------------- kernels
def _distinct(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and each element's index among them (times
    tied up to floating-point noise are one, as R's ``aeqSurv``)."""
    time = snap_sorted(time)
    new = np.empty(time.size, dtype=bool)
    new[:1] = True
    np.not_equal(time[1:], time[:-1], out=new[1:])
    inv = np.cumsum(new) - 1
    return time[new], inv


def _shift(a: np.ndarray, first: float) -> np.ndarray:
    """``a`` moved one step later along axis 0: the value just before each time."""
    out = np.empty_like(a)
    out[:1] = first
    out[1:] = a[:-1]
    return out


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)


def aalen_johansen_kernel(time: np.ndarray, status: np.ndarray, weights: np.ndarray,
                          n_causes: int, start: np.ndarray | None = None
                          ) -> dict[str, np.ndarray]:
    """Aalen-Johansen estimate for competing risks with infinitesimal-jackknife variance.

    Parameters
    ----------
    time : sorted follow-up times.
    status : 0 censored, 1..n_causes the cause, aligned with ``time``.
    weights : case weights (ones for an unweighted analysis).
    n_causes : number of causes K.
    start : optional entry times of (start, stop] rows (``time`` the stop), already on
        the grid's tolerance (:func:`aeq_times`); a row is at risk when start < t <= stop.

    Returns
    -------
    dict with ``time`` (the m distinct times), ``n_risk``, ``n_censor`` (m,),
    ``n_event`` (m, K), ``surv`` (m,) event-free probability, ``cif`` (m, K) and
    ``std_err`` (m, K + 1): standard errors of (surv, cif_1, ..., cif_K).

    Notes
    -----
    With hazard increments lambda_k(t) = d_k(t) / n(t), S(t) = prod(1 - sum_k lambda_k)
    and F_k(t) = sum_{s <= t} S(s-) lambda_k(s) (Aalen & Johansen 1978). The variance is
    the infinitesimal jackknife sum_i (w_i U_i(t))^2 with U_i = dF / dw_i, which is what
    R's ``survfit`` reports for a multi-state status. For a subject still at risk at t,
    U_ik(t) = A_k(t) is common to all; for one who left at T_i <= t it is affine in
    F_k(t): B_ik + C_i F_k(t). The sum of squares therefore reduces to cumulative sums
    over the exit times -- no loop over subjects or times. With ``start`` a row's
    influence is its exit record's minus that of a censoring at its entry
    (:func:`aj_entry_ij_variance`).
    """
    utime, inv = _distinct(time)
    m = utime.size
    wtot = np.bincount(inv, weights=weights, minlength=m)
    n_risk = np.cumsum(wtot[::-1])[::-1]
    if start is not None:  # delayed entry: #{stop >= t} - #{start >= t}
        n_risk = n_risk - entry_risk(utime, start, weights=weights)
    d = np.zeros((m, n_causes))
    for k in range(n_causes):
        d[:, k] = np.bincount(inv, weights=weights * (status == k + 1), minlength=m)
    n_censor = wtot - d.sum(axis=1)
    lam_k = d / n_risk[:, None]
    lam = lam_k.sum(axis=1)
    surv = np.cumprod(1.0 - lam)
    surv_m = _shift(surv, 1.0)
    cif = np.cumsum(surv_m[:, None] * lam_k, axis=0)

    # g = lambda / (n (1 - lambda)); where everyone left fails (lambda = 1) S is 0 from
    # then on and the term multiplies zero, so any finite value is exact.
    g = _safe_div(lam, n_risk * (1.0 - lam))
    gc = np.cumsum(g)
    gm = _shift(gc, 0.0)
    a_k = np.cumsum(surv_m[:, None] * (gm[:, None] * lam_k - lam_k / n_risk[:, None]), axis=0)
    a_0 = surv * gc
    if start is not None:
        entry = np.searchsorted(utime, start, side="right") - 1
        var = aj_entry_ij_variance(inv, entry, status, weights, n_risk, lam, gc, surv, cif,
                                   a_k)
        return {"time": utime, "n_risk": n_risk, "n_event": d, "n_censor": n_censor,
                "surv": surv, "cif": cif, "std_err": np.sqrt(np.maximum(var, 0.0))}

    # subject-level pieces at the exit time e = inv[i]
    w2 = weights * weights
    ev = status > 0
    m_i = -gc[inv] + np.where(ev, _safe_div(np.ones_like(lam), n_risk * (1.0 - lam))[inv], 0.0)
    c_i = -m_i
    w2_t = np.bincount(inv, weights=w2, minlength=m)
    r2 = np.cumsum(w2_t[::-1])[::-1] - w2_t  # sum of w^2 over those with T > t
    cum = lambda x: np.cumsum(np.bincount(inv, weights=x, minlength=m))  # noqa: E731
    sc2 = cum(w2 * c_i * c_i)
    var = np.empty((m, n_causes + 1))
    var[:, 0] = a_0 ** 2 * r2 + surv ** 2 * sc2
    for k in range(n_causes):
        b = (a_k[inv, k] + (status == k + 1) * surv_m[inv] / n_risk[inv]
             + m_i * cif[inv, k])
        f = cif[:, k]
        var[:, k + 1] = (a_k[:, k] ** 2 * r2 + cum(w2 * b * b) + 2.0 * f * cum(w2 * b * c_i)
                         + f * f * sc2)
    return {"time": utime, "n_risk": n_risk, "n_event": d, "n_censor": n_censor,
            "surv": surv, "cif": cif, "std_err": np.sqrt(np.maximum(var, 0.0))}


def gray_kernel(time: np.ndarray, mark: np.ndarray, group: np.ndarray, n_groups: int,
                rho: float = 0.0, strata: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Gray's score and its covariance for comparing cumulative incidence across groups.

    Parameters
    ----------
    time : times (any order).
    mark : 0 censored, 1 the cause of interest, 2 any other cause.
    group : integer codes 0..n_groups-1.
    rho : power of the weight (1 - F(t-))^rho.
    strata : optional integer codes; score and covariance are summed over strata.

    Returns
    -------
    score (n_groups - 1,) and its covariance matrix (n_groups - 1, n_groups - 1);
    the statistic is ``s' V^-1 s`` on n_groups - 1 degrees of freedom.

    Notes
    -----
    Gray (1988), as implemented in cmprsk's ``crstm``: the score compares each group's
    subdistribution hazard with the pooled one, weighted by (1 - F(t-))^rho, and the
    variance follows Gray's asymptotic expression. Every quantity is a cumulative sum over
    the distinct event times of per-group arrays (times x groups x groups). With strata,
    the times are (stratum, time) cells, the cumulative sums restart at each stratum
    and the per-stratum score and variance are summed, as cmprsk's ``cuminc(strata=)``.
    """
    ng, ng1 = n_groups, n_groups - 1
    grid = strata_grid(time, strata)
    m = grid.time.size
    cell = grid.inverse * ng + group
    cnt = lambda sel: np.bincount(cell, weights=sel.astype(float),  # noqa: E731
                                  minlength=m * ng).reshape(m, ng)
    tot = cnt(np.ones(np.size(time), dtype=bool))
    d1 = cnt(mark == 1)
    d2 = cnt(mark == 2)
    rs = seg_rev_cumsum(tot, grid.starts, grid.seg)
    keep = (d1 + d2).sum(axis=1) > 0
    if not keep.any():  # no events: nothing to add
        return np.zeros(ng1), np.zeros((ng1, ng1))
    rs, d1, d2 = rs[keep], d1[keep], d2[keep]
    starts, _ = segments(grid.stratum[keep])  # strata without events drop out
    # Each stratum's sums and products are accumulated on their own, bit for bit as for
    # the stratum alone: F(t-) = 1 (an undefined variance) is an exact comparison.
    blocks = seg_blocks(starts, rs.shape[0]) if starts.size > 1 else None
    cum = lambda x: seg_scan(np.add, x, blocks)  # noqa: E731
    live = rs > 0
    skm = seg_scan(np.multiply, np.where(live, 1.0 - _safe_div(d1 + d2, rs), 1.0), blocks)
    skmm = seg_shift(skm, starts, 1.0)
    f1 = cum(np.where(live, skmm * _safe_div(d1, rs), 0.0))
    f1m = seg_shift(f1, starts, 0.0)
    t1 = np.where(live, _safe_div(rs, skmm), 0.0)
    tr = t1.sum(axis=1)
    tq = (t1 * (1.0 - f1m)).sum(axis=1)
    nd1 = d1.sum(axis=1)
    nd2 = d2.sum(axis=1)
    f = cum(nd1 / tr)
    fm = seg_shift(f, starts, 0.0)
    fb = (1.0 - fm) ** rho
    # a as crstm writes it, so that it is exactly 0 where crstm's is (a group alone at
    # risk: t1 = tr); crstm adds a dF / (1 - F(t-)) to c only where a != 0, hence where
    # F(t-) = 1 the variance is undefined (NaN, or infinite) only if a != 0 there.
    a = -fb[:, None, None] * t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    diag = np.arange(ng)
    a[:, diag, diag] = fb[:, None] * t1 * (1.0 - t1 / tr[:, None])
    # where F(t-) = 1 with a != 0, c is 0/0 or infinite and so is the variance (NaN)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = cum(np.where(a != 0, a * (nd1 / (tr * (1.0 - fm)))[:, None, None], 0.0))
        s = (fb[:, None] * (d1 - nd1[:, None] * t1 * (1.0 - f1m) / tq[:, None])).sum(axis=0)

        # cause-of-interest part (times with nd1 > 0, groups at risk)
        on = (nd1 > 0)[:, None] & live
        t4 = np.where(skm > 0, 1.0 - _safe_div((1.0 - f)[:, None] * np.ones(ng), skm), 1.0)
        t5 = np.where((nd1 > 1)[:, None], 1.0 - _safe_div((nd1 - 1.0)[:, None],
                                                            tr[:, None] * skmm - 1.0), 1.0)
        t3 = np.where(on, t5 * skmm * _safe_div(nd1[:, None] * np.ones(ng), tr[:, None] * rs),
                      0.0)
        v3 = t4 * t4 * t3  # per cell; summed within strata below
        tt1 = a[:, :ng1, :] - t4[:, None, :] * c[:, :ng1, :]  # (t, i, k)
        v2 = tt1 * (t4 * t3)[:, None, :]
        v = np.einsum("tik,tjk,tk->ij", tt1, tt1, t3)

        # competing-cause part (groups with failures from other causes and S > 0)
        on2 = (nd2 > 0)[:, None] & (skm > 0) & (d2 > 0)
        t4b = np.where(on2, _safe_div((1.0 - f)[:, None] * np.ones(ng), skm), 0.0)
        t5b = np.where(d2 > 1, 1.0 - _safe_div(d2 - 1.0, rs - 1.0), 1.0)
        t3b = np.where(on2, t5b * skmm ** 2 * _safe_div(d2, rs ** 2), 0.0)
        v3 = np.add.reduceat(v3 + t4b * t4b * t3b, starts, axis=0)  # (strata, k)
        tt1b = t4b[:, None, :] * c[:, :ng1, :]
        v2 = np.add.reduceat(v2 - tt1b * (t4b * t3b)[:, None, :], starts, axis=0)  # (strata, i, k)
        v = v + np.einsum("tik,tjk,tk->ij", tt1b, tt1b, t3b)

        cf = c[np.r_[starts[1:], c.shape[0]] - 1, :ng1, :]  # each stratum's last cell
        cross = np.einsum("sik,sjk->ij", cf, v2)
        v = v + np.einsum("sik,sk,sjk->ij", cf, v3, cf) + cross + cross.T
        return s[:ng1], v


# --------------------------------------------------------------------------- helpers
def _conf_limits(est: np.ndarray, se: np.ndarray, conf_type: str,
                 conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits for a probability; the log-log transform is Kalbfleisch-Prentice's
    log(-log F), the same transform ``survfit`` applies to a state probability."""
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            lo, hi = est - z * se, est + z * se
        elif conf_type == "log":
            lo, hi = est * np.exp(-z * se / est), est * np.exp(z * se / est)
        else:
            theta = z * se / (est * np.log(est))
            lo, hi = est ** np.exp(-theta), est ** np.exp(theta)
    flat = (est <= 0) | (se <= 0) | ((est >= 1) & (conf_type == "log-log"))
    lo = np.where(flat, est, np.clip(lo, 0.0, 1.0))
    hi = np.where(flat, est, np.clip(hi, 0.0, 1.0))
    return lo, hi


def _check_option(value: Any, allowed: tuple, name: str) -> None:
    if value not in allowed:
        raise InputError(Problem(f"{name} must be one of {list(allowed)}, got {value!r}"))


def _check_cause(cause: Any, status: str) -> int:
    if isinstance(cause, bool) or not isinstance(cause, (int, np.integer)) or cause < 1:
        raise InputError(Problem(f"cause must be a positive status code (1, 2, ...), got "
                                 f"{cause!r}", column=status))
    return int(cause)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class CumulativeIncidence(ResultMixin):
    """Aalen-Johansen cumulative incidence of one cause, per group.

    Attributes
    ----------
    table : DataFrame (group, time, cif, std_err, lower, upper, n_risk, n_event,
        n_event_any, n_censor), one row per distinct time per group (censoring times
        included); ``n_event`` counts events of ``cause``. Counts are weighted when
        weights were given, with n_risk_unweighted and n_event_unweighted beside them.
    states : DataFrame (group, time, state, prob, std_err): every state probability,
        state "0" being event-free and "k" the cumulative incidence of cause k.
    cause : the cause code; ``causes`` all cause codes in the data.
    variance : "aalen-johansen" (infinitesimal jackknife, as survfit) or "delta"
        (Gray's delta method, as cmprsk's cuminc).
    time_unit : unit of ``time`` (days unless the data said otherwise); ``time_units`` is
        its deprecated alias.
    notes : caveats (empty when none).
    start : the entry-time column of (start, stop] rows (delayed entry), or None.
    """

    table: pd.DataFrame
    states: pd.DataFrame
    cause: int
    causes: list
    conf_type: str
    conf_level: float
    variance: str
    weighted: bool
    group: str | None
    groups: list
    time_unit: str = "days"
    _sizes: dict = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    start: str | None = None

    time_units = deprecated_alias("time_unit", "time_units")

    def at(self, times) -> pd.DataFrame:
        """Cumulative incidence at given times (a step function, right-continuous).

        Returns a DataFrame (group, time, cif, std_err, lower, upper, n_risk) where
        ``n_risk`` is the number still at risk at the time (follow-up >= time; with
        delayed entry, the risk set of the first curve time at or after it).
        """
        ts = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for g in self.groups:
            tab = self.table[self.table["group"] == g]
            tt = tab["time"].to_numpy()
            j = np.searchsorted(tt, ts, side="right") - 1
            jj = np.maximum(j, 0)

            def pick(col, before, tab=tab, j=j, jj=jj):
                return np.where(j >= 0, tab[col].to_numpy()[jj], before)

            # n at risk at t: those whose follow-up is >= t
            k = np.searchsorted(tt, ts, side="left")
            nr = np.append(tab["n_risk"].to_numpy(), 0.0)[k]
            rows.append(pd.DataFrame({
                "group": g, "time": ts, "cif": pick("cif", 0.0),
                "std_err": pick("std_err", 0.0), "lower": pick("lower", 0.0),
                "upper": pick("upper", 0.0), "n_risk": nr}))
        return pd.concat(rows, ignore_index=True)

    def plot(self, **kwargs):
        """Plot the curves (delegates to :func:`mace_outcomes.plots.plot_cif`)."""
        from ..plots import plot_cif

        return plot_cif(self, **kwargs)

    def _title(self) -> str:
        w = ", weighted" if self.weighted else ""
        w += f", delayed entry ({self.start})" if self.start else ""
        return (f"Cumulative incidence of cause {self.cause} (Aalen-Johansen{w}); "
                f"std_err: {self.variance}; {self.conf_level:.0%} CI {self.conf_type}; "
                f"time in {self.time_unit}")

    def _summary(self) -> pd.DataFrame:
        last = self.table.groupby("group", sort=False).tail(1)
        out = last[["group", "time", "cif", "std_err", "lower", "upper"]].copy()
        out.insert(1, "n", [self._sizes.get(g, np.nan) for g in out["group"]])
        out.insert(2, "n_event", self.table.groupby("group", sort=False)["n_event"].sum()
                   .reindex(out["group"]).to_numpy())
        return out.rename(columns={"time": "last_time"}).set_index("group")

    def __repr__(self) -> str:
        return frame_text(self._title(), self._summary())

    def _repr_html_(self) -> str:
        return frame_html(self._title(), self._summary())


@dataclass(frozen=True, eq=False)
class GrayTest(ResultMixin):
    """Gray's test of equal cumulative incidence across groups.

    Attributes
    ----------
    statistic, df, p_value : for ``cause``.
    table : DataFrame (cause, statistic, df, p), one row per cause in the data.
    """

    statistic: float
    df: int
    p_value: float
    cause: int
    rho: float
    table: pd.DataFrame
    group: str
    groups: list
    method: str = "Gray's test (K-sample, cumulative incidence)"
    weighted: bool = False  # Gray's test has no weighted form here
    notes: list[str] = field(default_factory=list)

    def _title(self) -> str:
        return (f"{self.method}, rho = {self.rho:g}; groups {self.groups}\n"
                f"cause {self.cause}: chisq = {self.statistic:.4g} on {self.df} df, "
                f"p = {self.p_value:.4g}")

    def __repr__(self) -> str:
        return frame_text(self._title(), self.table.set_index("cause"))

    def _repr_html_(self) -> str:
        return frame_html(self._title(), self.table.set_index("cause"))


# --------------------------------------------------------------------------- public
def cumulative_incidence(df: pd.DataFrame, time: str = "time", status: str = "status",
                         group: str | None = None, cause: int = 1,
                         weights: ColumnArg = None, conf_type: str = "log-log",
                         conf_level: float = 0.95,
                         variance: str = "aalen-johansen",
                         start: str | None = None) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of a cause in the presence of competing risks.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time : follow-up time column (days).
    status : 0 censored, 1, 2, ... the cause of the first event.
    group : optional column of group labels; one curve per group (label "all" if None).
    cause : the cause whose incidence is tabulated in ``.table`` (``.states`` has all).
    weights : optional column of positive case weights (e.g. IPTW); the standard error
        is then the infinitesimal-jackknife (robust) one.
    conf_type : "log-log" (default; log(-log F)), "log" or "plain".
    conf_level : confidence level of the pointwise limits.
    variance : "aalen-johansen" (default): the infinitesimal-jackknife standard error
        that R's ``survfit(Surv(time, factor(status)) ~ group)`` reports; "delta": the
        delta-method variance of cmprsk's ``cuminc`` (Gray 1988), unweighted only.
    start : column of entry times: rows ``(start, stop]`` with ``time`` the stop, as R's
        ``survfit(Surv(start, stop, factor(status)) ~ group, id=)`` with each row its own
        id (delayed entry / left truncation, e.g. an age time scale). A row is at risk
        at ``t`` when ``start < t <= stop``; the curves live on the distinct stop times.

    Returns
    -------
    CumulativeIncidence

    Notes
    -----
    F_k(t) = sum_{s <= t} S(s-) d_k(s) / n(s) with S the all-cause Kaplan-Meier
    (Aalen & Johansen 1978). Tied times are handled as R does: all events at a time
    precede censorings at that time; no random tie-breaking.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> d = pd.DataFrame({"time": [2, 3, 3, 5, 8, 9], "status": [1, 2, 0, 1, 0, 2]})
    >>> ci = mo.cumulative_incidence(d, cause=1)
    >>> round(float(ci.at(6)["cif"].iloc[0]), 4)
    0.3889
    """
    _check_option(conf_type, _CONF_TYPES, "conf_type")
    _check_option(variance, _VARIANCES, "variance")
    cause = _check_cause(cause, status)
    arr = survival_arrays(df, time=time, status=status, group=group, weights=weights,
                          source="df", start=start)
    if weights is not None and variance == "delta":
        raise InputError(Problem("the delta-method variance (cmprsk) is unweighted; use "
                                 "variance='aalen-johansen' with weights", column=weights))
    n_causes = max(int(arr.event.max()), cause)
    causes = sorted(int(c) for c in np.unique(arr.event) if c > 0)
    groups = ["all"] if group is None else list(arr.group_levels)
    codes = (np.zeros(arr.time.size, dtype=np.int64) if group is None else
             pd.Categorical(arr.group, categories=groups).codes.astype(np.int64))
    w_all = np.ones(arr.time.size) if arr.weights is None else arr.weights
    # start and stop tied up to floating-point noise together, over all rows (aeqSurv)
    t_all, s_all = (arr.time, None) if start is None else aeq_times(arr.time, arr.start)
    order = np.lexsort((t_all, codes))  # sort once: by group, then time
    t_all, st_all, w_all, codes = (t_all[order], arr.event[order], w_all[order],
                                   codes[order])
    s_all = None if s_all is None else s_all[order]
    bounds = np.searchsorted(codes, np.arange(len(groups) + 1))
    tables, state_tabs, sizes = [], [], {}
    for j, g in enumerate(groups):  # a loop over groups; the kernel is vectorised
        lo, hi = bounds[j], bounds[j + 1]
        t, st, w = t_all[lo:hi], st_all[lo:hi], w_all[lo:hi]
        s = None if s_all is None else s_all[lo:hi]
        sizes[g] = int(hi - lo)
        res = aalen_johansen_kernel(t, st, w, n_causes, s)
        se = res["std_err"]
        if variance == "delta":
            dv = cuminc_delta_variance(res["n_risk"], res["n_event"], res["surv"], res["cif"])
            se = np.column_stack([se[:, 0], np.sqrt(np.maximum(dv, 0.0))])
        est = res["cif"][:, cause - 1]
        sek = se[:, cause]
        lower, upper = _conf_limits(est, sek, conf_type, conf_level)
        tables.append(pd.DataFrame({
            "group": g, "time": res["time"], "cif": est, "std_err": sek, "lower": lower,
            "upper": upper, "n_risk": res["n_risk"], "n_event": res["n_event"][:, cause - 1],
            "n_event_any": res["n_event"].sum(axis=1), "n_censor": res["n_censor"]}))
        if weights is not None:  # the counts behind a weighted curve, for risk tables
            _, inv = _distinct(t)
            m = res["time"].size
            n_t = np.bincount(inv, minlength=m)
            tables[-1]["n_risk_unweighted"] = np.cumsum(n_t[::-1])[::-1] - (
                0.0 if s is None else entry_risk(res["time"], s))
            tables[-1]["n_event_unweighted"] = np.bincount(inv, weights=(st == cause),
                                                           minlength=m).astype(np.int64)
        probs = np.column_stack([res["surv"], res["cif"]])
        m = res["time"].size
        state_tabs.append(pd.DataFrame({
            "group": g, "time": np.repeat(res["time"], n_causes + 1),
            "state": np.tile([str(s) for s in range(n_causes + 1)], m),
            "prob": probs.ravel(), "std_err": se.ravel()}))
    return CumulativeIncidence(
        table=pd.concat(tables, ignore_index=True),
        states=pd.concat(state_tabs, ignore_index=True), cause=cause, causes=causes,
        conf_type=conf_type, conf_level=conf_level, variance=variance,
        weighted=weights is not None, group=group, groups=groups, _sizes=sizes,
        start=start)


def gray_test(df: pd.DataFrame, time: str = "time", status: str = "status",
              group: str = "group", cause: int = 1, strata: ColumnArg = None,
              rho: float = 0.0, start: str | None = None) -> GrayTest:
    """Gray's test that the cumulative incidence of a cause is equal in k groups.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time, status : follow-up time and status (0 censored, 1, 2, ... causes).
    group : column of group labels (at least 2 groups).
    cause : the cause reported in ``statistic`` / ``p_value``; ``.table`` has every cause.
    strata : optional column; scores and variances are summed over strata (cmprsk's
        ``cuminc(strata=)``). Where a stratum's variance is undefined (F(t-) = 1 with
        subjects still at risk; cmprsk stops there) the statistic is NaN.
    rho : power of the weight (1 - F(t-))^rho (0 by default, as cmprsk).
    start : refused: Gray's test has no form for (start, stop] rows (delayed entry).

    Returns
    -------
    GrayTest with statistic (chi-square on k - 1 df), df, p_value and a per-cause table.

    Notes
    -----
    Gray (1988), computed as cmprsk's ``cuminc`` does (score s and its variance V;
    statistic s' V^-1 s). Unweighted only: no weighted version of the test exists in
    cmprsk to match.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> d = pd.DataFrame({"time": [2, 3, 3, 5, 8, 9, 4, 6], "status": [1, 2, 0, 1, 0, 2, 1, 1],
    ...                   "arm": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> round(mo.gray_test(d, group="arm").df, 1)
    1
    """
    cause = _check_cause(cause, status)
    if start is not None:  # cmprsk has no delayed-entry form of the test to match
        raise InputError(Problem(
            "Gray's test takes one row per subject from time 0, not (start, stop] rows "
            "(delayed entry)", column=start, source="df",
            fix="compare the delayed-entry curves from cumulative_incidence(start=), or "
                "run gray_test on follow-up counted from each subject's time 0"))
    arr = survival_arrays(df, time=time, status=status, group=group, strata=strata,
                          min_groups=2, source="df")
    levels = list(arr.group_levels)
    gcode = pd.Categorical(arr.group, categories=levels).codes.astype(np.int64)
    ng = len(levels)
    causes = sorted(int(c) for c in np.unique(arr.event) if c > 0)
    if cause not in causes:
        raise InputError(Problem(f"no events of cause {cause} (causes present: {causes})",
                                 column=status))
    ev = arr.event
    rows = []
    for c in causes:  # one kernel call per cause covers every stratum
        mark = np.where(ev == 0, 0, np.where(ev == c, 1, 2))
        s_tot, v_tot = gray_kernel(arr.time, mark, gcode, ng, rho, arr.strata)
        if np.all(np.isfinite(v_tot)) and np.linalg.matrix_rank(v_tot) == ng - 1:
            stat = float(s_tot @ np.linalg.solve(v_tot, s_tot))
        else:
            stat = np.nan
        rows.append({"cause": c, "statistic": stat, "df": ng - 1,
                     "p": float(stats.chi2.sf(stat, ng - 1))})
    table = pd.DataFrame(rows)
    mine = table[table["cause"] == cause].iloc[0]
    return GrayTest(statistic=float(mine["statistic"]), df=ng - 1, p_value=float(mine["p"]),
                    cause=cause, rho=rho, table=table, group=group, groups=levels)
