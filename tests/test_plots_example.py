"""examples/figures.py runs end to end on the bundled cohort and writes every figure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "figures.py"
NAMES = ["km_mace_crude", "km_mace_iptw", "km_components", "cif_mace", "forest_endpoints",
         "love_plot", "ps_overlap"]


def test_example_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("example_figures", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        written = module.main(tmp_path, dpi=100, formats=("png",))
    except FileNotFoundError as exc:  # the bundled cohort is not installed
        pytest.skip(str(exc))
    assert sorted(p.stem for p in written) == sorted(NAMES)
    for path in written:
        with Image.open(path) as img:
            assert img.size[0] in (350, 720)  # single or double journal column at 100 dpi
