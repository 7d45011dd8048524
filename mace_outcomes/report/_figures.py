"""The report's figures, drawn from the curves and tests the comparison already fitted.

Each endpoint's Kaplan-Meier figures show the very curves, log-rank test and hazard ratio
``mo.compare_arms`` reported for its crude and first weighted analysis
(``Comparison.curves`` / ``.tests``): nothing is re-estimated for a picture, so a figure
cannot disagree with the tables beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ENDPOINT_LABELS = {"mace": "MACE", "cardiac_death": "Cardiac death", "mi": "Myocardial infarction",
                   "tvr": "Target-vessel revascularisation", "stent_thrombosis":
                   "Stent thrombosis", "all_cause_death": "All-cause death",
                   "target_lesion_failure": "Target-lesion failure"}


def hr_args(row: pd.Series | None) -> dict:
    """The hazard ratio annotation of a KM figure from a compare_arms row."""
    if row is None or not np.isfinite(row.get("hr", np.nan)):
        return {}
    if "Firth" in str(row.get("method", "")):  # say which model gave a finite HR
        return {"hr_label": f"Firth HR {row['hr']:.2f} ({row['lower']:.2f}-"
                            f"{row['upper']:.2f})"}
    return {"hr": row}


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
    if len(rows) > 1:
        name = rows.loc[1, "analysis"]
        panels.append(("iptw", name, comp.curves[name], comp.tests[name], rows.iloc[1]))
    return panels


def figures(writer, study, state: dict) -> None:
    """KM figures of every endpoint, the forest plot, the love and overlap plots."""
    from ..plots import plot_forest, plot_love, plot_overlap

    labels = {state["treated"]: str(state["treated"]), state["control"]: str(state["control"])}
    order = [state["treated"], state["control"]]
    breaks = None
    if study.unit == "months" and study.horizon_days == 365:
        breaks = (0, 3, 6, 9, 12)
    for ep in state["tte"]:
        name = ENDPOINT_LABELS.get(ep, ep)
        for suffix, analysis, km, test, row in km_panels(state, ep):
            fig = km.plot(kind="event", unit=study.unit, width=study.width, test=test,
                          breaks=breaks, **hr_args(row), labels=labels, order=order,
                          title=f"{name}, {analysis}")
            title = f"Kaplan-Meier: {ep}" + (", weighted" if suffix != "crude" else "")
            writer.section(title, writer.figure(f"km_{ep}_{suffix}", fig))
    if state["comparisons"]:
        rows = []
        for ep, comp in state["comparisons"].items():
            for _, r in comp.table.iterrows():
                rows.append({"label": f"{ENDPOINT_LABELS.get(ep, ep)}: {r['analysis']}",
                             "hr": r["hr"], "lower": r["lower"], "upper": r["upper"], "p": r["p"]})
        writer.section("Forest plot", writer.figure("forest", plot_forest(pd.DataFrame(rows))))
    if state["ps"] is not None:
        writer.section("Love plot", writer.figure("love", plot_love(state["ps"])))
        writer.section("Propensity overlap", writer.figure("overlap", plot_overlap(state["ps"])))
