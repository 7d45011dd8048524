"""Which columns a table describes by default: characteristics, not free text or identifiers.

A registry export carries comments, names and record numbers beside the covariates. Copied
into a Table 1 they would print one row per patient -- useless to a reader and a breach of
confidentiality -- so a table chooses by itself only numeric columns and categories with
few levels; a column that looks like free text or an identifier is left out, and the table
says which and why. A column the user names is always described.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

#: More distinct text values than this make a column free text, not a category.
MAX_LEVELS = 10
#: Text values longer than this are sentences, not category labels.
MAX_LABEL_LENGTH = 60
# a column whose name holds one of these parts, or these words as whole parts, is an
# identifier or free text ("carotid" or "lipid" end in -id but are not identifiers)
_NAME_PARTS = ("mrn", "name", "comment")
_NAME_WORDS = {"id", "ids", "uuid", "guid", "ssn", "note", "notes", "remark", "remarks",
               "text", "initials", "address", "email", "phone"}


def _identifier_name(name: str) -> bool:
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    low = name.lower()
    return any(p in low for p in _NAME_PARTS) or bool(_NAME_WORDS.intersection(words))


def _numbers_in_text(values: pd.Series) -> bool:
    """Text that is nearly all numbers is a numeric column with typing errors: describe it,
    so that the rows that are not numbers are reported (as table_one does)."""
    num = pd.to_numeric(values.astype(object), errors="coerce")
    return num.notna().mean() >= 0.9 and num.nunique() > MAX_LEVELS


def _reason(s: pd.Series) -> str | None:
    """Why ``s`` is not a characteristic to tabulate (``None``: it is one)."""
    if _identifier_name(str(s.name)):
        return "its name marks an identifier or free text"
    is_text = not (pd.api.types.is_numeric_dtype(s) or s.dtype == bool)
    if not is_text:
        return None
    values = s.dropna()
    if len(values) == 0 or _numbers_in_text(values):
        return None
    text = values.astype(str)
    levels = text.nunique()
    if text.str.len().max() > MAX_LABEL_LENGTH:
        return f"free text (values up to {text.str.len().max()} characters)"
    if levels > MAX_LEVELS:
        return f"free text or identifier ({levels} distinct values in {len(values)} rows)"
    if levels >= 5 and levels > len(values) / 2:
        return (f"identifier-like ({levels} distinct values in {len(values)} rows, "
                "more than half unique)")
    return None


def describable_columns(frame: pd.DataFrame,
                        named: Iterable[str] = ()) -> tuple[list[str], dict[str, str]]:
    """Split the columns of ``frame`` into those a table describes and those it leaves out.

    A column is kept when the user named it (``named``), when it is numeric or boolean,
    or when it is text or categorical with at most :data:`MAX_LEVELS` levels, short labels
    (at most :data:`MAX_LABEL_LENGTH` characters) and not mostly unique (five or more
    levels covering more than half of the rows). A column whose name marks an identifier
    or free text (containing ``mrn``, ``name`` or ``comment``, or a word such as ``id`` or
    ``note``) is left out whatever its type, unless named. Text that is nearly all numbers
    is kept, so that the values that are not numbers are reported by the table.

    Returns
    -------
    (kept column names in frame order, {left-out column: reason}).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [61, 70, 55, 68, 59, 73], "mrn": list("abcdef"),
    ...                    "site": list("xyzxyz")})
    >>> describable_columns(df)
    (['age', 'site'], {'mrn': 'its name marks an identifier or free text'})
    >>> describable_columns(df, named=["mrn"])[0]
    ['age', 'mrn', 'site']
    """
    named = set(named)
    kept, left_out = [], {}
    for col in frame.columns:  # a loop over columns; each test is vectorised
        reason = None if col in named else _reason(frame[col])
        if reason is None:
            kept.append(col)
        else:
            left_out[col] = reason
    return kept, left_out


def left_out_note(left_out: dict[str, str]) -> str:
    """The footnote naming the columns a table left out, and why."""
    items = "; ".join(f"{col} ({why})" for col, why in left_out.items())
    return (f"Not described (free text or identifiers): {items}. Name a column in "
            "variables= to describe it.")


# columns of a time_to_event() frame that are outcomes, not baseline characteristics
_OUTCOME_COLUMNS = {"time", "event", "status", "event_type"}


def default_variables(df: pd.DataFrame, group: str | None, wcol=None, exclude=(),
                      categorical=None) -> tuple[list[str], dict[str, str]]:
    """The columns a table describes when none are named (Table 1, missingness):
    characteristics, not the group or weights column, ids (``*_id``), dates, outcomes,
    free text or identifiers (those last two are returned as left out, with why)."""
    skip = {group, wcol, *exclude, *_OUTCOME_COLUMNS}
    candidates = [c for c in df.columns if c not in skip
                  and not str(c).endswith(("_id", "_date"))
                  and not pd.api.types.is_datetime64_any_dtype(df[c])]
    return describable_columns(df[candidates], named=categorical or ())
