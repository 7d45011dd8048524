"""Pull validated numpy arrays out of a user's DataFrame.

Every estimator calls :func:`survival_arrays` first, so every estimator rejects
bad input the same way: an :class:`~mace_outcomes.errors.InputError` naming the
column, the offending row labels and the reason. Nothing is dropped silently.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ClusteringWarning, ExtremeWeightWarning, InputError, Problem

#: A column argument (``weights=``, ``cluster=``, ``strata=``): a column name, or a
#: Series / array aligned with the rows (e.g. ``ps.weights``), parsed by
#: :func:`column_values`.
ColumnArg = str | pd.Series | np.ndarray | None


@dataclass(frozen=True)
class SurvivalArrays:
    """Columns of a survival frame as arrays, in the frame's row order."""

    time: np.ndarray  # float64, >= 0
    event: np.ndarray  # int8 0/1 (or status codes 0..k when ``status`` was used)
    group: np.ndarray | None  # object/label array
    weights: np.ndarray | None  # float64, > 0
    cluster: np.ndarray | None  # integer codes 0..n_clusters-1
    strata: np.ndarray | None  # integer codes
    index: pd.Index
    group_levels: list | None = None
    strata_levels: list | None = None
    start: np.ndarray | None = None  # entry times of (start, stop] rows, float64


ID_COLUMNS = ("lesion_id", "patient_id")


def row_ids(df: pd.DataFrame, mask) -> tuple:
    """The ids a user knows the flagged rows by, for error messages.

    ``lesion_id`` on a lesion-level frame, else ``patient_id``, else the index labels:
    never internal positions of a frame the package built.
    """
    mask = np.asarray(mask, dtype=bool)
    for col in ID_COLUMNS:
        if col in df.columns:
            return tuple(df[col].to_numpy()[mask].tolist())
    return tuple(df.index[mask].tolist())


_rows = row_ids

#: The choices of ``missing=``: stop naming the rows, or fit on the complete rows.
MISSING_POLICIES = ("error", "complete_case")
_MISSING_FIX = ("choose missing=\"complete_case\" to fit on the rows with every used value "
                "(the rows left out are listed in the result's .dropped and notes), or "
                "impute them first with mo.impute(...)")
_MISSING_FIX_NO_POLICY = ("drop these rows explicitly (and report it), or impute them first "
                          "with mo.impute(...)")


def missing_problems(df: pd.DataFrame, columns, source: str = "data",
                     policy: bool = True) -> list[Problem]:
    """One :class:`Problem` per column of ``columns`` holding missing values: the column,
    the count, the rows by :func:`row_ids` and the remedies (``missing="complete_case"``
    where the estimator offers it, ``policy``, or ``mo.impute``). The one message of every
    estimator that meets a missing covariate, weight or time."""
    problems = []
    for c in _used(df, columns):
        na = df[c].isna().to_numpy()
        if na.any():
            n = int(na.sum())
            problems.append(Problem(
                f"{n} missing value{'s' if n != 1 else ''} (of {len(df)} rows)", c,
                row_ids(df, na), source, _MISSING_FIX if policy else _MISSING_FIX_NO_POLICY))
    return problems


def _used(df: pd.DataFrame, columns) -> list[str]:
    """The column names among ``columns`` (Series / arrays / None skipped), once each."""
    return list(dict.fromkeys(c for c in columns if isinstance(c, str) and c in df.columns))


@dataclass(frozen=True)
class CompleteCases:
    """The rows to fit under a ``missing=`` policy, and those left out."""

    frame: pd.DataFrame
    dropped: pd.DataFrame  # one row per (row left out, missing variable): id, variable
    notes: list


