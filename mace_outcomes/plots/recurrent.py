"""Mean cumulative number of events per patient (total events), with numbers at risk.

The same drawing as the Kaplan-Meier figure (``_draw.render``, ``CurveOptions``): step
curves rising from 0 with their confidence bands, and the patients still followed under
the x-axis. The y-axis is a count (events per patient), so it is not capped at 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._curves import (
    Curve,
    breaks_for,
    colours_for,
    days_per_display_unit,
    groups_of,
    label_for,
    line_styles,
    table_of,
)
from ._draw import render
from ._risk import check_counts, check_rows, risk_tables
from .options import CurveOptions, curve_options

__all__ = ["plot_mean_frequency"]


def _curves(table: pd.DataFrame, groups: list, unit_days: float, labels, colours,
            styles) -> list[Curve]:
    out = []
    for g in groups:
        c = table[table["group"] == g]
        x = np.r_[0.0, c["time"].to_numpy(dtype=float) / unit_days]
        out.append(Curve(g, label_for(g, labels), colours[g], styles.get(g, "-"), x,
                         np.r_[0.0, c["mean"].to_numpy(dtype=float)],
                         np.r_[0.0, c["lower"].to_numpy(dtype=float)],
                         np.r_[0.0, c["upper"].to_numpy(dtype=float)],
                         np.zeros(0), np.zeros(0)))
    return out


def _risk_source(table: pd.DataFrame) -> pd.DataFrame:
    """The curve table as the risk-table reader wants it: patients leave the risk set
    only at the end of their follow-up (a row ending in an event is followed by the
    next), so the censorings are the drops in ``n_risk``."""
    nxt = table.groupby("group", sort=False)["n_risk"].shift(-1).fillna(0.0)
    return table.assign(n_censor=table["n_risk"] - nxt)


def _ylim(curves: list[Curve], conf_int: bool, xmax: float, ylim) -> tuple[float, float]:
    if ylim is not None:
        return float(ylim[0]), float(ylim[1])
    top = max((float(np.nanmax(np.r_[c.y, c.upper][np.r_[c.x, c.x] <= xmax]
                                   if conf_int else c.y[c.x <= xmax])) for c in curves),
              default=0.0)
    step = 10.0 ** np.floor(np.log10(max(top * 1.05, 1e-9) / 5))
    return 0.0, step * np.ceil(top * 1.05 / step)


def plot_mean_frequency(mf, options: CurveOptions | None = None, **kwargs: Any):
    """Mean cumulative number of events per patient by group, with numbers at risk.

    Parameters
    ----------
    mf : MeanFrequency
        Result of :func:`mace_outcomes.mean_frequency` (Nelson-Aalen or Ghosh-Lin).
    options, **kwargs
        Fields of :class:`~mace_outcomes.plots.options.CurveOptions` (conf_int, unit,
        breaks, risk_table, labels, palette, order, width, title, ylabel, ylim, note...);
        ``percent`` does not apply to a count.

    Returns
    -------
    matplotlib.figure.Figure with ``fig.risk_table`` (patients at risk at the breaks);
    ``(fig, table)`` with ``return_table=True``.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"patient_id": [1, 1, 2, 3], "arm": ["a", "a", "b", "b"],
    ...                    "start": [0, 10, 0, 0], "stop": [10, 30, 20, 40],
    ...                    "event": [1, 1, 0, 1]})
    >>> fig = mo.plot_mean_frequency(mo.mean_frequency(df), breaks=(0, 20, 40),
    ...                              unit="days")
    >>> fig.risk_table[["group", "n_risk"]].values.tolist()  # followed at 0, 20, 40 days
    [['b', 2.0], ['b', 2.0], ['b', 1.0], ['a', 1.0], ['a', 1.0], ['a', 0.0]]
    """
    o = curve_options(options, kwargs)
    rows = check_rows(o.risk_table_rows)
    check_counts(o.weighted_counts)
    table = _risk_source(table_of(mf, "mean frequency"))
    groups = groups_of(mf, table, o.order)
    unit_days = days_per_display_unit(o.unit, o.days_per_unit, mf)
    xb = breaks_for(o.breaks, table, unit_days, o.unit)
    curves = _curves(table, groups, unit_days, o.labels, colours_for(groups, o.palette),
                     line_styles(groups, o.linestyles))
    xmax = float(xb[-1])
    risk, titles = None, {}
    if o.risk_table:
        risk, rows, titles = risk_tables(table, xb, unit_days, o.unit, groups, o.labels,
                                         bool(mf.weighted), o.weighted_counts, rows)
    legend = (len(groups) > 1) if o.legend is None else o.legend
    terminal = getattr(mf, "estimator", "") == "ghosh-lin"
    ylabel = o.ylabel or ("Mean number of events per patient" + (
        " (death as terminal event)" if terminal else ""))
    return render(curves, risk, rows, titles, xb, xmax, _ylim(curves, o.conf_int, xmax, o.ylim),
                  False, o.conf_int, False,
                  o.xlabel or f"Time since index procedure ({o.unit})", ylabel, o.note or "",
                  "event", legend, o.legend_title, o.title, o.width, o.height, o.fontsize,
                  o.labels, groups, o.return_table, None)
