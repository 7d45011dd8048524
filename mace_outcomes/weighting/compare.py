"""Crude and propensity-weighted comparison of two arms in one call.

``mo.compare_arms`` returns one row per analysis -- ``crude``, ``IPTW-ATE`` (or
``IPTW-ATT``), ``overlap`` -- with events/N per arm, Kaplan-Meier survival at the horizon,
the (weighted) Cox hazard ratio with robust confidence interval, the (IPTW) log-rank p,
the RMST difference, the risk difference and ratio at the horizon, and the E-value.
``mo.risk_difference`` gives the (adjusted) risk difference and ratio at a horizon alone.

Where an arm has no events, the Cox maximum-likelihood estimate is infinite (monotone
likelihood) and its Wald test meaningless: the weighted Firth-penalised Cox model
(Heinze & Schemper 2001) with profile-likelihood limits is used instead, together with
Fisher's exact test of the proportions with an event by the horizon, and the row's
``method`` and the notes say so. The same Firth model replaces a Cox fit whose
likelihood is monotone although both arms have events (``mo.cox`` detects the diverging
coefficient), with a :class:`~mace_outcomes.errors.MonotoneLikelihoodWarning`.

References
----------
Austin PC. The use of propensity score methods with survival or time-to-event outcomes:
reporting measures of effect similar to those used in randomized experiments. Stat Med
2014;33:1242-58.
Cole SR, Hernan MA. Adjusted survival curves with inverse probability weights. Comput
Methods Programs Biomed 2004;75:45-9.
Heinze G, Schemper M. A solution to the problem of monotone likelihood in Cox regression.
Biometrics 2001;57:114-9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._design import model_variables
from .._display import ResultMixin, frame_html, frame_text
from .._frames import complete_cases, no_other_keywords, renamed, survival_arrays
from ..errors import InputError, Problem
from .evalue import RARE_THRESHOLD, e_value
from .impute import Imputations, is_imputations, pooled
from .pool import Pooled
from .propensity import Propensity, propensity, treatment_indicator

_ARM = "_treated"
_W = "_weight"


# -- risk difference machinery -----------------------------------------------------------

def risk_contrast(s1: float, se1: float, s0: float, se0: float,
                  conf_level: float = 0.95, cov: float = 0.0) -> dict[str, float]:
    """Risk difference and ratio at a horizon from two Kaplan-Meier estimates.

    Risks ``r = 1 - S``; ``RD = r1 - r0`` with ``var = se1^2 + se0^2 - 2 cov`` (``cov`` of
    the two survival estimates: 0 for independent arms, see :func:`_cross_arm_cov`);
    ``log RR`` with delta-method ``var = se1^2/r1^2 + se0^2/r0^2 - 2 cov/(r1 r0)``. Wald
    intervals; the p of the difference tests ``RD = 0``.
    """
    zq = stats.norm.ppf(0.5 + conf_level / 2)
    r1, r0 = 1.0 - s1, 1.0 - s0
    se_rd = float(np.sqrt(max(se1 ** 2 + se0 ** 2 - 2.0 * cov, 0.0)))
    rd = r1 - r0
    out = {"risk_treated": r1, "risk_control": r0, "rd": rd, "rd_se": se_rd,
           "rd_lower": rd - zq * se_rd, "rd_upper": rd + zq * se_rd,
           "rd_p": float(2 * stats.norm.sf(abs(rd) / se_rd)) if se_rd > 0 else np.nan}
    if r1 > 0 and r0 > 0:
        rr = r1 / r0
        se_log = float(np.sqrt(max((se1 / r1) ** 2 + (se0 / r0) ** 2
                                   - 2.0 * cov / (r1 * r0), 0.0)))
        out.update(rr=rr, rr_lower=rr * np.exp(-zq * se_log), rr_upper=rr * np.exp(zq * se_log),
                   rr_p=float(2 * stats.norm.sf(abs(np.log(rr)) / se_log)) if se_log > 0
                   else np.nan)
    else:
        # a zero risk has no log: ratio 0 or undefined, no Wald interval
        out.update(rr=(r1 / r0) if r0 > 0 else np.nan, rr_lower=np.nan, rr_upper=np.nan,
                   rr_p=np.nan)
    return out


def exact_test(time: np.ndarray, event: np.ndarray, z: np.ndarray,
               horizon: float) -> dict[str, float]:
    """Fisher's exact test of the proportions with an event by ``horizon`` (two-sided).

    Subjects censored before the horizon count as event-free, as in a table of counts.
    """
    hit = (event == 1) & (time <= horizon)
    t = z.astype(bool)
    a, b = int(hit[t].sum()), int((~hit[t]).sum())
    c, d = int(hit[~t].sum()), int((~hit[~t]).sum())
    return {"events_by_horizon_treated": a, "events_by_horizon_control": c,
            "exact_p": float(stats.fisher_exact([[a, b], [c, d]])[1])}


@dataclass(frozen=True, eq=False)
class RiskDifference(ResultMixin):
    """Risk (1 - Kaplan-Meier) per arm at a horizon and their difference and ratio.

    ``table``: rows ``difference`` and ``ratio`` with estimate, lower, upper, p;
    ``risks``: group, risk, std_err, n, events.
    """

    table: pd.DataFrame
    risks: pd.DataFrame
    horizon: float
    weighted: bool
    variance: str
    conf_level: float
    notes: list = field(default_factory=list)
    time_unit: str = "days"

    def _footer(self) -> str:
        text = [f"risk = 1 - Kaplan-Meier at {self.horizon:g} days; "
                f"{'weighted, ' if self.weighted else ''}{self.variance} variance; "
                f"{self.conf_level:.0%} Wald intervals (log scale for the ratio)"]
        return "\n".join(text + list(self.notes))

    def __repr__(self) -> str:
        return "\n\n".join([frame_text("Risk at horizon", self.risks.set_index("group")),
                            frame_text("Contrast (treated vs control)",
                                       self.table.set_index("contrast"), self._footer())])

    def _repr_html_(self) -> str:
        return (frame_html("Risk at horizon", self.risks.set_index("group"))
                + frame_html("Contrast", self.table.set_index("contrast"), self._footer()))


def _cross_arm_cov(d: pd.DataFrame, time: str, event: str, weights: str | None,
                   cluster: str | None, horizon: float) -> float:
    """Covariance of the two arms' survival at the horizon through shared clusters.

    Zero unless a cluster (patient) holds subjects (lesions) of both arms; then the sum
    over clusters of the product of the arms' cluster-summed IJ influences.
    """
    from ..survival._kernels import km_ij_influence, risk_table

    if cluster is None:
        return 0.0
    codes = pd.factorize(d[cluster])[0]
    z = d[_ARM].to_numpy()
    if not np.intersect1d(codes[z == 1], codes[z == 0]).size:
        return 0.0
    t = d[time].to_numpy(float)
    e = d[event].to_numpy(float)
    w = None if weights is None else d[weights].to_numpy(float)
    cols = []
    for arm in (1, 0):
        sel = z == arm
        ws = None if w is None else w[sel]
        _, infl = km_ij_influence(risk_table(t[sel], e[sel], ws), e[sel], ws, horizon)
        cols.append(np.bincount(codes[sel], weights=infl, minlength=codes.max() + 1))
    return float(cols[0] @ cols[1])


def _km_at(d: pd.DataFrame, time: str, event: str, weights: str | None,
           cluster: str | None, horizon: float):
    from ..survival.kaplan_meier import kaplan_meier
    km = kaplan_meier(d, time=time, event=event, group=_ARM, weights=weights,
                      cluster=cluster)
    at = km.at(horizon).set_index("group")
    return at, km


def risk_difference(df: pd.DataFrame, treatment: str = "arm",
                    covariates: list[str] | None = None, *, time: str = "time",
                    event: str = "event", estimand: str | None = "ATE",
                    weights: str | None = None, cluster: str | None = None,
                    horizon: float = 365, conf_level: float = 0.95, treated=None,
                    **propensity_kw) -> RiskDifference:
    """Risk difference and risk ratio at ``horizon`` (crude, or propensity-weighted).

    With ``covariates`` the weights of ``estimand`` come from :func:`propensity`; with
    ``weights`` a column of given weights is used; with neither, the crude comparison.
    Risks are one minus the (weighted) Kaplan-Meier estimate, with the robust
    (infinitesimal-jackknife) standard error whenever weighted or clustered (Cole &
    Hernan 2004; Austin 2014).

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"time": [100, 200, 365, 400, 50, 300, 380, 390],
    ...                    "event": [1, 0, 1, 0, 1, 1, 0, 0], "arm": [1, 1, 1, 1, 0, 0, 0, 0]})
    >>> float(mo.risk_difference(df, "arm").table.loc[0, "estimate"])  # 0.625 - 0.5
    0.125
    """
    arrays = survival_arrays(df, time=time, event=event, group=treatment, cluster=cluster,
                             weights=weights, min_groups=2)
    z, t_label, c_label = treatment_indicator(df, treatment, treated)
    d = df.assign(**{_ARM: z})
    w_col = None
    if covariates is not None or propensity_kw.get("formula") is not None:
        ps = propensity(df, treatment, covariates, estimand=estimand or "ATE",
                        treated=treated, **propensity_kw)
        d = d.assign(**{_W: ps.weights}).loc[ps.kept]
        w_col = _W
    elif weights is not None:
        w_col = weights
    at, _ = _km_at(d, time, event, w_col, cluster, horizon)
    rc = risk_contrast(at.loc[1, "surv"], at.loc[1, "std_err"], at.loc[0, "surv"],
                       at.loc[0, "std_err"], conf_level,
                       _cross_arm_cov(d, time, event, w_col, cluster, horizon))
    table = pd.DataFrame([
        {"contrast": "difference", "estimate": rc["rd"], "lower": rc["rd_lower"],
         "upper": rc["rd_upper"], "p": rc["rd_p"]},
        {"contrast": "ratio", "estimate": rc["rr"], "lower": rc["rr_lower"],
         "upper": rc["rr_upper"], "p": rc["rr_p"]}])
    ev = arrays.event
    risks = pd.DataFrame([
        {"group": t_label, "risk": rc["risk_treated"], "std_err": at.loc[1, "std_err"],
         "n": int(z.sum()), "events": int(ev[z == 1].sum())},
        {"group": c_label, "risk": rc["risk_control"], "std_err": at.loc[0, "std_err"],
         "n": int((1 - z).sum()), "events": int(ev[z == 0].sum())}])
    weighted = w_col is not None
    return RiskDifference(table=table, risks=risks, horizon=horizon, weighted=weighted,
                          variance="robust" if (weighted or cluster) else "greenwood",
                          conf_level=conf_level)


# -- the one-call comparison -------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Comparison(ResultMixin):
    """Crude and adjusted comparisons of two arms, one row per analysis.

    Attributes
    ----------
    table : DataFrame (see :func:`compare_arms` for the columns).
    propensity : dict analysis -> :class:`Propensity` of the weighted rows.
    treated, control : arm labels; horizon, tau : days; cluster : column or None.
    notes : what was done and why (rare-event path, clustering, warnings).
    curves : dict analysis -> :class:`~mace_outcomes.survival.kaplan_meier.KaplanMeier`
        the row's survival at the horizon was read from (draw them, do not refit).
    tests : dict analysis -> :class:`~mace_outcomes.survival.logrank.LogrankResult` of the
        row's log-rank p (None without events).
    matched : the :class:`~mace_outcomes.weighting.match.Matched` sample of the
        ``matched`` row (``adjustment`` with ``"match"``), else None.
    """

    table: pd.DataFrame
    propensity: dict
    treated: object
    control: object
    horizon: float
    tau: float
    cluster: str | None
    conf_level: float
    notes: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)
    tests: dict = field(default_factory=dict)
    dropped: pd.DataFrame | None = None  # rows left out by missing="complete_case"
    time_unit: str = "days"
    matched: object = None

    @property
    def weighted(self) -> bool:
        """Whether any row is propensity-weighted (IPTW, overlap) or matched."""
        return bool(self.propensity) or self.matched is not None

    def balance(self) -> pd.DataFrame:
        """Balance of every weighted analysis side by side (long format, column analysis)."""
        return pd.concat([ps.balance().assign(analysis=name)
                          for name, ps in self.propensity.items()], ignore_index=True)

    def _footer(self) -> str:
        head = (f"treated = {self.treated!r} vs control = {self.control!r}; survival and risk at"
                f" {self.horizon:g} days, RMST to {self.tau:g} days; hr: Cox (Efron ties), "
                "robust SE when weighted or clustered; Firth-penalised where an arm has no "
                "events or the likelihood is monotone (column method says which)")
        return "\n".join([head] + [f"note: {n}" for n in self.notes])

    def __repr__(self) -> str:
        cols = ["events_treated", "n_treated", "events_control", "n_control", "surv_treated",
                "surv_control", "hr", "lower", "upper", "p", "logrank_p", "rmst_diff", "rd",
                "e_value"]
        return frame_text("Crude and adjusted comparison",
                          self.table.set_index("analysis")[cols], self._footer(), digits=3)

    def _repr_html_(self) -> str:
        return frame_html("Crude and adjusted comparison", self.table.set_index("analysis"),
                          self._footer(), digits=3)


_FIRTH_METHOD = "Firth penalised Cox, profile-likelihood CI and LR p"


def _method(fit) -> str:
    """The row's model in words (the estimation rules live in ``_engine``)."""
    if fit.model == "none":
        return "no events: no HR"
    if fit.model == "firth":
        return (_FIRTH_METHOD + (" (monotone likelihood)" if fit.reason == "monotone" else "")
                + (" (weights scaled to the effective sample size)" if fit.weighted else ""))
    return "Cox" + (", robust SE" if fit.robust else "")


