"""``compare_arms`` of a Dask DataFrame: the crude, IPTW and overlap rows on the cluster.

Each row is the in-memory one (:func:`mace_outcomes.weighting._engine.estimate_arms`)
with every estimate taken from the Dask estimators: the Kaplan-Meier curves
(:mod:`.survival`), the log-rank test, the Cox hazard ratio of the treated-arm
indicator (:mod:`.cox`) and, for the adjusted rows, the weights of the Dask
propensity fit (:mod:`.propensity`). The RMST and the risk at the horizon are read from
the per-arm Kaplan-Meier tables: the area under each curve and, unweighted, the
Greenwood-type variance come from the table alone; the robust (infinitesimal-jackknife)
variances need each row's influence, a function of its arm, time bin and event, so the
small tables are broadcast, each partition returns the cross-products of the influences
(per cluster first, when clustered), and only a 4 x 4 matrix comes back.

Not on Dask: the bootstrap, ``missing="complete_case"``, the matched row,
and the Firth model (an arm without events, a monotone likelihood).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from .._frames import arm_order
from ..errors import InputError, MonotoneLikelihoodWarning, Problem, StatisticalWarning
from ..survival._kernels import (
    RiskTable,
    km_ij_influence,
    km_surv,
    rmst_area,
    rmst_ij_influence,
)
from ..survival.rmst import _contrasts
from ..weighting.compare import (
    TABLE_COLUMNS,
    Comparison,
    add_e_values,
    risk_contrast,
    weighted_analyses,
)
from ._reduce import Part, broadcast, step, tree_sum

__all__ = ["compare_arms"]

_Z, _W = "_treated", "_weight"  # the in-memory engine's names (the Cox term is _Z)
_KEPT = "__kept"
LATER = "compute the frame (ddf.compute()) and compare it in memory"


def _refuse(n_boot, missing, adjustment, matching, deprecated) -> None:
    given = {"n_boot > 0 (the bootstrap)": bool(n_boot),
             f"missing={missing!r}": missing != "error",
             "adjustment with 'match'": adjustment is not None and "match" in adjustment,
             "matching=": matching is not None,
             f"keywords {sorted(deprecated or {})}": bool(deprecated)}
    problems = [Problem(f"compare_arms: {what} is not available on a Dask frame yet",
                        column="adjustment" if what.startswith("adj") else None, fix=LATER)
                for what, on in given.items() if on]
    if problems:
        raise InputError(problems)


# -- RMST and risk at the horizon from the per-arm Kaplan-Meier tables ----------------------

def _tables(km, labels: tuple) -> list[RiskTable]:
    """Each arm's curve as a RiskTable (control first, as the 0/1 grouping of memory)."""
    out = []
    for label in labels:
        c = km.table[km.table["group"] == label]
        out.append(RiskTable(c["time"].to_numpy(float), c["n_risk"].to_numpy(float),
                             c["n_event"].to_numpy(float), c["n_censor"].to_numpy(float),
                             np.zeros(0, np.int64)))
    return out


def _influence_part(frame, time, event, treatment, weights, cluster, labels, tabs, tau,
                    horizon):
    """Each row's influence on (RMST control, RMST treated, S(h) control, S(h) treated):
    the in-memory kernels on the row's bin of its arm's broadcast table."""
    t = frame[time].to_numpy(float)
    ev = frame[event].to_numpy(float)
    w = np.ones(t.size) if weights is None else frame[weights].to_numpy(float)
    arm = frame[treatment].to_numpy()
    out = np.zeros((t.size, 4))
    for a, (label, tab) in enumerate(zip(labels, tabs, strict=True)):
        m = arm == label
        if not m.any():
            continue
        # the tie-merged grid time is the smallest of its tied raw times
        j = np.searchsorted(tab.time, t[m], side="right") - 1
        placed = tab._replace(inverse=j)
        surv = _surv(tab)
        out[m, a] = w[m] * rmst_ij_influence(placed, surv, ev[m], tau)
        out[m, 2 + a] = km_ij_influence(placed, ev[m], w[m], horizon)[1]
    cols = pd.DataFrame(out, columns=["r0", "r1", "k0", "k1"], index=frame.index)
    if cluster is not None:
        cols["cluster"] = frame[cluster].to_numpy()
    return cols


def _surv(tab: RiskTable) -> np.ndarray:
    return km_surv(tab.n_risk, tab.n_event)


def _cross_part(frame) -> Part:
    x = frame[["r0", "r1", "k0", "k1"]].to_numpy(float)
    return Part(len(frame), payload=x.T @ x)


