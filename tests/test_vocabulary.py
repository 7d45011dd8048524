"""One vocabulary: one month length and one p-value formatter across the package."""

import pandas as pd

import mace_outcomes as mo
from mace_outcomes import _format
from mace_outcomes.outcomes import followup
from mace_outcomes.plots import UNITS, format_p
from mace_outcomes.tables import _tests


def test_one_month_length_everywhere():
    # 12 months is the 365-day horizon, in figures and in follow-up summaries alike
    assert 12 * UNITS["months"] == 365.0
    assert followup.DAYS_PER_MONTH == UNITS["months"] == _format.DAYS_PER_MONTH
    df = pd.DataFrame({"time": [365.0, 730.0], "event": [0, 0], "arm": ["a", "b"]})
    km = mo.kaplan_meier(df, group="arm")
    risk = mo.plot_km(km, breaks=(0, 12, 24)).risk_table
    # at 12 months (= day 365) both subjects are still followed; at 24 only one
    assert risk.groupby("time")["n_risk"].sum().tolist() == [2.0, 2.0, 1.0]


def test_one_p_value_formatter_in_tables_and_figures():
    for p in (0.0004, 0.0516, 0.995, 1.0):
        assert format_p(p) == _tests.format_p(p) == _format.format_p(p)
    assert format_p(0.995) == "0.995"          # never '>0.99' in one place, 0.995 in another
    assert format_p(0.0004) == "<0.001"
    assert _format.p_phrase(0.0004) == "p < 0.001"
    assert _format.p_phrase(0.2517) == "p = 0.252"
