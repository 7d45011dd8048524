"""Text cells made safe for spreadsheets: no cell of an export is read as a formula.

A spreadsheet reads a CSV/TSV cell or an Excel string beginning with ``=``, ``+``, ``-``
or ``@`` (and, on import, a tab or carriage return before one) as a formula, so a
patient id like ``=HYPERLINK("http://x","click")`` in the data becomes a live link or a
command in the reader's spreadsheet (OWASP, "CSV Injection"). Every writer of CSV, TSV
and Excel passes its frame through :func:`neutralise_formulas` first.
"""

from __future__ import annotations

import pandas as pd

#: First characters a spreadsheet may read as the start of a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a plain signed decimal ("-1.5", "+2", "-3e-4") is read as that number, never as a formula
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _escape(values: pd.Series) -> pd.Series:
    """Prefix a single quote to the text values that could start a formula."""
    try:  # the .str methods give NA for the non-text cells of a mixed column
        risky = (values.str.startswith(FORMULA_STARTS)
                 & ~values.str.fullmatch(_PLAIN_NUMBER).astype("boolean"))
    except AttributeError:  # no text at all
        return values
    risky = risky.astype("boolean").fillna(False).to_numpy(dtype=bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + values[risky].astype(object)
    return out


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula.

    A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading single quote (OWASP's recommendation), which spreadsheets show as text. Numbers
    stay numbers (a negative float is untouched), and so does a text cell that is just a
    signed decimal such as ``"-1.5"``: it is read as that number and can carry no formula.

    Examples
    --------
    >>> import pandas as pd
    >>> out = neutralise_formulas(pd.DataFrame({"id": ["=1+2", "@SUM(A1)", "A", "-1.5"],
    ...                                         "x": [-1.0, 2.0, 3.0, 4.0]}))
    >>> out["id"].tolist(), out["x"].tolist()
    (["'=1+2", "'@SUM(A1)", 'A', '-1.5'], [-1.0, 2.0, 3.0, 4.0])
    """
    out = frame.copy()
    for i in range(out.shape[1]):  # a loop over columns, each escaped as a whole
        col = out.iloc[:, i]
        text = col.astype(object) if isinstance(col.dtype, pd.CategoricalDtype) else col
        if text.dtype == object or isinstance(text.dtype, pd.StringDtype):
            escaped = _escape(text)
            if escaped is not text:  # categories stay categories when nothing changed
                out.isetitem(i, escaped)
    names = pd.Series(list(out.columns), dtype=object)
    out.columns = pd.Index(_escape(names).tolist())
    return out
