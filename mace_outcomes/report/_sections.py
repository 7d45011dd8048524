"""Report sections beyond the standard tables: multiple imputation, landmarks, total
(recurrent) events and the win ratio.

Each builder takes what :func:`~mace_outcomes.report.analyze` already fitted (the study,
the arm-labelled cohort, the time-to-event frames) and writes one section through the
report's writer; the tidy numbers go to ``results.json`` unrounded. A section is written
only when the study asks for it (``missing = "impute"`` with blank covariates,
``landmarks``, ``recurrent``, ``win_ratio``).

Multiple imputation follows the "within" approach (Leyrat et al., Stat Methods Med Res
2019;28:3-19): each endpoint's patients are imputed ``m`` times by chained equations with
that endpoint's event indicator and Nelson-Aalen cumulative hazard in every model (White
& Royston, Stat Med 2009;28:1982-98), the propensity model is re-fitted in each completed
data set and the comparisons are pooled by Rubin's rules (``mo.compare_arms`` on an
``Imputations``). At lesion level the patients are imputed and their values merged to
their lesions, so one patient's lesions share one imputed value.
"""

from __future__ import annotations

import html
from dataclasses import replace

import numpy as np
import pandas as pd

from .._format import DASH, INFINITY, format_ci, format_p, format_ratio
from .study import Study

#: Section titles (the checklist links them).
IMPUTATION = "Multiple imputation"
COMPLETE_CASE = "Complete-case sensitivity analysis"
LANDMARK = "Landmark analysis: "
TOTAL_EVENTS = "Total events (first and repeat)"
MEAN_FREQUENCY = "Mean cumulative events: "
WIN_RATIO = "Win ratio"


def paragraph(text: str) -> str:
    """A paragraph of running text (escaped: labels come from the study file)."""
    return f"<p>{html.escape(text)}</p>"


def ess_phrase(ess: dict, arms: list) -> str:
    """``"effective sample size: OCT 29.3, IVUS 41.2"`` (Kish, per arm in ``arms``
    order)."""
    return "effective sample size: " + ", ".join(f"{a} {float(ess[a]):.1f}" for a in arms
                                                 if a in ess)


# ----------------------------------------------------------------- multiple imputation
def needs_imputation(study, frame: pd.DataFrame, covariates: list[str]) -> bool:
    """``missing = "impute"`` and some propensity covariate blank in the analysis frame."""
    present = [c for c in covariates if c in frame.columns]
    return (study.missing == "impute" and bool(present)
            and bool(frame[present].isna().to_numpy().any()))


def to_lesions(lesion_rows: pd.DataFrame, completed: pd.DataFrame,
               variables: list[str]) -> pd.DataFrame:
    """Lesion rows with their patient's completed values of ``variables``."""
    filled = completed.set_index("patient_id")[variables]
    out = lesion_rows.copy()
    for col in variables:
        values = lesion_rows["patient_id"].map(filled[col])
        out[col] = values.astype(filled[col].dtype) if not values.isna().any() else values
    return out


def impute_endpoints(cohort, tte: dict, study, covariates: list[str]) -> dict:
    """One :class:`Imputations` per endpoint with events, imputed at patient level.

    Each endpoint's patients are imputed with its own outcome in the models
    (``mo.impute(frame, variables=covariates, m=study.m, seed=study.seed,
    treatment="arm")``); at lesion level the completed values are merged to the lesions.
    The first endpoint is imputed even without events (its balance is reported), then
    without the outcome terms.
    """
    import mace_outcomes as mo

    out = {}
    for i, (ep, d) in enumerate(tte.items()):
        has_events = bool(d["event"].sum())
        if not has_events and i > 0:
            continue  # nothing to compare
        base = d if study.level == "patient" else mo.time_to_event(
            cohort, endpoint=study.endpoint(ep), horizon=study.horizon_days, level="patient")
        variables = [c for c in covariates if c in base.columns]  # patient columns
        outcome = {} if has_events else {"time": None, "event": None}
        imp = mo.impute(base, variables=variables, m=study.m, seed=study.seed,
                        treatment="arm", **outcome)
        if study.level == "lesion":
            imp = replace(imp, datasets=[to_lesions(d, x, variables) for x in imp.datasets])
        out[ep] = imp
    return out


