"""The Firth-penalised Cox model (Heinze & Schemper 2001; R's ``coxphf``) on a Dask frame.

The in-memory fit (:mod:`mace_outcomes.regression.firth`) from sums over partitions:
its penalised log partial likelihood (Breslow) needs, per event time, the risk-set
sums of ``r z`` with ``z = [1, x, x x', x x x']`` (:func:`firth.firth_products`), which
add over partitions as the per-time table of :func:`_pertime.pertime` does (with ``z``
for ``x``), and the deaths' ``sum w eta`` and ``sum w x``. Each evaluation of the
penalised likelihood is one pass over the cluster; the client then runs the in-memory
iteration (coxphf's steps, :func:`firth._coxphf_iterate`) and the profile
penalised-likelihood limits and tests (:func:`firth._profile_limits`,
:func:`firth._profile_at`) on it, as :func:`firth.firth_fit` does on one array.

The weights are rescaled to their Kish effective sample size and the covariates to
unit standard deviation (``ddof=1``) on the workers, with sums from the cluster, as in
memory; the robust variance is the sandwich of :mod:`.cox` at the penalised estimate,
floored by the model-based one and the limits Rao-Scott scaled, as in memory.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..regression import _kernels as K
from ..regression import _pertime as P
from ..regression.firth import (
    _coxphf_iterate,
    firth_products,
    penalised_from_sums,
    profile_tables,
)
from ._reduce import Part, keep, step, tree_sum

__all__ = ["firth_fit"]

def _sums_part(prep, mean) -> Part:
    if prep is None:
        return Part(0)
    dev = prep.x - mean
    return Part(len(prep.w), payload=(np.einsum("ij,ij->j", dev, dev), prep.w.sum(),
                                      prep.w @ prep.w))


def _scaled(prep, sd: np.ndarray, factor: float):
    return None if prep is None else replace(prep, x=prep.x / sd, w=prep.w * factor)


def _firth_part(prep, beta) -> Part:
    """The partition's per-time table of ``r z`` (risk sets and deaths) and the deaths'
    ``sum w eta``, ``sum w x`` at ``beta``."""
    if prep is None:
        return Part(0)
    eta, r = P.risk_scores(prep.x, prep.w, beta)
    table = P.pertime(prep.place, firth_products(prep.x), prep.w, beta, r=r)
    dead = prep.place.dead
    wd = prep.w[dead]
    with np.errstate(invalid="ignore"):
        return Part(len(prep.w), payload=(table, float(wd @ eta[dead]), wd @ prep.x[dead]))


def _add(a, b):
    return a[0].add(b[0]), a[1] + b[1], a[2] + b[2]


def _table_part(prep, beta) -> Part:
    """The partition's per-time table of ``r x`` (for the score residuals)."""
    if prep is None:
        return Part(0)
    return Part(len(prep.w), payload=P.pertime(prep.place, prep.x, prep.w, beta))


def firth_fit(prepared: list, names: list, n: int, center_mean: np.ndarray, weighted: bool,
              robust: bool, conf_level: float, meat) -> dict:
    """The fields of the in-memory Firth fit from the ``n`` centred rows' partitions.

    ``center_mean``: the unweighted mean of the centred covariates; ``meat(prepared,
    beta, haz)``: the robust variance's middle (the Cox fit's, per row or per cluster).
    """
    import dask

    p = len(names)
    ss, sw, sw2 = tree_sum(prepared, _sums_part,
                           lambda a, b: (a[0] + b[0], a[1] + b[1], a[2] + b[2]),
                           center_mean).payload
    sd = np.sqrt(ss / (n - 1))  # coxphf's unit-SD covariates (ddof=1, as in memory)
    sd = np.where(sd > 0, sd, 1.0)
    factor = sw / sw2 if weighted else 1.0  # the Kish effective sample size
    scaled = keep([dask.delayed(_scaled, pure=True)(prep, sd, factor) for prep in prepared])

    def fun(b, grad=True):
        step("Firth Cox evaluation")
        table, w_eta, wx = tree_sum(scaled, _firth_part, _add, b).payload
        return penalised_from_sums(table.s1, table.wd, w_eta, wx, p, grad)

    beta, pll, u, imat, ll, iters = _coxphf_iterate(fun, p)
    pll0 = fun(np.zeros(p))[0]
    naive_s = K.inverse_sym(imat)
    if robust:
        haz = P.hazard(tree_sum(scaled, _table_part, lambda a, b: a.add(b), beta).payload,
                       "breslow")
        rob = naive_s @ meat(scaled, beta, haz) @ naive_s
        floor = np.diag(naive_s)
        target = np.maximum(np.diag(rob), floor)
        adj = np.sqrt(target / np.diag(rob))
        var_s = rob * np.outer(adj, adj)
        scale = np.diag(naive_s) / target
        variance = "robust sandwich; Rao-Scott-scaled profile penalised likelihood"
    else:
        var_s, scale = naive_s, np.ones(p)
        variance = "model-based; profile penalised likelihood"
    summary, tests, var = profile_tables(fun, beta, pll, pll0, scale, var_s, naive_s, sd,
                                         names, conf_level)
    return dict(summary=summary, loglik=(pll0, pll), tests=tests, ties="breslow",
                robust=bool(robust), firth=True, variance=variance, iterations=iters,
                vcov=pd.DataFrame(var, index=names, columns=names))

