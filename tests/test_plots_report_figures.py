"""The report's figures as a reader sees them: one colour per arm in every figure, weighted
and actual numbers at risk under IPTW curves, the Aalen-Johansen incidence where deaths
compete, and KMunicate risk tables (at risk / events / censored).

The study state is built once (the bundled cohort through ``analyze`` with the figure step
captured) and the figures are drawn by ``report._figures.figures`` into a recording
writer; the numbers are checked against direct counts on the time-to-event frames, a
hand-computed Aalen-Johansen estimate and the published Okabe-Ito palette.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.datasets import example_path
from mace_outcomes.report import read_study
from mace_outcomes.report._figures import cif_panels, competing_deaths, figures

ORANGE, BLUE = "#e69f00", "#0072b2"  # Okabe & Ito (2008): the first two hues


class Recorder:
    """A report writer that keeps each figure and its caption instead of saving it."""

    def __init__(self):
        self.figs, self.captions, self.sections = {}, {}, []

    def figure(self, name, fig, caption=None):
        self.figs[name], self.captions[name] = fig, caption
        return ""

    def section(self, title, body):
        self.sections.append(title)


@pytest.fixture(scope="module")
def study_state(tmp_path_factory):
    """The bundled study (MACE and MI, no primary outcome) up to its figures."""
    analyze = importlib.import_module("mace_outcomes.report.analyze")
    study = read_study(example_path() / "study.toml")
    study = dataclasses.replace(study, endpoints=["mace", "mi"], primary_outcome="",
                                procedural=[], bootstrap=0)
    got = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analyze, "figures", lambda w, s, state: got.update(study=s, state=state))
        # the report files are written at the end of every run (report._release)
        mp.setattr(importlib.import_module("mace_outcomes.report._release"), "write_report",
                   lambda *a: None)
        mo.analyze(out=tmp_path_factory.mktemp("figs") / "r", study=study, progress=False)
    return got["study"], got["state"]


@pytest.fixture(scope="module")
def drawn(study_state):
    study, state = study_state
    rec = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        figures(rec, study, state)
    return rec


def _hex(c) -> str:
    return matplotlib.colors.to_hex(c, keep_alpha=False)


def _legend_colours(fig) -> dict:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    legends += list(fig.legends)
    out = {}
    for leg in legends:
        for text, handle in zip(leg.get_texts(), leg.legend_handles, strict=True):
            if hasattr(handle, "get_color") and text.get_text():
                out[text.get_text()] = _hex(handle.get_color())
    return out


# -- one colour per arm ------------------------------------------------------------------

def test_every_figure_gives_an_arm_the_same_colour(drawn):
    seen = {"OCT": set(), "IVUS": set()}
    survival = [n for n in drawn.figs if n.startswith(("km_", "cif_"))]
    assert len(survival) == 4
    for name in survival:
        legend = _legend_colours(drawn.figs[name])
        for arm in seen:
            seen[arm].add(legend[arm])
        # the risk-table row labels carry the arm colour too
        for tax in drawn.figs[name].risk_axes:
            for tick in tax.get_yticklabels():
                seen[tick.get_text()].add(_hex(tick.get_color()))
    overlap = drawn.figs["overlap"]
    bars = {p.get_gid(): _hex(p.get_facecolor()) for p in overlap.axes[0].patches
            if p.get_gid()}
    seen["OCT"].add(bars["bars:treated"])
    seen["IVUS"].add(bars["bars:control"])
    forest = drawn.figs["forest"]
    favours = {t.get_gid(): _hex(t.get_color()) for t in forest.axes[0].texts if t.get_gid()}
    seen["OCT"].add(favours["favours:left"])   # ratios < 1 favour the treated arm
    seen["IVUS"].add(favours["favours:right"])
    # treated first in the arm order: Okabe-Ito orange, the reference blue, everywhere
    assert seen == {"OCT": {ORANGE}, "IVUS": {BLUE}}
    # the love plot's samples are not arms: none of its markers wears an arm's colour
    love = drawn.figs["love"]
    marks = {_hex(line.get_markeredgecolor()) for line in love.axes[0].lines
             if line.get_gid()} | {_hex(line.get_markerfacecolor()) for line in
                                   love.axes[0].lines if line.get_gid()}
    assert not marks & {ORANGE, BLUE}


def test_a_study_palette_reaches_every_plot_function(study_state):
    _, state = study_state
    mine = {"OCT": "#cc79a7", "IVUS": "#009e73"}
    ps = state["ps"]
    overlap = mo.plot_overlap(ps, palette=mine)
    bars = {p.get_gid(): _hex(p.get_facecolor()) for p in overlap.axes[0].patches
            if p.get_gid()}
    assert (bars["bars:treated"], bars["bars:control"]) == (mine["OCT"], mine["IVUS"])
    km = state["fits"]["mace"].curves["crude"]
    assert _legend_colours(mo.plot_km(km, palette=mine)) == mine
    ci = mo.cumulative_incidence(state["tte"]["mi"], group="arm")
    assert _legend_colours(mo.plot_cif(ci, palette=mine)) == mine
    panels = mo.plot_km_panels({"MACE": km, "MI": ci}, palette=mine)
    assert _legend_colours(panels) == mine
    rows = pd.DataFrame({"label": ["MACE"], "hr": [0.8], "lower": [0.4], "upper": [1.6]})
    forest = mo.plot_forest(rows, palette=mine, favours=("Favours OCT", "Favours IVUS"))
    assert {_hex(t.get_color()) for t in forest.axes[0].texts} == set(mine.values())
    love = mo.plot_love(ps, palette={"OCT": "#7f7f7f", "IVUS": "#000000"})
    marks = {_hex(line.get_markeredgecolor()) for line in love.axes[0].lines if line.get_gid()}
    assert not marks & {"#7f7f7f", "#000000"}  # samples never take an arm's colour


# -- weighted and actual numbers at risk -------------------------------------------------

def test_iptw_figures_show_weighted_and_actual_numbers(study_state, drawn):
    _, state = study_state
    comp = state["fits"]["mace"]
    tte = state["tte"]["mace"]
    w = comp.propensity["IPTW-ATE"].weights.to_numpy()
    fig = drawn.figs["km_mace_iptw"]
    risk = fig.risk_table
    t = tte["time"].to_numpy()
    ev = tte["event"].to_numpy()
    for arm, n_patients in (("OCT", 32), ("IVUS", 47)):  # the cohort's analysed patients
        mine = (tte["arm"] == arm).to_numpy()
        rows = risk[risk["group"] == arm]
        days = rows["time_days"].to_numpy()
        assert rows["n_risk_unweighted"].iloc[0] == n_patients == mine.sum()
        # direct counts: rows (or weights) still followed, events so far
        assert rows["n_risk_unweighted"].tolist() == [(mine & (t >= d)).sum() for d in days]
        assert rows["n_risk"].to_numpy() == pytest.approx(
            [(w * mine * (t >= d)).sum() for d in days], rel=1e-12)
        assert rows["cum_events_unweighted"].tolist() == [
            (mine & (ev == 1) & (t <= d)).sum() for d in days]
        assert rows["cum_events"].to_numpy() == pytest.approx(
            [(w * mine * (ev == 1) * (t <= d)).sum() for d in days], rel=1e-12)
        # and they are drawn: the first actual number under the curve is the arm's size
        drawn_n = [x.get_text() for ax in fig.risk_axes for x in ax.texts
                   if x.get_gid() == f"risk:n_risk_unweighted:{arm}"]
        assert drawn_n[0] == str(n_patients)
    titles = [ax.get_title(loc="left") for ax in fig.risk_axes]
    assert "Number at risk (weighted)" in titles and "Number at risk (unweighted)" in titles
    assert "actual" in drawn.captions["km_mace_iptw"]


# -- KMunicate ---------------------------------------------------------------------------

def test_kmunicate_tables_match_direct_counts(study_state, drawn):
    _, state = study_state
    for name, ep in (("km_mace_crude", "mace"), ("cif_mi_crude", "mi")):
        fig = drawn.figs[name]
        titles = [ax.get_title(loc="left") for ax in fig.risk_axes]
        assert titles == ["Number at risk", "Cumulative events", "Cumulative censored"]
        tte = state["tte"][ep]
        t, status = tte["time"].to_numpy(), tte["status"].to_numpy()
        # Kaplan-Meier counts a competing death as censored; Aalen-Johansen does not
        censored = (status == 0) if name.startswith("cif") else (status != 1)
        for arm in ("OCT", "IVUS"):
            mine = (tte["arm"] == arm).to_numpy()
            rows = fig.risk_table[fig.risk_table["group"] == arm]
            days = rows["time_days"].to_numpy()
            assert rows["n_risk"].tolist() == [(mine & (t >= d)).sum() for d in days]
            assert rows["cum_events"].tolist() == [(mine & (status == 1) & (t <= d)).sum()
                                                   for d in days]
            assert rows["cum_censored"].tolist() == [(mine & censored & (t <= d)).sum()
                                                     for d in days]


# -- competing deaths: Aalen-Johansen, not 1 - KM ----------------------------------------

def test_components_with_competing_deaths_are_drawn_as_cumulative_incidence(study_state, drawn):
    _, state = study_state
    assert competing_deaths(state, "mi") and not competing_deaths(state, "mace")
    assert {"cif_mi_crude", "cif_mi_iptw", "km_mace_crude"} <= set(drawn.figs)
    assert not {"km_mi_crude", "km_mi_iptw"} & set(drawn.figs)
    assert "Aalen-Johansen" in drawn.captions["cif_mi_crude"]
    assert "competing" in drawn.captions["cif_mi_crude"]
    # Gray's test annotates the crude figure, with the p-value of mo.gray_test
    gray = mo.gray_test(state["tte"]["mi"], group="arm")
    note = next(t.get_text() for ax in drawn.figs["cif_mi_crude"].axes[:1]
                for leg in ax.artists if leg.get_gid() == "annotation"
                for t in leg.get_texts() if "Gray" in t.get_text())
    assert f"{gray.p_value:.3f}" in note
    # the drawn curve is the cumulative incidence, at every step
    ci = mo.cumulative_incidence(state["tte"]["mi"], group="arm")
    line = next(ln for ln in drawn.figs["cif_mi_crude"].axes[0].lines
                if ln.get_label() == "OCT")
    x_days = line.get_xdata() * 365 / 12
    assert line.get_ydata()[1:] == pytest.approx(
        ci.at(x_days[1:] + 1e-6).query("group == 'OCT'")["cif"].to_numpy(), abs=1e-12)


def test_the_study_can_ask_for_kaplan_meier(study_state):
    study, state = study_state
    rec = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        figures(rec, dataclasses.replace(study, components="km"), state)
    assert {"km_mi_crude", "km_mi_iptw"} <= set(rec.figs)
    assert not any(n.startswith("cif_") for n in rec.figs)


def test_study_file_reads_the_components_key(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[figures]\ncomponents = "km"\n')
    assert read_study(path).components == "km"
    path.write_text('[figures]\ncomponents = "1-km"\n')
    with pytest.raises(mo.InputError, match="components"):
        read_study(path)


def test_cumulative_incidence_panel_matches_a_hand_computed_estimate():
    # arm A: death at 1, MI at 2, censored at 3, MI at 4. Aalen-Johansen by hand:
    # F(2) = S(2-) d/n = 3/4 * 1/3 = 1/4; F(4) = 1/4 + S(4-) * 1/1 = 1/4 + 1/2 = 3/4,
    # where 1 - KM with the death censored reaches 1 (its risk set empties with an event).
    d = pd.DataFrame({"time": [1.0, 2, 3, 4, 1, 2, 3, 4],
                      "status": [2, 1, 0, 1, 0, 0, 1, 0],
                      "arm": ["A"] * 4 + ["B"] * 4})
    d["event"] = (d["status"] == 1).astype(int)
    state = {"tte": {"mi": d}, "fits": {}, "cluster": None}
    assert competing_deaths(state, "mi")
    (suffix, analysis, ci, test, row), = cif_panels(state, "mi")
    assert (suffix, analysis, test, row) == ("crude", "crude", None, None)
    fig = mo.plot_cif(ci, breaks=(0, 2, 4), unit="days")
    line = next(ln for ln in fig.axes[0].lines if ln.get_label() == "A")
    assert line.get_ydata()[-1] == pytest.approx(0.75, abs=1e-12)
    assert np.interp(2.0, line.get_xdata(), line.get_ydata()) == pytest.approx(0.25)
    km = mo.kaplan_meier(d, group="arm")
    assert 1 - km.at([4]).query("group == 'A'")["surv"].iloc[0] == pytest.approx(1.0)


def test_weighted_figures_add_the_effective_sample_size(study_state, drawn):
    _, state = study_state
    for name, ep in (("km_mace_iptw", "mace"), ("cif_mi_iptw", "mi")):
        fig = drawn.figs[name]
        assert [ax.get_title(loc="left") for ax in fig.risk_axes][-1] == "Effective sample size"
        tte = state["tte"][ep]
        w = state["fits"][ep].propensity["IPTW-ATE"].weights.to_numpy()
        t = tte["time"].to_numpy()
        for arm in ("OCT", "IVUS"):
            mine = (tte["arm"] == arm).to_numpy()
            rows = fig.risk_table[fig.risk_table["group"] == arm]
            # Kish (1965): (sum w)^2 / sum w^2 over the subjects still followed
            direct = [w[mine & (t >= d)].sum() ** 2 / (w[mine & (t >= d)] ** 2).sum()
                      for d in rows["time_days"]]
            assert rows["ess"].to_numpy() == pytest.approx(direct, rel=1e-12)
            assert rows["ess"].iloc[0] <= mine.sum()  # never more than the patients
    crude = drawn.figs["km_mace_crude"]
    assert "ess" not in crude.risk_table.columns  # unweighted: the size is the count


def test_the_ess_row_needs_weighted_curves_that_carry_it(study_state):
    _, state = study_state
    km = state["fits"]["mace"].curves["crude"]
    with pytest.raises(mo.InputError, match="n_risk_ess"):
        mo.plot_km(km, risk_table_rows=("n_risk", "ess"))
