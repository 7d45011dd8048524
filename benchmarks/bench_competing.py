"""Benchmark: competing risks at registry scale.

Builds ``--n`` rows (default 1,000,000): follow-up in whole days (many ties), status
0 censored / 1 event / 2 competing death, two arms and two more covariates, IPTW-like
weights. Times in one run mace_outcomes' Aalen-Johansen cumulative incidence (per arm,
with infinitesimal-jackknife standard errors), Gray's test and the Fine-Gray model
(crr form, and the weighted finegray + coxph form), against lifelines'
AalenJohansenFitter and, when ``Rscript`` is installed, cmprsk's ``cuminc`` and ``crr``.

cmprsk's ``crr`` variance loops over pairs of subjects (O(n^2)), so R's ``crr`` is
timed on ``--crr-n`` rows (default 20,000) and ours on the same rows for the ratio.

    python benchmarks/bench_competing.py [--n 1000000] [--crr-n 20000] [--no-r]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _timing import best_of  # noqa: E402

import mace_outcomes as mo  # noqa: E402


def registry(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    age = rng.normal(65, 10, n)
    ckd = rng.integers(0, 2, n)
    lp1 = -0.3 * arm + 0.02 * (age - 65) + 0.4 * ckd
    lp2 = 0.04 * (age - 65) + 0.3 * ckd
    t1 = rng.exponential(3000 / np.exp(lp1))
    t2 = rng.exponential(4000 / np.exp(lp2))
    c = rng.uniform(30, 1100, n)
    t = np.minimum(np.minimum(t1, t2), c)
    status = np.where(t == c, 0, np.where(t1 <= t2, 1, 2))
    return pd.DataFrame({"time": np.ceil(t), "status": status, "arm": arm,
                         "age": age.round(0), "ckd": ckd,
                         "w": rng.uniform(0.5, 3.0, n)})




R_CODE = r"""
suppressMessages(library(cmprsk))
d <- read.csv("{path}")
t1 <- system.time(a <- cuminc(d$time, d$status, d$arm))[["elapsed"]]
s <- d[seq_len({crr_n}), ]
t2 <- system.time(f <- crr(s$time, s$status, cbind(s$arm, s$age, s$ckd)))[["elapsed"]]
cat(t1, t2, "\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--crr-n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    d = registry(args.n)
    small = d.iloc[:args.crr_n]
    cov = ["arm", "age", "ckd"]
    rows = []

    ours_cif = best_of(lambda: mo.cumulative_incidence(d, group="arm"), args.repeat)
    rows.append(("cumulative incidence (AJ + IJ SE), 2 arms", ours_cif))
    rows.append(("  same, cmprsk delta variance",
                 best_of(lambda: mo.cumulative_incidence(d, group="arm", variance="delta"),
                      args.repeat)))
    ours_gray = best_of(lambda: mo.gray_test(d, group="arm"), args.repeat)
    rows.append(("Gray's test (both causes)", ours_gray))
    ours_fg = best_of(lambda: mo.fine_gray(d, covariates=cov), 1)
    rows.append(("Fine-Gray (crr form), 3 covariates", ours_fg))
    rows.append(("Fine-Gray weighted (finegray + coxph form)",
                 best_of(lambda: mo.fine_gray(d, covariates=cov, weights="w"), 1)))
    ours_fg_small = best_of(lambda: mo.fine_gray(small, covariates=cov), args.repeat)
    rows.append((f"Fine-Gray (crr form), {args.crr_n:,} rows", ours_fg_small))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    other = {}
    try:
        from lifelines import AalenJohansenFitter

        def lifelines_cif():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for g in (0, 1):
                    s = d[d["arm"] == g]
                    AalenJohansenFitter(calculate_variance=True, seed=1).fit(
                        s["time"], s["status"], event_of_interest=1)

        other["lifelines AalenJohansenFitter (jitters ties)"] = (best_of(lifelines_cif, 1),
                                                                ours_cif)
    except ImportError:
        pass
    if not args.no_r and shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.csv")
            d.to_csv(path, index=False)
            out = subprocess.run(["Rscript", "-e", R_CODE.format(path=path,
                                                                  crr_n=args.crr_n)],
                                 capture_output=True, text=True, check=False)
            try:
                t_cuminc, t_crr = (float(v) for v in out.stdout.split())
                other["R cmprsk::cuminc (CIF + Gray's test)"] = (t_cuminc,
                                                                 ours_cif + ours_gray)
                other[f"R cmprsk::crr, {args.crr_n:,} rows"] = (t_crr, ours_fg_small)
            except ValueError:
                print("R failed:", out.stderr[-500:])

    print(f"rows: {args.n:,}; distinct days: {d['time'].nunique():,}; "
          f"events {int((d['status'] == 1).sum()):,}, competing "
          f"{int((d['status'] == 2).sum()):,}")
    print(f"{'mace_outcomes':48s} {'seconds':>9s}")
    for name, sec in rows:
        print(f"{name:48s} {sec:9.3f}")
    if other:
        print(f"\n{'other implementation':48s} {'seconds':>9s} {'ratio other/ours':>17s}")
        for name, (sec, ours) in other.items():
            print(f"{name:48s} {sec:9.3f} {sec / ours:17.1f}")
    print(f"\npeak memory (this process): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
