"""The main job: the whole study from a cohort folder, in one call.

``analyze`` validates the records, applies the study's exclusions, and writes into
``out/``:

* ``tables/`` -- attrition, follow-up, Tables 1-4, the primary endpoint, balance and the
  crude-vs-adjusted comparison of every endpoint (CSV, Markdown and HTML);
* ``figures/`` -- crude and IPTW Kaplan-Meier figures (cumulative incidence with
  number-at-risk tables) for every endpoint, a multi-panel figure, a forest plot, the
  love plot and the propensity-overlap plot (PDF and PNG by default);
* when the study asks: the analysis pooled over multiple imputations (``missing =
  "impute"``, complete cases as sensitivity analysis), the matched row, sample and figures
  (``adjustment`` with ``"match"``), landmark figures (``landmarks``), total events and
  mean cumulative counts (``recurrent``) and the win ratio (``win_ratio``), built in
  ``_sections`` and ``_primary``;
* ``results.json`` -- every number in the report, machine-readable (strict JSON: a
  number that was not computed, NaN, is ``null``; an infinite one, such as the upper
  limit of a hazard ratio with no events in one arm, is the string ``"Infinity"`` or
  ``"-Infinity"``);
* ``report.html`` -- one self-contained page (figures inline; every text taken from the
  data or the study file is HTML-escaped, so labels cannot inject markup or scripts);
* ``report.docx`` -- the same headings, tables, figures and notes as a Word document
  (when python-docx is installed).

With ``[report] min_cell`` the counts from 1 to ``min_cell - 1`` are suppressed in every
table, figure and in ``results.json`` alike (a section of the report says so).

Everything is built in a temporary folder next to ``out`` and moved into place only when
the whole study ran: bad input stops with the validation report and writes nothing, and
SIGTERM / SIGHUP remove the temporary folder before the process exits. A marker file in
``out`` lists every file written; a later run replaces only those, and refuses a folder
holding anything else (see ``_output``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from . import _output, _release
from . import _sections as sections
from ._adjusted import adjusted_section
from ._figures import figures, flow_figure
from ._html import Writer as _Writer
from ._output import Analysis
from ._primary import primary_endpoint
from .study import Study, read_study

_ID_COLUMNS = sections.ID_COLUMNS


# -------------------------------------------------------------------------- helpers
MARKER = _output.MARKER
_check_output_folder = _output.check_output_folder


def _bundled_directory() -> Path:
    from ..datasets import example_path

    return Path(example_path())


def _describable(frame: pd.DataFrame, exclude=()) -> tuple[list[str], dict[str, str]]:
    """Columns to describe, and the free-text or identifier columns left out with why
    (ids, dates and the ``exclude`` list are not candidates)."""
    from ..tables.columns import describable_columns

    return describable_columns(frame[[c for c in frame.columns if c not in _ID_COLUMNS
                                      and c not in set(exclude)
                                      and not c.endswith("_date")]])


def _covariates(frame: pd.DataFrame, exclude=()) -> list[str]:
    """Columns to describe: not ids, dates or the ``exclude`` list, nor free text or
    identifiers (the tables' rule; ``table_one`` notes what its own choice left out)."""
    return _describable(frame, exclude)[0]


def _exclusion_columns(study: Study, frame: pd.DataFrame) -> list[str]:
    """Columns the exclusion criteria test: constant after exclusion, not worth a row."""
    from ..records.expr import columns  # the parser's own reading of each criterion

    used = {c for text in study.exclusions.values() for c in columns(text)}
    return [c for c in frame.columns if c in used and c != "arm"]


def _arms(cohort, study: Study) -> tuple:
    """(cohort with the arms under their display labels, treated label, control label,
    {"treated": code, "control": code}). Empty ``arms``: both from the data, the first
    sorted code the reference (the package's one rule)."""
    import copy

    from .._frames import arm_order
    from .preflight import study_arms

    codes, labels = study_arms(cohort, study)
    if not codes:
        codes = arm_order(cohort.patients["arm"].dropna())
    if len(codes) != 2:
        raise InputError(Problem(f"needs exactly two arms after exclusions, found {codes}",
                                 column="arm", source="patients"))
    raw = {"treated": codes[0], "control": codes[1]}
    if labels and any(labels[c] != c for c in codes):  # {code = "label"}: label every output
        cohort = copy.copy(cohort)
        cohort.patients = cohort.patients.assign(arm=cohort.patients["arm"].map(labels))
        codes = [labels[c] for c in codes]
    cohort.study = {**(cohort.study or {}), "study": {**(cohort.study or {}).get("study", {}),
                                                      "arms": list(codes)}}
    return cohort, codes[0], codes[1], raw


def _missing_data(cohort, study: Study, treated) -> tuple:
    """The missingness table of the patients' characteristics; then, under [study]
    missing = "complete_case", the cohort without the patients (or, at lesion level, the
    lesions) missing a propensity covariate: one attrition line per variable, in order."""
    from ..tables.missingness import missingness

    patients = cohort.patients
    table = missingness(patients, _covariates(patients, _exclusion_columns(study, patients)),
                        group="arm", treated=treated)
    if study.missing == "complete_case":
        for col in study.covariates:
            if col in cohort.patients and cohort.patients[col].isna().any():
                cohort = cohort.exclude(f"missing {col}", cohort.patients[col].isna())
            elif (cohort.lesions is not None and col in cohort.lesions
                  and cohort.lesions[col].isna().any()):
                cohort = cohort.exclude_lesions(f"missing {col}", cohort.lesions[col].isna())
    return cohort, table


# ----------------------------------------------------------------------------- the study
def analyze(directory: str | Path | None = None, out: str | Path = "results", *,
            study: str | Path | Study | None = None, bootstrap: int | None = None,
            progress: bool = True, engine: str = "memory",
            scheduler: str | None = None) -> Analysis:
    """Run the whole study and write tables, figures, ``results.json``, ``report.html``
    and ``report.docx`` (the same report for journal submission, when python-docx is
    installed; without it a warning in the report says so).

    Parameters
    ----------
    directory : cohort folder (patients / lesions / events tables and optionally
        ``study.toml``); ``None`` runs the bundled, synthetic example cohort.
    out : output folder, new or empty or written by an earlier run; when the run
        succeeds the earlier run's files (listed in its marker) are replaced, and a
        folder holding anything else is refused.
    study : a study file (or :class:`Study`); default ``directory/study.toml`` (used
        when present). A file named here must exist: a wrong path is an ``InputError``.
    bootstrap : replicates for the bootstrap of the adjusted hazard ratio of the first
        endpoint (overrides the study file; 0 switches it off).
    progress : show a progress bar (with ``engine="dask"``: the stage and each Newton
        step of the Cox and propensity fits).
    engine : ``"memory"`` (default) reads the tables into memory; ``"dask"`` runs the
        study on a Dask cluster, for registries too large for one process: ``patients/``
        and ``events/`` as Parquet datasets, patient level only (settings it cannot run
        are refused before any work; ``pip install "mace_outcomes[dask]"``; see
        :mod:`mace_outcomes.report._dask`).
    scheduler : with ``engine="dask"``, the address of a running Dask scheduler
        (``"tcp://HOST:8786"``; its workers need mace_outcomes installed), which is
        never shut down; ``None`` starts a local cluster of ``min(2, cores)``
        single-threaded worker processes and closes it at the end, also on error.

    Returns
    -------
    Analysis (``out``, ``results`` dict as in results.json but with exact counts under
    ``[report] min_cell``, ``files`` written).

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> mo.analyze(out="results", bootstrap=200, progress=False)  # doctest: +SKIP
    """
    started = time.perf_counter()
    if engine not in ("memory", "dask") or (scheduler is not None and engine != "dask"):
        raise InputError(Problem(f"engine must be 'memory' or 'dask', not {engine!r}"
                                 if engine not in ("memory", "dask") else
                                 "a scheduler is used only with engine='dask'",
                                 column="engine", fix="engine='dask' (CLI: --engine dask)"))
    directory = _bundled_directory() if directory is None else Path(directory)
    if not directory.is_dir():
        raise InputError(Problem("cohort folder not found", source=str(directory)))
    if study is None:  # the cohort folder's own study file need not exist
        study = read_study(directory / "study.toml")
    elif not isinstance(study, Study):  # a file named explicitly must (no silent defaults)
        study = read_study(study, required=True)
    if bootstrap is not None:
        study.bootstrap = int(bootstrap)
    if isinstance(study.horizon_days, str):  # "1y", "12m", "365d"
        from .study import horizon_in_days

        study.horizon_days = horizon_in_days(study.horizon_days)
    out = Path(out).resolve()
    _check_output_folder(out, directory.resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    if engine == "dask":
        from ._dask import analyze_dask

        return analyze_dask(directory, out, study, progress, started, scheduler, bootstrap)
    with _output.signals_as_exit() as interrupt:  # a killed run removes its staging too
        return _analyze(directory, out, study, progress, started, interrupt)


def _analyze(directory: Path, out: Path, study: Study, progress: bool, started: float,
             interrupt: _output.Interrupt) -> Analysis:
    from tqdm.auto import tqdm

    steps = ["records", "follow-up", "baseline tables", "primary endpoint", "propensity",
             "endpoints", "figures", "report"]
    bar = _output.CheckedBar(tqdm(total=len(steps), desc="mace-outcomes",
                                  disable=not progress, unit="step"), interrupt)
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; results are meant to be shared
        writer = _Writer(staging, study)
        results: dict = {"study": asdict(study), "directory": str(directory)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = _run(directory, study, writer, results, bar)
            results["adjusted_risk"] = adjusted_section(writer, study, state)  # STROBE 16c
        bar.set_postfix_str("figures")
        figures(writer, study, state)
        with warnings.catch_warnings(record=True) as later:
            warnings.simplefilter("always")
            sections.beyond_first_event(writer, study, state, results)  # only what the study asks
        results["warnings"] = sorted({f"{w.category.__name__}: {w.message}"
                                      for w in [*caught, *later]})
        bar.update(1)
        bar.set_postfix_str("report")
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


def _run(directory: Path, study: Study, writer: _Writer, results: dict, bar) -> dict:
    import mace_outcomes as mo

    from ..outcomes import followup_summary
    from .preflight import preflight

    def step(name):
        bar.set_postfix_str(name)

    # -- records: the checks `mace-outcomes validate` runs, every problem at once ---------
    step("records")
    cohort, problems = preflight(directory, study)
    if problems:
        raise InputError(problems)
    if study.level == "lesion" and cohort.lesions is not None and len(cohort.lesions):
        from ..records.tte import without_lesionless

        # as time_to_event does at lesion level, before the flow and the tables, so the
        # attrition shows the patients without lesion records and no table counts them
        cohort = without_lesionless(cohort)
    cohort, treated, control, codes = _arms(cohort, study)
    results["arms"] = {"treated": treated, "control": control, "codes": codes}
    label = study.label
    cohort, missing = _missing_data(cohort, study, treated)
    attrition = cohort.attrition
    writer.section("Patient flow", flow_figure(writer, study, cohort, [treated, control])
                   + writer.table("attrition", attrition, "Attrition: every input row "
                                  "accounted for"))
    results["attrition"] = attrition
    statement = sections.primary_statement(study)  # impute: said where it is done
    writer.section("Missing data", (sections.paragraph(statement) if study.missing ==
                                    "complete_case" else "") + writer.table(
        "missingness", missing.table.round(1), "Missing values by arm (patients, STROBE 14b)",
        missing.notes, result=None))
    results["primary_analysis"] = statement
    results["missingness"] = missing.table
    bar.update(1)

    # -- follow-up ------------------------------------------------------------------------
    step("follow-up")
    fu = followup_summary(cohort, horizon=study.horizon_days)
    writer.section("Follow-up", writer.table("followup", fu.table.round(2), "Follow-up (months)",
                                             [repr(fu).splitlines()[-1]]))
    results["followup"] = fu.table
    bar.update(1)

    # -- Tables 1-3 -----------------------------------------------------------------------
    step("baseline tables")
    patients = cohort.patients
    # table_one chooses the columns by the same rule as _covariates and notes what it left out
    t1 = mo.table_one(patients, group="arm", exclude=[*_ID_COLUMNS, *_exclusion_columns(
        study, patients)], arms=[treated, control], labels=_labels(study, patients),
        title="Table 1. Baseline characteristics (patients)")
    writer.section("Table 1", writer.table("table1_patients", t1.table, t1.title, result=t1))
    results["table1"] = t1.table
    lesions, computed_expansion = None, False
    if cohort.lesions is not None and len(cohort.lesions):
        # lesion rows carry their patient's arm and baseline covariates (confounders of
        # a lesion-level comparison are often patient-level, e.g. renal insufficiency)
        lesions = cohort.lesions.merge(patients, on="patient_id", suffixes=("", "_patient"))
        exp_cols = ("minimum_stent_area_mm2", "proximal_ref_lumen_csa_mm2",
                    "distal_ref_lumen_csa_mm2")
        # computed only when the study asks for it and the lesions table lacks it
        computed_expansion = (study.primary_outcome == "stent_expansion"
                              and "stent_expansion" not in lesions
                              and all(c in lesions for c in exp_cols))
        if computed_expansion:
            lesions["stent_expansion"] = mo.stent_expansion(lesions)
        lesion_columns = [c for c in cohort.lesions.columns if c in lesions]
        lesion_columns += ["stent_expansion"] if computed_expansion else []
        procedural = [c for c in study.procedural if c in lesions]
        described, left_out = _describable(lesions[lesion_columns],
                                           exclude=["vessel", *procedural])
        t2 = mo.table_one(lesions, group="arm", variables=described + ["vessel"],
                          arms=[treated, control], labels=_labels(study, lesions),
                          title="Tables 2-3. Lesion, procedural and imaging characteristics "
                                "(lesions)")
        if left_out:  # chosen here, not by table_one: say what was left out, and why
            from ..tables.columns import left_out_note

            t2 = replace(t2, warnings=(*t2.warnings, left_out_note(left_out)))
        writer.section("Tables 2-3", writer.table("table2_3_lesions", t2.table, t2.title,
                                                  result=t2))
        results["table2_3"] = t2.table
        if procedural:
            t4 = mo.table_one(lesions, group="arm", variables=procedural,
                              categorical=procedural, arms=[treated, control],
                              labels=_labels(study, procedural),
                              title="Table 4a. Procedural outcomes (lesions)")
            writer.section("Table 4a", writer.table("table4a_procedural", t4.table, t4.title,
                                                    result=t4))
            results["table4_procedural"] = t4.table
    bar.update(1)

    # -- primary endpoint (lesion level, clustered in patients) ---------------------------
    step("primary endpoint")
    primary_endpoint(writer, study, cohort, lesions, computed_expansion,
                     treated, control, results)
    bar.update(1)

    # -- time-to-event data and propensity -----------------------------------------------
    step("propensity")
    level, cluster = study.level, ("patient_id" if study.level == "lesion" else None)
    tte = {ep: mo.time_to_event(cohort, endpoint=study.endpoint(ep), horizon=study.horizon_days,
                                level=level) for ep in study.endpoints}
    first = tte[study.endpoints[0]]
    unknown = [c for c in study.covariates if c not in first]
    if unknown:
        raise InputError(Problem(f"propensity covariates not in the data: {unknown}",
                                 column="covariates", source=study.source,
                                 fix=f"choose among {_covariates(first)}"))
    covariates = list(study.covariates)
    imps = {}
    if sections.needs_imputation(study, first, covariates):  # missing = "impute"
        imps = sections.impute_endpoints(cohort, tte, study, covariates)
        n_complete = int(first[covariates].notna().all(axis=1).sum())
        body, results["imputation"] = sections.imputation_section(
            writer, study, imps, label, study.estimand, len(first), n_complete)
        writer.section(sections.IMPUTATION, body)
    ps = None
    if covariates:
        ps = mo.propensity(imps.get(study.endpoints[0], first), treatment="arm",
                           covariates=covariates, estimand=study.estimand, treated=treated)
        balance = ps.balance()
        balance = balance.assign(**{c: balance[c].map(lambda v: label(str(v)))
                                    for c in ("covariate", "term") if c in balance})
        ess = (sections.ess_phrase(ps.ess, [treated, control]) if not imps else "propensity model "
               f"re-fitted in each of the m = {ps.m} imputations; SMDs averaged over them, "
               "max_abs_smd_weighted the worst imputation")
        writer.section("Balance", writer.table(
            "balance", balance.round(4), f"Covariate balance before and after {study.estimand}"
            " weighting (standardised mean differences; |SMD| < 0.1 balanced)", [ess]))
        results["propensity"] = {"covariates": covariates, "estimand": study.estimand,
                                 "balance": balance, "ess": getattr(ps, "ess", None)}
    bar.update(1)

    # -- endpoints ------------------------------------------------------------------------
    step("endpoints")
    unit = "lesions" if study.level == "lesion" else "patients"
    out_tab = mo.outcome_table({label(ep): d for ep, d in tte.items()}, group="arm",
                               horizon=study.horizon_days, arms=[treated, control],
                               cluster=cluster, title=f"Table 4b. Clinical outcomes ({unit}"
                               + (", clustered by patient)" if cluster else ")"))
    writer.section("Table 4b", writer.table("table4_outcomes", out_tab.table, out_tab.title,
                                           result=out_tab))
    results["table4"] = out_tab.table
    # One compare_arms per endpoint with events: its crude (and weighted) curves and tests
    # are what results.json reports and what the figures draw, never fitted a second time.
    comparisons, fits, kms, complete_cases = {}, {}, {}, {}
    adjustment = sections.adjustment_arguments(study)
    results["endpoints"] = {}
    for i, ep in enumerate(study.endpoints):
        d = tte[ep]
        n_events = int(d["event"].sum())
        entry: dict = {"n": len(d), "events": n_events}
        if n_events == 0:  # nothing to compare: say so rather than fail
            kms[ep] = km = mo.kaplan_meier(d, group="arm", cluster=cluster)  # for the figure
            entry.update(km_at_horizon=km.at(study.horizon_days), logrank=None,
                         notes=[f"no {label(ep)} events in either arm: no test or model"])
            results["endpoints"][ep] = entry
            continue
        if ep in imps:  # pooled over the imputations; complete cases as sensitivity
            pooled, cc = sections.compare_imputed(imps[ep], d, study, covariates, cluster,
                                                  treated, adjustment)
            rows = sections.pooled_rows(pooled)
            # the figures draw the crude curves, which use no imputed value
            fits[ep] = comp = replace(pooled.per_imputation[0],
                                      table=pooled.per_imputation[0].table.iloc[:1])
            comparisons[ep], complete_cases[ep] = rows, cc
            lr = comp.tests["crude"]
            entry.update(km_at_horizon=comp.curves["crude"].at(study.horizon_days),
                         logrank={"statistic": lr.statistic, "df": lr.df, "p": lr.p_value},
                         comparison=rows, pooled=pooled.table, complete_case=cc.table,
                         notes=[f"{label(ep)}: {n}" for n in [*pooled.notes, *cc.notes]])
            results["endpoints"][ep] = entry
            continue
        n_boot = study.bootstrap if (i == 0 and covariates) else 0
        comp = mo.compare_arms(d, treatment="arm", covariates=covariates or None,
                               cluster=cluster, horizon=study.horizon_days, treated=treated,
                               n_boot=n_boot, seed=study.seed, n_jobs=2 if n_boot else 1,
                               progress=False, **adjustment)
        fits[ep] = comp
        lr = comp.tests["crude"]
        entry.update(km_at_horizon=comp.curves["crude"].at(study.horizon_days),
                     logrank={"statistic": lr.statistic, "df": lr.df, "p": lr.p_value})
        if covariates:
            comparisons[ep] = comp
            entry["comparison"] = comp.table
            entry["notes"] = [f"{label(ep)}: {n}" for n in comp.notes]
        results["endpoints"][ep] = entry
    if comparisons:
        table = pd.concat([_journal_rows(label(ep), c) if ep not in imps else
                           sections.pooled_journal_rows(label(ep), c, treated, control)
                           for ep, c in comparisons.items()], ignore_index=True)
        if "bootstrap 95% CI" in table:  # bootstrapped for the first endpoint only
            table["bootstrap 95% CI"] = table["bootstrap 95% CI"].fillna("")
        notes = [n for ep in comparisons for n in results["endpoints"][ep]["notes"]]
        pooled_note = ([results["imputation"]["primary"]] if imps else [])
        writer.section("Crude and adjusted comparison", writer.table(
            "comparison", table, "Crude and propensity-weighted comparison by endpoint "
            f"(risk at {study.horizon_days:g} days; full precision in results.json)"
            + (f"; pooled over m = {study.m} imputations" if imps else ""),
            pooled_note + notes))
    if complete_cases:
        writer.section(sections.COMPLETE_CASE, writer.table(
            "comparison_complete_case", pd.concat(
                [_journal_rows(label(ep), c) for ep, c in complete_cases.items()],
                ignore_index=True), "Sensitivity analysis: complete cases (patients "
            "missing a propensity covariate left out)", [
                f"{label(ep)}: {n}" for ep, c in complete_cases.items() for n in c.notes]))
    bar.update(1)
    return {"tte": tte, "fits": fits, "kms": kms, "comparisons": comparisons, "ps": ps,
            "treated": treated, "control": control, "cluster": cluster, "label": label,
            "labels": {c: label(c) for c in [*tte, *covariates]}, "cohort": cohort,
            "imputed": bool(imps)}


_labels, _journal_rows = sections.column_labels, sections.journal_rows
