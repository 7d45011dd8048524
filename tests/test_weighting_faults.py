"""Separation in the propensity model, and the bootstrap's memory: the arms' overlap told
in the user's terms (hand-built cross tables are the truth), and bootstrap replicates
streamed in blocks (results independent of the block size; SEs against closed forms)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.weighting import bootstrap as boot
from mace_outcomes.weighting.batch import layout
from mace_outcomes.weighting.logistic import separation

# -- separation ----------------------------------------------------------------------------


def cohort(n=200, seed=0, quasi=False):
    """Every left-main patient had IVUS; without left main, OCT (complete separation) or
    either device (quasi-complete)."""
    rng = np.random.default_rng(seed)
    lm = (rng.random(n) < 0.25).astype(int)
    other = np.where(rng.random(n) < 0.5, "OCT", "IVUS") if quasi else "OCT"
    t = rng.exponential(900, n)
    c = rng.uniform(240, 1080, n)
    return pd.DataFrame({"patient_id": np.arange(1001, 1001 + n),
                         "arm": np.where(lm == 1, "IVUS", other), "age": rng.normal(70, 8, n),
                         "any_left_main": lm, "time": np.round(np.minimum(t, c)),
                         "event": (t <= c).astype(int)})


def test_complete_separation_is_an_input_error_naming_the_covariate():
    df = cohort()
    # the truth, by hand: left main <=> IVUS
    assert (pd.crosstab(df.any_left_main, df.arm).to_numpy() == 0).sum() == 2
    for call in (lambda: mo.propensity(df, "arm", ["age", "any_left_main"]),
                 lambda: mo.compare_arms(df, "arm", ["age", "any_left_main"])):
        with pytest.raises(mo.InputError) as err:
            call()
        text = str(err.value)
        assert "any_left_main = 1" in text and "is IVUS" in text and "restrict" in text
        assert "complete separation" in text and "_weight" not in text
        assert err.value.problems[0].column == "any_left_main"
    for est in ("ATT", "ATO"):
        with pytest.raises(mo.InputError, match="any_left_main"):
            mo.compare_arms(df, "arm", ["age", "any_left_main"], estimand=est)


def test_complete_separation_by_a_threshold_and_by_a_combination():
    rng = np.random.default_rng(1)
    n = 100
    age = rng.normal(70, 8, n)
    df = pd.DataFrame({"arm": (age > 72).astype(int), "age": age})
    with pytest.raises(mo.InputError, match=r"every 1 patient has age >= .*every 0 patient"):
        mo.propensity(df, "arm", ["age"])
    # neither covariate alone separates, their sum does
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    df = pd.DataFrame({"arm": (x1 + x2 > 0).astype(int), "x1": x1, "x2": x2})
    assert x1[df.arm == 1].min() < x1[df.arm == 0].max()
    assert x2[df.arm == 1].min() < x2[df.arm == 0].max()
    with pytest.raises(mo.InputError, match=r"a combination of x1, x2 predicts the arm of "
                                            r"100 patients"):
        mo.propensity(df, "arm", ["x1", "x2"])


def test_firth_does_not_rescue_complete_separation():
    # Firth's scores stay near 0 / 1 without overlap: every ATE weight ~1, ESS ~ n, a
    # false picture of balance, so complete separation is refused with firth=True too.
    df = cohort(seed=2)
    with pytest.raises(mo.InputError, match="complete separation.*any_left_main"):
        mo.propensity(df, "arm", ["age", "any_left_main"], firth=True)


def test_quasi_complete_separation_warns_naming_the_covariate_and_patients():
    df = cohort(n=300, seed=3, quasi=True)
    lm = df.any_left_main.to_numpy() == 1
    assert (df.arm[lm] == "IVUS").all() and df.arm[~lm].nunique() == 2
    with pytest.warns(mo.SeparationWarning) as rec:
        ps = mo.propensity(df, "arm", ["age", "any_left_main"])
    msg = " ".join(str(w.message) for w in rec if w.category is mo.SeparationWarning)
    assert "quasi-complete" in msg and f"any_left_main = 1 ({lm.sum()} patients) is IVUS" in msg
    # rows are named by patient_id, never by position
    assert str(df.patient_id[lm].iloc[0]) in msg and "firth=True" in msg
    # the separated patients are exactly the left-main ones (the LP's answer vs the table)
    np.testing.assert_array_equal(ps.separated_rows.to_numpy(), lm)
    assert separation(np.column_stack([np.ones(len(df)), df.age, lm]),
                      (df.arm == "OCT").to_numpy()) is not None
    # their weight is ~1 and said to be; every other one is a real IPTW weight
    assert ps.weights[lm].between(1 - 1e-6, 1 + 1e-6).all() and ps.weights[~lm].min() > 1.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        cmp = mo.compare_arms(df, "arm", ["age", "any_left_main"])
    assert list(cmp.table.analysis) == ["crude", "IPTW-ATE", "overlap"]
    assert np.isfinite(cmp.table.hr).all()
    assert any("quasi-complete" in n for n in cmp.notes)


def test_exact_zero_overlap_weights_leave_like_trimmed_rows():
    # Left-main patients: OCT exactly when older than 72 (a column that is 0 otherwise);
    # the others: either device. Maximum likelihood drives those scores to exactly 0 / 1
    # in double precision, where the overlap weight is exactly 0.
    df = cohort(n=300, seed=4, quasi=True)
    lm = df.any_left_main == 1
    df["lm_age"] = np.where(lm, df.age - 72, 0.0)
    df.loc[lm, "arm"] = np.where(df.lm_age[lm] > 0, "OCT", "IVUS")
    with pytest.warns(mo.SeparationWarning, match=f"{int(lm.sum())} patient"):
        ps = mo.propensity(df, "arm", ["lm_age"], estimand="ATO")
    zero = ps.all_weights["weights_ato"].to_numpy() == 0
    assert zero.any() and not ps.kept[zero].any() and ps.weights[ps.kept].gt(0).all()
    np.testing.assert_array_equal(ps.separated_rows, lm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        cmp = mo.compare_arms(df, "arm", ["lm_age"])
    assert np.isfinite(cmp.table.set_index("analysis").loc["overlap", "hr"])


@st.composite
def arms_and_covariates(draw):
    n = draw(st.integers(30, 120))
    seed = draw(st.integers(0, 2 ** 31))
    kind = draw(st.sampled_from(["random", "complete", "quasi"]))
    rng = np.random.default_rng(seed)
    b = (rng.random(n) < draw(st.floats(0.2, 0.8))).astype(int)
    x = np.round(rng.normal(size=n), 1)
    lp = draw(st.floats(-1, 1)) + draw(st.floats(-3, 3)) * b + draw(st.floats(-3, 3)) * x
    z = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    if kind == "complete":
        z = b.copy()
    elif kind == "quasi":
        z = np.where(b == 1, 1, z)
    if z.min() == z.max():
        z[0] = 1 - z[0]
    return pd.DataFrame({"z": z, "b": b, "x": x})


@settings(max_examples=60, deadline=None, derandomize=True)
@given(arms_and_covariates())
def test_returned_weights_never_look_perfectly_balanced(df):
    # Kish: ESS <= n per arm, with equality only for equal weights; ATE weights are equal
    # within an arm only if the scores are, so ESS = n means constant scores.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mo.StatisticalWarning)
            ps = mo.propensity(df, "z", ["b", "x"])
    except mo.InputError as exc:
        assert "separation" in str(exc)
        return
    keep = ps.kept.to_numpy()
    n = int(keep.sum())
    ess = sum(ps.ess.values())
    assert ess <= n * (1 + 1e-12)
    if np.ptp(ps.scores[keep]) > 1e-6:
        assert ess < n * (1 - 1e-6)


# -- bootstrap in blocks -----------------------------------------------------------------

def lesions(seed=0, n_pat=60):
    rng = np.random.default_rng(seed)
    pid = np.r_[np.arange(n_pat), rng.choice(n_pat, 8, replace=False)]
    age = rng.normal(69, 9, n_pat)[pid]
    ckd = (rng.random(n_pat) < 0.3)[pid].astype(int)
    arm = rng.random(len(pid)) < 1 / (1 + np.exp(-(0.2 - 0.04 * (age - 69) - 0.7 * ckd)))
    t = rng.exponential(900, len(pid))
    c = rng.uniform(240, 1080, len(pid))
    return pd.DataFrame({"patient_id": pid, "arm": np.where(arm, "OCT", "IVUS"), "age": age,
                         "ckd": ckd, "time": np.round(np.minimum(t, c)),
                         "event": (t <= c).astype(int)})


def run(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        return mo.bootstrap(df, "arm", ["age", "ckd"], cluster="patient_id", n_boot=21,
                            seed=5, progress=False, **kw)


def test_replicates_do_not_depend_on_the_block_size():
    df = lesions()
    ref = run(df, chunk_size=21)
    for size in (1, 7):
        other = run(df, chunk_size=size)
        # the same resamples, fitted alone or in company: equal to rounding
        np.testing.assert_allclose(other.replicates.to_numpy(float),
                                   ref.replicates.to_numpy(float), rtol=1e-9, atol=1e-12)
    # a replicate's counts come from its own seed, whatever block draws them
    seeds = np.random.SeedSequence(5).spawn(21)
    whole = boot.draw_counts(seeds, 60)
    np.testing.assert_array_equal(boot.draw_counts(seeds[7:14], 60), whole[7:14])
    assert (whole.sum(1) == 60).all()


def test_small_memory_budget_streams_several_blocks(monkeypatch):
    df = lesions(1)
    sizes = []
    real = boot._chunk

    def spy(seeds, *a, **k):
        sizes.append(len(seeds))
        return real(seeds, *a, **k)

    lay = layout(df.time.to_numpy(float), df.event.to_numpy(), (df.arm == "OCT").to_numpy())
    per = boot.replicate_bytes(len(df), 3, int(lay.is_event_time.sum()), boot._max_ties(lay))
    budget = 5.5 * per / 1e9  # room for 5 replicates at a time
    monkeypatch.setattr(boot, "_chunk", spy)
    small = run(df, memory_gb=budget)
    assert len(sizes) >= 5 and max(sizes) <= 5 and sum(sizes) == 21
    sizes.clear()
    big = run(df)
    assert sizes == [21]
    np.testing.assert_allclose(small.replicates.to_numpy(float),
                               big.replicates.to_numpy(float), rtol=1e-9, atol=1e-12)


def test_a_replicate_too_big_for_the_budget_is_refused_with_an_estimate():
    df = lesions(2)
    lay = layout(df.time.to_numpy(float), df.event.to_numpy(), (df.arm == "OCT").to_numpy())
    per_gb = boot.replicate_bytes(len(df), 3, int(lay.is_event_time.sum()),
                                  boot._max_ties(lay)) / 1e9
    with pytest.raises(mo.InputError, match=r"needs about .* GB .*memory_gb") as err:
        run(df, memory_gb=per_gb / 3)
    assert f"{per_gb:.2f}" in str(err.value)


def test_bootstrap_se_of_mean_like_statistics_matches_closed_form():
    # No censoring before the horizon: the risk by 365 days is a proportion and the RMST
    # to 365 days a mean of min(T, 365). The ideal bootstrap SE of a difference of two
    # means is sqrt(v1/n1 + v0/n0) with plug-in (ddof=0) variances.
    rng = np.random.default_rng(8)
    n = 1500
    arm = (rng.random(n) < 0.4).astype(int)
    t = np.ceil(rng.exponential(np.where(arm == 1, 700.0, 500.0)))
    df = pd.DataFrame({"arm": arm, "time": np.minimum(t, 800), "event": (t <= 800).astype(int)})
    res = mo.bootstrap(df, "arm", estimand=None, n_boot=600, seed=3, progress=False,
                       horizon=365, chunk_size=150).table.set_index("statistic")
    g = [df[df.arm == a] for a in (1, 0)]
    risk = [(d.time <= 365).mean() for d in g]
    se_rd = np.sqrt(sum(r * (1 - r) / len(d) for r, d in zip(risk, g, strict=True)))
    rm = [np.minimum(d.time, 365) for d in g]
    se_rmst = np.sqrt(sum(m.var(ddof=0) / len(m) for m in rm))
    assert res.loc["risk_difference", "estimate"] == pytest.approx(risk[0] - risk[1])
    assert res.loc["rmst_diff", "estimate"] == pytest.approx(rm[0].mean() - rm[1].mean())
    # Monte Carlo SE of a bootstrap SE from 600 replicates: about 1/sqrt(1200) = 3%
    assert res.loc["risk_difference", "se"] == pytest.approx(se_rd, rel=0.10)
    assert res.loc["rmst_diff", "se"] == pytest.approx(se_rmst, rel=0.10)
