"""The one timer of the benchmarks: best of ``repeat`` runs after a warm-up."""

from __future__ import annotations

import time


def best_of(fn, repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` calls of ``fn`` (after one warm-up call, which
    pays for imports and caches)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def r_timings(frame, template: str, **fields) -> dict[str, float]:
    """Run an R timing script on ``frame`` (written to CSV as ``{path}``) and read its
    ``name seconds`` lines; empty when R is not installed or the script failed."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if shutil.which("Rscript") is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.csv")
        frame.to_csv(path, index=False)
        script = os.path.join(tmp, "bench.R")
        with open(script, "w") as fh:
            fh.write(template.format(path=path, **fields))
        out = subprocess.run(["Rscript", script], capture_output=True, text=True, timeout=3600)
    result = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            result[parts[0]] = float(parts[1])
    if not result:
        print("R failed:", out.stderr[-500:], file=sys.stderr)
    return result
