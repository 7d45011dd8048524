"""``read_cohort(folder, engine="dask")`` on Parquet datasets (a real two-process local
cluster): the patient-level ``time_to_event`` rows equal the in-memory reader's row for
row, and the injected record problems are reported with their hand-counted ids."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client

import mace_outcomes as mo
from mace_outcomes.errors import InputError, ValidationError
from mace_outcomes.records.validate import FollowUpWarning
from mace_outcomes.scale.tte import DaskCohort

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

# one cluster for the module: under pytest-xdist's --dist loadgroup its tests share a worker
pytestmark = pytest.mark.xdist_group("dask_cluster")


@pytest.fixture(scope="module")
def client():
    yield from dask_client("io", "tte")


@pytest.fixture(scope="module")
def tables():
    """The bundled cohort's tables with ids "001", "002", ... (leading zeros are text)."""
    cohort = mo.load_example()
    out = {"patients": cohort.patients.copy(), "events": cohort.events.copy(),
           "lesions": cohort.lesions.copy()}
    for t in out.values():
        t["patient_id"] = t["patient_id"].str[1:]
    assert out["patients"]["patient_id"].str.startswith("0").any()
    return out


def _rows(tte: pd.DataFrame) -> pd.DataFrame:
    return tte.sort_values("patient_id").reset_index(drop=True)


def _read(folder, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FollowUpWarning)
        return mo.read_cohort(folder, **kw)


def test_hive_partitioned_parquet_gives_the_in_memory_rows(client, tables, tmp_path):
    csv, pq = tmp_path / "csv", tmp_path / "parquet"
    csv.mkdir()
    for name, t in tables.items():
        t.to_csv(csv / f"{name}.csv", index=False)
    tables["patients"].to_parquet(pq / "patients", partition_cols=["arm"])
    tables["events"].to_parquet(pq / "events", partition_cols=["event_type"])
    tables["lesions"].to_parquet(pq / "lesions.parquet")
    with pytest.warns(UserWarning, match="lesions table is not read"):
        cohort = mo.read_cohort(pq, engine="dask")
    assert isinstance(cohort, DaskCohort)
    assert cohort.patients.npartitions >= 2  # one part file per arm at least
    got = _rows(mo.time_to_event(cohort, "mace", horizon=365).compute())
    want = _rows(mo.time_to_event(_read(csv), "mace", horizon=365))
    assert len(got) == len(tables["patients"])
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    # ids stay the text as written ("001", not 1), as the in-memory reader keeps them
    assert got["patient_id"].tolist() == sorted(tables["patients"]["patient_id"])
    assert pd.api.types.is_string_dtype(cohort.events["patient_id"].dtype)


def test_part_files_with_aliases_and_whole_number_ids(client, tmp_path):
    # a simulated registry (1000 patients, every ARC-2 type): integer ids become their
    # digits and study.toml aliases map the codes, as in memory
    sim = mo.simulate_registry(n_patients=1000, seed=3)
    p = sim.patients.assign(patient_id=lambda d: d["patient_id"].astype(int))
    e = sim.events.drop(columns="lesion_id").assign(
        patient_id=lambda d: d["patient_id"].astype(int),
        event_type=lambda d: d["event_type"].replace({"mi": "AMI (spontaneous)"}))
    assert (e["event_type"] == "AMI (spontaneous)").any()
    (tmp_path / "patients").mkdir()
    (tmp_path / "events").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(p)), 3)):
        p.iloc[part].to_parquet(tmp_path / "patients" / f"part.{i}.parquet")
    for i, part in enumerate(np.array_split(np.arange(len(e)), 4)):
        e.iloc[part].to_parquet(tmp_path / "events" / f"part.{i}.parquet")
    (tmp_path / "study.toml").write_text('[aliases]\n"AMI (spontaneous)" = "mi"\n')
    cohort = mo.read_cohort(tmp_path, engine="dask")
    assert cohort.events.npartitions == 4
    got = _rows(mo.time_to_event(cohort, "mace", horizon=365).compute())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FollowUpWarning)
        memory = mo.Cohort(p, e, aliases={"AMI (spontaneous)": "mi"})
    want = _rows(mo.time_to_event(memory, "mace", horizon=365))
    assert want["event"].sum() > 50  # enough events for the comparison to bite
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    assert set(got["patient_id"]) == set(map(str, p["patient_id"]))


def _key(problem) -> tuple:
    return problem.column, problem.reason.split(" (")[0].split(":")[0]


