"""``time_to_event`` at patient level of records held as Dask DataFrames.

The events are reduced per patient on the cluster by one group-by of three columns:
the last event date (follow-up: an event is a contact), the first death and the first
event of the endpoint. A first event is the lexicographic minimum of (date, ARC-2
rank), so each is one integer ``microseconds * 16 + rank`` whose group minimum gives
both (the tie-break of :func:`~mace_outcomes.records.tte.first_per_unit`). The
per-patient table is merged to the patients and each partition then applies the
in-memory rules (follow-up end, horizon, competing death, landmark) to its rows.

The records are taken as :class:`~mace_outcomes.records.cohort.Cohort` normalises them
(text ids, ``datetime64`` dates, ARC-2 event names): :meth:`DaskCohort.from_cohort`
splits a validated cohort; tables read otherwise are checked for the columns, missing
dates, unknown event types, events of unknown patients and repeated patient ids.
Lesion level, recurrent rows and exposure changes are not on Dask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..records.endpoints import get_endpoint
from ..records.schema import DEATH_TYPES, EVENT_PRIORITY, ST_CERTAINTY
from ..records.tte import (
    _BY_PRIORITY,
    _DAY,
    _NO_PRIORITY,
    _codes,
    _lookup,
    horizon_and_landmark,
    status_in_window,
)
from ._reduce import step

__all__ = ["DaskCohort", "time_to_event"]

_FIXED = ("patient_id", "arm", "index_date", "last_contact_date")
_EVENT_COLUMNS = ("patient_id", "event_type", "event_date")
_NONE = np.iinfo(np.int64).max  # no such event
_RANKS = 16  # room for the ARC-2 ranks (and "none") below each microsecond
LATER = "compute the tables and build a Cohort (mo.Cohort) in memory"


@dataclass(frozen=True)
class DaskCohort:
    """Patient and event records as Dask DataFrames, normalised as a :class:`Cohort`'s.

    ``mo.time_to_event(DaskCohort(...), endpoint, horizon)`` gives the patient-level
    rows as a Dask DataFrame (the in-memory rows, in another order).
    """

    patients: object
    events: object

    @classmethod
    def from_cohort(cls, cohort, npartitions: int = 4) -> DaskCohort:
        """A validated in-memory cohort's tables, split into ``npartitions``."""
        import dask.dataframe as dd

        return cls(dd.from_pandas(cohort.patients, npartitions=npartitions),
                   dd.from_pandas(cohort.events, npartitions=npartitions))

    @property
    def covariates(self) -> list[str]:
        """Baseline covariate columns of ``patients`` (everything but ids, arm, dates)."""
        return [c for c in self.patients.columns if c not in _FIXED]


def _micros(dates: pd.Series) -> np.ndarray:
    ns = dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ns // 1000


def _event_keys(frame: pd.DataFrame, counted: np.ndarray, st_ok: np.ndarray) -> pd.DataFrame:
    """Per event: its patient, date (us), and the keys of a death and a counted event."""
    prio = _codes(frame["event_type"], _BY_PRIORITY)
    unknown = prio < 0
    prio[unknown] = _NO_PRIORITY
    us = _micros(frame["event_date"])
    key = us * _RANKS + prio
    is_death = _lookup(_BY_PRIORITY, DEATH_TYPES)[prio]
    counts = counted[prio]
    is_st = prio == EVENT_PRIORITY["stent_thrombosis"]
    if is_st.any():
        counts &= ~(is_st & ~st_ok[_codes(frame["st_certainty"], ST_CERTAINTY)])
    return pd.DataFrame({"patient_id": frame["patient_id"], "last": us,
                         "death": np.where(is_death, key, _NONE),
                         "first": np.where(counts, key, _NONE),
                         "bad_type": unknown.astype(np.int64),
                         "bad_date": (frame["event_date"].isna().to_numpy()
                                      | (frame["event_date"].to_numpy(
                                          dtype="datetime64[ns]").astype(np.int64)
                                         % 1000 != 0)).astype(np.int64)},
                        index=frame.index)


