"""report.docx: the report's headings, tables, figures and notes in Word, read back with
python-docx and held against what the writer was given (the frames' printed cells, the
figures' sizes at 300 dpi); hostile labels stay literal text; rendered pages are not blank."""

import io
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import mace_outcomes as mo
from mace_outcomes.plots import plot_km
from mace_outcomes.report import _docx, _output
from mace_outcomes.report._html import Writer, write_report
from mace_outcomes.report.study import Study
from mace_outcomes.tables import table_one

docx = pytest.importorskip("docx")

HOSTILE = ['=HYPERLINK("http://example.com/x","click")', "<script>alert(1)</script>",
           "bell\x07 {PAGE} & </w:t> " + "long title " * 30]


def _km_figure():
    df = pd.DataFrame({"time": [30, 200, 300, 365, 365, 120, 365, 300, 365, 365],
                       "event": [1, 0, 1, 0, 0, 1, 0, 1, 0, 0],
                       "arm": ["OCT"] * 4 + ["IVUS"] * 6})
    return plot_km(mo.kaplan_meier(df, group="arm"), kind="event", breaks=(0, 6, 12))


def _report(root, labels=("OCT", "IVUS"), title="Outcomes by arm", min_cell=0):
    """A small report through the writer: a plain table, a Table 1, a figure, a note."""
    study = Study(title=title, formats=["png"], dpi=72)
    writer = Writer(root, study, min_cell=min_cell)
    attrition = pd.DataFrame({"stage": ["input", "excluded", "analysed"],
                              "reason": ["records read", labels[0], "kept"],
                              "patients": [88, 3, 85], "share": [1.0, 0.034, np.nan]})
    writer.section("Patient flow", writer.table("attrition", attrition,
                                                f"Attrition of {labels[0]}", [labels[1]]))
    p = pd.DataFrame({"arm": [labels[0]] * 6 + [labels[1]] * 6,
                      "age": [61, 70, 65, 72, 58, 69, 66, 71, 74, 63, 68, 75],
                      "kind": ["ACS", "SCAD", "ACS", labels[1], "ACS", "SCAD"] * 2})
    t1 = table_one(p, group="arm", variables=["age", "kind"], arms=list(labels))
    writer.section("Table 1", writer.table("table1", t1.table, t1.title, result=t1))
    writer.section(f"Kaplan-Meier: {labels[0]}", writer.paragraph(f"About {labels[1]}.")
                   + writer.figure("km_mace_crude", _km_figure(), caption=f"KM of {labels[0]}"))
    results = {"arms": {"treated": labels[0], "control": labels[1]}, "directory": "data",
               "warnings": [f"UserWarning: {labels[1]}"]}
    write_report(writer, results, {})
    return writer, attrition, t1, results


