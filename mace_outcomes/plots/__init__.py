"""plots room: publication figures (results in, matplotlib Figure out).

Every function builds a :class:`matplotlib.figure.Figure` with the object API (no
pyplot state), sized for a journal column, and returns it; :func:`save_figure`
writes PDF / SVG / PNG / TIFF with embedded fonts at 300-600 dpi.

- :func:`plot_km` -- Kaplan-Meier curves with the number-at-risk table
- :func:`plot_cif` -- competing-risk cumulative incidence
- :func:`plot_km_panels` -- MACE and each component as lettered panels
- :func:`plot_forest` -- hazard ratios across endpoints or subgroups
- :func:`plot_love` -- covariate balance before / after weighting
- :func:`plot_overlap` -- propensity-score overlap of the arms
- :func:`plot_flow` -- patient flow: screened, excluded with reasons, analysed per arm
- :func:`plot_win_ratio` -- wins of each arm stacked by level, and the ties
- :func:`plot_mean_frequency` -- mean cumulative number of events per patient, at risk
- :func:`plot_adjusted_risk` -- standardised risk curves per arm, pointwise CIs and
  simultaneous bands
- :func:`arm_colours` -- one colour per arm, to pass as ``palette=`` to every figure
"""

from .adjusted import plot_adjusted_risk
from .balance import plot_love, plot_overlap
from .flow import plot_flow
from .forest import plot_forest
from .km import UNITS, at_risk_table, plot_cif, plot_km, plot_km_panels
from .options import CurveOptions
from .recurrent import plot_mean_frequency
from .style import OKABE_ITO, WIDTHS, arm_colours, figure_style, format_p, save_figure
from .win_ratio import plot_win_ratio

__all__ = ["plot_km", "plot_cif", "plot_km_panels", "plot_forest", "plot_love",
           "plot_overlap", "save_figure", "at_risk_table", "figure_style", "format_p",
           "OKABE_ITO", "WIDTHS", "UNITS", "CurveOptions", "arm_colours",
           "plot_win_ratio", "plot_flow", "plot_mean_frequency",
           "plot_adjusted_risk"]