def adjustment_arguments(study) -> dict:
    """``compare_arms`` keywords for the study's ``adjustment`` (and ``[matching]``).

    Where ``compare_arms`` takes ``adjustment=`` they are passed as they are; otherwise
    the weighted rows it always adds are chosen with ``estimand`` and ``overlap``
    (preflight refuses ``"match"`` there).
    """
    from .preflight import matching_ready
    from .study import MATCHING

    if not study.covariates:  # crude rows only
        return {"estimand": study.estimand}
    wanted = list(study.adjustment)
    if study.estimand == "ATO":  # the IPTW row would be the overlap row again
        wanted = [a for a in wanted if a != "iptw"] or ["overlap"]
    if matching_ready():
        out = {"estimand": study.estimand, "adjustment": tuple(wanted)}
        if "match" in wanted:
            m = {**MATCHING, **study.matching}  # a Study built in code may give a few
            out["matching"] = {**m, "caliper": m["caliper"] or None,
                               "exact": list(m["exact"]) or None, "seed": study.seed}
        return out
    if "iptw" not in wanted:  # overlap weights alone
        return {"estimand": "ATO"}
    return {"estimand": study.estimand, "overlap": "overlap" in wanted}


def compare_imputed(imp, frame: pd.DataFrame, study, covariates: list[str], cluster,
                    treated, adjustment: dict) -> tuple:
    """(pooled comparison over the imputations, complete-case comparison) of one
    endpoint; no bootstrap (its intervals are not combined with Rubin's rules here)."""
    import mace_outcomes as mo

    common = {"treatment": "arm", "covariates": covariates, "cluster": cluster,
              "horizon": study.horizon_days, "treated": treated, **adjustment}
    pooled = mo.compare_arms(imp, **common)
    cc = mo.compare_arms(frame, missing="complete_case", **common)
    return pooled, cc


def pooled_rows(pooled) -> pd.DataFrame:
    """One row per analysis of a pooled comparison, in ``compare_arms``'s columns.

    Hazard ratio, RMST and risk differences with their limits, p, df and the fraction of
    missing information (``fmi``) of the hazard ratio are Rubin's (``pooled.summary``);
    counts are those of the first imputation (the outcome is never imputed); effective
    sample sizes and survival at the horizon are averaged over the imputations (Rubin's
    point estimate).
    """
    s = pooled.summary
    tables = [c.table.reset_index(drop=True) for c in pooled.per_imputation]
    first = tables[0]
    mean = {c: np.mean([t[c].to_numpy(float) for t in tables], axis=0)
            for c in ("ess_treated", "ess_control", "surv_treated", "surv_control")}
    rows = []
    for i, a in enumerate(first["analysis"]):
        hr, rm, rd = (s.loc[f"{a}: {k}"] for k in ("hr", "rmst_diff", "rd"))
        rows.append({
            "analysis": a,
            "method": f"{first.loc[i, 'method']}; pooled over m = {pooled.m} imputations "
                      "(Rubin's rules)",
            **{c: first.loc[i, c] for c in ("n_treated", "events_treated", "n_control",
                                            "events_control")},
            **{c: v[i] for c, v in mean.items()},
            "hr": hr["hr"], "lower": hr["hr_lower"], "upper": hr["hr_upper"], "p": hr["p"],
            "df": hr["df"], "fmi": hr["fmi"],
            "rmst_diff": rm["estimate"], "rmst_lower": rm["lower"], "rmst_upper": rm["upper"],
            "rd": rd["estimate"], "rd_lower": rd["lower"], "rd_upper": rd["upper"],
        })
    return pd.DataFrame(rows)


#: Limits beyond this are printed as ">999" (pooled intervals on very few degrees of
#: freedom reach astronomically large values that no reader can use).
_LARGEST = 999.0


def ratio_ci(est: float, lower: float, upper: float) -> str:
    """A ratio with its interval at the ratio precision; an upper limit above 999 reads
    ">999"."""
    if np.isfinite(upper) and upper > _LARGEST and np.isfinite(est) and est <= _LARGEST:
        return f"{format_ratio(est)} ({format_ratio(lower)}{DASH}>{_LARGEST:g})"
    return format_ci(est, lower, upper, digits=None)


