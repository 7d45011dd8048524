"""Propensity scores and balancing weights: ``mo.propensity``.

The propensity model is a logistic regression fitted by statsmodels (maximum
likelihood), or by Firth's penalised likelihood when ``firth=True`` -- the remedy for
the separation that small registries produce (a covariate level in which every patient
got the same device). Weights for the ATE, ATT and ATO (overlap) estimands, optional
trimming of extreme scores and truncation of extreme weights, and the diagnostics a
reviewer asks for: balance (SMD, variance ratios), effective sample size, overlap.

References
----------
Rosenbaum PR, Rubin DB. The central role of the propensity score in observational
studies for causal effects. Biometrika 1983;70:41-55.
Austin PC, Stuart EA. Stat Med 2015;34:3661-79 (IPTW best practice, balance diagnostics).
Li F, Morgan KL, Zaslavsky AM. J Am Stat Assoc 2018;113:390-400 (overlap weights).
Firth D. Biometrika 1993;80:27-38; Heinze G, Schemper M. Stat Med 2002;21:2409-19.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from .._design import design, model_variables
from .._display import ResultMixin, frame_html, frame_text
from .._frames import (
    EXTREME_RELATIVE_WEIGHT,
    arm_order,
    complete_cases,
    missing_problems,
    relative_weights,
    row_ids,
)
from ..errors import ExtremeWeightWarning, InputError, Problem, SeparationWarning
from ._separation import describe
from .impute import Imputations, is_imputations, per_imputation
from .logistic import logistic_irls, separated_rows
from .propensity_mi import ImputedPropensity
from .weights import (
    ESTIMANDS,
    balance_kernel,
    iptw_weights,
    is_binary,
    kish_ess,
    trim_mask,
    truncate_weights,
)

# Positivity: scores this close to 0 or 1 give weights above 40 under the ATE.
POSITIVITY_BOUNDS = (0.025, 0.975)


@dataclass(frozen=True, eq=False)
class Propensity(ResultMixin):
    """Fitted propensity model, weights and diagnostics (see :func:`propensity`).

    Attributes
    ----------
    scores : Series of P(treated | covariates), aligned with the input index.
    weights : Series of the chosen estimand's weights (after truncation); NaN for rows
        removed by trimming.
    estimand : "ATE", "ATT" or "ATO".
    treatment, treated, control : the treatment column and its two labels.
    coef : DataFrame (index term; coef, se, z, p) of the propensity model.
    ess : dict arm label -> Kish effective sample size of ``weights``.
    all_weights : DataFrame of the four weight types (weights_ate,
        weights_ate_stabilized, weights_att, weights_ato), before trimming / truncation.
    kept : boolean Series, False for rows removed by trimming (or whose weight is exactly
        0, as overlap and ATT weights are for a score of exactly 0 or 1).
    separated_rows : boolean Series, True for the rows whose arm the covariates predict
        with certainty (separation; the maximum-likelihood scores are 0 or 1).
    dropped : rows left out by ``missing="complete_case"`` (id, variable), else empty.
    """

    scores: pd.Series
    weights: pd.Series
    estimand: str
    treatment: str
    treated: object
    control: object
    coef: pd.DataFrame
    ess: dict
    all_weights: pd.DataFrame
    kept: pd.Series
    design: pd.DataFrame
    z: pd.Series
    stabilize: bool = False
    trim: object = None
    truncate: object = None
    truncation_cap: float | None = None
    firth: bool = False
    separation: bool = False
    method: str = "logistic regression (maximum likelihood, statsmodels)"
    warnings: list = field(default_factory=list)
    separated_rows: pd.Series | None = None
    dropped: pd.DataFrame | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The propensity model as tidy rows: term, coef, se, z, p."""
        return self.coef.rename_axis("term").reset_index()

    @property
    def notes(self) -> list[str]:
        """Caveats raised while fitting (the contract's name for ``warnings``)."""
        return list(self.warnings)

    # -- diagnostics -------------------------------------------------------------------
    def balance(self, weights: pd.Series | np.ndarray | None = None, threshold: float = 0.1,
                binary: str = "std") -> pd.DataFrame:
        """Covariate balance before and after weighting.

        Columns: covariate, type (continuous / binary), mean_treated, mean_control,
        smd_unweighted, smd_weighted, vr_unweighted, vr_weighted, balanced
        (``|smd_weighted| < threshold``). SMDs are treated minus control over the
        unweighted pooled SD ``sqrt((s1^2 + s0^2)/2)``; binary covariates use ``p(1-p)``
        variances as cobalt does (``binary="raw"``: the difference in proportions).
        Variance ratios are treated / control, for continuous covariates only.
        Rows removed by trimming are left out of both columns.
        """
        if binary not in ("std", "raw"):
            raise InputError(Problem("binary must be 'std' or 'raw'"))
        w = self.weights if weights is None else pd.Series(np.asarray(weights, float),
                                                          index=self.weights.index)
        keep = self.kept.to_numpy()
        x = self.design.to_numpy(dtype=float)[keep]
        bin_ = is_binary(x)
        res = balance_kernel(x, self.z.to_numpy()[keep], w.to_numpy()[keep], bin_,
                             binary_stat=binary)
        out = pd.DataFrame({"covariate": list(self.design.columns),
                            "type": np.where(bin_, "binary", "continuous")})
        for k in ("mean_treated", "mean_control", "smd_unweighted", "smd_weighted",
                  "vr_unweighted", "vr_weighted"):
            out[k] = res[k]
        out["balanced"] = np.abs(out["smd_weighted"]) < threshold
        return out

    def overlap(self) -> pd.DataFrame:
        """Propensity-score distribution per arm and the region of common support.

        Columns: group, n, min, q1, median, q3, max, n_outside (scores outside the
        common support ``[max of the arm minima, min of the arm maxima]``),
        n_extreme (scores outside 0.025-0.975, the usual positivity bounds).
        """
        ps = self.scores.to_numpy()
        t = self.z.to_numpy().astype(bool)
        lo = max(ps[t].min(), ps[~t].min())
        hi = min(ps[t].max(), ps[~t].max())
        rows = []
        for label, m in ((self.treated, t), (self.control, ~t)):
            q = np.quantile(ps[m], [0, 0.25, 0.5, 0.75, 1])
            rows.append({"group": label, "n": int(m.sum()), "min": q[0], "q1": q[1],
                         "median": q[2], "q3": q[3], "max": q[4],
                         "n_outside": int(((ps[m] < lo) | (ps[m] > hi)).sum()),
                         "n_extreme": int(((ps[m] < POSITIVITY_BOUNDS[0])
                                           | (ps[m] > POSITIVITY_BOUNDS[1])).sum())})
        return pd.DataFrame(rows)

    @property
    def n_trimmed(self) -> dict:
        """Rows removed by trimming, per arm."""
        t = self.z.to_numpy().astype(bool)
        gone = ~self.kept.to_numpy()
        return {self.treated: int((gone & t).sum()), self.control: int((gone & ~t).sum())}

    def summary(self) -> pd.DataFrame:
        """One row per arm: n, n_trimmed, sum of weights, max weight, ESS."""
        t = self.z.to_numpy().astype(bool)
        w = self.weights.to_numpy()
        rows = []
        for label, m in ((self.treated, t), (self.control, ~t)):
            wm = w[m & self.kept.to_numpy()]
            rows.append({"group": label, "n": int(m.sum()), "n_trimmed": self.n_trimmed[label],
                         "sum_weights": wm.sum(), "max_weight": wm.max() if wm.size else np.nan,
                         "ess": self.ess[label]})
        return pd.DataFrame(rows)

    def plot(self, **kw):
        """Propensity overlap figure (delegates to ``mace_outcomes.plots.plot_overlap``)."""
        from ..plots import plot_overlap
        return plot_overlap(self, **kw)

    def _footer(self) -> str:
        notes = [f"estimand {self.estimand}" + (" (stabilised)" if self.stabilize else ""),
                 f"treated = {self.treated!r} vs control = {self.control!r}", self.method]
        if self.trim is not None:
            notes.append(f"trimmed at {self.trim}: {self.n_trimmed}")
        if self.truncation_cap is not None:
            notes.append(f"weights truncated at {self.truncation_cap:.4g} ({self.truncate})")
        notes += [f"warning: {w}" for w in self.warnings]
        return "\n".join(notes)

    def __repr__(self) -> str:
        return "\n\n".join([
            frame_text("Propensity model", self.coef),
            frame_text("Weights", self.summary().set_index("group")),
            frame_text("Balance (SMD threshold 0.1)", self.balance().set_index("covariate"),
                       self._footer()),
        ])

    def _repr_html_(self) -> str:
        return (frame_html("Propensity model", self.coef)
                + frame_html("Weights", self.summary().set_index("group"))
                + frame_html("Balance", self.balance().set_index("covariate"),
                             self._footer()))


