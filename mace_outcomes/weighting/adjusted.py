"""Adjusted (standardised) absolute risks per arm, as R's ``riskRegression::ate``.

The g-formula standardises the Cox model's predicted risk over the whole sample, once
with every patient set to each arm:

    risk_a(t) = 1/n sum_j F(t | a, X_j),   F(t | a, X) = 1 - exp(-L0(t) exp(b'x(a, X)))

with the Breslow baseline cumulative hazard ``L0``. Its standard error comes from the
influence function of the estimator, including the uncertainty of ``b`` and ``L0``
(Ozenne et al. 2020, ``known.nuisance = FALSE`` in ``ate``); on the dfbeta scale
(variance = sum of squares):

    D_i(t) = (F_i(t) - risk(t)) / n + A(t) D_L0,i(t) + B(t)' D_b,i
    D_b,i   = U_i V                         (score residual times the model variance)
    D_L0,i  = int_0^t dM_i / S0 - H(t)' D_b,i,   H(t) = int_0^t xbar dL0

where A(t) = mean_j S_j(t) exp(eta_j) and B(t) = mean_j S_j(t) exp(eta_j) L0(t) x_j.
IPTW (inverse probability of treatment and of censoring weights) is in
``_adjusted_iptw.py``, the augmented estimator (AIPTW) in ``_aipw.py``; simultaneous
bands over time resample the influence functions with normal multipliers.

References
----------
Ozenne BMH, Scheike TH, Staerk L, Gerds TA. On the estimation of average treatment
effects with right-censored time to event outcome and competing risks. Biom J
2020;62:751-63.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._design import design
from .._display import ResultMixin, frame_html, frame_text
from .._frames import arm_order, complete_cases
from ..errors import InputError, Problem, StatisticalWarning
from ..regression.fit import cox
from ._adjusted_iptw import iptw_kernel
from ._aipw import aipw_kernel
from ._cox_influence import _breslow, coefficient_influence
from .propensity import propensity

METHODS = ("gformula", "iptw", "aipw")


@dataclass(frozen=True, eq=False)
class AdjustedRisk(ResultMixin):
    """Standardised absolute risks per arm (see :func:`adjusted_risk`).

    Attributes
    ----------
    table : method, time, arm, risk, se, lower, upper (one row per method, time, arm);
        with ``band``: band_lower, band_upper and band_quantile (the critical value).
    contrast : method, time, measure ("difference" treated - reference, "ratio"
        treated / reference), estimate, se, lower, upper, p (Wald, on the natural scale
        as ``ate``; the ratio's p tests ratio = 1); with ``band`` the same band columns.
    treated, reference : the arm labels; ``conf_level``; ``n`` rows used.
    band, n_sim, seed : the simultaneous-band settings (``n_sim`` 0 without a band).
    curve : True when ``times`` was the grid of event times (a standardised curve).
    """

    table: pd.DataFrame
    contrast: pd.DataFrame
    treated: object
    reference: object
    n: int
    conf_level: float = 0.95
    time_unit: str = "days"
    weighted: bool = False
    band: bool = False
    n_sim: int = 0
    seed: int | None = None
    curve: bool = False
    notes: list = field(default_factory=list)

    def _text_parts(self) -> tuple[str, pd.DataFrame, str]:
        title = (f"Adjusted absolute risks ({', '.join(self.table['method'].unique())}), "
                 f"{self.treated} vs {self.reference}, n = {self.n}")
        return title, self.table, "\n".join(self.notes)

    def __repr__(self) -> str:
        return frame_text(*self._text_parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._text_parts())

    def plot(self, **kwargs):
        """Standardised risk curves per arm (see ``plots.adjusted.plot_adjusted_risk``)."""
        from ..plots.adjusted import plot_adjusted_risk

        return plot_adjusted_risk(self, **kwargs)


def adjusted_risk(df: pd.DataFrame, time: str = "time", event: str = "event",
                  treatment: str = "arm", covariates: list[str] | None = None,
                  times=(365,), method: str = "aipw", *, treated=None,
                  estimand: str = "ATE", ties: str = "breslow", conf_level: float = 0.95,
                  band: bool = False, n_sim: int = 1000, seed: int | None = None,
                  missing: str = "error") -> AdjustedRisk:
    """Standardised (adjusted) absolute risks per arm at ``times``, as ``riskRegression::ate``.

    Parameters
    ----------
    df : one row per patient.
    time, event : follow-up (days) and 0/1 event columns.
    treatment : the column with the two arms; ``treated`` names the treated arm (default:
        the package's one rule, see :func:`mace_outcomes._frames.arm_order`).
    covariates : confounders, entered as main effects in every nuisance model.
    times : horizons (days) at which to report risks; ``None``: every distinct event time
        (the risks of all three methods change only there), for standardised curves.
    method : ``"aipw"`` (default), ``"gformula"``, ``"iptw"``, or a list of them.

        - ``"gformula"``: Cox outcome model on the arm and ``covariates`` (Breslow
          baseline hazard), predictions averaged over the whole sample per arm;
          ``ate(coxph, estimator = "GFORMULA")``.
        - ``"iptw"``: logistic propensity model on ``covariates``, censoring weights from
          a Cox model for censoring (``Surv(time, event == 0)``) on the arm and
          ``covariates``; ``ate(estimator = "IPTW", treatment = glm, censor = coxph)``.
        - ``"aipw"``: the augmented estimator combining the three models above, with the
          augmentation over the censoring martingale (``ate``'s "AIPTW,AIPCW"): consistent
          when the outcome model, or the propensity and censoring models, are right.
          ``ate(coxph, treatment = glm, censor = coxph, estimator = "AIPTW")``.

        Standard errors come from influence functions that include the estimation of every
        nuisance model (``ate``'s ``known.nuisance = FALSE``).
    estimand : "ATE" (the whole sample standardised to each arm; the one ``ate`` gives).
    ties : the Cox models' ties ("breslow", default; "efron"). With Breslow ties and
        distinct times the risks and SEs equal ``ate``'s. With tied event times ``ate``'s
        coefficient influence (``iidCox``) differs from R's dfbeta, which ours equals;
        with tied censoring times ``ate`` 2022.11.28 repeats the tied time in its AIPTW
        augmentation sum, where ours sums over the distinct censoring times.
    conf_level : pointwise and band coverage. Limits are clipped as ``ate`` clips them:
        risks to [0, 1], differences to [-1, 1], ratios at 0.
    band : add simultaneous confidence bands over ``times`` (``ate(band = TRUE)``): the
        ``conf_level`` quantile of sup_t |sum_i xi_i IF_i(t) / se(t)| over ``n_sim``
        draws of standard normal multipliers xi (``seed``), per method and arm (and per
        contrast), over the times with se > 0.
    missing : ``"error"`` or ``"complete_case"``.

    Returns
    -------
    AdjustedRisk with ``.table`` (per arm) and ``.contrast`` (difference and ratio).
    """
    methods = [method] if isinstance(method, str) else list(method)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise InputError(Problem(
            f"method {bad} is not available; choose from {list(METHODS)}", column="method",
            source="adjusted_risk",
            fix=f"use one of {list(METHODS)}"))
    if estimand != "ATE":
        raise InputError(Problem(f"estimand {estimand!r} is not available", column="estimand",
                                 source="adjusted_risk", fix="use estimand='ATE'"))
    if band and int(n_sim) < 1:
        raise InputError(Problem(f"n_sim = {n_sim} draws cannot give a band", column="n_sim",
                                 source="adjusted_risk", fix="use n_sim >= 1000"))
    covariates = list(covariates or [])
    cc = complete_cases(df, [time, event, treatment, *covariates], missing,
                        source="adjusted_risk")
    data = cc.frame
    arms = arm_order(data[treatment], treated=treated, source="adjusted_risk",
                     column=treatment)
    if len(arms) != 2:
        raise InputError(Problem(f"needs exactly two arms, found {arms}", column=treatment,
                                 source="adjusted_risk"))
    curve = times is None
    times = _horizons(data, time, event, times)
    zcrit = stats.norm.ppf(0.5 + conf_level / 2)
    rng = np.random.default_rng(seed) if band else None
    tables, contrasts = [], []
    caught_notes = []
    for m in dict.fromkeys(methods):
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", StatisticalWarning)
                risk, infl = _KERNELS[m](data, time, event, treatment, covariates, arms,
                                         times, ties)
        finally:                        # passed on (before any error), and noted
            for w in caught:
                warnings.warn(w.message, w.category, stacklevel=2)
                if issubclass(w.category, StatisticalWarning):
                    caught_notes.append(f"{m}: {w.message}")
        tables.append(_risk_rows(m, risk, infl, times, arms, zcrit, rng, n_sim, conf_level))
        contrasts.append(_contrasts(m, risk, infl, times, zcrit, rng, n_sim, conf_level))
    notes = list(cc.notes) + list(dict.fromkeys(caught_notes))
    if "iptw" in methods or "aipw" in methods:
        notes.append("censoring from a Cox model (Breslow) on the arm and covariates; "
                     "propensity from a logistic model on the covariates")
    if band:
        notes.append(f"simultaneous {conf_level:.0%} bands over {len(times)} times: "
                     f"{n_sim} multiplier draws, seed {seed}")
    return AdjustedRisk(pd.concat(tables, ignore_index=True),
                        pd.concat(contrasts, ignore_index=True), arms[0], arms[1],
                        len(data), conf_level, band=bool(band),
                        n_sim=int(n_sim) if band else 0, seed=seed, curve=curve,
                        notes=notes)


def _horizons(data: pd.DataFrame, time: str, event: str, times) -> np.ndarray:
    """The requested horizons, or every distinct event time for ``times=None``."""
    if times is None:
        out = np.unique(data.loc[data[event].to_numpy(float) > 0, time].to_numpy(float))
        if out.size == 0:
            raise InputError(Problem("no events: there is no curve to standardise",
                                     column=event, source="adjusted_risk",
                                     fix="check the event column"))
        return out
    out = np.atleast_1d(np.asarray(times, dtype=float))
    if out.size == 0 or not np.isfinite(out).all() or (out < 0).any():
        raise InputError(Problem(f"times {list(out)} must be finite, >= 0 and not empty",
                                 column="times", source="adjusted_risk",
                                 fix="give horizons in days, e.g. times=[365]"))
    return out


def _cox_inputs(data, time, event, treatment, covariates, arms, ties, model="outcome"):
    """The Cox design (treated indicator first) and the fit's coef and vcov; ``model``
    ("outcome" or "censoring") names the model in the error for an infinite coefficient."""
    terms, reference = [treatment, *covariates], {treatment: arms[1]}
    x = design(data, terms, reference=reference, source="adjusted_risk").x
    fit = cox(data, time, event, terms, ties=ties, reference=reference)
    coef = fit.summary["coef"]
    bad = coef.index[~np.isfinite(coef.to_numpy(float))].tolist()
    if bad:
        raise InputError(Problem(
            f"the {model} Cox model's coefficient of {', '.join(map(str, bad))} is "
            "infinite (monotone "
            f"likelihood: a level with no {'censored rows' if model == 'censoring' else 'events'})",
            column=event if model == "outcome" else None, source="adjusted_risk",
            fix="merge sparse levels of the covariate or leave it out"
                + ("; or use method='gformula', which needs no censoring model"
                   if model == "censoring" else "")))
    return x, coef.to_numpy(), fit.vcov.to_numpy()


def _gformula(data, time, event, treatment, covariates, arms, times, ties):
    x, beta, vcov = _cox_inputs(data, time, event, treatment, covariates, arms, ties)
    return gformula_kernel(data[time].to_numpy(float), data[event].to_numpy(float), x,
                           times, beta, vcov)


def _iptw(data, time, event, treatment, covariates, arms, times, ties):
    if not (data[event].to_numpy(float) == 0).any():
        raise InputError(Problem("no censored rows: the IPTW censoring model cannot be "
                                 "fitted", column=event, source="adjusted_risk",
                                 fix="use method='aipw' or 'gformula' (no censoring "
                                     "weights are needed)"))
    censored = _censoring_column(data, event)
    d_c = data.assign(**{censored: 1 - data[event].to_numpy(float)})
    x, beta_c, vcov_c = _cox_inputs(d_c, time, censored, treatment, covariates, arms, ties,
                                    "censoring")
    ps = propensity(data, treatment, covariates, treated=arms[0])
    z = np.column_stack([np.ones(len(data)), ps.design.to_numpy(float)])
    return iptw_kernel(data[time].to_numpy(float), data[event].to_numpy(float),
                       (data[treatment] == arms[0]).to_numpy(float), x, z,
                       ps.scores.to_numpy(float), beta_c, vcov_c, times)


def _aipw(data, time, event, treatment, covariates, arms, times, ties):
    x, beta, vcov = _cox_inputs(data, time, event, treatment, covariates, arms, ties)
    censored = _censoring_column(data, event)
    d_c = data.assign(**{censored: 1 - data[event].to_numpy(float)})
    xc, beta_c, vcov_c = x, None, None        # no censored rows: no censoring model
    if d_c[censored].any():
        xc, beta_c, vcov_c = _cox_inputs(d_c, time, censored, treatment, covariates, arms,
                                         ties, "censoring")
    ps = propensity(data, treatment, covariates, treated=arms[0])
    z = np.column_stack([np.ones(len(data)), ps.design.to_numpy(float)])
    return aipw_kernel(data[time].to_numpy(float), data[event].to_numpy(float),
                       (data[treatment] == arms[0]).to_numpy(float), x, beta, vcov,
                       xc, beta_c, vcov_c, z, ps.scores.to_numpy(float), times)


def _censoring_column(data, event):
    censored = "_adjusted_censored"
    while censored in data.columns:   # a private column name for the censoring indicator
        censored += "_"
    return censored


_KERNELS = {"gformula": _gformula, "iptw": _iptw, "aipw": _aipw}


def band_quantile(infl: np.ndarray, se: np.ndarray, n_sim: int,
                  rng: np.random.Generator, conf_level: float) -> float:
    """Critical value of a simultaneous band (``ate``'s "maxT-simulation").

    The ``conf_level`` quantile of sup_t |sum_i xi_i IF_i(t) / se(t)| over ``n_sim``
    draws of xi ~ N(0, I_n); times with se <= 1e-12 (no risk yet) are left out.
    """
    keep = se > 1e-12
    if not keep.any():
        return float("nan")
    norm = infl[:, keep] / se[keep]
    block = max(1, min(n_sim, 2_000_000 // max(norm.shape[0], 1)))   # bounded memory
    sups = np.concatenate([
        np.abs(rng.standard_normal((min(block, n_sim - s), norm.shape[0])) @ norm).max(axis=1)
        for s in range(0, n_sim, block)])
    return float(np.quantile(sups, conf_level))


def _limits(est, se, crit, lo, hi):
    """est -/+ crit * se, clipped to the parameter's range as ``ate`` clips them."""
    return np.clip(est - crit * se, lo, hi), np.clip(est + crit * se, lo, hi)


def _risk_rows(method, risk, infl, times, arms, zcrit, rng, n_sim, conf_level):
    out = []
    for a, arm in ((1, arms[1]), (0, arms[0])):        # reference first, as ate's order
        se = np.sqrt((infl[:, :, a] ** 2).sum(axis=0))
        lower, upper = _limits(risk[:, a], se, zcrit, 0.0, 1.0)
        rows = pd.DataFrame(dict(method=method, time=times, arm=arm, risk=risk[:, a], se=se,
                                 lower=lower, upper=upper))
        if rng is not None:
            q = band_quantile(infl[:, :, a], se, n_sim, rng, conf_level)
            rows["band_lower"], rows["band_upper"] = _limits(risk[:, a], se, q, 0.0, 1.0)
            rows["band_quantile"] = q
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def _contrasts(method: str, risk: np.ndarray, infl: np.ndarray, times: np.ndarray,
               zcrit: float, rng=None, n_sim: int = 0, conf_level: float = 0.95
               ) -> pd.DataFrame:
    """Difference and ratio (treated vs reference) by the delta method on the IFs."""
    r1, r0 = risk[:, 0], risk[:, 1]
    d_diff = infl[:, :, 0] - infl[:, :, 1]
    with np.errstate(divide="ignore", invalid="ignore"):    # no risk yet: ratio undefined
        d_ratio = infl[:, :, 0] / r0 - r1 * infl[:, :, 1] / r0 ** 2
        ratio = r1 / r0
    out = []
    for measure, est, dd, null, lo, hi in (("difference", r1 - r0, d_diff, 0.0, -1.0, 1.0),
                                           ("ratio", ratio, d_ratio, 1.0, 0.0, np.inf)):
        se = np.sqrt((dd ** 2).sum(axis=0))
        lower, upper = _limits(est, se, zcrit, lo, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * stats.norm.sf(np.abs(est - null) / se)
        rows = pd.DataFrame(dict(method=method, time=times, measure=measure, estimate=est,
                                 se=se, lower=lower, upper=upper, p=p))
        if rng is not None:
            ok = np.isfinite(se)
            q = band_quantile(np.where(ok, dd, 0.0), np.where(ok, se, 0.0), n_sim, rng,
                              conf_level)
            rows["band_lower"], rows["band_upper"] = _limits(est, se, q, lo, hi)
            rows["band_quantile"] = q
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def gformula_kernel(t: np.ndarray, d: np.ndarray, x: np.ndarray, times: np.ndarray,
                    beta: np.ndarray, vcov: np.ndarray,
                    d_beta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """G-formula risks and their influence functions (dfbeta scale).

    ``d_beta``: the coefficients' influence (default: :func:`coefficient_influence`).
    ``x`` is the Cox design with the treated-arm indicator in column 0. Returns
    ``risk`` (K times x 2 arms: treated, reference) and ``infl`` (n x K x 2), whose
    column sums of squares are the variances.
    """
    n = len(t)
    centre = x.mean(axis=0)
    x = x - centre                           # centring keeps exp(eta) finite; F is unchanged
    b = _breslow(t, d, x, beta)
    l0, hx = b["l0"], b["hx"]
    k_t = np.searchsorted(b["u"], times, side="right")       # event times <= horizon
    if d_beta is None:
        d_beta = coefficient_influence(t, d, x, beta, vcov)  # n x p
    # baseline hazard influence at each horizon (n x K): int dM_i / S0 - H(t)' D_b,i
    jump = (d / b["s0_own"])[:, None] * (t[:, None] <= times[None, :])
    d_l0 = (jump - b["r"][:, None] * b["c1"][np.minimum(b["k_i"][:, None], k_t[None, :])]
            - d_beta @ hx[k_t].T)
    risk = np.empty((len(times), 2))
    infl = np.empty((n, len(times), 2))
    for a, z in enumerate((1.0, 0.0)):       # the two arms, not subjects
        xa = x.copy()
        xa[:, 0] = z - centre[0]
        ra = np.exp(xa @ beta)
        surv = np.exp(-np.outer(ra, l0[k_t]))                # n x K
        risk[:, a] = 1 - surv.mean(axis=0)
        a_t = (surv * ra[:, None]).mean(axis=0)              # K
        b_t = ((surv * ra[:, None]).T @ xa) / n * l0[k_t][:, None]   # K x p
        infl[:, :, a] = (1 - surv - risk[:, a]) / n + d_l0 * a_t + d_beta @ b_t.T
    return risk, infl
