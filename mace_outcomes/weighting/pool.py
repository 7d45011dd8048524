"""Rubin's rules over the analyses of multiply imputed data sets: ``mo.pool``.

Each of the m completed data sets gives an estimate ``q_i`` with variance ``u_i``; the
pooled estimate is their mean ``qbar``, the total variance ``t = ubar + (1 + 1/m) b``
with ``ubar`` the mean within-imputation variance and ``b`` the between-imputation
variance of the ``q_i`` (Rubin 1987). Intervals and p-values use the t distribution on
the Barnard & Rubin (1999) degrees of freedom, which never exceed the complete-data
``dfcom``; riv, lambda and fmi are reported as R's ``mice::pool`` (mice 3.15) reports
them, which the tests hold to 1e-8.

Each estimate is pooled on the scale where it is close to normal: log hazard ratios,
log ratios, survival on the complementary log-log scale ``g = log(-log S)`` with
``var(g) = se(S)^2 / (S log S)^2`` (delta method), back-transformed ``S = exp(-exp(g))``
(Marshall, Altman, Holder & Royston 2009; Morisot et al. 2015), differences as they are.

References
----------
Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley; 1987.
Barnard J, Rubin DB. Small-sample degrees of freedom with multiple imputation.
Biometrika 1999;86:948-955.
van Buuren S. Flexible Imputation of Missing Data, 2nd ed., section 2.3 and 5.3. 2018.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .._display import ResultMixin, frame_html, frame_text
from ..errors import InputError, Problem

__all__ = ["pool", "Pooled", "rubin", "barnard_rubin"]

_STATS = ["estimate", "se", "lower", "upper", "p", "df", "riv", "lambda", "fmi", "ubar",
          "b", "t", "dfcom"]


# ----------------------------------------------------------------------------- kernels
def barnard_rubin(m: int, b: np.ndarray, t: np.ndarray, dfcom: np.ndarray) -> np.ndarray:
    """Barnard-Rubin (1999) degrees of freedom, as ``mice:::barnard.rubin``.

    ``lambda = (1 + 1/m) b / t`` (floored at 1e-4, as mice, so that b = 0 gives a finite
    df), ``df_old = (m - 1) / lambda^2``, ``df_obs = (dfcom + 1) / (dfcom + 3) dfcom
    (1 - lambda)`` and ``df = df_old df_obs / (df_old + df_obs)``; ``df_old`` alone when
    ``dfcom`` is infinite.
    """
    lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
    dfold = (m - 1) / lam ** 2
    dfcom = np.broadcast_to(np.asarray(dfcom, float), lam.shape)
    finite = np.isfinite(dfcom)
    dc = np.where(finite, dfcom, 1.0)  # placeholder where infinite (df_old is used there)
    dfobs = (dc + 1) / (dc + 3) * dc * (1 - lam)
    return np.where(finite, dfold * dfobs / (dfold + dfobs), dfold)


def rubin(q: np.ndarray, u: np.ndarray, dfcom, conf_level: float = 0.95) -> dict:
    """Rubin's rules on an (m, k) array of estimates ``q`` and variances ``u``.

    Returns arrays of length k: estimate, se, lower, upper, p, df, riv, lambda, fmi,
    ubar, b, t, dfcom. ``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m) b / t``,
    ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``; the p-value is two-sided on
    ``t(max(df, 0.001))`` and the interval ``qbar +- t_{df} sqrt(t)``, as mice.
    """
    q, u = np.atleast_2d(q), np.atleast_2d(u)
    m = q.shape[0]
    qbar, ubar = q.mean(axis=0), u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    dfcom = np.broadcast_to(np.asarray(dfcom, float), qbar.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = barnard_rubin(m, b, t, dfcom)
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
        se = np.sqrt(t)
        p = 2 * stats.t.sf(np.abs(qbar / se), np.maximum(df, 0.001))
    half = stats.t.ppf(0.5 + conf_level / 2, df) * se
    return {"estimate": qbar, "se": se, "lower": qbar - half, "upper": qbar + half, "p": p,
            "df": df, "riv": riv, "lambda": lam, "fmi": fmi, "ubar": ubar, "b": b, "t": t,
            "dfcom": np.array(dfcom, float)}


# ------------------------------------------------------------------------ extraction
class _Parts(NamedTuple):
    """One result's estimates on the pooling scale, ready for :func:`rubin`."""

    terms: list[str]
    q: np.ndarray            # estimates
    u: np.ndarray            # their variances
    dfcom: np.ndarray        # complete-data df per term (inf: large-sample)
    log: np.ndarray          # bool: pooled on the log scale (back-transform exp)
    notes: tuple = ()


