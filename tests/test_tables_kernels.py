"""Kernels of the tables room against scipy.stats, R and closed forms."""

import math

import numpy as np
import pytest
from conftest import reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mace_outcomes import _stats as k

small_2x2 = st.lists(st.integers(0, 25), min_size=4, max_size=4).map(
    lambda v: np.array(v).reshape(2, 2))


@settings(max_examples=60, deadline=None)
@given(small_2x2)
def test_fisher_2x2_equals_scipy(t):
    assert k.fisher_exact_rxc(t)[0] == pytest.approx(stats.fisher_exact(t)[1], rel=1e-9)


def test_fisher_freeman_halton_equals_r():
    # R 4.x: fisher.test(matrix(c(1,3,1,5,0,1,2,6,1,0,2,7), 3))$p.value
    r = reference("spot_checks")["fisher"]
    t = np.array([[1, 5, 2, 0], [3, 0, 6, 2], [1, 1, 1, 7]])
    p, how = k.fisher_exact_rxc(t)
    assert how == "exact"
    assert p == pytest.approx(r["rxc_3x4"], rel=1e-8)
    # fisher.test(matrix(c(1,23,1,8,5,33,5,8), 4))$p.value  (4 x 2, transposed internally)
    p2, _ = k.fisher_exact_rxc(np.array([[1, 5], [23, 33], [1, 5], [8, 8]]))
    assert p2 == pytest.approx(r["rxc_4x2"], rel=1e-8)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=6, max_size=6))
def test_fisher_rxc_invariant_to_transpose_and_permutation(v):
    t = np.array(v).reshape(2, 3)
    p = k.fisher_exact_rxc(t)[0]
    assert k.fisher_exact_rxc(t.T)[0] == pytest.approx(p, rel=1e-9)
    assert k.fisher_exact_rxc(t[:, ::-1])[0] == pytest.approx(p, rel=1e-9)
    assert 0 < p <= 1


def test_fisher_monte_carlo_fallback_close_to_exact():
    t = np.array([[1, 5, 2, 0], [3, 0, 6, 2], [1, 1, 1, 7]])
    exact, _ = k.fisher_exact_rxc(t)
    p, how = k.fisher_exact_rxc(t, max_tables=10, n_sim=20_000, seed=7)
    assert how.startswith("monte-carlo") and "seed=7" in how
    # binomial SE of a Monte-Carlo p near 0.001 with 20000 draws is ~0.00022
    assert abs(p - exact) < 5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=6, max_size=6), st.booleans())
def test_pearson_chi2_equals_scipy(v, yates):
    t = np.array(v).reshape(2, 3) if not yates else np.array(v[:4]).reshape(2, 2)
    x2, dof, p = k.pearson_chi2(t, yates=yates)
    ref = stats.chi2_contingency(t, correction=yates)
    assert x2 == pytest.approx(ref[0], rel=1e-9, abs=1e-12)
    assert dof == ref[2]
    assert p == pytest.approx(ref[1], rel=1e-9)


def test_paper_mace_uncorrected_chi2_and_fisher():
    # Table 4: MACE at 1 year 1/32 (OCT) vs 3/47 (IVUS), printed p = 0.517
    t = np.array([[1, 31], [3, 44]])
    assert (k.expected_counts(t) < 5).any()
    assert k.pearson_chi2(t)[2] == pytest.approx(stats.chi2_contingency(t, correction=False)[1])
    assert round(k.pearson_chi2(t)[2], 3) == 0.517
    assert round(k.fisher_exact_rxc(t)[0], 3) == 0.643
    assert k.fisher_exact_rxc(t)[0] == pytest.approx(stats.fisher_exact(t)[1], rel=1e-9)


moments = st.tuples(st.floats(-50, 50), st.floats(0.1, 20), st.integers(3, 200))


@settings(max_examples=80, deadline=None)
@given(moments, moments, st.booleans())
def test_t_from_stats_equals_scipy(a, b, equal_var):
    t, _, p = k.t_test_from_stats(*a, *b, equal_var=equal_var)
    ref = stats.ttest_ind_from_stats(*a, *b, equal_var=equal_var)
    assert t == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)


def test_t_test_and_levene_equal_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 30), rng.normal(0.5, 3, 40)
    for ev in (True, False):
        assert k.t_test(x, y, ev)[2] == pytest.approx(stats.ttest_ind(x, y, equal_var=ev).pvalue)
    assert k.levene_mean(x, y) == pytest.approx(stats.levene(x, y, center="mean").pvalue)


def test_weighted_mean_var_unit_weights_and_replication():
    rng = np.random.default_rng(4)
    x = rng.normal(size=25)
    m, v = k.weighted_mean_var(x, np.ones(25))
    assert m == pytest.approx(x.mean()) and v == pytest.approx(x.var(ddof=1))
    # integer weights: the weighted mean equals the mean of the replicated sample
    w = rng.integers(1, 4, 25)
    m2, _ = k.weighted_mean_var(x, w)
    assert m2 == pytest.approx(np.repeat(x, w).mean())


