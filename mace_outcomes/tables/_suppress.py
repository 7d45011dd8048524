"""Small-cell suppression of the package's tables before they are released.

Data-release rules of registries and ethics boards (e.g. "no cell counts from 1 to 4")
forbid publishing small counts, because a reader who knows a few patients could
recognise them. :func:`suppress_small_cells` rewrites every count cell from 1 to
``min_cell - 1`` as ``"<min_cell"``; a zero is shown (it names nobody). It knows the
formats the tables room writes:

* integer count columns named as counts: ``n``, ``events``, ``patients``, ``lesions``,
  ``n_risk``, ``n_event``, ``n_missing_<arm>``, ``cum_events``, ``complete_n``, ...; the
  share column beside a suppressed count (``pct_missing`` beside ``n_missing``,
  ``complete_share`` beside ``complete_n``) would give it back, so it reads
  ``"suppressed"`` there;
* ``"n (%)"`` cells of Table 1 (``"3 (3.0%)"`` -> ``"<5"``: the percent would give the
  count back), the ``"events/N (%)"`` cells of the outcome tables (``"3/47 (6.4%)"`` ->
  ``"<5/47"``) and ``"events/N"`` cells (``"3/47"`` -> ``"<5/47"``);
* bare integer cells of a Table 1 ``Missing`` line, or of a text column holding
  ``n (%)`` cells;
* arm headers ``"OCT (n = 3)"`` -> ``"OCT (n = <5)"``.

Means, medians, SDs, hazard ratios, p-values, Kaplan-Meier percentages and weighted
(non-integer) pseudo-counts are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, Problem

#: what a share cell next to a suppressed count says instead of its value.
SUPPRESSED = "suppressed"

# integer columns with these names hold counts of subjects or events
_COUNT_NAME = re.compile(
    r"(n|n_.+|.+_n|events?|events?_.+|.+_events?|patients|lesions|subjects|count|.+_count"
    r"|cum_.+)", re.IGNORECASE)
# ... unless a word of the name says it is a share, a rate or an effective size
_NOT_COUNT = {"ess", "pct", "percent", "share", "rate", "prop", "proportion", "mean",
              "median", "sd", "se", "std", "ratio", "per", "diff"}
_N_PCT = r"(?P<n>\d+) \((?P<pct>\d+(?:\.\d*)?) ?%\)"
_FRACTION = r"(?P<e>\d+)/(?P<d>\d+)(?: \((?P<fpct>\d+(?:\.\d*)?) ?%\))?"
_BARE = r"(?P<bare>\d+)"
_CELL = re.compile(rf"^\s*(?:{_N_PCT}|{_FRACTION}|{_BARE})\s*$")
_HEADER_N = re.compile(r"\(n = (\d[\d,]*)\)")


def check_min_cell(min_cell) -> int:
    """``min_cell`` as an int >= 0, or an InputError saying what it must be."""
    if isinstance(min_cell, (bool, np.bool_)) or not isinstance(min_cell, (int, np.integer)) \
            or min_cell < 0:
        raise InputError(Problem(f"min_cell must be a whole number >= 0, not {min_cell!r}",
                                 column="min_cell",
                                 fix="give e.g. min_cell=5 (counts 1-4 shown as <5), or 0 "
                                     "to show every count"))
    return int(min_cell)


def suppression_note(min_cell: int) -> str:
    """The sentence printed under a table whose small counts were suppressed."""
    return (f"Counts from 1 to {min_cell - 1} are shown as <{min_cell} (small-cell "
            "suppression), with the percentages that would reveal them; totals and other "
            "cells may still allow a suppressed count to be recovered.")


def suppress_small_cells(table: pd.DataFrame, min_cell: int,
                         count_columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``table`` with every count from 1 to ``min_cell - 1`` shown as ``"<min_cell"``.

    Parameters
    ----------
    table : DataFrame
        A table of the package (tidy counts such as an attrition or a risk table, or a
        formatted Table 1 / outcome table of strings); see the module notes for the
        formats understood.
    min_cell : int
        Smallest count that may be shown; 0 (or 1) changes nothing. Zero counts are
        always shown.
    count_columns : sequence of str, optional
        The columns holding counts (numbers, ``"n (%)"``, ``"events/N"`` or bare integer
        strings). Default: integer columns named as counts, and the count-formatted
        cells of any text column.

    Returns
    -------
    DataFrame
        Same index and columns (arm headers ``"(n = 3)"`` rewritten too); a changed
        column becomes text. ``.attrs["suppressed_cells"]`` counts the cells replaced.

    Notes
    -----
    There is no complementary suppression: a suppressed cell may still be recoverable
    from totals, from the other cells of its row or column (e.g. an arm's N minus the
    other levels of a two-level variable), or from another table of the same report.
    Check those before release, or suppress further cells by hand.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"Variable": ["Diabetes, n (%)"], "OCT (n = 32)": ["3 (9.4%)"],
    ...                   "IVUS (n = 47)": ["12 (25.5%)"]})
    >>> suppress_small_cells(t, 5).iloc[0].tolist()
    ['Diabetes, n (%)', '<5', '12 (25.5%)']
    """
    min_cell = check_min_cell(min_cell)
    if count_columns is not None:
        count_columns = [count_columns] if isinstance(count_columns, str) else list(count_columns)
        unknown = [c for c in count_columns if c not in table.columns]
        if unknown:
            raise InputError(Problem(f"count_columns {unknown} are not columns of the table",
                                     column=str(unknown[0]),
                                     fix=f"choose among {[str(c) for c in table.columns]}"))
    out = table.copy()
    out.attrs["suppressed_cells"] = 0
    if min_cell <= 1:
        return out
    label = f"<{min_cell}"
    missing_line = _missing_rows(table)
    done = 0
    for pos, col in enumerate(table.columns):
        values = table.iloc[:, pos]
        explicit = count_columns is not None and col in count_columns
        if count_columns is not None and not explicit:
            continue
        if _is_number_column(values):
            if explicit or _is_count_name(col):
                small = _small_numbers(values, min_cell)
                if small.any():
                    done += _put(out, pos, small, label)
                    done += _hide_shares(out, table, col, small)
            continue
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            new, changed = _text_cells(values, min_cell, label, missing_line,
                                       explicit or _is_count_name(col))
            if changed.any():
                out.iloc[:, pos] = new.to_numpy(dtype=object)  # column already object
                done += int(changed.sum())
    out.columns = [_header(c, min_cell, label) for c in table.columns]
    out.attrs["suppressed_cells"] = done
    return out


