"""The calibrated example cohort shipped in ``data/`` (SYNTHETIC data)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..records import Cohort, read_cohort


def example_path() -> Path:
    """Folder holding the example cohort's tables, ``study.toml`` and ``README.md``.

    In a source checkout this is the project's ``data/`` folder (the package's
    ``datasets/data`` is a link to it); in an installed wheel it is the copy packaged
    under ``mace_outcomes/datasets/data``.
    """
    packaged = Path(str(resources.files(__package__).joinpath("data")))
    if (packaged / "patients.csv").is_file():
        return packaged
    # a checkout where the link was not materialised (e.g. on Windows)
    source_tree = Path(__file__).resolve().parents[2] / "data"
    if (source_tree / "patients.csv").is_file():
        return source_tree
    raise FileNotFoundError(
        f"the example cohort was not found in {packaged} nor in {source_tree}; rebuild it with "
        "`python tools/build_example.py`"
    )


def load_example(apply_exclusions: bool = True) -> Cohort:
    """Load the calibrated example cohort: SYNTHETIC data, no real patient behind any row.

    A synthetic cohort built (seeded, ``python tools/build_example.py``)
    to reproduce the published tables of a single-centre retrospective registry of OCT-
    versus IVUS-guided rotational atherectomy for calcified coronary lesions: 88 screened
    patients, 6 without intravascular imaging (``arm == 'none'``) and 3 with in-stent
    restenosis excluded, 79 analysed (32 OCT, 47 IVUS) with 84 lesions (33, 51); every
    count of Tables 1, 2 and 4, every mean and SD and every median and quartiles to the
    printed precision; stent expansion (minimum stent area / mean of the proximal and
    distal reference lumen areas) 82 +- 8 % vs 75 +- 9 %; the events the paper narrates
    (1-year MACE in 1 OCT vs 3 IVUS patients); confounding by indication (OCT less often
    with renal insufficiency, ostial, left-main and bifurcation lesions). Every patient
    row has ``synthetic = True``. See ``data/README.md``.

    Parameters
    ----------
    apply_exclusions : apply the ``[exclusions]`` of ``study.toml`` (no intravascular
        imaging, in-stent restenosis), recorded in ``cohort.attrition``. With False all
        88 screened patients are kept.

    Returns
    -------
    Cohort
        with ``.study`` (the parsed ``study.toml``: arms, horizon, endpoints, propensity
        covariates) and ``.attrition``.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> cohort = mo.load_example()
    >>> cohort.patients["arm"].value_counts().to_dict()
    {'IVUS': 47, 'OCT': 32}
    >>> tte = mo.time_to_event(cohort, endpoint="mace", horizon=365)
    >>> tte.groupby("arm")["event"].sum().to_dict()
    {'IVUS': 3, 'OCT': 1}

    References
    ----------
    The seed study: OCT- versus IVUS-guided rotational atherectomy in calcified coronary
    lesions, single-centre registry, January 2016 - December 2019 (tables copied in
    ``mace_outcomes/datasets/paper_tables.json``).
    """
    cohort = read_cohort(example_path(), apply_exclusions=apply_exclusions, warn=False)
    cohort.source["synthetic"] = True
    return cohort
