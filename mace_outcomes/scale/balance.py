"""Covariate balance of a Dask propensity result, from per-arm sums.

Two passes over the partitions: the (weighted) sums that give each arm's means, then
the centred sums of squares around the broadcast means (two passes, not ``sum x^2 -
n m^2``, so the variances keep the digits of the in-memory two-pass formula of
:func:`~mace_outcomes.weighting.weights.weighted_mean_var`). The SMDs and variance
ratios are then :func:`~mace_outcomes.weighting.weights.balance_kernel`'s formulas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ._reduce import Part, broadcast, step, tree_sum

__all__ = ["balance"]


def _arrays(frame: pd.DataFrame, names: list[str]):
    keep = frame["__kept"].to_numpy()
    x = frame[names].to_numpy(dtype=float)[keep]
    t = frame["__z"].to_numpy().astype(bool)[keep]
    w = frame["__w"].to_numpy()[keep]
    return x, t, w


def _moments_part(frame, names) -> Part:
    x, t, w = _arrays(frame, names)
    out = []
    for m in (t, ~t):  # treated, control
        xm, wm = x[m], w[m]
        out.append(np.vstack([np.full(len(names), m.sum(), float), xm.sum(0),
                              np.full(len(names), wm.sum()), np.full(len(names), (wm * wm).sum()),
                              (wm[:, None] * xm).sum(0)]))
    binary = np.all((x == 0) | (x == 1), axis=0)
    return Part(len(frame), payload=(np.stack(out), binary))


def _squares_part(frame, names, means) -> Part:
    x, t, w = _arrays(frame, names)
    out = np.zeros((2, 2, len(names)))
    for a, m in enumerate((t, ~t)):
        out[a, 0] = ((x[m] - means[a, 0]) ** 2).sum(0)
        out[a, 1] = (w[m][:, None] * (x[m] - means[a, 1]) ** 2).sum(0)
    return Part(len(frame), payload=out)


def balance(ps, weights=None, threshold: float = 0.1, binary: str = "std") -> pd.DataFrame:
    """:meth:`Propensity.balance` of a :class:`DaskPropensity`: the same table."""
    if binary not in ("std", "raw"):
        raise InputError(Problem("binary must be 'std' or 'raw'"))
    names = list(ps.design.columns)
    w = ps.weights if weights is None else weights
    frame = ps.design.assign(__kept=ps.kept, __z=ps.z, __w=w)
    step("balance pass")
    mom, is_bin = tree_sum(frame, _moments_part,
                           lambda a, b: (a[0] + b[0], a[1] & b[1]), names).payload
    # per arm: n, sum x, sum w, sum w^2, sum w x
    n, sx, sw, sw2, swx = (mom[:, i] for i in range(5))
    means = np.stack([sx / n, swx / sw], axis=1)  # arm x (unweighted, weighted) x p
    ss = tree_sum(frame, _squares_part, lambda a, b: a + b, names, broadcast(means)).payload
    var = np.stack([ss[:, 0] / (n - n / n), ss[:, 1] / (sw - sw2 / sw)], axis=1)
    var = np.where(is_bin, means * (1.0 - means), var)
    (m1, mw1), (m0, mw0) = means
    (v1, vw1), (v0, vw0) = var
    sd = np.sqrt((v1 + v0) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.where(is_bin & (binary == "raw"), 1.0, sd)
        out = pd.DataFrame({"covariate": names,
                            "type": np.where(is_bin, "binary", "continuous"),
                            "mean_treated": m1, "mean_control": m0,
                            "smd_unweighted": (m1 - m0) / denom,
                            "smd_weighted": (mw1 - mw0) / denom,
                            "vr_unweighted": np.where(is_bin, np.nan, v1 / v0),
                            "vr_weighted": np.where(is_bin, np.nan, vw1 / vw0)})
    out["balanced"] = np.abs(out["smd_weighted"]) < threshold
    return out
