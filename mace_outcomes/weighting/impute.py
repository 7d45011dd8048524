"""Multiple imputation of missing covariates by chained equations: ``mo.impute``.

Proper multiple imputation as R's mice does it (van Buuren & Groothuis-Oudshoorn 2011):
each of ``m`` chains starts from random draws of the observed values, then for
``iterations`` rounds visits every incomplete variable in turn, fits its conditional
model on the currently completed other variables, draws the model's parameters from
their approximate posterior and imputes from the drawn model (:mod:`._chained`):
predictive mean matching (or ``norm``) for continuous columns, logistic draws for binary
and multinomial-logit draws for categorical ones. Observed values are never changed.
The event indicator and the Nelson-Aalen cumulative hazard at each patient's time join
every model (White & Royston 2009), and so does ``treatment``.

Why not statsmodels' ``MICE`` or scikit-learn's ``IterativeImputer``: statsmodels'
``MICEData`` imputes every variable by predictive mean matching on a linear model, with
no logistic or multinomial models for binary or categorical columns (a categorical
column cannot be imputed as such); ``IterativeImputer`` with ``sample_posterior=True``
draws only from a Gaussian predictive distribution of a regressor with ``return_std``
(no posterior draws of a classifier's parameters, so no proper imputation of categories)
and leaves pooling to the user. Both are general-purpose; here statsmodels serves where
it is right, for each conditional model (OLS, ``GLM(Binomial)``, ``MNLogit``).

References
----------
van Buuren S, Groothuis-Oudshoorn K. mice: multivariate imputation by chained equations
in R. J Stat Softw 2011;45(3).
White IR, Royston P. Imputing missing covariate values for the Cox model. Stat Med
2009;28:1982-98.
"""

from __future__ import annotations

import inspect
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .._display import ResultMixin, frame_html, frame_text
from .._frames import row_ids, survival_arrays
from ..errors import InputError, Problem, StatisticalWarning
from ._chained import independent_columns, logistic_draw, multinomial_draw, norm_draw, pmm_match

METHODS = ("pmm", "norm")
MODELS = {"pmm": "linear (OLS), predictive mean matching", "norm": "linear (OLS), normal draws",
          "logreg": "logistic GLM", "polyreg": "multinomial logit", "": "none (complete)"}


@dataclass(frozen=True, eq=False)
class Imputations(ResultMixin):
    """``m`` completed copies of a frame, from chained equations (``mo.impute``)."""

    datasets: list[pd.DataFrame]
    m: int
    seed: int
    iterations: int
    method: str
    summary: pd.DataFrame  # variable, kind, n_missing, pct_missing, method, model
    chain_mean: pd.DataFrame  # imputation, iteration, variable, mean of the imputed values
    time: str | None = None
    event: str | None = None
    treatment: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """Per variable: kind, n_missing, pct_missing, method and model used."""
        return self.summary

    @property
    def variables(self) -> list[str]:
        return self.summary["variable"].tolist()

    def complete(self, i: int) -> pd.DataFrame:
        """The ``i``-th completed data set (1-based, as ``mice::complete``)."""
        return self.datasets[i - 1]

    def _title(self) -> str:
        return (f"Multiple imputation by chained equations: m = {self.m}, "
                f"{self.iterations} iterations, seed {self.seed}")

    def __repr__(self) -> str:
        return frame_text(self._title(), self.summary, "\n".join(self.notes))

    def _repr_html_(self) -> str:
        return frame_html(self._title(), self.summary, self.notes)


@dataclass
class _Var:
    """One incomplete or complete variable of the imputation models."""

    name: str
    kind: str  # "continuous", "binary" or "categorical"
    levels: list | None  # observed levels (binary, categorical), in order
    values: np.ndarray  # float values (continuous) or level codes, -1 / nan where missing
    missing: np.ndarray  # bool
    method: str = ""
    cols: slice | None = None  # its columns in the design matrix


