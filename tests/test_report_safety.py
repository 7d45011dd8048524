"""analyze() is safe with hostile labels, a user's own files, signals and infinities."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes.datasets import example_path
from mace_outcomes.report import _output
from mace_outcomes.report._output import _json_ready
from mace_outcomes.tables.export import to_html

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
HOSTILE_NAME = "<img src=x onerror=alert(3)>"  # no "/": a legal folder name


class _Page(HTMLParser):
    """What a browser would build: script elements, on* attributes and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.scripts, self.handlers, self.chunks = 0, [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [(tag, k) for k, _ in attrs if k.lower().startswith("on")]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _files(root: Path) -> dict:
    """Every file under ``root`` (relative posix path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _no_staging(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".partial-" in p.name]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished run on the bundled cohort with no MACE in the control arm (IVUS).

    With no control events every bootstrap replicate's Cox MLE of the HR is +inf (the
    likelihood increases without bound), so the bootstrap limits are infinite."""
    base = tmp_path_factory.mktemp("earlier")
    folder = base / "cohort"
    shutil.copytree(example_path(), folder)
    patients = pd.read_csv(folder / "patients.csv")
    events = pd.read_csv(folder / "events.csv")
    control = set(patients.loc[patients.arm == "IVUS", "patient_id"])
    events[~events.patient_id.isin(control)].to_csv(folder / "events.csv", index=False)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    res = mo.analyze(folder, out=base / "out", bootstrap=20, progress=False)
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored after the run
    return folder, base / "out", res


# ----------------------------------------------------------------------------- HTML
@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The bundled cohort with a script-and-handler payload in every text reaching HTML."""
    base = tmp_path_factory.mktemp("hostile")
    folder = base / f"cohort {HOSTILE_NAME}"
    shutil.copytree(example_path(), folder)
    patients = pd.read_csv(folder / "patients.csv")
    patients["arm"] = patients["arm"].replace({"OCT": f"OCT {HOSTILE}",
                                               "IVUS": f"IVUS {HOSTILE}"})
    patients["presentation"] = patients["presentation"].replace({"ACS": f"ACS {HOSTILE}"})
    patients = patients.rename(columns={"any_ostial": f"ostial {HOSTILE}"})
    patients.to_csv(folder / "patients.csv", index=False)
    study = (folder / "study.toml").read_text()
    for old, new in [('arms = ["OCT", "IVUS"]', f'arms = ["OCT {HOSTILE}", "IVUS {HOSTILE}"]'),
                     ('title = "', f'title = "{HOSTILE} '),
                     ('"in-stent restenosis"', f'"in-stent restenosis {HOSTILE}"'),
                     ('"any_ostial"', f'"ostial {HOSTILE}"')]:
        assert old in study
        study = study.replace(old, new)
    (folder / "study.toml").write_text(study)
    mo.analyze(folder, out=base / "out", bootstrap=0, progress=False)
    return base / "out"


def test_hostile_labels_are_text_not_markup(hostile, earlier):
    clean = _Page((earlier[1] / "report.html").read_text())
    raw = (hostile / "report.html").read_text()
    page = _Page(raw)
    assert clean.scripts == 1 and page.scripts == clean.scripts  # only the package's own
    assert page.handlers == [] and HOSTILE not in raw
    for text in (f"OCT {HOSTILE}", f"IVUS {HOSTILE}", f"{HOSTILE} OCT-",  # arms, title
                 f"in-stent restenosis {HOSTILE}", f"ostial {HOSTILE}",  # exclusion, column
                 f"ACS {HOSTILE}", HOSTILE_NAME):  # category level, source folder
        assert text in page.text, text  # shown to the reader, as text


def test_hostile_labels_in_every_html_table(hostile):
    pages = sorted((hostile / "tables").glob("*.html"))
    assert len(pages) >= 8
    seen = ""
    for path in pages:
        raw = path.read_text()
        page = _Page(raw)
        assert page.scripts == 0 and page.handlers == [] and HOSTILE not in raw, path.name
        seen += page.text
    for text in (f"OCT {HOSTILE}", f"in-stent restenosis {HOSTILE}", f"ostial {HOSTILE}",
                 f"ACS {HOSTILE}"):
        assert text in seen, text


def test_table_writer_escapes_title_columns_cells_and_notes():
    frame = pd.DataFrame({HOSTILE: [HOSTILE, f"  {HOSTILE}"], "n": [1, 2]})
    page = _Page(to_html(frame, HOSTILE, [HOSTILE]))
    assert page.scripts == 0 and page.handlers == []
    assert page.text.count(HOSTILE) == 5  # caption, header, two cells, note


# ----------------------------------------------------------------------------- manifest
def test_manifest_lists_exactly_the_files_written(earlier):
    _, out, res = earlier
    lines = (out / _output.MARKER).read_text().splitlines()
    listed = lines[1:]
    on_disk = sorted(set(_files(out)) - {_output.MARKER})
    assert listed == on_disk
    assert sorted(p.relative_to(out).as_posix() for p in res.files) == on_disk
    assert {"results.json", "report.html", "tables/attrition.csv"} <= set(listed)


def test_rerun_refuses_a_folder_with_user_files_and_deletes_nothing(earlier, tmp_path):
    folder, first, _ = earlier
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "NOTES.txt").write_text("my notes")
    (out / "drafts").mkdir()
    (out / "drafts" / "paper.docx").write_bytes(b"draft")
    (out / "figures" / "my_edit.png").write_bytes(b"edited")
    before = _files(out)
    with pytest.raises(mo.InputError) as err:
        mo.analyze(folder, out=out, bootstrap=0, progress=False)
    message = str(err.value)
    assert "NOTES.txt" in message and "drafts/" in message and "figures/my_edit.png" in message
    assert "another --out" in message
    assert _files(out) == before and _no_staging(tmp_path)


def test_clean_rerun_replaces_only_its_own_files(earlier, tmp_path):
    folder, first, _ = earlier
    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "results.json").write_text("{}")  # stale content of a listed file
    (out / "figures" / "km_old.png").write_bytes(b"old")  # a figure an earlier run wrote
    marker = out / _output.MARKER
    marker.write_text(marker.read_text() + "figures/km_old.png\n")
    res = mo.analyze(folder, out=out, bootstrap=0, progress=False)
    assert not (out / "figures" / "km_old.png").exists()  # listed, so ours: removed
    assert json.loads((out / "results.json").read_text())["arms"]["treated"] == "OCT"
    on_disk = sorted(set(_files(out)) - {_output.MARKER})
    assert marker.read_text().splitlines()[1:] == on_disk == sorted(
        p.relative_to(out).as_posix() for p in res.files)
    assert _no_staging(tmp_path)


def test_unlisted_marker_and_late_arrivals_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / _output.MARKER).write_text("written by mace-outcomes analyze; replaced by the "
                                      "next run\n")  # an older version's marker
    (out / "report.html").write_text("old")
    with pytest.raises(mo.InputError, match="report.html"):
        _output.check_output_folder(out, tmp_path / "cohort")
    # a file added while the study ran: the swap refuses and keeps every file
    staging = tmp_path / "staging"
    staging.mkdir()
    _output.write_manifest(out, [out / "report.html"])
    _output.check_output_folder(out, tmp_path / "cohort")  # nothing foreign yet
    (out / "late.txt").write_text("mine")
    with pytest.raises(mo.InputError, match="late.txt"):
        _output.replace_output(staging, out)
    assert (out / "late.txt").read_text() == "mine" and (out / "report.html").exists()
    assert staging.is_dir()


# ----------------------------------------------------------------------------- signals
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_removes_the_staging_folder(tmp_path, signum):
    out = tmp_path / "results"
    code = ("import mace_outcomes as mo; "
            f"mo.analyze(out={str(out)!r}, bootstrap=4000, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".results.partial-*/tables/attrition.csv")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signum)
        status = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 128 + signum  # the shell's convention for death by a signal
    assert list(tmp_path.iterdir()) == []  # no staging folder, no output folder


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_swallowed_by_a_finaliser_still_stops_the_block():
    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000):  # the handler runs in here; its exception is only printed
                pass

    before = signal.getsignal(signal.SIGTERM)
    reached = []
    with pytest.raises(SystemExit) as exc:
        with _output.signals_as_exit():
            Finaliser()  # collected at once
            reached.append(True)
    assert reached == [True]  # the handler's own exception was swallowed ...
    assert exc.value.code == 128 + signal.SIGTERM  # ... the block still ended with 143
    assert signal.getsignal(signal.SIGTERM) is before


# ----------------------------------------------------------------------------- JSON
def test_json_infinities_are_strings_and_nan_is_null():
    value = {"a": math.inf, "b": -math.inf, "c": math.nan, "d": 1.5,
             "f": pd.DataFrame({"x": [float("inf"), float("nan")]})}
    back = json.loads(json.dumps(_json_ready(value), allow_nan=False))
    assert back == {"a": "Infinity", "b": "-Infinity", "c": None, "d": 1.5,
                    "f": [{"x": "Infinity"}, {"x": None}]}


def test_results_json_keeps_an_infinite_bootstrap_limit(earlier):
    _, out, _ = earlier
    text = (out / "results.json").read_text()
    res = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    rows = {r["analysis"]: r for r in res["endpoints"]["mace"]["comparison"]}
    assert rows["crude"]["events_control"] == 0
    # every replicate has no control events: the HR MLE is +inf, so are both limits
    assert rows["IPTW-ATE"]["boot_upper"] == "Infinity"
    assert rows["IPTW-ATE"]["boot_lower"] == "Infinity"
    assert rows["crude"]["boot_upper"] is None  # not bootstrapped: NaN, not computed
