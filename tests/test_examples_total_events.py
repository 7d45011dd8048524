"""examples/total_events_and_win_ratio.py: landmark, total events, time-varying, win ratio.

Each printed estimate is checked against a computation written out here from the rows
the example analysed: window counts of the landmark analysis, the Nelson-Aalen and
Ghosh-Lin sums of the mean cumulative count, the Efron score equation and information of
the Andersen-Gill model, the score equations of the negative binomial model and its crude
rates (events / person-time), the split of follow-up at the made-up exposure changes,
and the win ratio's pairs compared one by one (by broadcasting) level by level.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "total_events_and_win_ratio.py"
TABLES = {"landmark", "recurrent_rows", "recurrent_lesions", "mean_frequency",
          "cox_total_events", "rate_ratio", "dapt_changes", "cox_time_varying",
          "win_ratio", "views"}
FIGURES = ("landmark_mace", "mean_frequency_mace", "win_ratio_mace")


def _load():
    spec = importlib.util.spec_from_file_location("total_events_and_win_ratio", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    module = _load()
    out = tmp_path_factory.mktemp("out")
    return module, module.main(out, formats=())  # numbers only: no figures drawn


def test_landmark_windows_counted_by_hand(example):
    module, res = example
    tte, lm = res["tte"], res["landmark"].table
    at = module.LANDMARK
    t, e, arm = tte["time"].to_numpy(), tte["event"].to_numpy(), tte["arm"].to_numpy()
    for g in ("OCT", "IVUS"):
        early = lm[(lm["window"] == f"0 to {at}") & (lm["group"] == g)].iloc[0]
        late = lm[(lm["window"] == f"{at} to 365") & (lm["group"] == g)].iloc[0]
        assert early["n"] == (arm == g).sum()
        assert early["events"] == ((arm == g) & (e == 1) & (t <= at)).sum()
        # the late window: still event-free and followed after the landmark
        assert late["n"] == ((arm == g) & (t > at)).sum()
        assert late["events"] == ((arm == g) & (e == 1) & (t > at)).sum()
    kept = res["landmark_data"]
    assert np.allclose(kept["time"], tte.loc[tte["time"] > at, "time"] - at)


def _risk(rows: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """Rows at risk at each time of ``t``: start < t <= stop."""
    start, stop = rows["start"].to_numpy(), rows["stop"].to_numpy()
    return ((start[None, :] < t[:, None]) & (t[:, None] <= stop[None, :])).sum(axis=1)


def test_mean_frequency_is_the_nelson_aalen_and_ghosh_lin_sum(example):
    _, res = example
    rec = res["recurrent"]
    na = res["mean_frequency"].at([365]).set_index("group")["mean"]
    gl = res["mean_frequency_ghosh_lin"].at([365]).set_index("group")["mean"]
    for g in ("OCT", "IVUS"):
        rows = rec[rec["arm"] == g]
        grid = np.unique(rows["stop"])
        y = _risk(rows, grid)
        d = np.array([rows.loc[rows["stop"] == s, "event"].sum() for s in grid])
        dead = np.array([rows.loc[rows["stop"] == s, "terminal"].sum() for s in grid])
        assert na[g] == pytest.approx(np.sum(d / y), rel=1e-12)
        s_minus = np.r_[1.0, np.cumprod(1 - dead / y)[:-1]]  # KM of death just before
        assert gl[g] == pytest.approx(np.sum(s_minus * d / y), rel=1e-12)
    # OCT: a single event (day 212), so the mean is 1 / (patients followed on day 212)
    oct_rows = rec[rec["arm"] == "OCT"]
    day = oct_rows.loc[oct_rows["event"] == 1, "stop"].to_numpy()
    assert day.size == 1
    assert na["OCT"] == pytest.approx(1 / _risk(oct_rows, day)[0])


def _efron(rows: pd.DataFrame, beta: float) -> tuple[float, float]:
    """Score and information of the Efron partial likelihood of one 0/1 covariate
    (treated arm) on (start, stop] rows, written out over the distinct event times."""
    x = (rows["arm"] == "OCT").to_numpy(float)
    start, stop, ev = (rows[c].to_numpy(float) for c in ("start", "stop", "event"))
    r = np.exp(beta * x)
    score = info = 0.0
    for t in np.unique(stop[ev == 1]):
        at_risk = (start < t) & (t <= stop)
        tied = (stop == t) & (ev == 1)
        s0, s1 = np.sum(r[at_risk]), np.sum((r * x)[at_risk])  # x^2 = x
        t0, t1 = np.sum(r[tied]), np.sum((r * x)[tied])
        score += np.sum(x[tied])
        for k in range(int(tied.sum())):
            f = k / tied.sum()
            mean = (s1 - f * t1) / (s0 - f * t0)
            score -= mean
            info += mean - mean ** 2
    return score, info


@pytest.mark.parametrize("rows, fit", [("recurrent", "cox_total"),
                                       ("recurrent_lesion", "cox_total_lesion")])
def test_andersen_gill_solves_its_score_equation(example, rows, fit):
    _, res = example
    s = res[fit].summary.loc["armOCT"]
    score, info = _efron(res[rows], s["coef"])
    assert score == pytest.approx(0, abs=1e-7)
    assert s["naive_se"] == pytest.approx(1 / np.sqrt(info), rel=1e-6)
    assert s["hr"] == pytest.approx(np.exp(s["coef"]), rel=1e-12)


def test_rate_ratio_crude_rates_and_score_equations(example):
    _, res = example
    rec, rr = res["recurrent"], res["rate_ratio"]
    arms = rr.arms.set_index("arm")
    for g in ("OCT", "IVUS"):
        rows = rec[rec["arm"] == g]
        events = rows["event"].sum()
        days = (rows["stop"] - rows["start"]).sum()  # gaps are contiguous: total follow-up
        assert arms.loc[g, "n"] == rows["patient_id"].nunique()
        assert arms.loc[g, "events"] == events
        assert arms.loc[g, "time"] == pytest.approx(days)
        assert arms.loc[g, "rate"] == pytest.approx(100 * events / (days / 365.25))
    # NB2 maximum: sum over each arm of (y - mu) / (1 + mu / theta) = 0
    counts = res["counts"]
    z = (counts["arm"] == "OCT").to_numpy(float)
    b = rr.summary["coef"]
    mu = np.exp(b["(Intercept)"] + b["armOCT"] * z) * counts["time"].to_numpy(float)
    resid = (counts["events"].to_numpy(float) - mu) / (1 + mu / rr.theta)
    assert abs(np.sum(resid * z)) < 1e-6 and abs(np.sum(resid * (1 - z))) < 1e-6
    if not np.isfinite(rr.theta):
        # Poisson limit with one binary covariate: the ratio of the crude rates
        crude = arms.loc["OCT", "rate"] / arms.loc["IVUS", "rate"]
        assert rr.table["rate_ratio"].iloc[0] == pytest.approx(crude, rel=1e-8)


def test_time_varying_rows_split_follow_up_at_the_changes(example):
    module, res = example
    tte, tv, changes = res["tte"], res["time_varying"], res["dapt_changes"]
    # seeded and reproducible; half the patients, days in the stated window
    assert changes.equals(module.dapt_changes(tte, 2026))
    assert len(changes) == round(module.DAPT_SHARE * len(tte))
    assert changes["patient_id"].is_unique
    assert changes["time"].between(*module.DAPT_DAYS).all()
    # the pieces add up to each patient's follow-up and keep its event, once
    per = tv.assign(length=tv["time"] - tv["start"]).groupby("patient_id")
    base = tte.set_index("patient_id")
    assert np.allclose(per["length"].sum().reindex(base.index), base["time"])
    assert (per["event"].sum().reindex(base.index) == base["event"]).all()
    # dapt_stopped is 0 up to the change day and 1 after it
    day = tv["patient_id"].map(changes.set_index("patient_id")["time"])
    expected = (tv["start"] >= day).astype(float)  # NaN day (no change): never stopped
    assert (tv["dapt_stopped"].to_numpy() == expected.to_numpy()).all()
    assert np.isfinite(res["cox_time_varying"].summary["hr"]).all()


def test_win_ratio_pairs_compared_by_hand(example):
    module, res = example
    cohort, wr = res["cohort"], res["win_ratio"]
    follow = mo.time_to_event(cohort, "all_cause_death", horizon=365)
    ids, arm = follow["patient_id"], follow["arm"].to_numpy()
    f = follow["time"].to_numpy()
    oct_, ivus = arm == "OCT", arm == "IVUS"
    shared = np.minimum(f[oct_][:, None], f[ivus][None, :])
    open_ = np.ones(shared.shape, dtype=bool)  # pairs not decided yet
    table = wr.table.set_index("level")
    for level in module.HIERARCHY:
        lv = mo.time_to_event(cohort, level, horizon=365).set_index("patient_id").loc[ids]
        a = np.where(lv["event"].to_numpy() == 1, lv["time"].to_numpy(), np.inf)
        ai, aj = a[oct_][:, None], a[ivus][None, :]
        seen_i, seen_j = ai <= shared, aj <= shared
        lose = open_ & seen_i & (~seen_j | (ai < aj))  # the OCT patient's event first
        win = open_ & seen_j & (~seen_i | (aj < ai))
        assert table.loc[level, "wins"] == win.sum(), level
        assert table.loc[level, "losses"] == lose.sum(), level
        open_ &= ~(win | lose)
    s = wr.summary.iloc[0]
    n1, n0 = int(oct_.sum()), int(ivus.sum())
    assert (s["n_treated"], s["n_reference"]) == (n1, n0)
    assert s["wins"] + s["losses"] + s["ties"] == n1 * n0
    assert s["ties"] == open_.sum()
    assert s["win_ratio"] == pytest.approx(s["wins"] / s["losses"])


def test_views_table_and_written_tables(example):
    _, res = example
    out = res["out"]
    assert {p.stem for p in out.iterdir()} == TABLES  # nothing else written
    assert res["figures"] == []
    views = pd.read_csv(out / "views.csv")
    wr = res["win_ratio"].summary.iloc[0]
    row = views.set_index("view").loc["hierarchy, win ratio"]
    assert row["estimate"].startswith(f"{wr['win_ratio']:.2f} (")
    assert len(views) == 7


@pytest.mark.slow
def test_figures_written(tmp_path, capsys):
    from PIL import Image

    res = _load().main(tmp_path, formats=("pdf", "png"), dpi=100)
    printed = capsys.readouterr().out
    assert "nothing below supports a claim" in printed
    assert sorted(p.name for p in res["figures"]) == sorted(
        f"{n}.{ext}" for n in FIGURES for ext in ("pdf", "png"))
    for name in FIGURES:
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        with Image.open(tmp_path / f"{name}.png") as img:
            assert round(img.info["dpi"][0]) == 100
            assert img.size[0] > 300
