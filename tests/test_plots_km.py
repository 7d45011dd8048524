"""Kaplan-Meier / cumulative-incidence figures checked as a reader would check them.

The numbers drawn under the axis are compared with counts taken straight from the
data (subjects with follow-up >= t; events with time <= t) and with R's
``summary(survfit(...), times=365)``; their positions with the x ticks of the curve
axes; every label with the figure's bounding box; the files with their formats.
"""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from plots_checks import assert_nothing_clipped, render

import mace_outcomes as mo
from mace_outcomes.plots import plot_cif, plot_km, plot_km_panels, save_figure
from mace_outcomes.plots.style import OKABE_ITO

matplotlib.use("Agg")

MONTH = 365.0 / 12.0
BREAKS = (0, 3, 6, 9, 12)


@pytest.fixture(scope="module")
def lung():
    df = reference_data("lung")
    ref = reference("lung")
    df["w"] = ref["iptw"]["weights_ate"]
    return df, ref


def _risk_texts(fig, row="n_risk"):
    """{group label: [(x_display, text)]} read back from the drawn table."""
    out = {}
    for tax in fig.risk_axes:
        for t in tax.texts:
            gid = t.get_gid() or ""
            if gid.startswith(f"risk:{row}:"):
                out.setdefault(gid.split(":", 2)[2], []).append(t)
    return out


def _count_at_risk(df, t_days, group, value, weights=None):
    sub = df[df[group] == value]
    w = np.ones(len(sub)) if weights is None else sub[weights].to_numpy()
    return float(w[sub["time"].to_numpy() >= t_days].sum())


def test_at_risk_numbers_are_the_counts_at_the_ticks(lung):
    df, ref = lung
    km = mo.kaplan_meier(df, group="group")
    fig = plot_km(km, breaks=BREAKS, risk_table_rows=("n_risk", "cum_events", "cum_censored"))
    render(fig)
    ax = fig.axes[0]
    tick_x = ax.transData.transform(np.c_[ax.get_xticks(), np.zeros(5)])[:, 0]
    np.testing.assert_allclose(ax.get_xticks(), BREAKS)
    drawn = _risk_texts(fig)
    assert set(drawn) == {"0", "1"}
    for g, texts in drawn.items():
        texts = sorted(texts, key=lambda t: t.get_position()[0])
        expected = [_count_at_risk(df, b * MONTH, "group", int(g)) for b in BREAKS]
        assert [int(t.get_text()) for t in texts] == expected
        centres = [(t.get_window_extent().x0 + t.get_window_extent().x1) / 2 for t in texts]
        np.testing.assert_allclose(centres, tick_x, atol=1.0)  # within a pixel of the tick
    # R: summary(survfit(...), times = 365)$n.risk -- 12 months is day 365
    r_at_365 = {r["group"]: r["n_risk"] for r in ref["km_at_horizon_loglog"]}
    table = fig.risk_table
    for g, n in r_at_365.items():
        row = table[(table["group"] == int(g)) & (table["time"] == 12)]
        assert row["n_risk"].item() == n
    for g in (0, 1):
        sub = df[df.group == g]
        for row in table[table.group == g].itertuples():
            t = row.time * MONTH
            assert row.cum_events == ((sub.time <= t) & (sub.event == 1)).sum()
            assert row.cum_censored == ((sub.time <= t) & (sub.event == 0)).sum()
        drawn_events = sorted(_risk_texts(fig, "cum_events")[str(g)],
                              key=lambda t: t.get_position()[0])
        assert [float(t.get_text()) for t in drawn_events] == \
            list(table[table.group == g]["cum_events"])


