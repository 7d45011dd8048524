"""Draws of one chained-equations step: the kernels behind :func:`mace_outcomes.impute`.

Each function fits one conditional model on the rows where the variable is observed,
draws its parameters from their approximate posterior and imputes the missing rows from
the drawn model, as R's mice does (van Buuren 2018, sections 3.2-3.5):

* linear model (``mice:::.norm.draw``): ``sigma* = sqrt(RSS / chi2_df)`` with
  ``df = n_obs - p``, ``beta* = beta_hat + chol((X'X)^-1)' z sigma*``; then predictive
  mean matching (``mice.impute.pmm``, matchtype 1): each missing row's ``X beta*`` is
  matched to the 5 nearest ``X beta_hat`` of the observed rows and one donor's observed
  value is taken at random; or, for ``norm``, ``X beta* + N(0, sigma*^2)``;
* logistic model (``mice.impute.logreg``): ``beta* ~ N(beta_hat, V)``, then Bernoulli
  draws from ``expit(X beta*)``;
* multinomial logit: ``vec(B*) ~ N(vec(B_hat), V)``, then categorical draws from the
  softmax of ``X B*`` (the reference level's linear predictor is 0).

Numpy on arrays plus statsmodels' fits; no loop over rows. Models are fitted on the
linearly independent columns of the observed rows (mice's ``remove.lindep``).

References
----------
van Buuren S. Flexible Imputation of Missing Data, 2nd ed. CRC Press 2018.
Morris TP, White IR, Royston P. Tuning multiple imputation by predictive mean matching
and local residual draws. BMC Med Res Methodol 2014;14:75.
"""

from __future__ import annotations

import warnings

import numpy as np
import statsmodels.api as sm
from scipy.linalg import qr

DONORS = 5


