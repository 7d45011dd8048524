"""mo.match: nearest-neighbour propensity-score matching held against R's MatchIt.

tests/reference/match.R simulates match_cohort.csv (continuous and binary covariates, a
three-level factor, a site, a survival outcome) and match_ties.csv (discrete covariates
only: many units share a score, so MatchIt's tie-breaking decides pairs) and runs
``matchit(method = "nearest", distance = "glm", link = "linear.logit")`` (MatchIt version
in match.json) over 1:1, caliper (in SDs of the logit and in logit units), orders
largest / smallest / data, 1:2 and 1:3, with replacement, exact matching and the ATC. It
records every pair, the distances, weights, subclasses, ``summary()`` balance and sample
sizes, and the matched Cox model ``coxph(Surv(time, status) ~ arm, weights = weights,
cluster = subclass)``.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

from mace_outcomes.errors import InputError
from mace_outcomes.regression.fit import cox
from mace_outcomes.weighting._match_kernel import (
    matching_order,
    nearest_with_replacement,
    nearest_without_replacement,
)
from mace_outcomes.weighting.match import match

REF = reference("match")
CASES = list(REF["cases"])
COHORT = ["age", "bmi", "diabetes", "female", "vessel"]
TIES = ["age10", "diabetes", "female"]


def _na(v) -> float:
    return np.nan if v in (None, "NA") else float(v)


def _setup(name: str):
    case = REF["cases"][name]
    a = case["args"] or {}
    ties = name.startswith("ties")
    data = reference_data("match_ties" if ties else "match_cohort")
    kw = dict(ratio=a.get("ratio", 1), caliper=a.get("caliper"),
              std_caliper=a.get("std.caliper", True),
              replace=a.get("replace", False), estimand=a.get("estimand", "ATT"),
              order=a.get("m.order", "smallest" if a.get("estimand") == "ATC" else "largest"),
              exact=a["exact"].lstrip("~") if "exact" in a else None)
    return case, data, TIES if ties else COHORT, kw


@cache
def _fit(name: str, **extra):
    case, data, cov, kw = _setup(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MatchIt warns of too few controls too
        return case, data, match(data, "arm", cov, id="id", **{**kw, **extra})


def _pairs(m) -> dict:
    cols = [c for c in m.pairs.columns if c.startswith(("control_", "treated_"))]
    focal = m.pairs.columns[1]
    return {int(r[0]): [int(x) for x in r[1:] if pd.notna(x)]
            for r in m.pairs[[focal, *cols]].itertuples(index=False)}


def _ref_pairs(case) -> dict:
    return {int(p["focal"]): [int(x) for x in np.atleast_1d(p["matches"])]
            for p in case["pairs"]}


def test_reference_is_a_fixed_matchit():
    major, minor, patch = (int(x) for x in REF["matchit_version"].split(".")[:3])
    assert (major, minor, patch) >= (4, 5, 4)  # 4.5.1's nearest-neighbour caliper is broken


@pytest.mark.parametrize("name", CASES)
def test_pairs_equal_matchit(name):
    case, _, m = _fit(name)
    assert _pairs(m) == _ref_pairs(case)  # treated id -> control ids, in order


@pytest.mark.parametrize("name", CASES)
def test_kernel_on_matchit_distances(name):
    """The same pairs from R's own distances: the kernel alone, free of the glm fit."""
    case, data, _, kw = _setup(name)
    d = np.asarray(case["distance"], dtype=float)
    z = data["arm"].to_numpy() == 1
    focal = z if kw["estimand"] == "ATT" else ~z
    strata = None if kw["exact"] is None else pd.factorize(data[kw["exact"]])[0]
    cal = None if case["caliper17"] is None else float(case["caliper17"])
    if kw["replace"]:
        mm = nearest_with_replacement(d, focal, kw["ratio"], cal, strata)
    else:
        mm = nearest_without_replacement(d, focal, matching_order(d[focal], kw["order"]),
                                         kw["ratio"], cal, strata)
    ids, fid = data["id"].to_numpy(), data["id"].to_numpy()[focal]
    ours = {int(fid[i]): [int(ids[j]) for j in row if j >= 0]
            for i, row in enumerate(mm) if row[0] >= 0}
    assert ours == _ref_pairs(case)