def test_weighted_counts_weighted_or_unweighted_and_labelled(lung):
    df, ref = lung
    km = mo.kaplan_meier(df, group="group", weights="w")
    fig = plot_km(km, breaks=BREAKS)
    titles = [a.get_title(loc="left") for a in fig.risk_axes]
    assert titles == ["Number at risk (weighted)"]
    r_at_365 = {int(r["group"]): r["n_risk"] for r in ref["iptw"]["km_weighted_at_horizon"]}
    for g, texts in _risk_texts(fig).items():
        texts = sorted(texts, key=lambda t: t.get_position()[0])
        expected = [_count_at_risk(df, b * MONTH, "group", int(g), "w") for b in BREAKS]
        assert expected[-1] == pytest.approx(r_at_365[int(g)], rel=1e-9)
        assert [t.get_text() for t in texts] == [f"{v:.0f}" for v in expected]
    raw = plot_km(km, breaks=BREAKS, weighted_counts="unweighted",
                  risk_table_rows=("n_risk", "cum_censored"))
    assert [a.get_title(loc="left") for a in raw.risk_axes] == [
        "Number at risk (unweighted)", "Cumulative censored (unweighted)"]
    for g, texts in _risk_texts(raw).items():
        texts = sorted(texts, key=lambda t: t.get_position()[0])
        assert [int(t.get_text()) for t in texts] == [
            _count_at_risk(df, b * MONTH, "group", int(g)) for b in BREAKS]
    cens = raw.risk_table
    for g in (0, 1):
        sub = df[df.group == g]
        expected = [((sub.time <= b * MONTH) & (sub.event == 0)).sum() for b in BREAKS]
        np.testing.assert_allclose(cens[cens.group == g]["cum_censored"], expected)
    assert set(raw.risk_table["counts"]) == {"unweighted"}
    assert set(fig.risk_table["counts"]) == {"weighted"}
    both = plot_km(km, breaks=BREAKS, weighted_counts="both")
    assert [a.get_title(loc="left") for a in both.risk_axes] == [
        "Number at risk (weighted)", "Number at risk (unweighted)"]
    for g, texts in _risk_texts(both, "n_risk_unweighted").items():
        texts = sorted(texts, key=lambda t: t.get_position()[0])
        assert [int(t.get_text()) for t in texts] == [
            _count_at_risk(df, b * MONTH, "group", int(g)) for b in BREAKS]
    np.testing.assert_allclose(both.risk_table["n_risk"], fig.risk_table["n_risk"])
    assert_nothing_clipped(both)


def _annotation(fig):
    (note,) = fig.findobj(lambda a: a.get_gid() == "annotation")
    return "\n".join(t.get_text() for t in note.get_texts())


def test_weighted_figure_refuses_unweighted_p_value(lung):
    df, ref = lung
    km_w = mo.kaplan_meier(df, group="group", weights="w")
    crude = mo.logrank(df, group="group")
    with pytest.raises(mo.InputError, match="unweighted p-value"):
        plot_km(km_w, test=crude)
    with pytest.raises(mo.InputError, match="Cox model is not"):
        plot_km(km_w, hr=mo.cox(df, covariates=["group"]))
    iptw = mo.logrank(df, group="group", weights="w")
    with pytest.raises(mo.InputError, match="curves are not"):
        plot_km(mo.kaplan_meier(df, group="group"), test=iptw)
    fig = plot_km(km_w, test=iptw, hr=mo.cox(df, covariates=["group"], weights="w"))
    # R (lung.json): RISCA ipw.log.rank p; coxph(weights, robust) HR and its interval
    p = ref["iptw"]["adjusted_logrank_ate"]["p"]
    c = ref["iptw"]["cox_weighted_robust"]
    text = _annotation(fig)
    assert f"IPTW log-rank p = {p:.3f}" in text
    assert f"HR {c['hr']:.2f} (95% CI {c['lower']:.2f}\u2013{c['upper']:.2f})" in text


def test_crude_annotation_matches_r(lung):
    df, ref = lung
    fig = plot_km(mo.kaplan_meier(df, group="group"), test=mo.logrank(df, group="group"),
                  hr=mo.cox(df, covariates=["group"]))
    c = ref["cox_group_only"]
    text = _annotation(fig)
    assert f"Log-rank p = {ref['logrank']['p']:.3f}" in text
    assert f"HR {c['hr']:.2f} (95% CI {c['lower']:.2f}\u2013{c['upper']:.2f})" in text
    assert "IPTW" not in text
    # a tidy row (as compare_arms gives) and a free note
    row = pd.Series({"analysis": "crude", "hr": c["hr"], "lower": c["lower"],
                     "upper": c["upper"], "p": c["p"]})
    fig = plot_km(mo.kaplan_meier(df, group="group"), hr=row, note="Efron ties")
    assert _annotation(fig).splitlines() == [
        f"HR {c['hr']:.2f} (95% CI {c['lower']:.2f}–{c['upper']:.2f})", "Efron ties"]


