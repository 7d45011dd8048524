"""Love and overlap plots, checked against R's balance numbers and direct counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from plots_checks import assert_nothing_clipped

import mace_outcomes as mo
from mace_outcomes.plots import plot_love, plot_overlap, save_figure

COVS = ["age", "ph_ecog", "ph_karno", "wt_loss"]


@pytest.fixture(scope="module")
def lung():
    df = reference_data("lung")
    ref = reference("lung")["iptw"]
    return df, ref, mo.propensity(df, treatment="group", covariates=COVS, estimand="ATE")


def _points(fig, gid):
    (line,) = fig.findobj(lambda a: a.get_gid() == gid)
    return np.asarray(line.get_xdata()), np.asarray(line.get_ydata())


def test_love_plot_points_are_r_smds_sorted(lung):
    df, ref, ps = lung
    fig = plot_love(ps, labels={"age": "Age, years"})
    r = {b["covariate"]: b for b in ref["balance"]}
    order = sorted(COVS, key=lambda c: -abs(r[c]["smd_unweighted"]))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [("Age, years" if c == "age" else c) for c in order]
    xb, yb = _points(fig, "smd:unweighted")
    xa, _ = _points(fig, "smd:weighted")
    np.testing.assert_allclose(xb, [abs(r[c]["smd_unweighted"]) for c in order], rtol=1e-6)
    np.testing.assert_allclose(xa, [abs(r[c]["smd_ate"]) for c in order], rtol=1e-5)
    np.testing.assert_array_equal(yb, np.arange(4))
    thresholds = [ln.get_xdata()[0] for ln in fig.axes[0].lines
                  if ln.get_linestyle() not in ("-", "None")]
    assert thresholds == [0.1]
    assert_nothing_clipped(fig)


def test_love_plot_signed_and_from_a_frame():
    bal = pd.DataFrame({"covariate": ["a", "b", "c"], "smd_unweighted": [-0.4, 0.2, 0.05],
                        "smd_weighted": [0.03, -0.02, 0.01]})
    fig = plot_love(bal, absolute=False, order="data", width="double")
    xb, _ = _points(fig, "smd:unweighted")
    np.testing.assert_array_equal(xb, [-0.4, 0.2, 0.05])
    lo, hi = fig.axes[0].get_xlim()
    assert lo < -0.4 and hi > 0.4
    with pytest.raises(mo.InputError):
        plot_love(bal.drop(columns="smd_weighted"))
    with pytest.raises(mo.InputError):
        plot_love(bal, order="alphabetical")


def test_overlap_counts_and_weighted_sums(lung, tmp_path):
    df, ref, ps = lung
    fig = plot_overlap(ps, weighted=True, labels={1: "Female", 0: "Male"}, bins=20)
    table = fig.overlap_table
    scores = np.asarray(ref["ps"])  # R's glm fitted values
    z = df["group"].to_numpy() == 1
    edges = np.linspace(0, 1, 21)
    np.testing.assert_array_equal(table["n_treated"], np.histogram(scores[z], edges)[0])
    np.testing.assert_array_equal(table["n_control"], np.histogram(scores[~z], edges)[0])
    w = np.asarray(ref["weights_ate"])
    np.testing.assert_allclose(table["weighted_treated"],
                               np.histogram(scores[z], edges, weights=w[z])[0], rtol=1e-6)
    # control bars hang below the axis, one bar per bin, heights = counts
    heights = [p.get_height() for p in fig.axes[0].patches if p.get_gid() == "bars:control"]
    np.testing.assert_array_equal(heights, -np.histogram(scores[~z], edges)[0])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["Female (n = 86)", "Male (n = 127)", "Weighted"]
    assert_nothing_clipped(fig)
    png, svg = save_figure(fig, tmp_path / "overlap.png", dpi=300, formats=("png", "svg"))
    from PIL import Image
    with Image.open(png) as img:
        assert img.size[0] == 1050


def test_overlap_from_arrays_and_bad_scores():
    fig = plot_overlap(np.array([0.1, 0.15, 0.8, 0.85]), treated=[0, 0, 1, 1], bins=10)
    assert fig.overlap_table["n_treated"].sum() == 2
    assert fig.overlap_table.loc[8, "n_treated"] == 2  # 0.8 and 0.85 in [0.8, 0.9)
    with pytest.raises(mo.InputError, match=r"\[0, 1\]"):
        plot_overlap(np.array([0.1, 1.2]), treated=[0, 1])
    with pytest.raises(mo.InputError):
        plot_overlap(np.array([0.1, 0.2]))
