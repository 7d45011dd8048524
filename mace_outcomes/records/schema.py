"""What a cohort's records must look like: tables, columns and the ARC-2 vocabulary.

A cohort is three tables (Garcia-Garcia et al., *Standardized end point definitions
for coronary intervention trials: the Academic Research Consortium-2 consensus
document*, Circulation 2018;137:2635-2650):

``patients``
    ``patient_id``, ``arm``, ``index_date`` (the index PCI), ``last_contact_date``,
    then any baseline covariates.
``lesions`` (optional)
    ``lesion_id``, ``patient_id``, ``vessel`` (LM, LAD, LCX, RCA, graft), then lesion
    and procedure covariates.
``events``
    ``event_id``, ``patient_id``, optional ``lesion_id``, ``event_type``,
    ``event_date``, optional ``target_vessel`` and ``st_certainty``.

Users' own event codes are mapped onto the ARC-2 names by an alias table
(:func:`normalise_event_types`); a few common spellings are built in
(:data:`DEFAULT_ALIASES`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Required columns of each table, in the order they are listed in messages.
REQUIRED = {
    "patients": ("patient_id", "arm", "index_date", "last_contact_date"),
    "lesions": ("lesion_id", "patient_id", "vessel"),
    "events": ("event_id", "patient_id", "event_type", "event_date"),
}
#: Optional columns with a meaning to the package.
OPTIONAL = {
    "patients": (),
    "lesions": (),
    "events": ("lesion_id", "target_vessel", "st_certainty"),
}
#: Id column of each table.
ID_COLUMN = {"patients": "patient_id", "lesions": "lesion_id", "events": "event_id"}
#: Date columns of each table.
DATE_COLUMNS = {
    "patients": ("index_date", "last_contact_date"),
    "lesions": (),
    "events": ("event_date",),
}

#: ARC-2 event types understood by the package.
EVENT_TYPES = (
    "cardiac_death",
    "noncardiac_death",
    "undetermined_death",
    "mi",
    "tvr",
    "tlr",
    "stent_thrombosis",
    "stroke",
    "bleeding",
)
#: Event types that end follow-up.
DEATH_TYPES = ("cardiac_death", "noncardiac_death", "undetermined_death")
#: Order used to name the first event when several happen on the same day (ARC-2's
#: hierarchy: death before MI before revascularisation).
EVENT_PRIORITY = {
    "cardiac_death": 0,
    "undetermined_death": 1,
    "noncardiac_death": 2,
    "stent_thrombosis": 3,
    "mi": 4,
    "tlr": 5,
    "tvr": 6,
    "stroke": 7,
    "bleeding": 8,
}
#: Coronary vessels (culprit / treated vessel).
VESSELS = ("LM", "LAD", "LCX", "RCA", "graft")
#: ARC stent-thrombosis certainty levels.
ST_CERTAINTY = ("definite", "probable", "possible")

#: Built-in aliases (after normalisation: lower case, non-alphanumerics -> "_").
DEFAULT_ALIASES = {
    "cardiac_death": "cardiac_death",
    "cd": "cardiac_death",
    "cv_death": "cardiac_death",
    "cardiovascular_death": "cardiac_death",
    "death_cardiac": "cardiac_death",
    "non_cardiac_death": "noncardiac_death",
    "noncardiac_death": "noncardiac_death",
    "ncd": "noncardiac_death",
    "non_cardiovascular_death": "noncardiac_death",
    "undetermined_death": "undetermined_death",
    "unknown_death": "undetermined_death",
    "death_unknown_cause": "undetermined_death",
    "mi": "mi",
    "myocardial_infarction": "mi",
    "ami": "mi",
    "tvr": "tvr",
    "target_vessel_revascularisation": "tvr",
    "target_vessel_revascularization": "tvr",
    "tlr": "tlr",
    "target_lesion_revascularisation": "tlr",
    "target_lesion_revascularization": "tlr",
    "st": "stent_thrombosis",
    "stent_thrombosis": "stent_thrombosis",
    "stroke": "stroke",
    "cva": "stroke",
    "bleeding": "bleeding",
    "bleed": "bleeding",
    "major_bleeding": "bleeding",
}

_VESSEL_ALIASES = {
    "lm": "LM", "lmca": "LM", "left_main": "LM",
    "lad": "LAD",
    "lcx": "LCX", "cx": "LCX", "circumflex": "LCX",
    "rca": "RCA",
    "graft": "graft", "svg": "graft", "bypass_graft": "graft",
}


def normalise_code(value) -> str:
    """Lower case, with runs of non-alphanumerics turned into single underscores."""
    return re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")


def alias_table(aliases: Mapping | pd.DataFrame | None = None) -> dict[str, str]:
    """The alias table in use: built-in aliases overridden by the user's.

    ``aliases`` maps a user's code to an ARC-2 event type, given as a dict or as a
    DataFrame with columns ``code`` and ``event_type``. Codes are matched after
    :func:`normalise_code`, so ``"Cardiac death"`` and ``"cardiac-death"`` agree.
    """
    table = dict(DEFAULT_ALIASES)
    if aliases is None:
        return table
    if isinstance(aliases, pd.DataFrame):
        missing = {"code", "event_type"} - set(aliases.columns)
        if missing:
            from ..errors import Problem, SchemaError

            raise SchemaError(Problem(f"alias table needs columns code and event_type; "
                                      f"missing {sorted(missing)}", source="aliases"))
        aliases = dict(zip(aliases["code"], aliases["event_type"], strict=True))
    for code, target in aliases.items():
        table[normalise_code(code)] = normalise_code(target)
    return table


def normalise_event_types(values: pd.Series, aliases: Mapping[str, str]) -> pd.Series:
    """Map event codes onto ARC-2 names; unknown codes are kept as given (for the message)."""
    def one(v):
        if pd.isna(v) or str(v).strip() == "":
            return None
        return aliases.get(normalise_code(v), v)

    return _map_distinct(values, one)


def normalise_vessels(values: pd.Series) -> pd.Series:
    """Map vessel spellings (LAD, 'Cx', 'SVG', ...) onto :data:`VESSELS`; unknown kept."""
    def one(v):
        if pd.isna(v) or str(v).strip() == "":
            return None
        return _VESSEL_ALIASES.get(normalise_code(v), v)

    return _map_distinct(values, one)


def normalise_certainty(values: pd.Series) -> pd.Series:
    """Lower-case stent-thrombosis certainty; blanks become missing."""
    def one(v):
        if pd.isna(v) or str(v).strip() == "":
            return None
        return normalise_code(v)

    return _map_distinct(values, one)


def _map_distinct(values: pd.Series, fn) -> pd.Series:
    # A registry has millions of rows but a handful of distinct codes: map those only.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([fn(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


#: Id columns, read as text in every table where they appear (``"001"`` and ``"1"`` are
#: two patients; ``"1E3"`` and ``"NA"`` are ids, not a number and a missing value).
ID_COLUMNS = ("patient_id", "lesion_id", "event_id")


def ids_as_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids as text, the same whether they come from a file or from a DataFrame.

    Text is kept as written (surrounding spaces stripped; an empty cell is missing).
    Whole numbers become their digits (``7`` and ``7.0`` -> ``"7"``), as a spreadsheet,
    an SPSS file or a DataFrame of integers shows them. A number with a fraction, a
    boolean or an infinite value has no faithful text form as an id.

    Returns
    -------
    (text, bad): an object Series of ``str`` / ``None`` aligned with ``values``, and a
    boolean array marking the values that cannot be ids (left missing in ``text``).
    """
    s = values.astype(object) if isinstance(values.dtype, pd.CategoricalDtype) else values
    out = pd.Series(None, index=s.index, dtype=object)
    bad = np.zeros(len(s), dtype=bool)
    if pd.api.types.is_bool_dtype(s):
        bad[:] = s.notna().to_numpy()
        return out, bad
    if pd.api.types.is_numeric_dtype(s):
        text, bad = _numbers_as_text(s)
        return text.where(text.notna(), None), bad
    obj = s.astype(object)
    na = pd.isna(obj).to_numpy()
    kind = pd.api.types.infer_dtype(obj, skipna=True)
    if kind in ("string", "empty"):
        is_text = ~na
    else:  # a mixed column (Excel: numbers and text in one column)
        is_text = obj.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if is_text.any():
        txt = obj[is_text].str.strip()
        out[is_text] = txt.where(txt != "", None)
    rest = ~is_text & ~na
    if rest.any():
        flags = obj[rest].map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        numbers = pd.to_numeric(obj[rest].where(~flags), errors="coerce")
        text, nbad = _numbers_as_text(numbers)
        nbad |= flags | numbers.isna().to_numpy()
        # Anything else (a date, a bytes value): its plain text form.
        other = numbers.isna().to_numpy() & ~flags
        text[other] = obj[rest][other].astype(str).to_numpy()
        nbad &= ~other
        out[rest] = text.to_numpy()
        bad[rest] = nbad
    return out.where(out.notna(), None), bad


def _numbers_as_text(num: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Whole numbers as digits; fractions, infinities and overflow flagged as bad."""
    out = pd.Series(None, index=num.index, dtype=object)
    present = num.notna().to_numpy()
    if pd.api.types.is_integer_dtype(num):
        ok = present
        whole = num[ok].astype(np.int64)
    else:
        f = num.astype(float).to_numpy()
        with np.errstate(invalid="ignore"):
            ok = present & np.isfinite(f) & (np.mod(f, 1) == 0) & (np.abs(f) < 2.0 ** 63)
        whole = pd.Series(f[ok].astype(np.int64), index=num.index[ok])
    out[ok] = whole.astype(str).to_numpy()
    return out, present & ~ok
