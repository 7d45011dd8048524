"""The models' design matrix on partitions: R's names and the levels of the whole frame.

A partition may hold only some levels of a factor, so the levels are found first (one
pass over the cluster, with the in-memory checks of
:func:`mace_outcomes._design.design`: missing and non-finite values, constant columns,
single-level factors) and every partition then builds the same columns, named as R's
``model.matrix`` (``ecog1``, ``armOCT``). Main effects only (``covariates=[...]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._design import _label
from .._frames import row_ids
from ..errors import InputError, Problem
from ._reduce import Part

__all__ = ["Spec", "is_number", "scan_covariates", "add_covariate_scans", "build_spec"]


def is_number(dtype) -> bool:
    """A numeric (not boolean, not categorical) column: one column under its own name."""
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))


@dataclass(frozen=True)
class Spec:
    """How each partition builds the model's columns (no intercept)."""

    order: tuple  # covariates in the model's order
    factors: dict  # factor column -> its levels (reference first)
    names: tuple  # design column names
    terms: dict  # term -> its columns

    def x(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for v in self.order:
            if v in self.factors:
                vals = frame[v].to_numpy()
                cols += [(vals == lv).astype(float) for lv in self.factors[v][1:]]
            else:
                cols.append(frame[v].to_numpy(dtype=float))
        return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def scan_covariates(frame: pd.DataFrame, covariates: list, numeric: set, part: Part,
                    source: str, stage: int) -> dict:
    """One partition's ranges (numeric) and levels (factors); non-finite values are
    recorded as problems of ``stage``."""
    ranges, levels = {}, {}
    for v in covariates:
        if v in numeric:
            x = frame[v].to_numpy(dtype=float)
            bad = ~np.isfinite(x)
            if bad.any():
                part.add_problems([Problem("non-finite covariate value", v,
                                           row_ids(frame, bad), source)], stage)
            good = x[~bad]
            ranges[v] = (good.min(), good.max()) if good.size else (np.inf, -np.inf)
        else:
            levels[v] = set(pd.unique(frame[v]).tolist())
    return {"ranges": ranges, "levels": levels}


def add_covariate_scans(a: dict, b: dict) -> dict:
    return {"ranges": {v: (min(a["ranges"][v][0], b["ranges"][v][0]),
                           max(a["ranges"][v][1], b["ranges"][v][1])) for v in a["ranges"]},
            "levels": {v: a["levels"][v] | b["levels"][v] for v in a["levels"]}}


def _factor_levels(values: set, dtype) -> list:
    """The levels of a factor in the in-memory design's order (reference first)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return [lv for lv in dtype.categories if lv in values]
    if pd.api.types.is_bool_dtype(dtype):
        return [v for v in (False, True) if v in values]
    return sorted(values, key=lambda v: (str(type(v)), v))


def covariates_present(ddf, covariates: list, source: str) -> set:
    """Check the covariate columns exist; return the numeric ones."""
    absent = [v for v in covariates if v not in ddf.columns]
    if absent:
        raise InputError([Problem(f"covariate column not found (columns are "
                                  f"{list(ddf.columns)})", column=v, source=source)
                          for v in absent])
    return {v for v in covariates if is_number(ddf.dtypes[v])}


def build_spec(ddf, covariates: list, numeric: set, scan: dict, source: str) -> Spec:
    """The design of the whole frame from the combined scan (the in-memory checks)."""
    problems, factors, names, terms = [], {}, [], {}
    for v in covariates:
        if v in numeric:
            lo, hi = scan["ranges"][v]
            if hi - lo == 0:
                problems.append(Problem("covariate is constant: its coefficient is not "
                                        "identifiable", v, (), source))
            names.append(v)
            terms[v] = [v]
            continue
        lv = _factor_levels(scan["levels"][v], ddf.dtypes[v])
        if len(lv) < 2:
            problems.append(Problem(f"categorical covariate has a single level {lv}", v, (),
                                    source))
        factors[v] = lv
        terms[v] = [f"{v}{_label(x)}" for x in lv[1:]]
        names += terms[v]
    if problems:
        raise InputError(problems)
    return Spec(tuple(covariates), factors, tuple(names), terms)
