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
``_adjusted_iptw.py``.

References
----------
Ozenne BMH, Scheike TH, Staerk L, Gerds TA. On the estimation of average treatment
effects with right-censored time to event outcome and competing risks. Biom J
2020;62:751-63.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._design import design
from .._display import ResultMixin, frame_html, frame_text
from .._frames import arm_order, complete_cases
from ..errors import InputError, Problem
from ..regression.fit import cox
from ._adjusted_iptw import iptw_kernel
from ._cox_influence import _breslow, coefficient_influence
from .propensity import propensity

METHODS = ("gformula", "iptw")


@dataclass(frozen=True, eq=False)
class AdjustedRisk(ResultMixin):
    """Standardised absolute risks per arm (see :func:`adjusted_risk`).

    Attributes
    ----------
    table : method, time, arm, risk, se, lower, upper (one row per method, time, arm).
    contrast : method, time, measure ("difference" treated - reference, "ratio"
        treated / reference), estimate, se, lower, upper, p (Wald, on the natural scale
        as ``ate``; the ratio's p tests ratio = 1).
    treated, reference : the arm labels; ``conf_level``; ``n`` rows used.
    """

    table: pd.DataFrame
    contrast: pd.DataFrame
    treated: object
    reference: object
    n: int
    conf_level: float = 0.95
    time_unit: str = "days"
    weighted: bool = False
    notes: list = field(default_factory=list)

    def _text_parts(self) -> tuple[str, pd.DataFrame, str]:
        title = (f"Adjusted absolute risks ({', '.join(self.table['method'].unique())}), "
                 f"{self.treated} vs {self.reference}, n = {self.n}")
        return title, self.table, "\n".join(self.notes)

    def __repr__(self) -> str:
        return frame_text(*self._text_parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._text_parts())


def adjusted_risk(df: pd.DataFrame, time: str = "time", event: str = "event",
                  treatment: str = "arm", covariates: list[str] | None = None,
                  times=(365,), method: str = "gformula", *, treated=None,
                  estimand: str = "ATE",
                  ties: str = "breslow",
                  conf_level: float = 0.95, missing: str = "error") -> AdjustedRisk:
    """Standardised (adjusted) absolute risks per arm at ``times``, as ``riskRegression::ate``.

    Parameters
    ----------
    df : one row per patient.
    time, event : follow-up (days) and 0/1 event columns.
    treatment : the column with the two arms; ``treated`` names the treated arm (default:
        the package's one rule, see :func:`mace_outcomes._frames.arm_order`).
    covariates : confounders, entered as main effects in the Cox outcome model together
        with the arm.
    times : horizons (days) at which to report risks.
    method : ``"gformula"`` (Cox outcome model, Breslow baseline hazard), ``"iptw"``
        (logistic propensity model on ``covariates``; Cox censoring model on the arm and
        ``covariates``, as ``ate`` needs one under right-censoring), or a list of them.
    estimand : "ATE" (the whole sample standardised to each arm; the one ``ate`` gives).
    ties : the Cox model's ties ("breslow", default; "efron"). With Breslow ties the
        risks equal ``ate``'s; ``ate`` with an Efron ``coxph`` uses its own baseline.
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
    covariates = list(covariates or [])
    cc = complete_cases(df, [time, event, treatment, *covariates], missing,
                        source="adjusted_risk")
    data = cc.frame
    arms = arm_order(data[treatment], treated=treated, source="adjusted_risk",
                     column=treatment)
    if len(arms) != 2:
        raise InputError(Problem(f"needs exactly two arms, found {arms}", column=treatment,
                                 source="adjusted_risk"))
    times = np.atleast_1d(np.asarray(times, dtype=float))
    zcrit = stats.norm.ppf(0.5 + conf_level / 2)
    tables, contrasts = [], []
    for m in dict.fromkeys(methods):
        risk, infl = _KERNELS[m](data, time, event, treatment, covariates, arms, times, ties)
        se = np.sqrt((infl ** 2).sum(axis=0))       # (K, 2): times x (treated, reference)
        tables += [dict(method=m, time=tk, arm=arm, risk=risk[k, a], se=se[k, a],
                        lower=risk[k, a] - zcrit * se[k, a],
                        upper=risk[k, a] + zcrit * se[k, a])
                   for a, arm in ((1, arms[1]), (0, arms[0])) for k, tk in enumerate(times)]
        contrasts.append(_contrasts(m, risk, infl, times, zcrit))
    notes = list(cc.notes)
    if "iptw" in methods:
        notes.append("IPTW: censoring weights from a Cox model (Breslow) on the arm and "
                     "covariates; propensity from a logistic model on the covariates")
    return AdjustedRisk(pd.DataFrame(tables), pd.concat(contrasts, ignore_index=True),
                        arms[0], arms[1], len(data), conf_level, notes=notes)


def _cox_inputs(data, time, event, treatment, covariates, arms, ties):
    """The Cox design (treated indicator first) and the outcome fit's coef and vcov."""
    terms, reference = [treatment, *covariates], {treatment: arms[1]}
    x = design(data, terms, reference=reference, source="adjusted_risk").x
    fit = cox(data, time, event, terms, ties=ties, reference=reference)
    return x, fit.summary["coef"].to_numpy(), fit.vcov.to_numpy()


def _gformula(data, time, event, treatment, covariates, arms, times, ties):
    x, beta, vcov = _cox_inputs(data, time, event, treatment, covariates, arms, ties)
    return gformula_kernel(data[time].to_numpy(float), data[event].to_numpy(float), x,
                           times, beta, vcov)


def _iptw(data, time, event, treatment, covariates, arms, times, ties):
    censored = event + "_censored"
    while censored in data.columns:   # a private column name for the censoring indicator
        censored += "_"
    d_c = data.assign(**{censored: 1 - data[event].to_numpy(float)})
    x, beta_c, vcov_c = _cox_inputs(d_c, time, censored, treatment, covariates, arms, ties)
    ps = propensity(data, treatment, covariates, treated=arms[0])
    z = np.column_stack([np.ones(len(data)), ps.design.to_numpy(float)])
    return iptw_kernel(data[time].to_numpy(float), data[event].to_numpy(float),
                       (data[treatment] == arms[0]).to_numpy(float), x, z,
                       ps.scores.to_numpy(float), beta_c, vcov_c, times)


_KERNELS = {"gformula": _gformula, "iptw": _iptw}


def _contrasts(method: str, risk: np.ndarray, infl: np.ndarray, times: np.ndarray,
               zcrit: float) -> pd.DataFrame:
    """Difference and ratio (treated vs reference) by the delta method on the IFs."""
    r1, r0 = risk[:, 0], risk[:, 1]
    d_diff = infl[:, :, 0] - infl[:, :, 1]
    d_ratio = infl[:, :, 0] / r0 - r1 * infl[:, :, 1] / r0 ** 2
    out = []
    for measure, est, dd, null in (("difference", r1 - r0, d_diff, 0.0),
                                   ("ratio", r1 / r0, d_ratio, 1.0)):
        se = np.sqrt((dd ** 2).sum(axis=0))
        out.append(pd.DataFrame(dict(
            method=method, time=times, measure=measure, estimate=est, se=se,
            lower=est - zcrit * se, upper=est + zcrit * se,
            p=2 * stats.norm.sf(np.abs(est - null) / se))))
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
