"""A small expression language for row criteria (the exclusions of a study file).

A study file is data: opening a colleague's cohort folder must never run code. So a
criterion such as ``arm == 'none'`` is parsed here with :mod:`ast` and checked against
an explicit grammar, then evaluated column by column with pandas / numpy operations.
No ``eval``, ``exec`` or ``DataFrame.query`` is involved, and no attribute is looked up
from the user's text.

Grammar::

    expr       := expr or expr | expr and expr | not expr      (also  |  &  ~ , as pandas)
                | operand (cmp operand)+                        chained: 1 < x <= 3
                | operand in [literal, ...]  | operand not in (literal, ...)
                | isna(column) | notna(column)
                | operand | ( expr )
    cmp        := ==  !=  <  <=  >  >=
    operand    := column | literal | -number
    column     := name | `name with spaces`
    literal    := 12 | 1.5 | 'text' | "text" | True | False

As in pandas, ``&`` and ``|`` bind like ``and`` and ``or`` (looser than comparisons),
so ``arm == 'none' | x == 1`` means ``(arm == 'none') | (x == 1)``.

Missing values: ``== < <= > >=`` and ``in`` are False for a missing value, ``!=`` and
``not in`` are True (each the negation of its pair, as in pandas), so ``x == 1`` keeps
patients with ``x`` missing and ``x != 0`` removes them; ``isna(x)`` tests them directly.
A bare column used as a condition must hold only true/false (or 0/1) without gaps.
"""

from __future__ import annotations

import ast
import operator
import re

import numpy as np
import pandas as pd

from ..errors import InputError, Problem

GRAMMAR = ("the language allows column names (`backquoted` if they contain spaces), "
           "literals (12, 1.5, 'text', True, False), == != < <= > >=, and/or/not "
           "(or & | ~), x in [...] / x not in [...], isna(x) and notna(x)")

_FUNCTIONS = {"isna": pd.Series.isna, "notna": pd.Series.notna}
_COMPARE = {ast.Eq: operator.eq, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>",
           ast.BitXor: "^", ast.UAdd: "+", ast.USub: "-", ast.Is: "is", ast.IsNot: "is not"}
_KIND = {ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.Lambda: "lambda",
         ast.DictComp: "comprehension", ast.GeneratorExp: "comprehension",
         ast.JoinedStr: "f-string", ast.IfExp: "if-else", ast.NamedExpr: "assignment"}
# Outside string literals: backquoted names, and the operators rewritten before parsing.
_LEXEME = re.compile(r"""(?P<string>'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'
                         |"(?:\\.|[^"\\\n])*")|(?P<quoted>`[^`\n]*`)|(?P<op>[&|@])""",
                     re.X | re.S)


def _problem(reason: str, text: str, name: str | None, source: str,
             column: str | None = None) -> Problem:
    what = f"exclusion '{name}'" if name is not None else "expression"
    return Problem(f"{what} {text!r}: {reason}", column=column, source=source,
                   fix=GRAMMAR)


def _rewrite(text: str) -> tuple[str, dict[str, str], list[tuple[int, int]]]:
    """Python source for ``text``: `a b` -> placeholder name, & -> and, | -> or.

    Returns the source, placeholder -> column name, and (new, old) offsets of each
    rewrite so a syntax error can be reported at the user's own token.
    """
    out, names, shifts, pos = [], {}, [(0, 0)], 0
    for m in _LEXEME.finditer(text):
        if m.lastgroup == "string":
            continue
        token = m.group()
        if token == "@":  # pandas' @ reaches Python objects; here it is never valid
            raise SyntaxError("'@' is not allowed (a criterion names columns only)")
        new = (" and " if token == "&" else " or " if token == "|"
               else f"__column_{len(names)}__")
        if token.startswith("`"):
            names[new] = token[1:-1]
        out += [text[pos:m.start()], new]
        pos = m.end()
        shifts.append((sum(map(len, out)), pos))
    return "".join(out) + text[pos:], names, shifts


