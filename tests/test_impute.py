"""mo.impute: multiple imputation by chained equations.

Held to properties that must hold for every draw (observed values untouched, predictive
mean matching returns observed values of the 5 nearest donors, binary and categorical
draws stay among the levels, seeds reproduce), to closed forms (Nelson-Aalen by hand,
the moments of the posterior draws of the linear model) and to simulations with a known
truth (MAR missingness: complete-case biased, MI unbiased; the outcome in the models
keeps a Cox coefficient unattenuated, as White & Royston 2009 show).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import reference

import mace_outcomes as mo
from mace_outcomes.errors import InputError, StatisticalWarning
from mace_outcomes.weighting._chained import augment, logistic_fit, norm_draw, pmm_match
from mace_outcomes.weighting.impute import Imputations, nelson_aalen_at

VARIABLES = ["age", "egfr", "diabetes", "sex", "killip", "vessel"]


@cache
def registry(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Mixed covariates, ~20% missing each, ids as the index is not a position."""
    rng = np.random.default_rng(seed)
    age = rng.normal(66, 10, n).round()
    egfr = (110 - 0.6 * age + rng.normal(0, 12, n)).round(1)
    diabetes = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 0.03 * (age - 66))))).astype(float)
    sex = rng.choice(["F", "M"], n)
    killip = pd.Categorical(rng.choice(["I", "II", "III"], n, p=[.6, .3, .1]),
                            categories=["I", "II", "III"], ordered=True)
    vessel = rng.choice(["LAD", "LCX", "RCA"], n)
    t = rng.exponential(900 * np.exp(-0.03 * (age - 66)), n)
    c = rng.uniform(100, 1000, n)
    df = pd.DataFrame({"patient_id": np.arange(101, 101 + n), "arm": rng.choice(["A", "B"], n),
                       "time": np.minimum(t, c).round() + 1, "event": (t <= c).astype(int),
                       "age": age, "egfr": egfr, "diabetes": diabetes, "sex": sex,
                       "killip": killip, "vessel": vessel})
    for col in VARIABLES[1:]:  # age complete: a predictor only
        df.loc[rng.random(n) < 0.2, col] = None
    df.index = 9000 - np.arange(n)
    return df


@cache
def imputed(seed: int = 7) -> Imputations:
    return mo.impute(registry(), variables=VARIABLES, m=4, seed=seed, iterations=3,
                     treatment="arm")


def test_observed_values_are_never_touched():
    df, imp = registry(), imputed()
    assert imp.m == 4 and len(imp.datasets) == 4 and imp.seed == 7
    for d in imp.datasets:
        assert d.index.equals(df.index) and list(d.columns) == list(df.columns)
        assert not d[VARIABLES].isna().any().any()
        for col in df.columns:
            obs = df[col].notna()
            pd.testing.assert_series_equal(d.loc[obs, col], df.loc[obs, col])
    # the imputed rows differ between data sets (between-imputation variance exists)
    miss = df["egfr"].isna()
    assert not imp.datasets[0].loc[miss, "egfr"].equals(imp.datasets[1].loc[miss, "egfr"])


