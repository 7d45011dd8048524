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

The work is one sort and one ``merge_asof`` per changed column: no loop over subjects.
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
           start: str) -> None:
    """Every problem with the two frames at once."""
    problems = []
    for frame, src, cols in ((df, "df", [id, time, event]),
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
    if start in df.columns:
        problems.append(Problem(f"df already has a {start!r} column: split_at takes one "
                                "row per subject followed from 0", column=start, source="df"))
    dup = df[id].duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(Problem("subject id appears on more than one row", column=id,
                                rows=tuple(df[id][dup].unique().tolist()), source="df",
                                fix="give one baseline row per subject"))
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
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
    reserved = {id, time, event, start}
    clash = sorted(set(changes["column"].astype(str)) & reserved)
    if clash:
        problems.append(Problem(f"changes name the follow-up column(s) {clash}",
                                column="column", source="changes",
                                fix="only covariates can change over follow-up"))
    if problems:
        raise InputError(problems)


def split_at(df: pd.DataFrame, changes: pd.DataFrame, id: str = "patient_id",
             time: str = "time", event: str = "event", *,
             start: str = "start") -> pd.DataFrame:
    """Cut each subject's follow-up where a covariate changes: (start, stop] rows.

    Parameters
    ----------
    df : one row per subject: ``id``, follow-up ``time`` (> 0), ``event`` (0/1) and the
        covariates' starting values.
    changes : one row per change: ``id``, ``time`` (the date, same scale as ``df``),
        ``column`` (the covariate's name) and ``value`` (its value after that date). A
        column not in ``df`` is missing (NaN) before its first change.
    id, time, event : column names, shared by both frames (``id`` and ``time``).
    start : name of the new entry-time column; ``time`` becomes each piece's stop.

    Returns
    -------
    DataFrame
        The columns of ``df`` plus ``start`` and the changed columns, one row per piece,
        sorted by subject (in ``df`` order) and time; ``event`` is 1 only on the last
        piece of a subject with an event. Fit it with ``mo.cox(..., start="start")`` or
        ``mo.kaplan_meier(..., start="start")``. ``attrs["split_at"]`` counts the
        changes used, set at baseline, and ignored (dated at or after the end of follow-up).

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
    _check(df, changes, id, time, event, start)
    base = df.reset_index(drop=True)
    pos = pd.Index(base[id]).get_indexer(changes[id])  # subject's row in df
    ch = pd.DataFrame({"_row": pos, "_at": changes[time].to_numpy(dtype=float),
                       "_col": changes["column"].astype(str).to_numpy(),
                       "_val": changes["value"].to_numpy(), "_order": np.arange(len(pos))})
    end = base[time].to_numpy(dtype=float)
    late = ch["_at"].to_numpy() >= end[ch["_row"].to_numpy()]
    early = ch["_at"].to_numpy() <= 0
    ch = ch[~late]
    cuts = ch.loc[~early[~late], ["_row", "_at"]].drop_duplicates()

    # Pieces: every cut and every subject's end, sorted by (subject, stop).
    row = np.concatenate([cuts["_row"].to_numpy(), np.arange(len(base))])
    stop = np.concatenate([cuts["_at"].to_numpy(), end])
    order = np.lexsort((stop, row))
    row, stop = row[order], stop[order]
    first = np.r_[True, row[1:] != row[:-1]]
    begin = np.where(first, 0.0, np.r_[0.0, stop[:-1]])
    last = np.r_[row[1:] != row[:-1], True]

    out = base.take(row).reset_index(drop=True)
    out[time] = stop
    out[event] = np.where(last, base[event].to_numpy()[row], 0).astype(
        base[event].dtype)
    out.insert(out.columns.get_loc(time), start, begin)
    pieces = pd.DataFrame({"_row": row, "_start": begin, "_piece": np.arange(row.size)})
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
