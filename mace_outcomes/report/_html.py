"""The report page: the writer that keeps each section, and the one HTML file.

Every text taken from the data or the study file is HTML-escaped here, so labels cannot
inject markup or scripts; figures are inlined as PNG data, so the page is self-contained.

As it writes the page the writer also records each section as blocks (headings, tables
with their captions and notes, figures with their captions: :mod:`._docx`), from which
:func:`write_report` writes the same report as ``report.docx`` for journal submission.
With ``min_cell`` every count table it writes, and every risk table under a figure,
shows the counts from 1 to ``min_cell - 1`` as ``"<min_cell"``
(:func:`mace_outcomes.tables._suppress.suppress_small_cells`), with a note saying so.
"""

from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path

import pandas as pd

from . import _docx
from .study import Study

#: the resolution of the figures embedded in report.docx (journals ask for 300 or more)
DOCX_DPI = 300


class Writer:
    """Writes tables and figures into the staging folder and keeps the HTML sections
    (``sections``: title, HTML) and, for report.docx, the same as blocks (``blocks``).

    ``min_cell`` (default: the study's ``min_cell``, else 0 = off) suppresses small
    counts in every table and figure risk table written."""

    def __init__(self, root: Path, study: Study, min_cell: int | None = None):
        from ..tables._suppress import check_min_cell

        self.root = root
        self.study = study
        self.min_cell = check_min_cell(getattr(study, "min_cell", 0) if min_cell is None
                                       else min_cell)
        self.files: list[Path] = []
        self.sections: list[tuple[str, str]] = []
        self.blocks: list[list[_docx.Block]] = []   # per section, as ``sections``
        self._pending: list[_docx.Block] = []       # written since the last section
        self.docx = _docx.available()
        (root / "tables").mkdir(parents=True)
        (root / "figures").mkdir(parents=True)

    def table(self, name: str, frame: pd.DataFrame, title: str, notes=(), result=None) -> str:
        """Write ``frame`` (or a tables-room ``result``, in its journal formatting) as CSV,
        Markdown and HTML; return the HTML table."""
        from ..tables.export import to_csv, to_html, to_markdown

        if result is not None:  # a tables-room result knows its journal formatting
            frame, title, notes = result.formatted(), result.title, result.notes
        notes = list(notes)
        if self.min_cell:
            from ..tables._suppress import suppress_small_cells, suppression_note

            frame = suppress_small_cells(frame, self.min_cell)
            if frame.attrs.get("suppressed_cells"):
                notes.append(suppression_note(self.min_cell))
        base = self.root / "tables" / name
        # the one CSV writer: text cells never become spreadsheet formulas
        to_csv(frame, base.with_suffix(".csv"))
        # a value not computed (NaN, e.g. the variance ratio of a binary covariate) is a
        # blank cell on the page, not "nan"; the CSV keeps it empty as well
        shown = frame.astype(object).where(frame.notna(), "")
        page = to_html(shown, title, notes)
        base.with_suffix(".md").write_text(to_markdown(shown, title, notes))
        base.with_suffix(".html").write_text(page)
        self.files += [base.with_suffix(s) for s in (".csv", ".md", ".html")]
        self._pending.append(_docx.Table(_docx.display_frame(shown), title, tuple(notes)))
        return page

    def figure(self, name: str, fig, caption: str | None = None) -> str:
        """Save ``fig`` in the study's formats; its caption is ``caption`` or a sentence
        made from the report's figure name (:func:`caption_for`)."""
        from matplotlib.figure import Figure

        from ..plots import save_figure

        if isinstance(fig, tuple):  # (figure, at-risk table)
            fig = fig[0]
        assert isinstance(fig, Figure)
        text = caption or caption_for(name, self.study)
        if self.min_cell and self._suppress_risk(fig):
            text += (f" Counts from 1 to {self.min_cell - 1} are shown as "
                     f"<{self.min_cell}.")
        paths = []
        for fmt in self.study.formats:
            path = self.root / "figures" / f"{name}.{fmt}"
            save_figure(fig, path, dpi=self.study.dpi)
            paths.append(path)
        png = self.root / "figures" / f"{name}.png"
        if png not in paths:
            save_figure(fig, png, dpi=self.study.dpi)
            paths.append(png)
        self.files += paths
        data = png.read_bytes()
        if self.docx:
            w, h = fig.get_size_inches()
            self._pending.append(_docx.Figure(self._png(fig, data), float(w), float(h), text))
        return (f'<figure><img class="figure" alt="{html.escape(text)}" '
                f'src="data:image/png;base64,{base64.b64encode(data).decode()}">'
                f"<figcaption>{html.escape(text)}</figcaption></figure>")

    def paragraph(self, text: str, note: bool = False) -> str:
        """A paragraph of plain text (escaped), in the page and in report.docx."""
        self._pending.append(_docx.Paragraph(text, note))
        cls = " class='note'" if note else ""
        return f"<p{cls}>{html.escape(text)}</p>"

    def section(self, title: str, body: str) -> None:
        """A section of the report: ``body`` is the HTML of the tables, figures and
        paragraphs written since the previous section (in report.docx, their blocks)."""
        self.sections.append((title, body))
        self.blocks.append(self._pending)
        self._pending = []

    def _png(self, fig, data: bytes) -> bytes:
        """The figure as a PNG at :data:`DOCX_DPI` (the study's own PNG when it is one)."""
        if self.study.dpi == DOCX_DPI:
            return data
        from ..plots import save_figure

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "figure.png"
            save_figure(fig, path, dpi=DOCX_DPI)
            return path.read_bytes()

    def _suppress_risk(self, fig) -> bool:
        """Suppress the small counts a figure shows, whoever drew it: its risk table
        (:mod:`mace_outcomes.plots._risk`) and counts written as ``n = 3`` or
        ``3 patients`` / ``lesions`` / ``events`` (the flow diagram's boxes). Whether
        the figure shows any suppressed count."""
        from matplotlib.text import Text

        from ..plots._risk import suppress_risk_table, suppress_risk_text

        axes = getattr(fig, "risk_axes", None) or []
        suppress_risk_text(axes, self.min_cell)
        if getattr(fig, "risk_table", None) is not None:
            fig.risk_table = suppress_risk_table(fig.risk_table, self.min_cell)
        label = f"<{self.min_cell}"

        def small(m: re.Match) -> str:
            n = int(m.group("n").replace(",", ""))
            return label if 1 <= n < self.min_cell else m.group("n")

        shown = False
        for text in fig.findobj(Text):
            old = text.get_text()
            new = _COUNT_PHRASE.sub(small, old)
            if new != old:
                text.set_text(new)
            shown = shown or label in new
        return shown


