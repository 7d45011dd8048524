"""One vocabulary (STYLE.md): one name per concept in every public function, one month
length, one p-value formatter, one parser of weights/cluster/strata, one arm order."""

import inspect
import warnings

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes import _format, _stats
from mace_outcomes._frames import arm_order, renamed
from mace_outcomes.outcomes import followup
from mace_outcomes.plots import UNITS, format_p


def test_one_month_length_everywhere():
    # 12 months is the 365-day horizon, in figures and in follow-up summaries alike
    assert 12 * UNITS["months"] == 365.0
    assert followup.DAYS_PER_MONTH == UNITS["months"] == _format.DAYS_PER_MONTH
    df = pd.DataFrame({"time": [365.0, 730.0], "event": [0, 0], "arm": ["a", "b"]})
    km = mo.kaplan_meier(df, group="arm")
    risk = mo.plot_km(km, breaks=(0, 12, 24)).risk_table
    # at 12 months (= day 365) both subjects are still followed; at 24 only one
    assert risk.groupby("time")["n_risk"].sum().tolist() == [2.0, 2.0, 1.0]


def test_one_p_value_formatter_in_tables_and_figures():
    for p in (0.0004, 0.0516, 0.995, 1.0):
        assert format_p(p) == _stats.format_p(p) == _format.format_p(p)
    assert format_p(0.995) == "0.995"          # never '>0.99' in one place, 0.995 in another
    assert format_p(0.0004) == "<0.001"
    assert _format.p_phrase(0.0004) == "p < 0.001"
    assert _format.p_phrase(0.2517) == "p = 0.252"


# ------------------------------------------------------------------ keyword names
def _public_functions():
    for name in sorted(mo._ROOMS):
        obj = getattr(mo, name)
        if inspect.isfunction(obj):
            yield name, inspect.signature(obj).parameters


# names a concept has had elsewhere, and the one name it has here
_NOT_OURS = {"tte": "df", "frame": "df", "time_units": "time_unit",
             "time_col": "time", "event_col": "event", "group_col": "group",
             "treat": "treatment", "exposure": "treatment", "arm": "treatment or group",
             "weight": "weights", "w": "weights", "clusters": "cluster", "cluster_col":
             "cluster", "stratum": "strata", "pvalue": "p", "truncation": "horizon"}


def test_public_keywords_are_drawn_from_the_vocabulary():
    wrong = []
    for name, params in _public_functions():
        names = set(params)
        wrong += [(name, k, _NOT_OURS[k]) for k in names & set(_NOT_OURS)]
        if "tau" in names and "horizon" not in names:
            wrong.append((name, "tau", "horizon (days) everywhere"))
        # the frame of subjects comes first as df (figures take a result, not the frame)
        first = next(iter(params.values()), None)
        if (first is not None and str(first.annotation).startswith("pd.DataFrame")
                and mo._ROOMS[name] != "plots" and first.name != "df"):
            wrong.append((name, first.name, "df"))
        # a causal contrast (it has an estimand) compares a treatment; curves and tables
        # describe the levels of a group
        if "estimand" in names and ("group" in names or "treatment" not in names):
            wrong.append((name, "group", "treatment"))
        # imputation models carry the treatment of the contrast they prepare; the win
        # ratio and the total-event rate ratio are treated-vs-control contrasts without an
        # estimand (API.md: win_ratio(df, treatment=...))
        if ("treatment" in names and "estimand" not in names
                and name not in ("impute", "win_ratio", "rate_ratio")):
            wrong.append((name, "treatment", "group"))
    assert wrong == []
    # the rule has something to hold: both kinds are present
    kinds = {n: set(p) for n, p in _public_functions()}
    assert {"treatment", "estimand"} <= kinds["propensity"]
    assert "group" in kinds["kaplan_meier"] and "horizon" in kinds["rmst"]


