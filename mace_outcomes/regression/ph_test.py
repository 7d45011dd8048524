"""Test of proportional hazards (Grambsch & Therneau 1994), as R's ``cox.zph``.

For each term the test is the score test, at the fitted ``beta`` and ``gamma = 0``,
of adding ``x * g(t)`` to the model, where ``g`` is a transform of time (by default
the Kaplan-Meier transform ``1 - S(t-)`` of the pooled data, centred at its mean over
the deaths). With ``U_g = sum_t g(t) u(t)`` (``u(t)`` the weighted Schoenfeld residuals
at ``t``) and the information blocks ``I = sum V(t)``, ``I_bg = sum g V``,
``I_gg = sum g^2 V`` (``V(t)`` the Efron or Breslow information contribution), the
statistic for the columns ``j`` of a term is ``u' M^{-1} u`` with
``u = (0, U_g[j])`` and ``M`` the information of ``(beta, gamma_j)``; GLOBAL uses all
columns. This is the algorithm of survival 3.x (``cox.zph`` with its C routine
``zph1``), which replaced the older approximation based on scaled Schoenfeld
residuals with ``var(beta)`` of survival 2.x.

Reference: Grambsch PM, Therneau TM (1994). Proportional hazards tests and
diagnostics based on weighted residuals. Biometrika 81:515-526.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .._display import ResultMixin
from ..errors import InputError, Problem
from . import _kernels as K

__all__ = ["ph_test", "time_transform", "PHTest"]


class PHTest(ResultMixin, pd.DataFrame):
    """The table of :func:`ph_test` (term, chisq, df, p; last row GLOBAL), still a
    DataFrame, with the result contract: ``p_value`` (of GLOBAL), ``table`` (a plain
    copy), ``notes``, ``weighted`` (of the Cox fit) and ``to_markdown()``.

    Selections and other operations return plain DataFrames.
    """

    _metadata = ["notes", "weighted"]

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self, copy=True)

    @property
    def p_value(self) -> float:
        """p of the GLOBAL test (every term at once)."""
        return float(self["p"].iloc[-1])

    def _result_title(self) -> str:
        return "Proportional hazards test (Grambsch-Therneau, as cox.zph)"


def time_transform(time: np.ndarray, event: np.ndarray, transform: str = "km") -> np.ndarray:
    """``g(t)`` for every row: "km" (``1 - S(t-)``, pooled unweighted Kaplan-Meier),
    "identity", "rank" (average ranks of all times) or "log"."""
    if transform == "identity":
        return time.astype(float)
    if transform == "log":
        return np.log(time)
    if transform == "rank":
        return stats.rankdata(time)
    if transform != "km":
        raise InputError(Problem(f"unknown transform {transform!r} (km, identity, rank, log)"))
    from ..survival._kernels import km_surv, risk_table

    tab = risk_table(time, event)
    surv = km_surv(tab.n_risk, tab.n_event)
    surv_left = np.r_[1.0, surv[:-1]]  # S(t-): left-continuous at each distinct time
    return 1 - surv_left[tab.inverse]


def zph_statistics(beta: np.ndarray, x: np.ndarray, w: np.ndarray, lay: K.Layout,
                   g_row: np.ndarray, groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square statistics per column group and GLOBAL (last), with their df.

    ``g_row`` is the centred time transform for each sorted row; it is constant
    within a tie group.
    """
    p = x.shape[1]
    u, v = K.group_score_info(beta, x, K.design_products(x), w, lay)
    gg = g_row[lay.ev[lay.gstart]]
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = v.sum(0)
    ibg = np.tensordot(gg, v, axes=1)
    imat[:p, p:] = ibg
    imat[p:, :p] = ibg.T
    imat[p:, p:] = np.tensordot(gg ** 2, v, axes=1)
    ug = gg @ u
    chisq, df = [], []
    for cols in groups:
        kk = list(range(p)) + [p + j for j in cols]
        uu = np.r_[np.zeros(p), ug[cols]]
        chisq.append(float(uu @ K.solve_sym(imat[np.ix_(kk, kk)], uu)))
        df.append(len(cols))
    uu = np.r_[np.zeros(p), ug]
    chisq.append(float(uu @ K.solve_sym(imat, uu)))
    df.append(p)
    return np.array(chisq), np.array(df)


def ph_test(fit, transform: str = "km", terms: bool = True) -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards for a fitted :func:`cox` model.

    Parameters
    ----------
    fit : CoxResult.
    transform : time transform "km" (default, as R), "identity", "rank" or "log".
    terms : test each term jointly over its columns (a categorical covariate's
        dummies; R's default); ``False`` tests every column separately.

    Returns
    -------
    PHTest: a DataFrame with columns term, chisq, df, p; the last row is GLOBAL
    (``.p_value`` is its p).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import mace_outcomes as mo
    >>> rng = np.random.default_rng(2)
    >>> d = pd.DataFrame({"time": rng.exponential(100, 300).round() + 1,
    ...                   "event": rng.integers(0, 2, 300), "x": rng.normal(size=300)})
    >>> mo.cox(d, "time", "event", ["x"]).ph_test()["term"].tolist()
    ['x', 'GLOBAL']

    Reference: Grambsch PM, Therneau TM (1994) Biometrika 81:515-526.
    """
    st = fit._state
    if st.get("counting"):
        # cox.zph on (start, stop] rows needs the entry-aware KM transform and residuals;
        # refused rather than computed on the stop times alone (which would be wrong)
        raise InputError(Problem("the proportional-hazards test is not available yet for "
                                 "(start, stop] fits", column="start",
                                 fix="test proportional hazards on the fit without start= "
                                     "(one row per subject), or use R's cox.zph"))
    names = st["names"]
    if terms:
        labels = list(fit.terms)
        groups = [[names.index(c) for c in cols] for cols in fit.terms.values()]
    else:
        labels = list(names)
        groups = [[j] for j in range(len(names))]
    g = time_transform(st["time"], st["event"], transform)
    g = g - g[st["event"] == 1].mean()
    chisq, df = zph_statistics(st["beta"], st["x"], st["w"], st["layout"], g, groups)
    out = PHTest({"term": labels + ["GLOBAL"], "chisq": chisq, "df": df,
                  "p": stats.chi2.sf(chisq, df)})
    out.notes = []
    out.weighted = fit.weighted
    return out
