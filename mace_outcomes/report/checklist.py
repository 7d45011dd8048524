"""The STROBE and RECORD checklist of the report, each item linked to what answers it.

STROBE (von Elm et al., Lancet 2007;370:1453-7), the items a cohort study must report;
RECORD (Benchimol et al., PLoS Med 2015;12:e1001885) item 7.1, the codes and algorithms
that define exposures and outcomes in routinely collected data: here, each endpoint's
ARC-2 event types exactly as :mod:`mace_outcomes.records.endpoints` counts them.

An item points to the report sections that answer it; where this run wrote none (no
propensity model, no events), or where the report never answers it (subgroups), it says
"not in this report" rather than pretend.
"""

from __future__ import annotations

import html

import pandas as pd

from ._adjusted import ADJUSTED
from ._sections import (
    COMPLETE_CASE,
    IMPUTATION,
    LANDMARK,
    MEAN_FREQUENCY,
    TOTAL_EVENTS,
    WIN_RATIO,
)

#: the anchor of the endpoint-definitions table inside the checklist section.
DEFINITIONS_ID = "endpoint-definitions"
NOT_HERE = "not in this report"


def slug(title: str) -> str:
    """The HTML id the report gives a section of this title (``_html.write_report``)."""
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower())


def _figures(prefix: str):
    return lambda titles: [t for t in titles if t.startswith(prefix)]


def _items(study, arms: list) -> list[tuple[str, str, list, str]]:
    """(item, topic, sections answering it, what the report says): sections are titles,
    ``callable(titles) -> titles`` for figures named per endpoint, or ``#anchor``."""
    curves = lambda titles: (_figures("Kaplan-Meier: ")(titles)  # noqa: E731
                             + _figures("Cumulative incidence: ")(titles))
    landmarks = _figures(LANDMARK)
    missing = {"error": "records with missing values stop the analysis",
               "complete_case": "complete-case analysis: patients missing a propensity "
                                "covariate are excluded (one attrition line each)",
               "impute": f"missing propensity covariates imputed m = {study.m} times by "
                         "chained equations and the comparisons pooled by Rubin's rules "
                         "(primary); complete cases as a sensitivity analysis"
               }.get(study.missing, study.missing)
    beyond = [("landmark analyses at " + ", ".join(f"{d:g}" for d in study.landmarks)
               + " days") if study.landmarks else "",
              "total (first and repeat) events" if study.recurrent else "",
              "win ratio of " + " > ".join(map(study.label, study.win_ratio))
              if study.win_ratio else ""]
    beyond = "; ".join(b for b in beyond if b)
    matched = "match" in study.adjustment
    criteria = "; ".join(f"{k}: {v}" for k, v in {**study.exclusions,
                                                   **study.lesion_exclusions}.items())
    return [
        ("STROBE 6a", "Eligibility criteria, sources and selection",
         ["Patient flow"], f"exclusions applied: {criteria or 'none'}"),
        ("STROBE 6b", "Matching criteria",
         [_figures("Matched")] if matched else [],
         _matching_note(study) if matched else
         "no matching: arms compared by propensity weighting"
         if study.covariates else "no matching"),
        ("STROBE 7", "Outcomes, exposures and confounders defined",
         [f"#{DEFINITIONS_ID}", "Table 1", "Balance"],
         f"endpoints by ARC-2 event types; arms {' vs '.join(map(str, arms))}; "
         f"propensity covariates: {', '.join(study.covariates) or 'none'}"),
        ("RECORD 7.1", "Codes and algorithms defining outcomes",
         [f"#{DEFINITIONS_ID}"], "each endpoint's event types, as counted"),
        ("STROBE 12a", "Statistical methods, including confounding control",
         ["Crude and adjusted comparison", "Table 4b"], "model named in each row"),
        ("STROBE 12b", "Subgroups and interactions", [], "no subgroup analyses"),
        ("STROBE 12c", "Missing data", ["Missing data", IMPUTATION], missing),
        ("STROBE 12d", "Loss to follow-up", ["Follow-up"], "censoring and follow-up by arm"),
        ("STROBE 12e", "Sensitivity analyses", ["Crude and adjusted comparison",
                                                COMPLETE_CASE, landmarks],
         ("crude vs weighted estimates, E-values, bootstrap interval"
          if study.missing != "impute" else "crude vs weighted estimates pooled over the "
          "imputations; complete-case analysis")
         + ("; early and late events apart (landmark)" if study.landmarks else "")),
        ("STROBE 13a", "Numbers at each stage", ["Patient flow", _figures("Matched")],
         "attrition table" + ("; matched and unmatched patients per arm" if matched
                              else "")),
        ("STROBE 13b", "Reasons for non-participation", ["Patient flow"],
         "each exclusion with its count"),
        ("STROBE 13c", "Flow diagram", ["Patient flow"], "flow diagram"),
        ("STROBE 14a", "Characteristics of participants", ["Table 1", "Tables 2-3"],
         "baseline characteristics by arm"),
        ("STROBE 14b", "Missing data per variable", ["Missing data"], "missing values by arm"),
        ("STROBE 14c", "Follow-up time", ["Follow-up"], "follow-up summary"),
        ("STROBE 15", "Outcome events", ["Table 4b"], "events per endpoint and arm"),
        ("STROBE 16a", "Unadjusted and adjusted estimates with 95% CI",
         ["Crude and adjusted comparison", "Forest plot"], "hazard ratios (95% CI)"),
        ("STROBE 16b", "Category boundaries of continuous variables", [],
         "boundaries, where a table uses them, are stated in its notes"),
        ("STROBE 16c", "Absolute risks", ["Table 4b", "Crude and adjusted comparison",
                                           ADJUSTED, curves],
         f"risk per arm at {study.horizon_days:g} days and cumulative incidence curves"
         + ("; adjusted (standardised) risks per arm (AIPTW, g-formula, IPTW) with risk "
            "differences and ratios (95% CI) and standardised risk curves, or why they "
            "could not be estimated" if study.covariates else
            "; no propensity covariates: no adjusted risks or risk differences")),
        ("STROBE 17", "Other analyses", ["Primary endpoint", landmarks, TOTAL_EVENTS,
                                         _figures(MEAN_FREQUENCY), WIN_RATIO],
         (beyond + "; " if beyond else "")
         + "subgroup and interaction analyses are not in this report"),
    ]


