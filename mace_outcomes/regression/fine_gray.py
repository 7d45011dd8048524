"""Fine-Gray proportional subdistribution-hazards regression.

Without weights the fit is that of cmprsk's ``crr``: the censoring-weighted partial
likelihood of Fine & Gray (1999) with the censoring distribution G estimated by
Kaplan-Meier, Newton-Raphson from zero with crr's step halving and stopping rule, and
Fine & Gray's sandwich variance, whose middle term carries both the score of the
subdistribution hazard and the variability of the estimated G.

With ``weights`` (e.g. inverse-probability-of-treatment weights) no package offers the
crr variance; the fit is then what R's ``finegray()`` followed by a weighted ``coxph``
computes: ``finegray`` expands each competing-event subject into intervals weighted by
G(t-) / G(T_i-), with G the unweighted Kaplan-Meier of censoring in which failures
precede censorings at a tied time; the user weight multiplies those weights; the model
is ``coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights = fgwt * w, ties = "breslow",
cluster = id)``. The standard errors are its robust (subject-clustered) sandwich: they
treat G as known, i.e. the extra crr term for the estimation of G is not included.

References
----------
Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a
competing risk. J Am Stat Assoc 94:496-509.
Geskus RB (2011). Cause-specific cumulative incidence estimation and the Fine and Gray
model under both left truncation and right censoring. Biometrics 67:39-49 (the weighted
counting-process form used by ``finegray``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._design import design
from .._display import ResultMixin, frame_html, frame_text
from .._frames import ColumnArg, survival_arrays
from ..errors import InputError, MonotoneLikelihoodWarning, Problem
from ..survival._kernels import snap_sorted
from ._wald import TermTests

__all__ = ["fine_gray", "FineGray", "censoring_km_left", "prepare", "fine_gray_sums",
           "fine_gray_newton", "crr_variance", "robust_variance"]


# --------------------------------------------------------------------------- kernels
def censoring_km_left(time: np.ndarray, mark: np.ndarray,
                      failures_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring distribution just before each distinct time.

    Parameters
    ----------
    time : sorted times; mark : 0 censored, > 0 failed.
    failures_first : False counts failures tied with a censoring in its risk set
        (crr's ``survfit(Surv(time, cens))``, with crr's reading G(0) at time 0);
        True removes them first (``finegray``).

    Returns
    -------
    distinct times and G(t-) at each of them.
    """
    new = np.r_[True, time[1:] != time[:-1]]
    inv = np.cumsum(new) - 1
    utime = time[new]
    m = utime.size
    tot = np.bincount(inv, minlength=m).astype(float)
    cens = np.bincount(inv, weights=(mark == 0).astype(float), minlength=m)
    risk = np.cumsum(tot[::-1])[::-1]
    if failures_first:
        risk = risk - (tot - cens)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(cens > 0, 1.0 - cens / risk, 1.0)
    g = np.cumprod(step)
    g_left = np.r_[1.0, g[:-1]]
    if not failures_first and utime[0] == 0:
        # crr reads G at time * (1 - 100 eps): at time 0 exactly that is G(0), after the
        # censorings at 0, not G(0-) = 1. Kept so that day-0 events match crr.
        g_left[0] = g[0]
    return utime, g_left


@dataclass
class _Sums:
    """Risk-set sums at the distinct failure times of the cause of interest."""

    g_fail: np.ndarray  # G(t-)
    d: np.ndarray  # (weighted) failures at t
    s0: np.ndarray
    s1: np.ndarray
    loglik: float
    score: np.ndarray
    info: np.ndarray | None


@dataclass(frozen=True)
class FineGrayData:
    """Sorted data prepared once for :func:`fine_gray_sums` (built by :func:`prepare`)."""

    x: np.ndarray  # (n, p) covariates sorted by time
    z: np.ndarray  # (n, 1 + p): 1, x per subject
    mark: np.ndarray  # 1 cause of interest, 2 other cause, 0 censored
    w: np.ndarray  # case weights
    g_subject: np.ndarray  # G(T_i-)
    first: np.ndarray  # index of the first subject of each distinct time
    fbin: np.ndarray  # distinct-time index of each distinct failure time
    k: np.ndarray  # per subject: number of distinct failure times <= T_i
    g_fail: np.ndarray  # G(t-) at the distinct failure times
    d_fail: np.ndarray  # weighted failures at the distinct failure times
    wx_fail: np.ndarray  # sum of w x over failures


