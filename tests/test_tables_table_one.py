"""table_one against scipy.stats, pandas and closed forms."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import reference, reference_data
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import mace_outcomes as mo
from mace_outcomes.errors import InputError


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(11)
    n1, n2 = 40, 60
    arm = np.array(["OCT"] * n1 + ["IVUS"] * n2)
    return pd.DataFrame({
        "arm": arm,
        "patient_id": np.arange(n1 + n2),
        "age": np.r_[rng.normal(68, 8, n1), rng.normal(66, 8, n2)],
        # very different spread -> Levene rejects -> Welch
        "lvef": np.r_[rng.normal(60, 2, n1), rng.normal(60, 12, n2)],
        "crp": rng.lognormal(1, 1.2, n1 + n2),
        "male": rng.integers(0, 2, n1 + n2),
        "prior_cabg": np.r_[np.zeros(n1 - 2, int), [1, 1], np.zeros(n2 - 1, int), [1]],
        "presentation": rng.choice(["SCAD", "NSTEMI", "STEMI"], n1 + n2, p=[.5, .3, .2]),
        "diabetes": rng.random(n1 + n2) < 0.3,
    })


def row(t, var):
    return t.table[(t.table["variable"] == var) & (t.table["row_type"] != "level")].iloc[0]


def test_tests_equal_scipy(df):
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"])
    a, b = df[df.arm == "OCT"], df[df.arm == "IVUS"]
    # normal, similar spread -> Student t (Shapiro p >= 0.05 in both arms is the rule)
    assert min(stats.shapiro(a.age).pvalue, stats.shapiro(b.age).pvalue) >= 0.05
    r = row(t, "age")
    assert r["test"] == "Student t" and r["statistic"] == "mean ± SD"
    assert r["p"] == pytest.approx(stats.ttest_ind(a.age, b.age).pvalue, rel=1e-9)
    # unequal variances -> Welch t
    assert stats.levene(a.lvef, b.lvef, center="mean").pvalue < 0.05
    r = row(t, "lvef")
    assert r["test"] == "Welch t"
    assert r["p"] == pytest.approx(stats.ttest_ind(a.lvef, b.lvef, equal_var=False).pvalue)
    # skewed -> Mann-Whitney U
    r = row(t, "crp")
    assert r["test"] == "Mann-Whitney U" and r["statistic"] == "median (Q1, Q3)"
    assert r["p"] == pytest.approx(stats.mannwhitneyu(a.crp, b.crp, method="asymptotic").pvalue)
    # categorical with large expected counts -> Pearson chi-square, no Yates
    ct = pd.crosstab(df.male, df.arm)
    r = row(t, "male")
    assert r["test"] == "chi-square"
    assert r["p"] == pytest.approx(stats.chi2_contingency(ct, correction=False)[1])
    # expected counts < 5 -> Fisher exact
    ct = pd.crosstab(df.prior_cabg, df.arm).to_numpy()
    r = row(t, "prior_cabg")
    assert r["test"] == "Fisher exact"
    assert r["p"] == pytest.approx(stats.fisher_exact(ct)[1], rel=1e-9)
    # identifier columns are not described
    assert "patient_id" not in set(t.table["variable"])


def test_counts_and_summaries_equal_pandas(df):
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"], digits=2)
    num = t.numbers.set_index(["variable", "level", "group"])
    ct = pd.crosstab(df.presentation, df.arm)
    for lev in ct.index:
        for arm in ("OCT", "IVUS"):
            assert num.loc[("presentation", lev, arm), "count"] == ct.loc[lev, arm]
            assert num.loc[("presentation", lev, arm), "percent"] == pytest.approx(
                100 * ct.loc[lev, arm] / ct[arm].sum())
    g = df.groupby("arm").age
    assert num.loc[("age", "", "OCT"), "mean"] == pytest.approx(g.mean()["OCT"])
    assert num.loc[("age", "", "IVUS"), "sd"] == pytest.approx(g.std()["IVUS"])
    assert num.loc[("crp", "", "OCT"), "q1"] == pytest.approx(
        df.crp[df.arm == "OCT"].quantile(0.25))
    r = row(t, "age")
    m, s = g.mean()["OCT"], g.std()["OCT"]
    assert r["OCT"] == f"{m:.2f} ± {s:.2f}"
    n1 = int(df.male[df.arm == "IVUS"].sum())
    assert row(t, "male")["IVUS"] == f"{n1} ({100 * n1 / 60:.1f}%)"
    # presentation: 3 x 2 table, chi-square or FFH depending on expected counts
    r = row(t, "presentation")
    if (stats.contingency.expected_freq(ct) < 5).any():
        assert r["test"] == "Fisher-Freeman-Halton"
    else:
        assert r["p"] == pytest.approx(stats.chi2_contingency(ct, correction=False)[1])


def test_smd_columns_closed_form(df):
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"])
    a, b = df[df.arm == "OCT"], df[df.arm == "IVUS"]
    expect = abs(a.age.mean() - b.age.mean()) / math.sqrt((a.age.var() + b.age.var()) / 2)
    assert row(t, "age")["smd"] == pytest.approx(expect)
    p1, p2 = a.male.mean(), b.male.mean()
    expect = abs(p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert row(t, "male")["smd"] == pytest.approx(expect)


def test_user_choices_and_rule_text(df):
    t = mo.table_one(df, group="arm", variables=["age", "crp"], nonnormal=["age"],
                     equal_var=False)
    assert row(t, "age")["test"] == "Mann-Whitney U"
    assert row(t, "crp")["test"] == "Welch t"
    assert any("user's choice" in r for r in t.rules)
    auto = mo.table_one(df, group="arm", variables=["age", "male"])
    assert any("Shapiro-Wilk" in r for r in auto.rules)
    assert any("Levene" in r for r in auto.rules)
    assert "Fisher" in auto.to_markdown()
    # only the rules of the kinds of rows present are printed
    cats = mo.table_one(df, group="arm", variables=["male"])
    assert not any("Shapiro" in r or "Levene" in r for r in cats.rules)
    assert any(r.startswith("Categorical") for r in cats.rules)
    none = mo.table_one(df, group="arm", variables=["age"], nonnormal=[])
    assert "mean ± SD for all (user's choice)." in none.rules[0]


def test_three_arms_anova_kruskal(df):
    d = df.assign(arm3=np.resize(["A", "B", "C"], len(df)))
    t = mo.table_one(d, group="arm3", variables=["age", "crp"], nonnormal=["crp"])
    groups = [d.age[d.arm3 == x] for x in "ABC"]
    assert row(t, "age")["p"] == pytest.approx(stats.f_oneway(*groups).pvalue)
    groups = [d.crp[d.arm3 == x] for x in "ABC"]
    assert row(t, "crp")["p"] == pytest.approx(stats.kruskal(*groups).pvalue)


def test_weighted_table(df):
    rng = np.random.default_rng(5)
    w = rng.uniform(0.5, 4, len(df))
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"], weights=w,
                     variables=["age", "male"], nonnormal=False)
    a = (df.arm == "OCT").to_numpy()
    num = t.numbers.set_index(["variable", "level", "group"])
    assert num.loc[("age", "", "OCT"), "mean"] == pytest.approx(np.average(df.age[a], weights=w[a]))
    assert num.loc[("male", "1", "IVUS"), "percent"] == pytest.approx(
        100 * np.average(df.male[~a], weights=w[~a]))
    assert t.n["OCT"] == pytest.approx(w[a].sum())
    assert np.isnan(t.table["p"]).all()  # tests omitted after weighting (documented)
    assert "p" not in t.formatted().columns
    # weighted SMD from weighted variances (closed form)
    def wmv(x, ww):
        m = np.average(x, weights=ww)
        return m, np.sum(ww * (x - m) ** 2) / ww.sum() * len(x) / (len(x) - 1)
    m1, v1 = wmv(df.age[a].to_numpy(), w[a])
    m2, v2 = wmv(df.age[~a].to_numpy(), w[~a])
    assert row(t, "age")["smd"] == pytest.approx(abs(m1 - m2) / math.sqrt((v1 + v2) / 2))
    # unit weights reproduce the unweighted summaries
    t1 = mo.table_one(df.assign(w=1.0), group="arm", weights="w", variables=["age"],
                      nonnormal=False)
    t0 = mo.table_one(df, group="arm", variables=["age"], nonnormal=False)
    assert row(t1, "age")["OCT"] == row(t0, "age")["OCT"]


def test_bad_input_names_column_and_rows(df):
    bad = df.copy()
    bad.loc[[3, 7], "arm"] = None
    with pytest.raises(InputError, match=r"arm.*3, 7"):
        mo.table_one(bad, group="arm")
    with pytest.raises(InputError, match="nope"):
        mo.table_one(df, group="arm", variables=["nope"])
    w = np.ones(len(df))
    w[5] = -1
    with pytest.raises(InputError, match="weights"):
        mo.table_one(df, group="arm", weights=w)
    d = df.assign(age=df.age.astype(object))
    d.loc[2, "age"] = "seventy"
    with pytest.raises(InputError, match=r"age.*2"):
        mo.table_one(d, group="arm", variables=["age"], categorical=[])


def test_exports(df, tmp_path):
    t = mo.table_one(df, group="arm", arms=["OCT", "IVUS"], overall=True)
    md = t.to_markdown()
    assert "| Variable | OCT (n = 40) | IVUS (n = 60) | Overall (n = 100) |" in md
    tex = t.to_latex()
    assert r"\toprule" in tex and r"$\pm$" in tex and r"\%" in tex
    html = t.to_html()
    back = pd.read_html(__import__("io").StringIO(html))[0]
    assert list(back.columns[:3]) == ["Variable", "OCT (n = 40)", "IVUS (n = 60)"]
    path = t.to_csv(tmp_path / "t1.csv")
    csv = pd.read_csv(path, keep_default_na=False)
    assert csv["p"].tolist() == t.formatted()["p"].tolist()
    tidy = pd.read_csv(t.to_csv(tmp_path / "tidy.csv", tidy=True))
    assert tidy["p"].dropna().to_numpy() == pytest.approx(t.table["p"].dropna().to_numpy())
    docx = pytest.importorskip("docx")
    out = t.to_docx(tmp_path / "t1.docx")
    table = docx.Document(str(out)).tables[0]
    assert table.rows[0].cells[1].text == "OCT (n = 40)"
    assert len(table.rows) == len(t.formatted()) + 1
    assert "Table 1" in repr(t) and "<table" in t._repr_html_()


def test_docx_missing_gives_clear_message(df, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "docx", None)  # as if python-docx were not installed
    t = mo.table_one(df, group="arm", variables=["age"])
    with pytest.raises(ImportError, match=r"pip install 'mace_outcomes\[docx\]'"):
        t.to_docx(tmp_path / "x.docx")


def test_constant_variable_has_no_test(df):
    d = df.assign(emergency_cabg=0)
    r = row(mo.table_one(d, group="arm", variables=["emergency_cabg"]), "emergency_cabg")
    assert np.isnan(r["p"]) and r["OCT"] == "0 (0.0%)"


def test_weighted_matches_r_survey():
    # R's survey package: svymean / svyvar / svyquantile / svymean(~factor(ph_ecog)) per
    # group of svydesign(ids = ~1, weights = ~w_ate) (tests/reference/survey.R)
    r = reference("survey")
    d = reference_data("lung")
    d["w"] = reference("lung")["iptw"]["weights_ate"]
    t = mo.table_one(d, group="group", variables=["age", "ph_ecog"], categorical=["ph_ecog"],
                     weights="w", nonnormal=False, arms=[1, 0])
    num = t.numbers.set_index(["variable", "level", "group"])
    for g in (1, 0):
        ref = r[f"group{g}"]
        assert num.loc[("age", "", g), "mean"] == pytest.approx(ref["age_mean"], rel=1e-9)
        assert num.loc[("age", "", g), "sd"] == pytest.approx(ref["age_sd"], rel=1e-9)
        assert list(num.loc[("age", "", g), ["q1", "median", "q3"]]) == ref["age_quartiles"]
        for lev, p in zip("0123", ref["ph_ecog_props"], strict=True):
            assert num.loc[("ph_ecog", lev, g), "percent"] == pytest.approx(100 * p, abs=1e-9)


def test_weighted_design_based_tests_match_r_survey():
    # R's survey: svyttest(age ~ group, des), svyttest(ph_karno ~ group, des),
    # svychisq(~ph_ecog + group, des) (Rao-Scott F) (tests/reference/survey.R)
    r = reference("survey")
    d = reference_data("lung")
    d["w"] = reference("lung")["iptw"]["weights_ate"]
    t = mo.table_one(d, group="group", variables=["age", "ph_karno", "ph_ecog"],
                     categorical=["ph_ecog"], weights="w", weighted_tests=True, arms=[1, 0])
    assert row(t, "age")["p"] == pytest.approx(r["ttest_age_p"], rel=1e-9)
    assert row(t, "ph_karno")["p"] == pytest.approx(r["ttest_karno_p"], rel=1e-9)
    e = row(t, "ph_ecog")
    assert e["test"].startswith("Rao-Scott") and e["p"] == pytest.approx(r["chisq_ecog_p"],
                                                                         rel=1e-8)
    assert "p" in t.formatted().columns and any("svychisq" in x for x in t.rules)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_row_order_and_arm_order_do_not_change_the_table(seed):
    rng = np.random.default_rng(seed)
    n = 30
    d = pd.DataFrame({"arm": rng.choice(["A", "B"], n), "x": rng.normal(size=n),
                      "y": rng.exponential(size=n), "c": rng.choice(list("pqr"), n),
                      "b": rng.integers(0, 2, n)})
    d.loc[:1, "arm"] = ["A", "B"]
    d.loc[2:3, "arm"] = ["A", "B"]
    t1 = mo.table_one(d, group="arm", arms=["A", "B"])
    t2 = mo.table_one(d.sample(frac=1, random_state=seed), group="arm", arms=["B", "A"])
    a, b = t1.table.set_index(["variable", "level"]), t2.table.set_index(["variable", "level"])
    assert a["test"].equals(b["test"])
    assert np.allclose(a["p"], b["p"], equal_nan=True, rtol=1e-9)
    assert np.allclose(a["smd"], b["smd"], equal_nan=True, rtol=1e-9)
    assert a["A"].equals(b["A"]) and a["B"].equals(b["B"])
