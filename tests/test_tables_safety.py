"""Exports hold no live spreadsheet formulas, and tables leave out free text and identifiers.

The rule checked is OWASP's ("CSV Injection"): a text cell beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a leading single quote. Every cell
of every CSV / TSV is parsed back with the csv module and every Excel cell is read with
openpyxl (``data_type`` ``'f'`` is a formula), independently of the writers.
"""

import csv
import io
import re
import shutil
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest

import mace_outcomes as mo
from mace_outcomes._safe import neutralise_formulas
from mace_outcomes.cli import main
from mace_outcomes.datasets import example_path
from mace_outcomes.records import write_table
from mace_outcomes.tables import export
from mace_outcomes.tables.columns import describable_columns

LINK = '=HYPERLINK("http://x","click")'
SUM = "@SUM(A1)"
CMD = "-2+3+cmd|' /C calc'!A0"
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def live(cell: str) -> bool:
    """A cell a spreadsheet could read as a formula (OWASP), other than a plain number."""
    return cell[:1] != "" and cell[0] in "=+-@\t\r" and not NUMBER.fullmatch(cell)


def cells(text: str, sep: str = ",") -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep) for c in row]


def assert_safe_text(text: str, sep: str = ",", hostile=(LINK, SUM)) -> None:
    got = cells(text, sep)
    assert not [c for c in got if live(c)]
    for h in hostile:  # each hostile value is there, quoted
        assert any(c.startswith("'" + h) for c in got), h


# ---------------------------------------------------------------------------- the rule
def test_rule_cell_by_cell():
    cases = {LINK: "'" + LINK, SUM: "'" + SUM, CMD: "'" + CMD, "+1+2": "'+1+2",
             "\t=1+2": "'\t=1+2", "\r=1+2": "'\r=1+2", "=": "'=", "-": "'-",
             "-1.5 (-2.0-0.3)": "'-1.5 (-2.0-0.3)",
             # plain signed decimals are read as numbers, never as formulas: kept
             "-1.5": "-1.5", "+3": "+3", "-2e-3": "-2e-3",
             # the trigger must be the first character
             "A=1": "A=1", " =1": " =1", "x@y": "x@y", "": ""}
    frame = pd.DataFrame({"text": list(cases), "x": np.linspace(-3, 3, len(cases)),
                          "k": np.arange(len(cases)) - 5})
    out = neutralise_formulas(frame)
    assert out["text"].tolist() == list(cases.values())
    assert out["x"].dtype == float and (out["x"] == frame["x"]).all()  # negative numbers stay
    assert out["k"].dtype == frame["k"].dtype and (out["k"] == frame["k"]).all()
    assert frame["text"].tolist() == list(cases)  # the input is not changed


def test_mixed_categorical_and_names():
    frame = pd.DataFrame({"=h": [1.0, 2.0, 3.0], "mixed": [LINK, -1.0, None],
                          "cat": pd.Categorical([SUM, "b", "b"]),
                          "calm": pd.Categorical(["a", "b", "a"]),
                          "s": pd.array(["-x", None, "y"], dtype="string")})
    out = neutralise_formulas(frame)
    assert list(out.columns) == ["'=h", "mixed", "cat", "calm", "s"]
    assert out["mixed"].tolist()[:2] == ["'" + LINK, -1.0] and out["mixed"].isna().iloc[2]
    assert out["cat"].tolist() == ["'" + SUM, "b", "b"]
    assert isinstance(out["calm"].dtype, pd.CategoricalDtype)  # nothing to escape: kept
    assert out["s"].tolist()[0] == "'-x" and pd.isna(out["s"].tolist()[1])