def _matching_note(study) -> str:
    from .study import MATCHING

    m = {**MATCHING, **study.matching}
    caliper = (f"caliper {m['caliper']:g}" + (" SD of the logit of the propensity score"
                                               if m["std_caliper"] else "")
               if m["caliper"] else "no caliper")
    exact = f"; exact on {', '.join(m['exact'])}" if m["exact"] else ""
    return (f"nearest-neighbour 1:{m['ratio']} matching on the logit of the propensity "
            f"score, {caliper}, {'with' if m['replace'] else 'without'} replacement, "
            f"{m['order']} first{exact}")


def _resolve(wanted: list, titles: list[str]) -> list[tuple[str, str]]:
    """(anchor, link text) of each wanted section this report has."""
    out = []
    for w in wanted:
        if callable(w):
            out += [(slug(t), t) for t in w(titles)]
        elif w.startswith("#"):
            out.append((w[1:], "Endpoint definitions"))
        elif w in titles:
            out.append((slug(w), w))
    return out


def checklist(study, titles: list[str], arms: list) -> pd.DataFrame:
    """The checklist as a table: ``item``, ``topic``, ``where`` (section titles, or
    "not in this report"), ``anchors`` (HTML ids), ``note``, ``links`` ((id, title) pairs)."""
    rows = []
    for item, topic, wanted, note in _items(study, arms):
        links = _resolve(wanted, titles)
        rows.append({"item": item, "topic": topic,
                     "where": "; ".join(t for _, t in links) or NOT_HERE,
                     "anchors": " ".join(a for a, _ in links), "note": note,
                     "links": links})
    return pd.DataFrame(rows)


def endpoint_definitions(study, endpoints) -> pd.DataFrame:
    """RECORD 7.1: each endpoint's event types, those counted with the ARC-2 implications,
    the competing deaths and the stent-thrombosis certainty that counts."""
    from ..records.endpoints import get_endpoint

    rows = []
    for name in endpoints:
        ep = get_endpoint(study.endpoint(name))
        rows.append({"endpoint": study.label(name), "event types": ", ".join(ep.event_types),
                     "counted (ARC-2)": ", ".join(sorted(ep.counted)),
                     "competing deaths": ", ".join(sorted(ep.competing)) or "none",
                     "stent thrombosis counted": ", ".join(ep.st_certainty),
                     "target vessel only": ", ".join(ep.target_vessel_only) or "",
                     "description": ep.description})
    return pd.DataFrame(rows)


def _row_html(row: pd.Series) -> str:
    where = (", ".join(f'<a href="#{html.escape(a)}">{html.escape(t)}</a>'
                       for a, t in row["links"]) or f"<em>{NOT_HERE}</em>")
    return (f"<tr><td>{html.escape(row['item'])}</td><td>{html.escape(row['topic'])}</td>"
            f"<td>{where}</td><td>{html.escape(row['note'])}</td></tr>")


def checklist_section(writer, study, state: dict) -> tuple[str, str]:
    """(title, HTML body) of the checklist section; writes both tables to ``tables/``."""
    from ..tables.export import to_html

    titles = [t for t, _ in writer.sections]
    table = checklist(study, titles, [state["treated"], state["control"]])
    defs = endpoint_definitions(study, list(state["tte"]))
    writer.table("strobe_record_checklist", table.drop(columns=["anchors", "links"]),
                 "STROBE and RECORD checklist")
    writer.table("endpoint_definitions", defs, "Endpoint definitions (RECORD 7.1)")
    head = "".join(f"<th>{h}</th>" for h in ("Item", "Topic", "Where", "Note"))
    rows = "".join(_row_html(r) for _, r in table.iterrows())
    body = (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f'<h3 id="{DEFINITIONS_ID}">Endpoint definitions (RECORD 7.1)</h3>'
            + to_html(defs, "Event types of each endpoint (ARC-2; first event per unit)"))
    return "STROBE and RECORD checklist", body
