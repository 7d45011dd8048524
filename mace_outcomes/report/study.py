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
# The two arms. The FIRST is the treated arm (the device under study), the SECOND the
# reference (comparator): every hazard ratio, table and figure reads first vs second.
# Leave empty to take them from the data (the first sorted code is the reference).
# Name them as they appear in the arm column:        arms = ["OCT", "IVUS"]
# or give coded arms a label for every output:        arms = {1 = "OCT-guided", 0 = "IVUS-guided"}
arms = []
horizon_days = 365            # administrative censoring: days, or "365d", "12m", "1y"
time_unit = "days"            # unit of a plain-number horizon_days: "days" or "months"
level = "patient"             # "patient" or "lesion" (lesions clustered in patients)
endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]
primary_outcome = ""          # a lesion-level outcome column, e.g. "stent_expansion"; "" for none
# Missing covariate values: "error" stops naming the patients; "complete_case" leaves
# them out (one attrition line per variable); "impute" imputes the patients' propensity
# covariates m times by chained equations (seed: [propensity] seed) and pools the
# comparison over the imputations by Rubin's rules (the primary analysis; complete-case
# rows follow as a sensitivity analysis).
missing = "error"
m = 20                        # imputations when missing = "impute" (at least 2)
# Adjusted analyses of every endpoint: "iptw" (the [propensity] estimand), "overlap"
# (overlap weights, ATO) and "match" (propensity-score matching, see [matching]).
adjustment = ["iptw", "overlap"]
# Beyond the first event (each section only when asked):
landmarks = []                # landmark days, e.g. [30]: curves and tests 0-30 days and after
recurrent = false             # true: total (first and repeat) events, mean cumulative count
win_ratio = []                # hierarchy, e.g. ["cardiac_death", "stroke", "mi", "tvr"]

[exclusions]
# Applied in order and listed in the attrition table. name = expression on patients:
# columns, literals, == != < <= > >=, and/or/not (& | ~), x in [...], isna(x), notna(x).
# "no intravascular imaging" = "arm == 'none'"
# "in-stent restenosis" = "in_stent_restenosis == 1"

[exclusions.lesions]
# The same language, evaluated on the lesions table (their events go with them).
# "untreated lesion" = "stents_implanted == 0"

# [endpoints.macce]           # your own composite endpoints, then list them in endpoints
# events = ["cardiac_death", "mi", "tvr", "stroke"]
# label = "MACCE"

[labels]
# Display names for columns and endpoints in every table and figure (defaults exist for
# the built-in names), e.g. age_years = "Age, years", mace = "MACE"

[propensity]
covariates = []               # confounders for the propensity model (empty: no adjustment)
estimand = "ATE"              # "ATE", "ATT" or "ATO" (overlap weights)
bootstrap = 2000              # bootstrap replicates for the adjusted hazard ratio (0: none)
seed = 2024

[matching]
# Used when adjustment lists "match": nearest-neighbour matching on the logit of the
# propensity score (MatchIt's method = "nearest").
ratio = 1                     # controls per treated patient
caliper = 0.2                 # maximum distance (0: no caliper)
std_caliper = true            # caliper in SDs of the logit of the propensity score
replace = false               # a control may be matched more than once
order = "largest"             # "largest", "smallest", "random" or "data"
exact = []                    # columns matched exactly, e.g. ["diabetes"]

[tables]
# Lesion-level procedural outcomes (0/1 columns) shown in Table 4 rather than Tables 2-3.
procedural = []

[report]
min_cell = 0                  # counts from 1 to min_cell - 1 are shown as "<min_cell" (0: off)

[figures]
width = "single"              # "single" (3.5 in) or "double" (7.2 in) journal column
unit = "months"               # x-axis of Kaplan-Meier figures: "months" or "days"
formats = ["pdf", "png"]      # any of pdf, svg, png, tiff
dpi = 300
components = "cif"            # endpoints with competing deaths (MI, TVR, ...): "cif"
                              # draws the Aalen-Johansen incidence, "km" 1 - Kaplan-Meier

