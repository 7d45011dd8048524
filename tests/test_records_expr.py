"""The exclusion language: parsed, never run as Python, and the same masks as pandas."""

from __future__ import annotations

import json
import operator
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mace_outcomes as mo
from mace_outcomes.cli import main
from mace_outcomes.records.expr import columns, evaluate
from mace_outcomes.report.analyze import _exclusion_columns
from mace_outcomes.report.study import Study

DATA = Path(__file__).resolve().parents[1] / "data"
NAME = "no intravascular imaging"

# (criterion with {m} = a marker file the payload would create, token the message names)
HOSTILE = [
    ("(arm == 'none') | (@self.__init__.__globals__['os'].system('touch {m}') == 99)",
     "'@' is not allowed"),
    # this one did create the file through DataFrame.eval (cohort.py's globals hold pd)
    ("(arm == 'none') | (@self.__init__.__globals__['pd'].io.common.os.system('touch {m}')"
     " == 99)", "'@' is not allowed"),
    ("(arm == 'none') | (@pd.io.common.os.system('touch {m}') == 99)", "'@' is not allowed"),
    ("__import__('os').system('touch {m}') == 0", "call to '__import__()' is not allowed"),
    ("__import__('os').system('touch {m}') == 0", "attribute access '.system'"),
    ("arm.__class__.__init__.__globals__['os'].system('touch {m}') == 0",
     "attribute access '.__class__'"),
    ("[c for c in ()] == 1", "comprehension '[c for c in ()]' is not allowed"),
    ("(lambda: __import__('os').system('touch {m}'))() == 0", "lambda"),
    ("open('{m}', 'w') == 1", "call to 'open()' is not allowed"),
]


def _cohort_folder(tmp_path: Path, criterion: str) -> Path:
    """A copy of the shipped cohort whose first exclusion is ``criterion``."""
    folder = tmp_path / "cohort"
    shutil.copytree(DATA, folder)
    study = (folder / "study.toml").read_text()
    line = f'"{NAME}" = "arm == \'none\'"'
    assert line in study
    (folder / "study.toml").write_text(study.replace(line, f'"{NAME}" = {json.dumps(criterion)}'))
    return folder


@pytest.mark.parametrize(("criterion", "token"), HOSTILE)
def test_a_hostile_exclusion_is_refused_and_never_runs(tmp_path, capsys, criterion, token):
    marker = tmp_path / "pwned"
    folder = _cohort_folder(tmp_path, criterion.format(m=marker))
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert token in err and f"exclusion '{NAME}'" in err
    assert str(folder / "study.toml") in err and "isna(x)" in err  # source and fix
    with pytest.raises(mo.InputError, match="not allowed") as info:
        mo.read_cohort(folder)
    assert token in str(info.value)
    assert not marker.exists()


def test_the_shipped_exclusions_still_apply(tmp_path):
    # The published flow: 88 screened, 6 without imaging, 3 with in-stent restenosis.
    folder = _cohort_folder(tmp_path, "arm in ['none']")
    flow = mo.read_cohort(folder).attrition["patients"].tolist()
    assert flow == mo.read_cohort(DATA).attrition["patients"].tolist()
    p = mo.read_cohort(DATA, apply_exclusions=False).patients
    isr = (p["arm"] != "none") & (p["in_stent_restenosis"] == 1)
    assert flow == [len(p), int((p["arm"] == "none").sum()), int(isr.sum()),
                    len(p) - int((p["arm"] == "none").sum()) - int(isr.sum())]


FRAME = pd.DataFrame({
    "age": [70, 80, np.nan, 60, 75],
    "arm": ["OCT", "IVUS", "none", None, "OCT"],
    "isr": [1, 0, 1, 0, np.nan],
    "lvef percent": [35, 50, 38.5, np.nan, 60],
    "flag": [True, False, True, True, False],
})

