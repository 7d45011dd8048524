"""Propensity scores and weights of a Dask DataFrame: distributed Newton (IRLS).

The logistic model is fitted by Newton-Raphson whose every step needs only
``X' W X`` (p x p), the score ``X' (z - mu)`` (p) and the log-likelihood: each
partition computes them at the broadcast coefficients and the tree sum adds them, so
no n-length array reaches the client. The maximum-likelihood estimate is the one
statsmodels finds in memory (its Newton stops at a step below 1e-12, as this one);
the covariance is the inverse information at the estimate. Scores, weights and the
design stay on the cluster as Dask Series; the per-arm sums (effective sample size,
trimming, positivity) come back with one more pass, the balance table with two.

References
----------
McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed., sec. 2.5 (IRLS).
Austin PC, Stuart EA. Stat Med 2015;34:3661-79 (balance diagnostics).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from .._frames import EXTREME_RELATIVE_WEIGHT, arm_order, missing_problems, row_ids
from ..errors import ExtremeWeightWarning, InputError, Problem
from ..weighting.propensity import POSITIVITY_BOUNDS, Propensity
from ..weighting.weights import ESTIMANDS, trim_mask
from ._design import (
    Spec,
    add_covariate_scans,
    build_spec,
    covariates_present,
    scan_covariates,
)
from ._reduce import Part, broadcast, keep, raise_problems, tree_sum
from ._reduce import step as report_step

__all__ = ["propensity", "DaskPropensity"]

METHOD = "logistic regression (maximum likelihood, distributed Newton-Raphson on Dask)"
TOL = 1e-12  # statsmodels' Newton tolerance in memory: the largest step at convergence


@dataclass(frozen=True)
class Arms:
    """The treatment column, its treated label, and the design of the covariates."""

    treatment: str
    treated: object
    design: Spec

    @property
    def names(self) -> tuple:
        return self.design.names

    def x(self, frame: pd.DataFrame) -> np.ndarray:
        return self.design.x(frame)

    def z(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame[self.treatment] == self.treated).to_numpy().astype(np.int64)


# -- pass 1: validate and find the levels --------------------------------------------------

def _scan_part(frame, treatment, covariates, numeric, source) -> Part:
    part = Part(len(frame))
    if len(frame) == 0:
        return part
    part.add_problems(missing_problems(frame, [treatment, *covariates], source), stage=0)
    if part.problems:
        return part
    part.payload = {"arms": pd.Series(frame[treatment]).value_counts().to_dict(),
                    **scan_covariates(frame, covariates, numeric, part, source, stage=1)}
    return part


def _add_scan(a, b):
    arms = dict(a["arms"])
    for k, v in b["arms"].items():
        arms[k] = arms.get(k, 0) + v
    return {"arms": arms, **add_covariate_scans(a, b)}


def _spec(ddf, treatment, covariates, treated, source) -> tuple[Arms, dict, int]:
    if treatment not in ddf.columns:
        raise InputError(Problem(f"column not found (columns are {list(ddf.columns)})",
                                 column=treatment, source=source))
    numeric = covariates_present(ddf, covariates, source)
    cols = list(dict.fromkeys([treatment, *covariates,
                               *[c for c in ("lesion_id", "patient_id") if c in ddf.columns]]))
    part = tree_sum(ddf[cols], _scan_part, _add_scan, treatment, covariates, numeric, source)
    if part.n == 0:
        raise InputError(Problem("the table has no rows", source=source))
    raise_problems(part, upto=0)  # missing values first, as complete_cases
    scan = part.payload
    levels = arm_order(list(scan["arms"]), treated, source=source, column=treatment)
    if len(levels) != 2:
        raise InputError(Problem(f"a treatment needs exactly 2 arms, found {levels}",
                                 treatment, (), source))
    raise_problems(part)
    design = build_spec(ddf, covariates, numeric, scan, source)
    if not design.names:
        raise InputError(Problem("no covariates given", source=source))
    counts = {label: int(scan["arms"][label]) for label in levels}
    return Arms(treatment, levels[0], design), counts, part.n


# -- pass 2..k: Newton steps ----------------------------------------------------------------

def _model_rows(frame, spec: Arms):
    """One partition's covariate matrix (the intercept is added per step: 8 bytes a row
    less to keep) and 0/1 treatment (one byte a row)."""
    return spec.x(frame), spec.z(frame).astype(np.int8)


ROW_BYTES = 8  # a covariate's bytes per row in _model_rows (and 1 for the treatment)


def _newton_part(rows, beta: np.ndarray, first: bool) -> Part:
    x, z = rows
    if len(z) == 0:
        return Part(0)
    X = np.column_stack([np.ones(len(z)), x])
    mu = expit(X @ beta)
    info = X.T @ (X * (mu * (1.0 - mu))[:, None])
    return Part(len(z), payload=(info, X.T @ (z - mu), X.T @ X if first else 0.0))


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


def fit_newton(ddf, spec: Arms, max_iter: int = 200, n: int | None = None):
    """Newton-Raphson for the logistic model: (beta, information at beta, converged).

    The model matrix of each partition is built once and kept on its worker for the
    iterations when it fits in the cluster's memory (:func:`~._reduce.keep`, sized from
    ``n`` rows when given), else rebuilt from the source at every step; each step is one
    tree sum of p x p and p arrays.
    """
    import dask

    estimate = None if n is None else n * (ROW_BYTES * len(spec.names) + 1)
    rows = keep([dask.delayed(_model_rows, pure=True)(blk, spec)
                 for blk in ddf.to_delayed()], estimate)
    beta = np.zeros(len(spec.names) + 1)
    converged = False
    for it in range(max_iter):
        report_step("propensity Newton step")
        info, score, xtx = tree_sum(rows, _newton_part, _add, beta, it == 0).payload
        if it == 0:
            _check_rank(xtx, ["(Intercept)", *spec.names])
        delta = np.linalg.solve(info, score)
        beta = beta + delta
        if np.all(np.abs(delta) < TOL):
            converged = True
            break
    info = tree_sum(rows, _newton_part, _add, beta, False).payload[0]
    return beta, info, converged


def _check_rank(xtx: np.ndarray, names: list[str]) -> None:
    # the in-memory rule on the scaled cross-product (p x p), from the partition sums
    scale = np.sqrt(np.diag(xtx))
    scale[scale == 0] = 1.0
    ev = np.linalg.eigvalsh(xtx / np.outer(scale, scale))
    rank = int((ev > ev.max() * 1e-12).sum())
    if rank < len(names):
        raise InputError(Problem(f"the covariates are collinear (rank {rank} < "
                                 f"{len(names)} columns {names}); drop a redundant one"))


# -- per-row columns, computed where the rows are ---------------------------------------

def _weights(ps, z, estimand, stabilize, share):
    t = z.astype(bool)
    with np.errstate(divide="ignore"):
        ate = np.where(t, 1.0 / ps, 1.0 / (1.0 - ps))
        out = {"weights_ate": ate,
               "weights_ate_stabilized": ate * np.where(t, share, 1.0 - share),
               "weights_att": np.where(t, 1.0, ps / (1.0 - ps)),
               "weights_ato": np.where(t, 1.0 - ps, ps)}
    key = {"ATE": "weights_ate_stabilized" if stabilize else "weights_ate",
           "ATT": "weights_att", "ATO": "weights_ato"}[estimand]
    return out, out[key]


def _rows_part(frame, spec: Arms, beta, estimand, stabilize, share, trim, cap) -> pd.DataFrame:
    """Every per-row column of the result for one partition."""
    x = spec.x(frame)
    z = spec.z(frame)
    ps = expit(np.column_stack([np.ones(len(frame)), x]) @ beta)
    all_w, w = _weights(ps, z, estimand, stabilize, share)
    trimmed_only = trim_mask(ps, trim)
    with np.errstate(invalid="ignore"):
        keep = trimmed_only & np.isfinite(w) & (w > 0)
    w_final = np.where(keep, w if cap is None else np.minimum(w, cap), np.nan)
    out = pd.DataFrame(x, columns=list(spec.names), index=frame.index)
    out["__ps"] = ps
    out["__w"] = w_final
    out["__kept"] = keep
    out["__z"] = z
    out["__in_bounds"] = trimmed_only & ((ps >= POSITIVITY_BOUNDS[0])
                                         & (ps <= POSITIVITY_BOUNDS[1]))
    out["__out"] = trimmed_only & ~out["__in_bounds"].to_numpy()
    for k, v in all_w.items():
        out[f"__{k}"] = v
    for c in ("lesion_id", "patient_id"):
        if c in frame.columns:
            out[f"__{c}"] = frame[c].to_numpy()
    return out


def _arm_sums_part(rows: pd.DataFrame) -> Part:
    z = rows["__z"].to_numpy().astype(bool)
    keep = rows["__kept"].to_numpy()
    ps = rows["__ps"].to_numpy()
    w = rows["__w"].to_numpy()
    out = np.zeros((2, 7))
    for a, m in ((0, z), (1, ~z)):  # treated, control
        wk = w[m & keep]
        out[a] = [m.sum(), (m & keep).sum(), wk.sum(), (wk * wk).sum(),
                  wk.max() if wk.size else 0.0, (m & rows["__out"].to_numpy()).sum(),
                  np.minimum(ps[m], 1 - ps[m]).min() if m.any() else 1.0]
    return Part(len(rows), payload=out)


def _add_arms(a, b):
    out = a + b
    out[:, 4] = np.maximum(a[:, 4], b[:, 4])
    out[:, 6] = np.minimum(a[:, 6], b[:, 6])
    return out


def _flagged_part(rows: pd.DataFrame, means) -> Part:
    z = rows["__z"].to_numpy().astype(bool)
    w = rows["__w"].to_numpy()
    with np.errstate(invalid="ignore"):
        big = np.nan_to_num(w / np.where(z, means[0], means[1])) > EXTREME_RELATIVE_WEIGHT
    flagged = big | rows["__out"].to_numpy()
    ids = rows.rename(columns=lambda c: c[2:] if c in ("__lesion_id", "__patient_id") else c)
    return Part(len(rows), payload=row_ids(ids, flagged)[:20])


# -- the result ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)  # the in-memory repr
class DaskPropensity(Propensity):
    """A :class:`~mace_outcomes.weighting.propensity.Propensity` whose per-row columns
    (scores, weights, design, ...) are Dask Series on the cluster; the diagnostics are
    computed there. :meth:`compute` gives the in-memory result."""

    arm_sums: np.ndarray | None = None  # per arm (treated, control): see _arm_sums_part

    def compute(self) -> Propensity:
        """The same result with its columns brought into memory as pandas objects."""
        import dask

        cols = dask.compute(self.scores, self.weights, self.all_weights, self.kept,
                            self.design, self.z, self.separated_rows)
        fields = dict(zip(("scores", "weights", "all_weights", "kept", "design", "z",
                           "separated_rows"), cols, strict=True))
        keep = {k: getattr(self, k) for k in Propensity.__dataclass_fields__}
        keep.update(fields)
        return Propensity(**keep)

    @property
    def n_trimmed(self) -> dict:
        n = self.arm_sums[:, 0] - self.arm_sums[:, 1]
        return {self.treated: int(n[0]), self.control: int(n[1])}

    def summary(self) -> pd.DataFrame:
        s = self.arm_sums
        return pd.DataFrame([{"group": label, "n": int(s[a, 0]),
                              "n_trimmed": self.n_trimmed[label], "sum_weights": s[a, 2],
                              "max_weight": s[a, 4] if s[a, 1] else np.nan,
                              "ess": self.ess[label]}
                             for a, label in enumerate((self.treated, self.control))])

    def balance(self, weights=None, threshold: float = 0.1,
                binary: str = "std") -> pd.DataFrame:
        from .balance import balance

        return balance(self, weights, threshold, binary)

    def overlap(self) -> pd.DataFrame:
        raise InputError(Problem("overlap() needs the scores' quantiles: bring the result "
                                 "into memory first", fix="ps.compute().overlap()"))

    def plot(self, **kw):
        return self.compute().plot(**kw)


def propensity(df, treatment: str, covariates: list[str] | None = None, *,
               formula: str | None = None, estimand: str = "ATE", stabilize: bool = False,
               trim=None, truncate=None, firth: bool = False, treated=None,
               missing: str = "error") -> DaskPropensity:
    """:func:`mace_outcomes.propensity` of a Dask DataFrame: the same estimates.

    Scores, weights, ``kept``, ``z``, ``design`` and ``all_weights`` are Dask Series /
    DataFrames aligned with the frame; ``.compute()`` gives the in-memory result.
    Not on Dask (yet): ``formula=`` (give ``covariates``), ``firth=True``,
    ``missing="complete_case"``, truncation at a quantile (give a value).
    """
    source = "data"
    estimand = str(estimand).upper()
    estimand = "ATO" if estimand == "OVERLAP" else estimand
    problems = []
    if estimand not in ESTIMANDS:
        problems.append(Problem(f"estimand must be one of {ESTIMANDS} ('overlap' = ATO), "
                                f"got {estimand!r}"))
    if stabilize and estimand != "ATE":
        problems.append(Problem("stabilize=True applies to the ATE weights only"))
    later = "compute the frame (ddf.compute()) and fit it in memory"
    for given, what in ((formula is not None, "formula= (give covariates=[...])"),
                        (firth, "firth=True"),
                        (missing != "error", f"missing={missing!r}"),
                        (_quantile_cap(truncate), "truncate at a quantile (give a value)")):
        if given:
            problems.append(Problem(f"{what} is not available on a Dask frame yet",
                                    fix=later))
    if problems:
        raise InputError(problems)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if not covariates:
        raise InputError(Problem("give either covariates=[...] or formula='~ ...'",
                                 source=source))
    spec, counts, n = _spec(df, treatment, covariates, treated, source)
    control = next(label for label in counts if label != spec.treated)
    ddf = df[list(dict.fromkeys([treatment, *covariates, *[
        c for c in ("lesion_id", "patient_id") if c in df.columns]]))]
    beta, info, converged = fit_newton(ddf, spec, n=n)
    cov = np.linalg.inv(info)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.diag(cov))
        zval = beta / se
    names = ["(Intercept)", *spec.names]
    coef = pd.DataFrame({"coef": beta, "se": se, "z": zval,
                         "p": 2 * stats.norm.sf(np.abs(zval))},
                        index=pd.Index(names, name="term"))
    cap = _value_cap(truncate)
    share = counts[spec.treated] / n
    meta = _rows_part(ddf._meta, spec, beta, estimand, stabilize, share, trim, cap)
    rows = ddf.map_partitions(_rows_part, spec, broadcast(beta), estimand, stabilize, share,
                              trim, cap, meta=meta)
    s = tree_sum(rows, _arm_sums_part, _add_arms).payload
    if not converged or s[:, 6].min() < 1e-6 or not np.isfinite(se).all():
        raise InputError(Problem(
            "the propensity model looks separated (scores of 0 or 1, or no convergence); "
            "the Dask fit does not diagnose separation", treatment, source=source,
            fix="fit in memory (ddf.compute()) to see which covariate separates the arms"))
    if trim is not None and (s[:, 1].sum() == 0 or (s[:, 1] == 0).any()):
        raise InputError(Problem(f"trim={trim} leaves fewer than two arms"))
    if (s[:, 1] == 0).any():
        raise InputError(Problem("no patient of one arm keeps a positive weight",
                                 source=source, fix="refit with firth=True"))
    ess = {spec.treated: float(s[0, 2] ** 2 / s[0, 3]), control: float(s[1, 2] ** 2 / s[1, 3])}
    msgs = []
    means = s[:, 2] / s[:, 1]
    rel = float((s[:, 4] / means).max())
    n_out = int(s[:, 5].sum())
    if n_out or rel > EXTREME_RELATIVE_WEIGHT:
        ids = tree_sum(rows, _flagged_part, lambda a, b: (a + b)[:20], means).payload
        msg = (f"positivity: {n_out} score(s) outside "
               f"{POSITIVITY_BOUNDS[0]}-{POSITIVITY_BOUNDS[1]}, largest weight "
               f"{rel:.1f} x its arm's mean (rows {list(ids)}); consider overlap "
               "weights (estimand='ATO'), trimming or truncation")
        msgs.append(msg)
        warnings.warn(msg, ExtremeWeightWarning, stacklevel=3)
    wname = f"w_{estimand.lower()}"
    all_w = rows[[f"__{k}" for k in ("weights_ate", "weights_ate_stabilized", "weights_att",
                                     "weights_ato")]]
    return DaskPropensity(
        scores=rows["__ps"].rename("ps"), weights=rows["__w"].rename(wname),
        estimand=estimand, treatment=treatment, treated=spec.treated, control=control,
        coef=coef, ess=ess, all_weights=all_w.rename(columns=lambda c: c[2:]),
        kept=rows["__kept"].rename("kept"), design=rows[list(spec.names)],
        z=rows["__z"].rename(treatment), stabilize=stabilize, trim=trim, truncate=truncate,
        truncation_cap=cap, firth=False, separation=False, method=METHOD, warnings=msgs,
        dropped=pd.DataFrame({"id": [], "variable": []}),
        separated_rows=(rows["__z"] < 0).rename("separated"), arm_sums=s)


def _quantile_cap(truncate) -> bool:
    if truncate is None:
        return False
    if isinstance(truncate, dict):
        return "quantile" in truncate
    return 0 < truncate < 1


def _value_cap(truncate) -> float | None:
    if truncate is None:
        return None
    return float(truncate["value"] if isinstance(truncate, dict) else truncate)
