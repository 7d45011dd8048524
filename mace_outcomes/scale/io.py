"""Reading a cohort stored as Parquet datasets into Dask tables (``engine="dask"``).

A national registry is too large to read into memory: its folder holds ``patients/``
and ``events/`` as Parquet datasets (a directory of part files, possibly
hive-partitioned, e.g. ``events/event_type=mi/part.0.parquet``) or single
``patients.parquet`` / ``events.parquet`` files. :func:`read_cohort` reads them lazily
with ``dask.dataframe.read_parquet`` and normalises each partition by the in-memory
rules (:mod:`mace_outcomes.records.validate`): ids as text (``pandas`` string dtype;
``001`` stays ``001``, a whole number becomes its digits), ISO dates parsed, event codes
mapped onto ARC-2 names through the same aliases (argument, ``study.toml`` ``[aliases]``
or ``aliases.csv``).

The checks that can be computed on the cluster are computed in one pass over the
tables (one ``dask.compute`` of a few small reductions sharing the reads), and every
problem found is raised in one :class:`~mace_outcomes.errors.ValidationError` naming the
file, the column, the first 20 ids and the count: missing required columns (from the
Parquet schema, before any pass), ids that are not text or whole numbers, missing ids,
duplicate patient and event ids, missing or unparseable dates, ``last_contact_date``
before ``index_date``, unknown or missing event types, unknown target vessels or
stent-thrombosis certainty, a stent thrombosis without its certainty, events of
unknown patients, events before the index date, more than one death, events after
death.

Not on Dask yet, and said so rather than ignored: a lesions table is not read (a
``UserWarning`` names it; lesion-level rows and target-vessel endpoints are refused by
the Dask ``time_to_event`` anyway), ``study.toml`` ``[exclusions]`` are an error (the
analysed patients would differ from the in-memory reading; filter the tables first and
pass ``apply_exclusions=False``), and dates must be ISO (``YYYY-MM-DD``) text or
Parquet dates (the in-memory reader's guess among other formats needs the whole column).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, ValidationError
from ..records.io import READABLE, TABLES, read_study, read_table
from ..records.schema import (
    DATE_COLUMNS,
    DEATH_TYPES,
    EVENT_TYPES,
    ID_COLUMN,
    REQUIRED,
    ST_CERTAINTY,
    VESSELS,
    alias_table,
    ids_as_text,
    normalise_certainty,
    normalise_event_types,
    normalise_vessels,
)
from ._reduce import step
from .tte import DaskCohort

__all__ = ["read_cohort"]

_PARQUET = (".parquet", ".pq")
_SHOWN = 20  # ids named in a message; the count says how many there are in all
_FLAGS = "__problems"
_TEXT = pd.StringDtype("pyarrow")  # the text dtype Dask gives text columns

# The row-level checks of each table as (column, reason, fix); check i sets bit i of a
# row's problem flags.
_CHECKS = {
    "patients": [("patient_id", "ids must be text or whole numbers", "store ids as text"),
                 ("patient_id", "missing patient_id", None)]
    + [(c, why, fix) for c in DATE_COLUMNS["patients"] for why, fix in (
        ("unparseable date", "store dates as YYYY-MM-DD text or as Parquet dates"),
        ("missing date", None))]
    + [("last_contact_date", "last_contact_date before index_date", None)],
    "events": [("event_id", "ids must be text or whole numbers", "store ids as text"),
               ("event_id", "missing event_id", None),
               ("patient_id", "ids must be text or whole numbers", "store ids as text"),
               ("patient_id", "missing patient_id", None),
               ("lesion_id", "ids must be text or whole numbers", "store ids as text"),
               ("event_date", "unparseable date",
                "store dates as YYYY-MM-DD text or as Parquet dates"),
               ("event_date", "missing date", None),
               ("event_type", "unknown or missing event type",
                f"use the ARC-2 names {', '.join(EVENT_TYPES)} or map your codes with "
                f"aliases="),
               ("target_vessel", "unknown target vessel",
                f"use one of {', '.join(VESSELS)} or leave blank"),
               ("st_certainty", "unknown stent-thrombosis certainty",
                f"use one of {', '.join(ST_CERTAINTY)} or leave blank"),
               ("st_certainty", "stent thrombosis without its ARC certainty",
                "give definite, probable or possible")],
}


def _bit(table: str, column: str, reason: str) -> int:
    return 1 << next(i for i, (c, r, _) in enumerate(_CHECKS[table])
                     if c == column and r == reason)


# ----------------------------------------------------------------------------- files
def _locate(directory: Path) -> dict[str, Path]:
    """``name/`` (a Parquet dataset) or ``name.parquet`` for each table."""
    if not directory.is_dir():
        raise InputError(Problem("no such folder" if not directory.exists() else
                                 "engine='dask' reads a cohort folder (patients/ and "
                                 "events/ as Parquet datasets), not a file",
                                 source=str(directory)))
    found: dict[str, list[Path]] = {t: [] for t in TABLES}
    other: dict[str, list[Path]] = {t: [] for t in TABLES}
    for f in sorted(directory.iterdir()):
        name = f.name.lower()
        if f.is_dir() and name in found:
            found[name].append(f)
        elif f.is_file() and f.stem.lower() in found:
            ext = f.suffix.lower()
            (found if ext in _PARQUET else other if ext in READABLE else {}).get(
                f.stem.lower(), []).append(f)
    problems = []
    for table, paths in found.items():
        if len(paths) > 1:
            problems.append(Problem(f"table '{table}' found in several places "
                                    f"({', '.join(p.name for p in paths)})",
                                    source=str(directory), fix="keep only one of them"))
        elif not paths and table != "lesions":
            seen = (f" ({', '.join(p.name for p in other[table])} is not Parquet)"
                    if other[table] else "")
            problems.append(Problem(f"no {table} table: expected a Parquet dataset "
                                    f"{table}/ or {table}.parquet{seen}",
                                    source=str(directory),
                                    fix="convert the table to Parquet, or read it with "
                                        "engine='pandas'"))
    if problems:
        raise InputError(problems)
    return {t: paths[0] for t, paths in found.items() if paths}


def _read(path: Path, source: str):
    import dask.dataframe as dd

    try:
        table = dd.read_parquet(str(path))
    except Exception as err:  # the reader's own message says what is wrong
        raise InputError(Problem(f"could not read the Parquet dataset: {err}",
                                 source=source)) from err
    names = [str(c).strip() for c in table.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError([Problem("column appears more than once", c, (), source,
                                       "keep one column of each name") for c in twice])
    if names != list(table.columns):
        table = table.rename(columns=dict(zip(table.columns, names, strict=True)))
    return table


# ------------------------------------------------------------------ per partition
def _ids(frame: pd.DataFrame, col: str, flags: np.ndarray, bad_bit: int,
         missing_bit: int) -> None:
    text, bad = ids_as_text(frame[col])
    flags |= np.where(bad, bad_bit, 0)
    flags |= np.where(text.isna().to_numpy() & ~bad, missing_bit, 0)
    frame[col] = text.astype(_TEXT)


def _dates(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """(dates, unparseable, missing): the in-memory ISO rule, per partition."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.astype("datetime64[ns]")
        return parsed, np.zeros(len(values), bool), parsed.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values):  # numbers are not dates
        present = values.notna().to_numpy()
        return (pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), present,
                ~present)
    text = values.astype(object).where(values.notna(), None)
    text = text.where(text.astype(str).str.strip() != "", None)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce").astype(
        "datetime64[ns]")
    missing = text.isna().to_numpy()
    return parsed, ~missing & parsed.isna().to_numpy(), missing


