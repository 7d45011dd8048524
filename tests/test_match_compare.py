"""compare_arms(adjustment=[..., "match"]): the matched row against R.

tests/reference/match.R matches match_cohort.csv with MatchIt and fits, on
``match.data(m)``, ``coxph(Surv(time, status) ~ arm, weights = weights, cluster =
subclass)``, the weighted Kaplan-Meier clustered on subclass at 365 days (log-log
intervals) and the robust score test of ``coxph(... + cluster(subclass), ties =
"breslow")`` (the cluster-robust log-rank).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from scipy import stats

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.weighting.compare import compare_arms

REF = reference("match")["cases"]
COV = ["age", "bmi", "diabetes", "female", "vessel"]


def _compare(**kw):
    data = reference_data("match_cohort")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare_arms(data, "arm", COV, event="status", **kw)


@pytest.mark.parametrize(("name", "matching"), [("caliper", {"caliper": 0.2}),
                                                ("ratio2", {"ratio": 2, "caliper": None})])
def test_matched_row_equals_r(name, matching):
    ref = REF[name]
    res = _compare(adjustment=("iptw", "overlap", "match"), matching=matching)
    assert list(res.table["analysis"]) == ["crude", "IPTW-ATE", "overlap", "matched"]
    row = res.table.set_index("analysis").loc["matched"]
    coef, se = ref["cox"]["coef"], ref["cox"]["se"]
    z = stats.norm.ppf(0.975)
    assert np.log(row["hr"]) == pytest.approx(coef, abs=1e-6)
    assert np.log(row["lower"]) == pytest.approx(coef - z * se, abs=1e-6)
    assert np.log(row["upper"]) == pytest.approx(coef + z * se, abs=1e-6)
    assert row["p"] == pytest.approx(2 * stats.norm.sf(abs(coef / se)), abs=1e-6)
    assert row["logrank_p"] == pytest.approx(ref["logrank_robust"]["p"], abs=1e-6)
    km = ref["km365"]
    assert row["surv_control"] == pytest.approx(km["surv"][0], abs=1e-8)
    assert row["surv_treated"] == pytest.approx(km["surv"][1], abs=1e-8)
    at = res.curves["matched"].at(365).set_index("group")
    np.testing.assert_allclose(at.loc[[0, 1], "std_err"], km["std_err"], atol=1e-6)
    np.testing.assert_allclose(at.loc[[0, 1], "lower"], km["lower"], atol=1e-6)
    nn = ref["nn"]
    i = nn["rows"].index("Matched")
    assert (row["n_treated"], row["n_control"]) == (nn["treated"][i], nn["control"][i])
    assert res.matched is not None and res.weighted
    assert any(n.startswith("matched:") for n in res.notes)


def test_default_rows_unchanged():
    """adjustment=None gives the rows compare_arms always gave, number for number."""
    a = _compare()
    b = _compare(adjustment=("iptw", "overlap"))
    assert list(a.table["analysis"]) == ["crude", "IPTW-ATE", "overlap"]
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.matched is None


def test_matched_only():
    res = _compare(adjustment=["match"], matching={"caliper": 0.2})
    assert list(res.table["analysis"]) == ["crude", "matched"]
    assert res.propensity == {}


def test_replacement_uses_robust_se_without_subclass():
    ref = REF["replace"]
    res = _compare(adjustment=["match"], matching={"replace": True, "caliper": None})
    row = res.table.set_index("analysis").loc["matched"]
    assert np.log(row["hr"]) == pytest.approx(ref["cox"]["coef"], abs=1e-6)
    z = stats.norm.ppf(0.975)
    assert np.log(row["upper"]) == pytest.approx(ref["cox"]["coef"] + z * ref["cox"]["se"],
                                                 abs=1e-6)


def test_no_events_in_a_matched_arm_uses_firth():
    """Every treated event removed: the matched row takes the Firth path with Fisher's
    exact p on the matched rows (an arm without events has a finite Firth HR < 1)."""
    data = reference_data("match_cohort")
    data.loc[data["arm"] == 1, "status"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compare_arms(data, "arm", COV, event="status", adjustment=["match"])
    row = res.table.set_index("analysis").loc["matched"]
    assert row["method"].startswith("Firth")
    assert 0 < row["hr"] < 1 and np.isfinite(row["upper"])
    assert 0 <= row["exact_p"] <= 1


def test_imputations_match_within_each_and_pool():
    data = reference_data("match_cohort")
    rng = np.random.default_rng(5)
    data.loc[rng.choice(len(data), 30, replace=False), "bmi"] = np.nan
    imp = mo.impute(data, variables=["bmi", "age", "diabetes"], m=3, seed=2, time="time",
                    event="status", iterations=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = compare_arms(imp, "arm", COV, event="status", adjustment=["match"])
    per = [r.table.set_index("analysis").loc["matched", "hr"] for r in pooled.per_imputation]
    s = pooled.summary.loc["matched: hr"]
    # Rubin's point estimate: the mean of the per-imputation log HRs
    assert s["estimate"] == pytest.approx(np.mean(np.log(per)), rel=1e-10)
    assert s["hr"] == pytest.approx(np.exp(s["estimate"]), rel=1e-12)
    assert len(set(np.round(per, 12))) == 3  # matched anew within each imputation


def test_bad_adjustment_is_named():
    with pytest.raises(InputError, match="adjustment"):
        _compare(adjustment=["psm"])
    data = reference_data("match_cohort")
    with pytest.raises(InputError, match="adjustment"):
        compare_arms(data, "arm", event="status", adjustment=["match"])
    with pytest.raises(InputError, match="matching"):
        _compare(adjustment=["match"], matching={"treatment": "x"})
