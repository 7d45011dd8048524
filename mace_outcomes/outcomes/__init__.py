"""Outcomes that are not times to event: stent expansion and procedural outcomes.

``stent_expansion`` computes the seed study's primary endpoint from core-lab areas;
``compare_outcome`` compares any continuous or binary outcome between arms, crude and
adjusted, with lesions clustered in patients.
"""

from .compare import OutcomeComparison, aipw, compare_outcome, hodges_lehmann
from .followup import FollowUpSummary, followup_summary
from .imaging import DEFINITIONS, expansion_thresholds, stent_expansion
