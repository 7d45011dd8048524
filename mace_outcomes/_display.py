"""Readable text and HTML views shared by all result objects."""

from __future__ import annotations

import pandas as pd


def frame_text(title: str, frame: pd.DataFrame, footer: str = "", digits: int = 4) -> str:
    """Render a titled table the way R's print methods do: title, table, notes."""
    with pd.option_context("display.width", 120, "display.max_columns", 30,
                           "display.max_rows", 40):
        body = frame.to_string(float_format=lambda v: f"{v:.{digits}g}")
    return "\n".join(x for x in (title, body, footer) if x)


def frame_html(title: str, frame: pd.DataFrame, footer: str = "", digits: int = 4) -> str:
    """The same as :func:`frame_text` for notebooks."""
    table = frame.to_html(float_format=lambda v: f"{v:.{digits}g}", border=0)
    note = f"<p><small>{footer}</small></p>" if footer else ""
    return f"<div><strong>{title}</strong>{table}{note}</div>"
