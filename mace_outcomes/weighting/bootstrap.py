"""Bootstrap of the weighted two-arm comparison: ``mo.bootstrap``.

Every replicate re-estimates the propensity model and the weights on the resampled data
(Austin 2016: ignoring the estimation of the propensity score misstates the variance of
the IPTW hazard ratio), then refits the weighted Cox model and the weighted Kaplan-Meier
curves. At lesion level, whole patients are resampled (``cluster="patient_id"``) so the
correlation between a patient's lesions is kept. Percentile intervals.

Speed: resampling is encoded as frequency weights, so all replicates of a block are fitted
together by the batched kernels of :mod:`mace_outcomes.weighting.logistic` (propensity)
and :mod:`mace_outcomes.weighting.batch` (Cox, Kaplan-Meier, RMST); blocks run in
parallel with joblib.

Memory: no array spans all replicates x rows (at 10^5 patients x 2,000 replicates such
arrays take 13 GB). Blocks of replicates are drawn and fitted one after another, each
sized so that its working arrays fit ``memory_gb``. Replicate ``b`` draws its counts from
its own child of ``SeedSequence(seed)``, so the result for a seed does not depend on
``n_jobs``, the block size or the memory budget.

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

from .._display import ResultMixin, frame_html, frame_text
from .._frames import survival_arrays
from ..errors import InputError, Problem
from .batch import arm_sums, cox_binary, km_binary, layout
from .logistic import logistic_irls
from .propensity import design_matrix, propensity, treatment_indicator

STATISTICS = ("hr", "risk_difference", "risk_ratio", "rmst_diff")
# Replicates x rows float arrays alive at once while a block is fitted (counts, the
# propensity IRLS and its log-likelihood temporaries, scores, weights): tracemalloc
# measured 9 per replicate (10^5 rows, blocks of 20); 16 leaves room.
ROW_ARRAYS = 16
# Replicates x event times x tied events arrays of the Efron Cox kernel.
TIE_ARRAYS = 8


@dataclass(frozen=True, eq=False)
class BootstrapResult(ResultMixin):
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
    time_unit: str = "days"

    @property
    def weighted(self) -> bool:
        """Whether the replicates are propensity-weighted (``estimand`` not None)."""
        return self.estimand is not None

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
                          self._footer())


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


def draw_counts(seeds: list[np.random.SeedSequence], n_units: int) -> np.ndarray:
    """Bootstrap counts (len(seeds) x n_units): replicate ``b`` resamples ``n_units``
    units with replacement using the generator of ``seeds[b]`` alone (a uniform
    multinomial, drawn as the tally of ``n_units`` uniform picks)."""
    out = np.empty((len(seeds), n_units), dtype=np.int32)
    for b, ss in enumerate(seeds):  # one draw per replicate, never per subject
        picks = np.random.default_rng(ss).integers(0, n_units, size=n_units)
        out[b] = np.bincount(picks, minlength=n_units)
    return out


def replicate_bytes(n_rows: int, n_coef: int, n_event_times: int, max_ties: int,
                    firth: bool = False) -> float:
    """Working memory (bytes) of one replicate in a block: ``ROW_ARRAYS`` (plus, for
    Firth, one per coefficient) float arrays over the rows and ``TIE_ARRAYS`` over event
    times x tied events (Efron's rule), with room for the ties a resample adds."""
    ties = max_ties + 4.0 * np.sqrt(max_ties) + 4.0
    rows = ROW_ARRAYS + (n_coef if firth else 0)
    return 8.0 * (rows * n_rows + TIE_ARRAYS * n_event_times * ties)


def block_plan(n_boot: int, per_replicate: float, memory_gb: float, n_jobs: int,
               chunk_size: int | None) -> int:
    """Replicates per block: within ``memory_gb`` across the ``n_jobs`` blocks fitted at
    once (and at most ``chunk_size``); refuses when a single replicate does not fit."""
    budget = memory_gb * 1e9 / max(n_jobs, 1)
    if per_replicate > budget:
        need = per_replicate * max(n_jobs, 1) / 1e9
        raise InputError(Problem(
            f"one bootstrap replicate needs about {per_replicate / 1e9:.2f} GB of working "
            f"memory ({need:.2f} GB with n_jobs={n_jobs}), more than memory_gb={memory_gb:g}",
            fix=f"raise memory_gb to at least {need:.2f}, lower n_jobs, or bootstrap a "
                "random subsample of the cohort"))
    fits = int(budget // per_replicate)
    if chunk_size:
        return max(1, min(chunk_size, fits, n_boot))
    # enough blocks to keep every worker busy, few enough to amortise the overhead
    spread = max(50, int(np.ceil(n_boot / (2 * max(n_jobs, 1)))))
    return max(1, min(fits, spread, 500, n_boot))


def _chunk(seeds: list, units: np.ndarray, n_units: int, Xc: np.ndarray | None,
           z: np.ndarray, lay, settings: dict) -> dict:
    """Draw and fit every replicate of one block; only per-replicate numbers leave."""
    F = draw_counts(seeds, n_units)[:, units].astype(float)
    if Xc is None:
        ps = np.full(F.shape, 0.5)
        converged = np.ones(F.shape[0], dtype=bool)
    else:
        # replicate precision far beyond the bootstrap's own spread: decrement 1e-12
        fit = logistic_irls(Xc, z, F, firth=settings["firth"], max_iter=50, tol=1e-12,
                            beta0=settings["beta0"], inference=False)
        ps = fit.pop("fitted")
        converged = fit["converged"]
        del fit
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
              statistic: Callable[[pd.DataFrame], float | dict] | None = None,
              memory_gb: float = 1.0) -> BootstrapResult:
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
    memory_gb : working-memory budget of the replicate blocks fitted at once (default
        1 GB): blocks are sized to it, and a cohort so large that one replicate does not
        fit is refused with an estimate of the memory needed. chunk_size caps the block.
        Results for a seed are the same for any budget, block size or ``n_jobs``.

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
    if not memory_gb > 0:
        raise InputError(Problem(f"memory_gb must be positive, got {memory_gb}"))
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
        # every replicate's Newton iterations start from the full-data estimate
        beta0 = ps_full.coef["coef"].to_numpy()
    else:
        z, treated_label, control_label = treatment_indicator(df, treatment, treated)
        Xc, w_full, beta0 = None, np.ones(len(df)), None

    units = arrays.cluster if cluster is not None else np.arange(len(df))
    n_units = int(units.max()) + 1
    seeds = np.random.SeedSequence(seed).spawn(n_boot)
    lay = layout(arrays.time, arrays.event, z)
    settings = {"estimand": estimand, "stabilize": stabilize, "trim": trim,
                "truncate": truncate, "firth": firth, "horizon": horizon, "tau": tau,
                "beta0": beta0 if beta0 is not None and np.isfinite(beta0).all() else None}

    ones = np.ones((1, len(df)))
    full = _chunk_fixed(w_full[None, :], ones, lay, settings)
    est = {k: float(v[0]) for k, v in _statistics(full).items()}

    if statistic is not None:
        reps = _generic(df, statistic, seeds, n_units, units, cluster, n_jobs, progress)
        est = _as_dict(statistic(df))
    else:
        size = block_plan(n_boot, replicate_bytes(
            len(df), Xc.shape[1] if Xc is not None else 1, int(lay.is_event_time.sum()),
            _max_ties(lay), firth), memory_gb, n_jobs, chunk_size)
        blocks = [seeds[i:i + size] for i in range(0, n_boot, size)]
        # rows in time order once, so that no replicate gathers its weights into it
        o = lay.order
        sorted_lay = layout(arrays.time[o], arrays.event[o], z[o])
        Xs = None if Xc is None else np.ascontiguousarray(Xc[o])
        # Threads: the blocks spend their time in numpy, which releases the GIL, and
        # threads avoid starting and feeding worker processes (seconds on 2 cores). Each
        # block draws its own counts, so only the blocks being fitted hold memory.
        par = Parallel(n_jobs=n_jobs, return_as="generator", prefer="threads",
                       pre_dispatch="n_jobs")
        gen = par(delayed(_chunk)(b, units[o], n_units, Xs, z[o], sorted_lay, settings)
                  for b in blocks)
        parts = list(tqdm(gen, total=len(blocks), disable=not progress,
                          desc="bootstrap", unit="block"))
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


def _max_ties(lay) -> int:
    """Most events at one time in the data (the Efron kernel's third dimension)."""
    counts = np.add.reduceat(lay.e_sorted.astype(np.int64), lay.starts)
    return int(counts.max()) if counts.size else 0


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


def _one(df, statistic, seed, n_units, units, cluster):
    count = draw_counts([seed], n_units)[0]
    return _as_dict(statistic(_resample(df, count, units, cluster)))


def _generic(df, statistic, seeds, n_units, units, cluster, n_jobs,
             progress) -> pd.DataFrame:
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm
    par = Parallel(n_jobs=n_jobs, return_as="generator")
    gen = par(delayed(_one)(df, statistic, s, n_units, units, cluster) for s in seeds)
    return pd.DataFrame(list(tqdm(gen, total=len(seeds), disable=not progress,
                                  desc="bootstrap", unit="replicate")))
