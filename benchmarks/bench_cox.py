"""Benchmark: Cox (Efron) and weighted Cox with robust variance at registry scale.

Builds ``--n`` rows (default 1,000,000) with 3 covariates (arm, age, diabetes),
follow-up in whole days up to two years (so ~730 distinct times and heavy ties) and
random case weights, then times, in one run:

* ``mo.cox`` (Efron) and ``mo.cox(weights=..)`` (robust sandwich variance);
* lifelines ``CoxPHFitter`` (Efron) on ``--lifelines-n`` rows, and with
  ``weights_col`` + ``robust=True`` on ``--lifelines-robust-n`` rows (its robust
  variance is super-linear in n: 100,000 rows take minutes), both scaled linearly to
  ``--n`` -- linear scaling *understates* lifelines' time, so ratios are conservative;
* the PyPI ``survival`` package's ``coxph`` (a port of R's survival);
* R's ``coxph`` through ``Rscript`` when it is installed (fit time only; reading the
  CSV is excluded), with ``--r-timeout`` seconds per model.

Our timings are the best of ``--repeat`` runs; peak memory is the process's maximum
resident set size right after our fits (data included), before any other library runs.

Run:  python benchmarks/bench_cox.py            (about 5-10 minutes with R)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import mace_outcomes as mo  # noqa: E402

COV = ["arm", "age", "diabetes"]


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    age = rng.normal(65, 10, n).round(1)
    diabetes = rng.binomial(1, 0.3, n)
    lp = -0.3 * arm + 0.03 * (age - 65) + 0.4 * diabetes
    t = np.ceil(rng.exponential(2000 * np.exp(-lp)))
    c = rng.integers(1, 731, n)
    return pd.DataFrame({"time": np.minimum(t, c).astype(float), "event": (t <= c).astype(int),
                         "arm": arm, "age": age, "diabetes": diabetes,
                         "w": rng.uniform(0.5, 3.0, n).round(4)})


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


R_SCRIPT = r"""
suppressMessages(library(survival))
d <- read.csv("{csv}")
if ({robust}) {{
  t <- system.time(f <- coxph(Surv(time, event) ~ arm + age + diabetes, data = d,
                              weights = w, robust = TRUE))[["elapsed"]]
  cat("robust", t, coef(f), sqrt(diag(f$var)), "\n")
}} else {{
  t <- system.time(f <- coxph(Surv(time, event) ~ arm + age + diabetes, data = d))[["elapsed"]]
  cat("efron", t, coef(f), "\n")
}}
"""


def run_r(df: pd.DataFrame, timeout: float, robust: bool) -> dict:
    """Fit times of R's coxph, one Rscript per model (so a timeout loses only that one)."""
    if shutil.which("Rscript") is None:
        return {}
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        df.to_csv(csv, index=False)
        for model in ["efron", "robust"] if robust else ["efron"]:
            script = Path(tmp) / f"{model}.R"
            script.write_text(R_SCRIPT.format(csv=csv,
                                              robust="TRUE" if model == "robust" else "FALSE"))
            try:
                res = subprocess.run(["Rscript", str(script)], capture_output=True, text=True,
                                     timeout=timeout)
            except subprocess.TimeoutExpired:
                out[model + "_timeout"] = timeout
                continue
            for line in res.stdout.split("\n"):
                parts = line.split()
                if parts and parts[0] == model:
                    out[model] = float(parts[1])
                    out[model + "_values"] = [float(v) for v in parts[2:]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--lifelines-n", type=int, default=1_000_000)
    ap.add_argument("--lifelines-robust-n", type=int, default=10_000)
    ap.add_argument("--survival-n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-timeout", type=float, default=1800, help="seconds per R model")
    ap.add_argument("--r-robust", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()

    print(f"load average at start: {os.getloadavg()}  (cores: {os.cpu_count()})")
    df = make_data(args.n)
    print(f"n = {len(df):,}; events = {df.event.sum():,}; distinct times = "
          f"{df.time.nunique()}")
    mo.cox(df.iloc[:2000], "time", "event", COV)  # import and warm-up
    t_cox, fit = best_of(lambda: mo.cox(df, "time", "event", COV), args.repeat)
    t_rob, fit_w = best_of(lambda: mo.cox(df, "time", "event", COV, weights="w"), args.repeat)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"mace_outcomes cox (Efron):            {t_cox:8.2f} s")
    print(f"mace_outcomes weighted cox, robust:   {t_rob:8.2f} s")
    print(f"peak memory (RSS, data included):     {peak_gb:8.2f} GB")
    rows = [("cox_efron", "mace_outcomes", t_cox, ""),
            ("weighted_robust", "mace_outcomes", t_rob, "")]

    import lifelines

    scale = args.n / args.lifelines_n
    sub = df.sample(args.lifelines_n, random_state=2) if args.lifelines_n < args.n else df
    t, cph = timed(lambda: lifelines.CoxPHFitter().fit(sub[["time", "event"] + COV], "time",
                                                       "event"))
    note = f"{args.lifelines_n:,} rows x {scale:g}" if scale != 1 else ""
    rows.append(("cox_efron", "lifelines", t * scale, note))
    scale_r = args.n / args.lifelines_robust_n
    sub = df.sample(args.lifelines_robust_n, random_state=3)
    t, _ = timed(lambda: lifelines.CoxPHFitter().fit(sub[["time", "event", "w"] + COV], "time",
                                                     "event", weights_col="w", robust=True))
    rows.append(("weighted_robust", "lifelines", t * scale_r,
                 f"{args.lifelines_robust_n:,} rows x {scale_r:g} (linear: understated)"))
    print(f"lifelines coef {cph.params_.round(5).tolist()} vs ours "
          f"{fit.summary.coef.round(5).tolist()}")

    try:
        import survival

        scale_s = args.n / args.survival_n
        sub = df.sample(args.survival_n, random_state=4) if args.survival_n < args.n else df
        note = f"{args.survival_n:,} rows x {scale_s:g}" if scale_s != 1 else ""
        f = "Surv(time, event) ~ arm + age + diabetes"
        t, m = timed(lambda: survival.coxph(f, data=sub))
        rows.append(("cox_efron", "survival (PyPI)", t * scale_s, note))
        t, m2 = timed(lambda: survival.coxph(f, data=sub, weights="w", robust=True))
        rows.append(("weighted_robust", "survival (PyPI)", t * scale_s, note))
        if scale_s == 1:
            print(f"survival robust se {np.sqrt(np.diag(np.asarray(m2.var))).round(6).tolist()}"
                  f" vs ours {fit_w.summary.se.round(6).tolist()}")
    except ImportError:
        print("survival (PyPI) not installed")

    if not args.no_r:
        r = run_r(df, args.r_timeout, args.r_robust)
        if "efron" in r:
            rows.append(("cox_efron", "R coxph", r["efron"], ""))
        if "robust" in r:
            rows.append(("weighted_robust", "R coxph", r["robust"], ""))
            print(f"R robust se {np.round(r['robust_values'][3:], 6).tolist()} vs ours "
                  f"{fit_w.summary.se.round(6).tolist()}")
        elif "robust_timeout" in r:
            rows.append(("weighted_robust", "R coxph", np.nan,
                         f"> {args.r_timeout:.0f} s (timed out)"))
        if not r:
            print("Rscript not found: R skipped")

    tab = pd.DataFrame(rows, columns=["task", "implementation", "seconds", "note"])
    ours = {"cox_efron": t_cox, "weighted_robust": t_rob}
    tab["times_slower_than_ours"] = [s / ours[k] for k, s in
                                    zip(tab.task, tab.seconds, strict=True)]
    with pd.option_context("display.width", 140, "display.max_colwidth", 60):
        print(tab.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