def _rows(frame: pd.DataFrame, h: float, lm: float, competing: np.ndarray, covariates: list,
          rename: dict) -> pd.DataFrame:
    """The in-memory rules on one partition of patients with their event keys."""
    index_ns = frame["index_date"].to_numpy(dtype="datetime64[ns]")
    has = frame["last"].notna().to_numpy()

    def day(us):
        return (us.astype(np.int64) * 1000).astype("datetime64[ns]") - index_ns

    last_contact = (frame["last_contact_date"].to_numpy(dtype="datetime64[ns]")
                    - index_ns) / _DAY
    last_us = frame["last"].fillna(0).to_numpy(np.int64)
    last_event = np.where(has, day(last_us) / _DAY, -np.inf)
    death_key = frame["death"].fillna(_NONE).to_numpy(np.int64)
    first_key = frame["first"].fillna(_NONE).to_numpy(np.int64)
    died, hit = death_key != _NONE, first_key != _NONE
    death_day = np.where(died, day(death_key // _RANKS) / _DAY, np.nan)
    death_prio = np.where(died, death_key % _RANKS, _NO_PRIORITY)
    first_day = np.where(hit, day(first_key // _RANKS) / _DAY, np.nan)
    first_prio = np.where(hit, first_key % _RANKS, _NO_PRIORITY)
    end = np.where(np.isnan(death_day), np.maximum(last_contact, last_event), death_day)

    time, status, etype, keep = status_in_window(first_day, first_prio, death_day,
                                                 death_prio, end, competing, h, lm)
    out = pd.DataFrame({"patient_id": frame["patient_id"].to_numpy(),
                        "arm": frame["arm"].to_numpy(), "time": time.astype(float),
                        "event": (status == 1).astype(np.int64), "status": status,
                        "event_type": etype}, index=frame.index)
    for c in covariates:
        out[rename.get(c, c)] = frame[c].to_numpy()
    return out.loc[keep]


def _check(patients, events, require_two_arms: bool) -> None:
    import dask

    problems = [Problem(f"column not found (columns are {list(t.columns)})", column=c,
                        source=name)
                for name, t, cols in (("patients", patients, _FIXED),
                                      ("events", events, _EVENT_COLUMNS))
                for c in cols if c not in t.columns]
    if problems:
        raise InputError(problems)
    for name, t, cols in (("patients", patients, ("index_date", "last_contact_date")),
                          ("events", events, ("event_date",))):
        for c in cols:
            if not pd.api.types.is_datetime64_any_dtype(t.dtypes[c]):
                problems.append(Problem(f"expected dates (datetime64), got {t.dtypes[c]}",
                                        column=c, source=name,
                                        fix="parse the column (dd.to_datetime)"))
    if problems:
        raise InputError(problems)
    step("time-to-event checks")
    n, n_ids, missing, arms = dask.compute(
        patients.shape[0], patients["patient_id"].nunique(),
        patients[list(_FIXED)].isna().sum(), patients["arm"].dropna().unique())
    missing = missing[missing > 0]
    problems += [Problem(f"{int(k)} missing values (of {n} rows)", column=c,
                         source="patients") for c, k in missing.items()]
    if n_ids < n:
        problems.append(Problem(f"{n - n_ids} repeated patient ids", column="patient_id",
                                source="patients"))
    if require_two_arms and len(arms) != 2:
        problems.append(Problem(f"a comparison needs exactly 2 arms, found "
                                f"{sorted(map(str, arms))}", column="arm",
                                source="patients",
                                fix="exclude the other arms, or require_two_arms=False"))
    if n == 0:
        problems.append(Problem("no patients", source="patients"))
    if problems:
        raise InputError(problems)


def time_to_event(cohort: DaskCohort, endpoint="mace", horizon=None, landmark: float = 0,
                  level: str = "patient", *, require_two_arms: bool = True,
                  recurrent: bool = False, exposure_changes=None):
    """:func:`mace_outcomes.time_to_event` of a :class:`DaskCohort`: the same rows (one
    per patient, as a Dask DataFrame in the merge's order; sort by ``patient_id`` to
    compare). Patient level only; ``attrs`` are not kept."""
    import dask

    ep = get_endpoint(endpoint)
    refused = {"level='lesion'": level != "patient", "recurrent=True": recurrent,
               "exposure_changes=": exposure_changes is not None,
               f"endpoint {ep.name!r} (target-vessel events need the lesions)":
                   bool(ep.target_vessel_only)}
    problems = [Problem(f"time_to_event: {what} is not available on Dask tables yet",
                        fix=LATER) for what, on in refused.items() if on]
    h, lm = horizon_and_landmark(horizon, landmark, problems)
    if problems:
        raise InputError(problems)
    patients, events = cohort.patients, cohort.events
    _check(patients, events, require_two_arms)

    counted = _lookup(_BY_PRIORITY, ep.counted)
    st_ok = _lookup(ST_CERTAINTY, ep.st_certainty)
    ev_cols = [*_EVENT_COLUMNS, *(["st_certainty"] if "st_certainty" in events.columns
                                  else [])]
    meta = _event_keys(events._meta[ev_cols].assign(st_certainty=pd.Series(dtype=object)),
                       counted, st_ok)
    keys = events[ev_cols].map_partitions(_event_keys, counted, st_ok, meta=meta)
    per = keys.groupby("patient_id").agg({"last": "max", "death": "min", "first": "min",
                                         "bad_type": "sum", "bad_date": "sum"})
    ids = patients[["patient_id"]].assign(__known=1)
    joined = per.reset_index().merge(ids, on="patient_id", how="left")
    step("events per patient")
    bad_type, bad_date, orphans = dask.compute(
        per["bad_type"].sum(), per["bad_date"].sum(), joined["__known"].isna().sum())
    problems = []
    if bad_type:
        problems.append(Problem(f"{bad_type} events of a type that is not ARC-2's "
                                f"({_BY_PRIORITY})", column="event_type", source="events",
                                fix="map your codes with mo.Cohort(aliases=...)"))
    if bad_date:
        problems.append(Problem(f"{bad_date} event dates missing or finer than a "
                                "microsecond", column="event_date", source="events"))
    if orphans:
        problems.append(Problem(f"events of {orphans} patient ids not in the patients "
                                "table", column="patient_id", source="events"))
    if problems:
        raise InputError(problems)

    covariates = cohort.covariates
    reserved = {"patient_id", "arm", "time", "event", "status", "event_type"}
    rename = {c: f"{c}_baseline" for c in covariates if c in reserved}
    # nullable integers: keys above 2**53 must not pass through float for the patients
    # without events
    merged = patients.merge(per[["last", "death", "first"]].astype("Int64").reset_index(),
                            on="patient_id", how="left")
    competing = _lookup(_BY_PRIORITY, ep.competing)
    meta = _rows(merged._meta, h, lm, competing, covariates, rename)
    return merged.map_partitions(_rows, h, lm, competing, covariates, rename, meta=meta)
