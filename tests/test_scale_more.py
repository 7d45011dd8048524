"""compare_arms and time_to_event on a Dask DataFrame (a real two-process local cluster)
give the in-memory results to 1e-10, and so R's reference numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client, reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.scale import is_dask
from mace_outcomes.scale.tte import DaskCohort

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.xdist_group("dask_cluster")

EXACT = 1e-10  # Dask against in memory: the same sums, added in another order
R_TOL = 1e-6
LUNG = reference("lung")
PS_COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]  # lung.R's propensity model


@pytest.fixture(scope="module")
def client():
    yield from dask_client("survival", "propensity", "cox", "compare", "tte")


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=EXACT, atol=1e-12,
                                  check_dtype=False)


# -- compare_arms ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lung_pair(client):
    df = reference_data("lung")
    ddf = dd.from_pandas(df, npartitions=3)
    return (mo.compare_arms(df, "group", PS_COVARIATES),
            mo.compare_arms(ddf, "group", PS_COVARIATES))


def test_compare_arms_rows_equal_memory(lung_pair):
    mem, dsk = lung_pair
    assert dsk.table["analysis"].tolist() == ["crude", "IPTW-ATE", "overlap"]
    same_table(dsk.table, mem.table)
    assert dsk.notes == mem.notes
    for name in ("crude", "IPTW-ATE", "overlap"):
        assert dsk.tests[name].p_value == pytest.approx(mem.tests[name].p_value, rel=EXACT)


def test_compare_arms_crude_row_equals_r(lung_pair):
    # R (lung.R): coxph(Surv(time, event) ~ group), survdiff, survRM2::rmst2(tau = 365)
    row = lung_pair[1].table.set_index("analysis").loc["crude"]
    cox, rm = LUNG["cox_group_only"], LUNG["rmst2"]
    for ours, r in (("hr", "hr"), ("lower", "lower"), ("upper", "upper"), ("p", "p")):
        assert row[ours] == pytest.approx(cox[r], rel=R_TOL)
    assert row["logrank_p"] == pytest.approx(LUNG["logrank"]["p"], rel=R_TOL)
    assert [row["rmst_diff"], row["rmst_lower"], row["rmst_upper"]] == pytest.approx(
        rm["diff"][:3], rel=R_TOL)
    assert row["n_treated"] + row["n_control"] == cox["n"]
    assert row["events_treated"] + row["events_control"] == cox["nevent"]


def test_compare_arms_iptw_row_equals_r(lung_pair):
    # R (lung.R): survfit(weights = ATE, robust) at 365 days; RISCA's IPTW log-rank
    mem, dsk = lung_pair
    row = dsk.table.set_index("analysis").loc["IPTW-ATE"]
    at = {r["group"]: r for r in LUNG["iptw"]["km_weighted_at_horizon"]}
    assert row["surv_treated"] == pytest.approx(at["1"]["surv"], rel=R_TOL)
    assert row["surv_control"] == pytest.approx(at["0"]["surv"], rel=R_TOL)
    assert row["logrank_p"] == pytest.approx(LUNG["iptw"]["adjusted_logrank_ate"]["p"],
                                             rel=R_TOL)
    # the risk difference's SE from the two arms' robust SEs (independent arms)
    zq = 1.959963984540054
    se = np.hypot(at["1"]["std_err"], at["0"]["std_err"])
    assert row["rd_upper"] - row["rd_lower"] == pytest.approx(2 * zq * se, rel=R_TOL)
    ess = LUNG["iptw"]["ess"]  # (sum w)^2 / sum w^2 of the ATE weights, per arm
    assert [row["ess_treated"], row["ess_control"]] == pytest.approx(
        [ess["treated"], ess["control"]], rel=R_TOL)


def _lesion_level_pair(**kw):
    # patients with lesions in both arms: the risk difference's covariance through the
    # shared patients, the robust RMST, KM, log-rank and Cox all clustered by patient_id
    df = reference_data("lung")
    df["patient_id"] = np.arange(len(df)) % 80
    df["lesion_id"] = np.arange(len(df))
    mem = mo.compare_arms(df, "group", horizon=300, **kw)
    dsk = mo.compare_arms(dd.from_pandas(df, npartitions=3), "group", horizon=300, **kw)
    assert dsk.cluster == mem.cluster == "patient_id"
    same_table(dsk.table, mem.table)
    assert dsk.notes == mem.notes


def test_compare_arms_lesion_level_clusters_both_arms_as_in_memory(client):
    _lesion_level_pair()


@pytest.mark.slow
def test_compare_arms_lesion_level_weighted_rows_as_in_memory(client):
    _lesion_level_pair(covariates=["age", "ph_karno"], overlap=False)


@pytest.mark.parametrize("kw, word", [
    (dict(n_boot=10), "bootstrap"),
    (dict(missing="complete_case"), "complete_case"),
    (dict(covariates=["age"], adjustment=["iptw", "match"]), "match"),
])
def test_compare_arms_options_not_on_dask_are_refused(kw, word):
    ddf = dd.from_pandas(reference_data("lung"), npartitions=2)
    with pytest.raises(InputError, match=word):
        mo.compare_arms(ddf, "group", **kw)


def test_compare_arms_arm_without_events_is_refused(client):
    # in memory such a row is the Firth model, which is not on Dask
    df = reference_data("lung")
    df.loc[df["group"] == 1, "event"] = 0
    with pytest.raises(InputError, match="no events in arm 1"):
        mo.compare_arms(dd.from_pandas(df, npartitions=2), "group")


# -- time_to_event -------------------------------------------------------------------------

def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("patient_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def example():
    return mo.load_example()


@pytest.mark.parametrize("endpoint, horizon, landmark", [
    ("mace", 365, 0), ("all_cause_death", None, 0), ("cardiac_death", "2y", 30),
    ("stent_thrombosis", 365, 0)])
def test_time_to_event_rows_equal_memory(client, example, endpoint, horizon, landmark):
    dc = DaskCohort.from_cohort(example, npartitions=4)
    got = mo.time_to_event(dc, endpoint, horizon=horizon, landmark=landmark)
    assert is_dask(got)
    want = mo.time_to_event(example, endpoint, horizon=horizon, landmark=landmark)
    pd.testing.assert_frame_equal(_sorted(got.compute()), _sorted(want))


def test_time_to_event_by_hand(client):
    # hand-worked rules: an MI and a cardiac death on one day name the death (ARC-2);
    # an event on the horizon counts; a non-cardiac death competes (status 2); a day-0
    # event is kept at time 0; follow-up runs to the later of last contact and events
    day = pd.Timestamp("2020-01-01")
    p = pd.DataFrame({"patient_id": ["a", "b", "c", "d", "e"],
                      "arm": ["X", "Y", "X", "Y", "X"], "index_date": [day] * 5,
                      "last_contact_date": day + pd.to_timedelta([500, 100, 400, 50, 20],
                                                                 "D"),
                      "age": [60, 70, 80, 65, 75]})
    e = pd.DataFrame({"event_id": ["1", "2", "3", "4", "5", "6"],
                      "patient_id": ["a", "a", "b", "c", "d", "e"],
                      "event_type": ["mi", "cardiac_death", "mi", "noncardiac_death", "tvr",
                                     "bleeding"],
                      "event_date": day + pd.to_timedelta([40, 40, 365, 200, 0, 90], "D")})
    dc = DaskCohort(dd.from_pandas(p, npartitions=2), dd.from_pandas(e, npartitions=3))
    got = _sorted(mo.time_to_event(dc, "mace", horizon=365).compute())
    assert got["time"].tolist() == [40.0, 365.0, 200.0, 0.0, 90.0]
    assert got["status"].tolist() == [1, 1, 2, 1, 0]
    assert got["event_type"].tolist() == ["cardiac_death", "mi", "noncardiac_death", "tvr",
                                          ""]
    assert got["age"].tolist() == [60, 70, 80, 65, 75]


def test_time_to_event_refuses_what_is_not_on_dask(example):
    dc = DaskCohort.from_cohort(example, npartitions=2)
    with pytest.raises(InputError, match="level='lesion'"):
        mo.time_to_event(dc, "mace", level="lesion")
    with pytest.raises(InputError, match="target-vessel"):
        mo.time_to_event(dc, "target_lesion_failure")


def test_time_to_event_names_unknown_types_and_patients(client):
    day = pd.Timestamp("2020-01-01")
    p = pd.DataFrame({"patient_id": ["a", "b"], "arm": ["X", "Y"], "index_date": [day] * 2,
                      "last_contact_date": [day + pd.Timedelta(days=9)] * 2})
    e = pd.DataFrame({"patient_id": ["a", "z"], "event_type": ["heart_attack", "mi"],
                      "event_date": [day] * 2})
    dc = DaskCohort(dd.from_pandas(p, npartitions=1), dd.from_pandas(e, npartitions=2))
    with pytest.raises(InputError, match="not ARC-2") as err:
        mo.time_to_event(dc, "mace")
    assert "1 patient ids not in the patients" in str(err.value)


# -- progress: one report per pass of a Newton step ------------------------------------------

def test_newton_steps_are_reported_inside_on_step_only(client):
    from mace_outcomes.scale._reduce import on_step

    df = reference_data("lung")
    ddf = dd.from_pandas(df, npartitions=3)
    seen: list[str] = []
    with on_step(seen.append):
        fit = mo.cox(ddf, covariates=["group", "age"])
        mo.propensity(ddf, "group", PS_COVARIATES)
    mo.cox(ddf, covariates=["group"])  # outside the block: nobody is told
    cox_steps = seen.count("Cox Newton step")
    # beta = 0, then one evaluation per Newton iteration (R's count), at least
    assert cox_steps >= fit.iterations + 1
    assert seen.count("propensity Newton step") >= 2
    assert set(seen) == {"Cox Newton step", "propensity Newton step"}
    assert len(seen) == cox_steps + seen.count("propensity Newton step")
