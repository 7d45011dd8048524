"""Small-cell suppression of ``results.json``, the machine-readable copy of the report.

With ``[report] min_cell`` the writer suppresses the counts from 1 to ``min_cell - 1`` in
every table and figure; ``results.json`` is released with them, so its counts are
suppressed by the same rule (:func:`mace_outcomes.tables._suppress.suppress_small_cells`
on every table, and count fields such as ``n`` and ``events`` read ``"<min_cell"``).
The study settings are left as they are (they are no counts of patients).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables._suppress import _is_count_name, suppress_small_cells
from ._html import write_report
from .checklist import checklist_section

#: Section title of the report's statement of the suppression.
SUPPRESSION = "Small-cell suppression"
_SETTINGS = {"study", "directory", "arms", "sections", "warnings"}


def statement(min_cell: int) -> str:
    """What the report says about the suppression, results.json included."""
    return (f"Counts from 1 to {min_cell - 1} are shown as <{min_cell} in every table and "
            "figure of this report and in results.json alike (the count columns of its "
            "tables and its count fields: n, events, patients, ...; totals, percentages of "
            "a suppressed count and weighted pseudo-counts as in the tables). Other cells "
            "or totals may still allow a suppressed count to be recovered.")


def _suppress(value, min_cell: int, key: str | None, counter: list) -> object:
    if isinstance(value, pd.DataFrame):
        out = suppress_small_cells(value, min_cell)
        counter[0] += out.attrs.get("suppressed_cells", 0)
        return out
    if isinstance(value, dict):
        return {k: _suppress(v, min_cell, str(k), counter) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_suppress(v, min_cell, key, counter) for v in value]
    whole = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)))
    if whole and key is not None and _is_count_name(key) and 1 <= int(value) < min_cell:
        counter[0] += 1
        return f"<{min_cell}"
    return value


def suppress_results(results: dict, min_cell: int) -> dict:
    """A copy of ``results`` with its small counts suppressed, and under
    ``"small_cell_suppression"`` the rule and how many cells it replaced."""
    counter = [0]
    out = {k: v if k in _SETTINGS else _suppress(v, min_cell, k, counter)
           for k, v in results.items()}
    out["small_cell_suppression"] = {"min_cell": int(min_cell), "suppressed": counter[0],
                                     "statement": statement(min_cell)}
    return out


def write_released(writer, study, state: dict, results: dict) -> dict:
    """The report's last sections (the suppression statement, the checklist linking every
    section), report.html / report.docx, and the results as released: with ``[report]
    min_cell``, results.json is suppressed as the tables are. Both engines end so."""
    if writer.min_cell:
        writer.section(SUPPRESSION, writer.paragraph(statement(writer.min_cell)))
    writer.section(*checklist_section(writer, study, state))
    write_report(writer, results, state)
    return suppress_results(results, writer.min_cell) if writer.min_cell else results
