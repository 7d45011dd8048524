"""Statistical kernels shared by every room: the tests a Table 1 uses, the normality
rule that chooses between them, weighted summaries and the standardized mean difference.

Upstream of tables/, outcomes/ and weighting/ (like ``_frames`` and ``_format``): pure
functions on numpy arrays (no pandas). Each one states its formula and the reference it
follows; the tests hold them against ``scipy.stats`` and R.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from ._format import format_p  # noqa: F401 (the one p-value formatter, for the tables)

# Above this many enumerated tables the exact Fisher-Freeman-Halton test falls back to
# Monte-Carlo sampling of tables with the observed margins (seeded, stated in the output).
EXACT_TABLE_LIMIT = 2_000_000


# ----------------------------------------------------------------------- contingency
def expected_counts(table: np.ndarray) -> np.ndarray:
    """Expected cell counts under independence: row total x column total / N."""
    t = np.asarray(table, dtype=float)
    n = t.sum()
    return np.outer(t.sum(axis=1), t.sum(axis=0)) / n if n > 0 else np.zeros_like(t)


def drop_empty(table: np.ndarray) -> np.ndarray:
    """Remove all-zero rows and columns (they carry no information for any test)."""
    t = np.asarray(table)
    return t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]


def pearson_chi2(table: np.ndarray, yates: bool = False) -> tuple[float, int, float]:
    """Pearson's chi-square test of independence for an r x c table of counts.

    ``X2 = sum (|O - E| - c)^2 / E`` with ``c = 0.5`` (Yates 1934) for a 2 x 2 table when
    ``yates`` is true (capped so that no cell's correction exceeds ``|O - E|``, as R's
    ``chisq.test`` does), else ``c = 0``. Returns ``(statistic, df, p)``; ``p`` is nan
    when the table has fewer than two non-empty rows or columns.
    """
    t = drop_empty(np.asarray(table, dtype=float))
    if t.shape[0] < 2 or t.shape[1] < 2:
        return float("nan"), 0, float("nan")
    e = expected_counts(t)
    d = np.abs(t - e)
    if yates and t.shape == (2, 2):
        d = d - min(0.5, float(d.min()))
    x2 = float((d**2 / e).sum())
    dof = (t.shape[0] - 1) * (t.shape[1] - 1)
    return x2, dof, float(stats.chi2.sf(x2, dof))


def _log_table_prob_const(rows: np.ndarray, cols: np.ndarray) -> float:
    n = rows.sum()
    return float(special.gammaln(rows + 1).sum() + special.gammaln(cols + 1).sum()
                 - special.gammaln(n + 1))


def _compositions(total: int, parts: int) -> np.ndarray:
    """All vectors of ``parts`` non-negative integers summing to ``total`` (stars and bars)."""
    if parts == 1:
        return np.array([[total]], dtype=np.int64)
    # choose parts-1 bar positions among total+parts-1 slots
    from itertools import combinations
    bars = np.array(list(combinations(range(total + parts - 1), parts - 1)), dtype=np.int64)
    edges = np.column_stack([np.full(len(bars), -1), bars,
                             np.full(len(bars), total + parts - 1)])
    return np.diff(edges, axis=1) - 1


def fisher_exact_rxc(table: np.ndarray, *, max_tables: int = EXACT_TABLE_LIMIT,
                     n_sim: int = 100_000, seed: int = 2024) -> tuple[float, str]:
    """Fisher's exact test (Fisher-Freeman-Halton for r x c), two-sided.

    The p-value is the total hypergeometric probability of all tables with the observed
    margins that are no more probable than the observed one (Freeman & Halton 1951; the
    two-sided rule of R's ``fisher.test`` with its relative tolerance ``1e-7``). Tables
    with two rows (or two columns) use the network algorithm (:func:`_fisher_two_rows`,
    Mehta & Patel 1983). Others are enumerated exactly, column by column, with numpy: each
    partial table is a row of remaining row totals and a running ``-sum log(x!)``; the
    last column is forced.
    When more than ``max_tables`` partial tables would be needed, the p-value is estimated
    instead from ``n_sim`` tables drawn with the observed margins
    (``scipy.stats.random_table``, Patefield 1981) with the seed given, as
    ``(1 + #{P_sim <= P_obs}) / (n_sim + 1)`` (R's ``simulate.p.value``).

    Returns ``(p, method)`` with method ``"exact"`` or ``"monte-carlo (n_sim=..., seed=...)"``.
    For a 2 x 2 table this equals ``scipy.stats.fisher_exact``.
    """
    t = drop_empty(np.asarray(table, dtype=np.int64))
    if t.shape[0] < 2 or t.shape[1] < 2:
        return 1.0, "exact"
    if t.shape[0] > t.shape[1]:
        t = t.T  # fewer rows -> fewer compositions per column
    if t.shape[0] == 2:
        p2 = _fisher_two_rows(t, max_tables)
        if p2 is not None:
            return p2, "exact"
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    # columns in decreasing size keep the frontier small at the start
    order = np.argsort(-cols, kind="stable")
    t, cols = t[:, order], cols[order]
    const = _log_table_prob_const(rows, cols)
    log_obs = const - float(special.gammaln(t + 1).sum())

    remaining = rows[None, :].copy()
    partial = np.zeros(1)
    exact = True
    for c in cols[:-1]:
        comp = _compositions(int(c), len(rows))
        if remaining.shape[0] * comp.shape[0] > max_tables:
            exact = False
            break
        cand = remaining[:, None, :] - comp[None, :, :]
        ok = (cand >= 0).all(axis=2)
        i, j = np.nonzero(ok)
        remaining = cand[i, j]
        partial = partial[i] - special.gammaln(comp[j] + 1).sum(axis=1)
    if exact:
        logp = const + partial - special.gammaln(remaining + 1).sum(axis=1)
        keep = logp <= log_obs + math.log1p(1e-7)
        p = float(np.exp(logp[keep]).sum())
        return min(1.0, p), "exact"
    rng = np.random.default_rng(seed)
    sims = stats.random_table(rows, cols, seed=rng).rvs(n_sim)
    logp = const - special.gammaln(sims + 1).sum(axis=(1, 2))
    hits = int((logp <= log_obs + math.log1p(1e-7)).sum())
    return (1 + hits) / (n_sim + 1), f"monte-carlo (n_sim={n_sim}, seed={seed})"


def _fisher_two_rows(t: np.ndarray, max_tables: int) -> float | None:
    """Exact two-sided Fisher p of a 2 x c table by the network algorithm.

    Mehta & Patel (1983) specialised to two rows, where the node after ``j`` columns is
    the remaining first-row total ``a``. A backward pass gives, for every node, the
    largest and smallest possible ``-sum log x!`` of the remaining columns and the log of
    their total ``sum prod 1/x!`` (closed form ``T! / (a! (T - a)! prod c!)``). Walking
    forward, a partial table whose every completion is at most as probable as the observed
    table adds its whole remaining mass at once; one whose every completion is more
    probable is dropped; only the others are expanded. Partial tables reaching the same
    node with the same probability are merged. Returns None when more than ``max_tables``
    partial tables would be held (the caller then samples).
    """
    r1 = int(t[0].sum())
    cols = t.sum(axis=0)
    cols = cols[np.argsort(-cols, kind="stable")]
    big = int(cols.max())
    n_col = len(cols)
    tail = np.r_[np.cumsum(cols[::-1])[::-1], 0]  # total of columns j.. (T_j)
    lf = special.gammaln(np.arange(int(tail[0]) + 2) + 1)  # log k!
    rows2 = np.array([r1, int(tail[0]) - r1])
    const = float(lf[rows2].sum() + lf[cols].sum() - lf[int(tail[0])])
    log_obs = const - float(special.gammaln(t + 1).sum())
    tol = math.log1p(1e-7)
    states = np.arange(r1 + 1)
    # backward pass: best / worst remaining -sum log x! from node (j, a)
    best = np.full((n_col + 1, r1 + 1), -np.inf)
    worst = np.full((n_col + 1, r1 + 1), np.inf)
    best[n_col, 0] = worst[n_col, 0] = 0.0
    xs = np.arange(big + 1)
    for j in range(n_col - 1, -1, -1):
        c, tj = int(cols[j]), int(tail[j])
        x = xs[: c + 1][None, :]
        a = states[:, None]
        ok = (x <= a) & (c - x <= tj - a) & (tj - a >= 0)
        nxt = np.clip(a - x, 0, r1)
        val = -lf[np.minimum(x, c)] - lf[np.clip(c - x, 0, None)]
        b = np.where(ok, val + best[j + 1][nxt], -np.inf)
        w = np.where(ok, val + worst[j + 1][nxt], np.inf)
        best[j], worst[j] = b.max(axis=1), w.min(axis=1)

    def log_mass(j: int, a: np.ndarray) -> np.ndarray:
        tj = int(tail[j])
        return lf[tj] - lf[a] - lf[tj - a] - float(lf[cols[j:]].sum())

    p = 0.0
    a = np.array([r1])
    part = np.zeros(1)
    mult = np.zeros(1)  # log of how many identical partial tables a row stands for
    for j in range(n_col):
        c = int(cols[j])
        x = np.arange(c + 1)
        if len(a) * (c + 1) > max_tables:
            return None
        aa = np.repeat(a, c + 1)
        pp = np.repeat(part, c + 1)
        mm = np.repeat(mult, c + 1)
        xx = np.tile(x, len(a))
        tj = int(tail[j])
        ok = (xx <= aa) & (c - xx <= tj - aa)
        aa, pp, mm = aa[ok] - xx[ok], pp[ok] - lf[xx[ok]] - lf[c - xx[ok]], mm[ok]
        hi = const + pp + best[j + 1][aa]
        lo = const + pp + worst[j + 1][aa]
        done = hi <= log_obs + tol  # every completion counts
        if done.any():
            p += float(np.exp(const + pp[done] + mm[done]
                              + log_mass(j + 1, aa[done])).sum())
        keep = ~done & (lo <= log_obs + tol)
        aa, pp, mm = aa[keep], pp[keep], mm[keep]
        if aa.size == 0:
            break
        # merge partial tables at the same node with the same probability
        key = np.round(pp, 10)
        uniq, inv, cnt = np.unique(np.stack([aa, key]), axis=1, return_inverse=True,
                                   return_counts=True)
        if uniq.shape[1] < aa.size:
            first = np.zeros(uniq.shape[1], dtype=np.int64)
            first[inv.ravel()] = np.arange(aa.size)
            total = np.zeros(uniq.shape[1])
            np.add.at(total, inv.ravel(), np.exp(mm - mm.max()))
            aa, pp, mm = aa[first], pp[first], np.log(total) + mm.max()
        a, part, mult = aa, pp, mm
    return min(1.0, p)


# ------------------------------------------------------------------------- two means
def t_test_from_stats(m1: float, s1: float, n1: float, m2: float, s2: float, n2: float,
                      equal_var: bool = True) -> tuple[float, float, float]:
    """Two-sample t test from means, SDs and sizes. Returns ``(t, df, p)`` two-sided.

    Student: pooled variance ``sp^2 = ((n1-1)s1^2 + (n2-1)s2^2) / (n1+n2-2)``,
    ``t = (m1-m2) / (sp sqrt(1/n1+1/n2))`` on ``n1+n2-2`` df. Welch (1947):
    ``t = (m1-m2) / sqrt(s1^2/n1 + s2^2/n2)`` on Welch-Satterthwaite df.
    """
    v1, v2 = s1 * s1 / n1, s2 * s2 / n2
    if equal_var:
        dof = n1 + n2 - 2
        sp2 = ((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / dof
        se = math.sqrt(sp2 * (1 / n1 + 1 / n2))
    else:
        se = math.sqrt(v1 + v2)
        dof = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1)) if se > 0 else np.nan
    if not se > 0:
        return float("nan"), float(dof), float("nan")
    tt = (m1 - m2) / se
    return float(tt), float(dof), float(2 * stats.t.sf(abs(tt), dof))


def t_test(x: np.ndarray, y: np.ndarray, equal_var: bool = True) -> tuple[float, float, float]:
    """Student (``equal_var``) or Welch t test of two samples; see :func:`t_test_from_stats`."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or len(y) < 2:
        return float("nan"), float("nan"), float("nan")
    return t_test_from_stats(x.mean(), x.std(ddof=1), len(x), y.mean(), y.std(ddof=1), len(y),
                             equal_var=equal_var)


def looks_nonnormal(samples, alpha: float = 0.05) -> bool:
    """The tables' normality rule: Shapiro-Wilk p < ``alpha`` in any arm (arms with fewer
    than 3 values or no spread are not tested). Shared by every crude comparison."""
    ps = [stats.shapiro(x).pvalue for x in samples if len(x) >= 3 and np.ptp(x) > 0]
    return bool(ps) and min(ps) < alpha


def levene_mean(x: np.ndarray, y: np.ndarray) -> float:
    """Levene's test (mean-centred, as SPSS prints beside the t test): p of the one-way
    ANOVA F on ``|x - mean(x)|`` and ``|y - mean(y)|`` (Levene 1960)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    zx, zy = np.abs(x - x.mean()), np.abs(y - y.mean())
    z = np.concatenate([zx, zy])
    n, g = len(z), 2
    between = len(zx) * (zx.mean() - z.mean()) ** 2 + len(zy) * (zy.mean() - z.mean()) ** 2
    within = ((zx - zx.mean()) ** 2).sum() + ((zy - zy.mean()) ** 2).sum()
    if within <= 0:
        return 1.0 if between == 0 else 0.0
    f = (between / (g - 1)) / (within / (n - g))
    return float(stats.f.sf(f, g - 1, n - g))


# ---------------------------------------------------------------- weighted summaries
def weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and variance ``sum w (x - m)^2 / sum w * n / (n - 1)``.

    The ``n/(n-1)`` factor makes unit weights give the usual sample variance; it is the
    variance R's ``survey::svyvar`` and ``tableone::svyCreateTableOne`` report.
    """
    x, w = np.asarray(x, float), np.asarray(w, float)
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    m = float(np.sum(w * x) / np.sum(w))
    if n < 2:
        return m, float("nan")
    v = float(np.sum(w * (x - m) ** 2) / np.sum(w) * n / (n - 1))
    return m, v


def weighted_quantiles(x: np.ndarray, q: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Quantiles: unweighted, R's type 7 (``numpy`` linear interpolation); weighted, the
    smallest value whose weighted empirical CDF reaches ``q``, averaged with the next value
    when the CDF equals ``q`` exactly (so unit weights give the usual median)."""
    x = np.asarray(x, float)
    q = np.atleast_1d(np.asarray(q, float))
    if len(x) == 0:
        return np.full(len(q), np.nan)
    if w is None:
        return np.quantile(x, q)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], np.asarray(w, float)[order]
    cdf = np.cumsum(ws) / ws.sum()
    i = np.searchsorted(cdf, q - 1e-12, side="left")
    i = np.minimum(i, len(xs) - 1)
    hit = np.isclose(cdf[i], q) & (i + 1 < len(xs))
    j = np.minimum(i + 1, len(xs) - 1)
    return np.where(hit, (xs[i] + xs[j]) / 2, xs[i])


# ---------------------------------------------------------------------------- SMD
def smd_continuous(m1: float, v1: float, m2: float, v2: float) -> float:
    """Standardized mean difference ``|m1 - m2| / sqrt((v1 + v2) / 2)`` (Austin 2009)."""
    den = math.sqrt((v1 + v2) / 2) if np.isfinite(v1 + v2) else float("nan")
    if not den > 0:
        return 0.0 if m1 == m2 else float("nan")
    return abs(m1 - m2) / den


def smd_categorical(p1: np.ndarray, p2: np.ndarray) -> float:
    """SMD of a categorical variable from the level proportions in two groups.

    Yang & Dalton (2012): with ``T``, ``C`` the proportions of levels 2..k,
    ``S = (S_T + S_C) / 2`` where ``S_g[k, k] = p_k (1 - p_k)`` and
    ``S_g[k, l] = -p_k p_l``, ``SMD = sqrt((T - C)' S^-1 (T - C))``. For two levels this is
    ``|p1 - p2| / sqrt((p1 (1-p1) + p2 (1-p2)) / 2)``. The same as R's ``tableone``.
    """
    p1, p2 = np.asarray(p1, float)[1:], np.asarray(p2, float)[1:]
    d = p1 - p2
    if not np.any(np.abs(d) > 1e-15):
        return 0.0
    s = (np.diag(p1) - np.outer(p1, p1) + np.diag(p2) - np.outer(p2, p2)) / 2
    if np.linalg.matrix_rank(s) == 0:
        return float("inf")  # every subject in one level in both groups, yet p differ
    val = float(d @ np.linalg.pinv(s) @ d)
    return math.sqrt(max(val, 0.0))


# ------------------------------------------------------------- design-based (weighted)
def design_t_test(y: np.ndarray, treated: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Design-based two-sample t test of a weighted mean difference, as R's
    ``survey::svyttest`` on ``svydesign(ids = ~1, weights = ~w)``.

    Weighted least squares of ``y`` on an intercept and the 0/1 ``treated`` indicator;
    sandwich variance ``A^-1 B A^-1`` with ``A = X'WX`` and
    ``B = n/(n-1) sum_i (w_i e_i x_i)(w_i e_i x_i)'`` (Binder 1983); ``t`` on ``n - 2`` df.
    Returns ``(t, df, p)``.
    """
    y, g, w = (np.asarray(a, float) for a in (y, treated, w))
    n = len(y)
    x = np.column_stack([np.ones(n), g])
    a = x.T @ (w[:, None] * x)
    beta = np.linalg.solve(a, x.T @ (w * y))
    u = x * (w * (y - x @ beta))[:, None]
    u = u - u.mean(axis=0)
    b = n / (n - 1) * (u.T @ u)
    ainv = np.linalg.inv(a)
    v = ainv @ b @ ainv
    se = math.sqrt(v[1, 1])
    if not se > 0:
        return float("nan"), float(n - 2), float("nan")
    t = beta[1] / se
    return float(t), float(n - 2), float(2 * stats.t.sf(abs(t), n - 2))


def rao_scott_f(rows: np.ndarray, cols: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Rao-Scott second-order corrected Pearson test of independence for weighted data, as
    R's ``survey::svychisq(statistic = "F")`` on ``svydesign(ids = ~1, weights = ~w)``.

    ``rows`` and ``cols`` are integer codes. The Pearson X^2 of the weighted table scaled to
    ``n`` is divided by the trace of the generalised design-effect matrix ``Delta``
    (cell-proportion variance by linearisation against its multinomial value, projected on
    the interaction contrasts) and referred to ``F(d0, d0 (n - 1))``,
    ``d0 = tr(Delta)^2 / tr(Delta^2)`` (Rao & Scott 1984). Returns ``(F, d0, p)``.
    """
    r = np.asarray(rows, int)
    c = np.asarray(cols, int)
    w = np.asarray(w, float)
    n = len(w)
    nr, nc = r.max() + 1, c.max() + 1
    if nr < 2 or nc < 2:
        return float("nan"), float("nan"), float("nan")
    cell = r + nr * c  # rows vary fastest, as R's expand.grid
    k = nr * nc
    ind = np.zeros((n, k))
    ind[np.arange(n), cell] = 1.0
    wsum = w.sum()
    p = (w @ ind) / wsum
    z = w[:, None] * (ind - p) / wsum
    z = z - z.mean(axis=0)
    v = n / (n - 1) * (z.T @ z)
    # Pearson X^2 of the weighted table rescaled to n (svytable(Ntotal = n)), uncorrected
    tab = (p * n).reshape(nc, nr).T
    x2, _, _ = pearson_chi2(tab)
    # contrasts: interaction columns of ~rows*cols made orthogonal to the main effects
    ri = np.arange(k) % nr
    ci = np.arange(k) // nr
    main = [np.ones(k)] + [(ri == i).astype(float) for i in range(1, nr)] + \
        [(ci == j).astype(float) for j in range(1, nc)]
    x1 = np.column_stack(main)
    inter = np.column_stack([((ri == i) & (ci == j)).astype(float)
                             for j in range(1, nc) for i in range(1, nr)])
    q, _ = np.linalg.qr(x1)
    cmat = inter - q @ (q.T @ inter)
    idiag = np.where(p > 0, 1 / np.where(p > 0, p, 1), 0.0)
    denom = cmat.T @ (idiag[:, None] * cmat) / n
    numr = cmat.T @ (idiag[:, None] * v * idiag[None, :]) @ cmat
    delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(delta))
    d0 = tr * tr / float(np.trace(delta @ delta))
    f = x2 / tr
    return float(f), float(d0), float(stats.f.sf(f, d0, d0 * (n - 1)))
