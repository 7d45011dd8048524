"""Benchmark: Cox (Efron) with few and many covariates, tied and continuous times.

Builds ``--n`` rows (default 1,000,000) per scenario and times, side by side in one run:

* ``tied3``: 3 covariates (arm, age, diabetes), follow-up in whole days up to two
  years (~730 distinct times: heavy ties, as in registries);
* ``tied20``: the same with 17 more covariates (binary and continuous);
* ``cont3`` / ``cont20``: 3 / 20 covariates, continuous (untied) times;
* ``robust3``: the tied 3-covariate data with random case weights and the robust
  sandwich variance (``mo.cox(weights=..)``).

Against each: lifelines ``CoxPHFitter`` (Efron; robust: ``weights_col`` + ``robust=True``
on ``--lifelines-robust-n`` rows scaled linearly to ``--n``, which *understates* its
time), the PyPI ``survival`` package's ``coxph`` (a port of R's survival), and R's
``coxph`` through ``Rscript`` (fit time only, reading the CSV excluded; the robust R fit
takes ~15 minutes and runs only with ``--r-robust``). ``--baseline DIR`` also times
``mo.cox`` of another checkout (e.g. ``git archive HEAD | tar -x -C DIR``) in a
subprocess on the same data, for before/after figures from one run.

Our timings are the best of ``--repeat`` runs after a warm-up; the others are one run.

Run:  python benchmarks/bench_cox.py            (about 10 minutes with R)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["tied3", "tied20", "cont3", "cont20", "robust3"]


def covariate_names(p: int) -> list[str]:
    return ["arm", "age", "diabetes"] + [f"x{j}" for j in range(4, p + 1)]


def make_data(n: int, p: int = 3, continuous: bool = False, seed: int = 1) -> pd.DataFrame:
    """Rows with ``p`` covariates; the first three and the times of the 3-covariate data
    do not depend on ``p``."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    age = rng.normal(65, 10, n).round(1)
    diabetes = rng.binomial(1, 0.3, n)
    lp = -0.3 * arm + 0.03 * (age - 65) + 0.4 * diabetes
    e = rng.exponential(1.0, n)
    c = rng.integers(1, 731, n)
    w = rng.uniform(0.5, 3.0, n).round(4)
    extra = {}
    rx = np.random.default_rng(seed + 100)
    for j in range(4, p + 1):  # alternate binary and continuous covariates, small effects
        col = (rx.binomial(1, 0.4, n).astype(float) if j % 2 else rx.normal(0, 1, n).round(2))
        extra[f"x{j}"] = col
        lp = lp + 0.05 * (-1) ** j * col
    t = 2000 * np.exp(-lp) * e
    if continuous:
        c = c - rng.uniform(0, 1, n)  # continuous censoring times too
    else:
        t = np.ceil(t)
    return pd.DataFrame({"time": np.minimum(t, c).astype(float), "event": (t <= c).astype(int),
                         "arm": arm, "age": age, "diabetes": diabetes, **extra, "w": w})


def scenario_data(name: str, n: int) -> tuple[pd.DataFrame, list[str], bool]:
    p = 20 if name.endswith("20") else 3
    df = make_data(n, p, continuous=name.startswith("cont"))
    return df, covariate_names(p), name.startswith("robust")


