"""The models' design matrix on partitions: R's names and the levels of the whole frame.

A partition may hold only some levels of a factor, so the levels are found first (one
pass over the cluster, with the in-memory checks: missing and non-finite values) and
every partition then builds the same columns with the package's one builder,
:func:`mace_outcomes._design.design` (``covariates=[...]`` or a ``formula`` with
factors, ``factor()``, interactions and ``reference=`` levels), named as R's
``model.matrix`` (``ecog1``, ``armOCT``, ``armOCT:age``).

How: a few rows that hold every level of every factor of the whole frame (and each
numeric column's smallest and largest value) are put before the partition's rows, the
builder runs on both and their columns are dropped again. The builder thus sees every
level in every partition and orders and names them as it does in memory; run on those
rows alone, it makes the in-memory checks of the whole frame (constant columns,
single-level factors, unknown reference levels) and gives the names and terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._design import design, model_variables, parse_formula
from .._frames import row_ids
from ..errors import InputError, Problem
from ._reduce import Part

__all__ = ["Spec", "is_number", "scan_covariates", "add_covariate_scans", "build_spec",
           "covariates_present", "model_columns"]


def is_number(dtype) -> bool:
    """A numeric (not boolean, not categorical) column: one column under its own name."""
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            and not isinstance(dtype, pd.CategoricalDtype))


@dataclass(frozen=True, eq=False)  # holds a frame: compared by identity
class Spec:
    """How each partition builds the model's columns (no intercept)."""

    pad: pd.DataFrame = field(repr=False)  # every level of the whole frame, ahead of the rows
    covariates: list | None
    formula: str | None
    reference: dict | None
    names: tuple  # design column names
    terms: dict  # term -> its columns
    factors: dict  # factor column -> its levels (reference first)
    source: str = "data"

    def x(self, frame: pd.DataFrame) -> np.ndarray:
        rows = frame[list(self.pad.columns)]
        cats = {v: self.pad[v].dtype for v in self.pad.columns
                if isinstance(self.pad[v].dtype, pd.CategoricalDtype)}
        if cats:  # one set of categories, so that the rows stay categorical
            rows = rows.astype(cats)
        both = pd.concat([self.pad, rows], ignore_index=True)
        return design(both, self.covariates, self.formula, self.reference,
                      self.source).x[len(self.pad):]


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


def covariates_present(ddf, covariates: list, source: str) -> set:
    """Check the covariate columns exist; return the numeric ones."""
    absent = [v for v in covariates if v not in ddf.columns]
    if absent:
        raise InputError([Problem(f"covariate column not found (columns are "
                                  f"{list(ddf.columns)})", column=v, source=source)
                          for v in absent])
    return {v for v in covariates if is_number(ddf.dtypes[v])}


def model_columns(ddf, covariates, formula: str | None, reference: dict | None,
                  source: str) -> tuple[list, set]:
    """The columns a model reads (``covariates`` or the ``formula``'s variables, which
    must exist) and those taken as numbers (not ``factor()`` in the formula, not given a
    ``reference=`` level)."""
    if formula is not None and covariates is not None:
        raise InputError(Problem("give covariates=[...] or formula='...', not both",
                                 source=source))
    variables = model_variables(covariates, formula)
    forced = set() if formula is None else parse_formula(formula, source)[1]
    numeric = covariates_present(ddf, variables, source)
    return variables, numeric - forced - set(reference or {})


def _pad(ddf, variables: list, numeric: set, scan: dict) -> pd.DataFrame:
    """Rows holding every level of every factor of the whole frame and each numeric
    column's extremes (which keeps a constant column constant)."""
    levels = {v: list(scan["levels"][v]) for v in variables if v not in numeric}
    size = max([2, *map(len, levels.values())])
    cols = {}
    for v in variables:
        dtype = ddf.dtypes[v]
        if v in numeric:
            cols[v] = np.resize(np.asarray(scan["ranges"][v], dtype=float), size)
            continue
        values = np.resize(np.asarray(levels[v] or [None], dtype=object), size)
        cols[v] = (pd.Categorical(values, dtype=dtype) if isinstance(dtype, pd.CategoricalDtype)
                   else pd.Series(values, dtype=object).astype(dtype))
    return pd.DataFrame(cols)


def build_spec(ddf, covariates: list | None, numeric: set, scan: dict, source: str,
               formula: str | None = None, reference: dict | None = None) -> Spec:
    """The design of the whole frame from the combined scan: the in-memory builder on
    the levels' rows (its checks, names and terms)."""
    variables = model_variables(covariates, formula)
    pad = _pad(ddf, variables, numeric, scan)
    dm = design(pad, covariates, formula, reference, source)
    return Spec(pad, covariates, formula, reference, tuple(dm.names), dict(dm.terms),
                dict(dm.levels), source)
