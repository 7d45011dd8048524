"""Crude and adjusted comparison of a continuous or binary outcome between two arms.

The seed study's primary endpoint (stent expansion) and its procedural outcomes are
not times to event, but the same selection bias applies to them. ``compare_outcome``
returns one row per analysis, in the shape of ``compare_arms``:

``crude``
    Continuous: the test the tables use (Student/Welch t when both arms look normal,
    otherwise Mann-Whitney U with the Hodges-Lehmann shift and its CI). Binary: risk
    difference, risk ratio and odds ratio with Wald CIs; Fisher's exact p when an
    expected count is under 5, Pearson chi-square otherwise. Clustering is ignored here,
    as in a paper's Table 3; the rows below respect it.
``regression``
    Covariate-adjusted OLS (difference in means) or logistic regression (conditional OR).
``IPTW-<estimand>``, ``overlap``
    Weighted difference in means / risk difference (WLS), and the ratio of the weighted
    risks and odds with delta-method sandwich SEs (numerically the weighted Poisson
    log-link GLM of Zou 2004 and the weighted logistic GLM with robust SEs), with the
    propensity model of :func:`mace_outcomes.propensity`. A unit whose weight is exactly
    0 (a score of exactly 0 or 1 under ATT or overlap weights) takes no part, as in the
    model's ``kept``; the notes say how many.
``AIPW``
    Augmented IPW (doubly robust) average treatment effect: per-arm outcome models plus
    the propensity score; variance from the influence function (Lunceford & Davidian 2004).

Standard errors respect clustering (lesions within patients) through the cluster-robust
sandwich (statsmodels ``cov_type="cluster"``, with its small-sample correction) or, for
AIPW, by summing influence functions within clusters. We use the sandwich rather than
GEE with an exchangeable working correlation because the weighted (IPTW) estimators are
defined by the weighted estimating equations with independence working correlation; an
exchangeable structure would change the estimand's weighting of lesions. For the
weighted rows the variance treats the weights as known, which is conservative for ATE
(Lunceford & Davidian 2004).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from .._design import design
from .._display import ResultMixin, frame_html, frame_text
from .._frames import arm_order, complete_cases, row_ids
from .._stats import (
    expected_counts,
    fisher_exact_rxc,
    levene_mean,
    looks_nonnormal,
    pearson_chi2,
)
from ..errors import InputError, Problem
from ..weighting.impute import Imputations, is_imputations, pooled
from ..weighting.pool import Pooled

_COLUMNS = ["analysis", "measure", "estimate", "lower", "upper", "p", "method",
            "n_treated", "n_control", "value_treated", "value_control"]


@dataclass(frozen=True, eq=False)
class OutcomeComparison(ResultMixin):
    """Result of :func:`compare_outcome`: ``table`` has one row per analysis and measure."""

    table: pd.DataFrame
    outcome: str
    outcome_type: str  # "continuous" or "binary"
    treated: object
    control: object
    units: str
    cluster: str | None
    estimand: str
    notes: list[str] = field(default_factory=list)
    dropped: pd.DataFrame | None = None  # rows left out by missing="complete_case"

    @property
    def weighted(self) -> bool:
        """Whether propensity weights were used (the IPTW and overlap rows)."""
        return bool(self.table["analysis"].str.startswith(("IPTW", "overlap")).any())

    def __repr__(self) -> str:
        title = (f"{self.outcome} ({self.units}), {self.treated} vs {self.control}, "
                 f"{self.outcome_type}" + (f", clustered by {self.cluster}"
                                           if self.cluster else ""))
        return frame_text(title, self.table.set_index("analysis"), "\n".join(self.notes))

    def _repr_html_(self) -> str:
        return frame_html(self.outcome, self.table, self.notes)


# ----------------------------------------------------------------------------- kernels
def hodges_lehmann(x: np.ndarray, y: np.ndarray, conf_level: float = 0.95):
    """Hodges-Lehmann shift (median of all x_i - y_j) and its distribution-free CI.

    The CI takes the k-th smallest and k-th largest pairwise differences with
    k = floor(n1 n2 / 2 - z sqrt(n1 n2 (n1 + n2 + 1) / 12)) (Hollander & Wolfe 1999,
    normal approximation to the Mann-Whitney distribution, no tie correction).
    """
    x, y = np.sort(np.asarray(x, float)), np.sort(np.asarray(y, float))
    n1, n2 = len(x), len(y)
    m = n1 * n2
    z = stats.norm.ppf(0.5 + conf_level / 2)
    k = int(np.floor(m / 2 - z * np.sqrt(m * (n1 + n2 + 1) / 12.0)))
    k = max(k, 1)
    ranks = [(m - 1) // 2, m // 2, k - 1, m - k]
    if m <= 20_000_000:
        d = np.subtract.outer(x, y).ravel()
        vals = np.partition(d, sorted(set(ranks)))[ranks]
    else:  # too many pairs to hold: find order statistics by bisection on the value
        vals = np.array([_kth_difference(x, y, r) for r in ranks])
    return 0.5 * (vals[0] + vals[1]), vals[2], vals[3]


def _kth_difference(x: np.ndarray, y: np.ndarray, r: int) -> float:
    """The r-th (0-based) smallest x_i - y_j for sorted x, y, to ~1e-12 of the range."""
    lo, hi = x[0] - y[-1], x[-1] - y[0]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        # number of pairs with x_i - y_j <= mid, i.e. y_j >= x_i - mid
        count = np.sum(len(y) - np.searchsorted(y, x - mid, side="left"))
        if count > r:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):
            break
    return hi


def aipw(y: np.ndarray, t: np.ndarray, e: np.ndarray, m1: np.ndarray, m0: np.ndarray,
         cluster: np.ndarray | None = None):
    """Doubly robust (AIPW) means under treatment and control and their influence functions.

    mu_a = mean( m_a + 1{T=a} (Y - m_a) / P(T=a | X) ). Returns (mu1, mu0, if1, if0)
    where if_a are per-unit influence values (mean zero), summed within clusters when
    ``cluster`` is given (Lunceford & Davidian 2004; Robins, Rotnitzky & Zhao 1994).
    """
    n = len(y)
    a1 = m1 + t * (y - m1) / e
    a0 = m0 + (1 - t) * (y - m0) / (1 - e)
    mu1, mu0 = a1.mean(), a0.mean()
    if1, if0 = (a1 - mu1) / n, (a0 - mu0) / n
    if cluster is not None:
        if1 = np.bincount(cluster, weights=if1)
        if0 = np.bincount(cluster, weights=if0)
    return mu1, mu0, if1, if0


# ----------------------------------------------------------------------------- helpers
def _wald(est: float, se: float, z: float, log: bool = False):
    p = 2 * stats.norm.sf(abs(est / se)) if se > 0 else np.nan
    lo, hi = est - z * se, est + z * se
    if log:
        return np.exp(est), np.exp(lo), np.exp(hi), p
    return est, lo, hi, p


def _cov_args(cluster_codes):
    if cluster_codes is None:
        return {"cov_type": "HC0"}
    return {"cov_type": "cluster", "cov_kwds": {"groups": cluster_codes}}


def _design(df: pd.DataFrame, t: np.ndarray | None, covariates: list[str]) -> pd.DataFrame:
    """Intercept, the arm (``treated``; left out when ``t`` is None) and the covariates
    from the package's one builder, named as R's ``model.matrix`` (``vesselLCX``)."""
    out = pd.DataFrame({"(Intercept)": 1.0}, index=df.index)
    if t is not None:
        out["treated"] = np.asarray(t, dtype=float)
    if covariates:
        d = design(df, covariates, source="df")
        out[d.names] = d.x
    return out


def _choose_continuous_test(x, y, nonnormal, alpha=0.05):
    """The tables' rule (one rule in the package): Shapiro-Wilk in each arm, then
    Levene's test (mean-centred, as SPSS) for Student vs Welch."""
    skewed = looks_nonnormal([x, y], alpha) if nonnormal == "auto" else bool(nonnormal)
    if skewed:
        return "mann-whitney"
    return "welch" if levene_mean(x, y) < alpha else "student"


