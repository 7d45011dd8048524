"""Follow-up reporting: observed median and range, reverse Kaplan-Meier, completeness."""

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

import mace_outcomes as mo
from mace_outcomes.outcomes import followup_summary
from mace_outcomes.outcomes.followup import DAYS_PER_MONTH


def _cohort(rng, n=120):
    index = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
    fu_days = rng.integers(240, 1100, n)
    p = pd.DataFrame({"patient_id": np.arange(n), "arm": rng.choice(["OCT", "IVUS"], n),
                      "index_date": index, "last_contact_date": index
                      + pd.to_timedelta(fu_days, "D")})
    dead = np.flatnonzero(rng.random(n) < 0.15)
    death_day = rng.integers(5, 230, len(dead))
    e = pd.DataFrame({"event_id": np.arange(len(dead)), "patient_id": dead,
                      "event_type": "noncardiac_death",
                      "event_date": index[dead] + pd.to_timedelta(death_day, "D")})
    fu = fu_days.astype(float)
    fu[dead] = death_day
    died = np.zeros(n, int)
    died[dead] = 1
    return mo.Cohort(patients=p, events=e), p, fu, died


def test_bundled_cohort_reports_the_papers_follow_up():
    """Paper: median follow-up 18 months (range 8-36)."""
    row = followup_summary(mo.load_example()).table.set_index("group").loc["overall"]
    assert round(row["median"]) == 18
    assert (round(row["min_alive"]), round(row["max_alive"])) == (8, 36)


def test_followup_summary_against_closed_forms_and_lifelines():
    cohort, p, fu, died = _cohort(np.random.default_rng(7))
    table = followup_summary(cohort).table.set_index("group")
    months = fu / DAYS_PER_MONTH
    row = table.loc["overall"]
    assert row["median"] == pytest.approx(np.median(months), rel=1e-12)
    assert (row["min"], row["max"]) == pytest.approx((months.min(), months.max()), rel=1e-12)
    alive = months[died == 0]
    assert (row["min_alive"], row["max_alive"]) == pytest.approx((alive.min(), alive.max()))
    assert row["complete_n"] == int(((fu >= 365) | (died == 1)).sum())
    km = KaplanMeierFitter().fit(months, 1 - died)  # reverse KM: censoring is the event
    # R's quantile.survfit: where S equals 0.5 exactly on a step, the midpoint of that step
    sf = km.survival_function_.iloc[:, 0]
    drops = sf[sf.diff().fillna(-1) < 0]
    at = np.flatnonzero(drops.to_numpy() <= 0.5 + 1e-12)[0]
    expected = drops.index[at]
    if abs(drops.iloc[at] - 0.5) < 1e-12:
        expected = (expected + drops.index[at + 1]) / 2
    assert row["rkm_median"] == pytest.approx(expected, rel=1e-12)
    for arm in ("OCT", "IVUS"):
        sel = (p["arm"] == arm).to_numpy()
        assert table.loc[arm, "n"] == sel.sum()
        assert table.loc[arm, "median"] == pytest.approx(np.median(months[sel]), rel=1e-12)
