"""The patient-flow diagram (STROBE 13c): its numbers are the attrition table's, and its
text stays inside its boxes and its figure whatever the labels.

Independent sources: the bundled cohort's published flow (88 patients screened, 6
without intravascular imaging and 3 with in-stent restenosis excluded, 32 OCT and 47
IVUS analysed), counts fixed by construction in a synthetic cohort, and pandas counts of
``cohort.patients`` / ``cohort.lesions`` made here.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import FancyBboxPatch
from plots_checks import assert_nothing_clipped, render

import mace_outcomes as mo
from mace_outcomes.errors import InputError


def _texts(fig) -> list[str]:
    """Each box's text on one line (wrapping and no-break spaces undone)."""
    return [re.sub(r"\s+", " ", t.get_text().replace("\u00a0", " "))
            for t in fig.axes[0].texts]


def _numbers(text: str) -> list[int]:
    return [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", text)]


@pytest.fixture(scope="module")
def cohort():
    return mo.load_example()


def test_numbers_drawn_are_the_published_flow(cohort):
    texts = _texts(mo.plot_flow(cohort))
    screened = next(t for t in texts if t.startswith("Assessed"))
    assert _numbers(screened) == [88, 93]  # patients, lesions (the paper's cohort)
    excluded = next(t for t in texts if t.startswith("Excluded"))
    assert "no intravascular imaging (n = 6 patients" in excluded
    assert "in-stent restenosis (n = 3 patients" in excluded
    assert _numbers(excluded)[0] == 9
    arms = {t.split(" ")[0]: _numbers(t) for t in texts if "Analysed" in t}
    assert arms["OCT"][0] == 32 and arms["IVUS"][0] == 47


def test_numbers_drawn_equal_the_attrition_and_the_arms(cohort):
    att = cohort.attrition
    texts = _texts(mo.plot_flow(cohort))
    excluded = next(t for t in texts if t.startswith("Excluded"))
    for _, row in att[att.stage == "excluded"].iterrows():
        found = re.search(re.escape(row["reason"]) + r" \(n = (\d+) patients, (\d+) lesions",
                          excluded)
        assert found and (int(found[1]), int(found[2])) == (row["patients"], row["lesions"])
    kept = att[att.stage == "analysed"].iloc[0]
    included = next(t for t in texts if t.startswith("Included"))
    assert _numbers(included) == [kept["patients"], kept["lesions"]]
    p = cohort.patients
    lesions_by_arm = cohort.lesions.merge(p[["patient_id", "arm"]], on="patient_id")["arm"]
    for arm in ("OCT", "IVUS"):
        text = next(t for t in texts if t.startswith(f"{arm} Analysed"))
        assert _numbers(text) == [int((p.arm == arm).sum()), int((lesions_by_arm == arm).sum())]


def _synthetic(reason_a: str, reason_b: str, arms=("A", "B")):
    n = 60
    rng = np.random.default_rng(3)
    patients = pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(n)], "arm": np.repeat(arms, n // 2),
        "index_date": pd.Timestamp("2020-01-01"),
        "last_contact_date": pd.Timestamp("2021-01-01"),
        "age_years": rng.normal(65, 9, n).round(), "flag": np.arange(n) % 10 == 0})
    events = pd.DataFrame(columns=["event_id", "patient_id", "event_type", "event_date"])
    c = mo.Cohort(patients=patients, events=events)
    # by construction: 6 flagged (3 per arm), then 5 of arm A's first patients
    c = c.exclude(reason_a, patients["flag"].to_numpy())
    first_a = c.patients["patient_id"].isin([f"P{i}" for i in (1, 2, 3, 4, 5)])
    return c.exclude(reason_b, first_a.to_numpy())


def test_synthetic_counts_by_construction():
    c = _synthetic("prior bypass surgery", "age under 18")
    texts = _texts(mo.plot_flow(c, arms=["A", "B"]))
    assert _numbers(next(t for t in texts if t.startswith("Assessed"))) == [60]
    excluded = next(t for t in texts if t.startswith("Excluded"))
    assert _numbers(excluded) == [11, 6, 18, 5]  # total, bypass, "18" of the reason, age
    assert _numbers(next(t for t in texts if t.startswith("A Analysed"))) == [30 - 3 - 5]
    assert _numbers(next(t for t in texts if t.startswith("B Analysed"))) == [30 - 3]