[aliases]
# Your event codes -> ARC-2 event types, e.g. "MI-spont" = "mi" (see mo.records.schema).
'''

#: [matching] keys and their defaults (``mo.match``'s).
MATCHING = {"ratio": 1, "caliper": 0.2, "std_caliper": True, "replace": False,
            "order": "largest", "exact": []}
#: What ``adjustment`` may list.
ADJUSTMENTS = ("iptw", "overlap", "match")
#: Figure file formats the study file may ask for.
FIGURE_FORMATS = ("pdf", "svg", "png", "tiff")


@dataclass
class Study:
    """Settings of one analysis run (see :data:`TEMPLATE` for their meaning)."""

    title: str = "Clinical outcomes by arm"
    synthetic: bool = False
    arms: list | dict = field(default_factory=list)
    horizon_days: float = 365.0
    time_unit: str = "days"
    level: str = "patient"
    endpoints: list = field(default_factory=lambda: ["mace", "cardiac_death", "mi", "tvr",
                                                     "stent_thrombosis"])
    primary_outcome: str = ""
    missing: str = "error"
    m: int = 20
    adjustment: list = field(default_factory=lambda: ["iptw", "overlap"])
    landmarks: list = field(default_factory=list)
    recurrent: bool = False
    win_ratio: list = field(default_factory=list)
    matching: dict = field(default_factory=lambda: dict(MATCHING))
    min_cell: int = 0
    exclusions: dict = field(default_factory=dict)
    lesion_exclusions: dict = field(default_factory=dict)
    custom_endpoints: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    covariates: list = field(default_factory=list)
    estimand: str = "ATE"
    bootstrap: int = 2000
    seed: int = 2024
    width: str = "single"
    unit: str = "months"
    formats: list = field(default_factory=lambda: ["pdf", "png"])
    dpi: int = 300
    components: str = "cif"   # endpoints with competing deaths: "cif" (Aalen-Johansen) or "km"
    procedural: list = field(default_factory=list)
    aliases: dict = field(default_factory=dict)
    source: str = "defaults"

    def endpoint(self, name: str):
        """The endpoint ``name``: one defined in ``[endpoints.NAME]``, else a built-in."""
        from ..records import Endpoint

        spec = self.custom_endpoints.get(name)
        if spec is None:
            return name
        return Endpoint(name, tuple(spec["events"]), description=spec.get("label", ""))

    def label(self, name: str) -> str:
        """The display name of a column or endpoint (``[labels]``, ``[endpoints.NAME]``
        label, the built-in default, else the name itself)."""
        from .labels import display_name

        spec = self.custom_endpoints.get(name) or {}
        own = {**({name: spec["label"]} if spec.get("label") else {}), **self.labels}
        return display_name(name, own)


_SECTIONS = {
    "study": ("title", "synthetic", "arms", "horizon_days", "time_unit", "level", "endpoints",
              "primary_outcome", "missing", "m", "adjustment", "landmarks", "recurrent",
              "win_ratio"),
    "propensity": ("covariates", "estimand", "bootstrap", "seed"),
    "figures": ("width", "unit", "formats", "dpi", "components"),
    "tables": ("procedural",),
    "report": ("min_cell",),
}
#: Sections whose keys are the user's own names (criterion names, event codes).
_NAMED_TABLES = {"exclusions": "name = \"expression on patients\"",
                 "lesion_exclusions": "name = \"expression on lesions\"",
                 "aliases": "code = \"ARC-2 event type\"",
                 "labels": "column or endpoint = \"display name\""}
#: Sections of the file read into another field: [exclusions.lesions], [endpoints.NAME].
_SUBTABLES = {("exclusions", "lesions"): "lesion_exclusions"}


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
    study.horizon_days = horizon_in_days(study.horizon_days, study.time_unit)
    return study


def horizon_in_days(value, time_unit: str = "days") -> float:
    """The horizon in days: a plain number is in ``time_unit``; text carries its unit."""
    from .._format import DAYS_PER_MONTH
    from ..records.durations import parse_duration

    if isinstance(value, str):
        return parse_duration(value, "horizon_days")
    return float(value) * (DAYS_PER_MONTH if time_unit == "months" else 1.0)


def _collect(raw: dict, source: str) -> tuple[dict, list[Problem]]:
    """The known keys' values, and a problem for every unknown or misplaced one."""
    values, problems = {}, []
    home = {key: section for section, keys in _SECTIONS.items() for key in keys}
    for section, content in raw.items():
        if section == "endpoints" and isinstance(content, dict):
            values["custom_endpoints"] = content  # [endpoints.NAME] tables
        elif section == "matching" and isinstance(content, dict):
            values["matching"] = {**MATCHING, **content}  # keys checked with the values
        elif section in _NAMED_TABLES:
            if isinstance(content, dict):  # [exclusions.lesions] is read apart
                for (outer, inner), key in _SUBTABLES.items():
                    if outer == section and isinstance(content.get(inner), dict):
                        content = {k: v for k, v in content.items() if k != inner}
                        values[key] = raw[section][inner]
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
                elif key in home:  # a known key in the wrong section
                    problems.append(Problem(f"'{key}' belongs in [{home[key]}], not "
                                            f"[{section}]", column=key, source=source,
                                            fix=f"move it under [{home[key]}]"))
                else:
                    problems.append(Problem(f"unknown key '{key}' in [{section}] (allowed: "
                                            f"{', '.join(_SECTIONS[section])})",
                                            column=key, source=source))
    return values, problems


def _all_sections() -> list[str]:
    named = [s for s in _NAMED_TABLES if s != "lesion_exclusions"]
    return [f"[{s}]" for s in (*_SECTIONS, *named, "matching", "exclusions.lesions",
                               "endpoints.NAME")]


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


def _arms(v):
    if isinstance(v, dict):  # {code = "label"}: keys are text in TOML
        if len(v) != 2 or not all(isinstance(x, str) and x.strip() for x in v.values()):
            return "as a table must give exactly two code = \"label\" lines (treated first)"
        if len(set(v.values())) != 2:
            return "labels must differ"
        return None
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) for x in v):
        return "must be a list of two arm codes or labels, or a table {code = \"label\"}"
    if len(v) not in (0, 2):
        return "must name exactly two arms (treated first), or none"
    if len(v) == 2 and str(v[0]) == str(v[1]):
        return "names the same arm twice"
    return None


def _custom_endpoints(v):
    """[endpoints.NAME] tables: events = [ARC-2 types or built-in endpoints], label."""
    from ..records import Endpoint

    if not isinstance(v, dict) or not all(isinstance(x, dict) for x in v.values()):
        return "must be [endpoints.NAME] tables with events = [...] and label = \"...\""
    for name, spec in v.items():
        unknown = sorted(set(spec) - {"events", "label"})
        if unknown:
            return f"[endpoints.{name}] has unknown keys {unknown} (allowed: events, label)"
        if not isinstance(spec.get("label", ""), str):
            return f"[endpoints.{name}] label must be text in quotes"
        reason = _names(spec.get("events"))
        if reason is not None or not spec.get("events"):
            return f"[endpoints.{name}] events {reason or 'needs at least one event type'}"
        try:
            Endpoint(name, tuple(spec["events"]))
        except InputError as err:
            return "; ".join(p.reason for p in err.problems)
    return None


def _named_table(v):
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        return "must be a table of name = \"text\" lines"


#: key -> check returning the reason a value is wrong (None when it is right).
_CHECKS = {
    "title": lambda v: None if isinstance(v, str) else "must be text in quotes",
    "synthetic": lambda v: None if isinstance(v, bool) else "must be true or false",
    "arms": _arms,
    "horizon_days": lambda v: None if (_is_number(v) and v > 0) or isinstance(v, str)
    and _duration_ok(v) else "must be a positive number of days, or \"365d\", \"12m\", \"1y\"",
    "time_unit": _choice("days", "months"),
    "level": _choice("patient", "lesion"),
    "primary_outcome": lambda v: None if isinstance(v, str) else
    "must be a column name in quotes, or \"\" for none",
    "exclusions": _named_table,
    "lesion_exclusions": _named_table,
    "missing": _choice("error", "complete_case", "impute"),
    "custom_endpoints": _custom_endpoints,
    "labels": _named_table,
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
    "components": _choice("cif", "km"),
    "m": lambda v: None if _is_int(v) and v >= 2 else
    "must be a whole number >= 2 (imputations)",
    "adjustment": lambda v: "needs at least one of " + ", ".join(map(repr, ADJUSTMENTS)) if (
        isinstance(v, list) and not v) else _names(v, ADJUSTMENTS),
    "landmarks": lambda v: _days(v),
    "recurrent": lambda v: None if isinstance(v, bool) else "must be true or false",
    "min_cell": lambda v: None if _is_int(v) and v >= 0 else
    "must be a whole number >= 0 (0: no suppression)",
}


def _days(v):
    """A list of distinct positive days, in increasing order."""
    if not isinstance(v, list) or not all(_is_number(x) and x > 0 for x in v):
        return "must be a list of positive days, e.g. [30]"
    if any(b <= a for a, b in zip(v[:-1], v[1:], strict=True)):
        return "must be distinct and in increasing order"


#: [matching] key -> check (the reason a value is wrong, None when it is right).
_MATCHING_CHECKS = {
    "ratio": lambda v: None if _is_int(v) and v >= 1 else "must be a whole number >= 1",
    "caliper": lambda v: None if _is_number(v) and v >= 0 else
    "must be a number >= 0 (0: no caliper)",
    "std_caliper": lambda v: None if isinstance(v, bool) else "must be true or false",
    "replace": lambda v: None if isinstance(v, bool) else "must be true or false",
    "order": _choice("largest", "smallest", "random", "data"),
    "exact": _names,
}


def _matching_problems(study) -> list[Problem]:
    """One problem per wrong [matching] key, and ``match`` asked without covariates."""
    spec = study.matching
    if not isinstance(spec, dict):
        return [Problem("[matching] must be a table of ratio, caliper, std_caliper, "
                        "replace, order, exact", column="matching", source=study.source)]
    problems = [Problem(f"unknown key '{k}' in [matching] (allowed: "
                        f"{', '.join(MATCHING)})", column=k, source=study.source)
                for k in spec if k not in MATCHING]
    for key, check in _MATCHING_CHECKS.items():
        reason = check(spec.get(key, MATCHING[key]))
        if reason is not None:
            problems.append(Problem(f"[matching] {key} {reason} (got {spec[key]!r})",
                                    column=key, source=study.source,
                                    fix=f"e.g. {key} = {json.dumps(MATCHING[key])}"))
    return problems


def _cross_problems(study) -> list[Problem]:
    """Values right one by one but not together."""
    problems = []
    adjustment = study.adjustment if isinstance(study.adjustment, list) else []
    if "match" in adjustment and not study.covariates:
        problems.append(Problem("adjustment lists \"match\" but [propensity] covariates is "
                                "empty: nothing to match on", column="adjustment",
                                source=study.source, fix="name the covariates, or remove "
                                "\"match\""))
    if _days(study.landmarks) is None and study.landmarks:
        try:
            horizon = horizon_in_days(study.horizon_days, study.time_unit)
        except (InputError, TypeError, ValueError):
            return problems  # the horizon's own problem is reported
        late = [d for d in study.landmarks if d >= horizon]
        if late:
            problems.append(Problem(f"landmarks {late} are not before the horizon "
                                    f"({horizon:g} days)", column="landmarks",
                                    source=study.source, fix="choose days before the "
                                    "horizon, e.g. landmarks = [30]"))
    return problems


#: Examples for the fix where the default (an empty list) shows no shape.
_EXAMPLES = {"arms": '["OCT", "IVUS"] or {1 = "OCT-guided", 0 = "IVUS-guided"}',
             "custom_endpoints": '[endpoints.macce] events = ["mace", "stroke"]',
             "covariates": '["age_years", "diabetes"]',
             "procedural": '["perforation"]', "landmarks": "[30]",
             "win_ratio": '["cardiac_death", "stroke", "mi", "tvr"]'}


def _duration_ok(v: str) -> bool:
    from ..records.durations import duration_reason

    return duration_reason(v) is None


def study_problems(study: Study) -> list[Problem]:
    """Every value of ``study`` of the wrong type or outside its vocabulary, by key."""
    from ..records import ENDPOINTS

    defaults = Study()
    problems = []
    known = {**ENDPOINTS, **(study.custom_endpoints if isinstance(study.custom_endpoints, dict)
                              else {})}
    checks = {**_CHECKS, "endpoints": lambda v: "needs at least one endpoint" if (
        isinstance(v, list) and not v) else _names(v, known),
        "win_ratio": lambda v: _names(v, ENDPOINTS)}
    for key, check in checks.items():
        value = getattr(study, key)
        reason = check(value)
        if reason is not None:
            example = _EXAMPLES.get(key, json.dumps(getattr(defaults, key)))
            fix = (f"e.g. {key} = {example}" if key not in _NAMED_TABLES
                   else f"each line of [{key}] is {_NAMED_TABLES[key]}")
            problems.append(Problem(f"{key} {reason} (got {value!r})", column=key,
                                    source=study.source, fix=fix))
    return problems + _matching_problems(study) + _cross_problems(study)


def write_study_template(path: str | Path = "study.toml") -> Path:
    """Write the commented template (what ``mace-outcomes init`` does)."""
    path = Path(path)
    if path.exists():
        raise InputError(Problem("file exists; not overwritten", source=str(path)))
    path.write_text(TEMPLATE)
    return path