# -- input handling ----------------------------------------------------------------------

def treatment_indicator(df: pd.DataFrame, treatment: str, treated=None,
                        source: str = "data") -> tuple[np.ndarray, object, object]:
    """0/1 treatment indicator, treated label and control label.

    The package's one rule (:func:`mace_outcomes._frames.arm_order`): unless ``treated``
    is given, the reference arm is the first label in sorted order and the treated arm
    the other: 1 for 0/1 coding, True for booleans, "OCT" for ("IVUS", "OCT").
    """
    if treatment not in df.columns:
        raise InputError(Problem(f"column not found (columns are {list(df.columns)})",
                                 column=treatment, source=source))
    col = df[treatment]
    if col.isna().any():  # the one message: column, ids, count, remedies
        raise InputError(missing_problems(df, [treatment], source, policy=False))
    levels = arm_order(col, treated, source=source, column=treatment)
    if len(levels) != 2:
        raise InputError(Problem(f"a treatment needs exactly 2 arms, found {levels}",
                                 treatment, (), source))
    treated, control = levels
    return (col == treated).to_numpy().astype(np.int64), treated, control


def design_matrix(df: pd.DataFrame, covariates=None, formula: str | None = None,
                  source: str = "data", reference: dict | None = None) -> pd.DataFrame:
    """The propensity model's covariates (no intercept) from the package's one builder,
    :func:`mace_outcomes._design.design`: columns named as R's ``model.matrix``
    (``vesselLCX``), aligned with ``df.index``. ``attrs["dummies"]`` maps each factor
    dummy to its (column, level), so messages can speak of ``vessel = LCX``."""
    if (covariates is None) == (formula is None):
        raise InputError(Problem("give either covariates=[...] or formula='~ ...'",
                                 source=source))
    d = design(df, covariates, formula=formula, reference=reference, source=source)
    if not d.names:
        raise InputError(Problem("no covariates given", source=source))
    X = pd.DataFrame(d.x, columns=d.names, index=df.index)
    X.attrs["dummies"] = {name: (v, lv) for v, levels in d.levels.items() if v in d.terms
                          for name, lv in zip(d.terms[v], levels[1:], strict=True)}
    return X


