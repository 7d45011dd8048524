"""mace_outcomes: clinical outcome studies in interventional cardiology.

From event-level follow-up records to the time-to-event data, Kaplan-Meier
curves, log-rank tests, propensity-weighted Cox models and Tables 1-4 that a
journal asks for, with estimators that match R's survival ecosystem.

>>> import mace_outcomes as mo
>>> cohort = mo.load_example()                      # doctest: +SKIP
>>> tte = mo.time_to_event(cohort, endpoint="mace", horizon=365)  # doctest: +SKIP
>>> mo.kaplan_meier(tte, group="arm").at(365)       # doctest: +SKIP

Public names are loaded lazily from the room (subpackage) that owns them, so
``import mace_outcomes`` stays fast and each room imports only what it needs.
"""

from __future__ import annotations

import importlib

from .errors import (
    ClusteringWarning,
    ExtremeWeightWarning,
    InputError,
    MonotoneLikelihoodWarning,
    Problem,
    SchemaError,
    SeparationWarning,
    SmallCountWarning,
    StatisticalWarning,
    ValidationError,
)

__version__ = "0.1.0"

# public name -> room that defines it (see STYLE.md: data flows one way).
_ROOMS = {
    # records: schema, validation, endpoints, time-to-event
    "Cohort": "records",
    "read_cohort": "records",
    "Endpoint": "records",
    "ENDPOINTS": "records",
    "time_to_event": "records",
    "landmark": "records.landmark",
    "split_at": "records.split",
    "FollowUpWarning": "records",
    # datasets
    "load_example": "datasets",
    "simulate_registry": "datasets",
    # survival curves and tests
    "kaplan_meier": "survival.kaplan_meier",
    "logrank": "survival.logrank",
    "rmst": "survival.rmst",
    "followup": "survival.followup",
    "cumulative_incidence": "survival.competing",
    "gray_test": "survival.competing",
    "win_ratio": "survival.win_ratio",
    "landmark_curves": "survival.landmark",
    "mean_frequency": "survival.recurrent",
    # regression
    "cox": "regression.fit",
    "fine_gray": "regression.fine_gray",
    "rate_ratio": "regression.counts",
    "event_counts": "regression.counts",
    # selection-bias adjustment
    "propensity": "weighting.propensity",
    "e_value": "weighting.evalue",
    "bootstrap": "weighting.bootstrap",
    "compare_arms": "weighting.compare",
    "risk_difference": "weighting.compare",
    "pool": "weighting.pool",
    "impute": "weighting.impute",
    "adjusted_risk": "weighting.adjusted",
    "match": "weighting.match",
    "Matched": "weighting.match",
    # non-time-to-event outcomes (stent expansion, procedural outcomes)
    "compare_outcome": "outcomes",
    "stent_expansion": "outcomes",
    # tables
    "table_one": "tables",
    "missingness": "tables.missingness",
    "outcome_table": "tables",
    "audit_reported": "tables",
    "compare_to_reported": "tables",
    # figures
    "plot_km": "plots",
    "plot_cif": "plots",
    "plot_forest": "plots",
    "plot_love": "plots",
    "plot_overlap": "plots",
    "plot_km_panels": "plots",
    "plot_mean_frequency": "plots",
    "plot_win_ratio": "plots",
    "plot_adjusted_risk": "plots",
    "plot_landmark": "plots.km",
    "plot_flow": "plots",
    "save_figure": "plots",
    # the whole study
    "analyze": "report",
}

__all__ = sorted(
    list(_ROOMS)
    + [
        "InputError", "ValidationError", "SchemaError", "Problem", "StatisticalWarning",
        "MonotoneLikelihoodWarning", "SeparationWarning", "ExtremeWeightWarning",
        "SmallCountWarning", "ClusteringWarning", "__version__",
    ]
)


def __getattr__(name: str):
    room = _ROOMS.get(name)
    if room is None:
        raise AttributeError(f"module 'mace_outcomes' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{room}"), name)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__():
    return __all__
