"""The number-at-risk table under a survival figure (survminer's conventions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ._curves import label_for

ROW_TITLES = {"n_risk": "Number at risk", "cum_events": "Cumulative events",
              "cum_censored": "Cumulative censored", "ess": "Effective sample size"}
#: the rows that exist as weighted and as unweighted (actual) counts.
COUNT_ROWS = ("n_risk", "cum_events", "cum_censored")


def at_risk_table(table: pd.DataFrame, times_days: Sequence[float], groups: Sequence,
                  counts: str = "weighted") -> pd.DataFrame:
    """Numbers at risk, cumulative events and censorings at given times, per group.

    ``table`` is a curve table with one row per distinct time (censoring times
    included): group, time, n_risk, n_event (and n_censor; weighted curves also
    n_risk_unweighted, n_event_unweighted). At a time ``t``: ``n_risk`` counts the
    subjects still followed (time >= t), ``cum_events`` the events at times <= t and
    ``cum_censored`` the censorings at times <= t -- survminer's convention.

    ``counts="unweighted"`` reads the unweighted columns of a weighted curve; the
    censorings are then the drop in the unweighted risk set not explained by events.
    A table with ``n_risk_ess`` (Kish's effective size of each risk set, put there by
    whoever knows the weights) adds ``ess``, read at ``t`` as ``n_risk`` is.
    """
    if counts not in ("weighted", "unweighted"):
        raise InputError(Problem(f"counts must be 'weighted' or 'unweighted', not {counts!r}",
                                 column="weighted_counts"))
    t = np.asarray(times_days, dtype=float)
    raw = counts == "unweighted" and "n_risk_unweighted" in table.columns
    r_col = "n_risk_unweighted" if raw else "n_risk"
    e_col = "n_event_unweighted" if raw else "n_event"
    frames = []
    for g in groups:
        c = table[table["group"] == g].sort_values("time", kind="stable")
        grid = c["time"].to_numpy(dtype=float)
        n_risk = c[r_col].to_numpy(dtype=float)
        n_event = c[e_col].to_numpy(dtype=float)
        if "n_censor" in c.columns and not raw:
            n_censor = c["n_censor"].to_numpy(dtype=float)
        elif "n_event_any" in c.columns:
            # competing-risk table: competing events also leave the risk set, and their
            # unweighted count is not kept -- the unweighted censorings are unknown
            n_censor = np.full(n_risk.size, np.nan)
        else:
            # whoever leaves the risk set without an event was censored
            n_censor = n_risk - n_event - np.append(n_risk[1:], 0.0)
        first_at_or_after = np.searchsorted(grid, t, side="left")
        upto = np.searchsorted(grid, t, side="right")
        frame = pd.DataFrame({
            "group": [g] * t.size,
            "time_days": t,
            "n_risk": np.append(n_risk, 0.0)[first_at_or_after],
            "cum_events": np.r_[0.0, np.cumsum(n_event)][upto],
            "cum_censored": np.r_[0.0, np.cumsum(n_censor)][upto],
        })
        if "n_risk_ess" in c.columns:
            frame["ess"] = np.append(c["n_risk_ess"].to_numpy(dtype=float), 0.0)[
                first_at_or_after]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["counts"] = "unweighted" if (raw or "n_risk_unweighted" not in table.columns) \
        else "weighted"
    return out


def check_rows(rows: Sequence[str]) -> list[str]:
    rows = [rows] if isinstance(rows, str) else list(rows)
    bad = [r for r in rows if r not in ROW_TITLES]
    if bad:
        raise InputError(Problem(f"unknown risk-table rows {bad}", column="risk_table_rows",
                                 fix=f"choose from {list(ROW_TITLES)}"))
    return rows


def check_counts(weighted_counts: str) -> None:
    if weighted_counts not in ("weighted", "unweighted", "both"):
        raise InputError(Problem("weighted_counts must be 'weighted', 'unweighted' or 'both'",
                                 column="weighted_counts"))


def risk_tables(table, xb, unit_days, unit, groups, labels, weighted: bool,
                 weighted_counts: str, rows: list[str]):
    """The risk-table frame, the rows to draw and their titles (saying which counts)."""
    if "ess" in rows and "n_risk_ess" not in table.columns:
        raise InputError(Problem(
            "the effective-sample-size row needs the curves' n_risk_ess column",
            column="risk_table_rows",
            fix="add n_risk_ess ((sum w)^2 / sum w^2 of each risk set) to the weighted "
                "curves' table, or drop 'ess' from risk_table_rows"))
    if not weighted:
        return (_risk_frame(table, xb, unit_days, unit, groups, labels, "weighted"), rows,
                dict(ROW_TITLES))
    if weighted_counts != "both":
        risk = _risk_frame(table, xb, unit_days, unit, groups, labels, weighted_counts)
        titles = {k: f"{v} ({weighted_counts})" for k, v in ROW_TITLES.items()}
        return risk, rows, {**titles, "ess": ROW_TITLES["ess"]}
    risk = _risk_frame(table, xb, unit_days, unit, groups, labels, "weighted")
    raw = _risk_frame(table, xb, unit_days, unit, groups, labels, "unweighted")
    for col in COUNT_ROWS:
        risk[f"{col}_unweighted"] = raw[col].to_numpy()
    titles = {k: f"{v} (weighted)" for k, v in ROW_TITLES.items()}
    titles.update({f"{k}_unweighted": f"{v} (unweighted)" for k, v in ROW_TITLES.items()})
    titles["ess"] = ROW_TITLES["ess"]  # of the weighted risk set: one row, no twin
    drawn = [r for row in rows for r in ((row,) if row == "ess" else
                                         (row, f"{row}_unweighted"))]
    return risk, drawn, titles


def _risk_frame(table, xb, unit_days, unit, groups, labels, counts) -> pd.DataFrame:
    # round the day equivalents so that 12 months * 365/12 is exactly day 365
    times_days = np.round(xb * unit_days, 9)
    risk = at_risk_table(table, times_days, groups, counts)
    risk.insert(1, "label", [label_for(g, labels) for g in risk["group"]])
    risk.insert(2, "time", np.tile(xb, len(groups)))
    risk.attrs["unit"] = unit
    return risk


#: the rows small-cell suppression applies to: at risk, cumulative events and censorings,
#: weighted and unweighted (not the effective sample size, which counts no one).
SUPPRESSED_ROWS = (*COUNT_ROWS, *(f"{r}_unweighted" for r in COUNT_ROWS))


def suppress_risk_table(risk: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """``risk`` with each count drawn as 1 to ``min_cell - 1`` (after rounding, as the
    figure draws it) replaced by ``"<min_cell"``; the other cells keep their values."""
    out = risk.copy()
    for col in [c for c in risk.columns if c in SUPPRESSED_ROWS]:
        # numbers; a cell already suppressed ("<5") is text and stays as it is
        v = pd.to_numeric(risk[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            shown = np.round(v)
            small = np.isfinite(v) & (shown >= 1) & (shown < min_cell)
        if small.any():
            cells = risk[col].astype(object).to_numpy(copy=True)
            cells[small] = f"<{min_cell}"
            out[col] = cells
    return out


def suppress_risk_text(axes, min_cell: int) -> int:
    """Redraw the small counts of the risk-table axes as ``"<min_cell"``.

    Each drawn number is a Text artist with gid ``"risk:<row>:<group>"`` whose text is
    the rounded count; those of the count rows from 1 to ``min_cell - 1`` are rewritten.
    Returns how many were."""
    done = 0
    for ax in axes:
        for text in ax.texts:
            gid = text.get_gid() or ""
            parts = gid.split(":", 2)
            if len(parts) < 3 or parts[0] != "risk" or parts[1] not in SUPPRESSED_ROWS:
                continue
            try:
                value = float(text.get_text())
            except ValueError:  # a dash (not computed) or already suppressed
                continue
            if 1 <= value < min_cell:
                text.set_text(f"<{min_cell}")
                done += 1
    return done


def suppress_drawn(out, min_cell: int, panel: bool):
    """Apply :func:`suppress_risk_text` and :func:`suppress_risk_table` to what the
    drawing returned: a figure, ``(figure, table)``, or a panel's ``(parts, table)``."""
    if panel:
        parts, risk = out
        suppress_risk_text(parts["tables"], min_cell)
        return parts, (None if risk is None else suppress_risk_table(risk, min_cell))
    fig = out[0] if isinstance(out, tuple) else out
    suppress_risk_text(getattr(fig, "risk_axes", []), min_cell)
    if fig.risk_table is not None:
        fig.risk_table = suppress_risk_table(fig.risk_table, min_cell)
    return (fig, fig.risk_table) if isinstance(out, tuple) else fig
