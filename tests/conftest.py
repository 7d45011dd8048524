"""The one loader of the R reference files in tests/reference.

``NAME.R`` writes ``NAME.json`` (R's numbers) next to the data ``NAME.csv`` it reads; test
modules take both through here (``from conftest import reference, reference_data``), so
the tests run without R.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"


@cache
def _parsed(name: str) -> dict:
    return json.loads((REFERENCE_DIR / f"{name}.json").read_text())


@cache
def _frame(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / f"{name}.csv")


def reference(name: str) -> dict:
    """R's numbers in tests/reference/NAME.json, parsed once.

    Each call returns its own copy, so a test that edits it cannot change another's values.
    """
    return copy.deepcopy(_parsed(name))


def reference_data(name: str) -> pd.DataFrame:
    """The data set tests/reference/NAME.csv, read once; each call returns a fresh copy."""
    return _frame(name).copy(deep=True)


@pytest.fixture(scope="module")
def lung_design() -> pd.DataFrame:
    """lung as tests/reference/design.R builds it: complete rows, a two-level text arm,
    ECOG as a text factor and a 0/1 weight-loss flag."""
    d = reference_data("lung").dropna(
        subset=["time", "event", "group", "age", "ph_ecog", "wt_loss"])
    d = d.assign(arm=np.where(d["group"] == 1, "OCT", "IVUS"),
                 ecog=d["ph_ecog"].astype(int).astype(str),
                 wl=(d["wt_loss"] > 10).astype(int))
    assert len(d) == reference("design")["n"]
    return d.reset_index(drop=True)


def dask_client(*modules: str):
    """A real 2-process ``distributed.LocalCluster`` and its Client, for a module-scoped
    fixture (``yield from dask_client("survival", ...)``): these modules of
    ``mace_outcomes.scale`` are imported on the workers once, in the setup, so no test
    times the workers' imports."""
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as c:
        c.run(import_modules, [f"mace_outcomes.scale.{m}" for m in modules])
        yield c
    cluster.close()


def import_modules(names: list[str]) -> None:
    import importlib

    for name in names:
        importlib.import_module(name)