def test_same_seed_same_data_sets_other_seed_other_ones():
    again = mo.impute(registry(), variables=VARIABLES, m=4, seed=7, iterations=3,
                      treatment="arm")
    for a, b in zip(imputed().datasets, again.datasets, strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = imputed(seed=8)
    assert not other.datasets[0].equals(imputed().datasets[0])
    # one child seed per data set: the first data sets of m=1 and m=4 runs agree
    one = mo.impute(registry(), variables=VARIABLES, m=1, seed=7, iterations=3,
                    treatment="arm")
    pd.testing.assert_frame_equal(one.datasets[0], imputed().datasets[0])


def test_imputed_values_are_of_the_variable_kind():
    df, imp = registry(), imputed()
    observed_egfr = set(df["egfr"].dropna())
    for d in imp.datasets:
        miss = df["egfr"].isna()
        assert set(d.loc[miss, "egfr"]) <= observed_egfr  # pmm: donors' observed values
        assert set(d["diabetes"]) <= {0.0, 1.0}
        assert set(d["sex"]) <= {"F", "M"} and set(d["vessel"]) <= {"LAD", "LCX", "RCA"}
        assert d["killip"].dtype == df["killip"].dtype  # ordered, levels in their order
        assert list(d["killip"].cat.categories) == ["I", "II", "III"]
        assert d["killip"].cat.ordered
    s = imp.summary.set_index("variable")
    assert s.loc["age", "n_missing"] == 0 and s.loc["age", "method"] == ""
    assert s.loc["egfr", "n_missing"] == df["egfr"].isna().sum()
    assert s.loc[["egfr", "diabetes", "sex", "killip"], "method"].tolist() == [
        "pmm", "logreg", "logreg", "polyreg"]
    assert imp.table is imp.summary


def test_pmm_draws_one_of_the_five_nearest_donors():
    rng = np.random.default_rng(0)
    yhat_obs = rng.permutation(np.arange(100.0))  # predicted value i belongs to donor i
    y_obs = yhat_obs * 10
    targets = np.array([-3.0, 0.2, 41.6, 57.5, 98.9, 140.0])
    nearest = [{0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, {40, 41, 42, 43, 44}, {55, 56, 57, 58, 59},
               {95, 96, 97, 98, 99}, {95, 96, 97, 98, 99}]
    drawn = np.array([pmm_match(yhat_obs, targets, y_obs, rng) for _ in range(300)]) / 10
    for j, want in enumerate(nearest):
        assert set(drawn[:, j]) == want  # every one of the 5, and no other
    # tied predictions: over calls every tied donor is drawn (ties broken at random, as
    # mice shuffles the donors before sorting); within a call, 5 of the 10 serve
    tied = np.array([pmm_match(np.zeros(10), np.zeros(50), np.arange(10.0), rng)
                     for _ in range(100)])
    assert set(tied.ravel()) == set(range(10))
    assert all(len(set(row)) == 5 for row in tied)


def test_linear_model_parameters_are_drawn_from_their_posterior():
    # beta* ~ N(beta_hat, sigma*^2 (X'X)^-1), sigma*^2 = RSS / chi2_df: mean beta_hat and
    # covariance E[sigma*^2] (X'X)^-1 = RSS / (df - 2) (X'X)^-1 (closed form)
    rng = np.random.default_rng(1)
    n = 30
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = 1 + 2 * x[:, 1] + rng.normal(size=n)
    fit = sm.OLS(y, x).fit()
    draws = np.array([norm_draw(y, x, rng)[1] for _ in range(4000)])
    cov = fit.ssr / (n - 2 - 2) * np.linalg.inv(x.T @ x)
    se = np.sqrt(np.diag(cov) / 4000)
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - fit.params), 4 * se)
    np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.12, atol=0.12 * cov[0, 0])


def test_nelson_aalen_at_each_patients_time_by_hand():
    # times 2 2 3 5 5 8, events 1 0 1 1 1 0: H(2) = 1/6, H(3) = 1/6 + 1/4,
    # H(5) = H(3) + 2/3, H(8) = H(5)
    t = np.array([5.0, 2, 3, 2, 8, 5])
    e = np.array([1, 1, 1, 0, 0, 1])
    h2, h3 = 1 / 6, 1 / 6 + 1 / 4
    np.testing.assert_allclose(nelson_aalen_at(t, e),
                               [h3 + 2 / 3, h2, h3, h2, h3 + 2 / 3, h3 + 2 / 3], rtol=1e-14)


