"""The outcome table: events, Kaplan-Meier estimates and hazard ratios per endpoint."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import _stats as k
from .._display import frame_text
from .._format import format_ci
from .._frames import arm_order, column_values
from ..errors import InputError, MonotoneLikelihoodWarning, Problem
from .export import ExportMixin

_W = "_outcome_table_weight"


@dataclass(frozen=True, eq=False)
class OutcomeTable(ExportMixin):
    """Outcomes by arm at a horizon, one row per endpoint (and comparison).

    Attributes
    ----------
    table : wide, one row per endpoint x comparison: ``endpoint``, ``comparison``
        (``"OCT vs IVUS"``), per arm ``n_<arm>``, ``n_event_<arm>``, ``percent_<arm>``
        (events by the horizon / patients, %), ``km_<arm>``, ``km_lower_<arm>``,
        ``km_upper_<arm>`` (Kaplan-Meier cumulative incidence 1 - S at the horizon, %,
        with its CI), then ``hr``, ``lower``, ``upper``, ``p``, ``method`` (``"Cox"`` or
        ``"Firth Cox (no events in OCT)"``), ``logrank_p`` (the comparison's two arms);
        with weights also ``km_adj_<arm>`` (weighted KM, robust CI), ``hr_adj``,
        ``lower_adj``, ``upper_adj``, ``p_adj``, ``method_adj``, ``logrank_p_adj`` (IPTW
        log-rank). Each comparison's numbers come from the estimation
        :func:`mace_outcomes.compare_arms` runs (``weighting/_engine.py``), so they equal
        its crude and weighted rows on the same data.
    arms_table : long, one row per endpoint x arm: endpoint, group, n, n_event, percent,
        cum_inc, lower, upper (and the weighted columns).
    effects : long, one row per endpoint x comparison x analysis (crude / adjusted): hr,
        lower, upper, p, method, logrank_p, n_event.
    """

    table: pd.DataFrame
    arms_table: pd.DataFrame
    effects: pd.DataFrame
    group: str
    arms: list
    reference: object
    horizon: float
    weighted: bool
    settings: dict = field(default_factory=dict)
    warnings: tuple = ()
    title: str = "Clinical outcomes"
    time_unit: str = "days"

    @property
    def notes(self) -> list[str]:
        h = self.horizon
        out = [f"Events n (%) by {h:g} days; KM: Kaplan-Meier cumulative incidence (1 - S) "
               f"at {h:g} days, % ({self.settings.get('conf_type', 'log-log')} "
               f"{100 * self.settings.get('conf_level', 0.95):g}% CI).",
               "HR: Cox proportional hazards (Efron ties), Wald CI and p"
               + (f", follow-up censored at {h:g} days" if self.settings.get(
                   "censor_at_horizon", True) else "")
               + "; Firth-penalised Cox (profile-likelihood CI, penalised LR p; "
               "Heinze & Schemper 2001) when an arm has no events or the likelihood is "
               "monotone."]
        if self.weighted:
            out.append("Adjusted: weighted by " + str(self.settings.get("weights")) +
                       "; weighted KM and Cox with robust (sandwich) variance; IPTW log-rank "
                       "(Xie & Liu 2005).")
        return out + list(self.warnings)

    def formatted(self) -> pd.DataFrame:
        t = self.table
        dig = self.settings.get("digits", 1)
        rows = []
        for _, r in t.iterrows():
            row = {"Endpoint": r["endpoint"]}
            if t["comparison"].nunique() > 1:
                row["Comparison"] = r["comparison"]
            for a in self.arms:
                row[f"{a}, n (%)"] = (f"{int(r[f'n_event_{a}'])}/{int(r[f'n_{a}'])} "
                                      f"({r[f'percent_{a}']:.{dig}f}%)")
            for a in self.arms:
                row[f"{a}, KM % (95% CI)"] = format_ci(r[f"km_{a}"], r[f"km_lower_{a}"],
                                                 r[f"km_upper_{a}"], dig)
            row["HR (95% CI)"] = format_ci(r["hr"], r["lower"], r["upper"], 2)
            row["p"] = k.format_p(r["p"])
            row["Log-rank p"] = k.format_p(r["logrank_p"])
            if self.weighted:
                for a in self.arms:
                    row[f"{a}, adjusted KM %"] = format_ci(r[f"km_adj_{a}"], r[f"km_adj_lower_{a}"],
                                                     r[f"km_adj_upper_{a}"], dig)
                row["Adjusted HR (95% CI)"] = format_ci(r["hr_adj"], r["lower_adj"],
                                                  r["upper_adj"], 2)
                row["Adjusted p"] = k.format_p(r["p_adj"])
                row["IPTW log-rank p"] = k.format_p(r["logrank_p_adj"])
            row["Method"] = r["method"] + (f"; adjusted: {r['method_adj']}"
                                           if self.weighted and r["method_adj"] != r["method"]
                                           else "")
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return frame_text(f"{self.title} at {self.horizon:g} days",
                          self.formatted().set_index("Endpoint"), "\n".join(self.notes))


def _weights_for(df: pd.DataFrame, weights, name: str) -> np.ndarray | None:
    # the package's one parser; the estimators then check the values are positive
    if weights is None:
        return None
    values, _ = column_values(df, weights, "weights", source=name)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _method(fit) -> str:
    """The model behind a row's HR, in the table's words (the rules live in the engine)."""
    zero = ", ".join(map(str, fit.zero_arms))
    if fit.model == "none":
        return "no events: no HR"
    if fit.model == "firth":
        return "Firth Cox" + {"no events": f" (no events in {zero})",
                              "monotone": " (monotone likelihood)"}.get(fit.reason, "")
    # the same words as compare_arms for the same model ("Cox, robust SE" when clustered
    # or weighted), so Table 4b and the comparison table never disagree on the method
    return ("Cox" + (", robust SE" if fit.robust else "")
            + (f" (no events in {zero}: HR not finite; use firth)" if zero else ""))


def _pair(d: pd.DataFrame, treated, reference, weighted: bool, cluster: str | None,
          horizon: float, firth, conf_type: str, conf_level: float, name: str):
    """The shared two-arm estimation (``compare_arms`` runs the same) of one comparison."""
    from ..weighting._engine import estimate_arms

    rows = d[d["group"].isin([treated, reference])]
    if (rows["group"] == treated).sum() == 0 or (rows["group"] == reference).sum() == 0:
        return None  # an arm without rows in this endpoint: nothing to estimate
    fit = estimate_arms(rows, arm="group", treated=treated, control=reference,
                        weights=_W if weighted else None, cluster=cluster, horizon=horizon,
                        conf_type=conf_type, conf_level=conf_level, firth=firth,
                        term=f"{name}: {treated!r} vs {reference!r}")
    for w in fit.warnings:  # the method column says when the HR is not finite
        if not issubclass(w.category, MonotoneLikelihoodWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fit


def _effect(fit) -> dict:
    if fit is None:
        return dict(hr=np.nan, lower=np.nan, upper=np.nan, p=np.nan, method="no rows")
    return dict(hr=fit.hr, lower=fit.lower, upper=fit.upper, p=fit.p, method=_method(fit))


def _incidence(fits: list, arm) -> dict:
    """Cumulative incidence 1 - S at the horizon (%) of one arm, from a fit holding it."""
    for fit in fits:
        if fit is not None and arm in fit.at_horizon.index:
            s = fit.at_horizon.loc[arm]
            return dict(cum_inc=100 * (1 - s["surv"]), lower=100 * (1 - s["upper"]),
                        upper=100 * (1 - s["lower"]))
    return dict(cum_inc=np.nan, lower=np.nan, upper=np.nan)


def outcome_table(
    tte_by_endpoint: Mapping[str, pd.DataFrame],
    group: str = "arm",
    horizon: float = 365,
    weights: str | pd.Series | np.ndarray | None = None,
    *,
    time: str = "time",
    event: str = "event",
    arms: Sequence | None = None,
    reference=None,
    treated=None,
    firth: bool | str = "auto",
    censor_at_horizon: bool = True,
    cluster: str | None = None,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    digits: int = 1,
    title: str = "Clinical outcomes",
) -> OutcomeTable:
    """Events, Kaplan-Meier estimates and hazard ratios at a horizon, per endpoint.

    Parameters
    ----------
    tte_by_endpoint : ``{endpoint name: time_to_event frame}`` (e.g. MACE and each
        component), each with ``time`` (days), ``event`` (0/1) and ``group`` columns.
    group : arm column.
    horizon : days; events are counted up to it and the KM estimate read at it.
    weights : IPTW weights (column name in every frame, a Series aligned by index, or an
        array for a single frame): adds the weighted KM, the IPTW log-rank test and the
        weighted Cox HR with robust variance (the adjusted columns).
    arms : the arms in column order, the reference (comparator) last; the HR is each
        other arm versus it. Default: the package's one rule
        (:func:`mace_outcomes._frames.arm_order`): ``treated`` first, the reference
        (the first label in sorted order, as R's factor levels, unless named) last.
    treated, reference : name the treated and the reference arm instead of ``arms``.
    firth : ``"auto"`` (Firth-penalised Cox when an arm has no events in the analysed
        follow-up, or the Cox likelihood is monotone; otherwise ordinary Cox), ``True``
        or ``False``.
    censor_at_horizon : censor follow-up at the horizon for the HR and the log-rank test
        (so they describe the same period as the event counts).
    cluster : optional cluster column (lesion-level data, e.g. ``patient_id``): robust
        (cluster) variance of the Kaplan-Meier estimates and the Cox model, and the robust
        (clustered) log-rank score test.

    With more than two arms each comparison (an arm vs the reference) is estimated on
    the rows of its two arms: its own Cox model and log-rank test.
    conf_type, conf_level : of the Kaplan-Meier intervals (and the HR's level).

    Returns
    -------
    OutcomeTable with ``.table``, ``.arms_table``, ``.effects`` and the writers
    ``.to_markdown()``, ``.to_latex()``, ``.to_html()``, ``.to_csv()``, ``.to_docx()``.

    Notes
    -----
    Uses :func:`mace_outcomes.kaplan_meier` (Greenwood or, weighted, robust variance),
    :func:`mace_outcomes.logrank` (weighted: Xie & Liu 2005) and :func:`mace_outcomes.regression`
    (Efron ties; Firth: Heinze & Schemper 2001 with profile penalised-likelihood
    intervals).

    Examples
    --------
    >>> import numpy as np, pandas as pd, mace_outcomes as mo
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"arm": np.repeat(["OCT", "IVUS"], 50),
    ...                   "time": rng.uniform(10, 500, 100).round(),
    ...                   "event": rng.integers(0, 2, 100)})
    >>> ot = mo.outcome_table({"mace": d}, group="arm", horizon=365, arms=["OCT", "IVUS"])
    >>> ot.table.loc[0, "comparison"]
    'OCT vs IVUS'
    """
    if isinstance(tte_by_endpoint, pd.DataFrame):
        tte_by_endpoint = {"endpoint": tte_by_endpoint}
    if not tte_by_endpoint:
        raise InputError(Problem("give at least one endpoint: {name: time_to_event frame}"))
    if not np.isfinite(horizon) or horizon <= 0:
        raise InputError(Problem(f"horizon must be a positive number of days, not {horizon}"))
    weighted = weights is not None
    arm_rows, eff_rows, wide_rows, notes = [], [], [], []
    all_arms = None
    for name, df in tte_by_endpoint.items():
        if not isinstance(df, pd.DataFrame):
            raise InputError(Problem(f"expected a DataFrame, got {type(df).__name__}",
                                     source=str(name)))
        for col in (group, time, event):
            if col not in df.columns:
                raise InputError(Problem(f"column not found (columns are {list(df.columns)})",
                                         col, source=str(name)))
        # validate as every estimator does (names the rows of bad times, events, labels)
        from .._frames import survival_arrays

        survival_arrays(df, time=time, event=event, group=group, min_groups=2,
                        source=str(name))
        labels = pd.unique(df[group]).tolist()
        these = list(arms) if arms is not None else arm_order(labels, treated, reference,
                                                              str(name), group)
        extra = set(labels) - set(these)
        if extra:
            raise InputError(Problem(f"labels {sorted(extra, key=str)} are not among arms "
                                     f"{these}", group, source=str(name)))
        all_arms = these
        ref = these[-1] if reference is None else reference
        if ref not in these:
            raise InputError(Problem(f"reference {ref!r} is not an arm ({these})", group,
                                     source=str(name)))
        others = [a for a in these if a != ref]

        t = df[time].to_numpy(dtype=float)
        e = df[event].to_numpy(dtype=float).astype(int)
        within = e.astype(bool) & (t <= horizon)
        d = pd.DataFrame({"time": np.minimum(t, horizon) if censor_at_horizon else t,
                          "event": within.astype(int) if censor_at_horizon else e,
                          "group": df[group].to_numpy()}, index=df.index)
        if cluster is not None:
            d[cluster] = df[cluster].to_numpy()
        w = _weights_for(df, weights, str(name))
        if w is not None:
            d[_W] = w
        g = df[group].to_numpy()
        n_by = {a: int((g == a).sum()) for a in these}
        ev_by = {a: int(within[g == a].sum()) for a in these}
        total_events = int(d["event"].sum())

        # One shared estimation per comparison (each arm vs the reference), crude and
        # weighted: Kaplan-Meier at the horizon (censoring at the horizon does not change
        # S there), log-rank, Cox or Firth, exactly as compare_arms reads them.
        est = {(a, wt): _pair(d, a, ref, wt, cluster, horizon, firth, conf_type, conf_level,
                              str(name))
               for a in others for wt in ((False, True) if w is not None else (False,))}
        wide = {"endpoint": name}
        for a in these:
            holding = [est[(b, False)] for b in others if a in (b, ref)]
            row = {"endpoint": name, "group": a, "n": n_by[a], "n_event": ev_by[a],
                   "percent": 100 * ev_by[a] / n_by[a] if n_by[a] else np.nan,
                   **_incidence(holding, a)}
            if w is not None:
                adj = _incidence([est[(b, True)] for b in others if a in (b, ref)], a)
                row.update({f"{key}_adj": v for key, v in adj.items()})
            arm_rows.append(row)
            wide.update({f"n_{a}": row["n"], f"n_event_{a}": row["n_event"],
                         f"percent_{a}": row["percent"], f"km_{a}": row["cum_inc"],
                         f"km_lower_{a}": row["lower"], f"km_upper_{a}": row["upper"]})
            if w is not None:
                wide.update({f"km_adj_{a}": row["cum_inc_adj"],
                             f"km_adj_lower_{a}": row["lower_adj"],
                             f"km_adj_upper_{a}": row["upper_adj"]})

        for a in others:
            comp = f"{a} vs {ref}"
            crude = est[(a, False)]
            lr_p = np.nan if crude is None else crude.logrank_p
            r = dict(wide, comparison=comp, **_effect(crude), logrank_p=lr_p)
            eff_rows.append(dict(endpoint=name, comparison=comp, analysis="crude",
                                 logrank_p=lr_p, n_event=total_events, **_effect(crude)))
            if w is not None:
                adj = est[(a, True)]
                lr_w = np.nan if adj is None else adj.logrank_p
                r.update({f"{key}_adj": v for key, v in _effect(adj).items()},
                         logrank_p_adj=lr_w)
                eff_rows.append(dict(endpoint=name, comparison=comp, analysis="adjusted",
                                     logrank_p=lr_w, n_event=total_events, **_effect(adj)))
            wide_rows.append(r)
        if any(ev_by[a] == 0 for a in these) and firth == "auto":
            notes.append(f"{name}: no events in {', '.join(str(a) for a in these if ev_by[a] == 0)}"
                         " by the horizon: Firth-penalised Cox.")

    table = pd.DataFrame(wide_rows)
    lead = ["endpoint", "comparison"]
    table = table[lead + [c for c in table.columns if c not in lead]]
    settings = {"conf_type": conf_type, "conf_level": conf_level, "firth": firth,
                "censor_at_horizon": censor_at_horizon, "digits": digits,
                "weights": weights if isinstance(weights, str) else
                ("weights given" if weighted else None), "cluster": cluster}
    return OutcomeTable(table=table, arms_table=pd.DataFrame(arm_rows),
                        effects=pd.DataFrame(eff_rows), group=group, arms=list(all_arms),
                        reference=reference if reference is not None else all_arms[-1],
                        horizon=float(horizon), weighted=weighted, settings=settings,
                        warnings=tuple(notes), title=title)
