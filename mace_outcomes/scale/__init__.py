"""Scale-out: the core estimators on a Dask DataFrame, with the in-memory numbers.

A Dask DataFrame is accepted wherever a pandas one is by :func:`kaplan_meier`,
:func:`logrank`, :func:`cox`, :func:`propensity` and :func:`compare_arms`, and
:func:`time_to_event` (patient level) takes a ``scale.tte.DaskCohort`` of Dask tables:
each public function checks :func:`is_dask` first and hands the frame to this room
(``scale.survival``, ``scale.propensity``, ``scale.cox``, ``scale.compare``,
``scale.tte``). Every estimator reduces to
additive statistics per distinct time (and stratum, and arm): each partition builds a
small table of sums, the tables add across partitions in a tree, and the estimate is
computed from the combined table by the same kernels the in-memory fit uses. Per-row
quantities (robust variances, the propensity model's scores) go the other way: the
small per-time table is broadcast to the partitions and only sums come back.

Dask is an optional extra (``pip install "mace_outcomes[dask]"``): importing the package
never imports it; this module checks types by their module name.
"""

from __future__ import annotations

# Kept light: the in-memory estimators import this package to call is_dask on every
# frame, so it imports neither dask nor the Dask estimators (each estimator imports its
# own: scale.survival, scale.propensity, scale.cox, scale.compare, scale.tte).
from ._reduce import is_dask

__all__ = ["is_dask"]
