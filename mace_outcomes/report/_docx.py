"""The report as a Word document, for journal submission: ``report.docx``.

The report writer (``_html.Writer``) records what it puts on the page as a list of
blocks -- headings, paragraphs, tables (the very display frame of the HTML table, its
caption and notes), figures (a 300-dpi PNG and its caption) -- and :func:`write_docx`
lays the same blocks out in Word: tables as real Word tables (three rules, header row
repeated on each page, numbers right-aligned, level rows indented), figures at their
journal size, wide tables on landscape pages.

Every text goes in as the text of a run: nothing is read as a field code, a hyperlink
or markup, so a label such as ``=HYPERLINK("http://x")`` or ``<script>`` is printed as
written. Characters XML cannot hold (control characters) are printed as ``\\xNN``.
python-docx is an optional extra (``pip install 'mace_outcomes[docx]'``);
:func:`available` says whether it is installed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# A4 with 2 cm margins: the text block is 6.69 x 10.12 in (portrait)
_PAGE = (8.27, 11.69)
_MARGIN = 0.79
_TEXT_W = _PAGE[0] - 2 * _MARGIN
_TEXT_H = _PAGE[1] - 2 * _MARGIN
_FONT = "Arial"
_TABLE_PT = 8.0
_NOTE_PT = 7.5
_CELL_STYLE = "Table Text"
_CHAR_IN = 0.060                     # a character of 8-pt table text (Arial, generous)
_HEAD_CHAR_IN = 0.074                # ... of the bold header
_CELL_PAD_IN = 0.18                  # left + right cell margins, and a little air
_LONGEST_LINE = 40                   # characters before a cell's text wraps
#: characters XML 1.0 cannot hold (python-docx would refuse them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 the report title, 2 a section, 3 a subsection


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False  # smaller, grey: as the page's ``class="note"``


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Table:
    frame: pd.DataFrame  # the cells as printed: strings, leading spaces for level rows
    title: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Figure:
    png: bytes           # 300 dpi
    width_in: float
    height_in: float
    caption: str


Block = Heading | Paragraph | Items | Table | Figure


def available() -> bool:
    """Whether python-docx is installed (the ``docx`` extra) and imports."""
    try:
        import docx  # noqa: F401
    except ImportError:
        return False
    return True


MISSING_NOTE = ("report.docx was not written: it needs the optional package python-docx "
                "(pip install 'mace_outcomes[docx]').")


def plain(text) -> str:
    """``text`` as a string Word stores verbatim (control characters as ``\\xNN``)."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells of ``frame`` as the HTML and Markdown tables print them (``str``)."""
    rows = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    return pd.DataFrame(rows, columns=[str(c) for c in frame.columns], dtype=object)


# ----------------------------------------------------------------------------- layout
_NUMBER_LIKE = re.compile(r"[\d\s.,%()<>=±–\-/+:;]*\d[\d\s.,%()<>=±–\-/+:;]*|inf|nan|suppressed|")
_HEADER_N = re.compile(r"\(n = [^)]*\)")
_UNBROKEN = 14  # a cell this short never wraps ("STROBE 12a", "Fisher exact")
_HEADER_LINE = 18


def _width(text: str) -> float:
    """A text's width in average characters: capitals count 1.35 (Arial's are wider)."""
    return len(text) + 0.35 * sum(ch.isupper() for ch in text)


