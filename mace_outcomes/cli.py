"""The ``mace-outcomes`` console script: argument parsing only.

Every subcommand calls a function of the room that does the work
(``records`` for ``validate`` and ``tte``, ``report`` for ``analyze`` and
``init``), so what the command line does is exactly what the Python API does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import InputError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mace-outcomes",
        description="Clinical outcome studies from event-level follow-up records.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a cohort folder; print a summary or every problem")
    v.add_argument("directory", type=Path, nargs="?", default=None,
                   help="folder with patients / lesions / events tables (default: the "
                        "bundled example cohort)")

    t = sub.add_parser("tte", help="write the time-to-event table of an endpoint")
    t.add_argument("directory", type=Path)
    t.add_argument("--endpoint", default="mace")
    t.add_argument("--horizon", type=float, default=None, help="administrative censoring (days)")
    t.add_argument("--landmark", type=float, default=0.0, help="start the clock later (days)")
    t.add_argument("--level", choices=["patient", "lesion"], default="patient")
    t.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (.csv, .parquet or .xlsx)")

    a = sub.add_parser("analyze", help="run the whole study: tables, figures, report")
    a.add_argument("directory", type=Path, nargs="?", default=None,
                   help="cohort folder (default: the bundled example cohort)")
    a.add_argument("--out", type=Path, default=Path("results"))
    a.add_argument("--study", type=Path, default=None, help="TOML study file (see 'init')")
    a.add_argument("--bootstrap", type=int, default=None, help="bootstrap replicates")
    a.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("init", help="write a commented study-file template")
    i.add_argument("path", type=Path, nargs="?", default=Path("study.toml"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            from .datasets import example_path
            from .errors import ValidationError
            from .records import read_cohort
            from .records.validate import covariate_problems

            cohort = read_cohort(args.directory or example_path())
            cohort.check_arms()  # a two-arm study needs exactly two arms after exclusions
            problems = covariate_problems(cohort)
            if problems:
                raise ValidationError(problems)
            print(cohort.summary())
        elif args.command == "tte":
            from .records import read_cohort, time_to_event, write_table

            cohort = read_cohort(args.directory)
            tte = time_to_event(cohort, endpoint=args.endpoint, horizon=args.horizon,
                                landmark=args.landmark, level=args.level)
            write_table(tte, args.output)
            print(f"wrote {len(tte)} rows to {args.output}")
        elif args.command == "analyze":
            from .report import analyze

            analyze(args.directory, out=args.out, study=args.study,
                    bootstrap=args.bootstrap, progress=not args.quiet)
        elif args.command == "init":
            from .report import write_study_template

            write_study_template(args.path)
            print(f"wrote {args.path}")
    except InputError as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
