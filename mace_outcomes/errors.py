"""Errors and warnings shared by every room of the package.

One hierarchy: every problem with a user's data is an :class:`InputError` whose
message lists *every* problem found (file, column, row ids, reason), never just
the first. Statistical caveats (monotone likelihood, separation, extreme weights,
small expected counts) are :class:`StatisticalWarning` so they can be filtered or
escalated as a group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and why it is wrong."""

    reason: str
    column: str | None = None
    rows: tuple = ()
    source: str | None = None  # file name or table name ("patients", "df", ...)
    fix: str | None = None

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.column:
            where.append(f"column '{self.column}'")
        if self.rows:
            shown = ", ".join(map(str, self.rows[:20]))
            more = f" (+{len(self.rows) - 20} more)" if len(self.rows) > 20 else ""
            where.append(f"rows [{shown}]{more}")
        text = (": ".join([", ".join(where), self.reason]) if where else self.reason)
        return text + (f" -- {self.fix}" if self.fix else "")


class InputError(ValueError):
    """Bad input. ``.problems`` holds every :class:`Problem` found."""

    def __init__(self, problems: Problem | str | Iterable[Problem | str]):
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems: list[Problem] = [
            p if isinstance(p, Problem) else Problem(str(p)) for p in problems
        ]
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input:"
        super().__init__("\n".join([head] + [f"  - {p}" for p in self.problems]))


class ValidationError(InputError):
    """The records (patients / lesions / events) failed validation."""


class SchemaError(InputError):
    """A table lacks a required column or a column has the wrong type."""


class StatisticalWarning(UserWarning):
    """A statistical caveat: the result exists but needs care (see the message)."""


class MonotoneLikelihoodWarning(StatisticalWarning):
    """A Cox coefficient diverges (a group with no events): use ``firth=True``."""


class SeparationWarning(StatisticalWarning):
    """Complete or quasi-complete separation in a logistic (propensity) model."""


class ExtremeWeightWarning(StatisticalWarning):
    """Weights so large that a few subjects dominate the weighted analysis."""


class SmallCountWarning(StatisticalWarning):
    """Expected counts under 5: asymptotic tests are unreliable."""


class ClusteringWarning(StatisticalWarning):
    """Lesion-level (clustered) rows analysed as independent: give ``cluster=``."""