def _analysis(d: pd.DataFrame, name: str, treatment: str, arms: tuple, time: str, event: str,
              w_col: str | None, cluster: str | None, horizon: float, tau: float,
              conf_level: float, notes: list, term: str = "arm") -> tuple[dict, object]:
    """One row of the comparison from one call of the shared estimation."""
    from ._engine import estimate_arms

    t_label, c_label = arms
    fit = estimate_arms(d, arm=treatment, treated=t_label, control=c_label, time=time,
                        event=event, weights=w_col, cluster=cluster, horizon=horizon,
                        tau=tau, conf_level=conf_level, term=term)
    notes.extend(f"{name}: {m}" for m in fit.messages)
    at = fit.at_horizon
    row: dict = {"analysis": name, "method": _method(fit), "hr": fit.hr, "lower": fit.lower,
                 "upper": fit.upper, "p": fit.p, "logrank_p": fit.logrank_p,
                 "n_treated": fit.n[t_label], "events_treated": fit.events[t_label],
                 "n_control": fit.n[c_label], "events_control": fit.events[c_label],
                 "surv_treated": at.loc[t_label, "surv"],
                 "surv_control": at.loc[c_label, "surv"]}
    rc = risk_contrast(at.loc[t_label, "surv"], at.loc[t_label, "std_err"],
                       at.loc[c_label, "surv"], at.loc[c_label, "std_err"], conf_level,
                       _cross_arm_cov(d, time, event, w_col, cluster, horizon))
    row.update({k: rc[k] for k in ("rd", "rd_lower", "rd_upper", "rr", "rr_lower",
                                   "rr_upper")})
    rm = fit.rmst
    row.update(rmst_diff=np.nan if rm is None else rm["estimate"],
               rmst_lower=np.nan if rm is None else rm["lower"],
               rmst_upper=np.nan if rm is None else rm["upper"])
    return row, fit


