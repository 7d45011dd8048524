"""Rows of a CSV / TSV file against its physical lines: merged rows are an error.

A stray double quote opens a quoted cell that runs over the line break into the next
row and closes at the next quote: two rows are read as one and a patient disappears
without a message. Quoted cells that span lines are legal CSV, so the check is:

* every record is mapped onto the non-blank physical lines it occupies (a record takes
  one line plus one per line break inside its cells), and the records must use up
  exactly the file's non-blank lines after the header;
* ids and dates never contain a line break, a double quote or the delimiter: such a
  cell is the tell-tale of rows merged by a quote opened in that column;
* a line break in any other cell is accepted unless the text after it looks like the
  start of a swallowed row (as many delimiters as the columns before the cell).

Messages name the physical line numbers (1 = the header line) so the quote can be found
in any text editor.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .schema import DATE_COLUMNS, ID_COLUMNS

_BREAK = r"\r\n|\r|\n"
# A line break inside a cell that starts a non-blank physical line (a blank line inside a
# quoted cell is skipped by the line count just as blank lines between rows are).
_NONBLANK_BREAK = r"(?:\r\n|\r|\n)(?![ \t]*(?:\r|\n))"
_DATE_NAMES = {c for cols in DATE_COLUMNS.values() for c in cols}


def nonblank_lines(data: bytes, sep: str) -> np.ndarray:
    """1-based numbers of the physical lines holding more than spaces (blank lines are
    skipped by the CSV reader). Line ends are ``\\n``, ``\\r\\n`` or a lone ``\\r``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    lf, cr = buf == 10, buf == 13
    starts = _line_starts(buf)
    content = (buf != 32) & ~cr & ~lf
    if sep != "\t":
        content &= buf != 9
    inside = starts < len(buf)  # a final line break is followed by no line
    blank = np.ones(len(starts), dtype=bool)
    if inside.any():
        # each segment runs from a line's start to the next line's start
        blank[inside] = ~np.logical_or.reduceat(content, starts[inside])
    return np.flatnonzero(~blank) + 1


def _line_starts(buf: np.ndarray) -> np.ndarray:
    lf, cr = buf == 10, buf == 13
    ends = np.flatnonzero(lf | (cr & ~np.append(lf[1:], False)))
    return np.concatenate([[0], ends + 1])


