"""The one design-matrix builder against R's model.matrix (tests/reference/design.R)."""


import numpy as np
import pytest
from conftest import reference

import mace_outcomes as mo
from mace_outcomes._design import design, parse_formula

R = reference("design")


@pytest.fixture(scope="module")
def lung(lung_design):
    return lung_design


@pytest.mark.parametrize("key, formula, reference", [
    ("mm_interaction", "arm * wl + age", None),
    ("mm_factor_numeric", "ecog + arm:age", None),
    ("mm_reference", "ecog", {"ecog": "1"}),
    ("mm_factor_factor", "arm * ecog", None),
    ("mm_three_way_order", "age:wl + arm + wl", None),
])
def test_names_and_values_equal_r_model_matrix(lung, key, formula, reference):
    ref = R[key]
    d = design(lung, formula=formula, reference=reference)
    names = ref["names"]
    if key == "mm_reference":  # R names the releveled copy ecog_ref1
        names = [n.replace("ecog_ref1", "ecog") for n in names]
    assert d.names == names
    np.testing.assert_allclose(d.x.sum(axis=0), ref["colsum"], rtol=1e-12)
    np.testing.assert_allclose((d.x @ np.arange(1, d.x.shape[1] + 1)).sum(),
                               ref["crossprod"], rtol=1e-12)


def test_terms_group_a_factor_columns_and_main_effects_are_covariates(lung):
    d = design(lung, formula="arm * ecog")
    assert d.terms["ecog"] == ["ecog1", "ecog2", "ecog3"]
    assert d.terms["arm:ecog"] == ["armOCT:ecog1", "armOCT:ecog2", "armOCT:ecog3"]
    assert design(lung, covariates=["arm", "age"]).names == ["armOCT", "age"]
    flags = design(lung.assign(diab=lung["wl"] == 1), covariates=["diab"])
    assert flags.names == ["diabTRUE"]       # R's logical dummy


def test_formula_is_parsed_never_evaluated():
    assert parse_formula("y ~ a*b + c")[0] == [("a",), ("b",), ("c",), ("a", "b")]
    assert parse_formula("factor(x) + y")[1] == {"x"}
    for bad in ("a + __import__('os')", "a + b.c()", "a + (b + c)", "a +"):
        with pytest.raises(mo.InputError, match="formula"):
            parse_formula(bad)


def test_problems_are_reported_together_with_ids(lung):
    bad = lung.head(6).assign(age=[60, np.nan, 70, 71, 72, 73], one="x",
                              patient_id=[f"P{i}" for i in range(6)])
    with pytest.raises(mo.InputError) as info:
        design(bad, covariates=["age", "one", "nope"])
    assert "nope" in str(info.value)
    with pytest.raises(mo.InputError) as info:
        design(bad, covariates=["age", "one"])
    rows = {p.column: p.rows for p in info.value.problems}
    assert rows["age"] == ("P1",) and "single level" in str(info.value)
