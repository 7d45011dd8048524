"""The landmark figure PCI papers print: early and late events side by side.

Two panels, each with its own curves, number-at-risk table and log-rank test: the first
from the index procedure to the landmark (follow-up censored there), the second from the
landmark on, among those still event-free and followed (time counted from the landmark,
optionally censored at a horizon). Each window's hazard ratio and test then speak for
that window only, which is what a reader of "0-30 days" and "30 days-1 year" expects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._curves import groups_of, table_of
from ._draw import figure_height, finish, layout
from ._risk import check_rows
from .options import CurveOptions, curve_options
from .style import figure_style, figure_width, new_figure

__all__ = ["draw_landmark"]


def draw_landmark(draw, lm, options: CurveOptions | None = None, *,
                  kind: str = "event", titles: tuple[str, str] | None = None,
                  width: str | float = "double", return_table: bool = False,
                  **kwargs: Any):
    """Landmark figure from a :class:`~mace_outcomes.survival.landmark.LandmarkCurves`.

    ``draw`` draws one panel (``plot_km``, passed in so that this module does not import
    the one that imports it). The public entry is :func:`mace_outcomes.plot_landmark`.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.risk_table`` stacks both panels' numbers at risk with a ``panel`` column;
        the second panel's times are counted from the landmark. ``fig.landmark`` is the
        LandmarkCurves drawn. With ``return_table=True``, ``(fig, table)``.
    """
    o = curve_options(options, kwargs)
    names = list(lm.curves)
    kms, tests = lm.curves, lm.tests
    unit = o.unit if o.days_per_unit is None else "time"
    titles = titles or tuple(f"{chr(ord('A') + i)}  {n} {unit}" for i, n in enumerate(names))
    xlabels = (o.xlabel or f"Time since index procedure ({o.unit})",
               o.xlabel or f"Time since day {lm.at:g} ({o.unit})")

    total = figure_width(width)
    fontsize = o.fontsize or 7.0
    n_rows = len(check_rows(o.risk_table_rows)) if o.risk_table else 0
    heights = [figure_height(layout(total / 2, fontsize),
                             len(groups_of(km, table_of(km, k))), n_rows,
                             len(km.groups) > 1, True) for k, km in kms.items()]
    with figure_style(fontsize):
        fig = new_figure(total, max(heights))
        subs = np.atleast_1d(fig.subfigures(1, 2, squeeze=False)).ravel()
    breaks = _panel_breaks(o.breaks)
    tables = []
    for k, name in enumerate(names):
        panel = o.with_(width=total / 2, fontsize=fontsize, title=titles[k],
                        xlabel=xlabels[k], test=tests[name], return_table=True,
                        breaks=breaks[k])
        _, risk = draw(kms[name], panel, kind=kind, _target=subs[k])
        if risk is not None:
            risk = risk.copy()
            risk.insert(0, "panel", titles[k])
            tables.append(risk)
    fig.landmark = lm
    risk_all = pd.concat(tables, ignore_index=True) if tables else None
    return finish(fig, risk_all, return_table)


def _panel_breaks(breaks) -> tuple:
    """One break sequence for both panels, or a pair: one per panel."""
    if breaks is not None and len(breaks) == 2 and all(
            np.ndim(b) == 1 for b in breaks):
        return tuple(breaks)
    return breaks, breaks