def pooled_journal_rows(endpoint: str, rows: pd.DataFrame, treated, control) -> pd.DataFrame:
    """:func:`pooled_rows` for reading: counts, risks, HR (95% CI), p, df, FMI."""
    def pct(v):
        return "" if not np.isfinite(v) else f"{100 * v:.1f}"

    return pd.DataFrame({
        "endpoint": endpoint,
        "analysis": rows["analysis"],
        "model": rows["method"],
        f"events/N {treated}": [f"{e}/{n}" for e, n in zip(rows.events_treated,
                                                            rows.n_treated, strict=True)],
        f"events/N {control}": [f"{e}/{n}" for e, n in zip(rows.events_control,
                                                            rows.n_control, strict=True)],
        f"risk {treated} %": [pct(1 - v) for v in rows.surv_treated],
        f"risk {control} %": [pct(1 - v) for v in rows.surv_control],
        "HR (95% CI)": [ratio_ci(*v) for v in zip(rows.hr, rows.lower, rows.upper,
                                                    strict=True)],
        "p": [format_p(v) for v in rows.p],
        "df": [f"{v:.1f}" if np.isfinite(v) else "" for v in rows.df],
        "FMI": [f"{v:.2f}" if np.isfinite(v) else "" for v in rows.fmi],
        "RMST diff, days (95% CI)": [format_ci(*v, digits=1) for v in zip(
            rows.rmst_diff, rows.rmst_lower, rows.rmst_upper, strict=True)],
        "risk difference, % (95% CI)": [format_ci(*(100 * np.asarray(v)), digits=1)
                                        for v in zip(rows.rd, rows.rd_lower, rows.rd_upper,
                                                     strict=True)],
    })


def primary_statement(study, n_total: int | None = None, n_complete: int | None = None,
                      estimand: str = "ATE") -> str:
    """Which analysis is primary, in words, for the study's missing-data policy."""
    unit = "lesions" if study.level == "lesion" else "patients"
    if study.missing == "impute":
        cc = (f" ({n_complete} of {n_total} {unit} with every propensity covariate)"
              if n_total is not None else "")
        return (f"Primary analysis: the comparison on m = {study.m} multiply imputed data "
                f"sets (chained equations, seed {study.seed}; each endpoint's event "
                "indicator and Nelson-Aalen cumulative hazard and the arm in every "
                "imputation model), the propensity model re-fitted within each imputation "
                f"({estimand} and overlap weights) and the estimates pooled by Rubin's rules "
                "(Barnard-Rubin df; FMI: fraction of missing information). The "
                f"complete-case analysis{cc} is a sensitivity analysis.")
    if study.missing == "complete_case":
        return (f"Primary analysis: complete cases; {unit} missing a propensity covariate "
                "are left out (one attrition line per variable).")
    return f"Primary analysis: all {unit}; no propensity covariate is missing."


def imputation_section(writer, study, imputations: dict, label, estimand: str,
                       n_total: int, n_complete: int) -> tuple[str, dict]:
    """(HTML body, results) of the imputation section: the statement of the primary
    analysis, the imputation models of the first endpoint and their notes."""
    first = next(iter(imputations.values()))
    summary = first.summary.assign(variable=first.summary["variable"].map(label))
    statement = primary_statement(study, n_total, n_complete, estimand)
    notes = [*first.notes, f"{first.iterations} iterations per chain; each endpoint "
             "imputed separately (its own outcome in the models)"
             + ("; patients imputed, their values merged to their lesions"
                if study.level == "lesion" else "")]
    if study.bootstrap:
        notes.append("no bootstrap interval on imputed data: the intervals are Rubin's")
    body = paragraph(statement) + writer.table(
        "imputation", summary.round(2), f"Imputation models (m = {first.m}, seed "
        f"{first.seed})", notes)
    return body, {"m": first.m, "seed": first.seed, "iterations": first.iterations,
                  "summary": first.summary, "notes": notes, "primary": statement,
                  "endpoints": list(imputations)}


