"""simulate_registry: structure, truth, and confounding that really drives the arm.

Independent sources: lifelines (Cox, Kaplan-Meier) on the simulated data, closed forms
(a null effect gives a marginal HR of exactly 1 and equal risks), and simulation
properties with known truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter, KaplanMeierFitter
from statsmodels.duration.hazard_regression import PHReg

import mace_outcomes as mo
from mace_outcomes.datasets.simulate import binary_cox_efron

TRUTH_KEYS = {"marginal_hr", "risk_1y", "confounders"}


@pytest.fixture(scope="module")
def confounded():
    return mo.simulate_registry(20_000, seed=11, true_hr=1.0)


@pytest.fixture(scope="module")
def randomised():
    return mo.simulate_registry(20_000, seed=12, true_hr=0.6, confounding=0.0)


def test_sizes_and_structure():
    c = mo.simulate_registry(3_000, seed=1, events_per_patient=3.0)
    p, le, e = c.patients, c.lesions, c.events
    assert len(p) == 3_000 and p["patient_id"].is_unique
    assert 3_000 <= len(le) <= 6_000 and le["lesion_id"].is_unique
    assert 2.7 <= len(e) / len(p) <= 3.3
    assert set(p["arm"]) == {"OCT", "IVUS"}
    for col in ("patient_id", "arm", "index_date", "last_contact_date", "renal_insufficiency",
                "any_left_main", "any_ostial", "any_bifurcation", "synthetic"):
        assert col in p.columns
    assert {"lesion_id", "patient_id", "vessel", "minimum_stent_area_mm2",
            "proximal_ref_lumen_csa_mm2", "distal_ref_lumen_csa_mm2"} <= set(le.columns)
    assert list(e.columns) == ["event_id", "patient_id", "lesion_id", "event_type",
                               "event_date", "target_vessel", "st_certainty"]
    # events name lesions of their own patient, lie inside follow-up, one death at most
    owner = le.set_index("lesion_id")["patient_id"]
    with_lesion = e.dropna(subset=["lesion_id"])
    # ids are text in a cohort (as when read from files)
    assert (owner.loc[with_lesion["lesion_id"]].to_numpy()
            == with_lesion["patient_id"].to_numpy()).all()
    pe = e.merge(p[["patient_id", "index_date", "last_contact_date"]], on="patient_id")
    assert (pe["event_date"] >= pe["index_date"]).all()
    assert (pe["event_date"] <= pe["last_contact_date"]).all()
    deaths = e[e["event_type"].astype(str).str.endswith("death")]
    assert deaths["patient_id"].is_unique
    fu_months = (p["last_contact_date"] - p["index_date"]).dt.days / (365.25 / 12)
    alive = ~p["patient_id"].isin(deaths["patient_id"])
    assert fu_months[alive].min() >= 7.9 and fu_months.max() <= 36.1
    assert abs(fu_months[alive].median() - 18) < 1.0


def test_truth_keys_and_confounders_are_columns(confounded):
    t = confounded.truth
    assert TRUTH_KEYS <= set(t)
    assert set(t["risk_1y"]) == {"OCT", "IVUS"}
    assert set(t["confounders"]) <= set(confounded.patients.columns)


def test_null_effect_gives_exact_truth(confounded):
    # T1 == T0 for every patient: the Cox fit to both potential outcomes is exactly 1
    t = confounded.truth
    assert t["marginal_hr"] == pytest.approx(1.0, abs=1e-12)
    assert t["risk_1y"]["OCT"] == t["risk_1y"]["IVUS"]


def test_confounders_drive_the_arm_and_bias_the_crude_comparison(confounded):
    p = confounded.patients
    for col in confounded.truth["confounders"]:
        rates = p.groupby("arm")[col].mean()
        assert rates["OCT"] < rates["IVUS"] - 0.03, col
    tte = mo.time_to_event(confounded, endpoint="mace", horizon=365)
    tte = tte.assign(x=(tte["arm"] == "OCT").astype(float))
    crude = CoxPHFitter().fit(tte[["time", "event", "x"]], "time", "event")
    upper = float(np.exp(crude.confidence_intervals_.iloc[0, 1]))
    # the truth is HR 1; the crude HR flatters OCT, its 95% interval excludes 1
    assert float(np.exp(crude.params_["x"])) < 0.85 and upper < 1.0
    # adjusting for the confounders (they are the whole story) moves it back toward 1
    cols = ["time", "event", "x"] + confounded.truth["confounders"]
    adj = CoxPHFitter().fit(tte[cols].astype(float), "time", "event")
    assert abs(adj.params_["x"]) < abs(crude.params_["x"]) / 2


def test_randomised_data_recover_the_truth(randomised):
    t = randomised.truth
    assert 0.55 < t["marginal_hr"] < 0.7  # non-collapsible: nearer 1 than the conditional 0.6
    tte = mo.time_to_event(randomised, endpoint="mace", horizon=365)
    tte = tte.assign(x=(tte["arm"] == "OCT").astype(float))
    fit = CoxPHFitter().fit(tte[["time", "event", "x"]], "time", "event")
    z = (fit.params_["x"] - np.log(t["marginal_hr"])) / fit.standard_errors_["x"]
    assert abs(z) < 4
    for arm, sub in tte.groupby("arm"):
        km = KaplanMeierFitter().fit(sub["time"], sub["event"])
        risk = 1 - float(km.survival_function_at_times(365).iloc[0])
        se = np.sqrt(risk * (1 - risk) / len(sub))
        assert abs(risk - t["risk_1y"][arm]) < 4 * se, arm


def test_same_seed_same_records():
    a = mo.simulate_registry(500, seed=5)
    b = mo.simulate_registry(500, seed=5)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    assert a.truth == b.truth
    c = mo.simulate_registry(500, seed=6)
    assert not a.patients["age_years"].equals(c.patients["age_years"])


@settings(max_examples=10, deadline=None)
@given(n=st.integers(30, 400), seed=st.integers(0, 2**31 - 1),
       frac=st.floats(0.1, 0.9))
def test_binary_cox_efron_equals_lifelines(n, seed, frac):
    # statsmodels' PHReg and lifelines' CoxPHFitter (Efron ties) on the rows are oracles
    rng = np.random.default_rng(seed)
    x = rng.random(n) < frac
    if x.all() or not x.any():
        x[0] = not x[0]
    t = np.floor(rng.weibull(0.7, n) * 200 * np.where(x, 1.3, 1.0))
    event = (t <= 365) & (rng.random(n) < 0.8)
    # both arms need an event, else the MLE is infinite (monotone likelihood)
    assume(event[x].any() and event[~x].any())
    df = pd.DataFrame({"time": np.minimum(t, 365) + 1, "event": event.astype(int),
                       "x": x.astype(float)})
    got = binary_cox_efron(np.minimum(t, 365), event, x)
    # statsmodels PHReg (Efron) converges tightly; lifelines stops within ~1e-5
    sm = PHReg(df["time"].to_numpy(), df[["x"]].to_numpy(), status=df["event"].to_numpy(),
               ties="efron").fit()
    assert got == pytest.approx(float(sm.params[0]), abs=1e-6)
    ref = CoxPHFitter().fit(df, "time", "event",
                            fit_options={"precision": 1e-12}).params_["x"]
    assert got == pytest.approx(ref, abs=1e-4)


def test_truth_sample_is_close_to_full_fit():
    full = mo.simulate_registry(20_000, seed=3, true_hr=0.7)
    part = mo.simulate_registry(20_000, seed=3, true_hr=0.7, truth_sample=10_000)
    assert part.truth["n_truth_fit"] == 10_000 and full.truth["n_truth_fit"] == 20_000
    assert part.truth["marginal_hr"] == pytest.approx(full.truth["marginal_hr"], rel=0.03)


def test_bad_arguments():
    with pytest.raises(ValueError):
        mo.simulate_registry(1, seed=0)
    with pytest.raises(ValueError):
        mo.simulate_registry(100, seed=0, true_hr=0)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 300), seed=st.integers(0, 2**31 - 1),
       hr=st.floats(0.3, 3.0), confounding=st.floats(0.0, 2.0),
       per_patient=st.floats(0.0, 5.0))
def test_any_simulated_registry_is_valid(n, seed, hr, confounding, per_patient):
    # Cohort() validates every record (it raises on any problem); time_to_event then
    # gives one row per patient inside follow-up
    c = mo.simulate_registry(n, seed=seed, true_hr=hr, confounding=confounding,
                             events_per_patient=per_patient)
    assert len(c.patients) == n and c.source["synthetic"]
    assert set(c.patients["arm"]) == {"OCT", "IVUS"}
    tte = mo.time_to_event(c, endpoint="mace", horizon=365)
    assert len(tte) == n and tte["patient_id"].is_unique
    fu = (c.patients.set_index("patient_id")["last_contact_date"]
          - c.patients.set_index("patient_id")["index_date"]).dt.days
    assert (tte["time"].to_numpy() <= np.minimum(365, fu.loc[tte["patient_id"]].to_numpy())).all()
    r = c.truth["risk_1y"]
    assert 0 <= r["OCT"] <= 1 and 0 <= r["IVUS"] <= 1
    # the treated arm's potential time is the control's scaled by hr^(-1/shape)
    assert (r["OCT"] <= r["IVUS"]) == (hr <= 1) or r["OCT"] == r["IVUS"]
