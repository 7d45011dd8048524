"""Pocock's unmatched win ratio: counts against a brute force over pairs, the U-statistic
variance and the Finkelstein-Schoenfeld test against plain R (tests/reference/win_ratio.R),
a hand-worked example, weights and strata, a registry cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.errors import InputError
from mace_outcomes.survival.win_ratio import pair_counts, profiles

LEVELS = [("time_death", "death"), ("time_mi", "mi"), ("time_hosp", "hosp")]


def r_data() -> pd.DataFrame:
    return pd.DataFrame(reference("win_ratio")["data"])


def brute_force(df: pd.DataFrame, levels, treated, horizon=np.inf, follow_up=None):
    """Pair by pair, Pocock's rule as written: wins and losses of the treated per level."""
    t_idx = np.flatnonzero(df["arm"].to_numpy() == treated)
    c_idx = np.flatnonzero(df["arm"].to_numpy() != treated)
    times = df[[t for t, _ in levels]].to_numpy(float)
    events = df[[e for _, e in levels]].to_numpy(int)
    fu = times.max(axis=1) if follow_up is None else df[follow_up].to_numpy(float)
    wins, losses = np.zeros(len(levels), int), np.zeros(len(levels), int)
    for i in t_idx:
        for j in c_idx:
            shared = min(fu[i], fu[j], horizon)
            for k in range(len(levels)):
                ei = events[i, k] == 1 and times[i, k] <= shared
                ej = events[j, k] == 1 and times[j, k] <= shared
                if ei and ej and times[i, k] == times[j, k]:
                    continue
                if ei and (not ej or times[i, k] < times[j, k]):
                    losses[k] += 1
                    break
                if ej:
                    wins[k] += 1
                    break
    return wins, losses


@pytest.mark.parametrize("case,kwargs", [
    ("plain", {}),
    ("plain", {"follow_up": "follow_up"}),
    ("horizon_200", {"horizon": 200}),
    ("stratified", {"strata": "stratum"}),
    ("weighted", {"weights": "w"}),
])
def test_against_plain_r(case, kwargs):
    ref = reference("win_ratio")[case]
    fit = mo.win_ratio(r_data(), levels=LEVELS, **kwargs)
    assert (fit.treated, fit.reference) == (1, 0)
    np.testing.assert_allclose(fit.table["wins"], ref["wins"], rtol=1e-9)
    np.testing.assert_allclose(fit.table["losses"], ref["losses"], rtol=1e-9)
    s = fit.summary.iloc[0]
    for key in ("win_ratio", "se_log_wr", "p", "win_odds", "net_benefit"):
        assert s[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-12), key
    if "fs_statistic" in ref:
        assert s["fs_statistic"] == pytest.approx(ref["fs_statistic"], rel=1e-6)
    else:
        assert np.isnan(s["fs_statistic"]) and fit.weighted


def test_r_counts_agree_with_the_python_brute_force():
    # the two brute forces (R and Python) are written independently of the package
    d = r_data()
    wins, losses = brute_force(d, LEVELS, 1, horizon=200, follow_up="follow_up")
    ref = reference("win_ratio")["horizon_200"]
    assert wins.tolist() == ref["wins"] and losses.tolist() == ref["losses"]


def test_hand_worked_example():
    # new: P1 event-free to 365; P2 MI day 50, died day 200.
    # old: C1 died day 100; C2 MI day 30, alive to 365.
    # P1-C1 (shared 100): C1 dies -> win at death.  P1-C2 (365): no death; C2's MI -> win
    # at MI.  P2-C1 (100): P2's death (200) is beyond 100, C1's is not -> win at death.
    # P2-C2 (200): P2 dies at 200 -> loss at death.  W = 3, L = 1, WR = 3, net benefit
    # (3 - 1) / 4 = 0.5; win odds (3 + 0) / (1 + 0) = 3.
    df = pd.DataFrame({"arm": ["new", "new", "old", "old"],
                       "time_death": [365, 200, 100, 365], "death": [0, 1, 1, 0],
                       "time_mi": [365, 50, 100, 30], "mi": [0, 1, 0, 1]})
    fit = mo.win_ratio(df, levels=[("time_death", "death"), ("time_mi", "mi")],
                       control="old")
    assert fit.table[["wins", "losses", "ties"]].values.tolist() == [[2, 1, 1], [1, 0, 0]]
    s = fit.summary.iloc[0]
    assert (s["win_ratio"], s["net_benefit"], s["win_odds"]) == (3.0, 0.5, 3.0)
    # the other arm as treated: wins and losses swap, the win ratio inverts
    back = mo.win_ratio(df, levels=[("time_death", "death"), ("time_mi", "mi")],
                        control="new")
    assert back.summary["win_ratio"].iloc[0] == pytest.approx(1 / 3)
    # two patients per arm: the unbiased U-statistic variance estimate is negative here
    assert np.isnan(s["se_log_wr"]) and any("variance" in n for n in fit.notes)


