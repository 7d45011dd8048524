"""Reading and writing record tables: CSV, Parquet, Excel and SPSS ``.sav``.

A cohort folder holds ``patients.*``, ``events.*`` and optionally ``lesions.*``
(any of the supported extensions) plus an optional ``study.toml``. A single Excel
workbook with sheets named ``patients``, ``lesions`` and ``events`` works too.

SPSS value labels become pandas categories (the labels, not the numeric codes), so
an ``arm`` coded 1/2 with labels OCT/IVUS reads as OCT/IVUS.

Reading never changes the data silently: id columns are text in every format
(``001``, ``1E3``, ``NA`` stay as written; a whole number from Excel, SPSS or Parquet
becomes its digits), a column name given twice is an error, and in CSV / TSV files
rows merged by a stray double quote are an error naming the file's line numbers
(:mod:`.rows`).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .rows import check_line_structure
from .schema import ID_COLUMNS, ids_as_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Extensions read by :func:`read_table`, in the order they are looked for.
READABLE = (".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".xls", ".sav", ".zsav")
#: Extensions written by :func:`write_table`.
WRITABLE = (".csv", ".tsv", ".parquet", ".xlsx", ".sav")
TABLES = ("patients", "lesions", "events")


def read_table(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Read one table by its extension, refusing anything that would change the data.

    Parameters
    ----------
    path : a ``.csv``, ``.tsv``, ``.parquet``, ``.xlsx`` / ``.xls`` or ``.sav`` file.
    sheet : for Excel, the sheet to read (default: the first).

    Returns
    -------
    DataFrame with the file's columns. SPSS value labels become categories. Id columns
    (``patient_id``, ``lesion_id``, ``event_id``) are text whatever the format: ``001``,
    ``1E3`` and ``NA`` are ids as written; a whole number from a spreadsheet, an SPSS
    or a Parquet file becomes its digits (``7``, not ``7.0``).

    Raises
    ------
    InputError
        a column name given twice; in a CSV / TSV file, rows merged by a stray quote
        (named by their line numbers); an id that is a fractional number.
    """
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext in (".csv", ".tsv"):
            df = _read_delimited(path, "," if ext == ".csv" else "\t")
        elif ext in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif ext in (".xlsx", ".xls"):
            df = _read_excel(path, sheet if sheet is not None else 0)
        elif ext in (".sav", ".zsav"):
            try:
                import pyreadstat
            except ImportError as err:  # pragma: no cover - optional dependency
                raise InputError(Problem("reading SPSS files needs pyreadstat",
                                         source=path.name,
                                         fix="pip install 'mace_outcomes[spss]'")) from err
            df, _ = pyreadstat.read_sav(str(path), apply_value_formats=True,
                                        formats_as_category=True,
                                        dates_as_pandas_datetime=True)
        else:
            df = None
    except InputError:
        raise
    except Exception as err:  # the reader's own message says what is wrong with the file
        fix = ("a double quote opens a cell that is never closed: remove the stray quote"
               if "EOF inside string" in str(err) else None)
        raise InputError(Problem(f"could not read the file: {err}", source=path.name,
                                 fix=fix)) from err
    if df is None:
        raise InputError(Problem(f"unsupported file type '{ext}'", source=path.name,
                                 fix=f"use one of {', '.join(READABLE)}"))
    source = path.name if sheet is None else f"{path.name}[{sheet}]"
    _check_header([str(c) for c in df.columns], source)
    return _ids_as_text(df, source)


#: pandas' default missing-value markers, applied to every column but the ids.
_NA_MARKERS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
               "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
               "nan", "null")


def _check_header(names: list[str], source: str) -> None:
    """A column name given twice (after stripping spaces) is an error, not ``name.1``."""
    stripped = pd.Index([n.strip() for n in names])
    twice = stripped[stripped.duplicated()].unique().tolist()
    if twice:
        raise InputError([Problem(f"column name appears {int((stripped == c).sum())} times "
                                  f"in the header", c, (), source,
                                  "rename or remove the extra column(s)") for c in twice])


def _na_settings(names: list[str]) -> dict:
    """Read id columns verbatim ("NA" is an id), every other column as pandas does."""
    ids = [n for n in names if n.strip() in ID_COLUMNS]
    return {"dtype": {n: object for n in ids}, "keep_default_na": False,
            "na_values": {n: list(_NA_MARKERS) for n in names if n not in ids}}


def _ids_as_text(df: pd.DataFrame, source: str) -> pd.DataFrame:
    problems = []
    for col in df.columns:
        if str(col).strip() not in ID_COLUMNS:
            continue
        text, bad = ids_as_text(df[col])
        if bad.any():
            examples = ", ".join(map(repr, pd.unique(df[col][bad])[:3].tolist()))
            problems.append(Problem(f"ids must be text or whole numbers (e.g. {examples}; "
                                    f"rows counted from 1 = first data row)", str(col),
                                    tuple((np.flatnonzero(bad) + 1).tolist()), source,
                                    "store ids as text, e.g. P001"))
        df[col] = text
    if problems:
        raise InputError(problems)
    return df


