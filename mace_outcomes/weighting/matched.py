"""The propensity-matched row of ``mo.compare_arms`` (``adjustment=[..., "match"]``).

The matched analysis runs on the matched set of :func:`mace_outcomes.match` with the
shared estimation of every other row (:func:`._engine.estimate_arms`):

* Cox hazard ratio of the treated arm weighted by ``match_weight`` with the robust
  (sandwich) SE clustered on the matched set (``subclass``), as MatchIt's documentation
  and Austin (2013) recommend for matched survival data: R's
  ``coxph(Surv(time, event) ~ arm, weights = weights, cluster = subclass)``;
* Kaplan-Meier curves weighted by ``match_weight`` with cluster-robust
  (infinitesimal-jackknife) intervals clustered on the matched set;
* log-rank p: the cluster-robust score test (Lin & Wei 1989) clustered on the matched
  set, which respects the pairing (a stratified log-rank over pairs would discard the
  sets whose members leave follow-up at once);
* the weighted Firth-penalised Cox model where a matched arm has no events (the same
  switch as every row), with Fisher's exact test on the matched rows.

With replacement a control can sit in several matched sets: the rows are then weighted
by ``match_weight`` with the robust SE per patient (no subclass), as MatchIt advises, and
the log-rank p is the weighted (IPTW) test. A ``cluster`` given to compare_arms (lesions
of one patient) is used instead of the matched set throughout.

References
----------
Austin PC. The performance of different propensity score methods for estimating marginal
hazard ratios. Stat Med 2013;32:2837-49.
Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. J Am Stat
Assoc 1989;84:1074-8.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, Problem

ADJUSTMENTS = ("iptw", "overlap", "match")
_MW, _SUB = "_match_weight", "_subclass"
# compare_arms supplies these; a matching dict cannot override them
_RESERVED = ("df", "treatment", "treated", "missing")


def adjustments(adjustment: Sequence[str] | None, estimand: str, overlap: bool
                ) -> tuple[list[str], bool]:
    """The propensity-weighted estimands to fit and whether to add the matched row.

    ``adjustment=None`` keeps compare_arms' rows as they were (the ``estimand`` row and
    an overlap row unless ``overlap=False``); otherwise the rows named: ``"iptw"`` (the
    ``estimand``, ATE or ATT), ``"overlap"`` (ATO), ``"match"``.
    """
    if adjustment is None:
        wanted = [] if estimand == "ATO" else [estimand]
        if overlap or estimand == "ATO":
            wanted.append("ATO")
        return wanted, False
    names = [adjustment] if isinstance(adjustment, str) else list(adjustment)
    bad = [a for a in names if a not in ADJUSTMENTS]
    if bad:
        raise InputError(Problem(f"adjustment must name analyses among {ADJUSTMENTS}, got "
                                 f"{bad}", column="adjustment"))
    wanted = []
    if "iptw" in names:
        if estimand == "ATO":
            raise InputError(Problem("adjustment 'iptw' needs estimand 'ATE' or 'ATT' (the "
                                     "overlap row is adjustment 'overlap')",
                                     column="adjustment"))
        wanted.append(estimand)
    if "overlap" in names:
        wanted.append("ATO")
    return wanted, "match" in names


def matched_row(d: pd.DataFrame, *, treatment: str, covariates, formula, treated,
                arms: tuple, time: str, event: str, cluster: str | None, horizon: float,
                tau: float, conf_level: float, notes: list, term: str,
                matching: dict | None, analyse, exact_test) -> tuple[dict, object, object]:
    """The ``matched`` row of compare_arms: (row, the engine's fit, the Matched result).

    ``d``: compare_arms' analysis frame (its complete cases). ``matching``: keyword
    arguments of :func:`mace_outcomes.match` (e.g. ``caliper``, ``ratio``, ``replace``,
    ``exact``, ``order``, ``covariates`` to match on other covariates than the weights).
    ``analyse`` and ``exact_test``: compare_arms' row builder and Fisher test (passed in,
    so that this module does not import the one that imports it).
    """
    from .match import match

    kw = dict(matching or {})
    clash = [k for k in kw if k in _RESERVED]
    if clash:
        raise InputError(Problem(f"matching cannot set {clash}: compare_arms gives them",
                                 column="matching"))
    if "covariates" not in kw and "formula" not in kw:
        kw.update(covariates=covariates, formula=formula)
    m = match(d, treatment, treated=treated, **kw)
    md = d.loc[m.data.index].assign(**{_MW: m.data["match_weight"].to_numpy()})
    if cluster is not None:
        by, how = cluster, f"clustered on {cluster!r}"
    elif m.replace:
        by, how = None, "robust per patient (matching with replacement: no matched sets)"
    else:
        md = md.assign(**{_SUB: m.data["subclass"].to_numpy(dtype=np.int64)})
        by, how = _SUB, "clustered on the matched set (subclass)"
    row, fit = analyse(md, "matched", treatment, arms, time, event, _MW, by, horizon, tau,
                         conf_level, notes, term=term)
    c = m.counts.set_index("group")
    row["ess_treated"], row["ess_control"] = c.loc[arms[0], "ess"], c.loc[arms[1], "ess"]
    row["exact_p"] = (exact_test(md[time].to_numpy(float), md[event].to_numpy(float), md[
        "_treated"].to_numpy(), horizon)["exact_p"] if fit.zero_arms else np.nan)
    cal = ("no caliper" if m.caliper_logit is None else
           f"caliper {m.caliper:g}{' SD' if m.std_caliper else ''} of the logit")
    notes.append(
        f"matched: 1:{m.ratio} nearest-neighbour matching on the logit of the propensity "
        f"score ({m.estimand}, {cal}, {'with' if m.replace else 'without'} replacement, "
        f"order {m.order}); {int(c.loc[arms[0], 'matched'])} of "
        f"{int(c.loc[arms[0], 'all'])} treated and {int(c.loc[arms[1], 'matched'])} of "
        f"{int(c.loc[arms[1], 'all'])} control rows matched; Cox and Kaplan-Meier weighted "
        f"by match_weight, robust SE {how}; log-rank: "
        + ("cluster-robust score test on the same clusters, which respects the pairing"
           if by is not None else "weighted (Xie & Liu 2005)"))
    return row, fit, m
