"""The report's figures, drawn from the curves and tests the comparison already fitted.

Each endpoint's Kaplan-Meier figures show the very curves, log-rank test and hazard ratio
``mo.compare_arms`` reported for its crude and first weighted analysis
(``Comparison.curves`` / ``.tests``): nothing is re-estimated for a picture, so a figure
cannot disagree with the tables beside it.

One study, one look: every figure takes its arm colours from one mapping built here from
the arm order (treated first), its risk tables in the KMunicate layout (at risk, events,
censored; Morris et al. 2019, BMJ Open 9:e030215), and a weighted curve shows the
weighted and the actual numbers. An endpoint with competing deaths (MI, TVR, stent
thrombosis: a patient who died can no longer have one) is drawn as the Aalen-Johansen
cumulative incidence with Gray's test, since 1 - KM with deaths censored overstates it
(Austin, Lee & Fine 2016); ``[figures] components = "km"`` asks for Kaplan-Meier instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import display_name

#: the risk tables under every survival figure of the report (KMunicate); weighted
#: curves add the effective sample size of each risk set.
KMUNICATE = ("n_risk", "cum_events", "cum_censored")


def risk_set_ess(table: pd.DataFrame, frame: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    """Kish's effective sample size (sum w)^2 / sum w^2 of the risk set of each row of a
    curve table: the subjects of the row's group still followed at its time."""
    out = np.zeros(len(table))
    times = frame["time"].to_numpy(dtype=float)
    for g in pd.unique(table["group"]):  # the two arms; the sums are vectorised
        mine = (frame["arm"] == g).to_numpy()
        order = np.argsort(times[mine], kind="stable")
        t, w = times[mine][order], np.asarray(weights, dtype=float)[mine][order]
        s1 = np.r_[np.cumsum(w[::-1])[::-1], 0.0]  # sum of weights with time >= t[i]
        s2 = np.r_[np.cumsum((w * w)[::-1])[::-1], 0.0]
        rows = (table["group"] == g).to_numpy()
        k = np.searchsorted(t, table.loc[rows, "time"].to_numpy(dtype=float), side="left")
        out[rows] = np.divide(s1[k] ** 2, s2[k], out=np.zeros(k.size), where=s2[k] > 0)
    return out


def with_ess(curves, frame: pd.DataFrame, weights: np.ndarray):
    """The weighted curves with ``n_risk_ess`` in their table, for the KMunicate row."""
    import dataclasses

    table = curves.table.assign(n_risk_ess=risk_set_ess(curves.table, frame, weights))
    return dataclasses.replace(curves, table=table)


def hr_args(row: pd.Series | None, label: str | None = None) -> dict:
    """The hazard ratio annotation of a KM figure from a compare_arms row."""
    if row is None or not np.isfinite(row.get("hr", np.nan)):
        return {}
    if "Firth" in str(row.get("method", "")):  # say which model gave a finite HR
        return {"hr_label": f"{label + ' (Firth)' if label else 'Firth HR'} {row['hr']:.2f} "
                            f"({row['lower']:.2f}-"
                            f"{row['upper']:.2f})"}
    return {"hr": row, **({"hr_label": label} if label else {})}


def km_panels(state: dict, ep: str) -> list[tuple[str, str, object, object, pd.Series | None]]:
    """(file suffix, analysis, curves, test, row) of each KM figure of an endpoint.

    From the endpoint's Comparison when there is one: its crude analysis and its first
    weighted one; otherwise (no events) the crude curves fitted for the figure alone.
    """
    comp = state["fits"].get(ep)
    if comp is None:
        return [("crude", "crude", state["kms"][ep], None, None)]
    rows = comp.table.reset_index(drop=True)
    panels = [("crude", "crude", comp.curves["crude"], comp.tests["crude"], rows.iloc[0])]
    k = _first_weighted(comp, rows)
    if k is not None:
        name = rows.loc[k, "analysis"]
        ps = comp.propensity[name]  # the effective sample size row of a weighted figure
        curves = with_ess(comp.curves[name], state["tte"][ep], ps.weights.to_numpy())
        panels.append(("iptw", name, curves, comp.tests[name], rows.iloc[k]))
    return panels


def _first_weighted(comp, rows: pd.DataFrame) -> int | None:
    """The row of the comparison's first propensity-weighted analysis (the matched row
    has its own figure)."""
    weighted = [i for i, a in enumerate(rows["analysis"]) if a in comp.propensity]
    return weighted[0] if weighted else None


