"""Forest plot of hazard ratios across endpoints, analyses or subgroups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullLocator

from ..errors import InputError, Problem
from .style import (
    figure_style,
    figure_width,
    font_size,
    format_p,
    format_ratio,
    new_figure,
    text_lines,
    wrap_text,
)

__all__ = ["plot_forest"]

_LOG_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100)


def _ci_text(hr: float, lo: float, hi: float) -> str:
    if not np.isfinite(hr):
        return ""
    return f"{format_ratio(hr)} ({format_ratio(lo)}\u2013{format_ratio(hi)})"


_TICK_PRIORITY = (1, 0.1, 10, 0.5, 2, 0.01, 100, 0.2, 5, 0.25, 4, 0.05, 20, 0.02, 50)


def _ticks(lo: float, hi: float, axis_in: float, char_in: float) -> list[float]:
    """Round log-axis ticks, most important first, dropping any that would collide."""
    span = np.log10(hi) - np.log10(lo)
    chosen: list[float] = []
    for t in _TICK_PRIORITY:
        if not lo <= t <= hi:
            continue
        pos = (np.log10(t) - np.log10(lo)) / span * axis_in
        # half of each label either side of its tick, and a gap between them
        if all(abs(pos - (np.log10(c) - np.log10(lo)) / span * axis_in)
               >= ((len(f"{t:g}") + len(f"{c:g}")) / 2 + 1.5) * char_in for c in chosen):
            chosen.append(t)
    return sorted(chosen)


def _column_widths(cols, fs: float) -> list[float]:
    """Widest entry (or bold header) of each text column, in inches, plus a gap."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    from .style import sans_font

    renderer = RendererAgg(1, 1, 72)  # 72 dpi: widths come out in points
    plain = FontProperties(family=sans_font(), size=fs)
    bold = FontProperties(family=sans_font(), size=fs, weight="bold")
    out = []
    for _, values, header in cols:
        w = [renderer.get_text_width_height_descent(line, plain, ismath=False)[0]
             for v in values if v for line in v.split("\n")]
        if header:
            w.append(renderer.get_text_width_height_descent(header, bold, ismath=False)[0])
        # bold headings in the label column, an indent, and a gap to the next column
        out.append((max(w, default=0.0) * 1.06 + 1.6 * fs) / 72)
    return out