def test_swapping_the_arms_inverts_the_win_ratio():
    d = r_data()
    fit = mo.win_ratio(d, levels=LEVELS).summary.iloc[0]
    back = mo.win_ratio(d, levels=LEVELS, control=1).summary.iloc[0]
    assert back["win_ratio"] == pytest.approx(1 / fit["win_ratio"], rel=1e-12)
    assert back["se_log_wr"] == pytest.approx(fit["se_log_wr"], rel=1e-12)
    assert back["fs_statistic"] == pytest.approx(-fit["fs_statistic"], rel=1e-12)
    assert back["net_benefit"] == pytest.approx(-fit["net_benefit"], rel=1e-12)


@st.composite
def trials(draw):
    n = draw(st.integers(2, 14))
    k = draw(st.integers(1, 3))
    days = st.integers(0, 12)  # few distinct days: many equal times
    fu = np.array(draw(st.lists(days, min_size=n, max_size=n)), float)
    arm = draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    if len(set(arm)) < 2:
        arm[0], arm[-1] = "a", "b"
    cols = {"arm": arm}
    for lev in range(k):
        t = np.array(draw(st.lists(days, min_size=n, max_size=n)), float)
        ev = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        cols[f"t{lev}"] = np.minimum(t, fu)
        cols[f"e{lev}"] = (ev & (t <= fu)).astype(int)
        cols[f"t{lev}"] = np.where(cols[f"e{lev}"] == 1, cols[f"t{lev}"], fu)
    df = pd.DataFrame(cols).assign(fu=fu)
    horizon = draw(st.sampled_from([np.inf, 3.0, 7.5]))
    return df, [(f"t{lev}", f"e{lev}") for lev in range(k)], horizon


@settings(max_examples=150, deadline=None)
@given(trials())
def test_counts_equal_brute_force_over_pairs(case):
    df, levels, horizon = case
    fit = mo.win_ratio(df, levels=levels, horizon=None if np.isinf(horizon) else horizon,
                       follow_up="fu")
    wins, losses = brute_force(df, levels, fit.treated, horizon, follow_up="fu")
    assert fit.table["wins"].tolist() == wins.tolist()
    assert fit.table["losses"].tolist() == losses.tolist()
    n1, n0 = (df["arm"] == fit.treated).sum(), (df["arm"] != fit.treated).sum()
    assert fit.table["pairs"].iloc[0] == n1 * n0
    assert fit.table["ties"].iloc[-1] == n1 * n0 - wins.sum() - losses.sum()


@settings(max_examples=40, deadline=None)
@given(trials(), st.integers(1, 40))
def test_counts_do_not_depend_on_the_block_size(case, cells):
    df, levels, _ = case
    t = df[[c for c, _ in levels]].to_numpy(float).T
    e = df[[c for _, c in levels]].to_numpy(int).T
    a, u = profiles(t, e, df["fu"].to_numpy(float))
    r = (df["arm"] == "a").to_numpy()
    whole = pair_counts(a[:, r], u[:, r], a[:, ~r], u[:, ~r])
    blocks = pair_counts(a[:, r], u[:, r], a[:, ~r], u[:, ~r], block_cells=cells)
    for name in ("level_wins", "level_losses", "row_win", "col_loss"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(blocks, name))


def test_integer_weights_equal_repeated_rows():
    d = r_data()
    k = np.arange(len(d)) % 3 + 1  # weights 1, 2, 3
    weighted = mo.win_ratio(d, levels=LEVELS, weights=k.astype(float))
    repeated = mo.win_ratio(d.loc[d.index.repeat(k)].reset_index(drop=True), levels=LEVELS)
    np.testing.assert_allclose(weighted.table[["wins", "losses", "ties"]],
                               repeated.table[["wins", "losses", "ties"]], rtol=1e-12)
    for key in ("win_ratio", "win_odds", "net_benefit"):
        assert weighted.summary[key].iloc[0] == pytest.approx(repeated.summary[key].iloc[0])