def prepare(time: np.ndarray, mark: np.ndarray, x: np.ndarray, w: np.ndarray,
            failures_first: bool) -> FineGrayData:
    """Sort-once preparation: distinct times, censoring G, failure-time indices."""
    n = x.shape[0]
    utime, g_left = censoring_km_left(time, mark, failures_first=failures_first)
    new = np.r_[True, time[1:] != time[:-1]]
    first = np.flatnonzero(new)
    bin_of = np.cumsum(new) - 1
    fail = mark == 1
    fbin = np.unique(bin_of[fail])
    d_fail = np.bincount(bin_of[fail], weights=w[fail], minlength=utime.size)[fbin]
    k = np.searchsorted(fbin, bin_of, side="right")
    return FineGrayData(x=x, z=np.column_stack([np.ones(n), x]), mark=mark, w=w,
                        g_subject=g_left[bin_of], first=first, fbin=fbin, k=k,
                        g_fail=g_left[fbin], d_fail=d_fail,
                        wx_fail=(w[fail, None] * x[fail]).sum(axis=0))


def _window_sums(data: FineGrayData, v: np.ndarray) -> np.ndarray:
    """sum_t r_i(t) v_t per subject, r_i(t) = 1 for t <= T_i and G(t-) / G(T_i-) for
    t > T_i after a competing event (0 otherwise); v over the distinct failure times."""
    lead = np.zeros((1,) + v.shape[1:])
    upto = np.concatenate([lead, np.cumsum(v, axis=0)])[data.k]
    gv = data.g_fail.reshape((-1,) + (1,) * (v.ndim - 1)) * v
    cg = np.concatenate([lead, np.cumsum(gv, axis=0)])
    after = cg[-1] - cg[data.k]
    comp = ((data.mark == 2) / data.g_subject).reshape((-1,) + (1,) * (v.ndim - 1))
    return upto + comp * after


def fine_gray_sums(beta: np.ndarray, data: FineGrayData, second: bool = True) -> _Sums:
    """Log pseudo-partial-likelihood, score and information of the Fine-Gray model.

    Notes
    -----
    The risk set at t holds everyone with T >= t (weight 1) and everyone who failed from
    another cause before t, with weight G(t-) / G(T_i-) (Fine & Gray 1999):
    S0(t) = sum_{T_i >= t} w_i e^{x_i b} + G(t-) sum_{T_i < t, other cause} w_i e^{x_i b}
    / G(T_i-), and likewise S1 with x. Subjects are summed per distinct time
    (``np.add.reduceat``), then both parts are cumulative sums over times. Breslow's form
    for tied failures: l = sum_i w_i x_i b - sum_t d(t) log S0(t). The information
    sum_t d(t) [S2/S0 - xbar xbar'] is computed as x' diag(e_i sum_t r_i(t) d(t)/S0(t)) x
    - sum_t d(t) xbar xbar', one matrix product instead of n x p x p running sums.
    """
    p = data.x.shape[1]
    e = data.w * np.exp(data.x @ beta)
    comp = np.where(data.mark == 2, e / data.g_subject, 0.0)
    at = np.add.reduceat(e[:, None] * data.z, data.first, axis=0)
    cb = np.add.reduceat(comp[:, None] * data.z, data.first, axis=0)
    at_risk = np.cumsum(at[::-1], axis=0)[::-1][data.fbin]
    before = (np.cumsum(cb, axis=0) - cb)[data.fbin]
    tot = at_risk + data.g_fail[:, None] * before
    s0, s1 = tot[:, 0], tot[:, 1:1 + p]
    d = data.d_fail
    loglik = float(data.wx_fail @ beta - np.sum(d * np.log(s0)))
    xbar = s1 / s0[:, None]
    score = data.wx_fail - d @ xbar
    info = None
    if second:
        c = e * _window_sums(data, d / s0)
        info = data.x.T @ (c[:, None] * data.x) - (d[:, None] * xbar).T @ xbar
    return _Sums(data.g_fail, d, s0, s1, loglik, score, info)