def best_of(fn, repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up
    best = np.inf
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
f <- Surv(time, event) ~ {rhs}
if ({robust}) {{
  t <- system.time(m <- coxph(f, data = d, weights = w, robust = TRUE))[["elapsed"]]
}} else {{
  t <- system.time(m <- coxph(f, data = d))[["elapsed"]]
}}
cat("R", t, coef(m), "\n")
"""


def run_r(df: pd.DataFrame, cov: list[str], robust: bool, timeout: float) -> tuple[float, list]:
    """Fit time and coefficients of R's coxph (NaN when R is missing or timed out)."""
    if shutil.which("Rscript") is None:
        return np.nan, []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        df.to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_SCRIPT.format(csv=csv, rhs=" + ".join(cov),
                                          robust="TRUE" if robust else "FALSE"))
        try:
            res = subprocess.run(["Rscript", str(script)], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return np.nan, []
    for line in res.stdout.split("\n"):
        parts = line.split()
        if parts and parts[0] == "R":
            return float(parts[1]), [float(v) for v in parts[2:]]
    print("R failed:", res.stderr[-300:], file=sys.stderr)
    return np.nan, []


def time_ours(name: str, n: int, repeat: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Best-of time, coefficients and SEs of ``mo.cox`` (of the package on sys.path)."""
    import mace_outcomes as mo

    df, cov, robust = scenario_data(name, n)
    kw = {"weights": "w"} if robust else {}
    mo.cox(df.iloc[:2000], "time", "event", cov, **kw)  # imports
    t, fit = best_of(lambda: mo.cox(df, "time", "event", cov, **kw), repeat)
    return t, fit.summary.coef.to_numpy(), fit.summary.se.to_numpy()


def time_baseline(root: str, names: list[str], n: int, repeat: int) -> dict:
    """Our times with the package of another checkout, in a subprocess."""
    env = dict(os.environ, PYTHONPATH=root)
    cmd = [sys.executable, __file__, "--ours-only", "--package-root", root, "--n", str(n),
           "--repeat", str(repeat), "--scenarios", ",".join(names)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in res.stdout.split("\n"):
        if line.startswith("JSON "):
            return json.loads(line[5:])
    print("baseline failed:", res.stderr[-500:], file=sys.stderr)
    return {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--lifelines-robust-n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-timeout", type=float, default=1800, help="seconds per R model")
    ap.add_argument("--r-robust", action=argparse.BooleanOptionalAction, default=False,
                    help="also time R's robust fit (about 15 minutes)")
    ap.add_argument("--baseline", help="checkout whose mo.cox is timed for comparison")
    ap.add_argument("--baseline-repeat", type=int, default=1)
    ap.add_argument("--ours-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--package-root", default=str(ROOT), help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, args.package_root)
    names = args.scenarios.split(",")

    if args.ours_only:
        out = {s: time_ours(s, args.n, args.repeat)[0] for s in names}
        print("JSON " + json.dumps(out))
        return
    print(f"load average at start: {os.getloadavg()}  (cores: {os.cpu_count()})")
    base = (time_baseline(args.baseline, names, args.n, args.baseline_repeat)
            if args.baseline else {})
    rows = []
    for s in names:
        df, cov, robust = scenario_data(s, args.n)
        print(f"{s}: n = {len(df):,}; events = {df.event.sum():,}; distinct times = "
              f"{df.time.nunique():,}; covariates = {len(cov)}", flush=True)
        t_ours, coef, se = time_ours(s, args.n, args.repeat)
        row = {"scenario": s, "ours": t_ours, "baseline": base.get(s, np.nan)}

        import lifelines
        import survival

        cols = ["time", "event", *cov]
        if robust:
            sub = df.sample(args.lifelines_robust_n, random_state=3)[cols + ["w"]]
            t, _ = timed(lambda d=sub: lifelines.CoxPHFitter().fit(
                d, "time", "event", weights_col="w", robust=True))
            row["lifelines"] = t * args.n / args.lifelines_robust_n
        else:
            t, cph = timed(lambda d=df[cols]: lifelines.CoxPHFitter().fit(d, "time", "event"))
            row["lifelines"] = t
            diff = np.max(np.abs(cph.params_.to_numpy() - coef))
            print(f"  lifelines max |coef diff| {diff:.2e}")

        f = "Surv(time, event) ~ " + " + ".join(cov)
        kw = {"weights": "w", "robust": True} if robust else {}
        t, m = timed(lambda d=df, f=f, kw=kw: survival.coxph(f, data=d, **kw))
        row["survival_pypi"] = t
        msg = f"max |coef diff| {np.max(np.abs(np.asarray(m.coefficients, float) - coef)):.2e}"
        if robust:
            msg += f", max |se diff| {np.max(np.abs(np.sqrt(np.diag(np.asarray(m.var))) - se)):.2e}"
        print("  survival (PyPI) " + msg)

        if args.no_r or (robust and not args.r_robust):
            row["R"] = np.nan
        else:
            row["R"], rc = run_r(df, cov, robust, args.r_timeout)
            if rc:
                print(f"  R max |coef diff| {np.max(np.abs(np.asarray(rc) - coef)):.2e}")
        others = [row[k] for k in ("lifelines", "survival_pypi", "R") if np.isfinite(row[k])]
        row["fastest_other_over_ours"] = min(others) / t_ours
        rows.append(row)
        print("  " + "  ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "scenario"),
              flush=True)
    tab = pd.DataFrame(rows)
    with pd.option_context("display.width", 160):
        print(tab.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