@pytest.mark.parametrize("name", ["caliper", "ties"])
def test_distance_and_caliper(name):
    case, _, m = _fit(name)
    # R's glm iterations replayed: the same distances to the last bits (1e-12 leaves room
    # for another C library's exp), so exact ties in the distance stay ties
    ref = np.asarray(case["distance"], dtype=float)
    np.testing.assert_allclose(m.distance.to_numpy(), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.coef["coef"], np.asarray(case["coef"], float), rtol=1e-12)
    assert m.caliper_logit == pytest.approx(float(case["caliper17"]), rel=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_weights_and_subclasses(name):
    case, _, m = _fit(name)
    np.testing.assert_allclose(m.weights.to_numpy(), case["weights"], rtol=0, atol=1e-12)
    if case["subclass"] is None:
        assert m.subclass.isna().all() and m.pairs["subclass"].isna().all()
    else:
        ref = np.array([_na(v) for v in case["subclass"]])
        ours = m.subclass.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(ours, ref)
        # data: the matched rows, each set a focal unit and its controls
        assert set(m.data["subclass"]) == set(m.pairs["subclass"])
    assert (m.data["match_weight"] > 0).all()
    assert len(m.data) == int((np.asarray(case["weights"]) > 0).sum())


@pytest.mark.parametrize("name", CASES)
def test_balance_equals_summary(name):
    case, _, m = _fit(name)
    bal = m.balance().set_index("covariate")
    compared = 0
    for which, cols in (("balance_all", ("smd_before", "var_ratio_before")),
                        ("balance_matched", ("smd_after", "var_ratio_after"))):
        ref = case[which]
        for i, cv in enumerate(ref["covariate"]):
            if cv not in bal.index:  # MatchIt lists every factor level, we the dummies
                continue
            for col, key in zip(cols, ("smd", "var_ratio"), strict=True):
                np.testing.assert_allclose(bal.loc[cv, col], _na(ref[key][i]), rtol=1e-7,
                                           atol=1e-9, equal_nan=True, err_msg=f"{cv} {col}")
                compared += 1
    assert compared >= 8


@pytest.mark.parametrize("name", CASES)
def test_counts_equal_summary_nn(name):
    case, _, m = _fit(name)
    nn = case["nn"]
    c = m.counts.set_index("group")
    for row, col in (("All", "all"), ("Matched", "matched"), ("Unmatched", "unmatched"),
                     ("Matched (ESS)", "ess")):
        i = nn["rows"].index(row)
        assert c.loc[1, col] == pytest.approx(nn["treated"][i], rel=1e-10)
        assert c.loc[0, col] == pytest.approx(nn["control"][i], rel=1e-10)
    assert len(m.unmatched) == c["unmatched"].sum()
    assert set(m.unmatched).isdisjoint(set(m.data["id"]))


@pytest.mark.parametrize("name", [n for n in CASES if REF["cases"][n].get("cox")])
def test_matched_cox_equals_coxph(name):
    case, _, m = _fit(name)
    cluster = None if m.replace else "subclass"
    fit = cox(m.data, time="time", event="status", covariates=["arm"],
              weights="match_weight", cluster=cluster)
    s = fit.summary.iloc[0]
    assert s["coef"] == pytest.approx(case["cox"]["coef"], abs=1e-6)
    assert s["se"] == pytest.approx(case["cox"]["se"], abs=1e-6)


# -- properties --------------------------------------------------------------------------

def test_no_pair_outside_the_caliper_and_no_control_reused():
    _, data, m = _fit("ratio3_caliper")
    d = m.distance.set_axis(data["id"])
    for row in m.pairs.itertuples(index=False):
        for c in row[2:5]:
            if pd.notna(c):
                assert abs(d[row[1]] - d[c]) <= m.caliper_logit
    used = m.pairs[["control_1", "control_2", "control_3"]].stack().dropna()
    assert used.is_unique


def test_random_order_is_seeded_and_valid():
    _, _, a = _fit("caliper", order="random", seed=3)
    _, _, b = _fit("caliper", order="random", seed=3)
    assert _pairs(a) == _pairs(b)
    for row in a.pairs.itertuples(index=False):
        assert abs(a.distance[row[1] - 1001] - a.distance[row[2] - 1001]) <= a.caliper_logit


def test_one_to_one_without_caliper_matches_every_treated_unit():
    _, data, m = _fit("nearest")
    assert len(m.pairs) == int(data["arm"].sum()) == len(m.data) // 2


def test_greedy_choice_is_the_nearest_available_control():
    """order='data', 1:1: each treated unit's control is the nearest among controls not
    taken by the units before it (brute force over all pairs)."""
    _, data, m = _fit("ties_data")
    d = m.distance.set_axis(data["id"])
    z = data.set_index("id")["arm"]
    free = set(z.index[z == 0])
    for row in m.pairs.itertuples(index=False):
        t, c = row[1], row[2]
        best = min(abs(d[t] - d[j]) for j in free)
        assert abs(d[t] - d[c]) == best
        free.remove(c)


def test_result_views_and_love_plot():
    _, _, m = _fit("caliper")
    assert m.to_markdown().startswith("**Nearest-neighbour matching**")
    assert "Balance" in repr(m) and "<div>" in m._repr_html_()
    fig = m.plot()
    assert list(fig.balance_table["covariate"]).count("age") == 1
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_bad_input_is_named():
    data = reference_data("match_cohort")
    with pytest.raises(InputError, match="estimand"):
        match(data, "arm", COHORT, estimand="ATE")
    with pytest.raises(InputError, match="ratio"):
        match(data, "arm", COHORT, ratio=0)
    with pytest.raises(InputError, match="order"):
        match(data, "arm", COHORT, order="closest")
    bad = data.assign(age=data["age"].where(data["id"] != 1003))
    with pytest.raises(InputError, match="age") as err:
        match(bad, "arm", COHORT, id="id")
    assert 1003 in err.value.problems[0].rows or "1003" in str(err.value)
    with pytest.raises(InputError, match="subclass"):
        match(data.assign(subclass=1), "arm", COHORT)
    dup = data.assign(id=1)
    with pytest.raises(InputError, match="unique"):
        match(dup, "arm", COHORT, id="id")


def test_exact_tie_goes_to_the_control_the_walk_reaches_first():
    """By hand (and MatchIt, match.json hand_tie): controls at 0 and 2, treated at 0.9 and
    1. The unit at 1 is matched first (largest) and is exactly 1 from both controls; the
    walk passes the treated unit at 0.9 on its left, so it reaches 2 first and takes it;
    the unit at 0.9 is left with the control at 0."""
    ref = REF["hand_tie"]
    df = pd.DataFrame({"id": [1, 2, 3, 4], "arm": ref["arm"], "x": ref["x"]})
    m = match(df, "arm", distance="x", caliper=None, id="id")
    assert _pairs(m) == {3: [4], 2: [1]}
    assert _pairs(m) == {int(t): [int(c)] for t, c in zip(ref["treated"], ref["control"],
                                                          strict=True)}
