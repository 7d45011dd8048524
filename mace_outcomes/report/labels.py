"""Display names: what a table row, a column header or a figure title calls a variable.

The one place for the defaults of the built-in names (the bundled cohort's columns and
the ARC-2 endpoints); a study's ``[labels]`` table overrides any of them.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Default display names of built-in endpoints.
ENDPOINT_LABELS = {
    "mace": "MACE", "cardiac_death": "Cardiac death", "mi": "Myocardial infarction",
    "tvr": "Target-vessel revascularisation", "stent_thrombosis": "Stent thrombosis",
    "all_cause_death": "All-cause death", "target_lesion_failure": "Target-lesion failure",
    "noncardiac_death": "Non-cardiac death", "undetermined_death": "Undetermined death",
    "tlr": "Target-lesion revascularisation", "stroke": "Stroke", "bleeding": "Bleeding",
}

#: Default display names of common baseline, lesion and procedural columns.
VARIABLE_LABELS = {
    "age_years": "Age, years", "male": "Male sex", "bmi": "BMI, kg/m²",
    "hypertension": "Hypertension", "diabetes": "Diabetes mellitus",
    "dyslipidemia": "Dyslipidaemia", "smoking": "Current smoking",
    "lvef_percent": "LVEF, %", "egfr": "eGFR, ml/min/1.73 m²",
    "renal_insufficiency": "Renal insufficiency", "prior_mi": "Prior MI",
    "prior_pci": "Prior PCI", "prior_cabg": "Prior CABG", "presentation": "Presentation",
    "any_left_main": "Left main lesion", "any_ostial": "Ostial lesion",
    "any_bifurcation": "Bifurcation lesion", "in_stent_restenosis": "In-stent restenosis",
    "vessel": "Target vessel", "ostial": "Ostial lesion", "bifurcation": "Bifurcation lesion",
    "severe_calcification": "Severe calcification", "stents_implanted": "Stents implanted",
    "mean_stent_diameter_mm": "Mean stent diameter, mm",
    "total_stent_length_mm": "Total stent length, mm",
    "procedure_time_min": "Procedure time, min", "radiation_mgy": "Radiation dose, mGy",
    "contrast_ml": "Contrast volume, ml", "minimum_stent_area_mm2": "Minimum stent area, mm²",
    "stent_expansion": "Stent expansion, %", "procedure_success": "Procedural success",
    "perforation": "Perforation", "slow_flow_no_reflow": "Slow flow / no reflow",
    "dissection": "Dissection", "emergency_cabg": "Emergency CABG",
    "cardiac_tamponade": "Cardiac tamponade",
    "contrast_induced_nephropathy": "Contrast-induced nephropathy",
}

DEFAULT_LABELS = {**VARIABLE_LABELS, **ENDPOINT_LABELS}


def display_name(name: str, labels: Mapping[str, str] | None = None) -> str:
    """``labels[name]``, else the default for a built-in name, else ``name`` itself.

    >>> display_name("egfr"), display_name("mace", {"mace": "MACE (ARC-2)"}), display_name("x")
    ('eGFR, ml/min/1.73 m²', 'MACE (ARC-2)', 'x')
    """
    return (labels or {}).get(name) or DEFAULT_LABELS.get(name, name)


def label_map(names, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{name: display name}`` for ``names`` (for ``table_one(labels=)`` and plots)."""
    return {n: display_name(n, labels) for n in names}
