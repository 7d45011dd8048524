"""report.html as a reader's browser shows it: headless Chromium on a 0/1-coded cohort
with blank covariates under ``missing = "impute"`` (the bundled cohort, values blanked).

Independent source: the browser's own count of the images it decoded
(``naturalWidth > 0``), and the text it lays out, searched for what a program prints when
a value was not formatted for a reader: ``nan``, ``None``, a Python dict or list or a
numpy scalar's repr.
"""

from __future__ import annotations

import html
import html.parser
import os
import re
import subprocess

import pytest
from test_report_analyze import _blanked, _chromium

import mace_outcomes as mo

#: what unformatted values look like on a page
_RAW = {"nan": re.compile(r"\bnan\b", re.IGNORECASE), "None": re.compile(r"\bNone\b"),
        "dict": re.compile(r"\{\s*'[^']*'\s*:"), "list": re.compile(r"\[\s*'[^']*'\s*[,\]]"),
        "numpy": re.compile(r"\bnp\.\w+\(")}


class _VisibleText(html.parser.HTMLParser):
    """The text a reader sees: everything outside <script>, <style> and <head>."""

    def __init__(self):
        super().__init__()
        self.hidden, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style", "head")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style", "head")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def test_raw_values_are_caught_by_the_text_check():
    found = _VisibleText()
    found.feed("<html><head><title>nan</title></head><body><p>ess {'OCT': 1.2}</p>"
               "<script>var None = nan;</script><p>competing deaths: none [ref 3]</p>"
               "<p>of ['dm']</p></body></html>")
    text = " ".join(found.parts)
    assert [k for k, r in _RAW.items() if r.search(text)] == ["dict", "list"]


@pytest.mark.slow
def test_imputed_report_renders_every_image_and_no_raw_value(tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium on this machine")
    folder, _ = _blanked(tmp_path, "impute", m=3)
    patients = mo.read_cohort(folder).patients
    assert set(patients["renal_insufficiency"].dropna().unique()) == {0, 1}  # 0/1-coded
    assert patients["renal_insufficiency"].isna().sum() == 3
    out = tmp_path / "results"
    res = mo.analyze(folder, out=out, bootstrap=0, progress=False).results
    assert "Multiple imputation" in res["sections"]
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--dump-dom", (out / "report.html").as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body"))]
    n = int(body.split('data-images="')[1].split('"')[0])
    loaded = int(body.split('data-images-loaded="')[1].split('"')[0])
    figures = len(list((out / "figures").glob("*.png")))
    assert n == figures and loaded == n  # every figure written is on the page, decoded
    visible = _VisibleText()
    visible.feed(dom)
    text = " ".join(visible.parts)
    for kind, pattern in _RAW.items():
        hits = [text[max(m.start() - 60, 0):m.end() + 60] for m in pattern.finditer(text)]
        assert not hits, f"{kind} on the page: {hits[:3]}"
    for s in res["sections"]:
        assert f"<h2>{html.escape(s, quote=False)}</h2>" in dom