def _e_values(row: dict, rare_outcome: bool) -> dict:
    if np.isfinite(row["hr"]) and row["hr"] > 0 and np.isfinite(row["lower"]):
        ev = e_value(row["hr"], row["lower"], row["upper"], measure="HR", rare=rare_outcome)
        return {"e_value": ev.e_value, "e_value_ci": ev.e_value_ci}
    return {"e_value": np.nan, "e_value_ci": np.nan}


#: The columns of a comparison table, in order (a bootstrap adds boot_lower, boot_upper).
TABLE_COLUMNS = ("analysis", "method", "n_treated", "events_treated", "n_control",
                 "events_control", "ess_treated", "ess_control", "surv_treated",
                 "surv_control", "hr", "lower", "upper", "p", "logrank_p", "rmst_diff",
                 "rmst_lower", "rmst_upper", "rd", "rd_lower", "rd_upper", "rr", "rr_lower",
                 "rr_upper", "exact_p", "e_value", "e_value_ci")


def add_e_values(rows: list[dict], n_treated: float, n_control: float,
                 horizon: float) -> str:
    """E-values of every row (``rows[0]`` is the crude one), and the note saying which
    conversion was used. The outcome is rare for the conversion when the crude risk by
    the horizon is under 15% (the crude curves' survival at the horizon, averaged over
    the arms by their sizes)."""
    crude = rows[0]
    overall = 1 - float(np.average([crude["surv_control"], crude["surv_treated"]],
                                   weights=[n_control, n_treated]))
    rare_outcome = overall < RARE_THRESHOLD
    for row in rows:
        row.update(_e_values(row, rare_outcome))
    return (f"E-value uses the {'rare' if rare_outcome else 'common'}-outcome HR "
            f"conversion (crude risk by {horizon:g} days = {overall:.1%})")