def _classify(df: pd.DataFrame, name: str, method: str, problems: list) -> _Var | None:
    s = df[name]
    miss = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        problems.append(Problem("dates cannot be imputed; convert to a number (days)", name,
                                source="df"))
        return None
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    observed = s[~miss]
    if numeric:
        x = s.to_numpy(dtype=float, na_value=np.nan)
        distinct = np.unique(x[~miss])
        if distinct.size > 2:
            return _Var(name, "continuous", None, x, miss, method if miss.any() else "")
        levels = distinct.tolist()
    elif isinstance(s.dtype, pd.CategoricalDtype):
        levels = [c for c in s.cat.categories if (observed == c).any()]
    else:
        levels = sorted(pd.unique(observed).tolist(), key=str)
    if len(levels) < 2:
        problems.append(Problem(f"needs at least 2 distinct observed values to be imputed "
                                f"or used as a predictor, found {levels}", name, source="df",
                                fix="leave the column out of variables"))
        return None
    codes = np.full(len(s), -1, dtype=np.int64)
    codes[~miss] = pd.Categorical(observed, categories=levels).codes
    kind = "binary" if len(levels) == 2 else "categorical"
    how = ("logreg" if kind == "binary" else "polyreg") if miss.any() else ""
    return _Var(name, kind, levels, codes, miss, how)


def _validate(df, variables, m, iterations, method, time, event, treatment) -> list[_Var]:
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame, got {type(df).__name__}"))
    problems: list[Problem] = []
    variables = [variables] if isinstance(variables, str) else list(variables)
    if not variables:
        problems.append(Problem("give the covariates to impute in variables=[...]"))
    special = {c for c in (time, event, treatment) if c is not None}
    wanted = variables + sorted(special)
    problems += [Problem(f"column not found (columns are {list(df.columns)})", c, source="df")
                 for c in dict.fromkeys(wanted) if c not in df.columns]
    problems += [Problem("listed twice in variables", c, source="df")
                 for c, k in Counter(variables).items() if k > 1]
    problems += [Problem("is the outcome or the treatment, which join every model already; "
                         "leave it out of variables", c, source="df")
                 for c in dict.fromkeys(variables) if c in special]
    if not (isinstance(m, int | np.integer) and m >= 1):
        problems.append(Problem(f"m must be a whole number >= 1, got {m!r}"))
    if not (isinstance(iterations, int | np.integer) and iterations >= 1):
        problems.append(Problem(f"iterations must be a whole number >= 1, got {iterations!r}"))
    if method not in METHODS:
        problems.append(Problem(f"method must be one of {METHODS}, got {method!r}"))
    if time is not None and event is None:
        problems.append(Problem("the cumulative hazard needs the event column: give event= "
                                "with time="))
    if problems:
        raise InputError(problems)
    if time is not None:
        try:
            survival_arrays(df, time=time, event=event, source="df")
        except InputError as err:
            problems += err.problems
    elif event is not None:
        e = pd.to_numeric(df[event], errors="coerce")
        bad = ~e.isin((0, 1)).to_numpy()
        if bad.any():
            problems.append(Problem("event must be 0 or 1", event, row_ids(df, bad), "df"))
    if treatment is not None and df[treatment].isna().any():
        problems.append(Problem("missing treatment", treatment,
                                row_ids(df, df[treatment].isna().to_numpy()), "df",
                                fix="impute only covariates; drop patients without an arm"))
    out = [_classify(df, v, method, problems) for v in variables]
    if problems:
        raise InputError(problems)
    return out  # type: ignore[return-value]


