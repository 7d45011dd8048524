"""Recompute the p-values a published table prints, from the numbers it prints.

A reviewer's check: counts per arm give the 2 x 2 (or r x c) table, so the chi-square
(with and without Yates' correction) and Fisher's exact test can be recomputed exactly;
means and SDs give Student's and Welch's t (up to the rounding of the printed numbers,
which this module turns into an interval of p-values); medians and quartiles do not
determine a Mann-Whitney U test, which needs the data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _stats as k
from .._display import frame_text
from .._format import p_phrase
from .export import ExportMixin

COUNT_TESTS = ("chi-square", "chi-square (Yates)", "Fisher exact")
MEAN_TESTS = ("Student t", "Welch t")


@dataclass(frozen=True, eq=False)
class AuditResult(ExportMixin):
    """Recomputed p-values of published tables.

    Attributes
    ----------
    table : long and tidy, one row per printed p-value x test: ``table``, ``variable``,
        ``level``, ``variant`` (``printed`` or an alternative count the source notes),
        ``kind`` (counts, mean_sd, median_iqr), ``data`` (the numbers used), ``printed_p``,
        ``test``, ``p`` (from the printed numbers), ``p_low``, ``p_high`` (range over the
        rounding of printed means/SDs), ``matches`` (printed p within the range at the
        printed precision), ``stated`` (the test the stated rule picks), ``min_expected``.
    summary : one row per printed p-value: ``stated_test``, ``p_stated``,
        ``stated_matches``, ``matching_tests`` and a ``verdict`` in words.
    mismatches : the rows of ``summary`` whose printed p does not follow the stated rule.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    rule: str
    settings: dict = field(default_factory=dict)
    title: str = "Audit of the printed p-values"

    @property
    def mismatches(self) -> pd.DataFrame:
        s = self.summary
        return s[(s["recomputable"]) & ~(s["stated_matches"].astype(bool))].reset_index(
            drop=True)

    @property
    def notes(self) -> list[str]:
        return [f"Stated rule: {self.rule}.",
                "A printed p matches a test when it equals the recomputed p at 3 decimals "
                "(for means ± SD: anywhere in the range the printed rounding allows)."]

    def formatted(self) -> pd.DataFrame:
        s = self.summary
        return pd.DataFrame({
            "Table": s["table"], "Variable": s["variable"],
            "Level": s["level"], "Variant": s["variant"],
            "Printed p": s["printed_p"].map(_fmt_printed),
            "Stated test": s["stated_test"],
            "Recomputed p": s["p_stated"].map(k.format_p),
            "Matching tests": s["matching_tests"], "Verdict": s["verdict"]})

    def __repr__(self) -> str:
        m = self.mismatches
        head = (f"{self.title}: {int(self.summary['recomputable'].sum())} recomputable p-values, "
                f"{len(m)} not following the stated rule")
        show = m[["table", "variable", "level", "variant", "printed_p", "stated_test",
                  "p_stated", "matching_tests"]]
        return frame_text(head, show, "\n".join(self.notes))


def _fmt_printed(v) -> str:
    if isinstance(v, str):
        return v
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _decimals(x: float) -> int:
    """Decimals of a number as printed (JSON keeps ``70.16`` but not ``2.60``)."""
    text = repr(float(x)) if not isinstance(x, int) else str(x)
    if "e" in text or "E" in text:
        return 6
    if isinstance(x, int) or text.endswith(".0"):
        return 0 if isinstance(x, int) or float(x).is_integer() else 1
    return len(text.split(".")[1])


_INT = re.compile(r"(?<![\d.])\d+(?![\d.%])")


