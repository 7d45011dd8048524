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

import pandas as pd

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
