"""Write a formatted table (a DataFrame of strings) to Markdown, LaTeX, HTML, CSV or Word.

Shared by every table of the tables room. Each writer takes the display frame, a title
and the footnotes (the test rules), so the rule used is always printed under the table.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._display import ResultMixin, to_markdown
from .._safe import neutralise_formulas

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
    "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
    "±": r"$\pm$", "<": r"$<$", ">": r"$>$", "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$",
    "²": r"$^2$", "–": "--",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters (and the few Unicode signs tables use)."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(frame: pd.DataFrame, title: str = "", notes: Sequence[str] = (),
             label: str | None = None) -> str:
    """A ``booktabs`` table in a ``table`` float; notes in a footnotesize paragraph."""
    cols = list(frame.columns)
    spec = "l" + "r" * (len(cols) - 1)
    out = [r"\begin{table}[htbp]", r"\centering"]
    if title:
        out.append(r"\caption{" + latex_escape(title) + "}")
    if label:
        out.append(r"\label{" + label + "}")
    out += [r"\begin{tabular}{" + spec + "}", r"\toprule",
            " & ".join(latex_escape(c) for c in cols) + r" \\", r"\midrule"]
    for row in frame.itertuples(index=False):
        vals = [latex_escape(v) for v in row]
        if vals and str(row[0]).startswith(" "):
            vals[0] = r"\quad " + latex_escape(str(row[0]).lstrip(" "))
        out.append(" & ".join(vals) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if notes:
        out.append(r"\par\smallskip{\footnotesize " +
                   r" \\ ".join(latex_escape(n) for n in notes) + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def to_html(frame: pd.DataFrame, title: str = "", notes: Sequence[str] = ()) -> str:
    """A standalone ``<table>`` with a caption and the notes in a ``<tfoot>``."""
    cols = list(frame.columns)
    parts = ['<table class="mace-outcomes-table">']
    if title:
        parts.append(f"<caption>{html.escape(title)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
                 + "</tr></thead>")
    parts.append("<tbody>")
    for row in frame.itertuples(index=False):
        cells = []
        for i, v in enumerate(row):
            text = str(v)
            if i == 0 and text.startswith(" "):
                cells.append('<td style="padding-left:1.5em">'
                             f"{html.escape(text.lstrip(' '))}</td>")
            else:
                align = "left" if i == 0 else "right"
                cells.append(f'<td style="text-align:{align}">{html.escape(text)}</td>')
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody>")
    if notes:
        foot = "<br>".join(html.escape(str(n)) for n in notes)
        parts.append(f'<tfoot><tr><td colspan="{len(cols)}"><small>{foot}</small></td></tr>'
                     "</tfoot>")
    parts.append("</table>")
    return "\n".join(parts) + "\n"


def to_docx(frame: pd.DataFrame, path: str | Path, title: str = "",
            notes: Sequence[str] = ()) -> Path:
    """Write a Word document holding the table (needs the optional ``python-docx``)."""
    try:
        import docx  # noqa: F401  (python-docx)
        from docx import Document
        from docx.shared import Pt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Writing .docx needs the optional package python-docx: "
            "pip install 'mace_outcomes[docx]' (or pip install python-docx)."
        ) from exc
    doc = Document()
    if title:
        doc.add_paragraph().add_run(title).bold = True
    cols = [str(c) for c in frame.columns]
    table = doc.add_table(rows=1, cols=len(cols))
    for cell, name in zip(table.rows[0].cells, cols, strict=True):
        cell.text = name
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in frame.itertuples(index=False):
        cells = table.add_row().cells
        for cell, v in zip(cells, row, strict=True):
            cell.text = str(v)
    for n in notes:
        para = doc.add_paragraph()
        run = para.add_run(str(n))
        run.font.size = Pt(8)
    path = Path(path)
    doc.save(str(path))
    return path


def to_csv(frame: pd.DataFrame, path: str | Path | None = None) -> Path | str:
    """Write ``frame`` as UTF-8 CSV without the index (returned as text when no ``path``).

    Text cells that a spreadsheet would read as a formula get a leading single quote
    (:func:`mace_outcomes._safe.neutralise_formulas`); numbers are written as numbers.
    """
    safe = neutralise_formulas(frame)
    if path is None:
        return safe.to_csv(index=False)
    path = Path(path)
    safe.to_csv(path, index=False, encoding="utf-8")
    return path


class ExportMixin(ResultMixin):
    """Adds the writers to a result that defines ``formatted()``, ``title`` and ``notes``."""

    def _display(self) -> tuple[pd.DataFrame, str, list[str]]:
        return self.formatted(), self.title, list(self.notes)  # type: ignore[attr-defined]

    def to_markdown(self) -> str:
        """The table as a Markdown pipe table (with the rules as notes)."""
        return to_markdown(*self._display())

    def to_latex(self, label: str | None = None) -> str:
        """The table as LaTeX (``booktabs``)."""
        frame, title, notes = self._display()
        return to_latex(frame, title, notes, label=label)

    def to_html(self) -> str:
        """The table as an HTML ``<table>``."""
        return to_html(*self._display())

    def to_docx(self, path: str | Path) -> Path:
        """Write the table to a Word file (optional extra: ``pip install mace_outcomes[docx]``)."""
        frame, title, notes = self._display()
        return to_docx(frame, path, title, notes)

    def to_csv(self, path: str | Path | None = None, tidy: bool = False) -> Path | str:
        """The formatted table (``tidy=False``) or the tidy ``.table`` as CSV: written to
        ``path`` (returned), or returned as text when no path is given."""
        frame = self.table if tidy else self.formatted()  # type: ignore[attr-defined]
        return to_csv(frame, path)

    def _repr_html_(self) -> str:
        return to_html(*self._display())