def test_event_orientation_rises_from_zero_and_is_one_minus_r_survival(lung):
    df, ref = lung
    km = mo.kaplan_meier(df, group="group")
    fig = plot_km(km, kind="event", percent=True, unit="days", breaks=(0, 250, 500, 750, 1000))
    ax = fig.axes[0]
    steps = [ln for ln in ax.lines if ln.get_linestyle() == "-" and len(ln.get_xdata()) > 5]
    assert len(steps) == 2
    r = ref["km_loglog"]
    assert [ln.get_label() for ln in steps] == ["1", "0"]  # treated first (arm_order)
    for line, g in zip(steps, ("1", "0"), strict=True):
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert x[0] == 0 and y[0] == 0 and np.all(np.diff(y) >= -1e-12)
        want = 100 * (1 - np.asarray(r[g]["surv"]))
        got = np.interp(r[g]["time"], x[1:], y[1:])
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert ax.get_ylim()[1] <= 100.0 + 1e-9


def test_event_axis_zooms_to_low_incidence():
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame({"time": np.where(rng.random(n) < 0.08, rng.uniform(1, 364, n), 365.0),
                       "arm": np.repeat(["OCT", "IVUS"], n // 2)})
    df["event"] = (df.time < 365).astype(int)
    km = mo.kaplan_meier(df, group="arm")
    fig = plot_km(km, kind="event", breaks=BREAKS, conf_int=False)
    top = fig.axes[0].get_ylim()[1]
    highest = max(1 - km.table.groupby("group")["surv"].min())
    assert highest < top <= 2.5 * highest  # zoomed, yet the curve fits
    ticks = fig.axes[0].get_yticks()
    assert ticks[0] == 0 and ticks[-1] == pytest.approx(top)  # the axis ends on a tick
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) and round(steps[0], 6) in (0.01, 0.02, 0.05, 0.1)
    assert fig.risk_table.query("time == 12")["n_risk"].sum() == (df.time >= 365).sum()


@pytest.mark.parametrize("width,rows,percent", [
    ("single", ("n_risk",), False),
    ("double", ("n_risk", "cum_events", "cum_censored"), True),
])
def test_no_label_is_clipped_and_numbers_do_not_collide(lung, width, rows, percent):
    df, _ = lung
    df = df.assign(sex=np.where(df.group == 1, "Female", "Male (reference)"))
    km = mo.kaplan_meier(df, group="sex")
    fig = plot_km(km, breaks=(0, 6, 12, 18, 24, 30), risk_table_rows=rows, percent=percent,
                  width=width, test=mo.logrank(df, group="sex"),
                  hr=mo.cox(df, covariates=["group"]), title="All-cause death")
    assert_nothing_clipped(fig)
    renderer = render(fig)
    for tax in fig.risk_axes:
        labels = [t.get_window_extent(renderer) for t in tax.get_yticklabels()]
        for row in range(2):
            boxes = sorted([t.get_window_extent(renderer) for t in tax.texts
                            if t.get_position()[1] == row], key=lambda b: b.x0)
            assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
            assert labels[row].x1 < boxes[0].x0  # group label left of the first number


def test_palette_labels_and_colours_come_from_the_data(lung):
    df, _ = lung
    df = df.assign(arm=np.where(df.group == 1, "OCT", "IVUS"))
    km = mo.kaplan_meier(df, group="arm")
    fig = plot_km(km)
    legend = fig.axes[0].get_legend()
    # the package's arm order by default: treated (OCT, last sorted label) first
    assert [t.get_text() for t in legend.get_texts()] == ["OCT", "IVUS"]
    colours = [matplotlib.colors.to_hex(h.get_color()) for h in legend.legend_handles]
    assert [c.upper() for c in colours] == [OKABE_ITO[0], OKABE_ITO[1]]
    fig = plot_km(km, labels={"OCT": "OCT-guided", "IVUS": "IVUS-guided"},
                  palette={"OCT": "#D55E00"})
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["OCT-guided", "IVUS-guided"]
    assert matplotlib.colors.to_hex(legend.legend_handles[0].get_color()).upper() == "#D55E00"
    ticks = [t.get_text() for t in fig.risk_axes[0].get_yticklabels()]
    assert ticks == ["OCT-guided", "IVUS-guided"]
    # any order the user asks for
    fig = plot_km(km, order=["IVUS", "OCT"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["IVUS", "OCT"]
    assert list(pd.unique(fig.risk_table["group"])) == ["IVUS", "OCT"]
    with pytest.raises(mo.InputError, match="order"):
        plot_km(km, order=["OCT", "none"])
    grey = plot_km(km, linestyles=True).axes[0].get_legend().legend_handles
    assert [h.get_linestyle() for h in grey] == ["-", "--"]


def test_png_size_dpi_and_tiff(lung, tmp_path):
    df, _ = lung
    fig = plot_km(mo.kaplan_meier(df, group="group"), width="single")
    png, tif = save_figure(fig, tmp_path / "km.png", dpi=600, formats=("png", "tiff"))
    w_in, h_in = fig.get_size_inches()
    assert w_in == pytest.approx(3.5)
    with Image.open(png) as img:
        assert img.size == (round(3.5 * 600), round(h_in * 600))
        assert img.info["dpi"][0] == pytest.approx(600, abs=0.5)
    with Image.open(tif) as img:
        assert img.mode == "RGB" and img.info["dpi"][0] == pytest.approx(600)
        assert img.size[0] == 2100
    fig2 = plot_km(mo.kaplan_meier(df, group="group"), width="double")
    (png2,) = save_figure(fig2, tmp_path / "km2.png", dpi=300)
    with Image.open(png2) as img:
        assert img.size[0] == round(7.2 * 300)


def test_pdf_embeds_truetype_and_svg_is_xml(lung, tmp_path):
    df, _ = lung
    fig = plot_km(mo.kaplan_meier(df, group="group"))
    pdf, svg = save_figure(fig, tmp_path / "km.pdf", formats=("pdf", "svg"))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/FontFile2" in data and b"/Type3" not in data
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and float(root.get("width").rstrip("pt")) == \
        pytest.approx(3.5 * 72)
    with pytest.raises(mo.InputError):
        save_figure(fig, tmp_path / "km.bmp")
    with pytest.raises(mo.InputError):
        save_figure(fig, tmp_path / "km.png", dpi=20)


def test_cif_figure_matches_cmprsk():
    df = reference_data("mgus2")
    ref = reference("mgus2")
    ci = mo.cumulative_incidence(df, status="status", group="group", cause=1)
    ci2 = mo.cumulative_incidence(df, status="status", group="group", cause=2)
    times = ref["cif_timepoints"]["times"]
    fig = plot_cif({"Progression": ci, "Death": ci2}, unit="days", breaks=(0, 100, 200, 300),
                   test=mo.gray_test(df, status="status", group="group", cause=1))
    ax = fig.axes[0]
    assert "Gray's test p = 0.200" in _annotation(fig)
    steps = [ln for ln in ax.lines if len(ln.get_xdata()) > 5]
    assert len(steps) == 4
    est = ref["cif_timepoints"]["est"]
    # group 1 (treated) first: "1 1", "0 1", "1 2", "0 2"
    for line, key in zip(steps, ("2", "1", "4", "3"), strict=True):
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        idx = np.searchsorted(x, times, side="right") - 1
        np.testing.assert_allclose(y[idx], est[key], rtol=1e-6)
    for g in (0, 1):
        sub = df[df.group == g]
        got = fig.risk_table.query("group == @g")["n_risk"].to_numpy()
        assert list(got) == [(sub.time >= t).sum() for t in (0, 100, 200, 300)]
    assert_nothing_clipped(fig)


def test_panels_one_call(lung):
    df, _ = lung
    df = df.assign(early=((df.time < 200) & (df.event == 1)).astype(int))
    kms = {"Death": mo.kaplan_meier(df, group="group"),
           "Early death": mo.kaplan_meier(df, event="early", group="group"),
           "Death (women)": mo.kaplan_meier(df[df.group == 1])}
    fig = plot_km_panels(kms, kind="event", breaks=BREAKS)
    df2 = df.assign(status=np.where(df.event == 1, 1 + (df.age > 65), 0))
    cif = {"Death > 65": mo.cumulative_incidence(df2, status="status", group="group", cause=2),
           "Death <= 65": mo.cumulative_incidence(df2, status="status", group="group", cause=1)}
    mixed = plot_km_panels({"Death": kms["Death"], "By age": cif}, kind="event",
                           breaks=BREAKS)
    assert list(pd.unique(mixed.risk_table["panel"])) == ["Death", "By age"]
    assert_nothing_clipped(mixed)
    assert fig.get_size_inches()[0] == pytest.approx(7.2)
    titles = [sub.get_suptitle() for sub in fig.subfigs if sub.get_visible()]
    assert titles == ["A  Death", "B  Early death", "C  Death (women)"]
    table = fig.risk_table
    assert list(pd.unique(table["panel"])) == list(kms)
    early = table[(table.panel == "Early death") & (table.group == 1)]
    sub = df[df.group == 1]
    assert list(early["n_risk"]) == [(sub.time >= b * MONTH).sum() for b in BREAKS]
    assert_nothing_clipped(fig)


def test_bad_options_raise(lung):
    df, _ = lung
    km = mo.kaplan_meier(df, group="group")
    for kw in ({"kind": "hazard"}, {"breaks": (0, 6, 3)}, {"unit": "fortnights"},
               {"risk_table_rows": ("n_risk", "n_deaths")}, {"width": "triple"},
               {"weighted_counts": "all"}):
        with pytest.raises(mo.InputError):
            plot_km(km, **kw)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 400), st.booleans(), st.booleans()),
                min_size=4, max_size=40))
