"""Benchmark: Pocock's unmatched win ratio at trial scale.

Builds ``--n`` patients per arm (default 20,000: 4e8 treated-control pairs) with three
levels (death > MI > hospitalisation), follow-up in whole days (many equal times) and
administrative censoring, and times ``mo.win_ratio`` end to end: validation, the exact
pairwise counts per level, the U-statistic variance and the Finkelstein-Schoenfeld test
(which also compares the patients of each arm among themselves: 2 x 2e8 more pairs).
Peak memory is the process's maximum resident size (``getrusage``).

    python benchmarks/bench_win_ratio.py [--n 20000] [--levels 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _timing import best_of  # noqa: E402

import mace_outcomes as mo  # noqa: E402


def trial(n_per_arm: int, n_levels: int, seed: int = 0) -> tuple[pd.DataFrame, list]:
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    arm = np.repeat(["new", "old"], n_per_arm)
    hr = np.where(arm == "new", 0.8, 1.0)
    follow = np.ceil(rng.uniform(180, 1095, n))
    death = np.ceil(rng.exponential(3000 / hr))
    end = np.minimum(follow, death)
    cols = {"arm": arm, "time_death": end, "death": (death <= follow).astype(int)}
    levels = [("time_death", "death")]
    for k in range(1, n_levels):
        t = np.ceil(rng.exponential(1500 / hr * k))
        cols[f"time_{k}"] = np.minimum(t, end)
        cols[f"event_{k}"] = (t <= end).astype(int)
        levels.append((f"time_{k}", f"event_{k}"))
    return pd.DataFrame(cols), levels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000, help="patients per arm")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df, levels = trial(args.n, args.levels)
    fit = mo.win_ratio(df, levels=levels, control="old")
    seconds = best_of(lambda: mo.win_ratio(df, levels=levels, control="old"), args.repeat)
    cpu = time.process_time()
    mo.win_ratio(df, levels=levels, control="old")
    cpu = time.process_time() - cpu  # CPU seconds: what a busy shared machine hides
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    s = fit.summary.iloc[0]
    print(f"{args.n:,} per arm ({args.n ** 2:.2g} pairs), {args.levels} levels: "
          f"{seconds:.2f} s (best of {args.repeat}), {cpu:.2f} CPU s; peak RSS "
          f"{peak:.2f} GB")
    print(f"win ratio {s['win_ratio']:.4f} (se log {s['se_log_wr']:.4f}), "
          f"FS Z {s['fs_statistic']:.3f}")


if __name__ == "__main__":
    main()
