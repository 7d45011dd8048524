"""Small helpers that make synthetic columns reproduce published summaries exactly.

A published table prints, per arm, a count, a mean and SD, or a median and quartiles.
The builders here start from a plausible random draw (which carries the correlations
we want) and move it as little as possible until the printed summary is reproduced
to the printed precision:

- :func:`exact_moments` -- the nearest vector (least squares) with a given mean and SD
  (ddof=1) inside per-element bounds, solved with SLSQP.
- :func:`quantise` -- round to a storage step (integer years, 0.1 %, 0.25 mm balloons)
  and repair the mean and SD by single and paired steps until they print as published.
- :func:`with_quartiles` -- values whose median and quartiles are the printed ones under
  every common quantile definition (R types 5, 6 = SPSS, 7 = R/numpy default), by
  putting tied blocks at each quartile position.
- :func:`choose_exactly` -- exactly ``k`` of ``n`` units, more likely where a score is
  high (Gumbel top-k), so counts are exact while associations remain.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

# Quantile definitions a reader might use to check the data: R type 7 (R, numpy and
# pandas default), type 6 (SPSS, used by the paper), type 5 (Hazen).
QUANTILE_METHODS = ("linear", "weibull", "hazen")


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1))


def printed_tolerance(value: float | int | str) -> float:
    """Half a unit of the last printed digit: ``82`` -> 0.5, ``5.6`` -> 0.05."""
    text = repr(value) if not isinstance(value, str) else value
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


def prints_as(value: float, printed: float, tol: float | None = None) -> bool:
    """True when ``value`` rounds to the ``printed`` number (strictly inside half a unit)."""
    tol = printed_tolerance(printed) if tol is None else tol
    return abs(value - printed) < tol * (1 - 1e-9)


def exact_moments(
    x0: np.ndarray,
    mean: float,
    sd: float,
    lower: float | np.ndarray = -np.inf,
    upper: float | np.ndarray = np.inf,
    corr_with: np.ndarray | None = None,
    corr: float | None = None,
) -> np.ndarray:
    """Nearest vector to ``x0`` with exactly this mean and SD (ddof=1) inside the bounds.

    With ``corr_with`` and ``corr``, the result also has exactly this Pearson correlation
    with ``corr_with``.
    """
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    lo = np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy()
    hi = np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy()
    # the affine rescaling keeps the draw's shape; it is the answer when it fits the bounds
    z = (x0 - x0.mean()) / _sd(x0)
    zc = None
    if corr_with is not None:
        zc = (corr_with - np.mean(corr_with)) / _sd(corr_with)
        w = z - (z @ zc) / (zc @ zc) * zc  # the draw's part orthogonal to corr_with
        w = w / _sd(w)
        z = corr * zc + np.sqrt(1 - corr**2) * w
    start = mean + sd * z
    if np.all(start >= lo) and np.all(start <= hi):
        return start
    # solve in standard units (u = (x - mean) / sd) so every variable has the same scale
    ulo, uhi = (lo - mean) / sd, (hi - mean) / sd
    cons = [
        {"type": "eq", "fun": lambda u: u.mean(), "jac": lambda u: np.full(n, 1.0 / n)},
        {"type": "eq", "fun": lambda u: np.sum((u - u.mean()) ** 2) / (n - 1) - 1.0,
         "jac": lambda u: 2 * (u - u.mean()) / (n - 1)},
    ]
    if zc is not None:
        cons.append({"type": "eq", "fun": lambda u: u @ zc / (n - 1) - corr,
                     "jac": lambda u: zc / (n - 1)})
    bounds = list(zip(np.where(np.isfinite(ulo), ulo, None),
                      np.where(np.isfinite(uhi), uhi, None), strict=True))
    res = minimize(
        lambda u: np.sum((u - z) ** 2) / n,
        np.clip(z, ulo, uhi),
        jac=lambda u: 2 * (u - z) / n,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        options={"maxiter": 500, "ftol": 1e-12},
    )
    x = mean + sd * res.x
    if abs(x.mean() - mean) > 1e-6 * max(1, abs(mean)) or abs(_sd(x) - sd) > 1e-6 * max(1, sd):
        raise RuntimeError(f"cannot reach mean {mean} and SD {sd} within the bounds")
    if zc is not None and abs(np.corrcoef(x, zc)[0, 1] - corr) > 1e-6:
        raise RuntimeError(f"cannot reach correlation {corr} within the bounds")
    return np.clip(x, lo, hi)


def quantise(
    x: np.ndarray,
    step: float,
    mean: float,
    sd: float,
    lower: float | np.ndarray = -np.inf,
    upper: float | np.ndarray = np.inf,
    tol_mean: float | None = None,
    tol_sd: float | None = None,
) -> np.ndarray:
    """Round ``x`` to multiples of ``step`` and repair mean/SD to their printed precision.

    Repairs are single steps (move the mean) and paired opposite steps (keep the sum,
    move the SD), each time choosing the move that brings the SD closest to its target.
    """
    x = np.round(np.asarray(x, dtype=float) / step) * step
    n = x.size
    lo = np.broadcast_to(np.asarray(lower, dtype=float), (n,))
    hi = np.broadcast_to(np.asarray(upper, dtype=float), (n,))
    tol_mean = printed_tolerance(mean) if tol_mean is None else tol_mean
    tol_sd = printed_tolerance(sd) if tol_sd is None else tol_sd
    # aim well inside the window so that later rounding of derived values cannot flip it
    for _ in range(20 * n):
        m, s = x.mean(), _sd(x)
        if prints_as(m, mean, tol_mean) and prints_as(s, sd, tol_sd):
            return np.round(x / step) * step
        ssq = np.sum(x**2)
        if not prints_as(m, mean, tol_mean):
            d = step * np.sign(mean - m)
            cand = x + d
            ok = (cand >= lo - 1e-12) & (cand <= hi + 1e-12)
            new_ssq = ssq - x**2 + cand**2
            new_m = m + d / n
            new_sd = np.sqrt(np.maximum(new_ssq - n * new_m**2, 0) / (n - 1))
            score = np.where(ok, np.abs(new_sd - sd), np.inf)
            i = int(np.argmin(score))
            if not np.isfinite(score[i]):
                break
            x[i] = cand[i]
        else:
            # x_i + step, x_j - step: sum kept, ssq changes by 2 step (x_i - x_j) + 2 step^2
            up_ok = x + step <= hi + 1e-12
            dn_ok = x - step >= lo - 1e-12
            delta = 2 * step * (x[:, None] - x[None, :]) + 2 * step**2
            new_sd = np.sqrt(np.maximum(ssq + delta - n * m**2, 0) / (n - 1))
            score = np.abs(new_sd - sd)
            valid = up_ok[:, None] & dn_ok[None, :]
            np.fill_diagonal(valid, False)
            score = np.where(valid, score, np.inf)
            i, j = np.unravel_index(int(np.argmin(score)), score.shape)
            if not np.isfinite(score[i, j]) or score[i, j] >= abs(s - sd):
                break
            x[i] += step
            x[j] -= step
    m, s = x.mean(), _sd(x)
    if not (prints_as(m, mean, tol_mean) and prints_as(s, sd, tol_sd)):
        raise RuntimeError(f"cannot quantise to step {step} with mean {mean} and SD {sd}")
    return np.round(x / step) * step


def quartile_positions(n: int, p: float) -> list[int]:
    """0-based sorted positions that any of the common quantile definitions reads."""
    pos = set()
    for h in ((n - 1) * p, (n + 1) * p - 1, n * p - 0.5):
        h = min(max(h, 0.0), n - 1.0)
        pos.update({int(np.floor(h)), int(np.ceil(h))})
    return sorted(pos)


def quartiles_agree(x: np.ndarray, q1: float, median: float, q3: float) -> bool:
    """True when every method in :data:`QUANTILE_METHODS` gives these three numbers."""
    for method in QUANTILE_METHODS:
        got = np.quantile(x, [0.25, 0.5, 0.75], method=method)
        if not np.allclose(got, [q1, median, q3], atol=1e-9):
            return False
    return True


def with_quartiles(
    n: int,
    median: float,
    q1: float,
    q3: float,
    lower: float,
    upper: float,
    rng: np.random.Generator,
    step: float | None = None,
    choices: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted values with these quartiles under every common quantile definition."""
    qs = {0.25: q1, 0.5: median, 0.75: q3}
    forced = np.full(n, np.nan)
    for p, q in qs.items():
        for i in quartile_positions(n, p):
            forced[i] = q
    x = np.empty(n)
    idx = np.arange(n)
    for i in idx:
        if not np.isnan(forced[i]):
            x[i] = forced[i]
            continue
        # the free value lies between the nearest forced values on either side
        left = forced[:i][~np.isnan(forced[:i])]
        right = forced[i + 1 :][~np.isnan(forced[i + 1 :])]
        lo = left[-1] if left.size else lower
        hi = right[0] if right.size else upper
        if choices is not None:
            allowed = choices[(choices >= lo) & (choices <= hi)]
            x[i] = rng.choice(allowed)
        else:
            v = rng.uniform(lo, hi)
            if step is not None:
                v = np.clip(np.round(v / step) * step, lo, hi)
            x[i] = v
    x = np.sort(x)
    if not quartiles_agree(x, q1, median, q3):
        raise RuntimeError("quartile construction failed")
    return x


def choose_exactly(n: int, k: int, rng: np.random.Generator, score=None) -> np.ndarray:
    """Boolean mask with exactly ``k`` True, more likely where ``score`` (log-odds) is high."""
    score = np.zeros(n) if score is None else np.asarray(score, dtype=float)
    key = score + rng.gumbel(size=n)
    mask = np.zeros(n, dtype=bool)
    if k > 0:
        mask[np.argsort(-key)[:k]] = True
    return mask
