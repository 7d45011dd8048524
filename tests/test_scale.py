"""The estimators on a Dask DataFrame (a real two-process local cluster) give the
in-memory fit to 1e-10, and so R's reference numbers (tests/reference/*.json)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client, reference, reference_data

import mace_outcomes as mo
from mace_outcomes.regression.fit import CoxResult

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

# one cluster for the module: under pytest-xdist's --dist loadgroup its tests share a worker
pytestmark = pytest.mark.xdist_group("dask_cluster")

EXACT = 1e-10  # Dask against in memory: the same sums, added in another order
R_TOL = 1e-6
LUNG = reference("lung")


@pytest.fixture(scope="module")
def client():
    yield from dask_client("survival", "propensity", "cox")


def lung() -> pd.DataFrame:
    d = reference_data("lung")
    i = np.arange(1, len(d) + 1)
    return d.assign(w=LUNG["iptw"]["weights_ate"], cl=i % 37, wc=1 + (i % 5) / 3,
                    cid=reference("lung_clustered_logrank")["cid"],
                    st=(d["age"] > 62).astype(int))


def parts(df: pd.DataFrame, n: int = 5):
    return dd.from_pandas(df, npartitions=n)


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=EXACT, atol=1e-13)


def test_importing_the_package_never_imports_dask():
    code = ("import sys, pandas as pd, mace_outcomes as mo; "
            "mo.kaplan_meier(pd.DataFrame({'time': [1, 2], 'event': [1, 0]})); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- Kaplan-Meier -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lung", "veteran"])
def test_km_by_group_equals_memory_and_r(client, name):
    df = reference_data(name)
    km = mo.kaplan_meier(parts(df, 7), group="group")
    same_frame(km.table, mo.kaplan_meier(df, group="group").table)
    for g, curve in reference(name)["km_loglog"].items():
        t = km.table[km.table["group"] == int(g)]
        for col in ("time", "n_risk", "surv", "std_err", "lower", "upper"):
            np.testing.assert_allclose(t[col], np.array(curve[col], dtype=float),
                                       rtol=R_TOL, err_msg=col)
    assert km.n == mo.kaplan_meier(df, group="group").n and km.variance == "greenwood"


def test_weighted_km_robust_variance_equals_memory_and_r(client):
    df = lung()
    km = mo.kaplan_meier(parts(df), group="group", weights="w")
    same_frame(km.table, mo.kaplan_meier(df, group="group", weights="w").table)
    for g, curve in LUNG["iptw"]["km_weighted_robust_loglog"].items():
        t = km.table[km.table["group"] == int(g)]
        for col in ("surv", "std_err", "lower", "upper"):
            np.testing.assert_allclose(t[col], np.array(curve[col], dtype=float),
                                       rtol=R_TOL, err_msg=col)


@pytest.mark.parametrize("weights", [None, "wc"])
def test_cluster_robust_km_equals_memory_and_r(client, weights):
    # R: survfit(Surv(time, event) ~ group, weights = wc, cluster = cl) (spot_checks.R)
    df = lung()
    km = mo.kaplan_meier(parts(df, 6), group="group", weights=weights, cluster="cl")
    same_frame(km.table, mo.kaplan_meier(df, group="group", weights=weights,
                                         cluster="cl").table)
    r = reference("spot_checks")["km_cluster_robust"]["weighted" if weights else "unweighted"]
    at = km.at([100, 365, 700])
    np.testing.assert_allclose(at["std_err"], r["std_err"], rtol=R_TOL)


def test_times_tied_up_to_rounding_share_one_grid_time_across_partitions(client):
    # 2 and sqrt(2)**2 in different partitions are one time, as R's aeqSurv and in memory
    df = pd.DataFrame({"time": [1.0, 2.0, 3.0, np.sqrt(2) ** 2, 5.0, 6.0],
                       "event": [1, 1, 0, 1, 1, 0]})
    km = mo.kaplan_meier(parts(df, 2))
    assert km.table["time"].tolist() == [1.0, 2.0, 3.0, 5.0, 6.0]
    assert km.table["n_event"].tolist() == [1.0, 2.0, 0.0, 1.0, 0.0]


# -- log-rank -----------------------------------------------------------------------------

@pytest.mark.parametrize("rho, key", [(0, "logrank"), (1, "peto_peto")])
def test_logrank_equals_memory_and_r(client, rho, key):
    df = lung()
    res = mo.logrank(parts(df), group="group", rho=rho)
    mem = mo.logrank(df, group="group", rho=rho)
    assert res.statistic == pytest.approx(mem.statistic, rel=EXACT)
    assert res.statistic == pytest.approx(LUNG[key]["chisq"], rel=R_TOL)
    np.testing.assert_allclose(res.table["expected"], LUNG[key]["expected"], rtol=R_TOL)
    np.testing.assert_allclose(res.variance, mem.variance, rtol=EXACT)


def test_iptw_logrank_equals_memory_and_r(client):
    res = mo.logrank(parts(lung()), group="group", weights="w")
    assert res.z == pytest.approx(mo.logrank(lung(), group="group", weights="w").z,
                                  rel=EXACT)
    assert res.z == pytest.approx(LUNG["iptw"]["adjusted_logrank_ate"]["z"], rel=R_TOL)
    assert res.method.startswith("IPTW")


@pytest.mark.parametrize("name, strata, rho", [("lung", "inst", 0), ("lung", "inst", 1),
                                               ("veteran", "celltype", 0)])
def test_stratified_logrank_equals_memory_and_r(client, name, strata, rho):
    r = reference("strata")
    df = reference_data(name)
    inst = pd.to_numeric(pd.Series(r["lung_inst"]), errors="coerce").to_numpy()
    df = (df.assign(inst=inst) if name == "lung"
          else df.assign(celltype=r["veteran_celltype"])).dropna(subset=[strata])
    res = mo.logrank(parts(df), group="group", strata=strata, rho=rho)
    mem = mo.logrank(df, group="group", strata=strata, rho=rho)
    assert res.statistic == pytest.approx(mem.statistic, rel=EXACT)
    ref = r["survdiff"][f"{name}_group_rho{rho}"]
    assert res.statistic == pytest.approx(ref["chisq"], rel=R_TOL)
    np.testing.assert_allclose(res.variance, np.asarray(ref["variance"]), rtol=R_TOL)


def test_weighted_stratified_logrank_equals_memory(client):
    df = lung()
    res = mo.logrank(parts(df), group="group", weights="w", strata="st")
    assert res.statistic == pytest.approx(
        mo.logrank(df, group="group", weights="w", strata="st").statistic, rel=EXACT)


@pytest.mark.parametrize("key, kwargs", [("clustered", {}),
                                         ("clustered_weighted", {"weights": "w"}),
                                         ("clustered_stratified", {"strata": "st"})])
def test_clustered_logrank_equals_memory_and_r(client, key, kwargs):
    # R: coxph(Surv(time, event) ~ group + cluster(cid), ties = "breslow") robust score
    df = lung()
    res = mo.logrank(parts(df, 6), group="group", cluster="cid", **kwargs)
    mem = mo.logrank(df, group="group", cluster="cid", **kwargs)
    assert res.statistic == pytest.approx(mem.statistic, rel=EXACT)
    assert res.statistic == pytest.approx(reference("lung_clustered_logrank")[key]["test"],
                                          rel=R_TOL)


# -- propensity ----------------------------------------------------------------------------

PS_COVARIATES = ["age", "ph_ecog", "ph_karno", "wt_loss"]


@pytest.fixture(scope="module")
def ps_pair(client):
    df = lung().dropna(subset=PS_COVARIATES).reset_index(drop=True)
    return df, mo.propensity(df, "group", PS_COVARIATES), mo.propensity(
        parts(df, 6), "group", PS_COVARIATES)


def test_propensity_model_equals_memory_and_r(ps_pair):
    _, mem, res = ps_pair
    np.testing.assert_allclose(res.coef.to_numpy(), mem.coef.to_numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(res.coef["coef"], list(LUNG["iptw"]["ps_coef"].values()),
                               rtol=R_TOL)
    assert res.ess == pytest.approx(mem.ess, rel=EXACT)
    assert isinstance(res, type(mem)) and (res.treated, res.control) == (1, 0)


def test_propensity_columns_and_diagnostics_equal_memory_and_r(ps_pair):
    df, mem, res = ps_pair
    local = res.compute()
    for col in ("scores", "weights", "kept", "z"):
        pd.testing.assert_series_equal(getattr(local, col), getattr(mem, col),
                                       check_exact=False, rtol=EXACT)
    pd.testing.assert_frame_equal(local.all_weights, mem.all_weights, check_exact=False,
                                  rtol=EXACT)
    # R's ATE weights on the rows of lung.csv that have every covariate
    ok = reference_data("lung")[PS_COVARIATES].notna().all(axis=1).to_numpy()
    r_w = np.array(LUNG["iptw"]["weights_ate"], dtype=float)
    np.testing.assert_allclose(local.weights, r_w[ok] if r_w.size == ok.size else r_w,
                               rtol=R_TOL)
    same_frame(res.balance(), mem.balance())
    same_frame(res.summary(), mem.summary())
    assert repr(res).split("estimand")[0] == repr(mem).split("estimand")[0]


@pytest.mark.parametrize("kwargs", [{"estimand": "ATO"},
                                    {"estimand": "ATE", "stabilize": True, "truncate": 5.0},
                                    {"estimand": "ATT", "trim": 0.05}])
def test_propensity_options_equal_memory(client, kwargs):
    df = lung().dropna(subset=PS_COVARIATES)
    mem = mo.propensity(df, "group", PS_COVARIATES, **kwargs)
    res = mo.propensity(parts(df, 4), "group", PS_COVARIATES, **kwargs)
    pd.testing.assert_series_equal(res.weights.compute(), mem.weights, check_exact=False,
                                   rtol=EXACT)
    assert res.ess == pytest.approx(mem.ess, rel=EXACT)
    assert res.n_trimmed == mem.n_trimmed


def test_propensity_factor_covariate_takes_r_names_and_levels_of_all_partitions(client):
    df = lung().dropna(subset=["age", "ph_ecog"])
    df = df[df["ph_ecog"] < 3].assign(ecog=lambda d: d["ph_ecog"].astype(int).astype(str))
    df = df.sort_values("ecog")  # some partitions hold one ECOG level only
    mem = mo.propensity(df, "group", ["age", "ecog"])
    res = mo.propensity(parts(df, 6), "group", ["age", "ecog"])
    assert list(res.coef.index) == list(mem.coef.index) == ["(Intercept)", "age", "ecog1",
                                                            "ecog2"]
    np.testing.assert_allclose(res.coef.to_numpy(), mem.coef.to_numpy(), rtol=1e-9)


def test_dask_propensity_weights_feed_a_dask_km(ps_pair):
    df, mem, res = ps_pair
    ddf = parts(df, 6)
    km = mo.kaplan_meier(ddf, group="group", weights=res.weights)
    same_frame(km.table, mo.kaplan_meier(df, group="group", weights=mem.weights).table)


# -- bad input -----------------------------------------------------------------------------

def test_bad_rows_raise_the_in_memory_error_with_ids_from_every_partition(client):
    df = lung()
    df.loc[df.index[::7], "time"] = -1.0  # 31 rows, in every partition
    df.loc[df.index[[3, 150]], "event"] = 2
    df["patient_id"] = [f"p{i}" for i in range(len(df))]
    with pytest.raises(mo.InputError) as mem:
        mo.kaplan_meier(df, group="group")
    with pytest.raises(mo.InputError) as res:
        mo.kaplan_meier(parts(df, 6), group="group")
    assert str(res.value) == str(mem.value)
    (neg, bad_event) = res.value.problems
    assert neg.column == "time" and neg.n_rows == 31 == len(mem.value.problems[0].rows)
    assert neg.rows == mem.value.problems[0].rows[:20]
    assert bad_event.rows == ("p3", "p150")


def test_missing_values_and_one_group_raise_as_in_memory(client):
    df = lung()
    df.loc[[5, 100, 200], "w"] = np.nan
    with pytest.raises(mo.InputError) as mem:
        mo.logrank(df, group="group", weights="w")
    with pytest.raises(mo.InputError) as res:
        mo.logrank(parts(df), group="group", weights="w")
    assert str(res.value) == str(mem.value)
    one = lung().assign(group=1)
    with pytest.raises(mo.InputError, match="needs at least 2 groups"):
        mo.logrank(parts(one), group="group")


# -- Cox -------------------------------------------------------------------------------------

COX_COVARIATES = {"lung": ["group", "age", "ph_ecog"], "veteran": ["group", "karno", "age"]}


def same_cox(res, mem) -> None:
    same_frame(res.summary, mem.summary)
    np.testing.assert_allclose(res.loglik, mem.loglik, rtol=EXACT)
    np.testing.assert_allclose(res.tests["statistic"], mem.tests["statistic"], rtol=1e-9)
    assert (res.n, res.n_event, res.variance, res.iterations) == (
        mem.n, mem.n_event, mem.variance, mem.iterations)
    assert repr(res) == repr(mem)


def r_cox(fit, ref) -> None:
    for col in ("coef", "se", "naive_se", "p", "lower", "upper"):
        np.testing.assert_allclose(fit.summary[col], np.atleast_1d(ref[col]), rtol=R_TOL,
                                   err_msg=col)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=R_TOL)


@pytest.mark.parametrize("name, ties", [("lung", "efron"), ("veteran", "breslow")])
def test_cox_equals_memory_and_r(client, name, ties):
    df = reference_data(name)
    res = mo.cox(parts(df, 6), covariates=COX_COVARIATES[name], ties=ties)
    same_cox(res, mo.cox(df, covariates=COX_COVARIATES[name], ties=ties))
    r_cox(res, reference(name)[f"cox_{ties}"])
    assert isinstance(res, CoxResult) and not res.robust


def test_weighted_cox_robust_sandwich_equals_memory_and_r(client):
    df = lung()
    res = mo.cox(parts(df), covariates=["group"], weights="w")
    same_cox(res, mo.cox(df, covariates=["group"], weights="w"))
    r_cox(res, LUNG["iptw"]["cox_weighted_robust"])


def test_cox_cluster_strata_weights_equal_memory(client):
    # dfbeta summed per cluster id on the cluster (clusters span partitions), within strata
    df = lung()
    kw = dict(covariates=["group", "age", "ph_ecog"], weights="wc", cluster="cl",
              strata="st")
    res = mo.cox(parts(df, 6), **kw)
    same_cox(res, mo.cox(df, **kw))
    assert res.variance == "robust (cluster sandwich)"
    # a cluster of one row each is the unclustered sandwich (R: identical)
    one = mo.cox(parts(df.assign(id=np.arange(len(df))), 4), covariates=["group"],
                 weights="w", cluster="id")
    np.testing.assert_allclose(one.summary["se"], LUNG["iptw"]["cox_weighted_robust"]["se"],
                               rtol=R_TOL)


def test_cox_and_propensity_bad_covariates_raise_the_in_memory_error(client):
    df = lung()
    df.loc[[4, 90, 180], "age"] = np.nan
    for fit in (lambda d: mo.cox(d, covariates=["group", "age"]),
                lambda d: mo.propensity(d, "group", ["age", "ph_karno"])):
        with pytest.raises(mo.InputError) as mem:
            fit(df)
        with pytest.raises(mo.InputError) as res:
            fit(parts(df))
        assert str(res.value) == str(mem.value)
    with pytest.raises(mo.InputError, match="constant"):
        mo.cox(parts(lung().assign(k=1.0)), covariates=["group", "k"])


def test_cox_extreme_weight_warning_equals_memory(client):
    # one weight 60 times the others: the in-memory rule (over 10 times the mean of its
    # arm and stratum) names the same rows, on the cluster
    df = lung()
    df.loc[[7, 150], "w"] = df["w"].mean() * 60
    kw = dict(covariates=["group", "age"], weights="w", strata="st")
    with pytest.warns(mo.ExtremeWeightWarning):
        mem = mo.cox(df, **kw)
    with pytest.warns(mo.ExtremeWeightWarning):
        res = mo.cox(parts(df, 4), **kw)
    assert res.warnings == mem.warnings and "rows [7, 150]" in res.warnings[0]
    same_cox(res, mem)


def test_km_and_logrank_extreme_weight_notes_equal_memory(client):
    df = lung()
    df.loc[[7, 150], "w"] = df["w"].mean() * 60
    for fit in (lambda d: mo.kaplan_meier(d, group="group", weights="w"),
                lambda d: mo.logrank(d, group="group", weights="w")):
        with pytest.warns(mo.ExtremeWeightWarning):
            mem = fit(df)
        with pytest.warns(mo.ExtremeWeightWarning):
            res = fit(parts(df, 4))
        assert res.notes == mem.notes and "rows [7, 150]" in res.notes[0]