def _patients_part(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    flags = np.zeros(len(frame), dtype=np.int64)
    _ids(frame, "patient_id", flags, 1, 2)
    for col in DATE_COLUMNS["patients"]:
        frame[col], bad, missing = _dates(frame[col])
        flags |= np.where(bad, _bit("patients", col, "unparseable date"), 0)
        flags |= np.where(missing, _bit("patients", col, "missing date"), 0)
    before = (frame["last_contact_date"] < frame["index_date"]).to_numpy()
    flags |= np.where(before, _bit("patients", "last_contact_date",
                                   "last_contact_date before index_date"), 0)
    frame[_FLAGS] = flags
    return frame


def _events_part(frame: pd.DataFrame, aliases: dict) -> pd.DataFrame:
    frame = frame.copy()
    flags = np.zeros(len(frame), dtype=np.int64)
    for col in ("event_id", "patient_id", "lesion_id"):
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype=_TEXT)
            continue
        bad = _bit("events", col, "ids must be text or whole numbers")
        _ids(frame, col, flags, bad, bad << 1 if col != "lesion_id" else 0)
    frame["event_date"], bad, missing = _dates(frame["event_date"])
    flags |= np.where(bad, _bit("events", "event_date", "unparseable date"), 0)
    flags |= np.where(missing, _bit("events", "event_date", "missing date"), 0)
    types = normalise_event_types(frame["event_type"], aliases)
    frame["event_type"] = types
    flags |= np.where((types.isna() | ~types.isin(EVENT_TYPES)).to_numpy(),
                      _bit("events", "event_type", "unknown or missing event type"), 0)
    for col, normalise, allowed, reason in (
            ("target_vessel", normalise_vessels, VESSELS, "unknown target vessel"),
            ("st_certainty", normalise_certainty, ST_CERTAINTY,
             "unknown stent-thrombosis certainty")):
        if col not in frame.columns:  # optional: absent means not recorded
            frame[col] = pd.Series(None, index=frame.index, dtype=object)
            continue
        frame[col] = normalise(frame[col])
        odd = (frame[col].notna() & ~frame[col].isin(allowed)).to_numpy()
        flags |= np.where(odd, _bit("events", col, reason), 0)
    no_cert = ((types == "stent_thrombosis") & frame["st_certainty"].isna()).to_numpy()
    flags |= np.where(no_cert, _bit("events", "st_certainty",
                                    "stent thrombosis without its ARC certainty"), 0)
    frame[_FLAGS] = flags
    return frame


