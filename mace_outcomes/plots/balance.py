"""Propensity-score diagnostics: the love plot of balance and the overlap plot."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .._display import ResultMixin
from ..errors import InputError, Problem
from .style import OKABE_ITO, figure_style, figure_width, font_size, new_figure

__all__ = ["plot_love", "plot_overlap"]

BEFORE_COLOUR = OKABE_ITO[3]  # vermillion: the raw, imbalanced sample
AFTER_COLOUR = OKABE_ITO[1]   # blue: after weighting


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
        Legend names of the two samples.

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
    line = fs * 1.9 / 72
    height = n * line + fs * (6.5 + (2 if title else 0)) / 72 + 0.15
    with figure_style(fs):
        fig = new_figure(width, max(height, 1.4))
        ax = fig.add_subplot()
        y = np.arange(n)
        for yi, b, a in zip(y, before, after, strict=True):
            ax.plot([b, a], [yi, yi], color="0.8", linewidth=0.8, zorder=1)
        ax.plot(before, y, linestyle="none", marker="o", markersize=4.5,
                markerfacecolor="white", markeredgecolor=BEFORE_COLOUR, markeredgewidth=1.1,
                label=names[0], zorder=3, gid="smd:unweighted")
        ax.plot(after, y, linestyle="none", marker="o", markersize=4.5, color=AFTER_COLOUR,
                label=names[1], zorder=4, gid="smd:weighted")
        ax.axvline(0, color="0.3", linewidth=0.7)
        if threshold is not None:
            for x in ((threshold,) if absolute else (-threshold, threshold)):
                ax.axvline(x, color="0.45", linewidth=0.7, linestyle=(0, (3, 2)))
        ax.set_yticks(y)
        ax.set_yticklabels(shown)
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
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, frameon=False,
                  borderaxespad=0.2, handletextpad=0.3, columnspacing=1.2)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    fig.balance_table = pd.DataFrame({"covariate": covs, "label": shown,
                                      "smd_unweighted": before, "smd_weighted": after})
    return fig


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
    return scores, z, np.where(keep, w, 0.0), keep, names


def plot_overlap(ps, *, treated=None, weights=None, weighted: bool = False, bins: int = 25,
                 labels: Mapping | None = None, palette: tuple[str, str] | None = None,
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
    scores, z, w, keep, names = _overlap_data(ps, treated, weights, labels)
    colours = palette or (OKABE_ITO[1], OKABE_ITO[0])
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    n_t = np.histogram(scores[z], edges)[0]
    n_c = np.histogram(scores[~z], edges)[0]
    w_t = np.histogram(scores[z], edges, weights=w[z])[0]
    w_c = np.histogram(scores[~z], edges, weights=w[~z])[0]

    fs = font_size(width) if fontsize is None else float(fontsize)
    w_in = figure_width(width)
    with figure_style(fs):
        fig = new_figure(width, 0.72 * w_in if w_in < 5 else 0.45 * w_in)
        ax = fig.add_subplot()
        centres, widths = edges[:-1], np.diff(edges)
        ax.bar(centres, n_t, width=widths, align="edge", color=colours[0], alpha=0.75,
               edgecolor="white", linewidth=0.4, label=f"{names[0]} (n = {int(z.sum())})",
               gid="bars:treated")
        ax.bar(centres, -n_c, width=widths, align="edge", color=colours[1], alpha=0.75,
               edgecolor="white", linewidth=0.4, label=f"{names[1]} (n = {int((~z).sum())})",
               gid="bars:control")
        handles, names_shown = ax.get_legend_handles_labels()
        if weighted:
            ax.stairs(w_t, edges, color=colours[0], linewidth=1.1, baseline=None)
            ax.stairs(-w_c, edges, color=colours[1], linewidth=1.1, baseline=None)
            handles.append(Line2D([], [], color="0.2", linewidth=1.1))
            names_shown.append("Weighted")
        ax.axhline(0, color="0.2", linewidth=0.6)
        top = max(n_t.max(initial=0), (w_t.max(initial=0) if weighted else 0), 1)
        bottom = max(n_c.max(initial=0), (w_c.max(initial=0) if weighted else 0), 1)
        ax.set_ylim(-bottom * 1.12, top * 1.12)
        ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):g}")
        ax.set_xlim(0, 1)
        ax.set_xlabel("Propensity score")
        ax.set_ylabel(f"Patients ({names[1]} below)")
        ax.legend(handles, names_shown, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  ncols=3, frameon=False, borderaxespad=0.2, columnspacing=1.0)
        if title:
            fig.suptitle(title, x=0.01, ha="left", fontsize=fs + 1, fontweight="bold")
    fig.overlap_table = pd.DataFrame({"lower": edges[:-1], "upper": edges[1:],
                                      "n_treated": n_t, "n_control": n_c,
                                      "weighted_treated": w_t, "weighted_control": w_c})
    return fig
