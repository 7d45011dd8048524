"""The error hierarchy and the shared frame validation every estimator uses."""

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes._frames import survival_arrays


def test_input_error_lists_every_problem_with_rows():
    df = pd.DataFrame({"time": [1.0, -2.0, np.nan, 4.0], "event": [1, 0, 2, 1],
                       "w": [1.0, 0.0, 1.0, -1.0]})
    with pytest.raises(mo.InputError) as info:
        survival_arrays(df, time="time", event="event", weights="w", source="tte.csv")
    problems = info.value.problems
    # negative time (row 1), missing time (row 2), bad event (row 2), bad weights (1, 3)
    reasons = {(p.column, p.rows) for p in problems}
    assert ("time", (1,)) in reasons
    assert ("time", (2,)) in reasons
    assert ("event", (2,)) in reasons
    assert ("w", (1, 3)) in reasons
    assert "tte.csv" in str(info.value)


def test_missing_column_and_one_group():
    df = pd.DataFrame({"time": [1.0, 2.0], "event": [1, 0], "g": ["a", "a"]})
    with pytest.raises(mo.InputError, match="column 'nope'"):
        survival_arrays(df, time="time", event="nope")
    with pytest.raises(mo.InputError, match="at least 2 groups"):
        survival_arrays(df, time="time", event="event", group="g", min_groups=2)


def test_unknown_public_name():
    with pytest.raises(AttributeError):
        mo.not_a_function  # noqa: B018


def test_weights_as_series_equal_weights_as_column():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"time": rng.integers(1, 50, 40).astype(float),
                       "event": rng.integers(0, 2, 40), "w": rng.uniform(0.5, 2, 40)},
                      index=rng.permutation(40) + 100)
    a = survival_arrays(df, time="time", event="event", weights="w")
    b = survival_arrays(df, time="time", event="event", weights=df["w"].sample(frac=1.0))
    np.testing.assert_array_equal(a.weights, b.weights)
    c = survival_arrays(df, time="time", event="event", weights=df["w"].to_numpy())
    np.testing.assert_array_equal(a.weights, c.weights)
    with pytest.raises(mo.InputError, match="shape"):
        survival_arrays(df, time="time", event="event", weights=np.ones(3))
    with pytest.raises(mo.InputError, match="does not cover"):
        survival_arrays(df, time="time", event="event", weights=df["w"].iloc[:10])


def test_problems_name_lesion_and_patient_ids_never_positions():
    # a lesion-level frame reset to positions 0..n-1: errors must say which lesion
    df = pd.DataFrame({"lesion_id": ["L7", "L8", "L9"], "patient_id": ["P1", "P1", "P2"],
                       "time": [5.0, np.nan, 3.0], "event": [1, 0, 0],
                       "age": [60.0, 70.0, np.nan], "arm": ["a", "b", "a"]})
    with pytest.raises(mo.InputError) as info:
        survival_arrays(df, time="time", event="event")
    assert info.value.problems[0].rows == ("L8",)
    with pytest.raises(mo.InputError) as info:
        mo.cox(df.fillna({"time": 1.0}), time="time", event="event", covariates=["age"])
    assert info.value.problems[0].rows == ("L9",)
    patients = df.drop(columns="lesion_id")
    with pytest.raises(mo.InputError) as info:
        survival_arrays(patients, time="time", event="event")
    assert info.value.problems[0].rows == ("P1",)
