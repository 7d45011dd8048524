"""Benchmark: 2,000 bootstrap replicates of the IPTW Cox model on 84 lesions, and the
memory of the bootstrap at registry scale.

Each replicate resamples patients, refits the propensity model, recomputes the weights
and refits the weighted Cox model and Kaplan-Meier curves. Target: under 10 s on
2 cores. For scale, the same statistic computed the plain way (statsmodels + mo.cox on
the duplicated rows, one replicate at a time) is timed on a few replicates.

``--large`` runs 2,000 replicates on 1,000,000 patients in a fresh process and reports
its time and peak resident memory (``getrusage``; target < 2 GB): the replicates are
streamed in blocks sized to ``memory_gb`` instead of one replicates x patients matrix.

Run: python benchmarks/bench_bootstrap.py [--large [--patients N] [--boot B]]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mace_outcomes as mo  # noqa: E402

COVARIATES = ["age", "ckd", "ostial"]


def lesion_data(seed: int = 0) -> pd.DataFrame:
    """84 lesions in 79 patients; OCT avoided in CKD and ostial lesions (as the seed study)."""
    rng = np.random.default_rng(seed)
    n_pat = 79
    pid = np.r_[np.arange(n_pat), rng.choice(n_pat, 5, replace=False)]
    age = rng.normal(69, 9, n_pat)[pid]
    ckd = (rng.random(n_pat) < 0.3)[pid].astype(int)
    ostial = (rng.random(len(pid)) < 0.3).astype(int)
    lp = 0.2 - 0.04 * (age - 69) - 0.8 * ckd - 0.6 * ostial
    arm = rng.random(len(pid)) < 1 / (1 + np.exp(-lp))
    t = rng.exponential(1500, len(pid)) * np.exp(-0.5 * ckd)
    c = rng.uniform(240, 1080, len(pid))
    return pd.DataFrame({"patient_id": pid, "arm": np.where(arm, "OCT", "IVUS"), "age": age,
                         "ckd": ckd, "ostial": ostial, "time": np.round(np.minimum(t, c)),
                         "event": (t <= c).astype(int)})


def example_data() -> tuple[pd.DataFrame, list[str]]:
    """The bundled cohort at lesion level if the datasets room provides it."""
    try:
        tte = mo.time_to_event(mo.load_example(), endpoint="mace", level="lesion")
    except Exception:  # the example cohort is optional for this benchmark
        return lesion_data(), COVARIATES
    covs = [c for c in ("age_years", "renal_insufficiency", "diabetes", "any_left_main",
                        "ostial", "bifurcation")
            if c in tte.columns and tte[c].nunique() > 1]
    return tte, covs


def refit(d: pd.DataFrame, covariates: list[str]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = mo.propensity(d, "arm", covariates)
        z = (d["arm"] == ps.treated).astype(int)
        fit = mo.cox(d.assign(w=ps.weights, treated=z), covariates=["treated"], weights="w")
    return float(fit.summary.loc["treated", "hr"])


def main(n_boot: int = 2000, n_jobs: int = 2) -> None:
    df, covs = example_data()
    print(f"{len(df)} lesions, {df['patient_id'].nunique()} patients, "
          f"{int(df['event'].sum())} events; propensity covariates {covs}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mo.bootstrap(df, "arm", covs, cluster="patient_id", n_boot=10, seed=0, progress=False)
        t0 = time.perf_counter()
        res = mo.bootstrap(df, "arm", covs, cluster="patient_id", n_boot=n_boot, seed=1,
                           n_jobs=n_jobs, progress=True)
        fast = time.perf_counter() - t0
    print(res)
    print(f"\nbatched: {n_boot} replicates in {fast:.2f} s ({n_jobs} jobs) -> "
          f"{'PASS' if fast < 10 else 'FAIL'} (target < 10 s)")
    k = 40
    t0 = time.perf_counter()
    mo.bootstrap(df, "arm", covs, cluster="patient_id", n_boot=k, seed=1, progress=False,
                 statistic=lambda d: refit(d, covs))
    slow = (time.perf_counter() - t0) / k * n_boot
    print(f"one replicate at a time (statsmodels + mo.cox): ~{slow:.1f} s for {n_boot} "
          f"replicates (extrapolated from {k}); speed-up x{slow / fast:.0f}")


def registry(n: int, seed: int = 0) -> pd.DataFrame:
    """n patients, confounding by indication, follow-up in whole days to 3 years."""
    rng = np.random.default_rng(seed)
    age = rng.normal(69, 9, n)
    ckd = (rng.random(n) < 0.3).astype(int)
    ostial = (rng.random(n) < 0.3).astype(int)
    lp = 0.2 - 0.04 * (age - 69) - 0.8 * ckd - 0.6 * ostial
    arm = rng.random(n) < 1 / (1 + np.exp(-lp))
    t = rng.exponential(3000, n) * np.exp(-0.5 * ckd + 0.2 * arm)
    c = rng.uniform(240, 1095, n)
    return pd.DataFrame({"arm": np.where(arm, "OCT", "IVUS"), "age": age, "ckd": ckd,
                         "ostial": ostial, "time": np.round(np.minimum(t, c)),
                         "event": (t <= c).astype(int)})


def peak_rss_gb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def large_child(n: int, n_boot: int, n_jobs: int, memory_gb: float) -> None:
    df = registry(n)
    base = peak_rss_gb()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mo.bootstrap(df, "arm", COVARIATES, n_boot=n_boot, seed=1, n_jobs=n_jobs,
                           memory_gb=memory_gb, progress=False)
    took = time.perf_counter() - t0
    print(res)
    print(f"{n:,} patients x {n_boot:,} replicates ({n_jobs} jobs, memory_gb={memory_gb}): "
          f"{took:.0f} s ({took / n_boot:.2f} s per replicate); peak RSS {peak_rss_gb():.2f}"
          f" GB ({base:.2f} GB after building the data) -> "
          f"{'PASS' if peak_rss_gb() < 2 else 'FAIL'} (target < 2 GB)")
    print(f"the whole count matrix would be {n_boot * n * 8 / 1e9:.0f} GB of int64 alone")


def large(n: int, n_boot: int, n_jobs: int, memory_gb: float) -> None:
    # a fresh process, so that the peak is the bootstrap's and nothing else's
    subprocess.run([sys.executable, __file__, "--child", "--patients", str(n), "--boot",
                    str(n_boot), "--jobs", str(n_jobs), "--memory-gb", str(memory_gb)],
                   check=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="registry-scale memory run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--memory-gb", type=float, default=1.0)
    args = ap.parse_args()
    if args.child:
        large_child(args.patients, args.boot, args.jobs, args.memory_gb)
    elif args.large:
        large(args.patients, args.boot, args.jobs, args.memory_gb)
    else:
        main()