def complete_cases(df: pd.DataFrame, columns, missing: str = "error",
                   source: str = "data") -> CompleteCases:
    """Apply the ``missing=`` policy to the used ``columns`` of ``df``.

    ``"error"``: an :class:`InputError` listing every column with missing values
    (:func:`missing_problems`). ``"complete_case"``: the rows with every used value, the
    rows left out (``dropped``: id, variable; a row missing two variables appears twice)
    and a note counting them per variable.
    """
    if missing not in MISSING_POLICIES:
        raise InputError(Problem(f"missing must be one of {MISSING_POLICIES}, got "
                                 f"{missing!r}", source=source))
    used = _used(df, columns)
    na = df[used].isna().to_numpy() if used else np.zeros((len(df), 0), bool)
    if missing == "error" or not na.any():
        if na.any():
            raise InputError(missing_problems(df, used, source))
        return CompleteCases(df, pd.DataFrame({"id": [], "variable": []}), [])
    dropped = dropped_rows(df, na, used)
    note = complete_case_note(int(na.any(axis=1).sum()), len(df), used, na.sum(axis=0))
    return CompleteCases(df.loc[~na.any(axis=1)], dropped, [note])


def dropped_rows(df: pd.DataFrame, na: np.ndarray, used: list) -> pd.DataFrame:
    """(id, variable) of every missing value of ``na`` (rows of ``df`` by ``used``),
    row-major: each row's variables in column order."""
    rows, cols = np.nonzero(na)
    ids = np.asarray(row_ids(df, np.ones(len(df), bool)), dtype=object)
    return pd.DataFrame({"id": ids[rows], "variable": np.asarray(used, dtype=object)[cols]})


def complete_case_note(n_rows: int, n: int, used: list, per: np.ndarray) -> str:
    """The note of a complete-case fit: rows left out of ``n``, with the count per variable."""
    counts = ", ".join(f"{c} {int(k)}" for c, k in zip(used, per, strict=True) if k)
    return (f"complete cases: {n_rows} of {n} rows left out for a missing value "
            f"(missing {counts})")


def _codes(values: pd.Series) -> tuple[np.ndarray, list]:
    codes, levels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), list(levels)


