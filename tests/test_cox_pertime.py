"""Per-time statistics of the Cox partial likelihood (regression/_pertime.py).

The log-likelihood, score, information (one weighted X'WX product plus per-time terms)
and score residuals at a fixed beta are held to R's ``coxph(init=, iter.max=0)``,
``coxph.detail`` and ``residuals(type="score")`` (tests/reference/cox_pertime.R), both
in memory and summed over partitions; partitions' per-time tables add up to the whole's;
the information is the derivative of the score (finite differences).
"""

from __future__ import annotations

import pickle
from functools import reduce

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

from mace_outcomes.regression import _kernels as K
from mace_outcomes.regression import _pertime as P

R = reference("cox_pertime")
CASES = ["efron", "efron_weighted_strata", "breslow_weighted_strata", "counting_efron"]


def data(case: str) -> dict:
    """The rows of one R case: time, event, start, x, w, strata, ties."""
    if case == "counting_efron":
        h = reference_data("heart")
        return dict(time=h["stop"].to_numpy(float), event=h.event.to_numpy(),
                    start=h.start.to_numpy(float),
                    x=h[["age", "year", "transplant"]].to_numpy(float),
                    w=1 + (h.id.to_numpy() % 3) / 2, strata=h.surgery.to_numpy(), ties="efron")
    d = reference_data("cox_extra")
    x = np.c_[d.arm.eq("OCT"), d.arm.eq("angio"), d.x1, d.x2].astype(float)
    plain = case == "efron"
    return dict(time=d.time.to_numpy(float), event=d.event.to_numpy(), start=None, x=x,
                w=np.ones(len(d)) if plain else d.w.to_numpy(float),
                strata=None if plain else pd.factorize(d.site, sort=True)[0],
                ties="breslow" if case.startswith("breslow") else "efron")


def in_memory(dd: dict, beta: np.ndarray):
    """(loglik, score, information, score residuals in row order): one partition."""
    lay = K.make_layout(dd["time"], dd["event"], dd["strata"], dd["ties"], start=dd["start"])
    x, w = dd["x"][lay.order], dd["w"][lay.order]
    place = K.place_layout(lay)
    ll, u, i = K.cox_objective(x, w, lay, dd["ties"], place)(beta)
    resid = np.empty_like(dd["x"])
    resid[lay.order] = K.score_residuals(beta, x, w, lay, place)
    return ll, u, i, resid


def take(dd: dict, idx: np.ndarray, key: str):
    return None if dd[key] is None else dd[key][idx]


def partitioned(dd: dict, beta: np.ndarray, k: int = 3):
    """The same from ``k`` interleaved (unsorted) partitions, as a Dask path sums them."""
    n = len(dd["time"])
    ev = dd["event"] == 1
    grid = P.event_grid(take(dd, ev, "strata"), dd["time"][ev])
    parts = [np.arange(j, n, k) for j in range(k)]
    places = [P.place_rows(grid, dd["time"][i], dd["event"][i], take(dd, i, "strata"),
                           take(dd, i, "start")) for i in parts]
    pairs = list(zip(places, parts, strict=True))
    tables = [P.pertime(pl, dd["x"][i], dd["w"][i], beta) for pl, i in pairs]
    haz = P.hazard(reduce(P.PerTime.add, tables), dd["ties"])
    rows = reduce(P.RowSums.add, [P.newton_pieces(pl, dd["x"][i], dd["w"][i], beta, haz)
                                  for pl, i in pairs])
    ll, u, info = haz.combine(rows)
    resid = np.empty_like(dd["x"])
    for pl, i in pairs:
        resid[i] = P.score_residuals(pl, dd["x"][i], dd["w"][i], beta, haz)
    return ll, u, info, resid


