"""Drawing a survival figure: curves on top, risk tables below, one shared x-axis.

The at-risk numbers are text at the tick positions of the curve axis (the table axes
share its x-axis), so they line up with the ticks by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from ._curves import Curve, label_for
from .style import (
    figure_style,
    figure_width,
    font_size,
    legend_fit,
    legend_rows,
    new_figure,
    text_lines,
    wrap_text,
)


@dataclass
class Layout:
    fontsize: float
    width_in: float
    main_height: float
    line: float        # one table line, inches


def layout(width: str | float, fontsize: float | None) -> Layout:
    """Curve panel about 0.62 x the width (at most 3.2 in), table lines 1.5 x the font."""
    w = figure_width(width)
    fs = font_size(width) if fontsize is None else float(fontsize)
    return Layout(fs, w, min(0.62 * w, 3.2), fs * 1.5 / 72)


def figure_height(lay: Layout, n_groups: int, n_rows: int, legend: bool | int,
                   title: bool) -> float:
    """``legend``: shown or not, or the number of text lines it takes."""
    pt = lay.fontsize / 72
    h = lay.main_height + 3.4 * pt            # tick labels and x label
    h += (2.0 + 1.2 * (int(legend) - 1)) * pt if legend else 0.0
    h += 2.0 * pt if title else 0.0
    h += n_rows * (n_groups * lay.line + 2.2 * pt)
    return h + 0.08


def _draw(target, curves: list[Curve], risk: pd.DataFrame | None, *, rows: Sequence[str],
          row_titles: Mapping[str, str], breaks: np.ndarray, xmax: float, ylim, percent: bool,
          conf_int: bool, censor_marks: bool, xlabel: str, ylabel: str, annotation: str,
          kind: str, legend: bool, legend_title: str | None, title: str | None,
          lay: Layout, table_labels: Mapping) -> dict:
    """Curves on top, one table per row kind below, all sharing the x-axis."""
    n_groups = len({c.group for c in curves}) if risk is None else risk["group"].nunique()
    n_tab = len(rows) if risk is not None else 0
    heights = [lay.main_height] + [max(n_groups, 1) * lay.line] * n_tab
    gs = target.add_gridspec(1 + n_tab, 1, height_ratios=heights)
    ax = target.add_subplot(gs[0])
    scale = 100.0 if percent else 1.0
    fs = lay.fontsize

    for c in curves:
        if conf_int and np.isfinite(c.lower).any():
            ax.fill_between(c.x, c.lower * scale, c.upper * scale, step="post",
                            color=c.colour, alpha=0.18, linewidth=0, zorder=1)
        # carry the last value to the right edge: a curve does not stop at its last event
        ax.step(c.x, c.y * scale, where="post", color=c.colour, linestyle=c.linestyle,
                label=c.label, zorder=3, linewidth=1.2)
        if censor_marks and c.censor_x.size:
            ax.plot(c.censor_x, c.censor_y * scale, linestyle="none", marker="|",
                    markersize=fs * 0.55, markeredgewidth=0.7, color=c.colour, zorder=4)

    pad = 0.025 * (xmax - breaks[0])
    ax.set_xlim(breaks[0] - pad, xmax + pad)
    ax.set_xticks(breaks)
    ax.set_xticklabels([_tick(b) for b in breaks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(ylim[0] * scale, ylim[1] * scale)
    ax.margins(x=0)
    # round ticks ending at the top of the axis (no 2.5 steps: 12.5% reads badly)
    ax.yaxis.set_major_locator(_y_locator(ylim, scale))
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    if title:
        # above the legend, flush left: a figure (or panel) title, not an axes title
        target.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    if legend:
        handles = [Line2D([], [], color=c.colour, linestyle=c.linestyle, linewidth=1.4)
                   for c in curves]
        names, ncols = legend_entries(curves, lay)
        # above the curves from the figure's left edge: it may use the whole width, so
        # long arm labels break over lines (legend_entries) instead of squeezing the plot
        at = blended_transform_factory(target.transSubfigure if hasattr(
            target, "transSubfigure") else target.transFigure, ax.transAxes)
        ax.legend(handles, names, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  bbox_transform=at, frameon=False, ncols=ncols, borderaxespad=0.2,
                  handlelength=1.6, columnspacing=1.2, title=legend_title, alignment="left")
    if annotation:
        # a handle-less legend so that matplotlib's "best" placement keeps the test and
        # HR text off the curves (survminer's fixed corner sits on a steep early drop)
        texts = annotation.split("\n")
        blank = [Line2D([], [], linestyle="none", marker="none") for _ in texts]
        note = Legend(ax, blank, texts, loc="best", frameon=False, handlelength=0,
                      handletextpad=0, borderaxespad=0.3, borderpad=0.2, labelspacing=0.3,
                      fontsize=fs, alignment="left")
        note.set_gid("annotation")
        note.set_zorder(5)
        ax.add_artist(note)

    tables = []
    if risk is not None:
        groups = list(pd.unique(risk["group"]))
        colour_of = {c.group: c.colour for c in curves}
        for k, row in enumerate(rows):
            tax = target.add_subplot(gs[1 + k], sharex=ax)
            _draw_table(tax, risk, row, groups, colour_of, table_labels, row_titles[row], fs)
            tables.append(tax)
    return {"ax": ax, "tables": tables}


def legend_entries(curves: list[Curve], lay: Layout) -> tuple[list[str], int]:
    """Legend labels (wrapped to the figure width) and columns: at most 3 side by side."""
    names, ncols = legend_fit([c.label for c in curves], lay.width_in - 0.1, lay.fontsize)
    cap = len(curves) if len(curves) <= 3 else int(np.ceil(len(curves) / 2))
    return names, min(ncols, cap)


def table_label(text: str, lay: Layout) -> str:
    """A risk-table row label: at most 36% of the width and two lines, an ellipsis past
    them (the legend above, in the same colour, carries the whole label)."""
    lines = wrap_text(text, 0.36 * lay.width_in, lay.fontsize).split("\n")
    if len(lines) <= 2:
        return "\n".join(lines)
    return f"{lines[0]}\n{lines[1]}\u2026"


def _y_locator(ylim, scale: float):
    lo, hi = ylim
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5):
        n = (hi - lo) / step
        if abs(n - round(n)) < 1e-9 and 2 <= round(n) <= 6 and \
                abs(lo / step - round(lo / step)) < 1e-9:
            return FixedLocator(np.linspace(lo, hi, int(round(n)) + 1) * scale)
    return MaxNLocator(nbins=5, steps=[1, 2, 5, 10])


def _tick(v: float) -> str:
    return f"{v:g}"


def _count(v: float) -> str:
    return "\u2013" if not np.isfinite(v) else f"{v:.0f}"


def _draw_table(tax, risk: pd.DataFrame, row: str, groups: list, colour_of: Mapping,
                labels: Mapping, title: str, fs: float) -> None:
    for i, g in enumerate(groups):
        sub = risk[risk["group"] == g]
        for x, v in zip(sub["time"], sub[row], strict=True):
            tax.text(x, i, _count(v), ha="center", va="center", fontsize=fs,
                     color="black", gid=f"risk:{row}:{g}")
    tax.set_ylim(len(groups) - 0.5, -0.5)
    tax.set_yticks(range(len(groups)))
    tax.set_yticklabels([labels.get(g, str(g)) for g in groups])
    for tick_label, g in zip(tax.get_yticklabels(), groups, strict=True):
        tick_label.set_color(colour_of.get(g, "black"))
    # room for half of the widest number centred on x = 0, left of the axis
    widest = max((len(_count(v)) for v in risk[row]), default=1)
    tax.tick_params(axis="y", length=0, pad=max(3.0, 0.32 * fs * widest))
    tax.tick_params(axis="x", length=0, labelbottom=False)
    for side in ("top", "right", "bottom", "left"):
        tax.spines[side].set_visible(False)
    tax.set_title(title, loc="left", fontsize=fs, pad=2)


def render(curves, risk, rows, row_titles, xb, xmax, yl, percent, conf_int, censor_marks,
            xlabel, ylabel, annotation, kind, legend, legend_title, title, width, height,
            fontsize, labels, groups, return_table, target):
    n_groups = len(groups)
    n_rows = len(rows) if risk is not None else 0
    lay = layout(width, fontsize)
    table_labels = {g: table_label(label_for(g, labels), lay) for g in groups}
    lay.line *= text_lines(table_labels.values())  # a wrapped label needs a taller row
    if legend:  # the text lines it takes, wrapped to the figure width
        legend = legend_rows(*legend_entries(curves, lay))
    if height is not None:
        # give the curves whatever the tables and labels leave
        fixed = figure_height(lay, n_groups, n_rows, legend, bool(title)) - lay.main_height
        lay.main_height = max(1.0, float(height) - fixed)
    fig_height = figure_height(lay, n_groups, n_rows, legend, bool(title))
    with figure_style(lay.fontsize):
        fig = new_figure(width, fig_height) if target is None else target
        parts = _draw(fig, curves, risk, rows=rows, row_titles=row_titles, breaks=xb,
                      xmax=xmax, ylim=yl, percent=percent, conf_int=conf_int,
                      censor_marks=censor_marks, xlabel=xlabel, ylabel=ylabel,
                      annotation=annotation, kind=kind, legend=legend,
                      legend_title=legend_title, title=title, lay=lay,
                      table_labels=table_labels)
    fig.risk_axes = parts["tables"]
    if target is not None:
        return parts, risk
    return finish(fig, risk, return_table)


def finish(fig: Figure, risk: pd.DataFrame | None, return_table: bool):
    fig.risk_table = risk
    return (fig, risk) if return_table else fig
