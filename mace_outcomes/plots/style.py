"""Journal figure style: sizes, fonts, the colour-blind-safe palette and export.

Every figure of the package is built with matplotlib's object API
(:class:`matplotlib.figure.Figure`, never ``pyplot``), so drawing a figure leaves
no global state behind: nothing to close, nothing shown by accident.

Sizes follow the column widths most cardiology journals ask for (JACC, EuroIntervention,
Circulation, EHJ): a single column is about 3.5 in (89 mm), a double (full-page) column
about 7.2 in (183 mm). Fonts are sans-serif (Arial or a metric-compatible substitute),
7-8 pt at final size; exported PDFs embed them as TrueType (``pdf.fonttype = 42``) so
that text stays editable and the journal's checks pass.

The default palette is Okabe & Ito (2008), "Color Universal Design", distinguishable by
readers with any common colour-vision deficiency and in greyscale print by line style.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from .._format import format_p, format_ratio  # noqa: F401 (re-exported)
from .._frames import arm_order
from ..errors import InputError, Problem

# Okabe & Ito (2008): black first is dropped so two-arm figures get the two most
# distinct hues (orange / sky blue); black is kept last for an overall curve.
OKABE_ITO: tuple[str, ...] = (
    "#E69F00",  # orange
    "#0072B2",  # blue
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow (weak on white: used last)
    "#000000",  # black
)

#: figure widths in inches by journal column.
WIDTHS: dict[str, float] = {"single": 3.5, "double": 7.2}

#: base font size (pt) by column width: small enough to fit, large enough to read in print.
FONT_SIZES: dict[str, float] = {"single": 7.0, "double": 8.0}

_SANS = ["Arial", "Helvetica", "Liberation Sans", "Nimbus Sans", "Arimo", "DejaVu Sans"]

#: formats :func:`save_figure` writes, by file extension.
FORMATS = ("pdf", "svg", "png", "tif", "tiff", "eps")


def figure_width(width: str | float) -> float:
    """Width in inches for ``"single"`` / ``"double"`` or a number of inches."""
    if isinstance(width, str):
        if width not in WIDTHS:
            raise InputError(Problem(f"unknown width {width!r}", column="width",
                                     fix="use 'single', 'double' or a width in inches"))
        return WIDTHS[width]
    value = float(width)
    if not 1.0 <= value <= 20.0:
        raise InputError(Problem(f"width {value} in is not a figure width", column="width",
                                 fix="give inches between 1 and 20"))
    return value


def font_size(width: str | float) -> float:
    """The base font size matching a column width."""
    if isinstance(width, str):
        return FONT_SIZES.get(width, 8.0)
    return 7.0 if float(width) < 5.0 else 8.0


@functools.lru_cache(maxsize=1)
def sans_font() -> str:
    """The first installed of Arial, Helvetica and their metric-compatible substitutes.

    Text artists store this family name when they are made, so a figure renders with
    the same font whatever rcParams hold when it is later saved.
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _SANS if name in installed), "DejaVu Sans")


def rc_params(fontsize: float = 8.0) -> dict:
    """The matplotlib settings every figure of the package is drawn with."""
    return {
        "font.family": [sans_font()],
        "font.sans-serif": _SANS,
        "font.size": fontsize,
        "axes.titlesize": fontsize + 1,
        "axes.labelsize": fontsize,
        "xtick.labelsize": fontsize,
        "ytick.labelsize": fontsize,
        "legend.fontsize": fontsize,
        "legend.title_fontsize": fontsize,
        "axes.linewidth": 0.6,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.major.size": 3.0,
        "ytick.major.size": 3.0,
        "lines.linewidth": 1.2,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": True,
        "figure.dpi": 100,
        "savefig.facecolor": "white",
        "pdf.fonttype": 42,  # TrueType embedded: editable text, passes journal checks
        "ps.fonttype": 42,
        "svg.fonttype": "path",  # glyphs as outlines: the SVG looks the same everywhere
        "svg.hashsalt": "mace_outcomes",  # reproducible SVG ids
    }


@contextlib.contextmanager
def figure_style(fontsize: float = 8.0) -> Iterator[dict]:
    """Context in which figures are built (rcParams are read when artists are made)."""
    params = rc_params(fontsize)
    with matplotlib.rc_context(params):
        yield params


def palette_for(groups: Sequence, palette: Sequence[str] | Mapping | None = None) -> dict:
    """Map each group label to a colour.

    ``palette`` may be None (Okabe-Ito in group order), a sequence of colours (used in
    group order) or a mapping ``{group: colour}`` (groups it omits get Okabe-Ito colours
    not already used).
    """
    groups = list(groups)
    if palette is None:
        palette = OKABE_ITO
    if isinstance(palette, Mapping):
        given = {g: palette[g] for g in groups if g in palette}
        spare = [c for c in OKABE_ITO if c not in given.values()]
        rest = [g for g in groups if g not in given]
        given.update(zip(rest, spare, strict=False))
        missing = [g for g in groups if g not in given]
        if missing:
            raise InputError(Problem(f"no colour for groups {missing}", column="palette"))
        return given
    colours = list(palette)
    if len(colours) < len(groups):
        raise InputError(Problem(f"{len(groups)} groups but {len(colours)} colours",
                                 column="palette", fix="give one colour per group"))
    return dict(zip(groups, colours, strict=False))


def arm_colours(arms: Sequence, treated=None, palette: Sequence[str] | Mapping | None = None
                ) -> dict:
    """One colour per arm, for every figure of a study: ``{arm: colour}``.

    Colours go to the arms in the package's arm order (treated first, the reference
    last; ``mace_outcomes._frames.arm_order``), so the treated arm is orange and the
    reference blue in the Kaplan-Meier, cumulative-incidence, overlap and forest figures
    alike. Pass the mapping as ``palette=`` to each figure.

    >>> arm_colours(["IVUS", "OCT"])
    {'OCT': '#E69F00', 'IVUS': '#0072B2'}
    """
    return palette_for(arm_order(list(arms), treated=treated), palette)


