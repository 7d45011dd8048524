"""Table 1 and the follow-up table of ``analyze(engine="dask")``, computed on the cluster.

Every number is exact, from additive sums per arm (the tables' own kernels then give
the tests and SMDs from those sums):

* Table 1, first pass: per arm and variable the non-missing and missing counts, the sum
  (continuous), the counts per level (categories; 0/1 and boolean columns), and
  whether every value is 0/1 and how many decimals the values carry (the in-memory
  rule for the digits shown); second pass: the sums of squares and absolute deviations
  around the broadcast means (two passes, as the in-memory two-pass variance), which
  give the SD, the mean-centred Levene test that chooses Student or Welch t (its
  ANOVA on ``|x - mean|`` needs only these sums), the t test and the SMD. Categories
  get Pearson's chi-square or Fisher's exact test from their count table, as in memory.
  Continuous rows are always mean ± SD: medians and quartiles would need an exact
  distributed selection (sorting, or repeated counting passes over every row) and the
  in-memory rule that chooses them (Shapiro-Wilk in each arm) is not defined for more
  than 5,000 values; a note under the table says so.
* Follow-up: the frequency table of (arm, days, died) from all-cause death; follow-up
  times are whole days, so it is small, and its quantiles (numpy's linear rule) and
  reverse Kaplan-Meier (the frequencies as case weights give the same curve) are the
  in-memory ones.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .. import _stats as k
from .._format import DAYS_PER_MONTH
from ..scale._reduce import Part, broadcast, tree_sum
from ..tables.columns import MAX_LEVELS, _identifier_name, left_out_note
from ..tables.table_one import TableOne, _binary_shown_level, _fmt_num, _rules

_EMPTY = pd.Series(dtype=np.int64)
MEAN_SD_NOTE = ("Continuous variables as mean ± SD on the Dask engine: medians and "
                "quartiles need an exact distributed selection (a sort or repeated counting "
                "passes over every row), and the in-memory choice between them "
                "(Shapiro-Wilk in each arm) is not defined beyond 5,000 values.")


# ---------------------------------------------------------------------- Table 1
def _kinds(meta: pd.DataFrame, exclude) -> tuple[list[str], list[str], dict[str, str]]:
    """(numeric, text-like, left out with why) among the patients' columns."""
    numeric, text, left_out = [], [], {}
    for c in meta.columns:
        if c in exclude or str(c).endswith(("_id", "_date")) or \
                pd.api.types.is_datetime64_any_dtype(meta[c]):
            continue
        if _identifier_name(str(c)):
            left_out[c] = "its name marks an identifier or free text"
        elif pd.api.types.is_numeric_dtype(meta[c]) and meta[c].dtype != bool:
            numeric.append(c)
        else:
            text.append(c)
    return numeric, text, left_out


def _first_part(frame: pd.DataFrame, arms: list, numeric: list[str], text: list[str]) -> Part:
    g = frame["arm"].to_numpy(dtype=object)
    x = frame[numeric].to_numpy(dtype=float) if numeric else np.zeros((len(frame), 0))
    ok = np.isfinite(x)
    stats = np.zeros((len(arms), 3, len(numeric)))  # per arm: n, sum, missing
    for j, a in enumerate(arms):
        m = (g == a)[:, None]
        stats[j, 0] = (ok & m).sum(0)
        stats[j, 1] = np.where(ok & m, x, 0.0).sum(0)
        stats[j, 2] = (~ok & m).sum(0)
    flags = np.ones((4, len(numeric)), bool)  # all 0/1, then 0, 1, 2 decimals suffice
    for i in range(len(numeric)):
        v = x[ok[:, i], i]
        flags[0, i] = bool(np.isin(v, (0.0, 1.0)).all())
        for d in range(3):
            flags[1 + d, i] = bool(np.allclose(v, np.round(v, d), atol=1e-9))
    # level counts of text columns, and of numeric ones while they look 0/1 (a
    # continuous column would give one count per distinct value)
    keyed = frame.assign(__arm=g)
    counts = {c: keyed.groupby([c, "__arm"], dropna=False, observed=True).size()
              if c in text or flags[0, numeric.index(c)] else _EMPTY
              for c in numeric + text}
    sizes = np.array([(g == a).sum() for a in arms], dtype=np.int64)
    return Part(len(frame), payload={"stats": stats, "flags": flags, "counts": counts,
                                     "sizes": sizes})


