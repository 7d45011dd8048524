"""One estimation of two arms: the numbers every comparison and outcome table reports.

:func:`estimate_arms` fits, for one endpoint and one analysis (crude, or weighted by
given weights), the Kaplan-Meier curves per arm, the log-rank test, the Cox hazard
ratio of the treated arm and the RMST difference. :func:`mace_outcomes.compare_arms`
calls it once per analysis (crude, IPTW, overlap) and :func:`mace_outcomes.outcome_table`
once per endpoint and column (crude, weighted), so the two agree to the last digit on
the same data; each formats the result in its own words.

The rules, stated once:

* Kaplan-Meier: Greenwood variance, or the robust infinitesimal-jackknife variance when
  weighted or clustered (``mo.kaplan_meier``'s default).
* Log-rank: the ordinary test; weighted, the IPTW test (Xie & Liu 2005); clustered, the
  robust score test (Lin & Wei 1989).
* Cox (Efron ties) of the treated-arm indicator; robust (sandwich) SE when weighted or
  clustered.
* Firth-penalised Cox (Heinze & Schemper 2001) with profile-likelihood limits and
  penalised likelihood-ratio p when an arm has no events, or when the Cox likelihood is
  monotone although both arms have events (``mo.cox`` detects the diverging
  coefficient; a :class:`~mace_outcomes.errors.MonotoneLikelihoodWarning` says so). The
  maximum-likelihood HR is then 0 or infinite and the sandwich degenerate, so the Firth
  fit is read model-based, without cluster; ``mo.cox`` scales given weights to their
  Kish effective sample size first.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, MonotoneLikelihoodWarning, StatisticalWarning

# Column names of the frame every fit reads (the callers' own names never reach a kernel,
# so two callers with the same data run the very same computation).
_T, _E, _ARM, _Z, _W, _C = "time", "event", "arm", "_treated", "_weight", "_cluster"


@dataclass(frozen=True, eq=False)
class ArmEstimate:
    """Everything :func:`estimate_arms` fitted for one endpoint and one analysis.

    Attributes
    ----------
    curves : KaplanMeier, one curve per arm label.
    at_horizon : curves at ``horizon``, indexed by arm label (surv, std_err, lower,
        upper, n_risk).
    logrank : LogrankResult, or None when there are no events.
    hr, lower, upper, p : hazard ratio treated vs control (NaN without events).
    model : ``"cox"``, ``"firth"`` or ``"none"`` (no events).
    reason : why Firth: ``"no events"``, ``"monotone"`` (both arms have events),
        ``"requested"``; ``""`` otherwise.
    zero_arms : arm labels without events.
    robust : whether the HR's SE is the sandwich (weighted or clustered Cox).
    weighted : whether weights were given.
    n, events : rows and events per arm label (unweighted).
    rmst : the RMST difference row (estimate, lower, upper, ...) or None.
    messages : statistical caveats raised while fitting, as text.
    warnings : the caught StatisticalWarning objects of the Cox fit (callers re-emit or
        note them).
    """

    curves: object
    at_horizon: pd.DataFrame
    logrank: object
    hr: float
    lower: float
    upper: float
    p: float
    model: str
    reason: str
    zero_arms: list
    robust: bool
    weighted: bool
    n: dict
    events: dict
    rmst: pd.Series | None = None
    messages: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def logrank_p(self) -> float:
        return np.nan if self.logrank is None else float(self.logrank.p_value)


def _frame(df: pd.DataFrame, time: str, event: str, arm: str, treated,
           weights: str | None, cluster: str | None) -> pd.DataFrame:
    labels = df[arm].to_numpy()
    cols = {_T: df[time].to_numpy(dtype=float), _E: df[event].to_numpy(dtype=float).astype(int),
            _ARM: labels, _Z: (labels == treated).astype(np.int64)}
    if weights is not None:
        cols[_W] = df[weights].to_numpy(dtype=float)
    if cluster is not None:
        cols[_C] = df[cluster].to_numpy()
    return pd.DataFrame(cols, index=df.index)


def _cox(d: pd.DataFrame, weighted: bool, cluster: bool, firth: bool, conf_level: float):
    """The Cox (or Firth) fit of the arm indicator and the statistical warnings it raised."""
    from ..regression.fit import cox

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        fit = cox(d, time=_T, event=_E, covariates=[_Z], weights=_W if weighted else None,
                  cluster=_C if (cluster and not firth) else None, firth=firth,
                  conf_level=conf_level, robust=False if firth else None)
    return fit.summary.loc[_Z], [w for w in caught if issubclass(w.category, StatisticalWarning)]


def _hazard_ratio(d: pd.DataFrame, weighted: bool, cluster: bool, firth: bool | str,
                  zero: list, conf_level: float, term: str) -> tuple[dict, list, list]:
    """HR with the Firth switch; returns (values and model), messages, caught warnings."""
    if int(d[_E].sum()) == 0:
        return dict(hr=np.nan, lower=np.nan, upper=np.nan, p=np.nan, model="none",
                    reason=""), [], []
    use_firth = bool(zero) if firth == "auto" else bool(firth)
    reason = ("no events" if zero else "requested") if use_firth else ""
    row, caught = _cox(d, weighted, cluster, use_firth, conf_level)
    msgs = []
    monotone = (firth == "auto" and not use_firth
                and any(issubclass(w.category, MonotoneLikelihoodWarning) for w in caught))
    if monotone:
        msg = (f"monotone likelihood: the Cox hazard ratio of {term} is "
               f"{'0' if row['hr'] == 0 else 'infinite'} although both arms have events "
               "(e.g. every event of one arm after the other arm left follow-up); the "
               "Firth penalised Cox model with profile-likelihood limits is used instead")
        warnings.warn(msg, MonotoneLikelihoodWarning, stacklevel=4)
        caught = [w for w in caught if not issubclass(w.category, MonotoneLikelihoodWarning)]
        msgs.append(msg)
        row, more = _cox(d, weighted, cluster, True, conf_level)
        caught += more
        use_firth, reason = True, "monotone"
    msgs += [str(w.message) for w in caught]
    out = dict(hr=float(row["hr"]), lower=float(row["lower"]), upper=float(row["upper"]),
               p=float(row["p"]), model="firth" if use_firth else "cox", reason=reason)
    return out, msgs, caught


def _rmst(d: pd.DataFrame, weighted: bool, cluster: bool, tau: float,
          conf_level: float) -> tuple[pd.Series | None, str]:
    from ..survival.rmst import rmst

    try:
        with np.errstate(all="ignore"):  # an arm without events has an RMTL of 0
            # grouped by the 0/1 indicator: the difference reads treated minus control
            res = rmst(d, time=_T, event=_E, group=_Z, horizon=tau,
                       weights=_W if weighted else None,
                       cluster=_C if cluster else None, conf_level=conf_level)
        return res.contrast.loc["difference"], ""
    except InputError as exc:
        return None, f"RMST not estimable to tau={tau:g} ({exc.problems[0].reason})"


def estimate_arms(df: pd.DataFrame, *, arm: str, treated, control, time: str = "time",
                  event: str = "event", weights: str | None = None,
                  cluster: str | None = None, horizon: float = 365,
                  tau: float | None = None, conf_level: float = 0.95,
                  conf_type: str = "log-log", firth: bool | str = "auto",
                  term: str = "arm") -> ArmEstimate:
    """Kaplan-Meier, log-rank, Cox (or Firth) and RMST of two arms: one analysis.

    Parameters
    ----------
    df : rows of exactly the two arms ``treated`` and ``control`` in column ``arm``,
        validated by the caller (``survival_arrays``).
    weights, cluster : column names, or None.
    horizon : days at which the curves are read (``at_horizon``).
    tau : RMST truncation; None skips the RMST.
    firth : ``"auto"`` (the rules of the module), ``True`` (always Firth) or ``False``
        (never; an arm without events then gives a non-finite HR).
    term : how messages name the arm contrast.
    """
    from ..survival.kaplan_meier import kaplan_meier
    from ..survival.logrank import logrank

    d = _frame(df, time, event, arm, treated, weights, cluster)
    weighted, clustered = weights is not None, cluster is not None
    w_col, c_col = (_W if weighted else None), (_C if clustered else None)
    curves = kaplan_meier(d, time=_T, event=_E, group=_ARM, weights=w_col, cluster=c_col,
                          conf_type=conf_type, conf_level=conf_level)
    at = curves.at(horizon).set_index("group")
    labels = d[_ARM].to_numpy()
    ev = d[_E].to_numpy()
    n = {a: int((labels == a).sum()) for a in (treated, control)}
    events = {a: int(ev[labels == a].sum()) for a in (treated, control)}
    zero = [a for a in (treated, control) if events[a] == 0]
    lr = (logrank(d, time=_T, event=_E, group=_ARM, weights=w_col, cluster=c_col)
          if ev.sum() > 0 else None)
    hr, msgs, caught = _hazard_ratio(d, weighted, clustered, firth, zero, conf_level, term)
    rm = None
    if tau is not None:
        rm, note = _rmst(d, weighted, clustered, tau, conf_level)
        msgs += [note] if note else []
    model, reason = hr.pop("model"), hr.pop("reason")
    return ArmEstimate(curves=curves, at_horizon=at, logrank=lr, **hr, model=model,
                       reason=reason, zero_arms=zero,
                       robust=model == "cox" and (weighted or clustered), weighted=weighted,
                       n=n, events=events, rmst=rm, messages=msgs, warnings=caught)
