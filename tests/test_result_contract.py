"""One contract for every public result (STYLE.md, "A kernel and its result").

Every result object carries a tidy ``.table``, ``notes`` (list of str), ``weighted`` where
weights are possible, ``time_unit`` where it reports times, ``p_value`` where it is one
test, ``to_markdown()``, ``_repr_html_()`` and a readable ``repr``; dataclasses holding
DataFrames compare by identity (``eq=False``). One parametrised test holds each result
to it, as scikit-learn's common estimator checks do; a second makes sure a new public
result cannot skip the registry.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
import warnings
from collections.abc import Callable
from functools import cache
from html.parser import HTMLParser
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from matplotlib.text import Text

import mace_outcomes as mo
from mace_outcomes._display import ResultMixin
from mace_outcomes.errors import ExtremeWeightWarning, InputError
from mace_outcomes.outcomes import followup_summary
from mace_outcomes.records.cohort import Cohort
from mace_outcomes.report.analyze import Analysis

# Public return types that are not estimates, and why.
NOT_RESULTS = {
    Cohort: "the validated input records, not an estimate",
    Analysis: "the written report folder (files), not an estimate",
}


@cache
def lung() -> pd.DataFrame:
    d = reference_data("lung")
    d["w"] = reference("lung")["iptw"]["weights_ate"]  # R's IPTW (ATE) weights
    return d


@cache
def mgus() -> pd.DataFrame:
    d = reference_data("mgus2").iloc[:400].copy()
    d["w"] = 1.0 + (d["age"] % 3) / 2  # positive, far from extreme
    return d


class Entry(NamedTuple):
    name: str
    build: Callable[[], object]
    weighted: bool | None = None      # None: the result takes no case weights
    time_unit: str | None = None      # None: the result reports no times
    one_test: bool = False            # a result that is one test has p_value
    p_row: Callable[[pd.DataFrame], float] | None = None  # its row of the `p` column


REGISTRY = [
    Entry("kaplan_meier", cache(lambda: mo.kaplan_meier(lung(), group="group")), False,
          "days"),
    Entry("kaplan_meier_weighted",
          cache(lambda: mo.kaplan_meier(lung(), group="group", weights="w")), True, "days"),
    Entry("logrank", cache(lambda: mo.logrank(lung(), group="group")), False, one_test=True),
    Entry("landmark_curves",
          cache(lambda: mo.landmark_curves(lung(), at=180, group="group")), False, "days"),
    Entry("logrank_weighted", cache(lambda: mo.logrank(lung(), group="group", weights="w")),
          True, one_test=True),
    Entry("rmst", cache(lambda: mo.rmst(lung(), group="group", horizon=365)), False, "days"),
    Entry("rmst_weighted",
          cache(lambda: mo.rmst(lung(), group="group", horizon=365, weights="w")), True, "days"),
    Entry("followup", cache(lambda: mo.followup(lung(), group="group")), None, "days"),
    Entry("win_ratio", cache(lambda: mo.win_ratio(
        pd.DataFrame(reference("win_ratio")["data"]), levels=[("time_death", "death"),
                                                              ("time_mi", "mi")])),
          False, "days"),
    Entry("win_ratio_weighted", cache(lambda: mo.win_ratio(
        pd.DataFrame(reference("win_ratio")["data"]), levels=[("time_death", "death"),
                                                              ("time_mi", "mi")],
        weights="w")), True, "days"),
    Entry("mean_frequency", cache(lambda: mo.mean_frequency(
        reference_data("recurrent_cgd"), time="tstop", event="status", start="tstart",
        id="id", group="treat")), False, "days"),
    Entry("mean_frequency_weighted", cache(lambda: mo.mean_frequency(
        reference_data("recurrent_terminal"), id="id", terminal="death", weights="w")),
          True, "days"),
    Entry("cumulative_incidence",
          cache(lambda: mo.cumulative_incidence(mgus(), group="group")), False, "days"),
    Entry("cumulative_incidence_weighted",
          cache(lambda: mo.cumulative_incidence(mgus(), group="group", weights="w")), True,
          "days"),
    Entry("gray_test", cache(lambda: mo.gray_test(mgus(), group="group")), False,
          one_test=True, p_row=lambda t: float(t.loc[t["cause"] == 1, "p"].iloc[0])),
    Entry("cox", cache(lambda: mo.cox(lung(), covariates=["group", "age"])), False),
    Entry("cox_weighted",
          cache(lambda: mo.cox(lung(), covariates=["group"], weights="w")), True),
    Entry("ph_test", cache(lambda: mo.cox(lung(), covariates=["group", "age"]).ph_test()),
          False, one_test=True, p_row=lambda t: float(t.loc[t["term"] == "GLOBAL", "p"].iloc[0])),
    Entry("ph_test_weighted",
          cache(lambda: mo.cox(lung(), covariates=["group"], weights="w").ph_test()), True,
          one_test=True, p_row=lambda t: float(t.loc[t["term"] == "GLOBAL", "p"].iloc[0])),
    Entry("fine_gray", cache(lambda: mo.fine_gray(mgus(), covariates=["group", "age"])),
          False),
    Entry("fine_gray_weighted",
          cache(lambda: mo.fine_gray(mgus(), covariates=["group"], weights="w")), True),
    Entry("propensity",
          cache(lambda: mo.propensity(lung(), "group", ["age", "ph_ecog"]))),
    Entry("e_value", cache(lambda: mo.e_value(0.6, 0.4, 0.9, measure="HR", rare=True))),
    Entry("bootstrap",
          cache(lambda: mo.bootstrap(lung(), "group", ["age"], n_boot=20, seed=1,
                                       progress=False)), True, "days"),
    Entry("bootstrap_crude",
          cache(lambda: mo.bootstrap(lung(), "group", estimand=None, n_boot=20, seed=1,
                                       progress=False)), False, "days"),
    Entry("risk_difference", cache(lambda: mo.risk_difference(lung(), "group")), False,
          "days"),
    Entry("risk_difference_weighted",
          cache(lambda: mo.risk_difference(lung(), "group", weights="w")), True, "days"),
    Entry("compare_arms", cache(lambda: mo.compare_arms(lung(), "group")), False, "days"),
    Entry("compare_arms_adjusted",
          cache(lambda: mo.compare_arms(lung(), "group", ["age", "ph_ecog"])), True, "days"),
    Entry("adjusted_risk", cache(lambda: mo.adjusted_risk(
        lung(), treatment="group", covariates=["age", "ph_ecog"], times=[180, 365])),
        False, "days"),
    Entry("compare_outcome",
          cache(lambda: mo.compare_outcome(lung(), "wt_loss", "group")), False),
    Entry("compare_outcome_adjusted",
          cache(lambda: mo.compare_outcome(lung(), "wt_loss", "group", ["age"])), True),
    Entry("missingness",
          cache(lambda: mo.missingness(lung().assign(age=lambda d: d["age"].where(
              d.index % 7 > 0)), ["age", "ph_ecog"], group="group"))),
    Entry("table_one",
          cache(lambda: mo.table_one(lung(), group="group", variables=["age", "ph_ecog"])),
          False),
    Entry("table_one_weighted",
          cache(lambda: mo.table_one(lung(), group="group", variables=["age", "ph_ecog"],
                                       weights="w")), True),
    Entry("outcome_table",
          cache(lambda: mo.outcome_table({"death": lung()}, group="group")), False, "days"),
    Entry("outcome_table_weighted",
          cache(lambda: mo.outcome_table({"death": lung()}, group="group", weights="w")),
          True, "days"),
    Entry("audit_reported", cache(lambda: mo.audit_reported(reference("paper_tables")))),
    Entry("impute", cache(lambda: mo.impute(
        lung().assign(wt_loss=lambda d: d["wt_loss"].mask(d.index % 5 == 0)),
        variables=["age", "ph_ecog", "wt_loss"], m=2, seed=1, iterations=2,
        treatment="group"))),
    Entry("pool", cache(lambda: mo.pool([mo.cox(lung().iloc[k:k + 200], covariates=["group"])
                                         for k in (0, 10, 20)]))),
    Entry("propensity_imputed", cache(lambda: mo.propensity(mo.impute(
        lung().assign(wt_loss=lambda d: d["wt_loss"].mask(d.index % 5 == 0)),
        variables=["age", "wt_loss"], m=2, seed=1, iterations=2, treatment="group"),
        "group", ["age", "wt_loss"]))),
    Entry("followup_summary", cache(lambda: followup_summary(mo.load_example())), None,
          "months"),  # its table is in months (days / 30.44)
    Entry("match", cache(lambda: mo.match(lung(), "group", ["age", "ph_ecog"])), True),
    Entry("compare_arms_matched", cache(lambda: mo.compare_arms(
        lung(), "group", ["age", "ph_ecog"], adjustment=["iptw", "match"])), True, "days"),
    Entry("adjusted_risk_curve", cache(lambda: mo.adjusted_risk(
        lung(), treatment="group", covariates=["age", "ph_ecog"], times=None, band=True,
        n_sim=200, seed=1)), False, "days"),
    Entry("rate_ratio", cache(lambda: mo.rate_ratio(reference_data("counts"), "treat")),
          False, "days", one_test=True, p_row=lambda t: float(t["p"].iloc[0])),
    Entry("rate_ratio_weighted", cache(lambda: mo.rate_ratio(
        reference_data("counts"), "treat", weights="w", cluster="center")), True, "days",
          one_test=True, p_row=lambda t: float(t["p"].iloc[0])),
]


def _built(entry: Entry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statistical caveats are not what is tested here
        return entry.build()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.opened: list[str] = []
        self.closed: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.opened.append(tag)

    def handle_endtag(self, tag):
        self.closed.append(tag)


@pytest.mark.parametrize("entry", REGISTRY, ids=[e.name for e in REGISTRY])
def test_result_contract(entry: Entry):
    res = _built(entry)
    cls = type(res)
    assert issubclass(cls, ResultMixin)

    table = res.table
    assert isinstance(table, pd.DataFrame) and len(table) > 0 and len(table.columns) > 0
    # one name for p-values: `p`
    assert not {"p_value", "pvalue", "p_val", "pval"} & {str(c) for c in table.columns}

    md = res.to_markdown()
    first = md.splitlines()[0]
    assert first.startswith("**") and first.endswith("**") and len(first) > 4  # a title
    assert str(table.columns[0]).lower() in md.lower()
    assert md.count("\n|") >= 2  # header and separator rows at least

    page = res._repr_html_()
    tags = _Tags()
    tags.feed(page)
    tags.close()
    assert "table" in tags.opened and "table" in tags.closed

    text = repr(res)
    assert text.strip() and not text.startswith(f"{cls.__name__}(")  # not the dataclass dump

    assert isinstance(res.notes, list) and all(isinstance(n, str) for n in res.notes)

    if entry.weighted is not None:
        assert isinstance(res.weighted, bool) and res.weighted is entry.weighted
    if entry.time_unit is not None:
        assert res.time_unit == entry.time_unit

    if entry.one_test:
        p = res.p_value
        assert isinstance(p, float) and 0.0 <= p <= 1.0
        if entry.p_row is not None:
            assert p == entry.p_row(table)

    if dataclasses.is_dataclass(res):
        holds_frames = any(isinstance(getattr(res, f.name), pd.DataFrame)
                           for f in dataclasses.fields(res))
        if holds_frames:
            assert cls.__dataclass_params__.eq is False
            twin = dataclasses.replace(res)  # the very same frames
            assert res == res and not (res == twin) and res != twin


def _public_result_types() -> set[type]:
    """Return types (classes of mace_outcomes) of the public functions of the lazy table."""
    found = set()
    for name in mo.__all__:
        obj = getattr(mo, name)
        if not inspect.isfunction(obj):
            continue
        ret = typing.get_type_hints(obj).get("return")
        if inspect.isclass(ret) and ret.__module__.startswith("mace_outcomes."):
            found.add(ret)
    return found


def test_every_public_result_is_in_the_registry():
    registered = {type(_built(e)) for e in REGISTRY}
    public = _public_result_types() - set(NOT_RESULTS)
    assert public, "no public result types found: the lazy table changed shape"
    missing = {c.__qualname__ for c in public - registered}
    assert not missing, f"public results not held to the contract: {sorted(missing)}"
    # where the public function takes weights, its result is checked with and without
    for name in mo.__all__:
        obj = getattr(mo, name)
        if inspect.isfunction(obj) and "weights" in inspect.signature(obj).parameters:
            cls = typing.get_type_hints(obj).get("return")
            if cls not in registered:  # a figure (plot_overlap), not a result
                continue
            flags = {e.weighted for e in REGISTRY if type(_built(e)) is cls}
            assert flags == {True, False}, (name, flags)


ALIASES = [
    ("CumulativeIncidence.time_units", "cumulative_incidence", "time_units", "time_unit"),
    ("LogrankResult.p", "logrank", "p", "p_value"),
]


@pytest.mark.parametrize("label,entry_name,old,new", ALIASES, ids=[a[0] for a in ALIASES])
def test_deprecated_aliases_warn_and_agree(label, entry_name, old, new):
    res = _built(next(e for e in REGISTRY if e.name == entry_name))
    with pytest.warns(FutureWarning, match=f"{old} is deprecated; use {new}; it will be "
                                           "removed in a future version"):
        value = getattr(res, old)
    assert value == getattr(res, new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the contract name itself never warns
        getattr(res, new)


@pytest.mark.parametrize("fit", [
    lambda d: mo.kaplan_meier(d, group="group", weights="w"),
    lambda d: mo.logrank(d, group="group", weights="w"),
], ids=["kaplan_meier", "logrank"])
def test_notes_record_the_warnings_that_happened(fit):
    d = lung().copy()
    d.loc[d.index[0], "w"] = 1000.0  # one weight far over 10 x its arm's mean
    with pytest.warns(ExtremeWeightWarning) as caught:
        res = fit(d)
    raised = [str(w.message) for w in caught if issubclass(w.category, ExtremeWeightWarning)]
    assert res.notes == raised and "extreme weights" in res.notes[0]
    assert fit(lung()).notes == []


def test_markdown_numbers_are_the_table_numbers():
    # the Markdown view is the table, rounded to 4 significant digits
    km = _built(REGISTRY[0])
    md = km.to_markdown()
    body = [line for line in md.splitlines() if line.startswith("| ")][2:]
    assert len(body) == len(km.table)
    surv = [float(line.split("|")[1 + list(km.table.columns).index("surv")]) for line in body]
    np.testing.assert_allclose(surv, km.table["surv"], rtol=5e-4)


def test_weighted_figure_needs_a_weighted_cox_model():
    # a cluster-robust but unweighted Cox model must not annotate weighted curves
    d = lung().assign(cl=np.arange(len(lung())) // 2)
    km_w = mo.kaplan_meier(d, group="group", weights="w")
    lr_w = mo.logrank(d, group="group", weights="w")
    clustered = mo.cox(d, covariates=["group"], cluster="cl")
    assert clustered.robust and not clustered.weighted
    with pytest.raises(InputError, match="the Cox model is not"):
        mo.plot_km(km_w, test=lr_w, hr=clustered)
    fig = mo.plot_km(km_w, test=lr_w, hr=mo.cox(d, covariates=["group"], weights="w"))
    assert any("IPTW log-rank" in t.get_text() for t in fig.findobj(Text))
    plt.close(fig)


def test_cumulative_incidence_in_months_is_not_converted_twice():
    # plots read the renamed time_unit (formerly time_units) of a competing-risks curve
    from mace_outcomes.plots import UNITS

    ci = mo.cumulative_incidence(mgus(), group="group")
    month = UNITS["months"]
    in_months = dataclasses.replace(
        ci, table=ci.table.assign(time=ci.table["time"] / month), time_unit="months")
    breaks = (0, 12, 24, 36)
    a = mo.plot_cif(ci, breaks=breaks, return_table=True)
    b = mo.plot_cif(in_months, breaks=breaks, return_table=True)
    np.testing.assert_array_equal(a[1]["n_risk"], b[1]["n_risk"])
    assert a[1]["n_risk"].iloc[0] == (mgus()["group"] == a[1]["group"].iloc[0]).sum()
    plt.close(a[0])
    plt.close(b[0])
