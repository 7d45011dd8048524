"""Recurrent events: mean frequency (Nelson-Aalen / Lawless-Nadeau, Ghosh-Lin) and the
Andersen-Gill Cox model, against R (tests/reference/recurrent.R) and hand computations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo
from mace_outcomes.errors import InputError

CGD = dict(time="tstop", event="status", start="tstart", id="id", group="treat")


@pytest.mark.parametrize("key,weights", [("cgd", None), ("cgd_weighted", "w")])
def test_mean_frequency_matches_survfit_cumhaz_and_robust_std_chaz(key, weights):
    # R: survfit(Surv(tstart, tstop, status) ~ treat, data = cgd, id = id[, weights = w])
    r = reference("recurrent")[key]
    t = mo.mean_frequency(reference_data("recurrent_cgd"), weights=weights, **CGD).table
    assert t["group"].tolist() == r["group"]
    for ours, theirs in [("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"),
                         ("mean", "cumhaz"), ("std_err", "std_chaz")]:
        np.testing.assert_allclose(t[ours], r[theirs], rtol=1e-10, atol=1e-12, err_msg=ours)


@pytest.mark.parametrize("key,weights", [("ghosh_lin", None), ("ghosh_lin_weighted", "w")])
def test_ghosh_lin_matches_plain_r_transcription(key, weights):
    r = reference("recurrent")[key]
    fit = mo.mean_frequency(reference_data("recurrent_terminal"), id="id", terminal="death",
                            weights=weights)
    assert fit.estimator == "ghosh-lin" and fit.weighted is (weights is not None)
    for arm in ("a", "b"):
        t = fit.table[fit.table["group"] == arm]
        for col in ("time", "n_risk", "mean", "std_err"):
            np.testing.assert_allclose(t[col], r[arm][col], rtol=1e-10, atol=1e-12,
                                       err_msg=f"{arm} {col}")


def test_andersen_gill_cox_with_start_and_cluster_matches_coxph():
    # R: coxph(Surv(tstart, tstop, status) ~ treat + cluster(id), cgd)
    r = reference("recurrent")["cgd_ag"]
    fit = mo.cox(reference_data("recurrent_cgd"), time="tstop", event="status",
                 start="tstart", covariates=["treat"], cluster="id")
    row = fit.table.iloc[0]
    assert row["coef"] == pytest.approx(r["coef"], rel=1e-8)
    assert row["se"] == pytest.approx(r["robust_se"], rel=1e-8)
    assert row["naive_se"] == pytest.approx(r["naive_se"], rel=1e-8)


def _tiny() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": [1, 1, 2, 3], "arm": "a", "start": [0, 10, 0, 0],
                         "stop": [10, 30, 20, 40], "event": [1, 1, 0, 1]})


def test_hand_computed_mean_and_lawless_nadeau_variance():
    # events at 10 (3 at risk), 30 (2), 40 (1): mean 1/3 + 1/2 + 1. Influences at 40:
    # patient 1: (1/3 - 1/9) + (1/2 - 1/4) = 17/36; patient 2: -1/9; patient 3: -1/9 - 1/4
    fit = mo.mean_frequency(_tiny())
    at = fit.at([5, 10, 25, 40, 99])
    np.testing.assert_allclose(at["mean"], [0, 1 / 3, 1 / 3, 11 / 6, 11 / 6], rtol=1e-12)
    se40 = np.sqrt(17**2 + 4**2 + 13**2) / 36
    assert at["std_err"].iloc[3] == pytest.approx(se40, rel=1e-12)
    np.testing.assert_allclose(at["n_risk"], [3, 3, 2, 1, 0])
    # the log interval: mean exp(-+ 1.96 se / mean)
    h = np.exp(1.959963984540054 * se40 / (11 / 6))
    assert at["lower"].iloc[3] == pytest.approx(11 / 6 / h, rel=1e-9)
    assert at["upper"].iloc[3] == pytest.approx(11 / 6 * h, rel=1e-9)


def test_splitting_a_row_without_an_event_changes_nothing():
    # (start, stop] rows: cutting a gap at a time with no event leaves the risk sets and
    # each patient's influence unchanged (a property of the counting-process form)
    d = reference_data("recurrent_terminal")
    whole = mo.mean_frequency(d, id="id", terminal="death", weights="w").table
    long = d[d["stop"] - d["start"] > 20]
    first = long.assign(stop=long["start"] + 10, event=0, death=0)
    rest = long.assign(start=long["start"] + 10)
    split = pd.concat([d.drop(long.index), first, rest], ignore_index=True)
    cut = mo.mean_frequency(split, id="id", terminal="death", weights="w").at(
        whole["time"].unique())
    for arm in ("a", "b"):
        a = whole[whole["group"] == arm].set_index("time")
        b = cut[cut["group"] == arm].set_index("time").loc[a.index]
        np.testing.assert_allclose(b["mean"], a["mean"], rtol=1e-12)
        np.testing.assert_allclose(b["std_err"], a["std_err"], rtol=1e-9)


def test_death_lowers_the_mean_frequency_below_nelson_aalen():
    # S(t-) <= 1 weights every jump: Ghosh-Lin <= Nelson-Aalen, equal before any death
    d = reference_data("recurrent_terminal")
    gl = mo.mean_frequency(d, id="id", terminal="death").table
    na = mo.mean_frequency(d, id="id").table
    assert (gl["mean"] <= na["mean"] + 1e-12).all() and (gl["mean"] < na["mean"]).any()
    first_death = d.loc[d["death"] == 1, "stop"].min()
    early = gl["time"] <= first_death
    np.testing.assert_allclose(gl.loc[early, "mean"], na.loc[early, "mean"], rtol=1e-12)


def test_terminal_errors_name_the_patients():
    d = _tiny().assign(death=[1, 0, 2, 0])
    with pytest.raises(InputError) as err:
        mo.mean_frequency(d, terminal="death")
    msg = str(err.value)
    assert "rows [2]: terminal must be 0" in msg  # patient 2's value 2
    assert "rows [1]: a terminal event before the patient's last row" in msg


def test_rows_without_start_are_one_row_per_patient():
    # no start: every row enters at 0 (each its own patient without id)
    d = pd.DataFrame({"stop": [2.0, 3.0, 3.0, 5.0], "event": [1, 1, 0, 1]})
    t = mo.mean_frequency(d, start=None, id=None, group=None).table
    np.testing.assert_allclose(t["mean"], np.cumsum([1 / 4, 1 / 3, 0 / 1 + 1 / 1]))
    assert t["group"].eq("all").all()


def _cohort() -> mo.Cohort:
    p = pd.DataFrame({"patient_id": [1, 2, 3], "arm": ["OCT", "IVUS", "OCT"],
                      "index_date": ["2020-01-01"] * 3,
                      "last_contact_date": ["2021-06-01", "2021-06-01", "2020-01-01"]})
    e = pd.DataFrame({"event_id": [1, 2, 3, 4, 5, 6, 7],
                      "patient_id": [2, 2, 2, 2, 1, 3, 1],
                      "event_type": ["tlr", "mi", "mi", "cardiac_death", "mi", "mi", "stroke"],
                      "event_date": ["2020-03-01", "2020-03-01", "2020-05-01", "2020-09-01",
                                     "2020-01-01", "2020-01-01", "2020-02-01"]})
    return mo.Cohort(patients=p, events=e)


def test_recurrent_rows_by_hand():
    # patient 2: TLR + MI on day 60 (one event, named MI by ARC-2 priority), MI on day
    # 121, cardiac death on day 244 (an endpoint event and terminal); patient 1: a day-0
    # MI (cannot end a row) and a stroke (not MACE), followed to day 517; patient 3 has
    # no follow-up beyond day 0
    with pytest.warns(mo.StatisticalWarning, match="2 event\\(s\\) on day 0") as caught:
        r = mo.time_to_event(_cohort(), "mace", recurrent=True)
    # nothing left out silently: the count and the patients, in the warning and attrs
    text = str(caught[0].message)
    assert "(patient_id [1, 3])" in text
    assert "1 patient(s) without follow-up beyond day 0 have no rows (patient_id [3])" in text
    assert r.attrs["events_on_day_0_ids"] == ["1", "3"] and r.attrs["no_follow_up_ids"] == ["3"]
    assert r["patient_id"].astype(str).tolist() == ["1", "2", "2", "2"]
    assert r["start"].tolist() == [0, 0, 60, 121] and r["stop"].tolist() == [517, 60, 121, 244]
    assert r["event"].tolist() == [0, 1, 1, 1] and r["terminal"].tolist() == [0, 0, 0, 1]
    assert r["event_type"].tolist() == ["", "mi", "mi", "cardiac_death"]
    assert r.attrs["events_on_day_0"] == 2 and r.attrs["no_follow_up"] == 1
    with pytest.warns(mo.StatisticalWarning):
        cut = mo.time_to_event(_cohort(), "mace", horizon=200, recurrent=True)
    assert cut["stop"].tolist() == [200, 60, 121, 200]
    assert cut["event"].tolist() == [0, 1, 1, 0] and cut["terminal"].sum() == 0
    with pytest.raises(InputError, match="rows from the index date"):
        mo.time_to_event(_cohort(), "mace", landmark=30, recurrent=True)


def test_recurrent_rows_agree_with_first_event_rows():
    # the first event row of each patient is time_to_event's first event, and every
    # patient's rows tile (0, end of follow-up] without gaps or overlaps
    cohort = mo.load_example()
    first = mo.time_to_event(cohort, "mace", horizon=365).set_index("patient_id")
    rec = mo.time_to_event(cohort, "mace", horizon=365, recurrent=True)
    by = rec.groupby("patient_id", sort=False)
    same = (rec["patient_id"].to_numpy()[1:] == rec["patient_id"].to_numpy()[:-1])
    np.testing.assert_array_equal(rec["start"].to_numpy()[1:][same],
                                  rec["stop"].to_numpy()[:-1][same])
    assert (by["start"].min() == 0).all() and (rec["stop"] > rec["start"]).all()
    late = first[(first["event"] == 1) & (first["time"] > 0)]
    first_event = rec[rec["event"] == 1].groupby("patient_id")["stop"].min()
    np.testing.assert_array_equal(first_event.loc[late.index], late["time"])
    assert rec["event"].sum() >= len(late)
    end = first[first["event"] == 0]
    np.testing.assert_array_equal(by["stop"].max().loc[end.index], end["time"])


def test_mean_frequency_figure_draws_the_curves_and_patients_at_risk():
    import matplotlib.pyplot as plt

    d = reference_data("recurrent_cgd")
    r = reference("recurrent")["cgd"]
    fit = mo.mean_frequency(d, **CGD)
    fig = fit.plot(unit="days", breaks=(0, 100, 200, 300))
    risk = fig.risk_table
    grid = pd.DataFrame({"group": r["group"], "time": r["time"], "n_risk": r["n_risk"]})
    for g, rows in risk.groupby("group"):
        ref = grid[grid["group"] == g]
        nxt = np.searchsorted(ref["time"].to_numpy(), rows["time_days"].to_numpy())
        want = np.append(ref["n_risk"].to_numpy(), 0.0)[nxt]  # R's n.risk at the next time
        np.testing.assert_array_equal(rows["n_risk"], want)
        arm = d[d["treat"] == g]
        events = [arm.loc[arm["tstop"] <= t, "status"].sum() for t in (0, 100, 200, 300)]
        np.testing.assert_array_equal(rows["cum_events"], events)
    # the step curves are the table's means, from 0
    lines = {ln.get_label(): ln.get_ydata() for ln in fig.axes[0].get_lines()}
    for g in fit.groups:
        want = np.r_[0.0, fit.table.loc[fit.table["group"] == g, "mean"]]
        np.testing.assert_allclose(lines[g][:want.size], want)
    # a count, not capped at 1: the axis holds the bands drawn up to the last break
    shown = fit.table.loc[fit.table["time"] <= 300, "upper"].max()
    assert shown > 1 and fig.axes[0].get_ylim()[1] >= shown
    plt.close(fig)


def test_no_warning_when_nothing_is_left_out():
    p = pd.DataFrame({"patient_id": [1, 2], "arm": ["OCT", "IVUS"],
                      "index_date": ["2020-01-01"] * 2,
                      "last_contact_date": ["2020-06-01", "2020-06-01"]})
    e = pd.DataFrame({"event_id": [1], "patient_id": [2], "event_type": ["mi"],
                      "event_date": ["2020-02-01"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mo.time_to_event(mo.Cohort(patients=p, events=e), "mace", recurrent=True)
    assert r.attrs["events_on_day_0"] == 0 and r.attrs["no_follow_up_ids"] == []


# ---------------------------------------------------------------- time-varying exposure
def _d(n: int) -> str:
    return (pd.Timestamp("2021-01-01") + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


def _crossover_cohort() -> tuple[mo.Cohort, pd.DataFrame]:
    p = pd.DataFrame({"patient_id": ["X", "Y", "Z", "W"],
                      "arm": ["OCT", "IVUS", "IVUS", "OCT"], "index_date": [_d(0)] * 4,
                      "last_contact_date": [_d(100), _d(200), _d(80), _d(150)]})
    e = pd.DataFrame({"event_id": [1, 2, 3, 4], "patient_id": ["Y", "Z", "W", "W"],
                      "event_type": "mi", "event_date": [_d(30), _d(0), _d(50), _d(120)]})
    changes = pd.DataFrame({"patient_id": ["X", "Y", "W", "W"],
                            "date": [_d(40), _d(60), _d(20), _d(100)],
                            "column": "crossover", "value": [1, 1, 1, 0]})
    return mo.Cohort(patients=p, events=e), changes


def _cols(df, *names):
    return [tuple(r) for r in df[list(names)].itertuples(index=False)]


def test_exposure_changes_first_event_by_hand():
    # X: censored day 100, crossover day 40 -> (0, 40], (40, 100]. Y: MI day 30, its
    # crossover (day 60) comes after and is ignored. W: crossover day 20, MI day 50 (its
    # day-100 change is after the first event). Z: MI on day 0, no length to cut.
    cohort, changes = _crossover_cohort()
    with pytest.warns(mo.StatisticalWarning, match=r"1 row\(s\) ending on day 0.*\['Z'\]"):
        r = mo.time_to_event(cohort, "mace", exposure_changes=changes)
    assert _cols(r, "patient_id", "start", "time", "event", "status", "event_type") == [
        ("X", 0, 40, 0, 0, ""), ("X", 40, 100, 0, 0, ""), ("Y", 0, 30, 1, 1, "mi"),
        ("W", 0, 20, 0, 0, ""), ("W", 20, 50, 1, 1, "mi")]
    # with a value column, the exposure is missing before its first change (as split_at)
    assert r["crossover"].isna().tolist() == [True, False, True, True, False]
    info = r.attrs["exposure_changes"]
    assert (info["used"], info["ignored_after_followup"], info["zero_length_ids"]) == (
        2, 2, ["Z"])
    # without `value`: 0 before the date and 1 after (tmerge's tdc(time))
    with pytest.warns(mo.StatisticalWarning):
        r = mo.time_to_event(cohort, "mace",
                             exposure_changes=changes.drop(columns="value").iloc[:3])
    assert r["crossover"].tolist() == [0, 1, 0, 0, 1]


def test_exposure_changes_recurrent_by_hand():
    # W: MIs on days 50 and 120, crossover on day 20 and back on day 100, to day 150
    cohort, changes = _crossover_cohort()
    with pytest.warns(mo.StatisticalWarning, match="on day 0"):
        r = mo.time_to_event(cohort, "mace", exposure_changes=changes, recurrent=True)
    w = r[r["patient_id"] == "W"].fillna({"crossover": -1})  # -1: before any change
    assert _cols(w, "start", "stop", "event", "event_type", "crossover") == [
        (0, 20, 0, "", -1), (20, 50, 1, "mi", 1), (50, 100, 0, "", 1),
        (100, 120, 1, "mi", 0), (120, 150, 0, "", 0)]
    y = r[r["patient_id"] == "Y"]
    assert _cols(y, "start", "stop", "event") == [(0, 30, 1), (30, 60, 0), (60, 200, 0)]
    assert r["event"].sum() == 3  # Y's and W's two: the rows still hold every event


def test_exposure_changes_as_tmerge_on_jasa():
    # tests/reference/exposure.R: the Stanford transplant registry by dates, tmerge with
    # event(futime, fustat) and tdc(txtime), then coxph(Surv(tstart, tstop, death) ~
    # transplant + age + surgery)
    d = reference_data("exposure")
    r = reference("exposure")
    p = pd.DataFrame({"patient_id": d["subject"], "arm": "all", "index_date": d["accept_date"],
                      "last_contact_date": d["fu_date"], "age": d["age"],
                      "surgery": d["surgery"]})
    dead = d[d["fustat"] == 1]
    e = pd.DataFrame({"event_id": dead["subject"], "patient_id": dead["subject"],
                      "event_type": "cardiac_death", "event_date": dead["fu_date"]})
    tx = d[d["tx_date"].notna()]
    changes = pd.DataFrame({"patient_id": tx["subject"], "date": tx["tx_date"],
                            "column": "transplant"})
    with pytest.warns(mo.StatisticalWarning, match="patient_id \\['15'\\]"):
        rows = mo.time_to_event(mo.Cohort(patients=p, events=e), "all_cause_death",
                                exposure_changes=changes, require_two_arms=False)
    want = r["split"]
    assert rows["patient_id"].astype(int).tolist() == want["subject"]
    np.testing.assert_array_equal(rows["start"], want["tstart"])
    np.testing.assert_array_equal(rows["time"], want["tstop"])
    np.testing.assert_array_equal(rows["event"], want["death"])
    np.testing.assert_array_equal(rows["transplant"], want["transplant"])
    assert rows.attrs["exposure_changes"]["zero_length_ids"] == [str(i) for i in
                                                                  np.ravel(r["left_out"])]
    for ties, coef, se in (("efron", "coef", "se"), ("breslow", "coef_breslow", "se_breslow")):
        fit = mo.cox(rows, time="time", event="event", start="start", ties=ties,
                     covariates=["transplant", "age", "surgery"])
        np.testing.assert_allclose(fit.summary["coef"], r[coef], rtol=1e-8)
        np.testing.assert_allclose(fit.summary["se"], r[se], rtol=1e-8)
    np.testing.assert_allclose(
        mo.cox(rows, time="time", event="event", start="start",
               covariates=["transplant", "age", "surgery"]).loglik, r["loglik"], rtol=1e-10)


def test_exposure_changes_errors_name_the_rows():
    cohort, changes = _crossover_cohort()
    bad = pd.concat([changes, pd.DataFrame({"patient_id": ["Q"], "date": [_d(5)],
                                            "column": ["arm"], "value": [1]})],
                    ignore_index=True)
    with pytest.raises(InputError) as err:
        mo.time_to_event(cohort, "mace", exposure_changes=bad)
    text = str(err.value)
    assert "rows [Q]: change for a patient not in the cohort" in text
    assert "computed column(s) ['arm']" in text
    with pytest.raises(InputError, match="one column, date or time"):
        mo.time_to_event(cohort, "mace", exposure_changes=changes.assign(time=3.0))
    with pytest.raises(InputError, match="rows \\[1\\]: the change's date is missing"):
        mo.time_to_event(cohort, "mace", exposure_changes=changes.assign(
            date=[_d(40), "not a date", _d(20), _d(100)]))


def test_split_at_cuts_counting_process_rows():
    # (start, stop] rows: each row cut at its id's changes strictly inside it; a change at
    # or before a row's start is in force on the whole row
    rows = pd.DataFrame({"patient_id": [1, 1, 2], "start": [0.0, 10.0, 0.0],
                         "stop": [10.0, 30.0, 25.0], "event": [1, 0, 1], "dose": [0, 0, 0]})
    changes = pd.DataFrame({"patient_id": [1, 1, 2], "stop": [5.0, 10.0, 25.0],
                            "column": "dose", "value": [1, 2, 9]})
    out = mo.split_at(rows, changes, time="stop")
    assert _cols(out, "patient_id", "start", "stop", "event", "dose") == [
        (1, 0, 5, 0, 0), (1, 5, 10, 1, 1), (1, 10, 30, 0, 2), (2, 0, 25, 1, 0)]
    assert out.attrs["split_at"]["ignored_after_followup"] == 1


def test_split_counting_rows_at_unchanged_values_leaves_andersen_gill_unchanged():
    # property: cutting recurrent rows where a covariate "changes" to its own value keeps
    # the risk sets, so the Andersen-Gill fit and its robust SE are those of the uncut rows
    d = reference_data("recurrent_cgd")
    d["placebo"] = (d["treat"] == "placebo").astype(int)
    rng = np.random.default_rng(3)
    ids = rng.choice(d["id"].unique(), 150)
    first = d.groupby("id")["placebo"].first()
    changes = pd.DataFrame({"id": ids, "tstop": np.round(rng.uniform(1, 400, ids.size)),
                            "column": "placebo", "value": first.loc[ids].to_numpy()})
    cut = mo.split_at(d, changes, id="id", time="tstop", event="status", start="tstart")
    assert len(cut) > len(d) + 100 and cut["status"].sum() == d["status"].sum()
    kw = dict(time="tstop", event="status", start="tstart", covariates=["placebo"],
              cluster="id")
    a, b = mo.cox(d, **kw).summary, mo.cox(cut, **kw).summary
    np.testing.assert_allclose(b[["coef", "se", "naive_se"]], a[["coef", "se", "naive_se"]],
                               rtol=1e-9)