def _influence_cross(dd, time, event, treatment, weights, cluster, labels, tabs, tau,
                     horizon) -> np.ndarray:
    """Sum over clusters (or rows) of the outer product of the influences: 4 x 4."""
    cols = [c for c in (time, event, treatment, weights, cluster) if c is not None]
    meta = pd.DataFrame({k: np.zeros(0) for k in ("r0", "r1", "k0", "k1")})
    if cluster is not None:
        meta["cluster"] = dd[cluster]._meta.to_numpy()
    rows = dd[list(dict.fromkeys(cols))].map_partitions(
        _influence_part, time, event, treatment, weights, cluster, labels, broadcast(tabs),
        tau, horizon, meta=meta)
    if cluster is not None:
        rows = rows.groupby("cluster").sum()
    step("robust variance pass")
    return tree_sum(rows, _cross_part, np.add).payload


def _rmst_row(tabs, tau, conf_level, cross) -> tuple[pd.Series | None, str]:
    """The in-memory ``rmst(..., group=_treated)`` difference row from the tables."""
    limit = min(float(tab.time[-1]) for tab in tabs)
    if tau > limit:
        late = [str(a) for a, tab in enumerate(tabs) if tab.time[-1] < tau]
        reason = (f"horizon (RMST's tau) = {tau:g} is beyond the last observed time in "
                  f"group(s) {late} (smallest of the groups' largest times: {limit:g})")
        return None, f"RMST not estimable to tau={tau:g} ({reason})"
    est, var = [], []
    for tab in tabs:
        value, tail = rmst_area(tab.time, _surv(tab), tau)
        est.append(value)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where((tab.n_event > 0) & (tab.n_risk > tab.n_event),
                         tab.n_event / (tab.n_risk * (tab.n_risk - tab.n_event)), 0.0)
        var.append(float(np.sum((tail * tail * g)[tab.time <= tau])))
    cov = np.diag(var) if cross is None else cross[:2, :2]
    z = norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(all="ignore"):
        table = _contrasts(np.array(est), cov, tau, [0, 1], z, conf_level)
    return table.loc["difference"], ""


# -- one analysis ------------------------------------------------------------------------

def _cox_arm(dd, time, event, weights, cluster, conf_level) -> tuple[pd.Series, list]:
    from .cox import cox

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        fit = cox(dd, time=time, event=event, covariates=[_Z], weights=weights,
                  cluster=cluster, conf_level=conf_level)
    caught = [w for w in caught if issubclass(w.category, StatisticalWarning)]
    if any(issubclass(w.category, MonotoneLikelihoodWarning) for w in caught):
        raise InputError(Problem("monotone Cox likelihood: the Firth model that replaces it "
                                 "in memory is not available on a Dask frame yet",
                                 column=event, fix=LATER))
    return fit.summary.loc[_Z], [str(w.message) for w in caught]


def _analysis(dd, name, treatment, arms, time, event, weights, cluster, horizon, tau,
              conf_level, notes) -> tuple[dict, object, object]:
    from .survival import kaplan_meier, logrank

    t_label, c_label = arms
    km = kaplan_meier(dd, time=time, event=event, group=treatment, weights=weights,
                      cluster=cluster, conf_level=conf_level)
    at = km.at(horizon).set_index("group")
    counted = "n_event_unweighted" if weights is not None else "n_event"
    events = km.table.groupby("group")[counted].sum()
    events = {a: int(np.rint(events.get(a, 0))) for a in (t_label, c_label)}
    zero = [a for a in (t_label, c_label) if events[a] == 0]
    if zero:
        raise InputError(Problem(f"{name}: no events in arm {zero[0]!r}; the Firth model "
                                 "used then in memory is not available on a Dask frame yet",
                                 column=event, fix=LATER))
    lr = logrank(dd, time=time, event=event, group=treatment, weights=weights,
                 cluster=cluster)
    hr, msgs = _cox_arm(dd, time, event, weights, cluster, conf_level)
    tabs = _tables(km, (c_label, t_label))
    robust = weights is not None or cluster is not None
    cross = (_influence_cross(dd, time, event, treatment, weights, cluster,
                              (c_label, t_label), tabs, tau, horizon) if robust else None)
    rm, note = _rmst_row(tabs, tau, conf_level, cross)
    msgs += [note] if note else []
    notes.extend(f"{name}: {m}" for m in msgs)
    row = {"analysis": name, "method": "Cox" + (", robust SE" if robust else ""),
           "hr": float(hr["hr"]), "lower": float(hr["lower"]), "upper": float(hr["upper"]),
           "p": float(hr["p"]), "logrank_p": float(lr.p_value),
           "n_treated": km.n[t_label], "events_treated": events[t_label],
           "n_control": km.n[c_label], "events_control": events[c_label],
           "surv_treated": at.loc[t_label, "surv"], "surv_control": at.loc[c_label, "surv"]}
    # the arms' survival covariance through clusters holding rows of both arms
    cov = 0.0 if cluster is None else float(cross[3, 2])
    rc = risk_contrast(at.loc[t_label, "surv"], at.loc[t_label, "std_err"],
                       at.loc[c_label, "surv"], at.loc[c_label, "std_err"], conf_level, cov)
    row.update({k: rc[k] for k in ("rd", "rd_lower", "rd_upper", "rr", "rr_lower",
                                   "rr_upper")})
    row.update(rmst_diff=np.nan if rm is None else rm["estimate"],
               rmst_lower=np.nan if rm is None else rm["lower"],
               rmst_upper=np.nan if rm is None else rm["upper"])
    return row, km, lr