# -------------------------------------------------------------- beyond the first event
def _patient_frame(state: dict, study, ep: str) -> pd.DataFrame:
    """The endpoint's patient-level frame (at lesion level: fitted again per patient)."""
    import mace_outcomes as mo

    if study.level == "patient":
        return state["tte"][ep]
    return mo.time_to_event(state["cohort"], endpoint=study.endpoint(ep),
                            horizon=study.horizon_days, level="patient")


def _curve_options(state: dict, study) -> dict:
    from ._figures import min_cell_option, study_palette

    t, c = state["treated"], state["control"]
    return {"labels": {t: str(t), c: str(c)}, "order": [t, c], "palette": study_palette(state),
            "unit": study.unit, "width": study.width, **min_cell_option(study)}


def landmark_sections(writer, study, state: dict) -> dict:
    """For each landmark day: the two-window figure of the first endpoint and the table
    of its log-rank test per window (patients)."""
    import mace_outcomes as mo

    ep = study.endpoints[0]
    name = state["label"](ep)
    d = _patient_frame(state, study, ep)
    out = {}
    for day in study.landmarks:
        lm = mo.landmark_curves(d, at=day, group="arm", horizon=study.horizon_days)
        fig = mo.plot_km(lm, landmark=day, kind="event", **_curve_options(state, study))
        t = lm.table.assign(order=lm.table["group"].map(
            {state["treated"]: 0, state["control"]: 1})).sort_values(
            ["window", "order"], kind="stable", key=lambda c: c.map(
                {w: i for i, w in enumerate(lm.curves)}) if c.name == "window" else c)
        table = pd.DataFrame({"window (days)": t["window"], "arm": t["group"],
                              "patients": t["n"].astype(int),
                              "events": t["events"].round().astype(int),
                              "log-rank chi-square": t["chisq"].round(2),
                              "p": [format_p(p) for p in t["p"]]})
        caption = (f"{name}: landmark analysis at {day:g} days (patients). Left: "
                   f"cumulative incidence from 0 to {day:g} days, follow-up censored at "
                   f"{day:g}; right: patients event-free and followed beyond {day:g} days, "
                   f"time from the landmark to {study.horizon_days:g} days. Each window "
                   "has its own numbers at risk and log-rank test.")
        notes = list(lm.notes) + (["patient level (the first event per patient)"]
                                  if study.level == "lesion" else [])
        body = writer.figure(f"landmark_{ep}_{day:g}", fig, caption=caption) + writer.table(
            f"landmark_{ep}_{day:g}", table, f"{name}: events and log-rank test per window, "
            f"landmark {day:g} days", notes)
        writer.section(f"{LANDMARK}{name}, {day:g} days", body)
        out[f"{day:g}"] = {"endpoint": ep, "table": lm.table, "notes": notes}
    return out


def total_events_table(first: pd.DataFrame, rec: pd.DataFrame, mf, horizon: float,
                       arms: list) -> pd.DataFrame:
    """Per arm: patients, first events, total events (first and repeat) and the mean
    cumulative number of events per patient at ``horizon`` (``mf.at``)."""
    at = mf.at(horizon).set_index("group")
    rows = []
    for arm in arms:
        mine = rec["arm"] == arm
        rows.append({"arm": arm, "patients": int((first["arm"] == arm).sum()),
                     "first events": int(first.loc[first["arm"] == arm, "event"].sum()),
                     "total events": int(rec.loc[mine, "event"].sum()),
                     "mean": float(at.loc[arm, "mean"]), "lower": float(at.loc[arm, "lower"]),
                     "upper": float(at.loc[arm, "upper"])})
    return pd.DataFrame(rows)