# ------------------------------------------------------------------- deprecated names
@pytest.fixture(scope="module")
def tte():
    rng = np.random.default_rng(11)
    n = 240
    arm = rng.choice(["OCT", "IVUS"], n)
    age = rng.normal(65, 9, n).round()
    rate = np.where(arm == "OCT", 0.0012, 0.002) * np.exp(0.02 * (age - 65))
    t = rng.exponential(1 / rate)
    c = rng.uniform(200, 900, n)
    df = pd.DataFrame({"time": np.minimum(t, c).round() + 1, "event": (t <= c).astype(int),
                       "arm": arm, "age": age, "w": rng.uniform(0.5, 2.0, n),
                       "pid": rng.integers(0, 90, n), "site": rng.choice(["a", "b", "c"], n)})
    df.index = 5000 - np.arange(n)  # labels that are not positions
    return df


def test_rmst_horizon_is_tau_by_hand():
    # areas under the step curves to day 8, by hand: arm 0 S = 1, 3/4 (t=2), 1/2 (t=4);
    # 2*1 + 2*0.75 + 4*0.5 = 5.5; arm 1 S = 1, 3/4 (t=3): 3 + 5*0.75 = 6.75
    df = pd.DataFrame({"time": [2, 4, 6, 8, 3, 5, 9, 10], "event": [1, 1, 0, 1, 1, 0, 1, 0],
                       "arm": [0, 0, 0, 0, 1, 1, 1, 1]})
    new = mo.rmst(df, group="arm", horizon=8)
    assert new.table["rmst"].tolist() == pytest.approx([5.5, 6.75], abs=1e-12)
    with pytest.warns(FutureWarning, match="horizon"):
        old = mo.rmst(df, group="arm", tau=8)
    pd.testing.assert_frame_equal(old.table, new.table)
    pd.testing.assert_frame_equal(old.contrast, new.contrast)
    with pytest.raises(TypeError, match="horizon"):
        mo.rmst(df, group="arm", horizon=8, tau=8)
    with pytest.raises(TypeError, match="hoirzon"):
        mo.rmst(df, group="arm", hoirzon=8)


def test_compare_arms_takes_the_frame_as_df(tte):
    new = mo.compare_arms(df=tte, treatment="arm")
    with pytest.warns(FutureWarning, match="df="):
        old = mo.compare_arms(tte=tte, treatment="arm")
    pd.testing.assert_frame_equal(old.table, new.table)
    # crude HR of the frame: the Cox model of the arm, treated (OCT) vs reference
    hr = mo.cox(tte, covariates=["arm"]).summary.loc["armOCT", "hr"]
    assert new.table.iloc[0]["hr"] == pytest.approx(hr, rel=1e-9)


def test_renamed_warns_once_and_names_the_new_keyword():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kwargs = {"tau": 30}
        assert renamed(kwargs, "tau", "horizon", "f") == 30 and kwargs == {}
        assert renamed({}, "tau", "horizon", "f", 12) == 12
    assert [type(w.message) for w in caught] == [FutureWarning]
    assert "horizon=" in str(caught[0].message) and "tau=" in str(caught[0].message)


# --------------------------------------------- weights, cluster, strata: one parser
def _numbers(result) -> np.ndarray:
    for attr in ("summary", "contrast", "table"):
        frame = getattr(result, attr, None)
        if isinstance(frame, pd.DataFrame):
            return frame.select_dtypes("number").to_numpy(dtype=float)
    return np.array([result.statistic, result.p_value], dtype=float)


_CALLS = [
    ("kaplan_meier", dict(group="arm"), ("weights", "cluster")),
    ("logrank", dict(group="arm"), ("weights", "cluster", "strata")),
    ("rmst", dict(group="arm", horizon=300), ("weights", "cluster")),
    ("cox", dict(covariates=["arm", "age"]), ("weights", "cluster", "strata")),
    ("cumulative_incidence", dict(group="arm", status="event"), ("weights",)),
    ("gray_test", dict(group="arm", status="event"), ("strata",)),
]
_COLUMN = {"weights": "w", "cluster": "pid", "strata": "site"}


