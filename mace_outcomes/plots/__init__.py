"""plots room: publication figures (results in, matplotlib Figure out).

Every function builds a :class:`matplotlib.figure.Figure` with the object API (no
pyplot state), sized for a journal column, and returns it; :func:`save_figure`
writes PDF / SVG / PNG / TIFF with embedded fonts at 300-600 dpi.
"""

from .km import UNITS, at_risk_table, plot_cif, plot_km, plot_km_panels
from .style import OKABE_ITO, WIDTHS, figure_style, format_p, save_figure

__all__ = ["plot_km", "plot_cif", "plot_km_panels", "plot_forest", "plot_love",
           "plot_overlap", "save_figure", "at_risk_table", "figure_style", "format_p",
           "OKABE_ITO", "WIDTHS", "UNITS"]


def __getattr__(name):
    # forest / balance figures land in their own modules
    if name == "plot_forest":
        from .forest import plot_forest
        return plot_forest
    if name in ("plot_love", "plot_overlap"):
        from . import balance
        return getattr(balance, name)
    raise AttributeError(name)
