"""Bootstrap of the weighted two-arm comparison: ``mo.bootstrap``.

Every replicate re-estimates the propensity model and the weights on the resampled data
(Austin 2016: ignoring the estimation of the propensity score misstates the variance of
the IPTW hazard ratio), then refits the weighted Cox model and the weighted Kaplan-Meier
curves. At lesion level, whole patients are resampled (``cluster="patient_id"``) so the
correlation between a patient's lesions is kept. Percentile intervals.

Speed: resampling is encoded as frequency weights, so all replicates of a chunk are fitted
together by the batched kernels of :mod:`mace_outcomes.weighting.logistic` (propensity)
and :mod:`mace_outcomes.weighting.batch` (Cox, Kaplan-Meier, RMST); chunks run in
parallel with joblib. The resampling counts are drawn up front from one seeded generator,
so the result does not depend on ``n_jobs`` or the chunking.

References
----------
Austin PC. Variance estimation when using inverse probability of treatment weighting
(IPTW) with survival analysis. Stat Med 2016;35:5642-55.
Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993 (ch. 13,
percentile intervals).
Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-90.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from .._display import frame_html, frame_text
from .._frames import survival_arrays
from ..errors import InputError, Problem
from .batch import arm_sums, cox_binary, km_binary, layout
from .logistic import logistic_irls
from .propensity import design_matrix, propensity, treatment_indicator

STATISTICS = ("hr", "risk_difference", "risk_ratio", "rmst_diff")


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap distribution of the weighted comparison.

    Attributes
    ----------
    table : DataFrame, one row per statistic (hr, risk_difference, risk_ratio,
        rmst_diff): estimate (full data), se (SD of the replicates; log scale for the HR
        and risk ratio), lower, upper (percentile interval), n_valid, n_infinite.
    replicates : DataFrame, one row per replicate.
    n_boot, seed, conf_level, estimand, cluster, horizon, tau : the settings.
    """

    table: pd.DataFrame
    replicates: pd.DataFrame
    n_boot: int
    seed: int | None
    conf_level: float
    estimand: str | None
    cluster: str | None
    horizon: float | None
    tau: float | None
    treated: object = None
    control: object = None
    notes: list = field(default_factory=list)

    def _footer(self) -> str:
        unit = f"clusters ({self.cluster})" if self.cluster else "rows"
        text = [f"{self.n_boot} replicates resampling {unit}, seed {self.seed}; propensity "
                f"model and {self.estimand or 'no'} weights re-estimated in every replicate "
                f"(Austin 2016); {self.conf_level:.0%} percentile intervals",
                f"treated = {self.treated!r} vs control = {self.control!r}; risks at "
                f"{self.horizon} days, RMST to {self.tau} days"]
        return "\n".join(text + list(self.notes))

    def __repr__(self) -> str:
        return frame_text("Bootstrap", self.table.set_index("statistic"), self._footer())

    def _repr_html_(self) -> str:
        return frame_html("Bootstrap", self.table.set_index("statistic"),
                          self._footer().replace("\n", "<br>"))


def _weights_batch(ps: np.ndarray, z: np.ndarray, F: np.ndarray, estimand: str | None,
                   stabilize: bool, trim, truncate) -> np.ndarray:
    """Case weights (B x n) of every replicate, zero for rows absent or trimmed."""
    t = z.astype(bool)[None, :]
    if estimand is None:
        w = np.ones_like(ps)
    elif estimand == "ATE":
        w = np.where(t, 1.0 / ps, 1.0 / (1.0 - ps))
        if stabilize:
            share = (F * t).sum(1, keepdims=True) / F.sum(1, keepdims=True)
            w = w * np.where(t, share, 1.0 - share)
    elif estimand == "ATT":
        w = np.where(t, 1.0, ps / (1.0 - ps))
    else:
        w = np.where(t, 1.0 - ps, ps)
    if trim is not None:
        lo, hi = (trim, 1.0 - trim) if np.isscalar(trim) else trim
        w = np.where((ps >= lo) & (ps <= hi), w, 0.0)
    if truncate is not None:
        if isinstance(truncate, dict):
            ((kind, v),) = truncate.items()
        else:
            kind, v = ("quantile", truncate) if 0 < truncate < 1 else ("value", truncate)
        if kind == "value":
            w = np.minimum(w, v)
        else:
            # the quantile of the resampled (duplicated, untrimmed) weights
            for b in range(w.shape[0]):
                keep = (F[b] > 0) & (w[b] > 0)
                cap = np.quantile(np.repeat(w[b][keep], F[b][keep].astype(int)), v)
                w[b] = np.minimum(w[b], cap)
    return F * w


