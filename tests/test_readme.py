"""The README's quick start runs as written (a README that lies is a bug)."""

import os
import re
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[1]


def test_quick_start_runs(capsys):
    matplotlib.use("Agg")
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```python\n(.*?)```", text, re.S).group(1)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert "OCT" in out and "IVUS" in out


def test_readme_states_the_commands_ci_runs():
    text = (ROOT / "README.md").read_text()
    assert "pip install . && mace-outcomes analyze" in text
    assert "<!-- test-command -->" in text
