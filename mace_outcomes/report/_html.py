"""The report page: the writer that keeps each section, and the one HTML file.

Every text taken from the data or the study file is HTML-escaped here, so labels cannot
inject markup or scripts; figures are inlined as PNG data, so the page is self-contained.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from .study import Study


class Writer:
    """Writes tables and figures into the staging folder and keeps the HTML sections."""

    def __init__(self, root: Path, study: Study):
        self.root = root
        self.study = study
        self.files: list[Path] = []
        self.sections: list[tuple[str, str]] = []
        (root / "tables").mkdir(parents=True)
        (root / "figures").mkdir(parents=True)

    def table(self, name: str, frame: pd.DataFrame, title: str, notes=(), result=None) -> str:
        from ..tables.export import to_csv, to_html, to_markdown

        base = self.root / "tables" / name
        if result is not None:  # a tables-room result knows its journal formatting
            result.to_csv(base.with_suffix(".csv"))
            md, page = result.to_markdown(), result.to_html()
        else:  # the one CSV writer: text cells never become spreadsheet formulas
            to_csv(frame, base.with_suffix(".csv"))
            md, page = to_markdown(frame, title, list(notes)), to_html(frame, title, list(notes))
        base.with_suffix(".md").write_text(md)
        base.with_suffix(".html").write_text(page)
        self.files += [base.with_suffix(s) for s in (".csv", ".md", ".html")]
        return page

    def figure(self, name: str, fig, caption: str | None = None) -> str:
        """Save ``fig`` in the study's formats; its caption is ``caption`` or a sentence
        made from the report's figure name (:func:`caption_for`)."""
        from matplotlib.figure import Figure

        from ..plots import save_figure

        if isinstance(fig, tuple):  # (figure, at-risk table)
            fig = fig[0]
        assert isinstance(fig, Figure)
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
        data = base64.b64encode(png.read_bytes()).decode()
        text = caption or caption_for(name, self.study)
        return (f'<figure><img class="figure" alt="{html.escape(text)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(text)}'
                "</figcaption></figure>")

    def section(self, title: str, body: str) -> None:
        self.sections.append((title, body))


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
    arms = {k: html.escape(str(v)) for k, v in results["arms"].items()}  # labels are data
    head = (f"<h1>{html.escape(writer.study.title)}</h1><p class='note'>{arms['treated']} vs "
            f"{arms['control']}; horizon {writer.study.horizon_days:g} days; level "
            f"{html.escape(str(writer.study.level))}; source "
            f"{html.escape(results['directory'])}</p>")
    caveat = events_caveat(results)
    body = [head, f"<p class='note'>{html.escape(caveat)}</p>"] if caveat else [head]
    for title, content in writer.sections:
        slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
        body.append(f'<section id="{slug}"><h2>{html.escape(title)}</h2>{content}</section>')
    if results.get("warnings"):
        items = "".join(f"<li>{html.escape(w)}</li>" for w in results["warnings"])
        body.append(f'<section id="warnings"><h2>Warnings</h2><ul>{items}</ul></section>')
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(writer.study.title)}</title><style>{_CSS}</style>"
            f"<script>{_SCRIPT}</script></head><body>{''.join(body)}</body></html>")
    (writer.root / "report.html").write_text(page)
    writer.files.append(writer.root / "report.html")
    results["sections"] = [t for t, _ in writer.sections]


def events_caveat(results: dict) -> str:
    eps = results.get("endpoints", {})
    if not eps:
        return ""
    first = next(iter(eps))
    n_events = eps[first]["events"]
    if n_events >= 20:
        return ""
    return (f"Only {n_events} {first} events in total: the study cannot estimate a hazard "
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
