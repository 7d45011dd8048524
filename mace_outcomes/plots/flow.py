"""The patient-flow diagram of a cohort study (STROBE item 13c; CONSORT-style boxes).

Screened -> excluded, with each reason and its count -> included -> analysed per arm
(-> matched per arm, when a matched analysis is reported), drawn from the cohort's
attrition table, so the figure and the table cannot disagree. Boxes are sized from the
measured width of their text in the package's font: text is wrapped to fit the journal
column and every box grows to hold its lines, so nothing is clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .._frames import arm_order
from ..errors import InputError, Problem
from .style import JournalFigure, figure_width, font_size, sans_font, text_width

_PAD = 0.05      # inches between a box's edge and its text
_GAP = 0.22      # inches between rows of boxes (room for an arrow)
_MARGIN = 0.03   # inches around the drawing
_LINE = 1.25     # line height in units of the font size


def _count(n: int, lesions: int | None, unit: str = "patients") -> str:
    # no-break spaces keep "n = 6" on one line when the text is wrapped
    text = f"n\u00a0=\u00a0{n:,}\u00a0{unit}"
    return text if lesions is None else f"{text}, {lesions:,}\u00a0lesions"


def _fit(text: str, width_in: float, fontsize: float) -> str:
    """``text`` wrapped at plain spaces into ``width_in``; a longer word is broken inside."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        start = len(lines)
        for word in para.split(" "):
            if len(lines) > start and text_width(f"{lines[-1]} {word}", fontsize) <= width_in:
                lines[-1] = f"{lines[-1]} {word}"
                continue
            while text_width(word, fontsize) > width_in and len(word) > 1:
                k = max(1, sum(text_width(word[:i], fontsize) <= width_in
                               for i in range(1, len(word))))
                lines.append(word[:k])
                word = word[k:]
            lines.append(word)
    return "\n".join(lines)


def _height(text: str, fontsize: float) -> float:
    return (text.count("\n") + 1) * _LINE * fontsize / 72 + 2 * _PAD


def _arm_counts(source, arms) -> tuple[pd.DataFrame, dict, dict | None]:
    """(attrition, {arm: patients}, {arm: lesions} or None) from a Cohort or a table."""
    if isinstance(source, pd.DataFrame):
        attrition = source
        if not isinstance(arms, Mapping):
            raise InputError(Problem("an attrition table does not say how many patients "
                                     "each arm has", column="arms", source="attrition",
                                     fix="pass arms={arm: patients}, or pass the Cohort"))
        return attrition, {k: int(v) for k, v in arms.items()}, None
    attrition = source.attrition
    patients = source.patients
    order = list(arms) if arms is not None else arm_order(
        list(pd.unique(patients["arm"].dropna())))
    counts = patients["arm"].value_counts()
    by_arm = {a: int(counts.get(a, 0)) for a in order}
    lesions = None
    if source.lesions is not None and len(source.lesions):
        arm_of = patients.set_index("patient_id")["arm"]
        les = source.lesions["patient_id"].map(arm_of).value_counts()
        lesions = {a: int(les.get(a, 0)) for a in order}
    return attrition, by_arm, lesions


def flow_texts(source, arms: Sequence | Mapping | None = None,
               matched: Mapping | None = None, unmatched: Mapping | None = None,
               matched_unit: str = "patients") -> dict:
    """The unwrapped text of every box: ``screened``, ``excluded`` (or None),
    ``included``, ``arms`` {arm: text} and ``matched`` {arm: text} (or None); with
    ``unmatched`` the matched box counts both, in ``matched_unit``."""
    attrition, by_arm, les_arm = _arm_counts(source, arms)
    stage = attrition["stage"]
    top = attrition[stage == "input"].iloc[0]
    kept = attrition[stage == "analysed"].iloc[0]
    steps = attrition[stage == "excluded"]
    with_lesions = int(top.get("lesions", 0) or 0) > 0

    def les(row):
        return int(row["lesions"]) if with_lesions else None

    excluded = None
    if len(steps):
        n_pat, n_les = int(steps["patients"].sum()), int(steps["lesions"].sum())
        lines = [f"Excluded ({_count(n_pat, n_les if with_lesions else None)})"]
        lines += [f"\u2022 {r['reason']} ({_count(int(r['patients']), les(r))})"
                  for _, r in steps.iterrows()]
        excluded = "\n".join(lines)
    arm_text = {a: f"{a}\nAnalysed ({_count(n, les_arm[a] if les_arm else None)})"
                for a, n in by_arm.items()}
    return {"screened": f"Assessed for eligibility ({_count(int(top['patients']), les(top))})",
            "excluded": excluded,
            "included": f"Included ({_count(int(kept['patients']), les(kept))})",
            "arms": arm_text,
            "matched": None if matched is None else
            {a: _matched_text(matched[a], None if unmatched is None else unmatched.get(a),
                              matched_unit) for a in by_arm if a in matched}}


def _matched_text(n: int, left: int | None, unit: str) -> str:
    if left is None:  # the matched count alone, as before
        return f"Matched (n = {int(n):,})"
    return f"Matched ({_count(int(n), None, unit)})\nNot matched ({_count(int(left), None, unit)})"