def test_unit_weights_give_the_unweighted_variance():
    d = r_data()
    plain = mo.win_ratio(d, levels=LEVELS).summary.iloc[0]
    unit = mo.win_ratio(d, levels=LEVELS, weights=np.full(len(d), 2.5)).summary.iloc[0]
    for key in ("win_ratio", "se_log_wr", "lower", "upper", "p"):
        assert unit[key] == pytest.approx(plain[key], rel=1e-12)


def test_from_the_bundled_cohort():
    cohort = mo.load_example()
    hierarchy = ["cardiac_death", "stroke", "mi", "tvr"]
    fit = mo.win_ratio(cohort, hierarchy=hierarchy, horizon=365)
    assert (fit.treated, fit.reference) == ("OCT", "IVUS")  # the package's arm rule
    # the same pairs by brute force from the time-to-event tables of each event type
    base = mo.time_to_event(cohort, "all_cause_death", horizon=365)
    frame = base[["patient_id", "arm"]].assign(fu=base["time"])
    levels = []
    for name in hierarchy:
        t = mo.time_to_event(cohort, name, horizon=365).set_index("patient_id")
        frame[f"t_{name}"] = t.loc[frame["patient_id"], "time"].to_numpy()
        frame[name] = t.loc[frame["patient_id"], "event"].to_numpy()
        levels.append((f"t_{name}", name))
    wins, losses = brute_force(frame, levels, "OCT", 365, follow_up="fu")
    assert fit.table["wins"].tolist() == wins.tolist()
    assert fit.table["losses"].tolist() == losses.tolist()
    assert fit.table["level"].tolist() == hierarchy
    s = fit.summary.iloc[0]
    assert s["pairs"] == 32 * 47 and s["win_ratio"] == pytest.approx(wins.sum() / losses.sum())


def test_errors_list_every_problem():
    d = r_data()
    d.loc[3, "time_mi"] = np.nan
    d.loc[5, "mi"] = 2
    with pytest.raises(InputError) as err:
        mo.win_ratio(d, levels=LEVELS + [("nope", "hosp")])
    text = str(err.value)
    assert "time_mi" in text and "mi" in text and "nope" in text
    late = r_data()
    late.loc[0, "follow_up"] = 1.0  # before the patient's events
    with pytest.raises(InputError, match="after the end of follow-up"):
        mo.win_ratio(late, levels=LEVELS, follow_up="follow_up")
    three = r_data().assign(arm=np.arange(75) % 3)
    with pytest.raises(InputError, match="two arms"):
        mo.win_ratio(three, levels=LEVELS)
    with pytest.raises(InputError, match="hierarchy"):
        mo.win_ratio(r_data(), hierarchy=["mi"])


def test_within_arm_scores_over_several_blocks():
    # the Finkelstein-Schoenfeld scores use half the within-arm pairs (antisymmetry) in
    # blocks of 128 rows; the full square of pairs (checked above by brute force) agrees
    from mace_outcomes.survival.win_ratio import _within_scores

    rng = np.random.default_rng(3)
    n = 300
    fu = rng.integers(1, 40, n).astype(float)
    t = np.minimum(rng.integers(0, 40, (2, n)), fu).astype(float)
    e = (rng.random((2, n)) < 0.4) & (t < fu)
    t = np.where(e, t, fu)
    a, u = profiles(t, e.astype(int), fu)
    full = pair_counts(a, u, a, u)
    np.testing.assert_array_equal(_within_scores(a, u), full.row_win - full.row_loss)


def test_stratum_with_one_arm_is_left_out_and_said():
    d = r_data()
    d["stratum"] = np.where(d.index < 5, "solo", d["stratum"])  # rows 0-4 are all treated
    assert (d.loc[d["stratum"] == "solo", "arm"] == 1).all()
    fit = mo.win_ratio(d, levels=LEVELS, strata="stratum")
    rest = mo.win_ratio(d[d["stratum"] != "solo"], levels=LEVELS, strata="stratum")
    assert fit.summary["win_ratio"].iloc[0] == rest.summary["win_ratio"].iloc[0]
    assert any("one arm" in n for n in fit.notes) and not rest.notes