def fine_gray_newton(fun, p: int, gtol: float = 1e-6, max_iter: int = 10,
                     ltol: float | None = None) -> tuple[np.ndarray, bool, int]:
    """Newton-Raphson as cmprsk's ``crr``: start at 0; stop when
    max|score| * max(|b|, 1) < max(|loglik|, 1) * gtol; halve a step (at most 20 times)
    until the objective improves by the Armijo margin 1e-4 * step'score. With ``ltol``,
    also stop after a full step that changes the log-likelihood by less than
    ltol * |loglik|, or when the next step's predicted change is below that (the
    floating-point floor of a converged fit, where step-halving cannot improve)."""
    b = np.zeros(p)
    step_factor = 0.5
    for it in range(max_iter + 1):
        cur = fun(b, True)
        lik, s = -cur.loglik, -cur.score  # crr minimises the negative log-likelihood
        if np.max(np.abs(s) * np.maximum(np.abs(b), 1.0)) < max(abs(lik), 1.0) * gtol:
            return b, True, it
        if it == max_iter:
            return b, False, it
        sc = -np.linalg.solve(cur.info, s)
        if ltol is not None and abs(np.sum(sc * s)) < ltol * max(abs(lik), 1.0):
            # the step would change the log-likelihood by less than its rounding error
            return b + sc, True, it + 1
        bn = b + sc
        fbn = -fun(bn, False).loglik
        halvings = 0
        while np.isnan(fbn) or fbn > lik + 1e-4 * np.sum(sc * s):
            halvings += 1
            sc = sc * step_factor
            bn = b + sc
            fbn = -fun(bn, False).loglik
            if halvings > 20:
                break
        if halvings > 20:
            return b, False, it
        if ltol is not None and halvings == 0 and abs(fbn - lik) <= ltol * max(abs(lik), 1.0):
            return bn, True, it + 1
        b = bn
    return b, False, max_iter


def _eta(beta: np.ndarray, data: FineGrayData, sums: _Sums) -> np.ndarray:
    """Per-subject score residual of the Fine-Gray partial likelihood, per unit weight.

    eta_i = 1{failure}(x_i - xbar(T_i)) - e^{x_i b} sum_t r_i(t) (x_i - xbar_t) dL(t),
    with r_i(t) = 1 for t <= T_i and G(t-) / G(T_i-) after a competing event, and
    dL(t) = d(t) / S0(t); the sums over t split at T_i into cumulative sums.
    """
    x = data.x
    xbar = sums.s1 / sums.s0[:, None]
    a = sums.d / sums.s0
    lam = x * _window_sums(data, a)[:, None] - _window_sums(data, a[:, None] * xbar)
    dn = np.where((data.mark == 1)[:, None], x - xbar[np.maximum(data.k - 1, 0)], 0.0)
    return dn - np.exp(x @ beta)[:, None] * lam


