"""The report's adjusted (standardised) absolute risks of the first endpoint (STROBE 16c).

Risk per arm at the horizon with the whole sample standardised to each arm, by the
augmented estimator (AIPTW, primary), the g-formula and IPTW (``mo.adjusted_risk``,
as ``riskRegression::ate``), the risk difference and ratio with 95% CIs and Wald p, and
the standardised risk curves (AIPTW) on a weekly grid with their pointwise intervals and
simultaneous band. Each method is estimated on its own, so one whose model cannot be
fitted (an infinite Cox coefficient when a covariate level has no events) leaves the
others standing; the report says why it is missing rather than stop.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from .._format import DASH, format_ci, format_p, format_ratio
from ..errors import InputError

#: Section title (the checklist links it to STROBE 16c).
ADJUSTED = "Adjusted (standardised) risks"
#: The methods in the table's order; the first one fitted draws the curves.
METHODS = ("aipw", "gformula", "iptw")
METHOD_LABEL = {"aipw": "AIPTW (doubly robust)", "gformula": "g-formula (Cox model)",
                "iptw": "IPTW (censoring-weighted)"}


def weekly_grid(horizon: float) -> np.ndarray:
    """Every 7th day up to the horizon, and the horizon itself."""
    return np.unique(np.r_[np.arange(7.0, float(horizon), 7.0), float(horizon)])


#: a list of names as Python prints it, ``['a', 'b']``
_NAMES = re.compile(r"\[((?:'[^'\]]*'(?:, )?)+)\]")


def why_not(error: Exception) -> str:
    """The reason an estimate failed, in one line for a reader (an InputError's problems
    joined, a list of names written as words rather than Python's ``['a', 'b']``)."""
    problems = getattr(error, "problems", None)
    text = ("; ".join(p.reason + (f" ({p.fix})" if p.fix else "") for p in problems)
            if problems else str(error).strip().splitlines()[-1])
    return _NAMES.sub(lambda m: m.group(1).replace("'", ""), text)


def estimate(frame: pd.DataFrame, covariates: list[str], times, treated, *,
             methods=METHODS, **kwargs) -> tuple[dict, dict]:
    """({method: AdjustedRisk}, {method: why it failed}), one ``mo.adjusted_risk`` call per
    method. Statistical warnings stay in each result's notes; a failed method's warnings
    are explained by its reason."""
    import mace_outcomes as mo

    fits, failed = {}, {}
    for m in methods:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            try:
                fits[m] = mo.adjusted_risk(frame, treatment="arm", covariates=covariates,
                                           times=times, method=m, treated=treated, **kwargs)
            except (InputError, np.linalg.LinAlgError) as e:
                failed[m] = why_not(e)
    return fits, failed


def _pct(est, lower, upper) -> str:
    return format_ci(100 * est, 100 * lower, 100 * upper, digits=1)


def risk_rows(fits: dict, horizon: float, treated, control) -> pd.DataFrame:
    """The table for reading: per method, the risk of each arm at the horizon (%, 95% CI),
    the difference (percentage points) and ratio with their CIs and p."""
    rows = []
    for m, fit in fits.items():
        t = fit.table[np.isclose(fit.table["time"], horizon)].set_index("arm")
        c = fit.contrast[np.isclose(fit.contrast["time"], horizon)].set_index("measure")
        d, r = c.loc["difference"], c.loc["ratio"]
        ratio = (f"{format_ratio(r['estimate'])} ({format_ratio(r['lower'])}{DASH}"
                 f"{format_ratio(r['upper'])})" if np.isfinite(r["estimate"])
                 else "not estimable")
        rows.append({
            "method": METHOD_LABEL[m],
            f"risk {treated} %": _pct(*t.loc[treated, ["risk", "lower", "upper"]]),
            f"risk {control} %": _pct(*t.loc[control, ["risk", "lower", "upper"]]),
            "difference, % points (95% CI)": _pct(d["estimate"], d["lower"], d["upper"]),
            "p (difference)": format_p(d["p"]),
            "ratio (95% CI)": ratio,
            "p (ratio)": format_p(r["p"]),
        })
    return pd.DataFrame(rows)


def _frame(state: dict, study, ep: str) -> tuple[pd.DataFrame, list[str]]:
    """The first endpoint's patients (at lesion level, one row per patient) and notes."""
    from ._sections import _patient_frame

    notes = []
    if study.level == "lesion":
        notes.append("patient level (the first event per patient)")
    if state.get("imputed"):
        notes.append("complete cases (the standardisation is not pooled over the "
                     "imputations)")
    return _patient_frame(state, study, ep), notes


def adjusted_section(writer, study, state: dict) -> dict | None:
    """The section: table of standardised risks at the horizon (AIPTW, g-formula, IPTW)
    and the AIPTW risk curves with band; or, when no method could be fitted, a note
    saying why. ``None`` (nothing written) without propensity covariates."""
    covariates = list(study.covariates)
    if not covariates:
        return None
    from ._sections import _curve_options

    ep = study.endpoints[0]
    name = state["label"](ep)
    treated, control = state["treated"], state["control"]
    horizon = float(study.horizon_days)
    frame, notes = _frame(state, study, ep)
    missing = "complete_case" if state.get("imputed") else "error"
    if not int(frame["event"].sum()):
        fits, failed = {}, {m: f"no {name} events" for m in METHODS}
    else:
        fits, failed = estimate(frame, covariates, [horizon], treated, missing=missing)
    out = {"endpoint": ep, "horizon": horizon, "failed": failed, "notes": notes}
    reasons = [f"{METHOD_LABEL[m]} not estimated: {why}" for m, why in failed.items()]
    if not fits:
        text = (f"The adjusted (standardised) risks of {name} at {horizon:g} days could not "
                "be estimated: " + "; ".join(f"{METHOD_LABEL[m]}: {why}"
                                             for m, why in failed.items()))
        writer.section(ADJUSTED, writer.paragraph(text))
        return {**out, "table": None, "contrast": None, "text": text}
    unit = "patients"
    first = next(iter(fits.values()))
    fit_notes = list(dict.fromkeys(n for f in fits.values() for n in f.notes))
    body = writer.table(
        "adjusted_risk", risk_rows(fits, horizon, treated, control),
        f"{name}: adjusted absolute risk at {horizon:g} days, the whole sample standardised "
        f"to each arm ({unit}, n = {first.n}; covariates: "
        f"{', '.join(map(state['label'], covariates))})",
        [*notes, *reasons, *fit_notes, "influence-function 95% CIs and Wald p, as "
         "riskRegression::ate; difference and ratio of the treated arm "
         f"({treated}) to {control}"])
    out.update(table=pd.concat([f.table for f in fits.values()], ignore_index=True),
               contrast=pd.concat([f.contrast for f in fits.values()], ignore_index=True))
    curve_method = next(iter(fits))
    curve, curve_failed = estimate(frame, covariates, weekly_grid(horizon), treated,
                                   methods=[curve_method], band=True, n_sim=1000,
                                   seed=study.seed, missing=missing)
    if curve:
        import mace_outcomes as mo

        options = _curve_options(state, study)
        breaks = ({"breaks": (0, 3, 6, 9, 12)} if study.unit == "months"
                  and horizon == 365 else {})  # as the Kaplan-Meier figures
        fig = mo.plot_adjusted_risk(curve[curve_method], unit=study.unit, **breaks,
                                    labels=options["labels"], palette=options["palette"],
                                    width=study.width, title=f"{name}, standardised")
        caption = (f"{name}: adjusted (standardised) cumulative risk by arm, "
                   f"{METHOD_LABEL[curve_method]}, {unit}, evaluated weekly to "
                   f"{horizon:g} days; pointwise 95% CI shaded, simultaneous 95% band "
                   f"dashed (1000 multiplier draws, seed {study.seed}).")
        body += writer.figure(f"adjusted_risk_{ep}", fig, caption=caption)
        out["curve_method"] = curve_method
    else:
        body += writer.paragraph(f"The standardised risk curves could not be drawn: "
                                 f"{curve_failed[curve_method]}", note=True)
    writer.section(ADJUSTED, body)
    return out
