"""Kaplan-Meier and cumulative-incidence figures with a number-at-risk table.

What reviewers expect from R's survminer ``ggsurvplot``: step curves with censor
ticks and confidence bands, survival or cumulative-incidence orientation, the
number at risk under the x-axis at the tick times (optionally cumulative events and
censorings), the right test and the hazard ratio annotated, arm colours and labels
from the data, journal column sizes.

The at-risk numbers are drawn as text at the tick positions of the curve axis (the
table axes share its x-axis), so they line up with the ticks by construction; the
numbers drawn are returned as a DataFrame on ``fig.risk_table``.
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

from ..errors import InputError, Problem
from .style import (
    figure_style,
    figure_width,
    font_size,
    format_p,
    format_ratio,
    new_figure,
    palette_for,
)

__all__ = ["plot_km", "plot_cif", "plot_km_panels", "at_risk_table", "UNITS"]

#: days per display unit. A month is 365/12 days so that 12 months is exactly the
#: 365-day horizon most registries censor at (with 365.25/12 the 12-month column of the
#: risk table would count those followed 365.25 days: nobody, under a 365-day horizon).
UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.0 / 12.0,
                           "years": 365.0}

_BREAK_STEPS = {"days": (7, 14, 30, 60, 90, 180, 365, 730), "weeks": (1, 2, 4, 8, 13, 26, 52),
                "months": (1, 2, 3, 6, 12, 24, 36, 60), "years": (0.5, 1, 2, 5, 10)}

ROW_TITLES = {"n_risk": "Number at risk", "cum_events": "Cumulative events",
              "cum_censored": "Cumulative censored"}


# -- data -------------------------------------------------------------------------------

@dataclass
class _Curve:
    group: object
    label: str
    colour: str
    linestyle: str
    x: np.ndarray          # display units, starting at 0
    y: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    censor_x: np.ndarray
    censor_y: np.ndarray


def _table_of(result, what: str) -> pd.DataFrame:
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise InputError(Problem(f"{what} has no .table DataFrame", column=what,
                                 fix="pass the result of mo.kaplan_meier / "
                                     "mo.cumulative_incidence"))
    return table


def _groups_of(result, table: pd.DataFrame, order: Sequence | None = None) -> list:
    groups = getattr(result, "groups", None)
    if groups is None:
        groups = list(pd.unique(table["group"]))
    groups = list(groups)
    if order is None:
        return groups
    order = list(order)
    known = {str(g): g for g in groups}
    missing = [o for o in order if o not in groups and str(o) not in known]
    if missing:
        raise InputError(Problem(f"order names groups {missing} not in the data "
                                 f"(groups: {groups})", column="order"))
    picked = [o if o in groups else known[str(o)] for o in order]
    return picked + [g for g in groups if g not in picked]


def _label_for(group, labels: Mapping | None) -> str:
    if labels:
        if group in labels:
            return str(labels[group])
        if str(group) in labels:
            return str(labels[str(group)])
    return "All" if group == "all" else str(group)


def _colours(groups: list, palette) -> dict:
    # one curve (no grouping): black, the colour of an overall curve in print
    if palette is None and len(groups) == 1:
        return {groups[0]: "#000000"}
    return palette_for(groups, palette)


def at_risk_table(table: pd.DataFrame, times_days: Sequence[float], groups: Sequence,
                  counts: str = "weighted") -> pd.DataFrame:
    """Numbers at risk, cumulative events and censorings at given times, per group.

    ``table`` is a curve table with one row per distinct time (censoring times
    included): group, time, n_risk, n_event (and n_censor; weighted curves also
    n_risk_unweighted, n_event_unweighted). At a time ``t``: ``n_risk`` counts the
    subjects still followed (time >= t), ``cum_events`` the events at times <= t and
    ``cum_censored`` the censorings at times <= t -- survminer's convention.

    ``counts="unweighted"`` reads the unweighted columns of a weighted curve; the
    censorings are then the drop in the unweighted risk set not explained by events.
    """
    if counts not in ("weighted", "unweighted"):
        raise InputError(Problem(f"counts must be 'weighted' or 'unweighted', not {counts!r}",
                                 column="weighted_counts"))
    t = np.asarray(times_days, dtype=float)
    raw = counts == "unweighted" and "n_risk_unweighted" in table.columns
    r_col = "n_risk_unweighted" if raw else "n_risk"
    e_col = "n_event_unweighted" if raw else "n_event"
    frames = []
    for g in groups:
        c = table[table["group"] == g].sort_values("time", kind="stable")
        grid = c["time"].to_numpy(dtype=float)
        n_risk = c[r_col].to_numpy(dtype=float)
        n_event = c[e_col].to_numpy(dtype=float)
        if "n_censor" in c.columns and not raw:
            n_censor = c["n_censor"].to_numpy(dtype=float)
        elif "n_event_any" in c.columns:
            # competing-risk table: competing events also leave the risk set, and their
            # unweighted count is not kept -- the unweighted censorings are unknown
            n_censor = np.full(n_risk.size, np.nan)
        else:
            # whoever leaves the risk set without an event was censored
            n_censor = n_risk - n_event - np.append(n_risk[1:], 0.0)
        first_at_or_after = np.searchsorted(grid, t, side="left")
        upto = np.searchsorted(grid, t, side="right")
        frames.append(pd.DataFrame({
            "group": [g] * t.size,
            "time_days": t,
            "n_risk": np.append(n_risk, 0.0)[first_at_or_after],
            "cum_events": np.r_[0.0, np.cumsum(n_event)][upto],
            "cum_censored": np.r_[0.0, np.cumsum(n_censor)][upto],
        }))
    out = pd.concat(frames, ignore_index=True)
    out["counts"] = "unweighted" if (raw or "n_risk_unweighted" not in table.columns) \
        else "weighted"
    return out


def _line_styles(groups: list, linestyles) -> dict:
    """Solid for all (default); True: solid, dashed, dotted, ... so print in grey works."""
    if linestyles is None or linestyles is False:
        return {}
    if linestyles is True:
        linestyles = _CAUSE_STYLES
    if isinstance(linestyles, Mapping):
        return dict(linestyles)
    styles = list(linestyles)
    return {g: styles[i % len(styles)] for i, g in enumerate(groups)}


def _km_curves(km, kind: str, unit_days: float, groups: list, labels, colours,
               styles: Mapping | None = None) -> list:
    styles = styles or {}
    table = _table_of(km, "km")
    curves = []
    for g in groups:
        c = table[table["group"] == g].sort_values("time", kind="stable")
        t = c["time"].to_numpy(dtype=float) / unit_days
        s = c["surv"].to_numpy(dtype=float)
        lo = c["lower"].to_numpy(dtype=float) if "lower" in c else np.full_like(s, np.nan)
        hi = c["upper"].to_numpy(dtype=float) if "upper" in c else np.full_like(s, np.nan)
        # every curve starts at (0, 1): S(0) = 1 with no uncertainty
        x = np.r_[0.0, t]
        y, lower, upper = np.r_[1.0, s], np.r_[1.0, lo], np.r_[1.0, hi]
        cens = c["n_censor"].to_numpy(dtype=float) > 0 if "n_censor" in c \
            else np.zeros(t.size, bool)
        cx, cy = t[cens], s[cens]
        if kind == "event":
            y, lower, upper, cy = 1.0 - y, 1.0 - upper, 1.0 - lower, 1.0 - cy
        curves.append(_Curve(g, _label_for(g, labels), colours[g], styles.get(g, "-"),
                             x, y, lower, upper,
                             cx, cy))
    return curves


def _check_kind(kind: str) -> None:
    if kind not in ("survival", "event"):
        raise InputError(Problem(f"kind must be 'survival' or 'event', not {kind!r}",
                                 column="kind",
                                 fix="'event' draws 1 - S rising from 0 (e.g. MACE)"))


def _unit_days(unit: str, days_per_unit: float | None, result=None) -> float:
    """Data time units per display unit (the data are in days unless the result says)."""
    if unit not in UNITS and days_per_unit is None:
        raise InputError(Problem(f"unit must be one of {list(UNITS)}, not {unit!r}",
                                 column="unit"))
    per_unit = float(days_per_unit) if days_per_unit is not None else UNITS[unit]
    data_unit = getattr(result, "time_unit", None) or getattr(result, "time_units", None)
    if data_unit in (None, "days", "day"):
        return per_unit
    data_unit = str(data_unit).rstrip("s") + "s"
    if data_unit not in UNITS:
        raise InputError(Problem(f"the curves are in {data_unit!r}: give days_per_unit",
                                 column="unit"))
    return per_unit / UNITS[data_unit]


def _default_breaks(max_time: float, unit: str) -> np.ndarray:
    """Round steps (3 months, 90 days, ...) giving at most 6 intervals."""
    steps = _BREAK_STEPS.get(unit, (1, 2, 5, 10, 20, 50, 100))
    if max_time <= 0:
        return np.array([0.0, steps[0]])
    for step in steps:
        if max_time / step <= 6.05:
            break
    # a last break a few days short of the data is fine: those days are cut off
    n = max(1, int(np.ceil(max_time / step - 0.05)))
    return np.arange(n + 1) * float(step)


# -- annotation -------------------------------------------------------------------------

def _test_text(test, weighted_curves: bool, test_label: str | None) -> str:
    p = getattr(test, "p_value", None)
    if p is None:
        p = getattr(test, "p", None)
    if p is None:
        raise InputError(Problem("the test has no p_value", column="test",
                                 fix="pass the result of mo.logrank"))
    test_weighted = bool(getattr(test, "weighted", False))
    if weighted_curves and not test_weighted:
        raise InputError(Problem(
            "the curves are weighted (IPTW) but the test is unweighted: an unweighted "
            "p-value must not annotate a weighted figure", column="test",
            fix="pass mo.logrank(..., weights=...) (the IPTW log-rank test) or test=None"))
    if test_weighted and not weighted_curves:
        raise InputError(Problem(
            "the test is weighted (IPTW) but the curves are not", column="test",
            fix="draw weighted curves (mo.kaplan_meier(..., weights=...)) or pass the "
                "unweighted log-rank test"))
    if test_label is None:
        test_label = "IPTW log-rank" if test_weighted else "Log-rank"
    text = format_p(float(p))
    return f"{test_label} p {'<' if text.startswith('<') else '='} {text.lstrip('<')}"


def _hr_values(hr, hr_term: str | None, group: str | None) -> tuple[float, float, float, float]:
    """(hr, lower, upper, conf_level) from a Cox result, a mapping or a 3-tuple."""
    if isinstance(hr, (Mapping, pd.Series)):  # e.g. a row of mo.compare_arms(...).table
        return float(hr["hr"]), float(hr["lower"]), float(hr["upper"]), \
            float(hr.get("conf_level", 0.95))
    if isinstance(hr, (tuple, list)) and len(hr) == 3:
        return float(hr[0]), float(hr[1]), float(hr[2]), 0.95
    summary = getattr(hr, "summary", None)
    if not isinstance(summary, pd.DataFrame):
        raise InputError(Problem("hr must be a Cox result, a mapping with hr, lower, upper "
                                 "or a tuple (hr, lower, upper)", column="hr"))
    if hr_term is not None:
        if hr_term not in summary.index:
            raise InputError(Problem(f"term {hr_term!r} is not in the model "
                                     f"({list(summary.index)})", column="hr_term"))
        row = summary.loc[hr_term]
    elif len(summary) == 1:
        row = summary.iloc[0]
    else:
        match = [t for t in summary.index if group and str(t).startswith(str(group))]
        if len(match) != 1:
            raise InputError(Problem(
                f"the model has terms {list(summary.index)}: which one is the arm?",
                column="hr_term", fix="pass hr_term='<term>'"))
        row = summary.loc[match[0]]
    return (float(row["hr"]), float(row["lower"]), float(row["upper"]),
            float(getattr(hr, "conf_level", 0.95)))


def _hr_text(hr, hr_term, group, weighted_curves: bool, hr_label: str | None) -> str:
    if weighted_curves and not isinstance(hr, (Mapping, pd.Series, tuple, list)):
        weighted = getattr(hr, "weighted", None)
        if weighted is None:
            # without weights the Cox fit uses the model-based variance
            weighted = bool(getattr(hr, "robust", False))
        if not weighted:
            raise InputError(Problem(
                "the curves are weighted (IPTW) but the Cox model is not", column="hr",
                fix="pass mo.cox(..., weights=...) fitted with the same weights"))
    est, lo, hi, level = _hr_values(hr, hr_term, group)
    if hr_label is None:
        hr_label = "HR (Firth)" if getattr(hr, "firth", False) else "HR"
    return (f"{hr_label} {format_ratio(est)} ({level:.0%} CI {format_ratio(lo)}\u2013"
            f"{format_ratio(hi)})")


# -- drawing ----------------------------------------------------------------------------

@dataclass
class _Layout:
    fontsize: float
    width_in: float
    main_height: float
    line: float        # one table line, inches


def _layout(width: str | float, fontsize: float | None) -> _Layout:
    """Curve panel about 0.62 x the width (at most 3.2 in), table lines 1.5 x the font."""
    w = figure_width(width)
    fs = font_size(width) if fontsize is None else float(fontsize)
    return _Layout(fs, w, min(0.62 * w, 3.2), fs * 1.5 / 72)


def _figure_height(lay: _Layout, n_groups: int, n_rows: int, legend: bool,
                   title: bool) -> float:
    pt = lay.fontsize / 72
    h = lay.main_height + 3.4 * pt            # tick labels and x label
    h += 2.0 * pt if legend else 0.0
    h += 2.0 * pt if title else 0.0
    h += n_rows * (n_groups * lay.line + 2.2 * pt)
    return h + 0.08


def _draw(target, curves: list[_Curve], risk: pd.DataFrame | None, *, rows: Sequence[str],
          row_titles: Mapping[str, str], breaks: np.ndarray, xmax: float, ylim, percent: bool,
          conf_int: bool, censor_marks: bool, xlabel: str, ylabel: str, annotation: str,
          kind: str, legend: bool, legend_title: str | None, title: str | None,
          lay: _Layout, table_labels: Mapping) -> dict:
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
        ax.legend(handles, [c.label for c in curves], loc="lower left",
                  bbox_to_anchor=(0.0, 1.0), frameon=False,
                  ncols=len(curves) if len(curves) <= 3 else int(np.ceil(len(curves) / 2)),
                  borderaxespad=0.2, handlelength=1.6, columnspacing=1.2,
                  title=legend_title, alignment="left")
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


def _ylim(curves: list[_Curve], kind: str, conf_int: bool, xmax: float, ylim) -> tuple:
    if ylim is not None:
        lo, hi = ylim
        if hi > 1.0 + 1e-9:
            raise InputError(Problem(f"ylim {ylim} is not on the probability scale",
                                     column="ylim", fix="give proportions, e.g. (0, 0.3)"))
        return float(lo), float(hi)
    if kind == "survival":
        return 0.0, 1.0
    # cumulative incidence: zoom to the data -- MACE of 10% on a 0-1 axis is a flat line
    top = 0.0
    for c in curves:
        keep = c.x <= xmax
        # the curve itself counts too: its limits are undefined once S reaches 0
        vals = np.r_[c.y[keep], c.upper[keep]] if conf_int else c.y[keep]
        vals = vals[np.isfinite(vals)]
        if vals.size:
            top = max(top, float(vals.max()))
    for step in (0.01, 0.02, 0.05, 0.1, 0.2):
        if top * 1.05 / step <= 6:
            break
    return 0.0, min(1.0, max(step, step * np.ceil(top * 1.05 / step)))


def _check_rows(rows: Sequence[str]) -> list[str]:
    rows = [rows] if isinstance(rows, str) else list(rows)
    bad = [r for r in rows if r not in ROW_TITLES]
    if bad:
        raise InputError(Problem(f"unknown risk-table rows {bad}", column="risk_table_rows",
                                 fix=f"choose from {list(ROW_TITLES)}"))
    return rows


def _finish(fig: Figure, risk: pd.DataFrame | None, return_table: bool):
    fig.risk_table = risk
    return (fig, risk) if return_table else fig


# -- public -----------------------------------------------------------------------------

def plot_km(km, *, kind: str = "survival", conf_int: bool = True, censor_marks: bool = True,
            percent: bool = False, unit: str = "months", days_per_unit: float | None = None,
            breaks: Sequence[float] | None = None, risk_table: bool = True,
            risk_table_rows: Sequence[str] = ("n_risk",), weighted_counts: str = "weighted",
            test=None, test_label: str | None = None, hr=None, hr_term: str | None = None,
            hr_label: str | None = None, note: str | None = None,
            labels: Mapping | None = None, palette: Sequence[str] | Mapping | None = None,
            order: Sequence | None = None, linestyles=None,
            width: str | float = "single", height: float | None = None,
            fontsize: float | None = None, title: str | None = None,
            xlabel: str | None = None, ylabel: str | None = None,
            ylim: tuple[float, float] | None = None, legend: bool | None = None,
            legend_title: str | None = None, return_table: bool = False,
            _target=None):
    """Kaplan-Meier figure with a number-at-risk table, ready for a journal.

    Parameters
    ----------
    km : KaplanMeier
        Result of :func:`mace_outcomes.kaplan_meier` (weighted or not).
    kind : {"survival", "event"}
        ``"survival"`` draws S(t) falling from 1; ``"event"`` the cumulative incidence
        1 - S(t) rising from 0 (how MACE curves are shown), with the y-axis zoomed to
        the data unless ``ylim`` is given.
    conf_int, censor_marks : bool
        Pointwise confidence bands (``km``'s conf_type and level) and a tick at each
        censoring time.
    percent : bool
        y-axis in percent instead of proportion.
    unit : {"months", "days", "weeks", "years"}
        x-axis unit; the data are in days. A month is 365/12 days (12 months = 365 days)
        and a year 365 days unless ``days_per_unit`` says otherwise.
    breaks : sequence of float, optional
        x ticks in ``unit`` (e.g. ``(0, 3, 6, 9, 12)``), also the times of the risk
        table; the x-axis ends at the last break. Default: round steps over the data.
    risk_table : bool
        Draw the number-at-risk table under the x-axis.
    risk_table_rows : sequence of {"n_risk", "cum_events", "cum_censored"}
        Which tables to draw, top to bottom.
    weighted_counts : {"weighted", "unweighted", "both"}
        For weighted curves: the weighted (pseudo-population) or the actual numbers, or
        both tables one under the other; each table's title says which. Ignored for
        unweighted curves. With "both", ``fig.risk_table`` adds ``n_risk_unweighted``,
        ``cum_events_unweighted`` and ``cum_censored_unweighted``.
    test : LogrankResult, optional
        Annotated as ``Log-rank p = 0.002``. Weighted curves need the weighted (IPTW)
        test and unweighted curves the unweighted one: a mismatch raises ``InputError``.
    hr : CoxResult, mapping / Series with hr, lower, upper, or (hr, lower, upper), optional
        Annotated as ``HR 0.59 (95% CI 0.42-0.83)``. ``hr_term`` picks the model term
        (default: the only term, or the one named after ``km.group``). An unweighted Cox
        model on weighted curves raises ``InputError``. ``hr_label`` replaces "HR"; given
        without ``hr`` it is printed as a ready-made line.
    note : str, optional
        A further annotation line (e.g. "Firth-penalised Cox").
    labels : mapping, optional
        Display label per group (e.g. ``{1: "OCT", 0: "IVUS"}``); default the group
        values from the data.
    palette : sequence or mapping of colours, optional
        Default Okabe-Ito (colour-blind safe), in group order.
    order : sequence, optional
        Groups in display order (legend, table rows, colours), e.g. ``["OCT", "IVUS"]``
        to put the treatment arm first; default ``km.groups`` (sorted).
    linestyles : bool, sequence or mapping, optional
        ``True`` draws the groups solid, dashed, dotted, ... (readable in greyscale
        print); or give the styles. Default all solid.
    width : {"single", "double"} or float
        Journal column (3.5 or 7.2 in) or inches. ``height`` defaults to fit the curves
        and the tables; ``fontsize`` to 7 pt (single) or 8 pt (double).
    title, xlabel, ylabel, ylim, legend, legend_title
        Usual meanings; ``ylim`` in proportions. The legend (above the curves) is shown
        when there is more than one group unless ``legend`` says otherwise.
    return_table : bool
        Return ``(fig, table)`` instead of ``fig``.

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
    >>> fig.risk_table[["group", "time", "n_risk"]].head(2)
      group  time  n_risk
    0  IVUS   0.0     4.0
    1  IVUS   3.0     4.0

    References
    ----------
    Kassambara A et al. survminer: Drawing Survival Curves using 'ggplot2' (ggsurvplot,
    the layout reviewers expect). Pocock SJ, Clayton TC, Altman DG (2002). Survival plots
    of time-to-event outcomes in clinical trials: good practice and pitfalls. Lancet
    359:1686-1689 (numbers at risk, cumulative incidence rising from 0, y-axis range).
    """
    _check_kind(kind)
    rows = _check_rows(risk_table_rows)
    table = _table_of(km, "km")
    groups = _groups_of(km, table, order)
    colours = _colours(groups, palette)
    unit_days = _unit_days(unit, days_per_unit, km)
    weighted = bool(getattr(km, "weighted", False))
    group_col = getattr(km, "group", None)

    lines = []
    if test is not None:
        lines.append(_test_text(test, weighted, test_label))
    if hr is not None:
        lines.append(_hr_text(hr, hr_term, group_col, weighted, hr_label))
    elif hr_label:
        lines.append(hr_label)  # a ready-made HR line (no result object to read)
    if note:
        lines.append(note)
    _check_counts(weighted_counts)

    xb = _breaks(breaks, table, unit_days, unit)
    xmax = float(xb[-1])
    curves = _km_curves(km, kind, unit_days, groups, labels, colours,
                        _line_styles(groups, linestyles))
    yl = _ylim(curves, kind, conf_int, xmax, ylim)

    risk, rows, row_titles = None, rows, dict(ROW_TITLES)
    if risk_table:
        risk, rows, row_titles = _risk_tables(table, xb, unit_days, unit, groups, labels,
                                              weighted, weighted_counts, rows)

    if xlabel is None:
        xlabel = f"Time since index procedure ({unit})"
    if ylabel is None:
        what = "Survival" if kind == "survival" else "Cumulative incidence"
        ylabel = f"{what} (%)" if percent else f"{what} probability" if kind == "survival" \
            else what
    legend = (len(groups) > 1) if legend is None else legend

    return _render(curves, risk, rows, row_titles, xb, xmax, yl, percent, conf_int,
                   censor_marks, xlabel, ylabel, "\n".join(lines), kind, legend, legend_title,
                   title, width, height, fontsize, labels, groups, return_table, _target)


def _breaks(breaks, table: pd.DataFrame, unit_days: float, unit: str) -> np.ndarray:
    if breaks is None:
        max_t = float(table["time"].max()) / unit_days if len(table) else 1.0
        return _default_breaks(max_t, unit)
    xb = np.asarray(breaks, dtype=float)
    if xb.ndim != 1 or xb.size < 2 or np.any(np.diff(xb) <= 0) or xb[0] < 0:
        raise InputError(Problem(f"breaks {list(breaks)} must be increasing, >= 0, "
                                 "at least two", column="breaks"))
    return xb


def _check_counts(weighted_counts: str) -> None:
    if weighted_counts not in ("weighted", "unweighted", "both"):
        raise InputError(Problem("weighted_counts must be 'weighted', 'unweighted' or 'both'",
                                 column="weighted_counts"))


def _risk_tables(table, xb, unit_days, unit, groups, labels, weighted: bool,
                 weighted_counts: str, rows: list[str]):
    """The risk-table frame, the rows to draw and their titles (saying which counts)."""
    if not weighted:
        return (_risk_frame(table, xb, unit_days, unit, groups, labels, "weighted"), rows,
                dict(ROW_TITLES))
    if weighted_counts != "both":
        risk = _risk_frame(table, xb, unit_days, unit, groups, labels, weighted_counts)
        return risk, rows, {k: f"{v} ({weighted_counts})" for k, v in ROW_TITLES.items()}
    risk = _risk_frame(table, xb, unit_days, unit, groups, labels, "weighted")
    raw = _risk_frame(table, xb, unit_days, unit, groups, labels, "unweighted")
    for col in ROW_TITLES:
        risk[f"{col}_unweighted"] = raw[col].to_numpy()
    titles = {k: f"{v} (weighted)" for k, v in ROW_TITLES.items()}
    titles.update({f"{k}_unweighted": f"{v} (unweighted)" for k, v in ROW_TITLES.items()})
    return risk, [r for row in rows for r in (row, f"{row}_unweighted")], titles


def _risk_frame(table, xb, unit_days, unit, groups, labels, counts) -> pd.DataFrame:
    # round the day equivalents so that 12 months * 365/12 is exactly day 365
    times_days = np.round(xb * unit_days, 9)
    risk = at_risk_table(table, times_days, groups, counts)
    risk.insert(1, "label", [_label_for(g, labels) for g in risk["group"]])
    risk.insert(2, "time", np.tile(xb, len(groups)))
    risk.attrs["unit"] = unit
    return risk


def _render(curves, risk, rows, row_titles, xb, xmax, yl, percent, conf_int, censor_marks,
            xlabel, ylabel, annotation, kind, legend, legend_title, title, width, height,
            fontsize, labels, groups, return_table, target):
    n_groups = len(groups)
    n_rows = len(rows) if risk is not None else 0
    lay = _layout(width, fontsize)
    if height is not None:
        # give the curves whatever the tables and labels leave
        fixed = _figure_height(lay, n_groups, n_rows, legend, bool(title)) - lay.main_height
        lay.main_height = max(1.0, float(height) - fixed)
    fig_height = _figure_height(lay, n_groups, n_rows, legend, bool(title))
    table_labels = {g: _label_for(g, labels) for g in groups}
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
    return _finish(fig, risk, return_table)


_CAUSE_STYLES = ("-", "--", ":", "-.")


def plot_cif(ci, *, conf_int: bool = True, percent: bool = False, unit: str = "months",
             days_per_unit: float | None = None, breaks: Sequence[float] | None = None,
             risk_table: bool = True, risk_table_rows: Sequence[str] = ("n_risk",),
             weighted_counts: str = "weighted", test=None, test_label: str | None = None,
             hr=None, hr_term: str | None = None, hr_label: str | None = None,
             note: str | None = None, labels: Mapping | None = None,
             palette: Sequence[str] | Mapping | None = None, order: Sequence | None = None,
             width: str | float = "single", height: float | None = None,
             fontsize: float | None = None, title: str | None = None,
             xlabel: str | None = None, ylabel: str | None = None,
             ylim: tuple[float, float] | None = None, legend: bool | None = None,
             legend_title: str | None = None, return_table: bool = False, _target=None):
    """Competing-risk cumulative incidence (Aalen-Johansen) figure with a risk table.

    Parameters
    ----------
    ci : CumulativeIncidence or mapping of name -> CumulativeIncidence
        Result(s) of :func:`mace_outcomes.cumulative_incidence`. A mapping draws several
        causes of the same data (e.g. ``{"MACE": ci1, "Non-cardiac death": ci2}``): one
        colour per group, one line style per cause (solid, dashed, dotted). The risk
        table (subjects still event-free and followed) is read from the first.
    weighted_counts : {"weighted", "unweighted", "both"}
        For weighted curves, which numbers the tables show (their titles say which).
    test : GrayTest, optional
        Annotated as ``Gray's test p = ...`` (``test_label`` to rename).
    hr : Fine-Gray or Cox result, mapping or (hr, lower, upper), optional
        Annotated as ``SHR ...`` (``hr_label`` to rename).
    Other parameters as :func:`plot_km`; curves always rise from 0.

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
    rows = _check_rows(risk_table_rows)
    causes = dict(ci) if isinstance(ci, Mapping) else {None: ci}
    if not causes:
        raise InputError(Problem("no cumulative incidence given", column="ci"))
    first = next(iter(causes.values()))
    table = _table_of(first, "ci")
    groups = _groups_of(first, table, order)
    colours = _colours(groups, palette)
    unit_days = _unit_days(unit, days_per_unit, first)
    weighted = bool(getattr(first, "weighted", False))

    lines = []
    if test is not None:
        lines.append(_test_text(test, weighted, test_label or "Gray's test"))
    if hr is not None:
        lines.append(_hr_text(hr, hr_term, getattr(first, "group", None), weighted,
                              hr_label or "SHR"))
    elif hr_label:
        lines.append(hr_label)
    if note:
        lines.append(note)

    xb = _breaks(breaks, table, unit_days, unit)
    xmax = float(xb[-1])
    curves = []
    for k, (name, res) in enumerate(causes.items()):
        tab = _table_of(res, "ci")
        for g in groups:
            c = tab[tab["group"] == g].sort_values("time", kind="stable")
            t = c["time"].to_numpy(dtype=float) / unit_days
            label = _label_for(g, labels)
            if name is not None:
                label = name if len(groups) == 1 else f"{label}: {name}"
            curves.append(_Curve(
                g, label, colours[g], _CAUSE_STYLES[k % len(_CAUSE_STYLES)],
                np.r_[0.0, t], np.r_[0.0, c["cif"].to_numpy(dtype=float)],
                np.r_[0.0, c["lower"].to_numpy(dtype=float)],
                np.r_[0.0, c["upper"].to_numpy(dtype=float)], np.empty(0), np.empty(0)))
    yl = _ylim(curves, "event", conf_int, xmax, ylim)
    _check_counts(weighted_counts)
    risk, row_titles = None, dict(ROW_TITLES)
    if risk_table:
        risk, rows, row_titles = _risk_tables(table, xb, unit_days, unit, groups, labels,
                                              weighted, weighted_counts, rows)
    if xlabel is None:
        xlabel = f"Time since index procedure ({unit})"
    if ylabel is None:
        ylabel = "Cumulative incidence (%)" if percent else "Cumulative incidence"
    legend = (len(curves) > 1) if legend is None else legend
    return _render(curves, risk, rows, row_titles, xb, xmax, yl, percent, conf_int,
                   False, xlabel, ylabel, "\n".join(lines), "event", legend, legend_title,
                   title, width, height, fontsize, labels, groups, return_table, _target)


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
        n_groups = len(_groups_of(one, _table_of(one, name)))
        rows = _check_rows(kwargs.get("risk_table_rows", ("n_risk",)))
        n_rows = len(rows) if kwargs.get("risk_table", True) else 0
        if getattr(one, "weighted", False) and kwargs.get("weighted_counts") == "both":
            n_rows *= 2
        lay = _layout(panel_w, kwargs.get("fontsize", 7.0))
        heights.append(_figure_height(lay, n_groups, n_rows, n_groups > 1, True))
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
    return _finish(fig, risk_all, return_table)


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
    unit_days = _unit_days(unit, kwargs.get("days_per_unit"), first)
    conf_int = kwargs.get("conf_int", True)
    top = 0.0
    for name, res in results.items():
        items = res.values() if isinstance(res, Mapping) else [res]
        for r in items:
            table = _table_of(r, name)
            groups = _groups_of(r, table)
            xb = _breaks(kwargs.get("breaks"), table, unit_days, unit)
            if _is_cif(r):
                col = "upper" if conf_int else "cif"
                keep = table["time"] / unit_days <= xb[-1]
                vals = table.loc[keep, col].to_numpy(dtype=float)
            else:
                curves = _km_curves(r, "event", unit_days, groups, None,
                                    {g: "k" for g in groups})
                vals = np.concatenate([(c.upper if conf_int else c.y)[c.x <= xb[-1]]
                                       for c in curves])
            vals = vals[np.isfinite(vals)]
            top = max(top, float(vals.max()) if vals.size else 0.0)
    dummy = _Curve(None, "", "k", "-", np.array([0.0]), np.array([top]), np.array([top]),
                   np.array([top]), np.empty(0), np.empty(0))
    return _ylim([dummy], "event", False, np.inf, None)
