"""Benchmark: the Dask estimators out of core, reading Parquet written on the workers.

Generates ``--n`` registry-like rows (whole-day times, 3 covariates; the cohort of
benchmarks/bench_dask.py) on the workers straight into Parquet under ``--parquet DIR``
(``dd.from_map(...).to_parquet``, one file per ``--rows-per-part`` rows), then, for each
worker count of ``--workers``, starts a LocalCluster of that many single-threaded
worker processes with ``--memory-limit`` each, reads the Parquet dataset and times:
Kaplan-Meier by arm, the log-rank test, the propensity model (3 covariates) and the Cox
model (arm + 3 covariates, Efron, robust variance). During each fit a thread samples
every worker process's resident memory (RSS, psutil, every 0.5 s); the table gives the
peak per worker against the limit, the number of passes over the cluster (the
scheduler's computations) and whether a worker process was replaced (killed or
restarted). ``--in-memory`` also reads the rows into one pandas frame and times the
in-memory fits with the largest relative difference of the estimates.

    python benchmarks/bench_dask_big.py --parquet /tmp/mo_big --n 100000000 \\
        --workers 2 --memory-limit 4GB
    python benchmarks/bench_dask_big.py --parquet /tmp/mo_1e7 --n 10000000 \\
        --workers 1,2 --in-memory

Whether the prepared partitions of the Cox and propensity fits are kept on the workers
is decided by ``mace_outcomes.scale._reduce.keep`` (printed; ``--persist true|false``
forces it). The Parquet data are kept (``--delete`` removes them at the end). Needs
``pip install "mace_outcomes[dask]" psutil``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from bench_dask import COVARIATES, agree, simulate  # noqa: E402

import mace_outcomes as mo  # noqa: E402

COLUMNS = ["time", "event", "arm", *COVARIATES]


def block(i: int, n: int, parts: int) -> pd.DataFrame:
    """Block ``i`` of ``parts``: the bench_dask cohort in compact types (whole days as
    int32, 0/1 columns as int8), without the weights column."""
    size = n // parts + (1 if i < n % parts else 0)
    f = simulate(size, 1000 + i)
    return pd.DataFrame({"time": f["time"].astype(np.int32),
                         "event": f["event"].astype(np.int8),
                         "arm": f["arm"].astype(np.int8), "age": f["age"],
                         "diabetes": f["diabetes"].astype(np.int8), "lvef": f["lvef"]})


def fits(df, only: str = "") -> dict:
    every = {
        "km_by_arm": lambda: mo.kaplan_meier(df, group="arm"),
        "logrank": lambda: mo.logrank(df, group="arm"),
        "propensity": lambda: mo.propensity(df, "arm", COVARIATES),
        "cox": lambda: mo.cox(df, covariates=["arm", *COVARIATES], ties="efron",
                              robust=True),
    }
    return {k: v for k, v in every.items() if not only or k in only.split(",")}


class Sampler(threading.Thread):
    """Peak RSS and CPU seconds of each worker process (by pid) while it runs: the CPU
    seconds are the time the fit takes on free cores, whatever else the machine runs."""

    def __init__(self, pids: dict, every: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.procs = {addr: psutil.Process(pid) for addr, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.cpu = {a: self._cpu(p) for a, p in self.procs.items()}
        self.every, self.halt = every, threading.Event()

    @staticmethod
    def _cpu(proc) -> float:
        try:
            t = proc.cpu_times()
            return t.user + t.system
        except Exception:  # a worker process that has ended
            return float("nan")

    def run(self) -> None:
        while not self.halt.is_set():
            for addr, proc in self.procs.items():
                try:
                    self.peak[addr] = max(self.peak[addr], proc.memory_info().rss)
                except Exception:  # a worker process that has ended
                    pass
            self.halt.wait(self.every)

    def stop(self) -> tuple[dict, dict]:
        self.halt.set()
        self.join()
        return self.peak, {a: self._cpu(p) - self.cpu[a] for a, p in self.procs.items()}


def computations(client) -> int:
    """Graphs the scheduler has received: one per pass over the cluster (a compute or a
    persist; the scheduler's own list of computations is capped at 100)."""
    return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[
        "count-graphs"].count)


def count_graphs(client) -> None:
    from distributed.diagnostics.plugin import SchedulerPlugin

    class CountGraphs(SchedulerPlugin):
        name = "count-graphs"
        count = 0

        def update_graph(self, scheduler, **kwargs) -> None:
            self.count += 1

    client.register_plugin(CountGraphs())


