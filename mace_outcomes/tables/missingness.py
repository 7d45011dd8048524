"""Missing values, counted before anything is estimated: ``mo.missingness``.

STROBE item 14b asks for the number of participants with missing data for each variable
of interest. ``missingness`` gives it overall and per arm; Table 1 prints the same counts
as a "Missing" line under each variable (as R's ``tableone`` does with ``includeNA``),
and every estimator stops on a missing value unless ``missing="complete_case"`` says
what to do (see :func:`mace_outcomes._frames.complete_cases`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_text
from .._frames import arm_order
from ..errors import InputError, Problem
from .columns import default_variables, left_out_note


@dataclass(frozen=True, eq=False)
class Missingness(ResultMixin):
    """Missing values per variable (see :func:`missingness`).

    Attributes
    ----------
    table : one row per variable: ``variable``, ``n`` (rows), ``n_missing``,
        ``pct_missing`` (% of all rows), then per arm ``n_missing_<arm>`` and
        ``pct_missing_<arm>`` (% of that arm's rows).
    group : the arm column (None: overall only); ``arms`` its labels in column order.
    n : rows overall and per arm.
    """

    table: pd.DataFrame
    group: str | None
    arms: list
    n: dict
    notes: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether no variable has a missing value."""
        return bool((self.table["n_missing"] == 0).all())

    def __repr__(self) -> str:
        title = "Missing values per variable" + (f" by {self.group}" if self.group else "")
        return frame_text(title, self.table.set_index("variable"), "\n".join(self.notes))


def missingness(df: pd.DataFrame, variables: Sequence[str] | None = None,
                group: str | None = "arm", *, treated=None) -> Missingness:
    """Number and percentage of missing values per variable, overall and per arm.

    Parameters
    ----------
    df : DataFrame, one row per patient (or lesion).
    variables : columns to count, in order. ``None``: the characteristics Table 1
        describes by default (not identifiers, dates, outcome columns or free text; see
        :func:`mace_outcomes.tables.columns.describable_columns`).
    group : the arm column (``None``: overall only). Rows without an arm count in the
        overall columns only.
    treated : with two arms, the treated arm (first column; the package's arm order).

    Returns
    -------
    Missingness with ``.table`` (variable, n, n_missing, pct_missing, n_missing_<arm>,
    pct_missing_<arm>), ``notes``, ``to_markdown()``.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"arm": ["A", "A", "B", "B"], "egfr": [60, None, 75, None]})
    >>> mo.missingness(df).table[["variable", "n_missing", "pct_missing"]].values.tolist()
    [['egfr', 2, 50.0]]
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}"))
    if group is not None and group not in df.columns:
        raise InputError(Problem(f"group column not found (columns are {list(df.columns)})",
                                 group, source="df"))
    notes: list[str] = []
    if variables is None:
        variables, left_out = default_variables(df, group)  # Table 1's own choice

        notes += [left_out_note(left_out)] if left_out else []
    variables = list(variables)
    unknown = [v for v in variables if v not in df.columns]
    if unknown:
        raise InputError([Problem("variable not found in the table", v, source="df")
                          for v in unknown])
    na = df[variables].isna().to_numpy()
    table = pd.DataFrame({"variable": variables, "n": len(df), "n_missing": na.sum(axis=0)})
    table["pct_missing"] = _percent(table["n_missing"].to_numpy(), len(df))
    arms: list = []
    n = {"overall": len(df)}
    if group is not None:
        labels = df[group].dropna()
        arms = list(pd.unique(labels))
        if len(arms) == 2 or treated is not None:
            arms = arm_order(arms, treated=treated, source="df", column=group)
        for a in arms:
            m = (df[group] == a).to_numpy()
            n[a] = int(m.sum())
            table[f"n_missing_{a}"] = na[m].sum(axis=0)
            table[f"pct_missing_{a}"] = _percent(table[f"n_missing_{a}"].to_numpy(), n[a])
    table["n_missing"] = table["n_missing"].astype(np.int64)
    notes.append("percentages of the rows of each column (all rows, or the arm's)")
    if group is not None and df[group].isna().any():
        notes.append(f"{int(df[group].isna().sum())} row(s) without {group} count in the "
                     "overall columns only")
    return Missingness(table=table, group=group, arms=arms, n=n, notes=notes)


def _percent(count: np.ndarray, n: int) -> np.ndarray:
    return 100.0 * count / n if n else np.full(len(count), np.nan)


def missing_row(variable: str, values: pd.Series, masks: dict, overall: bool) -> dict | None:
    """Table 1's "Missing" line under a variable: the count per arm (unweighted), or
    None when nothing is missing. The counts stay out of every percentage's denominator
    (percentages are among the non-missing, as R's ``tableone``)."""
    na = values.isna().to_numpy()
    if not na.any():
        return None
    row = {"variable": variable, "level": "Missing", "statistic": "n", "p": float("nan"),
           "test": "", "smd": float("nan"), "missing": int(na.sum()), "row_type": "missing"}
    row.update({a: str(int((na & m).sum())) for a, m in masks.items()})
    if overall:
        row["overall"] = str(int(na.sum()))
    return row
