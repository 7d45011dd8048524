"""Clustered (robust) log-rank score test against R's coxph(..., cluster=) robust score."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mace_outcomes as mo

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "lung_clustered_logrank.json").read_text())
LUNG = json.loads((REF / "lung.json").read_text())


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(REF / "lung.csv")
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
