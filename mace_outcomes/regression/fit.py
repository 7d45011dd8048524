"""The Cox proportional-hazards model: ``mo.cox``.

Newton-Raphson on the log partial likelihood (Cox 1972) with Efron (1977, the
default, as R) or Breslow (1974) handling of tied event times, case weights,
strata, clusters, and the robust sandwich variance of Lin & Wei (1989) whenever
weights or a cluster are given -- the variance R's ``coxph(..., robust=TRUE)``
and ``cluster=`` report, with Efron ties treated exactly as R's score residuals.
``firth=True`` fits the Firth (1993) penalised partial likelihood of Heinze &
Schemper (2001); see :mod:`mace_outcomes.regression.firth`.

The design (``covariates=[...]`` or ``formula="arm * diabetes + age"``) is built by
the package's one builder, :func:`mace_outcomes._design.design`: categorical columns
are treatment dummies against the first level (or ``reference=``), and every column is
named as R's ``model.matrix`` names it (``armOCT``, ``armOCT:diabetesTRUE``).
``fit.wald_test("ecog")`` and ``fit.anova()`` test a term's columns jointly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._design import design, model_variables
from .._display import ResultMixin, frame_html, frame_text
from .._frames import (
    ColumnArg,
    complete_cases,
    survival_arrays,
    warn_extreme_weights,
    warn_unclustered,
)
from ..errors import InputError, MonotoneLikelihoodWarning, Problem, StatisticalWarning
from . import _kernels as K
from ._wald import TermTests
from .firth import TIES_NOTE, firth_fit

__all__ = ["cox", "CoxResult"]


@dataclass(frozen=True, eq=False)
class CoxResult(TermTests, ResultMixin):
    """A fitted Cox model.

    Attributes
    ----------
    summary : DataFrame indexed by term: coef, hr, se, lower, upper (HR scale), p, z,
        naive_se (model-based SE; equals ``se`` unless ``robust``).
    loglik : (null, fitted) log partial likelihood (penalised when ``firth``).
    tests : DataFrame: test (likelihood_ratio, wald, score), statistic, df, p.
    n, n_event : rows and events (unweighted counts).
    ties : "efron" or "breslow".
    robust : whether ``se`` is the robust sandwich SE.
    firth : whether the Firth penalised likelihood was used.
    warnings : messages of the statistical warnings raised while fitting (``notes``).
    weighted : whether case weights were used.
    dropped : rows left out by ``missing="complete_case"`` (id, variable), else empty.
    """

    summary: pd.DataFrame
    loglik: tuple[float, float]
    tests: pd.DataFrame
    n: int
    n_event: int
    ties: str
    robust: bool
    firth: bool
    warnings: list[str]
    conf_level: float = 0.95
    variance: str = "model"
    iterations: int = 0
    vcov: pd.DataFrame | None = field(default=None, repr=False)
    terms: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _state: dict[str, Any] = field(default_factory=dict, repr=False)
    weighted: bool = False
    dropped: pd.DataFrame | None = field(default=None, repr=False)

    def ph_test(self, transform: str = "km", terms: bool = True) -> pd.DataFrame:
        """Grambsch-Therneau test of proportional hazards (R's ``cox.zph``).

        See :func:`mace_outcomes.regression.ph_test.ph_test`.
        """
        from .ph_test import ph_test

        return ph_test(self, transform=transform, terms=terms)

    def _text_parts(self) -> tuple[str, pd.DataFrame, str]:
        kind = "Firth-penalised Cox model" if self.firth else "Cox proportional hazards model"
        title = (f"{kind} ({self.ties} ties; {self.variance} variance)\n"
                 f"n = {self.n}, events = {self.n_event}")
        cols = ["coef", "hr", "se", "z", "p", "lower", "upper"]
        if self.robust:
            cols.insert(3, "naive_se")
        frame = self.summary[[c for c in cols if c in self.summary.columns]]
        lines = []
        for _, row in self.tests.iterrows():
            lines.append(f"{row['test'].replace('_', ' ')}: {row['statistic']:.4g} on "
                         f"{row['df']:.0f} df, p = {row['p']:.4g}")
        lines += [f"warning: {m}" for m in self.warnings]
        return title, frame, "\n".join(lines)

    def __repr__(self) -> str:
        return frame_text(*self._text_parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._text_parts())


def cox(
    df: pd.DataFrame,
    time: str = "time",
    event: str = "event",
    covariates: list[str] | str | None = None,
    weights: ColumnArg = None,
    cluster: ColumnArg = None,
    strata: ColumnArg = None,
    ties: str = "efron",
    firth: bool = False,
    conf_level: float = 0.95,
    robust: bool | None = None,
    *,
    formula: str | None = None,
    reference: dict | None = None,
    missing: str = "error",
    start: str | None = None,
) -> CoxResult:
    """Fit a Cox proportional-hazards model.

    Parameters
    ----------
    df : DataFrame, one row per subject (or lesion).
    time, event : follow-up time (days) and 0/1 event columns.
    covariates : column names (main effects; default ``["group"]`` when no formula);
        text, categorical and boolean columns become treatment dummies against their
        first (sorted) level, named like R (``armOCT``, ``diabetesTRUE``).
    weights : column of positive case weights (e.g. IPTW). Implies the robust variance.
    cluster : column of cluster ids (e.g. ``patient_id`` for lesion-level data); the
        robust variance sums dfbeta within clusters. Implies the robust variance.
    strata : column whose levels get separate baseline hazards.
    ties : "efron" (default, as R) or "breslow".
    firth : fit the Firth-penalised partial likelihood (Heinze & Schemper 2001) with
        profile penalised-likelihood intervals and penalised LR p-values, as R's
        ``coxphf`` (Breslow ties, as coxphf). Use it when a group has no events.
    conf_level : confidence level of the hazard-ratio intervals.
    robust : force (True) or suppress (False) the robust variance; default: robust
        whenever ``weights`` or ``cluster`` is given, as R.
    formula : instead of ``covariates``, a right-hand side in R's terms:
        ``"arm * diabetes + age"``, ``"factor(ecog) + arm:age"`` (a left side such as
        ``"Surv(time, event) ~"`` is ignored). Parsed, never evaluated; see
        :func:`mace_outcomes._design.design`.
    reference : reference level per categorical covariate, e.g. ``{"vessel": "LAD"}``.
    missing : ``"error"`` (default): a missing time, event, covariate, weight, cluster or
        stratum is an ``InputError`` naming the column, the row ids and the count;
        ``"complete_case"``: fit on the rows with every used value, the others listed in
        ``.dropped`` (id, variable) and counted per variable in ``notes``.
    start : column of entry times for counting-process rows ``(start, stop]`` with
        ``time`` the stop (delayed entry, time-varying covariates, recurrent events, as
        R's ``Surv(start, stop, event)``): a row is at risk at ``t`` when
        ``start < t <= stop``. Works with ties, strata, weights, cluster and Firth.

    Returns
    -------
    CoxResult

    Notes
    -----
    * Estimation: Newton-Raphson with step-halving on the log partial likelihood
      (Cox 1972), Efron (1977) or Breslow (1974) ties, iterated to R's criterion
      ``|1 - l_old/l_new| <= 1e-9`` and, as R, the estimate of that last iterate is
      reported (so results agree with R's to rounding, not merely to 1e-9).
    * Model-based variance: the inverse observed information (``naive_se``).
    * Robust variance (Lin & Wei 1989): ``D'D`` with dfbeta ``D = (w * U) I^{-1}``,
      ``U`` the score residuals with Efron's tie correction as in R, summed within
      clusters when ``cluster`` is given.
    * Tests: likelihood ratio ``2 (l(b) - l(0))``; Wald ``b' V^{-1} b`` with the
      variance used for ``se``; score ``U(0)' I(0)^{-1} U(0)`` (the log-rank test for
      a single binary covariate).
    * Monotone likelihood (a coefficient that diverges: an arm with no events, or every
      event of one arm after the other arm left follow-up): when R's check fires (the
      Newton step still large beside the coefficient once the log-likelihood has
      converged), Newton-Raphson goes on until the log-likelihood stops rising in
      floating point; a finite maximum is then reached (as with one huge weight, whose
      log-likelihood of -1e6 stops R's relative criterion early: that estimate is
      reported, R's to its tighter ``eps``), while a diverging coefficient still moves
      by steps of order one. A :class:`MonotoneLikelihoodWarning` names such a term,
      its coef is reported as +/-inf with se inf and p / lower / upper NaN (no finite
      Wald result exists), and ``firth=True`` is the remedy.
    * Aliased covariates (a column that is an exact linear combination of earlier ones,
      within strata) are detected on the design before fitting: as R's ``NA``, their
      row of ``summary`` is NaN, a :class:`StatisticalWarning` names them and the
      combination, and the other terms are fitted as if they were absent.
    * Weights over 10 times the mean weight of every two-level covariate level (the
      arm) and stratum they belong to raise an
      :class:`~mace_outcomes.errors.ExtremeWeightWarning` (the rule of ``propensity``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import mace_outcomes as mo
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"time": rng.integers(1, 365, 200).astype(float),
    ...                   "event": rng.integers(0, 2, 200),
    ...                   "arm": rng.choice(["IVUS", "OCT"], 200)})
    >>> fit = mo.cox(d, "time", "event", ["arm"])
    >>> list(fit.summary.index)
    ['armOCT']

    References
    ----------
    Cox DR (1972) JRSS B 34:187-220. Breslow NE (1974) Biometrics 30:89-99.
    Efron B (1977) JASA 72:557-565. Lin DY, Wei LJ (1989) JASA 84:1074-1078.
    Firth D (1993) Biometrika 80:27-38. Heinze G, Schemper M (2001) Biometrics 57:114-119.
    """
    from ..scale import is_dask  # a Dask frame: the same fit from partition sums
    if is_dask(df):
        from ..scale.cox import cox as on_dask
        return on_dask(df, time, event, covariates, weights, cluster, strata, ties, firth,
                       conf_level, robust, formula=formula, reference=reference,
                       missing=missing, start=start)
    if covariates is None and formula is None:
        covariates = ["group"]
    if ties not in ("efron", "breslow"):
        raise InputError(Problem(f"ties must be 'efron' or 'breslow', not {ties!r}"))
    if not 0 < conf_level < 1:
        raise InputError(Problem(f"conf_level must be in (0, 1), not {conf_level}"))
    cc = complete_cases(df, [time, event, *model_variables(covariates, formula), weights,
                             cluster, strata, start], missing, source="df")
    df = cc.frame
    arr = survival_arrays(df, time=time, event=event, weights=weights, cluster=cluster,
                          strata=strata, source="df", start=start)
    dm = design(df, covariates, formula=formula, reference=reference, source="df")
    xall, names_all, terms = dm.x, dm.names, dm.terms
    if xall.shape[1] == 0:
        raise InputError(Problem("give at least one covariate"))
    if arr.event.sum() == 0:
        raise InputError(Problem("no events: a Cox model cannot be fitted", column=event))
    msgs: list[str] = list(cc.notes)
    unclustered = warn_unclustered(df, cluster, "cox")
    if unclustered:
        msgs.append(unclustered)
    if arr.weights is not None:
        # the arm is not known here: a weight is extreme when it is extreme within every
        # two-level covariate (the arm among them) and stratum it belongs to
        lo, hi = xall.min(axis=0), xall.max(axis=0)
        cells = [xall[:, j] == hi[j] for j in range(xall.shape[1])  # two-level columns
                 if np.all((xall[:, j] == lo[j]) | (xall[:, j] == hi[j]))]
        cells += [arr.strata] if arr.strata is not None else []
        msg = warn_extreme_weights(df, arr.weights, cells, cell="covariate level or stratum")
        if msg:
            msgs.append(msg)
    keep = _drop_aliased(xall, names_all, arr.strata, msgs, event)
    xraw = xall if keep.all() else xall[:, keep]
    names = [n for n, k in zip(names_all, keep, strict=True) if k]
    if firth and ties != "breslow":  # coxphf's partial likelihood: said, not silent
        msgs.append(TIES_NOTE.format(ties=ties))
        ties = "breslow"
    if robust is None:
        robust = weights is not None or cluster is not None
    w_orig = arr.weights if arr.weights is not None else np.ones(len(arr.time))
    lay = K.make_layout(arr.time, arr.event, arr.strata, ties, start=arr.start)
    center = (xraw.mean(axis=0) if arr.weights is None
              else np.average(xraw, axis=0, weights=w_orig))
    # sorted rows, C order (the kernels read rows), centred in place: one n x p copy
    x = np.take(np.ascontiguousarray(xraw), lay.order, axis=0)
    x -= center
    w = w_orig[lay.order]
    cl = arr.cluster[lay.order] if arr.cluster is not None else None
    state = dict(x=x, w=w, layout=lay, time=arr.time[lay.order], event=arr.event[lay.order],
                 strata=None if arr.strata is None else arr.strata[lay.order], cluster=cl,
                 names=names, counting=arr.start is not None)
    kept_terms = {t: [c for c in cols if c in names] for t, cols in terms.items()}
    kept_terms = {t: cols for t, cols in kept_terms.items() if cols}
    if firth:
        fit = CoxResult(**firth_fit(x=x, w=w, lay=lay, cluster=cl, names=names,
                                    terms=kept_terms, robust=robust, conf_level=conf_level,
                                    n=len(arr.time), n_event=int(arr.event.sum()),
                                    state=state, weighted=weights is not None))
    else:
        fit = _fit_ml(x, w, lay, cl, names, kept_terms, robust, conf_level, state,
                      n=len(arr.time), n_event=int(arr.event.sum()), ties=ties,
                      variance_kind=None if not robust else
                      ("robust (cluster sandwich)" if cluster is not None else
                       "robust sandwich"))
    return replace(_with_aliased(fit, names_all, msgs), weighted=weights is not None,
                   dropped=cc.dropped)


def _drop_aliased(x: np.ndarray, names: list[str], strata, msgs: list[str],
                  event: str) -> np.ndarray:
    """Mask of the design columns to fit: aliased ones (exact linear combinations of
    earlier columns, within strata) are left out, as R's ``coxph`` reports them ``NA``."""
    alias, combo = K.aliased_columns(x, strata)
    if alias.all():
        raise InputError(Problem("every covariate is constant within strata: nothing to fit",
                                 column=event))
    msgs += aliased_messages(names, alias, combo, stacklevel=4)
    return ~alias


def aliased_messages(names: list, alias: np.ndarray, combo: np.ndarray,
                     stacklevel: int) -> list[str]:
    """One warning per aliased column (shared with the Dask fit): the exact combination
    of earlier columns it is, and that it is reported as NaN."""
    msgs = []
    for j in np.flatnonzero(alias):
        used = np.flatnonzero(np.abs(combo[j]) > 1e-8 * max(np.abs(combo[j]).max(), 1e-300))
        what = " ".join(f"{'-' if combo[j, k] < 0 else '+'} {abs(combo[j, k]):.4g} x "
                        f"'{names[k]}'" for k in used).lstrip("+ ").replace("- ", "-", 1)
        what = (what + " (plus a constant)" if len(used)
                else "the strata (it is constant within each stratum)")
        msgs.append(f"aliased covariate: '{names[j]}' is an exact linear combination of "
                    f"{what}; its coefficient is not identifiable and is reported as NaN "
                    "(R's NA), the other terms are fitted without it. Drop or redefine the "
                    "column.")
        warnings.warn(msgs[-1], StatisticalWarning, stacklevel=stacklevel)
    return msgs


def _with_aliased(fit: CoxResult, names_all: list[str], msgs: list[str]) -> CoxResult:
    """Put the aliased terms back as NaN rows (in design order) and the messages of
    the checks made before fitting into ``warnings``."""
    summary = fit.summary.reindex(pd.Index(names_all, name="term"))
    vcov = fit.vcov.reindex(index=names_all, columns=names_all) if fit.vcov is not None \
        else None
    return replace(fit, summary=summary, vcov=vcov, warnings=msgs + list(fit.warnings))


def _divergence(fun, beta, ll, u, imat, iters, x, w):
    """Iterate past R's stopping rule when it leaves a large step, then judge divergence.

    R's rule ``|1 - l_old/l_new| <= 1e-9`` is relative to the size of the log-likelihood,
    which the weights set (one weight of 1e5 makes it -1e6): it can stop where the
    Newton step is still large beside the coefficient, and reading that step as
    divergence (as R's "Loglik converged before variable" check does) mistakes scale
    for divergence. So, if the step is suspect, Newton-Raphson (with step-halving)
    goes on until the log-likelihood stops rising in floating point. A finite maximum
    is then reached quadratically (step ~ 0); under monotone likelihood the
    coefficient keeps moving by a step of order one while the likelihood is flat: that
    coefficient diverges.

    Returns ``(beta, loglik, score, info, iterations, infinite)``.
    """
    def suspect(b, uu, im):
        step = K.solve_sym(im, uu)
        bad = ~np.isfinite(step)
        return bad | ((np.abs(step) > 1e-9) & (np.abs(step) > np.sqrt(1e-9) * np.abs(b)))

    if not suspect(beta, u, imat).any():
        return beta, ll, u, imat, iters, np.zeros(len(beta), bool)
    beta, ll, u, imat, more, _ = K.newton_raphson(fun, beta, eps=1e-15, max_iter=100,
                                                  first=(ll, u, imat))
    iters += more
    step = K.solve_sym(imat, u)
    infinite = ~np.isfinite(step) | (np.abs(step) > 1e-4 * np.maximum(1.0, np.abs(beta)))
    # a coefficient far out on a flat likelihood diverges too (belt and braces)
    var0 = K.inverse_sym(imat)
    sd_x = np.sqrt(np.maximum(np.einsum("ij,ij,i->j", x, x, w) / w.sum(), 1e-300))
    with np.errstate(invalid="ignore"):
        infinite |= (np.abs(beta) * sd_x > 12) & (np.sqrt(np.abs(np.diag(var0)))
                                                  > 1e3 * np.abs(beta))
    return beta, ll, u, imat, iters, infinite


def _fit_ml(x, w, lay, cl, names, terms, robust, conf_level, state, *, n, n_event, ties,
            variance_kind):
    """Maximum partial-likelihood fit on sorted, centred, full-rank arrays."""
    # the rows as one partition of the per-time statistics (regression/_pertime.py)
    place = K.place_layout(lay, state["time"], state["strata"])
    fun = K.cox_objective(x, w, lay, ties, place)
    p = x.shape[1]
    at_zero = fun(np.zeros(p))
    ll0, u0, i0 = at_zero
    beta, ll, u, imat, iters, converged = K.newton_raphson(fun, np.zeros(p), first=at_zero)
    msgs: list[str] = []
    if not converged:
        msgs.append(f"Newton-Raphson did not converge in {iters} iterations")
        warnings.warn(msgs[-1], RuntimeWarning, stacklevel=3)
    beta, ll, u, imat, iters, infinite = _divergence(fun, beta, ll, u, imat, iters, x, w)
    naive = K.inverse_sym(imat)
    if robust:
        resid = K.score_residuals(beta, x, w, lay, place)
        var = K.robust_variance(resid, w, naive, cl)
        variance = variance_kind
    else:
        var = naive
        variance = "model-based"
    summary, tests = wald_tables(names, beta, var, naive, infinite, (ll0, ll), u0, i0,
                                 conf_level, msgs)
    state.update(beta=beta, imat=imat)
    return CoxResult(summary=summary, loglik=(ll0, ll), tests=tests, n=n, n_event=n_event,
                     ties=ties, robust=bool(robust), firth=False, warnings=msgs,
                     conf_level=conf_level, variance=variance, iterations=iters,
                     vcov=pd.DataFrame(var, index=names, columns=names), terms=terms,
                     _state=state)


def wald_tables(names: list, beta: np.ndarray, var: np.ndarray, naive: np.ndarray,
                infinite: np.ndarray, loglik: tuple, u0: np.ndarray, i0: np.ndarray,
                conf_level: float, msgs: list,
                stacklevel: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A Cox fit's summary (coef, hr, se, limits, p, z, naive_se) and its three global
    tests from the fitted pieces; shared by the in-memory and the Dask fits.

    A diverging term (``infinite``) is reported as inf/NaN with a
    MonotoneLikelihoodWarning appended to ``msgs``: no finite Wald result exists.
    """
    p = len(names)
    with np.errstate(invalid="ignore"):  # a diverging term's vanishing information
        se = np.sqrt(np.diag(var))
        naive_se = np.sqrt(np.diag(naive))
    zq = stats.norm.ppf(0.5 + conf_level / 2)
    coef = beta.copy()
    zstat = coef / se
    pval = 2 * stats.norm.sf(np.abs(zstat))
    with np.errstate(over="ignore"):  # a diverging term's limits; replaced by NaN below
        lower = np.exp(coef - zq * se)
        upper = np.exp(coef + zq * se)
    for j in np.flatnonzero(infinite):
        msg = (f"monotone likelihood: the coefficient of '{names[j]}' diverges to "
               f"{'-' if beta[j] < 0 else '+'}inf (e.g. a level with no events, or every "
               f"event of one level after the other level left follow-up); no finite Wald "
               f"estimate, SE or interval exists (reported as inf/NaN). "
               f"Use firth=True for a finite penalised estimate with profile-likelihood "
               f"limits.")
        msgs.append(msg)
        warnings.warn(msg, MonotoneLikelihoodWarning, stacklevel=stacklevel)
        coef[j] = np.sign(beta[j]) * np.inf
        se[j] = naive_se[j] = np.inf
        zstat[j] = pval[j] = lower[j] = upper[j] = np.nan
    summary = pd.DataFrame({"coef": coef, "hr": np.exp(coef), "se": se, "lower": lower,
                            "upper": upper, "p": pval, "z": zstat, "naive_se": naive_se},
                           index=pd.Index(names, name="term"))
    ll0, ll = loglik
    wald = np.nan if infinite.any() else float(beta @ K.solve_sym(var, beta))
    tests = pd.DataFrame({"test": ["likelihood_ratio", "wald", "score"],
                          "statistic": [2 * (ll - ll0), wald, float(u0 @ K.solve_sym(i0, u0))],
                          "df": [p, p, p]})
    tests["p"] = stats.chi2.sf(tests["statistic"], tests["df"])
    return summary, tests
