"""The example cohort's lesions (Tables 2-4): vessels, procedure, imaging, complications.

Part of the maintainer script ``build_example.py`` (see its docstring).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from calibrate import (
    choose_exactly,
    exact_moments,
    printed_tolerance,
    quartiles_agree,
    with_quartiles,
)
from example_patients import UNREPORTED_COUNTS, _continuous, _count, _z

# Proximal and distal reference lumen area means, inside the printed windows (8.5 -> 8.46,
# 5.3 -> 5.26; 9.1 -> 9.12, 6.0 -> 6.02) so that their mean lands as near as possible to
# the printed mean reference area (OCT 6.86 for a printed 6.8, which no values printing
# as 8.5 and 5.3 can reach; IVUS 7.57, printed 7.6).
REFERENCE_AREA_MEANS = {"OCT": (8.46, 5.26), "IVUS": (9.12, 6.02)}
BURRS = np.array([1.25, 1.5, 1.75, 2.0])
BALLOONS = np.arange(1.5, 4.51, 0.25)


def _vessels(arm: str, t2: dict, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vessel labels with exact counts; a patient's two lesions lie in different vessels."""
    counts = {v: _count(t2["vessel"][v][arm]) for v in ("LM", "LAD", "LCX", "RCA")}
    for _ in range(1000):
        pool = np.concatenate([np.repeat(v, k) for v, k in counts.items()])
        rng.shuffle(pool)
        first = np.r_[True, owner[1:] != owner[:-1]]
        ok = all(
            pool[i] != pool[i - 1] for i in np.flatnonzero(~first)
        )  # second lesions differ from the first
        if ok:
            return pool
    raise RuntimeError("cannot place vessels")


