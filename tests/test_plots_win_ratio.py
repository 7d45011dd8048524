"""The win-ratio figure: bars at the R reference's per-level win and loss percentages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference
from plots_checks import assert_nothing_clipped

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.plots import plot_win_ratio

LEVELS = [("time_death", "death"), ("time_mi", "mi"), ("time_hosp", "hosp")]


def test_bars_are_the_reference_percentages():
    ref = reference("win_ratio")["plain"]
    fit = mo.win_ratio(pd.DataFrame(reference("win_ratio")["data"]), levels=LEVELS)
    fig = plot_win_ratio(fit, labels={1: "New", 0: "Standard"},
                         level_labels=["Death", "MI", "Hospitalisation"])
    by_gid = {a.get_gid(): a for a in fig.findobj(lambda a: bool(a.get_gid()))}
    pairs = 40 * 35  # the R data: 40 treated, 35 reference patients
    for b, counts in enumerate((ref["wins"], ref["losses"])):
        left = 0.0
        for k, (_, name) in enumerate(LEVELS):
            bar = by_gid[f"bar:{b}:{name}"]
            assert bar.get_width() == pytest.approx(100 * counts[k] / pairs)
            assert bar.get_x() == pytest.approx(left)  # stacked in priority order
            left += bar.get_width()
    ties = by_gid["bar:ties"]
    assert ties.get_width() == pytest.approx(
        100 * (pairs - sum(ref["wins"]) - sum(ref["losses"])) / pairs)
    assert fig.win_table["pct"].sum() == pytest.approx(100)
    ax = fig.axes[0]
    # top to bottom: the treated arm's wins, the reference's, the ties
    by_height = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()),
                           strict=True), reverse=True)
    assert [name for _, name in by_height] == ["New wins", "Standard wins", "Tied"]
    assert_nothing_clipped(fig, min_texts=5)


def test_the_result_plots_itself_and_rejects_other_objects():
    fit = mo.win_ratio(mo.load_example(), hierarchy=["cardiac_death", "mi"], horizon=365)
    fig = fit.plot(width="double")
    assert fig.get_size_inches()[0] == pytest.approx(7.2)
    assert np.isclose(fig.win_table["pct"].sum(), 100)
    with pytest.raises(InputError, match="win_ratio result"):
        plot_win_ratio(mo.kaplan_meier(pd.DataFrame({"time": [1, 2], "event": [1, 0]}),
                                       group=None))
    with pytest.raises(InputError, match="level_labels"):
        plot_win_ratio(fit, level_labels=["only one"])