def nelson_aalen_at(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Each patient's Nelson-Aalen cumulative hazard at its own time, ``H(T_i)``."""
    from ..survival._kernels import risk_table

    tab = risk_table(time, event)
    return np.cumsum(tab.n_event / tab.n_risk)[tab.inverse]


def _fixed_columns(df, time, event, treatment) -> np.ndarray:
    """Columns in every model: the outcome (event, H(time)) and treatment dummies."""
    cols = []
    if event is not None:
        e = pd.to_numeric(df[event]).to_numpy(dtype=float)
        cols.append(e)
        if time is not None:
            cols.append(nelson_aalen_at(df[time].to_numpy(dtype=float), e))
    if treatment is not None:
        codes, _ = pd.factorize(df[treatment], sort=True)
        cols += [(codes == k).astype(float) for k in range(1, codes.max() + 1)]
    return np.column_stack(cols) if cols else np.zeros((len(df), 0))


def _encode(var: _Var, values: np.ndarray) -> np.ndarray:
    """Design columns of a variable: the value, a 0/1 indicator, or dummies of levels 2..K."""
    if var.kind == "continuous":
        return values[:, None]
    return (values[:, None] == np.arange(1, len(var.levels))).astype(float)


def _layout(vars_: list[_Var], n_fixed: int) -> int:
    at = 1  # column 0 is the intercept
    for v in vars_:
        width = 1 if v.kind != "categorical" else len(v.levels) - 1
        v.cols = slice(at, at + width)
        at += width
    return at + n_fixed


def _step(v: _Var, design, state, rng, starts, caught):
    """One visit of variable ``v``: fit on its observed rows, draw its missing rows."""
    others = np.ones(design.shape[1], dtype=bool)
    others[v.cols] = False
    x = design[:, others]
    obs, mis = ~v.missing, v.missing
    x_obs = x[obs]
    keep = independent_columns(x_obs)
    x_obs, x_mis = x_obs[:, keep], x[mis][:, keep]
    y = state[v.name][obs]
    if v.kind == "continuous":
        coef, beta, sigma = norm_draw(y, x_obs, rng)
        if v.method == "pmm":
            return pmm_match(x_obs @ coef, x_mis @ beta, y, rng)
        return x_mis @ beta + rng.standard_normal(x_mis.shape[0]) * sigma
    key = (v.name, keep.tobytes())
    draw = logistic_draw if v.kind == "binary" else multinomial_draw
    new, params, msgs = draw(y.astype(float) if v.kind == "binary" else y, x_obs, x_mis,
                             rng, starts.get(key))
    starts[key] = params  # the next round starts from this fit: fewer Newton steps
    caught.update((v.name, m) for m in msgs)
    return new


def _chain(vars_, fixed, iterations, rng, caught):
    """One completed data set: random start, then ``iterations`` rounds of draws."""
    state = {}
    for v in vars_:
        vals = v.values.copy()
        if v.missing.any():  # start from random draws of the observed values, as mice
            vals[v.missing] = rng.choice(vals[~v.missing], int(v.missing.sum()))
        state[v.name] = vals
    width = _layout(vars_, fixed.shape[1])
    design = np.empty((fixed.shape[0], width))
    design[:, 0] = 1.0
    design[:, width - fixed.shape[1]:] = fixed
    for v in vars_:
        design[:, v.cols] = _encode(v, state[v.name])
    incomplete = [v for v in vars_ if v.missing.any()]
    means = np.empty((iterations, len(incomplete)))
    starts: dict = {}
    for it in range(iterations):
        for j, v in enumerate(incomplete):
            new = _step(v, design, state, rng, starts, caught)
            state[v.name][v.missing] = new
            design[np.ix_(v.missing, np.arange(v.cols.start, v.cols.stop))] = _encode(v, new)
            means[it, j] = np.mean(new)
    return state, means


def _completed(df: pd.DataFrame, vars_: list[_Var], state: dict) -> pd.DataFrame:
    out = df.copy()
    for v in vars_:
        if not v.missing.any():
            continue
        vals = state[v.name]
        if v.kind != "continuous":
            vals = np.asarray(v.levels, dtype=object)[vals]
        filled = pd.Series(vals, index=df.index)
        try:
            out[v.name] = filled.astype(df[v.name].dtype)
        except (TypeError, ValueError):  # e.g. normal draws into an integer column
            out[v.name] = filled.astype(float)
    return out


def _outcome_note(time, event) -> tuple[str, bool]:
    if time is not None:
        return (f"the event indicator '{event}' and the Nelson-Aalen cumulative hazard at "
                f"'{time}' join every imputation model (White & Royston 2009)", False)
    if event is not None:
        return (f"the outcome '{event}' joins every imputation model; time=None: no "
                "cumulative hazard term, so a time-to-event outcome is only partly in the "
                "models (White & Royston 2009)", True)
    return ("the outcome is left out of the imputation models (time=None, event=None): "
            "associations of imputed covariates with the outcome are biased towards the "
            "null; give time= and event= (White & Royston 2009)", True)


def impute(df: pd.DataFrame, variables: Sequence[str], m: int = 20, seed: int | None = None,
           time: str | None = "time", event: str | None = "event", method: str = "pmm",
           iterations: int = 10, treatment: str | None = None) -> Imputations:
    """Impute missing covariates ``m`` times by chained equations.

    Parameters
    ----------
    df : frame, one row per patient; columns not in ``variables`` are carried unchanged.
    variables : the covariates of the imputation models, in visiting order; those with
        missing values are imputed, complete ones are predictors only. Numeric columns with
        more than 2 distinct values are continuous; 2 distinct values (or booleans) are
        binary; text and categorical columns with more levels are categorical (ordered
        categoricals keep their dtype and level order; they are imputed by the
        multinomial model, where mice's default would be a proportional-odds model).
    m : the number of completed data sets.
    seed : makes the ``m`` data sets reproducible (one child seed per data set); ``None``
        draws one, recorded in ``.seed``.
    time, event : the outcome, which joins every model (event and ``H(time)``); ``None``
        leaves it out, with a :class:`StatisticalWarning`.
    method : "pmm" (predictive mean matching, 5 donors) or "norm" (Bayesian linear
        regression) for continuous variables.
    iterations : rounds of the chained equations per data set.
    treatment : a column (complete) that joins every model, as dummies.

    Examples
    --------
    >>> imp = mo.impute(tte, variables=["age", "diabetes", "lvef"], m=20, seed=1,
    ...                 treatment="arm")                                   # doctest: +SKIP
    >>> imp.summary                                                       # doctest: +SKIP
    """
    vars_ = _validate(df, variables, m, iterations, method, time, event, treatment)
    note, warn = _outcome_note(time, event)
    notes = [note]
    if warn:
        warnings.warn(note, StatisticalWarning, stacklevel=2)
    if treatment is not None:
        notes.append(f"the treatment '{treatment}' joins every imputation model")
    fixed = _fixed_columns(df, time, event, treatment)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    children = np.random.SeedSequence(seed).spawn(int(m))
    caught: Counter = Counter()
    datasets, means = [], []
    for child in children:
        state, mean = _chain(vars_, fixed, int(iterations), np.random.default_rng(child),
                             caught)
        datasets.append(_completed(df, vars_, state))
        means.append(mean)
    incomplete = [v.name for v in vars_ if v.missing.any()]
    for (name, msg), k in sorted(caught.items()):
        text = f"imputation model of '{name}': {msg} ({k} of {m * iterations} fits)"
        notes.append(text)
        warnings.warn(text, StatisticalWarning, stacklevel=2)
    chain = pd.DataFrame({
        "imputation": np.repeat(np.arange(1, m + 1), iterations * len(incomplete)),
        "iteration": np.tile(np.repeat(np.arange(1, iterations + 1), len(incomplete)), m),
        "variable": np.tile(incomplete, m * iterations),
        "mean": np.concatenate([x.ravel() for x in means]) if incomplete else [],
    })
    summary = pd.DataFrame({
        "variable": [v.name for v in vars_],
        "kind": [v.kind for v in vars_],
        "n_missing": [int(v.missing.sum()) for v in vars_],
        "pct_missing": [100.0 * v.missing.mean() for v in vars_],
        "method": [v.method for v in vars_],
        "model": [MODELS[v.method] for v in vars_],
    })
    return Imputations(datasets, int(m), int(seed), int(iterations), method, summary, chain,
                       time, event, treatment, notes)


# ------------------------------------------------- analyses of the completed data sets
def is_imputations(obj) -> bool:
    """True for an :class:`Imputations`, which analyses accept in place of a frame."""
    return isinstance(obj, Imputations)


def per_imputation(fn, imp: Imputations | Sequence[pd.DataFrame], arguments: dict) -> list:
    """``fn`` run on every completed data set of ``imp`` (or a list of them), with the
    other arguments of the call (``arguments``: the caller's ``locals()`` taken at its
    first line).

    The propensity model and every other model of ``fn`` are re-fitted within each
    imputation (the "within" approach; Leyrat et al. 2019, Stat Methods Med Res 28:3-19).
    """
    kw: dict = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is p.VAR_KEYWORD:
            kw.update(arguments[p.name])
        else:
            kw[p.name] = arguments[p.name]
    return [fn(d, **kw) for d in (imp.datasets if is_imputations(imp) else imp)]


def pooled(fn, imp: Imputations, arguments: dict):
    """:func:`per_imputation`, pooled by Rubin's rules (``mo.pool``); the pooled result's
    ``per_imputation`` keeps the m results."""
    from .pool import pool

    results = per_imputation(fn, imp, arguments)
    return replace(pool(results), per_imputation=results)
