"""The cohort: validated records plus the account of every exclusion.

A :class:`Cohort` holds the ``patients``, ``lesions`` and ``events`` tables after
validation (:mod:`.validate`), and an attrition table that accounts for every input
patient, lesion and event: each is either kept or excluded by a named criterion.
Exclusions are applied with :meth:`Cohort.exclude` or, when a cohort is read from a
folder, from the ``[exclusions]`` table of its ``study.toml``, in order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .._display import frame_html, frame_text
from ..errors import InputError, Problem, ValidationError
from .expr import evaluate
from .io import read_study, read_table, read_tables
from .validate import arm_problems, followup_dates, validate_records

_EXCLUDED_COLUMNS = ["table", "id", "patient_id", "reason"]


class Cohort:
    """Validated follow-up records of a cohort.

    Parameters
    ----------
    patients : one row per patient: ``patient_id``, ``arm``, ``index_date``,
        ``last_contact_date``, then baseline covariates.
    events : one row per event: ``event_id``, ``patient_id``, optional ``lesion_id``,
        ``event_type`` (ARC-2 name or an alias), ``event_date``, optional
        ``target_vessel`` and ``st_certainty``.
    lesions : optional, one row per lesion: ``lesion_id``, ``patient_id``, ``vessel``,
        then lesion covariates.
    aliases : maps your event codes onto ARC-2 names (dict, or DataFrame with columns
        ``code`` and ``event_type``).
    truth : for simulated cohorts, the true effects (see ``simulate_registry``).
    source : where the records came from (file names), for messages and reports.
    study : the parsed ``study.toml`` (title, arms, exclusions, ...), if any.
    warn : warn (:class:`FollowUpWarning`) when events after the last contact extend
        follow-up.

    Raises
    ------
    ValidationError
        listing every problem in the records at once (see :mod:`.validate`).

    Attributes
    ----------
    patients, events, lesions : the kept records (normalised: ids as text -- ``7`` and
        ``7.0`` become ``"7"``, as when read from a file --, dates parsed, ARC-2 event
        names).
    attrition : DataFrame accounting for every input row (see :attr:`attrition`).
    excluded : DataFrame with one row per excluded patient, lesion or event and the
        criterion that excluded it.
    notes : what validation changed (e.g. follow-up extended by late events).

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> p = pd.DataFrame({"patient_id": [1, 2], "arm": ["OCT", "IVUS"],
    ...                   "index_date": ["2020-01-01", "2020-02-01"],
    ...                   "last_contact_date": ["2021-01-01", "2021-02-01"]})
    >>> e = pd.DataFrame({"event_id": [1], "patient_id": [2], "event_type": ["mi"],
    ...                   "event_date": ["2020-03-02"]})
    >>> cohort = mo.Cohort(patients=p, events=e)
    >>> cohort.exclude("not OCT", "arm != 'OCT'").attrition["patients"].tolist()
    [2, 1, 1]
    """

    def __init__(
        self,
        patients: pd.DataFrame,
        events: pd.DataFrame,
        lesions: pd.DataFrame | None = None,
        *,
        aliases: Mapping | pd.DataFrame | None = None,
        truth: dict | None = None,
        source: Mapping | str | None = None,
        study: dict | None = None,
        warn: bool = True,
    ):
        if isinstance(source, str):
            source = {"origin": source}
        sources = dict(source or {})
        if aliases is None and study and isinstance(study.get("aliases"), dict):
            aliases = study["aliases"]
        rec = validate_records(patients, events, lesions, aliases=aliases,
                               sources={k: v for k, v in sources.items()
                                        if k in ("patients", "lesions", "events")},
                               warn=warn)
        self.patients: pd.DataFrame = rec.patients
        self.events: pd.DataFrame = rec.events
        self.lesions: pd.DataFrame | None = rec.lesions
        self.notes: list[str] = rec.notes
        self.truth = truth
        self.source: dict = sources
        self.study: dict | None = study
        self._input = self._counts()
        self._steps: list[tuple[str, int, int, int]] = []
        self._excluded = pd.DataFrame(columns=_EXCLUDED_COLUMNS)

    # ------------------------------------------------------------------ accounting
    def _counts(self) -> tuple[int, int, int]:
        return (len(self.patients), 0 if self.lesions is None else len(self.lesions),
                len(self.events))

    @property
    def attrition(self) -> pd.DataFrame:
        """Flow of records: input, each named exclusion in order, analysed.

        Columns ``stage`` (``input`` / ``excluded`` / ``analysed``), ``reason``,
        ``patients``, ``lesions``, ``events``. The excluded rows plus the analysed
        row add up to the input row, so every input record is accounted for
        (the flow diagram of a paper: screened, excluded because..., analysed).
        """
        rows = [("input", "records read", *self._input)]
        rows += [("excluded", name, *n) for name, *n in self._steps]
        rows.append(("analysed", "kept", *self._counts()))
        return pd.DataFrame(rows, columns=["stage", "reason", "patients", "lesions", "events"])

    @property
    def excluded(self) -> pd.DataFrame:
        """One row per excluded record: ``table``, ``id``, ``patient_id``, ``reason``."""
        return self._excluded.reset_index(drop=True)

    def exclude(self, name: str, mask: pd.Series | np.ndarray | str) -> Cohort:
        """A new cohort without the patients meeting an exclusion criterion.

        Parameters
        ----------
        name : the criterion as it should appear in the flow diagram
            (e.g. ``"in-stent restenosis"``).
        mask : which patients to exclude: a boolean Series / array aligned with
            ``patients``, or an expression on ``patients`` (e.g.
            ``"in_stent_restenosis == 1"``). Their lesions and events go with them.
            An expression is parsed by :mod:`.expr`, never run as Python: column names
            (`` `name with spaces` ``), literals, ``== != < <= > >=`` (chained too),
            ``and or not`` (or ``& | ~``), ``x in [...]``, ``x not in [...]``,
            ``isna(x)``, ``notna(x)``. A missing value compares False (``!=``: True),
            so ``"x == 1"`` keeps patients with ``x`` missing; a boolean mask with
            missing values is refused.

        Returns
        -------
        Cohort with the exclusion recorded in :attr:`attrition` and :attr:`excluded`.
        """
        p = self.patients
        if isinstance(mask, str):
            # name the study file when the criterion is one of its [exclusions]
            listed = (self.study or {}).get("exclusions")
            from_study = isinstance(listed, dict) and listed.get(name) == mask
            origin = Path(self.source.get("origin", ""))
            source = (f"{origin / 'study.toml'} (on patients)"
                      if from_study and origin.is_dir() else "patients")
            hit = evaluate(mask, p, name=name, source=source)
        else:
            hit = mask
        if isinstance(hit, pd.Series):
            if not hit.index.equals(p.index):
                # Align on the index (a mask computed from a subset or a re-sorted copy of
                # ``patients``); patients it does not mention would be silently kept.
                unmatched = ~p.index.isin(hit.index)
                if unmatched.any() or not hit.index.is_unique:
                    raise InputError(Problem(
                        f"exclusion '{name}': mask has {len(hit)} values whose index does "
                        f"not cover the {len(p)} patients", source="patients",
                        rows=tuple(p.loc[unmatched, "patient_id"].tolist()),
                        fix="compute the mask from cohort.patients"))
                hit = hit.reindex(p.index)
            hit = hit.to_numpy()
        hit = np.asarray(hit)
        if hit.shape != (len(p),):
            raise InputError(Problem(f"exclusion '{name}': mask has shape {hit.shape} for "
                                     f"{len(p)} patients", source="patients"))
        if hit.dtype == object:
            na = pd.isna(hit)
            if na.any():
                rows = tuple(p.loc[na, "patient_id"].tolist())
                raise InputError(Problem(f"exclusion '{name}': criterion is missing for "
                                         f"some patients", source="patients", rows=rows,
                                         fix="decide how to treat missing values "
                                             "(e.g. 'x == 1' vs 'x != 0')"))
        if hit.dtype != bool:
            if not np.isin(hit, (0, 1, True, False)).all():
                raise InputError(Problem(f"exclusion '{name}': mask must be boolean",
                                         source="patients"))
            hit = hit.astype(bool)

        gone = set(p.loc[hit, "patient_id"].tolist())
        new = copy.copy(self)
        new.patients = p.loc[~hit]
        gone_events = self.events["patient_id"].isin(gone)
        new.events = self.events.loc[~gone_events]
        parts = [pd.DataFrame({"table": "patients", "id": p.loc[hit, "patient_id"],
                               "patient_id": p.loc[hit, "patient_id"], "reason": name})]
        n_les = 0
        if self.lesions is not None:
            gone_les = self.lesions["patient_id"].isin(gone)
            new.lesions = self.lesions.loc[~gone_les]
            n_les = int(gone_les.sum())
            parts.append(pd.DataFrame({"table": "lesions",
                                       "id": self.lesions.loc[gone_les, "lesion_id"],
                                       "patient_id": self.lesions.loc[gone_les, "patient_id"],
                                       "reason": name}))
        parts.append(pd.DataFrame({"table": "events",
                                   "id": self.events.loc[gone_events, "event_id"],
                                   "patient_id": self.events.loc[gone_events, "patient_id"],
                                   "reason": name}))
        parts = [x.astype(object) for x in parts if len(x)]
        new._excluded = (pd.concat([self._excluded.astype(object)] + parts, ignore_index=True)
                         if parts else self._excluded)
        new._steps = self._steps + [(name, int(hit.sum()), n_les, int(gone_events.sum()))]
        return new

    def exclude_lesions(self, name: str, mask: pd.Series | np.ndarray | str) -> Cohort:
        """A new cohort without the lesions meeting an exclusion criterion.

        ``mask`` is a boolean Series / array aligned with ``lesions`` or an expression on
        the lesions table, in the language of :meth:`exclude` (e.g. ``"treated == 0"``
        for untreated lesions). Events recorded against an excluded lesion go with it;
        the patient stays (at lesion level a patient left without lesions is dropped by
        :func:`time_to_event`, which says so in its attrition).
        """
        les = self.lesions
        if les is None:
            raise InputError(Problem(f"lesion exclusion '{name}': the cohort has no lesions "
                                     "table", source="lesions",
                                     fix="remove it, or add a lesions table"))
        hit = evaluate(mask, les, name=name, source="lesions") if isinstance(mask, str) \
            else np.asarray(mask)
        hit = np.asarray(hit)
        if hit.shape != (len(les),) or pd.isna(hit).any():
            raise InputError(Problem(f"lesion exclusion '{name}': mask must be one boolean "
                                     f"per lesion ({len(les)})", source="lesions"))
        hit = hit.astype(bool)
        gone = set(les.loc[hit, "lesion_id"].tolist())
        ev = self.events
        gone_events = (ev["lesion_id"].isin(gone).to_numpy() if "lesion_id" in ev
                       else np.zeros(len(ev), bool))
        new = copy.copy(self)
        new.lesions = les.loc[~hit]
        new.events = ev.loc[~gone_events]
        parts = [pd.DataFrame({"table": "lesions", "id": les.loc[hit, "lesion_id"],
                               "patient_id": les.loc[hit, "patient_id"], "reason": name}),
                 pd.DataFrame({"table": "events", "id": ev.loc[gone_events, "event_id"],
                               "patient_id": ev.loc[gone_events, "patient_id"],
                               "reason": name})]
        parts = [x.astype(object) for x in parts if len(x)]
        new._excluded = (pd.concat([self._excluded.astype(object)] + parts, ignore_index=True)
                         if parts else self._excluded)
        new._steps = self._steps + [(name, 0, int(hit.sum()), int(gone_events.sum()))]
        return new

    # ------------------------------------------------------------------ views
    @property
    def arms(self) -> list:
        """Arm labels: the study's declared ``arms`` if given (matched to the codes in
        the data, see :func:`declared_arms`), else the labels present."""
        declared = (self.study or {}).get("study", {}).get("arms")
        codes, _, unmatched = declared_arms(declared, self.patients["arm"])
        if codes and not unmatched:
            return codes
        return sorted(pd.unique(self.patients["arm"].dropna()).tolist(), key=str)

    @property
    def covariates(self) -> list[str]:
        """Baseline covariate columns of ``patients`` (everything but ids, arm, dates)."""
        fixed = {"patient_id", "arm", "index_date", "last_contact_date"}
        return [c for c in self.patients.columns if c not in fixed]

    @property
    def lesion_covariates(self) -> list[str]:
        """Lesion covariate columns of ``lesions`` (everything but the ids)."""
        if self.lesions is None:
            return []
        return [c for c in self.lesions.columns if c not in ("lesion_id", "patient_id")]

    @property
    def followup(self) -> pd.DataFrame:
        """Per patient: ``patient_id``, ``end_date``, ``death_date``, ``days``, ``extended``.

        Follow-up ends at death, else at the later of the last contact and the last event.
        """
        f = followup_dates(self.patients, self.events)
        days = (f["end_date"] - self.patients["index_date"]) / pd.Timedelta(days=1)
        return pd.DataFrame({"patient_id": self.patients["patient_id"],
                             "end_date": f["end_date"], "death_date": f["death_date"],
                             "days": days, "extended": f["extended"]}).reset_index(drop=True)

    def check_arms(self) -> None:
        """Raise :class:`ValidationError` unless ``arm`` has exactly two labels."""
        declared = (self.study or {}).get("study", {}).get("arms")
        source = self.source.get("patients", "patients")
        problems = unmatched_arm_problems(declared, self.patients["arm"], source)
        if not problems:
            codes = declared_arms(declared, self.patients["arm"])[0]
            problems = arm_problems(self.patients, codes or None, source=source)
        if problems:
            raise ValidationError(problems)

    def summary(self) -> str:
        """A plain-text description: counts by arm, events by type, follow-up, attrition."""
        p = self.patients
        lines = []
        title = (self.study or {}).get("study", {}).get("title")
        if title:
            lines.append(title)
        if self.truth is not None:
            lines.append("SYNTHETIC (simulated) cohort")
        n_les = 0 if self.lesions is None else len(self.lesions)
        lines.append(f"Cohort: {len(p)} patients, "
                     f"{'no lesions table' if self.lesions is None else f'{n_les} lesions'}, "
                     f"{len(self.events)} events")
        arm = p["arm"].astype(object).fillna("<missing>")
        counts = arm.value_counts(sort=False)
        order = [a for a in self.arms if a in counts.index]
        counts = counts.reindex(order + [a for a in counts.index if a not in order])
        by_arm = pd.DataFrame({"patients": counts})
        if self.lesions is not None:
            la = self.lesions["patient_id"].map(p.set_index("patient_id")["arm"])
            by_arm["lesions"] = la.astype(object).fillna("<missing>").value_counts()
        by_arm = by_arm.fillna(0).astype(int)
        lines.append("")
        lines.append(frame_text("By arm:", by_arm))
        if len(self.events):
            ea = self.events["patient_id"].map(p.set_index("patient_id")["arm"])
            ct = pd.crosstab(self.events["event_type"],
                             ea.astype(object).fillna("<missing>").rename("arm"))
            lines.append("")
            lines.append(frame_text("Events by type and arm (all recorded events):", ct))
        if len(p):
            fu = self.followup["days"]
            lines.append("")
            lines.append(f"Follow-up (days): median {fu.median():.0f}, "
                         f"range {fu.min():.0f}-{fu.max():.0f}")
        n_arms = arm.nunique()
        if n_arms != 2:
            lines.append(f"Note: {n_arms} arm label(s); a two-arm comparison needs exactly "
                         f"two (exclude the others).")
        lines.append("")
        lines.append(frame_text("Attrition:", self.attrition))
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        n_les = "" if self.lesions is None else f", {len(self.lesions)} lesions"
        counts = self.patients["arm"].astype(object).value_counts(sort=False)
        arms = ", ".join(f"{k}: {v}" for k, v in counts.items())
        return (f"<Cohort: {len(self.patients)} patients{n_les}, {len(self.events)} events; "
                f"arms {arms}; {len(self._steps)} exclusion(s)>")

    def _repr_html_(self) -> str:
        return frame_html(repr(self).strip("<>"), self.attrition)


def read_cohort(
    path_or_dir: str | Path,
    aliases: Mapping | pd.DataFrame | None = None,
    *,
    apply_exclusions: bool = True,
    warn: bool = True,
    engine: str = "pandas",
) -> Cohort:
    """Read and validate a cohort from a folder (or one Excel workbook).

    The folder holds ``patients.*``, ``events.*`` and optionally ``lesions.*`` as
    ``.csv``, ``.parquet``, ``.xlsx`` or ``.sav`` (SPSS value labels become
    categories), and optionally ``study.toml``. When ``study.toml`` has an
    ``[exclusions]`` table (name = an expression on patients, e.g.
    ``"in-stent restenosis" = "in_stent_restenosis == 1"``; see
    :meth:`Cohort.exclude` for the language, which is parsed, never run as Python),
    the exclusions are applied in the file's order and recorded in
    ``cohort.attrition``; an ``[exclusions.lesions]`` table (name = an expression on
    lesions, e.g. ``"untreated lesion" = "stents_implanted == 0"``) then excludes lesions
    (:meth:`Cohort.exclude_lesions`). Event-code aliases come from ``aliases`` if given, else
    from an ``[aliases]`` table of ``study.toml`` (code = "ARC-2 type"), else from
    ``aliases.csv`` in the folder (columns ``code``, ``event_type``).

    Parameters
    ----------
    path_or_dir : the cohort folder, or an ``.xlsx`` workbook with sheets
        ``patients``, ``lesions``, ``events``.
    aliases : your event codes -> ARC-2 event types (dict or DataFrame
        ``code``/``event_type``).
    apply_exclusions : apply ``study.toml`` ``[exclusions]`` (default True).
    warn : warn when events after the last contact extend follow-up.
    engine : ``"pandas"`` (default) reads the tables into memory; ``"dask"`` reads
        ``patients/`` and ``events/`` Parquet datasets (or ``.parquet`` files) lazily
        into a ``DaskCohort`` for :func:`time_to_event` on a cluster
        (:func:`mace_outcomes.scale.io.read_cohort`: its checks, and what is not on
        Dask yet).

    Returns
    -------
    Cohort (a ``DaskCohort`` with ``engine="dask"``)

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> cohort = mo.read_cohort("data/")    # doctest: +SKIP
    >>> cohort.attrition                    # doctest: +SKIP
    """
    if engine != "pandas":  # Parquet datasets read lazily on a cluster
        if engine != "dask":
            raise InputError(Problem(f"engine must be 'pandas' or 'dask', not {engine!r}"))
        from ..scale.io import read_cohort as read_on_dask

        return read_on_dask(path_or_dir, aliases, apply_exclusions=apply_exclusions,
                            warn=warn)
    path = Path(path_or_dir)
    tables, sources = read_tables(path)
    study = read_study(path) if path.is_dir() else None
    if study is not None and aliases is None and isinstance(study.get("aliases"), dict):
        aliases = study["aliases"]
    alias_file = path / "aliases.csv" if path.is_dir() else None
    if aliases is None and alias_file is not None and alias_file.is_file():
        aliases = read_table(alias_file)
    sources = {**sources, "origin": str(path)}
    cohort = Cohort(patients=tables["patients"], events=tables["events"],
                    lesions=tables.get("lesions"), aliases=aliases, source=sources,
                    study=study, warn=warn)
    if study is not None and apply_exclusions:
        exclusions = study.get("exclusions", {}) or {}
        if not isinstance(exclusions, dict):
            raise InputError(Problem("[exclusions] must be a table of name = query",
                                     source="study.toml"))
        lesion_rules = exclusions.get("lesions") if isinstance(
            exclusions.get("lesions"), dict) else {}
        for name, query in exclusions.items():
            if name == "lesions" and isinstance(query, dict):
                continue  # [exclusions.lesions]: applied to lesions, after the patients
            if not isinstance(query, str):
                raise InputError(Problem(f"exclusion '{name}' must be a query string",
                                         source="study.toml"))
            cohort = cohort.exclude(name, query)
        for name, query in lesion_rules.items():
            cohort = cohort.exclude_lesions(name, query)
    return cohort


# ----------------------------------------------------------------------------- arms
def _code_text(value) -> str:
    """An arm code as TOML would write it as a key: 1 and 1.0 read "1", True "true"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text.lower() if text.lower() in ("true", "false") else text


