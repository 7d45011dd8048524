"""Simulation study: do the weighted estimators recover a known marginal hazard ratio?

For each simulated registry (confounding by indication, known true marginal HR) the
crude Cox HR, the IPTW (ATE) and overlap-weighted Cox HRs with robust (sandwich)
intervals, and optionally the bootstrap percentile interval of the IPTW HR are
computed; :func:`summarise` reports per method the bias of the log HR (and its
Monte-Carlo standard error), the empirical SD, the mean robust SE and the coverage of
the 95% intervals (Morris, White & Crowther 2019).

Used by ``tests/test_weighting_simulation.py`` (a few dozen data sets) and
``benchmarks/simulation_coverage.py`` (the full run).

References
----------
Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical
methods. Stat Med 2019;38:2074-102.
Austin PC. Stat Med 2016;35:5642-55.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from mace_outcomes.errors import StatisticalWarning
from mace_outcomes.weighting.bootstrap import bootstrap
from mace_outcomes.weighting.propensity import propensity

Simulator = Callable[[int], tuple[pd.DataFrame, float, list[str], str | None]]


def estimate_one(tte: pd.DataFrame, covariates: list[str], treatment: str = "arm",
                 treated=None, cluster: str | None = None, n_boot: int = 0,
                 seed: int | None = None, conf_level: float = 0.95) -> list[dict]:
    """Crude, IPTW-ATE and overlap HRs (robust CIs) and the IPTW bootstrap CI."""
    from mace_outcomes.regression.fit import cox
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        ps_ate = propensity(tte, treatment, covariates, estimand="ATE", treated=treated)
        ps_ato = propensity(tte, treatment, covariates, estimand="ATO", treated=treated)
        d = tte.assign(_z=ps_ate.z.to_numpy(), _w_ate=ps_ate.weights, _w_ato=ps_ato.weights)
        for name, w in (("crude", None), ("IPTW-ATE", "_w_ate"), ("overlap", "_w_ato")):
            fit = cox(d, covariates=["_z"], weights=w, cluster=cluster, conf_level=conf_level)
            s = fit.summary.loc["_z"]
            rows.append({"method": name, "log_hr": s["coef"], "se": s["se"],
                         "lower": s["lower"], "upper": s["upper"]})
        if n_boot:
            bt = bootstrap(tte, treatment, covariates, estimand="ATE", treated=treated,
                           cluster=cluster, n_boot=n_boot, seed=seed, progress=False,
                           conf_level=conf_level)
            hr = bt.table.set_index("statistic").loc["hr"]
            rows.append({"method": "IPTW-ATE bootstrap", "log_hr": np.log(hr["estimate"]),
                         "se": hr["se"], "lower": hr["lower"], "upper": hr["upper"]})
    return rows


def simulation_study(simulate: Simulator, n_datasets: int, n_boot: int = 0,
                     seed: int = 0, conf_level: float = 0.95, progress: bool = False
                     ) -> pd.DataFrame:
    """Run :func:`estimate_one` on ``n_datasets`` data sets from ``simulate(seed)``.

    ``simulate`` returns ``(tte, true_hr, covariates, cluster)``. Returns one row per
    data set and method: dataset, method, log_hr, se, lower, upper, truth, covered.
    """
    from tqdm.auto import tqdm
    out = []
    for i in tqdm(range(n_datasets), disable=not progress, desc="simulation"):
        tte, truth, covariates, cluster = simulate(seed + i)
        for row in estimate_one(tte, covariates, cluster=cluster, n_boot=n_boot,
                                seed=seed + i, conf_level=conf_level):
            row.update(dataset=i, truth=truth,
                       covered=bool(row["lower"] <= truth <= row["upper"]))
            out.append(row)
    return pd.DataFrame(out)


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Per method: bias of the log HR, its Monte-Carlo SE, bias / MC SE, empirical SD,
    mean SE, coverage and its Monte-Carlo SE (Morris et al. 2019)."""
    rows = []
    for method, g in res.groupby("method", sort=False):
        err = g["log_hr"] - np.log(g["truth"])
        n = len(g)
        sd = float(g["log_hr"].std(ddof=1))
        cov = float(g["covered"].mean())
        rows.append({"method": method, "n": n, "bias": float(err.mean()),
                     "bias_mcse": sd / np.sqrt(n), "bias_z": float(err.mean()) / (sd / np.sqrt(n)),
                     "empirical_sd": sd, "mean_se": float(g["se"].mean()), "coverage": cov,
                     "coverage_mcse": float(np.sqrt(cov * (1 - cov) / n))})
    return pd.DataFrame(rows)


def confounded_sample(seed: int, n: int = 400, log_hr: float = np.log(0.7)
                      ) -> tuple[pd.DataFrame, float, list[str], None]:
    """A confounded two-arm sample whose true marginal HR is ``exp(log_hr)`` exactly.

    Potential times share one uniform ``U``: ``T(0) = -log(U) / lambda`` (exponential)
    and ``T(1) = T(0) / HR`` (exponential with rate ``lambda HR``), so the marginal hazard
    ratio is exactly ``HR``. ``U`` is tied to the covariates through a Gaussian copula
    (older, CKD patients fail earlier) and the same covariates lower the chance of
    treatment: confounding by indication. Used to exercise the code independently of the
    datasets room; the project's validation uses ``mo.simulate_registry``.
    """
    rng = np.random.default_rng(seed)
    age = rng.normal(0, 1, n)
    ckd = (rng.random(n) < 0.3).astype(int)
    # Outcome risk score r; U correlated with r through a Gaussian copula keeps U uniform.
    r = 0.8 * age + 0.9 * ckd
    r = (r - r.mean()) / r.std()
    from scipy.stats import norm
    u = norm.cdf(-0.8 * r + 0.6 * rng.normal(size=n))
    z = rng.random(n) < 1 / (1 + np.exp(-(-0.2 - 0.9 * age - 1.0 * ckd)))
    lam = 1 / 900.0
    t0 = -np.log(u) / lam
    t = t0 * np.exp(-log_hr * z)
    c = rng.uniform(200, 1100, n)
    tte = pd.DataFrame({"arm": z.astype(int), "age": age, "ckd": ckd,
                        "time": np.minimum(t, c), "event": (t <= c).astype(int)})
    return tte, float(np.exp(log_hr)), ["age", "ckd"], None


def registry_sample(seed: int, n_patients: int = 2000, true_hr: float = 0.7,
                    confounding: float = 1.0, horizon: float = 365.0,
                    prognostic: bool = True) -> tuple[pd.DataFrame, float, list[str], None]:
    """One ``mo.simulate_registry`` data set at patient level, MACE censored at
    ``horizon`` (the horizon of ``truth['marginal_hr']``).

    Returns ``(tte, truth['marginal_hr'], covariates, None)``; the propensity covariates
    are the true confounders (plus the purely prognostic covariates, which improve
    precision without adding bias, when ``prognostic``).
    """
    from mace_outcomes.datasets import simulate_registry
    from mace_outcomes.records import time_to_event
    cohort = simulate_registry(n_patients, seed=seed, true_hr=true_hr,
                               confounding=confounding, horizon=horizon)
    tte = time_to_event(cohort, endpoint="mace", horizon=horizon)
    covs = list(cohort.truth["confounders"])
    if prognostic:
        covs += list(cohort.truth["prognostic"])
    tte = tte.assign(arm=(tte["arm"] == cohort.truth["treated"]).astype(int))
    return tte, float(cohort.truth["marginal_hr"]), covs, None
