"""E-values for unmeasured confounding: ``mo.e_value``.

The E-value is the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both the treatment and the outcome, above and
beyond the measured covariates, to fully explain away an observed association
(VanderWeele & Ding 2017): for a risk ratio ``RR >= 1``,
``E = RR + sqrt(RR (RR - 1))``; for ``RR < 1`` apply it to ``1/RR``. For the confidence
interval, the E-value of the limit closer to the null (1 if the interval crosses 1).

Hazard ratios are converted to risk ratios first: ``RR ~= HR`` when the outcome is rare
(under 15% by the end of follow-up); otherwise
``RR ~= (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` (VanderWeele 2020). Odds ratios:
``RR ~= OR`` (rare) or ``sqrt(OR)`` (common).

References
----------
VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the
E-value. Ann Intern Med 2017;167:268-74.
VanderWeele TJ. Optimal approximate conversions of odds ratios and hazard ratios to risk
ratios. Biometrics 2020;76:746-52.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from ..errors import InputError, Problem

RARE_THRESHOLD = 0.15


def rr_e_value(rr: float) -> float:
    """E-value of a risk ratio (VanderWeele & Ding 2017, eq. 1)."""
    rr = float(rr)
    if not np.isfinite(rr) or rr <= 0:
        return np.nan
    if rr < 1:
        rr = 1.0 / rr
    return rr + np.sqrt(rr * (rr - 1.0))


def to_risk_ratio(value: float, measure: str, rare: bool) -> float:
    """Approximate risk ratio for a hazard or odds ratio (VanderWeele 2020)."""
    value = float(value)
    if measure == "RR" or rare:
        return value
    if measure == "HR":
        return (1 - 0.5 ** np.sqrt(value)) / (1 - 0.5 ** np.sqrt(1 / value))
    if measure == "OR":
        return np.sqrt(value)
    raise ValueError(measure)


@dataclass(frozen=True)
class EValue(ResultMixin):
    """E-values of an estimate and of its confidence limit closer to the null."""

    estimate: float
    lower: float | None
    upper: float | None
    measure: str
    rare: bool
    rr: float
    e_value: float
    e_value_ci: float | None

    @property
    def table(self) -> pd.DataFrame:
        """Tidy view: quantity (estimate, ci), value on the measure's scale, rr, e_value."""
        rows = [{"quantity": "estimate", "value": self.estimate, "rr": self.rr,
                 "e_value": self.e_value}]
        if self.e_value_ci is not None:
            limit = self.lower if self.estimate >= 1 else self.upper
            rows.append({"quantity": "ci", "value": limit,
                         "rr": to_risk_ratio(limit, self.measure, self.rare),
                         "e_value": self.e_value_ci})
        return pd.DataFrame(rows)

    @property
    def notes(self) -> list[str]:
        """The conversion to a risk ratio, when the measure is not one."""
        if self.measure == "RR":
            return []
        return [f"{self.measure} converted to RR assuming a "
                f"{'rare' if self.rare else 'common'} outcome "
                f"({'< ' if self.rare else '>= '}{RARE_THRESHOLD:.0%} by end of follow-up)"]

    def _footer(self) -> str:
        conv = "\n".join(self.notes)
        return ("E-value: the minimum risk ratio an unmeasured confounder would need with both "
                "treatment and outcome to explain the estimate away (VanderWeele & Ding 2017)."
                + (f"\n{conv}" if conv else ""))

    def __repr__(self) -> str:
        return frame_text("E-value", self.table, self._footer())

    def _repr_html_(self) -> str:
        return frame_html("E-value", self.table, self._footer())


def e_value(estimate: float, lower: float | None = None, upper: float | None = None, *,
            measure: str = "HR", rare: bool | None = None,
            outcome_risk: float | None = None) -> EValue:
    """E-value for a ratio estimate and its confidence interval.

    Parameters
    ----------
    estimate : the hazard ratio (``measure="HR"``), risk ratio ("RR") or odds ratio ("OR").
    lower, upper : its confidence limits (optional).
    measure : "HR", "RR" or "OR".
    rare : whether the outcome is rare (< 15% by the end of follow-up); decides the HR and
        OR conversion. Give it, or give
    outcome_risk : the cumulative incidence by the end of follow-up; ``rare`` is then
        ``outcome_risk < 0.15``.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> ev = mo.e_value(3.9, 1.8, 8.7, measure="RR")    # VanderWeele & Ding 2017
    >>> round(ev.e_value, 2), round(ev.e_value_ci, 2)
    (7.26, 3.0)

    References
    ----------
    VanderWeele & Ding, Ann Intern Med 2017; VanderWeele, Biometrics 2020.
    """
    measure = str(measure).upper()
    if measure not in ("HR", "RR", "OR"):
        raise InputError(Problem(f"measure must be 'HR', 'RR' or 'OR', got {measure!r}"))
    problems = []
    for name, v in (("estimate", estimate), ("lower", lower), ("upper", upper)):
        if v is not None and not (np.isfinite(v) and v > 0):
            problems.append(Problem(f"{name} must be a positive finite ratio, got {v!r}"))
    if lower is not None and upper is not None and not lower <= estimate <= upper:
        problems.append(Problem(f"expected lower <= estimate <= upper, got {lower}, "
                                f"{estimate}, {upper}"))
    if problems:
        raise InputError(problems)
    if rare is None:
        if outcome_risk is not None:
            rare = bool(outcome_risk < RARE_THRESHOLD)
        elif measure == "RR":
            rare = True
        else:
            raise InputError(Problem("say whether the outcome is rare (< 15% by the end of "
                                     "follow-up): rare=True/False or outcome_risk=..."))
    rr = to_risk_ratio(estimate, measure, rare)
    ev = rr_e_value(rr)
    ev_ci = None
    if lower is not None or upper is not None:
        if lower is not None and upper is not None and lower <= 1 <= upper:
            ev_ci = 1.0
        elif estimate >= 1 and lower is not None:
            ev_ci = rr_e_value(to_risk_ratio(lower, measure, rare))
        elif estimate < 1 and upper is not None:
            ev_ci = rr_e_value(to_risk_ratio(upper, measure, rare))
    return EValue(estimate=float(estimate), lower=lower, upper=upper, measure=measure,
                  rare=bool(rare), rr=float(rr), e_value=float(ev),
                  e_value_ci=None if ev_ci is None else float(ev_ci))