def _lesions_arm(
    arm: str, owner: np.ndarray, t2: dict, t3: dict, t4: dict, rng: np.random.Generator
) -> pd.DataFrame:
    g = arm
    n = owner.size
    vessel = _vessels(arm, t2, owner, rng)
    lm = vessel == "LM"
    two = np.isin(owner, owner[np.r_[False, owner[1:] == owner[:-1]]])
    # ostial and bifurcation lesions: the confounders; LM lesions are often both
    ostial = choose_exactly(n, UNREPORTED_COUNTS["ostial"][g], rng, 2.5 * lm)
    bifurcation = choose_exactly(
        n, _count(t2["bifurcation"][g]), rng, 1.5 * lm + 0.7 * (vessel == "LAD")
    )
    severe = choose_exactly(n, _count(t2["severe_calcification"][g]), rng)
    b2c = choose_exactly(n, _count(t2["lesion_type_b2c"][g]), rng, 1.0 * severe)
    angulation = choose_exactly(n, _count(t2["angulation"][g]), rng)
    multivessel = choose_exactly(n, _count(t2["multivessel_disease"][g]), rng, 10.0 * two)
    radial = choose_exactly(n, _count(t2["radial_access"][g]), rng, -1.0 * lm)
    scoring = choose_exactly(n, _count(t2["scoring_balloon_after_ra"][g]), rng)

    # burrs: initial burr with printed quartiles; upsizing in exactly k lesions
    med, q1, q3 = t2["initial_burr_mm"][g]
    mq = t2["max_burr_mm"][g]
    k_up = _count(t2["more_than_one_burr"][g])
    for _ in range(2000):
        initial = rng.permutation(
            with_quartiles(n, med, q1, q3, 1.25, 2.0, rng, choices=BURRS)
        )
        up = choose_exactly(n, k_up, rng, np.where(initial < 2.0, 0.0, -np.inf))
        maximal = initial + 0.25 * up
        if quartiles_agree(maximal, mq[1], mq[0], mq[2]):
            break
    else:
        raise RuntimeError("cannot place burr upsizing")

    size = _z(rng, n)  # latent vessel size: references, balloons and stents follow it
    ratio_spec = [t2["burr_artery_ratio"][g][0], {"OCT": 0.05, "IVUS": 0.06}[g]]
    ratio = _continuous(0.55 + 0.05 * _z(rng, n), ratio_spec, 0.01, 0.38, 0.75)
    predil = _continuous(2.6 + 0.3 * size, t2["predilation_balloon_mm"][g], 0.25, 1.5, 3.5)
    predil_atm = _continuous(17 + 4 * _z(rng, n), t2["max_predilation_atm"][g], 1, 8, 30)
    stents = _continuous(2 + 0.6 * _z(rng, n), t2["stents_implanted"][g], 1, 1, 4)
    diameter = _continuous(
        2.95 + 0.3 * size + 0.1 * _z(rng, n), t2["mean_stent_diameter_mm"][g], 0.01, 2.25, 4.0
    )
    length = _continuous(
        stents * 28 + 12 * _z(rng, n), t2["total_stent_length_mm"][g], 1, 12, 140
    )
    postdil = _continuous(
        3.25 + 0.35 * size + 0.1 * _z(rng, n), t2["postdilation_balloon_mm"][g], 0.25, 2.5, 4.5
    )
    postdil_atm = _continuous(21 + 3 * _z(rng, n), t2["max_postdilation_atm"][g], 1, 12, 30)
    med, q1, q3 = t2["procedure_time_min"][g]
    proc_time = rng.permutation(with_quartiles(n, med, q1, q3, 45, 240, rng, step=5))
    med, q1, q3 = t2["radiation_mgy"][g]
    radiation = rng.permutation(with_quartiles(n, med, q1, q3, 300, 4500, rng, step=1))
    contrast = _continuous(
        300 + 90 * _z(rng, n) + 30 * scoring, t2["contrast_ml"][g], 1, 100, 700
    )
    cost = _continuous(
        105000 + 12000 * (stents - 2) + 25000 * _z(rng, n), t2["procedure_cost_yuan"][g], 1,
        50000, 250000,
    )

    # imaging (Table 3)
    med, q1, q3 = t3["max_calcium_angle_deg"][g]
    angle = rng.permutation(with_quartiles(n, med, q1, q3, 180, 360, rng, step=1))
    ca_len = _continuous(27 + 12 * _z(rng, n), t3["calcium_length_mm"][g], 0.1, 6, 80)

    def ref(prefix, base_mld, base_csa, csa_mean, **corr):
        mld = _continuous(base_mld + 0.3 * size + 0.15 * _z(rng, n),
                          t3[f"{prefix}_mld_mm"][g], 0.01, 1.5, 4.5)
        maxld = _continuous(mld + 0.4 + 0.3 * _z(rng, n), t3[f"{prefix}_maxld_mm"][g], 0.01,
                            mld + 0.05, 6.0)
        csa = _continuous(base_csa + 1.0 * size + 1.2 * _z(rng, n),
                          t3[f"{prefix}_lumen_csa_mm2"][g], 0.01, 2.0, 16.0, mean=csa_mean,
                          **corr)
        return mld, maxld, csa

    p_mean, d_mean = REFERENCE_AREA_MEANS[g]
    p_mld, p_maxld, p_csa = ref("proximal_ref", 3.0, 8.8, p_mean)
    # the correlation of proximal and distal areas that gives the printed SD of their mean:
    # var((p + d) / 2) = (sp^2 + sd^2 + 2 rho sp sd) / 4
    sp = t3["proximal_ref_lumen_csa_mm2"][g][1]
    sdd = t3["distal_ref_lumen_csa_mm2"][g][1]
    sr = t3["mean_ref_lumen_csa_mm2"][g][1]
    rho = (4 * sr**2 - sp**2 - sdd**2) / (2 * sp * sdd)
    d_mld, d_maxld, d_csa = ref("distal_ref", 2.45, 5.6, d_mean, corr_with=p_csa, corr=rho)
    l_mld = _continuous(1.4 + 0.25 * _z(rng, n), t3["lesion_mld_mm"][g], 0.01, 0.7, 2.4)
    l_maxld = _continuous(l_mld + 0.4 + 0.3 * _z(rng, n), t3["lesion_maxld_mm"][g], 0.01,
                          l_mld + 0.05, 3.5)
    l_csa = _continuous(2.1 + 0.8 * _z(rng, n), t3["lesion_lumen_csa_mm2"][g], 0.01, 0.5, 6.5)

    msa, expansion = _stent_area(
        p_csa, d_csa, t3["minimum_stent_area_mm2"][g], t3["stent_expansion_percent"][g],
        0.04 * scoring, rng,
    )

    comp = _complications(arm, n, t4, rng)
    return pd.DataFrame(
        {
            "vessel": vessel,
            "ostial": ostial.astype(int),
            "bifurcation": bifurcation.astype(int),
            "severe_calcification": severe.astype(int),
            "lesion_type_b2c": b2c.astype(int),
            "angulation": angulation.astype(int),
            "multivessel_disease": multivessel.astype(int),
            "radial_access": radial.astype(int),
            "initial_burr_mm": initial,
            "max_burr_mm": maximal,
            "more_than_one_burr": up.astype(int),
            "burr_artery_ratio": ratio,
            "scoring_balloon_after_ra": scoring.astype(int),
            "predilation_balloon_mm": predil,
            "max_predilation_atm": predil_atm.astype(int),
            "stents_implanted": stents.astype(int),
            "mean_stent_diameter_mm": diameter,
            "total_stent_length_mm": length.astype(int),
            "postdilation_balloon_mm": postdil,
            "max_postdilation_atm": postdil_atm.astype(int),
            "procedure_time_min": proc_time.astype(int),
            "radiation_mgy": radiation.astype(int),
            "contrast_ml": contrast.astype(int),
            "procedure_cost_yuan": cost.astype(int),
            "max_calcium_angle_deg": angle.astype(int),
            "calcium_length_mm": ca_len,
            "proximal_ref_mld_mm": p_mld,
            "proximal_ref_maxld_mm": p_maxld,
            "proximal_ref_lumen_csa_mm2": p_csa,
            "distal_ref_mld_mm": d_mld,
            "distal_ref_maxld_mm": d_maxld,
            "distal_ref_lumen_csa_mm2": d_csa,
            "lesion_mld_mm": l_mld,
            "lesion_maxld_mm": l_maxld,
            "lesion_lumen_csa_mm2": l_csa,
            "minimum_stent_area_mm2": msa,
            **comp,
        }
    ), expansion


