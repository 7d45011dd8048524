"""Table 1: baseline and procedural characteristics by arm, with the test used per row."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from .. import _stats as k
from .._display import frame_text
from .._frames import arm_order, column_values, row_ids
from ..errors import InputError, Problem, SmallCountWarning
from ..weighting.impute import Imputations, is_imputations
from .columns import default_variables, left_out_note
from .export import ExportMixin
from .missingness import missing_row


@dataclass(frozen=True, eq=False)
class TableOne(ExportMixin):
    """A Table 1 by arm.

    Attributes
    ----------
    table : tidy DataFrame, one row per variable (continuous, binary) or per level
        (categorical; the variable's first row holds p, test and SMD): ``variable``,
        ``level``, ``statistic`` (``mean ± SD``, ``median (Q1, Q3)`` or ``n (%)``), one
        formatted column per arm, ``overall`` (if asked), ``p`` (float), ``test``,
        ``smd`` and ``missing`` (count of missing values of the variable); under a
        variable with missing values a ``row_type == "missing"`` line (level
        ``Missing``) gives their count per arm.
    numbers : the numbers behind the cells, long: variable, level, group, n, count,
        percent, mean, sd, median, q1, q3 (weighted when weights were given).
    arms : arm labels in column order; ``n`` : arm -> subjects (sum of weights when
        weighted, see ``n_unweighted``).
    rules : the test-selection rules in words (printed under every export).
    """

    table: pd.DataFrame
    numbers: pd.DataFrame
    group: str
    arms: list
    n: dict
    n_unweighted: dict
    weighted: bool
    rules: tuple
    settings: dict = field(default_factory=dict)
    warnings: tuple = ()
    title: str = "Table 1. Baseline characteristics"

    @property
    def notes(self) -> list[str]:
        return list(self.rules) + list(self.warnings)

    def formatted(self) -> pd.DataFrame:
        """The table as a journal prints it: strings, p as ``<0.001``, SMD to 2 decimals."""
        t = self.table
        rows = []
        cols = [c for c in self.arms] + (["overall"] if "overall" in t.columns else [])
        for _, r in t.iterrows():
            if r["level"] == "" or r["row_type"] not in ("level", "missing"):
                name = f"{r['variable']}, {r['statistic']}"
            else:
                name = f"    {r['level']}"
            row = {"Variable": name}
            for c in cols:
                row[self._header(c)] = r[c]
            row["p"] = k.format_p(r["p"], self.settings.get("p_digits", 3))
            row["Test"] = r["test"]
            row["SMD"] = "" if pd.isna(r["smd"]) else f"{r['smd']:.2f}"
            rows.append(row)
        out = pd.DataFrame(rows)
        if self.weighted and not self.settings.get("weighted_tests"):
            out = out.drop(columns=["p", "Test"])
        return out

    def _header(self, arm) -> str:
        n = self.n.get(arm)
        if n is None:
            return str(arm)
        num = f"{n:.1f}" if self.weighted else f"{int(n)}"
        name = "Overall" if arm == "overall" else arm
        return f"{name} (n = {num})"

    def __repr__(self) -> str:
        show = self.formatted()
        return frame_text(self.title, show.set_index("Variable"), "\n".join(self.notes))


# ------------------------------------------------------------------------------ helpers
def _add_missing(rows: list, variable: str, values: pd.Series, masks: dict,
                 overall: bool) -> None:
    row = missing_row(variable, values, masks, overall)
    if row is not None:
        rows.append(row)


def _weights_array(df: pd.DataFrame, weights) -> np.ndarray | None:
    if weights is None:
        return None
    values, name = column_values(df, weights, "weights", source="df")
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise InputError(Problem("weights must be positive and finite (missing, zero or "
                                 "negative found)", name, row_ids(df, bad), "df"))
    return arr


def _is_categorical(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool:
        return True
    if not pd.api.types.is_numeric_dtype(s):
        # a text column whose values are nearly all numbers (many distinct) is a numeric
        # column with typing errors: treat it as continuous so the bad rows are reported
        vals = s.dropna()
        num = pd.to_numeric(vals, errors="coerce")
        return not (len(vals) > 0 and num.notna().mean() >= 0.9 and num.nunique() > 10)
    vals = pd.unique(s.dropna())
    return len(vals) > 0 and set(np.asarray(vals, float).tolist()) <= {0.0, 1.0}


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    vals = pd.unique(s.dropna()).tolist()
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


def _binary_shown_level(levels: list):
    """0/1 and False/True variables are shown as one row, the '1'/True level."""
    if len(levels) <= 2 and set(map(lambda v: float(v) if isinstance(v, (bool, int, float,
                                    np.number)) else np.nan, levels)) <= {0.0, 1.0}:
        # ``True in [0, 1]`` is true in Python, so ask for the bool type itself
        return True if any(isinstance(v, (bool, np.bool_)) for v in levels) else 1
    return None


def _fmt_num(v: float, d: int) -> str:
    """Round half up, as journals print (1.25 -> 1.3, not binary float's 1.2)."""
    if not np.isfinite(v):
        return ""
    q = Decimal(1).scaleb(-d)
    return str(Decimal(repr(float(v))).quantize(q, rounding=ROUND_HALF_UP))


def _auto_digits(x: np.ndarray) -> int:
    """Decimals for a variable: enough to show its spread (SD) to one significant digit,
    and the data's own precision when it is finer (a 1.25 mm burr), between 1 and 3."""
    x = x[np.isfinite(x)]
    if len(x) < 2 or np.std(x) == 0:
        return 1
    spread = int(np.clip(-np.floor(np.log10(np.std(x, ddof=1))), 1, 3))
    own = next((d for d in range(3) if np.allclose(x, np.round(x, d), atol=1e-9)), 3)
    return max(spread, min(own, 2))


def _pairwise_mean(values: list[float]) -> float:
    vals = [v for v in values if np.isfinite(v) or v == np.inf]
    return float(np.mean(vals)) if vals else float("nan")


# ---------------------------------------------------------------------------- the table
def table_one(
    df: pd.DataFrame | Imputations,
    group: str = "arm",
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    nonnormal: str | bool | Sequence[str] = "auto",
    weights: str | pd.Series | np.ndarray | None = None,
    *,
    arms: Sequence | None = None,
    treated=None,
    overall: bool = False,
    equal_var: bool | str = "levene",
    yates: bool = False,
    weighted_tests: bool = False,
    alpha_normal: float = 0.05,
    alpha_levene: float = 0.05,
    digits: int | str | Mapping[str, int] = "auto",
    pct_digits: int = 1,
    p_digits: int = 3,
    labels: Mapping[str, str] | None = None,
    seed: int = 2024,
    title: str = "Table 1. Baseline characteristics",
    exclude: Sequence[str] = (),
) -> TableOne:
    """Baseline (or procedural) characteristics by arm with the test used per row.

    Parameters
    ----------
    df : DataFrame, one row per subject (or per lesion), or an :class:`Imputations`:
        summaries and SMDs averaged over the completed data sets, p the median of their
        p-values (see :mod:`mace_outcomes.tables.table_one_mi`).
    group : column with the arm labels (no missing labels).
    variables : columns to describe, in order; a named column is always described.
        ``None``: every column except ``group``, the weights column, ``exclude``,
        identifiers (``*_id``), dates (datetime or ``*_date``), the outcome columns of a
        :func:`time_to_event` frame (``time``, ``event``, ``status``, ``event_type``) and
        columns that look like free text or identifiers (many distinct text values, long
        text, names such as ``mrn``, ``surname``, ``comments``; see
        :func:`mace_outcomes.tables.columns.describable_columns`) unless listed in
        ``categorical``; the notes name the columns so left out and why.
    categorical : columns to treat as categorical. Text, categorical, boolean and 0/1
        columns are categorical anyway; other numeric columns are continuous.
    nonnormal : ``"auto"``: a continuous variable is summarised as median (Q1, Q3) and
        tested by Mann-Whitney U when Shapiro-Wilk rejects normality (p < ``alpha_normal``)
        in any arm, else as mean ± SD with a t test. A list: those variables are
        non-normal, the others normal. ``True`` / ``False``: all non-normal / all normal.
    weights : column name or array of (IPTW) weights aligned with ``df``. Gives weighted
        means, SDs, quantiles, counts (sum of weights) and percentages, and the weighted
        SMD. Tests are omitted by default: after weighting balance is judged by the SMD,
        not by a p-value that depends on the sample size (Austin & Stuart 2015); see
        ``weighted_tests``.
    weighted_tests : with weights, add design-based tests treating the weights as
        sampling weights, as R's ``survey`` package does: a design-based t test of the
        weighted means (``svyttest``, two arms) and the Rao-Scott second-order corrected
        chi-square (``svychisq``, F form).
    arms : the arms in column order. Default with two arms the package's one arm order
        (:func:`mace_outcomes._frames.arm_order`: treated first, the reference last, as
        every HR reads); otherwise the categories of a categorical column, else sorted
        labels.
    treated : with two arms and no ``arms``, the treated arm (default: the last sorted
        label, as R's factor levels make the first the reference).
    overall : add a column for all arms together.
    equal_var : ``"levene"``: Student t unless Levene's test (mean-centred, as SPSS prints
        it) has p < ``alpha_levene``, then Welch t. ``True``: always Student; ``False``:
        always Welch.
    yates : Yates continuity correction of the 2 x 2 chi-square (off: Pearson, as SPSS's
        first line and the paper's methods).
    digits : decimals of means/SDs/medians: ``"auto"`` (enough for the SD's first
        significant digit, or the data's own precision if finer, 1-3), one int, or a dict
        per variable (others auto). Values are rounded half up.
    labels : display names for variables.
    seed : seed of the Monte-Carlo Fisher-Freeman-Halton test for very large tables.
    exclude : with ``variables=None``, columns never to describe (e.g. those an
        exclusion criterion made constant).

    Returns
    -------
    TableOne with ``.table`` (tidy), ``.numbers``, ``.formatted()`` and the writers
    ``.to_markdown()``, ``.to_latex()``, ``.to_html()``, ``.to_csv(path)``,
    ``.to_docx(path)``.

    Notes
    -----
    Categorical rows use Pearson's chi-square when every expected count is at least 5 and
    Fisher's exact test otherwise (Fisher-Freeman-Halton beyond 2 x 2: exact, by the
    network algorithm for two arms and by enumeration otherwise; Monte-Carlo with ``seed``
    when more than two million partial tables would be needed, said in the test column
    and the rules). More than two arms:
    one-way ANOVA / Kruskal-Wallis for continuous rows. SMD: Austin (2009); categorical
    variables: Yang & Dalton (2012); more than two arms: mean of the pairwise SMDs (as R's
    ``tableone``).

    References: Shapiro & Wilk (1965); Levene (1960); Welch (1947); Mann & Whitney (1947);
    Freeman & Halton (1951); Austin PC, Stat Med 2009;28:3083-107.

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"arm": ["A"] * 4 + ["B"] * 4, "age": [60, 62, 65, 70, 61, 66, 72, 75],
    ...                    "male": [1, 0, 1, 1, 0, 0, 1, 0]})
    >>> t1 = mo.table_one(df, group="arm")
    >>> list(t1.table["variable"])
    ['age', 'male']
    """
    if is_imputations(df):
        from .table_one_mi import imputed_table_one
        return imputed_table_one(table_one, df, locals(), _fmt_num)
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}"))
    problems: list[Problem] = []
    if group not in df.columns:
        raise InputError(Problem(f"group column not found (columns are {list(df.columns)})",
                                 group, source="df"))
    na = df[group].isna().to_numpy()
    if na.any():
        problems.append(Problem("missing group label", group,
                                row_ids(df, na), "df",
                                "drop these rows or give them an arm"))
    w_all = _weights_array(df, weights)
    wcol = weights if isinstance(weights, str) else None
    left_out: dict[str, str] = {}
    if variables is None:
        variables, left_out = default_variables(df, group, wcol, exclude, categorical)
    variables = list(variables)
    missing_cols = [v for v in variables if v not in df.columns]
    for v in missing_cols:
        problems.append(Problem("variable not found in the table", v, source="df"))
    categorical = set(categorical or ())
    for v in categorical - set(variables):
        if v not in df.columns:
            problems.append(Problem("categorical variable not found", v, source="df"))
    if problems:
        raise InputError(problems)

    if arms is None:
        arms = _levels(df[group])
        if len(arms) == 2 or treated is not None:
            arms = arm_order(arms, treated=treated, source="df", column=group)
    arms = list(arms)
    unknown = sorted(set(pd.unique(df[group]).tolist()) - set(arms), key=str)
    if unknown:
        raise InputError(Problem(f"labels {unknown} are not among arms {arms}", group,
                                 source="df"))
    g = df[group].to_numpy()
    masks = {a: g == a for a in arms}
    if w_all is None:
        n = {a: int(masks[a].sum()) for a in arms}
    else:
        n = {a: float(w_all[masks[a]].sum()) for a in arms}
    n_unw = {a: int(masks[a].sum()) for a in arms}
    if overall:
        n["overall"] = float(w_all.sum()) if w_all is not None else len(df)
    weighted = w_all is not None
    two = len(arms) == 2
    def dig(var, x):
        if isinstance(digits, Mapping):
            return digits.get(var, _auto_digits(x))
        return _auto_digits(x) if digits == "auto" else digits
    label = (lambda v: labels.get(v, v)) if labels else (lambda v: v)

    rows: list[dict] = []
    numbers: list[dict] = []
    notes: list[str] = [left_out_note(left_out)] if left_out else []
    mc_used = False

    for var in variables:
        s = df[var]
        is_cat = var in categorical or _is_categorical(s)
        miss = int(s.isna().sum())
        if is_cat:
            levels = _levels(s)
            shown = _binary_shown_level(levels)
            counts = np.zeros((len(levels), len(arms)))
            raw = np.zeros((len(levels), len(arms)), dtype=np.int64)
            vals = s.to_numpy()
            notna = ~s.isna().to_numpy()
            for j, a in enumerate(arms):
                m = masks[a] & notna
                for i, lev in enumerate(levels):
                    sel = m & (vals == lev)
                    raw[i, j] = sel.sum()
                    counts[i, j] = w_all[sel].sum() if weighted else sel.sum()
            denom = counts.sum(axis=0)
            pct = np.divide(100 * counts, denom, out=np.full_like(counts, np.nan),
                            where=denom > 0)
            # test
            p, test = float("nan"), ""
            if weighted and weighted_tests and len(arms) >= 2:
                keep = notna & np.isin(g, arms)
                lev_codes = pd.factorize(vals[keep], sort=False)[0]
                arm_codes = pd.factorize(g[keep], sort=False)[0]
                if lev_codes.max(initial=0) >= 1 and arm_codes.max(initial=0) >= 1:
                    p = k.rao_scott_f(lev_codes, arm_codes, w_all[keep])[2]
                    test = "Rao-Scott F (design-based)"
                else:
                    test = "no test (one level)"
            elif not weighted and len(arms) >= 2:
                obs = k.drop_empty(raw)
                if obs.shape[0] < 2 or obs.shape[1] < 2:
                    p, test = float("nan"), "no test (one level)"
                elif (k.expected_counts(obs) < 5).any():
                    p, how = k.fisher_exact_rxc(obs, seed=seed)
                    test = "Fisher exact" if obs.shape == (2, 2) else "Fisher-Freeman-Halton"
                    if how != "exact":
                        test += " (Monte-Carlo)"
                        mc_used = True
                else:
                    _, _, p = k.pearson_chi2(obs, yates=yates)
                    test = "chi-square" + (" (Yates)" if yates and obs.shape == (2, 2) else "")
            props = [counts[:, j] / denom[j] if denom[j] > 0 else np.full(len(levels), np.nan)
                     for j in range(len(arms))]
            smd = (_pairwise_mean([k.smd_categorical(props[i], props[j])
                                   for i, j in combinations(range(len(arms)), 2)])
                   if len(arms) >= 2 and len(levels) >= 2 else float("nan"))
            tot = counts.sum(axis=1)
            tot_pct = 100 * tot / tot.sum() if tot.sum() > 0 else np.full(len(tot), np.nan)

            def cell(c: float, pc: float) -> str:
                num = f"{c:.1f}" if weighted else f"{int(round(c))}"
                return f"{num} ({pc:.{pct_digits}f}%)" if np.isfinite(pc) else num

            base = {"variable": label(var), "statistic": "n (%)", "p": p, "test": test,
                    "smd": smd, "missing": miss}
            if shown is not None:
                i = levels.index(shown) if shown in levels else None
                r = dict(base, level=str(shown), row_type="binary")
                for j, a in enumerate(arms):
                    r[a] = cell(counts[i, j], pct[i, j]) if i is not None else cell(0, 0.0)
                if overall:
                    r["overall"] = cell(tot[i], tot_pct[i]) if i is not None else cell(0, 0.0)
                rows.append(r)
            else:
                head = dict(base, level="", row_type="header")
                head.update({a: "" for a in arms})  # arm labels need not be strings
                if overall:
                    head["overall"] = ""
                rows.append(head)
                for i, lev in enumerate(levels):
                    r = {"variable": label(var), "level": str(lev), "statistic": "n (%)",
                         "p": float("nan"), "test": "", "smd": float("nan"), "missing": miss,
                         "row_type": "level"}
                    for j, a in enumerate(arms):
                        r[a] = cell(counts[i, j], pct[i, j])
                    if overall:
                        r["overall"] = cell(tot[i], tot_pct[i])
                    rows.append(r)
            for i, lev in enumerate(levels):
                for j, a in enumerate(arms):
                    numbers.append({"variable": var, "level": str(lev), "group": a,
                                    "n": denom[j], "count": counts[i, j],
                                    "percent": pct[i, j]})
            _add_missing(rows, label(var), s, masks, overall)
            continue

        # continuous
        x_all = pd.to_numeric(s, errors="coerce")
        bad = x_all.isna().to_numpy() & ~s.isna().to_numpy()
        if bad.any():
            raise InputError(Problem("non-numeric values in a continuous variable (list it in "
                                     "categorical= if it is a category)", var,
                                     row_ids(df, bad), "df"))
        x_all = x_all.to_numpy(dtype=float)
        ok = np.isfinite(x_all)
        xs = {a: x_all[masks[a] & ok] for a in arms}
        ws = {a: (w_all[masks[a] & ok] if weighted else None) for a in arms}
        if nonnormal == "auto":
            is_nonnormal = k.looks_nonnormal([xs[a] for a in arms], alpha_normal)
        elif isinstance(nonnormal, bool):
            is_nonnormal = nonnormal
        else:
            is_nonnormal = var in set(nonnormal)
        d = dig(var, x_all)
        summ = {}
        for a in list(arms) + (["overall"] if overall else []):
            x = x_all[ok] if a == "overall" else xs[a]
            w = (w_all[ok] if a == "overall" else ws[a]) if weighted else None
            m, v = k.weighted_mean_var(x, w if weighted else np.ones(len(x)))
            med, q1, q3 = k.weighted_quantiles(x, [0.5, 0.25, 0.75], w)
            summ[a] = (m, v, med, q1, q3)
            if a != "overall":
                numbers.append({"variable": var, "level": "", "group": a,
                                "n": float(w.sum()) if weighted else len(x),
                                "mean": m, "sd": np.sqrt(v), "median": med, "q1": q1,
                                "q3": q3})
        p, test = float("nan"), ""
        if weighted and weighted_tests and two and all(len(xs[a]) >= 2 for a in arms):
            yy = np.concatenate([xs[arms[0]], xs[arms[1]]])
            tr = np.r_[np.ones(len(xs[arms[0]])), np.zeros(len(xs[arms[1]]))]
            ww = np.concatenate([ws[arms[0]], ws[arms[1]]])
            p, test = k.design_t_test(yy, tr, ww)[2], "design-based t (weighted means)"
        elif not weighted and len(arms) >= 2 and all(len(xs[a]) >= 2 for a in arms):
            if two:
                x1, x2 = xs[arms[0]], xs[arms[1]]
                if is_nonnormal:
                    p = float(stats.mannwhitneyu(x1, x2, alternative="two-sided",
                                                 method="asymptotic",
                                                 use_continuity=True).pvalue)
                    test = "Mann-Whitney U"
                else:
                    if equal_var == "levene":
                        ev = not (k.levene_mean(x1, x2) < alpha_levene)
                    else:
                        ev = bool(equal_var)
                    p = k.t_test(x1, x2, equal_var=ev)[2]
                    test = "Student t" if ev else "Welch t"
            else:
                groups = [xs[a] for a in arms]
                if is_nonnormal:
                    p, test = float(stats.kruskal(*groups).pvalue), "Kruskal-Wallis"
                else:
                    p, test = float(stats.f_oneway(*groups).pvalue), "one-way ANOVA"
        smd = (_pairwise_mean([k.smd_continuous(summ[a][0], summ[a][1], summ[b][0], summ[b][1])
                               for a, b in combinations(arms, 2)])
               if len(arms) >= 2 else float("nan"))
        r = {"variable": label(var), "level": "", "p": p, "test": test, "smd": smd,
             "missing": miss, "row_type": "continuous"}
        if is_nonnormal:
            r["statistic"] = "median (Q1, Q3)"
            for a, (_, _, med, q1, q3) in summ.items():
                r[a] = f"{_fmt_num(med, d)} ({_fmt_num(q1, d)}, {_fmt_num(q3, d)})"
        else:
            r["statistic"] = "mean ± SD"
            for a, (m, v, *_rest) in summ.items():
                r[a] = f"{_fmt_num(m, d)} ± {_fmt_num(np.sqrt(v), d)}"
        rows.append(r)
        _add_missing(rows, label(var), s, masks, overall)

    cols = (["variable", "level", "statistic"] + list(arms) + (["overall"] if overall else [])
            + ["p", "test", "smd", "missing", "row_type"])
    table = pd.DataFrame(rows, columns=cols)
    num = pd.DataFrame(numbers, columns=["variable", "level", "group", "n", "count", "percent",
                                         "mean", "sd", "median", "q1", "q3"])

    kinds = set(table["row_type"])
    rules = _rules(nonnormal, equal_var, yates, alpha_normal, alpha_levene, weighted,
                   weights, len(arms), mc_used, seed, weighted_tests,
                   has_continuous="continuous" in kinds,
                   has_categorical=bool(kinds & {"binary", "header"}))
    if (table["missing"] > 0).any():
        notes.append("Missing values: " + ", ".join(
            f"{v} {m}" for v, m in table.groupby("variable", sort=False)["missing"].first()
            .items() if m > 0) + " (left out of that row's summaries and test; the "
            "'Missing' line gives the count per arm, unweighted, and percentages are among "
            "the non-missing, as R's tableone).")
    if mc_used:
        warnings.warn("a Fisher-Freeman-Halton p-value was estimated by Monte-Carlo "
                      f"(seed {seed}); the table was too large to enumerate",
                      SmallCountWarning, stacklevel=2)
    settings = {"nonnormal": nonnormal, "equal_var": equal_var, "yates": yates,
                "weighted_tests": weighted_tests,
                "alpha_normal": alpha_normal, "alpha_levene": alpha_levene,
                "p_digits": p_digits, "seed": seed, "weights": wcol or
                ("array" if weighted else None)}
    return TableOne(table=table, numbers=num, group=group, arms=arms, n=n, n_unweighted=n_unw,
                    weighted=weighted, rules=tuple(rules), settings=settings,
                    warnings=tuple(notes), title=title)


def _rules(nonnormal, equal_var, yates, alpha_normal, alpha_levene, weighted, weights,
           n_arms, mc_used, seed, weighted_tests=False, has_continuous=True,
           has_categorical=True) -> list[str]:
    """The rules in words, only for the kinds of rows the table has."""
    rules = []
    if not has_continuous:
        pass
    elif nonnormal == "auto":
        rules.append(f"Continuous: mean ± SD when Shapiro-Wilk p ≥ {alpha_normal} in every arm, "
                     "else median (Q1, Q3).")
    elif isinstance(nonnormal, bool):
        rules.append("Continuous: " + ("median (Q1, Q3) for all (user's choice)." if nonnormal
                                        else "mean ± SD for all (user's choice)."))
    elif len(list(nonnormal)) == 0:
        rules.append("Continuous: mean ± SD for all (user's choice).")
    else:
        rules.append("Continuous: median (Q1, Q3) for " + ", ".join(map(str, nonnormal)) +
                     " (user's choice); mean ± SD for the others.")
    if weighted:
        wname = weights if isinstance(weights, str) else "the weights given"
        text = (f"Weighted by {wname}: weighted means, SDs, quantiles, counts (sum of "
                "weights) and percentages; SMD from weighted variances (as R's tableone "
                "svyCreateTableOne; Propensity.balance() uses the unweighted pooled SD, as "
                "cobalt, so the two can differ slightly). ")
        if weighted_tests:
            text += ("Design-based tests (weights as sampling weights, as R's survey): t test "
                     "of weighted means with sandwich variance (svyttest) for continuous rows"
                     + (" (two arms only)" if n_arms != 2 else "") +
                     ", Rao-Scott second-order corrected chi-square (svychisq F) for "
                     "categories; balance is still judged by SMD.")
        else:
            text += ("Tests omitted: balance after weighting is judged by SMD (< 0.1), not by "
                     "p-values.")
        rules.append(text)
    else:
        if not has_continuous:
            pass
        elif n_arms == 2:
            if equal_var == "levene":
                tt = (f"Student t, or Welch t when Levene's test p < {alpha_levene}")
            else:
                tt = "Student t" if equal_var else "Welch t"
            rules.append(f"Tests: {tt} for mean ± SD rows; Mann-Whitney U (normal "
                         "approximation, tie and continuity corrected) for median rows.")
        else:
            rules.append("Tests: one-way ANOVA for mean ± SD rows; Kruskal-Wallis for median "
                         "rows.")
        chi = "chi-square with Yates correction for 2 x 2" if yates else \
            "Pearson chi-square (no continuity correction)"
        fish = ("Fisher's exact test (Fisher-Freeman-Halton beyond 2 x 2, exact"
                + (f"; Monte-Carlo, seed {seed}, for tables too large to enumerate)"
                   if mc_used else ")"))
        if has_categorical:
            rules.append(f"Categorical: {chi} when every expected count ≥ 5, else {fish}.")
    rules.append("SMD: standardized mean difference (Austin 2009; Yang & Dalton 2012 for "
                 "categories" + ("; mean of pairwise SMDs" if n_arms > 2 else "") + ").")
    return rules
