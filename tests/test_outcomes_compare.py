"""compare_outcome and the imaging definitions, against scipy, statsmodels and closed forms."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
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


# ----------------------------------------------------------------------------- adjusted
def _lesion_data(rng, n_patients=300, effect=7.0):
    """Lesions nested in patients, device chosen by indication (known true effect)."""
    n_les = rng.integers(1, 3, n_patients)
    pid = np.repeat(np.arange(n_patients), n_les)
    renal = rng.random(n_patients) < 0.35
    ostial = rng.random(len(pid)) < 0.3
    ostial_any = np.bincount(pid, weights=ostial) > 0
    p_oct = 1 / (1 + np.exp(-(0.6 - 1.2 * renal - 1.0 * ostial_any)))
    oct_ = rng.random(n_patients) < p_oct
    u = rng.normal(0, 3, n_patients)  # patient effect: lesions of a patient correlate
    y = (75 + effect * oct_[pid] - 6 * renal[pid] - 5 * ostial + u[pid]
         + rng.normal(0, 6, len(pid)))
    return pd.DataFrame({"patient_id": pid, "arm": np.where(oct_[pid], "OCT", "IVUS"),
                         "renal": renal[pid].astype(int), "ostial": ostial.astype(int),
                         "y": y})


def test_regression_and_weighted_rows_equal_statsmodels_and_hand_sandwich():
    df = _lesion_data(np.random.default_rng(5))
    res = mo.compare_outcome(df, "y", covariates=["renal", "ostial"], cluster="patient_id")
    tab = res.table.set_index("analysis")
    t = (df.arm == "OCT").astype(float).to_numpy()
    x = sm.add_constant(np.c_[t, df[["renal", "ostial"]].to_numpy(float)])
    ols = sm.OLS(df.y.to_numpy(), x).fit(cov_type="cluster",
                                         cov_kwds={"groups": df.patient_id.to_numpy()})
    assert tab.loc["regression", "estimate"] == pytest.approx(ols.params[1], rel=1e-10)
    assert tab.loc["regression", "p"] == pytest.approx(ols.pvalues[1], rel=1e-8)

    # IPTW-ATE: propensity by a logistic fit written here, the sandwich by hand
    xp = sm.add_constant(df[["renal", "ostial"]].to_numpy(float))
    e = sm.Logit(t, xp).fit(disp=0).predict(xp)
    w = np.where(t == 1, 1 / e, 1 / (1 - e))
    xt = np.c_[np.ones_like(t), t]
    bread = np.linalg.inv(xt.T @ (w[:, None] * xt))
    beta = bread @ xt.T @ (w * df.y.to_numpy())
    resid = df.y.to_numpy() - xt @ beta
    scores = pd.DataFrame(xt * (w * resid)[:, None]).groupby(df.patient_id.to_numpy()).sum()
    g, n = len(scores), len(df)
    meat = scores.to_numpy().T @ scores.to_numpy()
    cov = bread @ meat @ bread * g / (g - 1) * (n - 1) / (n - 2)
    se = np.sqrt(cov[1, 1])
    row = tab.loc["IPTW-ATE"]
    assert row["estimate"] == pytest.approx(beta[1], rel=1e-8)
    z = stats.norm.ppf(0.975)
    assert (row["upper"] - row["lower"]) / (2 * z) == pytest.approx(se, rel=1e-6)


def test_adjusted_estimates_recover_truth_where_crude_does_not():
    """Simulation with a known effect (7 points): bias and 95% coverage over replicates."""
    rng = np.random.default_rng(20261123)
    est = {"crude": [], "IPTW-ATE": [], "AIPW": []}
    cover = {"IPTW-ATE": 0, "AIPW": 0, "regression": 0}
    reps = 60
    for _ in range(reps):
        df = _lesion_data(rng)
        tab = mo.compare_outcome(df, "y", covariates=["renal", "ostial"],
                                 cluster="patient_id", nonnormal=False).table
        tab = tab.set_index("analysis")
        for k in est:
            est[k].append(tab.loc[k, "estimate"])
        for k in cover:
            cover[k] += tab.loc[k, "lower"] <= 7.0 <= tab.loc[k, "upper"]
    crude_bias = np.mean(est["crude"]) - 7.0
    assert crude_bias > 1.5  # OCT went to the easier patients and lesions
    for k in ("IPTW-ATE", "AIPW"):
        se_mean = np.std(est[k]) / np.sqrt(reps)
        assert abs(np.mean(est[k]) - 7.0) < 4 * se_mean + 0.1
    for k, c in cover.items():
        assert 0.85 <= c / reps <= 1.0, (k, c / reps)


def test_bundled_cohort_reproduces_the_primary_endpoint():
    """Paper: stent expansion 82 +- 8 % (OCT, 33 lesions) vs 75 +- 9 % (IVUS, 51), p = 0.001."""
    cohort = mo.load_example()
    lesions = cohort.lesions.merge(cohort.patients[["patient_id", "arm"]], on="patient_id")
    lesions["stent_expansion"] = mo.stent_expansion(lesions)
    row = mo.compare_outcome(lesions, "stent_expansion").table.iloc[0]
    x1 = lesions.loc[lesions.arm == "OCT", "stent_expansion"]
    x0 = lesions.loc[lesions.arm == "IVUS", "stent_expansion"]
    assert (len(x1), len(x0)) == (33, 51)
    assert (round(x1.mean()), round(x1.std())) == (82, 8)
    assert (round(x0.mean()), round(x0.std())) == (75, 9)
    assert "Student" in row["method"]  # the paper's stated test for normal data
    assert row["p"] == pytest.approx(stats.ttest_ind(x1, x0).pvalue, rel=1e-12)
    # the printed p is reachable from the printed (rounded) summaries by the same test
    ps = [stats.ttest_ind_from_stats(m1, s1, 33, m0, s0, 51).pvalue
          for m1 in (81.5, 82.5) for s1 in (7.5, 8.5) for m0 in (74.5, 75.5)
          for s0 in (8.5, 9.5)]
    assert min(ps) <= 0.001 <= max(ps)
    assert min(ps) <= row["p"] <= max(ps)


def test_weighted_ratios_equal_robust_weighted_glms():
    """Weighted RR / OR rows equal Poisson (log link) / logistic GLMs with HC0 sandwich SEs."""
    rng = np.random.default_rng(8)
    n = 400
    renal = rng.random(n) < 0.4
    t = rng.random(n) < np.where(renal, 0.3, 0.6)
    y = (rng.random(n) < 0.2 + 0.15 * t - 0.1 * renal + 0.1).astype(int)
    df = pd.DataFrame({"arm": np.where(t, "OCT", "IVUS"), "renal": renal.astype(int), "y": y})
    tab = mo.compare_outcome(df, "y", covariates=["renal"]).table
    tab = tab[tab.analysis == "IPTW-ATE"].set_index("measure")
    xp = sm.add_constant(df[["renal"]].to_numpy(float))
    e = sm.Logit(t.astype(float), xp).fit(disp=0).predict(xp)
    w = np.where(t, 1 / e, 1 / (1 - e))
    xt = sm.add_constant(t.astype(float))
    z = stats.norm.ppf(0.975)
    for measure, family in (("risk ratio", sm.families.Poisson()),
                            ("odds ratio", sm.families.Binomial())):
        g = sm.GLM(y, xt, family=family, var_weights=w).fit(cov_type="HC0")
        assert tab.loc[measure, "estimate"] == pytest.approx(np.exp(g.params[1]), rel=1e-8)
        se = (np.log(tab.loc[measure, "upper"]) - np.log(tab.loc[measure, "lower"])) / (2 * z)
        assert se == pytest.approx(g.bse[1], rel=1e-6)
