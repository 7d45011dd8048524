"""``analyze(..., engine="dask")``: the study of a national registry on a Dask cluster.

The cohort folder holds ``patients/`` and ``events/`` as Parquet datasets
(:mod:`mace_outcomes.scale.io`) and its ``study.toml``. Every statistic is computed on
the cluster by the Dask estimators, whose results are the in-memory result objects
(equal to the in-memory fit to ~1e-12), so the report is written by the same writer,
figures and safe-output machinery as the in-memory ``analyze``: patient flow,
follow-up, Table 1 (:mod:`._dask_tables`), balance of the propensity model, per
endpoint the crude and weighted comparison (``compare_arms``: events, risk at the
horizon, HR, log-rank, RMST, E-value) with its Kaplan-Meier figures, a forest and a
love plot, ``results.json``, ``report.html`` and ``report.docx``.

Patient level only. Refused before any work, with the setting and the fix: a lesion
level, ``missing`` other than ``"error"``, ``"match"`` in ``adjustment``, landmarks,
recurrent events, the win ratio, a lesion ``primary_outcome``, ``[exclusions]``,
``[tables] procedural`` and target-vessel endpoints. Left out with a note in the
report: the bootstrap of the study file (an explicit ``bootstrap=`` is refused), the
adjusted (standardised) risks, the Table 4 outcome table (its numbers are in the
comparison rows), the propensity-overlap plot, cumulative-incidence figures (1 -
Kaplan-Meier is drawn, with deaths censored) and an endpoint's hazard ratio when one
arm has no events (the Firth model is not on Dask: its curves and log-rank are shown).

The progress bar steps through the stages and shows each pass the Dask fits report
(``scale._reduce.on_step``): the stage, and the Cox or propensity Newton step.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from . import _dask_tables, _output, _release
from ._html import Writer
from ._output import Analysis
from .study import Study

STAGES = ("cluster", "records", "follow-up", "baseline tables", "propensity", "endpoints",
          "figures", "report")
MEMORY = 'or run the in-memory engine (engine="memory", the CLI default)'
INSTALL = 'pip install "mace_outcomes[dask]"'
#: what the report says it left out (the in-memory report has these sections)
LEFT_OUT = (
    "Adjusted (standardised) risks at the horizon are not computed on the Dask engine "
    "(their models need every row in memory).",
    "Table 4 (clinical outcomes) is not written: events/N and the risk at the horizon "
    "per arm are in the comparison table.",
    "The propensity-overlap plot is not drawn (it needs the scores' distribution).",
    "Endpoints with competing deaths are drawn as 1 - Kaplan-Meier with deaths censored "
    "(the Aalen-Johansen estimator is not on the Dask engine); this overstates the "
    "cumulative incidence when deaths are frequent.",
)


# ----------------------------------------------------------------------- before any work
def refused(study: Study, bootstrap: int | None) -> list[Problem]:
    """Every study setting the Dask engine cannot run, with the fix."""
    from ..records.endpoints import get_endpoint

    src = study.source
    asked = [
        ("level", study.level != "patient", f"level = {study.level!r}: lesion-level "
         "analyses need the lesions table", 'set level = "patient" in [study]'),
        ("missing", study.missing != "error", f"missing = {study.missing!r}: imputation and "
         "complete-case analyses are not on Dask", 'set missing = "error" (complete the '
         "covariates first)"),
        ("adjustment", "match" in study.adjustment, "adjustment \"match\": matching is not "
         "on Dask", 'keep adjustment = ["iptw", "overlap"]'),
        ("landmarks", bool(study.landmarks), "landmarks: landmark analyses are not on Dask",
         "set landmarks = []"),
        ("recurrent", bool(study.recurrent), "recurrent = true: repeat events are not on "
         "Dask", "set recurrent = false"),
        ("win_ratio", bool(study.win_ratio), "win_ratio: the pairwise comparison is not on "
         "Dask", "set win_ratio = []"),
        ("primary_outcome", bool(study.primary_outcome), f"primary_outcome = "
         f"{study.primary_outcome!r}: lesion-level outcomes need the lesions table",
         'set primary_outcome = ""'),
        ("exclusions", bool(study.exclusions or study.lesion_exclusions), "[exclusions] are "
         "not applied on Dask tables", "filter the Parquet tables first and remove "
         "[exclusions]"),
        ("procedural", bool(study.procedural), "[tables] procedural: lesion tables are not "
         "on Dask", "set procedural = []"),
        ("bootstrap", bool(bootstrap), f"bootstrap = {bootstrap}: the bootstrap is not on "
         "Dask", "leave bootstrap unset (the robust confidence interval is reported)"),
    ]
    problems = [Problem(f"{what} (engine='dask')", column=col, source=src,
                        fix=f"{fix}, {MEMORY}") for col, on, what, fix in asked if on]
    for ep in study.endpoints:
        try:
            vessel = bool(get_endpoint(study.endpoint(ep)).target_vessel_only)
        except InputError:
            continue  # the study checks name unknown endpoints
        if vessel:
            problems.append(Problem(f"endpoint {ep!r} counts target-vessel events, which "
                                    "need the lesions table (engine='dask')",
                                    column="endpoints", source=src,
                                    fix=f"leave it out of endpoints, {MEMORY}"))
    return problems


@contextmanager
def cluster(scheduler: str | None, n_workers: int | None = None) -> Iterator[object]:
    """A ``distributed.Client``: on a new local cluster (processes, one thread each,
    ``min(2, cores)`` workers), closed at the end even on error; or connected to the
    scheduler at ``scheduler``, whose cluster is never shut down."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed
    except ImportError as err:
        raise InputError(Problem(f"engine='dask' needs dask and distributed ({err})",
                                 fix=INSTALL)) from err
    if scheduler is None:
        n = n_workers or min(2, os.cpu_count() or 1)
        # the shuffles' and nannies' WARNING lines would bury the progress bar
        local = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=":0", silence_logs=logging.ERROR)
        try:
            with distributed.Client(local) as client:
                yield client
        finally:
            local.close()
        return
    try:
        client = distributed.Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(Problem(f"could not connect to the Dask scheduler: {err}",
                                 column="scheduler", source=scheduler,
                                 fix="check the address (tcp://HOST:8786) and that the "
                                     "scheduler is running")) from err
    try:
        yield client
    finally:
        client.close()  # the cluster is someone else's: only this connection ends


