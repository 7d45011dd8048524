"""Missing values: counted (STROBE 14b), shown in Table 1, never dropped silently.

Independent sources: pandas' own counts (``isna``, ``groupby``, ``value_counts``) for the
tables; for ``missing="complete_case"`` the same estimator fitted by hand on the rows
pandas' ``dropna`` keeps (identical numbers); for the errors the ids of the rows blanked
by the test itself.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.errors import InputError

COVS = ["age_years", "egfr", "lvef_percent"]


@pytest.fixture(scope="module")
def tte() -> pd.DataFrame:
    """A 300-patient time-to-event frame, ids renamed so that no id equals a position,
    with blanks the test chose: egfr at 9 rows, lvef_percent at 4 (one row both)."""
    d = mo.time_to_event(mo.simulate_registry(300, seed=11), "mace", horizon=365)
    d["patient_id"] = "P" + d["patient_id"].astype(str).str.zfill(4)
    d = d.reset_index(drop=True)
    d.loc[[2, 17, 40, 41, 90, 150, 151, 220, 299], "egfr"] = np.nan
    d.loc[[5, 40, 123, 280], "lvef_percent"] = np.nan
    return d


def _ids(d: pd.DataFrame, col: str) -> list:
    return d.loc[d[col].isna(), "patient_id"].tolist()


# ----------------------------------------------------------------------- missingness()
def test_missingness_counts_are_pandas_counts(tte):
    m = mo.missingness(tte, COVS + ["diabetes"], group="arm")
    t = m.table.set_index("variable")
    expected = tte[COVS + ["diabetes"]].isna().sum()
    assert t["n_missing"].tolist() == expected.tolist() == [0, 9, 4, 0]
    np.testing.assert_allclose(t["pct_missing"], 100 * expected / len(tte))
    by_arm = tte[COVS + ["diabetes"]].isna().groupby(tte["arm"]).sum()
    sizes = tte["arm"].value_counts()
    assert m.arms == ["OCT", "IVUS"]  # treated first, as every table
    for arm in m.arms:
        assert t[f"n_missing_{arm}"].tolist() == by_arm.loc[arm].tolist()
        np.testing.assert_allclose(t[f"pct_missing_{arm}"], 100 * by_arm.loc[arm] / sizes[arm])
    assert not m.complete and "egfr" in m.to_markdown()


def test_missingness_default_variables_are_table_ones(tte):
    # variables=None: the characteristics Table 1 describes (no ids, outcomes, dates)
    m = mo.missingness(tte)
    t1 = mo.table_one(tte, group="arm")
    assert m.table["variable"].tolist() == list(dict.fromkeys(t1.table["variable"]))
    assert "patient_id" not in set(m.table["variable"]) and "time" not in set(
        m.table["variable"])
    assert mo.missingness(tte, ["age_years"], group=None).table.columns.tolist() == [
        "variable", "n", "n_missing", "pct_missing"]


# ----------------------------------------------------------------------------- Table 1
def test_table_one_missing_line_per_arm(tte):
    d = tte.copy()
    d.loc[[3, 4, 7], "presentation"] = np.nan
    t1 = mo.table_one(d, group="arm", variables=["egfr", "presentation", "age_years"])
    tab = t1.table
    lines = tab[tab["row_type"] == "missing"].set_index("variable")
    assert list(lines.index) == ["egfr", "presentation"]  # none under a complete variable
    for var in lines.index:
        counts = d[var].isna().groupby(d["arm"]).sum()
        for arm in t1.arms:
            assert lines.loc[var, arm] == str(counts[arm])
    # the Missing line follows its variable's rows
    pos = tab.index[(tab["variable"] == "presentation") & (tab["row_type"] == "missing")][0]
    assert tab.loc[pos - 1, "variable"] == "presentation"
    # percentages among the non-missing (tableone's convention)
    level = tab[(tab["variable"] == "presentation") & (tab["row_type"] == "level")].iloc[0]
    oct_ = d.loc[d["arm"] == "OCT", "presentation"]
    share = 100 * (oct_ == level["level"]).sum() / oct_.notna().sum()
    assert level["OCT"].endswith(f"({share:.1f}%)")
    assert "    Missing" in t1.formatted()["Variable"].tolist()


# ----------------------------------------------------------------- errors name the ids
ESTIMATORS = {
    "cox": lambda d, **k: mo.cox(d, covariates=["arm", *COVS], **k),
    "propensity": lambda d, **k: mo.propensity(d, "arm", COVS, **k),
    "compare_arms": lambda d, **k: mo.compare_arms(d, "arm", COVS, **k),
    "compare_outcome": lambda d, **k: mo.compare_outcome(d, "event", "arm", COVS, **k),
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_error_names_ids_count_and_remedies(tte, name):
    with pytest.raises(InputError) as info:
        ESTIMATORS[name](tte)
    problems = {p.column: p for p in info.value.problems}
    assert set(problems) == {"egfr", "lvef_percent"}  # every column at once
    for col, n in (("egfr", 9), ("lvef_percent", 4)):
        assert list(problems[col].rows) == _ids(tte, col)
        assert f"{n} missing value" in problems[col].reason
        assert 'missing="complete_case"' in problems[col].fix
        assert "mo.impute" in problems[col].fix


def test_time_and_weight_missing_named_by_id(tte):
    d = tte.assign(w=1.0)
    d.loc[[8, 9], "time"] = np.nan
    d.loc[[12], "w"] = np.nan
    with pytest.raises(InputError) as info:
        mo.kaplan_meier(d, group="arm", weights="w")
    problems = {p.column: p for p in info.value.problems}
    assert list(problems["time"].rows) == ["P" + s for s in (
        d.loc[[8, 9], "patient_id"].str[1:])]
    assert list(problems["w"].rows) == [d.loc[12, "patient_id"]]
    assert "2 missing values" in problems["time"].reason
    # a Cox fit meets the same message before anything else
    with pytest.raises(InputError, match=r"1 missing value \(of 300 rows\)"):
        mo.cox(d, covariates=["arm"], weights="w")


# --------------------------------------------------------------- missing="complete_case"
def test_cox_complete_case_equals_fit_on_complete_rows(tte):
    fit = mo.cox(tte, covariates=["arm", *COVS], missing="complete_case")
    by_hand = mo.cox(tte.dropna(subset=COVS), covariates=["arm", *COVS])
    np.testing.assert_array_equal(fit.summary.to_numpy(), by_hand.summary.to_numpy())
    assert fit.n == len(tte) - 12  # 9 + 4 blanks, one row with both
    dropped = fit.dropped
    assert sorted(dropped.loc[dropped["variable"] == "egfr", "id"]) == sorted(_ids(tte, "egfr"))
    assert len(dropped) == 13 and dropped["id"].nunique() == 12
    note = next(n for n in fit.notes if n.startswith("complete cases"))
    assert "12 of 300 rows" in note and "egfr 9" in note and "lvef_percent 4" in note


def test_propensity_and_comparisons_complete_case(tte):
    done = tte.dropna(subset=COVS)
    ps = mo.propensity(tte, "arm", COVS, missing="complete_case")
    ps0 = mo.propensity(done, "arm", COVS)
    np.testing.assert_array_equal(ps.scores.to_numpy(), ps0.scores.to_numpy())
    assert ps.scores.index.equals(done.index) and len(ps.dropped) == 13
    ca = mo.compare_arms(tte, "arm", COVS, missing="complete_case")
    ca0 = mo.compare_arms(done, "arm", COVS)
    pd.testing.assert_frame_equal(ca.table, ca0.table)
    assert any("12 of 300 rows" in n for n in ca.notes)
    co = mo.compare_outcome(tte, "event", "arm", COVS, missing="complete_case")
    co0 = mo.compare_outcome(done, "event", "arm", COVS)
    pd.testing.assert_frame_equal(co.table, co0.table)
    assert set(co.dropped["variable"]) == {"egfr", "lvef_percent"}


def test_complete_frame_and_bad_policy(tte):
    done = tte.dropna(subset=COVS)
    fit = mo.cox(done, covariates=["arm", *COVS], missing="complete_case")
    assert fit.dropped.empty and not any(n.startswith("complete") for n in fit.notes)
    with pytest.raises(InputError, match="missing must be one of"):
        mo.cox(done, covariates=["arm"], missing="drop")


# ------------------------------------------------------------------------ the main job
def _cohort_folder(tmp_path, policy: str | None):
    c = mo.simulate_registry(200, seed=3)
    tables = {}
    for name in ("patients", "lesions", "events"):
        t = getattr(c, name).copy()
        t["patient_id"] = "P" + t["patient_id"].astype(str).str.zfill(4)
        tables[name] = t
    p = tables["patients"]
    blank = p.sample(20, random_state=1).index
    p.loc[blank, "egfr"] = np.nan
    folder = tmp_path / "cohort"
    folder.mkdir(parents=True)
    for name, t in tables.items():
        t.to_csv(folder / f"{name}.csv", index=False)
    line = f'missing = "{policy}"\n' if policy else ""
    (folder / "study.toml").write_text(
        f'[study]\nsynthetic = true\n{line}[propensity]\ncovariates = ["age_years", "egfr"]\n'
        "bootstrap = 0\n")
    return folder, p.loc[blank, "patient_id"].tolist(), list(blank)


def test_analyze_stops_naming_patients_and_writes_nothing(tmp_path):
    folder, ids, positions = _cohort_folder(tmp_path, None)
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        mo.analyze(folder, out, progress=False)
    (problem,) = info.value.problems
    assert problem.column == "egfr"
    assert sorted(problem.rows) == sorted(ids)  # patient ids, not positions
    assert not set(map(str, positions)) & set(map(str, problem.rows))
    assert "20 blank" in problem.reason
    assert 'missing = "complete_case"' in problem.fix and '"impute"' in problem.fix
    assert not out.exists()


@pytest.mark.slow  # a whole study run, about 6 s
def test_analyze_complete_case_attrition_line(tmp_path):
    folder, ids, _ = _cohort_folder(tmp_path, "complete_case")
    started = time.perf_counter()
    res = mo.analyze(folder, tmp_path / "out", progress=False)
    assert time.perf_counter() - started < 60
    att = res.results["attrition"].set_index("reason")
    assert att.loc["missing egfr", "patients"] == 20
    assert att.loc["kept", "patients"] == 180
    miss = res.results["missingness"].set_index("variable")
    assert miss.loc["egfr", "n_missing"] == 20
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Missing data" in html and re.search(r"missing egfr", html)
