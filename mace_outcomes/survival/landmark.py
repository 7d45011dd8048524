"""Landmark analysis: Kaplan-Meier curves and log-rank tests before and after day L.

PCI papers judge early and late events separately (0-30 days, then 30 days-1 year):
the first window censors follow-up at the landmark; the second keeps those still
event-free and followed beyond it (:func:`mace_outcomes.landmark`), time counted from
it, optionally censored at a horizon. Each window has its own curves and test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from ..errors import InputError, Problem
from ..records.landmark import censor_at, landmark
from .kaplan_meier import KaplanMeier, kaplan_meier
from .logrank import logrank

__all__ = ["landmark_curves", "LandmarkCurves", "landmark_windows"]


def landmark_windows(df: pd.DataFrame, at: float, time: str = "time",
                     event: str = "event", horizon: float | None = None
                     ) -> dict[str, pd.DataFrame]:
    """The two data sets, keyed by window ("0 to 30", "30 to 365"): ``df`` censored at
    ``at``, and :func:`mace_outcomes.landmark` of ``df`` (censored at ``horizon`` first)."""
    if horizon is not None and not float(horizon) > float(at):
        raise InputError(Problem(f"the horizon ({horizon}) must be after the landmark "
                                 f"({at})", column="horizon"))
    late = df if horizon is None else censor_at(df, horizon, time, event)
    end = "end of follow-up" if horizon is None else f"{float(horizon):g}"
    return {f"0 to {float(at):g}": censor_at(df, at, time, event),
            f"{float(at):g} to {end}": landmark(late, at, time, event)}


@dataclass(frozen=True, eq=False)
class LandmarkCurves(ResultMixin):
    """Kaplan-Meier curves and log-rank tests in the two windows of a landmark analysis.

    Attributes
    ----------
    table : window, group, n, events, chisq, p (the window's log-rank test).
    at, horizon : the landmark and the end of the second window (None: all follow-up).
    curves : window -> KaplanMeier (the second in time since the landmark).
    tests : window -> LogrankResult, or None with a single group.
    data : window -> the data set fitted.
    """

    table: pd.DataFrame
    at: float
    horizon: float | None
    curves: dict[str, KaplanMeier]
    tests: dict
    data: dict[str, pd.DataFrame] = field(repr=False)
    group: str | None = None
    weighted: bool = False
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    def plot(self, **kwargs):
        """Draw both windows: delegates to :func:`mace_outcomes.plots.plot_landmark`."""
        from ..plots.km import plot_landmark  # lazy: plotting pulls in matplotlib

        return plot_landmark(self, **kwargs)

    def _footer(self) -> str:
        return f"landmark at {self.at:g} {self.time_unit}; log-rank test per window"

    def __repr__(self) -> str:
        return frame_text("Landmark analysis", self.table.set_index(["window", "group"]),
                          self._footer())

    def _repr_html_(self) -> str:
        return frame_html("Landmark analysis", self.table.set_index(["window", "group"]),
                          self._footer())


def landmark_curves(df: pd.DataFrame, at: float = 30, time: str = "time",
                    event: str = "event", group: str | None = "arm",
                    horizon: float | None = None, test: bool = True) -> LandmarkCurves:
    """Kaplan-Meier curves and log-rank tests from 0 to ``at`` and from ``at`` on.

    Parameters
    ----------
    df : one row per subject (e.g. :func:`mace_outcomes.time_to_event` output).
    at : the landmark (days, > 0).
    time, event, group : columns (``group`` None: one curve per window).
    horizon : end of the second window, in days from the index date (None: all).
    test : run a log-rank test in each window (two or more groups).

    Returns
    -------
    LandmarkCurves
        ``.plot()`` draws the two-panel figure (also ``plot_km(df, landmark=30)``).

    References
    ----------
    Dafni U (2011). Landmark analysis at the 25-year landmark point. Circ Cardiovasc Qual
    Outcomes 4:363-371.
    """
    if group is not None and group not in df.columns:
        raise InputError(Problem(f"group column {group!r} not found", column=group,
                                 source="df", fix="name it with group=, or group=None"))
    data = landmark_windows(df, at, time, event, horizon)
    curves = {k: kaplan_meier(d, time=time, event=event, group=group)
              for k, d in data.items()}
    two = group is not None and df[group].nunique() > 1
    tests = {k: logrank(d, time=time, event=event, group=group) if test and two else None
             for k, d in data.items()}
    rows = []
    for k, km in curves.items():
        events = km.table.groupby("group", sort=False)["n_event"].sum()
        for g in km.groups:
            rows.append({"window": k, "group": g, "n": km.n.get(g), "events": events[g],
                         "chisq": getattr(tests[k], "statistic", float("nan")),
                         "p": getattr(tests[k], "p_value", float("nan"))})
    late = list(data.values())[1]
    return LandmarkCurves(table=pd.DataFrame(rows), at=float(at), horizon=horizon,
                          curves=curves, tests=tests, data=data, group=group,
                          notes=list(late.attrs.get("notes", [])))
