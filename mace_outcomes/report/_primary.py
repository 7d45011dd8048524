"""The report's primary endpoint: a lesion-level outcome compared between the arms,
lesions clustered in patients (``mo.compare_outcome``), on the observed lesions or, under
``missing = "impute"`` with blank patient covariates, on the imputed ones (the patients
imputed, their values merged to their lesions, the rows pooled by Rubin's rules).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._format import format_ci, format_p
from ..errors import InputError, Problem

_RATIOS = ("risk ratio", "odds ratio")


def impute_lesions(cohort, lesions: pd.DataFrame, study, covariates: list[str],
                   outcome: str):
    """Imputations of the lesion rows: the patients' covariates imputed at patient level
    (the first endpoint's event and cumulative hazard, the arm and the patient's mean of
    a numeric primary outcome in every model) and merged to their lesions."""
    import mace_outcomes as mo

    from ._sections import to_lesions

    base = mo.time_to_event(cohort, endpoint=study.endpoint(study.endpoints[0]),
                            horizon=study.horizon_days, level="patient")
    variables = [c for c in covariates if c in base.columns]
    aux = []
    if pd.api.types.is_numeric_dtype(lesions[outcome]) and lesions[outcome].notna().any():
        # the outcome of the analysis joins the imputation models (as a patient mean)
        name = f"{outcome} (patient mean)"
        base = base.assign(**{name: base["patient_id"].map(
            lesions.groupby("patient_id")[outcome].mean())})
        aux = [name]
    kw = {} if base["event"].sum() else {"time": None, "event": None}
    imp = mo.impute(base, variables=variables + aux, m=study.m, seed=study.seed,
                    treatment="arm", **kw)
    return replace(imp, datasets=[to_lesions(lesions, x, variables) for x in imp.datasets])


def pooled_outcome_rows(pooled) -> pd.DataFrame:
    """A pooled ``compare_outcome`` as its own table's rows: Rubin's estimate, limits
    and p (ratios back-transformed), ``df`` and ``fmi``; the values per arm averaged over
    the imputations."""
    s = pooled.summary
    tables = [r.table.reset_index(drop=True) for r in pooled.per_imputation]
    rows = tables[0].copy()
    for col in ("value_treated", "value_control"):
        rows[col] = np.mean([t[col].to_numpy(float) for t in tables], axis=0)
    est = s.loc[[f"{a}: {m}" for a, m in zip(rows["analysis"], rows["measure"], strict=True)]]
    ratio = rows["measure"].isin(_RATIOS).to_numpy()
    for col, back in (("estimate", "ratio"), ("lower", "ratio_lower"),
                      ("upper", "ratio_upper")):
        natural = est[back].to_numpy(float) if back in est else np.full(len(rows), np.nan)
        rows[col] = np.where(ratio, natural, est[col].to_numpy(float))
    rows["p"] = est["p"].to_numpy(float)
    rows["df"], rows["fmi"] = est["df"].to_numpy(float), est["fmi"].to_numpy(float)
    rows["method"] = rows["method"] + f"; pooled over m = {pooled.m} imputations"
    return rows


def _fit(data, outcome: str, **kw) -> tuple[pd.DataFrame, object, list]:
    """(rows, units, notes) of ``compare_outcome`` on a frame or on imputations."""
    import mace_outcomes as mo

    from ..weighting.impute import is_imputations

    res = mo.compare_outcome(data, outcome, **kw)
    if not is_imputations(data):
        return res.table, res.units, list(res.notes)
    first = res.per_imputation[0]
    return pooled_outcome_rows(res), first.units, [*first.notes, *res.notes]


def outcome_rows(rows: pd.DataFrame, treated, control) -> pd.DataFrame:
    """compare_outcome rows for reading: values per arm, estimate (95% CI), p, method."""
    binary = rows["measure"].str.contains("risk|odds")

    def value(v, is_binary):
        return "" if not np.isfinite(v) else (f"{100 * v:.1f}%" if is_binary else f"{v:.1f}")

    out = pd.DataFrame({
        "outcome": rows["outcome"], "analysis": rows["analysis"], "measure": rows["measure"],
        str(treated): [value(v, b) for v, b in zip(rows.value_treated, binary, strict=True)],
        str(control): [value(v, b) for v, b in zip(rows.value_control, binary, strict=True)],
        "estimate (95% CI)": [format_ci(*v) for v in zip(rows.estimate, rows.lower, rows.upper,
                                                   strict=True)],
        "p": [format_p(v) for v in rows.p],
        "method": rows["method"].str.replace(r"; cluster-robust SE by \w+", "", regex=True),
    })
    if "fmi" in rows:
        out["FMI"] = [f"{v:.2f}" if np.isfinite(v) else "" for v in rows["fmi"]]
    return out


def primary_endpoint(writer, study, cohort, lesions, computed_expansion: bool, treated,
                     control, results: dict) -> None:
    """The primary endpoint's section and ``results["primary_endpoint"]``."""
    from ..outcomes import DEFINITIONS as EXPANSION_DEFINITIONS
    from ..outcomes import expansion_thresholds
    from ._sections import needs_imputation

    label = study.label
    outcome = study.primary_outcome
    if outcome and (lesions is None or outcome not in lesions):
        raise InputError(Problem(f"primary_outcome {outcome!r} is not a column of the "
                                 "lesions table", column="primary_outcome",
                                 source=study.source, fix="name a lesion-level column, or "
                                 "primary_outcome = \"\" for none"))
    if not outcome:
        return
    lesion_cov = [c for c in study.covariates if c in lesions]
    data = lesions
    if needs_imputation(study, lesions, lesion_cov):
        data = impute_lesions(cohort, lesions, study, lesion_cov, outcome)
    is_expansion = outcome == "stent_expansion"
    common = {"covariates": lesion_cov, "cluster": "patient_id", "estimand": study.estimand,
              "treated": treated}
    table, units, notes = _fit(data, outcome, units="%" if is_expansion else None, **common)
    # the formula is stated only when this run applied it
    definition = EXPANSION_DEFINITIONS["mean_reference"] if computed_expansion else ""
    notes = ([f"{outcome}: {definition}"] if definition else []) + notes
    parts = [table.assign(outcome=outcome)]
    if is_expansion:  # adequate expansion as binary outcomes too
        flags = expansion_thresholds(lesions[outcome])
        for flag in flags:
            flagged = (lesions.assign(**{flag: flags[flag]}) if data is lesions else replace(
                data, datasets=[x.assign(**{flag: flags[flag]}) for x in data.datasets]))
            parts.append(_fit(flagged, flag, **common)[0].assign(outcome=flag))
            notes.append(f"{flag}: {flags[flag].attrs['definition']}")
    rows = pd.concat(parts, ignore_index=True)
    if not lesion_cov:  # no covariates: no adjusted row
        rows = rows[rows["analysis"] == "crude"]
    if data is not lesions:
        notes.insert(0, f"pooled over m = {study.m} imputations (Rubin's rules): the "
                        "patients' covariates imputed and merged to their lesions")
    writer.section("Primary endpoint", writer.table(
        "primary_endpoint", outcome_rows(rows.assign(outcome=rows["outcome"].map(label)),
                                         treated, control),
        f"Primary endpoint: {label(outcome)} ({units}), {treated} vs {control}, lesions "
        "clustered in patients", notes + ["crude rows: the tables' test, ignoring "
                                          "clustering; regression, weighted and AIPW rows: "
                                          "cluster-robust by patient"]))
    results["primary_endpoint"] = {"outcome": outcome, "units": units,
                                   "definition": definition,
                                   "rows": rows[rows["outcome"] == outcome],
                                   "thresholds": rows[rows["outcome"] != outcome],
                                   "notes": notes}
