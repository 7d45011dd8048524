"""Date columns: one odd row is blamed alone; other single formats are read or refused."""

import pandas as pd
import pytest

import mace_outcomes as mo


def _patients(dates):
    n = len(dates)
    return pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)],
                         "arm": ["OCT", "IVUS"] * (n // 2), "index_date": dates,
                         "last_contact_date": ["2021-06-30"] * n})


EVENTS = pd.DataFrame(columns=["event_id", "patient_id", "event_type", "event_date"])


def test_one_non_iso_date_names_only_its_row():
    p = _patients(["10/01/2016", "2016-01-22", "2016-02-03", "2016-03-04"])
    with pytest.raises(mo.InputError) as info:
        mo.Cohort(patients=p, events=EVENTS)
    (problem,) = [q for q in info.value.problems if q.column == "index_date"]
    assert problem.rows == ("P0",)


def test_a_consistent_day_first_column_is_read():
    p = _patients(["22.01.2016", "03.02.2016", "15.04.2016", "30.12.2016"])
    p["last_contact_date"] = "30.06.2021"
    cohort = mo.Cohort(patients=p, events=EVENTS)
    assert cohort.patients["index_date"].tolist() == list(pd.to_datetime(
        ["2016-01-22", "2016-02-03", "2016-04-15", "2016-12-30"]))


def test_an_ambiguous_format_is_reported_not_guessed():
    p = _patients(["01/02/2016", "03/04/2016", "05/06/2016", "07/08/2016"])
    with pytest.raises(mo.InputError, match="ambiguous date format"):
        mo.Cohort(patients=p, events=EVENTS)