def competing_deaths(state: dict, ep: str) -> bool:
    """Whether some patient's follow-up for ``ep`` ended in a competing death."""
    return bool((state["tte"][ep]["status"] == 2).any())


def cif_panels(state: dict, ep: str) -> list[tuple[str, str, object, object, pd.Series | None]]:
    """(file suffix, analysis, cumulative incidence, Gray's test, row) of an endpoint.

    Aalen-Johansen curves of the endpoint with deaths as the competing event, crude and
    with the comparison's first weighting. Gray's test annotates the crude figure (it
    has no weighted or cluster-robust version: none is shown where it would not apply);
    the hazard ratio is the comparison's, a cause-specific one.
    """
    import mace_outcomes as mo

    d = state["tte"][ep]
    comp = state["fits"].get(ep)
    ci = mo.cumulative_incidence(d, group="arm")
    gray = (mo.gray_test(d, group="arm") if comp is not None and state.get("cluster") is None
            else None)
    rows = comp.table.reset_index(drop=True) if comp is not None else None
    panels = [("crude", "crude", ci, gray, None if rows is None else rows.iloc[0])]
    k = None if rows is None else _first_weighted(comp, rows)
    if k is not None:
        name = rows.loc[k, "analysis"]
        ps = comp.propensity[name]
        weighted = d.assign(iptw=ps.weights.to_numpy())
        ci_w = with_ess(mo.cumulative_incidence(weighted, group="arm", weights="iptw"),
                        d, ps.weights.to_numpy())
        panels.append(("iptw", name, ci_w, None, rows.iloc[k]))
    return panels


def _units(state: dict) -> str:
    return "lesions, clustered by patient" if state.get("cluster") else "patients"


def _cif_caption(label: str, analysis: str, test, units: str) -> str:
    how = "" if analysis == "crude" else f" ({analysis}, inverse-probability weighted)"
    test_note = ("Gray's test" if test is not None else
                 "no Gray's test (it has no weighted or cluster-robust form)")
    return (f"{label}{how}: Aalen-Johansen cumulative incidence by arm ({units}), deaths "
            f"as the competing event (1 - Kaplan-Meier would overstate it); {test_note}; "
            "cause-specific hazard ratio. Under the curves: at risk, cumulative events and "
            "cumulative censored (KMunicate).")


def _km_caption(label: str, analysis: str, units: str, test=None, cluster=None) -> str:
    how = "" if analysis == "crude" else f" ({analysis}, inverse-probability weighted)"
    if test is not None:  # say which log-rank test the p-value is
        kind = ("the cluster-robust log-rank (score) test, lesions clustered by patient"
                if cluster else "the IPTW log-rank test" if analysis != "crude"
                else "the log-rank test")
        how += f"; p from {kind}"
    counts = (" Weighted (pseudo-population) and actual (unweighted) numbers are shown, "
              "with the effective sample size of each risk set." if analysis != "crude"
              else "")
    return (f"{label}{how}: Kaplan-Meier cumulative incidence by arm ({units}). Under the "
            f"curves: at risk, cumulative events and cumulative censored (KMunicate).{counts}")


def min_cell_option(study) -> dict:
    """``{"min_cell": n}`` for the figures' risk tables when the study asks for
    suppression and the plots accept it (else nothing)."""
    from ..plots.options import CurveOptions

    n = int(getattr(study, "min_cell", 0) or 0)
    return {"min_cell": n} if n and "min_cell" in CurveOptions.__dataclass_fields__ else {}


def study_palette(state: dict) -> dict:
    """The one colour per arm of every figure of the study (treated arm first)."""
    from ..plots.style import arm_colours

    return arm_colours([state["treated"], state["control"]], treated=state["treated"])


def _rows_for(curves, common: dict) -> dict:
    """KMunicate rows, and the effective sample size where the curves carry it."""
    if "n_risk_ess" in curves.table.columns:
        return {**common, "risk_table_rows": (*KMUNICATE, "ess")}
    return common


def _cif_figures(writer, state: dict, ep: str, name: str, common: dict) -> None:
    from ..plots import plot_cif

    for suffix, analysis, ci, test, row in cif_panels(state, ep):
        fig = plot_cif(ci, test=test, **hr_args(row, "Cause-specific HR"),
                       conf_int=state.get("cluster") is None,  # no cluster-robust bands
                       title=f"{name}, {analysis}", **_rows_for(ci, common))
        title = f"Cumulative incidence: {name}" + (", weighted" if suffix != "crude" else "")
        caption = _cif_caption(name, analysis, test, _units(state))
        writer.section(title, writer.figure(f"cif_{ep}_{suffix}", fig, caption=caption))


