"""Benchmark: stratified log-rank and Gray's test with many strata (e.g. 5,000 sites).

Builds ``--n`` rows (default: both 10,000 and 1,000,000) in ``--strata`` strata
(default 5,000), follow-up in whole days, two arms, two competing causes, IPTW-like
weights and clusters, then times in one run mace_outcomes against R's
``survdiff(Surv(time, event) ~ arm + strata(s))`` and cmprsk's ``cuminc(strata=)``
(via ``Rscript``, timed inside R) and the PyPI ``survival`` port's survdiff. lifelines
has no stratified log-rank test, so it is not timed.

    python benchmarks/bench_strata.py [--n 10000 1000000] [--strata 5000] [--repeat 3] [--no-r]

Each figure is the best of ``--repeat`` runs after one warm-up. cmprsk stops with an
error when a stratum's Gray variance is undefined (F(t-) = 1 while two groups are still at
risk; cmprsk 2.2-11 also where only one group is left, which 2.2-12 skips, as we do);
that cell is then reported as NaN.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import best_of, r_timings  # noqa: E402

import mace_outcomes as mo  # noqa: E402


def simulate(n: int, n_strata: int, seed: int = 2024) -> pd.DataFrame:
    """Sites with their own baseline hazard; arm effect HR 0.8; a competing death."""
    rng = np.random.default_rng(seed)
    site = rng.permutation(np.arange(n) % n_strata)  # every stratum present
    arm = rng.binomial(1, 0.5, n)
    base = 0.0004 * np.exp(rng.normal(0, 0.3, n_strata))[site]
    event_day = rng.exponential(1 / (base * np.exp(-0.22 * arm)))
    death_day = rng.exponential(1 / (0.5 * base))
    censor_day = rng.uniform(30, 1825, n)
    end = np.minimum(np.minimum(event_day, death_day), censor_day)
    status = np.where(end == censor_day, 0, np.where(end == event_day, 1, 2))
    return pd.DataFrame({"time": np.ceil(end), "event": (status == 1).astype(int),
                         "status": status, "arm": arm, "s": site,
                         "w": rng.uniform(0.5, 3.0, n), "cid": rng.integers(0, n // 2 + 1, n)})




def ours(df):
    return {
        "logrank": lambda: mo.logrank(df, group="arm", strata="s"),
        "peto_peto": lambda: mo.logrank(df, group="arm", strata="s", rho=1),
        "iptw_logrank": lambda: mo.logrank(df, group="arm", strata="s", weights="w"),
        "clustered_logrank": lambda: mo.logrank(df, group="arm", strata="s", cluster="cid"),
        "gray": lambda: mo.gray_test(df, time="time", status="status", group="arm",
                                     strata="s"),
    }


def survival_port_tasks(df):
    try:
        import survival
    except ImportError:
        return {}
    f = "Surv(time, event) ~ arm + strata(s)"
    return {"logrank": lambda: survival.survdiff(f, data=df),
            "peto_peto": lambda: survival.survdiff(f, data=df, rho=1)}


R_SCRIPT = r"""
suppressMessages({{library(survival); library(cmprsk)}})
d <- read.csv("{path}")
best <- function(expr, k) {{
  r <- tryCatch(replicate(k, system.time(eval(expr))[["elapsed"]]), error = function(e) NA)
  min(r)
}}
k <- {repeat}
invisible(survdiff(Surv(time, event) ~ arm + strata(s), data=d[1:1000,]))
cat("logrank", best(quote(survdiff(Surv(time, event) ~ arm + strata(s), data=d)), k), "\n")
cat("peto_peto", best(quote(survdiff(Surv(time, event) ~ arm + strata(s), data=d, rho=1)), k),
    "\n")
cat("gray", best(quote(cuminc(d$time, d$status, d$arm, strata=d$s)), {gray_repeat}), "\n")
"""


def r_tasks(df, repeat: int) -> dict[str, float]:
    return r_timings(df[["time", "event", "status", "arm", "s"]], R_SCRIPT, repeat=repeat,
                     gray_repeat=1 if len(df) > 100_000 else repeat)


def run(n: int, n_strata: int, repeat: int, with_r: bool) -> None:
    df = simulate(n, n_strata)
    print(f"\nrows: {len(df):,}; strata: {df['s'].nunique():,}; distinct days: "
          f"{df['time'].nunique():,}; events: {int(df['event'].sum()):,}")
    tasks = ours(df)
    table = pd.DataFrame(index=list(tasks), dtype=float)
    table["mace_outcomes"] = [best_of(f, repeat) for f in tasks.values()]
    port = survival_port_tasks(df)
    table["survival_port"] = [best_of(port[t], repeat) if t in port else np.nan
                              for t in table.index]
    if with_r:
        r = r_tasks(df, repeat)
        table["R"] = [r.get(t, np.nan) for t in table.index]
    for col in table.columns[1:]:
        table[f"{col}/ours"] = table[col] / table["mace_outcomes"]
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.4f}".format):
        print(table)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--strata", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args(argv)
    print(f"cores: {os.cpu_count()}")
    for n in args.n:
        run(n, args.strata, args.repeat, not args.no_r)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (all libraries, all tasks): {peak:.0f} MB")


if __name__ == "__main__":
    main()
