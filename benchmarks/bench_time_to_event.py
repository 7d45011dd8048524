"""Benchmark: time_to_event on 1,000,000 patients and 3,000,000 events.

Target (issue 2): under 10 s and 4 GB on 2 cores. The records are generated here with
numpy (same structure as a registry export: ids, dates, ARC-2 event types, lesions in
vessels, stent-thrombosis certainty), or taken from ``mo.simulate_registry`` with
``--simulate``. Reports wall-clock seconds of validation (``mo.Cohort``) and of
``time_to_event`` at patient and lesion level, the peak memory traced during each call
(tracemalloc, a separate run so tracing does not slow the timing) and the process's
peak resident memory.

    python benchmarks/bench_time_to_event.py [--patients 1000000] [--events 3000000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import mace_outcomes as mo
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import mace_outcomes as mo

NON_DEATH = np.array(["mi", "tvr", "tlr", "stent_thrombosis", "stroke", "bleeding"],
                     dtype=object)
DEATHS = np.array(["cardiac_death", "noncardiac_death", "undetermined_death"], dtype=object)
VESSELS = np.array(["LM", "LAD", "LCX", "RCA", "graft"], dtype=object)


def make_records(n_patients: int, n_events: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    pid = np.arange(n_patients, dtype=np.int64)
    index = np.datetime64("2015-01-01") + rng.integers(0, 2000, n_patients).astype(
        "timedelta64[D]")
    fu = rng.integers(0, 1100, n_patients)
    patients = pd.DataFrame({
        "patient_id": pid,
        "arm": np.where(rng.random(n_patients) < 0.4, "OCT", "IVUS"),
        "index_date": index.astype("datetime64[ns]"),
        "last_contact_date": (index + fu.astype("timedelta64[D]")).astype("datetime64[ns]"),
        "age": rng.normal(68, 10, n_patients).round(),
        "diabetes": rng.integers(0, 2, n_patients),
    })
    # Lesions: one per patient, a second for 30%.
    two = pid[rng.random(n_patients) < 0.3]
    les_pat = np.concatenate([pid, two])
    lesions = pd.DataFrame({
        "lesion_id": np.concatenate([pid * 2, two * 2 + 1]),
        "patient_id": les_pat,
        "vessel": VESSELS[rng.integers(0, 5, len(les_pat))],
        "bifurcation": rng.integers(0, 2, len(les_pat)),
    })
    # Deaths on the last contact day (5% of patients), other events within follow-up, so
    # nothing happens after a death.
    dead = pid[rng.random(n_patients) < 0.05]
    n_other = n_events - len(dead)
    ev_pat = np.concatenate([dead, rng.integers(0, n_patients, n_other)])
    ev_day = np.concatenate([fu[dead], (rng.random(n_other) * (fu[ev_pat[len(dead):]] + 1))
                             .astype(np.int64)])
    ev_day = np.minimum(ev_day, fu[ev_pat])
    types = np.concatenate([DEATHS[rng.integers(0, 3, len(dead))],
                            NON_DEATH[rng.integers(0, 6, n_other)]])
    is_lesion_event = np.isin(types, ["tlr", "stent_thrombosis"])
    lesion_id = np.where(is_lesion_event, ev_pat * 2, -1).astype(float)
    lesion_id[lesion_id < 0] = np.nan
    vessel = np.where(np.isin(types, ["mi", "tvr"]) & (rng.random(n_events) < 0.7),
                      VESSELS[rng.integers(0, 5, n_events)], None)
    cert = np.where(types == "stent_thrombosis",
                    np.array(["definite", "probable", "possible"],
                             dtype=object)[rng.integers(0, 3, n_events)], None)
    events = pd.DataFrame({
        "event_id": np.arange(n_events, dtype=np.int64),
        "patient_id": ev_pat,
        "lesion_id": lesion_id,
        "event_type": types,
        "event_date": (index[ev_pat] + ev_day.astype("timedelta64[D]")).astype(
            "datetime64[ns]"),
        "target_vessel": vessel,
        "st_certainty": cert,
    })
    return patients, lesions, events


def timed(fn, *args, **kw):
    """Result, wall-clock seconds and CPU seconds (CPU shows the cost on a busy machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0, time.process_time() - c0


def traced_peak(fn, *args, **kw) -> float:
    tracemalloc.start()
    fn(*args, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**30


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=3_000_000)
    ap.add_argument("--simulate", action="store_true", help="use mo.simulate_registry")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.simulate:
        cohort = mo.simulate_registry(n_patients=args.patients, seed=1)
        gen = time.perf_counter() - t0
        val = val_cpu = float("nan")
        p, le, e = cohort.patients, cohort.lesions, cohort.events
    else:
        p, le, e = make_records(args.patients, args.events)
        gen = time.perf_counter() - t0
        cohort, val, val_cpu = timed(mo.Cohort, patients=p, events=e, lesions=le, warn=False)
    print(f"records: {len(cohort.patients):,} patients, "
          f"{0 if cohort.lesions is None else len(cohort.lesions):,} lesions, "
          f"{len(cohort.events):,} events (generated in {gen:.1f} s)")
    print(f"validation (mo.Cohort): {val:.2f} s wall, {val_cpu:.2f} s CPU")
    results = {}
    for level in ("patient", "lesion"):
        if level == "lesion" and cohort.lesions is None:
            continue
        tte, secs, cpu = timed(mo.time_to_event, cohort, "mace", horizon=365, level=level)
        peak = traced_peak(mo.time_to_event, cohort, "mace", horizon=365, level=level)
        results[level] = (secs, peak)
        print(f"time_to_event(mace, horizon=365, level={level!r}): {secs:.2f} s wall, "
              f"{cpu:.2f} s CPU, "
              f"peak traced memory {peak:.2f} GB, {len(tte):,} rows, "
              f"{int(tte['event'].sum()):,} events")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KB -> GB (Linux)
    print(f"process peak resident memory: {rss:.2f} GB")
    secs, peak = results["patient"]
    ok = secs < 10 and rss < 4
    print(f"target (< 10 s, < 4 GB): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
