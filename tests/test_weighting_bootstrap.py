"""Bootstrap: the batched kernels against R's coxph / survfit numbers and against a
replicate-by-replicate refit with statsmodels (propensity) and mo.cox (duplicated rows)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.weighting.batch import arm_sums, cox_binary, km_binary, layout


@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_batched_kernels_match_r(name):
    df = reference_data(name)
    ref = reference(name)
    iptw, h = ref["iptw"], ref["horizon"]
    lay = layout(df.time.to_numpy(float), df.event.to_numpy(), df.group.to_numpy())
    W = np.vstack([np.ones(len(df)), iptw["weights_ate"], iptw["weights_ato"]])
    s = arm_sums(lay, W, np.ones_like(W))
    fit = cox_binary(s)
    expect = [ref["cox_group_only"], iptw["cox_weighted_robust"], iptw["cox_overlap_robust"]]
    np.testing.assert_allclose(fit["coef"], [e["coef"] for e in expect], rtol=1e-6)
    np.testing.assert_allclose(1 / np.sqrt(fit["information"]),
                               [e["naive_se"] for e in expect], rtol=1e-6)
    km = km_binary(s, horizon=h)
    at = {r["group"]: r["surv"] for r in iptw["km_weighted_at_horizon"]}
    assert km["surv1"][1] == pytest.approx(at["1"], rel=1e-6)
    assert km["surv0"][1] == pytest.approx(at["0"], rel=1e-6)


def lesions(seed=0, n_pat=79):
    rng = np.random.default_rng(seed)
    pid = np.r_[np.arange(n_pat), rng.choice(n_pat, 5, replace=False)]
    age = rng.normal(69, 9, n_pat)[pid]
    ckd = (rng.random(n_pat) < 0.3)[pid].astype(int)
    ostial = (rng.random(len(pid)) < 0.3).astype(int)
    lp = 0.2 - 0.04 * (age - 69) - 0.7 * ckd - 0.6 * ostial
    arm = (rng.random(len(pid)) < 1 / (1 + np.exp(-lp))).astype(int)
    t = rng.exponential(900, len(pid)) * np.exp(0.3 * arm)
    c = rng.uniform(240, 1080, len(pid))
    return pd.DataFrame({"patient_id": pid, "arm": np.where(arm == 1, "OCT", "IVUS"),
                         "age": age, "ckd": ckd, "ostial": ostial,
                         "time": np.round(np.minimum(t, c)), "event": (t <= c).astype(int)})


def refit(d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = mo.propensity(d, "arm", ["age", "ckd", "ostial"])
        fit = mo.cox(d.assign(w=ps.weights, oct=(d.arm == "OCT").astype(int)),
                     covariates=["oct"], weights="w")
    return {"hr": float(fit.summary.loc["oct", "hr"])}


def test_fast_path_equals_refitting_each_replicate():
    df = lesions()
    fast = mo.bootstrap(df, "arm", ["age", "ckd", "ostial"], cluster="patient_id",
                        n_boot=12, seed=7, progress=False)
    slow = mo.bootstrap(df, "arm", ["age", "ckd", "ostial"], cluster="patient_id",
                        n_boot=12, seed=7, progress=False, statistic=refit)
    np.testing.assert_allclose(fast.replicates["hr"], slow.replicates["hr"], rtol=1e-6)
    full = refit(df)["hr"]
    assert fast.table.set_index("statistic").loc["hr", "estimate"] == pytest.approx(full,
                                                                                  rel=1e-6)


def test_seeded_parallel_and_chunking_invariant():
    df = lesions(1)
    a = mo.bootstrap(df, "arm", ["age", "ckd"], cluster="patient_id", n_boot=300, seed=3,
                     n_jobs=1, progress=False, chunk_size=300)
    b = mo.bootstrap(df, "arm", ["age", "ckd"], cluster="patient_id", n_boot=300, seed=3,
                     n_jobs=2, progress=False, chunk_size=70)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    tab = a.table.set_index("statistic")
    hr = a.replicates["hr"]
    assert tab.loc["hr", "lower"] == pytest.approx(np.quantile(hr, 0.025))
    assert tab.loc["hr", "upper"] == pytest.approx(np.quantile(hr, 0.975))


def test_cluster_resampling_keeps_patients_whole():
    df = lesions(2)
    seen = []

    def stat(d):
        # every resampled patient copy carries all of its lesions
        sizes = d.groupby("patient_id").size()
        orig = df.groupby("patient_id").size()
        base = sizes.index.astype(str).str.split("#").str[0].astype(int)
        seen.append(bool((sizes.to_numpy() == orig.loc[base].to_numpy()).all()))
        return {"n": len(d)}

    mo.bootstrap(df, "arm", ["age"], cluster="patient_id", n_boot=5, seed=1,
                 progress=False, statistic=stat)
    assert all(seen) and len(seen) == 6  # 5 replicates + the full-data estimate


def test_percentile_interval_covers_closed_form_variance():
    # Unweighted (estimand=None) bootstrap SE of the log HR is close to the model SE
    # for a large sample (Efron & Tibshirani 1993): a check that can fail.
    df = reference_data("lung")
    ref = reference("lung")["cox_group_only"]
    bt = mo.bootstrap(df, "group", estimand=None, n_boot=400, seed=11, progress=False)
    se = bt.table.set_index("statistic").loc["hr", "se"]
    assert se == pytest.approx(ref["se"], rel=0.15)


def test_bad_arguments():
    df = lesions()
    with pytest.raises(mo.InputError, match="n_boot"):
        mo.bootstrap(df, "arm", ["age"], n_boot=0)
    with pytest.raises(mo.InputError, match="cluster"):
        mo.bootstrap(df.assign(patient_id=np.nan), "arm", ["age"], cluster="patient_id")