# ----------------------------------------------------------------------------- public
def compare_outcome(
    df: pd.DataFrame | Imputations,
    outcome: str,
    treatment: str = "arm",
    covariates: list[str] | None = None,
    cluster: str | None = None,
    estimand: str = "ATE",
    *,
    treated=None,
    outcome_type: str = "auto",
    nonnormal: str | bool = "auto",
    units: str | None = None,
    conf_level: float = 0.95,
    missing: str = "error",
) -> OutcomeComparison | Pooled:
    """Crude, regression-adjusted, IPTW, overlap-weighted and AIPW comparison of an outcome.

    Parameters
    ----------
    df : one row per unit (patient, or lesion with ``cluster="patient_id"``), or an
        :class:`Imputations`: every completed data set is analysed (models re-fitted
        within each) and the rows pooled by Rubin's rules (a :class:`Pooled`; its
        ``per_imputation`` keeps the m comparisons).
    outcome : column to compare; 0/1 columns are binary, other numbers continuous.
    treatment : two-level arm column; ``treated`` names the arm coded 1 (default: 1 for
        a 0/1 column, otherwise the last label in sorted order, e.g. "OCT" vs "IVUS").
    covariates : confounders for the regression, the propensity and the AIPW models.
    cluster : cluster id column (e.g. ``patient_id`` at lesion level).
    estimand : "ATE", "ATT" or "ATO" for the IPTW row (the overlap row is always ATO;
        AIPW estimates the ATE).
    outcome_type : "auto", "continuous" or "binary".
    nonnormal : "auto" (Shapiro-Wilk in each arm), True (Mann-Whitney) or False (t-test).
    missing : ``"error"`` (default): a missing outcome, arm, covariate or cluster id is an
        ``InputError`` naming the column, the row ids and the count; ``"complete_case"``:
        every row is fitted on the units with every used value, the others listed in
        ``.dropped`` (id, variable) and counted in ``notes``.

    Returns
    -------
    OutcomeComparison with ``table``: analysis, measure, estimate, lower, upper, p,
    method, n_treated, n_control, value_treated, value_control.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> lesions = mo.load_example().lesions  # doctest: +SKIP
    >>> mo.compare_outcome(lesions, "stent_expansion", covariates=["ostial"],
    ...                    cluster="patient_id")  # doctest: +SKIP
    """
    if is_imputations(df):
        return pooled(compare_outcome, df, locals())
    covariates = list(covariates or [])
    needed = [outcome, treatment, *covariates] + ([cluster] if cluster else [])
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise InputError([Problem("column not found", column=c) for c in absent])
    cc = complete_cases(df, needed, missing)
    df = cc.frame
    problems = []
    levels = pd.unique(df[treatment].dropna()).tolist()
    if len(levels) != 2:
        problems.append(Problem(f"needs exactly two arms, found {levels}", column=treatment))
    if problems:
        raise InputError(problems)
    treated, control = arm_order(levels, treated, column=treatment)
    t = (df[treatment] == treated).to_numpy(np.int64)
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(float)
    if np.isnan(y).any():
        raise InputError(Problem("outcome must be numeric", column=outcome,
                                 rows=row_ids(df, np.isnan(y))))
    if outcome_type == "auto":
        outcome_type = "binary" if np.isin(y, (0.0, 1.0)).all() else "continuous"
    units = units if units is not None else df[outcome].attrs.get(
        "units", "risk" if outcome_type == "binary" else "")
    codes = pd.factorize(df[cluster])[0] if cluster else None
    z = stats.norm.ppf(0.5 + conf_level / 2)
    n1, n0 = int(t.sum()), int(len(t) - t.sum())
    notes = list(cc.notes)

    frame = df[covariates].copy()
    frame["_treated"] = t
    rows: list[dict] = []

    def add(analysis, measure, est, lo, hi, p, method, v1=np.nan, v0=np.nan):
        rows.append(dict(analysis=analysis, measure=measure, estimate=est, lower=lo,
                         upper=hi, p=p, method=method, n_treated=n1, n_control=n0,
                         value_treated=v1, value_control=v0))

    x_design = _design(df, t, covariates)
    if outcome_type == "continuous":
        _crude_continuous(y, t, nonnormal, conf_level, add)
        fit = sm.OLS(y, x_design).fit(**_cov_args(codes))
        ci = fit.conf_int(1 - conf_level).loc["treated"]
        add("regression", "mean difference", fit.params["treated"], ci[0], ci[1],
            fit.pvalues["treated"], "OLS adjusted for covariates" + _se_note(cluster))
    else:
        _crude_binary(y, t, z, add, notes)
        if covariates:
            fit = sm.GLM(y, x_design, family=sm.families.Binomial()).fit(**_cov_args(codes))
            ci = np.exp(fit.conf_int(1 - conf_level).loc["treated"])
            add("regression", "odds ratio", np.exp(fit.params["treated"]), ci[0], ci[1],
                fit.pvalues["treated"], "logistic regression (conditional OR)"
                + _se_note(cluster))

    ps_notes = []
    if covariates:
        from ..weighting.propensity import propensity  # the package's one propensity model
        from ..weighting.weights import iptw_weights

        # one propensity fit; each estimand only changes the weights derived from it
        ps = propensity(frame, treatment="_treated", covariates=covariates, estimand=estimand)
        e = ps.scores.to_numpy(float)
        weighted = [(f"IPTW-{estimand}", ps.weights.to_numpy(float), ps.kept.to_numpy())]
        if estimand != "ATO":
            w_ato = iptw_weights(e, t, "ATO")
            weighted.append(("overlap", w_ato, w_ato > 0))  # the rule of ps.kept
        for label, w, kept in weighted:
            # a score of exactly 0 or 1 gives an ATT / overlap weight of exactly 0: that
            # unit leaves the weighted row, as propensity() marks it (ps.kept)
            _weighted_rows(label, y[kept], t[kept], w[kept], _subset_codes(codes, kept),
                           outcome_type, conf_level, add, cluster)
            if not kept.all():
                ps_notes.append(f"{label}: {int((~kept).sum())} unit(s) with a weight of "
                                "exactly 0 (propensity score 0 or 1) take no part")
        _aipw_rows(df, y, t, e, covariates, codes, outcome_type, z, add)
        ps_notes.append("weighted rows treat the weights as known (conservative for ATE)")
    else:
        notes.append("no covariates: only the crude comparison is reported")
    return OutcomeComparison(table=pd.DataFrame(rows, columns=_COLUMNS), outcome=outcome,
                             outcome_type=outcome_type, treated=treated, control=control,
                             units=units, cluster=cluster, estimand=estimand,
                             notes=notes + ps_notes, dropped=cc.dropped)


