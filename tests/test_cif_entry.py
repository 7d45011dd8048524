"""Aalen-Johansen cumulative incidence with delayed entry: ``cumulative_incidence(start=)``.

References: R survival's multi-state ``survfit(Surv(start, stop, factor(status)) ~ group,
id=)`` (tests/reference/aj_entry.R -> aj_entry.json) on mgus2 in age scale and on a small
hand-made set; hand computations; and the property that entry at 0 (or before the first
time) changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.errors import InputError

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "aj_entry.json").read_text())


@pytest.fixture(scope="module")
def mgus2() -> pd.DataFrame:
    d = pd.read_csv(REF / "aj_entry_mgus2.csv")
    d["w"] = 1 + (d["id"] % 3) / 2  # as aj_entry.R
    return d


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return pd.read_csv(REF / "aj_entry_small.csv")


def _check_against_r(ci, ref: dict, weighted: bool) -> None:
    k = len(ref["pstate"][0])
    tab = ci.table
    assert list(tab["group"].astype(str)) == ref["group"]
    np.testing.assert_allclose(tab["time"], ref["time"], rtol=0, atol=1e-8)
    # R's multi-state n.risk counts rows, weighted or not
    nr = tab["n_risk_unweighted" if weighted else "n_risk"]
    np.testing.assert_allclose(nr, ref["n_risk"], rtol=0, atol=1e-8)
    prob = ci.states["prob"].to_numpy().reshape(-1, k)
    se = ci.states["std_err"].to_numpy().reshape(-1, k)
    np.testing.assert_allclose(prob, ref["pstate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(se, ref["std_err"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(tab["cif"], np.asarray(ref["pstate"])[:, 1], atol=1e-8)
    np.testing.assert_allclose(tab["std_err"], np.asarray(ref["std_err"])[:, 1], atol=1e-8)


@pytest.mark.parametrize("name,group,weights", [
    ("mgus2", "sex", None), ("mgus2_all", None, None), ("mgus2_weighted", "sex", "w")])
def test_mgus2_age_scale_matches_r(mgus2, name, group, weights):
    ci = mo.cumulative_incidence(mgus2, time="exit", status="status", group=group,
                                 weights=weights, start="entry")
    _check_against_r(ci, R[name], weights is not None)
    assert ci.start == "entry"


@pytest.mark.parametrize("name,weights", [("small", None), ("small_weighted", "w")])
def test_small_hand_made_matches_r(small, name, weights):
    ci = mo.cumulative_incidence(small, time="stop", status="status", group="grp",
                                 weights=weights, start="start")
    _check_against_r(ci, R[name], weights is not None)


def test_hand_computation_with_tied_entry_and_exit():
    # rows (0,2] cause 1, (1,3] cause 2, (2,4] cause 1, (0,5] censored; the row entering
    # at 2 is not at risk at 2: n = 3, 3, 2, 1
    d = pd.DataFrame({"start": [0, 1, 2, 0], "stop": [2, 3, 4, 5], "status": [1, 2, 1, 0]})
    ci = mo.cumulative_incidence(d, time="stop", status="status", start="start")
    np.testing.assert_allclose(ci.table["n_risk"], [3, 3, 2, 1])
    # F1: 1/3; then S = 2/3 * 2/3 = 4/9; at 4: 1/3 + 4/9 * 1/2 = 5/9
    np.testing.assert_allclose(ci.table["cif"], [1 / 3, 1 / 3, 5 / 9, 5 / 9], atol=1e-14)
    # cmprsk's delta variance with these risk sets at t = 2: S(0)^2 d / n^2 = 1/9
    de = mo.cumulative_incidence(d, time="stop", status="status", start="start",
                                 variance="delta")
    assert de.table["std_err"].iloc[0] == pytest.approx(1 / 3, abs=1e-14)


def test_noise_ties_between_entry_and_exit():
    # sqrt(2)**2 and 2 are one time (R's aeqSurv): the row entering at 2 is not at risk
    d = pd.DataFrame({"start": [0.0, 2.0, 0.0], "stop": [np.sqrt(2) ** 2, 5.0, 6.0],
                      "status": [1, 1, 0]})
    ci = mo.cumulative_incidence(d, time="stop", status="status", start="start")
    assert ci.table["n_risk"].iloc[0] == 2
    assert ci.table["cif"].iloc[0] == pytest.approx(0.5, abs=1e-14)


@pytest.mark.parametrize("variance,weights", [("aalen-johansen", None),
                                              ("aalen-johansen", "w"), ("delta", None)])
def test_entry_at_zero_reproduces_the_fit_without_start(mgus2, variance, weights):
    d = mgus2.assign(time=(mgus2["exit"] - mgus2["entry"]) * 12, zero=0.0)
    plain = mo.cumulative_incidence(d, status="status", group="sex", weights=weights,
                                    variance=variance)
    entry = mo.cumulative_incidence(d, status="status", group="sex", weights=weights,
                                    variance=variance, start="zero")
    pd.testing.assert_frame_equal(entry.table, plain.table, rtol=1e-12, atol=1e-13)
    pd.testing.assert_frame_equal(entry.states, plain.states, rtol=1e-12, atol=1e-13)


def test_entry_before_the_first_time_changes_nothing(small):
    d = small.assign(early=np.linspace(0.0, 0.9, len(small)))  # all before the first stop
    for variance in ("aalen-johansen", "delta"):
        plain = mo.cumulative_incidence(d, time="stop", status="status", group="grp",
                                        variance=variance)
        entry = mo.cumulative_incidence(d, time="stop", status="status", group="grp",
                                        variance=variance, start="early")
        pd.testing.assert_frame_equal(entry.states, plain.states, rtol=1e-12, atol=1e-13)


def test_start_not_below_stop_is_an_input_error(small):
    bad = small.assign(start=small["start"].where(small["id"] != 3, 4.0))  # stop is 4
    with pytest.raises(InputError) as e:
        mo.cumulative_incidence(bad, time="stop", status="status", start="start")
    assert "start" in str(e.value)


def test_gray_test_and_fine_gray_refuse_start(small):
    with pytest.raises(InputError, match="start, stop"):
        mo.gray_test(small, time="stop", status="status", group="grp", start="start")
    with pytest.raises(InputError, match="start, stop"):
        mo.fine_gray(small, time="stop", status="status", covariates=["grp"],
                     start="start")