def _read_excel(path: Path, sheet: str | int) -> pd.DataFrame:
    import importlib.util

    if importlib.util.find_spec("openpyxl") is None:
        raise InputError(Problem("reading Excel files needs the optional package openpyxl",
                                 source=path.name, fix="pip install \"mace_outcomes[excel]\" "
                                 "(or save the tables as .csv)"))
    header = pd.read_excel(path, sheet_name=sheet, header=None, nrows=1)
    names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
    source = f"{path.name}[{sheet}]" if isinstance(sheet, str) else path.name
    _check_header(names, source)
    return pd.read_excel(path, sheet_name=sheet, **_na_settings(names))


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    data = path.read_bytes()
    text = data.decode("utf-8-sig", errors="replace")
    header = next((row for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep)
                   if any(cell.strip() for cell in row)), [])
    _check_header(header, path.name)
    df = pd.read_csv(io.BytesIO(data), sep=sep, **_na_settings(header))
    check_line_structure(df, data, sep, path.name)
    return df


def find_tables(directory: str | Path) -> dict[str, Path]:
    """Locate ``patients.*``, ``lesions.*`` and ``events.*`` in a cohort folder.

    Raises :class:`InputError` if the folder is missing, if ``patients`` or ``events``
    is absent, or if a table exists in two formats (which one is meant is unclear).
    """
    directory = Path(directory)
    if directory.is_file():
        raise InputError(Problem("this is a file; give the cohort folder (with patients.*, "
                                 "events.*, lesions.*) or an .xlsx workbook with those sheets",
                                 source=str(directory)))
    if not directory.is_dir():
        raise InputError(Problem("no such folder", source=str(directory)))
    found: dict[str, list[Path]] = {t: [] for t in TABLES}
    for f in sorted(directory.iterdir()):
        if f.is_file() and f.stem.lower() in found and f.suffix.lower() in READABLE:
            found[f.stem.lower()].append(f)
    problems = []
    for table, files in found.items():
        if len(files) > 1:
            problems.append(Problem(f"table '{table}' found in several files "
                                    f"({', '.join(f.name for f in files)})",
                                    source=str(directory), fix="keep only one of them"))
        elif not files and table != "lesions":
            problems.append(Problem(f"no {table} table (expected {table}.csv, .parquet, "
                                    f".xlsx or .sav)", source=str(directory)))
    if problems:
        raise InputError(problems)
    return {t: files[0] for t, files in found.items() if files}


