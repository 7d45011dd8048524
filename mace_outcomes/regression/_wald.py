"""Joint Wald tests of a model's terms (a multi-level factor, an interaction).

A term of the design (``ecog``, ``arm:wl``) is one or more columns (``ecog1``, ``ecog2``,
``ecog3``); its joint Wald statistic is ``b' V^{-1} b`` over those columns, with ``V``
the coefficient covariance the fit reports its SEs from (robust when the fit is), on as
many degrees of freedom as columns -- the test R's ``car::Anova(fit, type = 3,
test.statistic = "Wald")`` reports per term. Aliased columns (NaN, R's ``NA``) are left
out of the term.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError, Problem


class WaldTest(NamedTuple):
    """A joint Wald test: statistic, degrees of freedom and p-value."""

    chisq: float
    df: int
    p: float


def wald(coef: np.ndarray, vcov: np.ndarray) -> WaldTest:
    """``b' V^{-1} b`` on ``len(b)`` df; NaN when a coefficient is infinite (diverged)."""
    coef = np.asarray(coef, dtype=float)
    k = coef.size
    if k == 0 or not np.isfinite(coef).all() or not np.isfinite(vcov).all():
        return WaldTest(np.nan, k, np.nan)
    chisq = float(coef @ np.linalg.solve(np.asarray(vcov, dtype=float), coef))
    return WaldTest(chisq, k, float(stats.chi2.sf(chisq, k)))


class TermTests:
    """What a regression result (Cox, Fine-Gray) shares: its tidy table, its notes and
    per-term joint Wald tests, from ``summary``, ``vcov``, ``terms`` and ``warnings``."""

    @property
    def table(self) -> pd.DataFrame:
        """``summary`` as tidy rows: one per term, ``term`` a column."""
        return self.summary.reset_index()

    @property
    def notes(self) -> list[str]:
        """Caveats raised while fitting (the contract's name for ``warnings``)."""
        return list(self.warnings)

    def _term_columns(self, term: str) -> list[str]:
        terms = getattr(self, "terms", None) or {n: [n] for n in self.summary.index}
        if term in terms:
            cols = terms[term]
        elif term in self.summary.index:  # a single column named as a term
            cols = [term]
        else:
            raise InputError(Problem(f"no term {term!r} in the model (terms are "
                                     f"{list(terms)})", column=term,
                                     fix="name a term of the model, e.g. a factor or "
                                         "an interaction 'a:b'"))
        coef = self.summary["coef"].reindex(cols)
        return [c for c in cols if not np.isnan(coef[c])]  # aliased columns (R's NA)

    def wald_test(self, term: str) -> WaldTest:
        """Joint Wald test that every coefficient of ``term`` is 0: ``(chisq, df, p)``.

        ``term`` is a covariate (a factor's dummies together, e.g. ``"ecog"``), an
        interaction (``"arm:wl"``) or a single design column. The covariance is the
        one behind ``se`` (robust when the fit is robust).
        """
        cols = self._term_columns(term)
        b = self.summary["coef"].reindex(cols).to_numpy(dtype=float)
        v = self.vcov.loc[cols, cols].to_numpy(dtype=float)
        return wald(b, v)

    def anova(self) -> pd.DataFrame:
        """One joint Wald test per term: term, df, chisq, p (as ``car::Anova``'s type III
        Wald tests: each term given all the others)."""
        terms = getattr(self, "terms", None) or {n: [n] for n in self.summary.index}
        rows = [(t, *self.wald_test(t)) for t in terms]
        out = pd.DataFrame(rows, columns=["term", "chisq", "df", "p"])
        return out[["term", "df", "chisq", "p"]]