def weighted_analyses(df, treatment: str, covariates, formula, estimand: str, adjustment,
                      overlap: bool, *, stabilize, trim, truncate, firth_ps,
                      treated) -> tuple[list, bool]:
    """``[("crude", None), (name, Propensity), ...]`` for the weighted rows asked for
    (IPTW at ``estimand``, overlap), and whether a matched row is asked for too. A Dask
    frame gets Dask propensity fits (``propensity`` dispatches)."""
    from .matched import adjustments

    est = str(estimand).upper()
    est = "ATO" if est == "OVERLAP" else est
    wanted, with_match = adjustments(adjustment, est, overlap)
    if adjustment and covariates is None and formula is None:
        raise InputError(Problem("adjusted rows need the propensity covariates=[...] or "
                                 "formula='~ ...'", column="adjustment"))
    analyses: list[tuple[str, Propensity | None]] = [("crude", None)]
    if covariates is None and formula is None:
        return analyses, with_match
    for e in wanted:
        ps = propensity(df, treatment, covariates, formula=formula, estimand=e,
                        stabilize=stabilize and e == "ATE", trim=trim, truncate=truncate,
                        firth=firth_ps, treated=treated)
        analyses.append(("overlap" if e == "ATO" else f"IPTW-{e}", ps))
    return analyses, with_match


