"""Small-cell suppression: counts 1 to min_cell - 1 shown as "<min_cell" in tables, in the
report writer's files and in the Kaplan-Meier risk table; min_cell = 0 changes nothing.

Expected strings are written by hand from the rule; the KM numbers at risk are counted
by hand from the rows of the data; the properties hold for random tables."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.tables._suppress import SUPPRESSED, suppress_small_cells


def test_table_one_cells_exact_strings():
    t = pd.DataFrame({
        "Variable": ["Diabetes, n (%)", "    Missing", "Age, years, mean ± SD",
                     "BMI, median (Q1, Q3)", "Presentation, n (%)", "    ACS", "    SCAD"],
        "OCT (n = 32)": ["3 (9.4%)", "2", "69.8 ± 3.1", "2.0 (2.0, 2.0)", "", "30 (93.8%)",
                         "2 (6.2%)"],
        "IVUS (n = 4)": ["0 (0.0%)", "7", "70.1 ± 9.9", "27.1 (22.0, 30.7)", "", "1 (25.0%)",
                         "3 (75.0%)"],
        "p": ["0.003", "", "0.461", "1.000", "0.457", "", ""],
        "SMD": ["0.12", "", "1.00", "0.02", "0.17", "", ""],
    })
    out = suppress_small_cells(t, 5)
    assert list(out.columns) == ["Variable", "OCT (n = 32)", "IVUS (n = <5)", "p", "SMD"]
    assert out.iloc[:, 1].tolist() == ["<5", "<5", "69.8 ± 3.1", "2.0 (2.0, 2.0)", "",
                                       "30 (93.8%)", "<5"]
    assert out.iloc[:, 2].tolist() == ["0 (0.0%)", "7", "70.1 ± 9.9", "27.1 (22.0, 30.7)",
                                       "", "<5", "<5"]
    # labels, p-values and SMDs are not counts, even when they are small integers
    assert out["Variable"].tolist() == t["Variable"].tolist()
    assert out["p"].tolist() == t["p"].tolist() and out["SMD"].tolist() == t["SMD"].tolist()
    assert out.attrs["suppressed_cells"] == 5


def test_outcome_and_comparison_fractions():
    t = pd.DataFrame({"Endpoint": ["MACE", "MI", "Death"],
                      "OCT, n (%)": ["1/33 (3.0%)", "12/33 (36.4%)", "0/4 (0.0%)"],
                      "events/N IVUS": ["4/49", "10/49", "3/3"],
                      "OCT, KM % (95% CI)": ["3.0 (0.4–19.6)", "36.4 (1.0–3.0)", "0.0"],
                      "HR (95% CI)": ["0.37 (0.04–3.31)", "1.20 (0.50–2.90)", "not estimable"]})
    out = suppress_small_cells(t, 5)
    assert out["OCT, n (%)"].tolist() == ["<5/33", "12/33 (36.4%)", "0/<5"]
    assert out["events/N IVUS"].tolist() == ["<5/49", "10/49", "<5/<5"]
    for col in ("Endpoint", "OCT, KM % (95% CI)", "HR (95% CI)"):
        assert out[col].tolist() == t[col].tolist()


def test_count_columns_and_their_shares():
    t = pd.DataFrame({"variable": ["bmi", "egfr", "age"], "n": [82, 82, 3],
                      "n_missing": [6, 4, 0], "pct_missing": [7.3, 4.9, 0.0],
                      "complete_n": [41, 2, 60], "complete_share": [0.84, 0.04, 0.9],
                      "age": [3, 4, 2], "n_risk_ess": [3.0, 2.0, 1.0],
                      "events": [2.5, 3.0, 40.0]})  # 2.5: a weighted pseudo-count
    out = suppress_small_cells(t, 5)
    assert out["n"].tolist() == [82, 82, "<5"]
    assert out["n_missing"].tolist() == [6, "<5", 0]
    assert out["pct_missing"].tolist() == [7.3, SUPPRESSED, 0.0]
    assert out["complete_n"].tolist() == [41, "<5", 60]
    assert out["complete_share"].tolist() == [0.84, SUPPRESSED, 0.9]
    assert out["events"].tolist() == [2.5, "<5", 40.0]
    # not named as counts / not counts of anyone: unchanged, same dtype
    assert out["age"].equals(t["age"]) and out["n_risk_ess"].equals(t["n_risk_ess"])
    assert t["n"].tolist() == [82, 82, 3]  # the input is not modified


def test_named_count_columns_and_bad_arguments():
    t = pd.DataFrame({"arm": ["A", "B"], "k": [3, 19], "m": ["2", "12"]})
    out = suppress_small_cells(t, 10, count_columns=["k", "m"])
    assert out["k"].tolist() == ["<10", 19] and out["m"].tolist() == ["<10", "12"]
    assert suppress_small_cells(t, 10)["k"].tolist() == [3, 19]  # "k" is not a count name
    with pytest.raises(InputError, match="count_columns"):
        suppress_small_cells(t, 5, count_columns=["nope"])
    for bad in (-1, 2.5, True, "5"):
        with pytest.raises(InputError, match="min_cell"):
            suppress_small_cells(t, bad)


_cells = st.one_of(
    st.integers(0, 40).map(str),
    st.tuples(st.integers(0, 40), st.floats(0, 100)).map(lambda v: f"{v[0]} ({v[1]:.1f}%)"),
    st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda v: f"{v[0]}/{v[1]}"),
    st.floats(0, 100).map(lambda v: f"{v:.1f} ± 2.0"),
    st.sampled_from(["", "ACS", "<0.001", "nan"]))


@st.composite
def _tables(draw):
    n = draw(st.integers(0, 6))
    counts = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    return pd.DataFrame({
        "Variable": draw(st.lists(st.sampled_from(["x", "    Missing", "y, n (%)"]),
                                  min_size=n, max_size=n)),
        f"A (n = {draw(st.integers(0, 9))})": draw(st.lists(_cells, min_size=n, max_size=n)),
        "n": pd.Series(counts, dtype="int64"),
        "n_missing": pd.Series(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)),
                               dtype="int64"),
        "pct_missing": pd.Series(draw(st.lists(st.floats(0, 100), min_size=n, max_size=n)),
                                 dtype=float)})


@settings(max_examples=30, deadline=None)
@given(_tables(), st.sampled_from([0, 1]))
def test_min_cell_off_changes_nothing(table, min_cell):
    out = suppress_small_cells(table, min_cell)
    assert out.equals(table) and list(out.columns) == list(table.columns)
    assert (out.dtypes == table.dtypes).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=20), st.integers(2, 12))
def test_exactly_the_small_counts_are_replaced(counts, k):
    out = suppress_small_cells(pd.DataFrame({"n": counts}), k)["n"].tolist()
    assert out == [f"<{k}" if 1 <= c < k else c for c in counts]


# ------------------------------------------------------------------ Kaplan-Meier figure
def _km_data():
    # OCT: 4 patients, IVUS: 8; at month 6 (182.5 days) OCT has 3 still followed
    return pd.DataFrame({"time": [30, 200, 300, 365, 365, 120, 365, 300, 365, 365, 365, 365],
                         "event": [1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0],
                         "arm": ["OCT"] * 4 + ["IVUS"] * 8})


def _drawn(fig, row: str) -> dict:
    return {g: [t.get_text() for ax in fig.risk_axes for t in ax.texts
                if t.get_gid() == f"risk:{row}:{g}"] for g in ("OCT", "IVUS")}


def test_km_risk_table_shows_small_counts_suppressed():
    df = _km_data()
    breaks = (0, 3, 6, 9, 12)
    days = np.array(breaks) * 365 / 12
    hand = {g: [int((df.time[df.arm == g] >= t).sum()) for t in days] for g in ("OCT", "IVUS")}
    assert hand["OCT"][2] == 3 and hand["IVUS"] == [8, 8, 7, 7, 6]
    km = mo.kaplan_meier(df, group="arm")
    plain = mo.plot_km(km, kind="event", breaks=breaks, risk_table_rows=("n_risk", "cum_events"))
    assert _drawn(plain, "n_risk") == {g: [str(v) for v in hand[g]] for g in hand}
    fig = mo.plot_km(km, kind="event", breaks=breaks, min_cell=5,
                     risk_table_rows=("n_risk", "cum_events"))
    shown = _drawn(fig, "n_risk")
    assert shown["OCT"][2] == "<5"
    assert shown == {g: ["<5" if 1 <= v < 5 else str(v) for v in hand[g]] for g in hand}
    # events by month 3: OCT 1 (day 30), IVUS 0 -> "<5" and "0"
    assert _drawn(fig, "cum_events")["OCT"][1] == "<5"
    assert _drawn(fig, "cum_events")["IVUS"][1] == "0"
    table = fig.risk_table.set_index(["group", "time"])
    assert table.loc[("OCT", 6.0), "n_risk"] == "<5" and table.loc[("IVUS", 6.0), "n_risk"] == 7
    off = mo.plot_km(km, kind="event", breaks=breaks, min_cell=0,
                     risk_table_rows=("n_risk", "cum_events"))
    assert _drawn(off, "n_risk") == _drawn(plain, "n_risk")
    assert off.risk_table.equals(plain.risk_table)
    with pytest.raises(InputError, match="min_cell"):
        mo.plot_km(km, min_cell=-1)


def test_writer_suppresses_tables_and_figures(tmp_path):
    from mace_outcomes.report._html import Writer
    from mace_outcomes.report.study import Study

    writer = Writer(tmp_path, Study(formats=["png"], dpi=72), min_cell=5)
    frame = pd.DataFrame({"stage": ["input", "excluded"], "patients": [88, 3],
                          "lesions": [93, 0]})
    page = writer.table("attrition", frame, "Attrition", ["a note"])
    csv = pd.read_csv(tmp_path / "tables" / "attrition.csv", dtype=str)
    assert csv["patients"].tolist() == ["88", "<5"] and csv["lesions"].tolist() == ["93", "0"]
    assert "&lt;5" in page and "Counts from 1 to 4 are shown as &lt;5" in page
    assert "Counts from 1 to 4" in (tmp_path / "tables" / "attrition.md").read_text()
    # a figure drawn without min_cell is suppressed by the writer, and says so
    km = mo.kaplan_meier(_km_data(), group="arm")
    fig = mo.plot_km(km, breaks=(0, 3, 6, 9, 12))
    html = writer.figure("km", fig, caption="KM.")
    assert _drawn(fig, "n_risk")["OCT"][2] == "<5"
    assert "Counts from 1 to 4 are shown as &lt;5." in html
    untouched = Writer(tmp_path / "b", Study(formats=["png"], dpi=72), min_cell=0)
    untouched.table("attrition", frame, "Attrition")
    assert pd.read_csv(tmp_path / "b" / "tables" / "attrition.csv")["patients"].tolist() == [88, 3]


def test_writer_suppresses_counts_written_in_a_figure(tmp_path):
    from matplotlib.text import Text

    from mace_outcomes.plots import plot_flow
    from mace_outcomes.report._html import Writer
    from mace_outcomes.report.study import Study

    attrition = pd.DataFrame({"stage": ["input", "excluded", "excluded", "analysed"],
                              "reason": ["records read", "no imaging", "withdrew", "kept"],
                              "patients": [90, 3, 7, 80], "lesions": [0, 0, 0, 0]})
    fig = plot_flow(attrition, arms={"OCT": 2, "IVUS": 78})
    writer = Writer(tmp_path, Study(formats=["png"], dpi=72), min_cell=5)
    html = writer.figure("flow", fig, caption="Flow.")
    texts = " ".join(t.get_text() for t in fig.findobj(Text))
    texts = texts.replace("\n", " ").replace("\xa0", " ")
    # 3 excluded for no imaging and 2 analysed in OCT are small; 7, 10, 78, 80, 90 are not
    for shown in ("no imaging (n = <5 patients)", "withdrew (n = 7 patients)",
                  "Excluded (n = 10 patients)", "OCT Analysed (n = <5 patients)",
                  "IVUS Analysed (n = 78 patients)", "(n = 80 patients)", "(n = 90 patients)"):
        assert shown in texts, shown
    assert "Counts from 1 to 4 are shown as &lt;5." in html


def test_headline_event_count_is_suppressed_like_the_tables():
    from mace_outcomes.report._html import events_caveat

    results = {"endpoints": {"mace": {"events": 4}}}
    assert events_caveat(results).startswith("Only 4 mace events")
    assert events_caveat(results, 5).startswith("Only fewer than 5 mace events")
    assert "4" not in events_caveat(results, 5)
    # zero is shown (as in the tables), and 20 or more events need no caveat
    assert events_caveat({"endpoints": {"mace": {"events": 0}}}, 5).startswith("Only 0 ")
    assert events_caveat({"endpoints": {"mace": {"events": 25}}}, 5) == ""
