"""A registry simulator with confounding by indication and a known true effect.

:func:`simulate_registry` writes event-level records (patients, lesions, events) of
any size with the structure of the example cohort, an imaging-guided arm chosen less
often in sicker patients with harder lesions (as in the seed study), and a chosen
treatment effect. ``cohort.truth`` holds the true marginal effects, computed from the
potential outcomes of every simulated patient. Everything is vectorised: a million
patients and about three million events take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._format import DAYS_PER_MONTH
from ..records import Cohort

VESSELS = np.array(["LM", "LAD", "LCX", "RCA"], dtype=object)
VESSEL_P = np.array([0.08, 0.65, 0.09, 0.18])
BURRS = np.array([1.25, 1.5, 1.75, 2.0])
CONFOUNDERS = ["renal_insufficiency", "any_left_main", "any_ostial", "any_bifurcation"]
# log-odds of receiving the treated arm (OCT), per confounder (before ``confounding``)
PS_COEF = np.array([-1.0, -1.3, -0.8, -0.6])
# log hazard ratios of MACE, per confounder, then age (per 10 years), diabetes, LVEF < 50
OUTCOME_COEF = np.array([0.7, 0.6, 0.4, 0.3])
AGE_COEF, DIABETES_COEF, LOW_EF_COEF = 0.25, 0.3, 0.4
WEIBULL_SHAPE = 0.6  # falling hazard: stent thrombosis and early deaths cluster early
# type of the first MACE event: cardiac death, MI, TVR (a share of them TLR), definite
# stent thrombosis (recorded with an MI on the same day)
FIRST_MACE_P = np.array([0.20, 0.30, 0.38, 0.12])


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _solve_intercept(lin: np.ndarray, target: float) -> float:
    """Intercept a such that mean(expit(a + lin)) == target (Newton on a sample)."""
    a = np.log(target / (1 - target)) - float(np.mean(lin))
    for _ in range(50):
        p = _expit(a + lin)
        step = (p.mean() - target) / max(float(np.mean(p * (1 - p))), 1e-12)
        a -= step
        if abs(step) < 1e-12:
            break
    return a


def _solve_rate(lp: np.ndarray, risk: float, horizon: float) -> float:
    """Weibull scale lam such that mean(1 - exp(-lam h^k e^lp)) == risk (bisection)."""
    hk = horizon**WEIBULL_SHAPE
    elp = np.exp(lp)
    lo, hi = 1e-12, 1.0
    for _ in range(100):
        mid = np.sqrt(lo * hi)
        if np.mean(-np.expm1(-mid * hk * elp)) < risk:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(lo * hi))


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Category codes drawn with probabilities p (faster than Generator.choice)."""
    return np.searchsorted(np.cumsum(p) / np.sum(p), rng.random(size), side="right")


