"""Benchmark: m = 20 imputations by chained equations of a 10,000-patient cohort.

Ten covariates of mixed types (4 continuous, 3 binary, 2 categorical with 3 and 4
levels, 1 ordered categorical with 3 levels), each 20% missing at random, plus the
outcome (event, Nelson-Aalen cumulative hazard) and the treatment in every model;
10 iterations per data set: 2,000 model fits. Target: under 30 s on 2 shared cores.

Run: python benchmarks/bench_impute.py [--patients N] [--m M]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

# The models are fitted on 10^4 x 17 matrices, too small for threaded BLAS: on a shared
# 2-core machine its threads wait for each other and make each fit 10-50x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mace_outcomes as mo  # noqa: E402

COVARIATES = ["age", "egfr", "lvef", "bmi", "diabetes", "smoker", "prior_mi", "presentation",
              "vessel", "killip"]


def cohort(n: int, seed: int = 0) -> pd.DataFrame:
    """Correlated covariates, an arm by indication and an outcome depending on them."""
    rng = np.random.default_rng(seed)
    age = rng.normal(66, 10, n).round()
    egfr = np.clip(110 - 0.7 * age + rng.normal(0, 15, n), 5, None).round()
    lvef = np.clip(55 - 0.1 * (age - 66) + rng.normal(0, 8, n), 15, 75).round()
    bmi = rng.normal(28, 4, n).round(1)
    diabetes = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.03 * (bmi - 28) * 3)))).astype(int)
    smoker = (rng.random(n) < 0.3).astype(int)
    prior_mi = (rng.random(n) < 1 / (1 + np.exp(-(-1.8 + 0.02 * (age - 66))))).astype(int)
    presentation = rng.choice(["CCS", "NSTEMI", "STEMI"], n, p=[0.5, 0.3, 0.2])
    vessel = rng.choice(["LAD", "LCX", "RCA", "LM"], n, p=[0.45, 0.2, 0.3, 0.05])
    killip = pd.Categorical(
        np.where(presentation == "STEMI", rng.choice(["I", "II", "III"], n, p=[.6, .3, .1]),
                 rng.choice(["I", "II", "III"], n, p=[.85, .12, .03])),
        categories=["I", "II", "III"], ordered=True)
    arm = np.where(rng.random(n) < 1 / (1 + np.exp(-(0.02 * (egfr - 70)))), "DCB", "DES")
    lp = 0.03 * (age - 66) - 0.01 * (egfr - 70) + 0.5 * diabetes + 0.4 * (presentation ==
                                                                          "STEMI")
    t = rng.exponential(1500 * np.exp(-lp))
    c = rng.uniform(200, 1100, n)
    df = pd.DataFrame({"patient_id": np.arange(1, n + 1), "arm": arm,
                       "time": np.minimum(t, c).round() + 1, "event": (t <= c).astype(int),
                       "age": age, "egfr": egfr, "lvef": lvef, "bmi": bmi,
                       "diabetes": diabetes, "smoker": smoker, "prior_mi": prior_mi,
                       "presentation": presentation, "vessel": vessel, "killip": killip})
    for col in COVARIATES:  # 20% missing, more often in older patients (at random given age)
        p = 0.2 * np.exp(0.02 * (age - 66)) / np.mean(np.exp(0.02 * (age - 66)))
        df.loc[rng.random(n) < p, col] = np.nan
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--m", type=int, default=20)
    args = ap.parse_args()
    df = cohort(args.patients)
    print(f"{args.patients} patients, {len(COVARIATES)} covariates, "
          f"{df[COVARIATES].isna().mean().mean():.1%} missing")
    t0 = time.perf_counter()
    imp = mo.impute(df, variables=COVARIATES, m=args.m, seed=1, treatment="arm")
    seconds = time.perf_counter() - t0
    print(imp)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"m = {args.m}, 10 iterations: {seconds:.1f} s (target < 30 s), "
          f"peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
