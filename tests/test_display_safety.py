"""Notebook HTML and Markdown views keep a hostile label as text (no markup, no table break)."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import reference_data

import mace_outcomes as mo
from mace_outcomes._display import frame_html, md_text, to_markdown

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
# what frame_html itself may emit: a titled table and a footnote
ALLOWED = {"div", "strong", "table", "thead", "tbody", "tr", "th", "td", "p", "small", "br"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers += [k for k, _ in attrs if k.startswith("on")]

    def handle_data(self, data):
        self.text.append(data)


def _parsed(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def hostile_lung() -> pd.DataFrame:
    d = reference_data("lung")
    d["group"] = d["group"].map({0: HOSTILE, 1: "IVUS | guided"})
    return d


def test_frame_html_escapes_title_cells_and_footer():
    frame = pd.DataFrame({"arm": [HOSTILE], "n": [3]})
    p = _parsed(frame_html(HOSTILE, frame, [HOSTILE, "second line"]))
    assert p.tags <= ALLOWED and not p.handlers
    # the payload survives as text: title, cell and note (3 times)
    assert "".join(p.text).count("alert(1)") == 3


@pytest.mark.parametrize("build", [
    lambda d: mo.kaplan_meier(d, group="group"),
    lambda d: mo.logrank(d, group="group"),
    lambda d: mo.rmst(d, group="group", horizon=365),
    lambda d: mo.followup(d, group="group"),
], ids=["kaplan_meier", "logrank", "rmst", "followup"])
def test_result_views_keep_hostile_group_labels_as_text(hostile_lung, build):
    result = build(hostile_lung)
    p = _parsed(result._repr_html_())
    assert p.tags <= ALLOWED and not p.handlers
    assert "alert(1)" in "".join(p.text)
    md = result.to_markdown() if hasattr(result, "to_markdown") else ""
    assert "<script" not in md and "<img" not in md


def test_markdown_cells_are_inert_but_readable():
    # "<" before a letter, "/", "!" or "?" would open raw HTML (CommonMark 6.6); before a
    # digit or a space it is a comparison and stays as written
    assert md_text("<script>") == "&lt;script>"
    assert md_text("</td><!-- x") == "&lt;/td>&lt;!-- x"
    assert md_text("p <0.001; <5 events; a < b") == "p <0.001; <5 events; a < b"
    table = to_markdown(pd.DataFrame({"arm": ["a|b", HOSTILE]}), HOSTILE, [HOSTILE])
    body = table.splitlines()
    # a "|" inside a cell is escaped: every row keeps its two cell borders
    assert all(line.replace("\\|", "").count("|") == 2 for line in body if line.startswith("|"))
    assert "<script" not in table and "<img" not in table
