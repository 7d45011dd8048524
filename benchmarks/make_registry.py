"""Write a national-registry-sized cohort folder for ``mace-outcomes analyze --engine dask``.

Generates ``--n`` patients (default 10,000,000) on the workers of a local cluster, one
block of ``--per-part`` patients per partition (``dask.dataframe.from_map`` of
:func:`mace_outcomes.simulate_registry` with the block's own seed), and writes

* ``patients/`` -- a Parquet dataset: patient_id (text, ``P00000001``), arm (OCT / IVUS,
  chosen by indication), index_date, last_contact_date, age_years, male, bmi,
  hypertension, diabetes, dyslipidemia, smoking, lvef_percent, egfr,
  renal_insufficiency, prior_mi, prior_pci, prior_cabg, presentation, the lesion
  confounders any_left_main, any_ostial, any_bifurcation, synthetic;
* ``events/`` -- a Parquet dataset, about three rows per patient: event_id (text),
  patient_id, event_type (ARC-2 names: cardiac / non-cardiac death, MI, TVR, TLR, stent
  thrombosis with its certainty, stroke, bleeding), event_date, target_vessel,
  st_certainty;
* ``study.toml`` -- a patient-level study of the Dask engine (two arms, four
  confounders, ``--endpoints``).

The blocks are generated twice (once for each table) from the same seed, so no block is
held by the client: the client only schedules. SYNTHETIC data: no real patient is
behind any row.

    python benchmarks/make_registry.py /tmp/registry [--n 10000000] [--per-part 250000]
        [--workers 2] [--endpoints mace,cardiac_death]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

STUDY = '''\
# SYNTHETIC registry written by benchmarks/make_registry.py ({n:,} patients)
[study]
title = "Synthetic national registry: OCT- vs IVUS-guided PCI ({n:,} patients)"
synthetic = true
arms = ["OCT", "IVUS"]
horizon_days = 365
level = "patient"
endpoints = {endpoints}
adjustment = ["iptw", "overlap"]

[propensity]
covariates = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]
estimand = "ATE"
bootstrap = 0

[figures]
formats = ["png"]
'''


def block(spec: tuple[int, int, int, int], table: str) -> pd.DataFrame:
    """One block of patients (``table="patients"``) or their events, ids made global."""
    import mace_outcomes as mo

    i, n, first, seed = spec
    sim = mo.simulate_registry(n_patients=n, seed=seed)
    if table == "patients":
        p = sim.patients.copy()
        p["patient_id"] = _ids("P", first + p["patient_id"].astype(np.int64) - 1)
        p["arm"] = p["arm"].astype(str)
        p["presentation"] = p["presentation"].astype(str)
        return p.reset_index(drop=True)
    e = sim.events.drop(columns=["lesion_id"]).copy()
    e["patient_id"] = _ids("P", first + e["patient_id"].astype(np.int64) - 1)
    e["event_id"] = _ids(f"E{i:05d}-", e["event_id"].astype(np.int64))
    for col in ("event_type", "target_vessel", "st_certainty"):
        e[col] = e[col].astype(object).where(e[col].notna(), None)
    return e.reset_index(drop=True)


def _ids(prefix: str, numbers: pd.Series) -> pd.Series:
    return prefix + numbers.astype(str).str.zfill(9)


def main(argv=None) -> None:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("folder", type=Path)
    a.add_argument("--n", type=int, default=10_000_000)
    a.add_argument("--per-part", type=int, default=250_000)
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--seed", type=int, default=2026)
    a.add_argument("--endpoints", default="mace,cardiac_death,mi,tvr,stent_thrombosis")
    args = a.parse_args(argv)
    import dask.dataframe as dd
    import distributed

    if args.folder.exists() and any(args.folder.iterdir()):
        sys.exit(f"{args.folder} exists and is not empty")
    sizes = [min(args.per_part, args.n - s) for s in range(0, args.n, args.per_part)]
    specs = [(i, n, i * args.per_part + 1, args.seed + i) for i, n in enumerate(sizes)]
    started = time.perf_counter()
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster):
        for table in ("patients", "events"):
            t0 = time.perf_counter()
            meta = block((0, 50, 1, 0), table).iloc[:0]
            frame = dd.from_map(block, specs, table=table, meta=meta, enforce_metadata=False)
            frame.to_parquet(str(args.folder / table), write_index=False)
            print(f"{table}: {len(specs)} part files in {time.perf_counter() - t0:.1f} s",
                  flush=True)
    endpoints = "[" + ", ".join(f'"{e}"' for e in args.endpoints.split(",")) + "]"
    (args.folder / "study.toml").write_text(STUDY.format(n=args.n, endpoints=endpoints))
    print(f"{args.n:,} patients written to {args.folder} in "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