@functools.lru_cache(maxsize=4096)
def text_width(text: str, fontsize: float) -> float:
    """Width in inches of one line of ``text`` in the package's font."""
    from matplotlib.font_manager import FontProperties

    renderer = _renderer()
    prop = FontProperties(family=sans_font(), size=fontsize)
    return renderer.get_text_width_height_descent(text, prop, ismath=False)[0] / 72 \
        if text else 0.0


@functools.lru_cache(maxsize=1)
def _renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, 72)  # 72 dpi: widths come out in points


def wrap_text(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken at spaces into lines no wider than ``width_in`` where possible."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and text_width(f"{lines[-1]} {word}", fontsize) <= width_in:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "\n".join(lines) or str(text)


def legend_fit(labels: Sequence[str], width_in: float, fontsize: float,
               handle_em: float = 4.2) -> tuple[list[str], int]:
    """Legend labels and a column count so that the legend fits ``width_in``.

    As many columns as fit side by side; when even one column is too wide, long labels
    are broken over lines. A legend wider than its figure makes the layout engine squeeze
    the plot to a sliver (or give up), so it is sized here, not left to chance.
    """
    labels = [str(x) for x in labels]
    em = fontsize / 72
    widest = max((text_width(line, fontsize) for x in labels for line in x.split("\n")),
                 default=0.0)
    for ncols in range(len(labels), 0, -1):
        if ncols * (widest + handle_em * em) <= width_in:
            return labels, ncols
    return [wrap_text(x, width_in - handle_em * em, fontsize) for x in labels], 1


def text_lines(labels: Sequence[str]) -> int:
    """The most lines any label spans."""
    return max((str(x).count("\n") + 1 for x in labels), default=1)


def legend_rows(labels: Sequence[str], ncols: int) -> int:
    """Text lines a legend of ``labels`` in ``ncols`` columns takes."""
    rows = math.ceil(len(labels) / max(ncols, 1))
    return rows * text_lines(labels)


class JournalFigure(Figure):
    """A plain matplotlib Figure that also shows itself in notebooks.

    Built without pyplot, a Figure has no notebook display of its own; this one renders
    a PNG (at 150 dpi, the journal size kept) when it is the value of a cell.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with matplotlib.rc_context(rc_params()):
            self.savefig(buf, format="png", dpi=150, facecolor="white")
        return buf.getvalue()


def new_figure(width: str | float, height: float) -> Figure:
    """A constrained-layout Figure that belongs to no pyplot state."""
    fig = JournalFigure(figsize=(figure_width(width), height), layout="constrained")
    # small outer pad: journals crop to the artwork; constrained layout keeps labels inside.
    fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72, wspace=0.02, hspace=0.02)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 600,
                formats: Sequence[str] | None = None) -> list[Path]:
    """Write a figure for a journal: PDF, SVG, PNG, TIFF (or EPS) chosen by extension.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Any figure (those of this package are sized for a journal column already).
    path : str or path-like
        Output file; its extension picks the format (``.pdf``, ``.svg``, ``.png``,
        ``.tif``/``.tiff``, ``.eps``). With ``formats``, the extension is replaced by each.
    dpi : int, default 600
        Resolution of the raster formats (PNG, TIFF), stored in the file. Journals ask
        for 300-600 (1200 for pure line art); 100-200 suits a web page. 72-2400 allowed.
        The figure's size in inches is kept exactly (no tight cropping), so the pixel
        width is ``width_in * dpi``.
    formats : sequence of str, optional
        Several formats at once, e.g. ``("pdf", "png", "tiff")``.

    Returns
    -------
    list of Path
        The files written.

    Notes
    -----
    PDF and EPS embed fonts as TrueType (``fonttype 42``); SVG text is written as
    outlines; TIFF is RGB with LZW compression (journals reject alpha channels); PNG
    keeps a white background.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(3.5, 2.5))
    >>> _ = fig.add_subplot().plot([0, 1], [1, 0])
    >>> import tempfile, os
    >>> out = save_figure(fig, os.path.join(tempfile.mkdtemp(), "f.png"), dpi=300)
    >>> out[0].suffix
    '.png'
    """
    path = Path(path)
    if formats is None:
        targets = [path]
    else:
        targets = [path.with_suffix("." + f.lower().lstrip(".")) for f in formats]
    dpi = int(dpi)
    if not 72 <= dpi <= 2400:
        raise InputError(Problem(f"dpi {dpi} is outside 72-2400", column="dpi",
                                 fix="journals ask for 300 (photos) to 600-1200 (line art); "
                                     "screens need 100-200"))
    written = []
    for target in targets:
        fmt = target.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise InputError(Problem(f"cannot write '{target.name}': unknown format '{fmt}'",
                                     column="path", fix=f"use one of {', '.join(FORMATS)}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with matplotlib.rc_context(rc_params()):
            if fmt in ("tif", "tiff"):
                _save_tiff(fig, target, dpi)
            else:
                metadata = {"Creator": "mace_outcomes"} if fmt in ("pdf", "svg") else None
                fig.savefig(target, format=fmt, dpi=dpi, facecolor="white",
                            metadata=metadata)
        written.append(target)
    return written


def _save_tiff(fig: Figure, target: Path, dpi: int) -> None:
    """RGB, LZW-compressed TIFF with the resolution tag set."""
    from PIL import Image  # ships with matplotlib

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    buf.seek(0)
    with Image.open(buf) as img:
        rgb = img.convert("RGB")
        rgb.save(target, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
