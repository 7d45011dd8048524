"""The example cohort's patients (Table 1), and what both tables are calibrated with.

Part of the maintainer script ``build_example.py`` (see its docstring): the published
tables (``paper_tables``), the calibration of a draw to a printed mean and SD
(``_continuous``, with ``calibrate.py``), and the analysed and excluded patients.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pandas as pd
from calibrate import choose_exactly, exact_moments, printed_tolerance, quantise

# Choices the paper does not report (needed for confounding by indication).
UNREPORTED_COUNTS = {
    "renal_insufficiency": {"OCT": 3, "IVUS": 10},  # eGFR < 60 ml/min/1.73 m2
    "ostial": {"OCT": 2, "IVUS": 9},  # lesions
}


def paper_tables() -> dict:
    """The published numbers (a copy of the seed study's tables kept in the package)."""
    text = (resources.files("mace_outcomes.datasets").joinpath("paper_tables.json")
            .read_text("utf-8"))
    return json.loads(text)


def _z(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def _count(value) -> int:
    """A count from the tables; strings mark inconsistencies (see DEVIATIONS in
    build_example.py)."""
    if isinstance(value, str):
        found = re.search(r"(\d+) is consistent", value) or re.match(r"(\d+) printed", value)
        return int(found.group(1))
    return int(value)


def _continuous(x0, spec, step, lower, upper, sd=None, mean=None, **corr):
    """Calibrate a draw to a printed [mean, sd] and store it at ``step``.

    ``mean`` moves the target inside the printed mean's rounding window (it must still
    print as published); the repair tolerance shrinks accordingly.
    """
    printed_mean, sd_printed = spec
    sd = sd_printed if sd is None else sd
    target = printed_mean if mean is None else mean
    tol_mean = printed_tolerance(printed_mean) - abs(target - printed_mean)
    if tol_mean <= 0:
        raise ValueError(f"target mean {target} does not print as {printed_mean}")
    x = exact_moments(x0, target, sd, lower, upper, **corr)
    return quantise(x, step, target, sd, lower, upper, tol_mean=tol_mean)



def _patients_arm(arm: str, n: int, t1: dict, rng: np.random.Generator) -> pd.DataFrame:
    g = arm
    frailty = _z(rng, n)  # shared latent: older, diabetic, worse kidneys and ventricle
    age = _continuous(70 + 8 * (0.5 * frailty + _z(rng, n)), t1["age_years"][g], 1, 42, 90)
    # renal insufficiency (eGFR < 60) is more likely in older, frailer patients
    k_renal = UNREPORTED_COUNTS["renal_insufficiency"][g]
    renal = choose_exactly(n, k_renal, rng, score=1.2 * frailty + 0.05 * (age - 70))
    egfr0 = np.where(renal, rng.uniform(32, 58, n), 85 + 15 * _z(rng, n) - 5 * frailty)
    egfr_lo = np.where(renal, 25.0, 60.5)
    egfr_hi = np.where(renal, 59.4, 140.0)
    egfr = _continuous(egfr0, t1["egfr"][g], 0.1, egfr_lo, egfr_hi)
    lvef = _continuous(62 + 8 * _z(rng, n) - 3 * frailty, t1["lvef_percent"][g], 0.1, 25, 80)
    bmi = _continuous(26 + 4 * _z(rng, n), t1["bmi"][g], 0.01, 16.0, 60)
    binary = {}
    scores = {
        "male": np.zeros(n),
        "hypertension": 0.5 * frailty,
        "diabetes": 0.8 * frailty,
        "dyslipidemia": np.zeros(n),
        "smoking": np.zeros(n),
        "prior_mi": 0.5 * frailty,
        "prior_pci": 0.3 * frailty,
        "prior_cabg": 0.3 * frailty,
    }
    for name, score in scores.items():
        binary[name] = choose_exactly(n, _count(t1[name][g]), rng, score).astype(int)
    n_scad = _count(t1["presentation"]["SCAD"][g])
    scad = choose_exactly(n, n_scad, rng)
    df = pd.DataFrame(
        {
            "arm": arm,
            "age_years": age.astype(int),
            "male": binary["male"],
            "bmi": bmi,
            "hypertension": binary["hypertension"],
            "diabetes": binary["diabetes"],
            "dyslipidemia": binary["dyslipidemia"],
            "smoking": binary["smoking"],
            "lvef_percent": lvef,
            "egfr": egfr,
            "renal_insufficiency": renal.astype(int),
            "prior_mi": binary["prior_mi"],
            "prior_pci": binary["prior_pci"],
            "prior_cabg": binary["prior_cabg"],
            "presentation": np.where(scad, "SCAD", "ACS"),
        }
    )
    return df


def _patients_excluded(arms: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Screened but excluded patients: plausible values, not calibrated to any table."""
    n = len(arms)
    egfr = np.round(np.clip(rng.normal(78, 22, n), 28, 130), 1)
    return pd.DataFrame(
        {
            "arm": arms,
            "age_years": np.clip(np.round(rng.normal(69, 9, n)), 45, 88).astype(int),
            "male": (rng.random(n) < 0.66).astype(int),
            "bmi": np.round(np.clip(rng.normal(26, 4, n), 18, 40), 2),
            "hypertension": (rng.random(n) < 0.78).astype(int),
            "diabetes": (rng.random(n) < 0.55).astype(int),
            "dyslipidemia": (rng.random(n) < 0.38).astype(int),
            "smoking": (rng.random(n) < 0.5).astype(int),
            "lvef_percent": np.round(np.clip(rng.normal(64, 9, n), 30, 78), 1),
            "egfr": egfr,
            "renal_insufficiency": (egfr < 60).astype(int),
            "prior_mi": (rng.random(n) < 0.16).astype(int),
            "prior_pci": (rng.random(n) < 0.3).astype(int),
            "prior_cabg": (rng.random(n) < 0.08).astype(int),
            "presentation": np.where(rng.random(n) < 0.35, "SCAD", "ACS"),
        }
    )
