"""The study file: what `mace-outcomes analyze` runs, in one small TOML file.

A cohort folder may hold ``study.toml``; ``--study FILE`` overrides it. Every key has a
default, so an empty file (or none) runs the standard 1-year MACE analysis.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TEMPLATE = '''\
# mace-outcomes study file. Every key is optional; the values shown are the defaults.

[study]
title = "Clinical outcomes by arm"
synthetic = false             # true marks simulated data: every output says so
# The two arms: first = the device under study (coded 1), second = the comparator (0).
# Leave empty to take them from the data (sorted labels; the last one is coded 1).
arms = []
horizon_days = 365            # administrative censoring of the outcome analysis
level = "patient"             # "patient" or "lesion" (lesions clustered in patients)
endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]
primary_outcome = "stent_expansion"   # lesion-level continuous outcome, or "" for none

[exclusions]
# Applied in order and listed in the attrition table. name = pandas query on patients.
# "no intravascular imaging" = "arm == 'none'"
# "in-stent restenosis" = "in_stent_restenosis == 1"

[propensity]
covariates = []               # confounders for the propensity model (empty: no adjustment)
estimand = "ATE"              # "ATE", "ATT" or "ATO" (overlap weights)
bootstrap = 2000              # bootstrap replicates for the adjusted hazard ratio (0: none)
seed = 2024

[tables]
# Lesion-level procedural outcomes (0/1 columns) shown in Table 4 rather than Tables 2-3.
procedural = []

[figures]
width = "single"              # "single" (3.5 in) or "double" (7.2 in) journal column
unit = "months"               # x-axis of Kaplan-Meier figures: "months" or "days"
formats = ["pdf", "png"]      # any of pdf, svg, png, tiff
dpi = 300
'''


@dataclass
class Study:
    """Settings of one analysis run (see :data:`TEMPLATE` for their meaning)."""

    title: str = "Clinical outcomes by arm"
    synthetic: bool = False
    arms: list = field(default_factory=list)
    horizon_days: float = 365.0
    level: str = "patient"
    endpoints: list = field(default_factory=lambda: ["mace", "cardiac_death", "mi", "tvr",
                                                     "stent_thrombosis"])
    primary_outcome: str = "stent_expansion"
    exclusions: dict = field(default_factory=dict)
    covariates: list = field(default_factory=list)
    estimand: str = "ATE"
    bootstrap: int = 2000
    seed: int = 2024
    width: str = "single"
    unit: str = "months"
    formats: list = field(default_factory=lambda: ["pdf", "png"])
    dpi: int = 300
    procedural: list = field(default_factory=list)
    source: str = "defaults"


_SECTIONS = {
    "study": ("title", "synthetic", "arms", "horizon_days", "level", "endpoints",
              "primary_outcome"),
    "propensity": ("covariates", "estimand", "bootstrap", "seed"),
    "figures": ("width", "unit", "formats", "dpi"),
    "tables": ("procedural",),
}


def read_study(path: str | Path | None) -> Study:
    """Read a study file; ``None`` or a missing file gives the defaults."""
    if path is None or not Path(path).exists():
        return Study()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InputError(Problem(f"not valid TOML: {err}", source=str(path))) from err
    values, problems = {}, []
    for section, content in raw.items():
        if section == "exclusions":
            values["exclusions"] = dict(content)
            continue
        allowed = _SECTIONS.get(section)
        if allowed is None:
            problems.append(Problem(f"unknown section [{section}]", source=str(path)))
            continue
        for key, value in content.items():
            if key not in allowed:
                problems.append(Problem(f"unknown key '{key}' in [{section}] (allowed: "
                                        f"{', '.join(allowed)})", source=str(path)))
            else:
                values[key] = value
    study = Study(**values, source=str(path))
    problems += _value_problems(study, str(path))
    if study.level not in ("patient", "lesion"):
        problems.append(Problem("level must be 'patient' or 'lesion'", column="level",
                                source=str(path)))
    if study.estimand not in ("ATE", "ATT", "ATO"):
        problems.append(Problem("estimand must be ATE, ATT or ATO", column="estimand",
                                source=str(path)))
    if study.width not in ("single", "double"):
        problems.append(Problem("width must be 'single' or 'double'", column="width",
                                source=str(path)))
    if problems:
        raise InputError(problems)
    return study


def _value_problems(study: Study, source: str) -> list[Problem]:
    """Types and vocabularies of the values, all checked at once."""
    from ..records import ENDPOINTS

    problems = []
    if not isinstance(study.horizon_days, (int, float)) or study.horizon_days <= 0:
        problems.append(Problem("horizon_days must be a positive number of days",
                                column="horizon_days", source=source))
    endpoints = study.endpoints if isinstance(study.endpoints, list) else [study.endpoints]
    unknown = [e for e in endpoints if e not in ENDPOINTS]
    if unknown or not endpoints:
        problems.append(Problem(f"unknown endpoints {unknown}; choose among "
                                f"{sorted(ENDPOINTS)}", column="endpoints", source=source))
    for name in ("arms", "covariates", "formats", "procedural"):
        value = getattr(study, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(Problem("must be a list of names", column=name, source=source))
    bad_formats = [f for f in study.formats if f not in ("pdf", "svg", "png", "tiff")] \
        if isinstance(study.formats, list) else []
    if bad_formats:
        problems.append(Problem(f"unknown figure formats {bad_formats} (pdf, svg, png, tiff)",
                                column="formats", source=source))
    if not isinstance(study.bootstrap, int) or study.bootstrap < 0:
        problems.append(Problem("bootstrap must be a whole number >= 0", column="bootstrap",
                                source=source))
    if not isinstance(study.exclusions, dict) or not all(
            isinstance(v, str) for v in study.exclusions.values()):
        problems.append(Problem("each exclusion is name = \"pandas query on patients\"",
                                column="exclusions", source=source))
    return problems


def write_study_template(path: str | Path = "study.toml") -> Path:
    """Write the commented template (what ``mace-outcomes init`` does)."""
    path = Path(path)
    if path.exists():
        raise InputError(Problem("file exists; not overwritten", source=str(path)))
    path.write_text(TEMPLATE)
    return path
