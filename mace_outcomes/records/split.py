"""Time-varying covariates: baseline rows plus dated changes to (start, stop] rows.

What R's ``survival::tmerge`` (with ``event()`` and ``tdc()``) and ``survSplit`` do. A
subject's follow-up ``(0, time]`` is cut at each date on which one of its covariates
changes; each piece ``(start, stop]`` carries the values in force during it, and the
event (if any) sits on the last piece only. A change dated ``c`` takes effect after
``c``: the piece ending at ``c`` still has the old value, as ``tdc`` does.

* A change dated at or before 0 sets the starting value (no cut).
* A change dated at or after the subject's last time cannot act within follow-up and is
  ignored; the number ignored is in ``attrs["split_at"]`` and ``attrs["notes"]``.
* Several changes of one column on one date: the last listed wins (as ``tmerge``).
* Rows that are already ``(start, stop]`` (a ``start`` column: delayed entry, recurrent
  events, one row per lesion) are cut the same way, each row at the changes of its id
  strictly inside it; a change at or before a row's start is in force on all of it.

The work is one join of rows to change dates, one sort and one ``merge_asof`` per changed
column: no loop over subjects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._frames import row_ids
from ..errors import InputError, Problem

__all__ = ["split_at"]

_FIX_CHANGES = ("give `changes` one row per change: the subject id, the date (same "
                "time scale as `time`), the column that changes and its new value")


def _check(df: pd.DataFrame, changes: pd.DataFrame, id: str, time: str, event: str,
           start: str, last_piece: tuple = ()) -> None:
    """Every problem with the two frames at once."""
    problems = []
    for frame, src, cols in ((df, "df", [id, time, event, *last_piece]),
                             (changes, "changes", [id, time, "column", "value"])):
        if not isinstance(frame, pd.DataFrame):
            raise InputError(Problem(f"{src} must be a DataFrame, not "
                                     f"{type(frame).__name__}", source=src))
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            problems.append(Problem(f"column(s) {missing} not found", source=src,
                                    fix=_FIX_CHANGES if src == "changes" else
                                    f"name the id, time and event columns with id=, "
                                    f"time=, event= (now {id!r}, {time!r}, {event!r})"))
    if problems:
        raise InputError(problems)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    if start in df.columns:  # (start, stop] rows: several per id, each of positive length
        s0 = pd.to_numeric(df[start], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(s0) & np.isfinite(t) & (s0 < t))
        if bad.any():
            problems.append(Problem(f"each row needs {start} < {time} (finite numbers)",
                                    column=start, rows=row_ids(df, bad), source="df",
                                    fix="leave out rows of zero length, and say so"))
    else:
        dup = df[id].duplicated(keep=False).to_numpy()
        if dup.any():
            problems.append(Problem("subject id appears on more than one row", column=id,
                                    rows=tuple(df[id][dup].unique().tolist()), source="df",
                                    fix=f"give one baseline row per subject, or (start, "
                                        f"stop] rows with a {start!r} column"))
        bad = ~(t > 0)
        if bad.any():
            problems.append(Problem("follow-up time must be a positive number", column=time,
                                    rows=row_ids(df, bad), source="df"))
    ev = df[event]
    bad = ~ev.isin([0, 1]).to_numpy()
    if bad.any():
        problems.append(Problem("event must be 0 or 1", column=event,
                                rows=row_ids(df, bad), source="df"))
    ct = pd.to_numeric(changes[time], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(ct)
    if bad.any():
        problems.append(Problem("change date must be a number", column=time,
                                rows=tuple(changes.index[bad].tolist()), source="changes"))
    unknown = ~changes[id].isin(df[id]).to_numpy()
    if unknown.any():
        problems.append(Problem("change for a subject not in df", column=id,
                                rows=tuple(changes[id][unknown].unique().tolist()),
                                source="changes", fix="drop these changes or add the "
                                "subjects' baseline rows"))
    reserved = {id, time, event, start, *last_piece}
    clash = sorted(set(changes["column"].astype(str)) & reserved)
    if clash:
        problems.append(Problem(f"changes name the follow-up column(s) {clash}",
                                column="column", source="changes",
                                fix="only covariates can change over follow-up"))
    if problems:
        raise InputError(problems)


def split_at(df: pd.DataFrame, changes: pd.DataFrame, id: str = "patient_id",
             time: str = "time", event: str = "event", *,
             start: str = "start", last_piece: tuple[str, ...] = ()) -> pd.DataFrame:
    """Cut each subject's follow-up where a covariate changes: (start, stop] rows.

    Parameters
    ----------
    df : one row per subject: ``id``, follow-up ``time`` (> 0), ``event`` (0/1) and the
        covariates' starting values; or ``(start, stop]`` rows (a ``start`` column, any
        number of rows per id, e.g. recurrent-event gaps or lesions), each cut at its id's
        changes strictly inside it.
    changes : one row per change: ``id``, ``time`` (the date, same scale as ``df``),
        ``column`` (the covariate's name) and ``value`` (its value after that date). A
        column not in ``df`` is missing (NaN) before its first change.
    id, time, event : column names, shared by both frames (``id`` and ``time``).
    start : name of the entry-time column: new, or the rows' own when ``df`` has it;
        ``time`` becomes each piece's stop.
    last_piece : further columns that, like ``event``, belong to the end of a row
        (``status``, ``terminal``, ``event_type``): kept on a row's last piece, 0 (or
        ``""`` for text) on the pieces before it.

    Returns
    -------
    DataFrame
        The columns of ``df`` plus ``start`` and the changed columns, one row per piece,
        sorted by row of ``df`` and time; ``event`` is 1 only on the last piece of a row
        with an event. Fit it with ``mo.cox(..., start="start")`` or
        ``mo.kaplan_meier(..., start="start")``. ``attrs["split_at"]`` counts the
        changes used, set at baseline (at or before the id's first start), and ignored (dated
        at or after the id's last stop).

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> base = pd.DataFrame({"patient_id": [1, 2], "time": [10.0, 20.0],
    ...                      "event": [1, 0], "crossover": [0, 0]})
    >>> chg = pd.DataFrame({"patient_id": [1], "time": [4.0], "column": ["crossover"],
    ...                     "value": [1]})
    >>> mo.split_at(base, chg)[["patient_id", "start", "time", "event", "crossover"]]
       patient_id  start  time  event  crossover
    0           1    0.0   4.0      0          0
    1           1    4.0  10.0      1          1
    2           2    0.0  20.0      0          0

    References
    ----------
    Therneau T, Crowson C, Atkinson E. Using time dependent covariates and time
    dependent coefficients in the Cox model (survival package vignette), section 3.
    """
    _check(df, changes, id, time, event, start, tuple(last_piece))
    counting = start in df.columns
    base = df.reset_index(drop=True)
    subjects = pd.Index(pd.unique(base[id]))
    subj = subjects.get_indexer(base[id])  # each row's subject
    pos = subjects.get_indexer(changes[id])  # each change's subject
    ch = pd.DataFrame({"_row": pos, "_at": changes[time].to_numpy(dtype=float),
                       "_col": changes["column"].astype(str).to_numpy(),
                       "_val": changes["value"].to_numpy(), "_order": np.arange(len(pos))})
    stop_all = base[time].to_numpy(dtype=float)
    begin_all = (base[start].to_numpy(dtype=float) if counting
                 else np.zeros(len(base)))
    first = np.full(len(subjects), np.inf)
    last = np.full(len(subjects), -np.inf)
    np.minimum.at(first, subj, begin_all)
    np.maximum.at(last, subj, stop_all)
    at = ch["_at"].to_numpy()
    late = at >= last[pos]
    early = ~late & (at <= first[pos])
    ch = ch[~late]

    # Cuts: each distinct change date of a row's subject strictly inside the row.
    dates = ch.loc[~early[~late], ["_row", "_at"]].drop_duplicates()
    rows = pd.DataFrame({"_row": subj, "_r": np.arange(len(base))})
    hit = rows.merge(dates, on="_row")
    r_idx, cut = hit["_r"].to_numpy(), hit["_at"].to_numpy()
    inside = (cut > begin_all[r_idx]) & (cut < stop_all[r_idx])
    r_idx, cut = r_idx[inside], cut[inside]

    # Pieces: every cut and every row's stop, sorted by (row, stop).
    row = np.concatenate([r_idx, np.arange(len(base))])
    stop = np.concatenate([cut, stop_all])
    order = np.lexsort((stop, row))
    row, stop = row[order], stop[order]
    new_row = np.r_[True, row[1:] != row[:-1]]
    begin = np.where(new_row, begin_all[row], np.r_[0.0, stop[:-1]])
    last_of_row = np.r_[row[1:] != row[:-1], True]

    out = base.take(row).reset_index(drop=True)
    out[time] = stop
    for col in (event, *last_piece):
        values = base[col].to_numpy()
        blank = "" if values.dtype == object else 0
        out[col] = pd.Series(np.where(last_of_row, values[row], blank)).astype(
            base[col].dtype)
    if counting:
        out[start] = begin
    else:
        out.insert(out.columns.get_loc(time), start, begin)
    pieces = pd.DataFrame({"_row": subj[row], "_start": begin, "_piece": np.arange(row.size)})
    for col, sub in ch.sort_values(["_at", "_order"]).groupby("_col", sort=False):
        out[col] = _values_in_force(pieces, sub, out[col] if col in out else None)

    n_late, n_early = int(late.sum()), int(early[~late].sum())
    notes = []
    if n_late:
        notes.append(f"{n_late} change(s) dated at or after the end of the subject's "
                     "follow-up were ignored")
    out.attrs.update(df.attrs)
    out.attrs["split_at"] = {"changes": len(changes), "used": len(ch) - n_early,
                             "at_baseline": n_early, "ignored_after_followup": n_late}
    out.attrs["notes"] = list(df.attrs.get("notes", [])) + notes
    return out


def _values_in_force(pieces: pd.DataFrame, changes: pd.DataFrame,
                     baseline: pd.Series | None) -> pd.Series:
    """The last change dated at or before each piece's start, else the baseline value."""
    right = pd.DataFrame({"_row": changes["_row"].to_numpy(),
                          "_at": changes["_at"].to_numpy(),
                          "_k": np.arange(len(changes), dtype=float)})
    # merge_asof wants both sides sorted on the as-of key; ties keep the last change.
    left = pieces.sort_values("_start", kind="stable")
    hit = pd.merge_asof(left, right, left_on="_start", right_on="_at", by="_row",
                        direction="backward", allow_exact_matches=True)
    k = hit.sort_values("_piece")["_k"].to_numpy()
    found = ~np.isnan(k)
    # Object arrays, then inferred: an integer column stays integer.
    values = (np.full(k.size, np.nan, dtype=object) if baseline is None
              else baseline.to_numpy(dtype=object).copy())
    values[found] = changes["_val"].to_numpy(dtype=object)[k[found].astype(np.int64)]
    return pd.Series(values, index=pieces.index).infer_objects()


_RESERVED_EXPOSURE = {"patient_id", "lesion_id", "arm", "start", "stop", "time", "event",
                      "status", "terminal", "event_type"}


def exposure_rows(rows: pd.DataFrame, index_date: pd.Series, changes: pd.DataFrame,
                  excluded: set, time: str, last_piece: tuple[str, ...],
                  landmark: float = 0.0) -> pd.DataFrame:
    """``time_to_event(..., exposure_changes=)``: dated exposure changes of a registry
    turned into ``(start, stop]`` rows by :func:`split_at`.

    ``changes`` has ``patient_id``, the date of the change as ``date`` (calendar date)
    or ``time`` (days from the index date), ``column`` and optionally ``value`` (without
    it the column is 0 before the date and 1 after, as ``tmerge``'s ``tdc(time)``).
    ``rows`` are time_to_event's (one per patient or lesion, or recurrent gaps),
    ``index_date`` the analysed patients' index dates by ``patient_id``, ``excluded``
    the ids of patients the cohort excluded (their changes are ignored and counted).
    Rows of zero length (an event or censoring on day 0) cannot be cut or enter a
    ``(start, stop]`` fit: they are left out with a :class:`StatisticalWarning` naming
    the patients, and counted in ``attrs["exposure_changes"]``.
    """
    import warnings

    from ..errors import StatisticalWarning

    if not isinstance(changes, pd.DataFrame):
        raise InputError(Problem(f"exposure_changes must be a DataFrame, not "
                                 f"{type(changes).__name__}", source="exposure_changes"))
    fix = ("give one row per change: patient_id, date (or time in days from the index "
           "date), column and, optionally, value")
    problems = [Problem("column not found", c, source="exposure_changes", fix=fix)
                for c in ("patient_id", "column") if c not in changes.columns]
    has = [c for c in ("date", "time") if c in changes.columns]
    if len(has) != 1:
        problems.append(Problem("give the change's day as one column, date or time (days "
                                f"from the index date); found {has or 'neither'}",
                                source="exposure_changes", fix=fix))
    if problems:
        raise InputError(problems)
    pid = changes["patient_id"].astype(str).to_numpy()
    known = pd.Index(index_date.index.astype(str))
    pos = known.get_indexer(pid)
    skip = (pos < 0) & pd.Index(pid).isin([str(e) for e in excluded])  # hashed
    unknown = (pos < 0) & ~skip
    if unknown.any():
        problems.append(Problem("change for a patient not in the cohort", "patient_id",
                                tuple(dict.fromkeys(pid[unknown].tolist())),
                                "exposure_changes", fix="correct the ids or drop these rows"))
    cols = changes["column"].astype(str)
    clash = sorted(set(cols) & (_RESERVED_EXPOSURE | set(last_piece)))
    if clash:
        problems.append(Problem(f"changes name the computed column(s) {clash}", "column",
                                source="exposure_changes",
                                fix="name the exposure in a column of its own, e.g. "
                                    "'crossover'"))
    when = np.full(len(changes), np.nan)
    ok = pos >= 0
    if has == ["date"]:
        dates = pd.to_datetime(changes["date"], errors="coerce").to_numpy("datetime64[ns]")
        start_dates = index_date.to_numpy("datetime64[ns]")
        when[ok] = (dates[ok] - start_dates[pos[ok]]) / np.timedelta64(1, "D")
    else:
        when = pd.to_numeric(changes["time"], errors="coerce").to_numpy(dtype=float)
    bad = ok & ~np.isfinite(when)
    if bad.any():
        problems.append(Problem(f"the change's {has[0]} is missing or not a "
                                f"{'date' if has == ['date'] else 'number'}", has[0],
                                tuple(changes.index[bad].tolist()), "exposure_changes"))
    if problems:
        raise InputError(problems)

    out = rows
    zero_ids: list = []
    if "start" not in out.columns:
        zero = out[time].to_numpy(dtype=float) <= 0
        zero_ids = list(dict.fromkeys(out.loc[zero, "patient_id"].tolist()))
        out = out.loc[~zero].reset_index(drop=True)
        out.insert(out.columns.get_loc(time), "start", 0.0)
        if zero.any():
            warnings.warn(f"exposure_changes: {int(zero.sum())} row(s) ending on day 0 "
                          "(an event or censoring on the index date) have no length to "
                          f"cut and are left out (patient_id {zero_ids[:20]}"
                          f"{' ...' if len(zero_ids) > 20 else ''}); "
                          "attrs['exposure_changes']", StatisticalWarning, stacklevel=4)
    value = changes["value"].to_numpy() if "value" in changes.columns else np.ones(len(pid))
    ch = pd.DataFrame({"patient_id": index_date.index.to_numpy()[np.maximum(pos, 0)],
                       time: when - landmark, "column": cols.to_numpy(), "value": value})
    present = pd.Index(ch["patient_id"].astype(str)).isin(out["patient_id"].astype(str))
    ch = ch[ok & present]
    if "value" not in changes.columns:  # tdc(time): 0 before the first change
        for c in pd.unique(ch["column"]):
            if c not in out.columns:
                out[c] = 0
    attrs = dict(out.attrs)
    out = split_at(out, ch, id="patient_id", time=time, event="event", start="start",
                   last_piece=last_piece)
    out.attrs.update(attrs)
    out.attrs["exposure_changes"] = {
        **out.attrs.pop("split_at"), "excluded_patients": int(skip.sum()),
        "without_rows": int((ok & ~present).sum()), "zero_length_rows": len(zero_ids),
        "zero_length_ids": zero_ids}
    return out
