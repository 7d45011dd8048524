"""Pocock's unmatched win ratio for hierarchical composites (cardiac death > stroke > MI > TVR).

Every treated patient ``i`` is compared with every reference patient ``j`` within the
pair's shared follow-up ``S_ij = min(F_i, F_j, horizon)``, level by level in priority
order: at a level, the patient whose event comes first within ``S_ij`` loses (if only one
has the event within it, that one loses); equal times or no event in either go on to the
next level; a pair tied at every level is a tie. With ``W``, ``L`` the treated patients'
wins and losses over the ``n1 n0`` pairs:

* win ratio ``W / L`` (Pocock et al. 2012), win odds ``(W + T/2) / (L + T/2)`` (Dong et
  al. 2020), net benefit ``(W - L) / (n1 n0)`` (Buyse 2010);
* ``Var(log WR)`` from the two-sample U-statistic variances of the win and loss
  proportions ``p_w``, ``p_l`` (Bebu & Lachin 2016, eq. 5; Dong et al. 2016):
  ``Var(p) = (phi_1 - p^2) / n1 + (phi_0 - p^2) / n0``, ``phi_1`` the unbiased estimate
  of ``P(h_ij h_ik = 1)`` over pairs sharing the treated patient (``j != k``), ``phi_0``
  likewise over pairs sharing the reference patient, and the delta method;
* the Finkelstein-Schoenfeld test: each patient's score ``U_i`` = wins - losses against
  all other patients of both arms, ``T = sum_{treated} U_i``, permutation variance
  ``n1 n0 sum U_i^2 / (N (N - 1))``, ``Z = T / sqrt(V)``.

Stratified: Mantel-Haenszel-type weights ``v_s = n1s n0s / (n1s + n0s)`` (Dong et al.
2018): ``WR = sum v_s p_ws / sum v_s p_ls``, strata independent; the FS test sums ``T``
and ``V`` over strata. Weighted (IPTW): pair weight ``w_i w_j``; the variance is the same
U-statistic formula with weighted sums (the weights held fixed; unit weights give the
unweighted numbers exactly); no FS test with weights.

The counts are exact and vectorised: blocks of treated patients against all reference
patients, every pair's outcome coded as ``T_k = 2 T_{k-1} + s_k`` over levels
(``s_k`` in {-1, 0, 1}; the sign of ``T_k`` is that of the first non-zero level), in int8
blocks of about 4 MB that stay in cache. A sort-and-count (n log n) algorithm exists for
one level, but "not decided at an earlier level" makes the count a K-dimensional
dominance problem for K levels; the blocks cost O(n1 n0 K) cheap byte operations and
no pair is stored.

References
----------
Pocock SJ, Ariti CA, Collier TJ, Wang D (2012). The win ratio: a new approach to the
analysis of composite endpoints in clinical trials based on clinical priorities.
Eur Heart J 33:176-182.
Bebu I, Lachin JM (2016). Large sample inference for a win ratio analysis of a
composite outcome based on prioritized components. Biostatistics 17:178-187.
Dong G, Li D, Ballerstedt S, Vandemeulebroecke M (2016). A generalized analytic
solution to the win ratio to analyze a composite endpoint considering the clinical
priorities of the endpoints. J Biopharm Stat 26:742-752.
Dong G, Qiu J, Wang D, Vandemeulebroecke M (2018). The stratified win ratio.
J Biopharm Stat 28:778-796.
Finkelstein DM, Schoenfeld DA (1999). Combining mortality and longitudinal measures in
clinical trials. Stat Med 18:1341-1354.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from .._display import ResultMixin, frame_html, frame_text
from .._format import format_p
from .._frames import arm_order, column_values, row_ids, survival_arrays
from ..errors import InputError, Problem

__all__ = ["win_ratio", "WinRatioResult", "pair_counts", "win_statistics"]

# int8 cells per block: a few such arrays stay in a 2-core machine's cache
_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class PairCounts:
    """Wins and losses of the row patients against the column patients.

    ``level_wins[k]`` / ``level_losses[k]``: (weighted) pairs decided at level ``k`` in
    favour of / against the row patient; ``row_*`` per row patient, ``col_*`` per column
    patient, with the other side's weights (``*2``: squared weights).
    """

    level_wins: np.ndarray
    level_losses: np.ndarray
    row_win: np.ndarray
    row_loss: np.ndarray
    row_win2: np.ndarray
    row_loss2: np.ndarray
    col_win: np.ndarray
    col_loss: np.ndarray
    col_win2: np.ndarray
    col_loss2: np.ndarray


def profiles(time: np.ndarray, event: np.ndarray, follow_up: np.ndarray,
             horizon: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Per level and patient (arrays ``(K, n)``): ``a`` the event time (inf when none
    within the horizon) and ``u`` the time up to which the patient is seen event-free
    (``a`` with an event, else just above the follow-up, so that ``a_i < u_j`` reads
    "i's event comes first and within j's follow-up")."""
    f = np.minimum(np.asarray(follow_up, float), horizon)
    has = (np.asarray(event) == 1) & (time <= horizon)
    a = np.where(has, time, np.inf)
    u = np.where(has, time, np.nextafter(f, np.inf))
    return a, u