def _summary(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Per problem bit of one partition: its count, first ids and first values."""
    id_col = ID_COLUMN[table]
    flags = frame[_FLAGS].to_numpy()
    rows = []
    for i, (col, _, _) in enumerate(_CHECKS[table]):
        hit = (flags >> i) & 1 == 1
        n = int(hit.sum())
        if n:
            ids = frame.loc[hit, id_col].head(_SHOWN)
            values = frame.loc[hit, col].astype(str).head(_SHOWN)
            rows.append((i, n, ids.where(ids.notna(), "<missing id>").tolist(),
                         values.tolist()))
    return pd.DataFrame(rows, columns=["bit", "n", "ids", "values"]).astype(
        {"bit": np.int64, "n": np.int64, "ids": object, "values": object})


# ---------------------------------------------------------------------- the read
def read_cohort(path_or_dir: str | Path, aliases: Mapping | pd.DataFrame | None = None,
                *, apply_exclusions: bool = True, warn: bool = True) -> DaskCohort:
    """:func:`mace_outcomes.read_cohort` with ``engine="dask"``: lazy, validated tables.

    Parameters
    ----------
    path_or_dir : the cohort folder: ``patients/`` and ``events/`` (Parquet datasets,
        possibly hive-partitioned) or ``patients.parquet`` and ``events.parquet``, and
        optionally ``study.toml`` and ``aliases.csv``.
    aliases : your event codes -> ARC-2 event types, as for the in-memory reader.
    apply_exclusions : with ``True`` (the default) a ``study.toml`` ``[exclusions]``
        table is an error (not on Dask yet); ``False`` reads the tables unfiltered.
    warn : warn that a lesions table is not read (default True).

    Returns
    -------
    DaskCohort whose ``patients`` and ``events`` are Dask DataFrames, normalised as a
    :class:`~mace_outcomes.records.cohort.Cohort`'s.

    Raises
    ------
    InputError
        a missing folder or table, a table in two places, ``[exclusions]``; a
        :class:`~mace_outcomes.errors.ValidationError` listing every record problem.
    """
    import dask

    path = Path(path_or_dir)
    files = _locate(path)
    study = read_study(path)
    if study is not None and aliases is None and isinstance(study.get("aliases"), dict):
        aliases = study["aliases"]
    if aliases is None and (path / "aliases.csv").is_file():
        aliases = read_table(path / "aliases.csv")
    if apply_exclusions and study is not None and study.get("exclusions"):
        raise InputError(Problem(
            "[exclusions] are not applied on Dask tables yet", source="study.toml",
            fix="filter the Parquet tables first and pass apply_exclusions=False, or read "
                "the cohort with engine='pandas'"))
    if "lesions" in files and warn:
        warnings.warn(f"{files['lesions'].name}: the lesions table is not read with "
                      "engine='dask' (lesion level and target-vessel endpoints are not "
                      "on Dask yet); use engine='pandas' for them", UserWarning,
                      stacklevel=3)
    src = {t: files[t].name for t in ("patients", "events")}
    raw = {t: _read(files[t], src[t]) for t in src}
    problems = [Problem(f"required column missing (columns are {list(raw[t].columns)})",
                        c, (), src[t]) for t in raw for c in REQUIRED[t]
                if c not in raw[t].columns]
    if problems:
        raise ValidationError(problems)

    p = raw["patients"].map_partitions(
        _patients_part, meta=_patients_part(raw["patients"]._meta))
    table = alias_table(aliases)
    e = raw["events"].map_partitions(
        _events_part, table, meta=_events_part(raw["events"]._meta, table))
    step("record checks")
    problems = _problems(dask.compute(*_reductions(p, e)), src)
    if problems:
        raise ValidationError(problems)
    return DaskCohort(p.drop(columns=_FLAGS), e.drop(columns=_FLAGS))


def _head_count(frame):
    return frame.head(_SHOWN, npartitions=-1, compute=False), frame.shape[0]


def _reductions(p, e) -> list:
    """The lazy reductions behind every check, computed together in one pass."""
    summary_meta = _summary(p._meta, "patients")
    out = [p.map_partitions(_summary, "patients", meta=summary_meta),
           e.map_partitions(_summary, "events", meta=summary_meta)]
    for t, col in ((p, "patient_id"), (e, "event_id")):
        counts = t[col].dropna().value_counts(split_out=max(1, t.npartitions // 8))
        out += _head_count(counts[counts > 1].reset_index())
    # one output partition (deaths are a few per cent of the patients): with 16 or more
    # input partitions Dask splits the group-by's output by default, and dask 2026.8
    # then fails to plan the merges below
    deaths = (e[e["event_type"].isin(list(DEATH_TYPES))]
              .groupby("patient_id")["event_date"].agg(["count", "min"], split_out=1)
              .rename(columns={"count": "__deaths", "min": "__death_date"}).reset_index())
    known = (p[["patient_id", "index_date"]].dropna(subset=["patient_id"])
             .assign(__known=1).merge(deaths, on="patient_id", how="left"))
    ev = e[["event_id", "patient_id", "event_date"]].dropna(subset=["patient_id"]).merge(
        known, on="patient_id", how="left")
    out += _head_count(ev[ev["__known"].isna()])
    out += _head_count(ev[ev["event_date"] < ev["index_date"]])
    out += _head_count(ev[ev["event_date"] > ev["__death_date"]])
    out += _head_count(deaths[deaths["__deaths"] > 1])
    return out


def _named(ids) -> tuple:
    return tuple(pd.unique(pd.Series(list(ids), dtype=object)).tolist())


def _problems(results, src: dict) -> list[Problem]:
    (p_sum, e_sum, dup_p, n_dup_p, dup_e, n_dup_e, orphans, n_orphans, before, n_before,
     after, n_after, multi, n_multi) = results
    problems = []
    for table, summary in (("patients", p_sum), ("events", e_sum)):
        for bit, part in summary.groupby("bit", sort=True):
            col, reason, fix = _CHECKS[table][int(bit)]
            n = int(part["n"].sum())
            ids = _named(i for ids in part["ids"] for i in ids)[:_SHOWN]
            if reason.startswith("unknown"):  # unknown codes are kept as written
                values = _named(v for vs in part["values"] for v in vs)[:8]
                reason = f"{reason} (e.g. {', '.join(map(repr, values))})"
            problems.append(Problem(f"{reason}: {n} row(s)", col, ids, src[table], fix))
    for head, n, what, col, table, id_col in (
            (dup_p, n_dup_p, "duplicate patient_id", "patient_id", "patients", "patient_id"),
            (dup_e, n_dup_e, "duplicate event_id", "event_id", "events", "event_id"),
            (multi, n_multi, "more than one death for the same patient", "event_type",
             "events", "patient_id")):
        if n:
            problems.append(Problem(f"{what}: {n} id(s)", col, _named(head[id_col]),
                                    src[table], "each row needs its own id"
                                    if what.startswith("duplicate") else None))
    for head, n, what, col in (
            (orphans, n_orphans, "event of a patient not in the patients table",
             "patient_id"),
            (before, n_before, "event before the index date", "event_date"),
            (after, n_after, "event after the patient's death", "event_date")):
        if n:
            pats = ", ".join(map(str, _named(head["patient_id"])))
            problems.append(Problem(f"{what}: {n} event(s) (patient_id [{pats}"
                                    f"{' ...' if n > len(head) else ''}])", col,
                                    _named(head["event_id"]), src["events"]))
    return problems
