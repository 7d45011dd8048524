"""Build the calibrated example cohort in ``data/`` (SYNTHETIC data).

Run ``python tools/build_example.py [OUT_DIR]`` to (re)write
``patients.csv``, ``lesions.csv``, ``events.csv``, ``study.toml`` and ``README.md``.
The build is seeded and deterministic.

Every number comes from the published tables of the seed study (a single-centre
registry of OCT- versus IVUS-guided rotational atherectomy), kept in the package as
``paper_tables.json``. No real patient is behind any row: the values are random draws
moved (see ``calibrate.py``) until each arm's counts, means and SDs, and medians and
quartiles, print exactly as in Tables 1-4, with the flow (88 screened, 6 without
imaging, 3 with in-stent restenosis, 79 analysed with 84 lesions) and the events the
paper narrates.

Where the paper contradicts itself, the consistent value is used (see ``DEVIATIONS``).
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from calibrate import (
    choose_exactly,
    exact_moments,
    printed_tolerance,
    quantise,
    quartiles_agree,
    with_quartiles,
)

SEED = 20160101
ARMS = ("OCT", "IVUS")
DAYS_PER_MONTH = 365.25 / 12

# Values used where the printed paper is inconsistent or implausible.
DEVIATIONS = {
    "presentation ACS, IVUS": (
        "printed 27 (70.2%); 70.2% of 47 is 33 and SCAD is 14 (14 + 33 = 47): 33 is used"
    ),
    "radial access, IVUS": (
        "Table 2 prints 32 (62.7%) (count and percent agree); the text says 64.7%, the LAD "
        "percentage of the sentence before: 32 is used"
    ),
    "burr-to-artery ratio SD": (
        "printed 0.55 +- 0.5 and 0.54 +- 0.6 are impossible for a ratio of 0.4-0.7 "
        "(decimal slip): 0.05 and 0.06 are used"
    ),
    "mean reference lumen CSA": (
        "not stored; it is mean(proximal, distal). Values whose means print as the "
        "published proximal 8.5 and distal 5.3 mm2 cannot average below 6.85, so the OCT "
        "arm gets 6.86 (prints 6.9; the paper prints 6.8); IVUS 7.57 (prints 7.6)"
    ),
}

# Choices the paper does not report (needed for confounding by indication).
UNREPORTED_COUNTS = {
    "renal_insufficiency": {"OCT": 3, "IVUS": 10},  # eGFR < 60 ml/min/1.73 m2
    "ostial": {"OCT": 2, "IVUS": 9},  # lesions
}
# Patients with two treated lesions (32 patients / 33 lesions, 47 / 51).
TWO_LESION_PATIENTS = {"OCT": 1, "IVUS": 4}
# The narrated events (days from the index PCI).
EVENT_DAYS = {"oct_mi": 212, "ivus_sudden_death": 5, "ivus_hf_death": 34, "ivus_tvr": 287}

# Proximal and distal reference lumen area means, inside the printed windows (8.5 -> 8.46,
# 5.3 -> 5.26; 9.1 -> 9.12, 6.0 -> 6.02) so that their mean lands as near as possible to
# the printed mean reference area (OCT 6.86 for a printed 6.8, which no values printing
# as 8.5 and 5.3 can reach; IVUS 7.57, printed 7.6).
REFERENCE_AREA_MEANS = {"OCT": (8.46, 5.26), "IVUS": (9.12, 6.02)}
BURRS = np.array([1.25, 1.5, 1.75, 2.0])
BALLOONS = np.arange(1.5, 4.51, 0.25)


def paper_tables() -> dict:
    """The published numbers (a copy of the seed study's tables kept in the package)."""
    text = (resources.files("mace_outcomes.datasets").joinpath("paper_tables.json")
            .read_text("utf-8"))
    return json.loads(text)


def _z(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def _count(value) -> int:
    """A count from the tables; strings mark inconsistencies (see DEVIATIONS)."""
    if isinstance(value, str):
        found = re.search(r"(\d+) is consistent", value) or re.match(r"(\d+) printed", value)
        return int(found.group(1))
    return int(value)


def _continuous(x0, spec, step, lower, upper, sd=None, mean=None, **corr):
    """Calibrate a draw to a printed [mean, sd] and store it at ``step``.

    ``mean`` moves the target inside the printed mean's rounding window (it must still
    print as published); the repair tolerance shrinks accordingly.
    """
    printed_mean, sd_printed = spec
    sd = sd_printed if sd is None else sd
    target = printed_mean if mean is None else mean
    tol_mean = printed_tolerance(printed_mean) - abs(target - printed_mean)
    if tol_mean <= 0:
        raise ValueError(f"target mean {target} does not print as {printed_mean}")
    x = exact_moments(x0, target, sd, lower, upper, **corr)
    return quantise(x, step, target, sd, lower, upper, tol_mean=tol_mean)


# ------------------------------------------------------------------ patients (Table 1)


def _patients_arm(arm: str, n: int, t1: dict, rng: np.random.Generator) -> pd.DataFrame:
    g = arm
    frailty = _z(rng, n)  # shared latent: older, diabetic, worse kidneys and ventricle
    age = _continuous(70 + 8 * (0.5 * frailty + _z(rng, n)), t1["age_years"][g], 1, 42, 90)
    # renal insufficiency (eGFR < 60) is more likely in older, frailer patients
    k_renal = UNREPORTED_COUNTS["renal_insufficiency"][g]
    renal = choose_exactly(n, k_renal, rng, score=1.2 * frailty + 0.05 * (age - 70))
    egfr0 = np.where(renal, rng.uniform(32, 58, n), 85 + 15 * _z(rng, n) - 5 * frailty)
    egfr_lo = np.where(renal, 25.0, 60.5)
    egfr_hi = np.where(renal, 59.4, 140.0)
    egfr = _continuous(egfr0, t1["egfr"][g], 0.1, egfr_lo, egfr_hi)
    lvef = _continuous(62 + 8 * _z(rng, n) - 3 * frailty, t1["lvef_percent"][g], 0.1, 25, 80)
    bmi = _continuous(26 + 4 * _z(rng, n), t1["bmi"][g], 0.01, 16.0, 60)
    binary = {}
    scores = {
        "male": np.zeros(n),
        "hypertension": 0.5 * frailty,
        "diabetes": 0.8 * frailty,
        "dyslipidemia": np.zeros(n),
        "smoking": np.zeros(n),
        "prior_mi": 0.5 * frailty,
        "prior_pci": 0.3 * frailty,
        "prior_cabg": 0.3 * frailty,
    }
    for name, score in scores.items():
        binary[name] = choose_exactly(n, _count(t1[name][g]), rng, score).astype(int)
    n_scad = _count(t1["presentation"]["SCAD"][g])
    scad = choose_exactly(n, n_scad, rng)
    df = pd.DataFrame(
        {
            "arm": arm,
            "age_years": age.astype(int),
            "male": binary["male"],
            "bmi": bmi,
            "hypertension": binary["hypertension"],
            "diabetes": binary["diabetes"],
            "dyslipidemia": binary["dyslipidemia"],
            "smoking": binary["smoking"],
            "lvef_percent": lvef,
            "egfr": egfr,
            "renal_insufficiency": renal.astype(int),
            "prior_mi": binary["prior_mi"],
            "prior_pci": binary["prior_pci"],
            "prior_cabg": binary["prior_cabg"],
            "presentation": np.where(scad, "SCAD", "ACS"),
        }
    )
    return df


def _patients_excluded(arms: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Screened but excluded patients: plausible values, not calibrated to any table."""
    n = len(arms)
    egfr = np.round(np.clip(rng.normal(78, 22, n), 28, 130), 1)
    return pd.DataFrame(
        {
            "arm": arms,
            "age_years": np.clip(np.round(rng.normal(69, 9, n)), 45, 88).astype(int),
            "male": (rng.random(n) < 0.66).astype(int),
            "bmi": np.round(np.clip(rng.normal(26, 4, n), 18, 40), 2),
            "hypertension": (rng.random(n) < 0.78).astype(int),
            "diabetes": (rng.random(n) < 0.55).astype(int),
            "dyslipidemia": (rng.random(n) < 0.38).astype(int),
            "smoking": (rng.random(n) < 0.5).astype(int),
            "lvef_percent": np.round(np.clip(rng.normal(64, 9, n), 30, 78), 1),
            "egfr": egfr,
            "renal_insufficiency": (egfr < 60).astype(int),
            "prior_mi": (rng.random(n) < 0.16).astype(int),
            "prior_pci": (rng.random(n) < 0.3).astype(int),
            "prior_cabg": (rng.random(n) < 0.08).astype(int),
            "presentation": np.where(rng.random(n) < 0.35, "SCAD", "ACS"),
        }
    )


# ------------------------------------------------------------------ lesions (Tables 2-4)


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


# ------------------------------------------------------------------ follow-up and events


def _follow_up_days(n: int, rng) -> np.ndarray:
    """Follow-up of event-free survivors: 8-36 months, median 18, some under a year."""
    months = np.exp(rng.normal(np.log(18), 0.45, n))
    months = np.clip(months, 8.2, 35.8)
    days = np.round(months * DAYS_PER_MONTH).astype(int)
    days[np.argmin(days)] = int(np.ceil(8 * DAYS_PER_MONTH))  # shortest exactly 8 months
    days[np.argmax(days)] = int(np.floor(36 * DAYS_PER_MONTH))  # longest exactly 36 months
    return days


def build(seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Build the three tables (patients, lesions, events) of the example cohort."""
    tables = paper_tables()
    t1, t2, t3, t4 = (tables[k] for k in (
        "table1_patients", "table2_lesions", "table3_imaging", "table4_outcomes"))
    flow = tables["flow"]
    rng = np.random.default_rng(seed)

    n_arm = {a: tables["arms"][a]["patients"] for a in ARMS}
    n_les = {a: tables["arms"][a]["lesions"] for a in ARMS}
    assert n_les["OCT"] - n_arm["OCT"] == TWO_LESION_PATIENTS["OCT"]
    assert n_les["IVUS"] - n_arm["IVUS"] == TWO_LESION_PATIENTS["IVUS"]

    # analysed patients, per arm
    parts, lesion_parts, expansions = [], [], {}
    for arm in ARMS:
        p = _patients_arm(arm, n_arm[arm], t1, rng)
        p["in_stent_restenosis"] = 0
        n_lesions = np.ones(n_arm[arm], dtype=int)
        n_lesions[rng.permutation(n_arm[arm])[: TWO_LESION_PATIENTS[arm]]] = 2
        owner = np.repeat(np.arange(n_arm[arm]), n_lesions)
        les, exp = _lesions_arm(arm, owner, t2, t3, t4, rng)
        les["_owner"] = owner
        p["_key"] = [f"{arm}{i}" for i in range(n_arm[arm])]
        les["_key"] = [f"{arm}{i}" for i in owner]
        les["_arm"] = arm
        parts.append(p)
        lesion_parts.append(les)
        expansions[arm] = exp
    # screened but excluded: no imaging (arm 'none'), in-stent restenosis (1 OCT, 2 IVUS)
    n_none = flow["excluded_no_imaging"]
    n_isr = flow["excluded_in_stent_restenosis"]
    ex_arms = ["none"] * n_none + (["OCT", "IVUS", "IVUS"] + ["IVUS"] * n_isr)[:n_isr]
    ex = _patients_excluded(ex_arms, rng)
    ex["in_stent_restenosis"] = [0] * n_none + [1] * n_isr
    ex["prior_pci"] = np.where(ex["in_stent_restenosis"] == 1, 1, ex["prior_pci"])
    ex["_key"] = [f"EX{i}" for i in range(len(ex))]
    ex_les = _lesions_excluded(
        pd.concat(lesion_parts, ignore_index=True).drop(columns=["_owner", "_key", "_arm"]),
        np.arange(len(ex)) < n_none, rng,
    )
    ex_les["_key"] = ex["_key"].to_numpy()
    ex_les["_arm"] = ex["arm"].to_numpy()
    parts.append(ex)
    lesion_parts.append(ex_les)

    patients = pd.concat(parts, ignore_index=True)
    lesions = pd.concat(lesion_parts, ignore_index=True)
    assert len(patients) == flow["screened_patients"]

    # index dates spread over Jan 2016 - Dec 2019; ids follow the date order
    start, end = np.datetime64("2016-01-04"), np.datetime64("2019-12-27")
    offsets = np.sort(rng.choice(int((end - start).astype(int)), size=len(patients),
                                 replace=False))
    order = rng.permutation(len(patients))
    patients = patients.iloc[order].reset_index(drop=True)
    patients["index_date"] = start + offsets.astype("timedelta64[D]")
    patients["patient_id"] = [f"P{i + 1:03d}" for i in range(len(patients))]
    key_to_id = dict(zip(patients["_key"], patients["patient_id"], strict=True))
    lesions["patient_id"] = lesions["_key"].map(key_to_id)
    lesions = lesions.sort_values(["patient_id"], kind="stable").reset_index(drop=True)
    lesions["lesion_id"] = [f"L{i + 1:03d}" for i in range(len(lesions))]

    # patient-level summaries of the lesion confounders (for patient-level models)
    by_pat = lesions.groupby("patient_id")
    patients["any_left_main"] = patients["patient_id"].map(
        by_pat["vessel"].agg(lambda v: int((v == "LM").any())))
    patients["any_ostial"] = patients["patient_id"].map(by_pat["ostial"].max()).astype(int)
    patients["any_bifurcation"] = patients["patient_id"].map(
        by_pat["bifurcation"].max()).astype(int)

    patients, events = _events_and_follow_up(patients, lesions, rng)
    patients["synthetic"] = True

    lead = ["patient_id", "arm", "index_date", "last_contact_date", "in_stent_restenosis"]
    rest = [c for c in patients.columns if c not in lead and not c.startswith("_")]
    patients = patients[lead + rest]
    lead = ["lesion_id", "patient_id", "vessel"]
    rest = [c for c in lesions.columns if c not in lead and not c.startswith("_")]
    lesions = lesions[lead + rest]
    return {"patients": patients, "lesions": lesions, "events": events}


def _events_and_follow_up(patients: pd.DataFrame, lesions: pd.DataFrame, rng):
    """Last contact dates and the events the paper narrates."""
    pts = patients.set_index("patient_id")
    les = lesions.copy()
    les["expansion"] = 100 * les["minimum_stent_area_mm2"] / (
        (les["proximal_ref_lumen_csa_mm2"] + les["distal_ref_lumen_csa_mm2"]) / 2)
    analysed = pts.index[(pts["arm"] != "none") & (pts["in_stent_restenosis"] == 0)]
    one_lesion = les.groupby("patient_id")["lesion_id"].count() == 1
    ivus_single = [p for p in analysed if pts.at[p, "arm"] == "IVUS" and one_lesion[p]]
    oct_single = [p for p in analysed if pts.at[p, "arm"] == "OCT" and one_lesion[p]]
    first_lesion = les.groupby("patient_id").first()

    # IVUS sudden death (probable stent thrombosis): the worst-expanded single lesion
    exp_ivus = first_lesion.loc[ivus_single, "expansion"].sort_values()
    p_st = exp_ivus.index[0]
    p_tvr = exp_ivus.index[1]  # restenosis: the next under-expanded lesion
    # heart-failure death: the IVUS patient with the lowest ejection fraction
    p_hf = pts.loc[[p for p in ivus_single if p not in (p_st, p_tvr)], "lvef_percent"].idxmin()
    # OCT non-target-vessel MI: a diabetic OCT patient
    cand = [p for p in oct_single if pts.at[p, "diabetes"] == 1]
    p_mi = cand[int(rng.integers(len(cand)))]

    n = len(pts)
    fu = pd.Series(0, index=pts.index, dtype=int)
    surv = [p for p in analysed if p not in (p_st, p_hf)]
    fu_s = np.sort(_follow_up_days(len(surv), rng))
    # the median over all 79 analysed (the two early deaths are the shortest) is exactly
    # 18 months: the middle value is set to it and its neighbours kept on their side
    target = int(round(18 * DAYS_PER_MONTH))
    mid = (len(surv) + 2) // 2 - 2
    fu_s[:mid] = np.minimum(fu_s[:mid], target)
    fu_s[mid] = target
    fu_s[mid + 1 :] = np.maximum(fu_s[mid + 1 :], target)
    fu_s = rng.permutation(fu_s)
    # event patients are followed beyond their events
    fu.loc[surv] = fu_s
    for p, day in ((p_mi, EVENT_DAYS["oct_mi"]), (p_tvr, EVENT_DAYS["ivus_tvr"])):
        if fu[p] <= day:
            swap = fu[surv][fu[surv] > day + 60].index[0]
            fu[p], fu[swap] = fu[swap], fu[p]
    fu[p_st] = EVENT_DAYS["ivus_sudden_death"]
    fu[p_hf] = EVENT_DAYS["ivus_hf_death"]
    others = pts.index.difference(analysed)
    fu.loc[others] = _follow_up_days(len(others), rng)
    idx = pts["index_date"]
    pts["last_contact_date"] = idx + pd.to_timedelta(fu, unit="D")
    assert n == len(fu)

    def vessel_of(p):
        return first_lesion.at[p, "vessel"]

    other_vessel = [v for v in ("LAD", "LCX", "RCA") if v != vessel_of(p_mi)][
        int(rng.integers(2))]
    isr = [p for p in others if pts.at[p, "in_stent_restenosis"] == 1]
    p_isr = [p for p in isr if pts.at[p, "arm"] == "IVUS"][0]
    rows = [
        # OCT: a non-target-vessel myocardial infarction within the first year
        (p_mi, "", "mi", EVENT_DAYS["oct_mi"], other_vessel, ""),
        # IVUS: sudden death on day 5, suspected (probable) stent thrombosis
        (p_st, first_lesion.at[p_st, "lesion_id"], "stent_thrombosis",
         EVENT_DAYS["ivus_sudden_death"], vessel_of(p_st), "probable"),
        (p_st, "", "cardiac_death", EVENT_DAYS["ivus_sudden_death"], "", ""),
        # IVUS: death from heart failure about a month after discharge
        (p_hf, "", "cardiac_death", EVENT_DAYS["ivus_hf_death"], "", ""),
        # IVUS: revascularisation for restenosis of the target vessel
        (p_tvr, "", "tvr", EVENT_DAYS["ivus_tvr"], vessel_of(p_tvr), ""),
        # an excluded patient's event (in-stent restenosis treated again): excluded with
        # the patient, so the analysed counts above stay as published
        (p_isr, first_lesion.at[p_isr, "lesion_id"], "tlr", min(150, fu[p_isr] - 1),
         vessel_of(p_isr), ""),
    ]
    events = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "event_type", "day",
                                         "target_vessel", "st_certainty"])
    events["event_date"] = idx.loc[events["patient_id"]].to_numpy() + pd.to_timedelta(
        events["day"], unit="D").to_numpy()
    events = events.sort_values(["event_date", "patient_id"], kind="stable").reset_index(
        drop=True)
    events.insert(0, "event_id", [f"E{i + 1:03d}" for i in range(len(events))])
    events = events[["event_id", "patient_id", "lesion_id", "event_type", "event_date",
                     "target_vessel", "st_certainty"]]
    return pts.reset_index(), events


# ------------------------------------------------------------------ writing


STUDY_TOML = """\
# SYNTHETIC cohort: calibrated to the published tables of a single-centre registry of
# OCT- versus IVUS-guided rotational atherectomy; no real patient is behind any row.
[study]
title = "OCT- versus IVUS-guided rotational atherectomy (synthetic calibrated cohort)"
synthetic = true
arms = ["OCT", "IVUS"]
horizon_days = 365
level = "patient"
endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]

[exclusions]
"no intravascular imaging" = "arm == 'none'"
"in-stent restenosis" = "in_stent_restenosis == 1"

[propensity]
# the confounders by indication the paper names (OCT less often used in each)
covariates = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]
estimand = "ATE"

[figures]
width = "single"

[tables]
# Table 4's lesion-level procedural outcomes (shown apart from Tables 2-3)
procedural = ["procedure_success", "perforation", "slow_flow_no_reflow", "dissection",
              "emergency_cabg", "longitudinal_stent_compression", "cardiac_tamponade",
              "contrast_induced_nephropathy"]
"""


def _achieved(tables: dict[str, pd.DataFrame]) -> dict:
    """Numbers the README reports from the built tables (not from the paper)."""
    p, le = tables["patients"], tables["lesions"]
    keep = p.loc[(p["arm"] != "none") & (p["in_stent_restenosis"] == 0), ["patient_id", "arm"]]
    le = le.merge(keep, on="patient_id")
    ref = (le["proximal_ref_lumen_csa_mm2"] + le["distal_ref_lumen_csa_mm2"]) / 2
    le = le.assign(expansion=100 * le["minimum_stent_area_mm2"] / ref, mean_ref=ref)
    out = {}
    for arm in ARMS:
        sub = le[le["arm"] == arm]
        out[arm] = {c: (sub[c].mean(), sub[c].std(ddof=1)) for c in ("expansion", "mean_ref")}
    p = p.merge(keep[["patient_id"]], on="patient_id")
    days = (pd.to_datetime(p["last_contact_date"]) - pd.to_datetime(p["index_date"])).dt.days
    dead = set(tables["events"].loc[tables["events"]["event_type"].str.endswith("death"),
                                    "patient_id"])
    out["censored_before_1y"] = int(((days < 365) & ~p["patient_id"].isin(dead)).sum())
    return out


def _readme(tables: dict[str, pd.DataFrame]) -> str:
    dev = "\n".join(f"- **{k}**: {v}" for k, v in DEVIATIONS.items())
    got = _achieved(tables)
    eo, ei = got["OCT"]["expansion"], got["IVUS"]["expansion"]
    ro, ri = got["OCT"]["mean_ref"], got["IVUS"]["mean_ref"]
    renal, ostial = UNREPORTED_COUNTS["renal_insufficiency"], UNREPORTED_COUNTS["ostial"]
    ev = EVENT_DAYS
    return f"""# Example cohort -- SYNTHETIC DATA

**Every row in this folder is synthetic.** No real patient is behind any value. The
cohort is generated by `python tools/build_example.py` (seeded,
deterministic) so that it reproduces the published tables of a single-centre
retrospective registry comparing OCT- with IVUS-guided rotational atherectomy for
calcified coronary lesions (Jan 2016 - Dec 2019). Every patient row carries
`synthetic = True`, and `study.toml` says `synthetic = true`.

Load it with `mace_outcomes.load_example()` (exclusions applied) or
`mace_outcomes.read_cohort("data/", apply_exclusions=False)` (all 88 screened patients).

## What is reproduced
- Flow: 88 screened; 6 without intravascular imaging (`arm == 'none'`); 3 with in-stent
  restenosis (`in_stent_restenosis == 1`); 79 analysed (32 OCT, 47 IVUS) with 84
  lesions (33, 51).
- Every count of Tables 1, 2 and 4 exactly; every mean and SD (Tables 1-3) to the printed
  precision; medians and quartiles exactly under R quantile types 5, 6 (SPSS) and 7.
- Stent expansion is not stored. Per lesion it is `minimum_stent_area_mm2` divided by the
  mean of `proximal_ref_lumen_csa_mm2` and `distal_ref_lumen_csa_mm2` (x 100):
  {eo[0]:.1f} +- {eo[1]:.1f} % (OCT) vs {ei[0]:.1f} +- {ei[1]:.1f} % (IVUS), printed
  82 +- 8 % vs 75 +- 9 %. Mean reference area {ro[0]:.2f} +- {ro[1]:.2f} vs
  {ri[0]:.2f} +- {ri[1]:.2f} mm2 (see below).
- Events as narrated. OCT: one non-target-vessel MI (day {ev['oct_mi']}). IVUS: a sudden
  death on day {ev['ivus_sudden_death']} (cardiac death with probable stent thrombosis), a
  heart-failure death on day {ev['ivus_hf_death']} (about a month after discharge), a TVR for
  restenosis (day {ev['ivus_tvr']}). 1-year MACE: 1 (OCT) vs 3 (IVUS) patients. One excluded
  (in-stent restenosis) patient has a TLR, which leaves with the patient.
- Follow-up of survivors 8-36 months, median 18 months (over all 79 analysed);
  {got['censored_before_1y']} event-free patients are censored before one year.
- Confounding by indication as the paper describes: OCT less often with renal
  insufficiency (eGFR < 60; {renal['OCT']}/32 vs {renal['IVUS']}/47, not reported by the
  paper), ostial lesions ({ostial['OCT']}/33 vs {ostial['IVUS']}/51, not reported),
  left-main (1/33 vs 5/51) and bifurcation lesions (7/33 vs 17/51). The patient-level
  flags `any_left_main`, `any_ostial`, `any_bifurcation` summarise each patient's lesions.
- Printed p-values are not targets: recomputed from these data they follow the stated
  tests, which the paper does not always do (see `p_value_notes` in
  `mace_outcomes/datasets/paper_tables.json`).

## Where the paper contradicts itself
{dev}

## Tables
- `patients.csv`: patient_id, arm (OCT / IVUS / none), index_date, last_contact_date,
  in_stent_restenosis, baseline covariates (Table 1), renal_insufficiency, lesion
  summaries, synthetic.
- `lesions.csv`: lesion_id, patient_id, vessel, lesion and procedural characteristics
  (Table 2), imaging (Table 3), complications (Table 4). Imaging values are blank for
  patients without intravascular imaging.
- `events.csv`: event_id, patient_id, lesion_id, event_type (ARC-2), event_date,
  target_vessel, st_certainty.
"""


def write(out_dir: str | Path, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Build the cohort and write it (CSV, study.toml, README.md) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build(seed)
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if np.issubdtype(df[c].dtype, np.datetime64):
                df[c] = df[c].dt.strftime("%Y-%m-%d")
        df.to_csv(out / f"{name}.csv", index=False, float_format="%.6g", lineterminator="\n")
    (out / "study.toml").write_text(STUDY_TOML, encoding="utf-8")
    (out / "README.md").write_text(_readme(tables), encoding="utf-8")
    return tables


def default_data_dir() -> Path:
    """The project's ``data/`` folder (the single canonical copy of the example)."""
    return Path(__file__).resolve().parents[1] / "data"


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default_data_dir()
    write(target)
    print(f"wrote the synthetic example cohort to {target}")
