"""From event records to a time-to-event table: one row per patient or per lesion.

The computation is vectorised: ids become integer row positions (one hash join),
event types, vessels and certainties become small integer codes, and the first event
of each unit is a group minimum over (day, ARC-2 priority) with ``np.minimum.at``.
There is no loop over patients or events.

Conventions (all times are days from the index date, as floats):

* **Follow-up** ends at death; otherwise at the later of the last contact and the
  last recorded event (an event is a contact).
* **Horizon** ``H`` censors administratively: an endpoint event on day ``H`` counts,
  later ones do not; a unit followed beyond ``H`` is censored at ``H``.
* **Competing risks**: ``status`` is 1 for the endpoint, 2 for a death that is not
  part of the endpoint (non-cardiac death for MACE; any death for MI or TVR), 0 for
  censored. An endpoint event on the day of a competing death wins (status 1).
* **Day 0**: a periprocedural event on the index date is kept with ``time = 0`` and
  ``event = 1``. This is what R does: ``survival::Surv`` accepts zero times and
  ``survfit`` counts events at ``t = 0`` among all ``n`` at risk, so the curve drops
  at time 0 (lifelines does the same). Units censored on day 0 are kept too.
* **Landmark** ``L > 0`` starts the clock at day ``L``: units with an endpoint event,
  a death or the end of follow-up on or before day ``L`` are not at risk and are left
  out (their number is in ``attrs["excluded_at_landmark"]``); ``time`` is counted from
  ``L``; the horizon stays in days from the index date. ``L = 0`` leaves nothing out.
* **First event type**: several events on the same first day are named by ARC-2's
  hierarchy (cardiac death, undetermined death, non-cardiac death, stent thrombosis,
  MI, TLR, TVR, stroke, bleeding). For status 2 ``event_type`` is the competing death.
* **Lesion level**: one row per lesion, ``patient_id`` kept as the cluster id. A
  patient without lesion records has no row: it is excluded as ``"no lesion records"``
  with a :class:`LesionRecordsWarning`, and the result's ``attrs["attrition"]`` shows it
  (input = excluded + analysed, as in ``cohort.attrition``).
  Deaths, strokes and bleedings belong to every lesion of the patient. TLR and stent
  thrombosis belong to the lesion they name (else to the lesions of their
  ``target_vessel``, else to all the patient's lesions). MI and TVR belong to the
  lesions in their vessel (``target_vessel``, or the vessel of the lesion they name);
  an MI or TVR in a vessel not treated at the index procedure, or not attributable,
  belongs to all the patient's lesions. When the endpoint counts TVR, a TLR is a TVR
  of its vessel and so reaches every lesion in that vessel.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, ValidationError
from .cohort import Cohort
from .durations import parse_duration
from .endpoints import Endpoint, get_endpoint
from .recurrent import recurrent_rows
from .schema import DEATH_TYPES, EVENT_PRIORITY, ST_CERTAINTY, VESSELS
from .split import exposure_rows

_BY_PRIORITY = sorted(EVENT_PRIORITY, key=EVENT_PRIORITY.get)
_TYPE_OF_PRIORITY = np.array(_BY_PRIORITY + [""], dtype=object)
_DAY = np.timedelta64(1, "D")
_NO_PRIORITY = len(EVENT_PRIORITY)  # index of "" in _TYPE_OF_PRIORITY


def first_per_unit(unit: np.ndarray, day: np.ndarray, priority: np.ndarray,
                   n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Earliest event of each unit, ties broken by ARC-2 priority.

    Two unbuffered group-minimum passes (``np.minimum.at``): the earliest day per
    unit, then the lowest priority among the events on that day. O(n), no sort.

    Parameters
    ----------
    unit : int array, the unit (0..n_units-1) of each event.
    day : float array, the event day.
    priority : int array, the event type's rank (lower = named first).
    n_units : number of units.

    Returns
    -------
    (first_day, first_priority) of length ``n_units``; ``nan`` and
    ``len(EVENT_PRIORITY)`` for units without events.
    """
    first_day = np.full(n_units, np.inf)
    first_prio = np.full(n_units, _NO_PRIORITY, dtype=np.int64)
    if len(unit) == 0:
        return np.full(n_units, np.nan), first_prio
    np.minimum.at(first_day, unit, day)
    on_first = day == first_day[unit]
    np.minimum.at(first_prio, unit[on_first], priority[on_first])
    first_day[np.isinf(first_day)] = np.nan
    return first_day, first_prio


