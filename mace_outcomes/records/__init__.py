"""Records: from a registry's follow-up records to time-to-event data.

Modules, in the order data flows through them:

* :mod:`.schema` -- the tables, their columns, the ARC-2 event vocabulary, aliases;
* :mod:`.io` -- reading CSV / Parquet / Excel / SPSS tables and ``study.toml``, writing;
* :mod:`.validate` -- every problem in the records at once (one ``ValidationError``);
* :mod:`.cohort` -- :class:`Cohort` (validated records + attrition), :func:`read_cohort`;
* :mod:`.endpoints` -- :class:`Endpoint` and the built-in :data:`ENDPOINTS`;
* :mod:`.tte` -- :func:`time_to_event`, one row per patient or lesion.
"""

from .cohort import Cohort, read_cohort
from .endpoints import ENDPOINTS, Endpoint
from .io import read_table, write_table
from .tte import endpoint_events, time_to_event
from .validate import FollowUpWarning

__all__ = ["Cohort", "read_cohort", "Endpoint", "ENDPOINTS", "time_to_event", "write_table",
           "read_table", "endpoint_events", "FollowUpWarning"]
