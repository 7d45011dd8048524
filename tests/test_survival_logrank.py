"""Log-rank family against R's survdiff, RISCA's IPTW log-rank, lifelines and the survival port."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mace_outcomes as mo

SETS = ["lung", "veteran"]


def load(name):
    ref = reference(name)
    df = reference_data(name)
    df["w"] = ref["iptw"]["weights_ate"]
    return ref, df


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key", ["logrank", "peto_peto"])
def test_grho_matches_survdiff(name, key):
    ref, df = load(name)
    r = ref[key]
    res = mo.logrank(df, group="group", rho=r["rho"])
    assert res.statistic == pytest.approx(r["chisq"], rel=1e-6)
    assert res.df == r["df"]
    assert res.p_value == pytest.approx(r["p"], rel=1e-6)
    np.testing.assert_allclose(res.table["observed"], r["observed"], rtol=1e-6)
    np.testing.assert_allclose(res.table["expected"], r["expected"], rtol=1e-6)
    assert not res.weighted and list(res.table["group"]) == [0, 1]


@pytest.mark.parametrize("name", SETS)
def test_iptw_logrank_matches_risca(name):
    ref, df = load(name)
    r = ref["iptw"]["adjusted_logrank_ate"]
    res = mo.logrank(df, group="group", weights="w")
    assert res.weighted and "Xie" in res.method
    assert res.z == pytest.approx(r["z"], rel=1e-6)
    assert res.p_value == pytest.approx(r["p"], rel=1e-6)
    assert res.statistic == pytest.approx(r["z"] ** 2, rel=1e-6)


def test_iptw_logrank_matches_xie_liu_formula_in_r():
    # RISCA is not needed to recompute its test: spot_checks.R writes Xie & Liu's formula out
    r = reference("spot_checks")["iptw_logrank_lung"]
    _, df = load("lung")
    res = mo.logrank(df, group="group", weights="w")
    assert res.z == pytest.approx(r["z"], rel=1e-9)
    assert res.p_value == pytest.approx(r["p"], rel=1e-9)


@pytest.mark.parametrize("name", SETS)
def test_unit_weights_give_ordinary_logrank(name):
    ref, df = load(name)
    df["one"] = 1.0
    res = mo.logrank(df, group="group", weights="one")
    assert res.statistic == pytest.approx(ref["logrank"]["chisq"], rel=1e-9)
    np.testing.assert_allclose(res.table["expected"], ref["logrank"]["expected"], rtol=1e-9)


frames = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 1), st.integers(0, 1),
                            st.integers(0, 1)), min_size=6, max_size=60)


def _frame(rows):
    df = pd.DataFrame(rows, columns=["time", "event", "group", "stratum"])
    df["time"] = df["time"].astype(float)
    return df


@settings(max_examples=40, deadline=None)
@given(frames)
def test_property_unit_weights_reduce_to_logrank(rows):
    df = _frame(rows)
    if df["group"].nunique() < 2 or df["event"].sum() == 0:
        return
    df["one"] = 1.0
    plain = mo.logrank(df, group="group", strata="stratum")
    iptw = mo.logrank(df, group="group", strata="stratum", weights="one")
    if plain.variance[1, 1] <= 1e-12:
        return
    assert iptw.statistic == pytest.approx(plain.statistic, rel=1e-9, abs=1e-12)
    assert iptw.z == pytest.approx(plain.z, rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 1), st.integers(0, 2),
                          st.integers(0, 1)), min_size=6, max_size=60),
       st.sampled_from([0, 1, 0.5]))
def test_property_matches_survival_port(rows, rho):
    survival = pytest.importorskip("survival")
    df = _frame(rows)
    if df["group"].nunique() < 2 or df["event"].sum() == 0:
        return
    res = mo.logrank(df, group="group", strata="stratum", rho=rho)
    try:
        f = survival.survdiff("Surv(time, event) ~ group + strata(stratum)", data=df, rho=rho)
    except RuntimeError:  # singular variance (R stops there too): nothing to compare
        assume(False)
    assert res.statistic == pytest.approx(f.chisq, rel=1e-8, abs=1e-10)
    assert res.df == f.df
    np.testing.assert_allclose(res.table["expected"],
                               np.asarray(f.exp, dtype=float).reshape(len(res.table), -1)
                               .sum(axis=1), rtol=1e-9, atol=1e-12)


def test_three_groups_and_strata_match_r():
    # R: v$arm3 <- findInterval(v$karno, c(40.5, 70.5));
    # survdiff(Surv(time, event) ~ arm3 + strata(prior), v)
    _, df = load("veteran")
    df["arm3"] = np.digitize(df["karno"], [40.5, 70.5])
    r = reference("spot_checks")["logrank_three_groups"]
    res = mo.logrank(df, group="arm3", strata="prior")
    assert res.df == 2
    assert res.statistic == pytest.approx(r["chisq"], rel=1e-9)
    np.testing.assert_allclose(res.table["observed"], r["observed"])
    np.testing.assert_allclose(res.table["expected"], r["expected"], rtol=1e-9)


@pytest.mark.parametrize("name", SETS)
def test_logrank_agrees_with_lifelines(name):
    from lifelines.statistics import logrank_test

    _, df = load(name)
    a, b = df[df["group"] == 0], df[df["group"] == 1]
    ll = logrank_test(a["time"], b["time"], a["event"], b["event"])
    assert mo.logrank(df, group="group").statistic == pytest.approx(ll.test_statistic,
                                                                     rel=1e-9)


def test_bad_input_raises_input_error():
    _, df = load("lung")
    with pytest.raises(mo.InputError, match="group"):
        mo.logrank(df.assign(group=1), group="group")  # one level
    with pytest.raises(mo.InputError):
        mo.logrank(df.assign(w=-1.0), group="group", weights="w")
    with pytest.raises(mo.InputError):
        mo.logrank(df.assign(g3=np.arange(len(df)) % 3), group="g3", weights="w")
    with pytest.raises(mo.InputError):
        mo.logrank(df, group="group", weights="w", rho=1)


def test_repr_reads_like_r():
    _, df = load("lung")
    text = repr(mo.logrank(df, group="group"))
    assert "Chisq = 9.598 on 1 df" in text and "expected" in text
