"""Set a generated table beside a published one, number by number."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .audit import _count_values, _decimals
from .table_one import TableOne


def _printed(x) -> tuple[float, int]:
    return float(x), _decimals(x)


def compare_to_reported(result: TableOne, reported: Mapping) -> pd.DataFrame:
    """Compare a :func:`table_one` result with a published table, number by number.

    Parameters
    ----------
    result : a TableOne whose variable names are the keys of ``reported``.
    reported : one block of the ``paper_tables.json`` structure, e.g.
        ``tables["table1_patients"]``: ``{variable: {arm: count | [mean, sd] |
        [median, q1, q3], "p": printed}}`` or ``{variable: {level: {arm: count}}}``.

    Returns
    -------
    DataFrame with one row per printed number: variable, level, group, statistic
    (count, mean, sd, median, q1, q3), printed, generated (rounded to the printed
    decimals), agrees; and one row per printed p (group ``""``, statistic ``p``; agrees
    is left empty because a p-value from other data is not expected to agree).
    Variables absent from ``result`` are listed with generated NaN.
    """
    num = result.numbers
    arms = list(result.arms)
    rows = []

    def lookup(var, level, arm, stat):
        sel = num[(num["variable"] == var) & (num["group"] == arm)]
        if sel.empty or stat not in sel.columns:
            return float("nan")  # the variable is not in the generated table
        sel = sel[sel["level"] == str(level)]
        if sel.empty:
            # a level nobody has (e.g. emergency CABG = 1 in no lesion) counts 0
            return 0.0 if stat == "count" else float("nan")
        return float(sel[stat].iloc[0])

    def add(var, level, arm, stat, printed, generated, decimals):
        gen = round(generated, decimals) if np.isfinite(generated) else float("nan")
        rows.append(dict(variable=var, level=level, group=arm, statistic=stat, printed=printed,
                         generated=gen, agrees=bool(np.isfinite(gen)
                                                    and abs(gen - float(printed)) < 1e-9)))

    def binary_level(var):
        lv = num.loc[num["variable"] == var, "level"].unique().tolist()
        for cand in ("1", "True", "1.0"):
            if cand in lv:
                return cand
        if "False" in lv:
            return "True"
        return "1" if (not lv or "0" in lv or "0.0" in lv) else lv[-1]

    for var, row in reported.items():
        if not isinstance(row, Mapping):
            continue
        if all(a in row for a in arms):
            for a in arms:
                v = row[a]
                if isinstance(v, (list, tuple)) and len(v) == 2:
                    for stat, x in zip(("mean", "sd"), v, strict=True):
                        p, d = _printed(x)
                        add(var, "", a, stat, p, lookup(var, "", a, stat), d)
                elif isinstance(v, (list, tuple)) and len(v) == 3:
                    for stat, x in zip(("median", "q1", "q3"), v, strict=True):
                        p, d = _printed(x)
                        add(var, "", a, stat, p, lookup(var, "", a, stat), d)
                else:
                    c = _count_values(v)[0]
                    add(var, binary_level(var), a, "count", c,
                        lookup(var, binary_level(var), a, "count"), 0)
        else:
            for lv, sub in row.items():
                if isinstance(sub, Mapping) and all(a in sub for a in arms):
                    for a in arms:
                        c = _count_values(sub[a])[0]
                        add(var, lv, a, "count", c, lookup(var, lv, a, "count"), 0)
        if "p" in row:
            t = result.table
            hit = t[(t["variable"] == var) & (t["row_type"] != "level")]
            gen = float(hit["p"].iloc[0]) if len(hit) else float("nan")
            rows.append(dict(variable=var, level="", group="", statistic="p",
                             printed=row["p"], generated=round(gen, 3) if np.isfinite(gen)
                             else gen, agrees=None))
    return pd.DataFrame(rows, columns=["variable", "level", "group", "statistic", "printed",
                                       "generated", "agrees"])