def test_property_drawn_counts_equal_data_counts(rows):
    df = pd.DataFrame(rows, columns=["time", "event", "arm"]).astype(
        {"event": int, "arm": int})
    if df.arm.nunique() < 2:
        df.loc[0, "arm"] = 1 - df.loc[0, "arm"]
    km = mo.kaplan_meier(df, group="arm")
    fig = plot_km(km, breaks=BREAKS, risk_table_rows=("n_risk", "cum_events"))
    for row in ("n_risk", "cum_events"):
        for g, texts in _risk_texts(fig, row).items():
            sub = df[df.arm == int(g)]
            texts = sorted(texts, key=lambda t: t.get_position()[0])
            if row == "n_risk":
                want = [(sub.time >= b * MONTH).sum() for b in BREAKS]
            else:
                want = [((sub.time <= b * MONTH) & (sub.event == 1)).sum() for b in BREAKS]
            assert [int(t.get_text()) for t in texts] == want


def test_no_pyplot_state(lung):
    df, _ = lung
    open_before = (sys.modules["matplotlib.pyplot"].get_fignums()
                   if "matplotlib.pyplot" in sys.modules else [])
    fig = mo.kaplan_meier(df, group="group").plot(unit="days")
    assert fig.canvas.manager is None  # not registered with pyplot: nothing to close
    png = fig._repr_png_()  # yet a notebook shows it
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as img:
        assert img.size[0] == round(3.5 * 150)
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == open_before


