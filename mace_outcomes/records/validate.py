"""Validation of a cohort's records: every problem at once, nothing dropped silently.

:func:`validate_records` checks the three tables together and raises a single
:class:`~mace_outcomes.errors.ValidationError` whose ``problems`` name the file, the
column, the rows (by their id: ``patient_id``, ``lesion_id`` or ``event_id``; by row
number, 1 = first data row, where the id itself is missing) and the reason:

* missing required columns;
* a column name given twice; ids that are neither text nor whole numbers;
* missing or duplicate ids (ids are compared as text: ``"001"`` and ``"1"`` differ);
* missing or unparseable dates; ``last_contact_date`` before ``index_date``;
* lesions or events naming an unknown patient; events naming an unknown lesion, or a
  lesion that belongs to another patient;
* unknown event types (after the alias table), unknown vessels or stent-thrombosis
  certainty, a stent thrombosis without its certainty;
* events before the index date, events after death, more than one death.

The arm check (exactly two labels) is separate, :func:`arm_problems`, because a
cohort may legitimately hold a third label (e.g. ``none`` for patients without
imaging) until exclusions remove it; it is applied where two arms are compared.

Events after the last contact are *not* an error: an event is a contact, so follow-up
is extended to the event date and a :class:`FollowUpWarning` names the patients.
Follow-up always ends at death (a last contact after death is noted in
``cohort.notes``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from .schema import (
    DATE_COLUMNS,
    DEATH_TYPES,
    EVENT_TYPES,
    ID_COLUMNS,
    REQUIRED,
    ST_CERTAINTY,
    VESSELS,
    alias_table,
    ids_as_text,
    normalise_certainty,
    normalise_event_types,
    normalise_vessels,
)


class FollowUpWarning(UserWarning):
    """Follow-up was extended: an event is recorded after the last contact date."""


@dataclass
class Records:
    """Validated, normalised tables (ids harmonised, dates parsed, ARC-2 codes)."""

    patients: pd.DataFrame
    events: pd.DataFrame
    lesions: pd.DataFrame | None
    notes: list[str]


def _ids(table: pd.DataFrame, mask, id_col: str | None) -> tuple:
    """Name rows by id where the table has usable ids, else by row number (1-based)."""
    mask = np.asarray(mask, dtype=bool)
    if id_col is not None and id_col in table.columns:
        vals = table[id_col].to_numpy()[mask]
        if not pd.isna(vals).any():
            return tuple(pd.unique(vals).tolist())
    return tuple((np.flatnonzero(mask) + 1).tolist())


def _ids_to_text(table: pd.DataFrame, source: str) -> list[Problem]:
    """Replace the id columns of ``table`` by their text (:func:`.schema.ids_as_text`).

    The same registry then has the same ids whether it was read from a file (where ids
    are read as text) or built from DataFrames of integers: ``7`` and ``7.0`` are
    ``"7"``, ``"007"`` stays ``"007"``. A fractional or boolean id is a problem.
    """
    problems = []
    for col in ID_COLUMNS:
        if col not in table.columns:
            continue
        text, bad = ids_as_text(table[col])
        if bad.any():
            examples = ", ".join(map(repr, pd.unique(table[col][bad])[:3].tolist()))
            problems.append(Problem(f"ids must be text or whole numbers (e.g. {examples})",
                                    col, tuple((np.flatnonzero(bad) + 1).tolist()), source,
                                    "store ids as text, e.g. P001"))
            # kept as written so the row is not reported a second time as a missing id
            text[bad] = table[col][bad].astype(str).to_numpy()
        table[col] = text
    return problems


_OTHER_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d", "%Y%m%d",
                  "%d.%m.%y", "%d/%m/%y", "%m/%d/%y")


def _parse_other_format(text: pd.Series, col: str, source: str,
                        problems: list[Problem]) -> pd.Series:
    """A column with no ISO date: the common format that reads the most values.

    Day-first and month-first formats that both read every value are ambiguous (all days
    12 or less): that is reported rather than guessed.
    """
    tries = {f: pd.to_datetime(text, format=f, errors="coerce") for f in _OTHER_FORMATS}
    counts = {f: int(v.notna().sum()) for f, v in tries.items()}
    best = max(counts.values())
    winners = [f for f, c in counts.items() if c == best]
    if best and len(winners) > 1 and best == int(text.notna().sum()):
        problems.append(Problem(f"ambiguous date format (every value reads as "
                                f"{' and as '.join(winners)})", col, (), source,
                                "store dates as YYYY-MM-DD"))
    return tries[winners[0]]


def _parse_dates(table: pd.DataFrame, col: str, source: str, id_col: str,
                 problems: list[Problem]) -> pd.Series:
    raw = table[col]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    elif pd.api.types.is_numeric_dtype(raw) and raw.notna().any():
        problems.append(Problem("dates are numbers, not dates", col,
                                _ids(table, raw.notna(), id_col), source,
                                "store calendar dates (e.g. 2021-03-15)"))
        return pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
    else:
        text = raw.astype(object).where(raw.notna(), None)
        text = text.where(text.astype(str).str.strip() != "", None)
        # ISO dates first; only a column with no ISO date at all may use another single
        # format (inferred from its values), so one odd row is blamed, not the others
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if text.notna().any() and parsed.notna().sum() == 0:
            parsed = _parse_other_format(text, col, source, problems)
        bad = text.notna() & parsed.isna()
        if bad.any():
            examples = ", ".join(map(repr, pd.unique(text[bad])[:3].tolist()))
            problems.append(Problem(f"unparseable date (e.g. {examples})", col,
                                    _ids(table, bad, id_col), source,
                                    "use one date format, e.g. YYYY-MM-DD"))
        raw = text
    missing = raw.isna()
    if missing.any():
        problems.append(Problem("missing date", col, _ids(table, missing, id_col), source))
    return parsed


def validate_records(
    patients: pd.DataFrame,
    events: pd.DataFrame,
    lesions: pd.DataFrame | None = None,
    *,
    aliases: Mapping | pd.DataFrame | None = None,
    sources: Mapping[str, str] | None = None,
    warn: bool = True,
) -> Records:
    """Check the three tables together; raise one :class:`ValidationError` listing all.

    Parameters
    ----------
    patients, events, lesions : the record tables (see :mod:`.schema`).
    aliases : user event codes -> ARC-2 event types (dict or DataFrame code/event_type).
    sources : file name of each table, used in messages (default: the table name).
    warn : issue a :class:`FollowUpWarning` for events after the last contact.

    Returns
    -------
    Records with normalised copies of the tables.
    """
    src = {"patients": "patients", "lesions": "lesions", "events": "events"}
    src.update(sources or {})
    problems: list[Problem] = []
    tables = {"patients": patients, "events": events, "lesions": lesions}
    for name, t in tables.items():
        if t is not None and not isinstance(t, pd.DataFrame):
            raise ValidationError(Problem(f"expected a pandas DataFrame, got "
                                          f"{type(t).__name__}", source=src[name]))
    if patients is None or events is None:
        raise ValidationError(Problem("a cohort needs a patients and an events table"))

    # Shallow copies: columns are replaced, never modified in place, so the user's
    # frames are untouched without copying millions of rows.
    p = patients.copy(deep=False)
    e = events.copy(deep=False)
    le = lesions.copy(deep=False) if lesions is not None else None
    # Column names: tolerate stray spaces and case in headers.
    for name, t in (("patients", p), ("events", e), ("lesions", le)):
        if t is not None:
            t.columns = [str(c).strip() for c in t.columns]
            twice = t.columns[t.columns.duplicated()].unique().tolist()
            for c in twice:
                problems.append(Problem("column appears more than once", c, (), src[name],
                                        "keep one column of each name"))
    if problems:  # with two columns of one name, which one is meant is unclear
        raise ValidationError(problems)

    have = {}
    for name, t in (("patients", p), ("events", e), ("lesions", le)):
        if t is None:
            continue
        missing = [c for c in REQUIRED[name] if c not in t.columns]
        for c in missing:
            problems.append(Problem(f"required column missing (columns are "
                                    f"{list(t.columns)})", c, (), src[name]))
        have[name] = set(t.columns)

    def has(name: str, *cols: str) -> bool:
        return name in have and all(c in have[name] for c in cols)

    # --- ids: text in every table, as read from a file ---------------------------------
    for name, t in (("patients", p), ("events", e), ("lesions", le)):
        if t is not None:
            problems += _ids_to_text(t, src[name])

    for name, t, col in (("patients", p, "patient_id"), ("lesions", le, "lesion_id"),
                         ("events", e, "event_id")):
        if t is None or col not in t.columns:
            continue
        na = t[col].isna()
        if na.any():
            problems.append(Problem(f"missing {col}", col, _ids(t, na, None), src[name]))
        dup = t[col].duplicated(keep=False) & ~na
        if dup.any():
            problems.append(Problem(f"duplicate {col}", col, _ids(t, dup, col), src[name],
                                    "each row needs its own id"))
    for name, t in (("lesions", le), ("events", e)):
        if t is not None and "patient_id" in t.columns and ID_OF[name] in t.columns:
            na = t["patient_id"].isna()
            if na.any():
                problems.append(Problem("missing patient_id", "patient_id",
                                        _ids(t, na, ID_OF[name]), src[name]))

    # --- dates ------------------------------------------------------------------------
    for name, t in (("patients", p), ("events", e)):
        for col in DATE_COLUMNS[name]:
            if col in t.columns:
                t[col] = _parse_dates(t, col, src[name], ID_OF[name], problems)
    if has("patients", "index_date", "last_contact_date", "patient_id"):
        before = p["last_contact_date"] < p["index_date"]
        if before.any():
            problems.append(Problem("last_contact_date before index_date",
                                    "last_contact_date", _ids(p, before, "patient_id"),
                                    src["patients"]))

    known_patients = pd.Index(p["patient_id"].dropna().unique()) if has(
        "patients", "patient_id") else None

    # --- lesions ----------------------------------------------------------------------
    lesion_patient = None
    if le is not None:
        if has("lesions", "patient_id") and known_patients is not None:
            unknown = le["patient_id"].notna() & ~le["patient_id"].isin(known_patients)
            if unknown.any():
                problems.append(Problem("lesion of a patient not in the patients table",
                                        "patient_id", _ids(le, unknown, "lesion_id"),
                                        src["lesions"]))
        if has("lesions", "vessel"):
            le["vessel"] = normalise_vessels(le["vessel"])
            bad = le["vessel"].isna() | ~le["vessel"].isin(VESSELS)
            if bad.any():
                vals = pd.unique(le.loc[bad, "vessel"].astype(str))[:5].tolist()
                problems.append(Problem(f"unknown or missing vessel ({vals})", "vessel",
                                        _ids(le, bad, "lesion_id"), src["lesions"],
                                        f"use one of {', '.join(VESSELS)}"))
        if has("lesions", "lesion_id", "patient_id"):
            ok = le.dropna(subset=["lesion_id"]).drop_duplicates("lesion_id")
            lesion_patient = pd.Series(ok["patient_id"].to_numpy(), index=ok["lesion_id"])

    # --- events -----------------------------------------------------------------------
    if has("events", "event_type"):
        e["event_type"] = normalise_event_types(e["event_type"], alias_table(aliases))
        bad = e["event_type"].isna() | ~e["event_type"].isin(EVENT_TYPES)
        if bad.any():
            vals = pd.unique(e.loc[bad, "event_type"].astype(str))[:8].tolist()
            problems.append(Problem(f"unknown or missing event type ({vals})", "event_type",
                                    _ids(e, bad, "event_id"), src["events"],
                                    f"use the ARC-2 names {', '.join(EVENT_TYPES)} or map "
                                    f"your codes with aliases="))
    for column, normalise, allowed, reason in (
            ("target_vessel", normalise_vessels, VESSELS, "unknown target vessel"),
            ("st_certainty", normalise_certainty, ST_CERTAINTY,
             "unknown stent-thrombosis certainty")):
        if column not in e.columns:  # optional columns: absent means not recorded
            e[column] = pd.Series(None, index=e.index, dtype=object)
            continue
        e[column] = normalise(e[column])
        bad = e[column].notna() & ~e[column].isin(allowed)
        if bad.any():
            problems.append(Problem(reason, column, _ids(e, bad, "event_id"), src["events"],
                                    f"use one of {', '.join(allowed)} or leave blank"))
    if has("events", "event_type"):
        no_cert = (e["event_type"] == "stent_thrombosis") & e["st_certainty"].isna()
        if no_cert.any():
            problems.append(Problem("stent thrombosis without its ARC certainty",
                                    "st_certainty", _ids(e, no_cert, "event_id"),
                                    src["events"], "give definite, probable or possible"))
    if "lesion_id" not in e.columns:
        e["lesion_id"] = pd.Series(None, index=e.index, dtype=object)

    if has("events", "patient_id") and known_patients is not None:
        unknown = e["patient_id"].notna() & ~e["patient_id"].isin(known_patients)
        if unknown.any():
            problems.append(Problem("event of a patient not in the patients table",
                                    "patient_id", _ids(e, unknown, "event_id"), src["events"]))
    named = e["lesion_id"].notna()
    if named.any():
        if lesion_patient is None:
            if le is None:
                problems.append(Problem("events name lesions but there is no lesions table",
                                        "lesion_id", _ids(e, named, "event_id"),
                                        src["events"]))
        else:
            sub = e.loc[named]
            owner = sub["lesion_id"].map(lesion_patient)
            unknown = pd.Series(False, index=e.index)
            unknown[named] = owner.isna().to_numpy()
            if unknown.any():
                problems.append(Problem("event names a lesion not in the lesions table",
                                        "lesion_id", _ids(e, unknown, "event_id"),
                                        src["events"]))
            if "patient_id" in e.columns:
                other = pd.Series(False, index=e.index)
                both = owner.notna().to_numpy() & sub["patient_id"].notna().to_numpy()
                same = np.ones(len(sub), dtype=bool)
                same[both] = owner.to_numpy()[both] == sub["patient_id"].to_numpy()[both]
                other[named] = ~same
                if other.any():
                    problems.append(Problem("event names a lesion of another patient",
                                            "lesion_id", _ids(e, other, "event_id"),
                                            src["events"]))

    notes: list[str] = []
    warn_about: list[str] = []
    if (has("events", "patient_id", "event_date", "event_type")
            and has("patients", "patient_id", "index_date", "last_contact_date")):
        first = p.dropna(subset=["patient_id"]).drop_duplicates("patient_id")
        first = first.set_index("patient_id")
        index_date = e["patient_id"].map(first["index_date"])
        early = e["event_date"] < index_date
        if early.any():
            problems.append(Problem("event before the index date", "event_date",
                                    _ids(e, early, "event_id"), src["events"]))
        is_death = e["event_type"].isin(DEATH_TYPES)
        deaths = e.loc[is_death, ["patient_id", "event_date"]]
        n_deaths = deaths.groupby("patient_id", sort=False).size()
        multi = n_deaths.index[n_deaths.to_numpy() > 1]
        if len(multi):
            rows = is_death & e["patient_id"].isin(multi)
            problems.append(Problem("more than one death for the same patient",
                                    "event_type", _ids(e, rows, "event_id"), src["events"]))
        death_date = deaths.groupby("patient_id", sort=False)["event_date"].min()
        after = e["event_date"] > e["patient_id"].map(death_date)
        if after.any():
            problems.append(Problem("event after the patient's death", "event_date",
                                    _ids(e, after, "event_id"), src["events"]))
        last = e["patient_id"].map(first["last_contact_date"])
        late = e["event_date"] > last
        if late.any():
            ids = _ids(e, late, "event_id")
            pats = tuple(pd.unique(e.loc[late, "patient_id"]).tolist())
            shown = ", ".join(map(str, pats[:20])) + (" ..." if len(pats) > 20 else "")
            msg = (f"{len(ids)} event(s) after the last contact date: follow-up extended to "
                   f"the event date for patient_id [{shown}] (event_id "
                   f"{', '.join(map(str, ids[:20]))}{' ...' if len(ids) > 20 else ''})")
            notes.append(msg)
            warn_about.append(msg)
        # Often the date the death was learnt or a study-wide ascertainment date: follow-up
        # ends at death either way. Noted in the summary, not warned about (common).
        died = first.index.isin(death_date.index)
        after = pd.Series(False, index=first.index)
        after[died] = (first.loc[died, "last_contact_date"].to_numpy()
                       > death_date.reindex(first.index[died]).to_numpy())
        if after.any():
            pats = after.index[after.to_numpy()].tolist()
            shown = ", ".join(map(str, pats[:20])) + (" ..." if len(pats) > 20 else "")
            notes.append(f"{len(pats)} patient(s) with last_contact_date after death: "
                         f"follow-up ends at death (patient_id [{shown}])")

    if problems:
        raise ValidationError(problems)
    if warn:
        for msg in warn_about:
            warnings.warn(msg, FollowUpWarning, stacklevel=3)
    return Records(patients=p, events=e, lesions=le, notes=notes)


ID_OF = {"patients": "patient_id", "lesions": "lesion_id", "events": "event_id"}


def arm_problems(patients: pd.DataFrame, arms: list | None = None,
                 source: str = "patients") -> list[Problem]:
    """Problems with the ``arm`` column for a two-arm comparison.

    Exactly two labels among the patients, none missing, and, when the study file
    declares ``arms``, only those labels.
    """
    if "arm" not in patients.columns:
        return [Problem("required column missing", "arm", (), source)]
    arm = patients["arm"]
    problems = []
    na = arm.isna()
    if na.any():
        problems.append(Problem("missing arm", "arm", _ids(patients, na, "patient_id"),
                                source))
    labels = pd.unique(arm[~na]).tolist()
    if arms is not None:
        stray = ~na & ~arm.isin(list(arms))
        if stray.any():
            problems.append(Problem(f"arm label not among the study's arms {list(arms)}",
                                    "arm", _ids(patients, stray, "patient_id"), source,
                                    "exclude these patients or fix the labels"))
    if len(labels) != 2:
        counts = arm[~na].value_counts()
        shown = ", ".join(f"{k} ({v})" for k, v in counts.items())
        rows = ()
        if len(labels) > 2:
            # Name the patients outside the two largest arms: the likely strays.
            minor = counts.index[2:]
            rows = _ids(patients, arm.isin(minor).to_numpy(), "patient_id")
        problems.append(Problem(f"a two-arm comparison needs exactly two arm labels; "
                                f"found {len(labels)}: {shown}", "arm", rows, source,
                                "exclude the other patients (cohort.exclude or study.toml "
                                "[exclusions]) or pass require_two_arms=False"))
    return problems


def followup_dates(patients: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """End of follow-up per patient (aligned with ``patients``).

    Follow-up ends at death; otherwise at the later of the last contact and the last
    recorded event (an event is a contact).

    Returns a DataFrame with ``end_date``, ``death_date`` (NaT if alive) and
    ``extended`` (follow-up extended by an event after the last contact).
    """
    pid = patients["patient_id"]
    last_event = events.groupby("patient_id", sort=False)["event_date"].max()
    is_death = events["event_type"].isin(DEATH_TYPES)
    death = events.loc[is_death].groupby("patient_id", sort=False)["event_date"].min()
    last_event = pid.map(last_event)
    death = pid.map(death)
    last = patients["last_contact_date"]
    end = last.where(~(last_event > last), last_event)
    end = end.where(death.isna(), death)
    return pd.DataFrame({"end_date": end, "death_date": death,
                         "extended": (last_event > last).to_numpy()}, index=patients.index)


_NOT_COVARIATES = {"patient_id", "lesion_id", "arm", "index_date", "last_contact_date",
                   "synthetic", "vessel"}


def covariate_problems(cohort) -> list[Problem]:
    """Text in a mostly numeric covariate (``seventy``, ``>90``) and infinite values
    (``inf``): every such cell, by id.

    Not an error of the records themselves (a covariate may be text), so
    :class:`~mace_outcomes.Cohort` accepts it; ``mace-outcomes validate`` and ``analyze``,
    which describe and model the covariates, report it.
    """
    problems = []
    tables = [(cohort.patients, "patient_id", cohort.source.get("patients", "patients"))]
    if cohort.lesions is not None:
        tables.append((cohort.lesions, "lesion_id", cohort.source.get("lesions", "lesions")))
    for frame, id_column, source in tables:
        for col in frame.columns:
            values = frame[col]
            numeric = (pd.api.types.is_numeric_dtype(values)
                       and not pd.api.types.is_bool_dtype(values))
            if col in _NOT_COVARIATES or col.endswith("_date") or not (
                    numeric or values.dtype == object):
                continue
            present = values.notna()
            numbers = pd.to_numeric(values.where(present), errors="coerce")
            bad = present & numbers.isna()
            if bad.any() and numbers.notna().sum() >= bad.sum():
                problems.append(Problem("non-numeric values in a numeric column (e.g. "
                                        f"{values[bad].iloc[0]!r})", col,
                                        tuple(frame.loc[bad, id_column]), source,
                                        "correct them, or leave the cells empty if unknown"))
            # ``inf`` in a CSV reads as a number, and no model can use it
            infinite = np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                problems.append(Problem("infinite values in a numeric column", col,
                                        tuple(frame.loc[infinite, id_column]), source,
                                        "correct them, or leave the cells empty if unknown"))
    return problems
