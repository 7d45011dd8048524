"""Long arm and row labels (40+ characters) break over lines; they never squeeze the plot.

Property checks on the drawn figure: the layout engine keeps working (no "collapsed"
warning), every text lies inside the figure, and the plot keeps a sensible share of it
(the histogram or dot-plot axes at least 40% of the figure's area; the Kaplan-Meier
curves, above their risk tables, 30% and over half the width; a forest plot's ratio axis
at least a quarter of its width, beside its columns of text).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from plots_checks import assert_nothing_clipped, render

import mace_outcomes as mo
from mace_outcomes.plots import plot_forest, plot_km, plot_love, plot_overlap
from mace_outcomes.plots.style import legend_fit, text_width

LONG_T = "OCT-guided rotational atherectomy with lesion preparation"
LONG_C = "IVUS-guided rotational atherectomy with lesion preparation"


@pytest.fixture(scope="module")
def tte():
    rng = np.random.default_rng(7)
    n = 120
    treated = rng.random(n) < 0.4
    age = rng.normal(70, 8, n)
    time = np.minimum(rng.exponential(900, n), 365.0)
    event = (time < 365).astype(int)
    return pd.DataFrame({"time": time, "event": event,
                         "arm": np.where(treated, LONG_T, LONG_C), "age_years": age,
                         "diabetes": (rng.random(n) < 0.3).astype(int)})


def _laid_out(fig):
    """Draw the figure, failing if the layout engine gave up."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*constrained_layout not applied.*")
        render(fig)
    assert_nothing_clipped(fig, min_texts=3)
    return fig


def _area_share(ax) -> float:
    box = ax.get_position()
    return box.width * box.height


@pytest.mark.parametrize("width", ["single", "double"])
def test_overlap_plot_keeps_its_plot_with_long_arm_labels(tte, width):
    ps = mo.propensity(tte, treatment="arm", covariates=["age_years", "diabetes"],
                       treated=LONG_T)
    fig = _laid_out(plot_overlap(ps, weighted=True, width=width))
    assert _area_share(fig.axes[0]) >= 0.4
    # every label is shown whole (perhaps over lines)
    legend = fig.axes[0].get_legend()
    shown = [" ".join(t.get_text().split()) for t in legend.get_texts()]
    assert any(LONG_T in s for s in shown) and any(LONG_C in s for s in shown)


def test_love_plot_keeps_its_plot_with_long_names():
    names = [f"Covariate {i}: a long descriptive clinical variable name" for i in range(6)]
    bal = pd.DataFrame({"covariate": names, "smd_unweighted": np.linspace(0.05, 0.4, 6),
                        "smd_weighted": np.linspace(0.01, 0.05, 6)})
    fig = _laid_out(plot_love(bal, names=("Unweighted cohort, before any weighting",
                                          "Inverse-probability-weighted pseudo-population")))
    assert _area_share(fig.axes[0]) >= 0.4


@pytest.mark.parametrize("weighted", [False, True])
def test_km_figure_keeps_its_plot_with_long_arm_labels(tte, weighted):
    data = tte.assign(w=np.where(tte["arm"] == LONG_T, 2.5, 1.7))
    km = mo.kaplan_meier(data, group="arm", weights="w" if weighted else None)
    fig = _laid_out(plot_km(km, kind="event", title="MACE"))
    # the risk tables take their share of the figure: the curves keep at least 30% of
    # it, at least 55% of its width (row labels are capped at 36%) and their designed
    # height (0.62 x the single-column width, less tick labels: over 2 in)
    box = fig.axes[0].get_position()
    assert _area_share(fig.axes[0]) >= 0.3 and box.width >= 0.55
    assert box.height * fig.get_size_inches()[1] >= 2.0


@pytest.mark.parametrize("width", ["single", "double"])
def test_forest_plot_keeps_its_axis_with_long_row_labels(width):
    rows = pd.DataFrame({"label": [f"{LONG_T}: crude", f"{LONG_C}: IPTW-ATE", "MACE"],
                         "hr": [0.8, 0.5, 1.1], "lower": [0.5, 0.1, 0.6],
                         "upper": [1.3, 2.4, 2.0], "p": [0.3, 0.4, 0.7]})
    fig = _laid_out(plot_forest(rows, width=width, favours=("Favours OCT", "Favours IVUS")))
    assert fig.axes[0].get_position().width >= 0.25


def test_legend_fit_breaks_only_what_does_not_fit():
    labels, ncols = legend_fit(["OCT", "IVUS"], 3.4, 7.0)
    assert (labels, ncols) == (["OCT", "IVUS"], 2)
    labels, ncols = legend_fit([LONG_T, LONG_C], 2.5, 7.0)
    assert ncols == 1 and all("\n" in x for x in labels)
    # each line fits the width left after the legend handle and pads (4.2 em)
    assert max(text_width(line, 7.0) for x in labels for line in x.split("\n")) \
        <= 2.5 - 4.2 * 7.0 / 72
    assert [" ".join(x.split()) for x in labels] == [LONG_T, LONG_C]
