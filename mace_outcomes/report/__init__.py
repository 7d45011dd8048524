"""The whole study: analyze() writes tables/, figures/, results.json and report.html."""

from .analyze import Analysis, analyze
from .study import Study, read_study, write_study_template
