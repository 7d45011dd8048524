"""Benchmark: Kaplan-Meier with CI, log-rank and weighted robust Kaplan-Meier at registry scale.

Builds ``--n`` rows (default 1,000,000) with 3 covariates, follow-up in whole days
(many ties, as registry data has) and inverse-probability weights, then times in one
run mace_outcomes against lifelines, the PyPI ``survival`` port and R's survival
(via ``Rscript`` when it is installed), printing seconds and ratios (other / ours).

    python benchmarks/bench_survival.py [--n 1000000] [--repeat 3] [--no-r]

Each figure is the best of ``--repeat`` runs after one warm-up. R is timed inside R
(``system.time``) on the same data, so reading the CSV is not counted.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import best_of, r_timings  # noqa: E402

import mace_outcomes as mo  # noqa: E402


def simulate(n: int, seed: int = 2024) -> pd.DataFrame:
    """Registry-like cohort: age, diabetes, ejection fraction; arm by propensity."""
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
    time_days = np.ceil(np.minimum(event_day, censor_day))  # whole days: heavy ties
    event = (event_day <= censor_day).astype(int)
    weight = np.where(arm == 1, 1 / ps, 1 / (1 - ps))
    return pd.DataFrame({"time": time_days, "event": event, "arm": arm, "age": age,
                         "diabetes": diabetes, "lvef": lvef, "w": weight})




def ours(df):
    return {
        "km_ci": lambda: mo.kaplan_meier(df, group="arm"),
        "logrank": lambda: mo.logrank(df, group="arm"),
        "weighted_km_robust": lambda: mo.kaplan_meier(df, group="arm", weights="w"),
    }


def lifelines_tasks(df):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    a, b = df[df["arm"] == 0], df[df["arm"] == 1]

    def km(weights=False):
        for sub in (a, b):
            KaplanMeierFitter().fit(sub["time"], sub["event"],
                                    weights=sub["w"] if weights else None)

    def weighted():
        with warnings.catch_warnings():  # lifelines warns about non-integer weights
            warnings.simplefilter("ignore")
            km(True)

    return {
        "km_ci": km,
        "logrank": lambda: logrank_test(a["time"], b["time"], a["event"], b["event"]),
        # lifelines has no robust variance: this is frequency-weight Greenwood (not comparable
        # in what it computes, timed for scale only)
        "weighted_km_robust": weighted,
    }


def survival_port_tasks(df):
    try:
        import survival
    except ImportError:
        return {}
    return {
        "km_ci": lambda: survival.survfit("Surv(time, event) ~ arm", data=df,
                                          conf_type="log-log"),
        "logrank": lambda: survival.survdiff("Surv(time, event) ~ arm", data=df),
        "weighted_km_robust": lambda: survival.survfit(
            "Surv(time, event) ~ arm", data=df, weights=df["w"].to_numpy(), robust=True,
            conf_type="log-log"),
    }


R_SCRIPT = r"""
suppressMessages(library(survival))
d <- read.csv("{path}")
best <- function(expr, k) {{ min(replicate(k, system.time(eval(expr))[["elapsed"]])) }}
k <- {repeat}
invisible(survfit(Surv(time, event) ~ arm, data=d[1:1000,]))
cat("km_ci", best(quote(survfit(Surv(time, event) ~ arm, data=d, conf.type="log-log")), k), "\n")
cat("logrank", best(quote(survdiff(Surv(time, event) ~ arm, data=d)), k), "\n")
cat("weighted_km_robust", best(quote(survfit(Surv(time, event) ~ arm, data=d, weights=w,
    robust=TRUE, conf.type="log-log")), k), "\n")
"""


def r_tasks(df, repeat: int) -> dict[str, float]:
    return r_timings(df[["time", "event", "arm", "w"]], R_SCRIPT, repeat=repeat)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args(argv)

    df = simulate(args.n)
    print(f"rows: {len(df):,}; distinct days: {df['time'].nunique():,}; "
          f"events: {int(df['event'].sum()):,}; cores: {os.cpu_count()}")
    tasks = list(ours(df))
    table = pd.DataFrame(index=tasks, dtype=float)
    table["mace_outcomes"] = [best_of(f, args.repeat) for f in ours(df).values()]
    for name, maker in (("lifelines", lifelines_tasks), ("survival_port", survival_port_tasks)):
        fns = maker(df)
        table[name] = [best_of(fns[t], args.repeat) if t in fns else np.nan for t in tasks]
    if not args.no_r:
        r = r_tasks(df, args.repeat)
        table["R"] = [r.get(t, np.nan) for t in tasks]
    for col in table.columns[1:]:
        table[f"{col}/ours"] = table[col] / table["mace_outcomes"]
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.3f}".format):
        print(table)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (all libraries, all tasks): {peak:.0f} MB")
    print("note: lifelines' weighted KM is frequency-weight Greenwood, not a robust variance")


if __name__ == "__main__":
    main()