# ----------------------------------------------------------------- every export path
@pytest.fixture(scope="module")
def hostile():
    """Arms and a category level named like formulas (text that reaches table cells)."""
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({"arm": np.repeat([LINK, SUM], n // 2),
                         "patient_id": [f"P{i}" for i in range(n)],
                         "age": rng.normal(65, 8, n), "delta": rng.normal(-2, 1, n),
                         "kind": rng.choice(["=1+2", "plain"], n),
                         "time": rng.uniform(10, 400, n).round(),
                         "event": rng.integers(0, 2, n)})


def test_table_one_csv_every_way(hostile, tmp_path):
    t = mo.table_one(hostile, group="arm", variables=["age", "delta", "kind"])
    assert_safe_text(t.to_csv())
    assert_safe_text(t.to_csv(tmp_path / "t1.csv").read_text())
    tidy = t.to_csv(tidy=True)
    assert_safe_text(tidy, hostile=(LINK, SUM, "=1+2"))
    back = pd.read_csv(io.StringIO(tidy))
    assert back["p"].dtype == float and back["smd"].dtype == float  # numbers stay numbers
    np.testing.assert_allclose(back["p"], t.table["p"], rtol=1e-12)
    frame = t.formatted()
    assert_safe_text(export.to_csv(frame, tmp_path / "f.csv").read_text())
    assert_safe_text(export.to_csv(frame))


def test_outcome_table_csv(hostile, tmp_path):
    ot = mo.outcome_table({"mace": hostile}, group="arm", horizon=365, arms=[LINK, SUM])
    assert_safe_text(ot.to_csv(tmp_path / "o.csv").read_text())
    assert_safe_text(ot.to_csv(tidy=True), hostile=(LINK,))  # '<arm> vs <arm>'


@pytest.fixture
def ids():
    return pd.DataFrame({"patient_id": [LINK, SUM, CMD, "P4"],
                         "time": [-1.5, 2.0, 3.5, 400.0], "n": [-2, 0, 1, 5],
                         "note": ["-1.5", "\t=1", "ok", None]})


@pytest.mark.parametrize("ext,sep", [(".csv", ","), (".tsv", "\t")])
def test_write_table_delimited(ids, tmp_path, ext, sep):
    path = write_table(ids, tmp_path / f"tte{ext}")
    assert_safe_text(path.read_text(), sep, hostile=(LINK, SUM, CMD, "\t=1"))
    back = pd.read_csv(path, sep=sep)
    assert back["time"].tolist() == [-1.5, 2.0, 3.5, 400.0]  # negative numbers unquoted
    assert back["n"].dtype.kind == "i" and back["n"].tolist() == [-2, 0, 1, 5]
    assert back["note"].tolist()[0] == "-1.5"  # a plain number in a text cell: no quote


def xlsx_cells(path):
    sheet = openpyxl.load_workbook(path).active
    return [c for row in sheet.iter_rows() for c in row]


def test_write_table_excel(ids, tmp_path):
    got = xlsx_cells(write_table(ids, tmp_path / "tte.xlsx"))
    assert not [c.coordinate for c in got if c.data_type == "f"]
    values = {c.coordinate: c.value for c in got}
    assert [values[f"A{i}"] for i in range(2, 6)] == ["'" + LINK, "'" + SUM, "'" + CMD, "P4"]
    assert [values[f"B{i}"] for i in range(2, 6)] == [-1.5, 2.0, 3.5, 400.0]
    assert all(c.data_type == "n" for c in got if c.column_letter in "BC" and c.row > 1)


# ------------------------------------------------------- a whole study with hostile text
@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory):
    """The example cohort with formula-like patient ids and arm labels, and free-text,
    name and record-number columns (Parquet: the cells hold quotes and commas)."""
    folder = tmp_path_factory.mktemp("hostile") / "cohort"
    shutil.copytree(example_path(), folder)
    new_ids = {"P001": LINK, "P002": SUM, "P013": CMD}
    arms = {"OCT": '=HYPERLINK("http://x","OCT")', "IVUS": SUM}
    for name in ("patients", "lesions", "events"):
        d = pd.read_csv(folder / f"{name}.csv", dtype={"patient_id": str})
        d["patient_id"] = d["patient_id"].replace(new_ids)
        if name == "patients":
            d["arm"] = d["arm"].replace(arms)
            n, rng = len(d), np.random.default_rng(1)
            d["comments"] = [f"day {i}: uneventful recovery" for i in range(n)]
            d["surname"] = [f"Surname{i}" for i in range(n)]
            d["mrn"] = [f"MRN{100000 + i}" for i in range(n)]
            d["site"] = rng.choice(["north", "south", "east"], n)
        (folder / f"{name}.csv").unlink()
        d.to_parquet(folder / f"{name}.parquet", index=False)
    study = (folder / "study.toml").read_text().replace(
        'arms = ["OCT", "IVUS"]', f"arms = ['{arms['OCT']}', '{SUM}']")
    # one endpoint, small PNGs: the tables are the subject, and the run stays fast
    study = study.replace('endpoints = ["mace", "cardiac_death", "mi", "tvr", "stent_thrombosis"]',
                          'endpoints = ["mace"]')
    study = study.replace('width = "single"', 'width = "single"\nformats = ["png"]\ndpi = 72')
    (folder / "study.toml").write_text(study)
    return folder, arms


@pytest.fixture(scope="module")
def analysis(cohort_folder, tmp_path_factory):
    folder, _ = cohort_folder
    out = tmp_path_factory.mktemp("hostile_out") / "results"
    with warnings.catch_warnings():  # long arm labels may crowd the figures: not our subject
        warnings.simplefilter("ignore", UserWarning)
        return mo.analyze(folder, out=out, bootstrap=0, progress=False)


def test_report_writer_csv_holds_no_formulas(tmp_path):
    from mace_outcomes.report.analyze import _Writer
    from mace_outcomes.report.study import Study

    writer = _Writer(tmp_path, Study())
    frame = pd.DataFrame({"patient_id": [LINK, SUM, "P3"], "hr": [0.5, -1.0, 2.0]})
    writer.table("ids", frame, "title")
    text = (tmp_path / "tables" / "ids.csv").read_text()
    assert_safe_text(text)
    assert pd.read_csv(io.StringIO(text))["hr"].tolist() == [0.5, -1.0, 2.0]


