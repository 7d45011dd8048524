"""The publication figures of an OCT-vs-IVUS registry study, from the bundled cohort.

Run from the project root:

    python examples/figures.py [OUT_DIR]          # default: figures/

Writes, each as PDF (fonts embedded), SVG, 600-dpi PNG and TIFF:

- km_mace_crude        MACE cumulative incidence by arm, number at risk, log-rank, HR
- km_mace_iptw         the same after inverse-probability-of-treatment weighting
                       (IPTW log-rank, weighted Cox, weighted and actual numbers at risk)
- km_components        MACE and each component as lettered panels (double column)
- cif_mace             MACE with non-cardiac death as the competing risk (Aalen-Johansen)
- forest_endpoints     hazard ratios across endpoints (Firth-penalised: events are rare)
- love_plot, ps_overlap  balance and overlap of the propensity model
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

import mace_outcomes as mo
from mace_outcomes.plots import (
    arm_colours,
    plot_cif,
    plot_forest,
    plot_km,
    plot_km_panels,
    plot_love,
    plot_overlap,
    save_figure,
)

FORMATS = ("pdf", "svg", "png", "tiff")
BREAKS = (0, 3, 6, 9, 12)  # months
COVARIATES = ["age_years", "male", "diabetes", "egfr", "lvef_percent", "prior_pci"]
ENDPOINTS = {"MACE": "mace", "Cardiac death": "cardiac_death", "Myocardial infarction": "mi",
             "Target-vessel revascularisation": "tvr", "Stent thrombosis": "stent_thrombosis"}
LABELS = {"OCT": "OCT-guided", "IVUS": "IVUS-guided"}
ORDER = ["OCT", "IVUS"]  # treatment arm first, as in study.toml
PALETTE = arm_colours(ORDER, treated="OCT")  # one colour per arm in every figure


def main(out: Path, dpi: int = 600, formats=FORMATS) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cohort = mo.load_example()
    tte = {name: mo.time_to_event(cohort, endpoint=code, horizon=365)
           for name, code in ENDPOINTS.items()}
    mace = tte["MACE"].copy()
    mace["oct"] = (mace["arm"] == "OCT").astype(int)
    written: list[Path] = []

    def save(fig, name):
        written.extend(save_figure(fig, out / name, dpi=dpi, formats=formats))

    with warnings.catch_warnings():
        # few events: the Cox fits warn (monotone likelihood) and Firth is used instead
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        km = mo.kaplan_meier(mace, group="arm")
        crude_hr = mo.cox(mace, covariates=["oct"], firth=True)
        save(plot_km(km, kind="event", percent=True, breaks=BREAKS, labels=LABELS,
                     order=ORDER, palette=PALETTE,
                     test=mo.logrank(mace, group="arm"), hr=crude_hr, ylabel="MACE (%)",
                     risk_table_rows=("n_risk", "cum_events")), "km_mace_crude")

        ps = mo.propensity(mace, treatment="arm", covariates=COVARIATES, estimand="ATE",
                           treated="OCT")
        mace["iptw"] = ps.weights
        km_w = mo.kaplan_meier(mace, group="arm", weights="iptw")
        save(plot_km(km_w, kind="event", percent=True, breaks=BREAKS, labels=LABELS,
                     order=ORDER, palette=PALETTE,
                     test=mo.logrank(mace, group="arm", weights="iptw"),
                     hr=mo.cox(mace, covariates=["oct"], weights="iptw", firth=True),
                     ylabel="MACE (%), IPTW-weighted", weighted_counts="both",
                     title="Inverse-probability-weighted"), "km_mace_iptw")

        kms = {name: mo.kaplan_meier(df, group="arm") for name, df in tte.items()}
        save(plot_km_panels(kms, kind="event", percent=True, breaks=BREAKS, labels=LABELS,
                            order=ORDER, palette=PALETTE), "km_components")

        # MACE vs non-cardiac death (status 2) as the competing event
        cif = {"MACE": mo.cumulative_incidence(mace, status="status", group="arm", cause=1)}
        if (mace["status"] == 2).any():
            cif["Non-cardiac death"] = mo.cumulative_incidence(mace, status="status",
                                                               group="arm", cause=2)
        save(plot_cif(cif, percent=True, breaks=BREAKS, labels=LABELS, order=ORDER,
                         palette=PALETTE), "cif_mace")

        rows = []
        for name, df in tte.items():
            df = df.assign(oct=(df["arm"] == "OCT").astype(int))
            counts = df.groupby("arm")["event"].agg(["sum", "size"])
            fit = mo.cox(df, covariates=["oct"], firth=True)
            row = fit.summary.loc["oct"]
            rows.append({"label": name, "hr": row["hr"], "lower": row["lower"],
                         "upper": row["upper"], "p": row["p"],
                         **{arm: f"{int(c['sum'])}/{int(c['size'])}"
                            for arm, c in counts.iterrows()}})
        forest = pd.DataFrame(rows)
        save(plot_forest(forest, columns={"OCT": "OCT", "IVUS": "IVUS"},
                         label_header="Endpoint", xlabel="Hazard ratio (Firth), OCT vs IVUS",
                         favours=("Favours OCT", "Favours IVUS"), palette=PALETTE),
             "forest_endpoints")

        save(plot_love(ps, labels={"age_years": "Age, years", "male": "Male sex",
                                   "diabetes": "Diabetes", "egfr": "eGFR",
                                   "lvef_percent": "LVEF, %", "prior_pci": "Prior PCI"},
                       palette=PALETTE),
             "love_plot")
        save(plot_overlap(ps, weighted=True, labels=LABELS, palette=PALETTE), "ps_overlap")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("figures")
    for path in main(target):
        print(path)
