"""tables room (see STYLE.md): estimates in, formatted tables out.

``table_one`` (baseline tables with the right test per row), ``outcome_table`` (events,
Kaplan-Meier estimates and hazard ratios per endpoint) and ``audit_reported``
(recomputing published p-values from the printed numbers).
"""

from .audit import AuditResult, audit_reported
from .outcome_table import OutcomeTable, outcome_table
from .reproduce import compare_to_reported
from .table_one import TableOne, table_one

__all__ = ["AuditResult", "OutcomeTable", "TableOne", "audit_reported",
           "compare_to_reported", "outcome_table", "table_one"]
