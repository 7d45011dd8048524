"""How long and how completely patients were followed: what a Methods section reports.

Papers report follow-up in two ways, and they differ: the median of the observed
follow-up times ("18 months (8-36)", with the range), which counts patients who died
early as short follow-up; and the reverse Kaplan-Meier median (Schemper & Smith 1996),
which treats death as censoring of follow-up and so estimates the potential follow-up.
Both are given here, per arm and overall, with the share of patients whose 1-year
outcome is known (followed to day 365, or dead before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from .._format import DAYS_PER_MONTH


@dataclass(frozen=True, eq=False)
class FollowUpSummary(ResultMixin):
    """``table``: one row per arm and ``overall``; times in months (days / 30.44)."""

    table: pd.DataFrame
    horizon_days: float
    time_unit: str = "months"  # the unit of the table's times
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return frame_text("Follow-up (months)", self.table.set_index("group"),
                          _FOOTER.format(h=self.horizon_days))

    def _repr_html_(self) -> str:
        return frame_html("Follow-up (months)", self.table.set_index("group"),
                          _FOOTER.format(h=self.horizon_days))


_FOOTER = ("observed: median (Q1, Q3) and range of follow-up to last contact or death "
           "(min_alive / max_alive: range among survivors); "
           "reverse KM: median (Q1, Q3) with death treated as censoring (Schemper & Smith "
           "1996); complete: share followed to day {h:g} or dead before it")


def followup_summary(cohort, horizon: float = 365.0, group: str = "arm") -> FollowUpSummary:
    """Median follow-up (observed and reverse Kaplan-Meier), range and completeness.

    Parameters
    ----------
    cohort : a :class:`~mace_outcomes.Cohort` (after its exclusions).
    horizon : the day by which an outcome must be known to count as complete (365).
    group : the arm column of the patients table.

    Returns
    -------
    FollowUpSummary whose ``table`` has columns group, n, median, q1, q3, min, max
    (observed, months), min_alive, max_alive (range among patients alive at last contact,
    as papers usually print it), rkm_median, rkm_q1, rkm_q3 (reverse KM, months),
    complete_n, complete_share.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> from mace_outcomes.outcomes import followup_summary
    >>> followup_summary(mo.load_example())  # doctest: +SKIP
    """
    from ..records import time_to_event
    from ..survival.followup import followup

    # all-cause death: time = follow-up to death or last contact, event = died
    fu = time_to_event(cohort, endpoint="all_cause_death", horizon=None,
                       require_two_arms=False)
    months = fu["time"].to_numpy(float) / DAYS_PER_MONTH
    died = fu["event"].to_numpy(int)
    complete = (fu["time"].to_numpy(float) >= horizon) | (died == 1)
    frame = pd.DataFrame({"group": fu[group].astype(str).to_numpy(), "months": months,
                          "died": died, "complete": complete})
    reverse = followup(frame, time="months", event="died", group="group").table
    reverse = reverse.set_index("group")

    def describe(part: pd.DataFrame, label: str) -> dict:
        m = part["months"].to_numpy()
        q1, med, q3 = np.percentile(m, [25, 50, 75])
        alive = m[part["died"].to_numpy() == 0]
        return dict(group=label, n=len(m), median=med, q1=q1, q3=q3, min=m.min(),
                    max=m.max(), min_alive=alive.min() if len(alive) else np.nan,
                    max_alive=alive.max() if len(alive) else np.nan,
                    rkm_median=reverse.loc[label, "median"],
                    rkm_q1=reverse.loc[label, "q1"], rkm_q3=reverse.loc[label, "q3"],
                    complete_n=int(part["complete"].sum()),
                    complete_share=float(part["complete"].mean()))

    rows = [describe(part, label) for label, part in frame.groupby("group", sort=True)]
    rows.append(describe(frame, "overall"))
    return FollowUpSummary(table=pd.DataFrame(rows), horizon_days=float(horizon))
