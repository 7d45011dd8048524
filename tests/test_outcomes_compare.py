"""compare_outcome and the imaging definitions, against scipy, statsmodels and closed forms."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mace_outcomes as mo
from mace_outcomes.outcomes import expansion_thresholds, hodges_lehmann


# ----------------------------------------------------------------------------- imaging
def test_stent_expansion_definitions_closed_form():
    d = pd.DataFrame({"minimum_stent_area_mm2": [6.0, 5.0],
                      "proximal_ref_lumen_csa_mm2": [8.0, 9.0],
                      "distal_ref_lumen_csa_mm2": [6.0, 5.0],
                      "pos": [0.5, 0.25]})
    np.testing.assert_allclose(mo.stent_expansion(d), [600 / 7, 500 / 7])
    np.testing.assert_allclose(mo.stent_expansion(d, definition="distal_reference"),
                               [100.0, 100.0])
    np.testing.assert_allclose(
        mo.stent_expansion(d, definition="tapered_reference", msa_position="pos"),
        [600 / 7, 500 / (0.75 * 9 + 0.25 * 5)])
    assert mo.stent_expansion(d).attrs["units"] == "%"
    flags = expansion_thresholds(mo.stent_expansion(d), (80, 90))
    assert flags["expansion_ge_80"].tolist() == [1, 0]
    assert flags["expansion_ge_90"].tolist() == [0, 0]


def test_stent_expansion_names_bad_rows():
    d = pd.DataFrame({"minimum_stent_area_mm2": [6.0, -1.0, 5.0],
                      "proximal_ref_lumen_csa_mm2": [8.0, 9.0, np.nan],
                      "distal_ref_lumen_csa_mm2": [6.0, 5.0, 5.0]})
    with pytest.raises(mo.InputError) as info:
        mo.stent_expansion(d)
    found = {(p.column, p.rows) for p in info.value.problems}
    assert ("minimum_stent_area_mm2", (1,)) in found
    assert ("proximal_ref_lumen_csa_mm2", (2,)) in found


# ----------------------------------------------------------------------------- crude
def _two_arms(rng, n1=40, n0=60, shift=5.0, skew=False):
    if skew:
        y = np.r_[rng.exponential(10, n1) + shift, rng.exponential(10, n0)]
    else:
        y = np.r_[rng.normal(80 + shift, 8, n1), rng.normal(80, 8, n0)]
    return pd.DataFrame({"arm": ["OCT"] * n1 + ["IVUS"] * n0, "y": y})


def test_crude_continuous_is_scipy_t_test():
    df = _two_arms(np.random.default_rng(1))
    row = mo.compare_outcome(df, "y").table.iloc[0]
    x1, x0 = df.y[df.arm == "OCT"], df.y[df.arm == "IVUS"]
    ref = stats.ttest_ind(x1, x0)
    assert row["analysis"] == "crude" and "Student" in row["method"]
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert row["estimate"] == pytest.approx(x1.mean() - x0.mean(), rel=1e-12)
    ci = ref.confidence_interval()
    assert (row["lower"], row["upper"]) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_crude_skewed_uses_mann_whitney_and_hodges_lehmann():
    df = _two_arms(np.random.default_rng(2), skew=True)
    row = mo.compare_outcome(df, "y").table.iloc[0]
    x1, x0 = df.y[df.arm == "OCT"].to_numpy(), df.y[df.arm == "IVUS"].to_numpy()
    assert "Mann-Whitney" in row["method"]
    assert row["p"] == pytest.approx(stats.mannwhitneyu(x1, x0).pvalue, rel=1e-12)
    # closed form: the median of all pairwise differences
    assert row["estimate"] == pytest.approx(np.median(np.subtract.outer(x1, x0)), rel=1e-12)
    assert row["lower"] < row["estimate"] < row["upper"]


def test_hodges_lehmann_ci_matches_bisection_for_large_samples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(1, 1, 300), rng.normal(0, 1, 200)
    est, lo, hi = hodges_lehmann(x, y)
    from mace_outcomes.outcomes.compare import _kth_difference
    d = np.sort(np.subtract.outer(x, y).ravel())
    for r in (0, 1234, len(d) // 2, len(d) - 1):
        assert _kth_difference(np.sort(x), np.sort(y), r) == pytest.approx(d[r], abs=1e-9)
    # exact CI coverage of the shift by order statistics of the differences
    assert lo < 1.0 < hi and lo < est < hi


def test_crude_binary_fisher_when_expected_small():
    # the seed study's 1-year MACE: 1/32 vs 3/47 patients
    df = pd.DataFrame({"arm": ["OCT"] * 32 + ["IVUS"] * 47,
                       "mace": [1] + [0] * 31 + [1] * 3 + [0] * 44})
    res = mo.compare_outcome(df, "mace")
    rd = res.table.set_index("measure").loc["risk difference"]
    assert rd["p"] == pytest.approx(stats.fisher_exact([[1, 31], [3, 44]]).pvalue, rel=1e-12)
    assert rd["p"] == pytest.approx(0.643, abs=5e-4)  # what the paper should have printed
    assert rd["estimate"] == pytest.approx(1 / 32 - 3 / 47)
    assert "Fisher" in rd["method"]


def test_crude_binary_chi_square_and_wald_ratios():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"arm": np.repeat(["A", "B"], 200),
                       "y": np.r_[rng.random(200) < 0.4, rng.random(200) < 0.25].astype(int)})
    tab = res_tab = mo.compare_outcome(df, "y", treated="A").table.set_index("measure")
    a = df.y[df.arm == "A"].sum()
    c = df.y[df.arm == "B"].sum()
    ref = stats.chi2_contingency([[a, 200 - a], [c, 200 - c]], correction=False)
    assert tab.loc["risk difference", "p"] == pytest.approx(ref.pvalue, rel=1e-12)
    ci = stats.contingency.relative_risk(a, 200, c, 200).confidence_interval()
    assert (res_tab.loc["risk ratio", "lower"], res_tab.loc["risk ratio", "upper"]) == \
        pytest.approx((ci.low, ci.high), rel=1e-10)
    odds = stats.contingency.odds_ratio([[a, 200 - a], [c, 200 - c]], kind="sample")
    assert tab.loc["odds ratio", "estimate"] == pytest.approx(odds.statistic, rel=1e-12)


def test_bad_input_is_named():
    df = pd.DataFrame({"arm": ["A", "B", None], "y": [1.0, np.nan, 2.0]})
    with pytest.raises(mo.InputError) as info:
        mo.compare_outcome(df, "y")
    cols = {(p.column, p.rows) for p in info.value.problems}
    assert ("arm", (2,)) in cols and ("y", (1,)) in cols
    with pytest.raises(mo.InputError, match="exactly two arms"):
        mo.compare_outcome(pd.DataFrame({"arm": ["A", "B", "C"], "y": [1.0, 2, 3]}), "y")