def test_weighted_quantiles():
    x = np.array([5.0, 1, 3, 2, 4, 6])
    assert k.weighted_quantiles(x, [0.5], np.ones(6))[0] == pytest.approx(np.median(x))
    # integer weights = replicated sample: median of [1,1,1,2,3,4,5,6,6,6] is 3.5
    w = np.array([1, 3, 1, 1, 1, 3])
    assert k.weighted_quantiles(x, [0.5], w)[0] == pytest.approx(
        np.median(np.repeat(x, w)))
    assert np.allclose(k.weighted_quantiles(x, [0.25, 0.75]), np.quantile(x, [0.25, 0.75]))


def test_smd_closed_forms():
    # binary: |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)
    p1, p2 = 0.3, 0.55
    expect = abs(p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert k.smd_categorical([1 - p1, p1], [1 - p2, p2]) == pytest.approx(expect)
    assert k.smd_continuous(10, 4, 12, 9) == pytest.approx(2 / math.sqrt(6.5))
    assert k.smd_categorical([1, 0], [0, 1]) == math.inf


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.05, 1), min_size=3, max_size=3),
       st.lists(st.floats(0.05, 1), min_size=3, max_size=3))
def test_smd_categorical_does_not_depend_on_reference_level(a, b):
    p = np.array(a) / sum(a)
    q = np.array(b) / sum(b)
    s = k.smd_categorical(p, q)
    for perm in ([1, 0, 2], [2, 1, 0]):
        assert k.smd_categorical(p[perm], q[perm]) == pytest.approx(s, rel=1e-6, abs=1e-9)


def test_format_p():
    assert k.format_p(0.0004) == "<0.001"
    assert k.format_p(0.0516) == "0.052"
    assert k.format_p(0.001) == "0.001"
    assert k.format_p(1.0) == "1.000"
    assert k.format_p(float("nan")) == ""


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_design_tests_with_unit_weights_reduce_to_classical_forms(seed):
    rng = np.random.default_rng(seed)
    n = 40
    y = rng.normal(size=n)
    g = np.r_[np.ones(15), np.zeros(25)]
    # unit weights: the sandwich variance is the ddof=0 Welch variance times n/(n-1)
    t, df, _ = k.design_t_test(y, g, np.ones(n))
    welch = stats.ttest_ind(y[g == 1], y[g == 0], equal_var=False)
    v1, v0 = y[g == 1].var(ddof=0) / 15, y[g == 0].var(ddof=0) / 25
    assert t * math.sqrt(n / (n - 1)) == pytest.approx(
        (y[g == 1].mean() - y[g == 0].mean()) / math.sqrt(v1 + v0), rel=1e-9)
    assert df == n - 2 and np.sign(t) == np.sign(welch.statistic)
    # unit weights: the linearised cell variance is the multinomial one times n/(n-1), so
    # Delta = n/(n-1) I, d0 = df and F = X^2 / (df n/(n-1)) exactly
    rows = rng.integers(0, 3, n)
    rows[:3] = [0, 1, 2]
    rows[15:18] = [0, 1, 2]
    f, d0, p = k.rao_scott_f(rows, g.astype(int), np.ones(n))
    tab = np.array([[np.sum((rows == i) & (g == j)) for j in (0, 1)] for i in range(3)])
    x2 = stats.chi2_contingency(tab, correction=False)[0]
    assert d0 == pytest.approx(2, rel=1e-9)
    assert f * 2 * n / (n - 1) == pytest.approx(x2, rel=1e-9)
    assert p == pytest.approx(stats.f.sf(f, 2, 2 * (n - 1)), rel=1e-9)


def test_fisher_two_row_network_equals_r_on_larger_tables():
    # R: fisher.test(matrix(c(60,70,50,40,40,35,30,25,2,3,1,0), 2), workspace = 2e8)
    r = reference("spot_checks")["fisher"]
    p, how = k.fisher_exact_rxc(np.array([[60, 50, 40, 30, 2, 1], [70, 40, 35, 25, 3, 0]]))
    assert how == "exact" and p == pytest.approx(r["two_row_2x6"], rel=1e-8)
    # fisher.test(matrix(c(500,480,300,320,150,140,3,9), 2), workspace = 2e8)
    p, how = k.fisher_exact_rxc(np.array([[500, 300, 150, 3], [480, 320, 140, 9]]))
    assert how == "exact" and p == pytest.approx(r["two_row_2x4"], rel=1e-8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=8, max_size=8))
def test_fisher_two_row_network_equals_full_enumeration(v):
    t = np.array(v).reshape(2, 4)
    t = k.drop_empty(t)
    if t.shape[0] < 2 or t.shape[1] < 2:
        return
    net = k._fisher_two_rows(t, 10**7)
    # brute force over every first row with the observed margins
    from itertools import product

    from scipy import special

    rows, cols = t.sum(axis=1), t.sum(axis=0)
    lf = special.gammaln
    const = lf(rows + 1).sum() + lf(cols + 1).sum() - lf(rows.sum() + 1)
    obs = const - lf(t + 1).sum()
    brute = 0.0
    for x in product(*[range(c + 1) for c in cols]):
        x = np.array(x)
        if x.sum() == rows[0]:
            lp = const - lf(x + 1).sum() - lf(cols - x + 1).sum()
            brute += np.exp(lp) if lp <= obs + 1e-7 else 0.0
    assert net == pytest.approx(min(brute, 1.0), rel=1e-9, abs=1e-14)
