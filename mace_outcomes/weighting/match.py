"""Propensity-score matching: ``mo.match``.

Greedy nearest-neighbour matching on the linear logit of the propensity score, as R's
MatchIt ``matchit(method = "nearest", distance = "glm", link = "linear.logit")``
(MatchIt >= 4.5.4), reproduced pair for pair: the same propensity model (logistic
regression on the covariates, R's dummy coding), the same distance, the same matching
order, caliper, ties, rounds for 1:k matching, replacement and exact matching (the rules
are stated in :mod:`mace_outcomes.weighting._match_kernel`), the same weights and
subclasses, and the balance table of MatchIt's ``summary()``.

References
----------
Rosenbaum PR, Rubin DB. Constructing a control group using multivariate matched sampling
methods that incorporate the propensity score. Am Stat 1985;39:33-8.
Austin PC. Optimal caliper widths for propensity-score matching when estimating
differences in means and differences in proportions in observational studies. Pharm
Stat 2011;10:150-61 (caliper 0.2 SD of the logit).
Ho D, Imai K, King G, Stuart EA. MatchIt. J Stat Softw 2011;42(8).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._design import model_variables
from .._display import ResultMixin, frame_html, frame_text
from .._frames import complete_cases, row_ids
from ..errors import InputError, Problem, SeparationWarning
from ._match_kernel import (
    glm_logit,
    matching_order,
    nearest_with_replacement,
    nearest_without_replacement,
    r_sd,
)
from .impute import is_imputations
from .propensity import (
    _separation,
    _separation_message,
    check_full_rank,
    design_matrix,
    treatment_indicator,
)
from .weights import balance_kernel, is_binary, kish_ess, weighted_mean_var

ORDERS = ("largest", "smallest", "random", "data")
_EPS = np.sqrt(np.finfo(float).eps)


@dataclass(frozen=True, eq=False)
class Matched(ResultMixin):
    """A matched sample (see :func:`match`).

    Attributes
    ----------
    data : the matched rows of the input (data order) with ``subclass`` (the matched set,
        numbered 1.. by the focal unit's data order; missing with replacement, where a
        control can belong to several sets) and ``match_weight`` (MatchIt's weights).
    pairs : one row per matched focal unit (treated for the ATT): ``subclass``, its id
        (column ``treated``) and its controls' ids in the order they were matched
        (``control_1`` .. ``control_k``, missing where it got fewer), ``n_matches``.
        For the ATC the roles swap (``control``, ``treated_1`` ..).
    counts : per arm (``group``): ``all``, ``matched``, ``unmatched``, ``ess`` (Kish
        effective size of the matched weights): the numbers of a STROBE flow (item 6b).
    unmatched : ids of the rows left out, index aligned with the input.
    distance : the linear logit of every row (Series aligned with the input).
    weights, subclass : per input row (0 / missing for unmatched rows).
    caliper_logit : the caliper in logit units (``caliper`` x SD of the logit over all
        rows when ``std_caliper``), or None.
    coef : the propensity model (term; coef, se, z, p), empty when ``distance`` was given.
    notes : what was done and any caveat.
    """

    data: pd.DataFrame
    pairs: pd.DataFrame
    counts: pd.DataFrame
    unmatched: pd.Series
    distance: pd.Series
    weights: pd.Series
    subclass: pd.Series
    treatment: str
    treated: object
    control: object
    estimand: str
    ratio: int
    caliper: float | None
    caliper_logit: float | None
    std_caliper: bool
    replace: bool
    order: str
    exact: list | None
    coef: pd.DataFrame
    design: pd.DataFrame
    z: pd.Series
    seed: int | None = None
    notes: list = field(default_factory=list)
    method: str = "nearest-neighbour matching on the logit of the propensity score"

    @property
    def table(self) -> pd.DataFrame:
        """Rows per arm: group, all, matched, unmatched, ess."""
        return self.counts

    @property
    def weighted(self) -> bool:
        return True

    def balance(self, threshold: float = 0.1) -> pd.DataFrame:
        """Covariate balance before and after matching, as MatchIt's ``summary()``.

        Columns: covariate (``distance`` first, then the propensity model's terms in R's
        dummy names), type, mean_treated, mean_control (all rows), mean_treated_matched,
        mean_control_matched (weighted by ``match_weight``), smd_before, smd_after,
        smd_pooled_before, smd_pooled_after, var_ratio_before, var_ratio_after, balanced
        (``|smd_after| < threshold``).

        ``smd_*``: MatchIt's convention, the mean difference over the SD of the focal arm
        in the full sample (treated for the ATT, control for the ATC; binary covariates
        ``sqrt(p(1-p))``), the same denominator before and after; a difference under
        ``sqrt(machine eps)`` is reported unstandardised, as MatchIt does.
        ``smd_pooled_*``: over the pooled SD ``sqrt((s1^2 + s0^2)/2)`` of the full sample
        (Austin 2009; the convention of ``Propensity.balance``). Variance ratios (treated
        / control, weighted variances after matching) for non-binary covariates only.
        """
        x = np.column_stack([self.distance.to_numpy(float), self.design.to_numpy(float)])
        names = ["distance", *self.design.columns]
        z = self.z.to_numpy()
        t = z == 1
        w = self.weights.to_numpy(float)
        binary = is_binary(x)
        pooled = balance_kernel(x, z, w, binary)
        ones = np.ones(len(z))
        m1, v1 = weighted_mean_var(x[t], ones[t], binary)
        m0, v0 = weighted_mean_var(x[~t], ones[~t], binary)
        mw1, _ = weighted_mean_var(x[t & (w > 0)], w[t & (w > 0)], binary)
        mw0, _ = weighted_mean_var(x[~t & (w > 0)], w[~t & (w > 0)], binary)
        sd = np.sqrt(v1 if self.estimand == "ATT" else v0)
        # MatchIt falls back to the pooled SD when the focal arm's SD is ~0
        sd = np.where(np.isfinite(sd) & (sd >= _EPS), sd, np.sqrt((v1 + v0) / 2))

        def smd(diff):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(np.abs(diff) > _EPS, diff / sd, diff)

        out = pd.DataFrame({
            "covariate": names, "type": np.where(binary, "binary", "continuous"),
            "mean_treated": m1, "mean_control": m0, "mean_treated_matched": mw1,
            "mean_control_matched": mw0, "smd_before": smd(m1 - m0),
            "smd_after": smd(mw1 - mw0), "smd_pooled_before": pooled["smd_unweighted"],
            "smd_pooled_after": pooled["smd_weighted"],
            "var_ratio_before": pooled["vr_unweighted"],
            "var_ratio_after": _weighted_vr(x, t, w, binary)})
        out["balanced"] = np.abs(out["smd_after"]) < threshold
        return out

    def plot(self, **kw):
        """Love plot of |SMD| before and after matching (``plots.plot_love``)."""
        from ..plots import plot_love
        bal = self.balance().rename(columns={"smd_before": "smd_unweighted",
                                             "smd_after": "smd_weighted"})
        kw.setdefault("names", ("Before matching", "After matching"))
        return plot_love(bal[bal["covariate"] != "distance"], **kw)

    def _footer(self) -> str:
        cal = ("no caliper" if self.caliper_logit is None else
               f"caliper {self.caliper:g}{' SD' if self.std_caliper else ''} of the logit"
               f" = {self.caliper_logit:.4g}")
        text = [f"estimand {self.estimand}; 1:{self.ratio} "
                f"{'with' if self.replace else 'without'} replacement, {cal}, order "
                f"{self.order}" + (f", exact on {self.exact}" if self.exact else ""),
                f"treated = {self.treated!r} vs control = {self.control!r}; {self.method}"]
        return "\n".join(text + [f"note: {n}" for n in self.notes])

    def __repr__(self) -> str:
        bal = self.balance()[["covariate", "smd_before", "smd_after", "var_ratio_before",
                              "var_ratio_after"]].set_index("covariate")
        return "\n\n".join([frame_text("Nearest-neighbour matching", self.counts
                                       .set_index("group")),
                            frame_text("Balance (SMD, MatchIt convention)", bal,
                                       self._footer())])

    def _repr_html_(self) -> str:
        return (frame_html("Nearest-neighbour matching", self.counts.set_index("group"))
                + frame_html("Balance", self.balance().set_index("covariate"),
                             self._footer()))


def _weighted_vr(x: np.ndarray, t: np.ndarray, w: np.ndarray, binary: np.ndarray):
    keep1, keep0 = t & (w > 0), ~t & (w > 0)
    if keep1.sum() < 2 or keep0.sum() < 2:
        return np.full(x.shape[1], np.nan)
    _, v1 = weighted_mean_var(x[keep1], w[keep1], binary)
    _, v0 = weighted_mean_var(x[keep0], w[keep0], binary)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(binary, np.nan, v1 / v0)


def matching_weights(mm: np.ndarray, focal_rows: np.ndarray, n: int, replace: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """MatchIt's weights and subclasses from the match matrix.

    ``mm``: (n_focal, k) unit indices (-1: none), rows the focal units ``focal_rows`` in
    data order. Focal units with a match weigh 1; a control weighs the sum, over the focal
    units it serves, of 1 / (that unit's number of controls) -- without replacement that
    is 1/k of its one set. The non-focal weights are then scaled to average 1 over the
    matched non-focal units (MatchIt's ``normalize = TRUE``). Subclasses (without
    replacement): 1.. over the matched focal units in data order; 0 = none.
    """
    has = mm >= 0
    k = has.sum(1)
    matched = k > 0
    w = np.zeros(n)
    w[focal_rows[matched]] = 1.0
    share = np.where(has, 1.0 / np.maximum(k, 1)[:, None], 0.0)
    w += np.bincount(mm[has], weights=share[has], minlength=n)
    ctrl = np.zeros(n, bool)
    ctrl[mm[has]] = True
    w[ctrl] *= ctrl.sum() / w[ctrl].sum()
    sub = np.zeros(n, dtype=np.int64)
    if not replace:
        number = np.cumsum(matched) * matched
        sub[focal_rows[matched]] = number[matched]
        sub[mm[has]] = np.broadcast_to(number[:, None], mm.shape)[has]
    return w, sub


def _propensity_logit(X: pd.DataFrame, z: np.ndarray):
    """The propensity model by R's glm iterations and its linear predictor (MatchIt's
    distance, bit for bit); the collinearity and separation checks of
    :func:`propensity`. Returns (coef table, distance, separation, method)."""
    Xc = np.column_stack([np.ones(len(z)), X.to_numpy(float)])
    names = ["(Intercept)", *X.columns]
    check_full_rank(Xc, names)
    fit = glm_logit(Xc, z)
    beta = fit["beta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.diag(fit["cov"]))
        zval = beta / se
    coef = pd.DataFrame({"coef": beta, "se": se, "z": zval,
                         "p": 2 * stats.norm.sf(np.abs(zval))},
                        index=pd.Index(names, name="term"))
    mu = fit["fitted"]
    sep = None
    if not fit["converged"] or np.minimum(mu, 1 - mu).min() < 1e-6:
        sep = _separation(Xc, z)
    return coef, fit["eta"], sep, "logistic regression (R's glm iterations)"


def _strata(df: pd.DataFrame, exact, source: str) -> tuple[np.ndarray | None, list | None]:
    if exact is None:
        return None, None
    cols = [exact] if isinstance(exact, str) else list(exact)
    bad = [c for c in cols if c not in df.columns]
    if bad:
        raise InputError(Problem(f"exact-matching column not found (columns are "
                                 f"{list(df.columns)})", ", ".join(bad), source=source))
    codes = df.groupby(cols, sort=True, dropna=False).ngroup().to_numpy()
    return codes.astype(np.int64), cols


def match(df: pd.DataFrame, treatment: str = "arm", covariates: list[str] | None = None, *,
          formula: str | None = None, ratio: int = 1, caliper: float | None = 0.2,
          std_caliper: bool = True, replace: bool = False, order: str = "largest",
          exact: str | list[str] | None = None, estimand: str = "ATT",
          id: str | None = None, distance=None, treated=None, seed: int | None = None,
          missing: str = "error") -> Matched:
    """Nearest-neighbour propensity-score matching, as MatchIt's ``method = "nearest"``.

    Parameters
    ----------
    df : one row per patient.
    treatment : the arm column; the treated arm is the last sorted label unless
        ``treated`` names it.
    covariates, formula : the propensity model (logistic regression; see
        :func:`propensity`), whose linear predictor (the logit of the score) is the
        distance: MatchIt's ``distance = "glm", link = "linear.logit"``.
    ratio : controls per treated unit (1:k).
    caliper : largest allowed distance between matched units, in SDs of the logit over
        all rows when ``std_caliper`` (default 0.2 SD, Austin 2011), else in logit
        units; None for none. A treated unit without a control inside it is unmatched.
    replace : let a control serve several treated units.
    order : the order treated units choose their controls in (without replacement):
        ``"largest"`` distance first (MatchIt's default for the ATT), ``"smallest"``,
        ``"data"`` (row order) or ``"random"`` (a permutation drawn with ``seed`` by
        numpy; R's ``sample()`` draws a different one, so random orders do not match R
        pair for pair).
    exact : column(s) whose values matched units must share.
    estimand : ``"ATT"`` (treated units choose controls) or ``"ATC"`` (control units
        choose treated ones; MatchIt's default order there is ``"smallest"``).
    id : column of the ids in ``pairs`` and ``unmatched`` (default the index).
    distance : a column name or array of given distances instead of the propensity
        model (e.g. a distance computed elsewhere); ``caliper`` applies to it.
    missing : ``"error"`` (default) or ``"complete_case"`` (see :func:`propensity`).

    Returns
    -------
    Matched
        ``.data`` (matched rows + ``subclass`` + ``match_weight``), ``.pairs``,
        ``.counts``, ``.unmatched``, ``.balance()``, ``.plot()`` (love plot).

    Notes
    -----
    Ties are broken as MatchIt breaks them (module :mod:`._match_kernel`): units are
    ranked by distance in data order; two controls exactly as far from a treated unit
    on either side go to the one fewer ranks away, the lower-ranked (left) one when
    equally many. The propensity model replays R's ``glm`` iterations (same coefficients
    and distances as MatchIt to the last bit in our references), so MatchIt's ties stay
    ties here. Matching without replacement is greedy and sequential: one Python loop
    over the treated units, amortised near O(1) per search (about 2 s for 10^5 treated
    among 10^6 patients).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mace_outcomes.weighting.match import match   # mo.match
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"age": rng.normal(65, 10, 200)})
    >>> df["arm"] = (rng.random(200) < 1 / (1 + np.exp(-(df.age - 70) / 10))).astype(int)
    >>> m = match(df, "arm", ["age"])
    >>> int(m.counts.loc[m.counts.group == 1, "matched"].iloc[0]) == len(m.pairs)
    True
    """
    if is_imputations(df):
        raise InputError(Problem(
            "match() takes one data frame; for an Imputations match within each completed "
            "data set (imp.datasets) or use compare_arms(imp, adjustment=['match'], ...), "
            "which pools the matched analyses by Rubin's rules"))
    source = "data"
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}"))
    estimand = str(estimand).upper()
    problems = []
    if estimand not in ("ATT", "ATC"):
        problems.append(Problem(f"estimand must be 'ATT' or 'ATC' for matching, got "
                                f"{estimand!r}"))
    if order not in ORDERS:
        problems.append(Problem(f"order must be one of {ORDERS}, got {order!r}"))
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        problems.append(Problem(f"ratio must be a whole number >= 1, got {ratio!r}"))
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        problems.append(Problem(f"caliper must be a positive number or None, got {caliper!r}"))
    if distance is None and covariates is None and formula is None:
        problems.append(Problem("give covariates=[...] or formula='~ ...' (or distance=)"))
    taken = [c for c in ("subclass", "match_weight") if c in df.columns]
    if taken:
        problems.append(Problem("the matched rows get these columns: the input's own would "
                                "be overwritten", ", ".join(taken), source=source,
                                fix="rename them before matching"))
    if problems:
        raise InputError(problems)
    model = (model_variables(covariates, formula)
             if covariates is not None or formula is not None else [])
    used = [treatment, *model, *([exact] if isinstance(exact, str) else list(exact or [])),
            id, distance if isinstance(distance, str) else None]
    if id is not None and id not in df.columns:
        raise InputError(Problem("id column not found", id, source=source))
    ids = df.index.to_series() if id is None else df[id]
    if ids.isna().any() or ids.duplicated().any():
        bad = (ids.isna() | ids.duplicated(keep=False)).to_numpy()
        raise InputError(Problem("ids must be unique and present", id or "index",
                                 row_ids(df, bad), source,
                                 "give id= a column with one value per row"))
    # messages name rows by the ids the user gave
    cc = complete_cases(df.set_axis(pd.Index(ids.to_numpy())), used, missing, source)
    df = df.loc[ids.isin(cc.frame.index).to_numpy()]
    ids = ids.loc[df.index]
    z, t_label, c_label = treatment_indicator(df, treatment, treated, source)
    notes = list(cc.notes)
    if covariates is not None or formula is not None:
        X = design_matrix(df, covariates, formula, source)
    else:
        X = pd.DataFrame(index=df.index)
    if distance is None:
        coef, d, sep, method = _propensity_logit(X, z)
        if sep is not None:
            msg = _separation_message(X, z, *sep, (c_label, t_label), False, df, source)
            if isinstance(msg, InputError):
                raise msg
            notes.append(msg)
            warnings.warn(msg, SeparationWarning, stacklevel=2)
        notes.append(f"distance: linear logit of the propensity score ({method})")
    else:
        d = (df[distance] if isinstance(distance, str) else pd.Series(
            np.asarray(distance, float), index=df.index)).to_numpy(float)
        if len(d) != len(df) or not np.isfinite(d).all():
            raise InputError(Problem("distance must be finite, one value per row",
                                     distance if isinstance(distance, str) else "distance"))
        coef = pd.DataFrame(columns=["coef", "se", "z", "p"])
        notes.append("distance: given")
    strata, exact_cols = _strata(df, exact, source)
    cal = None
    if caliper is not None:
        cal = float(caliper) * (r_sd(d) if std_caliper else 1.0)
    focal = z == 1 if estimand == "ATT" else z == 0
    focal_rows = np.flatnonzero(focal)
    if replace:
        mm = nearest_with_replacement(d, focal, int(ratio), cal, strata)
    else:
        ordr = matching_order(d[focal], order, seed)
        mm = nearest_without_replacement(d, focal, ordr, int(ratio), cal, strata)
    if not (mm >= 0).any():
        raise InputError(Problem("no unit found a match: widen the caliper or check the "
                                 "exact-matching columns", treatment, source=source))
    w, sub = matching_weights(mm, focal_rows, len(df), replace)
    return _result(df, ids, id, z, t_label, c_label, d, X, coef, mm, focal_rows, w, sub,
                   treatment=treatment, estimand=estimand, ratio=int(ratio), caliper=caliper,
                   cal=cal, std_caliper=std_caliper, replace=replace, order=order,
                   exact_cols=exact_cols, seed=seed, notes=notes)


def _result(df, ids, id, z, t_label, c_label, d, X, coef, mm, focal_rows, w, sub, *,
            treatment, estimand, ratio, caliper, cal, std_caliper, replace, order,
            exact_cols, seed, notes) -> Matched:
    keep = w > 0
    subclass = pd.Series(pd.array(np.where(sub > 0, sub, 0), dtype="Int64"), index=df.index,
                         name="subclass")
    if replace:
        subclass[:] = pd.NA
    else:
        subclass[sub == 0] = pd.NA
    data = df.loc[keep].assign(subclass=subclass[keep], match_weight=w[keep])
    idv = ids.to_numpy()
    roles = ("treated", "control") if estimand == "ATT" else ("control", "treated")
    rows = mm[:, 0] >= 0
    pairs = pd.DataFrame({"subclass": pd.array(np.arange(1, rows.sum() + 1), dtype="Int64")
                          if not replace else pd.array([pd.NA] * int(rows.sum()),
                                                       dtype="Int64"),
                          roles[0]: idv[focal_rows[rows]]})
    integer_ids = np.issubdtype(idv.dtype, np.integer)
    for j in range(mm.shape[1]):
        col = mm[rows, j]
        got = idv[np.maximum(col, 0)]
        if integer_ids:  # nullable integers: a missing control is <NA>
            pairs[f"{roles[1]}_{j + 1}"] = pd.array(got, dtype="Int64")
            pairs.loc[col < 0, f"{roles[1]}_{j + 1}"] = pd.NA
        else:
            pairs[f"{roles[1]}_{j + 1}"] = pd.Series(np.where(col >= 0, got, None),
                                                     dtype=object)
    pairs["n_matches"] = (mm[rows] >= 0).sum(1)
    counts = []
    for label, arm in ((t_label, z == 1), (c_label, z == 0)):
        counts.append({"group": label, "all": int(arm.sum()),
                       "matched": int((arm & keep).sum()),
                       "unmatched": int((arm & ~keep).sum()),
                       "ess": kish_ess(w[arm & keep])})
    counts = pd.DataFrame(counts)
    unmatched = pd.Series(idv[~keep], index=df.index[~keep], name=id or "id")
    if replace:
        notes.append("with replacement a control can serve several treated units: no "
                     "subclass; analyse the matched rows with match_weight and robust SEs")
    return Matched(
        data=data, pairs=pairs, counts=counts, unmatched=unmatched,
        distance=pd.Series(d, index=df.index, name="distance"),
        weights=pd.Series(w, index=df.index, name="match_weight"), subclass=subclass,
        treatment=treatment, treated=t_label, control=c_label, estimand=estimand,
        ratio=ratio, caliper=caliper, caliper_logit=cal, std_caliper=std_caliper,
        replace=replace, order=order, exact=exact_cols, coef=coef, design=X,
        z=pd.Series(z, index=df.index, name="treated"), seed=seed, notes=notes)