def _rubin(estimates: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """Pooled estimate and total variance: Ubar + (1 + 1/m) B (Rubin 1987)."""
    m = len(estimates)
    return float(estimates.mean()), float(variances.mean()
                                          + (1 + 1 / m) * estimates.var(ddof=1))


@pytest.mark.parametrize("method", ["pmm", "norm"])
def test_mar_confounder_mi_unbiased_complete_case_biased(method):
    # x = z + e, E[x] = 0; y = 1 + 2x + 0.5z + noise; x missing with P = expit(-0.5 + 2z):
    # missing at random given z, so the complete cases have x too low (E[x | obs] < 0)
    rng = np.random.default_rng(2024)
    n = 1000
    z = rng.normal(size=n)
    x = z + rng.normal(size=n)
    y = 1 + 2 * x + 0.5 * z + rng.normal(size=n)
    miss = rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 2 * z)))
    df = pd.DataFrame({"x": np.where(miss, np.nan, x), "y": y, "z": z})
    with pytest.warns(StatisticalWarning, match="outcome is left out"):
        imp = mo.impute(df, variables=["x", "y", "z"], m=10, seed=5, iterations=5,
                        time=None, event=None, method=method)
    means = np.array([d["x"].mean() for d in imp.datasets])
    var_means = np.array([d["x"].var() / n for d in imp.datasets])
    mean, total = _rubin(means, var_means)
    cc = df["x"].dropna()
    cc_se = cc.std() / np.sqrt(cc.size)
    assert abs(mean - 0.0) < 3 * np.sqrt(total)  # MI: within MC error of the truth
    assert cc.mean() < -8 * cc_se  # complete cases: biased far beyond their error
    fits = [sm.OLS(d["y"], sm.add_constant(d[["x", "z"]])).fit() for d in imp.datasets]
    beta, total = _rubin(np.array([f.params["x"] for f in fits]),
                         np.array([f.bse["x"] ** 2 for f in fits]))
    assert abs(beta - 2.0) < 3 * np.sqrt(total)


def test_mar_binary_and_categorical_proportions_recovered():
    # levels depend on z, and are missing more often when z is high (MAR given z): the
    # complete cases under-count the levels that go with high z; logistic and multinomial
    # draws recover the full-data proportions within Rubin's standard error
    rng = np.random.default_rng(99)
    n = 1500
    z = rng.normal(size=n)
    b = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 1.5 * z)))).astype(float)
    eta = np.column_stack([np.zeros(n), 0.3 + 1.2 * z, -0.5 + 2.0 * z])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    cat = np.array(["a", "b", "c"])[(rng.random(n)[:, None] > prob.cumsum(axis=1)[:, :2])
                                    .sum(axis=1)]
    df = pd.DataFrame({"z": z, "b": b, "cat": cat})
    for col in ("b", "cat"):
        df.loc[rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 2.5 * z))), col] = None
    with pytest.warns(StatisticalWarning):
        imp = mo.impute(df, variables=["z", "b", "cat"], m=10, seed=3, iterations=5,
                        time=None, event=None)
    for col, level, full in (("b", 1.0, b), ("cat", "c", cat)):
        p = np.array([(d[col] == level).mean() for d in imp.datasets])
        mean, total = _rubin(p, p * (1 - p) / n)
        truth = float(np.mean(full == level))
        cc = (df[col].dropna() == level).to_numpy()
        assert abs(mean - truth) < 3 * np.sqrt(total)
        assert truth - cc.mean() > 5 * np.sqrt(cc.var() / cc.size)  # biased beyond its SE