class Steps:
    """The progress bar's text: the stage, and each pass a Dask fit reports
    (``on_step``: "Cox Newton step", "propensity Newton step") with its count in the
    stage; ``counts`` (all stages) and ``seconds`` (wall time per stage) for results.json."""

    def __init__(self, bar):
        self.bar, self.stage, self.counts, self.seconds = bar, "", Counter(), {}
        self._in_stage: Counter = Counter()
        self._since = time.perf_counter()

    def begin(self, stage: str) -> None:
        self.end()
        self.stage, self._in_stage = stage, Counter()
        self.bar.set_postfix_str(stage)

    def end(self) -> None:
        now = time.perf_counter()
        if self.stage:
            self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self._since
        self._since = now

    def __call__(self, what: str) -> None:
        self.counts[what] += 1
        self._in_stage[what] += 1
        self.bar.set_postfix_str(f"{self.stage}: {what} {self._in_stage[what]}")


# ----------------------------------------------------------------------------- the run
def analyze_dask(directory: Path, out: Path, study: Study, progress: bool, started: float,
                 scheduler: str | None, bootstrap: int | None):
    """The whole study on a cluster, written to ``out`` as the in-memory ``analyze``
    writes it (see the module docstring for what is refused or left out)."""
    problems = refused(study, bootstrap)
    if problems:
        raise InputError(problems)
    from tqdm.auto import tqdm

    from ..scale._reduce import on_step

    with _output.signals_as_exit() as interrupt:
        bar = _output.CheckedBar(tqdm(total=len(STAGES), desc="mace-outcomes (dask)",
                                      disable=not progress, unit="stage"), interrupt)
        steps, staging = Steps(bar), None
        try:
            steps.begin("cluster")
            with cluster(scheduler) as client:
                bar.update(1)
                staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-",
                                                dir=out.parent))
                staging.chmod(0o755)
                writer = Writer(staging, study)
                results: dict = {"study": asdict(study), "directory": str(directory)}
                with warnings.catch_warnings(record=True) as caught, on_step(steps):
                    warnings.simplefilter("always")
                    state = _run(directory, study, writer, results, steps, bar)
                    steps.begin("figures")
                    _figures(writer, study, state)
                    bar.update(1)
                results["engine"] = {"name": "dask", "workers": len(
                    client.scheduler_info().get("workers", {})), "passes": dict(steps.counts),
                    "left_out": list(LEFT_OUT)}
                steps.begin("cluster shutdown")
            results["warnings"] = sorted({f"{w.category.__name__}: {w.message}"
                                          for w in caught})
            steps.begin("report")
            results["engine"]["seconds"] = steps.seconds  # the report's own time is not in
            released = _release.write_released(writer, study, state, results)
            bar.update(1)
            _output.publish(staging, out, writer.files, released, interrupt)
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            bar.close()
    files = [out / p.relative_to(staging) for p in writer.files]
    return Analysis(out=out, results=results, files=files,
                    seconds=time.perf_counter() - started)