def check_full_rank(Xc: np.ndarray, names: list[str]) -> None:
    """Refuse collinear model columns (intercept included), naming them. The rank comes
    from the scaled cross-product (p x p): cheap for any n, and collinearity is what
    matters here, not the last digits of conditioning."""
    scale = np.sqrt((Xc * Xc).sum(0))
    scale[scale == 0] = 1.0
    ev = np.linalg.eigvalsh((Xc / scale).T @ (Xc / scale))
    rank = int((ev > ev.max() * 1e-12).sum())
    if rank < Xc.shape[1]:
        raise InputError(Problem(f"the covariates are collinear (rank {rank} < "
                                 f"{Xc.shape[1]} columns {names}); drop a redundant one"))


def fit_logistic(X: np.ndarray, z: np.ndarray, names: list[str], firth: bool = False):
    """Propensity model fit: statsmodels Logit, or Firth's penalised IRLS.

    Returns (coef table, fitted scores, separation, method text), ``separation`` being
    None or (mask of the rows whose arm the covariates predict with certainty, the
    separating direction).
    """
    Xc = np.column_stack([np.ones(len(z)), X])
    names = ["(Intercept)"] + list(names)
    check_full_rank(Xc, names)
    if firth:
        separated = _separation(Xc, z)
        fit = logistic_irls(Xc, z, firth=True)
        beta, cov = fit["beta"], fit["cov"]
        se = np.sqrt(np.diag(cov))
        method = "logistic regression (Firth penalised likelihood)"
        scores = fit["fitted"]
    else:
        import statsmodels.api as sm
        with warnings.catch_warnings():
            # statsmodels' own separation / convergence warnings are replaced by ours.
            warnings.simplefilter("ignore")
            res = sm.Logit(z, Xc, check_rank=False).fit(
                method="newton", disp=0, maxiter=200, tol=1e-12, warn_convergence=False)
        beta = np.asarray(res.params)
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.diag(np.asarray(res.cov_params())))
        scores = expit(Xc @ beta)  # statsmodels' own predict overflows under separation
        method = "logistic regression (maximum likelihood, statsmodels)"
        # Separation drives some fitted scores to 0 or 1 and the fit off convergence;
        # only then is the linear programme needed to confirm it.
        suspicious = (not res.mle_retvals.get("converged", True)
                      or np.minimum(scores, 1 - scores).min() < 1e-6
                      or not np.isfinite(se).all())
        separated = _separation(Xc, z) if suspicious else None
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    coef = pd.DataFrame({"coef": beta, "se": se, "z": zval,
                         "p": 2 * stats.norm.sf(np.abs(zval))}, index=pd.Index(names,
                                                                              name="term"))
    return coef, scores, separated, method