def plot_flow(cohort, arms: Sequence | Mapping | None = None, *,
              matched: Mapping | None = None, unmatched: Mapping | None = None,
              matched_unit: str = "patients", width: str | float = "single") -> Figure:
    """Patient-flow diagram (STROBE 13c): screened, excluded with reasons, analysed per arm.

    Parameters
    ----------
    cohort : a :class:`~mace_outcomes.Cohort` (its ``attrition`` and the arms of its
        ``patients``), or an attrition table (``stage``, ``reason``, ``patients``,
        ``lesions``) with ``arms`` a mapping ``{arm: patients}``.
    arms : the arms in drawing order (default: the package's arm order, treated first),
        or, with an attrition table, ``{arm: patients analysed}``.
    matched : ``{arm: patients}`` kept by matching: adds a "Matched" box under each arm.
    unmatched : ``{arm: patients}`` left out by matching (e.g. ``Matched.counts``): the
        matched box then says how many were matched and how many not.
    matched_unit : what the matched counts count (``"patients"``, or ``"lesions"`` for a
        lesion-level match); used with ``unmatched``.
    width : ``"single"``, ``"double"`` or inches.

    Returns
    -------
    matplotlib.figure.Figure (vector in PDF / SVG through :func:`save_figure`).

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> fig = mo.plot_flow(mo.load_example())          # doctest: +SKIP
    """
    texts = flow_texts(cohort, arms, matched, unmatched, matched_unit)
    w = figure_width(width)
    fs = font_size(width)
    inner = w - 2 * _MARGIN
    main_w = 0.52 * inner if texts["excluded"] else inner
    side_w = inner - main_w - 0.12
    cx = _MARGIN + main_w / 2
    rows: list[list[tuple[float, float, str, str]]] = []  # (x0, width, text, align)

    def box(x0, bw, text, align="center"):
        # 6% spare: widths measured at 72 dpi round differently when drawn at others
        return (x0, bw, _fit(text, 0.94 * (bw - 2 * _PAD), fs), align)

    rows.append([box(_MARGIN, main_w, texts["screened"])])
    if texts["excluded"]:
        rows.append([box(_MARGIN + main_w + 0.12, side_w, texts["excluded"], "left")])
    rows.append([box(_MARGIN, main_w, texts["included"])])
    n = max(len(texts["arms"]), 1)
    arm_w = (inner - 0.08 * (n - 1)) / n
    arm_x = [_MARGIN + i * (arm_w + 0.08) for i in range(n)]
    rows.append([box(x, arm_w, t) for x, t in zip(arm_x, texts["arms"].values(), strict=False)])
    if texts["matched"]:
        rows.append([box(x, arm_w, texts["matched"][a]) for x, a in
                     zip(arm_x, texts["arms"], strict=False) if a in texts["matched"]])
    heights = [max(_height(b[2], fs) for b in row) for row in rows]
    h = 2 * _MARGIN + sum(heights) + _GAP * (len(rows) - 1)
    fig = JournalFigure(figsize=(w, h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_axis_off()
    tops, y = [], h - _MARGIN
    for row, rh in zip(rows, heights, strict=True):
        tops.append((y, y - rh))
        for x0, bw, text, align in row:
            ax.add_patch(FancyBboxPatch((x0, y - rh), bw, rh, boxstyle="square,pad=0",
                                        facecolor="white", edgecolor="black", linewidth=0.6))
            tx = x0 + _PAD if align == "left" else x0 + bw / 2
            ax.text(tx, y - rh / 2, text, ha=align, va="center", fontsize=fs,
                    family=sans_font(), linespacing=_LINE, multialignment=align)
        y -= rh + _GAP
    _arrows(ax, rows, tops, cx, bool(texts["excluded"]))
    return fig


def _arrow(ax, start, end) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=6,
                                 linewidth=0.6, color="black", shrinkA=0, shrinkB=0))


def _arrows(ax, rows, tops, cx, has_excluded: bool) -> None:
    """Screened -> included (with a branch to the excluded box) -> each arm (-> matched)."""
    screened_bottom = tops[0][1]
    inc = 2 if has_excluded else 1
    _arrow(ax, (cx, screened_bottom), (cx, tops[inc][0]))
    if has_excluded:
        mid = (tops[1][0] + tops[1][1]) / 2
        _arrow(ax, (cx, mid), (rows[1][0][0], mid))
    split = tops[inc][1] - _GAP / 2
    centres = [x0 + bw / 2 for x0, bw, _, _ in rows[inc + 1]]
    ax.plot([cx, cx], [tops[inc][1], split], color="black", linewidth=0.6)
    ax.plot([min(centres + [cx]), max(centres + [cx])], [split, split], color="black",
            linewidth=0.6)
    for x in centres:
        _arrow(ax, (x, split), (x, tops[inc + 1][0]))
    if len(rows) > inc + 2:
        for x0, bw, _, _ in rows[inc + 2]:
            _arrow(ax, (x0 + bw / 2, tops[inc + 1][1]), (x0 + bw / 2, tops[inc + 2][0]))