def _arms(patients, study: Study, by_arm: pd.Series) -> tuple:
    """(patients with display labels, treated, control, codes, {label: patients}) as the
    in-memory rule; ``by_arm``: the patients per arm code."""
    from .._frames import arm_order
    from ..records.cohort import declared_arms, unmatched_arm_problems

    values = pd.Series(by_arm.index.tolist())
    problems = unmatched_arm_problems(study.arms, values, "patients")
    if problems:
        raise InputError(problems)
    codes, labels, _ = declared_arms(study.arms, values)
    codes = codes or arm_order(values.tolist())
    extra = sorted(set(map(str, values)) - set(map(str, codes)))
    if len(codes) != 2 or extra:
        raise InputError(Problem(f"needs exactly two arms, found {sorted(map(str, values))}",
                                 column="arm", source="patients", fix="filter the Parquet "
                                 "tables to the two arms first ([exclusions] are not on "
                                 f"Dask), {MEMORY}"))
    raw = {"treated": codes[0], "control": codes[1]}
    counts = [int(by_arm[c]) for c in codes]
    if labels and any(labels[c] != c for c in codes):
        patients = patients.assign(arm=patients["arm"].map(labels, meta=("arm", object)))
        codes = [labels[c] for c in codes]
    return patients, codes[0], codes[1], raw, dict(zip(codes, counts, strict=True))


