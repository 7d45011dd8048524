"""The study file: what `mace-outcomes analyze` runs, in one small TOML file.

A cohort folder may hold ``study.toml``; ``--study FILE`` overrides it. Every key has a
default, so an empty file (or none) runs the standard 1-year MACE analysis.
"""

from __future__ import annotations

import json
import math
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
# Applied in order and listed in the attrition table. name = expression on patients:
# columns, literals, == != < <= > >=, and/or/not (& | ~), x in [...], isna(x), notna(x).
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

[aliases]
# Your event codes -> ARC-2 event types, e.g. "MI-spont" = "mi" (see mo.records.schema).
'''

#: Figure file formats the study file may ask for.
FIGURE_FORMATS = ("pdf", "svg", "png", "tiff")


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
    aliases: dict = field(default_factory=dict)
    source: str = "defaults"


_SECTIONS = {
    "study": ("title", "synthetic", "arms", "horizon_days", "level", "endpoints",
              "primary_outcome"),
    "propensity": ("covariates", "estimand", "bootstrap", "seed"),
    "figures": ("width", "unit", "formats", "dpi"),
    "tables": ("procedural",),
}
#: Sections whose keys are the user's own names (criterion names, event codes).
_NAMED_TABLES = {"exclusions": "name = \"pandas query on patients\"",
                 "aliases": "code = \"ARC-2 event type\""}


def read_study(path: str | Path | None, *, required: bool = False) -> Study:
    """Read and check a study file: every problem in one :class:`InputError`.

    ``None`` gives the defaults, and so does a missing file unless ``required`` (a file
    named on the command line must exist; a cohort folder's own ``study.toml`` need not).
    """
    if path is None:
        return Study()
    path = Path(path)
    if not path.is_file():
        if not required and not path.exists():
            return Study()
        what = "is a folder, not a study file" if path.is_dir() else "study file not found"
        raise InputError(Problem(what, source=str(path),
                                 fix="check the path, or omit --study to use the cohort "
                                     "folder's study.toml (or the defaults)"))
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(Problem(f"not valid TOML: {err}", source=str(path))) from err
    values, problems = _collect(raw, str(path))
    study = Study(**values, source=str(path))
    problems += study_problems(study)
    if problems:
        raise InputError(problems)
    return study


def _collect(raw: dict, source: str) -> tuple[dict, list[Problem]]:
    """The known keys' values, and a problem for every unknown or misplaced one."""
    values, problems = {}, []
    home = {key: section for section, keys in _SECTIONS.items() for key in keys}
    for section, content in raw.items():
        if section in _NAMED_TABLES:
            values[section] = content  # a table of strings: checked with the values
        elif not isinstance(content, dict):
            where = (f"belongs in [{home[section]}]" if section in home
                     else "is not in any section")
            problems.append(Problem(f"'{section}' {where}", column=section, source=source,
                                    fix=f"put it under [{home.get(section, 'study')}]"))
        elif section not in _SECTIONS:
            problems.append(Problem(f"unknown section [{section}]", source=source,
                                    fix=f"sections are {', '.join(_all_sections())}"))
        else:
            for key, value in content.items():
                if key in _SECTIONS[section]:
                    values[key] = value
                else:
                    problems.append(Problem(f"unknown key '{key}' in [{section}] (allowed: "
                                            f"{', '.join(_SECTIONS[section])})",
                                            column=key, source=source))
    return values, problems


def _all_sections() -> list[str]:
    return [f"[{s}]" for s in (*_SECTIONS, *_NAMED_TABLES)]


# ----------------------------------------------------------------------------- values
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _choice(*allowed: str):
    def check(v):
        if not (isinstance(v, str) and v in allowed):
            return f"must be one of {', '.join(map(repr, allowed))}"
    return check


def _names(v, vocabulary=None):
    """A list of distinct strings (from ``vocabulary`` when given)."""
    if isinstance(v, str):
        return f"must be a list, e.g. [{json.dumps(v)}], not a single string"
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return "must be a list of names in quotes"
    twice = sorted({x for x in v if v.count(x) > 1})
    if twice:
        return f"names given twice: {twice}"
    unknown = [x for x in v if vocabulary is not None and x not in vocabulary]
    if unknown:
        return f"unknown {unknown}; choose among {sorted(vocabulary)}"


def _endpoints(v):
    from ..records import ENDPOINTS

    if isinstance(v, list) and not v:
        return "needs at least one endpoint"
    return _names(v, ENDPOINTS)


def _arms(v):
    reason = _names(v)
    if reason is None and len(v) not in (0, 2):
        reason = "must name exactly two arms (treated first), or none"
    return reason


def _named_table(v):
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        return "must be a table of name = \"text\" lines"


#: key -> check returning the reason a value is wrong (None when it is right).
_CHECKS = {
    "title": lambda v: None if isinstance(v, str) else "must be text in quotes",
    "synthetic": lambda v: None if isinstance(v, bool) else "must be true or false",
    "arms": _arms,
    "horizon_days": lambda v: None if _is_number(v) and v > 0 else
    "must be a positive number of days",
    "level": _choice("patient", "lesion"),
    "endpoints": _endpoints,
    "primary_outcome": lambda v: None if isinstance(v, str) else
    "must be a column name in quotes, or \"\" for none",
    "exclusions": _named_table,
    "aliases": _named_table,
    "covariates": _names,
    "estimand": _choice("ATE", "ATT", "ATO"),
    "bootstrap": lambda v: None if _is_int(v) and v >= 0 else
    "must be a whole number >= 0 (0: no bootstrap)",
    "seed": lambda v: None if _is_int(v) and v >= 0 else "must be a whole number >= 0",
    "procedural": _names,
    "width": _choice("single", "double"),
    "unit": _choice("months", "days"),
    "formats": lambda v: _names(v, FIGURE_FORMATS),
    "dpi": lambda v: None if _is_int(v) and v > 0 else "must be a positive whole number",
}


#: Examples for the fix where the default (an empty list) shows no shape.
_EXAMPLES = {"arms": '["OCT", "IVUS"]', "covariates": '["age_years", "diabetes"]',
             "procedural": '["perforation"]'}


def study_problems(study: Study) -> list[Problem]:
    """Every value of ``study`` of the wrong type or outside its vocabulary, by key."""
    defaults = Study()
    problems = []
    for key, check in _CHECKS.items():
        value = getattr(study, key)
        reason = check(value)
        if reason is not None:
            example = _EXAMPLES.get(key, json.dumps(getattr(defaults, key)))
            fix = (f"e.g. {key} = {example}" if key not in _NAMED_TABLES
                   else f"each line of [{key}] is {_NAMED_TABLES[key]}")
            problems.append(Problem(f"{key} {reason} (got {value!r})", column=key,
                                    source=study.source, fix=fix))
    return problems


def write_study_template(path: str | Path = "study.toml") -> Path:
    """Write the commented template (what ``mace-outcomes init`` does)."""
    path = Path(path)
    if path.exists():
        raise InputError(Problem("file exists; not overwritten", source=str(path)))
    path.write_text(TEMPLATE)
    return path
