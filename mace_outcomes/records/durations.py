"""Durations written as a reader writes them: ``365``, ``"365d"``, ``"12m"``, ``"1y"``.

One parser for the horizon of :func:`~mace_outcomes.records.time_to_event`, the study
file and the command line. A month is the package's one month (365/12 days, so 12 months
is exactly the 365-day horizon registries censor at) and a year is 365 days.
"""

from __future__ import annotations

import math
import re

from .._format import DAYS_PER_MONTH
from ..errors import InputError, Problem

#: days per unit letter (d days, w weeks, m months, y years)
UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": DAYS_PER_MONTH, "y": 365.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([dwmy])?\s*$", re.IGNORECASE)


def duration_reason(value) -> str | None:
    """Why ``value`` is not a positive duration (``None`` when it is one)."""
    if isinstance(value, bool):
        return "must be a number of days or a duration such as \"365d\", \"12m\", \"1y\""
    if isinstance(value, (int, float)):
        return None if math.isfinite(value) and value > 0 else "must be positive"
    if isinstance(value, str) and _PATTERN.match(value) and float(
            _PATTERN.match(value).group(1)) > 0:
        return None
    return "must be a number of days or a duration such as \"365d\", \"12m\", \"1y\""


def parse_duration(value, name: str = "horizon", source: str | None = None) -> float:
    """``value`` in days: a number (days) or text such as ``"365d"``, ``"12m"``, ``"1y"``.

    >>> parse_duration(365), parse_duration("12m"), parse_duration("1y"), parse_duration("2w")
    (365.0, 365.0, 365.0, 14.0)

    Raises
    ------
    InputError
        text that is not a positive number with an optional unit d, w, m or y.
    """
    reason = duration_reason(value)
    if reason is not None:
        raise InputError(Problem(f"{name} {reason} (got {value!r})", column=name,
                                 source=source, fix=f"e.g. {name} = 365 or \"1y\" "
                                 "(d days, w weeks, m months = 365/12 days, y years = 365 days)"))
    if not isinstance(value, str):
        return float(value)
    number, unit = _PATTERN.match(value).groups()
    return float(number) * UNIT_DAYS[(unit or "d").lower()]