def generate(client, path: str, n: int, rows_per_part: int) -> float:
    import dask.dataframe as dd

    parts = max(1, -(-n // rows_per_part))
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    dd.from_map(block, range(parts), n=n, parts=parts).to_parquet(
        path, write_index=False, compression="snappy")
    return time.perf_counter() - t0


def run(path: str, workers: int, memory_limit: str, persist,
        only: str = "") -> tuple[dict, dict]:
    import dask
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit, dashboard_address=":0")
    rows, out = {}, {}
    with Client(cluster) as client, dask.config.set({"mace_outcomes.persist": persist}):
        count_graphs(client)
        small = dd.from_map(block, range(2), n=2000, parts=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn in fits(small).values():  # warm-up: worker imports
                fn()
        ddf = dd.read_parquet(path)
        limit = dask.utils.parse_bytes(memory_limit)
        for name, fn in fits(ddf, only).items():
            pids = client.run(os.getpid)
            passes = computations(client)
            sampler = Sampler(pids)
            sampler.start()
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out[name] = fn()
                error = ""
            except Exception as err:  # a killed worker ends the fit: report it
                error = f"{type(err).__name__}: {str(err)[:80]}"
            sec, client_cpu = time.perf_counter() - t0, time.process_time() - c0
            peak, cpu = sampler.stop()
            after = client.run(os.getpid)
            replaced = sorted(set(pids.values()) ^ set(after.values()))
            rows[name] = {"workers": workers, "s": sec,
                          "worker_cpu_s": "/".join(f"{v:.0f}" for v in cpu.values()),
                          "client_cpu_s": client_cpu,
                          "passes": computations(client) - passes,
                          "peak_rss_gb": "/".join(f"{v / 1e9:.2f}" for v in peak.values()),
                          "limit_gb": limit / 1e9,
                          "max_share_of_limit": max(peak.values()) / limit,
                          "replaced_pids": len(replaced), "error": error}
            print(f"  {workers}w {name:12s} {sec:8.1f} s  worker CPU "
                  f"{rows[name]['worker_cpu_s']} s  client CPU {client_cpu:.1f} s  "
                  f"passes {rows[name]['passes']:3d}  "
                  f"peak RSS {rows[name]['peak_rss_gb']} GB (limit {limit / 1e9:.1f})  "
                  f"replaced {len(replaced)} {error}", flush=True)
    cluster.close()
    return rows, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parquet", required=True, help="folder for the generated Parquet data")
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--rows-per-part", type=int, default=2_000_000)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--persist", default="auto", choices=["auto", "true", "false"])
    ap.add_argument("--reuse", action="store_true", help="keep existing Parquet data")
    ap.add_argument("--in-memory", action="store_true")
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated fits to run (default all)")
    args = ap.parse_args()
    said = logging.StreamHandler(sys.stdout)  # keep()'s decisions, not Dask's own log
    said.setFormatter(logging.Formatter("    %(name)s: %(message)s"))
    logging.getLogger("mace_outcomes.scale").addHandler(said)
    logging.getLogger("mace_outcomes.scale").setLevel(logging.INFO)
    persist = {"auto": "auto", "true": True, "false": False}[args.persist]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if not (args.reuse and os.path.isdir(args.parquet)):
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=args.memory_limit,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            sec = generate(client, args.parquet, args.n, args.rows_per_part)
        size = sum(e.stat().st_size for e in os.scandir(args.parquet) if e.is_file())
        print(f"generated {args.n:,} rows into {args.parquet} in {sec:.1f} s "
              f"({size / 1e9:.2f} GB Parquet)", flush=True)
    table, results = {}, {}
    for k in [int(w) for w in args.workers.split(",")]:
        rows, results[k] = run(args.parquet, k, args.memory_limit, persist, args.only)
        for name, row in rows.items():
            table[(name, k)] = row
        print(f"load average after {k} worker(s): {os.getloadavg()}", flush=True)
    out = pd.DataFrame(table).T
    if args.in_memory:
        t0 = time.perf_counter()
        frame = pd.read_parquet(args.parquet)
        print(f"read into memory in {time.perf_counter() - t0:.1f} s", flush=True)
        last = results[max(results)]
        for name, fn in fits(frame, args.only).items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fn()
            sec = time.perf_counter() - t0
            diff = agree(name, last[name], res) if name in last else np.nan
            out.loc[(name, "memory"), ["s", "max_rel_diff"]] = [sec, diff]
            print(f"  in memory {name:12s} {sec:8.1f} s  max rel diff {diff:.2g}", flush=True)
    print(f"load average at end: {os.getloadavg()}")
    print(out.to_string(float_format=lambda v: f"{v:.3g}"))
    if args.delete:
        shutil.rmtree(args.parquet, ignore_errors=True)


if __name__ == "__main__":
    main()
