"""Clustered (robust) log-rank score test against R's coxph(..., cluster=) robust score."""


import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data

import mace_outcomes as mo

R = reference("lung_clustered_logrank")
LUNG = reference("lung")


@pytest.fixture(scope="module")
def lung():
    d = reference_data("lung")
    return d.assign(cid=R["cid"], w=LUNG["iptw"]["weights_ate"],
                    st=(d["age"] > 62).astype(int))


@pytest.mark.parametrize("key, kwargs", [("clustered", {}),
                                         ("clustered_weighted", {"weights": "w"}),
                                         ("clustered_stratified", {"strata": "st"})])
def test_matches_r_robust_score_test(lung, key, kwargs):
    res = mo.logrank(lung, group="group", cluster="cid", **kwargs)
    assert res.statistic == pytest.approx(R[key]["test"], rel=1e-9)
    assert res.p_value == pytest.approx(R[key]["p"], rel=1e-9)


def test_duplicated_subjects_do_not_shrink_the_p_value(lung):
    # every subject entered twice (two identical lesions of one patient): the clustered
    # test equals the robust test on the original rows, the naive one is overconfident
    once = mo.logrank(lung.assign(pid=np.arange(len(lung))), group="group", cluster="pid")
    twice = pd.concat([lung, lung], ignore_index=True).assign(
        pid=np.tile(np.arange(len(lung)), 2))
    clustered = mo.logrank(twice, group="group", cluster="pid")
    assert clustered.statistic == pytest.approx(once.statistic, rel=1e-9)
    assert mo.logrank(twice, group="group").p_value < clustered.p_value
