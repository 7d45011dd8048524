"""datasets room: the calibrated example cohort and the registry simulator.

* :func:`load_example` -- the SYNTHETIC cohort in ``data/`` calibrated to the seed
  study's published tables (built by the maintainer script ``tools/build_example.py``);
* :func:`simulate_registry` -- event-level records of any size with confounding by
  indication and a known true treatment effect (``cohort.truth``).
"""

from .example import example_path, load_example
from .simulate import simulate_registry

__all__ = ["load_example", "simulate_registry", "example_path"]
