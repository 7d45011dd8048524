"""The whole study: analyze() writes tables/, figures/, results.json and report.html."""

from .study import Study, read_study, write_study_template
