"""The curves a survival figure draws: groups, labels, colours, time units, axes ranges.

Everything here turns a result's ``.table`` (one row per distinct time) into display
units and arrays; nothing draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._format import DAYS_PER_MONTH
from .._frames import arm_order
from ..errors import InputError, Problem
from .style import palette_for

#: days per display unit; the month is the package's one month (365/12 days).
UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH,
                           "years": 365.0}


BREAK_STEPS = {"days": (7, 14, 30, 60, 90, 180, 365, 730), "weeks": (1, 2, 4, 8, 13, 26, 52),
                "months": (1, 2, 3, 6, 12, 24, 36, 60), "years": (0.5, 1, 2, 5, 10)}

CAUSE_STYLES = ("-", "--", ":", "-.")


@dataclass
class Curve:
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


def table_of(result, what: str) -> pd.DataFrame:
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise InputError(Problem(f"{what} has no .table DataFrame", column=what,
                                 fix="pass the result of mo.kaplan_meier / "
                                     "mo.cumulative_incidence"))
    return table


def groups_of(result, table: pd.DataFrame, order: Sequence | None = None) -> list:
    groups = getattr(result, "groups", None)
    if groups is None:
        groups = list(pd.unique(table["group"]))
    groups = list(groups)
    if order is None:
        # the package's one arm order: treated first, the reference (comparator) last
        return arm_order(groups) if len(groups) == 2 else groups
    order = list(order)
    known = {str(g): g for g in groups}
    missing = [o for o in order if o not in groups and str(o) not in known]
    if missing:
        raise InputError(Problem(f"order names groups {missing} not in the data "
                                 f"(groups: {groups})", column="order"))
    picked = [o if o in groups else known[str(o)] for o in order]
    return picked + [g for g in groups if g not in picked]


def label_for(group, labels: Mapping | None) -> str:
    if labels:
        if group in labels:
            return str(labels[group])
        if str(group) in labels:
            return str(labels[str(group)])
    return "All" if group == "all" else str(group)


def colours_for(groups: list, palette) -> dict:
    # one curve (no grouping): black, the colour of an overall curve in print
    if palette is None and len(groups) == 1:
        return {groups[0]: "#000000"}
    # keyed to the label, not the drawing position: an arm keeps its colour whatever
    # ``order`` says (colours go in the default order: treated first with two groups)
    keyed = (arm_order(groups) if len(groups) == 2
             else sorted(groups, key=lambda g: (str(type(g).__name__), str(g))))
    return palette_for(keyed, palette)


def line_styles(groups: list, linestyles) -> dict:
    """Solid for all (default); True: solid, dashed, dotted, ... so print in grey works."""
    if linestyles is None or linestyles is False:
        return {}
    if linestyles is True:
        linestyles = CAUSE_STYLES
    if isinstance(linestyles, Mapping):
        return dict(linestyles)
    styles = list(linestyles)
    return {g: styles[i % len(styles)] for i, g in enumerate(groups)}


def km_curves(km, kind: str, unit_days: float, groups: list, labels, colours,
               styles: Mapping | None = None) -> list:
    styles = styles or {}
    table = table_of(km, "km")
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
        curves.append(Curve(g, label_for(g, labels), colours[g], styles.get(g, "-"),
                             x, y, lower, upper,
                             cx, cy))
    return curves


def cif_curves(causes: Mapping, groups: list, labels, colours, unit_days: float) -> list:
    """Aalen-Johansen curves: one colour per group, one line style per cause."""
    curves = []
    for k, (name, res) in enumerate(causes.items()):
        tab = table_of(res, "ci")
        for g in groups:
            c = tab[tab["group"] == g].sort_values("time", kind="stable")
            t = c["time"].to_numpy(dtype=float) / unit_days
            label = label_for(g, labels)
            if name is not None:
                label = name if len(groups) == 1 else f"{label}: {name}"
            curves.append(Curve(
                g, label, colours[g], CAUSE_STYLES[k % len(CAUSE_STYLES)],
                np.r_[0.0, t], np.r_[0.0, c["cif"].to_numpy(dtype=float)],
                np.r_[0.0, c["lower"].to_numpy(dtype=float)],
                np.r_[0.0, c["upper"].to_numpy(dtype=float)], np.empty(0), np.empty(0)))
    return curves


def check_kind(kind: str) -> None:
    if kind not in ("survival", "event"):
        raise InputError(Problem(f"kind must be 'survival' or 'event', not {kind!r}",
                                 column="kind",
                                 fix="'event' draws 1 - S rising from 0 (e.g. MACE)"))


def days_per_display_unit(unit: str, days_per_unit: float | None, result=None) -> float:
    """Data time units per display unit (the data are in days unless the result says)."""
    if unit not in UNITS and days_per_unit is None:
        raise InputError(Problem(f"unit must be one of {list(UNITS)}, not {unit!r}",
                                 column="unit"))
    per_unit = float(days_per_unit) if days_per_unit is not None else UNITS[unit]
    data_unit = "days" if result is None else result.time_unit
    if data_unit in ("days", "day"):
        return per_unit
    data_unit = str(data_unit).rstrip("s") + "s"
    if data_unit not in UNITS:
        raise InputError(Problem(f"the curves are in {data_unit!r}: give days_per_unit",
                                 column="unit"))
    return per_unit / UNITS[data_unit]


def default_breaks(max_time: float, unit: str) -> np.ndarray:
    """Round steps (3 months, 90 days, ...) giving at most 6 intervals."""
    steps = BREAK_STEPS.get(unit, (1, 2, 5, 10, 20, 50, 100))
    if max_time <= 0:
        return np.array([0.0, steps[0]])
    for step in steps:
        if max_time / step <= 6.05:
            break
    # a last break a few days short of the data is fine: those days are cut off
    n = max(1, int(np.ceil(max_time / step - 0.05)))
    return np.arange(n + 1) * float(step)


def breaks_for(breaks, table: pd.DataFrame, unit_days: float, unit: str) -> np.ndarray:
    if breaks is None:
        max_t = float(table["time"].max()) / unit_days if len(table) else 1.0
        return default_breaks(max_t, unit)
    xb = np.asarray(breaks, dtype=float)
    if xb.ndim != 1 or xb.size < 2 or np.any(np.diff(xb) <= 0) or xb[0] < 0:
        raise InputError(Problem(f"breaks {list(breaks)} must be increasing, >= 0, "
                                 "at least two", column="breaks"))
    return xb


def ylim_for(curves: list[Curve], kind: str, conf_int: bool, xmax: float, ylim) -> tuple:
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
