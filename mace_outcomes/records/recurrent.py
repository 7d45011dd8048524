"""Every event of an endpoint as counting-process rows: one ``(start, stop]`` row per gap.

Used by ``time_to_event(cohort, endpoint, recurrent=True)``; the rows feed
``mean_frequency`` and the Andersen-Gill Cox model (``cox(start=, cluster=)``).

Rules (patient level, days from the index date):

* The endpoint's events up to the end of follow-up (death, else the later of last contact
  and last event) and the horizon all count, first and later ones; several events of a
  patient on one day are one event (named by ARC-2 priority, as first events are).
* A patient's rows are ``(0, e1], (e1, e2], ..., (ek, end]``, ``event`` 1 on the rows
  that end at an event; the last row is left out when the last event ends follow-up.
* ``terminal`` is 1 on the last row when the patient died within the window (death of
  any cause ends the count; a death that is itself an endpoint event is also ``event``).
* Events on day 0 (periprocedural) cannot end a row of positive length: they are left out
  and counted in ``attrs["events_on_day_0"]``; patients with no follow-up beyond day 0
  have no rows (``attrs["no_follow_up"]``).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..errors import StatisticalWarning
from .cohort import Cohort
from .schema import EVENT_PRIORITY

_BY_PRIORITY = np.array(sorted(EVENT_PRIORITY, key=EVENT_PRIORITY.get) + [""], dtype=object)


def recurrent_rows(cohort: Cohort, a: SimpleNamespace, horizon: float) -> pd.DataFrame:
    """The ``(start, stop]`` rows of every counted event (``a``: the prepared events of
    ``time_to_event``); vectorised over patients and events (one lexsort)."""
    p = cohort.patients
    window = np.minimum(a.end, horizon)
    keep = a.counts & (a.ev_day <= window[a.ev_pat])
    day0 = int((keep & (a.ev_day <= 0)).sum())
    keep &= a.ev_day > 0
    pat, day, prio = a.ev_pat[keep], a.ev_day[keep], a.ev_prio[keep]
    # one row per (patient, day): sorted by patient, day, priority; the first names it
    order = np.lexsort((prio, day, pat))
    pat, day, prio = pat[order], day[order], prio[order]
    new = np.r_[True, (pat[1:] != pat[:-1]) | (day[1:] != day[:-1])]
    pat, day, prio = pat[new], day[new], prio[new]
    first_of_patient = np.r_[True, pat[1:] != pat[:-1]]
    ev_start = np.where(first_of_patient, 0.0, np.r_[0.0, day[:-1]])
    # the gap after the last event (or the whole follow-up when there was none)
    last_day = np.zeros(a.n_pat)
    np.maximum.at(last_day, pat, day)
    tail = window > last_day
    tail_pat = np.flatnonzero(tail)
    row_pat = np.r_[pat, tail_pat]
    start = np.r_[ev_start, last_day[tail_pat]]
    stop = np.r_[day, window[tail_pat]]
    event = np.r_[np.ones(pat.size, np.int64), np.zeros(tail_pat.size, np.int64)]
    rank = np.r_[prio, np.full(tail_pat.size, len(EVENT_PRIORITY))]
    died = ~np.isnan(a.death_day) & (a.death_day <= window)
    last_row = (stop == window[row_pat])
    terminal = (last_row & died[row_pat]).astype(np.int64)
    order = np.lexsort((start, row_pat))
    idx = row_pat[order]
    frame = p[["patient_id", "arm"]].reset_index(drop=True).take(idx).reset_index(drop=True)
    out = frame.assign(start=start[order], stop=stop[order], event=event[order],
                       terminal=terminal[order], event_type=_BY_PRIORITY[rank[order]])
    covars = p[cohort.covariates].reset_index(drop=True).take(idx).reset_index(drop=True)
    reserved = set(out.columns)
    covars = covars.rename(columns={c: f"{c}_baseline" for c in covars.columns
                                    if c in reserved})
    out = pd.concat([out, covars], axis=1)
    no_follow_up = int((window <= 0).sum())
    out.attrs.update({"events_on_day_0": day0, "no_follow_up": no_follow_up})
    if day0 or no_follow_up:  # nothing is left out silently
        warnings.warn(f"recurrent rows: {day0} event(s) on day 0 (periprocedural) cannot end "
                      f"a row of positive length and are not counted; {no_follow_up} "
                      "patient(s) without follow-up beyond day 0 have no rows "
                      "(attrs['events_on_day_0'], attrs['no_follow_up'])",
                      StatisticalWarning, stacklevel=3)
    return out
