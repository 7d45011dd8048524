"""Total-event rate ratios: negative binomial (NB2) and Poisson regression of event counts.

The recurrent-event view beside the time-to-event one: each patient contributes the
number of endpoint events over its follow-up, ``log E[count] = log(time) + b0 + b1 arm +
...``, and ``exp(b1)`` is the ratio of event rates between the arms (Glynn & Buring 1996;
Rogers et al. 2014, with CHARM-Preserved as the example). The negative binomial's extra
variance ``mu + mu^2 / theta`` absorbs the between-patient heterogeneity that makes a
Poisson variance too small for recurrent events.

The fit is R's ``MASS::glm.nb``: the joint maximum of the (weighted) likelihood over
``(b, theta)``, found by alternating a GLM fit at fixed ``theta`` (statsmodels' ``GLM`` with
the ``NegativeBinomial(alpha=1/theta)`` family, iteratively reweighted least squares; the
intermediate fits by a plain numpy IRLS) with Newton steps on ``theta`` given the means
(``MASS::theta.ml``'s score and information), to ``|change in theta| <= 1e-11 theta``.
The variance of ``b`` is the GLM's at the final ``theta``: the inverse *expected*
information with ``theta`` held fixed, which is what ``vcov(glm.nb(...))`` reports. (The
statsmodels count model ``discrete_model.NegativeBinomial`` reaches the same maximum but
inverts the joint *observed* Hessian of ``(b, alpha)``; with the non-canonical log link
that differs from the expected information, so its standard errors are not R's: 0.5 % to
12 % apart on the counts of tests/reference/counts.R.) ``theta``'s standard error is
``theta.ml``'s, ``1 / sqrt(i)``, here at the estimate (``theta.ml`` takes ``i`` one Newton
step earlier: up to 3e-5 apart).

With ``weights`` or ``cluster`` (or ``robust=True``) the variance is the cluster-robust
sandwich ``G / (G - 1) B (sum_g U_g U_g') B``, ``B`` the model-based variance and ``U_g``
the summed score contributions ``w (y - mu) / (1 + mu / theta) x`` of cluster ``g`` (each
row its own cluster when none is given): ``sandwich::vcovCL``'s default for a glm, with
``theta`` held at its estimate.

References
----------
Lawless JF (1987). Negative binomial and mixed Poisson regression. Can J Stat 15:209-225.
Venables WN, Ripley BD (2002). Modern Applied Statistics with S, 4th ed., section 7.4.
Glynn RJ, Buring JE (1996). Ways of measuring rates of recurrent events. BMJ 312:364-367.
Rogers JK, Pocock SJ, McMurray JJV et al. (2014). Analysing recurrent hospitalizations in
heart failure: a review of statistical methodology, with application to CHARM-Preserved.
Eur J Heart Fail 16:33-40.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import digamma, gammaln, polygamma

from .._design import design
from .._display import ResultMixin, frame_html, frame_text
from .._frames import ColumnArg, arm_order, column_values, missing_problems, row_ids
from ..errors import InputError, Problem

__all__ = ["rate_ratio", "RateRatio", "event_counts", "nb_theta", "nb_loglik",
           "score_sandwich"]

_METHODS = {"negbin": "negative binomial (NB2, MASS::glm.nb)",
            "poisson": "Poisson (log link)"}
_PER_YEAR = {"days": 365.25, "months": 12.0, "years": 1.0}


# ----------------------------------------------------------------------------- kernels
def nb_loglik(y: np.ndarray, mu: np.ndarray, theta: float, w: np.ndarray) -> float:
    """NB2 log-likelihood ``sum w [lgamma(theta + y) - lgamma(theta) - lgamma(y + 1) +
    theta log(theta) + y log(mu) - (theta + y) log(theta + mu)]`` (MASS's ``loglik``);
    ``theta = inf`` gives the Poisson log-likelihood."""
    if not np.isfinite(theta):
        return float(np.sum(w * (y * np.log(np.where(y > 0, mu, 1.0)) - mu - gammaln(y + 1))))
    ll = (gammaln(theta + y) - gammaln(theta) - gammaln(y + 1) + theta * np.log(theta)
          + y * np.log(np.where(y > 0, mu, 1.0)) - (theta + y) * np.log(theta + mu))
    return float(np.sum(w * ll))


def nb_theta(y: np.ndarray, mu: np.ndarray, w: np.ndarray, theta: float | None = None,
             tol: float = 1e-12, max_iter: int = 100) -> tuple[float, float]:
    """Maximum-likelihood ``theta`` of the NB2 given the means, and its standard error.

    Newton's method on the score ``sum w [psi(theta + y) - psi(theta) + log(theta) + 1 -
    log(theta + mu) - (y + theta) / (mu + theta)]`` with the information ``sum w [psi'(theta)
    - psi'(theta + y) - 1 / theta + 2 / (mu + theta) - (y + theta) / (mu + theta)^2]``, from
    the moment estimate ``sum w / sum w (y / mu - 1)^2`` (MASS ``theta.ml``), iterated to
    ``|step| <= tol * theta`` instead of ``theta.ml``'s fixed 1.2e-4.
    """
    # psi(theta + y) and psi'(theta + y) on the distinct counts only (a handful of values)
    uy, inv = np.unique(y, return_inverse=True)

    def score(t):
        return np.sum(w * (digamma(t + uy)[inv] - digamma(t) + np.log(t) + 1
                           - np.log(t + mu) - (y + t) / (mu + t)))

    def info(t):
        return np.sum(w * (polygamma(1, t) - polygamma(1, t + uy)[inv] - 1 / t
                           + 2 / (mu + t) - (y + t) / (mu + t) ** 2))

    t = float(theta) if theta else float(np.sum(w) / np.sum(w * (y / mu - 1) ** 2))
    for _ in range(max_iter):
        with np.errstate(all="ignore"):  # a theta running off to infinity is handled below
            step = score(t) / info(t)
        t_new = abs(t + step)  # as theta.ml: a step past 0 is reflected
        if not np.isfinite(t_new) or t_new > 1e10:
            return np.inf, np.nan  # no overdispersion: theta runs off to infinity
        done = abs(t_new - t) <= tol * t_new
        t = t_new
        if done:
            break
    return t, float(1 / np.sqrt(info(t)))


def score_sandwich(x: np.ndarray, resid: np.ndarray, bread: np.ndarray,
                   cluster: np.ndarray) -> np.ndarray:
    """Cluster-robust variance ``G/(G-1) B (sum_g U_g U_g') B`` with ``U_g`` the sum over
    cluster ``g`` of ``resid * x`` (the rows' score contributions) and ``B`` the
    model-based variance (``sandwich::vcovCL``, type HC0, cluster adjustment)."""
    _, g = np.unique(cluster, return_inverse=True)
    n_g = int(g.max()) + 1
    u = np.zeros((n_g, x.shape[1]))
    np.add.at(u, g, resid[:, None] * x)
    adj = n_g / (n_g - 1) if n_g > 1 else np.nan
    return adj * bread @ (u.T @ u) @ bread


def _glm(y, x, offset, w, theta, start=None, tol=1e-13):
    """statsmodels GLM at fixed ``theta`` (Poisson when infinite): coef, model variance
    (inverse expected information, scale 1) and fitted means."""
    # the GLM module alone: statsmodels.api would import its plotting (seconds)
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    family = (families.Poisson() if not np.isfinite(theta)
              else families.NegativeBinomial(alpha=1.0 / theta))
    res = GLM(y, x, family=family, offset=offset, var_weights=w).fit(
        start_params=start, tol=tol, maxiter=200, scale=1.0)
    return np.asarray(res.params), np.asarray(res.cov_params()), np.asarray(res.mu)


def irls(y: np.ndarray, x: np.ndarray, offset: np.ndarray, w: np.ndarray, theta: float,
         beta: np.ndarray, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Kernel: log-link GLM coefficients at fixed ``theta`` by Fisher scoring (IRLS):
    working weights ``w mu / (1 + mu / theta)``, working response ``eta - offset +
    (y - mu) / mu``; ``theta = inf`` is the Poisson model. The steps between the updates
    of ``theta``; the final fit is statsmodels' (:func:`_glm`)."""
    for _ in range(max_iter):
        mu = np.exp(x @ beta + offset)
        ww = w * mu / (1 + mu / theta)
        z = x @ beta + (y - mu) / mu
        new = np.linalg.solve((x * ww[:, None]).T @ x, (x * ww[:, None]).T @ z)
        done = np.max(np.abs(new - beta)) <= tol * max(1.0, np.max(np.abs(new)))
        beta = new
        if done:
            break
    return beta


def fit_counts(y: np.ndarray, x: np.ndarray, offset: np.ndarray, w: np.ndarray,
               method: str) -> dict:
    """Kernel: Poisson or NB2 (``MASS::glm.nb``) fit; see the module notes."""
    start = np.zeros(x.shape[1])
    start[0] = np.log(np.sum(w * y) / np.sum(w * np.exp(offset)))  # x[:, 0] is 1
    beta = irls(y, x, offset, w, np.inf, start)
    mu = np.exp(x @ beta + offset)
    theta, theta_se, outer = np.inf, np.nan, 0
    if method == "negbin":
        # theta is the fixed point of g(theta) = argmax_theta' L(b(theta), theta'): the
        # maximum of theta given the means of the GLM fit at theta (MASS alternates
        # t <- g(t)); secant steps on g(t) - t reach it in fewer GLM fits
        theta, _ = nb_theta(y, mu, w)
        prev = None
        for outer in range(1, 101):  # noqa: B007 (the count is reported)
            if not np.isfinite(theta):
                break
            beta = irls(y, x, offset, w, theta, beta)
            mu = np.exp(x @ beta + offset)
            g, _ = nb_theta(y, mu, w, theta)
            if not np.isfinite(g) or abs(g - theta) <= 1e-11 * g:
                theta = g
                break
            nxt = g
            if prev is not None and (g - theta) != (prev[1] - prev[0]):
                f0, f1 = prev[1] - prev[0], g - theta
                secant = theta - f1 * (theta - prev[0]) / (f1 - f0)
                nxt = secant if np.isfinite(secant) and secant > 0 else g
            prev, theta = (theta, g), nxt
    beta, cov, mu = _glm(y, x, offset, w, theta, beta)  # polished at the final theta
    if np.isfinite(theta):
        theta, theta_se = nb_theta(y, mu, w, theta)
    resid = w * (y - mu) / (1 + mu / theta)  # score contribution per row (/ x)
    return {"coef": beta, "cov": cov, "mu": mu, "theta": theta, "theta_se": theta_se,
            "loglik": nb_loglik(y, mu, theta, w), "resid": resid, "iterations": outer}


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class RateRatio(ResultMixin):
    """Result of :func:`rate_ratio`.

    Attributes
    ----------
    table : one row per term but the intercept: ``term``, ``coef``, ``se``, ``rate_ratio``,
        ``lower``, ``upper``, ``z``, ``p``, ``theta`` and ``alpha`` (``1 / theta``; NaN
        for Poisson).
    summary : every coefficient, the intercept included, indexed by term (as R's
        ``coef(summary(fit))``): coef, se, z, p, naive_se.
    arms : per arm: ``arm``, ``n``, ``events``, ``time`` (summed follow-up, ``time_unit``),
        ``person_years``, ``rate`` (crude events per 100 person-years); unweighted.
    method : ``"negbin"`` or ``"poisson"``.
    treated, control : the arms compared (treated vs control, the package's one rule).
    theta, theta_se, alpha : the negative binomial's shape, its SE and ``1 / theta``.
    loglik, aic : log-likelihood and ``-2 loglik + 2 (coefficients + 1 for theta)``.
    robust, variance : whether ``se`` is the cluster-robust sandwich SE, and its name.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    arms: pd.DataFrame
    method: str
    treatment: str
    treated: object
    control: object
    theta: float
    theta_se: float
    loglik: float
    aic: float
    n: int
    n_events: float
    robust: bool
    variance: str
    weighted: bool
    cluster: str | None
    conf_level: float
    time_unit: str
    vcov: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def alpha(self) -> float:
        """The NB2 dispersion ``1 / theta`` (statsmodels' and Stata's ``alpha``)."""
        return 1.0 / self.theta

    @property
    def term(self) -> str:
        """The treatment's term, named as R names it (``treatrIFN-g``)."""
        return str(self.table["term"].iloc[0])

    @property
    def p_value(self) -> float:
        """Wald p of the treatment's rate ratio."""
        return float(self.table["p"].iloc[0])

    def _parts(self) -> tuple[str, pd.DataFrame, str]:
        title = (f"Rate ratio, {self.treated} vs {self.control}: {_METHODS[self.method]}; "
                 f"{self.variance} variance; n = {self.n}, events = {self.n_events:g}")
        lines = [f"{r.arm}: {r.events:g} events in {r.person_years:.4g} person-years "
                 f"({r.rate:.4g} per 100 person-years)" if r.person_years == r.person_years
                 else f"{r.arm}: {r.events:g} events in {r.n} patients"
                 for r in self.arms.itertuples()]
        if self.method == "negbin":
            lines.append(f"theta = {self.theta:.4g} (se {self.theta_se:.4g}), "
                         f"alpha = 1/theta = {self.alpha:.4g}")
        lines += list(self.notes)
        cols = ["term", "rate_ratio", "lower", "upper", "p", "coef", "se"]
        return title, self.table[cols].set_index("term"), "\n".join(lines)

    def __repr__(self) -> str:
        return frame_text(*self._parts())

    def _repr_html_(self) -> str:
        return frame_html(*self._parts())


# ----------------------------------------------------------------------------- public
def _check(df: pd.DataFrame, count: str, time: str | None, treatment: str) -> None:
    problems = []
    missing = [c for c in (count, time, treatment) if c is not None and c not in df.columns]
    if missing:
        raise InputError([Problem(f"column not found (columns are {list(df.columns)})", c,
                                  source="df") for c in missing])
    problems += missing_problems(df, [count] + ([time] if time else []), "df", policy=False)
    y = pd.to_numeric(df[count], errors="coerce").to_numpy(dtype=float)
    bad = df[count].notna().to_numpy() & ~(np.isfinite(y) & (y >= 0) & (y == np.round(y)))
    if bad.any():
        problems.append(Problem("an event count must be a whole number 0 or more", count,
                                row_ids(df, bad), "df"))
    if time is not None:
        t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
        bad = df[time].notna().to_numpy() & ~(np.isfinite(t) & (t > 0))
        if bad.any():
            problems.append(Problem("follow-up must be a positive number (the rate's "
                                    "denominator)", time, row_ids(df, bad), "df",
                                    fix="leave out patients without follow-up, and say so"))
    if not problems and not (y > 0).any():
        problems.append(Problem("no events: a rate ratio needs at least one", count,
                                source="df"))
    if problems:
        raise InputError(problems)


def _arms(df: pd.DataFrame, treatment: str, treated) -> tuple[np.ndarray, object, object]:
    """0/1 treated indicator by the package's one rule (:func:`_frames.arm_order`, as
    ``weighting.propensity.treatment_indicator``, which this room may not import)."""
    col = df[treatment]
    if col.isna().any():
        raise InputError(missing_problems(df, [treatment], "df", policy=False))
    levels = arm_order(col, treated, source="df", column=treatment)
    if len(levels) != 2:
        raise InputError(Problem(f"a rate ratio compares exactly 2 arms, found {levels}",
                                 treatment, (), "df"))
    return (col == levels[0]).to_numpy().astype(np.int64), levels[0], levels[1]


def rate_ratio(
    df: pd.DataFrame,
    treatment: str = "arm",
    count: str = "events",
    time: str | None = "time",
    covariates: list[str] | str | None = None,
    weights: ColumnArg = None,
    cluster: ColumnArg = None,
    method: str = "negbin",
    *,
    treated=None,
    reference: dict | None = None,
    robust: bool | None = None,
    conf_level: float = 0.95,
    time_unit: str = "days",
) -> RateRatio:
    """Ratio of total event rates between two arms: negative binomial or Poisson model.

    Parameters
    ----------
    df : one row per patient: event count, follow-up, arm and covariates
        (:func:`event_counts` makes it from ``time_to_event(..., recurrent=True)`` rows).
    treatment : the arm column; the treated arm is the package's one rule (``treated=``,
        else the second label in sorted order).
    count : the number of events (whole numbers, 0 or more).
    time : follow-up (``time_unit``, > 0): ``log(time)`` is the offset. ``None`` fits
        counts without exposure (rate per patient).
    covariates : adjustment covariates (the package's design builder: text columns are
        dummies named as R names them).
    weights : case weights (e.g. IPTW); implies the robust variance.
    cluster : cluster ids (e.g. hospital); implies the cluster-robust variance.
    method : ``"negbin"`` (NB2, as ``MASS::glm.nb``) or ``"poisson"``.
    treated : the treated arm's label. reference : reference level per covariate.
    robust : force (True) or suppress (False) the sandwich variance; default: robust when
        ``weights`` or ``cluster`` is given.
    conf_level : level of the Wald intervals ``exp(coef -/+ z se)``.
    time_unit : unit of ``time`` (``"days"``, ``"months"`` or ``"years"``), for the
        person-years of the crude rates.

    Returns
    -------
    RateRatio

    Examples
    --------
    >>> import pandas as pd
    >>> from mace_outcomes.regression.counts import rate_ratio
    >>> d = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "events": [0, 1, 2, 1, 3, 2, 4, 5],
    ...                   "time": [365.0] * 8})
    >>> fit = rate_ratio(d, method="poisson")
    >>> round(float(fit.table["rate_ratio"].iloc[0]), 4)   # (14 / 1460) / (4 / 1460)
    3.5
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"df must be a DataFrame, not {type(df).__name__}"))
    problems = []
    if method not in _METHODS:
        problems.append(Problem(f"method must be one of {list(_METHODS)}, not {method!r}"))
    if time_unit not in _PER_YEAR:
        problems.append(Problem(f"time_unit must be one of {list(_PER_YEAR)}, not "
                                f"{time_unit!r}"))
    covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if treatment in covs:
        problems.append(Problem("the treatment is already in the model", treatment,
                                fix="leave it out of covariates"))
    if problems:
        raise InputError(problems)
    _check(df, count, time, treatment)
    z, treated, control = _arms(df, treatment, treated)
    numeric = (pd.api.types.is_numeric_dtype(df[treatment])
               and not pd.api.types.is_bool_dtype(df[treatment]))
    term = treatment if numeric else f"{treatment}{treated}"
    names = ["(Intercept)", term]
    x = np.column_stack([np.ones(len(df)), z.astype(float)])
    if covs:
        d = design(df, covs, reference=reference, source="df")
        x = np.column_stack([x, d.x])
        names += d.names
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError(Problem(f"the model's columns {names} are collinear", source="df",
                                 fix="drop a covariate that repeats another or the arm"))
    w, cl, cname = _weights_and_cluster(df, weights, cluster)
    y = df[count].to_numpy(dtype=float)
    empty = [a for a, arm in ((treated, z == 1), (control, z == 0)) if y[arm].sum() == 0]
    if empty:  # the likelihood has no maximum: the ratio is 0 or infinite
        raise InputError(Problem(f"no events in arm {empty[0]!r} of {treatment!r}: the rate "
                                 "ratio is 0 or infinite and has no Wald interval", count,
                                 source="df", fix="report the events and person-years per "
                                 "arm (an exact Poisson test compares them)"))
    t = df[time].to_numpy(dtype=float) if time is not None else np.ones(len(df))
    fit = fit_counts(y, x, np.log(t), w, method)

    robust = (weights is not None or cluster is not None) if robust is None else robust
    naive = fit["cov"]
    cov = naive
    notes = []
    if robust:
        groups = cl if cl is not None else np.arange(len(df))
        cov = score_sandwich(x, fit["resid"], naive, groups)
        variance = (f"cluster-robust ({cname}, {len(np.unique(groups))} clusters)"
                    if cl is not None else "robust (sandwich)")
    else:
        variance = "model"
    if method == "poisson":
        pearson = float(np.sum(w * (y - fit["mu"]) ** 2 / fit["mu"]) / (len(y) - x.shape[1]))
        if pearson > 1.5:
            notes.append(f"Pearson chi-square / df = {pearson:.3g}: the counts vary more "
                         "than a Poisson model allows; method='negbin' allows for it")
    if weights is not None:
        notes.append("per-arm events, person-years and crude rates are unweighted")
    if method == "negbin" and not np.isfinite(fit["theta"]):
        notes.append("no overdispersion: theta is infinite and the fit is the Poisson one")
    coef = fit["coef"]
    se = np.sqrt(np.diag(cov))
    zval = coef / se
    p = 2 * stats.norm.sf(np.abs(zval))
    q = stats.norm.ppf(0.5 + conf_level / 2)
    summary = pd.DataFrame({"coef": coef, "se": se, "z": zval, "p": p,
                            "naive_se": np.sqrt(np.diag(naive))},
                           index=pd.Index(names, name="term"))
    theta = fit["theta"]
    table = pd.DataFrame({"term": names[1:], "coef": coef[1:], "se": se[1:],
                          "rate_ratio": np.exp(coef[1:]), "lower": np.exp(coef[1:] - q * se[1:]),
                          "upper": np.exp(coef[1:] + q * se[1:]), "z": zval[1:], "p": p[1:],
                          "theta": theta if method == "negbin" else np.nan,
                          "alpha": 1 / theta if method == "negbin" else np.nan})
    arms = _arm_totals(df[treatment].to_numpy(), y, t if time is not None else None,
                       [treated, control], time_unit)
    k = x.shape[1] + (method == "negbin" and np.isfinite(theta))
    return RateRatio(
        table=table, summary=summary, arms=arms, method=method, treatment=treatment,
        treated=treated, control=control, theta=theta,
        theta_se=fit["theta_se"], loglik=fit["loglik"], aic=-2 * fit["loglik"] + 2 * k,
        n=len(df), n_events=float(y.sum()), robust=bool(robust), variance=variance,
        weighted=weights is not None, cluster=cname, conf_level=conf_level,
        time_unit=time_unit, vcov=pd.DataFrame(cov, index=names, columns=names),
        notes=notes)


def _weights_and_cluster(df: pd.DataFrame, weights: ColumnArg,
                         cluster: ColumnArg) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Case weights (ones when not given), cluster ids and the cluster's name."""
    w = np.ones(len(df))
    if weights is not None:
        ws, wname = column_values(df, weights, "weights", "df")
        w = pd.to_numeric(ws, errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(w) & (w > 0))
        if bad.any():
            raise InputError(Problem("weights must be positive numbers", wname,
                                     row_ids(df, bad), "df"))
    if cluster is None:
        return w, None, None
    cs, cname = column_values(df, cluster, "cluster", "df")
    if cs.isna().any():
        raise InputError(missing_problems(df.assign(**{cname: cs}), [cname], "df",
                                          policy=False))
    return w, cs.to_numpy(), cname


def _arm_totals(arm: np.ndarray, y: np.ndarray, t: np.ndarray | None, order: list,
                time_unit: str) -> pd.DataFrame:
    """Per arm: patients, events, summed follow-up, person-years, events per 100 py."""
    frame = pd.DataFrame({"arm": arm, "events": y,
                          "time": t if t is not None else np.nan})
    g = frame.groupby("arm", sort=False).agg(n=("events", "size"), events=("events", "sum"),
                                            time=("time", "sum"))
    g = g.reindex(order).reset_index()
    if t is None:  # counts without exposure: no rates
        g["time"] = np.nan
    g["person_years"] = g["time"] / _PER_YEAR[time_unit]
    g["rate"] = 100 * g["events"] / g["person_years"]
    return g


def event_counts(df: pd.DataFrame, id: str = "patient_id", time: str = "stop",
                 event: str = "event", start: str = "start") -> pd.DataFrame:
    """Per-patient event counts and follow-up from recurrent ``(start, stop]`` rows.

    Parameters
    ----------
    df : counting-process rows (``time_to_event(..., recurrent=True)``).
    id, time, event, start : the patient, stop, 0/1 event and entry columns.

    Returns
    -------
    DataFrame, one row per patient in order of first appearance: ``id``, ``events`` (the
    sum of ``event``), ``time`` (last stop - first start: follow-up, gaps included) and
    every other column whose value is the same on all of the patient's rows (arm,
    baseline covariates). Columns that change within a patient are not carried;
    ``attrs["not_carried"]`` names them. A patient without rows (no follow-up beyond
    day 0, which ``time_to_event`` warns about) has no count.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"patient_id": [1, 1, 2], "arm": ["a", "a", "b"],
    ...                      "start": [0, 30, 0], "stop": [30, 90, 50], "event": [1, 0, 1]})
    >>> event_counts(rows)[["patient_id", "events", "time", "arm"]].values.tolist()
    [[1, 1, 90, 'a'], [2, 1, 50, 'b']]
    """
    cols = [id, start, time, event]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError([Problem(f"column not found (columns are {list(df.columns)})", c,
                                  source="df") for c in missing])
    problems = missing_problems(df, cols, "df", policy=False)
    bad = ~df[event].isin([0, 1]).to_numpy()
    if bad.any():
        problems.append(Problem("event must be 0 or 1", event, row_ids(df, bad), "df"))
    if problems:
        raise InputError(problems)
    g = df.groupby(id, sort=False)
    out = pd.DataFrame({"events": g[event].sum(), "time": g[time].max() - g[start].min()})
    rest = [c for c in df.columns if c not in cols]
    same = g[rest].nunique(dropna=False).le(1).all() if rest else pd.Series(dtype=bool)
    carried = [c for c in rest if same.get(c, False) and c not in ("events", "time")]
    out = pd.concat([out, g[carried].first()], axis=1).reset_index()
    out.attrs["not_carried"] = [c for c in rest if c not in carried]
    return out