def _words(text: str, hyphens: bool = False) -> float:
    """The longest run a line break may not split (an arm header's "(n = 33)" is one);
    with ``hyphens``, a line may also break after "-" or "/" (as Word breaks headers)."""
    text = _HEADER_N.sub(lambda m: m.group(0).replace(" ", "_"), text)
    if hyphens:
        text = re.sub(r"(?<=[A-Za-z][-/])(?=[A-Za-z])", " ", text)
    return max((_width(w) for w in text.split()), default=0)


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Columns of numbers, counts, intervals and p-values (right-aligned, never wrapped)."""
    out = []
    for column in frame.to_numpy(dtype=object).T.tolist():
        cells = [str(v).strip() for v in column]
        filled = [c for c in cells if c]
        out.append(bool(filled) and all(_NUMBER_LIKE.fullmatch(c) for c in filled))
    return out


def column_widths(frame: pd.DataFrame, avail: float,
                  pt: float = _TABLE_PT) -> tuple[list[float], float, float]:
    """(column widths in inches, natural total, least total) at font size ``pt``: each
    column as wide as its longest line (up to ``_LONGEST_LINE`` characters), shrunk
    towards its longest word when the table is wider than ``avail``; numbers and short
    cells are never broken."""
    char, head_char = _CHAR_IN * pt / _TABLE_PT, _HEAD_CHAR_IN * pt / _TABLE_PT
    natural, least = [], []
    columns = frame.to_numpy(dtype=object).T.tolist() or [[] for _ in frame.columns]
    for i, (name, numeric, column) in enumerate(zip(frame.columns, numeric_columns(frame),
                                                    columns, strict=True)):
        cells = [str(v) for v in column]
        indent = 2 if i == 0 and any(c.startswith(" ") for c in cells) else 0
        cells = [c.strip() for c in cells]
        longest = max([_width(c) for c in cells] + [0])
        word = max([_words(c) for c in cells] + [1])
        if numeric:
            word = longest
        else:
            word = max(word, min(longest, _UNBROKEN))
        head = _words(str(name), hyphens=True) * head_char
        # given room, a header stays on one line (up to _HEADER_LINE characters)
        head_line = max(min(_width(str(name)), _HEADER_LINE) * head_char, head)
        nat = max(min(longest, _LONGEST_LINE), word) + indent
        natural.append(max(nat * char, head_line) + _CELL_PAD_IN)
        least.append(max((word + indent) * char, head) + _CELL_PAD_IN)
    total_nat, total_least = sum(natural), sum(least)
    if total_nat <= avail:
        widths = natural
    elif total_least >= avail:
        widths = [w * avail / total_least for w in least]
    else:
        spare = (avail - total_least) / (total_nat - total_least)
        widths = [lo + (hi - lo) * spare for lo, hi in zip(least, natural, strict=True)]
    return widths, total_nat, total_least


def table_font(frame: pd.DataFrame, avail: float) -> float:
    """The table's font size: 8 pt, or down to 6.5 pt for a table that would otherwise
    break its numbers or words."""
    for pt in (_TABLE_PT, 7.5, 7.0, 6.5):
        if column_widths(frame, avail, pt)[2] <= avail:
            return pt
    return 6.5


def _wide(block: Block) -> bool:
    """A table that would not fit a portrait page, even in 7 pt, without breaking a word
    or a number."""
    return (isinstance(block, Table)
            and column_widths(block.frame, _TEXT_W, 7.0)[2] > _TEXT_W)


def orientations(blocks: Sequence[Block]) -> list[bool]:
    """Landscape (True) or portrait for each block: a table as it fits; a heading, or a
    paragraph before a table, goes with the next table of its section (so a caption or
    title is never left alone on the page before); anything else stays where it is."""
    out: list[bool | None] = [_wide(b) if isinstance(b, Table) else None for b in blocks]
    ahead: bool | None = None
    for i in range(len(blocks) - 1, -1, -1):  # what the next table of the section wants
        b = blocks[i]
        if out[i] is not None:
            ahead = out[i]
        elif isinstance(b, Heading | Paragraph) and ahead is not None:
            out[i] = ahead
        if isinstance(b, Figure | Items) or (isinstance(b, Heading) and b.level <= 2):
            ahead = None  # a table pulls only the title and text right before it
    current = False
    for i, want in enumerate(out):
        current = current if want is None else want
        out[i] = current
    return [bool(v) for v in out]


def write_docx(blocks: Sequence[Block], path: str | Path, title: str = "") -> Path:
    """Write ``blocks`` to a Word file at ``path`` (needs python-docx)."""
    import docx
    from docx.enum.section import WD_SECTION

    doc = docx.Document()
    _styles(doc)
    props = doc.core_properties
    # the file's properties hold at most 255 characters (the page shows the whole title)
    props.title, props.author, props.comments = plain(title)[:255], "mace-outcomes", ""
    props.last_modified_by, props.keywords, props.subject = "mace-outcomes", "", ""
    section = doc.sections[0]
    _page(section, landscape=False)
    landscape = False
    for block, wide in zip(blocks, orientations(blocks), strict=True):
        if wide != landscape:  # a wide table gets landscape pages
            section = doc.add_section(WD_SECTION.NEW_PAGE)
            _page(section, landscape=wide)
            landscape = wide
        avail = (_PAGE[1] - 2 * _MARGIN) if landscape else _TEXT_W
        height = _TEXT_W if landscape else _TEXT_H
        if isinstance(block, Heading):
            doc.add_heading(plain(block.text), level=min(max(block.level, 1), 3))
        elif isinstance(block, Paragraph):
            _paragraph(doc, block.text, note=block.note)
        elif isinstance(block, Items):
            for item in block.items:
                doc.add_paragraph(plain(item), style="List Bullet")
        elif isinstance(block, Table):
            _table(doc, block, avail)
        elif isinstance(block, Figure):
            _figure(doc, block, avail, height)
    path = Path(path)
    doc.save(str(path))
    return path


def _page(section, landscape: bool) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Inches

    w, h = (_PAGE[1], _PAGE[0]) if landscape else _PAGE
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Inches(w), Inches(h)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(_MARGIN))


def _styles(doc) -> None:
    """Black Arial throughout (the template's blue theme headings read as a draft)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    sizes = {"Normal": 10, "Heading 1": 16, "Heading 2": 13, "Heading 3": 11, "Caption": 9,
             "List Bullet": 10}
    for name, size in sizes.items():
        style = doc.styles[name]
        style.font.name = _FONT
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor(0, 0, 0)
        rfonts = style.element.get_or_add_rPr().find(qn("w:rFonts"))
        if rfonts is not None:  # theme fonts would override the name in Word
            for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                rfonts.attrib.pop(qn(attr), None)
            rfonts.set(qn("w:eastAsia"), _FONT)
            rfonts.set(qn("w:cs"), _FONT)
    from docx.enum.style import WD_STYLE_TYPE

    cells = doc.styles.add_style(_CELL_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cells.base_style = doc.styles["Normal"]
    cells.font.size = Pt(_TABLE_PT)  # also the height of an empty cell's line
    cells.paragraph_format.space_before = Pt(0)
    cells.paragraph_format.space_after = Pt(0)
    cells.paragraph_format.line_spacing = 1.0
    doc.styles["Caption"].font.italic = False
    doc.styles["Caption"].font.bold = False
    for name in ("Heading 1", "Heading 2", "Heading 3"):
        doc.styles[name].font.bold = True
        doc.styles[name].paragraph_format.space_before = Pt(14 if name != "Heading 3" else 8)
        doc.styles[name].paragraph_format.space_after = Pt(4)


def _paragraph(doc, text: str, note: bool = False, size: float | None = None,
               style: str | None = None, bold: bool = False):
    from docx.shared import Pt, RGBColor

    para = doc.add_paragraph(style=style)
    run = para.add_run(plain(text))
    run.bold = bold or None
    if note:
        run.font.size = Pt(size or 9)
        run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    elif size:
        run.font.size = Pt(size)
    return para


def _table(doc, block: Table, avail: float) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Inches, Pt

    frame = block.frame
    if block.title:
        caption = _paragraph(doc, block.title, style="Caption", bold=True)
        caption.paragraph_format.keep_with_next = True
        caption.paragraph_format.space_after = Pt(3)
    pt = table_font(frame, avail)
    widths, _, _ = column_widths(frame, avail, pt)
    right = numeric_columns(frame)
    n_cols = max(frame.shape[1], 1)
    table = doc.add_table(rows=len(frame) + 1, cols=n_cols)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    _rules(table)
    header = table.rows[0]
    _repeat_header(header)
    style_id = doc.styles[_CELL_STYLE].style_id
    for col, width in zip(table.columns, widths, strict=False):
        col.width = Inches(width)
    texts = [list(frame.columns), *frame.to_numpy(dtype=object).tolist()]
    for i, (row, values) in enumerate(zip(table.rows, texts, strict=True)):
        for j, (cell, value) in enumerate(zip(row.cells, values, strict=False)):
            cell.width = Inches(widths[j])
            text = str(value)
            para = cell.paragraphs[0]
            para._p.style = style_id  # by id: python-docx's lookup by style is slow
            if j == 0 and i > 0 and text.startswith(" "):  # a level row of its variable
                text = text.lstrip(" ")
                para.paragraph_format.left_indent = Pt(10)
            para.alignment = (WD_ALIGN_PARAGRAPH.RIGHT if j and right[j] else
                              WD_ALIGN_PARAGRAPH.LEFT)
            run = para.add_run(plain(text))
            if pt != _TABLE_PT:
                run.font.size = Pt(pt)
            if i == 0:
                run.bold = True
    for k, note in enumerate(block.notes):
        para = _paragraph(doc, note, note=True, size=_NOTE_PT)
        para.paragraph_format.space_after = Pt(0 if k < len(block.notes) - 1 else 8)
        para.paragraph_format.space_before = Pt(3 if k == 0 else 0)
    if not block.notes:
        doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _rules(table) -> None:
    """Three horizontal rules as journals print tables: above and below the table, and
    under the header row; no vertical lines."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def border(parent, side: str, size: int) -> None:
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single" if size else "nil")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        parent.append(el)

    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side, size in (("top", 12), ("left", 0), ("bottom", 12), ("right", 0),
                       ("insideH", 0), ("insideV", 0)):
        border(borders, side, size)
    tbl_pr.append(borders)
    for cell in table.rows[0].cells:
        tc_pr = cell._tc.get_or_add_tcPr()
        cell_borders = OxmlElement("w:tcBorders")
        border(cell_borders, "bottom", 6)
        tc_pr.append(cell_borders)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _figure(doc, block: Figure, avail: float, height: float) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Inches, Pt

    # the journal size, shrunk to the text block (room left under it for the caption)
    scale = min(1.0, avail / block.width_in, (height - 1.2) / block.height_in)
    para = doc.add_paragraph()
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.paragraph_format.keep_with_next = True
    para.add_run().add_picture(io.BytesIO(block.png), width=Inches(block.width_in * scale))
    caption = _paragraph(doc, block.caption, style="Caption")
    caption.paragraph_format.space_after = Pt(10)