@pytest.mark.parametrize(("func", "kw", "roles"), _CALLS, ids=[c[0] for c in _CALLS])
def test_a_column_name_a_series_and_an_array_are_one_input(tte, func, kw, roles):
    f = getattr(mo, func)
    shuffled = tte.sample(frac=1.0, random_state=3)
    for role in roles:
        col = _COLUMN[role]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mo.StatisticalWarning)
            by_name = _numbers(f(tte, **kw, **{role: col}))
            # a Series is aligned by index labels, not by position
            by_series = _numbers(f(tte, **kw, **{role: shuffled[col]}))
            by_array = _numbers(f(tte, **kw, **{role: tte[col].to_numpy()}))
        np.testing.assert_array_equal(by_series, by_name)
        np.testing.assert_array_equal(by_array, by_name)


def test_tables_parse_weights_with_the_same_helper(tte):
    shuffled = tte.sample(frac=1.0, random_state=5)
    a = mo.table_one(tte, group="arm", variables=["age"], weights="w")
    b = mo.table_one(tte, group="arm", variables=["age"], weights=shuffled["w"])
    pd.testing.assert_frame_equal(a.table, b.table)
    # the weighted mean by hand
    oct_ = tte[tte.arm == "OCT"]
    mean = float(np.average(oct_.age, weights=oct_.w))
    assert a.numbers.set_index("group").loc["OCT", "mean"] == pytest.approx(mean, rel=1e-12)
    short = pd.Series(tte["w"].to_numpy()[:-1], index=tte.index[:-1])
    for call in (lambda: mo.table_one(tte, group="arm", variables=["age"], weights=short),
                 lambda: mo.outcome_table({"mace": tte}, group="arm", weights=short),
                 lambda: mo.kaplan_meier(tte, group="arm", cluster=short)):
        with pytest.raises(mo.InputError, match="does not cover every row"):
            call()


# ------------------------------------------------------------------ one arm order
def test_table_one_puts_the_treated_arm_first(tte):
    t1 = mo.table_one(tte, group="arm", variables=["age"])
    assert t1.arms == arm_order(tte["arm"]) == ["OCT", "IVUS"]
    assert list(t1.table.columns[3:5]) == ["OCT", "IVUS"]
    binary = tte.assign(arm=(tte.arm == "OCT").astype(int))
    assert mo.table_one(binary, group="arm", variables=["age"]).arms == [1, 0]
    assert mo.table_one(tte, group="arm", variables=["age"], treated="IVUS").arms == \
        ["IVUS", "OCT"]
    # the same direction as the hazard ratio R reports (armOCT: OCT vs IVUS)
    assert "armOCT" in mo.cox(tte, covariates=["arm"]).summary.index


def _legend(fig):
    leg = fig.axes[0].get_legend()
    return {t.get_text(): matplotlib.colors.to_hex(h.get_color())
            for t, h in zip(leg.get_texts(), leg.legend_handles, strict=True)}


def test_figures_put_the_treated_arm_first_and_colours_follow_the_label(tte):
    km = mo.kaplan_meier(tte, group="arm")
    default = mo.plot_km(km)
    assert list(_legend(default)) == ["OCT", "IVUS"]
    assert list(pd.unique(default.risk_table["group"])) == ["OCT", "IVUS"]
    swapped = mo.plot_km(km, order=["IVUS", "OCT"])
    assert list(_legend(swapped)) == ["IVUS", "OCT"]
    assert _legend(swapped) == _legend(default)  # each arm keeps its colour
    ci = mo.cumulative_incidence(tte.rename(columns={"event": "status"}), group="arm")
    assert list(_legend(mo.plot_cif(ci))) == ["OCT", "IVUS"]
