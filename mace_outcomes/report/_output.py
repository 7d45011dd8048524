"""The output folder of ``analyze``: what a run may replace, and nothing else.

A finished run leaves a marker file in ``out/`` that lists, one per line, every file the
run wrote (paths relative to ``out``, ``/``-separated). A later run replaces only those
files; a folder that holds anything else -- a user's notes, a drafts folder -- is refused
before any work is done, and again just before the swap, so nothing the package did not
write is ever deleted or overwritten.

SIGTERM and SIGHUP (a closed terminal, a batch scheduler's time limit) become
``SystemExit(128 + signal)`` for the duration of a run, so the staging folder is removed
on the way out and the process still ends with the conventional status.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem


@dataclass
class Analysis:
    """What :func:`analyze` produced: the output folder and the numbers it reported."""

    out: Path
    results: dict
    files: list = field(default_factory=list)
    seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"Analysis written to {self.out} ({len(self.files)} files, "
                f"{self.seconds:.1f} s): open {self.out / 'report.html'}")


def _json_ready(value):
    """Turn numpy / pandas values into JSON: NaN (not computed) becomes null, +-inf the
    strings ``"Infinity"`` / ``"-Infinity"`` (strict JSON has no infinity)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _json_ready(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return _json_ready(value.to_dict())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return None if math.isnan(v) else v
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


MARKER = ".mace-outcomes"
_HEADER = "written by mace-outcomes analyze; the next run replaces exactly these files:"
_SHOWN = 20  # foreign names listed in an error before "and N more"


def write_manifest(root: Path, files: list[Path]) -> Path:
    """Write the marker listing ``files`` (inside ``root``) relative to ``root``."""
    names = sorted({p.relative_to(root).as_posix() for p in files})
    marker = root / MARKER
    marker.write_text("\n".join([_HEADER, *names]) + "\n")
    return marker


def read_manifest(out: Path) -> set[str]:
    """The files an earlier run listed in its marker (empty for an unlisted marker)."""
    lines = (out / MARKER).read_text(errors="replace").splitlines()
    return {line for line in lines[1:] if line.strip()} if lines[:1] == [_HEADER] else set()


def _entries(out: Path, manifest: set[str]) -> tuple[list[str], list[str], list[str]]:
    """``(own files, own folders, foreign entries)`` under ``out``; symlinks count as files
    (removing one never touches its target), folders the manifest does not name are
    foreign as a whole (shown with a trailing ``/``)."""
    folders = {"/".join(p.split("/")[:i]) for p in manifest for i in range(1, p.count("/") + 1)}
    own, own_dirs, foreign = [], [], []
    pending = [""]
    while pending:  # walk folder by folder; the tree is small
        rel_dir = pending.pop()
        with os.scandir(out / rel_dir if rel_dir else out) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if rel in folders:
                        own_dirs.append(rel)
                        pending.append(rel)
                    else:
                        foreign.append(rel + "/")
                elif rel == MARKER or rel in manifest:
                    own.append(rel)
                else:
                    foreign.append(rel)
    return own, own_dirs, sorted(foreign)


def _foreign_problem(out: Path, foreign: list[str], listed: bool) -> Problem:
    shown = ", ".join(foreign[:_SHOWN])
    more = f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else ""
    why = "" if listed else (" (its marker lists no files: it was written by an older "
                             "version, or edited)")
    return Problem(f"the output folder holds files mace-outcomes did not write{why}: "
                   f"{shown}{more}; replacing the folder would lose them", source=str(out),
                   fix="move them out of the folder, or choose another --out folder")


def check_output_folder(out: Path, directory: Path) -> None:
    """Refuse an output folder whose replacement would destroy anything not ours."""
    problems = []
    if out.exists() and not out.is_dir():
        problems.append(Problem("the output path is a file, not a folder", source=str(out)))
    elif out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            problems.append(Problem("the output folder exists and is not empty (and was not "
                                    "written by mace-outcomes); it would be replaced",
                                    source=str(out), fix="choose a new or empty --out folder"))
        else:
            manifest = read_manifest(out)
            foreign = _entries(out, manifest)[2]
            if foreign:
                problems.append(_foreign_problem(out, foreign, bool(manifest)))
    if out == directory or out in directory.parents or directory in out.parents:
        problems.append(Problem("the output folder overlaps the cohort folder",
                                source=str(out), fix="write the results elsewhere"))
    if problems:
        raise InputError(problems)


def replace_output(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``, first removing only the files an earlier run listed.

    The folder is checked again here: a file added while the study ran is named in an
    InputError and kept, as is everything else not in the earlier manifest."""
    if out.exists() and not out.is_dir():
        raise InputError(Problem("the output path became a file while the study ran; it was "
                                 "kept", source=str(out), fix="choose another --out"))
    if out.exists():
        marked = (out / MARKER).is_file()
        manifest = read_manifest(out) if marked else set()
        own, own_dirs, foreign = _entries(out, manifest)
        if foreign and not marked:
            raise InputError(Problem("the output folder was created while the study ran; it "
                                     "was kept", source=str(out), fix="choose another --out"))
        if foreign:
            raise InputError(_foreign_problem(out, foreign, bool(manifest)))
        for rel in own:
            (out / rel).unlink()
        for rel in sorted(own_dirs, key=lambda r: r.count("/"), reverse=True):
            _remove_empty(out / rel)
        _remove_empty(out)
    os.replace(staging, out)


def _remove_empty(folder: Path) -> None:
    """rmdir, which fails on a non-empty folder: the last guard for a file added meanwhile."""
    try:
        folder.rmdir()
    except OSError as err:
        raise InputError(Problem(f"a file appeared in the output folder while the study ran "
                                 f"({err.strerror}); it was kept and nothing was replaced "
                                 "beyond the earlier run's own files", source=str(folder),
                                 fix="move it out of the folder and run again")) from err


class Interrupt:
    """The signal that asked the run to stop, if any, and checkpoints that honour it.

    The handler raises ``SystemExit`` at once; but Python runs handlers between any two
    bytecodes, also inside a finaliser (``__del__``) whose exceptions are only printed.
    :meth:`check` raises again at the next checkpoint, so a swallowed signal still
    stops the run before anything is moved into place."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handler(self, signum, frame) -> None:
        if self.signum is not None:  # a repeat: let the cleanup it triggered finish
            return
        self.signum = signum
        raise SystemExit(128 + signum)

    def check(self) -> None:
        if self.signum is not None:
            raise SystemExit(128 + self.signum)


class CheckedBar:
    """A progress bar whose every update is also a checkpoint of an :class:`Interrupt`."""

    def __init__(self, bar, interrupt: Interrupt):
        self._bar, self._interrupt = bar, interrupt

    def update(self, n: int = 1) -> None:
        self._interrupt.check()
        self._bar.update(n)

    def set_postfix_str(self, text: str) -> None:
        self._interrupt.check()
        self._bar.set_postfix_str(text)

    def close(self) -> None:
        self._bar.close()


@contextmanager
def signals_as_exit() -> Iterator[Interrupt]:
    """Turn SIGTERM / SIGHUP into ``SystemExit(128 + signum)`` while the block runs.

    Only the main thread can install handlers; elsewhere the block runs unchanged. The
    previous handlers are restored afterwards."""
    interrupt = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = {}
    try:
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, interrupt.handler)
        yield interrupt
        interrupt.check()  # a signal swallowed after the last checkpoint
    finally:
        for sig, old in previous.items():
            # None: installed outside Python and not restorable; the default is closest
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def publish(staging: Path, out: Path, files: list, released: dict, interrupt) -> None:
    """Write ``results.json`` and the manifest of ``files`` into ``staging``, then swap it
    into ``out`` (the last step of a run; an earlier run's own files are replaced)."""
    (staging / "results.json").write_text(json.dumps(_json_ready(released), indent=2))
    files.append(staging / "results.json")
    write_manifest(staging, files)
    interrupt.check()  # last chance before the swap
    replace_output(staging, out)  # removes only an earlier run's own files
