"""Every event of an endpoint as counting-process rows: one ``(start, stop]`` row per gap.

Used by ``time_to_event(cohort, endpoint, recurrent=True)``; the rows feed
``mean_frequency``, the Andersen-Gill Cox model (``cox(start=, cluster=)``) and, totalled
per patient (``event_counts``), the negative binomial ``rate_ratio``.

Rules (days from the index date):

* The endpoint's events up to the end of follow-up (death, else the later of last contact
  and last event) and the horizon all count, first and later ones; several events of a
  unit on one day are one event (named by ARC-2 priority, as first events are).
* A unit's rows are ``(0, e1], (e1, e2], ..., (ek, end]``, ``event`` 1 on the rows that
  end at an event; the last row is left out when the last event ends follow-up.
* ``terminal`` is 1 on the last row when the patient died within the window (death of
  any cause ends the count; a death that is itself an endpoint event is also ``event``).
* Lesion level (``level="lesion"``): the unit is the lesion, and each event reaches the
  lesions the first-event rule of :mod:`.tte` gives it (TLR and stent thrombosis the
  lesion they name, MI and TVR the lesions of their vessel, deaths and the rest every
  lesion of the patient), so one event may open a new gap for several lesions.
* Events on day 0 (periprocedural) cannot end a row of positive length: they are left out,
  counted in ``attrs["events_on_day_0"]`` (their patients in
  ``attrs["events_on_day_0_ids"]``); patients with no follow-up beyond day 0 have no rows
  (``attrs["no_follow_up"]``, ``attrs["no_follow_up_ids"]``). Either raises a
  :class:`StatisticalWarning` naming the count and the patients.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..errors import StatisticalWarning
from .cohort import Cohort
from .schema import EVENT_PRIORITY, VESSELS

_BY_PRIORITY = np.array(sorted(EVENT_PRIORITY, key=EVENT_PRIORITY.get) + [""], dtype=object)


def gap_rows(unit: np.ndarray, day: np.ndarray, prio: np.ndarray, window: np.ndarray,
             died: np.ndarray) -> dict[str, np.ndarray]:
    """Kernel: the ``(start, stop]`` gaps of each unit between its events.

    Parameters
    ----------
    unit, day, prio : per counted event (day > 0, within its unit's window): the unit
        (0..n-1), the day and the ARC-2 rank.
    window : per unit, the end of its follow-up (follow-up end and horizon).
    died : per unit, whether its patient died within the window.

    Returns
    -------
    Arrays ``unit, start, stop, event, terminal, rank`` sorted by unit and start; one
    lexsort, no loop over units or events.
    """
    # one row per (unit, day): sorted by unit, day, priority; the first names it
    order = np.lexsort((prio, day, unit))
    unit, day, prio = unit[order], day[order], prio[order]
    new = np.r_[True, (unit[1:] != unit[:-1]) | (day[1:] != day[:-1])]
    unit, day, prio = unit[new], day[new], prio[new]
    first_of_unit = np.r_[True, unit[1:] != unit[:-1]]
    ev_start = np.where(first_of_unit, 0.0, np.r_[0.0, day[:-1]])
    # the gap after the last event (or the whole follow-up when there was none)
    last_day = np.zeros(window.size)
    np.maximum.at(last_day, unit, day)
    tail_unit = np.flatnonzero(window > last_day)
    row_unit = np.r_[unit, tail_unit]
    start = np.r_[ev_start, last_day[tail_unit]]
    stop = np.r_[day, window[tail_unit]]
    event = np.r_[np.ones(unit.size, np.int64), np.zeros(tail_unit.size, np.int64)]
    rank = np.r_[prio, np.full(tail_unit.size, len(EVENT_PRIORITY))]
    terminal = ((stop == window[row_unit]) & died[row_unit]).astype(np.int64)
    order = np.lexsort((start, row_unit))
    return {"unit": row_unit[order], "start": start[order], "stop": stop[order],
            "event": event[order], "terminal": terminal[order], "rank": rank[order]}


def expand(event_key: np.ndarray, unit_key: np.ndarray,
           n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (event, unit) pair with the same key: each event reaches all units of its
    key (a patient, or a patient's vessel). Returns (event index, unit index), by event."""
    order = np.argsort(unit_key, kind="stable")
    size = np.bincount(unit_key, minlength=n_keys)
    offset = np.cumsum(size) - size
    reach = size[event_key]
    ev = np.repeat(np.arange(event_key.size), reach)
    within = np.arange(ev.size) - np.repeat(np.cumsum(reach) - reach, reach)
    return ev, order[offset[event_key[ev]] + within]


def _ids_text(ids: list) -> str:
    shown = ", ".join(map(str, ids[:20]))
    return f"patient_id [{shown}{' ...' if len(ids) > 20 else ''}]"


def _left_out(cohort: Cohort, a: SimpleNamespace, keep: np.ndarray,
              window: np.ndarray) -> dict:
    """Day-0 events and patients without follow-up: counts and patient ids."""
    pid = cohort.patients["patient_id"].to_numpy()
    day0 = keep & (a.ev_day <= 0)
    day0_pat = np.unique(a.ev_pat[day0])
    none = np.flatnonzero(window <= 0)
    return {"events_on_day_0": int(day0.sum()), "events_on_day_0_ids": pid[day0_pat].tolist(),
            "no_follow_up": int(none.size), "no_follow_up_ids": pid[none].tolist()}


def _warn(left: dict, unit: str) -> None:
    """Nothing is left out silently: the counts and the patients, in one warning."""
    parts = []
    if left["events_on_day_0"]:
        parts.append(f"{left['events_on_day_0']} event(s) on day 0 (periprocedural) cannot "
                     "end a row of positive length and are not counted ("
                     f"{_ids_text(left['events_on_day_0_ids'])})")
    if left["no_follow_up"]:
        parts.append(f"{left['no_follow_up']} patient(s) without follow-up beyond day 0 "
                     f"have no rows ({_ids_text(left['no_follow_up_ids'])})")
    if parts:
        warnings.warn(f"recurrent rows ({unit} level): " + "; ".join(parts)
                      + " (attrs['events_on_day_0'], attrs['no_follow_up'] and their _ids)",
                      StatisticalWarning, stacklevel=4)


def recurrent_rows(cohort: Cohort, a: SimpleNamespace, horizon: float,
                   scopes: tuple | None = None) -> pd.DataFrame:
    """The ``(start, stop]`` rows of every counted event (``a``: the prepared events of
    ``time_to_event``); patient level, or lesion level when ``scopes`` (the events'
    lesion, vessel and patient scopes of :func:`.tte.lesion_scopes`) is given."""
    p = cohort.patients
    window = np.minimum(a.end, horizon)
    keep = a.counts & (a.ev_day <= window[a.ev_pat])
    left = _left_out(cohort, a, keep, window)
    keep &= a.ev_day > 0
    died = ~np.isnan(a.death_day) & (a.death_day <= window)
    if scopes is None:
        ev = np.flatnonzero(keep)
        rows = gap_rows(a.ev_pat[ev], a.ev_day[ev], a.ev_prio[ev], window, died)
        idx = rows["unit"]
        frame = p[["patient_id", "arm"]].reset_index(drop=True).take(idx)
        lesion_covars = None
    else:
        rows, idx = _lesion_gaps(cohort, a, keep, scopes, window, died)
        les = cohort.lesions.reset_index(drop=True)
        frame = pd.DataFrame({"lesion_id": les["lesion_id"].to_numpy()[rows["unit"]],
                              "patient_id": les["patient_id"].to_numpy()[rows["unit"]],
                              "arm": p["arm"].to_numpy()[idx]})
        lesion_covars = les[cohort.lesion_covariates].take(rows["unit"]).reset_index(
            drop=True)
    out = frame.reset_index(drop=True).assign(
        start=rows["start"], stop=rows["stop"], event=rows["event"],
        terminal=rows["terminal"], event_type=_BY_PRIORITY[rows["rank"]])
    covars = p[cohort.covariates].reset_index(drop=True).take(idx).reset_index(drop=True)
    reserved = set(out.columns)
    covars = covars.rename(columns={c: f"{c}_baseline" for c in covars.columns
                                    if c in reserved})
    parts = [out, covars]
    if lesion_covars is not None:
        clash = [c for c in lesion_covars.columns if c in covars.columns or c in reserved]
        parts.append(lesion_covars.rename(columns={c: f"{c}_lesion" for c in clash}))
    out = pd.concat(parts, axis=1)
    out.attrs.update(left)
    _warn(left, "patient" if scopes is None else "lesion")
    return out


def _lesion_gaps(cohort: Cohort, a: SimpleNamespace, keep: np.ndarray, scopes: tuple,
                 window: np.ndarray, died: np.ndarray) -> tuple[dict, np.ndarray]:
    """Each kept event attributed to its lesions, then the gaps per lesion; also each
    row's patient position."""
    scope_lesion, scope_vessel, scope_patient = (s & keep for s in scopes)
    nv = len(VESSELS)
    les_key = a.les_pat * nv + np.maximum(a.les_vessel, 0)  # as the first-event rule
    e_l = np.flatnonzero(scope_lesion)
    vv = np.flatnonzero(scope_vessel)
    e_v, l_v = expand(a.ev_pat[vv] * nv + a.ev_vessel[vv], les_key, a.n_pat * nv)
    pp = np.flatnonzero(scope_patient)
    e_p, l_p = expand(a.ev_pat[pp], a.les_pat, a.n_pat)
    ev = np.r_[e_l, vv[e_v], pp[e_p]]
    unit = np.r_[a.ev_lesion[e_l], l_v, l_p]
    rows = gap_rows(unit, a.ev_day[ev], a.ev_prio[ev], window[a.les_pat],
                    died[a.les_pat])
    return rows, a.les_pat[rows["unit"]]