def _z(conf_level: float) -> float:
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def _se_from_interval(lower, upper, log, conf_level) -> np.ndarray:
    """SE of a Wald interval ``est +- z se`` (on the log scale where ``log``)."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.where(log, np.log(upper) - np.log(lower), upper - lower)
    return width / (2 * _z(conf_level))


def _regression(res) -> _Parts:
    # Cox and Fine-Gray: mice's complete-data df for coxph, events - coefficients
    s = res.summary
    dfcom = max(res.n_event - len(s), 1)
    k = len(s)
    return _Parts([str(x) for x in s.index], s["coef"].to_numpy(float),
                  s["se"].to_numpy(float) ** 2, np.full(k, float(dfcom)), np.ones(k, bool))


def _comparison(res) -> _Parts:
    tab = res.table
    level = res.conf_level
    terms, q, u, dfcom, log, notes = [], [], [], [], [], []
    events = (tab["events_treated"] + tab["events_control"]).to_numpy(float)
    for col, lo, hi, is_log in (("hr", "lower", "upper", True),
                                ("rmst_diff", "rmst_lower", "rmst_upper", False),
                                ("rd", "rd_lower", "rd_upper", False)):
        se = _se_from_interval(tab[lo], tab[hi], is_log, level)
        est = tab[col].to_numpy(float)
        terms += [f"{a}: {col}" for a in tab["analysis"]]
        q.append(np.log(est) if is_log else est)
        u.append(se ** 2)
        # one Cox term: events - 1 as mice; survival contrasts are large-sample
        dfcom.append(np.maximum(events - 1, 1) if is_log else np.full(len(tab), np.inf))
        log.append(np.full(len(tab), is_log))
    if tab["method"].str.startswith("Firth").any():
        notes.append("Firth rows: the SE is read from the profile-likelihood interval's "
                     "width on the log scale, an approximation to its Wald SE")
    return _Parts(terms, np.concatenate(q), np.concatenate(u), np.concatenate(dfcom),
                  np.concatenate(log), tuple(notes))


_RATIOS = ("risk ratio", "odds ratio")


def _outcome(res) -> _Parts:
    tab = res.table
    level = getattr(res, "conf_level", 0.95)
    log = tab["measure"].isin(_RATIOS).to_numpy()
    est = tab["estimate"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(log, np.log(est), est)
    se = _se_from_interval(tab["lower"], tab["upper"], log, level)
    # lm(outcome ~ treatment)'s residual df, as mice takes it for a linear model
    n = (tab["n_treated"] + tab["n_control"]).to_numpy(float)
    notes = ["dfcom = n - 2 for every row (the adjusted row's covariate columns are not "
             "subtracted; give dfcom= to set it)"]
    exact = tab["method"].str.contains("t-test|Mann-Whitney", regex=True)
    if exact.any():
        notes.append("crude rows with a t or Hodges-Lehmann interval: the SE is read from "
                     "the interval's width as if it were a normal (Wald) interval")
    terms = [f"{a}: {mm}" for a, mm in zip(tab["analysis"], tab["measure"], strict=True)]
    return _Parts(terms, q, se ** 2, np.maximum(n - 2, 1), log, tuple(notes))


def _survival(frame: pd.DataFrame) -> _Parts:
    s, se = frame["surv"].to_numpy(float), frame["std_err"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.log(-np.log(s))
        u = (se / (s * np.log(s))) ** 2
    times = frame["time"].to_numpy(float)
    groups = frame["group"] if "group" in frame.columns else ["all"] * len(frame)
    terms = [f"{g} at {t:g}" for g, t in zip(groups, times, strict=True)]
    notes = []
    if not np.all(np.isfinite(q) & np.isfinite(u)):
        notes.append("survival of 0 or 1 has no complementary log-log value: not pooled")
    k = len(frame)
    return _Parts(terms, q, u, np.full(k, np.inf), np.zeros(k, bool), tuple(notes))


def _rmst(res) -> _Parts:
    tab, c = res.table, res.contrast
    log = np.concatenate([np.zeros(len(tab), bool), ~c.index.str.startswith("difference")])
    est = np.concatenate([tab["rmst"].to_numpy(float), c["estimate"].to_numpy(float)])
    se = np.concatenate([tab["se"].to_numpy(float), c["se"].to_numpy(float)])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(log, np.log(est), est)
    terms = [f"rmst {g}" for g in tab["group"]] + [str(x) for x in c.index]
    return _Parts(terms, q, se ** 2, np.full(len(terms), np.inf), log)


def _generic(frame: pd.DataFrame) -> _Parts:
    terms = frame["term"] if "term" in frame.columns else frame.index
    k = len(frame)
    return _Parts([str(x) for x in terms], frame["estimate"].to_numpy(float),
                  frame["se"].to_numpy(float) ** 2, np.full(k, np.inf), np.zeros(k, bool))


_COMPARISON_COLUMNS = {"analysis", "method", "hr", "lower", "upper", "rmst_diff",
                       "rmst_lower", "rmst_upper", "rd", "rd_lower", "rd_upper",
                       "events_treated", "events_control"}
_OUTCOME_COLUMNS = {"analysis", "measure", "estimate", "lower", "upper", "method",
                    "n_treated", "n_control"}


def _kind(res) -> str:
    from ..regression.fine_gray import FineGray
    from ..regression.fit import CoxResult
    from ..survival.rmst import RMSTResult

    for cls, kind in ((CoxResult, "cox"), (FineGray, "fine_gray"), (RMSTResult, "rmst")):
        if isinstance(res, cls):
            return kind
    # compare_arms's result, known by its table (compare.py hands imputations to pool)
    table = getattr(res, "table", None)
    if isinstance(table, pd.DataFrame) and _COMPARISON_COLUMNS <= set(table.columns):
        return "comparison"
    # compare_outcome's result, known by its table (outcomes/ lies downstream of weighting/)
    if isinstance(table, pd.DataFrame) and _OUTCOME_COLUMNS <= set(table.columns):
        return "outcome"
    if isinstance(res, pd.DataFrame) and {"surv", "std_err", "time"} <= set(res.columns):
        return "survival"
    if isinstance(res, pd.DataFrame) and {"estimate", "se"} <= set(res.columns):
        return "estimates"
    return type(res).__name__


_EXTRACT = {"cox": _regression, "fine_gray": _regression, "comparison": _comparison,
            "outcome": _outcome, "survival": _survival, "rmst": _rmst, "estimates": _generic}

_SCALE = {"cox": "log hazard ratio", "fine_gray": "log subdistribution hazard ratio",
          "comparison": "log hazard ratio (hr rows); difference (rmst_diff, rd rows)",
          "outcome": "log ratio (ratio rows); difference (other rows)",
          "survival": "complementary log-log survival, log(-log S)",
          "rmst": "restricted mean (rmst rows), difference, log ratio (ratio rows)",
          "estimates": "as given"}


def _parts(results: Sequence) -> tuple[str, list[_Parts]]:
    if isinstance(results, (pd.DataFrame, str)) or not isinstance(results, Sequence):
        raise InputError(Problem("pool() takes a list of per-imputation results",
                                 source="results", fix="pass [fit_1, ..., fit_m], one "
                                 "result per completed data set"))
    problems = []
    if len(results) < 2:
        problems.append(Problem(f"{len(results)} result(s): pooling needs m >= 2",
                                source="results", fix="fit the analysis on every "
                                "completed data set of the imputation"))
    kinds = [_kind(r) for r in results]
    unknown = sorted({k for k in kinds if k not in _EXTRACT})
    if unknown:
        problems.append(Problem(f"cannot pool results of type {unknown}", source="results",
                                fix="pool Cox or Fine-Gray fits, compare_arms / "
                                "compare_outcome results, kaplan_meier(...).at(horizon) "
                                "frames, rmst results, or frames of term, estimate, se"))
    elif len(set(kinds)) > 1:
        problems.append(Problem(f"results of different kinds {sorted(set(kinds))}",
                                source="results", fix="pool one analysis at a time"))
    if problems:
        raise InputError(problems)
    parts = [_EXTRACT[kinds[0]](r) for r in results]
    differ = [i + 1 for i, p in enumerate(parts) if p.terms != parts[0].terms]
    if differ:
        raise InputError(Problem(
            f"the terms differ from those of imputation 1 {parts[0].terms}",
            source="results", rows=tuple(differ),
            fix="fit the same model (same covariates, levels and reference) on every "
                "completed data set"))
    return kinds[0], parts


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class Pooled(ResultMixin):
    """Estimates pooled over m imputations by Rubin's rules.

    Attributes
    ----------
    summary : DataFrame indexed by term: estimate, se, lower, upper, p, df, riv, lambda,
        fmi, ubar, b, t, dfcom on the pooling scale (see ``scale``); hazard-ratio rows add
        hr, hr_lower, hr_upper; survival rows surv, surv_lower, surv_upper; other ratio
        rows ratio, ratio_lower, ratio_upper.
    m : number of imputations; dfcom : complete-data df (of the first term; the column
        holds each term's); kind : what was pooled; scale : the pooling scale.
    conf_level, notes, weighted : as every result (weighted: the analyses were).
    per_imputation : the m results pooled, when an analysis ran on an Imputations.
    """

    summary: pd.DataFrame
    m: int
    dfcom: float
    kind: str
    scale: str
    conf_level: float = 0.95
    weighted: bool = False
    notes: list[str] = field(default_factory=list)
    per_imputation: list = field(default_factory=list, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per term (``term`` first), the columns of ``summary``."""
        return self.summary.reset_index()

    def _parts(self) -> tuple[str, pd.DataFrame, str]:
        title = f"Pooled over m = {self.m} imputations (Rubin's rules, Barnard-Rubin df)"
        foot = [f"scale: {self.scale}; {self.conf_level:.0%} intervals on t(df)"]
        foot += [f"note: {n}" for n in self.notes]
        cols = [c for c in ("estimate", "se", "lower", "upper", "p", "df", "fmi", "hr",
                            "hr_lower", "hr_upper", "surv", "surv_lower", "surv_upper",
                            "ratio", "ratio_lower", "ratio_upper")
                if c in self.summary.columns]
        return title, self.summary[cols], "\n".join(foot)

    def __repr__(self) -> str:
        return frame_text(*self._parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._parts())


def _back_transformed(kind: str, out: pd.DataFrame, log: np.ndarray) -> pd.DataFrame:
    """Estimates and limits on the reader's scale next to the pooling scale."""
    est, lo, hi = (out[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    with np.errstate(over="ignore"):  # a limit on < 1 df may overflow: it is then inf
        return _on_reader_scale(kind, out, log, est, lo, hi)


def _on_reader_scale(kind, out, log, est, lo, hi) -> pd.DataFrame:
    if kind == "survival":  # S = exp(-exp(g)) decreases in g: the limits swap
        return out.assign(surv=np.exp(-np.exp(est)), surv_lower=np.exp(-np.exp(hi)),
                          surv_upper=np.exp(-np.exp(lo)))
    if not log.any():
        return out
    name = "hr" if kind in ("cox", "fine_gray", "comparison") else "ratio"
    nan = np.nan
    return out.assign(**{name: np.where(log, np.exp(est), nan),
                         f"{name}_lower": np.where(log, np.exp(lo), nan),
                         f"{name}_upper": np.where(log, np.exp(hi), nan)})


def pool(results: Sequence, dfcom: float | None = None,
         conf_level: float = 0.95) -> Pooled:
    """Pool per-imputation results by Rubin's rules with Barnard-Rubin df (``mice::pool``).

    Parameters
    ----------
    results : one result per completed data set, all of one kind: :class:`CoxResult`
        (per term; adds hr, hr_lower, hr_upper), Fine-Gray fits, ``compare_arms`` results
        (per analysis row: log HR, RMST difference, risk difference), ``compare_outcome``
        results (per analysis and measure; ratios on the log scale),
        ``kaplan_meier(...).at(horizon)`` frames (survival on the complementary log-log
        scale, back-transformed), ``rmst`` results (per-group RMST, the difference, log
        ratios), or frames with columns term, estimate, se.
    dfcom : complete-data degrees of freedom for every term (at least 1, as mice).
        Default as ``mice::pool``: events - coefficients for Cox and Fine-Gray (events - 1
        for a compare_arms HR), n - 2 for compare_outcome rows, infinite (large-sample)
        for survival, RMST, risk differences and plain frames.
    conf_level : level of the pooled intervals (t distribution on the pooled df).

    Returns
    -------
    Pooled with ``.summary`` / ``.table``: term, estimate, se, lower, upper, p, df, riv,
    lambda, fmi, ubar, b, t, dfcom (and the back-transformed columns), ``m``, ``dfcom``.
    """
    kind, parts = _parts(results)
    q = np.vstack([p.q for p in parts])
    u = np.vstack([p.u for p in parts])
    dc = parts[0].dfcom if dfcom is None else np.full(len(parts[0].terms),
                                                      float(max(dfcom, 1)))
    out = pd.DataFrame(rubin(q, u, dc, conf_level),
                       index=pd.Index(parts[0].terms, name="term"))[_STATS]
    out = _back_transformed(kind, out, parts[0].log)
    notes = list(dict.fromkeys(n for p in parts for n in p.notes))
    if kind == "outcome" and dfcom is not None:
        notes = [n for n in notes if not n.startswith("dfcom")]
    return Pooled(summary=out, m=len(parts), dfcom=float(dc[0]) if len(dc) else np.nan,
                  kind=kind, scale=_SCALE[kind], conf_level=conf_level,
                  weighted=any(bool(getattr(r, "weighted", False)) for r in results),
                  notes=notes)
