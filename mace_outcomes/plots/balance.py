"""Propensity-score diagnostics: the love plot of balance and the overlap plot."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from .._display import ResultMixin
from ..errors import InputError, Problem
from .style import (
    OKABE_ITO,
    arm_colours,
    figure_style,
    figure_width,
    font_size,
    legend_fit,
    legend_rows,
    new_figure,
    text_lines,
    wrap_text,
)

__all__ = ["plot_love", "plot_overlap"]

# the samples, not the arms: grey and black, so that no colour of the love plot is an
# arm's colour elsewhere in the study (the arms take Okabe-Ito orange and blue)
BEFORE_COLOUR = "#7F7F7F"  # grey open circles: the raw, imbalanced sample
AFTER_COLOUR = OKABE_ITO[7]  # black: after weighting


def _balance_frame(balance) -> pd.DataFrame:
    if isinstance(balance, pd.DataFrame):
        frame = balance
    elif isinstance(balance, ResultMixin):  # a Propensity (or compare_arms) result
        frame = balance.balance()
    else:
        raise InputError(Problem("balance must be a Propensity result or the DataFrame of "
                                 "its .balance()", column="balance"))
    need = ["covariate", "smd_unweighted", "smd_weighted"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(Problem(f"missing columns {missing}", column=", ".join(missing),
                                 source="balance"))
    return frame


def plot_love(balance, *, absolute: bool = True, threshold: float | None = 0.1,
              order: str = "unweighted", labels: Mapping | None = None,
              names: tuple[str, str] = ("Unweighted", "Weighted"),
              palette: Mapping | None = None,
              width: str | float = "single", fontsize: float | None = None,
              title: str | None = None, xlabel: str | None = None):
    """Love plot: standardised mean differences before and after weighting.

    Parameters
    ----------
    balance : Propensity or DataFrame
        A :func:`mace_outcomes.propensity` result or its ``.balance()`` table
        (covariate, smd_unweighted, smd_weighted).
    absolute : bool
        Plot |SMD| (default, as cobalt's ``love.plot(abs = TRUE)``) or signed SMDs.
    threshold : float or None
        Dashed balance threshold (0.1, Austin 2009); ``None`` for none.
    order : {"unweighted", "weighted", "data"}
        Covariates sorted by decreasing imbalance before (or after) weighting, top
        down, or in the table's order.
    labels : mapping, optional
        Display names for covariates (e.g. ``{"egfr": "eGFR, mL/min/1.73 m²"}``).
    names : (str, str)
        Legend names of the two samples (long names are broken over lines).
    palette : mapping of arm -> colour, optional
        The study's arm colours (:func:`~mace_outcomes.plots.style.arm_colours`): the
        two samples are drawn in grey and black, and in other Okabe-Ito colours should
        either clash with an arm's, so that one colour never means two things.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.balance_table``: the rows drawn, top to bottom, with the plotted values.

    Examples
    --------
    >>> import pandas as pd
    >>> bal = pd.DataFrame({"covariate": ["age", "diabetes"],
    ...                     "smd_unweighted": [0.31, -0.12], "smd_weighted": [0.02, 0.04]})
    >>> fig = plot_love(bal)
    >>> list(fig.balance_table["covariate"])
    ['age', 'diabetes']

    References
    ----------
    Austin PC (2009). Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. Stat Med
    28:3083-3107. Greifer N. cobalt: Covariate Balance Tables and Plots (``love.plot``).
    """
    frame = _balance_frame(balance).reset_index(drop=True)
    if order not in ("unweighted", "weighted", "data"):
        raise InputError(Problem("order must be 'unweighted', 'weighted' or 'data'",
                                 column="order"))
    before = frame["smd_unweighted"].to_numpy(float)
    after = frame["smd_weighted"].to_numpy(float)
    if absolute:
        before, after = np.abs(before), np.abs(after)
    if order != "data":
        key = np.abs(before if order == "unweighted" else after)
        idx = np.argsort(-np.nan_to_num(key, nan=-1.0), kind="stable")
    else:
        idx = np.arange(len(frame))
    covs = frame["covariate"].to_numpy()[idx]
    before, after = before[idx], after[idx]
    shown = [str(labels.get(c, c)) if labels else str(c) for c in covs]
    n = len(covs)

    fs = font_size(width) if fontsize is None else float(fontsize)
    w_in = figure_width(width)
    # long covariate names break over lines: the names get at most 40% of the width
    ticks = [wrap_text(x, 0.4 * w_in, fs) for x in shown]
    before_colour, after_colour = _sample_colours(palette)
    legend_names, ncols = legend_fit(names, w_in - 0.1, fs)
    extra = (legend_rows(legend_names, ncols) - 1) * 1.3
    line = fs * (1.9 + 1.2 * (text_lines(ticks) - 1)) / 72
    height = n * line + fs * (6.5 + extra + (2 if title else 0)) / 72 + 0.15
    with figure_style(fs):
        fig = new_figure(width, max(height, 1.4))
        ax = fig.add_subplot()
        y = np.arange(n)
        for yi, b, a in zip(y, before, after, strict=True):
            ax.plot([b, a], [yi, yi], color="0.8", linewidth=0.8, zorder=1)
        ax.plot(before, y, linestyle="none", marker="o", markersize=4.5,
                markerfacecolor="white", markeredgecolor=before_colour, markeredgewidth=1.1,
                label=legend_names[0], zorder=3, gid="smd:unweighted")
        ax.plot(after, y, linestyle="none", marker="o", markersize=4.5, color=after_colour,
                label=legend_names[1], zorder=4, gid="smd:weighted")
        ax.axvline(0, color="0.3", linewidth=0.7)
        if threshold is not None:
            for x in ((threshold,) if absolute else (-threshold, threshold)):
                ax.axvline(x, color="0.45", linewidth=0.7, linestyle=(0, (3, 2)))
        ax.set_yticks(y)
        ax.set_yticklabels(ticks)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="y", color="0.93", linewidth=0.6)
        ax.set_axisbelow(True)
        finite = np.r_[before[np.isfinite(before)], after[np.isfinite(after)], 0.0,
                       threshold or 0.0]
        hi = max(float(np.abs(finite).max()) * 1.1, (threshold or 0.05) * 1.5)
        # a sliver left of 0 so markers at exactly 0 are not cut by the spine
        ax.set_xlim(-0.02 * hi if absolute else -hi, hi)
        if xlabel is None:
            xlabel = ("Absolute standardised mean difference" if absolute
                      else "Standardised mean difference")
        ax.set_xlabel(xlabel)
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), bbox_transform=_above(fig, ax),
                  ncols=ncols, frameon=False, borderaxespad=0.2, handletextpad=0.3,
                  columnspacing=1.2)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    fig.balance_table = pd.DataFrame({"covariate": covs, "label": shown,
                                      "smd_unweighted": before, "smd_weighted": after})
    return fig


def _above(fig, ax):
    """Legend coordinates from the figure's left edge, just above the axes: the legend
    may use the whole width (sized by legend_fit), not only the axes'."""
    return blended_transform_factory(fig.transFigure, ax.transAxes)


def _sample_colours(palette: Mapping | None) -> tuple[str, str]:
    """Grey and black for the two samples, or Okabe-Ito colours no arm uses."""
    taken = {str(c).upper() for c in (palette or {}).values()}
    wanted = [BEFORE_COLOUR, AFTER_COLOUR]
    if not taken & {c.upper() for c in wanted}:
        return BEFORE_COLOUR, AFTER_COLOUR
    spare = [c for c in (*OKABE_ITO[::-1], "#7F7F7F") if c.upper() not in taken]
    return spare[1], spare[0]


def _overlap_data(ps, treated, weights, labels):
    """Scores, treated mask, weights and the two arm names from a Propensity or arrays."""
    if isinstance(ps, ResultMixin):  # a Propensity result
        scores = ps.scores.to_numpy(float)
        z = ps.z.to_numpy().astype(bool)
        w = ps.weights.to_numpy(float) if weights is None else np.asarray(weights, float)
        keep = ps.kept.to_numpy(bool)
        arms = (ps.treated, ps.control)
    else:
        scores = np.asarray(ps, float)
        if treated is None:
            raise InputError(Problem("give treated= (a boolean per score) with raw scores",
                                     column="treated"))
        z = np.asarray(treated).astype(bool)
        w = np.ones_like(scores) if weights is None else np.asarray(weights, float)
        keep = np.ones(z.size, bool)
        arms = ("Treated", "Control")
    if not (scores.shape == z.shape == w.shape):
        raise InputError(Problem("scores, treated and weights differ in length",
                                 column="treated"))
    bad = np.flatnonzero(~np.isfinite(scores) | (scores < 0) | (scores > 1))
    if bad.size:
        raise InputError(Problem("propensity scores must lie in [0, 1]", column="scores",
                                 rows=tuple(int(i) for i in bad)))
    names = tuple(str(labels.get(a, a)) if labels else str(a) for a in arms)
    return scores, z, np.where(keep, w, 0.0), keep, names, arms


def plot_overlap(ps, *, treated=None, weights=None, weighted: bool = False, bins: int = 25,
                 labels: Mapping | None = None,
                 palette: Mapping | tuple[str, str] | None = None,
                 width: str | float = "single", fontsize: float | None = None,
                 title: str | None = None):
    """Propensity-score overlap: mirrored histograms of the two arms.

    The treated arm is drawn above the axis, the control arm below, so regions
    without common support (a bar on one side only) stand out.

    Parameters
    ----------
    ps : Propensity or array of scores
        A :func:`mace_outcomes.propensity` result, or raw scores with ``treated``.
    treated : array of bool, optional
        Arm membership when ``ps`` is an array.
    weights : array, optional
        Weights for ``weighted=True`` (default: the Propensity's weights).
    weighted : bool
        Overlay the weighted (pseudo-population) histograms as outlines.
    bins : int
        Equal-width bins on [0, 1].
    labels : mapping, optional
        Display names of the arms (keys: the Propensity's treated / control labels).
        Long names are broken over lines so that the legend fits the figure.
    palette : mapping of arm -> colour, or (treated colour, control colour), optional
        Default the package's arm colours (:func:`~mace_outcomes.plots.style.arm_colours`:
        the treated arm orange, the reference blue, as in the Kaplan-Meier figures).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.overlap_table``: bin edges with the counts (and weighted sums) per arm.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_overlap(np.array([0.2, 0.4, 0.5, 0.7]),
    ...                    treated=np.array([False, False, True, True]))
    >>> int(fig.overlap_table["n_treated"].sum())
    2

    References
    ----------
    Austin PC, Stuart EA (2015). Moving towards best practice when using inverse
    probability of treatment weighting (IPTW) using the propensity score to estimate
    causal treatment effects in observational studies. Stat Med 34:3661-3679.
    """
    scores, z, w, keep, names, arms = _overlap_data(ps, treated, weights, labels)
    if palette is None or isinstance(palette, Mapping):
        by_arm = arm_colours(arms, treated=arms[0], palette=palette)
        colours = (by_arm[arms[0]], by_arm[arms[1]])
    else:
        colours = tuple(palette)
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    n_t = np.histogram(scores[z], edges)[0]
    n_c = np.histogram(scores[~z], edges)[0]
    w_t = np.histogram(scores[z], edges, weights=w[z])[0]
    w_c = np.histogram(scores[~z], edges, weights=w[~z])[0]

    fs = font_size(width) if fontsize is None else float(fontsize)
    w_in = figure_width(width)
    shown = [f"{names[0]} (n = {int(z.sum())})", f"{names[1]} (n = {int((~z).sum())})"]
    shown, ncols = legend_fit(shown + (["Weighted"] if weighted else []), w_in - 0.1, fs)
    extra = (legend_rows(shown, ncols) - 1) * 1.3 * fs / 72  # room for a wrapped legend
    with figure_style(fs):
        fig = new_figure(width, (0.72 * w_in if w_in < 5 else 0.45 * w_in) + extra)
        ax = fig.add_subplot()
        centres, widths = edges[:-1], np.diff(edges)
        ax.bar(centres, n_t, width=widths, align="edge", color=colours[0], alpha=0.75,
               edgecolor="white", linewidth=0.4, label=shown[0], gid="bars:treated")
        ax.bar(centres, -n_c, width=widths, align="edge", color=colours[1], alpha=0.75,
               edgecolor="white", linewidth=0.4, label=shown[1], gid="bars:control")
        handles, names_shown = ax.get_legend_handles_labels()
        if weighted:
            ax.stairs(w_t, edges, color=colours[0], linewidth=1.1, baseline=None)
            ax.stairs(-w_c, edges, color=colours[1], linewidth=1.1, baseline=None)
            handles.append(Line2D([], [], color="0.2", linewidth=1.1))
            names_shown.append(shown[2])
        ax.axhline(0, color="0.2", linewidth=0.6)
        top = max(n_t.max(initial=0), (w_t.max(initial=0) if weighted else 0), 1)
        bottom = max(n_c.max(initial=0), (w_c.max(initial=0) if weighted else 0), 1)
        ax.set_ylim(-bottom * 1.12, top * 1.12)
        ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):g}")
        ax.set_xlim(0, 1)
        ax.set_xlabel("Propensity score")
        # a long arm name breaks over lines rather than run past the axis
        ax.set_ylabel(wrap_text(f"Patients ({names[1]} below)",
                                0.6 * fig.get_size_inches()[1], fs))
        ax.legend(handles, names_shown, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  bbox_transform=_above(fig, ax), ncols=ncols, frameon=False,
                  borderaxespad=0.2, columnspacing=1.0)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    fig.overlap_table = pd.DataFrame({"lower": edges[:-1], "upper": edges[1:],
                                      "n_treated": n_t, "n_control": n_c,
                                      "weighted_treated": w_t, "weighted_control": w_c})
    return fig
