"""Missing covariates and propensity-score matching on the bundled cohort.

The bundled cohort is complete, so this script first blanks some covariate values
(completely at random, seeded; the output says how many) and then walks the path a
registry with missing data takes:

1. ``mo.missingness``: how many values are missing, overall and per arm (STROBE 14b);
2. ``mo.impute``: m completed data sets by chained equations, the outcome (event and
   Nelson-Aalen cumulative hazard) and the arm in every imputation model;
3. ``mo.propensity(imp, ...)``: the propensity model re-fitted within each imputation,
   balance after weighting averaged over the imputations;
4. ``mo.compare_arms(imp, ...)``: crude, IPTW and overlap-weighted hazard ratios pooled
   by Rubin's rules, and the IPTW-weighted Kaplan-Meier survival at 1 year pooled with
   ``mo.pool`` on the complementary log-log scale;
5. propensity-score matching (``mo.match``): balance before and after matching, and the
   matched comparison next to the weighted ones.

Every table is printed and written as CSV to the output folder (default: a new
temporary folder); nothing is written anywhere else.

Run: python examples/missing_and_matching.py [--out DIR] [--m 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mace_outcomes as mo  # noqa: E402
from mace_outcomes.tables.export import to_csv  # noqa: E402

# The patient-level confounders of examples/selection_bias.py (Table 1 of the seed study)
COVARIATES = ["age_years", "renal_insufficiency", "diabetes", "presentation",
              "any_left_main", "any_ostial", "any_bifurcation"]
# share of values blanked per column: continuous, binary 0/1 and binary text columns
BLANKED = {"age_years": 0.15, "renal_insufficiency": 0.15, "presentation": 0.10}
TREATED = "OCT"
HORIZON = 365


def blank(df: pd.DataFrame, shares: dict, seed: int) -> pd.DataFrame:
    """A copy of ``df`` with ``round(share * n)`` values of each column set to missing,
    completely at random (MCAR), the rows drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for col, share in shares.items():
        rows = rng.choice(len(df), size=round(share * len(df)), replace=False)
        values = out[col].astype(float) if pd.api.types.is_numeric_dtype(out[col]) \
            else out[col].astype(object)
        values.iloc[rows] = np.nan
        out[col] = values
    return out


def _show(title: str, frame: pd.DataFrame, out: Path, name: str) -> None:
    print(f"== {title} ==")
    print(frame.round(3).to_string(index=False), "\n")
    to_csv(frame, out / f"{name}.csv")


def _matching(imp, out: Path, results: dict) -> None:
    """Step 5: matching (shown on imputation 1), and the matched row pooled over all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        m = mo.match(imp.complete(1), treatment="arm", covariates=COVARIATES, ratio=1,
                  caliper=0.2, estimand="ATT", id="patient_id", treated=TREATED)
    print("== Propensity-score matching, imputation 1: 1:1 nearest neighbour on the logit "
          "of the score, caliper 0.2 SD, without replacement (ATT) ==")
    print(m.counts.round(1).to_string(index=False), "\n")
    _show("Balance before and after matching (imputation 1; SMD over the treated arm's SD "
          "as MatchIt)", m.balance(), out, "balance_matched")
    results["match"] = m
    # matching runs again within every imputation (the same settings: match's defaults)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        cmp = mo.compare_arms(imp, "arm", COVARIATES, treated=TREATED, horizon=HORIZON,
                              adjustment=("iptw", "overlap", "match"))
    events = [c.table.set_index("analysis").loc["matched", ["events_treated",
                                                            "events_control"]].tolist()
              for c in cmp.per_imputation]
    _show("Weighted and matched hazard ratios (OCT vs IVUS), pooled over imputations",
          _hr_rows(cmp), out, "hazard_ratios_matched")
    print("Events (OCT, IVUS) in the matched sets of the imputations: "
          + ", ".join(f"{int(a)}/{int(b)}" for a, b in events)
          + ". Where an arm has none, that imputation's row is the Firth-penalised Cox "
          "model; with so few events the pooled df fall below 1 and the interval is "
          "unbounded.\n")
    results["matched_comparison"] = cmp


def _hr_rows(pooled) -> pd.DataFrame:
    s = pooled.table
    hr = s[s["term"].str.endswith(": hr")]
    return hr.assign(term=hr["term"].str.removesuffix(": hr"))[
        ["term", "hr", "hr_lower", "hr_upper", "p", "df", "fmi"]].rename(
        columns={"term": "analysis"})


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output folder (default: a new temporary folder)")
    ap.add_argument("--m", type=int, default=20, help="number of imputations")
    ap.add_argument("--seed", type=int, default=1, help="seed of the blanking and imputation")
    ap.add_argument("--no-match", action="store_true", help="leave out step 5")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mace_missing_"))
    out.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 140)

    cohort = mo.load_example()
    tte = mo.time_to_event(cohort, endpoint="mace", horizon=HORIZON, level="patient")
    df = blank(tte, BLANKED, args.seed)
    n_blank = {c: int(df[c].isna().sum()) for c in BLANKED}
    print(f"The bundled cohort ({len(df)} patients, {int(df['event'].sum())} MACE by "
          f"{HORIZON} days) is complete: for this example, values were blanked completely "
          f"at random (seed {args.seed}): "
          + ", ".join(f"{c} {k}" for c, k in n_blank.items()) + ".\n")

    miss = mo.missingness(df, variables=COVARIATES, group="arm")
    _show("Missing values (STROBE 14b)", miss.table, out, "missingness")

    imp = mo.impute(df, variables=COVARIATES, m=args.m, seed=args.seed, time="time",
                    event="event", treatment="arm")
    print(f"== Multiple imputation: m = {imp.m}, {imp.iterations} iterations, seed "
          f"{imp.seed} ==")
    print(imp.summary.round(1).to_string(index=False))
    for note in imp.notes:
        print(f"note: {note}")
    print()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        ps = mo.propensity(imp, "arm", COVARIATES, estimand="ATE", treated=TREATED)
        _show(f"Balance after IPTW (ATE), averaged over the {imp.m} imputations",
              ps.balance(), out, "balance_weighted")
        cmp = mo.compare_arms(imp, "arm", COVARIATES, treated=TREATED, horizon=HORIZON)
    _show("Hazard ratios (OCT vs IVUS), pooled by Rubin's rules", _hr_rows(cmp), out,
          "hazard_ratios")
    print(f"With {int(df['event'].sum())} events, Rubin's rules take the complete-data df "
          "of a Cox model as events - terms (as mice::pool does for coxph), so the pooled "
          "intervals use t on about 2 df: far wider than one data set's Wald interval. "
          "This cohort shows the path, not an estimate.\n")

    # each imputation's IPTW-weighted Kaplan-Meier at 1 year, with its own weights
    kms = [mo.kaplan_meier(d, group="arm", weights=fit.weights).at(HORIZON)
           for d, fit in zip(imp.datasets, ps.fits, strict=True)]
    km = mo.pool(kms)
    surv = km.table[["term", "surv", "surv_lower", "surv_upper", "df", "fmi"]]
    _show(f"IPTW-weighted MACE-free survival at {HORIZON} days, pooled (cloglog scale)",
          surv, out, "survival_1y")

    results = {"data": df, "blanked": n_blank, "missingness": miss, "imputations": imp,
               "propensity": ps, "comparison": cmp, "survival": km, "out": out}
    if not args.no_match:
        _matching(imp, out, results)
    print(f"Tables written to {out}")
    return results


if __name__ == "__main__":
    main()