def test_png_is_not_blank(lung):
    df, _ = lung
    fig = plot_km(mo.kaplan_meier(df, group="group"))
    buf = io.BytesIO()
    save_figure_png = fig.savefig
    save_figure_png(buf, format="png", dpi=100)
    img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    # both Okabe-Ito arm colours are on the canvas
    for hexcol in OKABE_ITO[:2]:
        rgb = np.array(matplotlib.colors.to_rgb(hexcol)) * 255
        assert (np.abs(img - rgb).sum(axis=2) < 30).sum() > 50


def test_weighted_cif_counts_both_ways():
    df = reference_data("mgus2")
    df["w"] = np.random.default_rng(7).uniform(0.5, 2.0, len(df))
    ci = mo.cumulative_incidence(df, status="status", group="group", cause=1, weights="w")
    times = (0, 100, 200, 300)
    fig = plot_cif(ci, unit="days", breaks=times)
    raw = plot_cif(ci, unit="days", breaks=times, weighted_counts="unweighted")
    assert fig.risk_axes[0].get_title(loc="left") == "Number at risk (weighted)"
    assert raw.risk_axes[0].get_title(loc="left") == "Number at risk (unweighted)"
    for g in (0, 1):
        sub = df[df.group == g]
        np.testing.assert_allclose(fig.risk_table.query("group == @g")["n_risk"],
                                   [sub.w[sub.time >= t].sum() for t in times], rtol=1e-9)
        np.testing.assert_array_equal(raw.risk_table.query("group == @g")["n_risk"],
                                      [(sub.time >= t).sum() for t in times])
    with pytest.raises(mo.InputError, match="unweighted p-value"):
        plot_cif(ci, test=mo.gray_test(df, status="status", group="group", cause=1))