def _codes(values: pd.Series, categories) -> np.ndarray:
    """Position of each value in ``categories``; missing or unknown -> -1."""
    return pd.Categorical(values, categories=list(categories)).codes.astype(np.int64)


def _lookup(categories, chosen) -> np.ndarray:
    """Boolean table over category codes (last entry for code -1 / 'none')."""
    table = np.zeros(len(categories) + 1, dtype=bool)
    for i, c in enumerate(categories):
        table[i] = c in chosen
    return table


def _positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Row position in ``index`` of each id (ids validated, so all are found)."""
    if pd.api.types.is_extension_array_dtype(values.dtype) and values.notna().all():
        values = values.astype(index.dtype) if index.dtype.kind in "iu" else values
    return index.get_indexer(values.to_numpy())


def _prepare(cohort: Cohort, ep: Endpoint, with_lesions: bool) -> SimpleNamespace:
    """Events as integer arrays: patient position, day, ARC-2 rank, vessel, lesion.

    Also the follow-up end and first death per patient and, per event, whether it
    counts for ``ep`` (type, stent-thrombosis certainty, target vessel).
    """
    p, ev = cohort.patients, cohort.events
    n_pat = len(p)
    pindex = pd.Index(p["patient_id"].to_numpy())
    ev_pat = _positions(pindex, ev["patient_id"])
    index_date = p["index_date"].to_numpy(dtype="datetime64[ns]")
    ev_day = (ev["event_date"].to_numpy(dtype="datetime64[ns]") - index_date[ev_pat]) / _DAY
    # Event types as their ARC-2 rank: every type test below is a table lookup.
    ev_prio = _codes(ev["event_type"], _BY_PRIORITY)
    ev_prio[ev_prio < 0] = _NO_PRIORITY

    # Follow-up: death ends it; otherwise the later of last contact and last event.
    last_contact = (p["last_contact_date"].to_numpy(dtype="datetime64[ns]")
                    - index_date) / _DAY
    last_event = np.full(n_pat, -np.inf)
    np.maximum.at(last_event, ev_pat, ev_day)
    is_death = _lookup(_BY_PRIORITY, DEATH_TYPES)[ev_prio]
    death_day, death_prio = first_per_unit(ev_pat[is_death], ev_day[is_death],
                                           ev_prio[is_death], n_pat)
    end = np.where(np.isnan(death_day), np.maximum(last_contact, last_event), death_day)

    # Events that count for this endpoint.
    type_ok = _lookup(_BY_PRIORITY, ep.counted)[ev_prio]
    counts = type_ok.copy()
    cert_bad = np.zeros(len(ev), dtype=bool)
    is_st = ev_prio == EVENT_PRIORITY["stent_thrombosis"]
    if is_st.any():
        cert = _codes(ev["st_certainty"], ST_CERTAINTY)
        cert_bad = is_st & ~_lookup(ST_CERTAINTY, ep.st_certainty)[cert]
        counts &= ~cert_bad

    lesions = cohort.lesions
    nv = len(VESSELS)
    ev_vessel = _codes(ev["target_vessel"], VESSELS)
    ev_lesion = np.full(len(ev), -1, dtype=np.int64)
    treated = les_pat = les_vessel = None
    non_target = np.zeros(len(ev), dtype=bool)
    # Lesions matter at lesion level and for target-vessel-only event types.
    if lesions is not None and len(lesions) and (with_lesions or ep.target_vessel_only):
        lindex = pd.Index(lesions["lesion_id"].to_numpy())
        named = ev["lesion_id"].notna().to_numpy()
        if named.any():
            ev_lesion[named] = _positions(lindex, ev["lesion_id"][named])
        les_pat = _positions(pindex, lesions["patient_id"])
        les_vessel = _codes(lesions["vessel"], VESSELS)
        # The vessel of an event: its target_vessel, else the vessel of its lesion.
        from_lesion = (ev_vessel < 0) & (ev_lesion >= 0)
        ev_vessel[from_lesion] = les_vessel[ev_lesion[from_lesion]]
        # Vessels treated at the index procedure, as a (patient, vessel) table.
        treated_table = np.zeros(n_pat * nv, dtype=bool)
        treated_table[les_pat * nv + les_vessel] = True
        treated = (ev_vessel >= 0) & treated_table[ev_pat * nv + np.maximum(ev_vessel, 0)]
        if ep.target_vessel_only:
            # ARC-2: target-vessel = not clearly attributable to a non-target vessel.
            restricted = _lookup(_BY_PRIORITY, ep.target_vessel_only)[ev_prio]
            non_target = restricted & (ev_vessel >= 0) & ~treated & (ev_lesion < 0)
            counts &= ~non_target

    return SimpleNamespace(n_pat=n_pat, ev_pat=ev_pat, ev_day=ev_day, ev_prio=ev_prio,
                           death_day=death_day, death_prio=death_prio, end=end,
                           type_ok=type_ok, cert_bad=cert_bad, non_target=non_target,
                           counts=counts, ev_vessel=ev_vessel, ev_lesion=ev_lesion,
                           treated=treated, les_pat=les_pat, les_vessel=les_vessel)


def lesion_scopes(a: SimpleNamespace, ep: Endpoint) -> tuple[np.ndarray, ...]:
    """Which lesions each counted event reaches (module notes, "Lesion level"): masks of
    the events that belong to the lesion they name, to the lesions of their vessel, and
    to every lesion of the patient."""
    tlr_kind = ["tlr"]
    lesion_type = _lookup(_BY_PRIORITY, ["stent_thrombosis"] + (
        [] if ep.tlr_is_vessel_event else tlr_kind))[a.ev_prio]
    vessel_type = _lookup(_BY_PRIORITY, ["mi", "tvr"] + (
        tlr_kind if ep.tlr_is_vessel_event else []))[a.ev_prio]
    scope_lesion = a.counts & lesion_type & (a.ev_lesion >= 0)
    scope_vessel = a.counts & a.treated & ((lesion_type & (a.ev_lesion < 0)) | vessel_type)
    scope_patient = a.counts & ~scope_lesion & ~scope_vessel
    return scope_lesion, scope_vessel, scope_patient


def status_in_window(first_day: np.ndarray, first_prio: np.ndarray, death_day: np.ndarray,
                     death_prio: np.ndarray, end: np.ndarray, competing: np.ndarray,
                     h: float, lm: float) -> tuple:
    """Per unit: (time, status, event_type, keep) within ``min(end, h)``.

    Status: the endpoint first (1), then a death that competes with it (2, ``competing``
    indexed by priority), else censored (0); a missing ``first_day`` (nan) never counts.
    With a landmark ``lm`` only units still at risk after it are kept (no endpoint,
    death or end of follow-up by day ``lm``) and time is counted from it."""
    window = np.minimum(end, h)
    is_event = first_day <= window  # nan compares False
    is_comp = ~is_event & competing[death_prio] & (death_day <= window)
    time = np.where(is_event, first_day, np.where(is_comp, death_day, window))
    status = np.where(is_event, 1, np.where(is_comp, 2, 0)).astype(np.int64)
    etype = _TYPE_OF_PRIORITY[np.where(is_event, first_prio,
                                       np.where(is_comp, death_prio, _NO_PRIORITY))]
    keep = np.ones(len(time), dtype=bool)
    if lm > 0:
        keep = time > lm
        time = time - lm
    return time, status, etype, keep


def horizon_and_landmark(horizon, landmark, problems: list) -> tuple[float, float]:
    """The horizon and the landmark in days (``inf`` and 0 when not given); a problem
    appended for a non-positive horizon, a negative landmark, or one past the horizon."""
    h = np.inf if horizon is None else parse_duration(horizon)
    lm = float(landmark or 0)
    if not h > 0:
        problems.append(Problem(f"horizon must be positive days, not {horizon}"))
    if not (np.isfinite(lm) and lm >= 0):
        problems.append(Problem(f"landmark must be 0 or more days, not {landmark}"))
    elif lm >= h:
        problems.append(Problem(f"landmark ({landmark}) must be before the horizon "
                                f"({horizon})"))
    return h, lm


def time_to_event(
    cohort: Cohort,
    endpoint: str | Endpoint = "mace",
    horizon: float | None = None,
    landmark: float = 0,
    level: str = "patient",
    *,
    require_two_arms: bool = True,
    recurrent: bool = False,
    exposure_changes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The time-to-event table of an endpoint, one row per patient or per lesion.

    Parameters
    ----------
    cohort : a validated :class:`Cohort` (after its exclusions).
    endpoint : a built-in endpoint name (see ``mo.ENDPOINTS``: ``"mace"``,
        ``"cardiac_death"``, ``"mi"``, ``"tvr"``, ``"stent_thrombosis"``,
        ``"all_cause_death"``, ``"target_lesion_failure"``, or any ARC-2 type), an
        :class:`Endpoint`, or a list of ARC-2 event types.
    horizon : administrative censoring from the index date, in days or as ``"1y"``,
        ``"12m"``, ``"365d"`` (365 for 1-year
        outcomes); ``None`` uses all follow-up.
    landmark : start the clock at this day (see the module notes); 0 keeps everyone.
    level : ``"patient"`` (one row per patient) or ``"lesion"`` (one row per lesion,
        ``patient_id`` kept as the cluster id).
    require_two_arms : check that ``arm`` has exactly two labels (and none missing),
        as every comparison of arms needs; set False for a single-arm registry. The
        check runs on the cohort as given, i.e. after its exclusions, so a third label
        such as ``none`` can be excluded first.
    recurrent : every event of the endpoint instead of the first, as ``(start, stop]``
        rows (no landmark): ``patient_id, arm, start, stop, event, terminal,
        event_type`` and the covariates (``lesion_id`` first at lesion level, each event
        reaching the lesions the first-event rule gives it); see :mod:`.recurrent`.
    exposure_changes : dated changes of a time-varying exposure or covariate, one row
        per change: ``patient_id``, ``date`` (or ``time``, days from the index date),
        ``column`` and ``value`` (without ``value``: 0 before the date, 1 after, as
        ``tmerge``'s ``tdc``), e.g. each patient's crossover. The rows become
        ``(start, stop]`` pieces cut at the changes (:func:`split_at`; a change takes
        effect after its day), ready for ``cox(start="start")``. Rows ending on day 0
        cannot be cut and are left out with a warning naming the patients.

    Returns
    -------
    DataFrame with ``patient_id`` (and ``lesion_id`` first at lesion level), ``arm``,
    ``time`` (days, float), ``event`` (0/1), ``status`` (0 censored, 1 endpoint,
    2 competing death), ``event_type`` (of the first endpoint event, the competing
    death, or ``""``), then the baseline covariates (and the lesion covariates at
    lesion level). A baseline column named like an output column (``time``,
    ``event``, ``status``, ``event_type``, ``arm``, ids) gets the suffix ``_baseline``; a
    lesion column named like a patient or output column gets the suffix ``_lesion``.
    ``attrs`` records the endpoint, horizon, landmark, level, units and the
    ``attrition`` of the analysed cohort (records of ``stage``, ``reason``,
    ``patients``, ``lesions``, ``events``; at lesion level including the patients
    excluded for having no lesion records).

    Notes
    -----
    A day-0 (periprocedural) event is kept at ``time = 0`` with ``event = 1``, as R's
    ``survfit`` counts it at ``t = 0``. See the module documentation for the full rules.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> p = pd.DataFrame({"patient_id": [1, 2], "arm": ["OCT", "IVUS"],
    ...                   "index_date": ["2020-01-01", "2020-01-01"],
    ...                   "last_contact_date": ["2021-06-01", "2021-06-01"]})
    >>> e = pd.DataFrame({"event_id": [1], "patient_id": [2], "event_type": ["tlr"],
    ...                   "event_date": ["2020-03-01"]})
    >>> tte = mo.time_to_event(mo.Cohort(patients=p, events=e), "mace", horizon=365)
    >>> tte[["patient_id", "time", "event", "event_type"]].values.tolist()
    [['1', 365.0, 0, ''], ['2', 60.0, 1, 'tlr']]
    """
    from ..scale import is_dask  # Dask tables: the same rows, grouped on the cluster
    if is_dask(getattr(cohort, "patients", None)):
        from ..scale.tte import time_to_event as on_dask
        return on_dask(cohort, endpoint, horizon, landmark, level, recurrent=recurrent,
                       require_two_arms=require_two_arms, exposure_changes=exposure_changes)
    if not isinstance(cohort, Cohort):
        raise InputError(Problem(f"expected a Cohort (mo.read_cohort or mo.Cohort), got "
                                 f"{type(cohort).__name__}"))
    ep = get_endpoint(endpoint)
    problems = []
    if level not in ("patient", "lesion"):
        problems.append(Problem(f"level must be 'patient' or 'lesion', not {level!r}"))
    if level == "lesion" and (cohort.lesions is None or len(cohort.lesions) == 0):
        problems.append(Problem("level='lesion' needs a lesions table with rows",
                                source="lesions"))
    h, lm = horizon_and_landmark(horizon, landmark, problems)
    if recurrent and lm > 0:
        problems.append(Problem("recurrent=True gives rows from the index date",
                                fix="use landmark=0"))
    if problems:
        raise InputError(problems)
    if level == "lesion":
        cohort = without_lesionless(cohort)
    if require_two_arms:
        cohort.check_arms()
    if len(cohort.patients) == 0:
        raise ValidationError(Problem("no patients left (after exclusions)",
                                      source="patients"))

    a = _prepare(cohort, ep, with_lesions=level == "lesion")
    if recurrent:
        out = recurrent_rows(cohort, a, h,
                             lesion_scopes(a, ep) if level == "lesion" else None)
        out.attrs.update({"endpoint": ep.name, "horizon": None if horizon is None else h,
                          "landmark": 0.0, "level": level, "time_unit": "days",
                          "recurrent": True,
                          "attrition": cohort.attrition.to_dict("records")})
        if exposure_changes is not None:
            out = _exposure(out, cohort, exposure_changes, "stop",
                            ("terminal", "event_type"), 0.0)
        return out
    p, lesions, n_pat, nv = cohort.patients, cohort.lesions, a.n_pat, len(VESSELS)
    ev_pat, ev_day, ev_prio, counts = a.ev_pat, a.ev_day, a.ev_prio, a.counts
    ev_vessel, ev_lesion = a.ev_vessel, a.ev_lesion
    les_pat, les_vessel = a.les_pat, a.les_vessel
    end, death_day, death_prio = a.end, a.death_day, a.death_prio

    if level == "patient":
        first_day, first_prio = first_per_unit(ev_pat[counts], ev_day[counts],
                                               ev_prio[counts], n_pat)
        unit_end, unit_death, unit_death_prio = end, death_day, death_prio
        frame = p[["patient_id", "arm"]].reset_index(drop=True)
        covars = p[cohort.covariates].reset_index(drop=True)
        lesion_covars = None
    else:
        n_les = len(lesions)
        scope_lesion, scope_vessel, scope_patient = lesion_scopes(a, ep)

        # First patient-wide event per patient, then per (patient, vessel), per lesion.
        pw_day, pw_prio = first_per_unit(ev_pat[scope_patient], ev_day[scope_patient],
                                         ev_prio[scope_patient], n_pat)
        vkey = ev_pat[scope_vessel] * nv + ev_vessel[scope_vessel]
        vv_day, vv_prio = first_per_unit(vkey, ev_day[scope_vessel],
                                         ev_prio[scope_vessel], n_pat * nv)
        ll_day, ll_prio = first_per_unit(ev_lesion[scope_lesion], ev_day[scope_lesion],
                                         ev_prio[scope_lesion], n_les)
        lkey = les_pat * nv + np.maximum(les_vessel, 0)
        cand_day = np.concatenate([pw_day[les_pat], vv_day[lkey], ll_day])
        cand_prio = np.concatenate([pw_prio[les_pat], vv_prio[lkey], ll_prio])
        cand_unit = np.tile(np.arange(n_les), 3)
        ok = ~np.isnan(cand_day)
        first_day, first_prio = first_per_unit(cand_unit[ok], cand_day[ok], cand_prio[ok],
                                               n_les)
        unit_end, unit_death = end[les_pat], death_day[les_pat]
        unit_death_prio = death_prio[les_pat]
        arm = p["arm"].reset_index(drop=True).take(les_pat).reset_index(drop=True)
        frame = pd.DataFrame({"lesion_id": lesions["lesion_id"].to_numpy(),
                              "patient_id": lesions["patient_id"].to_numpy(),
                              "arm": arm})
        covars = p[cohort.covariates].reset_index(drop=True).take(les_pat)
        covars = covars.reset_index(drop=True)
        lesion_covars = lesions[cohort.lesion_covariates].reset_index(drop=True)

    # Covariates never overwrite the computed columns (a registry may well have its own
    # 'status' or 'time' column): clashing names get a suffix.
    reserved = set(frame.columns) | {"time", "event", "status", "event_type"}
    covars = covars.rename(columns={c: f"{c}_baseline" for c in covars.columns
                                    if c in reserved})
    if lesion_covars is not None:
        clash = [c for c in lesion_covars.columns if c in covars.columns or c in reserved]
        lesion_covars = lesion_covars.rename(columns={c: f"{c}_lesion" for c in clash})

    time, status, etype, keep = status_in_window(
        first_day, first_prio, unit_death, unit_death_prio, unit_end,
        _lookup(_BY_PRIORITY, ep.competing), h, lm)

    columns = {c: frame[c] for c in frame.columns}
    columns.update(time=time.astype(float), event=(status == 1).astype(np.int64),
                   status=status, event_type=etype)
    for extra in (covars, lesion_covars):
        if extra is not None:
            columns.update({c: extra[c] for c in extra.columns})
    out = pd.DataFrame(columns)
    if lm > 0:
        out = out.loc[keep].reset_index(drop=True)
    out.attrs.update({
        "endpoint": ep.name, "horizon": None if horizon is None else h, "landmark": lm,
        "level": level,
        "time_unit": "days", "excluded_at_landmark": int((~keep).sum()),
        # The flow of the analysed cohort (plain records: attrs are compared on concat).
        "attrition": cohort.attrition.to_dict("records"),
    })
    if exposure_changes is not None:
        out = _exposure(out, cohort, exposure_changes, "time", ("status", "event_type"), lm)
    return out


