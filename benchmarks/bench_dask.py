"""Benchmark: the estimators on a Dask frame against the same fit in memory.

Generates ``--n`` registry-like rows (default 10,000,000; whole-day times, so many ties)
on the workers of a local cluster, one block per partition, keeps them there
(``persist``), and times Kaplan-Meier by arm (Greenwood, and IPTW-weighted with the
robust variance), the log-rank test, the propensity model and a Cox model with 1 and
with 2 worker processes. The same rows are then gathered into one pandas frame and the
in-memory fits are timed; the Dask results are checked against them.

    python benchmarks/bench_dask.py [--n 10000000] [--partitions 16] [--workers 1,2]

Needs ``pip install "mace_outcomes[dask]"``. Each figure is one run after a warm-up on
a small frame (worker imports are not counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mace_outcomes as mo  # noqa: E402

COVARIATES = ["age", "diabetes", "lvef"]


def simulate(n: int, seed: int) -> pd.DataFrame:
    """One block of the cohort (as benchmarks/bench_survival.py): arm by propensity."""
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 10, n)
    diabetes = rng.binomial(1, 0.3, n)
    lvef = rng.normal(55, 8, n)
    lin = -0.5 + 0.02 * (age - 65) + 0.3 * diabetes - 0.01 * (lvef - 55)
    ps = 1 / (1 + np.exp(-lin))
    arm = rng.binomial(1, ps)
    rate = 0.0004 * np.exp(0.03 * (age - 65) + 0.4 * diabetes - 0.25 * arm)
    event_day = rng.exponential(1 / rate)
    censor_day = rng.uniform(30, 1825, n)
    return pd.DataFrame({"time": np.ceil(np.minimum(event_day, censor_day)),
                         "event": (event_day <= censor_day).astype(int), "arm": arm,
                         "age": age, "diabetes": diabetes, "lvef": lvef,
                         "w": np.where(arm == 1, 1 / ps, 1 / (1 - ps))})


def block(i: int, n: int, parts: int) -> pd.DataFrame:
    size = n // parts + (1 if i < n % parts else 0)
    frame = simulate(size, 1000 + i)
    frame.index = pd.RangeIndex(i * (n // parts + 1), i * (n // parts + 1) + size)
    return frame


def fits(df) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "km_by_arm": lambda: mo.kaplan_meier(df, group="arm"),
            "km_weighted_robust": lambda: mo.kaplan_meier(df, group="arm", weights="w"),
            "logrank": lambda: mo.logrank(df, group="arm"),
            "propensity": lambda: mo.propensity(df, "arm", COVARIATES),
            "cox": lambda: mo.cox(df, covariates=["arm", "age"]),
        }


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_dask(n: int, parts: int, workers: int):
    import dask
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    with Client(cluster):
        small = dd.from_map(block, range(2), n=2000, parts=2)
        for fn in fits(small).values():  # warm-up: imports and first tasks
            fn()
        t0 = time.perf_counter()
        ddf = dd.from_map(block, range(parts), n=n, parts=parts).persist()
        dask.distributed.wait(ddf)
        generate = time.perf_counter() - t0
        results = {name: timed(fn) for name, fn in fits(ddf).items()}
        frame = ddf.compute() if workers == 1 else None
    cluster.close()
    return generate, results, frame


def agree(name, a, b) -> float:
    """Largest relative difference between the Dask and the in-memory estimate."""
    if name.startswith("km"):
        x, y = a.table["std_err"].to_numpy(), b.table["std_err"].to_numpy()
    elif name == "logrank":
        x, y = np.array([a.statistic]), np.array([b.statistic])
    elif name == "propensity":
        x, y = a.coef.to_numpy(), b.coef.to_numpy()
    else:
        x, y = a.summary[["coef", "se"]].to_numpy(), b.summary[["coef", "se"]].to_numpy()
    ok = np.isfinite(x) & np.isfinite(y) & (y != 0)
    return float(np.max(np.abs(x[ok] / y[ok] - 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    counts = [int(k) for k in args.workers.split(",")]
    table, frame, dask_out = {}, None, {}
    for k in counts:
        generate, results, got = run_dask(args.n, args.partitions, k)
        frame = got if got is not None else frame
        print(f"{k} worker(s): generated {args.n:,} rows on the workers in {generate:.1f} s",
              flush=True)
        for name, (sec, res) in results.items():
            table.setdefault(name, {})[f"dask_{k}w_s"] = sec
            dask_out[name] = res
            print(f"  {name:20s} {sec:8.2f} s", flush=True)
    if frame is None:
        frame = pd.concat([block(i, args.n, args.partitions) for i in range(args.partitions)])
    for name, fn in fits(frame).items():
        sec, res = timed(fn)
        table[name]["memory_s"] = sec
        table[name]["max_rel_diff"] = agree(name, dask_out[name], res)
        print(f"in memory {name:20s} {sec:8.2f} s", flush=True)
    out = pd.DataFrame(table).T
    print(out.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