# ------------------------------------------------------------------------------ helpers
def _is_count_name(name) -> bool:
    text = str(name)
    if not _COUNT_NAME.fullmatch(text):
        return False
    return not (_NOT_COUNT & set(re.split(r"[_\W]+", text.lower())))


def _is_number_column(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def _small_numbers(values: pd.Series, min_cell: int) -> np.ndarray:
    """Cells holding a whole count from 1 to min_cell - 1 (a weighted, non-integer value
    is a pseudo-count and is kept)."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(v) & (v == np.round(v))
        return whole & (v >= 1) & (v < min_cell)


def _put(out: pd.DataFrame, pos: int, mask: np.ndarray, text: str) -> int:
    col = out.iloc[:, pos].astype(object).to_numpy(copy=True)
    col[mask] = text
    out.isetitem(pos, col)
    return int(mask.sum())


def _hide_shares(out: pd.DataFrame, table: pd.DataFrame, col, small: np.ndarray) -> int:
    """Blank the share columns that would give a suppressed count back."""
    name = str(col)
    partners = []
    if name.lower().startswith("n_"):
        partners += ["pct_" + name[2:], name[2:] + "_pct", "percent_" + name[2:]]
    if name.lower().endswith("_n"):
        partners += [name[:-2] + s for s in ("_share", "_pct", "_percent")]
    done = 0
    names = [str(c) for c in table.columns]
    for p in partners:
        if p in names:
            pos = names.index(p)
            mask = small & table.iloc[:, pos].notna().to_numpy()
            done += _put(out, pos, mask, SUPPRESSED)
    return done


def _missing_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows that are a Table 1 'Missing' line (first column ``Missing``, indented)."""
    if table.shape[1] == 0:
        return np.zeros(len(table), dtype=bool)
    first = table.iloc[:, 0].astype(str).str.strip().str.lower()
    return (first == "missing").to_numpy()


def _text_cells(values: pd.Series, min_cell: int, label: str, missing_line: np.ndarray,
                counts: bool) -> tuple[pd.Series, np.ndarray]:
    """The column with its small counts replaced, and which cells changed."""
    text = values.where(values.notna(), "").astype(str)
    parts = text.str.extract(_CELL)

    def small(col: str) -> np.ndarray:
        v = pd.to_numeric(parts[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return np.isfinite(v) & (v >= 1) & (v < min_cell)

    n_pct = small("n")
    num, den = small("e"), small("d")
    is_fraction = parts["e"].notna().to_numpy()
    has_counts = bool(parts["n"].notna().any() or is_fraction.any())
    # a bare integer is a count in a Missing line, in a column of n (%) cells, or in a
    # column named (by the caller, or by its name) as counts
    bare_counts = missing_line | has_counts | counts
    bare = small("bare") & bare_counts
    out = text.copy()
    out[n_pct | bare] = label
    frac = is_fraction & (num | den)
    if frac.any():
        e = np.where(num, label, parts["e"].fillna("").to_numpy(dtype=object))
        d = np.where(den, label, parts["d"].fillna("").to_numpy(dtype=object))
        out[frac] = pd.Series(e, index=text.index)[frac] + "/" + pd.Series(
            d, index=text.index)[frac]
    changed = n_pct | bare | frac
    result = values.astype(object).copy()
    result[changed] = out[changed]
    return result, changed


def _header(name, min_cell: int, label: str):
    """``"OCT (n = 3)"`` -> ``"OCT (n = <5)"``; other column names unchanged."""
    if not isinstance(name, str):
        return name

    def repl(m: re.Match) -> str:
        n = int(m.group(1).replace(",", ""))
        return f"(n = {label})" if 1 <= n < min_cell else m.group(0)

    return _HEADER_N.sub(repl, name)