def compare_arms(df: pd.DataFrame | Imputations | None = None, treatment: str = "arm",
                 covariates: list[str] | None = None, *, formula: str | None = None,
                 estimand: str = "ATE", time: str = "time", event: str = "event",
                 cluster: str | None = None, horizon: float = 365, tau: float | None = None,
                 overlap: bool = True, stabilize: bool = False, trim=None, truncate=None,
                 firth_ps: bool = False, treated=None, conf_level: float = 0.95,
                 n_boot: int = 0, seed: int | None = None, n_jobs: int = 1,
                 progress: bool = False, memory_gb: float = 1.0, missing: str = "error",
                 adjustment: Sequence[str] | None = None, matching: dict | None = None,
                 **deprecated) -> Comparison | Pooled:
    """Crude and propensity-weighted comparisons of two arms, side by side.

    Parameters
    ----------
    df : time-to-event frame (``mo.time_to_event``): time, event, treatment, covariates
        (``tte=``, its old name, is accepted with a FutureWarning). An
        :class:`Imputations` (``mo.impute``): the comparison runs on every completed data
        set, the propensity model re-fitted within each, and the rows are pooled by
        Rubin's rules (a :class:`Pooled` with m, df and fmi per row; its
        ``per_imputation`` keeps the m comparisons).
    treatment : arm column; the treated arm is the last sorted label unless ``treated``.
    covariates, formula : the propensity model (see :func:`propensity`); without them only
        the crude row is returned.
    estimand : "ATE" or "ATT" for the IPTW row; an ``overlap`` (ATO) row is added unless
        ``overlap=False`` (or the estimand is already "ATO").
    cluster : cluster column for robust variances and the bootstrap. At lesion level
        (``patient_id`` repeated), ``patient_id`` is used automatically.
    horizon : days for Kaplan-Meier survival and the risk difference (default 1 year);
        tau : RMST truncation (default ``horizon``).
    stabilize, trim, truncate, firth_ps : passed to :func:`propensity` (``firth_ps`` =
        its ``firth``).
    n_boot : if > 0, add bootstrap percentile limits of the hazard ratio (boot_lower,
        boot_upper) re-estimating the propensity model per replicate (Austin 2016).
    memory_gb : working-memory budget of the bootstrap (see :func:`bootstrap`).
    missing : ``"error"`` (default): a missing time, event, arm, covariate or cluster id
        is an ``InputError`` naming the column, the row ids and the count;
        ``"complete_case"``: every row is fitted on the rows with every used value, the
        others listed in ``.dropped`` (id, variable) and counted in ``notes``.
    adjustment : the adjusted rows, names among ``"iptw"`` (the ``estimand`` row),
        ``"overlap"`` and ``"match"`` (row ``matched``: :func:`match` on the propensity
        covariates, Cox with robust SE clustered on the matched set, weighted
        Kaplan-Meier with cluster-robust intervals, cluster-robust log-rank; see
        :mod:`mace_outcomes.weighting.matched`). None (default): the ``estimand`` row and
        the overlap row unless ``overlap=False``, as before. On an :class:`Imputations`
        the matching runs within each imputation and the rows are pooled.
    matching : keyword arguments of :func:`match` for the matched row (``caliper``,
        ``ratio``, ``replace``, ``exact``, ``order``, ``seed`` ...).

    Returns
    -------
    Comparison
        ``.table`` columns: analysis, method, n_treated, events_treated, n_control,
        events_control, ess_treated, ess_control, surv_treated, surv_control (Kaplan-Meier
        at ``horizon``), hr, lower, upper, p, logrank_p, rmst_diff, rmst_lower,
        rmst_upper, rd, rd_lower, rd_upper, rr, rr_lower, rr_upper (risk = 1 - KM at
        ``horizon``), exact_p (Fisher, rare-event path only), e_value, e_value_ci
        [, boot_lower, boot_upper]. A weighted row's n and events count the rows its
        propensity fit kept (``ps.kept``).
        ``.curves[analysis]``: the KaplanMeier curves the row was read from;
        ``.tests[analysis]``: its LogrankResult (None without events).

    Notes
    -----
    An arm without events switches the row to the weighted Firth Cox model and adds
    Fisher's exact test of the proportions with an event by ``horizon``; the ``method``
    column and ``notes`` say so. A Cox likelihood that is monotone although both arms
    have events (every event of one arm after the other arm left follow-up) switches
    that row to the Firth model too, with a ``MonotoneLikelihoodWarning``. E-values use
    the rare-outcome HR conversion when the crude risk by ``horizon`` is under 15%
    (VanderWeele & Ding 2017).

    Examples
    --------
    >>> import mace_outcomes as mo                                    # doctest: +SKIP
    >>> tte = mo.time_to_event(mo.load_example(), "mace", horizon=365)  # doctest: +SKIP
    >>> mo.compare_arms(tte, "arm", ["age", "ckd", "acs"]).table      # doctest: +SKIP
    """
    from ..scale import is_dask  # a Dask frame: the same rows from partition sums
    if is_dask(df):
        from ..scale.compare import compare_arms as on_dask
        return on_dask(**{k: v for k, v in locals().items() if k not in ("is_dask", "on_dask")})
    if is_imputations(df):
        return pooled(compare_arms, df, locals())
    tte = renamed(deprecated, "tte", "df", "compare_arms", df)
    no_other_keywords(deprecated, "compare_arms")
    if tte is None:
        raise TypeError("compare_arms() missing the time-to-event frame df")
    cc = complete_cases(tte, [time, event, treatment, *model_variables(covariates, formula),
                              cluster], missing)
    tte = cc.frame
    if cluster is None and "patient_id" in tte.columns and tte["patient_id"].duplicated().any():
        cluster = "patient_id"
        auto_cluster = True
    else:
        auto_cluster = False
    arrays = survival_arrays(tte, time=time, event=event, group=treatment, cluster=cluster,
                             min_groups=2)
    z, t_label, c_label = treatment_indicator(tte, treatment, treated)
    tau = horizon if tau is None else tau
    d = tte.assign(**{_ARM: z})
    ev = arrays.event
    notes: list[str] = list(cc.notes)
    if auto_cluster:
        notes.append("lesion-level data: robust variances and bootstrap clustered by "
                     "patient_id")

    counts = {"n_treated": int(z.sum()), "events_treated": int(ev[z == 1].sum()),
              "n_control": int((z == 0).sum()), "events_control": int(ev[z == 0].sum())}
    rare = counts["events_treated"] == 0 or counts["events_control"] == 0
    exact = exact_test(arrays.time, ev, z, horizon)
    if rare:
        empty = t_label if counts["events_treated"] == 0 else c_label
        notes.append(f"no events in arm {empty!r}: the Cox maximum-likelihood HR is infinite "
                     "(monotone likelihood), so every row uses the (weighted) Firth "
                     "penalised Cox model with profile-likelihood limits and penalised "
                     "likelihood-ratio p (weights scaled to the effective sample size, no "
                     "sandwich variance), plus Fisher's exact "
                     f"test of the proportions with an event by {horizon:g} days "
                     f"({exact['events_by_horizon_treated']}/{counts['n_treated']} vs "
                     f"{exact['events_by_horizon_control']}/{counts['n_control']}, "
                     f"p = {exact['exact_p']:.3g}); no Wald test is reported")
    from .matched import matched_row
    analyses, with_match = weighted_analyses(
        tte, treatment, covariates, formula, estimand, adjustment, overlap,
        stabilize=stabilize, trim=trim, truncate=truncate, firth_ps=firth_ps, treated=treated)

    rows, props, curves, tests = [], {}, {}, {}
    for name, ps in analyses:
        if ps is None:
            dd, w_col = d, None
            ess = (float(counts["n_treated"]), float(counts["n_control"]))
        else:
            # rows a propensity fit dropped (trimmed, or weight exactly 0) are not analysed,
            # and the row's n and events count the rows kept
            dd = d.assign(**{_W: ps.weights}).loc[ps.kept]
            w_col = _W
            ess = (ps.ess[ps.treated], ps.ess[ps.control])
            props[name] = ps
            notes.extend(f"{name}: {m}" for m in ps.warnings)
        row, fit = _analysis(dd, name, treatment, (t_label, c_label), time, event, w_col,
                             cluster, horizon, tau, conf_level, notes,
                             term=f"'{treatment}' ({t_label!r} vs {c_label!r})")
        curves[name], tests[name] = fit.curves, fit.logrank
        row["ess_treated"], row["ess_control"] = ess
        row["exact_p"] = exact["exact_p"] if rare else np.nan
        if n_boot and ps is not None:
            from .bootstrap import bootstrap
            bt = bootstrap(tte, treatment, covariates, formula=formula, time=time, event=event,
                           estimand=ps.estimand, stabilize=ps.stabilize, trim=trim,
                           truncate=truncate, firth=firth_ps, treated=treated, cluster=cluster,
                           horizon=horizon, tau=tau, n_boot=n_boot, conf_level=conf_level,
                           seed=seed, n_jobs=n_jobs, progress=progress, memory_gb=memory_gb)
            hr = bt.table.set_index("statistic").loc["hr"]
            row["boot_lower"], row["boot_upper"] = hr["lower"], hr["upper"]
        rows.append(row)
    matched = None
    if with_match:
        row, fit, matched = matched_row(
            d, treatment=treatment, covariates=covariates, formula=formula, treated=treated,
            arms=(t_label, c_label), time=time, event=event, cluster=cluster,
            horizon=horizon, tau=tau, conf_level=conf_level, notes=notes,
            term=f"'{treatment}' ({t_label!r} vs {c_label!r})", matching=matching,
            analyse=_analysis, exact_test=exact_test)
        curves["matched"], tests["matched"] = fit.curves, fit.logrank
        rows.append(row)

    e_note = add_e_values(rows, counts["n_treated"], counts["n_control"], horizon)
    cols = list(TABLE_COLUMNS)
    if n_boot:
        cols += ["boot_lower", "boot_upper"]
    table = pd.DataFrame(rows).reindex(columns=cols)
    if not rare and (min(counts["events_treated"], counts["events_control"]) < 5):
        k = min(counts["events_treated"], counts["events_control"])
        notes.append(f"only {k} event{'s' if k != 1 else ''} in one arm: estimates are "
                     "imprecise; a hazard ratio from so few events cannot establish "
                     "equivalence or superiority")
    notes.append(e_note)
    return Comparison(table=table, propensity=props, treated=t_label, control=c_label,
                      horizon=horizon, tau=tau, cluster=cluster, conf_level=conf_level,
                      notes=notes, curves=curves, tests=tests, dropped=cc.dropped,
                      matched=matched)
