"""Reading and writing record tables: CSV, Parquet, Excel and SPSS ``.sav``.

A cohort folder holds ``patients.*``, ``events.*`` and optionally ``lesions.*``
(any of the supported extensions) plus an optional ``study.toml``. A single Excel
workbook with sheets named ``patients``, ``lesions`` and ``events`` works too.

SPSS value labels become pandas categories (the labels, not the numeric codes), so
an ``arm`` coded 1/2 with labels OCT/IVUS reads as OCT/IVUS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem

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
    """Read one table by its extension.

    Parameters
    ----------
    path : a ``.csv``, ``.tsv``, ``.parquet``, ``.xlsx`` / ``.xls`` or ``.sav`` file.
    sheet : for Excel, the sheet to read (default: the first).

    Returns
    -------
    DataFrame with the file's columns. SPSS value labels become categories.
    """
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext == ".csv":
            return pd.read_csv(path)
        if ext == ".tsv":
            return pd.read_csv(path, sep="\t")
        if ext in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if ext in (".xlsx", ".xls"):
            return pd.read_excel(path, sheet_name=sheet if sheet is not None else 0)
        if ext in (".sav", ".zsav"):
            try:
                import pyreadstat
            except ImportError as err:  # pragma: no cover - optional dependency
                raise InputError(Problem("reading SPSS files needs pyreadstat",
                                         source=path.name,
                                         fix="pip install 'mace_outcomes[spss]'")) from err
            df, _ = pyreadstat.read_sav(str(path), apply_value_formats=True,
                                        formats_as_category=True,
                                        dates_as_pandas_datetime=True)
            return df
    except InputError:
        raise
    except Exception as err:  # the reader's own message says what is wrong with the file
        raise InputError(Problem(f"could not read the file: {err}", source=path.name)) from err
    raise InputError(Problem(f"unsupported file type '{ext}'", source=path.name,
                             fix=f"use one of {', '.join(READABLE)}"))


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


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table, choosing the format from the extension.

    Parameters
    ----------
    df : the table (e.g. the output of :func:`time_to_event`).
    path : ``.csv``, ``.tsv``, ``.parquet``, ``.xlsx`` or ``.sav``.

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from mace_outcomes.records import write_table
    >>> out = write_table(pd.DataFrame({"time": [1.0]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> out.name
    't.csv'
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
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".tsv":
        df.to_csv(path, sep="\t", index=False)
    elif ext == ".parquet":
        df.to_parquet(path, index=False)
    elif ext == ".xlsx":
        df.to_excel(path, index=False)
    else:
        import pyreadstat

        out = df.copy()
        # SPSS has no categorical dtype: write labels as strings.
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype(str)
        pyreadstat.write_sav(out, str(path))
    return path