def recurrent_section(writer, study, state: dict) -> dict:
    """Total events of the first endpoint: the table per arm and the mean cumulative
    count figure (Ghosh-Lin: death ends the count)."""
    import mace_outcomes as mo

    ep = study.endpoints[0]
    name = state["label"](ep)
    rec = mo.time_to_event(state["cohort"], endpoint=study.endpoint(ep),
                           horizon=study.horizon_days, recurrent=True)
    mf = mo.mean_frequency(rec, group="arm", terminal="terminal")
    arms = [state["treated"], state["control"]]
    table = total_events_table(_patient_frame(state, study, ep), rec, mf,
                               study.horizon_days, arms)
    shown = table[["arm", "patients", "first events", "total events"]].assign(**{
        f"mean events per patient at {study.horizon_days:g} days (95% CI)": [
            format_ci(*v) for v in zip(table["mean"], table["lower"], table["upper"],
                                       strict=True)]})
    how = {"ghosh-lin": "Ghosh-Lin", "nelson-aalen": "Nelson-Aalen"}.get(mf.estimator,
                                                                        mf.estimator)
    notes = [f"{how} estimator of the mean cumulative number of {name} events "
             "(death of any cause ends a patient's count); robust variance clustered by "
             "patient; log-transformed 95% CI"]
    if rec.attrs.get("events_on_day_0"):
        notes.append(f"{rec.attrs['events_on_day_0']} event(s) on day 0 cannot start a "
                     "new interval and are not counted")
    options = _curve_options(state, study)
    # the mean-frequency figure has no small-count suppression: no numbers at risk then
    small = options.pop("min_cell", 0)
    fig = mo.plot_mean_frequency(mf, **options, risk_table=not small)
    caption = (f"{name}: mean cumulative number of events per patient by arm (first and "
               f"repeat events, Ghosh-Lin with death as a terminal event; patients)"
               + (f"; numbers at risk not shown (min_cell = {small})." if small else
                  ", with the patients still followed under the curves."))
    writer.section(TOTAL_EVENTS, writer.table(f"total_events_{ep}", shown,
                                              f"{name}: first and total events by arm",
                                              notes))
    writer.section(f"{MEAN_FREQUENCY}{name}",
                   writer.figure(f"mcf_{ep}", fig, caption=caption))
    return {"endpoint": ep, "table": table, "estimator": mf.estimator, "notes": notes}


def win_ratio_rows(wr, label) -> pd.DataFrame:
    """The win-ratio table for reading: per level, pairs reached, wins, losses, ties."""
    t = wr.table
    return pd.DataFrame({"level": [label(v) for v in t["level"]], "pairs": t["pairs"],
                         f"{wr.treated} wins": t["wins"], f"{wr.reference} wins": t["losses"],
                         "tied after the level": t["ties"]})


def win_ratio_section(writer, study, state: dict) -> dict:
    """Pocock's win ratio over the study's hierarchy: table and figure (patients)."""
    import mace_outcomes as mo

    from ..plots.win_ratio import plot_win_ratio

    label = state["label"]
    wr = mo.win_ratio(state["cohort"], treatment="arm", hierarchy=list(study.win_ratio),
                      horizon=study.horizon_days, control=state["control"])
    s = wr.summary.iloc[0]
    notes = [f"win ratio {format_ci(s['win_ratio'], s['lower'], s['upper'])}, "
             f"p {format_p(s['p']) or 'not computed'} (U-statistic variance); win odds "
             f"{s['win_odds']:.2f}; net benefit {s['net_benefit']:.3f}; "
             f"Finkelstein-Schoenfeld p {format_p(s['fs_p']) or 'not computed'}",
             f"every {wr.treated} patient compared with every {wr.reference} patient "
             f"({s['pairs']:.0f} pairs) over their shared follow-up up to "
             f"{study.horizon_days:g} days, level by level: "
             + " > ".join(label(v) for v in study.win_ratio), *wr.notes]
    fig = plot_win_ratio(wr, level_labels={v: label(v) for v in study.win_ratio},
                         width=study.width)
    caption = (f"Win ratio of {wr.treated} vs {wr.reference}: the share of patient pairs "
               "won by each arm at each level of the hierarchy, and the pairs tied at every "
               "level (%).")
    body = writer.table("win_ratio", win_ratio_rows(wr, label), "Win ratio: "
                        + " > ".join(label(v) for v in study.win_ratio), notes)
    writer.section(WIN_RATIO, body + writer.figure("win_ratio", fig, caption=caption))
    return {"hierarchy": list(study.win_ratio), "table": wr.table, "summary": wr.summary,
            "notes": notes}


# ------------------------------------------------------------------------ matching
MATCHED = "Matched sample"


def matched_counts(m) -> pd.DataFrame:
    """Per arm: all, matched and unmatched patients and the matched effective size."""
    c = m.counts
    return pd.DataFrame({"arm": c["group"], "all": c["all"], "matched": c["matched"],
                         "unmatched": c["unmatched"], "effective size": c["ess"].round(1)})