def crr_variance(beta: np.ndarray, data: FineGrayData, sums: _Sums) -> np.ndarray:
    """Fine & Gray's sandwich variance as cmprsk's ``crr`` computes it (unweighted).

    V = I^-1 [sum_i (eta_i + psi_i)(eta_i + psi_i)'] I^-1, where eta_i is the score
    residual and psi_i the term for the Kaplan-Meier estimate of G: with
    q(u) = sum_{t >= u} G(t-) / S0(t) sum_{T_j < u, other cause} e^{x_j b} / G(T_j-)
    (x_j - xbar_t) d(t), psi_i = 1{censored} q(T_i) / Y(T_i)
    - sum_{censoring times c <= T_i} n_c q(c) / Y(c)^2 (Fine & Gray 1999, section 4).
    """
    x, mark = data.x, data.mark
    n, p = x.shape
    eta = _eta(beta, data, sums)
    xbar = sums.s1 / sums.s0[:, None]
    ga = sums.g_fail * sums.d / sums.s0
    gb = ga[:, None] * xbar
    # per distinct time: number at risk and censored
    m = data.first.size
    size = np.diff(np.r_[data.first, n]).astype(float)
    risk = np.cumsum(size[::-1])[::-1]
    ncens = np.add.reduceat((mark == 0).astype(float), data.first)
    bin_of = np.repeat(np.arange(m), size.astype(np.int64))
    # C0(u), C1(u): competing subjects with T_j < u
    cw = np.where(mark == 2, np.exp(x @ beta) / data.g_subject, 0.0)
    cz = np.add.reduceat(cw[:, None] * data.z, data.first, axis=0)
    c01 = np.cumsum(cz, axis=0) - cz
    # sums over failure times t >= u
    kk = np.searchsorted(data.fbin, np.arange(m), side="left")
    ag = np.r_[np.cumsum(ga[::-1])[::-1], 0.0][kk]
    bg = np.vstack([np.cumsum(gb[::-1], axis=0)[::-1], np.zeros((1, p))])[kk]
    q = c01[:, 1:] * ag[:, None] - c01[:, :1] * bg  # (m, p)
    ss2 = -np.cumsum((ncens / risk ** 2)[:, None] * q, axis=0)
    psi = ss2[bin_of] + np.where((mark == 0)[:, None], q[bin_of] / risk[bin_of, None], 0.0)
    res = eta + psi
    h = np.linalg.inv(sums.info)
    return h @ (res.T @ res) @ h.T


def robust_variance(beta: np.ndarray, data: FineGrayData, sums: _Sums) -> np.ndarray:
    """Subject-clustered sandwich I^-1 [sum_i (w_i eta_i)(w_i eta_i)'] I^-1, as
    ``coxph(..., cluster = id)`` on ``finegray`` data (G treated as known)."""
    eta = _eta(beta, data, sums) * data.w[:, None]
    h = np.linalg.inv(sums.info)
    return h @ (eta.T @ eta) @ h.T


def _diverging(beta: np.ndarray, x: np.ndarray, fun, loglik: float) -> list[int]:
    """Terms whose coefficient diverges (monotone likelihood): moving a coefficient ten
    covariate-SDs further out does not lower the log-likelihood. At a finite maximum
    such a move costs about 50 x (information per SD^2); on a monotone ridge it gains."""
    out = []
    sd = x.std(axis=0)
    for j in range(beta.size):
        if abs(beta[j]) * sd[j] < 2.0:  # a finite, moderate effect: nothing to check
            continue
        b2 = beta.copy()
        b2[j] += (1.0 if beta[j] >= 0 else -1.0) * 10.0 / max(sd[j], 1e-12)
        with np.errstate(over="ignore", invalid="ignore"):
            ll2 = fun(b2, False).loglik
        if np.isfinite(ll2) and ll2 >= loglik - 1e-6 * max(1.0, abs(loglik)):
            out.append(j)
    return out


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class FineGray(TermTests, ResultMixin):
    """A fitted Fine-Gray subdistribution-hazards model.

    Attributes
    ----------
    summary : DataFrame indexed by term: coef, hr (subdistribution hazard ratio), se,
        lower, upper (HR scale), p, z, naive_se (model-based, inverse information).
    loglik : (null, fitted) log pseudo-partial-likelihood.
    tests : DataFrame (test, statistic, df, p): the pseudo likelihood-ratio test that
        crr prints, 2 (fitted - null), and the global Wald test with ``vcov``.
    n, n_event, n_competing : subjects, events of ``cause``, competing events.
    variance : "crr" (Fine-Gray sandwich with the G term) or "robust" (weighted fit;
        subject-clustered sandwich of finegray + coxph).
    converged, iterations : Newton-Raphson outcome.
    """

    summary: pd.DataFrame
    loglik: tuple[float, float]
    tests: pd.DataFrame
    n: int
    n_event: int
    n_competing: int
    cause: int
    weighted: bool
    variance: str
    converged: bool
    iterations: int
    conf_level: float = 0.95
    ties: str = "breslow"
    warnings: list[str] = field(default_factory=list)
    vcov: pd.DataFrame | None = field(default=None, repr=False)
    _state: dict[str, Any] = field(default_factory=dict, repr=False)
    terms: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def _parts(self) -> tuple[str, pd.DataFrame, str]:
        how = "weighted (finegray + coxph)" if self.weighted else "crr"
        title = (f"Fine-Gray subdistribution hazards model for cause {self.cause} ({how}; "
                 f"{self.variance} variance)\nn = {self.n}, events = {self.n_event}, "
                 f"competing events = {self.n_competing}")
        frame = self.summary[["coef", "hr", "se", "naive_se", "z", "p", "lower", "upper"]]
        foot = [f"log pseudo-likelihood: null {self.loglik[0]:.4f}, fitted "
                f"{self.loglik[1]:.4f}"]
        for _, row in self.tests.iterrows():
            foot.append(f"{row['test'].replace('_', ' ')}: {row['statistic']:.4g} on "
                        f"{row['df']:.0f} df, p = {row['p']:.4g}")
        if not self.converged:
            foot.append("warning: Newton-Raphson did not converge")
        foot += [f"warning: {m}" for m in self.warnings]
        return title, frame, "\n".join(foot)

    def __repr__(self) -> str:
        return frame_text(*self._parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._parts())