def _separation(Xc: np.ndarray, z: np.ndarray):
    mask, direction = separated_rows(Xc, z)
    return (mask, direction) if mask.any() else None


def _separation_message(X: pd.DataFrame, z, mask, direction, labels, firth: bool,
                        df: pd.DataFrame, source: str):
    """Complete separation: the InputError to raise (with or without Firth: penalised
    scores stay near 0 / 1, so the weights stay near 1 and balance nothing). Quasi-complete
    separation: the SeparationWarning text."""
    how = describe(X, z, mask, direction, labels)
    if mask.all():
        cols = [c for c, _ in how if c is not None]
        drop = f", or drop {' / '.join(cols)} if it is not a confounder" if cols else ""
        return InputError([Problem(
            f"complete separation: {text}: the arms do not overlap, so they cannot be "
            "compared by weighting (the propensity scores are 0 or 1 -- near them with "
            "firth=True -- and every weight would be about 1: no adjustment, not balance)",
            column=col, source=source,
            fix=f"restrict the cohort to patients eligible for both arms{drop}; with no "
                "overlap only a model that extrapolates (outcome regression) can compare them")
            for col, text in how])
    said = "; ".join(text for _, text in how)
    rows = list(row_ids(df, mask)[:20])
    k = int(mask.sum())
    if firth:
        return (f"quasi-complete separation in the propensity model ({said}): {k} "
                f"patient(s) (rows {rows}) have no counterpart in the other arm; Firth's "
                "penalised likelihood keeps their scores finite, but their weights rest on "
                "the model's extrapolation")
    return (f"quasi-complete separation in the propensity model ({said}): {k} patient(s) "
            f"(rows {rows}) have no counterpart in the other arm, so maximum likelihood puts "
            "their scores at 0 or 1: their ATE weight is 1 (each stands only for itself and "
            "the ATE extrapolates for them; that is not balance), their ATT / overlap weight "
            "0 (they take no part) -- restrict the cohort to patients eligible for both arms "
            "or refit with firth=True")


# -- public function ---------------------------------------------------------------------

