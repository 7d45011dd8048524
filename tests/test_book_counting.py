"""mo.cox on (start, stop] rows against Therneau & Grambsch's appendix data set 2.

References: tests/reference/book_counting.R (R survival's tests/book3.R, Breslow, and
tests/book4.R, Efron: coxph on the ten counting-process rows, the stratified triple with
shifted times, and robust, clustered and weighted fits; data set 1 of book1/2.R and the
weighted data set of book5/6.R as (0, time] rows) and the appendix's closed forms for the
log partial likelihood, the information and the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference

import mace_outcomes as mo

TOL = 1e-8


def _data(strata: bool = False, name: str = "data") -> pd.DataFrame:
    d = pd.DataFrame(reference("book_counting")[name])
    if not strata:
        return d
    # test2b: three copies, times shifted by the copy number (wrong risk sets if strata leak)
    copies = [d.assign(group=g, start=d["start"] + g, stop=d["stop"] + g) for g in (1, 2, 3)]
    return pd.concat(copies, ignore_index=True)


def _fit(d: pd.DataFrame, ties: str, **kw):
    if "status" in d:  # data sets 1: (0, time] rows
        return mo.cox(d, time="time", event="status", start="start", covariates=["x"],
                      ties=ties, **kw)
    return mo.cox(d, time="stop", event="event", start="start", covariates=["x"],
                  ties=ties, **kw)


CASES = [  # key, ties, stratified copies, arguments
    ("breslow", "breslow", False, {}),
    ("efron", "efron", False, {}),
    ("breslow_strata", "breslow", True, {"strata": "group"}),
    ("efron_strata", "efron", True, {"strata": "group"}),
    ("breslow_robust", "breslow", False, {"cluster": "row"}),
    ("efron_robust", "efron", False, {"cluster": "row"}),
    ("breslow_cluster", "breslow", False, {"cluster": "id"}),
    ("efron_cluster", "efron", False, {"cluster": "id"}),
    ("breslow_weighted", "breslow", False, {"weights": "wt", "cluster": "id"}),
    ("efron_weighted", "efron", False, {"weights": "wt", "cluster": "id"}),
    ("efron_strata_cluster", "efron", True, {"strata": "group", "cluster": "id"}),
    # data set 1 (book1/2.R) and the weighted data set (book5/6.R) as (0, time] rows
    ("test1_breslow", "breslow", "data1", {}),
    ("test1_efron", "efron", "data1", {}),
    ("testw1_breslow", "breslow", "dataw1", {"weights": "wt", "cluster": "id"}),
    ("testw1_efron", "efron", "dataw1", {"weights": "wt", "cluster": "id"}),
]


@pytest.mark.parametrize("key,ties,strata,kw", CASES, ids=[c[0] for c in CASES])
def test_counting_process_cox_matches_coxph(key, ties, strata, kw):
    r = reference("book_counting")[key]
    d = _data(name=strata) if isinstance(strata, str) else _data(strata)
    fit = _fit(d, ties, **kw)
    row = fit.summary.iloc[0]
    assert row["coef"] == pytest.approx(float(np.ravel(r["coef"])[0]), rel=TOL, abs=1e-12)
    assert row["se"] ** 2 == pytest.approx(float(np.ravel(r["var"])[0]), rel=TOL)
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=TOL)
    if r["naive_var"]:  # robust fits: R's naive.var is the model-based variance
        assert fit.robust
        assert row["naive_se"] ** 2 == pytest.approx(float(np.ravel(r["naive_var"])[0]), rel=TOL)
    assert (fit.n, fit.n_event) == (r["n"], r["nevent"])


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_appendix_closed_forms(ties):
    # book3.R / book4.R: loglik(beta) and 1 / information written out by hand
    hand = reference("book_counting")[ties]["byhand"]
    fit = _fit(_data(), ties)
    r = np.exp(fit.summary["coef"].iloc[0])
    if ties == "breslow":
        info = (r / (r + 1) ** 2 + 2 * r / (r + 2) ** 2 + 6 * r / (3 * r + 2) ** 2
                + 6 * r / (3 * r + 1) ** 2 + 12 * r / (3 * r + 2) ** 2)
    else:
        info = r * (1 / (r + 1) ** 2 + 2 / (r + 2) ** 2 + 12 / (3 * r + 2) ** 2
                    + 6 / (3 * r + 1) ** 2 + 4 / (2 * r + 2) ** 2)
    assert fit.summary["se"].iloc[0] ** 2 == pytest.approx(1 / info, rel=TOL)
    np.testing.assert_allclose(fit.loglik, hand["loglik"], rtol=TOL)
    assert 1 / info == pytest.approx(hand["var"], rel=TOL)


def test_breslow_estimate_solves_the_appendix_score_equation():
    # book3.R: U(beta) = 1/(r+1) + 1/(3r+1) + 4/(3r+2) - (r/(r+2) + 3r/(3r+2) + 3r/(3r+1))
    # vanishes at the estimate (the appendix's -0.084526081)
    b = _fit(_data(), "breslow").summary["coef"].iloc[0]
    r = np.exp(b)
    u = (1 / (r + 1) + 1 / (3 * r + 1) + 4 / (3 * r + 2)
         - (r / (r + 2) + 3 * r / (3 * r + 2) + 3 * r / (3 * r + 1)))
    assert abs(u) < 1e-9 and b == pytest.approx(-0.084526081, abs=1e-9)


def test_data_set_1_breslow_estimate_is_the_closed_form():
    # book1.R: the Breslow score (6 + 3r - r^2) / ((r + 1)(r + 3)) vanishes at
    # r = 3/2 + sqrt(33)/2, "the true solution"; the information there is
    # r/(r+1)^2 + 6r/(r+3)^2
    fit = _fit(_data(name="data1"), "breslow")
    r = 1.5 + np.sqrt(33) / 2
    assert fit.summary["coef"].iloc[0] == pytest.approx(np.log(r), rel=1e-8)
    info = r / (r + 1) ** 2 + 6 * r / (r + 3) ** 2
    assert fit.summary["se"].iloc[0] ** 2 == pytest.approx(1 / info, rel=1e-7)
    hand = 2 * np.log(r) - (np.log(3 * r + 3) + 2 * np.log(r + 3))
    assert fit.loglik[1] == pytest.approx(hand, rel=1e-12)
