"""One design-matrix builder, with R's term names, for every model of the package.

``design(df, covariates=[...])`` or ``design(df, formula="arm * diabetes + age")`` gives
the numeric matrix that Cox, Fine-Gray, propensity and outcome regressions fit, named
as R's ``model.matrix`` names it, so a reviewer can hold our table against R's:

- a numeric column is one column under its own name (``age``; a 0/1 integer stays
  numeric, as in R);
- a text, categorical or boolean column is a factor: one 0/1 column per level other
  than the reference, named variable + level (``vesselLCX``, ``diabetesTRUE``). The
  reference is the first level (sorted labels, a categorical's own order, ``False``)
  unless ``reference={"vessel": "LAD"}`` names another; ``factor(x)`` (or ``C(x)``)
  in a formula makes a numeric column a factor;
- ``a:b`` is the interaction (product) of ``a`` and ``b``, named ``armOCT:diabetes``;
  ``a * b`` means ``a + b + a:b``. Terms are ordered as R orders them (main effects,
  then two-way interactions, ...), and within an interaction a factor whose margin is
  absent from the model is coded by all its levels, as R does (``~ ecog + arm:age``
  gives ``armIVUS:age`` and ``armOCT:age``).

The formula language is parsed here (names, ``+``, ``*``, ``:``, ``factor()``); nothing
in it is evaluated. ``.terms`` maps each term to its columns, for joint Wald tests of a
multi-level factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from ._frames import missing_problems, row_ids
from .errors import InputError, Problem

# what to write instead of the patsy / R constructs the language leaves out
_FORMULA_FIX = ("use column names with '+', ':', '*' and factor(column); nothing else is "
                "evaluated: add a transformed column to the frame instead of np.log(x) or "
                "I(x**2), choose a factor's reference level with reference={'x': 'level'} "
                "(or make x a pandas Categorical whose first category is the reference) "
                "instead of C(x, Treatment(...)), and leave out '- 1' / '0 +' (each model "
                "handles its own intercept)")
_NAME = re.compile(r"^(?:(factor|C)\(\s*([A-Za-z_][\w.]*)\s*\)|([A-Za-z_][\w.]*))$")


@dataclass(frozen=True, eq=False)
class Design:
    """A model's numeric design: ``x`` (n x p), R's column ``names`` and the ``terms``."""

    x: np.ndarray
    names: list[str]
    terms: dict[str, list[str]]                  # term label -> its columns
    levels: dict[str, list] = field(default_factory=dict)   # factor -> levels, ref first

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.x, columns=self.names)


def parse_formula(formula: str, source: str = "formula") -> tuple[list[tuple[str, ...]], set]:
    """Terms of a right-hand side as tuples of variables, in R's order; and the variables
    marked ``factor()``. A left side (``y ~``) is ignored."""
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    terms: list[tuple[str, ...]] = []
    forced: set[str] = set()
    first_seen: dict[str, int] = {}
    for chunk in rhs.split("+"):
        chunk = chunk.strip()
        if not chunk:
            raise InputError(Problem(f"empty term in formula {formula!r}", source=source,
                                     fix="write terms as 'a + b', 'a:b' or 'a * b'"))
        # a * b * c: every product of a subset; a:b one product
        crossed = []
        for part in chunk.split("*"):
            names = []
            for token in part.split(":"):
                m = _NAME.match(token.strip())
                if m is None:
                    raise InputError(Problem(
                        f"cannot read {token.strip()!r} in formula {formula!r}",
                        source=source, fix=_FORMULA_FIX))
                name = m.group(2) or m.group(3)
                if m.group(2):
                    forced.add(name)
                first_seen.setdefault(name, len(first_seen))
                names.append(name)
            crossed.append(tuple(names))
        for k in range(1, len(crossed) + 1):
            for combo in _subsets(crossed, k):
                terms.append(tuple(v for part in combo for v in part))
    unique: list[tuple[str, ...]] = []
    for t in terms:
        t = tuple(sorted(dict.fromkeys(t), key=first_seen.get))
        if t not in unique:
            unique.append(t)
    # R orders terms by their order (main effects first), stably
    return sorted(unique, key=len), forced


def _subsets(parts: list, k: int):
    if k == 0:
        yield ()
        return
    for i, p in enumerate(parts):
        for rest in _subsets(parts[i + 1:], k - 1):
            yield (p,) + rest


def _levels(s: pd.Series, reference, name: str, source: str) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = [lv for lv in s.cat.categories if (s == lv).any()]
    elif pd.api.types.is_bool_dtype(s):
        levels = [v for v in (False, True) if (s == v).any()]
    else:
        levels = sorted(pd.unique(s).tolist(), key=lambda v: (str(type(v)), v))
    if reference is not None:
        if reference not in levels:
            raise InputError(Problem(f"reference level {reference!r} is not among "
                                     f"{levels}", name, source=source))
        levels = [reference] + [v for v in levels if v != reference]
    return levels


def _label(level) -> str:
    return "TRUE" if level is True else "FALSE" if level is False else str(level)


def model_variables(covariates=None, formula: str | None = None) -> list[str]:
    """The columns a model reads, from its ``covariates`` or its ``formula``."""
    if formula is not None:
        return list(dict.fromkeys(v for t in parse_formula(formula)[0] for v in t))
    return [covariates] if isinstance(covariates, str) else list(covariates or [])


def design(df: pd.DataFrame, covariates=None, formula: str | None = None,
           reference: dict | None = None, source: str = "data") -> Design:
    """The design matrix of ``covariates`` (main effects) or of a ``formula``.

    Missing or non-finite values, constant numeric columns and single-level factors are
    reported together (column, row ids, reason).
    """
    if formula is not None and covariates is not None:
        raise InputError(Problem("give covariates=[...] or formula='...', not both",
                                 source=source))
    if formula is not None:
        terms, forced = parse_formula(formula, source)
    else:
        covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
        terms, forced = [(c,) for c in dict.fromkeys(covariates)], set()
    variables = list(dict.fromkeys(v for t in terms for v in t))
    missing = [v for v in variables if v not in df.columns]
    if missing:
        raise InputError([Problem(f"covariate column not found (columns are "
                                  f"{list(df.columns)})", column=v, source=source)
                          for v in missing])
    reference = dict(reference or {})
    unknown = [k for k in reference if k not in variables]
    if unknown:
        raise InputError(Problem(f"reference names {unknown}, which are not in the model "
                                 f"{variables}", column="reference", source=source))
    problems: list[Problem] = []
    numeric: dict[str, np.ndarray] = {}
    factors: dict[str, list] = {}
    for v in variables:
        s = df[v]
        if s.isna().any():  # the one message: column, ids, count, remedies
            problems += missing_problems(df, [v], source, policy=False)
            continue
        is_number = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                     and not isinstance(s.dtype, pd.CategoricalDtype))
        if is_number and v not in forced and v not in reference:
            x = s.to_numpy(dtype=float)
            if not np.isfinite(x).all():
                problems.append(Problem("non-finite covariate value", v,
                                        row_ids(df, ~np.isfinite(x)), source))
            elif np.ptp(x) == 0:
                problems.append(Problem("covariate is constant: its coefficient is not "
                                        "identifiable", v, (), source))
            numeric[v] = x
            continue
        levels = _levels(s, reference.get(v), v, source)
        if len(levels) < 2:
            problems.append(Problem(f"categorical covariate has a single level {levels}",
                                    v, (), source))
        factors[v] = levels
    if problems:
        raise InputError(problems)

    present = set(terms) | {()}
    cols, names, term_cols = [], [], {}
    for t in terms:
        pieces = []  # per variable: list of (name, values)
        for v in t:
            if v in numeric:
                pieces.append([(v, numeric[v])])
                continue
            vals = df[v].to_numpy()
            margin = tuple(u for u in t if u != v)
            keep = factors[v][1:] if margin in present else factors[v]
            pieces.append([(f"{v}{_label(lv)}", (vals == lv).astype(float)) for lv in keep])
        label = ":".join(t)
        term_cols[label] = []
        # R varies the first variable fastest
        for combo in product(*reversed(pieces)):
            combo = combo[::-1]
            names.append(":".join(n for n, _ in combo))
            cols.append(np.prod([x for _, x in combo], axis=0))
            term_cols[label].append(names[-1])
    x = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    return Design(x=x, names=names, terms=term_cols, levels=factors)