# expression -> the same mask written by hand with pandas
GRAMMAR = [
    ("age > 72", lambda d: d.age > 72),
    ("age > 72.5", lambda d: d.age > 72.5),
    ("age >= -1", lambda d: d.age >= -1),
    ("age == 70", lambda d: d.age == 70),
    ("age != 70", lambda d: d.age != 70),
    ("70 <= age < 80", lambda d: (70 <= d.age) & (d.age < 80)),
    ("60 < age <= 75 != 200", lambda d: (60 < d.age) & (d.age <= 75)),
    ("72 < age", lambda d: d.age > 72),
    ("arm == 'OCT'", lambda d: d.arm == "OCT"),
    ('arm != "OCT"', lambda d: d.arm != "OCT"),
    ("arm in ['OCT', 'none']", lambda d: d.arm.isin(["OCT", "none"])),
    ("arm not in ('OCT',)", lambda d: ~d.arm.isin(["OCT"])),
    ("age in [60, 80]", lambda d: d.age.isin([60, 80])),
    ("isna(age)", lambda d: d.age.isna()),
    ("notna(arm)", lambda d: d.arm.notna()),
    ("arm == 'OCT' and age > 72", lambda d: (d.arm == "OCT") & (d.age > 72)),
    ("arm == 'OCT' & age > 72", lambda d: (d.arm == "OCT") & (d.age > 72)),
    ("(arm == 'none') | (age == 60)", lambda d: (d.arm == "none") | (d.age == 60)),
    ("arm == 'none' or age == 60 or isr == 0",
     lambda d: (d.arm == "none") | (d.age == 60) | (d.isr == 0)),
    ("arm == 'none' | age == 60 & isr == 0",
     lambda d: (d.arm == "none") | ((d.age == 60) & (d.isr == 0))),
    ("not age > 72", lambda d: ~(d.age > 72)),
    ("~(age > 72)", lambda d: ~(d.age > 72)),
    ("flag", lambda d: d.flag),
    ("~flag and notna(age)", lambda d: ~d.flag & d.age.notna()),
    ("flag == True", lambda d: d.flag),
    ("`lvef percent` < 40", lambda d: d["lvef percent"] < 40),
    ("isna(`lvef percent`) or isr == 1", lambda d: d["lvef percent"].isna() | (d.isr == 1)),
    ("True", lambda d: pd.Series(True, index=d.index)),
    ("isr == 1 and False", lambda d: pd.Series(False, index=d.index)),
]


@pytest.mark.parametrize(("expression", "by_hand"), GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_every_grammar_element_matches_pandas(expression, by_hand):
    got = evaluate(expression, FRAME)
    assert got.dtype == bool and got.shape == (len(FRAME),)
    np.testing.assert_array_equal(got, by_hand(FRAME).to_numpy(dtype=bool))


def test_missing_values_compare_false_but_not_equal_true():
    # by hand: age is missing for the third patient, isr for the fifth, arm for the fourth
    assert evaluate("isr == 1", FRAME).tolist() == [True, False, True, False, False]
    assert evaluate("isr != 0", FRAME).tolist() == [True, False, True, False, True]
    assert evaluate("age < 100", FRAME).tolist() == [True, True, False, True, True]
    assert evaluate("arm in ['OCT']", FRAME).tolist() == [True, False, False, False, True]
    assert evaluate("arm not in ['OCT']", FRAME).tolist() == [False, True, True, True, False]
    assert evaluate("isna(age) or isna(arm)", FRAME).tolist() == [False, False, True, True,
                                                                  False]
    nullable = pd.DataFrame({"x": pd.array([1, None, 0], dtype="Int64")})
    assert evaluate("x == 1", nullable).tolist() == [True, False, False]
    assert evaluate("x != 1", nullable).tolist() == [False, True, True]


def test_cohort_exclude_keeps_patients_with_the_criterion_missing():
    p = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "arm": ["OCT", "IVUS", "OCT"],
                      "index_date": ["2020-01-01"] * 3, "last_contact_date": ["2021-01-01"] * 3,
                      "isr": [1, np.nan, 0]})
    e = pd.DataFrame(columns=["event_id", "patient_id", "event_type", "event_date"])
    cohort = mo.Cohort(patients=p, events=e).exclude("ISR", "isr == 1")
    assert cohort.patients["patient_id"].tolist() == ["P2", "P3"]
    assert cohort.attrition["patients"].tolist() == [3, 1, 2]