def _stent_area(p_csa, d_csa, msa_spec, exp_spec, shift, rng):
    """MSA such that MSA and MSA / mean(proximal, distal) both print as published.

    The expansion e (fraction) is solved for: mean and SD of e and of e * reference
    must print as published (kept inside 80 % of half a printed unit), moving as little
    as possible (least squares) from a random draw.
    """
    from scipy.optimize import minimize

    ref = (p_csa + d_csa) / 2
    n = ref.size
    m_msa, s_msa = msa_spec
    m_e, s_e = exp_spec[0] / 100, exp_spec[1] / 100
    tol = 0.3 * np.array([
        printed_tolerance(exp_spec[0]) / 100, printed_tolerance(exp_spec[1]) / 100,
        printed_tolerance(m_msa), printed_tolerance(s_msa),
    ])
    target = np.array([m_e, s_e, m_msa, s_msa])

    def stats(e):
        a = e * ref
        return np.array([e.mean(), e.std(ddof=1), a.mean(), a.std(ddof=1)])

    def jac(e):
        a = e * ref
        return np.vstack([
            np.full(n, 1.0 / n),
            (e - e.mean()) / ((n - 1) * e.std(ddof=1)),
            ref / n,
            (a - a.mean()) * ref / ((n - 1) * a.std(ddof=1)),
        ])

    cons = [
        {"type": "ineq", "fun": lambda e: tol - (stats(e) - target), "jac": lambda e: -jac(e)},
        {"type": "ineq", "fun": lambda e: tol + (stats(e) - target), "jac": jac},
    ]
    for _ in range(20):
        e0 = exact_moments(m_e + s_e * _z(rng, n) + shift, m_e, s_e, 0.55, 1.05)
        res = minimize(
            lambda e, e0=e0: np.sum((e - e0) ** 2), e0, jac=lambda e, e0=e0: 2 * (e - e0),
            method="SLSQP",
            bounds=[(0.55, 1.05)] * n, constraints=cons,
            options={"maxiter": 300, "ftol": 1e-12},
        )
        msa = np.round(res.x * ref, 2)
        expansion = 100 * msa / ref
        got = np.array([expansion.mean(), expansion.std(ddof=1), msa.mean(), msa.std(ddof=1)])
        printed = np.array([exp_spec[0], exp_spec[1], m_msa, s_msa])
        if np.all(np.abs(got - printed) < tol / 0.3 * np.array([100, 100, 1, 1])):
            return msa, expansion
    raise RuntimeError("cannot calibrate minimum stent area")


def _complications(arm: str, n: int, t4: dict, rng) -> dict:
    """Per-lesion complication flags; OCT has 6 complications in 5 lesions (one shared)."""
    names = [
        "perforation", "slow_flow_no_reflow", "dissection", "emergency_cabg",
        "longitudinal_stent_compression", "cardiac_tamponade", "contrast_induced_nephropathy",
    ]
    k_any = _count(t4["complications_lesions"][arm])
    counts = {c: _count(t4[c][arm]) for c in names}
    total = sum(counts.values())
    hit = rng.permutation(n)[:k_any]  # the lesions with any complication
    out = {c: np.zeros(n, dtype=int) for c in names}
    slots = list(hit) + list(rng.choice(hit, size=total - k_any, replace=False))
    # contrast nephropathy last: it is the one that may share a lesion
    order = sorted(names, key=lambda c: c == "contrast_induced_nephropathy")
    pos = 0
    for c in order:
        for _ in range(counts[c]):
            i = slots[pos]
            pos += 1
            if out[c][i]:
                raise RuntimeError("complication placed twice")
            out[c][i] = 1
    any_comp = np.zeros(n, dtype=int)
    for c in names:
        any_comp |= out[c]
    assert any_comp.sum() == k_any
    return {"procedure_success": np.ones(n, dtype=int), **out}


IMAGING_COLUMNS = [
    "max_calcium_angle_deg", "calcium_length_mm", "proximal_ref_mld_mm",
    "proximal_ref_maxld_mm", "proximal_ref_lumen_csa_mm2", "distal_ref_mld_mm",
    "distal_ref_maxld_mm", "distal_ref_lumen_csa_mm2", "lesion_mld_mm", "lesion_maxld_mm",
    "lesion_lumen_csa_mm2", "minimum_stent_area_mm2",
]


def _lesions_excluded(donors: pd.DataFrame, no_imaging: np.ndarray, rng) -> pd.DataFrame:
    """Lesions of excluded patients: rows resampled from the analysed lesions (so every
    column is plausible, none is calibrated); imaging left blank where there was none."""
    df = donors.iloc[rng.integers(len(donors), size=no_imaging.size)].reset_index(drop=True)
    df = df.astype({c: float for c in IMAGING_COLUMNS})
    df.loc[no_imaging, IMAGING_COLUMNS] = np.nan
    return df

