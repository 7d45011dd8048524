"""The standardised-risk figure: the drawn steps are the result's table, in the arm colours."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference_data
from matplotlib.figure import Figure
from plots_checks import assert_nothing_clipped

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.plots.adjusted import plot_adjusted_risk
from mace_outcomes.plots.style import OKABE_ITO

COVARIATES = ["age", "karno", "diagtime", "prior"]


@pytest.fixture(scope="module")
def curve():
    return mo.adjusted_risk(reference_data("veteran"), treatment="group",
                            covariates=COVARIATES, times=None, method=["aipw", "gformula"],
                            band=True, n_sim=500, seed=1)


def _by_gid(fig):
    return {a.get_gid(): a for a in fig.findobj(lambda a: bool(a.get_gid()))}


def test_figure_renders_inside_its_bounds_and_saves(curve, tmp_path):
    fig = plot_adjusted_risk(curve, labels={1: "Test", 0: "Standard"}, title="Death")
    assert isinstance(fig, Figure)
    assert_nothing_clipped(fig)
    out = mo.plots.save_figure(fig, tmp_path / "adjusted.png", dpi=150)
    assert out[0].stat().st_size > 1000


def test_steps_are_the_table_in_days_and_percent(curve):
    fig = plot_adjusted_risk(curve, unit="days", percent=True)
    drawn = _by_gid(fig)
    tab = curve.table[curve.table["method"] == "aipw"]
    for arm in (0, 1):
        t = tab[tab["arm"] == arm].sort_values("time")
        line = drawn[f"curve:{arm}"]
        assert line.get_drawstyle() == "steps-post"
        np.testing.assert_array_equal(line.get_xdata(), np.r_[0, t["time"]])
        np.testing.assert_allclose(line.get_ydata(), 100 * np.r_[0, t["risk"]])
        for side in ("lower", "upper"):
            band = drawn[f"band:{side}:{arm}"]
            assert band.get_linestyle() == "--"
            np.testing.assert_allclose(band.get_ydata(), 100 * np.r_[0, t[f"band_{side}"]])
        # the shaded interval spans exactly the pointwise limits
        ys = drawn[f"ci:{arm}"].get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(0.0)
        assert ys.max() == pytest.approx(100 * t["upper"].max())
    assert len(fig.curve_table) == len(tab)


def test_treated_arm_is_orange_and_method_is_chosen(curve):
    fig = plot_adjusted_risk(curve, method="gformula", unit="months")
    drawn = _by_gid(fig)
    assert drawn["curve:1"].get_color() == OKABE_ITO[0]      # treated (1) first: orange
    assert drawn["curve:0"].get_color() == OKABE_ITO[1]
    g = curve.table[(curve.table["method"] == "gformula") & (curve.table["arm"] == 1)]
    np.testing.assert_allclose(drawn["curve:1"].get_xdata()[1:],
                               g["time"].sort_values() / (365 / 12))
    assert "g-formula" in fig.axes[0].get_ylabel()


def test_without_band_and_interval_only_the_curves_are_drawn(curve):
    fig = plot_adjusted_risk(curve, band=False, conf_int=False)
    gids = set(_by_gid(fig))
    assert {"curve:0", "curve:1"} <= gids
    assert not any(g.startswith(("band:", "ci:")) for g in gids)


def test_bad_requests_are_reported(curve):
    with pytest.raises(InputError, match="method"):
        plot_adjusted_risk(curve, method="iptw")
    one = mo.adjusted_risk(reference_data("veteran"), treatment="group",
                           covariates=COVARIATES, times=[90])
    with pytest.raises(InputError, match="two times"):
        plot_adjusted_risk(one)
    with pytest.raises(InputError, match="adjusted_risk"):
        plot_adjusted_risk(object())


def test_result_plot_delegates_to_the_figure(curve):
    fig = curve.plot(method="aipw", unit="days")
    line = _by_gid(fig)["curve:0"]
    t = curve.table[(curve.table["method"] == "aipw") & (curve.table["arm"] == 0)]
    np.testing.assert_allclose(line.get_ydata()[1:], t.sort_values("time")["risk"])