@pytest.mark.parametrize(("expression", "message"), [
    ("agee > 70", "unknown column 'agee' (columns are ['age', 'arm', 'isr', 'lvef percent'"),
    ("age + 1 > 70", "arithmetic '+' is not allowed"),
    ("age == None", "literal None is not allowed"),
    ("age is None", "'is' is not allowed"),
    ("arm in arm", "'in' needs a list of literals"),
    ("isna(age, 1)", "isna() takes one column name"),
    ("-arm == 1", "unary '-' is only allowed before a number"),
    ("flag[0]", "subscript 'flag[0]' is not allowed"),
    ("f'{arm}' == 'x'", "f-string"),
    ("age", "column 'age' is not a true/false condition"),
    ("1", "literal 1 is not a condition"),
    ("age > 'old'", "cannot compare column 'age' with 'old'"),
    ("age = = 70", "syntax error at '='"),
    ("age > 70 )", "syntax error at ')'"),
    ("arm == 'OCT' & `lvef percent` > 3 )", "syntax error at ')'"),
    ("  age == 'unterminated", "syntax error at \"'unterminated\""),
    ("age >", "syntax error at end of the expression"),
])
def test_errors_name_the_token_the_criterion_and_the_fix(expression, message):
    with pytest.raises(mo.InputError) as info:
        evaluate(expression, FRAME, name="old", source="patients")
    text = str(info.value)
    assert message in text
    assert "exclusion 'old'" in text and "patients" in text and "notna(x)" in text


def test_every_problem_is_listed():
    with pytest.raises(mo.InputError) as info:
        evaluate("agee > 1 or arm.x == 2 or foo(age) or age[1]", FRAME)
    reasons = [p.reason for p in info.value.problems]
    assert len(reasons) == 3 and "'.x'" in reasons[0] and "'foo()'" in reasons[1]
    with pytest.raises(mo.InputError) as info:
        evaluate("agee > 1 or sex == 'f'", FRAME)
    assert [p.column for p in info.value.problems] == ["agee", "sex"]


def test_columns_used_and_the_report_rows_they_drop():
    assert columns("(arm == 'none') | (`lvef percent` < 40) and isna(age) or arm == 'x'") == [
        "arm", "lvef percent", "age"]
    assert columns("'diabetes' == arm") == ["arm"]  # text inside a literal is no column
    frame = FRAME.assign(diabetes=0)
    study = Study(exclusions={"a": "(diabetes==1)", "b": "isna(`lvef percent`)",
                              "c": "arm == 'age'"})
    assert _exclusion_columns(study, frame) == ["lvef percent", "diabetes"]


LITERALS = {"num": st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.5, 2.0])),
            "cat": st.sampled_from(["A", "B", "D", ""]),
            "int": st.integers(-3, 3)}
OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}


@st.composite
def frames(draw):
    n = draw(st.integers(1, 8))
    num = draw(st.lists(st.one_of(st.integers(-3, 3), st.just(np.nan)), min_size=n,
                        max_size=n))
    cat = draw(st.lists(st.sampled_from(["A", "B", "C", None]), min_size=n, max_size=n))
    ints = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    return pd.DataFrame({"num": np.array(num, dtype=float), "cat": pd.Series(cat, dtype=object),
                         "int": ints})


@st.composite
def comparisons(draw):
    """(expression text, the mask computed directly with pandas on a frame)."""
    column = draw(st.sampled_from(sorted(LITERALS)))
    op = draw(st.sampled_from(sorted(OPS)))
    literal = draw(LITERALS[column])
    if draw(st.booleans()):
        return f"{column} {op} {literal!r}", lambda d: OPS[op](d[column], literal)
    return f"{literal!r} {op} {column}", lambda d: OPS[op](literal, d[column])


@settings(max_examples=300, deadline=None)
@given(frames(), comparisons(), comparisons(), st.sampled_from(["and", "or", "&", "|"]),
       st.booleans())
def test_random_comparisons_agree_with_pandas(df, first, second, joiner, negate):
    (text1, mask1), (text2, mask2) = first, second
    np.testing.assert_array_equal(evaluate(text1, df), mask1(df).to_numpy(dtype=bool))
    both = mask1(df) & mask2(df) if joiner in ("and", "&") else mask1(df) | mask2(df)
    text = f"({text1}) {joiner} ({text2})"
    if negate:
        text, both = f"not ({text})", ~both
    np.testing.assert_array_equal(evaluate(text, df), both.to_numpy(dtype=bool))
    values = sorted({"A", "C"} if "cat" in text1 else {1, -2})
    column = "cat" if "cat" in text1 else "num"
    np.testing.assert_array_equal(evaluate(f"{column} in {values}", df),
                                  df[column].isin(values).to_numpy())