def _headings(doc) -> list[tuple[str, str]]:
    return [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")]


def _cells(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def _printed(frame: pd.DataFrame) -> list[list[str]]:
    """What the HTML table prints: the header, then str() of each cell; level rows' leading
    spaces become an indent in Word."""
    rows = [[str(c) for c in frame.columns]]
    rows += [[str(v).lstrip(" ") if j == 0 else str(v) for j, v in enumerate(r)]
             for r in frame.itertuples(index=False)]
    return rows


def test_docx_has_the_reports_headings_tables_and_figures(tmp_path):
    writer, attrition, t1, results = _report(tmp_path)
    path = tmp_path / "report.docx"
    assert path in writer.files and (tmp_path / "report.html") in writer.files
    assert "report.docx" in _output.read_manifest(_manifest(tmp_path, writer))
    doc = docx.Document(str(path))
    assert _headings(doc) == [("Heading 1", "Outcomes by arm"), ("Heading 2", "Patient flow"),
                              ("Heading 2", "Table 1"), ("Heading 2", "Kaplan-Meier: OCT"),
                              ("Heading 2", "Warnings")]
    assert results["sections"] == ["Patient flow", "Table 1", "Kaplan-Meier: OCT"]
    tables = doc.tables
    assert len(tables) == 2
    # a value not computed (NaN) is a blank cell, in Word as on the page
    assert _cells(tables[0]) == _printed(attrition.astype(object).where(attrition.notna(), ""))
    assert _cells(tables[0])[3][3] == ""
    assert ">nan<" not in (tmp_path / "tables" / "attrition.html").read_text()
    shown = t1.formatted()
    assert _cells(tables[1]) == _printed(shown)
    # level rows (leading spaces in the frame) are indented rather than padded
    for row, value in zip(tables[1].rows[1:], shown.iloc[:, 0], strict=True):
        indent = row.cells[0].paragraphs[0].paragraph_format.left_indent
        assert (indent is not None and indent > 0) == value.startswith(" ")
    text = [p.text for p in doc.paragraphs]
    for line in [t1.title, "Attrition of OCT", "IVUS", *t1.notes, "About IVUS.",
                 "KM of OCT", "UserWarning: IVUS"]:
        assert line in text, line
    # the figure: embedded once, a PNG at 300 dpi of the figure's journal size
    fig = _km_figure()
    w_in, h_in = fig.get_size_inches()
    shapes = doc.inline_shapes
    assert len(shapes) == 1
    blob = shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    image = doc.part.related_parts[blob].blob
    with Image.open(io.BytesIO(image)) as im:
        assert im.format == "PNG"
        assert im.size == (round(w_in * 300), round(h_in * 300))
        assert round(im.info["dpi"][0]) == 300
    assert shapes[0].width.inches == pytest.approx(w_in, abs=0.01)  # fits: not scaled


def _manifest(root, writer):
    return _output.write_manifest(root, writer.files).parent


def test_hostile_labels_stay_literal_text(tmp_path):
    label, control, other = HOSTILE
    writer, *_ = _report(tmp_path, labels=(label, control), title=other)
    path = tmp_path / "report.docx"
    doc = docx.Document(str(path))
    expected = other.replace("\x07", "\\x07")  # no XML can hold a control character
    assert _headings(doc)[0] == ("Heading 1", expected)
    assert ("Heading 2", f"Kaplan-Meier: {label}") in _headings(doc)
    cells = _cells(doc.tables[0])
    assert cells[2][1] == label
    t1 = [c for row in _cells(doc.tables[1]) for c in row]
    assert any(label in c for c in t1) and any(control in c for c in t1)
    text = [p.text for p in doc.paragraphs]
    assert f"Attrition of {label}" in text and control in text
    with zipfile.ZipFile(path) as z:
        body = z.read("word/document.xml").decode()
        names = z.namelist()
    # no field, hyperlink or external relationship: every label is a run of text
    for tag in ("w:fldSimple", "w:instrText", "w:fldChar", "w:hyperlink"):
        assert tag not in body
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert not [n for n in names if "external" in n.lower()]
    rels = zipfile.ZipFile(path).read("word/_rels/document.xml.rels").decode()
    assert "TargetMode=\"External\"" not in rels and "example.com" not in rels


def test_min_cell_reaches_the_docx(tmp_path):
    _, _, t1, _ = _report(tmp_path, min_cell=5)
    doc = docx.Document(str(tmp_path / "report.docx"))
    cells = _cells(doc.tables[0])
    assert [r[2] for r in cells] == ["patients", "88", "<5", "85"]
    # Table 1: each arm has 6 patients, 3 ACS, 2 SCAD and 1 of the third kind: all "<5";
    # the mean ± SD row and the arm sizes (n = 6) are shown
    rows = {r[0]: r[1:3] for r in _cells(doc.tables[1])}
    header = _cells(doc.tables[1])[0]
    assert header[1:3] == ["OCT (n = 6)", "IVUS (n = 6)"]
    assert rows["ACS"] == rows["SCAD"] == rows["IVUS"] == ["<5", "<5"]
    age = t1.formatted().iloc[0, 1:3].tolist()
    assert rows[t1.formatted().iloc[0, 0]] == age and "±" in age[0]
    assert any(p.text.startswith("Counts from 1 to 4 are shown as <5")
               for p in doc.paragraphs)


def test_without_python_docx_the_report_says_so(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "docx", None)  # import docx raises ImportError
    writer, _, _, results = _report(tmp_path)
    assert not (tmp_path / "report.docx").exists()
    assert (tmp_path / "report.docx") not in writer.files
    assert _docx.MISSING_NOTE in results["warnings"]
    page = (tmp_path / "report.html").read_text()
    assert "report.docx was not written" in page and "python-docx" in page


def _soffice():
    return shutil.which("libreoffice") or shutil.which("soffice")


@pytest.mark.slow  # LibreOffice start-up and conversion, about 5 s
@pytest.mark.skipif(not (_soffice() and shutil.which("pdftoppm")),
                    reason="needs libreoffice (libreoffice-writer-nogui) and pdftoppm "
                           "(poppler-utils)")
def test_docx_renders_to_pages_that_are_not_blank(tmp_path):
    _report(tmp_path / "r")
    out = tmp_path / "pdf"
    subprocess.run([_soffice(), "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(out),
                    str(tmp_path / "r" / "report.docx")], check=True, capture_output=True,
                   timeout=180)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(out / "report.pdf"),
                    str(out / "page")], check=True, timeout=60)
    pages = sorted(out.glob("page*.png"))
    assert pages
    for page in pages:
        with Image.open(page) as im:
            ink = np.asarray(im.convert("L")) < 200
        assert ink.mean() > 0.005, page.name  # text or figure on every page
    # the figure is drawn: the KM curves' coloured pixels (the arm palette)
    with Image.open(pages[-1]) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    assert (np.ptp(rgb, axis=2) > 60).sum() > 50