def survival_arrays(
    df: pd.DataFrame,
    *,
    time: str,
    event: str | None = None,
    status: str | None = None,
    group: str | None = None,
    weights: str | pd.Series | np.ndarray | None = None,
    cluster: str | pd.Series | np.ndarray | None = None,
    strata: str | pd.Series | np.ndarray | None = None,
    min_groups: int = 1,
    source: str = "data",
    start: str | None = None,
) -> SurvivalArrays:
    """Validate and extract the columns of a survival analysis.

    Parameters
    ----------
    df : DataFrame, one row per subject (or lesion).
    time : column of follow-up times (days), non-negative and not missing.
    event : column of 0/1 event indicators (or booleans).
    status : instead of ``event``, a competing-risks status column 0, 1, 2, ...
    group, strata : columns of labels; missing labels are an error.
    weights : column of positive finite weights, or a Series / array of them aligned with
        the rows (e.g. ``ps.weights``).
    cluster : column of cluster ids (e.g. ``patient_id``), or aligned ids; missing ids
        are an error. ``weights``, ``cluster`` and ``strata`` are read by
        :func:`column_values`.
    min_groups : the number of distinct group labels required (2 for a comparison).
    source : name of the table, used in error messages.
    start : column of entry times of counting-process rows ``(start, stop]`` (delayed
        entry, time-varying covariates): not missing, ``>= 0`` and below ``time``.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}",
                                 source=source))
    problems: list[Problem] = []
    wanted = {"time": time, "start": start, "event": event, "status": status, "group": group,
              "weights": weights, "cluster": cluster, "strata": strata}
    missing = [c for c in wanted.values()
               if isinstance(c, str) and c not in df.columns]
    if missing:
        raise InputError([Problem(f"column not found (columns are {list(df.columns)})",
                                  column=c, source=source) for c in missing])
    if len(df) == 0:
        raise InputError(Problem("the table has no rows", source=source))

    # missing values in a used column: the one message (column, ids, count, remedies)
    problems += missing_problems(df, [time, event, status, weights], source, policy=False)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t) & df[time].notna().to_numpy()
    if bad.any():
        problems.append(Problem("non-numeric or infinite time", time, _rows(df, bad), source))
    neg = np.isfinite(t) & (t < 0)
    if neg.any():
        problems.append(Problem("negative time", time, _rows(df, neg), source))

    s0 = None
    if start is not None:
        s0 = pd.to_numeric(df[start], errors="coerce").to_numpy(dtype=float)
        problems += _start_problems(df, s0, t, start, time, source)

    indicator_col = event if event is not None else status
    if indicator_col is None:
        raise InputError(Problem("give an event (0/1) or a status column", source=source))
    col = df[indicator_col]
    if col.dtype == bool:
        col = col.astype(np.int8)
    e_raw = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    if event is not None:
        bad_e = ~np.isin(e_raw, (0.0, 1.0))
        reason = "event must be 0 (censored) or 1 (event)"
    else:
        bad_e = ~(np.isfinite(e_raw) & (e_raw >= 0) & (np.floor(e_raw) == e_raw))
        reason = "status must be 0 (censored) or a cause code 1, 2, ..."
    bad_e &= col.notna().to_numpy()  # missing ones are reported above
    if bad_e.any():
        problems.append(Problem(reason, indicator_col, _rows(df, bad_e), source))

    g = levels = None
    if group is not None:
        gs = df[group]
        # one hashing pass finds both the missing labels (code -1) and the levels
        codes, uniques = pd.factorize(gs, use_na_sentinel=True)
        na = codes < 0
        if na.any():
            problems.append(Problem("missing group label", group, _rows(df, na), source))
        levels = sorted(uniques.tolist(), key=_sort_key)
        if len(levels) < min_groups:
            problems.append(Problem(f"needs at least {min_groups} groups, found "
                                    f"{len(levels)} ({levels})", group, (), source))
        g = gs.to_numpy()

    w = None
    if weights is not None:
        values, wname = column_values(df, weights, "weights", source)
        w = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        bad_w = ~np.isfinite(w) | (w <= 0)
        if isinstance(weights, str):  # a missing weight in a column is reported above
            bad_w &= df[weights].notna().to_numpy()
        if bad_w.any():
            problems.append(Problem("weights must be positive and finite (missing, zero, "
                                    "negative or infinite found)", wname, _rows(df, bad_w), source))

    cl = None
    if cluster is not None:
        cvals, cname = column_values(df, cluster, "cluster", source)
        na = cvals.isna().to_numpy()
        if na.any():
            problems.append(Problem("missing cluster id", cname, _rows(df, na), source))
        else:
            cl, _ = _codes(cvals)

    st = st_levels = None
    if strata is not None:
        svals, sname = column_values(df, strata, "strata", source)
        na = svals.isna().to_numpy()
        if na.any():
            problems.append(Problem("missing stratum label", sname, _rows(df, na), source))
        else:
            st, st_levels = _codes(svals)

    if problems:
        raise InputError(problems)
    return SurvivalArrays(time=t, event=e_raw.astype(np.int64), group=g, weights=w,
                          cluster=cl, strata=st, index=df.index, group_levels=levels,
                          strata_levels=st_levels, start=s0)


def _start_problems(df, s0, t, start, time, source) -> list[Problem]:
    """Entry times must be numbers, non-negative and before the row's stop time."""
    out = []
    bad = ~np.isfinite(s0)
    if bad.any():
        out.append(Problem("missing or non-numeric start time", start, _rows(df, bad), source))
    neg = np.isfinite(s0) & (s0 < 0)
    if neg.any():
        out.append(Problem("negative start time", start, _rows(df, neg), source))
    with np.errstate(invalid="ignore"):
        late = np.isfinite(s0) & np.isfinite(t) & (s0 >= t)
    if late.any():
        out.append(Problem(f"start must be before {time!r} (a (start, stop] row of positive "
                           "length)", start, _rows(df, late), source,
                           fix="drop rows of zero length or correct the times"))
    return out