def plot_forest(data: pd.DataFrame, *, label: str = "label", estimate: str = "hr",
                columns: Sequence[str] | dict | None = None, ref: float = 1.0,
                xlabel: str = "Hazard ratio", favours: Sequence[str] | None = None,
                xlim: tuple[float, float] | None = None, show_p: bool = True,
                estimate_header: str | None = None, label_header: str = "", colour: str = "#000000",
                weights: str | None = None, palette: Mapping | None = None,
                width: str | float = "double", fontsize: float | None = None,
                title: str | None = None):
    """Forest plot: one row per endpoint, analysis or subgroup, log-scaled ratio axis.

    Parameters
    ----------
    data : DataFrame
        Tidy rows with columns ``label``, ``hr``, ``lower``, ``upper`` and optionally
        ``p`` (e.g. one row per endpoint from Cox fits, or ``mo.compare_arms`` output
        with ``label="analysis"``). A row whose ``hr`` is missing is a heading (drawn
        bold, e.g. "Age"); rows after a heading are indented.
    label, estimate : str
        Columns holding the row label and the ratio (``lower`` / ``upper`` hold its CI).
    columns : sequence of column names or mapping column -> header, optional
        Extra text columns printed between the labels and the plot (e.g. events/N per
        arm: ``{"events_oct": "OCT", "events_ivus": "IVUS"}``).
    ref : float
        The no-effect line (1 for ratios).
    favours : (left, right), optional
        Captions under the axis, e.g. ``("Favours OCT", "Favours IVUS")``.
    xlim : (low, high), optional
        Axis range; intervals beyond it end in an arrow. Default: round values around
        the data.
    label_header, estimate_header : str, optional
        Column headings (default none, and "HR (95% CI)").
    show_p : bool
        Print the ``p`` column (formatted as journals do: ``<0.001``).
    weights : str, optional
        Column scaling the marker area (e.g. number of events), as in meta-analysis.
    palette : mapping of arm -> colour, optional
        The study's arm colours, treated arm first
        (:func:`~mace_outcomes.plots.style.arm_colours`): the favours captions take the
        colours of the first (left, ratio < 1) and second arm, and a ``columns`` heading
        naming an arm takes its colour, as the arm's curves do in the other figures.
    width : {"single", "double"} or float
        Journal column.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` is the plot; ``fig.forest_table`` the rows drawn with the text
        printed for each.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"label": ["MACE", "Cardiac death", "TVR"],
    ...                      "hr": [0.8, 0.5, 1.1], "lower": [0.5, 0.1, 0.6],
    ...                      "upper": [1.3, 2.4, 2.0], "p": [0.37, 0.39, 0.75]})
    >>> fig = plot_forest(rows, favours=("Favours OCT", "Favours IVUS"))
    >>> list(fig.forest_table["hr_text"])[:1]
    ['0.80 (0.50\u20131.30)']

    References
    ----------
    Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ
    322:1479-1480. Cuzick J (2005). Forest plots and the interpretation of subgroups.
    Lancet 365:1308.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(Problem("data must be a DataFrame", column="data"))
    need = [label, estimate, "lower", "upper"] + (["p"] if show_p and "p" in data else [])
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise InputError(Problem(f"missing columns {missing}", column=", ".join(missing),
                                 source="data", fix="give label, hr, lower, upper[, p]"))
    if isinstance(columns, dict):
        extra = dict(columns)
    else:
        extra = {c: c for c in (columns or [])}
    absent = [c for c in extra if c not in data.columns]
    if absent:
        raise InputError(Problem(f"columns {absent} are not in the data", column="columns"))
    df = data.reset_index(drop=True)
    est = pd.to_numeric(df[estimate], errors="coerce").to_numpy(float)
    lo = pd.to_numeric(df["lower"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(df["upper"], errors="coerce").to_numpy(float)
    heading = ~np.isfinite(est)
    bad = np.flatnonzero(~heading & ((est <= 0) | (lo <= 0) | (lo > est) | (hi < est)))
    if bad.size:
        raise InputError(Problem("ratios and limits must be positive with lower <= hr <= "
                                 "upper", column=estimate, source="data",
                                 rows=tuple(int(i) for i in bad)))
    show_p = show_p and "p" in df.columns
    n = len(df)
    indent = heading.any()

    w_in = figure_width(width)
    fs = font_size(width) if fontsize is None else float(fontsize)
    # long labels break over lines: the label column gets at most 35% of the width
    pads = ["" if heading[i] or not indent else "   " for i in range(n)]
    labels = [pads[i] + wrap_text(str(df[label].iloc[i]), 0.35 * w_in, fs).replace(
        "\n", "\n" + pads[i]) for i in range(n)]
    hr_text = [_ci_text(est[i], lo[i], hi[i]) for i in range(n)]
    p_text = ([format_p(float(v)) if np.isfinite(pd.to_numeric(v, errors="coerce")) else ""
               for v in df["p"]] if show_p else [])

    finite = np.r_[lo[np.isfinite(lo)], hi[np.isfinite(hi)], ref]
    if xlim is None:
        lo_lim = max(min(finite.min(), ref) * 0.85, 0.01)
        hi_lim = min(max(finite.max(), ref) / 0.85, 100.0)
        lo_lim = max(t for t in _LOG_TICKS if t <= lo_lim) if lo_lim >= 0.01 else 0.01
        hi_lim = min(t for t in _LOG_TICKS if t >= hi_lim) if hi_lim <= 100 else 100.0
    else:
        lo_lim, hi_lim = map(float, xlim)

    text_cols = [("label", labels, label_header)]
    text_cols += [(c, [str(v) for v in df[c].fillna("")], h) for c, h in extra.items()]
    right_cols = [("hr_text", hr_text, estimate_header or "HR (95% CI)")]
    if show_p:
        right_cols.append(("p", p_text, "p"))
    # text columns sized by their widest entry as the font draws it; the plot gets the
    # rest, at least 30% of the width -- a long table shrinks the font (not below 5 pt)
    avail = w_in - 0.12
    widths = _column_widths(text_cols + right_cols, fs)
    if sum(widths) > 0.7 * avail:
        fs = max(5.0, fs * 0.7 * avail / sum(widths))
        widths = _column_widths(text_cols + right_cols, fs)
    char = 0.5 * fs / 72
    left_w, right_w = widths[:len(text_cols)], widths[len(text_cols):]
    plot_w = max(avail - sum(widths), 0.3 * avail)
    ratios = left_w + [plot_w] + right_w
    line = fs * (2.0 + 1.2 * (text_lines(labels) - 1)) / 72  # room for wrapped labels
    height = (n + 1.6) * line + fs * (3.0 + (2.0 if favours else 0)
                                      + (2 if title else 0)) / 72 + 0.1

    with figure_style(fs):
        fig = new_figure(width, height)
        gs = fig.add_gridspec(1, len(ratios), width_ratios=ratios, wspace=0.0)
        k_plot = len(left_w)
        ax = fig.add_subplot(gs[0, k_plot])
        text_axes = [fig.add_subplot(gs[0, k], sharey=ax) for k in range(len(ratios))
                     if k != k_plot]
        y = np.arange(n, dtype=float)
        ax.set_ylim(n - 0.4, -1.2)

        size = np.full(n, 0.55 * fs)
        if weights is not None:
            wv = pd.to_numeric(df[weights], errors="coerce").to_numpy(float)
            ok = np.isfinite(wv) & (wv > 0)
            if ok.any():
                size[ok] = fs * (0.3 + 0.5 * np.sqrt(wv[ok] / wv[ok].max()))
        for i in np.flatnonzero(~heading):
            a, b = max(lo[i], lo_lim), min(hi[i], hi_lim)
            ax.plot([a, b], [y[i], y[i]], color=colour, linewidth=1.0, solid_capstyle="butt",
                    zorder=2, gid=f"ci:{i}")
            if hi[i] > hi_lim:
                ax.plot([hi_lim], [y[i]], marker=">", color=colour, markersize=4, zorder=2)
            if lo[i] < lo_lim:
                ax.plot([lo_lim], [y[i]], marker="<", color=colour, markersize=4, zorder=2)
            if lo_lim <= est[i] <= hi_lim:
                ax.plot([est[i]], [y[i]], marker="s", markersize=size[i], color=colour,
                        linestyle="none", zorder=3, gid=f"hr:{i}")
        ax.axvline(ref, color="0.35", linewidth=0.7, linestyle=(0, (3, 2)), zorder=1)
        ax.set_xscale("log")
        ax.set_xlim(lo_lim, hi_lim)
        ax.xaxis.set_major_locator(FixedLocator(_ticks(lo_lim, hi_lim, plot_w, char)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
        # favours captions sit between the tick labels and the axis label
        ax.set_xlabel(xlabel, labelpad=4 + (1.8 * fs if favours else 0))
        ax.tick_params(axis="y", left=False, labelleft=False)
        ax.spines["left"].set_visible(False)
        sides = list((palette or {}).values())[:2]
        sides += ["black"] * (2 - len(sides))
        if favours:
            left, right = favours
            # captions spread over the neighbouring text columns: keep them out of the
            # layout, or constrained layout would squeeze the plot to make room for them
            ax.annotate(f"\u2190 {left}", xy=(ref, 0), xycoords=("data", "axes fraction"),
                        xytext=(-4, -(fs + 9)), textcoords="offset points", ha="right",
                        va="top", fontsize=fs - 0.5, annotation_clip=False, in_layout=False,
                        color=sides[0], gid="favours:left")
            ax.annotate(f"{right} \u2192", xy=(ref, 0), xycoords=("data", "axes fraction"),
                        xytext=(4, -(fs + 9)), textcoords="offset points", ha="left",
                        va="top", fontsize=fs - 0.5, annotation_clip=False, in_layout=False,
                        color=sides[1], gid="favours:right")

        cols = text_cols + right_cols
        for tax, (name, values, header) in zip(text_axes, cols, strict=True):
            tax.set_xlim(0, 1)
            tax.axis("off")
            right_aligned = name not in ("label", "hr_text")
            x = 0.95 if right_aligned else 0.04
            ha = "right" if right_aligned else "left"
            # the columns are sized for their text (width_ratios): texts stay out of the
            # layout, or an overhang would make constrained layout shrink every column
            if header:
                tax.text(x, -1, header, ha=ha, va="center", fontweight="bold", fontsize=fs,
                         in_layout=False, color=(palette or {}).get(name, "black"))
            for i, v in enumerate(values):
                bold = name == "label" and heading[i]
                tax.text(x, y[i], v, ha=ha, va="center", fontsize=fs, in_layout=False,
                         fontweight="bold" if bold else "normal", gid=f"{name}:{i}")
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
        # choose the ticks for the width the layout actually gives the plot
        fig.get_layout_engine().execute(fig)
        axis_in = ax.get_position().width * w_in
        ax.xaxis.set_major_locator(FixedLocator(_ticks(lo_lim, hi_lim, axis_in, char)))

    table = df.copy()
    table["hr_text"] = hr_text
    if show_p:
        table["p_text"] = p_text
    fig.forest_table = table
    return fig