def independent_columns(x: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Mask of columns that are linearly independent of those before them (pivoted QR)."""
    if x.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    r, piv = qr(x, mode="r", pivoting=True)[0:2]
    diag = np.abs(np.diag(r))
    keep = np.zeros(x.shape[1], dtype=bool)
    if diag.size and diag[0] > 0:
        keep[piv[: diag.size][diag > tol * diag[0]]] = True
    return keep


def mvn_root(cov: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L L' = cov``: Cholesky, or a clipped eigen-root if not p.d."""
    cov = (cov + cov.T) / 2  # mice's sym()
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


def norm_draw(y: np.ndarray, x: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """``beta_hat``, ``beta*`` and ``sigma*`` of the linear model (``mice:::.norm.draw``).

    The Gaussian GLM with identity link is least squares: statsmodels' OLS fit gives
    ``beta_hat`` and ``(X'X)^-1`` (``normalized_cov_params``).
    """
    fit = sm.OLS(y, x).fit()
    df = max(y.size - x.shape[1], 1)
    rss = float(np.sum(fit.resid ** 2))
    sigma = np.sqrt(rss / rng.chisquare(df))
    beta = fit.params + mvn_root(fit.normalized_cov_params) @ rng.standard_normal(x.shape[1]) \
        * sigma
    return np.asarray(fit.params), beta, float(sigma)


def pmm_match(yhat_obs: np.ndarray, yhat_mis: np.ndarray, y_obs: np.ndarray,
              rng: np.random.Generator, donors: int = DONORS) -> np.ndarray:
    """Observed values of donors drawn among the ``donors`` nearest predicted values.

    As ``mice:::matchindex``: observed predictions are put in random order first (ties
    broken at random), sorted, and each target's nearest ``donors`` are found in a window
    of ``2 donors`` sorted values around its ``searchsorted`` position; one is drawn.
    """
    n = yhat_obs.size
    k = min(donors, n)
    order = np.lexsort((rng.random(n), yhat_obs))
    srt = yhat_obs[order]
    width = min(2 * k, n)
    pos = np.searchsorted(srt, yhat_mis)
    start = np.clip(pos - k, 0, n - width)
    window = start[:, None] + np.arange(width)
    dist = np.abs(srt[window] - yhat_mis[:, None])
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < width else \
        np.broadcast_to(np.arange(width), (yhat_mis.size, width))
    pick = nearest[np.arange(yhat_mis.size), rng.integers(0, k, yhat_mis.size)]
    return y_obs[order[window[np.arange(yhat_mis.size), pick]]]


def _quiet_fit(model, **kwargs):
    """Fit, returning the statsmodels warnings raised (non-convergence, separation)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            fit = model.fit(**kwargs)
    return fit, [str(w.message).split("\n")[0] for w in caught]


def augment(x: np.ndarray, y: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Rows and weights that keep a logistic fit finite under perfect prediction.

    As ``mice:::augment`` (White, Daniel & Royston 2010): for each predictor (column 0,
    the intercept, excepted) and each level, two pseudo-rows at the column means with that
    predictor moved by +-0.5 SD (kept within its range), weighted ``(p + 1) / (2 p K)`` in
    all: ``p + 1`` pseudo-observations that a sample of thousands does not notice.
    """
    p = x.shape[1] - 1
    if p == 0:
        return x, y, np.ones(y.size)
    cols = x[:, 1:]
    rows = 2 * p * levels
    aug = np.broadcast_to(cols.mean(axis=0), (rows, p)).copy()
    which = np.repeat(np.arange(p), 2 * levels)  # the predictor each pseudo-row moves
    sign = np.tile([0.5, -0.5], p * levels)
    moved = aug[np.arange(rows), which] + sign * cols.std(axis=0, ddof=1)[which]
    aug[np.arange(rows), which] = np.clip(moved, cols.min(axis=0)[which],
                                          cols.max(axis=0)[which])
    x_aug = np.vstack([x, np.column_stack([np.ones(rows), aug])])
    y_aug = np.concatenate([y, np.tile(np.repeat(np.arange(levels), 2), p)])
    w = np.concatenate([np.ones(y.size), np.full(rows, (p + 1) / rows)])
    return x_aug, y_aug, w


def logistic_fit(y: np.ndarray, x: np.ndarray,
                 start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Coefficients and ``cov.unscaled`` of ``mice.impute.logreg``'s augmented fit.

    Fitted on the augmented rows (:func:`augment`) with their prior weights and the
    dispersion held at 1, as R's ``glm.fit(family = quasibinomial)`` + ``cov.unscaled``.
    """
    x_aug, y_aug, w = augment(x, y, 2)
    fit, caught = _quiet_fit(sm.GLM(y_aug, x_aug, family=sm.families.Binomial(),
                                    var_weights=w), start_params=start, tol=1e-10)
    return np.asarray(fit.params), np.asarray(fit.cov_params()), caught


def logistic_draw(y: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray,
                  rng: np.random.Generator,
                  start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """0/1 draws for the missing rows from a logistic model with drawn ``beta*``."""
    params, cov, caught = logistic_fit(y, x_obs, start)
    beta = params + mvn_root(cov) @ rng.standard_normal(x_obs.shape[1])
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-(x_mis @ beta)))
    return (rng.random(x_mis.shape[0]) < p).astype(np.int64), params, caught


def multinomial_draw(codes: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray,
                     rng: np.random.Generator,
                     start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Level codes 0..K-1 for the missing rows from a multinomial logit with drawn ``B*``.

    statsmodels orders the parameter vector equation by equation (``params.ravel("F")``),
    the order of its covariance matrix.
    """
    fit, caught = _quiet_fit(sm.MNLogit(codes, x_obs), disp=0, start_params=start,
                             maxiter=100)
    params = np.asarray(fit.params)
    vec = params.ravel(order="F")
    cov = np.asarray(fit.cov_params())
    if not np.all(np.isfinite(cov)):
        cov = np.zeros_like(cov)
        caught.append("the multinomial information matrix is singular; parameters not drawn")
    draw = vec + mvn_root(cov) @ rng.standard_normal(vec.size)
    eta = np.column_stack([np.zeros(x_mis.shape[0]),
                           x_mis @ draw.reshape(params.shape, order="F")])
    eta -= eta.max(axis=1, keepdims=True)
    prob = np.exp(eta)
    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(x_mis.shape[0])
    out = (u[:, None] > cum[:, :-1]).sum(axis=1)
    return out.astype(np.int64), vec, caught