def test_annotation_covers_no_curve_and_table_is_optional():
    df = reference_data("veteran")
    df["karno_group"] = pd.cut(df.karno, [0, 40, 60, 75, 100]).astype(str)
    km = mo.kaplan_meier(df, group="karno_group")
    fig = plot_km(km, unit="days", breaks=(0, 100, 200, 300, 400, 500),
                  test=mo.logrank(df, group="karno_group"), hr=(0.5, 0.3, 0.8))
    renderer = render(fig)
    ax = fig.axes[0]
    (note,) = fig.findobj(lambda a: a.get_gid() == "annotation")
    box = note.get_window_extent(renderer)
    inverse = ax.transData.inverted()
    (x0, y0), (x1, y1) = inverse.transform([(box.x0, box.y0), (box.x1, box.y1)])
    for line in ax.lines:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        if x.size < 5:
            continue
        grid = np.linspace(x0, x1, 400)
        level = y[np.clip(np.searchsorted(x, grid, side="right") - 1, 0, None)]
        assert not np.any((level > y0) & (level < y1)), "annotation sits on a curve"
    bare = plot_km(km, unit="days", risk_table=False, return_table=True)
    assert bare[1] is None and bare[0].risk_table is None and len(bare[0].axes) == 1


def test_curves_already_in_months_are_not_converted_twice(lung):
    import dataclasses

    df, _ = lung
    km = mo.kaplan_meier(df, group="group")
    in_months = dataclasses.replace(
        km, table=km.table.assign(time=km.table["time"] / MONTH), time_unit="months")
    a = plot_km(km, breaks=BREAKS).risk_table
    b = plot_km(in_months, breaks=BREAKS).risk_table
    np.testing.assert_array_equal(a["n_risk"], b["n_risk"])
    np.testing.assert_array_equal(a["cum_events"], b["cum_events"])


@pytest.mark.parametrize("rows", [
    {"time": [10, 20, 30, 365, 365], "event": [0, 0, 0, 0, 0]},   # no event at all
    {"time": [100.0], "event": [1]},                               # one subject
    {"time": [0, 0, 5, 10, 365], "event": [1, 0, 1, 0, 0]},        # events at day 0
    {"time": [1, 2, 3, 4], "event": [1, 1, 1, 1]},                 # the curve reaches 0
])
def test_degenerate_curves_still_draw(rows):
    df = pd.DataFrame(rows)
    km = mo.kaplan_meier(df)
    fig = plot_km(km, kind="event", breaks=BREAKS)
    assert_nothing_clipped(fig, min_texts=3)
    top = fig.axes[0].get_ylim()[1]
    # the whole curve is visible: 1 - S at the end never exceeds the axis
    assert 1 - km.table["surv"].min() <= top + 1e-12
    assert list(fig.risk_table["n_risk"]) == [(df.time >= b * MONTH).sum() for b in BREAKS]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 400), st.booleans(), st.booleans(),
                          st.floats(0.2, 5.0)), min_size=4, max_size=40))
def test_property_weighted_counts_are_weight_sums(rows):
    df = pd.DataFrame(rows, columns=["time", "event", "arm", "w"]).astype(
        {"event": int, "arm": int})
    if df.arm.nunique() < 2:
        df.loc[0, "arm"] = 1 - df.loc[0, "arm"]
    km = mo.kaplan_meier(df, group="arm", weights="w")
    table = plot_km(km, breaks=BREAKS, weighted_counts="both",
                    risk_table_rows=("n_risk", "cum_events", "cum_censored")).risk_table
    for g in (0, 1):
        sub, got = df[df.arm == g], table[table.group == g]
        for b, row in zip(BREAKS, got.itertuples(), strict=True):
            t = b * MONTH
            assert row.n_risk == pytest.approx(sub.w[sub.time >= t].sum(), rel=1e-9)
            assert row.cum_events == pytest.approx(
                sub.w[(sub.time <= t) & (sub.event == 1)].sum(), rel=1e-9, abs=1e-12)
            assert row.n_risk_unweighted == (sub.time >= t).sum()
            assert row.cum_censored_unweighted == ((sub.time <= t) & (sub.event == 0)).sum()
