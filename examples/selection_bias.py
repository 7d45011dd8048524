"""Adjusting the OCT vs IVUS comparison for selection bias (the seed study's limitation).

The imaging device was chosen at the operator's discretion -- OCT was avoided in renal
insufficiency, ostial, left-main and bifurcation lesions -- so the crude comparison is
confounded. This script runs the adjusted analysis on the bundled calibrated cohort:

1. the propensity model and the balance table before and after weighting;
2. crude, IPTW (ATE) and overlap-weighted comparisons of MACE and each component;
3. a patient-resampling bootstrap of the lesion-level IPTW hazard ratio;
4. what one event against three can and cannot support.

Run: python examples/selection_bias.py
"""

from __future__ import annotations

import os
import sys
import warnings

import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mace_outcomes as mo  # noqa: E402

ENDPOINTS = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]
# Patient-level confounders named in the paper's limitation and Table 1.
PATIENT_COVARIATES = ["age_years", "renal_insufficiency", "diabetes", "presentation",
                      "any_left_main", "any_ostial", "any_bifurcation"]
# At lesion level the features of the lesion itself replace the per-patient flags.
LESION_COVARIATES = ["age_years", "renal_insufficiency", "diabetes", "presentation",
                     "any_left_main", "ostial", "bifurcation"]
COLUMNS = ["events_treated", "n_treated", "events_control", "n_control", "surv_treated",
           "surv_control", "hr", "lower", "upper", "p", "logrank_p", "rd", "e_value"]


def available(df: pd.DataFrame, covariates: list[str]) -> list[str]:
    return [c for c in covariates if c in df.columns and df[c].nunique() > 1]


def main() -> None:
    pd.set_option("display.width", 140)
    pd.set_option("display.max_columns", 20)
    cohort = mo.load_example()
    print(cohort.summary(), "\n")

    tte = mo.time_to_event(cohort, endpoint="mace", horizon=365, level="patient")
    covs = available(tte, PATIENT_COVARIATES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mo.StatisticalWarning)
        ps = mo.propensity(tte, "arm", covs, estimand="ATE", treated="OCT")
    print("== Propensity model (patients) ==")
    print(ps.coef.round(3), "\n")
    print("== Balance before and after IPTW (|SMD| < 0.1 = balanced) ==")
    print(ps.balance().round(3).to_string(index=False), "\n")
    print("Overlap of the propensity scores:")
    print(ps.overlap().round(3).to_string(index=False))
    print(f"Effective sample size: {({k: round(v, 1) for k, v in ps.ess.items()})}")
    for w in caught:
        print(f"warning: {w.message}")
    print()

    print("== Crude vs adjusted, 1 year, patient level ==")
    for endpoint in ENDPOINTS:
        tte_e = mo.time_to_event(cohort, endpoint=endpoint, horizon=365, level="patient")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mo.StatisticalWarning)
            cmp = mo.compare_arms(tte_e, "arm", covs, estimand="ATE", treated="OCT")
        print(f"-- {endpoint} --")
        print(cmp.table.set_index("analysis")[COLUMNS].round(3).to_string())
        for note in cmp.notes:
            print(f"   note: {note}")
        print()

    print("== Lesion level, MACE: IPTW hazard ratio with patient-resampling bootstrap ==")
    lesions = mo.time_to_event(cohort, endpoint="mace", horizon=365, level="lesion")
    lcovs = available(lesions, LESION_COVARIATES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        bt = mo.bootstrap(lesions, "arm", lcovs, treated="OCT", cluster="patient_id",
                          n_boot=2000, seed=2024, n_jobs=2, progress=False, firth=True)
    print(bt, "\n")

    mace = mo.time_to_event(cohort, endpoint="mace", horizon=365, level="patient")
    e1 = int(mace.loc[mace.arm == "OCT", "event"].sum())
    e0 = int(mace.loc[mace.arm == "IVUS", "event"].sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        crude = mo.compare_arms(mace, "arm", covs, treated="OCT").table.iloc[0]
    print("== What these events can and cannot support ==")
    print(f"MACE at 1 year: {e1} event(s) with OCT vs {e0} with IVUS. The hazard ratio "
          f"{crude['hr']:.2f} has a 95% interval from {crude['lower']:.2f} to "
          f"{crude['upper']:.2f}: it is compatible with OCT lowering the hazard by "
          f"{100 * (1 - crude['lower']):.0f}% and with OCT multiplying it by "
          f"{crude['upper']:.1f}.")
    print("Such counts can show that neither device produced a large excess of early events "
          "in this cohort, and that event rates were low. They cannot show that OCT and IVUS "
          "are equivalent, that one is superior, or that any component (death, MI, TVR, stent "
          "thrombosis) differs; the weighting removes measured confounding but cannot add "
          "information: the adjusted intervals are as wide as the crude ones, and an E-value "
          "near 1 for the confidence limit means even weak unmeasured confounding could "
          "explain the point estimate. A randomised trial or a far larger registry is needed.")


if __name__ == "__main__":
    main()