def column_values(df: pd.DataFrame, value, role: str,
                  source: str = "data") -> tuple[pd.Series, str]:
    """The one parser of ``weights=``, ``cluster=`` and ``strata=`` (``role``): a column
    name, or a Series / array aligned with the rows (e.g. ``ps.weights``). A Series is
    aligned by the frame's index labels and must cover every row; an array must have one
    value per row. Returns the values as a Series on ``df.index`` and the name to use in
    messages (the column's, the Series', else ``role``).

    >>> df = pd.DataFrame({"w": [1.0, 2.0]}, index=[10, 11])
    >>> column_values(df, pd.Series([2.0, 1.0], index=[11, 10]), "weights")[0].tolist()
    [1.0, 2.0]
    """
    if isinstance(value, str):
        if value not in df.columns:
            raise InputError(Problem(f"{role} column not found (columns are "
                                     f"{list(df.columns)})", value, source=source))
        return df[value], value
    if isinstance(value, pd.Series):
        if not value.index.equals(df.index):
            if not df.index.isin(value.index).all():
                raise InputError(Problem(f"the {role} Series does not cover every row "
                                         "(index labels differ)", role, source=source,
                                         fix="pass a Series with the frame's index, "
                                             "or a column name"))
            value = value.reindex(df.index)
        return value, str(value.name or role)
    values = np.asarray(value)
    if values.shape != (len(df),):
        raise InputError(Problem(f"{role} have shape {values.shape}, expected ({len(df)},)",
                                 role, source=source, fix="give one value per row"))
    return pd.Series(values, index=df.index), role


def _weight_values(df: pd.DataFrame, weights) -> tuple[pd.Series, str]:
    return column_values(df, weights, "weights")


_MISSING = object()


def renamed(kwargs: dict, old: str, new: str, func_name: str, value=None, default=None):
    """The value of keyword ``new``, also accepted under its old name ``old``.

    ``kwargs`` is the function's ``**deprecated`` catch-all: ``old`` is popped from it
    with a ``FutureWarning`` naming ``new``; giving both is a TypeError. Call
    :func:`no_other_keywords` after the last alias so a misspelt keyword still fails.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     renamed({"tau": 365}, "tau", "horizon", "rmst"), w[0].category.__name__
    (365, 'FutureWarning')
    """
    old_value = kwargs.pop(old, _MISSING)
    if old_value is _MISSING:
        return value
    if _given(value, default):
        raise TypeError(f"{func_name}() got both {new}= and its old name {old}=; "
                        f"give {new}= only")
    warnings.warn(f"{func_name}(): {old}= is now called {new}= (the package's one name "
                  f"for it); {old}= still works", FutureWarning, stacklevel=3)
    return old_value


def _given(value, default) -> bool:
    if value is default:
        return False
    try:
        return bool(value != default)
    except (TypeError, ValueError):  # arrays compare elementwise: given
        return True


def no_other_keywords(kwargs: dict, func_name: str) -> None:
    """Raise the TypeError Python raises for an unknown keyword (left after the aliases)."""
    if kwargs:
        raise TypeError(f"{func_name}() got an unexpected keyword argument "
                        f"{next(iter(kwargs))!r}")


def arm_order(labels, treated=None, reference=None, source: str = "data",
              column: str | None = None) -> list:
    """The arms in the package's one order: treated first, the reference (comparator) last.

    One rule for every HR, difference, table and figure: the reference arm is the first
    label in sorted order, as R's factor levels make it (``IVUS`` for IVUS/OCT, ``0`` for
    0/1, ``False`` for booleans), unless ``reference`` (or, with two arms, ``treated``)
    names it; the study file's ``arms = [treated, reference]`` passes both. Estimates
    then read *treated vs reference* (R's ``armOCT``).

    >>> arm_order(["OCT", "IVUS", "OCT"]), arm_order([0, 1]), arm_order("abc", treated="a")
    (['OCT', 'IVUS'], [1, 0], ['a', 'c', 'b'])
    """
    levels = sorted(pd.unique(pd.Series(list(labels), dtype=object)).tolist(), key=_sort_key)
    problems = [Problem(f"{role}={value!r} is not one of the arms {levels}", column,
                        source=source)
                for role, value in (("treated", treated), ("reference", reference))
                if value is not None and value not in levels]
    if treated is not None and treated == reference:
        problems.append(Problem(f"treated and reference are the same arm {treated!r}",
                                column, source=source))
    if problems:
        raise InputError(problems)
    if reference is None:
        reference = next(v for v in levels if v != treated)
    rest = [v for v in levels if v != reference]
    if treated is not None:
        rest = [treated] + [v for v in rest if v != treated]
    return rest + [reference]


def _sort_key(v):
    # Sort mixed labels deterministically (numbers before strings).
    return (0, v, "") if isinstance(v, (int, float, np.number)) else (1, 0, str(v))


