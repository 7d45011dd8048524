"""Kaplan-Meier and cumulative-incidence figures with a number-at-risk table.

What reviewers expect from R's survminer ``ggsurvplot``: step curves with censor
ticks and confidence bands, survival or cumulative-incidence orientation, the
number at risk under the x-axis at the tick times (optionally cumulative events and
censorings), the right test and the hazard ratio annotated, arm colours and labels
from the data, journal column sizes. The options are named once, in
:class:`~mace_outcomes.plots.options.CurveOptions`; the pieces live beside this module
(``_curves`` the data, ``_risk`` the tables, ``_annotate`` the test and HR lines,
``_draw`` the drawing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ._annotate import hr_text, test_text
from ._curves import (
    UNITS,
    Curve,
    breaks_for,
    check_kind,
    cif_curves,
    colours_for,
    days_per_display_unit,
    groups_of,
    km_curves,
    line_styles,
    table_of,
    ylim_for,
)
from ._draw import figure_height, finish, layout, render
from ._risk import (
    ROW_TITLES,
    at_risk_table,
    check_counts,
    check_rows,
    risk_tables,
    suppress_drawn,
)
from .landmark import draw_landmark
from .options import CurveOptions, curve_options
from .style import figure_style, figure_width, new_figure

__all__ = ["plot_km", "plot_cif", "plot_km_panels", "plot_landmark", "at_risk_table",
           "UNITS", "CurveOptions"]


def _annotation(o: CurveOptions, group, weighted: bool, test_label: str | None,
                hr_label: str | None) -> str:
    """The test, HR and note lines, in that order."""
    lines = []
    if o.test is not None:
        lines.append(test_text(o.test, weighted, o.test_label or test_label))
    if o.hr is not None:
        lines.append(hr_text(o.hr, o.hr_term, group, weighted, o.hr_label or hr_label))
    elif o.hr_label:
        lines.append(o.hr_label)  # a ready-made HR line (no result object to read)
    if o.note:
        lines.append(o.note)
    return "\n".join(lines)


def _figure(o: CurveOptions, curves: list[Curve], table: pd.DataFrame, groups: list,
            weighted: bool, xb: np.ndarray, unit_days: float, *, kind: str,
            censor_marks: bool, annotation: str, ylabel: str, n_legend: int, target):
    """Risk tables, axis labels and legend default, then the drawing."""
    rows = check_rows(o.risk_table_rows)
    check_counts(o.weighted_counts)
    min_cell = o.min_cell
    if min_cell:  # the tables' rule, imported only when asked for (it loads scipy.stats)
        from ..tables._suppress import check_min_cell

        min_cell = check_min_cell(min_cell)
    xmax = float(xb[-1])
    yl = ylim_for(curves, kind, o.conf_int, xmax, o.ylim)
    risk, row_titles = None, dict(ROW_TITLES)
    if o.risk_table:
        risk, rows, row_titles = risk_tables(table, xb, unit_days, o.unit, groups, o.labels,
                                             weighted, o.weighted_counts, rows)
    xlabel = o.xlabel or f"Time since index procedure ({o.unit})"
    legend = (n_legend > 1) if o.legend is None else o.legend
    out = render(curves, risk, rows, row_titles, xb, xmax, yl, o.percent, o.conf_int,
                 censor_marks, xlabel, o.ylabel or ylabel, annotation, kind, legend,
                 o.legend_title, o.title, o.width, o.height, o.fontsize, o.labels, groups,
                 o.return_table, target)
    if min_cell > 1 and risk is not None:  # small counts drawn and tabulated as "<min_cell"
        out = suppress_drawn(out, min_cell, panel=target is not None)
    return out


# -- public -----------------------------------------------------------------------------

def plot_km(km, options: CurveOptions | None = None, *, kind: str = "survival",
            landmark: float | bool | None = None, _target=None, **kwargs: Any):
    """Kaplan-Meier figure with a number-at-risk table, ready for a journal.

    Parameters
    ----------
    km : KaplanMeier
        Result of :func:`mace_outcomes.kaplan_meier` (weighted or not).
    options : CurveOptions, optional
        Figure options to reuse across figures; keyword arguments override them.
    kind : {"survival", "event"}
        ``"survival"`` draws S(t) falling from 1; ``"event"`` the cumulative incidence
        1 - S(t) rising from 0 (how MACE curves are shown), with the y-axis zoomed to
        the data unless ``ylim`` is given.
    landmark : float or True, optional
        Draw the landmark figure instead (two panels, before and after the landmark):
        ``km`` is then :func:`mace_outcomes.landmark_curves` fitted at that day.
    **kwargs
        Any field of :class:`~mace_outcomes.plots.options.CurveOptions`: conf_int,
        censor_marks, percent, unit, days_per_unit, breaks, risk_table,
        risk_table_rows, weighted_counts, min_cell, test, test_label, hr, hr_term,
        hr_label, note, labels, palette, order, linestyles, width, height, fontsize,
        title, xlabel, ylabel, ylim, legend, legend_title, return_table.
        ``min_cell=5`` draws the counts 1-4 of the risk table as ``<5`` (small-cell
        suppression; ``fig.risk_table`` holds the same text).

    Returns
    -------
    matplotlib.figure.Figure
        Also carrying ``fig.risk_table``: a DataFrame (group, label, time [unit],
        time_days, n_risk, cum_events, cum_censored, counts) of the numbers drawn
        (unrounded; the figure shows them rounded to integers), ``fig.axes[0]`` the
        curve axes and ``fig.risk_axes`` the table axes (each number a Text artist at
        its tick's x, gid ``"risk:<row>:<group>"``). With ``return_table=True``,
        ``(fig, table)``. Save it with :func:`mace_outcomes.plots.save_figure`.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [30, 90, 200, 365, 365, 120, 365, 300],
    ...                    "event": [1, 1, 0, 0, 0, 1, 0, 1],
    ...                    "arm": ["OCT"] * 4 + ["IVUS"] * 4})
    >>> km = mo.kaplan_meier(df, group="arm")
    >>> fig = mo.plot_km(km, kind="event", breaks=(0, 3, 6, 9, 12))
    >>> fig.risk_table[["group", "time", "n_risk"]].head(2)  # treated (OCT) first
      group  time  n_risk
    0   OCT   0.0     4.0
    1   OCT   3.0     2.0

    References
    ----------
    Kassambara A et al. survminer: Drawing Survival Curves using 'ggplot2' (ggsurvplot,
    the layout reviewers expect). Pocock SJ, Clayton TC, Altman DG (2002). Survival plots
    of time-to-event outcomes in clinical trials: good practice and pitfalls. Lancet
    359:1686-1689 (numbers at risk, cumulative incidence rising from 0, y-axis range).
    """
    if landmark is not None:
        return _landmark_figure(km, landmark, options, kind, kwargs)
    o = curve_options(options, kwargs)
    check_kind(kind)
    check_rows(o.risk_table_rows)
    table = table_of(km, "km")
    groups = groups_of(km, table, o.order)
    unit_days = days_per_display_unit(o.unit, o.days_per_unit, km)
    weighted = bool(km.weighted)
    annotation = _annotation(o, km.group, weighted, None, None)
    check_counts(o.weighted_counts)
    xb = breaks_for(o.breaks, table, unit_days, o.unit)
    curves = km_curves(km, kind, unit_days, groups, o.labels, colours_for(groups, o.palette),
                       line_styles(groups, o.linestyles))
    what = "Survival" if kind == "survival" else "Cumulative incidence"
    ylabel = (f"{what} (%)" if o.percent else f"{what} probability" if kind == "survival"
              else what)
    return _figure(o, curves, table, groups, weighted, xb, unit_days, kind=kind,
                   censor_marks=o.censor_marks, annotation=annotation, ylabel=ylabel,
                   n_legend=len(groups), target=_target)


def _landmark_figure(lm, at: float, options, kind: str, kwargs: dict):
    """``plot_km(mo.landmark_curves(df, at=30), landmark=30)``: the two-panel figure."""
    if not hasattr(lm, "curves") or not hasattr(lm, "at"):
        raise InputError(Problem(
            "landmark= needs the two windows fitted, not one curve or a frame",
            column="landmark", fix=f"fit them with mo.landmark_curves(df, at={at:g}, "
            "group='arm') and pass that result"))
    if at is not True and float(at) != lm.at:
        raise InputError(Problem(f"landmark={at} but the windows were fitted at {lm.at:g}",
                                 column="landmark", fix="pass landmark=True or the same day"))
    return draw_landmark(plot_km, lm, options, kind=kind, **kwargs)


def plot_landmark(lm, options: CurveOptions | None = None, **kwargs: Any):
    """Landmark figure: 0 to ``at`` and ``at`` onwards side by side, each panel with its
    own curves, numbers at risk and log-rank test (as PCI papers print 0-30 days and
    30 days-1 year), from :func:`mace_outcomes.landmark_curves`. Keywords: ``kind``
    (default ``"event"``), ``titles``, ``width`` and any CurveOptions field (``breaks``
    may be a pair, one per panel); see :func:`mace_outcomes.plots.landmark.draw_landmark`.
    """
    return draw_landmark(plot_km, lm, options, **kwargs)


def plot_cif(ci, options: CurveOptions | None = None, *, _target=None, **kwargs: Any):
    """Competing-risk cumulative incidence (Aalen-Johansen) figure with a risk table.

    Parameters
    ----------
    ci : CumulativeIncidence or mapping of name -> CumulativeIncidence
        Result(s) of :func:`mace_outcomes.cumulative_incidence`. A mapping draws several
        causes of the same data (e.g. ``{"MACE": ci1, "Non-cardiac death": ci2}``): one
        colour per group, one line style per cause (solid, dashed, dotted). The risk
        table (subjects still event-free and followed) is read from the first.
    options, **kwargs
        As for :func:`plot_km` (``test`` is a GrayTest, annotated as "Gray's test";
        ``hr`` a Fine-Gray or Cox result, annotated as "SHR"); curves always rise from 0
        and carry no censor ticks.

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.risk_table`` as for :func:`plot_km`.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [30, 90, 200, 365, 365, 120, 365, 300],
    ...                    "status": [1, 2, 0, 0, 0, 1, 0, 2],
    ...                    "arm": ["OCT"] * 4 + ["IVUS"] * 4})
    >>> fig = mo.plot_cif(mo.cumulative_incidence(df, group="arm"), breaks=(0, 6, 12))

    References
    ----------
    Aalen OO, Johansen S (1978). Scand J Stat 5:141-150. Gray RJ (1988). Ann Stat
    16:1141-1154. Austin PC, Lee DS, Fine JP (2016). Introduction to the analysis of
    survival data in the presence of competing risks. Circulation 133:601-609 (why
    1 - KM overstates the incidence when deaths compete).
    """
    o = curve_options(options, kwargs)
    check_rows(o.risk_table_rows)
    causes = dict(ci) if isinstance(ci, Mapping) else {None: ci}
    if not causes:
        raise InputError(Problem("no cumulative incidence given", column="ci"))
    first = next(iter(causes.values()))
    table = table_of(first, "ci")
    groups = groups_of(first, table, o.order)
    unit_days = days_per_display_unit(o.unit, o.days_per_unit, first)
    weighted = bool(first.weighted)
    annotation = _annotation(o, first.group, weighted, "Gray's test", "SHR")
    xb = breaks_for(o.breaks, table, unit_days, o.unit)
    curves = cif_curves(causes, groups, o.labels, colours_for(groups, o.palette), unit_days)
    ylabel = "Cumulative incidence (%)" if o.percent else "Cumulative incidence"
    return _figure(o, curves, table, groups, weighted, xb, unit_days, kind="event",
                   censor_marks=False, annotation=annotation, ylabel=ylabel,
                   n_legend=len(curves), target=_target)


def plot_km_panels(results: Mapping, *, ncols: int | None = None,
                   width: str | float = "double", panel_labels: bool = True,
                   sharey: bool = False, tests: Mapping | None = None,
                   hrs: Mapping | None = None, return_table: bool = False, **kwargs):
    """Several Kaplan-Meier (or cumulative-incidence) figures as lettered panels.

    One call draws MACE and each of its components, each panel with its own
    number-at-risk table.

    Parameters
    ----------
    results : mapping of panel title -> KaplanMeier or CumulativeIncidence
        e.g. ``{"MACE": km_mace, "Cardiac death": km_cd, "MI": km_mi, "TVR": km_tvr}``.
    ncols : int, optional
        Panels per row (default 2 for a double column, 1 for a single one).
    panel_labels : bool
        Prefix titles with A, B, C, ...
    sharey : bool
        The same y-axis range in every panel (default: each panel zoomed to its data).
    tests, hrs : mapping of panel title -> test / HR result, optional
        Passed to each panel as ``test`` / ``hr``.
    **kwargs
        Passed to :func:`plot_km` (or :func:`plot_cif`): kind, breaks, unit, labels,
        palette, risk_table_rows, ...

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.risk_table`` stacks the panels' tables with a ``panel`` column.
    """
    if not isinstance(results, Mapping) or not results:
        raise InputError(Problem("results must be a non-empty mapping of title -> curves",
                                 column="results"))
    total = figure_width(width)
    n = len(results)
    if ncols is None:
        ncols = 1 if total < 5 or n == 1 else 2
    nrows = int(np.ceil(n / ncols))
    panel_w = total / ncols
    tests = tests or {}
    hrs = hrs or {}
    if sharey and "ylim" not in kwargs:
        kwargs["ylim"] = _shared_ylim(results, kwargs)

    heights = []
    for name, res in results.items():
        one = next(iter(res.values())) if isinstance(res, Mapping) else res
        n_groups = len(groups_of(one, table_of(one, name)))
        rows = check_rows(kwargs.get("risk_table_rows", ("n_risk",)))
        n_rows = len(rows) if kwargs.get("risk_table", True) else 0
        if one.weighted and kwargs.get("weighted_counts") == "both":
            n_rows *= 2
        lay = layout(panel_w, kwargs.get("fontsize", 7.0))
        heights.append(figure_height(lay, n_groups, n_rows, n_groups > 1, True))
    row_h = [max(heights[r * ncols:(r + 1) * ncols]) for r in range(nrows)]

    with figure_style(kwargs.get("fontsize", 7.0)):
        fig = new_figure(total, sum(row_h))
        subs = np.atleast_1d(fig.subfigures(nrows, ncols, height_ratios=row_h,
                                            squeeze=False)).ravel()
    tables = []
    for k, (name, res) in enumerate(results.items()):
        letter = f"{chr(ord('A') + k)}  " if panel_labels else ""
        opts = dict(kwargs)
        opts.setdefault("fontsize", 7.0)
        draw = plot_cif if _is_cif(res) else plot_km
        if draw is plot_cif:  # always rising, no censor ticks
            opts.pop("kind", None)
            opts.pop("censor_marks", None)
        _, risk = draw(res, width=panel_w, title=f"{letter}{name}", test=tests.get(name),
                       hr=hrs.get(name), _target=subs[k], **opts)
        if risk is not None:
            risk = risk.copy()
            risk.insert(0, "panel", name)
            tables.append(risk)
    for sub in subs[n:]:
        sub.set_visible(False)
    risk_all = pd.concat(tables, ignore_index=True) if tables else None
    return finish(fig, risk_all, return_table)


def _is_cif(res) -> bool:
    if isinstance(res, Mapping):
        return True
    table = getattr(res, "table", None)
    return isinstance(table, pd.DataFrame) and "cif" in table.columns


def _shared_ylim(results: Mapping, kwargs: Mapping) -> tuple[float, float]:
    kind = kwargs.get("kind", "survival")
    if kind == "survival" and not any(_is_cif(r) for r in results.values()):
        return 0.0, 1.0
    unit = kwargs.get("unit", "months")
    first = next(iter(results.values()))
    first = next(iter(first.values())) if isinstance(first, Mapping) else first
    unit_days = days_per_display_unit(unit, kwargs.get("days_per_unit"), first)
    conf_int = kwargs.get("conf_int", True)
    top = 0.0
    for name, res in results.items():
        items = res.values() if isinstance(res, Mapping) else [res]
        for r in items:
            table = table_of(r, name)
            groups = groups_of(r, table)
            xb = breaks_for(kwargs.get("breaks"), table, unit_days, unit)
            if _is_cif(r):
                col = "upper" if conf_int else "cif"
                keep = table["time"] / unit_days <= xb[-1]
                vals = table.loc[keep, col].to_numpy(dtype=float)
            else:
                curves = km_curves(r, "event", unit_days, groups, None,
                                    {g: "k" for g in groups})
                vals = np.concatenate([(c.upper if conf_int else c.y)[c.x <= xb[-1]]
                                       for c in curves])
            vals = vals[np.isfinite(vals)]
            top = max(top, float(vals.max()) if vals.size else 0.0)
    dummy = Curve(None, "", "k", "-", np.array([0.0]), np.array([top]), np.array([top]),
                   np.array([top]), np.empty(0), np.empty(0))
    return ylim_for([dummy], "event", False, np.inf, None)
