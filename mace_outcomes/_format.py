"""One way to print numbers for a reader: p-values, ratios and intervals.

Every table, figure and report uses these, so a p-value reads the same wherever it
appears (``<0.001``, else three decimals, as the study's journal prints them) and an
interval is always ``estimate (lower–upper)``.
"""

from __future__ import annotations

import math

#: The package's one month: 365/12 days, so that 12 months is exactly the 365-day horizon
#: registries censor at (with 365.25/12 a 12-month risk-table column under a 365-day
#: horizon would count nobody). Used for figures, follow-up summaries and simulation.
DAYS_PER_MONTH = 365.0 / 12.0

DASH = "\u2013"  # en dash between interval limits
INFINITY = "\u221e"


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def format_p(p: float | None, digits: int = 3) -> str:
    """A p-value as journals print it: ``<0.001``, else ``digits`` decimals.

    Missing or not computed gives an empty string (an empty table cell).

    >>> format_p(0.00042), format_p(0.0516), format_p(0.9951), format_p(float("nan"))
    ('<0.001', '0.052', '0.995', '')
    """
    if not _finite(p):
        return ""
    floor = 10.0 ** (-digits)
    if p < floor:
        return f"<{floor:.{digits}f}"
    return f"{p:.{digits}f}"


def p_phrase(p: float, digits: int = 3) -> str:
    """``p = 0.052`` or ``p < 0.001`` for running text and figure annotations."""
    text = format_p(p, digits)
    if not text:
        return "p not computed"
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def format_ratio(v: float) -> str:
    """A hazard ratio or limit with the precision it deserves: 0.59, 12.3, 616, <0.01.

    >>> [format_ratio(v) for v in (0.586, 12.34, 615.6, 0.004, float("inf"))]
    ['0.59', '12.3', '616', '<0.01', '∞']
    """
    if v is None or v != v:
        return "NA"
    if v == math.inf:
        return INFINITY
    if v >= 99.95:
        return f"{v:.0f}"
    if v >= 9.995:
        return f"{v:.1f}"
    if v >= 0.005:
        return f"{v:.2f}"
    return "<0.01"


def _number(v: float, digits: int | None) -> str:
    if v is None or v != v:
        return "NA"
    if math.isinf(v):
        return INFINITY if v > 0 else f"-{INFINITY}"
    return format_ratio(v) if digits is None else f"{v:.{digits}f}"


def format_ci(est: float, lower: float, upper: float, digits: int | None = 2) -> str:
    """``estimate (lower–upper)``; ``digits=None`` uses the ratio precision.

    An estimate that is not finite reads "not estimable"; an estimate without any
    finite limit (e.g. no events: no interval on the log-log scale) is printed alone.

    >>> format_ci(0.4876, 0.0512, 4.64), format_ci(0.5, 0.1, float("inf"), 1)
    ('0.49 (0.05–4.64)', '0.5 (0.1–∞)')
    """
    if not _finite(est):
        return "not estimable"
    if not (_finite(lower) or _finite(upper)) and not (
            upper == math.inf or lower == -math.inf):
        return _number(est, digits)
    return f"{_number(est, digits)} ({_number(lower, digits)}{DASH}{_number(upper, digits)})"