def read_tables(path: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read the cohort tables from a folder or from one Excel workbook.

    Returns the tables by name and, for messages, the file each came from.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in (".xlsx", ".xls"):
        try:
            sheets = pd.ExcelFile(path).sheet_names
        except Exception as err:
            raise InputError(Problem(f"could not read the workbook: {err}",
                                     source=path.name)) from err
        by_name = {s.strip().lower(): s for s in sheets}
        missing = [t for t in ("patients", "events") if t not in by_name]
        if missing:
            raise InputError(Problem(f"workbook has no sheet(s) {missing} (sheets: {sheets})",
                                     source=path.name))
        tables = {t: read_table(path, sheet=by_name[t]) for t in TABLES if t in by_name}
        sources = {t: f"{path.name}[{by_name[t]}]" for t in tables}
        return tables, sources
    files = find_tables(path)
    return ({t: read_table(f) for t, f in files.items()}, {t: f.name for t, f in files.items()})


def read_study(directory: str | Path) -> dict | None:
    """Parse ``study.toml`` in a cohort folder (``None`` if there is none)."""
    f = Path(directory) / "study.toml"
    if not f.is_file():
        return None
    try:
        with open(f, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise InputError(Problem(f"not valid TOML: {err}", source=str(f))) from err


def write_table(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False,
                protect=()) -> Path:
    """Write a table, choosing the format from the extension; never replace a file unasked.

    Parameters
    ----------
    df : the table (e.g. the output of :func:`time_to_event`).
    path : ``.csv``, ``.tsv``, ``.parquet``, ``.xlsx`` or ``.sav``. In CSV, TSV and Excel
        a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
        gets a leading single quote so no spreadsheet reads it as a formula
        (:func:`mace_outcomes._safe.neutralise_formulas`); Parquet and SPSS keep it as is.
    overwrite : replace an existing file (default: an existing file is an error).
    protect : cohort folders, workbooks or files (or a :class:`Cohort`, or several of
        these) whose input files (tables, ``study.toml``, ``aliases.csv``) are never
        written, even with ``overwrite=True``, whatever the spelling of the path or
        another (hard or symbolic) link to them.

    The table is written beside the target and moved into place, so a failed write leaves
    no partial file; without ``overwrite`` it is hard-linked into place, which fails if
    the name was taken meanwhile. ``overwrite`` replaces the name (a link at ``path`` is
    replaced, not written through).

    Returns
    -------
    The path written.

    Raises
    ------
    InputError
        an unsupported extension or a missing optional writer; ``path`` is one of the
        protected files or a folder; ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from mace_outcomes.records import write_table
    >>> out = write_table(pd.DataFrame({"time": [1.0]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> out.name
    't.csv'
    >>> write_table(pd.DataFrame({"time": [2.0]}), out)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    mace_outcomes.errors.InputError: the output file exists; it is never overwritten
    >>> write_table(pd.DataFrame({"time": [2.0]}), out, overwrite=True).read_text()
    'time\\n2.0\\n'
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, protect=protect)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        staged = staging / path.name
        _write_format(df, staged)
        if overwrite:
            os.replace(staged, path)
        else:
            _move_new(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def check_output(path: str | Path, *, overwrite: bool = False, protect=()) -> None:
    """Raise the :class:`InputError` that :func:`write_table` would for this target.

    For a caller that wants to fail before a long computation; the same parameters.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in WRITABLE:
        raise InputError(Problem(f"cannot write '{ext}' files", source=str(path),
                                 fix=f"use one of {', '.join(WRITABLE)}"))
    needs = {".parquet": ("pyarrow", "parquet"), ".xlsx": ("openpyxl", "excel"),
             ".sav": ("pyreadstat", "spss")}.get(ext)
    if needs is not None:
        import importlib.util

        if importlib.util.find_spec(needs[0]) is None:
            raise InputError(Problem(f"writing '{ext}' needs the optional package {needs[0]}",
                                     source=str(path),
                                     fix=f"pip install 'mace_outcomes[{needs[1]}]' or write .csv"))
    for what, source in _protected(protect):
        if _same_file(path, source):
            raise InputError(Problem(f"this is the cohort's own {what} ({source.name}): the "
                                     "output would destroy the input", source=str(path),
                                     fix="write the table to a new file, e.g. outside the "
                                         "cohort folder"))
    if path.is_dir():
        raise InputError(Problem("this is a folder", source=str(path),
                                 fix="give a file name, e.g. tte.csv"))
    if not overwrite and (path.exists() or path.is_symlink()):
        raise _exists(path)


def cohort_files(source: str | Path) -> list[tuple[str, Path]]:
    """The files a cohort is read from, with what they are (``"patients table"``, ...).

    ``source`` is a cohort folder (its tables in every readable format, ``study.toml``,
    ``aliases.csv``) or a single file such as an ``.xlsx`` workbook. Only files that exist
    are listed.
    """
    source = Path(source)
    if source.is_file():
        excel = source.suffix.lower() in (".xlsx", ".xls")
        return [("workbook" if excel else "input file", source)]
    if not source.is_dir():
        return []
    files = [(f"{f.stem.lower()} table", f) for f in sorted(source.iterdir())
             if f.stem.lower() in TABLES and f.suffix.lower() in READABLE]
    return files + [(what, source / name) for what, name in
                    (("study file", "study.toml"), ("aliases table", "aliases.csv"))
                    if (source / name).exists()]


def _protected(protect) -> list[tuple[str, Path]]:
    """Every file of the cohorts in ``protect`` (paths or Cohort objects, one or many)."""
    single = isinstance(protect, (str, os.PathLike)) or hasattr(protect, "source")
    files = []
    for item in ([protect] if single else list(protect or ())):
        origin = item.source.get("origin") if hasattr(item, "source") else item
        if origin:
            files += cohort_files(origin)
    return files


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a does not exist yet: compare the spelled-out paths
        return a.resolve() == b.resolve()


def _exists(path: Path) -> InputError:
    return InputError(Problem("the output file exists; it is never overwritten",
                              source=str(path), fix="choose another name, or remove the "
                              "file yourself first"))


def _move_new(staged: Path, path: Path) -> None:
    """Put ``staged`` at ``path`` only if no file has that name: never replaces one."""
    try:
        os.link(staged, path)  # fails if the name was taken since the check
    except FileExistsError:
        raise _exists(path) from None
    except OSError:  # a file system without hard links: exclusive create, then copy
        try:
            out = open(path, "xb")
        except FileExistsError:
            raise _exists(path) from None
        with out, open(staged, "rb") as src:
            shutil.copyfileobj(src, out)


def _write_format(df: pd.DataFrame, path: Path) -> None:
    ext = path.suffix.lower()
    if ext in (".csv", ".tsv", ".xlsx"):  # spreadsheets: text cells never become formulas
        from .._safe import neutralise_formulas

        safe = neutralise_formulas(df)
        if ext == ".xlsx":
            safe.to_excel(path, index=False)
        else:
            safe.to_csv(path, sep="\t" if ext == ".tsv" else ",", index=False)
    elif ext == ".parquet":
        df.to_parquet(path, index=False)
    else:
        import pyreadstat

        out = df.copy()
        # SPSS has no categorical dtype: write labels as strings.
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype(str)
        pyreadstat.write_sav(out, str(path))