def _chunk(F: np.ndarray, Xc: np.ndarray | None, z: np.ndarray, lay, settings: dict) -> dict:
    """Fit every replicate of one chunk (frequency weights ``F``, B x n)."""
    if Xc is None:
        ps = np.full(F.shape, 0.5)
        converged = np.ones(F.shape[0], dtype=bool)
    else:
        fit = logistic_irls(Xc, z, F, firth=settings["firth"], max_iter=50)
        ps = expit(fit["beta"] @ Xc.T)
        converged = fit["converged"]
    W = _weights_batch(ps, z, F, settings["estimand"], settings["stabilize"],
                       settings["trim"], settings["truncate"])
    s = arm_sums(lay, W, F)
    cox = cox_binary(s)
    km = km_binary(s, settings["horizon"], settings["tau"])
    return {"log_hr": cox["coef"], "surv1": km["surv1"], "surv0": km["surv0"],
            "rmst1": km["rmst1"], "rmst0": km["rmst0"], "ps_converged": converged}


def _statistics(r: dict) -> dict[str, np.ndarray]:
    risk1, risk0 = 1.0 - r["surv1"], 1.0 - r["surv0"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"hr": np.exp(r["log_hr"]), "risk_difference": risk1 - risk0,
                "risk_ratio": risk1 / risk0, "rmst_diff": r["rmst1"] - r["rmst0"]}