def _inside(fig):
    """Every text inside its own box and every box inside the figure (drawn pixels)."""
    renderer = render(fig)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(fig.axes[0].texts)
    fb = fig.bbox
    for text in fig.axes[0].texts:
        tb = text.get_window_extent(renderer)
        owner = [b.get_window_extent(renderer) for b in boxes]
        owner = [b for b in owner if b.x0 <= (tb.x0 + tb.x1) / 2 <= b.x1
                 and b.y0 <= (tb.y0 + tb.y1) / 2 <= b.y1]
        assert len(owner) == 1, text.get_text()
        bb = owner[0]
        assert bb.x0 <= tb.x0 and tb.x1 <= bb.x1, text.get_text()
        assert bb.y0 <= tb.y0 and tb.y1 <= bb.y1, text.get_text()
        assert fb.x0 <= bb.x0 and bb.x1 <= fb.x1 + 0.5 and fb.y0 <= bb.y0 <= bb.y1 <= fb.y1 + 0.5
    assert_nothing_clipped(fig, min_texts=4)


LONG = "patients with a left main stem stenosis treated by a surgeon's decision"


@pytest.mark.parametrize(("width", "dpi"), [("single", 100), ("double", 100), (2.5, 300)])
def test_text_stays_inside_boxes_and_figure(cohort, width, dpi):
    fig = mo.plot_flow(cohort, width=width)
    fig.set_dpi(dpi)  # the report saves at 300 dpi: glyph widths round differently
    _inside(fig)
    long_arms = _synthetic(LONG, "x" * 70, arms=("OCT-guided rotational atherectomy "
                                                  "with lesion preparation", "IVUS"))
    fig = mo.plot_flow(long_arms, width=width, matched={"IVUS": 20})
    fig.set_dpi(dpi)
    _inside(fig)


def test_matched_boxes_and_attrition_table_input(cohort):
    att = cohort.attrition
    fig = mo.plot_flow(att, arms={"OCT": 32, "IVUS": 47}, matched={"OCT": 30, "IVUS": 30})
    texts = _texts(fig)
    assert [_numbers(t) for t in texts if t.startswith("Matched")] == [[30], [30]]
    assert _numbers(next(t for t in texts if t.startswith("OCT Analysed"))) == [32]
    with pytest.raises(InputError, match="arms"):
        mo.plot_flow(att)


def test_no_exclusions_draws_no_excluded_box():
    c = _synthetic("a", "b")
    plain = mo.Cohort(patients=c.patients, events=c.events)
    texts = _texts(mo.plot_flow(plain))
    assert not any(t.startswith("Excluded") for t in texts)
    _inside(mo.plot_flow(plain))


def test_saved_as_vector(cohort, tmp_path):
    (svg,) = mo.save_figure(mo.plot_flow(cohort), tmp_path / "flow.svg")
    text = svg.read_text()
    assert "<path" in text and "<image" not in text  # outlines, no embedded raster


def test_matched_boxes_say_matched_and_not_matched(cohort):
    from mace_outcomes.weighting.match import match

    tte = mo.time_to_event(cohort, "mace", horizon=365)
    m = match(tte, treatment="arm", covariates=["renal_insufficiency", "any_left_main"],
              treated="OCT")
    # independently: the matched rows per arm, and the analysed patients not among them
    matched = m.data["arm"].value_counts()
    left = cohort.patients["arm"].value_counts() - matched
    fig = mo.plot_flow(cohort, matched=dict(matched), unmatched=dict(left))
    boxes = [t for t in _texts(fig) if t.startswith("Matched")]
    assert [_numbers(t) for t in boxes] == [[matched["OCT"], left["OCT"]],
                                            [matched["IVUS"], left["IVUS"]]]
    assert all("Not matched" in t and t.count("patients") == 2 for t in boxes)
    _inside(fig)
    # without unmatched counts the box is as before: the matched count alone
    plain = [t for t in _texts(mo.plot_flow(cohort, matched=dict(matched)))
             if t.startswith("Matched")]
    assert plain == [f"Matched (n = {matched['OCT']})", f"Matched (n = {matched['IVUS']})"]