def matched_section(writer, study, state: dict, results: dict) -> None:
    """The matched sample of the first endpoint's comparison: counts per arm, balance
    before and after matching (love plot) and its Kaplan-Meier figure, drawn from the
    matched row's own curves and test (``match_weight`` weights, cluster-robust)."""
    from ..plots import plot_love
    from ._figures import KMUNICATE, hr_args

    ep = study.endpoints[0]
    comp = state["fits"].get(ep)
    m = getattr(comp, "matched", None)
    if "match" not in study.adjustment or m is None or state.get("imputed"):
        return  # under imputation the matched sample differs by imputation: rows only
    label = state["label"]
    unit = "lesions" if study.level == "lesion" else "patients"
    balance = m.balance()
    shown = balance[balance["covariate"] != "distance"].rename(
        columns={"smd_pooled_before": "smd_unweighted", "smd_pooled_after": "smd_weighted"})
    love = plot_love(shown, labels=state.get("labels"), names=("Before matching",
                                                                "After matching"),
                     palette=_curve_options(state, study)["palette"], width=study.width)
    notes = [*m.notes, f"{m.method}; 1:{m.ratio} "
             f"{'with' if m.replace else 'without'} replacement, "
             + (f"caliper {m.caliper:g}{' SD' if m.std_caliper else ''} of the logit"
                if m.caliper_logit is not None else "no caliper") + f", order {m.order}"]
    body = writer.table("matched_counts", matched_counts(m), f"Matched and unmatched {unit} "
                        "per arm", notes)
    body += writer.table("matched_balance", balance.round(4), "Balance before and after "
                         "matching (SMD over the pooled SD; MatchIt's focal-arm SMD in "
                         "smd_before / smd_after)")
    body += writer.figure("love_matched", love, caption="Standardised mean differences of "
                          "the propensity covariates before and after matching (|SMD| < "
                          "0.1: balanced).")
    t1_html, t1 = matched_table_one(writer, study, state, m)
    body += t1_html
    body += matched_flow(writer, study, state, m)
    writer.section(MATCHED, body)
    rows = comp.table.set_index("analysis")
    row = rows.loc["matched"] if "matched" in rows.index else None
    curves = comp.curves["matched"]
    # 1:1 matching without replacement weighs every matched patient 1: one set of counts
    both = bool((m.data["match_weight"] != 1).any())
    fig = curves.plot(kind="event", test=comp.tests.get("matched"), **hr_args(row),
                      test_label="Log-rank (matched sets)", title=f"{label(ep)}, matched",
                      risk_table_rows=KMUNICATE, **_curve_options(state, study),
                      **({"weighted_counts": "both"} if both else {}))
    caption = (f"{label(ep)} in the matched sample: Kaplan-Meier cumulative incidence by "
               f"arm weighted by the matching weights; p from the cluster-robust log-rank "
               "test (matched sets as clusters); hazard ratio from the matched row.")
    writer.section(f"Kaplan-Meier: {label(ep)}, matched",
                   writer.figure(f"km_{ep}_matched", fig, caption=caption))
    results["matching"] = {"endpoint": ep, "counts": m.counts, "balance": balance,
                           "table1": t1.table,
                           "unmatched": [str(x) for x in m.unmatched], "notes": notes}


#: columns of a matched sample that are no patient characteristic
_NOT_CHARACTERISTICS = ("patient_id", "lesion_id", "arm", "index_date", "last_contact_date",
                        "synthetic", "time", "event", "status", "event_type", "subclass",
                        "match_weight", "distance")