#: counts as figures write them in words: "n = 3", "3 patients", "12 lesions", "1 event"
#: (spaces or the flow diagram's non-breaking ones)
_COUNT_PHRASE = re.compile(r"(?P<n>(?:(?<=\b[nN][ \xa0]=[ \xa0]))\d[\d,]*\b"
                           r"|\b\d[\d,]*(?=[ \xa0](?:patients?|lesions?|events?|subjects?)\b))")


_CSS = """body{font-family:Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;
color:#222;line-height:1.4}table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
td,th{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left}
img.figure{max-width:100%;height:auto}section{margin-bottom:2em}
.note{color:#555;font-size:0.9em}"""

_SCRIPT = """window.addEventListener('load',function(){var im=document.images,ok=0;
for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}}
document.body.setAttribute('data-images',im.length);
document.body.setAttribute('data-images-loaded',ok);});"""


def write_report(writer: Writer, results: dict, state: dict) -> None:
    """Write ``report.html`` and, when python-docx is installed, ``report.docx`` (the same
    headings, tables, figures and notes); without it a warning in the report says so."""
    if not writer.docx:
        results["warnings"] = [*results.get("warnings", []), _docx.MISSING_NOTE]
    arms = {k: str(v) for k, v in results["arms"].items()}  # labels are data
    subtitle = (f"{arms['treated']} vs {arms['control']}; horizon "
                f"{writer.study.horizon_days:g} days; level {writer.study.level}; source "
                f"{results['directory']}")
    caveat = events_caveat(results, writer.min_cell)
    head = [f"<h1>{html.escape(writer.study.title)}</h1>",
            f"<p class='note'>{html.escape(subtitle)}</p>"]
    blocks: list[_docx.Block] = [_docx.Heading(writer.study.title, 1),
                                 _docx.Paragraph(subtitle, note=True)]
    if caveat:
        head.append(f"<p class='note'>{html.escape(caveat)}</p>")
        blocks.append(_docx.Paragraph(caveat, note=True))
    body = ["".join(head)]
    for (title, content), parts in zip(writer.sections, writer.blocks, strict=True):
        slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
        body.append(f'<section id="{slug}"><h2>{html.escape(title)}</h2>{content}</section>')
        blocks += [_docx.Heading(title, 2), *parts]
    if results.get("warnings"):
        items = "".join(f"<li>{html.escape(w)}</li>" for w in results["warnings"])
        body.append(f'<section id="warnings"><h2>Warnings</h2><ul>{items}</ul></section>')
        blocks += [_docx.Heading("Warnings", 2), _docx.Items(tuple(results["warnings"]))]
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(writer.study.title)}</title><style>{_CSS}</style>"
            f"<script>{_SCRIPT}</script></head><body>{''.join(body)}</body></html>")
    (writer.root / "report.html").write_text(page)
    writer.files.append(writer.root / "report.html")
    if writer.docx:
        writer.files.append(_docx.write_docx(blocks, writer.root / "report.docx",
                                             title=writer.study.title))
    results["sections"] = [t for t, _ in writer.sections]


def events_caveat(results: dict, min_cell: int = 0) -> str:
    """The headline warning of a study with few events of its first endpoint; a count
    below ``min_cell`` reads "fewer than min_cell", as the tables do."""
    eps = results.get("endpoints", {})
    if not eps:
        return ""
    first = next(iter(eps))
    n_events = eps[first]["events"]
    if n_events >= 20:
        return ""
    count = f"fewer than {min_cell}" if 0 < n_events < (min_cell or 0) else str(n_events)
    return (f"Only {count} {first} events in total: the study cannot estimate a hazard "
            "ratio with useful precision, adjusted analyses rest on very few events, and an "
            "absence of a significant difference is not evidence of equivalence.")


def caption_for(name: str, study: Study) -> str:
    """A figure caption as a sentence, from the report's figure names (``km_<endpoint>_
    crude|iptw``, ``forest``, ``love``, ``overlap``) and the study's labels."""
    fixed = {
        "forest": "Hazard ratios (95% CI) of every endpoint, crude and propensity-weighted.",
        "love": "Standardised mean differences of the propensity covariates before and "
                "after weighting (|SMD| < 0.1: balanced).",
        "overlap": "Distribution of the propensity score by arm.",
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("km_"):
        endpoint, _, kind = name[3:].rpartition("_")
        how = ("propensity-weighted (IPTW) " if kind == "iptw" else "")
        level = "lesions, clustered by patient" if study.level == "lesion" else "patients"
        return (f"{study.label(endpoint)}: {how}Kaplan-Meier cumulative incidence by arm "
                f"({level}; time in {study.unit}; horizon {study.horizon_days:g} days), "
                "with numbers at risk.")
    return name.replace("_", " ").capitalize() + "."
