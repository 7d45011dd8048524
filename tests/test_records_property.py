"""Property: any valid cohort gives a time-to-event table consistent with its events.

For every generated cohort (random follow-up, deaths, ARC-2 events on any day from the
index date, late events that extend follow-up, lesions in random vessels) and every
endpoint / horizon: one row per unit; 0 <= time <= min(horizon, follow-up); and the event
flags, times and competing deaths equal those of a direct per-patient reading of the
events table (a plain Python oracle written from the ARC-2 rules, not from the package).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mace_outcomes as mo

BASE = pd.Timestamp("2018-01-01")
VESSELS = ["LM", "LAD", "LCX", "RCA", "graft"]
TYPES = ["cardiac_death", "noncardiac_death", "undetermined_death", "mi", "tvr", "tlr",
         "stent_thrombosis", "stroke", "bleeding"]
DEATHS = {"cardiac_death", "noncardiac_death", "undetermined_death"}
# The endpoints written out from ARC-2 (undetermined death is cardiac, TLR is a TVR).
COUNTED = {
    "mace": {"cardiac_death", "undetermined_death", "mi", "tvr", "tlr", "stent_thrombosis"},
    "mi": {"mi"},
    "tvr": {"tvr", "tlr"},
    "cardiac_death": {"cardiac_death", "undetermined_death"},
    "all_cause_death": DEATHS,
    "stent_thrombosis": {"stent_thrombosis"},
}


@st.composite
def cohorts(draw):
    n = draw(st.integers(1, 12))
    patients, lesions, events = [], [], []
    for i in range(n):
        start = draw(st.integers(0, 1500))
        fu = draw(st.integers(0, 900))
        patients.append({"patient_id": i, "arm": "A" if i % 2 else "B",
                         "index_date": BASE + pd.Timedelta(days=start),
                         "last_contact_date": BASE + pd.Timedelta(days=start + fu),
                         "age": draw(st.integers(30, 90))})
        vessels = draw(st.lists(st.sampled_from(VESSELS), min_size=0, max_size=3))
        ids = []
        for v in vessels:
            ids.append(f"L{len(lesions)}")
            lesions.append({"lesion_id": ids[-1], "patient_id": i, "vessel": v})
        k = draw(st.integers(0, 4))
        evs = []
        for _ in range(k):
            evs.append({"type": draw(st.sampled_from(TYPES)),
                        "day": draw(st.integers(0, fu + 60)),  # late events extend follow-up
                        "lesion": draw(st.sampled_from([None] + ids)),
                        "vessel": draw(st.sampled_from([None] + VESSELS)),
                        "cert": draw(st.sampled_from(["definite", "probable", "possible"]))})
        # At most one death, and nothing after it.
        deaths = [ev for ev in evs if ev["type"] in DEATHS]
        if deaths:
            first = min(deaths, key=lambda ev: ev["day"])
            evs = [ev for ev in evs if ev is first or (ev["type"] not in DEATHS
                                                       and ev["day"] <= first["day"])]
        for ev in evs:
            events.append({"event_id": len(events), "patient_id": i,
                           "lesion_id": ev["lesion"], "event_type": ev["type"],
                           "event_date": BASE + pd.Timedelta(days=start + ev["day"]),
                           "target_vessel": ev["vessel"],
                           "st_certainty": ev["cert"] if ev["type"] == "stent_thrombosis"
                           else None})
    p = pd.DataFrame(patients)
    le = pd.DataFrame(lesions, columns=["lesion_id", "patient_id", "vessel"])
    e = pd.DataFrame(events, columns=["event_id", "patient_id", "lesion_id", "event_type",
                                      "event_date", "target_vessel", "st_certainty"])
    return p, (le if len(le) else None), e


def _oracle(p, e, endpoint, horizon):
    """Per patient: (event, time, status) read directly from the records."""
    out = {}
    counted = COUNTED[endpoint]
    for row in p.itertuples():
        mine = e[e.patient_id == row.patient_id]
        days = [(d - row.index_date).days for d in mine.event_date]
        types = list(mine.event_type)
        certs = list(mine.st_certainty)
        contact = (row.last_contact_date - row.index_date).days
        death = [d for d, t in zip(days, types, strict=True) if t in DEATHS]
        fu = death[0] if death else max([contact] + days)
        window = min(fu, horizon if horizon is not None else np.inf)
        hits = [d for d, t, c in zip(days, types, certs, strict=True)
                if t in counted and (t != "stent_thrombosis" or c in ("definite", "probable"))
                and d <= window]
        if hits:
            out[row.patient_id] = (1, min(hits), 1, fu)
        elif death and death[0] <= window:
            out[row.patient_id] = (0, death[0], 2, fu)
        else:
            out[row.patient_id] = (0, window, 0, fu)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts(), st.sampled_from(sorted(COUNTED)),
       st.one_of(st.none(), st.integers(1, 800)))
def test_time_to_event_agrees_with_the_events_table(records, endpoint, horizon):
    p, le, e = records
    cohort = mo.Cohort(patients=p, events=e, lesions=le, warn=False)
    tte = mo.time_to_event(cohort, endpoint, horizon=horizon, require_two_arms=False)
    # one row per patient; integer ids come back as text, as when read from a file
    assert tte["patient_id"].tolist() == [str(i) for i in p["patient_id"]]
    truth = _oracle(p, e, endpoint, horizon)
    h = np.inf if horizon is None else horizon
    for row in tte.itertuples():
        event, time, status, fu = truth[int(row.patient_id)]
        assert 0 <= row.time <= min(h, fu)
        assert (row.event, row.time, row.status) == (event, time, status)

    if le is not None:
        les = mo.time_to_event(cohort, endpoint, horizon=horizon, level="lesion",
                               require_two_arms=False)
        assert les["lesion_id"].tolist() == le["lesion_id"].tolist()  # one row per lesion
        by_pat = tte.set_index("patient_id")
        pat_time = les["patient_id"].map(by_pat["time"])
        fu = les["patient_id"].map({str(k): v[3] for k, v in truth.items()})
        assert (les["time"] >= 0).all() and (les["time"] <= np.minimum(fu, h)).all()
        # A lesion's endpoint never precedes its patient's; every patient event reaches at
        # least one of the patient's lesions, at the same time.
        assert (les["time"] >= pat_time).all()
        first = les[les.event == 1].groupby("patient_id")["time"].min()
        has_lesions = by_pat.index.isin(le["patient_id"].astype(str))
        pat_events = by_pat[(by_pat.event == 1) & has_lesions]
        assert first.index.sort_values().tolist() == pat_events.index.sort_values().tolist()
        assert np.allclose(first.loc[pat_events.index], pat_events["time"])


# --- every problem at once ------------------------------------------------------------
# Each change breaks the valid base cohort in one way, on rows no other change touches:
# (table, id column, id, column, new value) -> (words of the reason, rows to be named).
def _day(n):
    return (pd.Timestamp("2019-01-01") + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


CHANGES = {
    "type": (("events", "event_id", "E6", "event_type", "readmission"),
             ("unknown or missing event type", ("E6",))),
    "contact": (("patients", "patient_id", "P6", "last_contact_date", _day(-5)),
                ("last_contact_date before index_date", ("P6",))),
    "patient": (("events", "event_id", "E1", "patient_id", "P99"),
                ("not in the patients table", ("E1",))),
    "dup": (("lesions", "lesion_id", "L8", "lesion_id", "L7"),
            ("duplicate lesion_id", ("L7",))),
    "early": (("events", "event_id", "E5", "event_date", _day(-1)),
              ("before the index date", ("E5",))),
    "date": (("patients", "patient_id", "P4", "index_date", "2019-13-45"),
             ("unparseable date", ("P4",))),
    "certainty": (("events", "event_id", "E2", "st_certainty", None),
                  ("without its ARC certainty", ("E2",))),
    "vessel": (("lesions", "lesion_id", "L2", "vessel", "D1"),
               ("unknown or missing vessel", ("L2",))),
}
EXTRA_EVENTS = {
    "two_deaths": (dict(event_id="E9", patient_id="P3", event_type="noncardiac_death",
                        event_date=_day(5)), ("more than one death", ("E3", "E9"))),
    "other_lesion": (dict(event_id="E10", patient_id="P1", lesion_id="L3", event_type="tlr",
                          event_date=_day(10)), ("lesion of another patient", ("E10",))),
    "after_death": (dict(event_id="E11", patient_id="P4", event_type="mi",
                         event_date=_day(41)), ("after the patient's death", ("E11",))),
}


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from(sorted(CHANGES) + sorted(EXTRA_EVENTS)), min_size=1))
def test_every_injected_problem_is_reported_with_its_rows(chosen):
    from records_cases import base_tables

    p, le, e = base_tables()
    tables = {"patients": p, "lesions": le, "events": e}
    expected = []
    for name in sorted(chosen):
        if name in CHANGES:
            (table, id_col, row_id, column, value), want = CHANGES[name]
            t = tables[table]
            t.loc[t[id_col] == row_id, column] = value
        else:
            row, want = EXTRA_EVENTS[name]
            tables["events"] = pd.concat([tables["events"], pd.DataFrame([row])],
                                         ignore_index=True)
        expected.append(want)
    problems, message = [], ""
    try:
        mo.Cohort(patients=p, events=tables["events"], lesions=le, warn=False)
    except mo.ValidationError as err:
        problems, message = err.problems, str(err)
    assert len(problems) == len(expected), message
    for words, rows in expected:
        assert any(words in pr.reason and tuple(sorted(pr.rows)) == rows
                   for pr in problems), (words, rows, message)