def propensity(df: pd.DataFrame | Imputations, treatment: str,
               covariates: list[str] | None = None, *,
               formula: str | None = None, estimand: str = "ATE", stabilize: bool = False,
               trim: float | tuple[float, float] | None = None,
               truncate: float | dict | None = None, firth: bool = False,
               treated=None, missing: str = "error") -> Propensity | ImputedPropensity:
    """Propensity scores and balancing weights for a two-arm comparison.

    Parameters
    ----------
    df : DataFrame, one row per patient (or lesion), or an :class:`Imputations`: the
        model is re-fitted within each completed data set, giving an
        :class:`ImputedPropensity` whose ``balance()`` is averaged over the imputations
        (``per_imputation=True``: per imputation).
    treatment : column with the two arms. The treated arm is the last label in sorted
        order (1 of 0/1, "OCT" of IVUS/OCT) unless ``treated`` names it.
    covariates : columns of the propensity model (categorical ones become dummies), or
    formula : a right-hand side in R's terms, e.g. ``"~ age + factor(vessel) + arm:age"``
        (parsed, never evaluated; see :func:`mace_outcomes._design.design`).
    estimand : "ATE" (inverse probability of treatment), "ATT" (treated), or "ATO"
        (overlap weights, the population with clinical equipoise).
    stabilize : ATE only: multiply by the arm's share (Robins et al. 2000).
    trim : drop rows with scores outside ``[trim, 1-trim]`` (or ``(lo, hi)``); their
        weight is NaN and the count per arm is reported (Crump et al. 2009).
    truncate : cap weights at a quantile (0 < q < 1), a value (>= 1), or
        ``{"quantile": q}`` / ``{"value": v}``; the cap is reported.
    firth : fit the propensity model by Firth's penalised likelihood (always finite,
        recommended under separation).
    missing : ``"error"`` (default): a missing treatment label or covariate is an
        ``InputError`` naming the column, the row ids and the count;
        ``"complete_case"``: fit on the rows with every used value (scores and weights
        cover those rows only), the others listed in ``.dropped`` and ``notes``.

    Returns
    -------
    Propensity
        ``.scores``, ``.weights``, ``.balance()``, ``.ess``, ``.overlap()``, ``.coef``.

    Raises
    ------
    InputError
        Complete separation: a covariate or a combination predicts every patient's arm,
        e.g. every patient with ``any_left_main = 1`` is IVUS and every other one OCT.
        The arms do not overlap and weighting cannot compare them: scores at 0 / 1 (near
        them under Firth) make every weight about 1, a false picture of balance.

    Warns
    -----
    SeparationWarning
        Quasi-complete separation: the covariates predict the arm of some patients with
        certainty; the message names the covariate, how it separates and the patients
        (``separated_rows``). Their maximum-likelihood scores are 0 or 1, so their ATE
        weight is 1 (each stands only for itself: the ATE extrapolates for them) and
        their ATT / overlap weight 0 (they take no part). Use ``firth=True`` or restrict
        the cohort.
    ExtremeWeightWarning
        Scores outside 0.025-0.975 or a subject with over 10 times its arm's mean weight.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"arm": [1, 1, 1, 0, 0, 0, 0, 1], "age": [70, 65, 80, 60, 72,
    ...                    58, 66, 75]})
    >>> ps = mo.propensity(df, "arm", ["age"], estimand="ATO")
    >>> round(ps.ess[1], 2) > 0
    True

    References
    ----------
    Austin & Stuart, Stat Med 2015; Li, Morgan & Zaslavsky, JASA 2018; Firth 1993.
    """
    from ..scale import is_dask  # a Dask frame: the same fit from partition sums
    if is_dask(df):
        from ..scale.propensity import propensity as on_dask
        return on_dask(df, treatment, covariates, formula=formula, estimand=estimand,
                       stabilize=stabilize, trim=trim, truncate=truncate, firth=firth,
                       treated=treated, missing=missing)
    if is_imputations(df):
        return ImputedPropensity(per_imputation(propensity, df, locals()))
    source = "data"
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}"))
    estimand = str(estimand).upper()
    if estimand == "OVERLAP":
        estimand = "ATO"
    if estimand not in ESTIMANDS:
        raise InputError(Problem(f"estimand must be one of {ESTIMANDS} ('overlap' = ATO), "
                                 f"got {estimand!r}"))
    if stabilize and estimand != "ATE":
        raise InputError(Problem("stabilize=True applies to the ATE weights only"))
    cc = complete_cases(df, [treatment, *model_variables(covariates, formula)], missing,
                        source)
    df = cc.frame
    z, treated, control = treatment_indicator(df, treatment, treated, source)
    X = design_matrix(df, covariates, formula, source)
    coef, ps, sep, method = fit_logistic(X.to_numpy(float), z, list(X.columns), firth)
    msgs = list(cc.notes)
    separated = sep is not None
    if separated:
        msg = _separation_message(X, z, *sep, (control, treated), firth, df, source)
        if isinstance(msg, InputError):
            raise msg
        msgs.append(msg)
        warnings.warn(msg, SeparationWarning, stacklevel=2)

    all_w = pd.DataFrame({"weights_ate": iptw_weights(ps, z, "ATE"),
                          "weights_ate_stabilized": iptw_weights(ps, z, "ATE", True),
                          "weights_att": iptw_weights(ps, z, "ATT"),
                          "weights_ato": iptw_weights(ps, z, "ATO")}, index=df.index)
    keep = trim_mask(ps, trim)
    if trim is not None and (keep.sum() == 0 or len(set(z[keep])) < 2):
        raise InputError(Problem(f"trim={trim} leaves fewer than two arms"))
    w = iptw_weights(ps, z, estimand, stabilize)
    # A score of exactly 0 or 1 (separation) gives an ATT / overlap weight of exactly 0:
    # such a row takes no part, so it leaves like a trimmed one rather than reaching a
    # weighted fit as an invalid weight. Positivity is judged before it leaves.
    trimmed_only = keep.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = keep & np.isfinite(w) & (w > 0)
    if len(set(z[keep])) < 2:
        raise InputError(Problem("no patient of one arm keeps a positive weight",
                                 source=source, fix="refit with firth=True"))
    w_kept, cap = truncate_weights(w[keep], truncate)
    w_final = np.full(len(w), np.nan)
    w_final[keep] = w_kept

    t = z.astype(bool)
    ess = {treated: kish_ess(w_final[keep & t]), control: kish_ess(w_final[keep & ~t])}
    out_of_bounds = (((ps < POSITIVITY_BOUNDS[0]) | (ps > POSITIVITY_BOUNDS[1]))
                     & trimmed_only)
    rel = relative_weights(w_final, [t])  # the package's one rule (NaN: trimmed rows)
    if out_of_bounds.any() or (rel > EXTREME_RELATIVE_WEIGHT).any():
        rows = row_ids(df, out_of_bounds | (rel > EXTREME_RELATIVE_WEIGHT))[:20]
        msg = (f"positivity: {int(out_of_bounds.sum())} score(s) outside "
               f"{POSITIVITY_BOUNDS[0]}-{POSITIVITY_BOUNDS[1]}, largest weight "
               f"{rel.max():.1f} x its arm's mean (rows {list(rows)}); consider overlap "
               "weights (estimand='ATO'), trimming or truncation")
        msgs.append(msg)
        warnings.warn(msg, ExtremeWeightWarning, stacklevel=2)

    return Propensity(
        scores=pd.Series(ps, index=df.index, name="ps"),
        weights=pd.Series(w_final, index=df.index, name=f"w_{estimand.lower()}"),
        estimand=estimand, treatment=treatment, treated=treated, control=control, coef=coef,
        ess=ess, all_weights=all_w, kept=pd.Series(keep, index=df.index, name="kept"),
        design=X.set_axis(df.index), z=pd.Series(z, index=df.index, name=treatment),
        stabilize=stabilize, trim=trim, truncate=truncate, truncation_cap=cap, firth=firth,
        separation=separated, method=method, warnings=msgs, dropped=cc.dropped,
        separated_rows=pd.Series(sep[0] if separated else np.zeros(len(z), bool),
                                 index=df.index, name="separated"))
