"""The ``mace-outcomes`` console script: argument parsing only.

Every subcommand calls a function of the room that does the work (``records`` for
``tte``, ``report`` for ``validate``, ``analyze`` and ``init``; ``validate`` runs the
pre-flight checks of ``analyze``), so what the command line does is exactly what the
Python API does.

Exit codes: 0 done; 1 bad input (every problem listed); 2 an internal error, shown as
one line (``--debug`` shows the traceback); 130 interrupted. ``tte -o`` never replaces
an existing file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from .errors import InputError, Problem

_DEBUG_HELP = "on an internal error, show the traceback"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mace-outcomes",
        description="Clinical outcome studies from event-level follow-up records.",
    )
    p.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    # --debug is also accepted after the subcommand (without resetting the global one)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=_DEBUG_HELP)
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", parents=[common],
                       help="check a cohort folder and its study file, as analyze would; "
                            "print a summary or every problem")
    v.add_argument("directory", type=Path, nargs="?", default=None,
                   help="folder with patients / lesions / events tables (default: the "
                        "bundled example cohort)")
    v.add_argument("--study", type=Path, default=None,
                   help="TOML study file (default: the folder's study.toml, if any)")

    t = sub.add_parser("tte", parents=[common],
                       help="write the time-to-event table of an endpoint")
    t.add_argument("directory", type=Path)
    t.add_argument("--endpoint", default="mace")
    t.add_argument("--horizon", type=float, default=None, help="administrative censoring (days)")
    t.add_argument("--landmark", type=float, default=0.0, help="start the clock later (days)")
    t.add_argument("--level", choices=["patient", "lesion"], default="patient")
    t.add_argument("-o", "--output", type=Path, required=True,
                   help="a new output file (.csv, .tsv, .parquet, .xlsx or .sav); an "
                        "existing file is never overwritten")

    a = sub.add_parser("analyze", parents=[common],
                       help="run the whole study: tables, figures, report")
    a.add_argument("directory", type=Path, nargs="?", default=None,
                   help="cohort folder (default: the bundled example cohort)")
    a.add_argument("--out", type=Path, default=Path("results"))
    a.add_argument("--study", type=Path, default=None, help="TOML study file (see 'init')")
    a.add_argument("--bootstrap", type=int, default=None, help="bootstrap replicates")
    a.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("init", parents=[common], help="write a commented study-file template")
    i.add_argument("path", type=Path, nargs="?", default=Path("study.toml"))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand: exit 0 done, 1 bad input (every problem listed), 2 a bug,
    130 interrupted."""
    args = _parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except InputError as err:
        print(str(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the user stopped it: no traceback, nothing half-written
        return 130
    except Exception as err:  # a bug: one line (the traceback on request)
        return _internal_error(err, args.debug)
    return 0


def _internal_error(err: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    text = " ".join(str(err).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    hint = "" if debug else "; rerun with --debug for the traceback"
    print(f"mace-outcomes: internal error ({type(err).__name__}: {text}). This is a bug: "
          f"please report it with the command you ran{hint}", file=sys.stderr)
    return 2


def _study(path: Path | None, directory: Path):
    """The study named on the command line (which must exist), else the folder's own."""
    from .report.study import read_study

    if path is not None:
        return read_study(path, required=True)
    return read_study(Path(directory) / "study.toml")


def _validate(args: argparse.Namespace) -> None:
    from .datasets import example_path
    from .errors import ValidationError
    from .report.preflight import preflight

    directory = args.directory or Path(example_path())
    cohort, problems = preflight(directory, _study(args.study, directory))
    if problems:
        raise ValidationError(problems)
    print(cohort.summary())


def _tte(args: argparse.Namespace) -> None:
    from .records import read_cohort, time_to_event

    _refuse_cohort_input(args.output, args.directory)
    cohort = read_cohort(args.directory)
    tte = time_to_event(cohort, endpoint=args.endpoint, horizon=args.horizon,
                        landmark=args.landmark, level=args.level)
    _write_new(tte, args.output)
    print(f"wrote {len(tte)} rows to {args.output}")


def _analyze(args: argparse.Namespace) -> None:
    from .report import analyze

    study = None if args.study is None else _study(args.study, args.directory)
    analyze(args.directory, out=args.out, study=study, bootstrap=args.bootstrap,
            progress=not args.quiet)


def _init(args: argparse.Namespace) -> None:
    from .report import write_study_template

    write_study_template(args.path)
    print(f"wrote {args.path}")


_COMMANDS = {"validate": _validate, "tte": _tte, "analyze": _analyze, "init": _init}


# ----------------------------------------------------------------------------- tte -o
def _cohort_inputs(directory: Path) -> dict[str, Path]:
    """The files a cohort is read from, by what they are."""
    from .records.io import find_tables

    directory = Path(directory)
    if directory.is_file():  # one workbook
        return {"workbook": directory}
    inputs = {f"{name} table": path for name, path in find_tables(directory).items()}
    for what, name in (("study file", "study.toml"), ("aliases table", "aliases.csv")):
        if (directory / name).exists():
            inputs[what] = directory / name
    return inputs


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _refuse_cohort_input(output: Path, directory: Path) -> None:
    """The cohort's own files are never an output, whatever the spelling of the path."""
    for what, path in _cohort_inputs(directory).items():
        if _same_file(output, path):
            raise InputError(Problem(f"this is the cohort's own {what} ({path.name}): the "
                                     "output would destroy the input", source=str(output),
                                     fix="write the time-to-event table to a new file, "
                                         "e.g. outside the cohort folder"))


def _exists(path: Path) -> InputError:
    return InputError(Problem("the output file exists; it is never overwritten",
                              source=str(path), fix="choose another name, or remove the "
                              "file yourself first"))


def _write_new(frame, path: Path) -> None:
    """Write ``frame`` to a file that does not exist yet, never replacing one.

    The table is written beside the target and hard-linked into place: the link fails
    if the name was taken meanwhile, so no file is ever overwritten.
    """
    from .records import write_table

    path = Path(path)
    if path.exists() or path.is_symlink():
        raise _exists(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        try:
            written = write_table(frame, staging / path.name)
        except InputError as err:  # name the file asked for, not the staging copy
            raise InputError([dataclasses.replace(p, source=str(path))
                              for p in err.problems]) from None
        try:
            os.link(written, path)
        except FileExistsError:
            raise _exists(path) from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise _exists(path) from None
            os.replace(written, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
