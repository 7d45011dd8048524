"""The test and hazard-ratio lines annotating a survival figure.

A weighted figure must carry the weighted test and model: a mismatch is an error, not
a quietly wrong p-value.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .._format import format_ratio, p_phrase
from ..errors import InputError, Problem


def test_text(test, weighted_curves: bool, test_label: str | None) -> str:
    try:  # every test result has p_value and weighted (the result contract)
        p, test_weighted = test.p_value, bool(test.weighted)
    except AttributeError:
        raise InputError(Problem("the test has no p_value", column="test",
                                 fix="pass the result of mo.logrank")) from None
    if weighted_curves and not test_weighted:
        raise InputError(Problem(
            "the curves are weighted (IPTW) but the test is unweighted: an unweighted "
            "p-value must not annotate a weighted figure", column="test",
            fix="pass mo.logrank(..., weights=...) (the IPTW log-rank test) or test=None"))
    if test_weighted and not weighted_curves:
        raise InputError(Problem(
            "the test is weighted (IPTW) but the curves are not", column="test",
            fix="draw weighted curves (mo.kaplan_meier(..., weights=...)) or pass the "
                "unweighted log-rank test"))
    if test_label is None:
        test_label = "IPTW log-rank" if test_weighted else "Log-rank"
    return f"{test_label} {p_phrase(float(p))}"


def _hr_values(hr, hr_term: str | None, group: str | None) -> tuple[float, float, float, float]:
    """(hr, lower, upper, conf_level) from a Cox result, a mapping or a 3-tuple."""
    if isinstance(hr, (Mapping, pd.Series)):  # e.g. a row of mo.compare_arms(...).table
        return float(hr["hr"]), float(hr["lower"]), float(hr["upper"]), \
            float(hr.get("conf_level", 0.95))
    if isinstance(hr, (tuple, list)) and len(hr) == 3:
        return float(hr[0]), float(hr[1]), float(hr[2]), 0.95
    summary = getattr(hr, "summary", None)
    if not isinstance(summary, pd.DataFrame):
        raise InputError(Problem("hr must be a Cox result, a mapping with hr, lower, upper "
                                 "or a tuple (hr, lower, upper)", column="hr"))
    if hr_term is not None:
        if hr_term not in summary.index:
            raise InputError(Problem(f"term {hr_term!r} is not in the model "
                                     f"({list(summary.index)})", column="hr_term"))
        row = summary.loc[hr_term]
    elif len(summary) == 1:
        row = summary.iloc[0]
    else:
        match = [t for t in summary.index if group and str(t).startswith(str(group))]
        if len(match) != 1:
            raise InputError(Problem(
                f"the model has terms {list(summary.index)}: which one is the arm?",
                column="hr_term", fix="pass hr_term='<term>'"))
        row = summary.loc[match[0]]
    return float(row["hr"]), float(row["lower"]), float(row["upper"]), float(hr.conf_level)


def hr_text(hr, hr_term, group, weighted_curves: bool, hr_label: str | None) -> str:
    est, lo, hi, level = _hr_values(hr, hr_term, group)  # raises for a non-model
    if weighted_curves and not isinstance(hr, (Mapping, pd.Series, tuple, list)) \
            and not hr.weighted:
        raise InputError(Problem(
            "the curves are weighted (IPTW) but the Cox model is not", column="hr",
            fix="pass mo.cox(..., weights=...) fitted with the same weights"))
    if hr_label is None:
        hr_label = "HR (Firth)" if getattr(hr, "firth", False) else "HR"
    return (f"{hr_label} {format_ratio(est)} ({level:.0%} CI {format_ratio(lo)}\u2013"
            f"{format_ratio(hi)})")