def _se_note(cluster):
    return f"; cluster-robust SE by {cluster}" if cluster else "; robust (HC0) SE"


def _crude_continuous(y, t, nonnormal, conf_level, add):
    x1, x0 = y[t == 1], y[t == 0]
    test = _choose_continuous_test(x1, x0, nonnormal)
    if test == "mann-whitney":
        p = stats.mannwhitneyu(x1, x0, alternative="two-sided").pvalue
        est, lo, hi = hodges_lehmann(x1, x0, conf_level)
        add("crude", "median shift (Hodges-Lehmann)", est, lo, hi, p,
            "Mann-Whitney U (non-normal by Shapiro-Wilk)", np.median(x1), np.median(x0))
        return
    res = stats.ttest_ind(x1, x0, equal_var=(test == "student"))
    ci = res.confidence_interval(conf_level)
    add("crude", "mean difference", x1.mean() - x0.mean(), ci.low, ci.high, res.pvalue,
        "Student t-test" if test == "student" else "Welch t-test (unequal variances)",
        x1.mean(), x0.mean())


def _crude_binary(y, t, z, add, notes):
    a, b = y[t == 1].sum(), (1 - y[t == 1]).sum()
    c, d = y[t == 0].sum(), (1 - y[t == 0]).sum()
    table = np.array([[a, b], [c, d]])
    r1, r0 = a / (a + b), c / (c + d)
    # the tables' rule and kernels: Fisher when an expected count is under 5
    if (expected_counts(table) < 5).any() or (table.sum(0) == 0).any():
        p = fisher_exact_rxc(table)[0]
        method = "Fisher's exact test (expected count < 5)"
    else:
        p = pearson_chi2(table)[2]
        method = "Pearson chi-square"
    se_rd = np.sqrt(r1 * (1 - r1) / (a + b) + r0 * (1 - r0) / (c + d))
    est, lo, hi, _ = _wald(r1 - r0, se_rd, z)
    add("crude", "risk difference", est, lo, hi, p, method, r1, r0)
    if min(a, b, c, d) > 0:
        rr = _wald(np.log(r1 / r0), np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)), z, True)
        orr = _wald(np.log(a * d / (b * c)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d), z, True)
        add("crude", "risk ratio", rr[0], rr[1], rr[2], p, method, r1, r0)
        add("crude", "odds ratio", orr[0], orr[1], orr[2], p, method, r1, r0)
    else:
        notes.append("a zero cell: risk and odds ratios are not estimable by Wald; "
                     "the exact p-value is reported with the risk difference")


