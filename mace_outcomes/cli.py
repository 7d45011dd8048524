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
import sys
import traceback
from pathlib import Path

from .errors import InputError

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
    t.add_argument("--endpoint", default="mace",
                   help="a built-in endpoint or one defined in the study file's "
                        "[endpoints.NAME] (e.g. macce)")
    t.add_argument("--horizon", default=None,
                   help="administrative censoring: days, or 365d, 12m, 1y")
    t.add_argument("--study", type=Path, default=None,
                   help="TOML study file defining endpoints (default: the folder's study.toml)")
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
    a.add_argument("--engine", choices=["memory", "dask"], default="memory",
                   help="memory (default), or dask: a registry's Parquet datasets on a Dask "
                        "cluster (patient level)")
    a.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --engine dask: a running scheduler, e.g. tcp://HOST:8786 "
                        "(default: a local cluster for this run)")

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
    from .records import read_cohort, time_to_event, write_table
    from .records.io import check_output

    # the cohort's own files are refused before the long read; a name that exists is
    # refused by the write itself, after the input's own problems are reported
    check_output(args.output, overwrite=True, protect=args.directory)
    from .records.durations import parse_duration

    horizon = None if args.horizon is None else parse_duration(args.horizon, "--horizon")
    endpoint = _study(args.study, args.directory).endpoint(args.endpoint)
    cohort = read_cohort(args.directory)
    tte = time_to_event(cohort, endpoint=endpoint, horizon=horizon,
                        landmark=args.landmark, level=args.level)
    write_table(tte, args.output)  # never overwrites: a file made meanwhile is refused
    print(f"wrote {len(tte)} rows to {args.output}")


def _analyze(args: argparse.Namespace) -> None:
    from .errors import Problem
    from .report import analyze

    if args.scheduler is not None and args.engine != "dask":
        raise InputError(Problem("--scheduler is used only with --engine dask",
                                 column="--scheduler", fix="add --engine dask, or drop "
                                                           "--scheduler"))
    study = None if args.study is None else _study(args.study, args.directory)
    analyze(args.directory, out=args.out, study=study, bootstrap=args.bootstrap,
            progress=not args.quiet, engine=args.engine, scheduler=args.scheduler)


def _init(args: argparse.Namespace) -> None:
    from .report import write_study_template

    write_study_template(args.path)
    print(f"wrote {args.path}")


_COMMANDS = {"validate": _validate, "tte": _tte, "analyze": _analyze, "init": _init}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
