"""Counting-process (start, stop] rows, formulas and the other Cox options on a Dask
DataFrame (a real two-process local cluster): the in-memory fit to 1e-10 and R's numbers.

References: tests/reference/counting.R (R survival: coxph / survfit on the Stanford heart
transplant data and an age-scale mgus2, survdiff's formula on the risk sets
start < t <= stop), tests/reference/book_counting.R (Therneau & Grambsch's counting-process
data: stratified, clustered and weighted coxph), tests/reference/design.R (coxph with
factors, interactions and a reference level on lung), tests/reference/scale_counting.R
(coxph on (start, stop] rows with a formula, a factor, a cluster and a reference level),
tests/reference/firth.json (coxphf 1.13.4), tests/reference/cox_faults.R (coxph's NA for an
aliased column), and counts by hand (complete cases).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import dask_client, reference, reference_data

import mace_outcomes as mo

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.xdist_group("dask_cluster")

EXACT = 1e-10  # Dask against in memory: the same sums, added in another order
R_TOL = 1e-6
COUNTING = reference("counting")
COV = ["age", "transplant", "surgery"]


@pytest.fixture(scope="module")
def client():
    yield from dask_client("survival", "cox")


def heart() -> pd.DataFrame:
    h = reference_data("heart")
    return h.assign(w=1 + (h["id"] % 3) / 2)


def mgus2_age() -> pd.DataFrame:
    m = reference_data("mgus2_age")
    return m.assign(entry=m["age"], exit=m["age"] + m["futime"] / 12)


def parts(df: pd.DataFrame, n: int = 4):
    return dd.from_pandas(df, npartitions=n)


def same_cox(res, mem) -> None:
    pd.testing.assert_frame_equal(res.summary, mem.summary, check_exact=False, rtol=EXACT,
                                  atol=1e-13)
    np.testing.assert_allclose(res.loglik, mem.loglik, rtol=EXACT)
    np.testing.assert_allclose(res.tests["statistic"], mem.tests["statistic"], rtol=1e-9)
    assert (res.n, res.n_event, res.variance, res.iterations, res.terms) == (
        mem.n, mem.n_event, mem.variance, mem.iterations, mem.terms)
    assert res.warnings == mem.warnings


def r_cox(fit, ref: dict) -> None:
    for ours, theirs in (("coef", "coef"), ("se", "se"), ("naive_se", "naive_se")):
        np.testing.assert_allclose(fit.summary[ours], np.atleast_1d(ref[theirs]), rtol=R_TOL,
                                   err_msg=ours)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=R_TOL)
    assert (fit.n, fit.n_event) == (ref["n"], ref["nevent"])


# -- Cox on (start, stop] rows ----------------------------------------------------------------

@pytest.mark.parametrize("case, kwargs", [
    ("heart_efron", {}),
    ("heart_breslow", {"ties": "breslow"}),
    ("heart_cluster", {"cluster": "id"}),
    ("heart_cluster_breslow", {"cluster": "id", "ties": "breslow"}),
    ("heart_weighted", {"weights": "w", "cluster": "id"}),
])
def test_counting_cox_equals_memory_and_r(client, case, kwargs):
    # R: coxph(Surv(start, stop, event) ~ age + transplant + surgery, heart, ...)
    df = heart()
    res = mo.cox(parts(df, 5), "stop", "event", COV, start="start", **kwargs)
    same_cox(res, mo.cox(df, "stop", "event", COV, start="start", **kwargs))
    r_cox(res, COUNTING[case])


def test_counting_cox_strata_equals_memory_and_r(client):
    # R: coxph(Surv(start, stop, event) ~ age + transplant + strata(surgery), heart)
    df = heart()
    kw = dict(covariates=["age", "transplant"], start="start", strata="surgery")
    res = mo.cox(parts(df, 3), "stop", "event", **kw)
    same_cox(res, mo.cox(df, "stop", "event", **kw))
    r_cox(res, COUNTING["heart_strata"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_age_scale_cox_with_noise_ties_equals_memory_and_r(client, ties):
    # entry = age, exit = age + futime / 12: start and stop times equal but for rounding,
    # tied once over all partitions (R's aeqSurv); R: coxph(Surv(entry, exit, death) ~ sex)
    df = mgus2_age()
    res = mo.cox(parts(df, 6), "exit", "death", ["sex"], start="entry", ties=ties)
    same_cox(res, mo.cox(df, "exit", "death", ["sex"], start="entry", ties=ties))
    r_cox(res, COUNTING["mgus2_age_cox" + ("_breslow" if ties == "breslow" else "")])


def book(strata: bool) -> pd.DataFrame:
    d = pd.DataFrame(reference("book_counting")["data"])
    if not strata:
        return d
    # three copies with times shifted by the copy number (wrong risk sets if strata leak)
    return pd.concat([d.assign(group=g, start=d["start"] + g, stop=d["stop"] + g)
                      for g in (1, 2, 3)], ignore_index=True)


@pytest.mark.parametrize("key, ties, strata, kwargs", [
    ("efron_strata_cluster", "efron", True, {"strata": "group", "cluster": "id"}),
    ("breslow_strata", "breslow", True, {"strata": "group"}),
    ("efron_weighted", "efron", False, {"weights": "wt", "cluster": "id"}),
    ("breslow_robust", "breslow", False, {"cluster": "row"}),
])
def test_book_counting_cox_equals_memory_and_r(client, key, ties, strata, kwargs):
    # R survival's tests/book3.R, book4.R: coxph(Surv(start, stop, event) ~ x, ...)
    df = book(strata)
    kw = dict(covariates=["x"], start="start", ties=ties, **kwargs)
    res = mo.cox(parts(df, 3), "stop", "event", **kw)
    same_cox(res, mo.cox(df, "stop", "event", **kw))
    r = reference("book_counting")[key]
    assert res.summary["coef"].iloc[0] == pytest.approx(r["coef"], rel=R_TOL)
    assert res.summary["se"].iloc[0] ** 2 == pytest.approx(r["var"], rel=R_TOL)
    np.testing.assert_allclose(res.loglik, r["loglik"], rtol=R_TOL)


def test_start_and_stop_tied_up_to_noise_in_different_partitions_are_one_time(client):
    # a start of sqrt(2)^2 in one partition and a stop of 2 in another are one time (R's
    # aeqSurv over the start and stop times together): the fit of the exact times
    two = np.sqrt(2) ** 2
    rows = dict(start=[0.0, 0.0, 1.0, two, 0.0, 0.5, 0.0, 1.5],
                stop=[1.0, 2.0, 3.0, 4.0, 2.5, 5.0, 3.5, 6.0],
                event=[1, 1, 0, 1, 1, 1, 0, 1], x=[0, 1, 1, 0, 1, 0, 0, 1])
    noisy = pd.DataFrame(rows)
    exact = noisy.assign(start=noisy["start"].replace(two, 2.0))
    kw = dict(covariates=["x"], start="start")
    res = mo.cox(parts(noisy, 2), "stop", "event", **kw)
    same_cox(res, mo.cox(noisy, "stop", "event", **kw))
    np.testing.assert_allclose(res.loglik, mo.cox(exact, "stop", "event", **kw).loglik,
                               rtol=1e-12)


def test_bad_start_rows_raise_the_in_memory_error(client):
    df = heart()
    df.loc[[3, 100], "start"] = df.loc[[3, 100], "stop"] + 1
    df.loc[50, "start"] = np.nan
    with pytest.raises(mo.InputError) as mem:
        mo.cox(df, "stop", "event", COV, start="start")
    with pytest.raises(mo.InputError) as res:
        mo.cox(parts(df), "stop", "event", COV, start="start")
    assert str(res.value) == str(mem.value) and "start" in str(res.value)
    df.loc[50, "start"] = 0.0
    with pytest.raises(mo.InputError) as mem:
        mo.cox(df, "stop", "event", COV, start="start")
    with pytest.raises(mo.InputError) as res:
        mo.cox(parts(df), "stop", "event", COV, start="start")
    assert str(res.value) == str(mem.value) and "start must be before" in str(res.value)


# -- Kaplan-Meier and log-rank on (start, stop] rows ------------------------------------------

KM_COLS = ["time", "n_risk", "n_event", "surv", "std_err", "lower", "upper"]


def r_km(km, ref: dict) -> None:
    want = pd.DataFrame({c: pd.to_numeric(pd.Series(ref[c]), errors="coerce")
                         for c in KM_COLS})
    assert len(km.table) == len(want)
    for c in KM_COLS:
        np.testing.assert_allclose(km.table[c].to_numpy(float), want[c], rtol=R_TOL,
                                   atol=1e-10, err_msg=c)


@pytest.mark.parametrize("case, kwargs", [
    ("heart_km_all", {}),
    ("heart_km", {"group": "transplant"}),
    ("heart_km_weighted_cluster", {"group": "transplant", "weights": "w", "cluster": "id"}),
    ("heart_km_robust", {"group": "transplant", "robust": True}),
])
def test_counting_km_equals_memory_and_r(client, case, kwargs):
    # R: survfit(Surv(start, stop, event) ~ transplant, heart, ...) (robust: each row its
    # own cluster, which R asks for with (start, stop] rows)
    df = heart()
    km = mo.kaplan_meier(parts(df, 5), "stop", "event", start="start", conf_type="log",
                         **kwargs)
    mem = mo.kaplan_meier(df, "stop", "event", start="start", conf_type="log", **kwargs)
    pd.testing.assert_frame_equal(km.table, mem.table, check_exact=False, rtol=EXACT,
                                  atol=1e-13)
    assert (km.n, km.variance) == (mem.n, mem.variance)
    r_km(km, COUNTING[case])


def test_age_scale_km_equals_memory_and_r(client):
    # R: survfit(Surv(entry, exit, death) ~ sex, mgus2 on the age scale)
    df = mgus2_age()
    km = mo.kaplan_meier(parts(df, 6), "exit", "death", group="sex", start="entry",
                         conf_type="log")
    mem = mo.kaplan_meier(df, "exit", "death", group="sex", start="entry", conf_type="log")
    pd.testing.assert_frame_equal(km.table, mem.table, check_exact=False, rtol=EXACT,
                                  atol=1e-13)
    r_km(km, COUNTING["mgus2_age_km"])


def test_counting_logrank_equals_memory_and_survdiff_formula(client):
    # R: survdiff's sums written out over the risk sets start < t <= stop (counting.R)
    df = heart()
    res = mo.logrank(parts(df, 5), "stop", "event", group="transplant", start="start")
    mem = mo.logrank(df, "stop", "event", group="transplant", start="start")
    assert res.statistic == pytest.approx(mem.statistic, rel=EXACT)
    np.testing.assert_allclose(res.variance, mem.variance, rtol=EXACT)
    ref = COUNTING["heart_logrank"]
    assert res.table["observed"].iloc[1] == ref["observed1"]
    assert res.table["expected"].iloc[1] == pytest.approx(ref["expected1"], rel=R_TOL)
    assert res.statistic == pytest.approx(ref["chisq"], rel=R_TOL)


def test_stratified_counting_logrank_sums_the_strata(client):
    df = heart()
    res = mo.logrank(parts(df, 4), "stop", "event", group="transplant", start="start",
                     strata="surgery")
    mem = mo.logrank(df, "stop", "event", group="transplant", start="start",
                     strata="surgery")
    assert res.statistic == pytest.approx(mem.statistic, rel=EXACT)
    a, b = COUNTING["heart_logrank_surgery0"], COUNTING["heart_logrank_surgery1"]
    assert res.variance[1, 1] == pytest.approx(a["var"] + b["var"], rel=R_TOL)
    # rho = 1 and the age scale (noise ties) as in memory
    for kw, d, cols in ((dict(rho=1), df, ("stop", "event", "transplant", "start")),
                        ({}, mgus2_age(), ("exit", "death", "sex", "entry"))):
        t, e, g, s = cols
        assert mo.logrank(parts(d, 5), t, e, group=g, start=s, **kw).statistic == \
            pytest.approx(mo.logrank(d, t, e, group=g, start=s, **kw).statistic, rel=EXACT)


def test_counting_logrank_refuses_weights_as_in_memory(client):
    with pytest.raises(mo.InputError) as mem:
        mo.logrank(heart(), "stop", "event", group="transplant", start="start", weights="w")
    with pytest.raises(mo.InputError) as res:
        mo.logrank(parts(heart()), "stop", "event", group="transplant", start="start",
                   weights="w")
    assert str(res.value) == str(mem.value)


# -- formula= and reference= ----------------------------------------------------------------

DESIGN = reference("design")


@pytest.fixture(scope="module")
def lung_sorted(lung_design):
    # sorted by ECOG: most partitions hold one or two of its four levels
    return lung_design.sort_values(["ecog", "time"]).reset_index(drop=True)


@pytest.mark.parametrize("formula", ["arm * wl + age + ecog",
                                     "Surv(time, event) ~ arm*wl + age + factor(ecog)"])
def test_formula_equals_memory_and_coxph(client, lung_sorted, formula):
    # R (design.R): coxph(Surv(time, event) ~ arm * wl + age + ecog), R's dummy names
    res = mo.cox(parts(lung_sorted, 6), formula=formula)
    same_cox(res, mo.cox(lung_sorted, formula=formula))
    ref = DESIGN["cox"]
    assert list(res.summary.index) == ref["term"]
    np.testing.assert_allclose(res.summary["coef"], ref["coef"], rtol=R_TOL)
    np.testing.assert_allclose(res.summary["se"], ref["se"], rtol=R_TOL)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=R_TOL)
    chisq, df, p = res.wald_test("ecog")  # the joint test of a term's columns
    assert (df, chisq, p) == (3, pytest.approx(DESIGN["wald_ecog"]["chisq"], rel=R_TOL),
                              pytest.approx(DESIGN["wald_ecog"]["p"], rel=R_TOL))


def test_reference_level_equals_memory_and_relevel(client, lung_sorted):
    # R: coxph(Surv(time, event) ~ relevel(ecog, ref = "1") + age)
    ref = DESIGN["cox_reference"]
    for kw in (dict(formula="ecog + age"), dict(covariates=["ecog", "age"])):
        res = mo.cox(parts(lung_sorted, 5), reference={"ecog": "1"}, **kw)
        same_cox(res, mo.cox(lung_sorted, reference={"ecog": "1"}, **kw))
        assert list(res.summary.index) == ["ecog0", "ecog2", "ecog3", "age"]
        np.testing.assert_allclose(res.summary["coef"], ref["coef"], rtol=R_TOL)
        np.testing.assert_allclose(res.summary["se"], ref["se"], rtol=R_TOL)


def test_interaction_without_its_margin_codes_every_level_as_memory(client, lung_sorted):
    # R's model.matrix(~ ecog + arm:age) (design.R): armIVUS:age and armOCT:age
    kw = dict(formula="ecog + arm:age", strata="wl", weights="ph_karno")
    res = mo.cox(parts(lung_sorted, 6), **kw)
    same_cox(res, mo.cox(lung_sorted, **kw))
    assert list(res.summary.index) == DESIGN["mm_factor_numeric"]["names"]


def test_counting_formula_with_cluster_equals_memory_and_r(client):
    # R (scale_counting.R): coxph(Surv(start, stop, event) ~ transplant * age +
    # factor(surgery), heart, cluster = id), and relevel(surgery, "1") with Breslow ties
    r = reference("scale_counting")
    df = heart()
    kw = dict(formula="transplant * age + factor(surgery)", start="start", cluster="id")
    res = mo.cox(parts(df, 5), "stop", "event", **kw)
    same_cox(res, mo.cox(df, "stop", "event", **kw))
    assert list(res.summary.index) == ["transplant", "age", "surgery1", "transplant:age"]
    r_cox(res, r["formula_cluster"])
    kw = dict(formula="surgery + age", reference={"surgery": 1}, start="start",
              ties="breslow")
    res = mo.cox(parts(df, 3), "stop", "event", **kw)
    same_cox(res, mo.cox(df, "stop", "event", **kw))
    assert list(res.summary.index) == ["surgery0", "age"]
    r_cox(res, r["reference_breslow"])


@pytest.mark.parametrize("kw", [dict(formula="arm + np.log(age)"),
                                dict(formula="ecog + age", reference={"ecog": "9"}),
                                dict(formula="ecog + age", reference={"stage": "1"}),
                                dict(covariates=["arm"], formula="arm + age"),
                                dict(formula="arm + age + k")])
def test_bad_formula_or_reference_raises_the_in_memory_error(client, lung_sorted, kw):
    df = lung_sorted.assign(k=1.0)
    with pytest.raises(mo.InputError) as mem:
        mo.cox(df, **kw)
    with pytest.raises(mo.InputError) as res:
        mo.cox(parts(df), **kw)
    assert str(res.value) == str(mem.value)


# -- missing="complete_case" ----------------------------------------------------------------

def test_complete_case_leaves_out_and_counts_the_rows_as_in_memory(client):
    df = heart().assign(patient_id=lambda d: [f"P{i:03d}" for i in range(len(d))])
    df.loc[[3, 40, 41, 150], "age"] = np.nan  # 40: two variables missing, listed twice
    df.loc[[40, 120], "transplant"] = np.nan
    df.loc[[0, 1, 2, 5], "start"] = np.nan  # a whole partition's first rows
    kw = dict(formula="age + transplant + surgery", start="start", cluster="id",
              missing="complete_case")
    res = mo.cox(parts(df, 5), "stop", "event", **kw)
    mem = mo.cox(df, "stop", "event", **kw)
    same_cox(res, mem)
    # by hand: 10 missing values in 9 distinct rows, counted in the model's column order
    assert res.n == len(df) - 9 and len(res.dropped) == 10
    pd.testing.assert_frame_equal(res.dropped, mem.dropped.reset_index(drop=True))
    assert res.dropped["id"].tolist()[:6] == ["P000", "P001", "P002", "P003", "P005", "P040"]
    assert res.warnings[0] == ("complete cases: 9 of 172 rows left out for a missing value "
                               "(missing age 4, transplant 2, start 4)")
    # the default names the rows instead, as in memory
    with pytest.raises(mo.InputError) as err_mem:
        mo.cox(df, "stop", "event", COV, start="start")
    with pytest.raises(mo.InputError) as err:
        mo.cox(parts(df, 5), "stop", "event", COV, start="start")
    assert str(err.value) == str(err_mem.value)


# -- firth=True ----------------------------------------------------------------------------

FIRTH = reference("firth")


def same_firth(res, mem, rtol: float) -> None:
    pd.testing.assert_frame_equal(res.summary, mem.summary, check_exact=False, rtol=rtol,
                                  atol=1e-13)
    np.testing.assert_allclose(res.loglik, mem.loglik, rtol=1e-12)
    assert (res.firth, res.ties, res.variance, res.n, res.n_event, res.warnings) == (
        mem.firth, mem.ties, mem.variance, mem.n, mem.n_event, mem.warnings)


@pytest.mark.parametrize("key, data, cov", [  # each evaluation is one pass: ~0.1 s
    ("firth_rare_group", "firth_rare", ["group"]),
    pytest.param("firth_zero_group", "firth_zero", ["group"], marks=pytest.mark.slow),
    pytest.param("firth_zero_group_age", "firth_zero", ["group", "age"],
                 marks=pytest.mark.slow),
])
def test_firth_equals_memory_and_coxphf(client, key, data, cov):
    # R: coxphf(Surv(time, event) ~ group (+ age), pl = TRUE) (firth.R); an arm without
    # events (monotone likelihood) gets a finite penalised estimate
    df = reference_data(data)
    res = mo.cox(parts(df, 3), "time", "event", cov, firth=True)
    same_firth(res, mo.cox(df, "time", "event", cov, firth=True), 1e-10)
    ref = FIRTH[key]
    for col in ("coef", "se", "p"):
        np.testing.assert_allclose(res.summary[col], np.atleast_1d(ref[col]), rtol=R_TOL,
                                   err_msg=col)
    np.testing.assert_allclose(res.summary["lower"], np.atleast_1d(ref["lower"]), rtol=1e-4)
    np.testing.assert_allclose(res.summary["upper"], np.atleast_1d(ref["upper"]), rtol=1e-4)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=R_TOL)


@pytest.mark.slow
def test_firth_on_counting_rows_with_strata_weights_and_cluster_equals_memory(client):
    # coxphf's iteration halves a step while the penalised likelihood has not risen,
    # which at convergence may be decided by its last bit: the estimates then agree to
    # that iteration's step (coxphf's eps = 1e-6 on the unit-SD scale), not to rounding
    df = heart()
    kw = dict(covariates=["age", "transplant"], start="start", firth=True)
    for extra in (dict(strata="surgery"), dict(weights="w", cluster="id")):
        res = mo.cox(parts(df, 4), "stop", "event", **kw, **extra)
        same_firth(res, mo.cox(df, "stop", "event", **kw, **extra), 1e-6)
    assert res.warnings[-1].startswith("ties='efron' does not apply")


# -- aliased covariates ---------------------------------------------------------------------

ALIASED = {  # tests/reference/cox_faults.R: coxph reports NA for the aliased column
    "aliased_combo": dict(covariates=["group", "age", "ph_ecog", "combo", "ph_karno"]),
    "aliased_strata": dict(covariates=["group", "age", "ecog3"], strata="ph_ecog"),
    "aliased_weighted": dict(covariates=["group", "age", "ph_ecog", "combo"], weights="w"),
}


@pytest.mark.parametrize("key", list(ALIASED))
def test_aliased_covariate_is_nan_with_the_in_memory_warning_and_r_fit(client, key):
    d = reference_data("lung")
    df = d.assign(combo=d.age + 2 * d.ph_ecog, ecog3=3 * d.ph_ecog + 1,
                  w=1 + (np.arange(1, len(d) + 1) % 3) / 2)
    with pytest.warns(mo.StatisticalWarning, match="aliased covariate"):
        res = mo.cox(parts(df, 5), **ALIASED[key])
    with pytest.warns(mo.StatisticalWarning, match="aliased covariate"):
        mem = mo.cox(df, **ALIASED[key])
    same_cox(res, mem)
    np.testing.assert_array_equal(res.vcov.isna(), mem.vcov.isna())
    r = reference("cox_faults")[key]
    coef = np.array([np.nan if v is None else v for v in r["coef"]], dtype=float)
    assert list(res.summary.index) == r["term"]
    np.testing.assert_allclose(res.summary["coef"], coef, rtol=R_TOL)  # NaN where R has NA
    np.testing.assert_allclose(res.tests["statistic"], [r["lr"], r["wald"], r["score"]],
                               rtol=R_TOL)
