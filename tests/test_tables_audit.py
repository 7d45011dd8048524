"""audit_reported on the paper's printed tables, against scipy.stats and its printed p."""


import numpy as np
import pytest
from conftest import REFERENCE_DIR, reference
from scipy import stats

import mace_outcomes as mo

PAPER = REFERENCE_DIR / "paper_tables.json"  # read by path in the path-input test


@pytest.fixture(scope="module")
def audit():
    return mo.audit_reported(reference("paper_tables"))


def summary_row(audit, variable, level="", variant="printed"):
    s = audit.summary
    hit = s[(s.variable == variable) & (s.level == level) & (s.variant == variant)]
    assert len(hit) == 1, (variable, level, variant)
    return hit.iloc[0]


def test_mace_p_is_uncorrected_chi_square_not_fisher(audit):
    t = np.array([[1, 31], [3, 44]])  # MACE at 1 year: 1/32 OCT vs 3/47 IVUS
    chi = stats.chi2_contingency(t, correction=False)
    assert chi[3].min() < 5  # expected counts 1.6 and 2.4: the stated rule asks for Fisher
    fisher = stats.fisher_exact(t)[1]
    assert round(chi[1], 3) == 0.517 and round(fisher, 3) == 0.643
    r = summary_row(audit, "mace_1y_patients")
    assert r["stated_test"] == "Fisher exact"
    assert r["p_stated"] == pytest.approx(fisher, rel=1e-9)
    assert r["matching_tests"] == "chi-square"
    assert not r["stated_matches"]
    assert "mace_1y_patients" in set(audit.mismatches["variable"])
    long = audit.table
    p_chi = long[(long.variable == "mace_1y_patients") & (long.test == "chi-square")]["p"]
    assert float(p_chi.iloc[0]) == pytest.approx(chi[1], rel=1e-9)


def test_prior_cabg_is_yates_corrected(audit):
    t = np.array([[3, 29], [3, 44]])
    yates = stats.chi2_contingency(t, correction=True)[1]
    assert round(yates, 3) == 0.952
    r = summary_row(audit, "prior_cabg")
    assert r["matching_tests"] == "chi-square (Yates)"
    assert r["p_stated"] == pytest.approx(stats.fisher_exact(t)[1], rel=1e-9)


def test_age_student_t_from_printed_numbers(audit):
    student = stats.ttest_ind_from_stats(70.16, 10.09, 32, 68.66, 7.84, 47).pvalue
    welch = stats.ttest_ind_from_stats(70.16, 10.09, 32, 68.66, 7.84, 47, equal_var=False).pvalue
    assert round(student, 2) == 0.46
    r = summary_row(audit, "age_years")
    assert r["p_stated"] == pytest.approx(student, rel=1e-9)
    assert r["matching_tests"] == "" and "age_years" in set(audit.mismatches["variable"])
    long = audit.table
    w = long[(long.variable == "age_years") & (long.test == "Welch t")].iloc[0]
    assert w["p"] == pytest.approx(welch, rel=1e-9)
    # the rounding of the printed numbers brackets the p at the printed numbers
    assert w["p_low"] <= w["p"] <= w["p_high"]


def test_contrast_volume_matches_welch_not_student(audit):
    # 348.8 ± 110.6 (33 lesions) vs 275.2 ± 76.8 (51 lesions), printed p = 0.002
    welch = stats.ttest_ind_from_stats(348.8, 110.6, 33, 275.2, 76.8, 51, equal_var=False)
    student = stats.ttest_ind_from_stats(348.8, 110.6, 33, 275.2, 76.8, 51)
    assert round(welch.pvalue, 3) == 0.002 and student.pvalue < 0.001
    r = summary_row(audit, "contrast_ml")
    assert r["matching_tests"] == "Welch t" and not r["stated_matches"]


