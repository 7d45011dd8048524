"""Pre-flight: every check ``analyze`` needs before it estimates anything, in one place.

``mace-outcomes validate`` and :func:`~mace_outcomes.report.analyze` both call
:func:`preflight`, so data that ``validate`` passes is data ``analyze`` can run, and
both report the same problems, all at once:

* the study file's values (:func:`.study.study_problems`);
* the records (read without exclusions), then the study's exclusions in order (patients,
  then ``[exclusions.lesions]``);
* two arms after the exclusions (the study's ``arms`` when it names them, matched to the
  data's codes: ``"1"`` matches the integer 1);
* text or infinite values in numeric covariates (:func:`records.validate.covariate_problems`);
* the propensity covariates: present in the analysis frame, not blank unless the study
  chose ``missing = "complete_case"`` or (patient columns) ``"impute"`` (blank ones: the
  ids, the count and the settings to choose), finite (rows named by ``patient_id``, or
  ``lesion_id`` at lesion level);
* ``adjustment = [..., "match"]`` only where matching is available;
* the ``[tables] procedural`` columns present in the lesions table;
* a dry-run fit of the propensity model on the analysis frame (collinear covariates,
  covariates that separate the arms).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._frames import row_ids
from ..errors import InputError, Problem
from .study import Study, study_problems

if TYPE_CHECKING:
    from ..records import Cohort

#: Columns of a time-to-event frame that are not covariates.
_NOT_COVARIATES = {"patient_id", "lesion_id", "arm", "time", "event", "status", "event_type",
                   "index_date", "last_contact_date", "synthetic"}


def preflight(directory: str | Path, study: Study) -> tuple[Cohort | None, list[Problem]]:
    """Read the cohort as ``analyze`` will and list every problem that would stop it.

    Parameters
    ----------
    directory : the cohort folder (or an ``.xlsx`` workbook).
    study : the study settings (:func:`~mace_outcomes.report.read_study`).

    Returns
    -------
    (cohort, problems) : the cohort after the study's exclusions (``None`` when the
        study or the exclusions are unusable) and the list of :class:`Problem`; an empty
        list means ``analyze`` may proceed.

    Raises
    ------
    InputError
        the records themselves fail validation (nothing else can be checked then).
    """
    problems = study_problems(study)
    if problems:  # the checks below read these values
        return None, problems
    cohort, problems = _excluded_cohort(directory, study)
    if problems:  # a failed exclusion leaves the arms and covariates meaningless
        return cohort, problems
    problems += _arm_problems(cohort, study)
    from ..records.validate import covariate_problems

    problems += covariate_problems(cohort)
    problems += _procedural_problems(cohort, study)
    problems += _matching_available(study)
    if study.covariates:
        problems += _propensity_problems(cohort, study, problems)
    return cohort, problems


def _excluded_cohort(directory, study: Study) -> tuple:
    from ..records import read_cohort
    from ..records.cohort import Cohort as cohort_type

    cohort = read_cohort(directory, aliases=study.aliases or None, apply_exclusions=False)
    problems = []
    rules = [(cohort_type.exclude, name, query) for name, query in study.exclusions.items()]
    rules += [(cohort_type.exclude_lesions, name, query)
              for name, query in study.lesion_exclusions.items()]
    for exclude, name, query in rules:
        try:
            cohort = exclude(cohort, name, query)
        except InputError as err:
            problems += [dataclasses.replace(p, source=p.source or study.source)
                         for p in err.problems]
    return cohort, problems


def study_arms(cohort, study: Study) -> tuple[list, dict]:
    """The study's arms as the data codes them, treated first, and ``{code: label}``
    (empty ``arms``: both taken from the data)."""
    from ..records.cohort import declared_arms

    codes, labels, _ = declared_arms(study.arms, cohort.patients["arm"])
    return codes, labels


def _arm_problems(cohort, study: Study) -> list[Problem]:
    from ..records.cohort import unmatched_arm_problems
    from ..records.validate import arm_problems

    source = cohort.source.get("patients", "patients")
    unmatched = unmatched_arm_problems(study.arms, cohort.patients["arm"], study.source)
    if unmatched:
        return unmatched
    return arm_problems(cohort.patients, study_arms(cohort, study)[0] or None, source=source)


def matching_ready() -> bool:
    """Whether matching exists (``weighting.match``) and ``compare_arms`` takes
    ``adjustment=`` / ``matching=``."""
    import inspect

    try:
        from ..weighting.compare import compare_arms
        from ..weighting.match import match  # noqa: F401
    except ImportError:
        return False
    return {"adjustment", "matching"} <= set(inspect.signature(compare_arms).parameters)


def _matching_available(study: Study) -> list[Problem]:
    if "match" not in study.adjustment or matching_ready():
        return []
    return [Problem("adjustment lists \"match\": propensity-score matching is not yet "
                    "available in the main job", column="adjustment", source=study.source,
                    fix="remove \"match\" from [study] adjustment for now (IPTW and overlap "
                        "weights are available)")]


def _procedural_problems(cohort, study: Study) -> list[Problem]:
    lesions = cohort.lesions
    columns = [] if lesions is None else list(lesions.columns)
    missing = [c for c in study.procedural if c not in columns]
    if not missing:
        return []
    where = ("the cohort has no lesions table" if lesions is None
             else f"not in the lesions table ({cohort.source.get('lesions', 'lesions')})")
    return [Problem(f"procedural outcome column {c!r}: {where}", column="procedural",
                    source=study.source, fix="correct the name in [tables] procedural, "
                    "or remove it") for c in missing]


def _analysis_frame(cohort, study: Study) -> pd.DataFrame:
    """The frame the propensity model is fitted on: the first endpoint's table."""
    from ..records import time_to_event

    return time_to_event(cohort, endpoint=study.endpoint(study.endpoints[0]),
                         horizon=study.horizon_days,
                         level=study.level, require_two_arms=False)


