"""Benchmark: simulate_registry at registry scale (1,000,000 patients, ~3,000,000 events).

Reports wall-clock and CPU seconds of the simulation (records + truth) and of the
validation in ``mo.Cohort`` separately, the peak traced memory and the sizes.

    python benchmarks/bench_datasets_simulate.py [--patients 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

try:
    import mace_outcomes as mo
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import mace_outcomes as mo

from mace_outcomes.datasets import simulate


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    mo.simulate_registry(1000, seed=0)  # imports warm

    # the simulation alone: Cohort replaced by a pass-through to time it without validation
    real = simulate.Cohort
    simulate.Cohort = lambda **kw: kw
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        raw = simulate.simulate_registry(args.patients, seed=args.seed)
        sim, sim_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        simulate.Cohort = real
    t0, c0 = time.perf_counter(), time.process_time()
    cohort = mo.Cohort(patients=raw["patients"], events=raw["events"], lesions=raw["lesions"],
                       truth=raw["truth"], warn=False)
    val, val_cpu = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()
    simulate.simulate_registry(args.patients, seed=args.seed)
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    print(f"simulate_registry({args.patients:,}): {len(cohort.patients):,} patients, "
          f"{len(cohort.lesions):,} lesions, {len(cohort.events):,} events")
    print(f"  simulation + truth: {sim:.2f} s wall, {sim_cpu:.2f} s CPU, "
          f"peak traced memory {peak:.2f} GB")
    print(f"  validation (mo.Cohort): {val:.2f} s wall, {val_cpu:.2f} s CPU")
    t = cohort.truth
    print(f"  truth: marginal HR {t['marginal_hr']:.4f} (conditional {t['conditional_hr']}), "
          f"1-year risk {t['risk_1y']}")


if __name__ == "__main__":
    main()