def _exposure(rows: pd.DataFrame, cohort: Cohort, changes: pd.DataFrame, time: str,
              last_piece: tuple[str, ...], landmark: float) -> pd.DataFrame:
    """The rows cut at the dated exposure changes (:func:`.split.exposure_rows`)."""
    p = cohort.patients
    index_date = pd.Series(p["index_date"].to_numpy(dtype="datetime64[ns]"),
                           index=pd.Index(p["patient_id"].to_numpy()))
    ex = cohort.excluded
    excluded = set(ex.loc[ex["table"] == "patients", "id"].astype(str))
    return exposure_rows(rows, index_date, changes, excluded, time, last_piece, landmark)


#: Attrition line of patients left out of a lesion-level analysis.
NO_LESION_RECORDS = "no lesion records"


class LesionRecordsWarning(UserWarning):
    """A lesion-level analysis left out patients who have no lesion records."""


def without_lesionless(cohort: Cohort) -> Cohort:
    """The cohort without patients who have no lesion rows, recorded as an exclusion.

    A lesion-level analysis has one row per lesion, so a patient without lesion records
    contributes nothing. Dropping such patients silently would leave the attrition
    claiming every patient was analysed; they are excluded as ``"no lesion records"``
    (visible in ``attrition`` and ``excluded``) and named in a
    :class:`LesionRecordsWarning`. A cohort where every patient has lesions is returned
    unchanged.
    """
    p = cohort.patients
    missing = ~p["patient_id"].isin(cohort.lesions["patient_id"]).to_numpy()
    if not missing.any():
        return cohort
    ids = p["patient_id"].to_numpy()[missing].tolist()
    shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
    warnings.warn(f"lesion-level analysis: {len(ids)} patient(s) without lesion records "
                  f"are excluded as '{NO_LESION_RECORDS}' (patient_id [{shown}]); add their "
                  f"lesions, or exclude them yourself with cohort.exclude"
                  f"('{NO_LESION_RECORDS}', ...) so the flow diagram shows it",
                  LesionRecordsWarning, stacklevel=3)
    return cohort.exclude(NO_LESION_RECORDS, missing)