@pytest.mark.parametrize("path", [in_memory, partitioned])
@pytest.mark.parametrize("case", CASES)
def test_matches_r_at_a_fixed_beta(case, path):
    ref = R[case]
    dd = data(case)
    ll, u, info, resid = path(dd, np.array(ref["beta"]))
    assert ll == pytest.approx(ref["loglik"], rel=1e-12)
    np.testing.assert_allclose(u, ref["score"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(info, np.array(ref["info"]), rtol=1e-9)
    np.testing.assert_allclose(resid, np.array(ref["resid"]), rtol=1e-8, atol=1e-10)
    # the weighted score residuals add up to the score (R's coxph.detail)
    np.testing.assert_allclose((dd["w"][:, None] * resid).sum(0), ref["wscore"], rtol=1e-9,
                               atol=1e-9)


def test_efron_information_at_the_fit_inverts_r_variance():
    ref = R["efron_fit"]
    _, u, info, _ = in_memory(data("efron"), np.array(ref["beta"]))
    np.testing.assert_allclose(np.linalg.inv(info), np.array(ref["var"]), rtol=1e-8)
    assert np.max(np.abs(u)) < 1e-6  # the score vanishes at R's estimate


@pytest.mark.parametrize("case", ["efron_weighted_strata", "counting_efron"])
def test_partition_tables_add_up_to_the_whole(case):
    dd = data(case)
    beta = np.array(R[case]["beta"])
    ev = dd["event"] == 1
    grid = P.event_grid(take(dd, ev, "strata"), dd["time"][ev])
    n = len(dd["time"])
    whole = P.pertime(P.place_rows(grid, dd["time"], dd["event"], dd["strata"], dd["start"]),
                      dd["x"], dd["w"], beta)
    rng = np.random.default_rng(3)
    part = rng.integers(0, 2, n)
    tabs = []
    for j in (0, 1):
        i = np.flatnonzero(part == j)
        pl = P.place_rows(grid, dd["time"][i], dd["event"][i], take(dd, i, "strata"),
                          take(dd, i, "start"))
        tabs.append(P.pertime(pl, dd["x"][i], dd["w"][i], beta))
    added = pickle.loads(pickle.dumps(tabs[0])).add(tabs[1])  # serialisable, additive
    for name in ("d", "wd", "s0", "s1", "e0", "e1"):
        ref = getattr(whole, name)
        np.testing.assert_allclose(getattr(added, name), ref, rtol=1e-12,
                                   atol=1e-13 * np.abs(ref).max())
    # the in-memory layout gives the same table on the same grid
    lay = K.make_layout(dd["time"], dd["event"], dd["strata"], dd["ties"], start=dd["start"])
    mem = P.pertime(K.place_layout(lay, dd["time"][lay.order], dd["strata"][lay.order]),
                    dd["x"][lay.order], dd["w"][lay.order], beta)
    np.testing.assert_array_equal(mem.time, whole.time)
    np.testing.assert_array_equal(mem.stratum, whole.stratum)
    np.testing.assert_allclose(mem.s1, whole.s1, rtol=1e-12, atol=1e-13 * np.abs(whole.s1).max())


@pytest.mark.parametrize("case", CASES)
def test_information_is_the_derivative_of_the_score(case):
    dd = data(case)
    beta = np.array(R[case]["beta"])
    ll, u, info, _ = in_memory(dd, beta)
    step = 1e-5
    p = len(beta)
    num_info = np.empty((p, p))
    num_score = np.empty(p)
    for j in range(p):  # central differences, one coordinate at a time
        e = np.zeros(p)
        e[j] = step
        lp, up, _, _ = in_memory(dd, beta + e)
        lm, um, _, _ = in_memory(dd, beta - e)
        num_info[:, j] = -(up - um) / (2 * step)
        num_score[j] = (lp - lm) / (2 * step)
    np.testing.assert_allclose(info, num_info, rtol=1e-6, atol=1e-6 * np.abs(info).max())
    np.testing.assert_allclose(u, num_score, rtol=1e-5, atol=1e-6 * np.abs(u).max())


def test_efron_terms_are_k_over_d():
    tied, km1, first, f = P.efron_terms(np.array([1, 3, 2, 1]))
    np.testing.assert_array_equal(tied, [1, 2])
    np.testing.assert_array_equal(km1, [2, 1])
    np.testing.assert_array_equal(first, [0, 2])
    np.testing.assert_allclose(f, [1 / 3, 2 / 3, 1 / 2])


def test_single_death_times_make_efron_and_breslow_one():
    # with no tied deaths Efron's and Breslow's likelihoods are the same function
    dd = data("efron")
    dd["time"] = dd["time"] + np.arange(len(dd["time"])) * 1e-3  # break every tie
    beta = np.array(R["efron"]["beta"])
    a = in_memory(dd, beta)
    b = in_memory(dict(dd, ties="breslow"), beta)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_an_overflowing_step_reports_minus_infinity():
    dd = data("efron")
    ll, u, info, _ = partitioned(dd, np.array([1e3, 0, 0, 0]))
    assert ll == -np.inf and np.isnan(u).all() and np.isnan(info).all()


def test_mismatched_grids_and_off_grid_events_are_refused():
    dd = data("efron")
    ev = dd["event"] == 1
    grid = P.event_grid(None, dd["time"][ev])
    a = P.pertime(P.place_rows(grid, dd["time"], dd["event"]), dd["x"], dd["w"], np.zeros(4))
    short = (grid[0][1:], grid[1][1:])
    b = P.pertime(P.place_rows(short, dd["time"][~ev], dd["event"][~ev]), dd["x"][~ev],
                  dd["w"][~ev], np.zeros(4))
    with pytest.raises(ValueError, match="different event-time grids"):
        a.add(b)
    with pytest.raises(ValueError, match="not on the grid"):
        P.place_rows(short, dd["time"], dd["event"])