def declared_arms(declared, values) -> tuple[list, dict, list]:
    """The study file's ``arms`` matched to the arm codes in the data.

    ``declared`` is empty or ``None`` (take the arms from the data), a list
    ``[treated, reference]`` of labels or codes, or a table ``{code = "label"}`` whose
    first entry is the treated arm and second the reference. TOML keys are text, so a key
    matches a code by how it is written: ``"1"`` matches the integer ``1`` (or ``1.0``),
    ``"true"`` / ``"True"`` the boolean ``True``.

    Returns
    -------
    (codes, labels, unmatched): the data's codes in the declared order, ``{code: label}``
    (the code itself for a list), and the declared entries that match no code.

    >>> declared_arms({"1": "OCT-guided", "0": "IVUS-guided"}, pd.Series([0, 1, 1]))
    ([1, 0], {1: 'OCT-guided', 0: 'IVUS-guided'}, [])
    """
    if not declared:
        return [], {}, []
    mapping = isinstance(declared, Mapping)
    entries = list(declared.items()) if mapping else [(a, a) for a in declared]
    present = {_code_text(v): v for v in pd.unique(pd.Series(values).dropna()).tolist()}
    codes, labels, unmatched = [], {}, []
    for key, label in entries:
        code = present.get(_code_text(key))
        if code is None:
            unmatched.append(key)
            continue
        codes.append(code)
        labels[code] = label if mapping else code
    return codes, labels, unmatched


def unmatched_arm_problems(declared, values, source: str) -> list[Problem]:
    """A problem naming the declared arms that match no code in the data."""
    unmatched = declared_arms(declared, values)[2]
    if not unmatched:
        return []
    present = sorted(pd.unique(pd.Series(values).dropna()).tolist(), key=_code_text)
    return [Problem(f"study arms {unmatched} not among the arm codes in the data {present}",
                    "arm", (), source, "write the codes as they appear in the arm column, "
                    "e.g. arms = {1 = \"OCT-guided\", 0 = \"IVUS-guided\"}")]