def test_report_covariates_follow_the_table_rule(registry):
    from mace_outcomes.report.analyze import _covariates

    assert _covariates(registry, exclude=["age"]) == ["site", "carotid_stenosis",
                                                     "lipid_lowering"]


@pytest.mark.slow  # a second whole-study run (about 5 s)
def test_analyze_tables_hold_no_formulas(analysis, cohort_folder):
    _, arms = cohort_folder
    files = sorted((analysis.out / "tables").glob("*.csv"))
    assert len(files) >= 8
    for f in files:
        assert not [c for c in cells(f.read_text()) if live(c)], f.name
    for name in ("table1_patients", "followup", "table4_outcomes"):
        assert_safe_text((analysis.out / "tables" / f"{name}.csv").read_text(),
                         hostile=(arms["OCT"], SUM))
    balance = pd.read_csv(analysis.out / "tables" / "balance.csv")
    assert all(balance[c].dtype == float for c in balance.columns if c.startswith("smd"))


@pytest.mark.slow
def test_analyze_table_one_leaves_out_free_text(analysis):
    t1 = pd.DataFrame(analysis.results["table1"])
    assert "site" in set(t1["variable"])
    assert not {"comments", "surname", "mrn"} & set(t1["variable"])
    md = (analysis.out / "tables" / "table1_patients.md").read_text()
    note = next(line for line in md.splitlines() if line.startswith("Not described"))
    assert all(c in note for c in ("comments", "surname", "mrn")) and "site" not in note


def test_cli_tte_excel_has_no_formulas(cohort_folder, tmp_path):
    folder, _ = cohort_folder
    out = tmp_path / "tte.xlsx"
    assert main(["tte", str(folder), "-o", str(out)]) == 0
    got = xlsx_cells(out)
    assert not [c.coordinate for c in got if c.data_type == "f"]
    texts = {c.value for c in got if isinstance(c.value, str)}
    assert {"'" + LINK, "'" + SUM, "'" + CMD} <= texts
    header = [c.value for c in got if c.row == 1]
    time_col = header.index("time")
    assert all(c.data_type == "n" for c in got if c.row > 1 and c.column == time_col + 1)


# ------------------------------------------------------------------ which columns
@pytest.fixture(scope="module")
def registry():
    rng = np.random.default_rng(7)
    n = 80
    return pd.DataFrame({
        "arm": rng.choice(["OCT", "IVUS"], n), "age": rng.normal(66, 9, n).round(),
        "comments": [f"free text {i}" if i % 3 else "ok" for i in range(n)],
        "surname": [f"Name{i}" for i in range(n)],
        "mrn": [f"{9000 + i}" for i in range(n)],  # record numbers read as numbers too
        "site": rng.choice(["north", "south", "east"], n),
        "city": rng.choice([f"city{k}" for k in range(12)], n),
        "procedure_details": ["rotablation with one burr, then " + "x" * 40] * n,
        "carotid_stenosis": rng.integers(0, 2, n), "lipid_lowering": rng.integers(0, 2, n),
    })


def test_table_one_default_leaves_out_text_and_ids(registry):
    t = mo.table_one(registry, group="arm")
    shown = list(dict.fromkeys(t.table["variable"]))
    assert shown == ["age", "site", "carotid_stenosis", "lipid_lowering"]
    note = next(n for n in t.notes if n.startswith("Not described"))
    for col in ("comments", "surname", "mrn", "city", "procedure_details"):
        assert col in note
    # the reasons state the counts pandas finds
    assert f"{registry['city'].nunique()} distinct values in {len(registry)} rows" in note
    assert f"{registry['procedure_details'].str.len().max()} characters" in note


def test_named_columns_are_always_described(registry):
    t = mo.table_one(registry, group="arm", variables=["comments", "site"])
    assert list(dict.fromkeys(t.table["variable"])) == ["comments", "site"]
    assert not any(n.startswith("Not described") for n in t.notes)
    levels = t.table.loc[t.table["variable"] == "comments", "level"]
    assert (levels != "").sum() == registry["comments"].nunique()
    kept, left = describable_columns(registry.drop(columns="arm"), named=["city"])
    assert "city" in kept and "city" not in left
    # listing a column in categorical= names it too
    t2 = mo.table_one(registry, group="arm", categorical=["city"])
    assert "city" in set(t2.table["variable"])


def test_small_frames_keep_their_categories():
    d = pd.DataFrame({"arm": list("ABABAB"), "vessel": ["LAD", "LCX", "RCA", "LAD", "RCA",
                                                        "LCX"], "x": range(6)})
    assert describable_columns(d) == (["arm", "vessel", "x"], {})