def _short_records(df, data, sep, first, last, multi) -> np.ndarray:
    """Multi-line records with fewer or more fields than the header.

    A legal quoted cell over several lines leaves the record's field count intact; a
    quote opened in one column and closed in another shifts the fields, and the reader
    pads the short record with missing values. Fields = delimiters on the record's
    lines, less those inside its cells, plus one.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = _line_starts(buf)
    inside = starts < len(buf)
    per_line = np.zeros(len(starts), dtype=np.int64)
    per_line[inside] = np.add.reduceat((buf == ord(sep)).astype(np.int64), starts[inside])
    csum = np.concatenate([[0], np.cumsum(per_line)])
    rows = np.flatnonzero(multi)
    on_lines = csum[last[rows]] - csum[first[rows] - 1]
    in_cells = np.zeros(len(rows), dtype=np.int64)
    for j in range(df.shape[1]):
        in_cells += _text_cells(df, j).iloc[rows].str.count(re.escape(sep)).to_numpy()
    bad = np.zeros(len(df), dtype=bool)
    bad[rows] = on_lines - in_cells + 1 != df.shape[1]
    return bad


def _text_cells(df: pd.DataFrame, col: int) -> pd.Series:
    values = df.iloc[:, col]
    if values.dtype != object:  # numbers and dates parsed by the reader hold no text
        return pd.Series("", index=df.index, dtype=object)
    return values.where(values.notna(), "").astype(str)


def _cells_holding(cells: pd.Series, chars: str) -> np.ndarray | None:
    """Which cells hold any of ``chars``; ``None`` when none does (a substring search of
    the joined column, so a clean file costs one pass in C)."""
    joined = "\x00".join(cells.tolist())
    if not any(c in joined for c in chars):
        return None
    return cells.str.contains(f"[{re.escape(chars)}]", regex=True).to_numpy()


def _span(first: np.ndarray, last: np.ndarray, rows: np.ndarray) -> str:
    shown = [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(first[rows[:20]],
                                                             last[rows[:20]], strict=True)]
    more = f" (+{len(rows) - 20} more)" if len(rows) > 20 else ""
    return ", ".join(shown) + more


def check_line_structure(df: pd.DataFrame, data: bytes, sep: str, source: str) -> None:
    """Raise :class:`InputError` if rows of a delimited file were merged or lost.

    Parameters
    ----------
    df : the table as parsed from ``data``.
    data : the file's bytes.
    sep : the delimiter (``","`` or ``"\\t"``).
    source : the file name, for messages.
    """
    lines = nonblank_lines(data, sep)
    data_lines = lines[1:]
    names = [str(c).strip() for c in df.columns]
    key_cols = [j for j, n in enumerate(names) if n in ID_COLUMNS or n in _DATE_NAMES
                or n.endswith("_date")]
    if len(df) == len(data_lines):
        # One line per record: no cell holds a line break.
        first = last = data_lines
        multi = np.zeros(len(df), dtype=bool)
        breaks = None
    else:
        breaks = np.column_stack([_text_cells(df, j).str.count(_NONBLANK_BREAK).to_numpy()
                                  for j in range(df.shape[1])]) if df.shape[1] else None
        used = 1 + (breaks.sum(axis=1) if breaks is not None else 0)
        if int(np.sum(used)) != len(data_lines):
            raise InputError(Problem(
                f"{len(data_lines)} non-blank lines after the header but {len(df)} rows "
                f"were read, and quoted cells spanning lines do not account for the "
                f"difference", source=source,
                fix="look for a stray double quote or an unbalanced quoted cell"))
        end = np.cumsum(used)
        first, last = data_lines[end - used], data_lines[end - 1]
        multi = used > 1
    problems = []
    if b'"' not in data:  # without quotes no cell can hold a delimiter or a line break
        key_cols = []
    for j in key_cols:
        odd = _cells_holding(_text_cells(df, j), f'"{sep}\r\n')
        if odd is not None and odd.any():
            rows = np.flatnonzero(odd)
            problems.append(Problem(
                f"rows merged: a cell holds a line break, a double quote or the delimiter "
                f"(file lines {_span(first, last, rows)}); a quoted cell opened by a stray "
                f"double quote runs into the next row, so rows are lost", names[j], (),
                source, "remove the stray double quote on these lines"))
    if breaks is not None and multi.any():
        short = _short_records(df, data, sep, first, last, multi)
        if short.any():
            rows = np.flatnonzero(short)
            problems.append(Problem(
                f"rows merged: the record on file lines {_span(first, last, rows)} does "
                f"not have the header's {df.shape[1]} fields: a quoted cell runs over a "
                f"line break into the next row", None, (), source,
                "remove the stray double quote on these lines"))
        problems += _swallowed_rows(df, breaks, multi, key_cols, sep, first, last, source,
                                    names)
    if problems:
        raise InputError(problems)


def _swallowed_rows(df, breaks, multi, key_cols, sep, first, last, source, names):
    """Multi-line cells whose continuation looks like the head of the next row."""
    problems = []
    for j in range(df.shape[1]):
        has = multi & (breaks[:, j] > 0)
        if j in key_cols or j == 0 or not has.any():
            continue
        pieces = _text_cells(df, j)[has].str.split(_BREAK, regex=True).explode()
        after_break = pieces.groupby(level=0).cumcount().to_numpy() > 0
        n_sep = pieces.str.count(re.escape(sep)).to_numpy()
        looks = pd.Series(after_break & (n_sep >= j), index=pieces.index)
        hit = looks.groupby(level=0).any()
        if hit.any():
            rows = df.index.get_indexer(hit.index[hit.to_numpy()])
            problems.append(Problem(
                f"rows merged: a quoted cell spans file lines {_span(first, last, rows)} "
                f"and holds what looks like the start of another row", names[j], (),
                source, "remove the stray double quote on these lines"))
    return problems
