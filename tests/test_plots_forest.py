"""Forest plot: each marker at its hazard ratio, each interval at its limits, the text
printed as journals print it, nothing clipped -- on R's Cox fits of the lung data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from plots_checks import assert_nothing_clipped

import mace_outcomes as mo
from mace_outcomes.plots import plot_forest, save_figure


@pytest.fixture(scope="module")
def rows():
    """HRs from R (coxph on lung): crude, adjusted and IPTW, plus a subgroup block."""
    ref = reference("lung")
    crude, adj = ref["cox_group_only"], ref["cox_efron"]
    iptw = ref["iptw"]["cox_weighted_robust"]
    return pd.DataFrame({
        "label": ["Crude", "Adjusted (age, ECOG)", "IPTW", "Subgroup", "Age < 65", "Age >= 65",
                  "Sparse"],
        "hr": [crude["hr"], adj["hr"][0], iptw["hr"], np.nan, 0.5, 0.7, 0.35],
        "lower": [crude["lower"], adj["lower"][0], iptw["lower"], np.nan, 0.31, 0.42, 0.02],
        "upper": [crude["upper"], adj["upper"][0], iptw["upper"], np.nan, 0.81, 1.17, np.inf],
        "p": [crude["p"], adj["p"][0], iptw["p"], np.nan, 0.0004, 0.17, 0.5],
        "events": ["151/213", "151/213", "151/213", "", "60/90", "91/123", "3/10"],
    })


def _by_gid(fig, prefix):
    out = {}
    for artist in fig.findobj(lambda a: (a.get_gid() or "").startswith(prefix)):
        out[int(artist.get_gid().split(":")[1])] = artist
    return out


def test_markers_and_intervals_sit_at_the_values(rows):
    fig = plot_forest(rows, columns={"events": "Events/N"}, favours=("Women better",
                                                                     "Men better"))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    markers, cis = _by_gid(fig, "hr:"), _by_gid(fig, "ci:")
    assert sorted(markers) == [0, 1, 2, 4, 5, 6]  # the heading row has none
    for i, m in markers.items():
        assert m.get_xdata()[0] == pytest.approx(rows["hr"][i])
        assert m.get_ydata()[0] == i
    lo, hi = ax.get_xlim()
    for i, line in cis.items():
        x = line.get_xdata()
        assert x[0] == pytest.approx(max(rows["lower"][i], lo))
        assert x[1] == pytest.approx(min(rows["upper"][i], hi))
    assert hi < np.inf and cis[6].get_xdata()[1] == hi  # the infinite limit ends at the edge
    # the reference line at 1 is inside the axis and labelled by a tick
    assert lo < 1 < hi and 1 in list(ax.get_xticks())


def test_printed_text_matches_r(rows):
    ref = reference("lung")["cox_group_only"]
    fig = plot_forest(rows)
    texts = {int(t.get_gid().split(":")[1]): t.get_text()
             for t in fig.findobj(lambda a: (a.get_gid() or "").startswith("hr_text:"))}
    assert texts[0] == f"{ref['hr']:.2f} ({ref['lower']:.2f}\u2013{ref['upper']:.2f})"
    assert texts[0] == "0.59 (0.42\u20130.83)"  # as R prints 0.586 (0.417, 0.825) (lung.json)
    assert texts[3] == "" and texts[6].endswith("\u221e)")
    p_texts = {int(t.get_gid().split(":")[1]): t.get_text()
               for t in fig.findobj(lambda a: (a.get_gid() or "").startswith("p:"))}
    assert p_texts[0] == "0.002" and p_texts[4] == "<0.001"
    labels = {int(t.get_gid().split(":")[1]): t
              for t in fig.findobj(lambda a: (a.get_gid() or "").startswith("label:"))}
    assert labels[3].get_fontweight() == "bold" and labels[3].get_text() == "Subgroup"
    assert labels[4].get_text().strip() == "Age < 65"
    assert list(fig.forest_table["hr_text"]) == [texts[i] for i in range(len(rows))]


@pytest.mark.parametrize("width", ["single", "double"])
def test_nothing_clipped_and_rows_aligned(rows, width):
    fig = plot_forest(rows, columns={"events": "Events/N"}, width=width,
                      favours=("Favours OCT", "Favours IVUS"), title="All-cause death")
    renderer = assert_nothing_clipped(fig)
    # each row's label, marker and HR text share one baseline (same display y)
    markers = _by_gid(fig, "hr:")
    hr_texts = {int(t.get_gid().split(":")[1]): t
                for t in fig.findobj(lambda a: (a.get_gid() or "").startswith("hr_text:"))}
    ax = fig.axes[0]
    for i, m in markers.items():
        y_marker = ax.transData.transform((m.get_xdata()[0], m.get_ydata()[0]))[1]
        bb = hr_texts[i].get_window_extent(renderer)
        assert abs((bb.y0 + bb.y1) / 2 - y_marker) < 2.0
    # within each row the columns do not overlap each other or the plot
    plot_box = ax.get_window_extent(renderer)
    by_row = {}
    for t in fig.findobj(lambda a: (a.get_gid() or "").split(":")[0] in
                         ("label", "events", "hr_text", "p")):
        if t.get_text().strip():
            by_row.setdefault(int(t.get_gid().split(":")[1]), []).append(
                t.get_window_extent(renderer))
    assert len(by_row) == len(rows)
    for boxes in by_row.values():
        boxes.sort(key=lambda b: b.x0)
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
        assert all(b.x1 < plot_box.x0 or b.x0 > plot_box.x1 for b in boxes)
    # tick labels do not collide
    ticks = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                    if t.get_text()), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(ticks, ticks[1:], strict=False))
    assert fig.get_size_inches()[0] == pytest.approx({"single": 3.5, "double": 7.2}[width])


def test_from_cox_fits_of_several_endpoints(tmp_path):
    df = reference_data("lung")
    df["early"] = ((df.time < 300) & (df.event == 1)).astype(int)
    fits = {"Death": mo.cox(df, covariates=["group"]),
            "Death < 300 days": mo.cox(df, event="early", covariates=["group"])}
    tidy = pd.concat([f.summary.loc[["group"]].assign(label=k) for k, f in fits.items()])
    fig = plot_forest(tidy)
    markers = _by_gid(fig, "hr:")
    r_hr = reference("lung")["cox_group_only"]["hr"]  # R: coxph(Surv(time, event) ~ group)
    assert markers[0].get_xdata()[0] == pytest.approx(r_hr, rel=1e-6)
    (pdf,) = save_figure(fig, tmp_path / "forest.pdf")
    assert b"/FontFile2" in pdf.read_bytes()


def test_bad_rows_raise(rows):
    with pytest.raises(mo.InputError, match="lower <= hr <= upper"):
        plot_forest(rows.assign(lower=rows["upper"] * 2))
    with pytest.raises(mo.InputError, match="missing columns"):
        plot_forest(rows.drop(columns="upper"))
    with pytest.raises(mo.InputError):
        plot_forest(rows, columns=["n_oct"])


def test_wide_intervals_print_with_sensible_precision():
    from mace_outcomes.plots.style import format_ratio

    assert [format_ratio(v) for v in (0.586, 12.34, 615.6, 0.004, np.inf)] == \
        ["0.59", "12.3", "616", "<0.01", "\u221e"]
    fig = plot_forest(pd.DataFrame({"label": ["MI"], "hr": [4.22], "lower": [0.0031],
                                    "upper": [615.6], "p": [0.337]}))
    assert list(fig.forest_table["hr_text"]) == ["4.22 (<0.01\u2013616)"]
    ticks = list(fig.axes[0].get_xticks())
    assert 1 in ticks and 0.1 in ticks and 10 in ticks  # symmetric round ticks