def _add_first(a: dict, b: dict) -> dict:
    return {"stats": a["stats"] + b["stats"], "flags": a["flags"] & b["flags"],
            "sizes": a["sizes"] + b["sizes"],
            "counts": {c: a["counts"][c].add(b["counts"][c], fill_value=0)
                       for c in a["counts"]}}


def _second_part(frame: pd.DataFrame, arms: list, names: list[str], means) -> Part:
    """Per arm: sum (x - m)^2 and sum |x - m|; then the pooled sum of squares."""
    g = frame["arm"].to_numpy(dtype=object)
    x = frame[names].to_numpy(dtype=float) if names else np.zeros((len(frame), 0))
    ok = np.isfinite(x)
    arm_means, pooled = means
    out = np.zeros((len(arms) + 1, 2, len(names)))
    for j, a in enumerate(arms):
        d = np.where(ok & (g == a)[:, None], x - arm_means[j], 0.0)
        out[j, 0], out[j, 1] = (d * d).sum(0), np.abs(d).sum(0)
    d = np.where(ok, x - pooled, 0.0)
    out[-1, 0] = (d * d).sum(0)
    return Part(len(frame), payload=out)


def _digits(sd: float, flags: np.ndarray, n: float) -> int:
    """The in-memory ``_auto_digits`` from the pooled SD and the decimals flags."""
    if n < 2 or not sd > 0:
        return 1
    spread = int(np.clip(-np.floor(np.log10(sd)), 1, 3))
    own = next((d for d in range(3) if flags[1 + d]), 3)
    return max(spread, min(own, 2))


def _levene(n: np.ndarray, ss: np.ndarray, sa: np.ndarray) -> float:
    """``_stats.levene_mean`` from per-arm sums: ANOVA F on z = |x - mean_arm|, whose
    within-arm sum of squares is ``sum (x - m)^2 - n zbar^2``."""
    if (n < 2).any():
        return float("nan")
    zbar = sa / n
    zall = sa.sum() / n.sum()
    between = float((n * (zbar - zall) ** 2).sum())
    within = float((ss - n * zbar * zbar).sum())
    if within <= 0:
        return 1.0 if between == 0 else 0.0
    from scipy import stats

    f = between / (within / (n.sum() - 2))
    return float(stats.f.sf(f, 1, n.sum() - 2))


