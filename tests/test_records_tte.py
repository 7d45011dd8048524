"""time_to_event: ARC-2 endpoints, horizon, landmark, competing deaths, lesion level.

Every expected number is worked out by hand from the small cohorts in records_cases.py;
the base cohort reproduces the seed paper's Table 4 (1-year MACE 1 vs 3 patients).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference
from records_cases import base_tables, day

import mace_outcomes as mo


def _cohort(events_extra=None, lesions_extra=None, **edits):
    p, le, e = base_tables()
    if events_extra is not None:
        e = pd.concat([e, pd.DataFrame(events_extra)], ignore_index=True)
    if lesions_extra is not None:
        le = pd.concat([le, pd.DataFrame(lesions_extra)], ignore_index=True)
    return mo.Cohort(patients=p, events=e, lesions=le)


def _by_id(tte, key="patient_id"):
    return tte.set_index(key)


def test_columns_follow_the_contract():
    cohort = _cohort()
    tte = mo.time_to_event(cohort, "mace", horizon=365)
    assert list(tte.columns) == ["patient_id", "arm", "time", "event", "status", "event_type",
                                 "age", "diabetes"]
    assert tte["time"].dtype == float and set(tte["event"]) <= {0, 1}
    les = mo.time_to_event(cohort, "mace", horizon=365, level="lesion")
    assert list(les.columns) == ["lesion_id", "patient_id", "arm", "time", "event", "status",
                                 "event_type", "age", "diabetes", "vessel", "bifurcation"]
    assert len(tte) == 6 and len(les) == 8
    assert tte.attrs["endpoint"] == "mace" and les.attrs["level"] == "lesion"


@pytest.mark.parametrize("endpoint, oct_n, ivus_n", [
    # Seed paper, Table 4 (1-year, patients): MACE 1 vs 3, cardiac death 0 vs 2, MI 1 vs 0,
    # TVR 0 vs 1, stent thrombosis 0 vs 1.
    ("mace", 1, 3), ("cardiac_death", 0, 2), ("mi", 1, 0), ("tvr", 0, 1),
    ("stent_thrombosis", 0, 1), ("all_cause_death", 0, 2),
])
def test_paper_table4_counts(endpoint, oct_n, ivus_n):
    tte = mo.time_to_event(_cohort(), endpoint, horizon=365)
    counts = tte.groupby("arm")["event"].sum()
    assert (counts["OCT"], counts["IVUS"]) == (oct_n, ivus_n)


def test_mace_times_and_first_event_types():
    t = _by_id(mo.time_to_event(_cohort(), "mace", horizon=365))
    assert t["time"].to_dict() == {"P1": 150, "P2": 300, "P3": 5, "P4": 40, "P5": 200,
                                   "P6": 250}
    # P3: cardiac death and probable ST on day 5 -> named by the ARC-2 hierarchy.
    assert t["event_type"].to_dict() == {"P1": "mi", "P2": "", "P3": "cardiac_death",
                                         "P4": "cardiac_death", "P5": "tvr", "P6": ""}
    assert t["status"].tolist() == [1, 0, 1, 1, 1, 0]


def test_competing_deaths_get_status_2():
    t = _by_id(mo.time_to_event(_cohort(), "mi", horizon=365))
    # Any death is a competing risk for MI.
    assert t.loc["P3", "status"] == 2 and t.loc["P3", "time"] == 5
    assert t.loc["P4", "status"] == 2 and t.loc["P4", "event_type"] == "cardiac_death"
    extra = {"event_id": ["N1"], "patient_id": ["P6"], "event_type": ["noncardiac_death"],
             "event_date": [day(100)]}
    t = _by_id(mo.time_to_event(_cohort(extra), "mace", horizon=365))
    assert (t.loc["P6", "status"], t.loc["P6", "time"], t.loc["P6", "event"]) == (2, 100, 0)
    assert t.loc["P6", "event_type"] == "noncardiac_death"
    t = _by_id(mo.time_to_event(_cohort(extra), "all_cause_death", horizon=365))
    assert (t.loc["P6", "status"], t.loc["P6", "event"]) == (1, 1)


def test_endpoint_event_on_the_day_of_a_competing_death_counts():
    extra = {"event_id": ["M1", "N1"], "patient_id": ["P6", "P6"],
             "event_type": ["mi", "noncardiac_death"], "event_date": [day(90), day(90)]}
    t = _by_id(mo.time_to_event(_cohort(extra), "mace"))
    assert (t.loc["P6", "status"], t.loc["P6", "time"], t.loc["P6", "event_type"]) == (
        1, 90, "mi")


def test_undetermined_death_is_cardiac_and_tlr_is_tvr():
    extra = {"event_id": ["U1", "R1"], "patient_id": ["P6", "P2"],
             "lesion_id": [None, "L3"], "event_type": ["undetermined_death", "tlr"],
             "event_date": [day(60), day(70)]}
    cohort = _cohort(extra)
    cd = _by_id(mo.time_to_event(cohort, "cardiac_death"))
    assert (cd.loc["P6", "event"], cd.loc["P6", "time"]) == (1, 60)
    tvr = _by_id(mo.time_to_event(cohort, "tvr"))
    assert (tvr.loc["P2", "event"], tvr.loc["P2", "time"], tvr.loc["P2", "event_type"]) == (
        1, 70, "tlr")
    nc = _by_id(mo.time_to_event(cohort, "noncardiac_death"))
    assert nc.loc["P6", "status"] == 2  # undetermined is not non-cardiac


def test_only_definite_or_probable_thrombosis_counts():
    extra = {"event_id": ["S1", "S2"], "patient_id": ["P6", "P2"], "lesion_id": ["L8", "L3"],
             "event_type": ["stent_thrombosis"] * 2, "event_date": [day(30), day(31)],
             "st_certainty": ["possible", "Definite"]}
    cohort = _cohort(extra)
    t = _by_id(mo.time_to_event(cohort, "mace"))
    assert t.loc["P6", "event"] == 0 and t.loc["P2", "event"] == 1
    assert t.loc["P2", "event_type"] == "stent_thrombosis"
    any_st = mo.Endpoint("any_st", ["stent_thrombosis"],
                         st_certainty=["definite", "probable", "possible"])
    assert _by_id(mo.time_to_event(cohort, any_st)).loc["P6", "time"] == 30


def test_horizon_boundary():
    extra = {"event_id": ["A", "B"], "patient_id": ["P2", "P6"], "event_type": ["mi", "mi"],
             "event_date": [day(300), day(249)]}
    p, le, e = base_tables()
    p.loc[p.patient_id == "P2", "last_contact_date"] = day(500)
    e = pd.concat([e, pd.DataFrame(extra)], ignore_index=True)
    e.loc[e.event_id == "A", "event_date"] = day(365)
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    t = _by_id(mo.time_to_event(cohort, "mi", horizon=365))
    assert (t.loc["P2", "time"], t.loc["P2", "event"]) == (365, 1)  # day 365 counts
    t = _by_id(mo.time_to_event(cohort, "mi", horizon=364))
    assert (t.loc["P2", "time"], t.loc["P2", "event"]) == (364, 0)
    t = _by_id(mo.time_to_event(cohort, "mi", horizon=None))
    assert t.loc["P1", "time"] == 150 and t.loc["P6", "time"] == 249


def test_day_zero_event_kept_like_r():
    # R: summary(survfit(Surv(c(0,0,1,2,3), c(1,0,1,0,1)) ~ 1), times = c(0, 1))$surv
    r = reference("spot_checks")["km_day_zero"]
    patients = pd.DataFrame({"patient_id": [1, 2, 3, 4, 5], "arm": ["a", "b"] * 2 + ["a"],
                             "index_date": [day(0)] * 5,
                             "last_contact_date": [day(9), day(0), day(9), day(2), day(9)]})
    events = pd.DataFrame({"event_id": [1, 2, 3], "patient_id": [1, 3, 5],
                           "event_type": ["mi", "mi", "mi"],
                           "event_date": [day(0), day(1), day(3)]})
    tte = mo.time_to_event(mo.Cohort(patients=patients, events=events), "mi")
    assert tte["time"].tolist() == [0, 0, 1, 2, 3] and tte["event"].tolist() == [1, 0, 1, 0, 1]
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(tte["time"], tte["event"])
    s0, s1 = r["surv"]  # at r["times"] = (0, 1)
    assert km.predict(0.0) == pytest.approx(s0, rel=1e-9)
    assert km.predict(1.0) == pytest.approx(s1, rel=1e-9)


def test_landmark_starts_the_clock_later():
    t = mo.time_to_event(_cohort(), "mace", horizon=365, landmark=30)
    assert t.attrs["excluded_at_landmark"] == 1  # P3 had MACE on day 5
    assert _by_id(t)["time"].to_dict() == {"P1": 120, "P2": 270, "P4": 10, "P5": 170,
                                           "P6": 220}
    assert t["event"].sum() == 3


def test_target_lesion_failure_counts_target_vessel_mi_only():
    cohort = _cohort()
    t = _by_id(mo.time_to_event(cohort, "target_lesion_failure", horizon=365))
    # P1's MI is in the LCX (not treated: LAD, RCA) -> not TLF; P5's TVR is not a TLR.
    assert t["event"].to_dict() == {"P1": 0, "P2": 0, "P3": 1, "P4": 1, "P5": 0, "P6": 0}
    # An MI in a treated vessel, or not attributable to any vessel, is a target-vessel MI.
    for vessel in ("RCA", None):
        extra = {"event_id": ["M"], "patient_id": ["P6"], "event_type": ["mi"],
                 "event_date": [day(77)], "target_vessel": [vessel]}
        t = _by_id(mo.time_to_event(_cohort(extra), "target_lesion_failure"))
        assert t.loc["P6", "event"] == (1 if vessel is None else 0)  # P6: LAD only
    extra = {"event_id": ["M"], "patient_id": ["P6"], "event_type": ["mi"],
             "event_date": [day(77)], "target_vessel": ["LAD"]}
    assert _by_id(mo.time_to_event(_cohort(extra), "target_lesion_failure")).loc[
        "P6", "time"] == 77


def test_lesion_level_attachment():
    # P1: L1 (LAD), L2 (RCA), L9 (LAD). TLR of L1 on day 100; MI in the LCX on day 150.
    extra_l = {"lesion_id": ["L9"], "patient_id": ["P1"], "vessel": ["LAD"],
               "bifurcation": [0]}
    extra_e = {"event_id": ["R1"], "patient_id": ["P1"], "lesion_id": ["L1"],
               "event_type": ["tlr"], "event_date": [day(100)]}
    cohort = _cohort(extra_e, extra_l)

    def lesion(endpoint):
        return _by_id(mo.time_to_event(cohort, endpoint, horizon=365, level="lesion"),
                      "lesion_id")

    tlr = lesion("tlr")
    assert tlr.loc[["L1", "L2", "L9"], "event"].tolist() == [1, 0, 0]  # its lesion only
    tvr = lesion("tvr")
    assert tvr.loc[["L1", "L2", "L9"], "event"].tolist() == [1, 0, 1]  # its vessel
    mace = lesion("mace")
    # Non-target MI (LCX) reaches every lesion of the patient; the TLR is a TVR of the LAD.
    assert mace.loc[["L1", "L2", "L9"], "time"].tolist() == [100, 150, 100]
    assert mace.loc[["L1", "L2", "L9"], "event_type"].tolist() == ["tlr", "mi", "tlr"]
    # P5: TVR of the RCA lesion L6 only; P3's stent thrombosis stays on L4.
    assert mace.loc[["L6", "L7"], "event"].tolist() == [1, 0]
    st = lesion("stent_thrombosis")
    assert st["event"].sum() == 1 and st.loc["L4", "event"] == 1
    # Deaths reach every lesion; patient_id is kept as the cluster id.
    death = lesion("all_cause_death")
    assert death.loc["L5", "event"] == 1 and death.loc["L5", "patient_id"] == "P4"
    # The patient-level table is the per-patient minimum of the lesion level for MACE.
    pat = _by_id(mo.time_to_event(cohort, "mace", horizon=365))
    mins = mace.groupby("patient_id")["time"].min()
    assert np.allclose(mins.loc[pat.index], pat["time"])


def test_vessel_events_in_a_vessel_not_treated_reach_all_lesions():
    extra = {"event_id": ["V1"], "patient_id": ["P5"], "event_type": ["tvr"],
             "event_date": [day(30)], "target_vessel": ["LM"]}
    t = _by_id(mo.time_to_event(_cohort(extra), "tvr", level="lesion"), "lesion_id")
    assert t.loc[["L6", "L7"], "time"].tolist() == [30, 30]


def test_custom_endpoints():
    ep = mo.Endpoint("hard", ["cardiac_death", "mi"])
    assert ep.counted == {"cardiac_death", "undetermined_death", "mi"}
    assert ep.competing == {"noncardiac_death"}
    t = mo.time_to_event(_cohort(), ep, horizon=365)
    assert t["event"].tolist() == [1, 0, 1, 1, 0, 0]
    t2 = mo.time_to_event(_cohort(), ["bleeding"], horizon=365)
    assert _by_id(t2).loc["P2", "time"] == 20
    macce = mo.Endpoint("macce", ["mace", "stroke"])
    assert macce.event_types == ("cardiac_death", "mi", "tvr", "stent_thrombosis", "stroke")
    with pytest.raises(mo.InputError, match="unknown event type 'hosp'"):
        mo.Endpoint("x", ["mi", "hosp"])
    assert set(mo.ENDPOINTS) >= {"mace", "cardiac_death", "mi", "tvr", "stent_thrombosis",
                                 "all_cause_death", "target_lesion_failure", "tlr",
                                 "noncardiac_death", "undetermined_death", "stroke",
                                 "bleeding"}


def test_bad_arguments():
    cohort = _cohort()
    with pytest.raises(mo.InputError, match="unknown endpoint"):
        mo.time_to_event(cohort, "mcae")
    with pytest.raises(mo.InputError, match="level"):
        mo.time_to_event(cohort, level="vessel")
    with pytest.raises(mo.InputError, match="before the horizon"):
        mo.time_to_event(cohort, horizon=30, landmark=30)
    p, _, e = base_tables()
    no_lesions = mo.Cohort(patients=p, events=e.assign(lesion_id=None))
    with pytest.raises(mo.InputError, match="lesions table"):
        mo.time_to_event(no_lesions, level="lesion")


def test_covariates_never_overwrite_computed_columns():
    p, le, e = base_tables()
    p["status"] = "alive"  # a registry's own vital-status column
    le["age"] = 99  # lesion 'age' (e.g. of a graft) clashes with the patient's age
    cohort = mo.Cohort(patients=p, events=e, lesions=le)
    t = mo.time_to_event(cohort, "mace", horizon=365)
    assert t["status"].tolist() == [1, 0, 1, 1, 1, 0]
    assert (t["status_baseline"] == "alive").all()
    les = mo.time_to_event(cohort, "mace", horizon=365, level="lesion")
    assert les["age"].tolist()[:2] == [61, 61] and (les["age_lesion"] == 99).all()


def test_endpoint_audit_explains_every_event():
    from mace_outcomes.records import endpoint_events

    extra = {"event_id": ["S1", "M2", "M3"], "patient_id": ["P6", "P1", "P2"],
             "lesion_id": ["L8", None, None],
             "event_type": ["stent_thrombosis", "mi", "mi"],
             "event_date": [day(30), day(200), day(299)],
             "st_certainty": ["possible", None, None]}
    cohort = _cohort(extra)
    audit = endpoint_events(cohort, "mace", horizon=250).set_index("event_id")
    assert audit["reason"].to_dict() == {
        "E1": "first endpoint event", "E2": "first endpoint event",
        "E3": "first endpoint event", "E4": "first endpoint event",
        "E5": "first endpoint event", "E6": "not part of the endpoint",
        "S1": "stent thrombosis not definite/probable",
        "M2": "after the first endpoint event", "M3": "after the horizon"}
    # The events that count are exactly the patients with event = 1.
    tte = mo.time_to_event(cohort, "mace", horizon=250)
    counted = audit[audit["counts"]].groupby("patient_id")["day"].min()
    assert counted.to_dict() == tte[tte.event == 1].set_index("patient_id")["time"].to_dict()
    tlf = endpoint_events(cohort, "target_lesion_failure").set_index("event_id")
    assert tlf.loc["E1", "reason"] == "MI in a non-target vessel"
    assert tlf.loc["M3", "reason"] == "first endpoint event"  # vessel not given: counts


def test_horizon_given_as_a_duration_equals_days():
    cohort = mo.load_example()
    days = mo.time_to_event(cohort, "mace", horizon=365)
    for text in ("1y", "12m", "365d"):
        tte = mo.time_to_event(cohort, "mace", horizon=text)
        pd.testing.assert_frame_equal(tte[["time", "event"]], days[["time", "event"]])
        assert tte.attrs["horizon"] == 365.0
    with pytest.raises(mo.InputError, match="duration such as"):
        mo.time_to_event(cohort, "mace", horizon="one year")