# A subject whose weight exceeds this multiple of the mean weight of its arm dominates a
# weighted analysis; the one rule of propensity() and of every estimator given weights.
EXTREME_RELATIVE_WEIGHT = 10.0


def relative_weights(w: np.ndarray, groupings=()) -> np.ndarray:
    """Each weight over the mean weight of its cell: the smallest such ratio over the
    groupings given (arrays of labels, e.g. the arm), else over the whole sample.

    Missing (NaN) weights, e.g. trimmed rows, take no part and get 0. With the arm
    among the groupings a weight is flagged only when it is extreme within its arm,
    so weights that balance unequal arms (IPTW) are not mistaken for extreme ones.
    """
    w = np.asarray(w, dtype=float)
    ok = np.isfinite(w)
    wz = np.where(ok, w, 0.0)
    rel = np.full(w.shape, np.inf)
    for g in list(groupings) or [np.zeros(w.shape, np.int64)]:  # loop over groupings only
        g = np.asarray(g)
        # small non-negative integer codes (the arm as 0/1) need no hashing
        codes = (g.astype(np.int64) if g.dtype.kind in "bi" and g.size and g.min() >= 0
                 and g.max() < 2 * g.size else pd.factorize(g)[0])
        means = (np.bincount(codes, weights=wz)
                 / np.maximum(np.bincount(codes, weights=ok.astype(float)), 1))
        rel = np.minimum(rel, wz / np.where(means[codes] > 0, means[codes], 1.0))
    return np.where(ok, rel, 0.0)


def warn_extreme_weights(df: pd.DataFrame, w: np.ndarray, groupings=(), cell: str = "arm",
                         stacklevel: int = 3) -> str | None:
    """Warn (:class:`~mace_outcomes.errors.ExtremeWeightWarning`) when a weight is over
    :data:`EXTREME_RELATIVE_WEIGHT` times the mean of its ``cell`` (see
    :func:`relative_weights`), naming the rows by :func:`row_ids`; return the message."""
    rel = relative_weights(w, groupings)
    big = rel > EXTREME_RELATIVE_WEIGHT
    if not big.any():
        return None
    msg = extreme_weight_message(int(big.sum()), cell, rel.max(), row_ids(df, big)[:20])
    warnings.warn(msg, ExtremeWeightWarning, stacklevel=stacklevel)
    return msg


def extreme_weight_message(n: int, cell: str, largest: float, ids) -> str:
    """The extreme-weight warning's text: how many, how large, which rows (ids)."""
    return (f"extreme weights: {n} weight(s) over {EXTREME_RELATIVE_WEIGHT:g} "
            f"times the mean weight of their {cell}, the largest {largest:.3g} times "
            f"(rows {list(ids)}); these subjects dominate the weighted "
            "estimate: check the weights, or truncate them or use overlap weights")


def warn_unclustered(df, cluster, estimator: str, stacklevel: int = 3) -> str | None:
    """Warn (:class:`~mace_outcomes.errors.ClusteringWarning`) when a lesion-level frame
    reaches ``estimator`` without ``cluster=``; return the message.

    The frame is lesion level when ``time_to_event(..., level="lesion")`` said so
    (``df.attrs["level"]``) or it has a ``lesion_id`` column, and a patient appears on
    more than one row (``patient_id``; with no such column, ``attrs`` alone decides).
    Lesions of one patient are not independent, so naive SEs are too small.
    """
    if cluster is not None or not isinstance(df, pd.DataFrame):
        return None
    has_patients = "patient_id" in df.columns
    repeated = has_patients and bool(df["patient_id"].duplicated().any())
    said = df.attrs.get("level") == "lesion"
    if not ((repeated and (said or "lesion_id" in df.columns)) or (said and not has_patients)):
        return None
    msg = (f"{estimator}: the frame is lesion level (several lesions per patient) and no "
           "cluster is given, so standard errors, intervals and p-values treat the lesions "
           "of one patient as independent (too small); pass cluster=\"patient_id\"")
    warnings.warn(msg, ClusteringWarning, stacklevel=stacklevel)
    return msg