def _weighted_rows(label, y, t, w, codes, outcome_type, conf_level, add, cluster):
    xt = sm.add_constant(t.astype(float))
    cov = _cov_args(codes)
    m1 = np.average(y[t == 1], weights=w[t == 1])
    m0 = np.average(y[t == 0], weights=w[t == 0])
    fit = sm.WLS(y, xt, weights=w).fit(**cov)
    lo, hi = fit.conf_int(1 - conf_level)[1]
    measure = "mean difference" if outcome_type == "continuous" else "risk difference"
    add(label, measure, fit.params[1], lo, hi, fit.pvalues[1],
        "weighted least squares" + _se_note(cluster), m1, m0)
    if outcome_type == "binary" and 0 < m1 < 1 and 0 < m0 < 1:
        # ratios of the weighted risks, with influence-function (sandwich) SEs; identical
        # to a weighted Poisson (log link) or logistic GLM on the arm with robust SEs
        if1 = np.where(t == 1, w * (y - m1) / w[t == 1].sum(), 0.0)
        if0 = np.where(t == 0, w * (y - m0) / w[t == 0].sum(), 0.0)
        z = stats.norm.ppf(0.5 + conf_level / 2)
        for measure, est, infl in (
            ("risk ratio", np.log(m1 / m0), if1 / m1 - if0 / m0),
            ("odds ratio", np.log(m1 / (1 - m1)) - np.log(m0 / (1 - m0)),
             if1 / (m1 * (1 - m1)) - if0 / (m0 * (1 - m0))),
        ):
            se = _sandwich_se(infl, codes, n_params=2)
            e, lo, hi, p = _wald(est, se, z, log=True)
            add(label, measure, e, lo, hi, p, "weighted risks, delta method"
                + _se_note(cluster), m1, m0)