def test_bad_records_give_one_error_naming_the_ids_as_in_memory(client, tables, tmp_path):
    p, e = tables["patients"], tables["events"].drop(columns="lesion_id")
    pid = p["patient_id"].iloc[7]
    # a patient without recorded events, indexed before the two deaths given to them
    quiet = p[~p["patient_id"].isin(e["patient_id"])
              & (p["index_date"] < "2017-06-01")]["patient_id"].iloc[0]
    extra = pd.DataFrame({  # 25 unknown codes: the first 20 ids are named, and 25
        "event_id": [f"X{i:02d}" for i in range(25)] + ["Y1", "Y2", "Y3", "Z1", "D1", "D2"],
        "patient_id": [pid] * 25 + ["999", "998", pid, pid, quiet, quiet],
        "event_type": ["heart attack"] * 25 + ["mi"] * 4
        + ["cardiac_death", "noncardiac_death"],
        "event_date": ["2017-03-01"] * 27 + ["2017-02-30", "1990-01-01", "2018-01-01",
                                             "2018-02-01"]})
    bad = pd.concat([e.assign(event_date=e["event_date"].dt.strftime("%Y-%m-%d")), extra],
                    ignore_index=True)
    twice = pd.concat([p, p.iloc[[4]]], ignore_index=True)
    twice.to_parquet(tmp_path / "patients.parquet")
    bad.to_parquet(tmp_path / "events.parquet")
    with pytest.raises(ValidationError) as err:
        mo.read_cohort(tmp_path, engine="dask")
    problems = {_key(q): q for q in err.value.problems}
    unknown = problems["event_type", "unknown or missing event type"]
    assert unknown.rows == tuple(f"X{i:02d}" for i in range(20))
    assert "25 row(s)" in unknown.reason and "heart attack" in unknown.reason
    orphan = problems["patient_id", "event of a patient not in the patients table"]
    assert sorted(orphan.rows) == ["Y1", "Y2"]
    assert "2 event(s)" in orphan.reason and "999" in orphan.reason
    assert problems["patient_id", "duplicate patient_id"].rows == (p["patient_id"].iloc[4],)
    assert problems["event_date", "unparseable date"].rows == ("Y3",)
    assert problems["event_date", "event before the index date"].rows == ("Z1",)
    assert problems["event_date", "event after the patient's death"].rows == ("D2",)
    assert problems["event_type", "more than one death for the same patient"].rows == (
        quiet,)
    assert "events.parquet" in str(err.value) and "patients.parquet" in str(err.value)
    # the same problems, all at once, as the in-memory reader finds in the same tables
    with pytest.raises(ValidationError) as memory:
        mo.Cohort(twice, bad, warn=False)
    assert sorted(problems) == sorted(map(_key, memory.value.problems))


def test_missing_columns_and_tables_are_named_before_any_pass(tmp_path):
    with pytest.raises(InputError, match=r"no events table.*events\.csv is not Parquet"):
        (tmp_path / "patients").mkdir()
        (tmp_path / "events.csv").write_text("event_id\n")
        mo.read_cohort(tmp_path, engine="dask")
    pd.DataFrame({"patient_id": ["1"], "arm": ["A"]}).to_parquet(
        tmp_path / "patients" / "part.0.parquet")
    pd.DataFrame({"event_id": ["E1"], "patient_id": ["1"]}).to_parquet(
        tmp_path / "events.parquet")
    with pytest.raises(ValidationError) as err:
        mo.read_cohort(tmp_path, engine="dask")
    assert sorted((q.source, q.column) for q in err.value.problems) == [
        ("events.parquet", "event_date"), ("events.parquet", "event_type"),
        ("patients", "index_date"), ("patients", "last_contact_date")]


def test_exclusions_and_unknown_engines_are_refused(tmp_path):
    pd.DataFrame({"patient_id": ["1"]}).to_parquet(tmp_path / "patients.parquet")
    pd.DataFrame({"event_id": ["E1"]}).to_parquet(tmp_path / "events.parquet")
    (tmp_path / "study.toml").write_text('[exclusions]\n"old" = "age > 90"\n')
    with pytest.raises(InputError, match=r"\[exclusions\] are not applied on Dask"):
        mo.read_cohort(tmp_path, engine="dask")
    with pytest.raises(InputError, match="engine must be 'pandas' or 'dask'"):
        mo.read_cohort(tmp_path, engine="spark")


def test_many_part_files_give_the_in_memory_rows(client, tmp_path):
    # 16 part files per table: Dask spreads the per-patient group-bys of the checks and
    # of time_to_event over several output partitions; the rows must not change
    sim = mo.simulate_registry(n_patients=2000, seed=5)
    e = sim.events.drop(columns="lesion_id")
    for name, t in (("patients", sim.patients), ("events", e)):
        (tmp_path / name).mkdir()
        for i, part in enumerate(np.array_split(np.arange(len(t)), 16)):
            t.iloc[part].to_parquet(tmp_path / name / f"part.{i:02d}.parquet")
    cohort = mo.read_cohort(tmp_path, engine="dask")
    assert cohort.patients.npartitions == cohort.events.npartitions == 16
    got = _rows(mo.time_to_event(cohort, "mace", horizon=365).compute())
    want = _rows(mo.time_to_event(_read_memory(sim.patients, e), "mace", horizon=365))
    assert len(got) == 2000
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def _read_memory(patients, events):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FollowUpWarning)
        return mo.Cohort(patients, events)
