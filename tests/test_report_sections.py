"""The report's extra sections on small frames: pooled rows (Rubin's rules by hand), the
patient-to-lesion merge, landmark windows (counts by hand, log-rank from lifelines),
total events (Nelson-Aalen by hand) and the win ratio (pairs by hand)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test
from scipy import stats

import mace_outcomes as mo
from mace_outcomes.report import _sections as sections
from mace_outcomes.report.study import Study


class FakeWriter:
    """Keeps what a section writes instead of writing files."""

    def __init__(self):
        self.tables, self.figures, self.sections, self.risk = {}, [], [], {}
        self.texts, self.curves, self.paragraphs = {}, {}, []

    def table(self, name, frame, title, notes=(), result=None):
        if result is not None:  # as the report's writer: the result's journal formatting
            frame, notes = result.formatted(), result.notes
        self.tables[name] = (frame, list(notes))
        return ""

    def figure(self, name, fig, caption=None):
        self.figures.append((name, caption))
        from matplotlib.text import Text

        self.risk[name] = getattr(fig, "risk_table", None)
        self.curves[name] = getattr(fig, "curve_table", None)
        self.texts[name] = [t.get_text().replace("\u00a0", " ") for t in fig.findobj(Text)]
        plt.close(fig if not isinstance(fig, tuple) else fig[0])
        return ""

    def paragraph(self, text, note=False):
        self.paragraphs.append(text)
        return ""

    def section(self, title, body):
        self.sections.append(title)


def _simulated(n=150, seed=3):
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 10, n)
    dm = (rng.random(n) < 0.3).astype(float)
    arm = np.where(rng.random(n) < 1 / (1 + np.exp(-(age - 65) / 10)), "new", "old")
    rate = 0.002 * np.exp(0.03 * (age - 65) + 0.5 * dm - 0.3 * (arm == "new"))
    t = rng.exponential(1 / rate)
    df = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)], "arm": arm,
                       "time": np.minimum(t, 365.0), "event": (t <= 365).astype(int),
                       "age": age, "dm": dm})
    df.loc[rng.random(n) < 0.15, "dm"] = np.nan
    return df


def test_pooled_rows_follow_rubins_rules():
    df = _simulated()
    imp = mo.impute(df, variables=["age", "dm"], m=3, seed=1, treatment="arm")
    pooled = mo.compare_arms(imp, treatment="arm", covariates=["age", "dm"], treated="new")
    rows = sections.pooled_rows(pooled).set_index("analysis")
    z = stats.norm.ppf(0.975)
    tables = [c.table.set_index("analysis") for c in pooled.per_imputation]
    for a in rows.index:
        q = np.log([t.loc[a, "hr"] for t in tables])
        u = np.array([((np.log(t.loc[a, "upper"]) - np.log(t.loc[a, "lower"])) / (2 * z)) ** 2
                      for t in tables])
        m, b, ubar = len(q), q.var(ddof=1), u.mean()
        total = ubar + (1 + 1 / m) * b
        row = rows.loc[a]
        assert row["hr"] == pytest.approx(np.exp(q.mean()), rel=1e-10)
        half = stats.t.ppf(0.975, row["df"]) * np.sqrt(total)
        assert row["lower"] == pytest.approx(np.exp(q.mean() - half), rel=1e-8)
        assert row["upper"] == pytest.approx(np.exp(q.mean() + half), rel=1e-8)
        riv = (1 + 1 / m) * b / ubar
        assert row["fmi"] == pytest.approx((riv + 2 / (row["df"] + 3)) / (1 + riv), rel=1e-8)
        # the outcome is never imputed: counts are the data's
        assert row["events_treated"] == int(df.loc[df.arm == "new", "event"].sum())
        assert row["ess_treated"] == pytest.approx(np.mean([t.loc[a, "ess_treated"]
                                                            for t in tables]))
    shown = sections.pooled_journal_rows("MACE", sections.pooled_rows(pooled), "new", "old")
    assert list(shown["FMI"]) == [f"{v:.2f}" for v in rows["fmi"]]


def test_ratio_limits_beyond_999_are_capped_in_words():
    assert sections.ratio_ci(4.2, 0.001, 1e150) == "4.20 (<0.01\u2013>999)"
    assert sections.ratio_ci(0.5, 0.2, 1.25) == "0.50 (0.20\u20131.25)"


def test_patients_completed_values_go_to_each_of_their_lesions():
    lesions = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3", "P3", "P3"],
                            "lesion_id": list("abcdef"), "dm": [np.nan, np.nan, 1.0,
                                                                 0.0, 0.0, 0.0]})
    completed = pd.DataFrame({"patient_id": ["P3", "P1", "P2"], "dm": [0.0, 1.0, 1.0]})
    out = sections.to_lesions(lesions, completed, ["dm"])
    assert out["lesion_id"].tolist() == list("abcdef")
    assert out["dm"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def _landmark_state():
    df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(10)],
                       "arm": ["A"] * 5 + ["B"] * 5,
                       "time": [10, 50, 365, 20, 365, 5, 40, 365, 100, 365],
                       "event": [1, 1, 0, 0, 0, 1, 0, 0, 1, 0]})
    study = Study(landmarks=[30], endpoints=["mace"], unit="days")
    state = {"tte": {"mace": df}, "label": study.label, "treated": "A", "control": "B"}
    return df, study, state


def test_landmark_section_counts_each_window_by_hand():
    df, study, state = _landmark_state()
    writer = FakeWriter()
    out = sections.landmark_sections(writer, study, state)
    table, _ = writer.tables["landmark_mace_30"]
    first = table[table["window (days)"] == "0 to 30"].set_index("arm")
    late = table[table["window (days)"] != "0 to 30"].set_index("arm")
    # by hand: events on or before day 30 (A: day 10; B: day 5); after it, the patients
    # still followed beyond day 30 (A: 3, B: 4) and their events (A: day 50, B: day 100)
    assert first["patients"].tolist() == [5, 5] and first["events"].tolist() == [1, 1]
    assert late["patients"].tolist() == [3, 4] and late["events"].tolist() == [1, 1]
    early = df.assign(event=np.where(df.time <= 30, df.event, 0),
                      time=np.minimum(df.time, 30))
    after = df[df.time > 30].assign(time=lambda d: d.time - 30)
    for frame, window in ((early, "0 to 30"), (after, "30 to 365")):
        a, b = frame[frame.arm == "A"], frame[frame.arm == "B"]
        ref = logrank_test(a.time, b.time, a.event, b.event).p_value
        got = out["30"]["table"].set_index("window").loc[window, "p"].iloc[0]
        assert got == pytest.approx(ref, rel=1e-8)
    assert writer.sections == ["Landmark analysis: MACE, 30 days"]
    assert writer.figures[0][0] == "landmark_mace_30"


def test_min_cell_reaches_the_figures_risk_tables():
    _, study, state = _landmark_state()
    shown = {}
    for n in (0, 5):
        writer = FakeWriter()
        sections.landmark_sections(writer, Study(landmarks=[30], endpoints=["mace"],
                                                 unit="days", min_cell=n), state)
        shown[n] = writer.risk["landmark_mace_30"]["n_risk"].astype(str)
    # 5 patients per arm: every later count at risk is 1-4, drawn as "<5" only when asked
    assert not shown[0].str.startswith("<").any()
    assert shown[5].eq("<5").sum() == (pd.to_numeric(shown[0]).between(1, 4)).sum() > 0


def test_total_events_table_by_hand():
    # A: P1 events on days 10 and 20, P2 none; B: P3 one event on day 50, P4 none; all
    # followed to day 100: Nelson-Aalen mean at 100 = events / patients = 1.0 and 0.5
    rec = pd.DataFrame({"patient_id": ["P1", "P1", "P1", "P2", "P3", "P3", "P4"],
                        "arm": ["A", "A", "A", "A", "B", "B", "B"],
                        "start": [0, 10, 20, 0, 0, 50, 0], "stop": [10, 20, 100, 100, 50, 100,
                                                                     100],
                        "event": [1, 1, 0, 0, 1, 0, 0]})
    first = pd.DataFrame({"arm": ["A", "A", "B", "B"], "event": [1, 0, 1, 0]})
    mf = mo.mean_frequency(rec, group="arm")
    table = sections.total_events_table(first, rec, mf, 100, ["A", "B"]).set_index("arm")
    assert table["total events"].tolist() == [2, 1]
    assert table["first events"].tolist() == [1, 1]
    assert table["mean"].tolist() == pytest.approx([1.0, 0.5])


def test_win_ratio_rows_count_pairs_by_hand():
    # treated T1 died day 100, T2 alive; control C1 alive, C2 died day 50; all followed
    # to 365. Pairs: T1-C1 loss, T1-C2 win (C2 died first), T2-C1 tie, T2-C2 win.
    df = pd.DataFrame({"arm": ["T", "T", "C", "C"], "time_death": [100, 365, 365, 50],
                       "death": [1, 0, 0, 1]})
    wr = mo.win_ratio(df, treatment="arm", levels=[("time_death", "death")], control="C")
    rows = sections.win_ratio_rows(wr, str)
    assert rows[["pairs", "T wins", "C wins", "tied after the level"]].values.tolist() == [
        [4, 2, 1, 1]]


@pytest.mark.parametrize("adjustment, analyses", [
    (["iptw", "overlap"], ["crude", "IPTW-ATE", "overlap"]),
    (["iptw"], ["crude", "IPTW-ATE"]),
    (["overlap"], ["crude", "overlap"]),
])
def test_adjustment_chooses_the_weighted_rows(adjustment, analyses):
    df = _simulated().dropna()
    kw = sections.adjustment_arguments(Study(adjustment=adjustment, covariates=["age", "dm"]))
    comp = mo.compare_arms(df, treatment="arm", covariates=["age", "dm"], treated="new", **kw)
    assert comp.table["analysis"].tolist() == analyses


def test_primary_statement_names_the_policy_and_m():
    text = sections.primary_statement(Study(missing="impute", m=7), 79, 76)
    assert "m = 7" in text and "76 of 79 patients" in text and "sensitivity" in text
    assert "complete cases" in sections.primary_statement(Study(missing="complete_case"))


def test_checklist_links_the_sections_the_study_asked_for():
    from mace_outcomes.report.checklist import NOT_HERE, checklist

    study = Study(missing="impute", landmarks=[30], recurrent=True,
                  win_ratio=["cardiac_death", "mi"])
    titles = ["Missing data", sections.IMPUTATION, "Crude and adjusted comparison",
              sections.COMPLETE_CASE, "Landmark analysis: MACE, 30 days",
              sections.TOTAL_EVENTS, "Mean cumulative events: MACE", sections.WIN_RATIO]
    rows = checklist(study, titles, ["OCT", "IVUS"]).set_index("item")
    assert sections.IMPUTATION in rows.loc["STROBE 12c", "where"]
    assert "Rubin" in rows.loc["STROBE 12c", "note"]
    assert sections.COMPLETE_CASE in rows.loc["STROBE 12e", "where"]
    assert "Landmark analysis: MACE, 30 days" in rows.loc["STROBE 12e", "where"]
    other = rows.loc["STROBE 17", "where"]
    for title in titles[4:]:
        assert title in other
    # nothing asked, nothing linked
    rows = checklist(Study(), ["Missing data"], ["OCT", "IVUS"]).set_index("item")
    assert rows.loc["STROBE 17", "where"] == NOT_HERE


COVARIATES = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]


def test_matched_section_counts_every_patient_once():
    from mace_outcomes.report.preflight import matching_ready
    from mace_outcomes.weighting.match import match

    if not matching_ready():
        pytest.skip("propensity-score matching is not available yet")
    cohort = mo.load_example()
    df = mo.time_to_event(cohort, "mace", horizon=365)
    study = Study(adjustment=["iptw", "match"], endpoints=["mace"], unit="days",
                  covariates=COVARIATES)
    comp = mo.compare_arms(df, treatment="arm", covariates=COVARIATES, treated="OCT",
                           **sections.adjustment_arguments(study))
    state = {"fits": {"mace": comp}, "label": study.label, "treated": "OCT",
             "control": "IVUS", "labels": {}, "cohort": cohort}
    writer, results = FakeWriter(), {}
    sections.matched_section(writer, study, state, results)
    counts, _ = writer.tables["matched_counts"]
    counts = counts.set_index("arm")
    n = df["arm"].value_counts()
    for arm in ("OCT", "IVUS"):  # every patient is matched or unmatched, once
        assert counts.loc[arm, "matched"] + counts.loc[arm, "unmatched"] == n[arm]
    assert counts.loc["OCT", "matched"] == counts.loc["IVUS", "matched"]  # 1:1
    assert writer.sections == ["Matched sample", "Kaplan-Meier: MACE, matched"]
    # independently: MatchIt-style 1:1 matching, caliper 0.2 SD of the logit
    m = match(df, treatment="arm", covariates=COVARIATES, treated="OCT", seed=study.seed)
    matched = m.data["arm"].value_counts()
    left = df["arm"].value_counts() - matched
    # the matched Table 1 describes exactly the matched patients of each arm (1:1 without
    # replacement: every weight 1, so the table is unweighted and says so)
    header = writer.tables["table1_matched"][0]
    for arm in ("OCT", "IVUS"):
        assert any(str(c).startswith(f"{arm} (n = {matched[arm]})") for c in header.columns)
    assert any("unweighted" in n for n in writer.tables["table1_matched"][1])
    # the flow diagram's matched boxes: matched and not matched per arm
    drawn = " | ".join(writer.texts["flow_matched"]).replace("\n", " ")
    for arm in ("OCT", "IVUS"):
        assert (f"Matched (n = {matched[arm]} patients) Not matched "
                f"(n = {left[arm]} patients)") in drawn
    assert "Analysed (n = 32 patients" in drawn  # the analysed boxes are unchanged


def test_matched_table_one_n_equals_the_matched_counts():
    from mace_outcomes.report.preflight import matching_ready
    from mace_outcomes.weighting.match import match

    if not matching_ready():
        pytest.skip("propensity-score matching is not available yet")
    df = mo.time_to_event(mo.load_example(), "mace", horizon=365)
    m = match(df, treatment="arm", covariates=COVARIATES, treated="OCT", seed=1)
    study = Study(endpoints=["mace"], covariates=COVARIATES)
    _, t1 = sections.matched_table_one(FakeWriter(), study, {"treated": "OCT",
                                                             "control": "IVUS"}, m)
    counts = m.counts.set_index("group")
    assert t1.n_unweighted == {a: counts.loc[a, "matched"] for a in ("OCT", "IVUS")}
    assert t1.n_unweighted["OCT"] == int((m.data["arm"] == "OCT").sum())
    # 1:2 with replacement: weights differ from 1, the table is weighted by match_weight
    m2 = match(df, treatment="arm", covariates=COVARIATES, treated="OCT", ratio=2,
               replace=True)
    _, t2 = sections.matched_table_one(FakeWriter(), study, {"treated": "OCT",
                                                             "control": "IVUS"}, m2)
    assert t2.weighted
    for arm in ("OCT", "IVUS"):
        mine = m2.data["arm"] == arm
        assert t2.n[arm] == pytest.approx(m2.data.loc[mine, "match_weight"].sum())
        assert t2.n_unweighted[arm] == m2.counts.set_index("group").loc[arm, "matched"]


# ------------------------------------------------------------ adjusted (standardised) risks
def _adjusted_state(df, study):
    return {"tte": {"mace": df}, "label": study.label, "treated": "new", "control": "old"}


def test_adjusted_section_numbers_equal_adjusted_risk():
    from mace_outcomes._format import format_ci, format_p
    from mace_outcomes.report import _adjusted

    df = _simulated().dropna()
    study = Study(endpoints=["mace"], covariates=["age", "dm"], unit="days", seed=11)
    writer = FakeWriter()
    out = _adjusted.adjusted_section(writer, study, _adjusted_state(df, study))
    assert writer.sections == [_adjusted.ADJUSTED] and not out["failed"]
    shown = writer.tables["adjusted_risk"][0].set_index("method")
    for m in ("aipw", "gformula", "iptw"):
        ref = mo.adjusted_risk(df, treatment="arm", covariates=["age", "dm"], times=[365],
                               method=m, treated="new")
        got = out["table"][out["table"]["method"] == m].set_index("arm")
        want = ref.table.set_index("arm")
        for col in ("risk", "se", "lower", "upper"):
            assert got[col].to_numpy() == pytest.approx(
                want.loc[got.index, col].to_numpy(), rel=1e-12)
        c = out["contrast"][out["contrast"]["method"] == m].set_index("measure")
        rc = ref.contrast.set_index("measure")
        for col in ("estimate", "lower", "upper", "p"):
            assert c[col].to_numpy() == pytest.approx(rc[col].to_numpy(), rel=1e-12)
        row = shown.loc[_adjusted.METHOD_LABEL[m]]
        r = want.loc["new"]
        assert row["risk new %"] == format_ci(100 * r.risk, 100 * r.lower, 100 * r.upper, 1)
        d = rc.loc["difference"]
        assert row["difference, % points (95% CI)"] == format_ci(
            100 * d.estimate, 100 * d.lower, 100 * d.upper, 1)
        assert row["p (difference)"] == format_p(d.p)
    # the curves: AIPTW on the weekly grid with the simultaneous band (seed of the study)
    name, caption = writer.figures[0]
    assert name == "adjusted_risk_mace"
    assert "pointwise 95% CI shaded" in caption and "simultaneous 95% band dashed" in caption
    grid = np.unique(np.r_[np.arange(7, 365, 7), 365.0])
    ref = mo.adjusted_risk(df, treatment="arm", covariates=["age", "dm"], times=grid,
                           method="aipw", treated="new", band=True, n_sim=1000, seed=11)
    drawn = writer.curves[name]
    drawn = drawn[drawn["time"] > 0].sort_values(["arm", "time"]).reset_index(drop=True)
    want = ref.table.sort_values(["arm", "time"]).reset_index(drop=True)
    for col in ("risk", "band_lower", "band_upper"):
        assert drawn[col].to_numpy() == pytest.approx(want[col].to_numpy(), rel=1e-12)


def test_adjusted_section_says_why_a_method_cannot_be_estimated():
    from mace_outcomes.errors import InputError
    from mace_outcomes.report import _adjusted

    df = _simulated().dropna()
    df["dm"] = np.where(df["event"] == 1, 0.0, df["dm"])  # no event with diabetes
    study = Study(endpoints=["mace"], covariates=["age", "dm"], unit="days")
    with pytest.warns(mo.StatisticalWarning), pytest.raises(InputError, match="infinite") as err:
        mo.adjusted_risk(df, treatment="arm", covariates=["age", "dm"], method="aipw",
                         treated="new")
    writer = FakeWriter()
    out = _adjusted.adjusted_section(writer, study, _adjusted_state(df, study))
    reason = err.value.problems[0].reason.replace("['dm']", "dm")  # names as words
    assert "coefficient of dm is infinite" in reason
    assert reason in out["failed"]["aipw"] and reason in out["failed"]["gformula"]
    notes = writer.tables["adjusted_risk"][1]
    assert any(n.startswith("AIPTW") and reason in n for n in notes)
    # no events at all: nothing to standardise, and the report says so instead of a table
    writer = FakeWriter()
    out = _adjusted.adjusted_section(writer, study, _adjusted_state(df.assign(event=0),
                                                                    study))
    assert out["table"] is None and "adjusted_risk" not in writer.tables
    assert writer.paragraphs[0].startswith("The adjusted (standardised) risks of MACE")
    assert "no MACE events" in writer.paragraphs[0]


def test_weekly_grid_reaches_the_horizon():
    from mace_outcomes.report._adjusted import weekly_grid

    g = weekly_grid(30)
    assert g.tolist() == [7, 14, 21, 28, 30]
    assert weekly_grid(28).tolist() == [7, 14, 21, 28]


# ------------------------------------------------------------ small fixes
def test_effective_sample_size_is_printed_per_arm():
    df = _simulated().dropna().replace({"arm": {"new": "OCT-guided", "old": "IVUS-guided"}})
    ps = mo.propensity(df, treatment="arm", covariates=["age", "dm"], treated="OCT-guided")
    w = ps.weights.to_numpy()
    kish = {a: w[df["arm"] == a].sum() ** 2 / (w[df["arm"] == a] ** 2).sum()
            for a in ("OCT-guided", "IVUS-guided")}
    text = sections.ess_phrase(ps.ess, ["OCT-guided", "IVUS-guided"])
    assert text == (f"effective sample size: OCT-guided {kish['OCT-guided']:.1f}, "
                    f"IVUS-guided {kish['IVUS-guided']:.1f}")
    assert sections.ess_phrase({"A": 29.270508, "B": 41.2}, ["A", "B"]) == (
        "effective sample size: A 29.3, B 41.2")


def test_results_json_counts_are_suppressed_like_the_tables():
    from mace_outcomes.report._release import suppress_results

    attrition = pd.DataFrame({"stage": ["input", "excluded", "analysed"],
                              "reason": ["read", "x", "kept"], "patients": [88, 3, 85],
                              "lesions": [93, 0, 93]})
    results = {"study": {"m": 3, "min_cell": 5}, "attrition": attrition,
               "endpoints": {"mace": {"n": 85, "events": 4, "logrank": {"df": 1, "p": 0.5},
                                      "comparison": pd.DataFrame({"events_treated": [2],
                                                                  "hr": [0.5]})}}}
    out = suppress_results(results, 5)
    # by hand: 3 excluded patients, 4 events and 2 treated events are 1-4; zeros stay
    assert out["attrition"]["patients"].tolist() == [88, "<5", 85]
    assert out["attrition"]["lesions"].tolist() == [93, 0, 93]
    assert out["endpoints"]["mace"]["events"] == "<5" and out["endpoints"]["mace"]["n"] == 85
    assert out["endpoints"]["mace"]["comparison"]["events_treated"].tolist() == ["<5"]
    assert out["endpoints"]["mace"]["logrank"] == {"df": 1, "p": 0.5}
    assert out["study"] == {"m": 3, "min_cell": 5}  # settings, not counts
    assert out["small_cell_suppression"]["suppressed"] == 3
    assert results["endpoints"]["mace"]["events"] == 4  # the analyst's copy is exact


def test_pooled_outcome_rows_average_on_the_pooling_scale():
    from mace_outcomes.report._primary import pooled_outcome_rows

    df = _simulated()
    rng = np.random.default_rng(5)
    df["good"] = (rng.random(len(df)) < 0.4 + 0.2 * (df["arm"] == "new")).astype(int)
    imp = mo.impute(df, variables=["age", "dm"], m=3, seed=2, treatment="arm")
    pooled = mo.compare_outcome(imp, "good", covariates=["age", "dm"], treated="new")
    rows = pooled_outcome_rows(pooled)
    tables = [r.table.reset_index(drop=True) for r in pooled.per_imputation]
    for i, r in rows.iterrows():
        each = np.array([t.loc[i, "estimate"] for t in tables])
        ratio = r["measure"] in ("risk ratio", "odds ratio")
        # Rubin's point estimate: the mean on the pooling scale (log for ratios)
        expected = np.exp(np.log(each).mean()) if ratio else each.mean()
        assert r["estimate"] == pytest.approx(expected, rel=1e-10)
        assert r["lower"] < r["estimate"] < r["upper"]
        assert r["value_treated"] == pytest.approx(np.mean([t.loc[i, "value_treated"]
                                                            for t in tables]), nan_ok=True)
    assert rows["fmi"].between(0, 1).all()


def test_checklist_links_absolute_risks_to_the_adjusted_section():
    from mace_outcomes.report._adjusted import ADJUSTED
    from mace_outcomes.report.checklist import checklist

    titles = ["Table 4b", "Crude and adjusted comparison", ADJUSTED]
    rows = checklist(Study(covariates=["age"]), titles, ["A", "B"]).set_index("item")
    assert ADJUSTED in rows.loc["STROBE 16c", "where"]
    assert "risk differences and ratios" in rows.loc["STROBE 16c", "note"]
    rows = checklist(Study(), titles[:2], ["A", "B"]).set_index("item")
    assert ADJUSTED not in rows.loc["STROBE 16c", "where"]
    assert "no adjusted risks" in rows.loc["STROBE 16c", "note"]