def binary_cox_efron(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> float:
    """Cox log hazard ratio of a 0/1 covariate by maximum partial likelihood, Efron ties.

    Exact for the full data (no approximation beyond Efron's, as in R's ``coxph`` and
    lifelines), but computed from counts per distinct time, so two million rows of
    potential outcomes take a fraction of a second. With ``x`` binary, the partial
    log-likelihood at each event time t_j with d_j = d1_j + d0_j deaths and n1_j, n0_j
    at risk is

        d1_j b - sum_{l=0}^{d_j - 1} log(n1_j e^b + n0_j - (l / d_j)(d1_j e^b + d0_j)),

    maximised by Newton's method (it is concave in b).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    x = np.asarray(x, dtype=bool)
    uniq, inv = np.unique(time, return_inverse=True)
    k = uniq.size
    n1_at = np.bincount(inv, weights=x, minlength=k)  # subjects with this time
    n0_at = np.bincount(inv, weights=~x, minlength=k)
    d1 = np.bincount(inv, weights=event & x, minlength=k)
    d0 = np.bincount(inv, weights=event & ~x, minlength=k)
    # at risk at t_j: time >= t_j (reverse cumulative sums)
    r1 = np.cumsum(n1_at[::-1])[::-1]
    r0 = np.cumsum(n0_at[::-1])[::-1]
    has = (d1 + d0) > 0
    d1, d0, r1, r0 = d1[has], d0[has], r1[has], r0[has]
    d = (d1 + d0).astype(np.int64)
    # one term per death: l = 0..d_j-1 at its time
    rep = np.repeat(np.arange(d.size), d)
    ell = np.arange(rep.size) - np.repeat(np.cumsum(d) - d, d)
    frac = ell / d[rep]
    a1 = r1[rep] - frac * d1[rep]  # treated "at risk" weight in the Efron denominator
    a0 = r0[rep] - frac * d0[rep]
    total_d1 = d1.sum()
    if d.sum() == 0 or total_d1 == 0 or total_d1 == d.sum():
        return float("nan") if d.sum() == 0 else float(np.sign(total_d1 - 0.5) * np.inf)
    b = 0.0
    for _ in range(100):
        eb = np.exp(b)
        den = a1 * eb + a0
        p = a1 * eb / den
        score = total_d1 - p.sum()
        info = np.sum(p * (1 - p))
        step = score / info
        b += step
        if abs(step) < 1e-12:
            break
    return float(b)


def simulate_registry(
    n_patients: int = 1000,
    seed: int | None = 0,
    *,
    true_hr: float = 0.7,
    arms: tuple[str, str] = ("OCT", "IVUS"),
    treated_share: float = 0.4,
    confounding: float = 1.0,
    baseline_risk_1y: float = 0.08,
    noncardiac_death_per_year: float = 0.02,
    events_per_patient: float = 3.0,
    second_lesion_share: float = 0.12,
    follow_up_months: tuple[float, float, float] = (8.0, 18.0, 36.0),
    horizon: float = 365.0,
    truth_sample: int | None = None,
) -> Cohort:
    """Simulate a registry of imaging-guided PCI: SYNTHETIC event-level records.

    Each patient has baseline covariates (age, sex, diabetes, eGFR and renal
    insufficiency, LVEF, ...), one or two treated lesions (vessel, ostial, bifurcation,
    procedure and imaging measures) and follow-up events with ARC-2 names. The arm is
    chosen by indication: the treated arm (``arms[0]``, OCT) is less likely with renal
    insufficiency, a left-main, ostial or bifurcation lesion (logistic model), and the
    same four confounders raise the hazard of MACE, so a crude comparison flatters the
    treated arm. Time to the first MACE (cardiac death, MI, TVR/TLR, definite or
    probable stent thrombosis) follows a proportional-hazards Weibull model (shape 0.6,
    falling hazard) with conditional hazard ratio ``true_hr`` for the treated arm;
    non-cardiac death is an independent competing event (constant hazard, unrelated to
    covariates and arm, so censoring it is non-informative). Follow-up ends 8-36
    months after the index PCI (median 18). Besides the first MACE, patients have
    other events (bleeding, stroke and possible stent thrombosis before it; repeat MI,
    TVR/TLR, bleeding, stroke after it) so that there are about ``events_per_patient``
    event rows per patient; none of them changes the time to the first MACE.

    The patients table has the example cohort's columns; the lesions table a subset of
    them (vessel, ostial, bifurcation, calcification, lesion type, initial burr, scoring
    balloon, reference and minimum stent areas -- stent expansion around 82 % with OCT
    and 75 % with IVUS, a post-treatment measure that does not change the hazard).
    0/1 flags are ``int8`` and event strings categorical, to keep a million-patient
    registry small. Nothing loops over patients: 1,000,000 patients and about
    3,000,000 events take about 4-5 s of CPU (see
    ``benchmarks/bench_datasets_simulate.py``) plus the validation in ``Cohort``.

    Parameters
    ----------
    n_patients : number of patients.
    seed : seed of the random generator (``None``: fresh entropy).
    true_hr : conditional (patient-level) hazard ratio of MACE, ``arms[0]`` vs ``arms[1]``.
    arms : labels of the treated and the control arm.
    treated_share : share of patients in the treated arm.
    confounding : multiplies the log-odds of the confounders in the choice of arm
        (0: arm independent of covariates, as in a trial).
    baseline_risk_1y : 1-year MACE risk in the control arm (averaged over patients).
    noncardiac_death_per_year : hazard of the competing non-cardiac death.
    events_per_patient : target mean number of event rows per patient.
    second_lesion_share : share of patients with a second treated lesion.
    follow_up_months : (minimum, median, maximum) administrative follow-up.
    horizon : days; the horizon of ``truth['marginal_hr']`` (potential outcomes are
        censored there).
    truth_sample : fit the true marginal HR to this many randomly chosen patients (both
        potential outcomes of each); None (default) uses every patient -- the fit works
        on counts per day (:func:`binary_cox_efron`) and takes well under a second for a
        million patients.

    Returns
    -------
    Cohort
        ``patients``, ``lesions``, ``events`` and ``truth``: a dict with

        - ``marginal_hr``: Cox hazard ratio (Efron ties, arm as the only covariate,
          unweighted) fitted to both potential times to first MACE of every patient,
          in whole days and censored at ``horizon`` -- the usual definition of the true
          marginal HR in simulation studies. Computed by :func:`binary_cox_efron`,
          which equals lifelines' ``CoxPHFitter`` on the same 2 n rows (checked in the
          tests) but runs on counts per day;
        - ``risk_1y``: {arm: share of patients whose potential time to first MACE under
          that arm is <= 365 days} (all patients; competing death ignored, i.e. what a
          Kaplan-Meier estimate that censors non-cardiac deaths targets);
        - ``risk_difference_1y``: treated minus control;
        - ``conditional_hr``: ``true_hr``; ``confounders``: the covariate columns that
          drive the choice of arm (they also drive the outcome);
          ``prognostic``: covariates that drive only the outcome; ``horizon_days``;
          ``n_truth_fit``; ``treated``: ``arms[0]``; ``seed``; ``log_marginal_hr``.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> cohort = mo.simulate_registry(2000, seed=1, true_hr=0.7)
    >>> {"marginal_hr", "risk_1y", "confounders"} <= set(cohort.truth)
    True
    >>> cohort.truth["confounders"]
    ['renal_insufficiency', 'any_left_main', 'any_ostial', 'any_bifurcation']
    >>> tte = mo.time_to_event(cohort, endpoint="mace", horizon=365)
    >>> len(tte)
    2000
    """
    if n_patients < 2:
        raise ValueError("n_patients must be at least 2")
    if not 0 < treated_share < 1:
        raise ValueError("treated_share must be in (0, 1)")
    if true_hr <= 0:
        raise ValueError("true_hr must be positive")
    rng = np.random.default_rng(seed)
    n = int(n_patients)
    treated_label, control_label = arms

    # ---- patients: baseline covariates
    age = np.clip(np.round(rng.normal(69, 9, n)), 35, 95)
    male = rng.random(n) < 0.66
    diabetes = rng.random(n) < 0.55
    egfr = np.clip(rng.normal(82, 20, n) - 0.6 * (age - 69) - 4 * diabetes, 8, 150).round(1)
    renal = egfr < 60
    lvef = np.clip(rng.normal(64, 9, n), 20, 80).round(1)

    # ---- lesions: one or two per patient
    n_les = 1 + (rng.random(n) < second_lesion_share)
    owner = np.repeat(np.arange(n), n_les)
    first = np.concatenate([[0], np.cumsum(n_les)[:-1]])
    m = owner.size
    vessel_code = _pick(rng, VESSEL_P, m)
    lm = vessel_code == 0
    ostial = rng.random(m) < np.where(lm, 0.5, 0.08)
    bifurcation = rng.random(m) < np.where(vessel_code <= 1, 0.35, 0.2)
    any_lm = np.maximum.reduceat(lm, first)
    any_ostial = np.maximum.reduceat(ostial, first)
    any_bif = np.maximum.reduceat(bifurcation, first)
    conf = np.column_stack([renal, any_lm, any_ostial, any_bif]).astype(float)

    # ---- choice of arm: confounding by indication
    lin = confounding * conf @ PS_COEF
    ps = _expit(_solve_intercept(lin, treated_share) + lin)
    treated = rng.random(n) < ps
    # a two-arm registry has both arms: in a tiny one drawn all in one arm, the patient
    # likeliest to be in the other arm is moved there
    if treated.all():
        treated[np.argmin(ps)] = False
    elif not treated.any():
        treated[np.argmax(ps)] = True

    # ---- potential times to first MACE (days): one draw per patient, both arms
    lp = conf @ OUTCOME_COEF + AGE_COEF * (age - 69) / 10 + DIABETES_COEF * diabetes \
        + LOW_EF_COEF * (lvef < 50)
    lam = _solve_rate(lp[: min(n, 200_000)], baseline_risk_1y, 365.0)
    e = rng.exponential(size=n)
    log_hr = np.log(true_hr)
    t0 = (e / (lam * np.exp(lp))) ** (1 / WEIBULL_SHAPE)
    t1 = (e / (lam * np.exp(lp + log_hr))) ** (1 / WEIBULL_SHAPE)
    t_mace = np.where(treated, t1, t0)

    # ---- follow-up and the competing non-cardiac death
    lo_m, med_m, hi_m = follow_up_months
    months = np.clip(np.exp(rng.normal(np.log(med_m), 0.45, n)), lo_m, hi_m)
    censor = np.floor(months * DAYS_PER_MONTH)
    t_ncd = rng.exponential(365.25 / max(noncardiac_death_per_year, 1e-12), n)

    mace_seen = t_mace <= np.minimum(censor, t_ncd)
    kind = _pick(rng, FIRST_MACE_P, n)  # 0 cardiac death, 1 MI, 2 TVR/TLR, 3 definite ST
    fatal = mace_seen & (kind == 0)
    ncd_seen = (t_ncd < np.minimum(censor, np.where(fatal, t_mace, np.inf)))
    end = np.minimum(censor, np.where(fatal, t_mace, np.inf))
    end = np.minimum(end, np.where(ncd_seen, t_ncd, np.inf))
    end_day = np.floor(end)

    # the lesion an event concerns: a random one of the patient's lesions
    def lesion_of(pat):
        return first[pat] + (rng.random(pat.size) * n_les[pat]).astype(np.int64)

    rows = []  # (patient, day, type code, lesion index or -1, vessel code or -1, cert)
    types = np.array(["cardiac_death", "noncardiac_death", "mi", "tvr", "tlr",
                      "stent_thrombosis", "stroke", "bleeding"], dtype=object)
    T = {name: i for i, name in enumerate(types)}
    certs = np.array([None, "definite", "probable", "possible"], dtype=object)

    # first MACE
    pm = np.flatnonzero(mace_seen)
    day_m = np.floor(t_mace[pm])
    k = kind[pm]
    les_m = lesion_of(pm)
    ves_m = vessel_code[les_m]
    # cardiac deaths: 30 % with probable stent thrombosis the same day
    cd = pm[k == 0]
    rows.append((cd, day_m[k == 0], T["cardiac_death"], -1, -1, 0))
    st_p = (k == 0) & (rng.random(pm.size) < 0.3)
    rows.append((pm[st_p], day_m[st_p], T["stent_thrombosis"], les_m[st_p], ves_m[st_p], 2))
    # MI: half in the treated vessel, half elsewhere (non-target vessel)
    mi = k == 1
    other = (ves_m + 1 + (rng.random(pm.size) * 3).astype(int)) % 4
    mi_v = np.where(rng.random(pm.size) < 0.5, ves_m, other)
    rows.append((pm[mi], day_m[mi], T["mi"], -1, mi_v[mi], 0))
    # revascularisation: 60 % target lesion (TLR, a TVR too), 40 % elsewhere in the vessel
    rv = k == 2
    tlr = rv & (rng.random(pm.size) < 0.6)
    tvr = rv & ~tlr
    rows.append((pm[tlr], day_m[tlr], T["tlr"], les_m[tlr], ves_m[tlr], 0))
    rows.append((pm[tvr], day_m[tvr], T["tvr"], -1, ves_m[tvr], 0))
    # definite stent thrombosis, with the MI it causes
    st = k == 3
    rows.append((pm[st], day_m[st], T["stent_thrombosis"], les_m[st], ves_m[st], 1))
    rows.append((pm[st], day_m[st], T["mi"], -1, ves_m[st], 0))
    # non-cardiac deaths
    pn = np.flatnonzero(ncd_seen)
    rows.append((pn, np.floor(t_ncd[pn]), T["noncardiac_death"], -1, -1, 0))

    # other events, spread over follow-up; none of MACE type before the first MACE
    n_main = sum(r[0].size for r in rows)
    extra_total = max(events_per_patient * n - n_main, 0.0)
    rate = extra_total / max(float(end.sum()), 1.0)
    n_extra = rng.poisson(rate * end)
    pe = np.repeat(np.arange(n), n_extra)
    te = rng.random(pe.size) * end[pe]
    before = ~mace_seen[pe] | (te < t_mace[pe])
    # before the first MACE: bleeding 62 %, stroke 35 %, possible stent thrombosis 3 %
    # (not MACE: ARC-2 MACE counts definite and probable only);
    # after it: repeat MI, TVR, TLR, bleeding, stroke
    pre_kind = np.array([T["bleeding"], T["stroke"], T["stent_thrombosis"]])[
        _pick(rng, np.array([0.62, 0.35, 0.03]), pe.size)]
    post_kind = np.array([T["mi"], T["tvr"], T["tlr"], T["bleeding"], T["stroke"]])[
        _pick(rng, np.array([0.2, 0.2, 0.2, 0.25, 0.15]), pe.size)]
    ek = np.where(before, pre_kind, post_kind)
    les_e = lesion_of(pe)
    with_lesion = (ek == T["tlr"]) | (ek == T["stent_thrombosis"])
    with_vessel = with_lesion | (ek == T["tvr"]) | (ek == T["mi"])
    cert_e = np.where(ek == T["stent_thrombosis"], 3, 0)
    rows.append((pe, np.floor(te), ek, np.where(with_lesion, les_e, -1),
                 np.where(with_vessel, vessel_code[les_e], -1), cert_e))

    ev_pat = np.concatenate([r[0] for r in rows])
    size = [r[0].size for r in rows]
    ev_day = np.concatenate([r[1] for r in rows]).astype(np.int64)
    ev_type = np.concatenate([np.broadcast_to(r[2], s) for r, s in zip(rows, size, strict=True)])
    ev_les = np.concatenate([np.broadcast_to(r[3], s) for r, s in zip(rows, size, strict=True)])
    ev_ves = np.concatenate([np.broadcast_to(r[4], s) for r, s in zip(rows, size, strict=True)])
    ev_cert = np.concatenate([np.broadcast_to(r[5], s) for r, s in zip(rows, size, strict=True)])
    order = np.argsort(ev_pat * 4096 + ev_day)  # by patient, then day (days < 4096)
    ev_pat, ev_day, ev_type = ev_pat[order], ev_day[order], ev_type[order]
    ev_les, ev_ves, ev_cert = ev_les[order], ev_ves[order], ev_cert[order]

    # ---- dates
    start = np.datetime64("2016-01-01")
    span = int((np.datetime64("2019-12-31") - start).astype(int)) + 1
    index = (start + rng.integers(0, span, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    day = np.timedelta64(1, "D")

    patients = pd.DataFrame({
        "patient_id": np.arange(1, n + 1, dtype=np.int64),
        "arm": np.where(treated, treated_label, control_label).astype(object),
        "index_date": index,
        "last_contact_date": index + end_day.astype(np.int64) * day,
        "in_stent_restenosis": np.zeros(n, dtype=np.int8),
        "age_years": age.astype(np.int64),
        "male": male.astype(np.int8),
        "bmi": np.clip(rng.normal(26, 4, n), 16, 50).round(2),
        "hypertension": (rng.random(n) < 0.78).astype(np.int8),
        "diabetes": diabetes.astype(np.int8),
        "dyslipidemia": (rng.random(n) < 0.38).astype(np.int8),
        "smoking": (rng.random(n) < 0.5).astype(np.int8),
        "lvef_percent": lvef,
        "egfr": egfr,
        "renal_insufficiency": renal.astype(np.int8),
        "prior_mi": (rng.random(n) < 0.16).astype(np.int8),
        "prior_pci": (rng.random(n) < 0.3).astype(np.int8),
        "prior_cabg": (rng.random(n) < 0.08).astype(np.int8),
        "presentation": np.where(rng.random(n) < 0.35, "SCAD", "ACS").astype(object),
        "any_left_main": any_lm.astype(np.int8),
        "any_ostial": any_ostial.astype(np.int8),
        "any_bifurcation": any_bif.astype(np.int8),
        "synthetic": np.ones(n, dtype=bool),
    })

    # 0/1 flags are int8 (an eighth of the memory of int64 for a million patients)
    # lesion procedure and imaging measures; scoring balloon use and stent expansion
    # follow the arm (post-treatment, not confounders; they do not change the hazard)
    t_les = treated[owner]
    prox = np.clip(rng.normal(8.8, 1.75, m), 4.0, 15.0)
    dist = np.clip(rng.normal(5.7, 1.7, m), 2.5, prox - 0.3)
    expansion = np.clip(rng.normal(np.where(t_les, 0.82, 0.75), 0.085), 0.5, 1.05)
    lesions = pd.DataFrame({
        "lesion_id": np.arange(1, m + 1, dtype=np.int64),
        "patient_id": owner.astype(np.int64) + 1,
        "vessel": pd.Categorical.from_codes(vessel_code, categories=list(VESSELS)),
        "ostial": ostial.astype(np.int8),
        "bifurcation": bifurcation.astype(np.int8),
        "severe_calcification": (rng.random(m) < 0.94).astype(np.int8),
        "lesion_type_b2c": (rng.random(m) < 0.93).astype(np.int8),
        "initial_burr_mm": BURRS[_pick(rng, np.array([0.3, 0.6, 0.08, 0.02]), m)],
        "scoring_balloon_after_ra": (rng.random(m) < np.where(t_les, 0.33, 0.04)).astype(
            np.int8),
        "proximal_ref_lumen_csa_mm2": prox.round(2),
        "distal_ref_lumen_csa_mm2": dist.round(2),
        "minimum_stent_area_mm2": (expansion * (prox + dist) / 2).round(2),
    })

    # categorical string columns: a million-row registry without millions of objects
    lesion_id = np.where(ev_les >= 0, ev_les + 1, np.nan)
    events = pd.DataFrame({
        "event_id": np.arange(1, ev_pat.size + 1, dtype=np.int64),
        "patient_id": ev_pat.astype(np.int64) + 1,
        "lesion_id": lesion_id,
        "event_type": pd.Categorical.from_codes(ev_type, categories=list(types)),
        "event_date": index[ev_pat] + ev_day * day,
        "target_vessel": pd.Categorical.from_codes(ev_ves, categories=list(VESSELS)),
        "st_certainty": pd.Categorical.from_codes(ev_cert - 1, categories=list(certs[1:])),
    })

    # ---- the truth, from the potential outcomes
    # In whole days, as in the records: an event on day d of follow-up (d = floor of the
    # continuous time); an event on the horizon day counts, as in time_to_event.
    n_fit = min(n, int(truth_sample)) if truth_sample else n
    sub = rng.choice(n, size=n_fit, replace=False) if n_fit < n else np.arange(n)
    both = np.floor(np.concatenate([t1[sub], t0[sub]]))
    arm = np.r_[np.ones(n_fit, dtype=bool), np.zeros(n_fit, dtype=bool)]
    log_mhr = binary_cox_efron(np.minimum(both, horizon), both <= horizon, arm)
    marginal_hr = float(np.exp(log_mhr))
    risk1, risk0 = float(np.mean(t1 <= 365.0)), float(np.mean(t0 <= 365.0))
    truth = {
        "marginal_hr": marginal_hr,
        "log_marginal_hr": float(log_mhr),
        "risk_1y": {treated_label: risk1, control_label: risk0},
        "risk_difference_1y": risk1 - risk0,
        "conditional_hr": float(true_hr),
        "confounders": list(CONFOUNDERS),
        "prognostic": ["age_years", "diabetes", "lvef_percent"],
        "treated": treated_label,
        "horizon_days": float(horizon),
        "n_truth_fit": int(n_fit),
        "seed": seed,
    }
    return Cohort(patients=patients, events=events, lesions=lesions, truth=truth,
                  source={"origin": f"simulate_registry(n_patients={n}, seed={seed})",
                          "synthetic": True},
                  warn=False)