def endpoint_events(
    cohort: Cohort,
    endpoint: str | Endpoint = "mace",
    horizon: float | None = None,
    landmark: float = 0,
) -> pd.DataFrame:
    """Audit of an endpoint at patient level: every event, and whether and why it counts.

    The adjudication behind :func:`time_to_event`, one row per recorded event, so a
    reader can check each patient's endpoint against the records.

    Parameters
    ----------
    cohort, endpoint, horizon, landmark : as for :func:`time_to_event`.

    Returns
    -------
    DataFrame with ``event_id``, ``patient_id``, ``event_type``, ``day`` (days from
    the index date), ``counts`` (the event sets the patient's endpoint time) and
    ``reason``: ``first endpoint event``, ``after the first endpoint event``,
    ``not part of the endpoint``, ``stent thrombosis not definite/probable``,
    ``MI in a non-target vessel``, ``after the horizon`` or ``on or before the
    landmark``.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> from mace_outcomes.records import endpoint_events
    >>> p = pd.DataFrame({"patient_id": [1, 2], "arm": ["OCT", "IVUS"],
    ...                   "index_date": ["2020-01-01"] * 2,
    ...                   "last_contact_date": ["2021-06-01"] * 2})
    >>> e = pd.DataFrame({"event_id": [1, 2], "patient_id": [2, 2],
    ...                   "event_type": ["stroke", "mi"],
    ...                   "event_date": ["2020-02-01", "2020-03-01"]})
    >>> endpoint_events(mo.Cohort(patients=p, events=e), "mace")["reason"].tolist()
    ['not part of the endpoint', 'first endpoint event']
    """
    ep = get_endpoint(endpoint)
    h = np.inf if horizon is None else parse_duration(horizon)
    lm = float(landmark or 0)
    a = _prepare(cohort, ep, with_lesions=False)
    in_window = a.ev_day <= h
    valid = a.counts & in_window
    first_valid, _ = first_per_unit(a.ev_pat[valid], a.ev_day[valid], a.ev_prio[valid],
                                    a.n_pat)
    is_first = valid & (a.ev_day == first_valid[a.ev_pat])
    before_landmark = np.zeros(len(is_first), dtype=bool)
    if lm > 0:
        before_landmark = valid & (first_valid[a.ev_pat] <= lm)
    reason = np.select(
        [~a.type_ok, a.cert_bad, a.non_target, a.counts & ~in_window, before_landmark,
         is_first],
        ["not part of the endpoint", "stent thrombosis not definite/probable",
         "MI in a non-target vessel", "after the horizon", "on or before the landmark",
         "first endpoint event"],
        default="after the first endpoint event")
    ev = cohort.events
    return pd.DataFrame({
        "event_id": ev["event_id"].to_numpy(), "patient_id": ev["patient_id"].to_numpy(),
        "event_type": ev["event_type"].to_numpy(), "day": a.ev_day,
        "counts": is_first & ~before_landmark, "reason": reason,
    })