def _count_values(v) -> tuple[int, list[int], str]:
    """A printed count: an int, or a string such as ``"27 printed (70.2%); 33 is
    consistent"`` -> (27, [33], note). The first integer is what the table prints; the
    others are alternatives the note gives."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), [], ""
    if isinstance(v, float) and float(v).is_integer():
        return int(v), [], ""
    if isinstance(v, str):
        ints = [int(s) for s in _INT.findall(v)]
        if ints:
            return ints[0], [i for i in ints[1:] if i != ints[0]], v
    raise ValueError(f"not a count: {v!r}")


def _match_p(printed, lo: float, hi: float, decimals: int = 3) -> bool:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    if isinstance(printed, str):
        m = re.match(r"\s*([<>]=?)\s*([0-9.]+)", printed)
        if not m:
            return False
        bound = float(m.group(2))
        return lo < bound if m.group(1).startswith("<") else hi > bound
    half = 0.5 * 10.0 ** (-decimals) + 1e-9
    return lo - half <= float(printed) <= hi + half


def _arm_sizes(spec: Mapping, arms: list[str], unit: str) -> dict[str, int]:
    out = {}
    for a in arms:
        v = spec[a]
        out[a] = int(v[unit]) if isinstance(v, Mapping) else int(v)
    return out


def _unit_for(table_name: str, row_name: str, units: list[str],
              above: str | None = None) -> tuple[str, bool]:
    """Which denominator a row counts, and whether its name said so explicitly.

    An explicit ``_patients`` / ``_lesions`` in the row name wins; 1-year outcome rows
    (``_1y``, ``mace``, ``death``) count patients; then the unit the table name mentions;
    otherwise the row inherits the unit of the nearest row above that named one (as a
    printed table's section does, across tables too), else the first unit.
    """
    row = row_name.lower()
    for u in units:
        if row.endswith(u) or f"_{u}_" in row:
            return u, True
    if "patients" in units and re.search(r"(_1y\b|_1y_|mace|death)", row):
        return "patients", False
    for u in units:
        if u in table_name.lower():
            return u, True
    if above is not None:
        return above, False
    return units[0], False


def _count_tests(table: np.ndarray) -> dict[str, float]:
    t = np.asarray(table)
    out = {"chi-square": k.pearson_chi2(t)[2]}
    if k.drop_empty(t).shape == (2, 2):
        out["chi-square (Yates)"] = k.pearson_chi2(t, yates=True)[2]
    out["Fisher exact"] = k.fisher_exact_rxc(t)[0]
    return out


def _t_range(a: list, b: list, na: int, nb: int, equal_var: bool) -> tuple[float, float, float]:
    """p at the printed means/SDs and its range over the rounding box of each number."""
    m1, s1 = float(a[0]), float(a[1])
    m2, s2 = float(b[0]), float(b[1])
    p = k.t_test_from_stats(m1, s1, na, m2, s2, nb, equal_var)[2]
    hm = [0.5 * 10.0 ** (-_decimals(x)) for x in (a[0], b[0])]
    hs = [0.5 * 10.0 ** (-_decimals(x)) for x in (a[1], b[1])]
    d = abs(m1 - m2)
    ps = []
    for dd, e1, e2 in product((max(d - hm[0] - hm[1], 0.0), d + hm[0] + hm[1]),
                              (-hs[0], hs[0]), (-hs[1], hs[1])):
        ss1, ss2 = max(s1 + e1, 1e-12), max(s2 + e2, 1e-12)
        ps.append(k.t_test_from_stats(dd, ss1, na, 0.0, ss2, nb, equal_var)[2])
    # p depends on the SDs through the df too (Welch): include the printed point
    ps.append(p)
    return p, float(min(ps)), float(max(ps))


def audit_reported(tables: Mapping | str | Path, *, units: tuple[str, ...] = ("patients",
                   "lesions"), row_units: Mapping[str, str] | None = None,
                   decimals: int = 3) -> AuditResult:
    """Recompute each p-value a published table prints, under the stated tests and the
    common alternatives, and list the ones that do not follow the stated rule.

    Parameters
    ----------
    tables : the published tables in the structure of the project's ``paper_tables.json``
        (a dict, or a path to that JSON): ``arms`` maps each arm to its sizes per unit
        (``{"OCT": {"patients": 32, "lesions": 33}, ...}``) or to one size; every other
        key whose value is a dict of rows (``table1_patients``, ...) holds rows
        ``{arm: count | [mean, sd] | [median, q1, q3], "p": printed}``,
        or a variable with levels ``{level: {arm: count, ["p": ...]}, "p": ...}`` (a p per
        level: each level against the rest; one p: the levels x arms table). A count may be
        a string whose first integer is the printed count and later integers alternatives
        (``"27 printed (70.2%); 33 is consistent"``): both are audited. A row may give its
        own sizes as ``"n": {arm: n}``.
    units : the size keys of ``arms``. A row counts the unit its name ends with
        (``_lesions``); 1-year outcome rows (``_1y``, ``mace``, ``death``) count patients;
        other rows the unit of the table's name, else that of the nearest row (or table)
        above that named one, else the first unit. Rows may give ``"n": {arm: n}``.
    row_units : explicit units, keyed ``"table"`` or ``"table/row"`` (they win).
    decimals : decimals of the printed p-values.

    Returns
    -------
    AuditResult with ``.table`` (every test), ``.summary`` (one row per printed p) and
    ``.mismatches``.

    Notes
    -----
    The stated rule audited is the one journals' methods sections give: counts -> Pearson
    chi-square when every expected count is at least 5, else Fisher's exact test
    (Fisher-Freeman-Halton beyond 2 x 2); means ± SD -> Student's unpaired t test; medians
    (Q1, Q3) -> Mann-Whitney U, which cannot be recomputed without the data. The
    alternatives recomputed are Yates' corrected chi-square and Welch's t.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> paper = {"arms": {"OCT": {"patients": 32}, "IVUS": {"patients": 47}},
    ...          "table4": {"mace_1y_patients": {"OCT": 1, "IVUS": 3, "p": 0.517}}}
    >>> a = mo.audit_reported(paper)
    >>> a.summary.loc[0, ["stated_test", "matching_tests"]].tolist()
    ['Fisher exact', 'chi-square']
    """
    if isinstance(tables, (str, Path)):
        tables = json.loads(Path(tables).read_text(encoding="utf-8"))
    if "arms" not in tables:
        raise ValueError("the published tables need an 'arms' entry: {arm: {unit: n}}")
    arms = list(tables["arms"])
    spec = tables["arms"]
    avail = [u for u in units if all(isinstance(spec[a], Mapping) and u in spec[a]
                                     for a in arms)] or ["n"]

    records: list[dict] = []
    last_unit: list[str] = []  # unit of the last row (or table) that named one
    row_units = dict(row_units or {})

    def sizes(tname: str, rname: str, row: Mapping) -> dict[str, int]:
        if isinstance(row.get("n"), Mapping):
            return {a: int(row["n"][a]) for a in arms}
        if avail == ["n"]:
            return {a: int(spec[a]) if not isinstance(spec[a], Mapping) else
                    int(next(iter(spec[a].values()))) for a in arms}
        unit = row_units.get(f"{tname}/{rname}", row_units.get(tname))
        if unit is None:
            unit, explicit = _unit_for(tname, rname, avail, last_unit[-1] if last_unit
                                       else None)
            if explicit:
                last_unit.append(unit)
        return _arm_sizes(spec, arms, unit)

    def add(base: dict, tests: dict[str, tuple[float, float, float]], stated: str | None,
            printed) -> None:
        for name, (p, lo, hi) in tests.items():
            records.append(dict(base, printed_p=printed, test=name, p=p, p_low=lo, p_high=hi,
                                matches=_match_p(printed, lo, hi, decimals)
                                if printed is not None else False,
                                stated=(name == stated)))

    def audit_counts(tname, var, level, row_counts: dict[str, object], n: dict, printed,
                     per_level_matrix=None) -> None:
        # row_counts: arm -> printed count (binary row)
        parsed = {a: _count_values(row_counts[a]) for a in arms}
        variants = [("printed", {a: parsed[a][0] for a in arms})]
        for a in arms:
            for alt in parsed[a][1]:
                variants.append((f"alternative: {a} = {alt}",
                                 dict({b: parsed[b][0] for b in arms}, **{a: alt})))
        note = "; ".join(parsed[a][2] for a in arms if parsed[a][2])
        for vname, counts in variants:
            tab = np.array([[counts[a], n[a] - counts[a]] for a in arms]).T
            _add_table(tname, var, level, vname, tab, printed, note,
                       data=", ".join(f"{a} {counts[a]}/{n[a]}" for a in arms))

    def _add_table(tname, var, level, vname, tab, printed, note, data) -> None:
        tab = np.asarray(tab, dtype=np.int64)
        if (tab < 0).any():
            records.append(dict(table=tname, variable=var, level=level, variant=vname,
                                kind="counts", data=data, note="negative cell: counts exceed "
                                "the arm size", printed_p=printed, test="", p=np.nan,
                                p_low=np.nan, p_high=np.nan, matches=False, stated=False,
                                min_expected=np.nan))
            return
        obs = k.drop_empty(tab)
        min_e = float(k.expected_counts(obs).min()) if obs.size else float("nan")
        stated = "Fisher exact" if (obs.shape[0] < 2 or obs.shape[1] < 2 or min_e < 5) \
            else "chi-square"
        tests = {name: (p, p, p) for name, p in _count_tests(tab).items()}
        base = dict(table=tname, variable=var, level=level, variant=vname, kind="counts",
                    data=data, note=note, min_expected=min_e)
        add(base, tests, stated, printed)

    for tname, block in tables.items():
        # every block of rows except the arm sizes; notes and flow counts are not rows
        if tname == "arms" or not isinstance(block, Mapping):
            continue
        for var, row in block.items():
            if not isinstance(row, Mapping):
                continue
            printed = row.get("p")
            has_arms = all(a in row for a in arms)
            if has_arms:
                vals = [row[a] for a in arms]
                n = sizes(tname, var, row)
                if printed is None:
                    records.append(dict(table=tname, variable=var, level="", variant="printed",
                                        kind="counts" if not isinstance(vals[0], list)
                                        else "summary", data=str(vals), note="no p printed",
                                        printed_p=None, test="", p=np.nan, p_low=np.nan,
                                        p_high=np.nan, matches=False, stated=False,
                                        min_expected=np.nan))
                    continue
                if all(isinstance(v, (list, tuple)) and len(v) == 2 for v in vals):
                    a_, b_ = vals[0], vals[1]
                    tests = {"Student t": _t_range(a_, b_, n[arms[0]], n[arms[1]], True),
                             "Welch t": _t_range(a_, b_, n[arms[0]], n[arms[1]], False)}
                    base = dict(table=tname, variable=var, level="", variant="printed",
                                kind="mean_sd", note=row.get("note", ""), min_expected=np.nan,
                                data=", ".join(f"{a} {v[0]} ± {v[1]} (n={n[a]})"
                                               for a, v in zip(arms, vals, strict=True)))
                    add(base, tests, "Student t", printed)
                elif all(isinstance(v, (list, tuple)) and len(v) == 3 for v in vals):
                    records.append(dict(
                        table=tname, variable=var, level="", variant="printed",
                        kind="median_iqr", printed_p=printed, test="Mann-Whitney U",
                        data=", ".join(f"{a} {v[0]} ({v[1]}, {v[2]})"
                                       for a, v in zip(arms, vals, strict=True)),
                        note="not recomputable: Mann-Whitney U needs the data, not the "
                             "median and quartiles", p=np.nan, p_low=np.nan, p_high=np.nan,
                        matches=False, stated=True, min_expected=np.nan))
                else:
                    audit_counts(tname, var, "", {a: row[a] for a in arms}, n, printed)
                continue
            # a variable with levels
            levels = {lv: sub for lv, sub in row.items()
                      if isinstance(sub, Mapping) and all(a in sub for a in arms)}
            if not levels:
                continue
            per_level_p = any("p" in sub for sub in levels.values())
            if per_level_p:
                for lv, sub in levels.items():
                    n = sizes(tname, var, sub)
                    if "p" not in sub:
                        continue
                    audit_counts(tname, var, lv, {a: sub[a] for a in arms}, n, sub["p"])
            elif printed is not None:
                parsed = {lv: {a: _count_values(sub[a]) for a in arms}
                          for lv, sub in levels.items()}
                n = sizes(tname, var, row)
                base_counts = {lv: {a: parsed[lv][a][0] for a in arms} for lv in levels}
                variants = [("printed", base_counts)]
                notes = []
                for lv in levels:
                    for a in arms:
                        if parsed[lv][a][2]:
                            notes.append(f"{lv} {a}: {parsed[lv][a][2]}")
                        for alt in parsed[lv][a][1]:
                            c = {x: dict(y) for x, y in base_counts.items()}
                            c[lv][a] = alt
                            variants.append((f"alternative: {lv} {a} = {alt}", c))
                for vname, c in variants:
                    tab = np.array([[c[lv][a] for a in arms] for lv in levels])
                    sums = tab.sum(axis=0)
                    note = "; ".join(notes)
                    off = [f"{a} levels sum to {s} of {n[a]}"
                           for a, s in zip(arms, sums, strict=True) if s != n[a]]
                    if off:
                        note = "; ".join([note] + off) if note else "; ".join(off)
                    _add_table(tname, var, "", vname, tab, printed, note,
                               data="; ".join(f"{lv}: " + ", ".join(
                                   f"{a} {c[lv][a]}" for a in arms) for lv in levels))

    cols = ["table", "variable", "level", "variant", "kind", "data", "printed_p", "test", "p",
            "p_low", "p_high", "matches", "stated", "min_expected", "note"]
    long = pd.DataFrame(records, columns=cols)
    summary = _summarise(long)
    rule = ("counts: Pearson chi-square when every expected count >= 5, else Fisher's exact "
            "test; mean ± SD: Student's t test; median (Q1, Q3): Mann-Whitney U")
    return AuditResult(table=long, summary=summary, rule=rule,
                       settings={"units": avail, "decimals": decimals, "arms": arms})


def _p_eq(p: float) -> str:
    return p_phrase(p)  # the package's one phrasing of a p-value in running text


def _as_float(v) -> float:
    if isinstance(v, str):
        m = re.search(r"[0-9.]+", v)
        return float(m.group(0)) if m else float("nan")
    return float(v)


def _summarise(long: pd.DataFrame) -> pd.DataFrame:
    keys = ["table", "variable", "level", "variant"]
    rows = []
    for key, g in long.groupby(keys, sort=False):
        first = g.iloc[0]
        st = g[g["stated"]]
        stated_test = st["test"].iloc[0] if len(st) else ""
        p_stated = float(st["p"].iloc[0]) if len(st) else float("nan")
        recomputable = bool(np.isfinite(g["p"]).any())
        matching = [t for t, m in zip(g["test"], g["matches"], strict=True) if m]
        stated_ok = bool(len(st) and st["matches"].iloc[0])
        if first["printed_p"] is None:
            verdict = "no p printed"
        elif not recomputable:
            verdict = first["note"] or "not recomputable"
        elif stated_ok:
            verdict = f"follows the stated rule ({stated_test})"
        elif matching:
            verdict = (f"matches {' / '.join(matching)}, not the stated {stated_test} "
                       f"({_p_eq(p_stated)})")
        else:
            # the closest recomputed p, to tell a rounding slip from another test
            gap = np.minimum(np.abs(g["p_low"] - _as_float(first["printed_p"])),
                             np.abs(g["p_high"] - _as_float(first["printed_p"])))
            best = g.iloc[int(np.nanargmin(gap.to_numpy()))]
            verdict = (f"matches none of {', '.join(g['test'])}; stated {stated_test} gives "
                       f"{_p_eq(p_stated)} (closest: {best['test']}, "
                       f"{_p_eq(best['p'])})")
        rows.append(dict(zip(keys, key, strict=True), kind=first["kind"], data=first["data"],
                         printed_p=first["printed_p"], stated_test=stated_test,
                         p_stated=p_stated, stated_matches=stated_ok,
                         matching_tests=", ".join(matching), recomputable=recomputable,
                         min_expected=first["min_expected"], verdict=verdict,
                         note=first["note"]))
    return pd.DataFrame(rows)
