"""The win-ratio figure: each arm's wins stacked by level of the hierarchy, and the ties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._format import format_p, format_ratio
from ..errors import InputError, Problem
from .style import OKABE_ITO, figure_style, figure_width, font_size, legend_fit, new_figure

__all__ = ["plot_win_ratio"]

# levels take the palette's colours after the two arm colours (orange and blue), so that
# no level is mistaken for an arm; ties are grey
LEVEL_COLOURS = OKABE_ITO[2:5] + OKABE_ITO[5:7] + ("#999999",)
TIE_COLOUR = "#BDBDBD"


def plot_win_ratio(result, *, labels: Mapping | None = None,
                   level_labels: Mapping | Sequence[str] | None = None,
                   width: str | float = "single", fontsize: float | None = None,
                   title: str | None = None):
    """Wins of each arm stacked by level, and the pairs tied at every level (% of pairs).

    Parameters
    ----------
    result : a :func:`mace_outcomes.win_ratio` result.
    labels : display names of the arms (keys: the treated and reference labels).
    level_labels : display names of the levels (mapping, or one name per level in
        priority order), e.g. ``["Cardiac death", "Stroke", "MI", "TVR"]``.
    width : ``"single"``, ``"double"`` or inches; ``fontsize`` overrides the style's.
    title : optional title above the panel.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.win_table``: the plotted percentages (bar, level, pct).
    """
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame) or not {"wins", "losses", "ties"} <= set(table):
        raise InputError(Problem(f"expected a win_ratio result, got {type(result).__name__}",
                                 fix="pass mo.win_ratio(...)"))
    levels = table["level"].tolist()
    if level_labels is None:
        names = levels
    elif isinstance(level_labels, Mapping):
        names = [str(level_labels.get(v, v)) for v in levels]
    else:
        names = [str(v) for v in level_labels]
        if len(names) != len(levels):
            raise InputError(Problem(f"{len(levels)} levels but {len(names)} level_labels",
                                     column="level_labels"))
    arm = dict(labels or {})
    treated = str(arm.get(result.treated, result.treated))
    reference = str(arm.get(result.reference, result.reference))
    summary = result.summary.iloc[0]
    pairs = float(summary["pairs"])
    pct = 100 * np.vstack([table["wins"], table["losses"]]).astype(float) / pairs
    tie_pct = 100 * float(summary["ties"]) / pairs
    bars = [f"{treated} wins", f"{reference} wins", "Tied"]

    fs = font_size(width) if fontsize is None else float(fontsize)
    w_in = figure_width(width)
    shown, ncols = legend_fit(names, w_in - 0.1, fs)
    with figure_style(fs):
        fig = new_figure(width, 0.42 * w_in + 0.2 * (len(shown) // max(ncols, 1)))
        ax = fig.add_subplot()
        y = np.arange(3)[::-1]
        for b in range(2):
            left = 0.0
            for k, name in enumerate(shown):
                colour = LEVEL_COLOURS[k % len(LEVEL_COLOURS)]
                ax.barh(y[b], pct[b, k], left=left, color=colour, edgecolor="white",
                        linewidth=0.4, height=0.62, label=name if b == 0 else None,
                        gid=f"bar:{b}:{levels[k]}")
                if pct[b, k] >= 6:  # label a segment only where the number fits
                    ax.text(left + pct[b, k] / 2, y[b], f"{pct[b, k]:.0f}", ha="center",
                            va="center", fontsize=fs - 1, color="white")
                left += pct[b, k]
        ax.barh(y[2], tie_pct, color=TIE_COLOUR, height=0.62, gid="bar:ties")
        ax.set_yticks(y, bars)
        ax.set_xlim(0, 100)
        ax.set_xlabel("Pairs of patients (%)")
        ax.spines[["top", "right"]].set_visible(False)
        cl = f"{100 * result.conf_level:g}%"
        p = format_p(summary["p"])
        note = (f"Win ratio {format_ratio(summary['win_ratio'])} ({cl} CI "
                f"{format_ratio(summary['lower'])}\u2013{format_ratio(summary['upper'])})"
                + (f"; p {p}" if p.startswith("<") else f"; p = {p}" if p else ""))
        ax.set_title(note, fontsize=fs, loc="left")
        # below the axis, outside it: constrained layout makes room for it
        fig.legend(loc="outside lower center", ncols=ncols, frameon=False,
                   columnspacing=1.0)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    rows = [(bars[b], levels[k], pct[b, k]) for b in range(2) for k in range(len(levels))]
    fig.win_table = pd.DataFrame(rows + [("Tied", "", tie_pct)],
                                 columns=["bar", "level", "pct"])
    return fig