def pair_counts(a_r: np.ndarray, u_r: np.ndarray, a_c: np.ndarray, u_c: np.ndarray,
                w_r: np.ndarray | None = None, w_c: np.ndarray | None = None,
                block_cells: int = _BLOCK_CELLS) -> PairCounts:
    """Exact wins/losses of every row patient against every column patient.

    ``a_*``, ``u_*`` from :func:`profiles`; ``w_*`` optional case weights (pair weight
    ``w_i w_j``). Processes blocks of rows against all columns (see the module notes).
    """
    n_levels, n_r = a_r.shape
    n_c = a_c.shape[1]
    weighted = w_r is not None or w_c is not None
    wr = np.ones(n_r) if w_r is None else np.asarray(w_r, float)
    wc = np.ones(n_c) if w_c is None else np.asarray(w_c, float)
    if not weighted:
        # pad the columns to whole chunks of 128 with patients that never win or lose
        pad = -n_c % _CHUNK
        a_c = np.pad(a_c, ((0, 0), (0, pad)), constant_values=np.inf)
        u_c = np.pad(u_c, ((0, 0), (0, pad)), constant_values=-np.inf)
    lw, ll = np.zeros(n_levels), np.zeros(n_levels)
    rows = np.zeros((4, n_r))
    cols = np.zeros((4, a_c.shape[1]))
    # at most 255 rows a block: column sums accumulate in uint8 without overflow
    # weighted blocks hold float64 copies of the masks: 1/8 of the cells keeps them in cache
    cells = block_cells // 8 if weighted else block_cells
    step = int(np.clip(cells // max(a_c.shape[1], 1), 1, 255))
    for s0 in range(0, n_r, step):
        sl = slice(s0, min(s0 + step, n_r))
        win, loss, counts = _block(a_r[:, sl], u_r[:, sl], a_c, u_c,
                                   None if not weighted else (wr[sl], wc))
        lw += counts[0]
        ll += counts[1]
        if weighted:
            wc2 = np.column_stack([wc, wc * wc])
            wf, lf = win.astype(float), loss.astype(float)
            rows[0:2, sl] = (wf @ wc2).T
            rows[2:4, sl] = (lf @ wc2).T
            wr2 = np.vstack([wr[sl], wr[sl] ** 2])
            cols[0:2] += wr2 @ wf
            cols[2:4] += wr2 @ lf
        else:
            rows[0, sl] = rows[1, sl] = _row_sums(win)
            rows[2, sl] = rows[3, sl] = _row_sums(loss)
            cols[0] += np.add.reduce(win.view(np.uint8), axis=0, dtype=np.uint8)
            cols[2] += np.add.reduce(loss.view(np.uint8), axis=0, dtype=np.uint8)
    cols = cols[:, :n_c]
    if not weighted:
        cols[1], cols[3] = cols[0], cols[2]
    # cumulative counts (decided at or before level k) -> decided at level k
    lw, ll = np.diff(lw, prepend=0.0), np.diff(ll, prepend=0.0)
    return PairCounts(lw, ll, rows[0], rows[2], rows[1], rows[3],
                      cols[0], cols[2], cols[1], cols[3])


_CHUNK = 128


def _block(a_r, u_r, a_c, u_c, weights, by_level: bool = True):
    """One block of rows against all columns: the final win / loss masks and, per level
    (``by_level``), the (weighted) pairs decided so far in favour of / against the row
    patient."""
    n_levels, n_rows = a_r.shape
    code = np.int8 if n_levels <= 6 else np.int64  # |T_K| <= 2^K - 1
    shape = (n_rows, a_c.shape[1])
    # preallocated outputs: no page faults from fresh multi-megabyte temporaries
    first, second = np.empty(shape, bool), np.empty(shape, bool)
    win, loss = np.empty(shape, bool), np.empty(shape, bool)
    tally, s = np.zeros(shape, code), np.empty(shape, code)
    counts = np.zeros((2, n_levels))
    fbuf = None if weights is None else np.empty(shape)
    for k in range(n_levels):
        # the row patient wins when the column patient's event comes first in the window
        np.less(a_c[k], u_r[k, :, None], out=first)
        np.less(a_r[k, :, None], u_c[k], out=second)
        np.subtract(first.view(np.int8), second.view(np.int8), out=s, casting="unsafe")
        tally *= 2
        tally += s
        if not by_level and k < n_levels - 1:
            continue
        np.greater(tally, 0, out=win)
        np.less(tally, 0, out=loss)
        if weights is None:
            counts[:, k] = np.count_nonzero(win), np.count_nonzero(loss)
        else:
            np.copyto(fbuf, win)
            counts[0, k] = weights[0] @ (fbuf @ weights[1])
            np.copyto(fbuf, loss)
            counts[1, k] = weights[0] @ (fbuf @ weights[1])
    return win, loss, counts


def _row_sums(mask: np.ndarray) -> np.ndarray:
    """Row sums of a boolean block whose width is a multiple of ``_CHUNK``: small-integer
    adds over contiguous chunks (several times faster than ``count_nonzero(axis=1)``)."""
    chunks = mask.view(np.uint8).reshape(mask.shape[0], -1, _CHUNK)
    acc = np.uint8 if chunks.shape[1] <= 255 else np.uint32
    return np.add.reduce(chunks, axis=1, dtype=acc).sum(axis=1, dtype=np.int64)


def _moments(pc: PairCounts, w1: np.ndarray, w0: np.ndarray) -> np.ndarray:
    """``p_w, p_l`` and their U-statistic covariance (Bebu & Lachin 2016, eq. 5) with
    weighted sums; unit weights give the unweighted estimator exactly."""
    a1, b1, a0, b0 = w1.sum(), (w1 * w1).sum(), w0.sum(), (w0 * w0).sum()
    pw, pl = pc.level_wins.sum() / (a1 * a0), pc.level_losses.sum() / (a1 * a0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # P(h_ij h_ik = 1), j != k: squared row sums less the pairs with themselves
        d1, d0 = a1 * (a0 * a0 - b0), a0 * (a1 * a1 - b1)
        ww1 = w1 @ (pc.row_win ** 2 - pc.row_win2) / d1
        ll1 = w1 @ (pc.row_loss ** 2 - pc.row_loss2) / d1
        wl1 = w1 @ (pc.row_win * pc.row_loss) / d1  # a pair never both wins and loses
        ww0 = w0 @ (pc.col_win ** 2 - pc.col_win2) / d0
        ll0 = w0 @ (pc.col_loss ** 2 - pc.col_loss2) / d0
        wl0 = w0 @ (pc.col_win * pc.col_loss) / d0
    f1, f0 = b1 / a1 ** 2, b0 / a0 ** 2  # 1/n1, 1/n0 without weights
    var_w = f1 * (ww1 - pw * pw) + f0 * (ww0 - pw * pw)
    var_l = f1 * (ll1 - pl * pl) + f0 * (ll0 - pl * pl)
    cov = f1 * (wl1 - pw * pl) + f0 * (wl0 - pw * pl)
    return np.array([pw, pl, var_w, var_l, cov])


def _fs_scores(a, u, arm: np.ndarray, pc: PairCounts) -> np.ndarray:
    """Each patient's Finkelstein-Schoenfeld score: wins - losses against all others."""
    score = np.zeros(arm.size)
    t, c = np.flatnonzero(arm), np.flatnonzero(~arm)
    score[t] = pc.row_win - pc.row_loss
    score[c] = pc.col_loss - pc.col_win
    for idx in (t, c):  # within-arm comparisons (a patient against itself is a tie)
        score[idx] += _within_scores(a[:, idx], u[:, idx])
    return score


def _within_scores(a: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Wins - losses of each patient against the others of its own arm.

    A pair's outcome is antisymmetric, so each block of ``_CHUNK`` rows meets only the
    columns from its own first row on (half the pairs): the rows take their wins -
    losses, the later columns the opposite.
    """
    n = a.shape[1]
    pad = -n % _CHUNK
    a_c = np.pad(a, ((0, 0), (0, pad)), constant_values=np.inf)
    u_c = np.pad(u, ((0, 0), (0, pad)), constant_values=-np.inf)
    score = np.zeros(n + pad)
    for s0 in range(0, n, _CHUNK):
        s1 = min(s0 + _CHUNK, n)
        win, loss, _ = _block(a[:, s0:s1], u[:, s0:s1], a_c[:, s0:], u_c[:, s0:], None,
                              by_level=False)
        score[s0:s1] += _row_sums(win) - _row_sums(loss)
        # the square block on the diagonal was counted from both sides already
        later = (np.add.reduce(loss.view(np.uint8), axis=0, dtype=np.uint8).astype(float)
                 - np.add.reduce(win.view(np.uint8), axis=0, dtype=np.uint8))
        score[s1:] += later[s1 - s0:]
    return score[:n]


def win_statistics(a: np.ndarray, u: np.ndarray, treated: np.ndarray,
                   weights: np.ndarray | None = None, strata: np.ndarray | None = None,
                   block_cells: int = _BLOCK_CELLS) -> dict:
    """Counts, moments and FS parts per stratum, from :func:`profiles` arrays.

    Returns ``{"levels": (K, 2) wins/losses, "pairs": total pair weight, "moments":
    (S, 5) rows of p_w, p_l, var_w, var_l, cov, "v": (S,) stratum weights, "fs": (T, V)
    or None with weights}``.
    """
    treated = np.asarray(treated, bool)
    strata = np.zeros(treated.size, np.int64) if strata is None else strata
    w = np.ones(treated.size) if weights is None else np.asarray(weights, float)
    levels = np.zeros((a.shape[0], 2))
    pairs, moments, v, one_arm = 0.0, [], [], 0
    fs_t = fs_v = 0.0
    for s in np.unique(strata):  # strata are few: a loop over them is fine
        t = np.flatnonzero((strata == s) & treated)
        c = np.flatnonzero((strata == s) & ~treated)
        if t.size == 0 or c.size == 0:
            one_arm += 1  # a stratum with one arm has no pairs
            continue
        pc = pair_counts(a[:, t], u[:, t], a[:, c], u[:, c],
                         None if weights is None else w[t],
                         None if weights is None else w[c], block_cells)
        levels += np.column_stack([pc.level_wins, pc.level_losses])
        a1, a0 = w[t].sum(), w[c].sum()
        pairs += a1 * a0
        moments.append(_moments(pc, w[t], w[c]))
        v.append(a1 * a0 / (a1 + a0))
        if weights is None:
            idx = np.concatenate([t, c])
            arm = np.r_[np.ones(t.size, bool), np.zeros(c.size, bool)]
            score = _fs_scores(a[:, idx], u[:, idx], arm, pc)
            n1, n0 = t.size, c.size
            n = n1 + n0
            fs_t += score[arm].sum()
            fs_v += n1 * n0 * (score @ score) / (n * (n - 1))
    return {"levels": levels, "pairs": pairs, "moments": np.array(moments).reshape(-1, 5),
            "v": np.array(v), "fs": None if weights is not None else (fs_t, fs_v),
            "one_arm_strata": one_arm}


def _summary(stats: dict, z: float) -> dict:
    """Win ratio, odds, net benefit and tests from :func:`win_statistics`."""
    m, v = stats["moments"], stats["v"]
    pw, pl = v @ m[:, 0] / v.sum(), v @ m[:, 1] / v.sum()
    var_w, var_l, cov = ((v * v) @ m[:, 2:5]) / v.sum() ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        wr = pw / pl
        se = np.sqrt(var_w / pw ** 2 + var_l / pl ** 2 - 2 * cov / (pw * pl))
        log_wr = np.log(wr)
        tie = 1.0 - pw - pl
        out = {"win_ratio": wr, "win_odds": (pw + tie / 2) / (pl + tie / 2),
               "net_benefit": pw - pl, "se_log_wr": se,
               "lower": np.exp(log_wr - z * se), "upper": np.exp(log_wr + z * se),
               "p": 2 * norm.sf(abs(log_wr / se))}
        if stats["fs"] is None:
            out.update(fs_statistic=np.nan, fs_p=np.nan)
        else:
            fs_t, fs_v = stats["fs"]
            fz = fs_t / np.sqrt(fs_v)
            out.update(fs_statistic=fz, fs_p=2 * norm.sf(abs(fz)))
    return {k: float(x) for k, x in out.items()}


@dataclass(frozen=True, eq=False)
class WinRatioResult(ResultMixin):
    """Pocock's unmatched win ratio of a hierarchical composite.

    Attributes
    ----------
    table : DataFrame, one row per level in priority order: level, time, event (the
        columns compared), pairs (pairs still tied when the level is reached), wins and
        losses of the treated arm (pairs decided at the level), ties (pairs still tied
        after it); weighted sums of pair weights with ``weights``.
    summary : one-row DataFrame: treated, reference, n_treated, n_reference, pairs,
        wins, losses, ties, win_ratio, win_odds, net_benefit, se_log_wr (U-statistic),
        lower, upper, p (Wald test of log WR = 0), fs_statistic (Finkelstein-Schoenfeld Z)
        and fs_p.
    treated, reference : the arms compared (treated vs reference).
    horizon : the cut-off of every pair's shared follow-up (days; inf for none).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    treated: object
    reference: object
    horizon: float
    conf_level: float
    weighted: bool
    strata: str | None = None
    variance: str = "U-statistic (Bebu & Lachin 2016)"
    time_unit: str = "days"
    notes: list[str] = field(default_factory=list)

    @property
    def win_ratio(self) -> float:
        return float(self.summary["win_ratio"].iloc[0])

    def _footer(self) -> str:
        s = self.summary.iloc[0]
        cl = f"{100 * self.conf_level:g}%"
        parts = [f"win ratio {s['win_ratio']:.3f} ({cl} CI {s['lower']:.3f}-"
                 f"{s['upper']:.3f}), p {format_p(s['p']) or 'NA'}; win odds "
                 f"{s['win_odds']:.3f}; net benefit {s['net_benefit']:.3f}"]
        if np.isfinite(s["fs_statistic"]):
            parts.append(f"Finkelstein-Schoenfeld Z = {s['fs_statistic']:.3f}, "
                         f"p {format_p(s['fs_p'])}")
        h = "" if not np.isfinite(self.horizon) else f", horizon {self.horizon:g} days"
        parts.append(f"{s['pairs']:.0f} pairs ({s['n_treated']:g} x {s['n_reference']:g})"
                     f"{h}; {self.variance} variance"
                     + (f"; stratified by {self.strata}" if self.strata else ""))
        return "\n".join(parts + list(self.notes))

    def _title(self) -> str:
        kind = "IPTW-weighted win ratio" if self.weighted else "Win ratio"
        return f"{kind}: {self.treated} vs {self.reference}"

    def __repr__(self) -> str:
        return frame_text(self._title(), self.table.set_index("level"), self._footer())

    def _repr_html_(self) -> str:
        return frame_html(self._title(), self.table.set_index("level"),
                          self._footer())

    def plot(self, **kwargs):
        """Wins, losses and ties by level (:func:`mace_outcomes.plots.plot_win_ratio`)."""
        from ..plots.win_ratio import plot_win_ratio

        return plot_win_ratio(self, **kwargs)


def _level_pairs(levels) -> list[tuple[str, str]]:
    if not levels or isinstance(levels, str):
        raise InputError(Problem("levels must list (time, event) column pairs in priority "
                                 "order", column="levels",
                                 fix='e.g. levels=[("time_death", "death"), '
                                     '("time_mi", "mi")]'))
    out = []
    for lev in levels:
        if not (isinstance(lev, (tuple, list)) and len(lev) == 2):
            raise InputError(Problem(f"level {lev!r} is not a (time, event) pair of column "
                                     "names", column="levels"))
        out.append((str(lev[0]), str(lev[1])))
    return out


def _cohort_frame(cohort, hierarchy, treatment: str, horizon) -> tuple[pd.DataFrame, list]:
    """One row per patient: ``time_<type>``, ``<type>`` per level of the hierarchy, and
    ``follow_up`` (death, last contact or the horizon: the all-cause-death time)."""
    from ..records import time_to_event

    if not hierarchy or isinstance(hierarchy, str):
        raise InputError(Problem("a Cohort needs hierarchy=[event types in priority order]",
                                 column="hierarchy",
                                 fix='e.g. hierarchy=["cardiac_death", "stroke", "mi", "tvr"]'))
    base = time_to_event(cohort, "all_cause_death", horizon=horizon)
    frame = base.drop(columns=["time", "event", "status", "event_type"]).assign(
        follow_up=base["time"])
    levels = []
    for name in hierarchy:
        tte = time_to_event(cohort, name, horizon=horizon)
        got = tte.set_index("patient_id").reindex(frame["patient_id"])
        frame[f"time_{name}"] = got["time"].to_numpy()
        frame[name] = got["event"].to_numpy()
        levels.append((f"time_{name}", name))
    if treatment not in frame.columns:
        raise InputError(Problem(f"treatment column not found (columns are "
                                 f"{list(frame.columns)})", column=treatment,
                                 source="time-to-event table"))
    return frame, levels


def _arrays(df: pd.DataFrame, levels, treatment, follow_up, weights, strata):
    """Validated (K, n) times and events, follow-up, arm labels, weights and strata."""
    problems: list[Problem] = []
    times, events = [], []
    arr = None
    for t, e in levels:
        try:
            arr = survival_arrays(df, time=t, event=e, group=treatment, weights=weights,
                                  strata=strata, min_groups=2, source="win_ratio data")
        except InputError as err:
            problems += [p for p in err.problems if p not in problems]
            continue
        times.append(arr.time)
        events.append(arr.event)
    if problems:
        raise InputError(problems)
    time, event = np.vstack(times), np.vstack(events)
    if follow_up is None:
        # each level's time is its event or the end of follow-up: the latest is the end
        f = time.max(axis=0)
    else:
        values, name = column_values(df, follow_up, "follow_up", "win_ratio data")
        f = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(f) & (f >= 0))
        if bad.any():
            problems.append(Problem("missing, non-numeric or negative follow-up", name,
                                    row_ids(df, bad), "win_ratio data"))
        for (tc, ec), tk, ek in zip(levels, time, event, strict=True):
            late = (ek == 1) & (tk > f)
            if late.any():
                problems.append(Problem(f"event {ec!r} after the end of follow-up", tc,
                                        row_ids(df, late), "win_ratio data",
                                        fix="check the dates or the follow-up column"))
    if problems:
        raise InputError(problems)
    return time, event, f, arr


def win_ratio(df, treatment: str = "arm", levels=None, control=None,
              horizon: float | None = None,
              weights: str | pd.Series | np.ndarray | None = None, *,
              hierarchy: list[str] | None = None, follow_up: str | None = None,
              strata: str | pd.Series | np.ndarray | None = None,
              conf_level: float = 0.95) -> WinRatioResult:
    """Pocock's unmatched win ratio over a priority list of (time, event) outcomes.

    Parameters
    ----------
    df : DataFrame, one row per patient, or a :class:`~mace_outcomes.Cohort` (with
        ``hierarchy``).
    treatment : the arm column (two arms).
    levels : ``[(time, event), ...]`` column pairs, highest priority first (e.g. death
        first); each time is the level's first event or the end of follow-up (days).
    control : the reference arm; default by the package's one arm rule (the first label
        in sorted order, as R's factor levels).
    horizon : cut-off (days) of every pair's shared follow-up; events after it do not
        count.
    weights : optional case weights (e.g. IPTW ``ps.weights``; pair weight ``w_i w_j``).
    hierarchy : with a Cohort, ARC-2 event types or endpoint names in priority order
        (``["cardiac_death", "stroke", "mi", "tvr"]``); each level is built by
        :func:`~mace_outcomes.time_to_event` and follow-up ends at death, last contact or
        the horizon.
    follow_up : column of each patient's end of follow-up (days); default the latest of
        the level times.
    strata : stratum column (or aligned labels): Mantel-Haenszel-type stratified win ratio
        (Dong et al. 2018) and stratified Finkelstein-Schoenfeld test.
    conf_level : confidence level of the interval for the win ratio.

    Returns
    -------
    WinRatioResult

    Examples
    --------
    >>> import pandas as pd, mace_outcomes as mo
    >>> df = pd.DataFrame({"arm": ["new", "new", "old", "old"],
    ...                    "time_death": [365, 200, 100, 365], "death": [0, 1, 1, 0],
    ...                    "time_mi": [365, 50, 100, 30], "mi": [0, 1, 0, 1]})
    >>> fit = mo.win_ratio(df, levels=[("time_death", "death"), ("time_mi", "mi")],
    ...                    control="old")
    >>> fit.table[["level", "wins", "losses", "ties"]].values.tolist()
    [['death', 2, 1, 1], ['mi', 1, 0, 0]]
    """
    from ..records import Cohort

    if isinstance(df, Cohort):
        df, levels = _cohort_frame(df, hierarchy, treatment, horizon)
        follow_up = "follow_up" if follow_up is None else follow_up
    elif hierarchy is not None:
        raise InputError(Problem("hierarchy= builds the levels from a Cohort; with a frame "
                                 "give levels=[(time, event), ...]", column="hierarchy"))
    if not isinstance(df, pd.DataFrame):
        raise InputError(Problem(f"expected a pandas DataFrame or a Cohort, got "
                                 f"{type(df).__name__}"))
    pairs = _level_pairs(levels)
    h = np.inf if horizon is None else float(horizon)
    problems = []
    if not h > 0:
        problems.append(Problem(f"horizon must be positive days, not {horizon!r}",
                                column="horizon"))
    if not 0 < conf_level < 1:
        problems.append(Problem(f"conf_level must be between 0 and 1, not {conf_level!r}"))
    if problems:
        raise InputError(problems)
    time, event, f, arr = _arrays(df, pairs, treatment, follow_up, weights, strata)
    arms = arm_order(arr.group_levels, reference=control, column=treatment)
    if len(arms) != 2:
        raise InputError(Problem(f"the win ratio compares two arms, found {arms}",
                                 treatment, fix="exclude the other arms first"))
    treated = arr.group == arms[0]
    a, u = profiles(time, event, f, h)
    stats = win_statistics(a, u, treated, arr.weights, arr.strata)
    z = norm.ppf(0.5 + conf_level / 2)
    return _result(stats, pairs, arms, treated, arr, h, conf_level, weights, strata, z)


def _result(stats, pairs, arms, treated, arr, h, conf_level, weights, strata, z):
    lv = stats["levels"]
    decided = np.cumsum(lv.sum(axis=1))
    reached = stats["pairs"] - np.r_[0.0, decided[:-1]]
    table = pd.DataFrame({"level": [e for _, e in pairs], "time": [t for t, _ in pairs],
                          "event": [e for _, e in pairs], "pairs": reached,
                          "wins": lv[:, 0], "losses": lv[:, 1],
                          "ties": stats["pairs"] - decided})
    if arr.weights is None:  # counts of pairs
        table[["pairs", "wins", "losses", "ties"]] = table[
            ["pairs", "wins", "losses", "ties"]].round().astype(np.int64)
    w = np.ones(treated.size) if arr.weights is None else arr.weights
    counts = [stats["pairs"], lv[:, 0].sum(), lv[:, 1].sum(), stats["pairs"] - decided[-1]]
    if arr.weights is None:
        counts = [int(round(c)) for c in counts]
    summary = pd.DataFrame([{
        "treated": arms[0], "reference": arms[1],
        "n_treated": float(w[treated].sum()) if arr.weights is not None else int(treated.sum()),
        "n_reference": (float(w[~treated].sum()) if arr.weights is not None
                        else int((~treated).sum())),
        **dict(zip(("pairs", "wins", "losses", "ties"), counts, strict=True)),
        **_summary(stats, z)}])
    notes = []
    if weights is not None:
        notes.append("weighted: pair weight w_i w_j; variance with the weights held fixed; "
                     "no Finkelstein-Schoenfeld test with weights")
    if stats["levels"][:, 1].sum() == 0 or stats["levels"][:, 0].sum() == 0:
        notes.append("no wins or no losses: the win ratio and its interval are not finite")
    if stats["one_arm_strata"]:
        notes.append(f"{stats['one_arm_strata']} stratum/strata with patients of one arm "
                     "only: no pairs, left out")
    if not np.isfinite(summary["se_log_wr"].iloc[0]) and not notes:
        notes.append("the U-statistic variance estimate is not positive (too few patients "
                     "per arm): no interval or p-value")
    sname = strata if isinstance(strata, str) else ("strata" if strata is not None else None)
    return WinRatioResult(table=table, summary=summary, treated=arms[0],
                          reference=arms[1], horizon=h, conf_level=conf_level,
                          weighted=weights is not None, strata=sname, notes=notes)
