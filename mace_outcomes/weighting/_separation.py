"""Separation in a propensity model, told in the user's terms.

:func:`mace_outcomes.weighting.logistic.separated_rows` finds the patients whose arm the
covariates predict with certainty; this module says which covariate does it and how
("every patient with any_left_main = 1 is IVUS"), so that the error or warning points at
the clinical fact (no overlap) rather than at infinite coefficients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _level(col: str, value: float) -> str:
    # a factor's dummy is told as "vessel=LCX": "with vessel = LCX" / "without vessel = LCX"
    if "=" in col:
        name, lvl = col.split("=", 1)
        return f"{'with' if value == 1 else 'without'} {name} = {lvl}"
    return f"with {col} = {value:g}"


def _binary(col: str, x: np.ndarray, z: np.ndarray, labels: tuple) -> str | None:
    parts = []
    for v in (1.0, 0.0):
        sel = x == v
        if sel.any() and np.unique(z[sel]).size == 1:
            parts.append(f"every patient {_level(col, v)} ({int(sel.sum())} patients) is "
                         f"{labels[int(z[sel][0])]!s}")
    return " and ".join(parts) or None


def _continuous(col: str, x: np.ndarray, z: np.ndarray, labels: tuple) -> str | None:
    t = z.astype(bool)
    for hi_arm, lo_arm in ((t, ~t), (~t, t)):
        lo_max, hi_min = x[lo_arm].max(), x[hi_arm].min()
        if lo_max <= hi_min:
            return (f"every {labels[int(z[hi_arm][0])]!s} patient has {col} >= {hi_min:.4g} "
                    f"and every {labels[int(z[lo_arm][0])]!s} patient has {col} <= {lo_max:.4g}")
    return None


def describe(design: pd.DataFrame, z: np.ndarray, mask: np.ndarray, direction: np.ndarray,
             labels: tuple) -> list[tuple[str | None, str]]:
    """(covariate, how it separates) for each covariate that does so on its own; else
    one entry naming the combination (the non-zero entries of ``direction``, whose first
    element is the intercept). ``labels`` = (control label, treated label)."""
    X = design.to_numpy(dtype=float)
    z = np.asarray(z).astype(np.int64)
    dummies = design.attrs.get("dummies", {})  # "vesselLCX" -> ("vessel", "LCX")
    found = []
    for j, col in enumerate(design.columns):
        x = X[:, j]
        said = "=".join(map(str, dummies[col])) if col in dummies else str(col)
        if np.all((x == 0) | (x == 1)):
            how = _binary(said, x, z, labels)
        else:
            how = _continuous(said, x, z, labels)
        if how is not None:
            found.append((str(col), how))
    if found:
        return found
    b = np.abs(np.asarray(direction, dtype=float)[1:])
    big = b > 1e-6 * max(b.max(), 1e-300)
    names = [str(c) for c, keep in zip(design.columns, big, strict=True) if keep]
    k = int(np.asarray(mask).sum())
    return [(None, f"a combination of {', '.join(names) or 'the covariates'} predicts the arm "
                   f"of {k} patient{'s' if k != 1 else ''} with certainty")]