def bootstrap(df: pd.DataFrame, treatment: str, covariates: list[str] | None = None, *,
              formula: str | None = None, time: str = "time", event: str = "event",
              estimand: str | None = "ATE", stabilize: bool = False, trim=None,
              truncate=None, firth: bool = False, treated=None, cluster: str | None = None,
              horizon: float = 365, tau: float | None = None, n_boot: int = 2000,
              conf_level: float = 0.95, seed: int | None = None, n_jobs: int = 1,
              progress: bool = True, chunk_size: int | None = None,
              statistic: Callable[[pd.DataFrame], float | dict] | None = None
              ) -> BootstrapResult:
    """Bootstrap percentile intervals for the weighted two-arm comparison.

    Each replicate resamples rows (or whole clusters), refits the propensity model,
    recomputes the weights and refits the weighted Cox model (Efron ties) and weighted
    Kaplan-Meier curves: hazard ratio, risk difference and ratio at ``horizon``, RMST
    difference to ``tau`` (default ``horizon``).

    Parameters
    ----------
    df : DataFrame with ``time``, ``event``, ``treatment`` and the covariates.
    treatment, covariates, formula, estimand, stabilize, trim, truncate, firth, treated :
        as in :func:`mace_outcomes.propensity`; ``estimand=None`` bootstraps the crude
        (unweighted) comparison.
    cluster : resample whole clusters (e.g. ``"patient_id"`` for lesion-level data).
    n_boot : number of replicates; seed : seed of the resampling (reproducible for any
        ``n_jobs``); n_jobs : joblib workers; progress : tqdm progress bar.
    statistic : optional function of a resampled DataFrame returning a number or a dict
        of numbers; replaces the built-in statistics (slower: one call per replicate;
        a resampled cluster's ids are made unique with a ``#k`` suffix).

    Examples
    --------
    >>> import mace_outcomes as mo                                   # doctest: +SKIP
    >>> tte = mo.time_to_event(mo.load_example(), "mace", level="lesion")  # doctest: +SKIP
    >>> mo.bootstrap(tte, "arm", ["age", "ckd"], cluster="patient_id", seed=1)  # doctest: +SKIP

    References
    ----------
    Austin PC. Stat Med 2016;35:5642-55. Efron & Tibshirani 1993.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    arrays = survival_arrays(df, time=time, event=event, group=treatment, cluster=cluster,
                             min_groups=2)
    if n_boot < 1:
        raise InputError(Problem(f"n_boot must be a positive integer, got {n_boot}"))
    if not 0 < conf_level < 1:
        raise InputError(Problem(f"conf_level must be in (0, 1), got {conf_level}"))
    tau = horizon if tau is None else tau
    if estimand is not None:
        ps_full = propensity(df, treatment, covariates, formula=formula, estimand=estimand,
                             stabilize=stabilize, trim=trim, truncate=truncate, firth=firth,
                             treated=treated)
        z = ps_full.z.to_numpy()
        treated_label, control_label = ps_full.treated, ps_full.control
        estimand = ps_full.estimand
        X = design_matrix(df, covariates, formula).to_numpy(float)
        Xc = np.column_stack([np.ones(len(z)), X])
        w_full = ps_full.weights.fillna(0.0).to_numpy()
    else:
        z, treated_label, control_label = treatment_indicator(df, treatment, treated)
        Xc, w_full = None, np.ones(len(df))

    units = arrays.cluster if cluster is not None else np.arange(len(df))
    n_units = int(units.max()) + 1
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    lay = layout(arrays.time, arrays.event, z)
    settings = {"estimand": estimand, "stabilize": stabilize, "trim": trim,
                "truncate": truncate, "firth": firth, "horizon": horizon, "tau": tau}

    ones = np.ones((1, len(df)))
    full = _chunk_fixed(w_full[None, :], ones, lay, settings)
    est = {k: float(v[0]) for k, v in _statistics(full).items()}

    if statistic is not None:
        reps = _generic(df, statistic, counts, units, cluster, n_jobs, progress)
        est = _as_dict(statistic(df))
    else:
        if chunk_size is None:
            chunk_size = int(np.clip(np.ceil(n_boot / max(2 * max(n_jobs, 1), 1)), 50, 500))
        chunks = [counts[i:i + chunk_size] for i in range(0, n_boot, chunk_size)]
        # Threads: the chunks spend their time in numpy, which releases the GIL, and
        # threads avoid starting and feeding worker processes (seconds on 2 cores).
        par = Parallel(n_jobs=n_jobs, return_as="generator", prefer="threads")
        gen = par(delayed(_chunk)(c[:, units].astype(float), Xc, z, lay, settings)
                  for c in chunks)
        parts = list(tqdm(gen, total=len(chunks), disable=not progress,
                          desc="bootstrap", unit="chunk"))
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        reps = pd.DataFrame(_statistics(merged))
        reps["ps_converged"] = merged["ps_converged"]

    alpha = 1.0 - conf_level
    rows = []
    for name in [c for c in reps.columns if c != "ps_converged"]:
        v = reps[name].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        log_scale = name in ("hr", "risk_ratio")
        vv = v[ok]
        finite = np.isfinite(vv) & ((vv > 0) if log_scale else True)
        if not vv.size:
            lo = hi = np.nan
        elif finite.all():
            lo, hi = np.quantile(vv, [alpha / 2, 1 - alpha / 2])
        else:
            # 0 / infinite replicates: no interpolation across them (inf - inf), take the
            # outer order statistics instead
            lo = np.quantile(vv, alpha / 2, method="lower")
            hi = np.quantile(vv, 1 - alpha / 2, method="higher")
        with np.errstate(divide="ignore", invalid="ignore"):
            sv = np.log(vv[finite]) if log_scale else vv[finite]
        rows.append({"statistic": name, "estimate": est.get(name, np.nan),
                     "se": float(np.std(sv, ddof=1)) if sv.size > 1 else np.nan,
                     "lower": float(lo), "upper": float(hi), "n_valid": int(ok.sum()),
                     "n_infinite": int((~finite).sum())})
    notes = []
    if rows and any(r["n_infinite"] for r in rows):
        notes.append("some replicates had no events in an arm (hazard or risk ratio 0 or "
                     "infinite); they are kept, so a percentile limit may be 0 or infinite")
    if "ps_converged" in reps and not reps["ps_converged"].all():
        notes.append(f"{int((~reps['ps_converged']).sum())} replicates' propensity model did "
                     "not converge (separation); consider firth=True")
    return BootstrapResult(table=pd.DataFrame(rows), replicates=reps, n_boot=n_boot,
                           seed=seed, conf_level=conf_level, estimand=estimand,
                           cluster=cluster, horizon=horizon, tau=tau, treated=treated_label,
                           control=control_label, notes=notes)


def _chunk_fixed(W: np.ndarray, F: np.ndarray, lay, settings: dict) -> dict:
    """The full-data estimate with the weights of the main analysis."""
    s = arm_sums(lay, W, F)
    km = km_binary(s, settings["horizon"], settings["tau"])
    return {"log_hr": cox_binary(s)["coef"], **km}


def _as_dict(value) -> dict:
    return dict(value) if isinstance(value, dict) else {"statistic": float(value)}


def _resample(df: pd.DataFrame, count: np.ndarray, units: np.ndarray,
              cluster: str | None) -> pd.DataFrame:
    """Duplicate rows (whole clusters) by their bootstrap counts; copies get new ids."""
    reps = count[units]
    idx = np.repeat(np.arange(len(df)), reps)
    out = df.iloc[idx].reset_index(drop=True)
    if cluster is not None:
        # k-th copy of a cluster: copy number = rank of the row among its duplicates
        copy = np.concatenate([np.arange(r) for r in reps]) if len(reps) else np.array([])
        out[cluster] = out[cluster].astype(str) + "#" + copy.astype(int).astype(str)
    return out


def _one(df, statistic, count, units, cluster):
    return _as_dict(statistic(_resample(df, count, units, cluster)))


def _generic(df, statistic, counts, units, cluster, n_jobs, progress) -> pd.DataFrame:
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm
    par = Parallel(n_jobs=n_jobs, return_as="generator")
    gen = par(delayed(_one)(df, statistic, c, units, cluster) for c in counts)
    return pd.DataFrame(list(tqdm(gen, total=len(counts), disable=not progress,
                                  desc="bootstrap", unit="replicate")))
