"""Figure options are named once (CurveOptions) for Kaplan-Meier and cumulative incidence."""

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.plots import CurveOptions


def _data():
    return pd.DataFrame({"time": [30, 90, 200, 365, 365, 120, 365, 300],
                         "event": [1, 1, 0, 0, 0, 1, 0, 1],
                         "status": [1, 2, 0, 0, 0, 1, 0, 2],
                         "arm": ["OCT"] * 4 + ["IVUS"] * 4})


def test_a_misspelt_option_names_the_closest_one():
    km = mo.kaplan_meier(_data(), group="arm")
    with pytest.raises(mo.InputError, match="did you mean 'breaks'"):
        mo.plot_km(km, braeks=(0, 6, 12))
    with pytest.raises(mo.InputError, match="unknown figure option 'percnt'"):
        mo.plot_cif(mo.cumulative_incidence(_data(), group="arm"), percnt=True)


def test_options_object_and_keywords_draw_the_same_numbers():
    df = _data()
    km = mo.kaplan_meier(df, group="arm")
    opts = CurveOptions(breaks=(0, 4, 8, 12), order=["OCT", "IVUS"],
                        risk_table_rows=("n_risk", "cum_events"))
    a = mo.plot_km(km, opts, kind="event").risk_table
    b = mo.plot_km(km, kind="event", breaks=(0, 4, 8, 12), order=["OCT", "IVUS"],
                   risk_table_rows=("n_risk", "cum_events")).risk_table
    pd.testing.assert_frame_equal(a, b)
    # keywords override the object; the hand count at 4 months (121.7 days): OCT has
    # 2 subjects still followed (times 200 and 365) and 2 events (30, 90)
    c = mo.plot_km(km, opts, breaks=(0, 12)).risk_table
    assert c["time"].unique().tolist() == [0.0, 12.0]
    oct4 = a[(a["group"] == "OCT") & (a["time"] == 4.0)].iloc[0]
    assert (oct4["n_risk"], oct4["cum_events"]) == (2.0, 2.0)
    # the same options serve a cumulative-incidence figure
    ci = mo.cumulative_incidence(df, group="arm")
    r = mo.plot_cif(ci, opts).risk_table
    assert np.array_equal(r["time"].unique(), [0.0, 4.0, 8.0, 12.0])
    assert r["group"].iloc[0] == "OCT"
