"""compare_outcome with propensity scores of exactly 0 or 1: a unit whose ATT or overlap
weight is exactly 0 leaves the weighted rows, as ``propensity().kept`` says. The truth is
the closed form of a weighted two-arm comparison over the kept units: the difference of
the weighted means, and its sandwich SE (HC0, or clustered with the small-sample factor
G/(G-1) (n-1)/(n-2) over the kept units and clusters)."""

import warnings

import numpy as np
import pytest
from scipy import stats
from test_weighting_faults import cohort

import mace_outcomes as mo

Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def separated():
    # left-main patients: OCT exactly when older than 72, so maximum likelihood drives
    # their scores to exactly 0 / 1 (tests/test_weighting_faults.py)
    df = cohort(n=300, seed=4, quasi=True)
    lm = df.any_left_main == 1
    df["lm_age"] = np.where(lm, df.age - 72, 0.0)
    df.loc[lm, "arm"] = np.where(df.lm_age[lm] > 0, "OCT", "IVUS")
    rng = np.random.default_rng(1)
    df["loss"] = rng.normal(5, 1, len(df))
    df["bleed"] = (rng.random(len(df)) < 0.3).astype(int)
    df["pair"] = np.arange(len(df)) // 2
    return df


def _compare(df, outcome, estimand, cluster=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.StatisticalWarning)
        ps = mo.propensity(df, "arm", ["lm_age"], estimand=estimand)
        res = mo.compare_outcome(df, outcome, "arm", ["lm_age"], cluster=cluster,
                                 estimand=estimand)
    return ps, res


def _kept(df, ps, *columns):
    """The kept units' outcome columns, treated indicator and weights."""
    kept = ps.kept.to_numpy()
    assert (~kept).sum() > 0  # the data do give exactly-zero weights
    cols = [df[c].to_numpy()[kept] for c in columns]
    return *cols, (df["arm"] == "OCT").to_numpy()[kept], ps.weights.to_numpy()[kept]


def _closed_form(y, t, w, groups=None):
    """Weighted mean difference and its sandwich SE, by hand."""
    m1, m0 = np.average(y[t], weights=w[t]), np.average(y[~t], weights=w[~t])
    infl = np.where(t, w * (y - m1) / w[t].sum(), -w * (y - m0) / w[~t].sum())
    if groups is None:
        return m1 - m0, np.sqrt(np.sum(infl ** 2))
    _, codes = np.unique(groups, return_inverse=True)
    g, n = codes.max() + 1, len(y)
    summed = np.bincount(codes, weights=infl)
    return m1 - m0, np.sqrt(np.sum(summed ** 2) * g / (g - 1) * (n - 1) / (n - 2))


@pytest.mark.parametrize("estimand", ["ATT", "ATO"])
def test_zero_weight_units_leave_the_weighted_row(separated, estimand):
    ps, res = _compare(separated, "loss", estimand)
    est, se = _closed_form(*_kept(separated, ps, "loss"))
    row = res.table.set_index("analysis").loc[f"IPTW-{estimand}"]
    assert row["estimate"] == pytest.approx(est, rel=1e-10)
    assert (row["upper"] - row["lower"]) / (2 * Z) == pytest.approx(se, rel=1e-8)
    assert f"IPTW-{estimand}: {int((~ps.kept).sum())} unit(s) with a weight of exactly 0" \
        in " ".join(res.notes)


def test_clustered_overlap_row_counts_only_kept_units_and_clusters(separated):
    ps, _ = _compare(separated, "loss", "ATO")
    y, pair, t, w = _kept(separated, ps, "loss", "pair")
    est, se = _closed_form(y, t, w, pair)
    _, clustered = _compare(separated, "loss", "ATT", cluster="pair")
    row = clustered.table.set_index("analysis").loc["overlap"]  # derived from the ATT fit
    assert row["estimate"] == pytest.approx(est, rel=1e-10)
    assert (row["upper"] - row["lower"]) / (2 * Z) == pytest.approx(se, rel=1e-8)
    assert any(n.startswith(f"overlap: {int((~ps.kept).sum())} unit(s)")
               for n in clustered.notes)


def test_binary_outcome_ratios_use_the_kept_units(separated):
    ps, res = _compare(separated, "bleed", "ATT")
    y, t, w = _kept(separated, ps, "bleed")
    m1, m0 = np.average(y[t], weights=w[t]), np.average(y[~t], weights=w[~t])
    rows = res.table[res.table.analysis == "IPTW-ATT"].set_index("measure")
    assert rows.loc["risk ratio", "estimate"] == pytest.approx(m1 / m0, rel=1e-10)
    assert rows.loc["odds ratio", "estimate"] == pytest.approx(
        m1 / (1 - m1) / (m0 / (1 - m0)), rel=1e-10)
