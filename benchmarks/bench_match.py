"""Benchmark: nearest-neighbour propensity-score matching against R's MatchIt.

Simulates ``n`` patients (10% treated by default) with four covariates (two continuous,
two binary) and times 1:1 greedy matching without replacement, caliper 0.2 SD of the
logit, order "largest": ``mo.match`` end to end (logistic model, distance, matching,
weights, the result frames) and the matching kernel alone, against
``MatchIt::matchit(method = "nearest", distance = "glm", link = "linear.logit",
caliper = 0.2)`` on the same data (R's time includes its glm fit, as ours does). The
matched sets are compared pair for pair where R ran. Also times 1:3 matching and 1:1
with replacement (ours only at the largest n).

    python benchmarks/bench_match.py [--n 10000 100000 1000000] [--r-max 1000000]
                                     [--repeat 3] [--treated 0.1]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _timing import best_of, r_timings  # noqa: E402

from mace_outcomes.weighting._match_kernel import (  # noqa: E402
    matching_order,
    nearest_with_replacement,
    nearest_without_replacement,
)
from mace_outcomes.weighting.match import match  # noqa: E402

COV = ["age", "egfr", "diabetes", "acs"]

R_TEMPLATE = """
suppressMessages(library(MatchIt))
d <- read.csv("{path}")
f <- arm ~ age + egfr + diabetes + acs
t <- system.time(m <- matchit(f, data = d, method = "nearest", distance = "glm",
                              link = "linear.logit", caliper = 0.2))[["elapsed"]]
cat("matchit", t, "\\n")
mm <- m$match.matrix
ok <- !is.na(mm[, 1])
write.csv(data.frame(treated = as.numeric(rownames(mm)[ok]), control = as.numeric(mm[ok, 1])),
          "{pairs}", row.names = FALSE)
"""


def cohort(n: int, treated: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(66, 11, n).round(1)
    egfr = rng.normal(75, 20, n).round(1)
    diabetes = rng.binomial(1, 0.3, n)
    acs = rng.binomial(1, 0.45, n)
    lp = 0.03 * (age - 66) - 0.01 * (egfr - 75) + 0.4 * diabetes + 0.3 * acs
    # the intercept that gives the wanted share treated
    lo, hi = -12.0, 12.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 / (1 + np.exp(-(mid + lp)))).mean() < treated else (lo, mid)
    arm = rng.binomial(1, 1 / (1 + np.exp(-(lo + lp))))
    return pd.DataFrame({"id": np.arange(1, n + 1), "arm": arm, "age": age, "egfr": egfr,
                         "diabetes": diabetes, "acs": acs})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--r-max", type=int, default=1_000_000, help="largest n run in R")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--treated", type=float, default=0.1)
    args = ap.parse_args()
    print(f"{'n':>9} {'treated':>8} {'ours_s':>8} {'kernel_s':>9} {'matchit_s':>10} "
          f"{'ratio':>7} {'pairs':>8}  identical")
    for n in args.n:
        df = cohort(n, args.treated)
        ours = best_of(lambda df=df: match(df, "arm", COV, id="id"), args.repeat)
        m = match(df, "arm", COV, id="id")
        d = m.distance.to_numpy()
        z = df["arm"].to_numpy() == 1
        order = matching_order(d[z], "largest")
        cal = m.caliper_logit
        kern = best_of(lambda d=d, z=z, o=order, c=cal: nearest_without_replacement(
            d, z, o, 1, c), args.repeat)
        r_s, same = float("nan"), "-"
        if n <= args.r_max:
            import tempfile
            with tempfile.TemporaryDirectory() as tmp:
                pairs = os.path.join(tmp, "pairs.csv")
                r = r_timings(df, R_TEMPLATE, pairs=pairs)
                if "matchit" in r:
                    r_s = r["matchit"]
                    rp = pd.read_csv(pairs)
                    mine = dict(zip(m.pairs["treated"], m.pairs["control_1"], strict=True))
                    same = str(len(rp) == len(mine) and all(
                        mine.get(t) == c for t, c in zip(rp["treated"], rp["control"],
                                                         strict=True)))
        print(f"{n:>9} {int(z.sum()):>8} {ours:>8.3f} {kern:>9.3f} {r_s:>10.3f} "
              f"{r_s / ours:>7.2f} {len(m.pairs):>8}  {same}")
    n = max(args.n)
    df = cohort(n, args.treated)
    m = match(df, "arm", COV, id="id")
    d, z = m.distance.to_numpy(), df["arm"].to_numpy() == 1
    order = matching_order(d[z], "largest")
    t3 = best_of(lambda: nearest_without_replacement(d, z, order, 3, m.caliper_logit), 1)
    tr = best_of(lambda: nearest_with_replacement(d, z, 1, m.caliper_logit), 1)
    print(f"kernel at n={n}: 1:3 without replacement {t3:.3f} s; 1:1 with replacement "
          f"{tr:.3f} s")


if __name__ == "__main__":
    main()