def matched_table_one(writer, study, state: dict, m) -> tuple[str, object]:
    """(HTML, TableOne) of Table 1 of the matched sample (``m.data``): weighted by
    ``match_weight`` where a weight differs from 1 (1:k or with replacement), else
    unweighted, and said so in its notes."""
    import mace_outcomes as mo

    from ..records.expr import columns

    data = m.data
    weighted = bool((data["match_weight"] != 1).any())
    # as Table 1: no ids, no outcome, no private or exclusion columns (constant here)
    criteria = {c for text in study.exclusions.values() for c in columns(text)}
    left_out = [c for c in data.columns if c in _NOT_CHARACTERISTICS or c in criteria
                or str(c).startswith("_")]
    unit = "lesions" if study.level == "lesion" else "patients"
    t1 = mo.table_one(data, group="arm", weights="match_weight" if weighted else None,
                      exclude=left_out,
                      arms=[state["treated"], state["control"]],
                      labels={str(c): study.label(str(c)) for c in data.columns},
                      title=f"Table 1, matched sample: baseline characteristics ({unit})")
    how = ("weighted by the matching weights (MatchIt's match_weight): counts are "
           "weighted pseudo-counts" if weighted else
           f"unweighted: 1:1 matching without replacement gives every matched {unit[:-1]} "
           "the weight 1")
    t1 = replace(t1, warnings=(*t1.warnings, f"matched {unit} only; {how}"))
    return writer.table("table1_matched", t1.table, t1.title, result=t1), t1


def matched_flow(writer, study, state: dict, m) -> str:
    """The patient-flow diagram again, with each arm's matched and unmatched box."""
    from ._figures import flow_figure

    c = m.counts.set_index("group")
    arms = [state["treated"], state["control"]]
    return flow_figure(writer, study, state["cohort"], arms, name="flow_matched",
                       matched={a: int(c.loc[a, "matched"]) for a in arms},
                       unmatched={a: int(c.loc[a, "unmatched"]) for a in arms},
                       matched_unit="lesions" if study.level == "lesion" else "patients")


def beyond_first_event(writer, study, state: dict, results: dict) -> None:
    """The sections the study asked for: the matched sample, landmarks, total events,
    win ratio."""
    matched_section(writer, study, state, results)
    if study.landmarks:
        results["landmarks"] = landmark_sections(writer, study, state)
    if study.recurrent:
        results["recurrent"] = recurrent_section(writer, study, state)
    if study.win_ratio:
        results["win_ratio"] = win_ratio_section(writer, study, state)


ID_COLUMNS = {"patient_id", "lesion_id", "arm", "index_date", "last_contact_date", "synthetic",
               "time", "event", "status", "event_type"}


def column_labels(study: Study, columns) -> dict[str, str]:
    """Display names of ``columns`` (the study's ``[labels]``, then the defaults)."""
    return {str(c): study.label(str(c)) for c in columns}


def _p(p: float) -> str:
    return format_p(p) if np.isfinite(p) else ""


def journal_rows(endpoint: str, comp) -> pd.DataFrame:
    """The comparison as a reader wants it: counts, risks, HR (CI), p; one row per analysis."""
    t = comp.table
    pct = 100.0
    rows = pd.DataFrame({
        "endpoint": endpoint,
        "analysis": t["analysis"],
        "model": t["method"],
        f"events/N {comp.treated}": [f"{e}/{n}" for e, n in zip(t.events_treated,
                                                                  t.n_treated, strict=True)],
        f"events/N {comp.control}": [f"{e}/{n}" for e, n in zip(t.events_control,
                                                                  t.n_control, strict=True)],
        "ESS": [f"{a:.1f} / {b:.1f}" for a, b in zip(t.ess_treated, t.ess_control, strict=True)],
        f"risk {comp.treated} %": (pct * (1 - t.surv_treated)).round(1),
        f"risk {comp.control} %": (pct * (1 - t.surv_control)).round(1),
        "HR (95% CI)": [ratio_ci(*v) for v in zip(t.hr, t.lower, t.upper,
                                                            strict=True)],
        "p": [_p(v) for v in t.p],
        "log-rank p": [_p(v) for v in t.logrank_p],
        "RMST diff, days (95% CI)": [format_ci(*v, digits=1) for v in zip(t.rmst_diff, t.rmst_lower,
                                                                    t.rmst_upper, strict=True)],
        "E-value": t.e_value.round(2),
    })
    if "boot_lower" in t and t.boot_lower.notna().any():
        rows["bootstrap 95% CI"] = [
            "" if not np.isfinite(lo) else
            (f"{format_ratio(lo)}{DASH}{format_ratio(hi)}" if np.isfinite(hi) else
             f"{format_ratio(lo)}{DASH}{INFINITY} (replicates without events)")
            for lo, hi in zip(t.boot_lower.astype(float), t.boot_upper.astype(float), strict=True)]
    return rows