@pytest.mark.parametrize("variable, counts, sizes, printed", [
    ("hypertension", (23, 39), (32, 47), 0.238),
    ("male", (20, 32), (32, 47), 0.607),
    ("bifurcation", (7, 17), (33, 51), 0.230),
])
def test_rows_following_the_stated_chi_square(audit, variable, counts, sizes, printed):
    t = np.array([[counts[0], sizes[0] - counts[0]], [counts[1], sizes[1] - counts[1]]])
    chi = stats.chi2_contingency(t, correction=False)
    assert chi[3].min() >= 5 and round(chi[1], 3) == printed
    r = summary_row(audit, variable)
    assert r["stated_test"] == "chi-square" and r["stated_matches"]


def test_fisher_rows_per_patient_at_one_year(audit):
    # MI at 1 year: 1/32 vs 0/47, printed 0.405 = Fisher with patient denominators
    assert round(stats.fisher_exact([[1, 31], [0, 47]])[1], 3) == 0.405
    r = summary_row(audit, "myocardial_infarction_1y")
    assert r["stated_test"] == "Fisher exact" and r["stated_matches"]
    # contrast-induced nephropathy: 1/33 vs 0/51 lesions, printed 0.393 = Fisher
    assert round(stats.fisher_exact([[1, 32], [0, 51]])[1], 3) == 0.393
    assert summary_row(audit, "contrast_induced_nephropathy")["stated_matches"]


@pytest.mark.parametrize("variable, a, b, printed", [
    ("stent_expansion_percent", (82, 8), (75, 9), 0.001),
    ("proximal_ref_mld_mm", (2.9, 0.3), (3.1, 0.3), 0.015),
    ("minimum_stent_area_mm2", (5.6, 1.3), (5.7, 1.2), 0.883),
])
def test_t_rows_following_the_stated_rule(audit, variable, a, b, printed):
    r = summary_row(audit, variable)
    assert r["stated_test"] == "Student t" and r["stated_matches"]
    p = stats.ttest_ind_from_stats(a[0], a[1], 33, b[0], b[1], 51).pvalue
    assert r["p_stated"] == pytest.approx(p, rel=1e-9)


def test_levels_medians_and_missing_p(audit):
    # one p per vessel level: that level against the rest, per lesion
    r = summary_row(audit, "vessel", "LM")
    t = np.array([[1, 32], [5, 46]])
    assert r["p_stated"] == pytest.approx(stats.fisher_exact(t)[1])
    assert r["matching_tests"] == "chi-square (Yates)"
    assert round(stats.chi2_contingency(t, correction=True)[1], 3) == 0.457
    # medians: said so, not guessed
    r = summary_row(audit, "procedure_time_min")
    assert not r["recomputable"] and "Mann-Whitney" in r["verdict"]
    assert "procedure_time_min" not in set(audit.mismatches["variable"])
    assert summary_row(audit, "emergency_cabg")["verdict"] == "no p printed"
    # the printed 27 and the consistent 33 are both audited for presentation
    alt = summary_row(audit, "presentation", variant="alternative: ACS IVUS = 33")
    t = np.array([[12, 14], [20, 33]])
    assert alt["p_stated"] == pytest.approx(stats.chi2_contingency(t, correction=False)[1])
    assert "sum to 41 of 47" in summary_row(audit, "presentation")["note"]


def test_path_input_exports_and_repr(audit, tmp_path):
    again = mo.audit_reported(PAPER)
    assert again.summary["p_stated"].equals(audit.summary["p_stated"])
    md = audit.to_markdown()
    assert "mace_1y_patients" in md and "0.517" in md
    assert "not following the stated rule" in repr(audit)
    small = mo.audit_reported({"arms": {"A": 10, "B": 12},
                               "t": {"x": {"A": 5, "B": 1, "p": "<0.05"}}})
    assert small.summary.loc[0, "stated_test"] == "Fisher exact"
    assert bool(small.summary.loc[0, "stated_matches"]) == (
        stats.fisher_exact([[5, 5], [1, 11]])[1] < 0.05)
