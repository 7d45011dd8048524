"""The options of a survival figure, named once for Kaplan-Meier and cumulative incidence.

:func:`~mace_outcomes.plots.plot_km`, :func:`~mace_outcomes.plots.plot_cif` and
:func:`~mace_outcomes.plots.plot_km_panels` take these as keyword arguments (or a
:class:`CurveOptions` to reuse across figures); a misspelt option is an error naming
the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, Problem


@dataclass(frozen=True)
class CurveOptions:
    """How a survival or cumulative-incidence figure is drawn.

    Parameters
    ----------
    conf_int, censor_marks : bool
        Pointwise confidence bands (the result's conf_type and level) and a tick at each
        censoring time (Kaplan-Meier only).
    percent : bool
        y-axis in percent instead of proportion.
    unit : {"months", "days", "weeks", "years"}
        x-axis unit; the data are in days. A month is 365/12 days (12 months = 365 days)
        and a year 365 days unless ``days_per_unit`` says otherwise.
    breaks : sequence of float, optional
        x ticks in ``unit`` (e.g. ``(0, 3, 6, 9, 12)``), also the times of the risk
        table; the x-axis ends at the last break. Default: round steps over the data.
    risk_table : bool
        Draw the number-at-risk table under the x-axis.
    risk_table_rows : sequence of {"n_risk", "cum_events", "cum_censored", "ess"}
        Which tables to draw, top to bottom; all of the first three is the KMunicate
        layout (Morris et al. 2019). "ess" (weighted curves whose table carries
        ``n_risk_ess``) adds Kish's effective sample size of each risk set.
    weighted_counts : {"weighted", "unweighted", "both"}
        For weighted curves: the weighted (pseudo-population) or the actual numbers, or
        both tables one under the other; each table's title says which. Ignored for
        unweighted curves. With "both", ``fig.risk_table`` adds ``n_risk_unweighted``,
        ``cum_events_unweighted`` and ``cum_censored_unweighted``.
    min_cell : int
        Small-cell suppression for data-release rules: a number at risk, cumulative
        event or censoring count drawn as 1 to ``min_cell - 1`` is drawn as
        ``"<min_cell"`` (weighted and unweighted rows alike; zero is drawn; the
        effective sample size is not a count and is kept), and so is the cell of
        ``fig.risk_table``. 0 (default) draws every count. No complementary
        suppression: a suppressed count may still be recovered from its neighbours
        (e.g. the number at risk at the previous time minus events and censorings).
    test : LogrankResult or GrayTest, optional
        Annotated as ``Log-rank p = 0.002`` (``test_label`` to rename). Weighted curves
        need the weighted (IPTW) test and unweighted curves the unweighted one: a
        mismatch raises ``InputError``.
    hr : Cox / Fine-Gray result, mapping or Series with hr, lower, upper, or a 3-tuple
        Annotated as ``HR 0.59 (95% CI 0.42-0.83)`` (``SHR`` for cumulative incidence).
        ``hr_term`` picks the model term (default: the only term, or the one named after
        the curves' group column). An unweighted model on weighted curves raises
        ``InputError``. ``hr_label`` replaces "HR"; given without ``hr`` it is printed as
        a ready-made line.
    note : str, optional
        A further annotation line (e.g. "Firth-penalised Cox").
    labels : mapping, optional
        Display label per group (e.g. ``{1: "OCT", 0: "IVUS"}``); default the group
        values from the data.
    palette : sequence or mapping of colours, optional
        Default Okabe-Ito (colour-blind safe). Colours are keyed to the group label, not
        to the display position: a sequence is used in the default order below, so
        ``order`` never swaps the colours of two arms.
    order : sequence, optional
        Groups in display order (legend, table rows), e.g. ``["IVUS", "OCT"]``. Default
        with two groups the package's arm order (``mace_outcomes._frames.arm_order``:
        treated first, the reference last); otherwise the result's groups (sorted).
    linestyles : bool, sequence or mapping, optional
        ``True`` draws the groups solid, dashed, dotted, ... (readable in greyscale
        print); or give the styles. Default all solid.
    width : {"single", "double"} or float
        Journal column (3.5 or 7.2 in) or inches. ``height`` defaults to fit the curves
        and the tables; ``fontsize`` to 7 pt (single) or 8 pt (double).
    title, xlabel, ylabel, ylim, legend, legend_title
        Usual meanings; ``ylim`` in proportions. The legend (above the curves) is shown
        when there is more than one curve unless ``legend`` says otherwise.
    return_table : bool
        Return ``(fig, table)`` instead of ``fig``.
    """

    conf_int: bool = True
    censor_marks: bool = True
    percent: bool = False
    unit: str = "months"
    days_per_unit: float | None = None
    breaks: Sequence[float] | None = None
    risk_table: bool = True
    risk_table_rows: Sequence[str] = ("n_risk",)
    weighted_counts: str = "weighted"
    min_cell: int = 0
    test: Any = None
    test_label: str | None = None
    hr: Any = None
    hr_term: str | None = None
    hr_label: str | None = None
    note: str | None = None
    labels: Mapping | None = None
    palette: Sequence[str] | Mapping | None = None
    order: Sequence | None = None
    linestyles: Any = None
    width: str | float = "single"
    height: float | None = None
    fontsize: float | None = None
    title: str | None = None
    xlabel: str | None = None
    ylabel: str | None = None
    ylim: tuple[float, float] | None = None
    legend: bool | None = None
    legend_title: str | None = None
    return_table: bool = False

    def with_(self, **changes: Any) -> CurveOptions:
        """A copy with ``changes``; an unknown name is an error naming the closest one."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = [k for k in changes if k not in names]
        if unknown:
            raise InputError([Problem(
                f"unknown figure option {k!r}", column=k,
                fix=(f"did you mean {close[0]!r}? " if (close := difflib.get_close_matches(
                    k, names, n=1)) else "") + "see mace_outcomes.plots.CurveOptions")
                for k in unknown])
        return dataclasses.replace(self, **changes)


def curve_options(options: CurveOptions | None, changes: Mapping[str, Any]) -> CurveOptions:
    """``options`` (default: the defaults) updated with keyword arguments."""
    return (options or CurveOptions()).with_(**changes)