def table_one(patients, arms: list, label, exclude, title: str) -> TableOne:
    """Table 1 of the Dask patients table (arm column ``arm`` holding ``arms``)."""
    numeric, text, left_out = _kinds(patients._meta, exclude)
    first = tree_sum(patients[["arm", *numeric, *text]], _first_part, _add_first, arms,
                     numeric, text).payload
    stats, flags, counts = first["stats"], first["flags"], first["counts"]
    n_arm = {a: int(v) for a, v in zip(arms, first["sizes"], strict=True)}
    continuous = [c for i, c in enumerate(numeric) if not flags[0, i]]
    categorical = [c for c in patients.columns if c in text or
                   (c in numeric and flags[0, numeric.index(c)])]
    for c in [c for c in categorical if c in text]:
        levels = counts[c].index.get_level_values(0)
        if levels.dropna().nunique() > MAX_LEVELS:
            left_out[c] = f"more than {MAX_LEVELS} distinct text values (free text or ids)"
    idx = [numeric.index(c) for c in continuous]
    n_c, s_c = stats[:, 0, idx], stats[:, 1, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (s_c / n_c, s_c.sum(0) / n_c.sum(0))
    second = (tree_sum(patients[["arm", *continuous]], _second_part, np.add, arms, continuous,
                       broadcast(means)).payload if continuous else None)
    rows = []
    for c in patients.columns:
        if c in left_out:
            continue
        if c in continuous:
            i = continuous.index(c)
            rows += _continuous_rows(c, label(c), arms, n_c[:, i], means[0][:, i],
                                     second[:, :, i], flags[:, numeric.index(c)],
                                     stats[:, 2, numeric.index(c)])
        elif c in categorical:
            rows += _categorical_rows(label(c), arms, counts[c])
    cols = ["variable", "level", "statistic", *arms, "p", "test", "smd", "missing", "row_type"]
    table = pd.DataFrame(rows, columns=cols)
    kinds = set(table["row_type"])
    rules = [r for r in _rules(False, "levene", False, 0.05, 0.05, False, None, len(arms),
                               False, 2024, has_continuous="continuous" in kinds,
                               has_categorical=bool(kinds & {"binary", "header"}))]
    notes = ([left_out_note(left_out)] if left_out else []) + (
        [MEAN_SD_NOTE] if continuous else [])
    if (table["missing"] > 0).any():
        notes.append("Missing values: " + ", ".join(
            f"{v} {m}" for v, m in table.groupby("variable", sort=False)["missing"].first()
            .items() if m > 0) + " (left out of that row's summaries and test; the "
            "'Missing' line gives the count per arm).")
    return TableOne(table=table, numbers=pd.DataFrame(), group="arm", arms=list(arms),
                    n=n_arm, n_unweighted=dict(n_arm), weighted=False, rules=tuple(rules),
                    settings={"nonnormal": False, "equal_var": "levene", "p_digits": 3},
                    warnings=tuple(notes), title=title)


def _missing_row(name: str, arms: list, missing) -> list[dict]:
    total = int(np.sum(missing))
    if not total:
        return []
    row = {"variable": name, "level": "Missing", "statistic": "n", "p": np.nan, "test": "",
           "smd": np.nan, "missing": total, "row_type": "missing"}
    row.update({a: str(int(m)) for a, m in zip(arms, missing, strict=True)})
    return [row]


def _continuous_rows(col, name, arms, n, m, sums, flags, missing) -> list[dict]:
    ss, sa = sums[:-1, 0], sums[:-1, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = ss / (n - 1)
        pooled_sd = float(np.sqrt(sums[-1, 0] / (n.sum() - 1)))
    d = _digits(pooled_sd, flags, n.sum())
    p, test = np.nan, ""
    if len(arms) == 2 and (n >= 2).all():
        ev = not (_levene(n, ss, sa) < 0.05)
        p = k.t_test_from_stats(m[0], np.sqrt(v[0]), n[0], m[1], np.sqrt(v[1]), n[1],
                                equal_var=ev)[2]
        test = "Student t" if ev else "Welch t"
    smd = float(np.mean([k.smd_continuous(m[i], v[i], m[j], v[j])
                         for i, j in combinations(range(len(arms)), 2)]))
    row = {"variable": name, "level": "", "statistic": "mean ± SD", "p": p, "test": test,
           "smd": smd, "missing": int(np.sum(missing)), "row_type": "continuous"}
    row.update({a: f"{_fmt_num(m[j], d)} ± {_fmt_num(np.sqrt(v[j]), d)}"
                for j, a in enumerate(arms)})
    return [row, *_missing_row(name, arms, missing)]


def _categorical_rows(name, arms, counts: pd.Series) -> list[dict]:
    na = counts[counts.index.get_level_values(0).isna()]
    missing = [int(na.xs(a, level=1).sum()) if a in na.index.get_level_values(1) else 0
               for a in arms]
    table = counts[counts.index.get_level_values(0).notna()].unstack(fill_value=0)
    levels = sorted(table.index.tolist(), key=lambda v: (str(type(v)), v))
    raw = table.reindex(index=levels, columns=arms, fill_value=0).to_numpy(dtype=np.int64)
    denom = raw.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100 * raw / denom
    obs = k.drop_empty(raw)
    if obs.shape[0] < 2 or obs.shape[1] < 2:
        p, test = np.nan, "no test (one level)"
    elif (k.expected_counts(obs) < 5).any():
        p, how = k.fisher_exact_rxc(obs, seed=2024)
        test = ("Fisher exact" if obs.shape == (2, 2) else "Fisher-Freeman-Halton") + (
            "" if how == "exact" else " (Monte-Carlo)")
    else:
        p, test = k.pearson_chi2(obs, yates=False)[2], "chi-square"
    props = [raw[:, j] / denom[j] if denom[j] > 0 else np.full(len(levels), np.nan)
             for j in range(len(arms))]
    smd = (float(np.mean([k.smd_categorical(props[i], props[j])
                          for i, j in combinations(range(len(arms)), 2)]))
           if len(levels) >= 2 else np.nan)

    def cell(c, pc):
        return f"{int(c)} ({pc:.1f}%)" if np.isfinite(pc) else f"{int(c)}"

    base = {"variable": name, "statistic": "n (%)", "p": p, "test": test, "smd": smd,
            "missing": sum(missing)}
    shown = _binary_shown_level(levels)
    if shown is not None:
        i = levels.index(shown) if shown in levels else None
        row = dict(base, level=str(shown), row_type="binary")
        row.update({a: cell(raw[i, j], pct[i, j]) if i is not None else cell(0, 0.0)
                    for j, a in enumerate(arms)})
        rows = [row]
    else:
        rows = [dict(base, level="", row_type="header", **{a: "" for a in arms})]
        for i, lev in enumerate(levels):
            rows.append({"variable": name, "level": str(lev), "statistic": "n (%)",
                         "p": np.nan, "test": "", "smd": np.nan, "missing": sum(missing),
                         "row_type": "level", **{a: cell(raw[i, j], pct[i, j])
                                                 for j, a in enumerate(arms)}})
    return rows + _missing_row(name, arms, missing)


# ---------------------------------------------------------------------- follow-up
def _percentiles(values: np.ndarray, counts: np.ndarray, q) -> np.ndarray:
    """``np.percentile(np.repeat(values, counts), q)`` (linear rule) without repeating."""
    order = np.argsort(values, kind="stable")
    v, c = values[order], counts[order]
    upto = np.cumsum(c)
    h = (upto[-1] - 1) * np.asarray(q, float) / 100
    lo = np.floor(h).astype(np.int64)
    at = v[np.searchsorted(upto, lo, side="right")]
    nxt = v[np.minimum(np.searchsorted(upto, lo + 1, side="right"), len(v) - 1)]
    return at + (h - lo) * (nxt - at)


def followup_table(freq: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """``outcomes.followup_summary``'s table from a frequency table (group, time (days),
    event (died), count)."""
    import mace_outcomes as mo

    from ..survival.followup import NAMES, PROBS

    f = freq.assign(months=freq["time"] / DAYS_PER_MONTH, censored=1 - freq["event"])

    def reverse(part, group):
        km = mo.kaplan_meier(part, time="months", event="censored", weights="count",
                             group=group)
        q = km.quantile(PROBS)
        return q.assign(quantile=np.tile(NAMES, len(q) // len(NAMES)))

    rkm = pd.concat([reverse(f, "group"),
                     reverse(f.assign(group="overall"), None).assign(group="overall")])

    def describe(part, label):
        m, c = part["months"].to_numpy(float), part["count"].to_numpy(float)
        q1, med, q3 = _percentiles(m, c, [25, 50, 75])
        alive = part["event"].to_numpy() == 0
        r = rkm[rkm["group"] == label].set_index("quantile")["time"]
        complete = (part["time"].to_numpy(float) >= horizon) | ~alive
        return dict(group=label, n=int(c.sum()), median=med, q1=q1, q3=q3, min=m.min(),
                    max=m.max(), min_alive=m[alive].min() if alive.any() else np.nan,
                    max_alive=m[alive].max() if alive.any() else np.nan,
                    rkm_median=r["median"], rkm_q1=r["q1"], rkm_q3=r["q3"],
                    complete_n=int(c[complete].sum()),
                    complete_share=float(c[complete].sum() / c.sum()))

    rows = [describe(part, label) for label, part in f.groupby("group", sort=True)]
    rows.append(describe(f, "overall"))
    return pd.DataFrame(rows)