def _kept_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a propensity fit kept (trimmed rows and zero weights are not analysed)."""
    return frame[frame[_KEPT].to_numpy(bool)].drop(columns=_KEPT)


def _arms(ddf, treatment, treated) -> tuple:
    if treatment not in ddf.columns:
        raise InputError(Problem(f"column not found (columns are {list(ddf.columns)})",
                                 column=treatment))
    labels = ddf[treatment].dropna().unique().compute().tolist()
    levels = arm_order(labels, treated, column=treatment)
    if len(levels) != 2:
        raise InputError(Problem(f"a treatment needs exactly 2 arms, found {levels}",
                                 treatment, ()))
    return tuple(levels)


def compare_arms(df, treatment: str = "arm", covariates: list[str] | None = None, *,
                 formula: str | None = None, estimand: str = "ATE", time: str = "time",
                 event: str = "event", cluster: str | None = None, horizon: float = 365,
                 tau: float | None = None, overlap: bool = True, stabilize: bool = False,
                 trim=None, truncate=None, firth_ps: bool = False, treated=None,
                 conf_level: float = 0.95, n_boot: int = 0, missing: str = "error",
                 adjustment=None, matching: dict | None = None, seed: int | None = None,
                 n_jobs: int = 1, progress: bool = False, memory_gb: float = 1.0,
                 deprecated: dict | None = None) -> Comparison:
    """:func:`mace_outcomes.compare_arms` of a Dask DataFrame: the same table.

    Not on Dask (yet): ``n_boot``, ``missing="complete_case"``, imputations, the
    ``"match"`` adjustment, and the Firth rows (an arm without events, a monotone Cox
    likelihood); each is an :class:`InputError` (``seed``, ``n_jobs``, ``progress`` and
    ``memory_gb`` serve the bootstrap only). ``.propensity`` holds the
    :class:`~mace_outcomes.scale.propensity.DaskPropensity` fits.
    """

    _refuse(n_boot, missing, adjustment, matching, deprecated)
    if cluster is None and "patient_id" in df.columns and (
            df["patient_id"].nunique().compute() < len(df)):
        cluster, auto_cluster = "patient_id", True
    else:
        auto_cluster = False
    t_label, c_label = _arms(df, treatment, treated)
    tau = horizon if tau is None else tau
    d = df.assign(**{_Z: (df[treatment] == t_label).astype(np.int64)})
    notes: list[str] = []
    if auto_cluster:
        notes.append("lesion-level data: robust variances and bootstrap clustered by "
                     "patient_id")
    analyses, _ = weighted_analyses(
        df, treatment, covariates, formula, estimand, adjustment, overlap,
        stabilize=stabilize, trim=trim, truncate=truncate, firth_ps=firth_ps, treated=treated)

    rows, props, curves, tests = [], {}, {}, {}
    for name, ps in analyses:
        if ps is None:
            dd, w_col = d, None
        else:
            # filtered within each partition: to_delayed() of a frame filtered by a
            # boolean Series yields the mask's partitions (dask 2026.8)
            both = d.assign(**{_W: ps.weights, _KEPT: ps.kept})
            dd = both.map_partitions(_kept_rows, meta=both._meta.drop(columns=_KEPT))
            w_col = _W
            props[name] = ps
            notes.extend(f"{name}: {m}" for m in ps.warnings)
        row, curves[name], tests[name] = _analysis(
            dd, name, treatment, (t_label, c_label), time, event, w_col, cluster, horizon,
            tau, conf_level, notes)
        row["ess_treated"], row["ess_control"] = (
            (float(row["n_treated"]), float(row["n_control"])) if ps is None
            else (ps.ess[ps.treated], ps.ess[ps.control]))
        row["exact_p"] = np.nan
        rows.append(row)

    crude = rows[0]
    e_note = add_e_values(rows, crude["n_treated"], crude["n_control"], horizon)
    table = pd.DataFrame(rows).reindex(columns=list(TABLE_COLUMNS))
    k = min(crude["events_treated"], crude["events_control"])
    if k < 5:
        notes.append(f"only {k} event{'s' if k != 1 else ''} in one arm: estimates are "
                     "imprecise; a hazard ratio from so few events cannot establish "
                     "equivalence or superiority")
    notes.append(e_note)
    return Comparison(table=table, propensity=props, treated=t_label, control=c_label,
                      horizon=horizon, tau=tau, cluster=cluster, conf_level=conf_level,
                      notes=notes, curves=curves, tests=tests,
                      dropped=pd.DataFrame({"id": [], "variable": []}))