def _subset_codes(codes, keep: np.ndarray):
    """Cluster codes of the kept units, renumbered 0..g-1 (g counts only kept clusters)."""
    return None if codes is None else pd.factorize(codes[keep])[0]


def _sandwich_se(influence: np.ndarray, codes, n_params: int) -> float:
    """SE from per-unit influence values; clustered with statsmodels' small-sample factor."""
    if codes is None:
        return float(np.sqrt(np.sum(influence ** 2)))
    n, g = len(influence), codes.max() + 1
    summed = np.bincount(codes, weights=influence)
    factor = g / (g - 1) * (n - 1) / (n - n_params)
    return float(np.sqrt(np.sum(summed ** 2) * factor))


def _aipw_rows(df, y, t, e, covariates, codes, outcome_type, z, add):
    x = _design(df, None, covariates).to_numpy(float)
    preds = []
    for arm in (1, 0):
        sel = t == arm
        if outcome_type == "continuous":
            model = sm.OLS(y[sel], x[sel]).fit()
        else:
            model = sm.GLM(y[sel], x[sel], family=sm.families.Binomial()).fit()
        preds.append(model.predict(x))
    mu1, mu0, if1, if0 = aipw(y, t, e, preds[0], preds[1], codes)
    scale = np.sqrt(len(if1) / (len(if1) - 1)) if codes is not None else 1.0
    se = np.sqrt(np.sum((if1 - if0) ** 2)) * scale
    measure = "mean difference" if outcome_type == "continuous" else "risk difference"
    est, lo, hi, p = _wald(mu1 - mu0, se, z)
    add("AIPW", measure, est, lo, hi, p, "augmented IPW (doubly robust), ATE; "
        "influence-function SE" + (" summed within clusters" if codes is not None else ""),
        mu1, mu0)
    if outcome_type == "binary" and 0 < mu0 and 0 < mu1:
        g = if1 / mu1 - if0 / mu0  # influence function of log(mu1 / mu0)
        est, lo, hi, p = _wald(np.log(mu1 / mu0), np.sqrt(np.sum(g ** 2)) * scale, z, True)
        add("AIPW", "risk ratio", est, lo, hi, p, "augmented IPW, ATE; delta method", mu1, mu0)
