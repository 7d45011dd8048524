"""Completeness of follow-up: median (and quartiles) of follow-up by reverse Kaplan-Meier.

The reverse Kaplan-Meier method treats censoring as the event and events as
censoring, so the follow-up of a subject who had the event is counted as
"would have continued" (Schemper & Smith 1996). Quantiles and their limits are read
off the curve and its confidence curves as R's ``quantile.survfit`` does
(Brookmeyer & Crowley 1982).

References
----------
Schemper M, Smith TL (1996). A note on quantifying follow-up in studies of failure
time. Controlled Clinical Trials 17:343-346.
Kaplan EL, Meier P (1958) JASA 53:457-481; Greenwood M (1926) (curve and variance).
Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time.
Biometrics 38:29-41.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from .._frames import survival_arrays
from .kaplan_meier import kaplan_meier

__all__ = ["followup", "FollowUp"]

PROBS = (0.25, 0.5, 0.75)
NAMES = ("q1", "median", "q3")


@dataclass(frozen=True, eq=False)
class FollowUp(ResultMixin):
    """Reverse Kaplan-Meier follow-up.

    Attributes
    ----------
    table : DataFrame group, n, q1, median, q3 (one row per group, then "overall").
    overall : DataFrame indexed by quantile (q1, median, q3): estimate, lower, upper for
        the whole sample.
    quantiles : long DataFrame group, quantile, estimate, lower, upper for every group and
        "overall".
    conf_type, conf_level : interval of the reverse curve ("log" by default, as R's survfit).
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    quantiles: pd.DataFrame
    conf_type: str
    conf_level: float
    group: str | None
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    def _footer(self) -> str:
        o = self.overall.loc["median"]
        return (f"overall median follow-up {o['estimate']:g} {self.time_unit} "
                f"({self.conf_level:.0%} CI {o['lower']:g} to {o['upper']:g}); reverse "
                f"Kaplan-Meier, {self.conf_type} CI")

    def __repr__(self) -> str:
        return frame_text("Follow-up (reverse Kaplan-Meier)", self.table.set_index("group"),
                          self._footer())

    def _repr_html_(self) -> str:
        return frame_html("Follow-up (reverse Kaplan-Meier)", self.table.set_index("group"),
                          self._footer())


def _quantile_frame(km, label=None) -> pd.DataFrame:
    q = km.quantile(PROBS).rename(columns={"time": "estimate"})
    q["quantile"] = np.tile(NAMES, len(q) // len(NAMES))
    if label is not None:
        q["group"] = label
    return q[["group", "quantile", "estimate", "lower", "upper"]]


def followup(df: pd.DataFrame, time: str = "time", event: str = "event",
             group: str | None = None, conf_type: str = "log",
             conf_level: float = 0.95) -> FollowUp:
    """Median follow-up and quartiles by reverse Kaplan-Meier, per group and overall.

    Equivalent to R's ``quantile(survfit(Surv(time, 1 - event) ~ group))``.

    Parameters
    ----------
    df : DataFrame, one row per subject.
    time, event : follow-up time and 0/1 event indicator (1 = event, which the reverse
        curve treats as censored).
    group : optional group column.
    conf_type, conf_level : interval of the reverse curve (R's survfit default "log").

    Returns
    -------
    FollowUp

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [100, 200, 300, 400, 500, 600], "event": [1, 0, 0, 1, 0, 0]})
    >>> float(mo.followup(df).overall.loc["median", "estimate"])
    500.0
    """
    arr = survival_arrays(df, time=time, event=event, group=group)
    rev = pd.DataFrame({"time": arr.time, "reverse": 1 - arr.event})
    parts = [_quantile_frame(kaplan_meier(rev, time="time", event="reverse",
                                          conf_type=conf_type, conf_level=conf_level),
                             "overall")]
    counts = {"overall": arr.time.size}
    if group is not None:
        rev["group"] = arr.group
        km = kaplan_meier(rev, time="time", event="reverse", group="group",
                          conf_type=conf_type, conf_level=conf_level)
        parts.insert(0, _quantile_frame(km))
        counts.update(km.n)
    quantiles = pd.concat(parts, ignore_index=True)
    wide = quantiles.pivot(index="group", columns="quantile", values="estimate")
    order = list(dict.fromkeys(quantiles["group"]))
    table = wide.reindex(index=order, columns=list(NAMES)).reset_index()
    table.columns.name = None
    table.insert(1, "n", [counts[g] for g in order])
    overall = (quantiles[quantiles["group"] == "overall"].set_index("quantile")
               [["estimate", "lower", "upper"]])
    return FollowUp(table=table, overall=overall, quantiles=quantiles, conf_type=conf_type,
                    conf_level=conf_level, group=group)