# --------------------------------------------------------------------------- public
def fine_gray(df: pd.DataFrame, time: str = "time", status: str = "status",
              covariates: list[str] | str | None = None, cause: int = 1,
              weights: ColumnArg = None, conf_level: float = 0.95,
              max_iter: int = 10, gtol: float = 1e-6, *, formula: str | None = None,
              reference: dict | None = None, start: str | None = None) -> FineGray:
    """Fine-Gray regression of the subdistribution hazard of ``cause``.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time : follow-up time column; status : 0 censored, 1, 2, ... cause of the event.
    covariates : columns (default ``["group"]`` when no formula); text, categorical and
        boolean columns are dummy-coded against their first level, named as R
        (``armOCT``), as in :func:`mace_outcomes.cox`.
    cause : the cause of interest; every other non-zero status is a competing event.
    weights : optional positive case weights. Without them the model is cmprsk's
        ``crr``; with them it is R's ``finegray()`` + weighted ``coxph`` with Breslow
        ties and a subject-clustered robust variance (see the module notes: G is the
        unweighted Kaplan-Meier of censoring and its estimation is not in the variance).
    conf_level : level of the hazard-ratio confidence limits.
    max_iter, gtol : crr's Newton-Raphson controls (the weighted form is iterated to
        full convergence, at least 30 iterations allowed).
    formula, reference : a right-hand side in R's terms instead of ``covariates``
        (``"arm * diabetes + age"``; a left side is ignored) and reference levels
        (``{"vessel": "LAD"}``), as for :func:`mace_outcomes.cox`.
    start : refused: the model here has no form for (start, stop] rows (delayed entry).

    Returns
    -------
    FineGray

    Notes
    -----
    Fine & Gray (1999): the partial likelihood of the subdistribution hazard with
    subjects who failed from another cause kept in the risk set with weight
    G(t-) / G(T_i-); variance: Fine & Gray's sandwich (crr). Tied failure times are
    handled as Breslow's, like crr.

    Examples
    --------
    >>> import numpy as np, pandas as pd, mace_outcomes as mo
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"time": rng.exponential(10, 200).round(1) + 0.1,
    ...                   "status": rng.integers(0, 3, 200), "arm": rng.integers(0, 2, 200)})
    >>> fit = mo.fine_gray(d, covariates=["arm"])
    >>> list(fit.summary.columns[:3])
    ['coef', 'hr', 'se']
    """
    if start is not None:  # crr has no delayed-entry form to match
        raise InputError(Problem(
            "fine_gray takes one row per subject from time 0, not (start, stop] rows "
            "(delayed entry)", column=start, source="df",
            fix="fit fine_gray on follow-up counted from each subject's time 0"))
    if covariates is None and formula is None:
        covariates = ["group"]
    if isinstance(cause, bool) or not isinstance(cause, (int, np.integer)) or cause < 1:
        raise InputError(Problem(f"cause must be a positive status code, got {cause!r}",
                                 column=status))
    arr = survival_arrays(df, time=time, status=status, weights=weights, source="df")
    dm = design(df, covariates, formula=formula, reference=reference, source="df")
    x, names = dm.x, dm.names
    if not (arr.event == cause).any():
        raise InputError(Problem(f"no events of cause {cause}", column=status))
    order = np.argsort(arr.time, kind="stable")
    t = snap_sorted(arr.time[order])  # noise ties are one time, as R's aeqSurv
    mark = np.where(arr.event[order] == 0, 0, np.where(arr.event[order] == cause, 1, 2))
    x = x[order]
    x = x - x.mean(axis=0)  # centring changes neither the estimates nor the likelihood
    w = np.ones(t.size) if arr.weights is None else arr.weights[order]

    data = prepare(t, mark, x, w, failures_first=weights is not None)
    fail = mark == 1

    def fun(beta, second):
        return fine_gray_sums(beta, data, second)

    if weights is None:
        beta, converged, iters = fine_gray_newton(fun, x.shape[1], gtol=gtol,
                                                  max_iter=max_iter)
    else:
        # coxph's fit is converged to its eps (1e-9 in the log-likelihood); crr's rule
        # stops earlier, so the weighted form is taken to full convergence
        beta, converged, iters = fine_gray_newton(fun, x.shape[1], gtol=1e-13,
                                                  max_iter=max(max_iter, 30), ltol=1e-13)
    sums = fun(beta, True)
    null = fun(np.zeros(x.shape[1]), False).loglik
    naive = np.linalg.inv(sums.info)
    if weights is None:
        vcov = crr_variance(beta, data, sums)
        variance = "crr"
    else:
        vcov = robust_variance(beta, data, sums)
        variance = "robust"
    se = np.sqrt(np.diag(vcov))
    naive_se = np.sqrt(np.diag(naive))
    coef = beta.copy()
    z = beta / se
    pval = 2.0 * stats.norm.sf(np.abs(z))
    q = stats.norm.ppf(0.5 + conf_level / 2.0)
    with np.errstate(over="ignore"):
        lower, upper = np.exp(beta - q * se), np.exp(beta + q * se)
    msgs = []
    if not converged:
        msgs.append(f"Newton-Raphson did not converge in {iters} iterations")
        warnings.warn(msgs[-1], RuntimeWarning, stacklevel=2)
    for j in _diverging(beta, x, fun, sums.loglik):
        msgs.append(f"monotone likelihood: the coefficient of '{names[j]}' diverges to "
                    f"{'-' if beta[j] < 0 else '+'}inf (e.g. a level with no events of cause "
                    f"{cause}); no finite estimate, SE or interval exists (reported as "
                    f"inf/NaN). Report the cumulative incidence per level instead, or merge "
                    f"levels.")
        warnings.warn(msgs[-1], MonotoneLikelihoodWarning, stacklevel=2)
        coef[j] = np.sign(beta[j]) * np.inf
        se[j] = naive_se[j] = np.inf
        z[j] = pval[j] = lower[j] = upper[j] = np.nan
    summary = pd.DataFrame({
        "coef": coef, "hr": np.exp(coef), "se": se, "lower": lower, "upper": upper,
        "p": pval, "z": z, "naive_se": naive_se}, index=pd.Index(names, name="term"))
    p = beta.size
    finite = np.isfinite(coef).all()
    wald = float(beta @ np.linalg.solve(vcov, beta)) if finite else np.nan
    tests = pd.DataFrame({"test": ["pseudo_likelihood_ratio", "wald"],
                          "statistic": [2.0 * (sums.loglik - null), wald], "df": [p, p]})
    tests["p"] = stats.chi2.sf(tests["statistic"], tests["df"])
    return FineGray(summary=summary, loglik=(null, sums.loglik), tests=tests, n=int(t.size),
                    n_event=int(fail.sum()), n_competing=int((mark == 2).sum()),
                    cause=int(cause), weighted=weights is not None, variance=variance,
                    converged=converged, iterations=iters, conf_level=conf_level,
                    warnings=msgs, vcov=pd.DataFrame(vcov, index=names, columns=names),
                    terms=dm.terms)
