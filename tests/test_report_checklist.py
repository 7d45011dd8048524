"""The report's flow diagram and its STROBE / RECORD checklist.

Independent sources: the HTML of report.html itself (every linked anchor must exist,
parsed with html.parser), the ARC-2 definitions of the endpoints (Garcia-Garcia et al.
2018: MACE = cardiac death, MI, TVR, stent thrombosis; an undetermined death is cardiac,
a TLR is a TVR), and the STROBE / RECORD item lists.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

import mace_outcomes as mo
from mace_outcomes.datasets import example_path
from mace_outcomes.records.endpoints import ENDPOINTS
from mace_outcomes.report import read_study
from mace_outcomes.report.checklist import NOT_HERE, checklist

REQUIRED = ["STROBE 6a", "STROBE 6b", "STROBE 7", "RECORD 7.1", "STROBE 12a", "STROBE 12c",
            "STROBE 12e", "STROBE 13a", "STROBE 13b", "STROBE 13c", "STROBE 14a",
            "STROBE 14b", "STROBE 15", "STROBE 16a", "STROBE 16b", "STROBE 16c", "STROBE 17"]


class _Page(HTMLParser):
    """Ids, links, and the cells of every table row, in order."""

    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.rows, self.order = set(), [], [], []
        self._row, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
            self.order.append(("id", a["id"]))
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag in ("img", "table"):
            self.order.append((tag, a.get("alt", "")))
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    # a short study (two endpoints, PNG at 72 dpi, no bootstrap) keeps this under ~4 s
    study = read_study(Path(example_path()) / "study.toml")
    study.endpoints, study.formats, study.dpi, study.bootstrap = ["mace", "mi"], ["png"], 72, 0
    out = tmp_path_factory.mktemp("checklist") / "results"
    mo.analyze(out=out, study=study, progress=False)
    page = _Page()
    page.feed((out / "report.html").read_text())
    return out, page


def test_every_checklist_link_lands_on_an_anchor(report):
    _, page = report
    assert len(page.hrefs) >= 15
    missing = [h for h in page.hrefs if h not in page.ids]
    assert not missing


def test_required_items_each_linked_or_declared_absent(report):
    _, page = report
    rows = {r[0]: r for r in page.rows if r and r[0].startswith(("STROBE", "RECORD"))}
    assert set(REQUIRED) <= set(rows)
    assert rows["STROBE 13c"][2] == "Patient flow"
    assert rows["STROBE 6b"][2] == NOT_HERE  # no matching in this study: said, not hidden
    assert "Endpoint definitions" in rows["RECORD 7.1"][2]
    assert "Missing data" in rows["STROBE 12c"][2]


def test_endpoint_definitions_are_the_arc2_event_types(report):
    _, page = report
    defs = {r[0]: r for r in page.rows if r and r[0] in ("MACE", "Myocardial infarction")}
    # ARC-2, by hand: the four MACE components; undetermined deaths and TLR also count
    assert defs["MACE"][1] == "cardiac_death, mi, tvr, stent_thrombosis"
    assert set(defs["MACE"][2].split(", ")) == {"cardiac_death", "undetermined_death", "mi",
                                                 "tvr", "tlr", "stent_thrombosis"}
    assert defs["Myocardial infarction"][3] == \
        "cardiac_death, noncardiac_death, undetermined_death"
    # and exactly as the package defines them
    for label, name in (("MACE", "mace"), ("Myocardial infarction", "mi")):
        assert defs[label][1].split(", ") == list(ENDPOINTS[name].event_types)
        assert set(defs[label][2].split(", ")) == set(ENDPOINTS[name].counted)


def test_flow_figure_sits_above_the_attrition_table(report):
    out, page = report
    start = page.order.index(("id", "patient-flow"))
    after = page.order[start + 1:start + 3]
    assert after[0][0] == "img" and "STROBE 13c" in after[0][1]
    assert after[1][0] == "table"
    assert (out / "figures" / "flow.png").exists()
    assert (out / "tables" / "strobe_record_checklist.csv").exists()


def test_absent_sections_are_declared_not_linked():
    study = read_study(Path(example_path()) / "study.toml")
    table = checklist(study, ["Patient flow", "Table 1"], ["OCT", "IVUS"]).set_index("item")
    for item in ("STROBE 12e", "STROBE 15", "STROBE 14b"):
        assert table.loc[item, "where"] == NOT_HERE and table.loc[item, "anchors"] == ""
    assert table.loc["STROBE 13c", "anchors"] == "patient-flow"