def _error_token(err: SyntaxError, source: str, text: str,
                 shifts: list[tuple[int, int]]) -> str:
    """The user's token at a syntax error's position (or the end of the expression)."""
    lines = source.split("\n")
    if not err.lineno or not err.offset or err.lineno > len(lines):
        return "end of the expression"
    at = sum(len(x) + 1 for x in lines[:err.lineno - 1]) + err.offset - 1
    new, old = max((s for s in shifts if s[0] <= at), default=(0, 0))
    at = old + (at - new)  # back to the user's text (rewrites move later offsets)
    m = re.compile(r"`[^`]*`?|\w+|['\"].*|\S").match(text, min(max(at, 0), len(text)))
    return "end of the expression" if m is None else repr(m.group()[:30])


def _show(node: ast.AST, names: dict[str, str]) -> str:
    shown = ast.unparse(node)
    for placeholder, column in names.items():
        shown = shown.replace(placeholder, f"`{column}`")
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _is_literal(node: ast.AST) -> bool:
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    node, types = (node.operand, (int, float)) if negative else (node, (bool, int, float, str))
    return isinstance(node, ast.Constant) and type(node.value) in types


def _refusals(node: ast.AST, used: list[str], names: dict[str, str]) -> list[str]:
    """Why each part of ``node`` outside the grammar is refused; collects column names."""
    def walk(*nodes: ast.AST) -> list[str]:
        return [r for n in nodes for r in _refusals(n, used, names)]

    if isinstance(node, ast.Name):
        used.append(names.get(node.id, node.id))
        return []
    if _is_literal(node):
        return []
    if isinstance(node, ast.Constant):
        hint = " (test missing values with isna(x))" if node.value is None else ""
        return [f"literal {_show(node, names)} is not allowed{hint}"]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        return walk(node.operand)
    if isinstance(node, ast.UnaryOp):
        return [f"unary '{_SYMBOL[type(node.op)]}' is only allowed before a number"]
    if isinstance(node, ast.BoolOp):
        return walk(*node.values)
    if isinstance(node, ast.Compare):
        out = walk(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                ok = (isinstance(right, (ast.List, ast.Tuple))
                      and all(_is_literal(e) for e in right.elts))
                out += [] if ok else [f"'in' needs a list of literals, not "
                                      f"{_show(right, names)!r} (e.g. arm in ['A', 'B'])"]
            elif type(op) not in _COMPARE and not isinstance(op, ast.NotEq):
                out.append(f"'{_SYMBOL[type(op)]}' is not allowed (use isna(x) / notna(x))")
            else:
                out += walk(right)
        return out
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FUNCTIONS:
            if len(node.args) == 1 and not node.keywords and isinstance(node.args[0],
                                                                        ast.Name):
                return walk(node.args[0])
            return [f"{func.id}() takes one column name, e.g. {func.id}(age)"]
        if isinstance(func, ast.Name):
            return [f"call to '{func.id}()' is not allowed (the only functions are "
                    f"isna and notna)"]
        return walk(func) or [f"call of '{_show(func, names)}' is not allowed"]
    if isinstance(node, ast.Attribute):
        return [f"attribute access '.{node.attr}' is not allowed"] + walk(node.value)
    if isinstance(node, ast.Subscript):
        return [f"subscript '{_show(node, names)}' is not allowed"] + walk(node.value)
    if isinstance(node, ast.BinOp):
        return [f"arithmetic '{_SYMBOL.get(type(node.op), '?')}' is not allowed in "
                f"'{_show(node, names)}'"]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [f"list '{_show(node, names)}' is only allowed after 'in' / 'not in'"]
    kind = _KIND.get(type(node), type(node).__name__.lower())
    return [f"{kind} '{_show(node, names)}' is not allowed"]


def _parse(text: str, name: str | None, source: str) -> tuple[ast.AST, dict, list[str]]:
    """Checked tree, placeholder -> backquoted name, columns used; or InputError."""
    python = body = text
    names, shifts = {}, [(0, 0)]
    try:
        python, names, shifts = _rewrite(text)
        body = python.lstrip()  # eval mode refuses leading blanks; keep offsets right
        shifts = [(new + len(body) - len(python), old) for new, old in shifts]
        tree = ast.parse(body, mode="eval")
        used: list[str] = []
        refused = _refusals(tree.body, used, names)
    except SyntaxError as err:
        reason = (err.msg if err.msg.startswith("'@'") else
                  f"syntax error at {_error_token(err, body, text, shifts)} ({err.msg})")
        raise InputError(_problem(reason, text, name, source)) from None
    except (RecursionError, ValueError) as err:  # absurd nesting, null bytes
        raise InputError(_problem(f"cannot be read ({err})", text, name, source)) from None
    if refused:
        raise InputError([_problem(r, text, name, source) for r in refused])
    return tree.body, names, list(dict.fromkeys(used))


def columns(expression: str) -> list[str]:
    """The column names an expression uses, in order of first use (raises if invalid)."""
    return _parse(expression, None, "expression")[2]


def evaluate(expression: str, df: pd.DataFrame, *, name: str | None = None,
             source: str = "df") -> np.ndarray:
    """Evaluate ``expression`` on the rows of ``df``: a boolean array aligned with ``df``.

    ``name`` (the criterion's name) and ``source`` (file or table) go into messages.
    Raises InputError naming every refused token, unknown column or failed comparison.
    """
    tree, names, used = _parse(expression, name, source)
    unknown = [c for c in used if c not in df.columns]
    if unknown:
        raise InputError([_problem(f"unknown column '{c}' (columns are {list(df.columns)})",
                                   expression, name, source, column=c) for c in unknown])
    try:
        return _mask(_value(tree, df, names), len(df))
    except (TypeError, ValueError) as err:
        raise InputError(_problem(str(err), expression, name, source)) from None


def _label(value) -> str:
    return f"column '{value.name}'" if isinstance(value, pd.Series) else repr(value)


def _mask(value, n: int) -> np.ndarray:
    """A value used as a condition: a boolean array of length ``n``."""
    if isinstance(value, pd.Series):
        if value.notna().all() and value.isin([0, 1]).all():  # bool, or 0/1 without gaps
            return value.to_numpy().astype(bool)
        raise ValueError(f"column '{value.name}' is not a true/false condition (it has "
                         f"missing or other values); compare it, e.g. {value.name} == 1")
    if isinstance(value, (bool, np.bool_, np.ndarray)):
        return np.broadcast_to(value, (n,)).astype(bool)
    raise ValueError(f"literal {value!r} is not a condition; compare a column with it")


def _bools(value, n: int) -> np.ndarray:
    """A comparison's result as booleans; a missing result (nullable dtypes) is False."""
    if isinstance(value, pd.Series):
        return value.to_numpy(dtype=bool, na_value=False)
    return np.broadcast_to(np.asarray(value, dtype=bool), (n,)).copy()


def _value(node: ast.AST, df: pd.DataFrame, names: dict[str, str]):
    """Vectorised value of a checked tree on ``df``: a column, a literal or a mask."""
    n = len(df)

    def sub(x: ast.AST):
        return _value(x, df, names)

    if isinstance(node, ast.Name):
        return df[names.get(node.id, node.id)]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return (-node.operand.value if isinstance(node.op, ast.USub)
                else ~_mask(sub(node.operand), n))
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce([_mask(sub(v), n) for v in node.values])
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](sub(node.args[0])).to_numpy(dtype=bool)
    out, left = np.ones(n, dtype=bool), sub(node.left)  # chained: 1 < x < 3 is and-ed
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, (ast.In, ast.NotIn)):
            values = [sub(e) for e in right_node.elts]
            hit = left.isin(values) if isinstance(left, pd.Series) else np.isin(left, values)
            out &= _bools(hit, n) ^ isinstance(op, ast.NotIn)
            continue
        right = sub(right_node)
        try:  # != is the negation of ==, so a missing value is != everything
            hit = _bools(_COMPARE.get(type(op), operator.eq)(left, right), n)
        except TypeError as err:
            raise TypeError(f"cannot compare {_label(left)} with {_label(right)} "
                            f"({err})") from None
        out &= hit ^ isinstance(op, ast.NotEq)
        left = right
    return out
