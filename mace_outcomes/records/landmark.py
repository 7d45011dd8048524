"""Landmark analysis: follow those still event-free and under follow-up at a set day.

Judging early and late events separately (0-30 days, then 30 days-1 year, as PCI papers
do) needs two data sets from one: the first censored at the landmark ``L``, the second
holding only the rows still at risk after ``L`` (``time > L``: no event and not censored
by then), with time counted from ``L``. :func:`~mace_outcomes.time_to_event` does the
same from registry records (``landmark=``); this works on any tidy frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._frames import row_ids
from ..errors import InputError, Problem

__all__ = ["landmark", "censor_at"]


def _arrays(df: pd.DataFrame, at: float, time: str, event: str) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    problems = []
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a DataFrame, not {type(df).__name__}"))
    missing = [c for c in (time, event) if c not in df.columns]
    if missing:
        raise InputError(Problem(f"column(s) {missing} not found", source="df",
                                 fix="name the follow-up columns with time= and event="))
    if not (np.isscalar(at) and np.isfinite(float(at)) and float(at) > 0):
        problems.append(Problem(f"the landmark must be a positive time, not {at!r}",
                                column="at"))
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    bad = ~(t >= 0)
    if bad.any():
        problems.append(Problem("time must be a number, 0 or more", column=time,
                                rows=row_ids(df, bad), source="df"))
    bad = ~df[event].isin([0, 1]).to_numpy()
    if bad.any():
        problems.append(Problem("event must be 0 or 1", column=event,
                                rows=row_ids(df, bad), source="df"))
    if problems:
        raise InputError(problems)
    return t, df[event].to_numpy(dtype=np.int64)


def landmark(df: pd.DataFrame, at: float, time: str = "time",
             event: str = "event") -> pd.DataFrame:
    """The rows still event-free and followed beyond day ``at``, time counted from it.

    Parameters
    ----------
    df : one row per subject (e.g. from :func:`~mace_outcomes.time_to_event`).
    at : the landmark (same unit as ``time``, > 0).
    time, event : follow-up columns.

    Returns
    -------
    DataFrame
        The rows with ``time > at``, every column kept, ``time`` replaced by
        ``time - at``; the original index labels are kept. ``attrs`` gains
        ``landmark`` (adding to one already there, so landmarks compose),
        ``excluded_at_landmark`` (rows left out), ``excluded_event`` (an event on or
        before ``at``), ``excluded_censored`` (censored on or before ``at``) and a line
        in ``notes``.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [10, 30, 45, 365], "event": [1, 0, 1, 0]})
    >>> mo.landmark(df, at=30)
        time  event
    2   15.0      1
    3  335.0      0

    References
    ----------
    Anderson JR, Cain KC, Gelber RD (1983). Analysis of survival by tumor response.
    J Clin Oncol 1:710-719. Dafni U (2011). Landmark analysis at the 25-year landmark
    point. Circ Cardiovasc Qual Outcomes 4:363-371.
    """
    t, e = _arrays(df, at, time, event)
    at = float(at)
    keep = t > at  # at risk just after the landmark
    out = df.loc[keep].copy()
    out[time] = out[time] - at
    gone_event = int((~keep & (e == 1)).sum())
    gone_censored = int((~keep & (e == 0)).sum())
    out.attrs = dict(df.attrs)
    out.attrs["landmark"] = float(df.attrs.get("landmark", 0) or 0) + at
    out.attrs.update(excluded_at_landmark=gone_event + gone_censored,
                     excluded_event=gone_event, excluded_censored=gone_censored)
    out.attrs["notes"] = list(df.attrs.get("notes", [])) + [
        f"landmark at {at:g}: {gone_event + gone_censored} of {len(df)} rows left out "
        f"({gone_event} with an event, {gone_censored} censored on or before it); time "
        "counted from the landmark"]
    return out


def censor_at(df: pd.DataFrame, at: float, time: str = "time",
              event: str = "event") -> pd.DataFrame:
    """Administrative censoring at ``at``: the first window of a landmark analysis.

    ``time`` becomes ``min(time, at)``; an event after ``at`` becomes a censoring.
    """
    t, e = _arrays(df, at, time, event)
    out = df.copy()
    out[time] = np.minimum(t, float(at))
    out[event] = np.where(t <= float(at), e, 0).astype(df[event].dtype)
    return out
