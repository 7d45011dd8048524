"""Numerical kernels of propensity weighting: weights, trimming, truncation, ESS, balance.

Pure numpy functions on arrays (``ps`` the propensity scores, ``z`` the 0/1
treatment indicator); :func:`mace_outcomes.propensity` validates a frame and calls
them.

References
----------
Austin PC, Stuart EA. Moving towards best practice when using inverse probability of
treatment weighting (IPTW) using the propensity score. Stat Med 2015;34:3661-79.
Li F, Morgan KL, Zaslavsky AM. Balancing covariates via propensity score weighting.
J Am Stat Assoc 2018;113:390-400 (overlap weights).
Crump RK, Hotz VJ, Imbens GW, Mitnik OA. Dealing with limited overlap in estimation of
average treatment effects. Biometrika 2009;96:187-99 (trimming).
Kish L. Survey Sampling. Wiley, 1965 (effective sample size).
"""

from __future__ import annotations

import numpy as np

ESTIMANDS = ("ATE", "ATT", "ATO")


def iptw_weights(ps: np.ndarray, z: np.ndarray, estimand: str = "ATE",
                 stabilize: bool = False) -> np.ndarray:
    """Balancing weights for a binary treatment.

    ATE: ``1/ps`` (treated), ``1/(1-ps)`` (control); stabilised, each multiplied by the
    arm's share of the sample (Robins, Hernan & Brumback 2000).
    ATT: 1 (treated), ``ps/(1-ps)`` (control).
    ATO (overlap): ``1-ps`` (treated), ``ps`` (control) (Li, Morgan & Zaslavsky 2018).
    """
    ps = np.asarray(ps, dtype=float)
    t = np.asarray(z).astype(bool)
    # np.where evaluates both arms' formulas: a score of exactly 0 or 1 (separation)
    # divides by zero in the branch that is not taken
    with np.errstate(divide="ignore"):
        return _iptw(ps, t, estimand, stabilize)


def _iptw(ps: np.ndarray, t: np.ndarray, estimand: str, stabilize: bool) -> np.ndarray:
    if estimand == "ATE":
        w = np.where(t, 1.0 / ps, 1.0 / (1.0 - ps))
        if stabilize:
            share = t.mean()
            w = w * np.where(t, share, 1.0 - share)
        return w
    if estimand == "ATT":
        return np.where(t, 1.0, ps / (1.0 - ps))
    if estimand == "ATO":
        return np.where(t, 1.0 - ps, ps)
    raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")


def trim_mask(ps: np.ndarray, trim) -> np.ndarray:
    """Rows kept by propensity trimming: ``trim=a`` keeps ``a <= ps <= 1-a``;
    ``trim=(lo, hi)`` keeps ``lo <= ps <= hi`` (Crump et al. 2009 suggest a = 0.1)."""
    ps = np.asarray(ps, dtype=float)
    if trim is None:
        return np.ones(ps.shape, dtype=bool)
    lo, hi = (trim, 1.0 - trim) if np.isscalar(trim) else trim
    return (ps >= lo) & (ps <= hi)


def truncate_weights(w: np.ndarray, truncate) -> tuple[np.ndarray, float | None]:
    """Cap weights from above; return the capped weights and the cap used.

    ``truncate`` is a quantile in (0, 1) (e.g. 0.99: the 99th percentile of the weights),
    a value >= 1 (an absolute cap), or a dict ``{"quantile": q}`` / ``{"value": v}``
    (needed for caps below 1, e.g. on overlap weights).
    """
    w = np.asarray(w, dtype=float)
    if truncate is None:
        return w, None
    if isinstance(truncate, dict):
        ((kind, v),) = truncate.items()
    else:
        kind, v = ("quantile", truncate) if 0 < truncate < 1 else ("value", truncate)
    if kind == "quantile":
        cap = float(np.quantile(w, v))
    elif kind == "value":
        cap = float(v)
    else:
        raise ValueError("truncate dict key must be 'quantile' or 'value'")
    return np.minimum(w, cap), cap


def kish_ess(w: np.ndarray) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / (w * w).sum()) if w.size else 0.0


def is_binary(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` (n x p) taking only the values 0 and 1."""
    x = np.atleast_2d(np.asarray(x, dtype=float).T).T
    return np.all((x == 0) | (x == 1), axis=0)


def weighted_mean_var(x: np.ndarray, w: np.ndarray, binary: np.ndarray):
    """Column means and variances of ``x`` (n x p) with weights ``w``.

    Continuous: unbiased reliability-weight variance
    ``sum w (x-m)^2 / (sum w - sum w^2 / sum w)`` (equal weights give ``var(ddof=1)``);
    binary: ``p(1-p)`` as cobalt computes it.
    """
    sw = w.sum()
    m = (w[:, None] * x).sum(0) / sw
    ss = (w[:, None] * (x - m) ** 2).sum(0)
    v = ss / (sw - (w * w).sum() / sw)
    v = np.where(binary, m * (1.0 - m), v)
    return m, v


def balance_kernel(x: np.ndarray, z: np.ndarray, w: np.ndarray, binary: np.ndarray,
                   binary_stat: str = "std") -> dict[str, np.ndarray]:
    """Standardised mean differences and variance ratios before and after weighting.

    SMD = (weighted mean treated - weighted mean control) / sqrt((s1^2 + s0^2)/2), where
    the denominator always uses the *unweighted* arm variances (Austin & Stuart 2015), so
    that weighting changes only the numerator. Binary covariates use ``p(1-p)`` variances
    (cobalt's ``binary = "std"``) or, with ``binary_stat="raw"``, the raw difference in
    proportions. Variance ratios (treated / control) are reported for continuous
    covariates only (NaN for binary ones, as cobalt does).
    """
    t = np.asarray(z).astype(bool)
    ones = np.ones(len(t))
    m1, v1 = weighted_mean_var(x[t], ones[t], binary)
    m0, v0 = weighted_mean_var(x[~t], ones[~t], binary)
    mw1, vw1 = weighted_mean_var(x[t], w[t], binary)
    mw0, vw0 = weighted_mean_var(x[~t], w[~t], binary)
    sd = np.sqrt((v1 + v0) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.where(binary & (binary_stat == "raw"), 1.0, sd)
        smd_u = (m1 - m0) / denom
        smd_w = (mw1 - mw0) / denom
        vr_u = np.where(binary, np.nan, v1 / v0)
        vr_w = np.where(binary, np.nan, vw1 / vw0)
    return {"mean_treated": m1, "mean_control": m0, "mean_treated_weighted": mw1,
            "mean_control_weighted": mw0, "smd_unweighted": smd_u, "smd_weighted": smd_w,
            "vr_unweighted": vr_u, "vr_weighted": vr_w}
