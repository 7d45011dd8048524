"""Standardised (adjusted) risk curves per arm, from :func:`mace_outcomes.adjusted_risk`.

Step curves rising from 0 (the risks change only at event times), the pointwise
confidence interval shaded, the simultaneous band (when computed) dashed in the arm's
colour. Arm colours and order follow the package's one rule (treated first, orange).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..errors import InputError, Problem
from ._curves import (
    Curve,
    breaks_for,
    colours_for,
    days_per_display_unit,
    label_for,
    ylim_for,
)
from .style import figure_style, figure_width, font_size, legend_fit, new_figure

__all__ = ["plot_adjusted_risk"]

_METHOD_LABEL = {"gformula": "g-formula", "iptw": "IPTW", "aipw": "AIPTW"}


def _pick_method(table: pd.DataFrame, method: str | None) -> str:
    methods = list(pd.unique(table["method"]))
    if method is None:
        return methods[0]
    if method not in methods:
        raise InputError(Problem(f"method {method!r} is not in the result ({methods})",
                                 column="method", source="plot_adjusted_risk",
                                 fix=f"use one of {methods}"))
    return method


def _curves(table: pd.DataFrame, arms: list, unit_days: float, labels, colours
            ) -> tuple[list[Curve], dict]:
    """One step curve per arm starting at (0, 0), and its band limits (or None)."""
    curves, bands = [], {}
    for arm in arms:
        c = table[table["arm"] == arm].sort_values("time", kind="stable")
        x = np.r_[0.0, c["time"].to_numpy(float) / unit_days]

        def col(name, c=c):
            return np.r_[0.0, c[name].to_numpy(float)]

        curves.append(Curve(arm, label_for(arm, labels), colours[arm], "-", x, col("risk"),
                            col("lower"), col("upper"), np.zeros(0), np.zeros(0)))
        bands[arm] = (col("band_lower"), col("band_upper")) if "band_lower" in c else None
    return curves, bands


def plot_adjusted_risk(result, method: str | None = None, *, conf_int: bool = True,
                       band: bool = True, percent: bool = False, unit: str = "months",
                       breaks: Sequence[float] | None = None, labels: Mapping | None = None,
                       palette: Sequence[str] | Mapping | None = None,
                       width: str | float = "single", title: str | None = None,
                       xlabel: str | None = None, ylabel: str | None = None,
                       ylim: tuple[float, float] | None = None, note: str | None = None):
    """Standardised absolute-risk curves per arm with pointwise CIs and simultaneous bands.

    Parameters
    ----------
    result : AdjustedRisk
        From :func:`mace_outcomes.adjusted_risk`, best with ``times=None`` (the grid of
        event times: the exact step curves) and ``band=True``.
    method : which method's curves ("aipw", "gformula", "iptw"); default the first.
    conf_int, band : shade the pointwise interval; dash the simultaneous band (drawn
        when the result has one).
    percent : the y-axis in percent. ``unit``, ``breaks``: the x-axis (data in days).
    labels, palette : display label and colour per arm (default: the arm labels and
        :func:`~mace_outcomes.plots.style.arm_colours`' order, treated orange).
    width : "single", "double" or inches. ``title``, ``xlabel``, ``ylabel``, ``ylim``
        (proportions), ``note`` (text in the lower right corner, e.g. the model).

    Returns
    -------
    matplotlib.figure.Figure; ``fig.curve_table`` holds the drawn rows (method, time,
    arm, risk, lower, upper and the band limits).

    Examples
    --------
    >>> import numpy as np, pandas as pd, mace_outcomes as mo
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"time": rng.integers(1, 700, 200), "event": rng.integers(0, 2, 200),
    ...                    "arm": rng.integers(0, 2, 200), "age": rng.normal(65, 9, 200)})
    >>> fit = mo.adjusted_risk(df, covariates=["age"], times=None, band=True, seed=1)
    >>> fig = plot_adjusted_risk(fit)
    >>> len(fig.curve_table) == 2 * fit.table["time"].nunique()
    True
    """
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame) or "risk" not in table:
        raise InputError(Problem("needs the result of mo.adjusted_risk", column="result",
                                 source="plot_adjusted_risk"))
    method = _pick_method(table, method)
    rows = table[table["method"] == method]
    if rows["time"].nunique() < 2:
        raise InputError(Problem("a curve needs at least two times", column="times",
                                 source="plot_adjusted_risk",
                                 fix="compute the result with times=None (every event "
                                     "time) or a grid of times"))
    arms = [result.treated, result.reference]
    colours = colours_for(arms, palette)
    unit_days = days_per_display_unit(unit, None, result)
    curves, bands = _curves(rows, arms, unit_days, labels, colours)
    has_band = band and all(b is not None for b in bands.values())
    xb = breaks_for(breaks, rows, unit_days, unit)
    xmax = float(xb[-1])
    # the axis holds the band too, when drawn
    lim_curves = [Curve(c.group, c.label, c.colour, c.linestyle, c.x, c.y, c.lower,
                        np.fmax(c.upper, bands[c.group][1]) if has_band else c.upper,
                        c.censor_x, c.censor_y) for c in curves]
    yl = ylim_for(lim_curves, "event", conf_int or has_band, xmax, ylim)
    scale = 100.0 if percent else 1.0
    level = f"{getattr(result, 'conf_level', 0.95):.0%}"
    fs = font_size(width)
    w_in = figure_width(width)
    with figure_style(fs):
        fig = new_figure(width, min(0.62 * w_in, 3.2) + 0.8)
        ax = fig.add_subplot()
        for c in curves:
            if conf_int:
                ax.fill_between(c.x, c.lower * scale, c.upper * scale, step="post",
                                color=c.colour, alpha=0.18, linewidth=0, zorder=1,
                                gid=f"ci:{c.group}")
            if has_band:
                lo, hi = bands[c.group]
                for side, v in (("lower", lo), ("upper", hi)):
                    ax.step(c.x, v * scale, where="post", color=c.colour, linestyle="--",
                            linewidth=0.7, zorder=2, gid=f"band:{side}:{c.group}")
            ax.step(c.x, c.y * scale, where="post", color=c.colour, linewidth=1.2,
                    zorder=3, gid=f"curve:{c.group}")
        pad = 0.025 * (xmax - xb[0])
        ax.set_xlim(xb[0] - pad, xmax + pad)
        ax.set_xticks(xb)
        ax.set_xticklabels([f"{b:g}" for b in xb])
        ax.set_ylim(yl[0] * scale, yl[1] * scale)
        ax.set_xlabel(xlabel or f"Time since index procedure ({unit})")
        ax.set_ylabel(ylabel or (f"Standardised risk{' (%)' if percent else ''}, "
                                 f"{_METHOD_LABEL.get(method, method)}"))
        handles = [Line2D([], [], color=c.colour, linewidth=1.4) for c in curves]
        names = [c.label for c in curves]
        if conf_int:
            handles.append(Patch(color="0.5", alpha=0.3, linewidth=0))
            names.append(f"{level} pointwise CI")
        if has_band:
            handles.append(Line2D([], [], color="0.3", linestyle="--", linewidth=0.7))
            names.append(f"{level} simultaneous band")
        # above the curves (risk curves fill the upper left), as many columns as fit
        names, ncols = legend_fit(names, w_in - 0.1, fs, handle_em=3.6)
        ax.legend(handles, names, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  frameon=False, ncols=min(ncols, 2), handlelength=1.6, borderaxespad=0.2,
                  columnspacing=1.2)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
        if note:
            ax.text(0.99, 0.02, note, transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=fs - 1, color="0.3", gid="note")
    fig.curve_table = rows.reset_index(drop=True)
    return fig
