"""Readable text and HTML views shared by all result objects."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Sequence

import pandas as pd


def frame_text(title: str, frame: pd.DataFrame, footer: str = "", digits: int = 4) -> str:
    """Render a titled table the way R's print methods do: title, table, notes."""
    with pd.option_context("display.width", 120, "display.max_columns", 30,
                           "display.max_rows", 40):
        body = frame.to_string(float_format=lambda v: f"{v:.{digits}g}")
    return "\n".join(x for x in (title, body, footer) if x)


def frame_html(title: str, frame: pd.DataFrame, footer: str | Sequence[str] = "",
               digits: int = 4) -> str:
    """The same as :func:`frame_text` for notebooks. ``title`` and ``footer`` are plain text
    (a footer's lines, or a string with newlines): everything is escaped here, once, so a
    hostile label in a note or title cannot become markup."""
    table = frame.to_html(float_format=lambda v: f"{v:.{digits}g}", border=0)  # escapes cells
    lines = footer.split("\n") if isinstance(footer, str) else [str(n) for n in footer]
    note = "<br>".join(html.escape(n) for n in lines if n)
    note = f"<p><small>{note}</small></p>" if note else ""
    return f"<div><strong>{html.escape(title)}</strong>{table}{note}</div>"


def _numeric_like(column: pd.Series) -> bool:
    """Whether a column of cells reads as numbers (right-aligned) rather than words."""
    cells = [str(v).strip() for v in column if str(v).strip()]
    if not cells:
        return True
    numeric = sum(c[0].isdigit() or c[0] in "<>-." for c in cells)
    return numeric >= len(cells) / 2


# "<" opens raw HTML in Markdown only before a letter, "/", "!" or "?" (CommonMark 6.6), so
# "<0.001" and "<5" stay readable while "<script>" or "<img onerror=...>" cannot land as HTML
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def md_text(v) -> str:
    """A user string made inert in Markdown: no raw HTML, no table breaks."""
    return _TAG_START.sub("&lt;", str(v)).replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pd.DataFrame, title: str = "", notes: Sequence[str] = ()) -> str:
    """A GitHub-flavoured pipe table, title in bold above, notes below; every text inert
    (:func:`md_text`)."""
    cols = [str(c) for c in frame.columns]
    cell = md_text

    lines = []
    if title:
        lines += [f"**{md_text(title)}**", ""]
    lines.append("| " + " | ".join(cell(c) for c in cols) + " |")
    align = [":---" if i == 0 or not _numeric_like(frame.iloc[:, i]) else "---:"
             for i in range(len(cols))]
    lines.append("| " + " | ".join(align) + " |")
    for row in frame.itertuples(index=False):
        # leading spaces of level rows would be lost in Markdown: use non-breaking ones
        vals = [cell(v) for v in row]
        if vals and vals[0].startswith(" "):
            stripped = vals[0].lstrip(" ")
            vals[0] = "&nbsp;&nbsp;&nbsp;" + stripped
        lines.append("| " + " | ".join(vals) + " |")
    if notes:
        lines.append("")
        lines += [md_text(n) for n in notes]
    return "\n".join(lines) + "\n"


def _rounded(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Float columns as text with ``digits`` significant digits (what a reader needs)."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].map(lambda v: f"{v:.{digits}g}")
    return out


def deprecated_alias(new: str, old: str) -> property:
    """A read-only ``old`` name for the attribute ``new`` that warns ``FutureWarning``.

    The way a public name is renamed without breaking callers (scikit-learn's deprecation
    cycle): the old name keeps working, and says which name to use instead.
    """
    def get(self):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated; use {new}; it will be "
                      "removed in a future version", FutureWarning, stacklevel=2)
        return getattr(self, new)

    return property(get, doc=f"Deprecated alias of ``{new}``.")


class ResultMixin:
    """The views every result object shares (STYLE.md, "A kernel and its result").

    A result defines ``table`` (a tidy DataFrame, one row per estimate, group or term),
    ``notes`` (list of caveats: warnings that happened, methods switched) and a
    ``__repr__`` whose first line is its title; ``weighted``, ``time_unit`` and
    ``p_value`` where they apply. This mixin adds :meth:`to_markdown` and, unless the
    result draws its own, :meth:`_repr_html_`.
    """

    def _result_title(self) -> str:
        return repr(self).split("\n", 1)[0]

    def to_markdown(self) -> str:
        """The tidy ``table`` as a Markdown pipe table: title in bold, notes below."""
        return to_markdown(_rounded(self.table), self._result_title(),  # type: ignore[attr-defined]
                           list(self.notes))  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        return frame_html(self._result_title(), self.table, list(self.notes))  # type: ignore
