"""Imaging core-lab definitions: stent expansion and its thresholds.

Stent expansion compares the minimum stent area (MSA) with the lumen area the stent
should have reached. Definitions in use differ only in the reference area:

``mean_reference`` (the seed study's definition, and the default)
    MSA / mean(proximal, distal reference lumen area) x 100.
``distal_reference``
    MSA / distal reference lumen area x 100 (stricter in tapering vessels; used by
    several OCT-guided PCI trials).
``tapered_reference``
    MSA / reference area interpolated linearly between the proximal and the distal
    reference at the MSA's position along the stent (0 = proximal edge, 1 = distal
    edge) x 100, which accounts for physiological tapering.

All areas are in mm²; expansion is returned in percent. Reference: Räber L et al.
Clinical use of intracoronary imaging. Part 1. EuroIntervention 2018;14:656-677.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._frames import row_ids
from ..errors import InputError, Problem

DEFINITIONS = {
    "mean_reference": "minimum stent area / mean of proximal and distal reference lumen "
                      "areas x 100 (%)",
    "distal_reference": "minimum stent area / distal reference lumen area x 100 (%)",
    "tapered_reference": "minimum stent area / reference lumen area interpolated between "
                         "proximal and distal at the MSA position x 100 (%)",
}


def stent_expansion(
    df: pd.DataFrame,
    *,
    msa: str = "minimum_stent_area_mm2",
    proximal: str = "proximal_ref_lumen_csa_mm2",
    distal: str = "distal_ref_lumen_csa_mm2",
    definition: str = "mean_reference",
    msa_position: str | None = None,
) -> pd.Series:
    """Stent expansion (%) of every lesion, computed from core-lab areas.

    Parameters
    ----------
    df : lesion table with the area columns (mm²).
    msa, proximal, distal : names of the minimum stent area and reference lumen areas.
    definition : ``"mean_reference"`` (default), ``"distal_reference"`` or
        ``"tapered_reference"`` (see the module docstring).
    msa_position : for ``tapered_reference``, the column giving the MSA's relative
        position along the stent (0 proximal edge .. 1 distal edge).

    Returns
    -------
    Series named ``stent_expansion`` (percent), aligned with ``df.index``; its
    ``attrs`` hold ``units`` and ``definition``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"minimum_stent_area_mm2": [6.0], "proximal_ref_lumen_csa_mm2": [8.0],
    ...                   "distal_ref_lumen_csa_mm2": [6.0]})
    >>> round(float(stent_expansion(d).iloc[0]), 2)
    85.71
    """
    if definition not in DEFINITIONS:
        raise InputError(Problem(f"unknown definition '{definition}'; use one of "
                                 f"{sorted(DEFINITIONS)}"))
    needed = [msa, distal] if definition == "distal_reference" else [msa, proximal, distal]
    if definition == "tapered_reference":
        if msa_position is None:
            raise InputError(Problem("tapered_reference needs msa_position (0 proximal .. 1 "
                                     "distal)"))
        needed.append(msa_position)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError([Problem("column not found", column=c, source="lesions")
                          for c in missing])
    values = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in needed}
    problems = []
    for c in needed:
        v = values[c]
        if c == msa_position:
            bad = ~np.isfinite(v) | (v < 0) | (v > 1)
            reason = "MSA position must lie in [0, 1]"
        else:
            bad = ~np.isfinite(v) | (v <= 0)
            reason = "area must be positive (missing, zero or negative found)"
        if bad.any():
            problems.append(Problem(reason, column=c, rows=row_ids(df, bad),
                                    source="lesions"))
    if problems:
        raise InputError(problems)

    if definition == "mean_reference":
        reference = (values[proximal] + values[distal]) / 2.0
    elif definition == "distal_reference":
        reference = values[distal]
    else:
        f = values[msa_position]
        reference = (1.0 - f) * values[proximal] + f * values[distal]
    out = pd.Series(100.0 * values[msa] / reference, index=df.index, name="stent_expansion")
    out.attrs.update(units="%", definition=DEFINITIONS[definition])
    return out


def expansion_thresholds(expansion: pd.Series, thresholds=(80.0, 90.0)) -> pd.DataFrame:
    """Binary outcomes ``expansion_ge_80`` etc. (1 when expansion >= threshold %).

    Used as binary endpoints (adequate expansion) in :func:`compare_outcome`.
    """
    cols = {}
    for t in thresholds:
        name = f"expansion_ge_{int(t) if float(t).is_integer() else t}"
        cols[name] = (expansion.to_numpy(float) >= t).astype(np.int64)
    out = pd.DataFrame(cols, index=expansion.index)
    for name in out:
        out[name].attrs.update(units="0/1", definition=f"stent expansion >= "
                               f"{name.rsplit('_', 1)[1]} %")
    return out