def _propensity_problems(cohort, study: Study, found: list[Problem]) -> list[Problem]:
    """Covariates present, complete and finite; then the model itself, if all were."""
    try:
        frame = _analysis_frame(cohort, study)
    except InputError as err:
        return err.problems
    unknown = [c for c in study.covariates if c not in frame]
    problems = []
    if unknown:
        known = [c for c in frame.columns if c not in _NOT_COVARIATES
                 and not str(c).endswith("_date")]
        problems.append(Problem(f"propensity covariates not in the data: {unknown}",
                                column="covariates", source=study.source,
                                fix=f"choose among {known}"))
    flagged = {p.column for p in found}  # text / infinity already named by id
    unit = "lesions" if study.level == "lesion" else "patients"
    for col in [c for c in study.covariates if c in frame and c not in flagged]:
        values, source = frame[col], _table_of(cohort, col)
        blank = values.isna().to_numpy()
        # imputation is at patient level: a lesion column's blanks are not imputed
        imputable = study.missing == "impute" and col in cohort.patients.columns
        if blank.any() and study.missing != "complete_case" and not imputable:
            problems.append(_missing_problem(frame, col, blank, source, unit, study))
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                problems.append(Problem("infinite values in a propensity covariate", col,
                                        row_ids(frame, infinite), source, "correct them"))
    if problems or found:  # the model can only be tried on usable data
        return problems
    return _dry_run(frame, study, cohort)


def _missing_problem(frame, col, blank, source, unit: str, study: Study) -> Problem:
    """Blank covariate values and no usable policy: the ids, the count, the settings."""
    n = int(blank.sum())
    if study.missing == "impute":  # only patient columns are imputed
        return Problem(f"{n} blank (missing) value(s) in a lesion-level propensity "
                       "covariate: missing = \"impute\" imputes the patients' covariates "
                       "only", col, row_ids(frame, blank), source,
                       f"set [study] missing = \"complete_case\" in {study.source} (the "
                       "lesions are left out, one attrition line per variable), or fill the "
                       "values in")
    return Problem(f"{n} blank (missing) value(s) of {len(frame)} in a propensity "
                   "covariate: the propensity model needs complete data", col,
                   row_ids(frame, blank), source,
                   f"choose a policy in {study.source}: [study] missing = \"complete_case\" "
                   f"(leave these {unit} out, one attrition line per variable) or missing = "
                   "\"impute\"; or fill the values in, or exclude them in [exclusions]")


def _table_of(cohort, column: str) -> str:
    """The file a covariate comes from, for messages."""
    table = "patients" if column in cohort.patients.columns else "lesions"
    return cohort.source.get(table, table)


def _dry_run(frame: pd.DataFrame, study: Study, cohort) -> list[Problem]:
    """Fit the propensity model once; its input errors are the study's problems."""
    import mace_outcomes as mo

    codes = study_arms(cohort, study)[0]
    treated = codes[0] if codes else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # analyze refits and reports the caveats
            # imputed covariates: the model is tried on the complete rows
            mo.propensity(frame, treatment="arm", covariates=list(study.covariates),
                          estimand=study.estimand, treated=treated,
                          missing="error" if study.missing == "error" else "complete_case")
    except InputError as err:
        where = f"propensity model ({study.level} level)"
        # the model names rows by the frame's index: name them by id instead
        return [dataclasses.replace(p, source=where, rows=row_ids(
            frame, frame.index.isin(list(p.rows)))) for p in err.problems]
    return []
