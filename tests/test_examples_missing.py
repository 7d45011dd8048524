"""examples/missing_and_matching.py: blanking, imputation, pooled weighted comparison.

The example's pooled hazard ratios are checked against Rubin's rules written out here
(mean of the m log HRs; total variance = mean within variance + (1 + 1/m) x between
variance) over Cox fits this test makes itself on each completed data set, with the
propensity model re-fitted within each ("within" approach).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "missing_and_matching.py"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("missing_and_matching", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("out")
    return module, module.main(["--out", str(out), "--m", "3", "--seed", "3"])


def _rubin(q, se):
    q, u = np.asarray(q), np.asarray(se) ** 2
    m = len(q)
    return q.mean(), np.sqrt(u.mean() + (1 + 1 / m) * q.var(ddof=1))


def test_blanking_and_imputation(example):
    module, res = example
    df, imp = res["data"], res["imputations"]
    tte = mo.time_to_event(mo.load_example(), endpoint="mace", horizon=365)
    n = len(tte)
    for col, share in module.BLANKED.items():
        miss = df[col].isna().to_numpy()
        assert miss.sum() == round(share * n) == res["blanked"][col]
        assert res["missingness"].table.set_index("variable").loc[col, "n_missing"] \
            == miss.sum()
        for d in imp.datasets:
            assert d[col].notna().all()
            # observed values are never changed by the imputation
            kept, before = d.loc[~miss, col], tte.loc[~miss, col]
            if pd.api.types.is_numeric_dtype(before):
                assert np.array_equal(kept.to_numpy(float), before.to_numpy(float))
            else:
                assert (kept == before).all()
    # predictive mean matching imputes values observed in other patients
    observed_ages = set(df["age_years"].dropna())
    for d in imp.datasets:
        assert set(d.loc[df["age_years"].isna(), "age_years"]) <= observed_ages


def test_pooled_hazard_ratios_are_rubins_rules(example):
    module, res = example
    imp, pooled = res["imputations"], res["comparison"].summary
    crude, iptw = [], []
    for d in imp.datasets:
        c = mo.cox(d, covariates=["arm"]).summary.loc["armOCT"]
        crude.append((c["coef"], c["se"]))
        ps = mo.propensity(d, "arm", module.COVARIATES, estimand="ATE", treated="OCT")
        w = mo.cox(d, covariates=["arm"], weights=ps.weights).summary.loc["armOCT"]
        iptw.append((w["coef"], w["se"]))  # robust (sandwich) SE with weights
    for row, fits in (("crude: hr", crude), ("IPTW-ATE: hr", iptw)):
        est, se = _rubin(*zip(*fits, strict=True))
        assert pooled.loc[row, "estimate"] == pytest.approx(est, abs=1e-6), row
        assert pooled.loc[row, "se"] == pytest.approx(se, rel=1e-5), row
    # the crude model has no imputed covariate: the m fits agree, no between variance
    assert pooled.loc["crude: hr", "b"] == pytest.approx(0, abs=1e-12)
    assert pooled.loc["IPTW-ATE: hr", "b"] > 0


def test_pooled_survival_on_cloglog_scale(example):
    _, res = example
    imp, ps, km = res["imputations"], res["propensity"], res["survival"].summary
    for arm in ("IVUS", "OCT"):
        q, se = [], []
        for d, fit in zip(imp.datasets, ps.fits, strict=True):
            at = mo.kaplan_meier(d, group="arm", weights=fit.weights).at(365)
            s, e = at.set_index("group").loc[arm, ["surv", "std_err"]]
            q.append(np.log(-np.log(s)))
            se.append(e / abs(s * np.log(s)))  # delta method
        est, _ = _rubin(q, se)
        assert km.loc[f"{arm} at 365", "surv"] == pytest.approx(np.exp(-np.exp(est)), abs=1e-9)


def test_writes_only_its_tables(example):
    _, res = example
    files = {p.name for p in res["out"].iterdir()}
    expected = {"missingness.csv", "balance_weighted.csv", "hazard_ratios.csv",
                "survival_1y.csv"}
    if "match" in res:
        expected |= {"balance_matched.csv"}
    if "matched_comparison" in res:
        expected |= {"hazard_ratios_matched.csv"}
    assert files == expected
    back = pd.read_csv(res["out"] / "hazard_ratios.csv")
    assert list(back["analysis"]) == ["crude", "IPTW-ATE", "overlap"]
    assert np.allclose(back["hr"], res["comparison"].summary["hr"].dropna(), rtol=1e-9)


def _match_fn():
    match = getattr(mo, "match", None)
    if match is None:
        from mace_outcomes.weighting.match import match
    return match


def test_matched_row_pools_matching_within_each_imputation(example):
    module, res = example
    if "matched_comparison" not in res:
        pytest.skip("compare_arms(adjustment=) not available")
    imp, cmp = res["imputations"], res["matched_comparison"]
    match = _match_fn()
    logs = []
    for d, per in zip(imp.datasets, cmp.per_imputation, strict=True):
        m = match(d, "arm", module.COVARIATES, treated="OCT", id="patient_id")
        # the row matched this imputation's data exactly as mo.match does
        assert sorted(per.matched.data["patient_id"]) == sorted(m.data["patient_id"])
        md = m.data
        arms_with_events = md.loc[md["event"] == 1, "arm"].nunique()
        if arms_with_events == 2:   # Cox, robust SE clustered on the matched pair
            fit = mo.cox(md, covariates=["arm"], weights="match_weight", cluster="subclass")
        else:                       # an arm without events: Firth-penalised Cox
            fit = mo.cox(md, covariates=["arm"], weights="match_weight", firth=True)
        logs.append(fit.summary.loc["armOCT", "coef"])
    # the pooled estimate is the mean of the m matched log hazard ratios
    pooled = cmp.summary.loc["matched: hr", "estimate"]
    assert pooled == pytest.approx(np.mean(logs), abs=1e-6)
    m1 = res["match"]
    assert int(m1.counts.set_index("group").loc["OCT", "matched"]) == len(m1.pairs)
