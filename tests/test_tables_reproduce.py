"""compare_to_reported: published numbers set beside generated ones (closed-form samples)."""

import numpy as np
import pandas as pd

import mace_outcomes as mo
from mace_outcomes.tables import compare_to_reported


def exact_sample(mean, sd, n, seed):
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)  # mean 0, SD 1 exactly
    return mean + sd * z


def cohort():
    n = {"OCT": 32, "IVUS": 47}
    rows = []
    for arm, males, scad, (m, s) in (("OCT", 20, 12, (70.16, 10.09)),
                                      ("IVUS", 32, 14, (68.66, 7.84))):
        k = n[arm]
        rows.append(pd.DataFrame({
            "arm": arm, "male": np.r_[np.ones(males), np.zeros(k - males)].astype(int),
            "age_years": exact_sample(m, s, k, k),
            "presentation": ["SCAD"] * scad + ["ACS"] * (k - scad)}))
    return pd.concat(rows, ignore_index=True)


def test_numbers_agree_and_disagree():
    df = cohort()
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"], digits=2, nonnormal=False)
    reported = {"age_years": {"OCT": [70.16, 10.09], "IVUS": [68.66, 7.84], "p": 0.219},
                "male": {"OCT": 21, "IVUS": 32, "p": 0.607},
                "presentation": {"SCAD": {"OCT": 12, "IVUS": 14},
                                 "ACS": {"OCT": 20, "IVUS": "27 printed; 33 is consistent"},
                                 "p": 0.577}}
    cmp = compare_to_reported(t, reported).set_index(["variable", "level", "group",
                                                      "statistic"])
    assert cmp.loc[("age_years", "", "OCT", "mean"), "agrees"]
    assert cmp.loc[("age_years", "", "IVUS", "sd"), "agrees"]
    assert cmp.loc[("male", "1", "IVUS", "count"), "agrees"]
    assert not cmp.loc[("male", "1", "OCT", "count"), "agrees"]  # 20 generated, 21 printed
    assert cmp.loc[("presentation", "SCAD", "IVUS", "count"), "agrees"]
    # the printed 27 is compared (33 in the data): a disagreement to report
    assert not cmp.loc[("presentation", "ACS", "IVUS", "count"), "agrees"]
    p = cmp.loc[("age_years", "", "", "p")]
    from scipy import stats
    expect = stats.ttest_ind(df.age_years[df.arm == "OCT"], df.age_years[df.arm == "IVUS"])
    assert p["generated"] == round(expect.pvalue, 3) and p["printed"] == 0.219
