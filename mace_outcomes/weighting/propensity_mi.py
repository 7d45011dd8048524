"""Propensity models re-fitted within each imputation, and their balance.

The "within" approach (Leyrat et al. 2019): the propensity model is fitted on every
completed data set and each analysis uses its own weights; balance is judged per
imputation and on average over the imputations, as R's cobalt summarises ``mids``
(mean, and the largest absolute SMD, over imputations).

Leyrat C, Seaman SR, White IR, et al. Propensity score analysis with partially observed
covariates: how should multiple imputation be used? Stat Methods Med Res 2019;28:3-19.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text

_AVERAGED = ["mean_treated", "mean_control", "smd_unweighted", "smd_weighted",
             "vr_unweighted", "vr_weighted"]


@dataclass(frozen=True, eq=False)
class ImputedPropensity(ResultMixin):
    """One :class:`Propensity` per completed data set (``mo.propensity(imputations)``).

    Attributes
    ----------
    fits : the m propensity fits, in the order of ``Imputations.datasets``.
    m, estimand, treated, control : as every fit.
    """

    fits: list

    @property
    def m(self) -> int:
        return len(self.fits)

    @property
    def estimand(self) -> str:
        return self.fits[0].estimand

    @property
    def treated(self):
        return self.fits[0].treated

    @property
    def control(self):
        return self.fits[0].control

    @property
    def notes(self) -> list[str]:
        """Caveats of any imputation's fit, each once, naming how many fits raised it."""
        seen: dict[str, int] = {}
        for f in self.fits:
            for n in f.notes:
                seen[n] = seen.get(n, 0) + 1
        return [f"{n} ({k} of {self.m} imputations)" for n, k in seen.items()]

    @property
    def table(self) -> pd.DataFrame:
        """The averaged balance (``balance()``)."""
        return self.balance()

    def balance(self, threshold: float = 0.1, binary: str = "std",
                per_imputation: bool = False) -> pd.DataFrame:
        """Covariate balance averaged over the imputations (or per imputation).

        Averaged (default): covariate, type, and the mean over imputations of
        mean_treated, mean_control, smd_unweighted, smd_weighted, vr_unweighted,
        vr_weighted; max_abs_smd_weighted (the worst imputation) and balanced
        (``max_abs_smd_weighted < threshold``: balanced in every imputation).
        ``per_imputation=True``: the columns of :meth:`Propensity.balance` with
        ``imputation`` (1..m) first.
        """
        each = [f.balance(threshold=threshold, binary=binary) for f in self.fits]
        long = pd.concat([b.assign(imputation=i) for i, b in enumerate(each, 1)],
                         ignore_index=True)
        if per_imputation:
            return long[["imputation", *each[0].columns]]
        stacked = np.stack([b[_AVERAGED].to_numpy(float) for b in each])
        out = each[0][["covariate", "type"]].copy()
        out[_AVERAGED] = stacked.mean(axis=0)
        worst = np.abs(stacked[:, :, _AVERAGED.index("smd_weighted")]).max(axis=0)
        out["max_abs_smd_weighted"] = worst
        out["balanced"] = worst < threshold
        return out

    def _title(self) -> str:
        return (f"Propensity models re-fitted within m = {self.m} imputations "
                f"(estimand {self.estimand}): balance averaged over imputations")

    def _footer(self) -> str:
        return "\n".join([f"treated = {self.treated!r} vs control = {self.control!r}",
                          *(f"warning: {n}" for n in self.notes)])

    def __repr__(self) -> str:
        return frame_text(self._title(), self.balance().set_index("covariate"),
                          self._footer())

    def _repr_html_(self) -> str:
        return frame_html(self._title(), self.balance().set_index("covariate"),
                          self._footer())