def _km_figures(writer, state: dict, ep: str, name: str, common: dict) -> None:
    for suffix, analysis, km, test, row in km_panels(state, ep):
        fig = km.plot(kind="event", test=test, **hr_args(row), title=f"{name}, {analysis}",
                      **_rows_for(km, common))
        title = f"Kaplan-Meier: {name}" + (", weighted" if suffix != "crude" else "")
        caption = _km_caption(name, analysis, _units(state), test, state.get("cluster"))
        writer.section(title, writer.figure(f"km_{ep}_{suffix}", fig, caption=caption))


def figures(writer, study, state: dict) -> None:
    """KM (or cumulative-incidence) figures of every endpoint, the forest plot, the love
    and overlap plots, all in the study's arm colours."""
    from ..plots import plot_forest, plot_love, plot_overlap

    treated, control = state["treated"], state["control"]
    palette = study_palette(state)
    label = state.get("label") or display_name
    common = {"labels": {treated: str(treated), control: str(control)},
              "order": [treated, control], "palette": palette, "unit": study.unit,
              "width": study.width, "risk_table_rows": KMUNICATE,
              # weighted curves: the pseudo-population and the patients behind it
              "weighted_counts": "both", **min_cell_option(study)}
    if study.unit == "months" and study.horizon_days == 365:
        common["breaks"] = (0, 3, 6, 9, 12)
    as_cif = getattr(study, "components", "cif") == "cif"
    for ep in state["tte"]:
        if as_cif and competing_deaths(state, ep):
            _cif_figures(writer, state, ep, label(ep), common)
        else:
            _km_figures(writer, state, ep, label(ep), common)
    if state["comparisons"]:
        rows = []
        for ep, comp in state["comparisons"].items():
            # a pooled comparison (imputations) is already its table of rows
            table = comp if isinstance(comp, pd.DataFrame) else comp.table
            for _, r in table.iterrows():
                rows.append({"label": f"{label(ep)}: {r['analysis']}",
                             "hr": r["hr"], "lower": r["lower"], "upper": r["upper"], "p": r["p"]})
        fig = plot_forest(pd.DataFrame(rows), palette=palette,
                          favours=(f"Favours {treated}", f"Favours {control}"))
        writer.section("Forest plot", writer.figure("forest", fig))
    ps = state["ps"]
    if ps is not None:
        fits = getattr(ps, "fits", None)  # re-fitted within each imputation
        love = plot_love(ps if fits is None else ps.balance(), labels=state.get("labels"),
                         palette=palette, width=study.width)
        caption = None if fits is None else (
            "Standardised mean differences of the propensity covariates before and after "
            f"weighting, averaged over the m = {len(fits)} imputations (|SMD| < 0.1: "
            "balanced).")
        writer.section("Love plot", writer.figure("love", love, caption=caption))
        overlap = plot_overlap(ps if fits is None else fits[0], palette=palette,
                               width=study.width)
        caption = None if fits is None else (
            f"Distribution of the propensity score by arm in imputation 1 of {len(fits)} "
            "(the model is re-fitted in each).")
        writer.section("Propensity overlap", writer.figure("overlap", overlap,
                                                           caption=caption))


def flow_figure(writer, study, cohort, arms, *, name: str = "flow", matched=None,
                unmatched=None, matched_unit: str = "patients") -> str:
    """The patient-flow diagram (STROBE 13c) drawn from the attrition table beside it;
    with ``matched`` / ``unmatched`` ({arm: n}) a box of the matched sample under each arm."""
    from ..plots import plot_flow

    unit = "lesions and patients" if study.level == "lesion" else "patients"
    caption = ("Patient flow (STROBE 13c): records assessed for eligibility, each exclusion "
               f"with its count, and the {unit} analysed in each arm; the numbers are those "
               "of the attrition table below.")
    if matched is not None:
        caption = (f"Patient flow with the matched sample (STROBE 13a, 13c): the {unit} "
                   f"analysed in each arm, then the {matched_unit} matched and not matched "
                   "(as in the table of matched counts).")
    fig = plot_flow(cohort, arms=list(arms), width=study.width, matched=matched,
                    unmatched=unmatched, matched_unit=matched_unit)
    return writer.figure(name, fig, caption=caption)