@pytest.mark.slow  # two whole-study runs
def test_analyze_writes_the_docx_and_a_second_run_replaces_it(tmp_path):
    out = tmp_path / "results"
    mo.analyze(out=out, bootstrap=0, progress=False)
    assert "report.docx" in _output.read_manifest(out)
    doc = docx.Document(str(out / "report.docx"))
    # one Word table per table written, one picture per figure, the same section titles
    assert len(doc.tables) == len(list((out / "tables").glob("*.csv")))
    assert len(doc.inline_shapes) == len(list((out / "figures").glob("*.png")))
    page = (out / "report.html").read_text()
    for _, title in _headings(doc)[1:]:
        assert f"<h2>{title}</h2>" in page or title == "Warnings"
    first = (out / "report.docx").stat().st_mtime_ns
    mo.analyze(out=out, bootstrap=0, progress=False)  # refused if report.docx were foreign
    assert (out / "report.docx").stat().st_mtime_ns != first


def test_a_table_too_wide_for_portrait_gets_a_landscape_a4_page(tmp_path):
    narrow = pd.DataFrame({"stage": ["input"], "patients": [88]})
    # 14 columns whose headers cannot break: wider than a portrait A4 text block (17 cm)
    wide = pd.DataFrame({f"rkm_median_{i:02d}": ["18.51"] for i in range(14)})
    blocks = [_docx.Heading("Report", 1), _docx.Table(narrow, "Narrow"),
              _docx.Heading("Follow-up", 2), _docx.Table(wide, "Wide", ("note",))]
    doc = docx.Document(str(_docx.write_docx(blocks, tmp_path / "r.docx")))
    portrait, landscape = doc.sections
    mm = 25.4
    assert (portrait.page_width.inches * mm, portrait.page_height.inches * mm) == \
        pytest.approx((210, 297), abs=0.5)
    assert (landscape.page_width.inches * mm, landscape.page_height.inches * mm) == \
        pytest.approx((297, 210), abs=0.5)
    for section, table in zip((portrait, landscape), doc.tables, strict=True):
        text_width = (section.page_width.inches - section.left_margin.inches
                      - section.right_margin.inches)
        used = sum(c.width.inches for c in table.columns)
        assert used <= text_width + 0.01
    # the section heading goes with its table to the landscape page
    body = doc.element.body
    order = [el.tag.rsplit("}", 1)[1] for el in body.iterchildren()]
    first_break = next(i for i, el in enumerate(body.iterchildren())
                       if el.find(".//" + docx.oxml.ns.qn("w:sectPr")) is not None)
    headings = [i for i, el in enumerate(body.iterchildren())
                if "Follow-up" in "".join(el.itertext())]
    assert order.count("tbl") == 2 and headings[0] > first_break
