"""``missing="complete_case"`` on a Dask frame: the rows left out, counted as in memory.

One pass lists the rows with a missing value in a used column (id and variable, as
:func:`mace_outcomes._frames.complete_cases` lists them, in the frame's row order) and
counts them per variable; the model then reads the complete rows only
(``ddf.dropna(subset=used)``, lazily, partition by partition).
"""

from __future__ import annotations

import pandas as pd

from .._frames import complete_case_note, dropped_rows
from ._reduce import Part, tree_sum

__all__ = ["complete_cases"]


def _missing_part(frame: pd.DataFrame, used: list) -> Part:
    na = frame[used].isna().to_numpy()
    return Part(len(frame), payload=(dropped_rows(frame, na, used), na.sum(axis=0),
                                     int(na.any(axis=1).sum())))


def _add(a, b):
    return pd.concat([a[0], b[0]], ignore_index=True), a[1] + b[1], a[2] + b[2]


def complete_cases(ddf, used: list) -> tuple[object, pd.DataFrame, list]:
    """The complete rows of ``ddf`` (lazy), the rows left out (id, variable) and the
    in-memory note counting them per variable (none when nothing is missing)."""
    part = tree_sum(ddf[list(dict.fromkeys([*used, *[c for c in ("lesion_id", "patient_id")
                                                     if c in ddf.columns]]))],
                    _missing_part, _add, used)
    empty = pd.DataFrame({"id": [], "variable": []})
    if part.payload is None or part.payload[2] == 0:
        return ddf, empty, []
    dropped, per, n_rows = part.payload
    return ddf.dropna(subset=used), dropped, [complete_case_note(n_rows, part.n, used, per)]