def _run(directory: Path, study: Study, writer: Writer, results: dict, steps: Steps,
         bar) -> dict:
    import dask

    import mace_outcomes as mo

    from ..scale.tte import DaskCohort
    from . import _sections as sections
    from ._sections import ID_COLUMNS as _ID_COLUMNS
    from ._sections import column_labels as _labels
    from ._sections import journal_rows as _journal_rows

    label = study.label
    steps.begin("records")
    with warnings.catch_warnings(record=True) as read_notes:
        warnings.simplefilter("always", UserWarning)
        cohort = mo.read_cohort(directory, aliases=study.aliases or None, engine="dask",
                                apply_exclusions=False)
    n_pat, n_ev, by_arm = dask.compute(cohort.patients.shape[0], cohort.events.shape[0],
                                       cohort.patients["arm"].value_counts())
    patients, treated, control, codes, counts = _arms(cohort.patients, study, by_arm)
    cohort = DaskCohort(patients, cohort.events)
    results["arms"] = {"treated": treated, "control": control, "codes": codes}
    attrition = pd.DataFrame([("input", "records read", n_pat, 0, n_ev),
                              ("analysed", "kept", n_pat, 0, n_ev)],
                             columns=["stage", "reason", "patients", "lesions", "events"])
    arms = [treated, control]
    notes = ["every row of patients/ and events/ passed the record checks on the cluster "
             "(any problem stops the run): all are analysed",
             *{str(w.message) for w in read_notes if "lesions table" in str(w.message)}]
    writer.section("Patient flow", _flow(writer, study, attrition, counts) + writer.table(
        "attrition", attrition, "Attrition: every input row accounted for", notes))
    results["attrition"] = attrition
    bar.update(1)

    steps.begin("follow-up")
    fu = mo.time_to_event(cohort, endpoint="all_cause_death", horizon=None,
                          require_two_arms=False)
    freq = (fu[["arm", "time", "event"]].assign(count=1).groupby(["arm", "time", "event"])
            ["count"].sum().compute().reset_index().rename(columns={"arm": "group"}))
    freq["group"] = freq["group"].astype(str)
    with warnings.catch_warnings():  # frequencies as case weights, not IPTW weights
        warnings.simplefilter("ignore")
        fu_table = _dask_tables.followup_table(freq, study.horizon_days)
    from ..outcomes.followup import FollowUpSummary

    summary = FollowUpSummary(table=fu_table, horizon_days=float(study.horizon_days))
    writer.section("Follow-up", writer.table("followup", fu_table.round(2),
                                             "Follow-up (months)",
                                             [repr(summary).splitlines()[-1]]))
    results["followup"] = fu_table
    bar.update(1)

    steps.begin("baseline tables")
    t1 = _dask_tables.table_one(patients, arms, label, _ID_COLUMNS,
                                "Table 1. Baseline characteristics (patients)")
    writer.section("Table 1", writer.table("table1_patients", t1.table, t1.title, result=t1))
    results["table1"] = t1.table
    bar.update(1)

    steps.begin("propensity")
    covariates = list(study.covariates)
    unknown = [c for c in covariates if c not in cohort.covariates]
    if unknown:
        raise InputError(Problem(f"propensity covariates not in the data: {unknown}",
                                 column="covariates", source=study.source,
                                 fix=f"choose among {cohort.covariates}"))
    keep = ["patient_id", "arm", "time", "event", "status", *covariates]

    def frame(ep):  # kept on the workers: every pass of the fits reads it
        d = mo.time_to_event(cohort, endpoint=study.endpoint(ep), horizon=study.horizon_days)
        return d[keep].persist()

    tte = {study.endpoints[0]: frame(study.endpoints[0])}
    ps = None
    if covariates:
        fit = mo.propensity(tte[study.endpoints[0]], treatment="arm", covariates=covariates,
                            estimand=study.estimand, treated=treated)
        ps = fit.balance()  # the love plot draws this table
        balance = ps.assign(**{c: ps[c].map(lambda v: label(str(v)))
                               for c in ("covariate", "term") if c in ps})
        writer.section("Balance", writer.table(
            "balance", balance.round(4), f"Covariate balance before and after "
            f"{study.estimand} weighting (standardised mean differences; |SMD| < 0.1 "
            "balanced)", [sections.ess_phrase(fit.ess, arms)]))
        results["propensity"] = {"covariates": covariates, "estimand": study.estimand,
                                 "balance": balance, "ess": fit.ess}
        del fit
    bar.update(1)

    steps.begin("endpoints")
    adjustment = sections.adjustment_arguments(study)
    fits, kms, comparisons = {}, {}, {}
    results["endpoints"] = {}
    for ep in study.endpoints:
        steps.begin(f"endpoints: {ep}")
        d = tte.pop(ep) if ep in tte else frame(ep)
        events = d.groupby("arm")["event"].agg(["count", "sum"]).compute()
        n_arm = {a: int(events["count"].get(a, 0)) for a in arms}
        ev_arm = {a: int(events["sum"].get(a, 0)) for a in arms}
        entry: dict = {"n": sum(n_arm.values()), "events": sum(ev_arm.values())}
        if min(ev_arm.values()) == 0:  # the in-memory Firth path is not on Dask
            km = kms[ep] = mo.kaplan_meier(d, group="arm")
            lr = mo.logrank(d, group="arm") if entry["events"] else None
            why = (f"no {label(ep)} events in either arm: no test or model"
                   if not entry["events"] else f"no {label(ep)} events in arm "
                   f"{min(ev_arm, key=ev_arm.get)!r}: the hazard ratio needs the Firth "
                   f"model, not on the Dask engine ({MEMORY})")
            entry.update(km_at_horizon=km.at(study.horizon_days), notes=[why],
                         logrank=None if lr is None else {
                             "statistic": lr.statistic, "df": lr.df, "p": lr.p_value})
        else:
            comp = mo.compare_arms(d, treatment="arm", covariates=covariates or None,
                                   horizon=study.horizon_days, treated=treated, **adjustment)
            # its propensity fits hold Dask series of this endpoint's persisted rows: the
            # figures need only their names, and the workers can then free the rows
            fits[ep] = comp = replace(comp, propensity=dict.fromkeys(comp.propensity))
            lr = comp.tests["crude"]
            entry.update(km_at_horizon=comp.curves["crude"].at(study.horizon_days),
                         logrank={"statistic": lr.statistic, "df": lr.df, "p": lr.p_value})
            if covariates:
                comparisons[ep] = comp
                entry["comparison"] = comp.table
                entry["notes"] = [f"{label(ep)}: {n}" for n in comp.notes]
        results["endpoints"][ep] = entry
        del d  # released on the workers
    if comparisons:
        table = pd.concat([_journal_rows(label(ep), c) for ep, c in comparisons.items()],
                          ignore_index=True)
        notes = [n for ep in comparisons for n in results["endpoints"][ep]["notes"]]
        writer.section("Crude and adjusted comparison", writer.table(
            "comparison", table, "Crude and propensity-weighted comparison by endpoint "
            f"(risk at {study.horizon_days:g} days; full precision in results.json)",
            notes + [n for ep, e in results["endpoints"].items() if ep not in comparisons
                     for n in e.get("notes", [])]))
    writer.section("Dask engine", "".join(writer.paragraph(t, note=True) for t in (
        "Computed on a Dask cluster: every estimate from sums over the partitions, equal "
        "to the in-memory fit.", *LEFT_OUT, *(
            [f"The study file's bootstrap ({study.bootstrap} replicates) is not run on "
             "the Dask engine: the robust confidence intervals are reported."]
            if study.bootstrap and covariates else []))))
    bar.update(1)
    return {"tte": {ep: None for ep in study.endpoints}, "fits": fits, "kms": kms,
            "comparisons": comparisons, "ps": ps, "treated": treated, "control": control,
            "cluster": None, "label": label, "labels": _labels(study, [*study.endpoints,
                                                                       *covariates]),
            "imputed": False}


