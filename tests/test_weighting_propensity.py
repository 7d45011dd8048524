"""Propensity scores and weights against R (glm, survey-style weights) on lung / veteran."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.weighting.logistic import logistic_irls, separation

COVARIATES = {"lung": ["age", "ph_ecog", "ph_karno", "wt_loss"],
              "veteran": ["age", "karno", "diagtime", "prior"]}


def load(name):
    return reference_data(name), reference(name)["iptw"]


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_scores_coefficients_and_weights_match_r(name):
    df, ref = load(name)
    ps = mo.propensity(df, "group", COVARIATES[name])
    np.testing.assert_allclose(ps.scores, ref["ps"], rtol=1e-6)
    coef = ps.coef["coef"]
    for term, value in ref["ps_coef"].items():
        assert coef[term] == pytest.approx(value, rel=1e-6)
    for key in ("weights_ate", "weights_ate_stabilized", "weights_att", "weights_ato"):
        np.testing.assert_allclose(ps.all_weights[key], ref[key], rtol=1e-6)
    np.testing.assert_allclose(ps.weights, ref["weights_ate"], rtol=1e-6)
    assert ps.ess[1] == pytest.approx(ref["ess"]["treated"], rel=1e-6)
    assert ps.ess[0] == pytest.approx(ref["ess"]["control"], rel=1e-6)


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_formula_gives_the_same_model(name):
    df, ref = load(name)
    ps = mo.propensity(df, "group", formula=ref["ps_formula"])
    np.testing.assert_allclose(ps.scores, ref["ps"], rtol=1e-6)


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_balance_matches_r(name):
    df, ref = load(name)
    bal = mo.propensity(df, "group", COVARIATES[name]).balance().set_index("covariate")
    z = df["group"].to_numpy()
    for row in ref["balance"]:
        c = row["covariate"]
        smd_u, smd_w = row["smd_unweighted"], row["smd_ate"]
        if bal.loc[c, "type"] == "binary":
            # R's reference uses sd() (n-1 denominator) for every covariate; cobalt uses
            # p(1-p) for binary ones: convert the reference SMD by the ratio of the two
            # pooled SDs, computed here from the data.
            x = df[c].to_numpy()
            p1, p0 = x[z == 1].mean(), x[z == 0].mean()
            n1, n0 = (z == 1).sum(), (z == 0).sum()
            sd_r = np.sqrt((p1 * (1 - p1) * n1 / (n1 - 1) + p0 * (1 - p0) * n0 / (n0 - 1)) / 2)
            sd_cobalt = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
            smd_u, smd_w = smd_u * sd_r / sd_cobalt, smd_w * sd_r / sd_cobalt
        assert bal.loc[c, "smd_unweighted"] == pytest.approx(smd_u, rel=1e-6)
        # weighted SMDs are near 0 (a difference of nearly equal means): absolute tolerance
        # on the SD scale as well, since R's glm stops at a deviance tolerance of 1e-8.
        assert bal.loc[c, "smd_weighted"] == pytest.approx(smd_w, rel=1e-6, abs=1e-8)
        assert bal.loc[c, "balanced"] == (abs(smd_w) < 0.1)


def test_variance_ratio_closed_form():
    df, ref = load("lung")
    w = np.asarray(ref["weights_ate"])
    bal = mo.propensity(df, "group", COVARIATES["lung"]).balance().set_index("covariate")
    z = df["group"].to_numpy() == 1
    x = df["age"].to_numpy(float)
    assert bal.loc["age", "vr_unweighted"] == pytest.approx(
        x[z].var(ddof=1) / x[~z].var(ddof=1), rel=1e-10)

    def wvar(v, ww):  # reliability-weight unbiased variance
        m = np.average(v, weights=ww)
        return (ww * (v - m) ** 2).sum() / (ww.sum() - (ww ** 2).sum() / ww.sum())
    assert bal.loc["age", "vr_weighted"] == pytest.approx(
        wvar(x[z], w[z]) / wvar(x[~z], w[~z]), rel=1e-6)


def test_raw_binary_difference():
    df, _ = load("veteran")
    bal = mo.propensity(df, "group", COVARIATES["veteran"]).balance(binary="raw")
    row = bal.set_index("covariate").loc["prior"]
    z = df["group"] == 1
    assert row["smd_unweighted"] == pytest.approx(df.prior[z].mean() - df.prior[~z].mean())


def test_labels_treated_arm_and_categoricals():
    df, ref = load("lung")
    d = df.assign(arm=np.where(df.group == 1, "OCT", "IVUS"),
                  ecog=df.ph_ecog.map({0: "a", 1: "b", 2: "c", 3: "c"}))
    ps = mo.propensity(d, "arm", ["age", "ph_ecog", "ph_karno", "wt_loss"])
    assert ps.treated == "OCT" and ps.control == "IVUS"
    np.testing.assert_allclose(ps.scores, ref["ps"], rtol=1e-6)
    # a categorical column becomes dummies; same fit as statsmodels on get_dummies
    ps2 = mo.propensity(d, "arm", ["age", "ecog"])
    X = sm.add_constant(pd.get_dummies(d[["age", "ecog"]], drop_first=True, dtype=float))
    sm_fit = sm.Logit(d.group, X).fit(disp=0)
    np.testing.assert_allclose(ps2.scores, sm_fit.predict(X), rtol=1e-6)
    ps3 = mo.propensity(d, "arm", ["age"], treated="IVUS")
    assert ps3.treated == "IVUS"
    np.testing.assert_allclose(ps3.scores, 1 - mo.propensity(d, "arm", ["age"]).scores,
                               rtol=1e-8)


def test_trimming_and_truncation_reported():
    df, ref = load("lung")
    ps_ref = np.asarray(ref["ps"])
    ps = mo.propensity(df, "group", COVARIATES["lung"], trim=0.3)
    kept = (ps_ref >= 0.3) & (ps_ref <= 0.7)
    assert ps.kept.to_numpy().tolist() == kept.tolist()
    assert ps.weights.isna().to_numpy().tolist() == (~kept).tolist()
    assert sum(ps.n_trimmed.values()) == (~kept).sum()
    w = np.asarray(ref["weights_ate"])
    tr = mo.propensity(df, "group", COVARIATES["lung"], truncate=0.9)
    cap = np.quantile(w, 0.9)
    assert tr.truncation_cap == pytest.approx(cap)
    np.testing.assert_allclose(tr.weights, np.minimum(w, cap), rtol=1e-6)
    tv = mo.propensity(df, "group", COVARIATES["lung"], truncate=3.0)
    assert tv.weights.max() == pytest.approx(3.0)
    to = mo.propensity(df, "group", COVARIATES["lung"], estimand="ATO",
                       truncate={"value": 0.5})
    np.testing.assert_allclose(to.weights, np.minimum(ref["weights_ato"], 0.5), rtol=1e-6)
    assert "truncated" in repr(tv)


def test_bad_input_names_column_and_rows():
    df, _ = load("lung")
    d = df.copy()
    d.loc[[3, 7], "age"] = np.nan
    with pytest.raises(mo.InputError, match=r"age.*3, 7"):
        mo.propensity(d, "group", ["age"])
    with pytest.raises(mo.InputError, match="nope"):
        mo.propensity(df, "group", ["nope"])
    with pytest.raises(mo.InputError, match="stabilize"):
        mo.propensity(df, "group", ["age"], estimand="ATT", stabilize=True)
    with pytest.raises(mo.InputError, match="estimand"):
        mo.propensity(df, "group", ["age"], estimand="ATX")


def separated_data():
    # A binary covariate with every x=1 patient in the treated arm: quasi-complete separation.
    rng = np.random.default_rng(3)
    n = 60
    age = rng.normal(70, 8, n)
    ostial = (rng.random(n) < 0.2).astype(float)
    z = np.where(ostial == 1, 1, (rng.random(n) < 0.4).astype(int))
    return pd.DataFrame({"arm": z, "age": age, "ostial": ostial})


def test_separation_warns_and_firth_stays_finite():
    df = separated_data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ps = mo.propensity(df, "arm", ["age", "ostial"])
    kinds = {w.category for w in caught}
    # separation, and the scores at 1 it produces break positivity
    assert kinds == {mo.SeparationWarning, mo.ExtremeWeightWarning}
    assert any("firth=True" in str(w.message) for w in caught)
    assert ps.separation and ps.scores.max() > 1 - 1e-6 and len(ps.warnings) == 2
    with pytest.warns(mo.SeparationWarning, match="Firth"):
        pf = mo.propensity(df, "arm", ["age", "ostial"], firth=True)
    assert np.isfinite(pf.coef["coef"]).all() and pf.scores.max() < 0.999


def test_firth_matches_closed_form_2x2():
    # Logistic model with one binary covariate: Firth's estimate equals the log odds ratio
    # of the table with 1/2 added to every cell (Firth 1993; Heinze & Schemper 2002).
    a, b, c, d = 12, 0, 7, 9   # x=1: 12 treated, 0 control; x=0: 7 treated, 9 control
    x = np.r_[np.ones(a + b), np.zeros(c + d)]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    fit = logistic_irls(np.column_stack([np.ones_like(x), x]), y, firth=True)
    expected = np.log((a + .5) * (d + .5) / ((b + .5) * (c + .5)))
    assert fit["beta"][1] == pytest.approx(expected, rel=1e-8)
    assert fit["beta"][0] == pytest.approx(np.log((c + .5) / (d + .5)), rel=1e-8)
    assert separation(np.column_stack([np.ones_like(x), x]), y) is not None


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_batched_irls_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n = 80
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.random(n) < 0.5])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.2, 0.8, -0.5])))).astype(float)
    f = rng.multinomial(n, np.ones(n) / n, size=3).astype(float)
    fits = logistic_irls(X, y, f)
    for b in range(3):
        keep = f[b] > 0
        Xr, yr = np.repeat(X[keep], f[b][keep].astype(int), 0), np.repeat(y[keep],
                                                                          f[b][keep].astype(int))
        if separation(Xr, yr) is not None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sm.Logit(yr, Xr).fit(disp=0, method="newton", tol=1e-12)
        np.testing.assert_allclose(fits["beta"][b], ref.params, rtol=1e-6, atol=1e-8)


def test_extreme_weight_warning():
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=n)
    z = (rng.random(n) < 1 / (1 + np.exp(-4 * x))).astype(int)
    with pytest.warns(mo.ExtremeWeightWarning, match="positivity"):
        ps = mo.propensity(pd.DataFrame({"z": z, "x": x}), "z", ["x"])
    ov = ps.overlap()
    assert ov["n_extreme"].sum() == ((ps.scores < 0.025) | (ps.scores > 0.975)).sum()