def test_outcome_in_the_models_keeps_the_cox_coefficient():
    # log HR of x is 1; x 40% missing completely at random. Imputing without the outcome
    # attenuates it towards 0; with event and H(T) it is unbiased (White & Royston 2009)
    rng = np.random.default_rng(11)
    n = 800
    z = rng.normal(size=n)
    x = 0.5 * z + rng.normal(size=n)
    t = rng.exponential(np.exp(-x) * 500)
    c = rng.uniform(50, 600, n)
    df = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                       "x": np.where(rng.random(n) < 0.4, np.nan, x), "z": z})

    def pooled(imp: Imputations) -> tuple[float, float]:
        fits = [mo.cox(d, covariates=["x", "z"]).summary.loc["x"] for d in imp.datasets]
        return _rubin(np.array([f["coef"] for f in fits]), np.array([f["se"] ** 2
                                                                     for f in fits]))

    with_outcome, total = pooled(mo.impute(df, variables=["x", "z"], m=8, seed=1,
                                           iterations=3))
    with pytest.warns(StatisticalWarning):
        without, _ = pooled(mo.impute(df, variables=["x", "z"], m=8, seed=1, iterations=3,
                                      time=None, event=None))
    assert abs(with_outcome - 1.0) < 3 * np.sqrt(total)
    assert without < 0.85  # attenuated: about 0.6 of the true log HR is retained


def test_leaving_the_outcome_out_warns_and_is_noted():
    df = registry()
    with pytest.warns(StatisticalWarning, match="outcome is left out") as caught:
        imp = mo.impute(df, variables=VARIABLES, m=1, seed=1, iterations=1, time=None,
                        event=None)
    assert str(caught[0].message) in imp.notes
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticalWarning)  # the default takes the outcome
        imp = mo.impute(df, variables=VARIABLES, m=1, seed=1, iterations=1)
    assert any("Nelson-Aalen" in n for n in imp.notes)
    with pytest.warns(StatisticalWarning, match="no cumulative hazard"):
        mo.impute(df, variables=VARIABLES, m=1, seed=1, iterations=1, time=None)


def test_a_drawn_seed_is_recorded_and_reproduces():
    first = mo.impute(registry(), variables=VARIABLES, m=1, iterations=1)
    again = mo.impute(registry(), variables=VARIABLES, m=1, iterations=1, seed=first.seed)
    pd.testing.assert_frame_equal(first.datasets[0], again.datasets[0])


def test_every_input_problem_is_listed_with_patient_ids():
    df = registry().copy()
    df.loc[df.index[[3, 5]], "arm"] = None
    with pytest.raises(InputError) as err:
        mo.impute(df, variables=["age", "bmi", "arm"], treatment="arm", m=0)
    text = str(err.value)
    assert "'bmi'" in text and "m must be" in text and "leave it out of variables" in text
    with pytest.raises(InputError) as err:
        mo.impute(df, variables=["age", "egfr"], treatment="arm")
    ids = [df["patient_id"].iloc[3], df["patient_id"].iloc[5]]
    assert err.value.problems[0].rows == tuple(ids)  # patient ids, not positions
    const = registry().assign(flag=1.0)
    with pytest.raises(InputError, match="at least 2 distinct"):
        mo.impute(const, variables=["age", "flag"])


@pytest.mark.parametrize("case,outcome", [("fit", "y"), ("fit_sep", "sep")])
def test_augmented_logistic_fit_matches_mice(case, outcome):
    # R mice 3.15: mice:::augment pseudo-rows, then glm.fit(quasibinomial) with their
    # weights and summary.glm's cov.unscaled, as mice.impute.logreg (tests/reference/impute.R)
    ref = reference("impute")
    x = np.column_stack([np.ones(40), np.array(ref["x"])])
    y = np.array(ref[outcome], dtype=float)
    want = ref[case]
    x_aug, y_aug, w = augment(x, y, 2)
    np.testing.assert_allclose(x_aug[40:, 1:], want["aug_x"], rtol=1e-12)
    np.testing.assert_array_equal(y_aug[40:], want["aug_y"])
    np.testing.assert_allclose(w[40:], want["aug_w"], rtol=1e-12)
    coef, cov, _ = logistic_fit(y, x)
    np.testing.assert_allclose(coef, want["coef"], rtol=1e-8)
    np.testing.assert_allclose(cov, want["cov_unscaled"], rtol=1e-8)
