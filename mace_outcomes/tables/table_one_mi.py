"""Table 1 of multiply imputed data: the completed data sets described together.

R's tableone has no multiple-imputation mode; this follows the usual reporting of
imputed baseline characteristics: every summary (mean, SD, median, quartiles, count,
percentage) is averaged over the m completed data sets (Rubin's point estimate), the SMD
too, and a row's p-value is the median of its m p-values (the median-P rule, Eekhout,
van de Wiel & Heymans, BMC Med Res Methodol 2017;17:129). The kind of summary
(mean ± SD or median (Q1, Q3)) is chosen on the first completed data set and kept for
the others, so the rows line up.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..weighting.impute import Imputations, per_imputation

_SUMMARIES = ["n", "count", "percent", "mean", "sd", "median", "q1", "q3"]


def _decimals(cell: str) -> int:
    """Decimals of the first number of a formatted cell (``62.4 ± 9.1`` -> 1)."""
    first = re.match(r"-?\d+(?:\.(\d+))?", cell)
    return len(first.group(1) or "") if first else 1


def _continuous_cell(statistic: str, avg: pd.Series, d: int, fmt) -> str:
    if statistic.startswith("median"):
        return f"{fmt(avg['median'], d)} ({fmt(avg['q1'], d)}, {fmt(avg['q3'], d)})"
    return f"{fmt(avg['mean'], d)} ± {fmt(avg['sd'], d)}"


def _count_cell(avg: pd.Series, weighted: bool, pct_digits: int) -> str:
    c, pc = avg["count"], avg["percent"]
    num = f"{c:.1f}" if weighted else f"{int(round(c))}"
    return f"{num} ({pc:.{pct_digits}f}%)" if np.isfinite(pc) else num


def imputed_table_one(table_one, imp: Imputations, arguments: dict, fmt):
    """``table_one`` of every completed data set of ``imp``, averaged into one table
    (``fmt(value, decimals)``: table_one's number format, rounding half up)."""
    if arguments.get("overall"):
        raise InputError(Problem("overall=True is not available for imputations",
                                 source="table_one", fix="describe the arms (overall=False)"))
    first = per_imputation(table_one, imp.datasets[:1], arguments)[0]
    labels = arguments.get("labels") or {}
    name = {labels.get(v, v): v for v in first.numbers["variable"].unique()}
    rows = first.table
    cont = rows[rows["row_type"] == "continuous"]
    arguments = dict(arguments, nonnormal=[name[v] for v, s in
                                           zip(cont["variable"], cont["statistic"], strict=True)
                                           if s.startswith("median")])
    tables = [first, *per_imputation(table_one, imp.datasets[1:], arguments)]
    shape = ["variable", "level", "statistic", "row_type"]
    differ = [i for i, t in enumerate(tables, 1) if not t.table[shape].equals(rows[shape])]
    if differ:
        raise InputError(Problem("the rows differ between imputations (a level missing "
                                 "from some completed data sets)", source="table_one",
                                 rows=tuple(differ), fix="merge rare levels before imputing"))
    keys = ["variable", "level", "group"]
    avg = (pd.concat([t.numbers for t in tables]).groupby(keys, sort=False)[_SUMMARIES]
           .mean())
    out = rows.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without a test: all NaN
        out["p"] = np.nanmedian(np.column_stack([t.table["p"] for t in tables]), axis=1)
        out["smd"] = np.nanmean(np.column_stack([t.table["smd"] for t in tables]), axis=1)
    pct_digits = arguments.get("pct_digits", 1)
    for i, r in rows.iterrows():
        if r["row_type"] not in ("continuous", "binary", "level"):
            continue  # headers, and missing-value lines (imputation leaves those unchanged)
        for a in first.arms:
            cell = avg.loc[(name[r["variable"]], r["level"], a)]
            out.at[i, a] = (_continuous_cell(r["statistic"], cell, _decimals(r[a]), fmt)
                            if r["row_type"] == "continuous"
                            else _count_cell(cell, first.weighted, pct_digits))
    rule = (f"Multiple imputation, m = {imp.m}: means, SDs, medians, quartiles, counts and "
            "percentages averaged over the completed data sets (counts rounded), SMD "
            "averaged; p: median of the per-imputation p-values (median-P rule, Eekhout "
            "et al. 2017); mean ± SD or median (Q1, Q3) chosen on the first data set.")
    return replace(first, table=out, numbers=avg.reset_index(), rules=(*first.rules, rule),
                   settings=dict(first.settings, m=imp.m))