def _flow(writer: Writer, study: Study, attrition: pd.DataFrame, counts: dict) -> str:
    from ..plots import plot_flow

    fig = plot_flow(attrition, arms=counts, width=study.width)
    return writer.figure("flow", fig, caption=(
        "Patient flow (STROBE 13c): records assessed for eligibility and the patients "
        "analysed in each arm; the numbers are those of the attrition table below."))


def _figures(writer: Writer, study: Study, state: dict) -> None:
    """Crude and first weighted Kaplan-Meier figure per endpoint (the curves and tests
    ``compare_arms`` fitted), the forest plot and the love plot."""
    from ..plots import plot_forest, plot_love
    from ._figures import KMUNICATE, _first_weighted, hr_args, min_cell_option, study_palette

    treated, control, label = state["treated"], state["control"], state["label"]
    palette = study_palette(state)
    common = {"labels": {treated: str(treated), control: str(control)},
              "order": [treated, control], "palette": palette, "unit": study.unit,
              "width": study.width, "risk_table_rows": KMUNICATE, **min_cell_option(study)}
    if study.unit == "months" and study.horizon_days == 365:
        common["breaks"] = (0, 3, 6, 9, 12)
    for ep in state["tte"]:
        comp = state["fits"].get(ep)
        if comp is None:
            panels = [("crude", "crude", state["kms"][ep], None, None)]
        else:
            rows = comp.table.reset_index(drop=True)
            panels = [("crude", "crude", comp.curves["crude"], comp.tests["crude"],
                       rows.iloc[0])]
            k = _first_weighted(comp, rows)
            if k is not None:
                name = rows.loc[k, "analysis"]
                panels.append(("iptw", name, comp.curves[name], comp.tests[name],
                               rows.iloc[k]))
        for suffix, analysis, km, test, row in panels:
            fig = km.plot(kind="event", test=test, **hr_args(row),
                          title=f"{label(ep)}, {analysis}", **common,
                          **({"weighted_counts": "both"} if suffix != "crude" else {}))
            how = "" if suffix == "crude" else f" ({analysis}, inverse-probability weighted)"
            caption = (f"{label(ep)}{how}: Kaplan-Meier cumulative incidence (1 - KM, "
                       "deaths censored) by arm (patients); p from the "
                       + ("IPTW " if suffix != "crude" else "") + "log-rank test. Under the "
                       "curves: at risk, cumulative events and cumulative censored.")
            title = f"Kaplan-Meier: {label(ep)}" + (", weighted" if suffix != "crude" else "")
            writer.section(title, writer.figure(f"km_{ep}_{suffix}", fig, caption=caption))
    if state["comparisons"]:
        rows = [{"label": f"{label(ep)}: {r['analysis']}", "hr": r["hr"], "lower": r["lower"],
                 "upper": r["upper"], "p": r["p"]}
                for ep, comp in state["comparisons"].items() for _, r in comp.table.iterrows()]
        fig = plot_forest(pd.DataFrame(rows), palette=palette,
                          favours=(f"Favours {treated}", f"Favours {control}"))
        writer.section("Forest plot", writer.figure("forest", fig))
    if state["ps"] is not None:
        love = plot_love(state["ps"], labels=state["labels"], palette=palette,
                         width=study.width)
        writer.section("Love plot", writer.figure("love", love))

