"""Tests for table I/O, atomic writes, the canonical folder and input-form detection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from oncoresist.exceptions import InputDataError
from oncoresist.io.canonical import read_canonical_folder, write_canonical_folder
from oncoresist.io.files import atomic_write
from oncoresist.io.inputs import detect_input_form, read_cohort
from oncoresist.io.tables import read_table, write_table

DATA = Path(__file__).parents[1] / "data"
CANONICAL = DATA / "canonical"
BAD = DATA / "bad"


def problem_at(err: InputDataError, source: str, row: int | None, column: str | None):
    """Return the problem located at (source, row, column), failing with the list if none."""
    for problem in err.problems:
        if problem.source == source and problem.row == row and problem.column == column:
            return problem
    raise AssertionError(f"no problem at {source}:{row}:{column} in\n{err}")


@pytest.fixture
def canonical(tmp_path: Path) -> Path:
    folder = tmp_path / "cohort"
    shutil.copytree(CANONICAL, folder)
    return folder


def edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (row as the editor shows it: header = 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False)


# --------------------------------------------------------------------------------------
# read_table / write_table / atomic_write
# --------------------------------------------------------------------------------------


def test_read_table_keeps_strings_and_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,value,gene\n007,NA,EGFR\n\n008,,\n", encoding="utf-8")
    frame = read_table(path)
    assert list(frame.index) == [2, 4]  # the blank line 3 is skipped, numbering kept
    assert frame.loc[2, "id"] == "007" and frame.loc[2, "value"] == "NA"
    assert frame.loc[4, "value"] is None and frame.loc[4, "gene"] is None


def test_read_table_quoted_field_spanning_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,note\nA,"two\nlines"\nB,x\n', encoding="utf-8")
    frame = read_table(path)
    assert list(frame.index) == [2, 4]
    assert frame.loc[2, "note"] == "two\nlines"


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".xlsx"])
def test_write_then_read_table_round_trip(tmp_path, suffix):
    frame = pd.DataFrame({"id": ["a", "b"], "x": [0.1, 1 / 3], "n": ["1", None]})
    path = write_table(frame, tmp_path / f"t{suffix}")
    back = read_table(path)
    assert list(back.index) == [2, 3]
    assert back["id"].tolist() == ["a", "b"]
    assert [float(v) for v in back["x"]] == [0.1, 1 / 3]
    assert back["n"].tolist() == ["1", None]


def test_atomic_write_leaves_old_file_and_no_temp_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as handle:
        handle.write("new partial")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(target) as handle:
        handle.write("new")
    assert target.read_text(encoding="utf-8") == "new"


def test_empty_file_is_an_error():
    with pytest.raises(InputDataError, match=r"empty\.csv is empty") as info:
        read_table(BAD / "empty.csv")
    assert info.value.problems[0].source == "empty.csv"


def test_non_utf8_names_file_line_column_and_byte():
    with pytest.raises(InputDataError, match="not UTF-8") as info:
        read_table(BAD / "not_utf8.csv")
    problem = problem_at(info.value, "not_utf8.csv", 3, "cancer_type")
    assert "byte 36" in problem.reason


@pytest.mark.parametrize(("name", "kind"), [("csv_text.parquet", "Parquet"),
                                            ("csv_text.xlsx", "XLSX")])  # fmt: skip
def test_file_not_the_format_its_name_says(name, kind):
    with pytest.raises(InputDataError, match=f"not a valid {kind} file") as info:
        read_table(BAD / name)
    assert info.value.problems[0].source == name


def test_parquet_named_csv_is_recognised(tmp_path):
    path = tmp_path / "real.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    fake = tmp_path / "patients.csv"
    fake.write_bytes(path.read_bytes())
    with pytest.raises(InputDataError, match="is not delimited text") as info:
        read_table(fake)
    assert "Parquet" in info.value.problems[0].reason


def test_row_with_extra_cells_names_its_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="malformed rows") as info:
        read_table(path)
    problem_at(info.value, "t.csv", 3, None)


def test_repeated_header_names(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="bad header") as info:
        read_table(path)
    problem_at(info.value, "t.csv", 1, "a")


# --------------------------------------------------------------------------------------
# Canonical folder
# --------------------------------------------------------------------------------------


def test_read_canonical_folder():
    cohort = read_canonical_folder(CANONICAL)
    assert cohort.name == "canonical_example"
    assert len(cohort.patients) == 3 and len(cohort.treatments) == 3
    # Protein changes normalised, genes upper-cased.
    assert cohort.mutations["protein_change"].tolist()[:3] == ["p.L858R", "p.R273H", "p.C797S"]
    assert cohort.mutations["gene"].tolist()[2] == "EGFR"
    assert cohort.outcomes["resistance_observed"].tolist() == [True, False, True]
    assert cohort.expression_scale == "log2_tpm"


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_canonical_round_trip(tmp_path, fmt):
    cohort = read_canonical_folder(CANONICAL)
    write_canonical_folder(cohort, tmp_path / "out", fmt=fmt)
    back = read_canonical_folder(tmp_path / "out")
    assert back.name == cohort.name and back.expression_scale == cohort.expression_scale
    for name, table in cohort.tables().items():
        pd.testing.assert_frame_equal(back.tables()[name], table, check_dtype=True)


def test_write_canonical_replaces_other_formats(tmp_path):
    cohort = read_canonical_folder(CANONICAL)
    write_canonical_folder(cohort, tmp_path, fmt="parquet")
    write_canonical_folder(cohort.with_tables(outcomes=None), tmp_path, fmt="csv")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "patients.parquet" not in names and "outcomes.csv" not in names
    assert read_canonical_folder(tmp_path).outcomes is None


def test_missing_required_table(canonical):
    (canonical / "treatments.csv").unlink()
    with pytest.raises(InputDataError, match="breaks the data contract") as info:
        read_canonical_folder(canonical)
    assert any("'treatments' table is missing" in p.reason for p in info.value.problems)


def test_bad_input_missing_required_column(canonical):
    frame = pd.read_csv(canonical / "patients.csv", dtype=str)
    frame.drop(columns="cancer_type").to_csv(canonical / "patients.csv", index=False)
    with pytest.raises(InputDataError, match=r"patients\.csv") as info:
        read_canonical_folder(canonical)
    assert (
        "required column is missing"
        in problem_at(info.value, "patients.csv", 1, "cancer_type").reason
    )


def test_bad_input_wrong_type(canonical):
    edit_csv(canonical / "patients.csv", 3, "age_years", "fifty-four")
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    assert problem_at(info.value, "patients.csv", 3, "age_years").reason == "not a number"


@pytest.mark.parametrize("value", ["-3", "0"])
def test_bad_input_non_positive_time(canonical, value):
    edit_csv(canonical / "outcomes.csv", 3, "time_to_resistance_months", value)
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    assert (
        "out of range"
        in problem_at(info.value, "outcomes.csv", 3, "time_to_resistance_months").reason
    )


@pytest.mark.parametrize("value", ["31", "-0.1"])
def test_bad_input_vaf_outside_unit_interval(canonical, value):
    edit_csv(canonical / "mutations.csv", 4, "vaf", value)
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    problem = problem_at(info.value, "mutations.csv", 4, "vaf")
    assert "[0, 1]" in problem.fix


def test_bad_input_unknown_mechanism(canonical):
    edit_csv(canonical / "outcomes.csv", 2, "mechanism", "bypas")
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    assert problem_at(info.value, "outcomes.csv", 2, "mechanism").value == "bypas"


@pytest.mark.parametrize(("table", "column", "row", "value"), [
    ("patients", "patient_id", 3, "P001"), ("treatments", "treatment_id", 4, "T001")])  # fmt: skip
def test_bad_input_duplicate_ids(canonical, table, column, row, value):
    edit_csv(canonical / f"{table}.csv", row, column, value)
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    assert problem_at(info.value, f"{table}.csv", row, column).reason == "duplicate row key"
    problem_at(info.value, f"{table}.csv", 2, column)  # both rows are named


def test_bad_input_empty_file(canonical):
    (canonical / "samples.csv").write_bytes(b"")
    with pytest.raises(InputDataError, match=r"samples\.csv: the file has no header") as info:
        read_canonical_folder(canonical)
    problem_at(info.value, "samples.csv", None, None)


def test_bad_input_wrong_format_for_extension(canonical):
    shutil.move(canonical / "fusions.csv", canonical / "fusions.parquet")
    with pytest.raises(InputDataError, match="breaks the data contract") as info:
        read_canonical_folder(canonical)
    assert "cannot be read as Parquet" in info.value.problems[0].reason
    assert info.value.problems[0].source == "fusions.parquet"


def test_bad_input_non_utf8(canonical):
    raw = (canonical / "treatments.csv").read_bytes().replace(b"alectinib", b"al\xe9ctinib")
    (canonical / "treatments.csv").write_bytes(raw)
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    assert "not valid UTF-8" in problem_at(info.value, "treatments.csv", 3, "drug").reason


def test_bad_input_undeclared_zscore_expression(canonical):
    edit_csv(canonical / "expression.csv", 3, "MET", "-2.4")
    with pytest.raises(InputDataError, match=r"expression\.csv") as info:
        read_canonical_folder(canonical)
    assert "z-scores" in info.value.problems[0].reason
    # Declared, the same values are accepted as z-scores.
    text = (canonical / "dataset.yaml").read_text(encoding="utf-8")
    (canonical / "dataset.yaml").write_text(text.replace("log2_tpm", "zscore"), encoding="utf-8")
    assert read_canonical_folder(canonical).expression_scale == "zscore"


def test_bad_input_mixed_scale_expression(canonical):
    edit_csv(canonical / "expression.csv", 2, "EGFR", "-1.5")
    edit_csv(canonical / "expression.csv", 3, "ESR1", "5400")
    with pytest.raises(InputDataError, match=r"expression\.csv") as info:
        read_canonical_folder(canonical)
    assert "mixes scales" in info.value.problems[0].reason


def test_bad_protein_change_names_row(canonical):
    edit_csv(canonical / "mutations.csv", 5, "protein_change", "p.XYZ")
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    problem_at(info.value, "mutations.csv", 5, "protein_change")


def test_problems_across_files_are_collected(canonical):
    edit_csv(canonical / "patients.csv", 2, "age_years", "old")
    edit_csv(canonical / "mutations.csv", 2, "vaf", "2")
    with pytest.raises(InputDataError) as info:
        read_canonical_folder(canonical)
    problem_at(info.value, "patients.csv", 2, "age_years")
    problem_at(info.value, "mutations.csv", 2, "vaf")


def test_dataset_yaml_unknown_key_and_scale(canonical):
    (canonical / "dataset.yaml").write_text(
        "name: x\nscale: tpm\nexpression_scale: counts\n", encoding="utf-8"
    )
    with pytest.raises(InputDataError, match=r"dataset\.yaml is invalid") as info:
        read_canonical_folder(canonical)
    problem_at(info.value, "dataset.yaml", None, "scale")
    problem_at(info.value, "dataset.yaml", None, "expression_scale")


def test_same_table_in_two_formats_is_ambiguous(canonical):
    shutil.copy(canonical / "fusions.csv", canonical / "fusions.tsv")
    with pytest.raises(InputDataError, match="breaks the data contract") as info:
        read_canonical_folder(canonical)
    assert "several files for one table" in info.value.problems[0].reason


# --------------------------------------------------------------------------------------
# Detection and dispatch
# --------------------------------------------------------------------------------------


def test_detect_input_form(tmp_path):
    assert detect_input_form(CANONICAL) == "canonical"
    assert detect_input_form(DATA / "cbioportal_study") == "cbioportal"
    sheet = tmp_path / "sheet.xlsx"
    sheet.write_bytes(b"")
    assert detect_input_form(sheet) == "profiles"
    with pytest.raises(InputDataError, match="cannot tell the input form"):
        detect_input_form(tmp_path)
    with pytest.raises(InputDataError, match="not found"):
        detect_input_form(tmp_path / "nothing")
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputDataError, match="cannot tell the input form"):
        detect_input_form(tmp_path / "x.json")


def test_read_cohort_dispatches(tmp_path):
    canonical = read_cohort(CANONICAL)
    assert canonical.name == "canonical_example"
    with pytest.raises(InputDataError, match="cBioPortal studies only"):
        read_cohort(CANONICAL, expression_profile="data_mrna_seq_tpm")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("patient_id,cancer_type,drug,line_number,mutations\n"
                     "P1,NSCLC,osimertinib,1,EGFR L858R\nP2,NSCLC,osimertinib,1,EGFR p.XYZ\n",
                     encoding="utf-8")  # fmt: skip
    with pytest.raises(InputDataError, match="1 of 2 row") as info:
        read_cohort(sheet)
    problem_at(info.value, "sheet.csv", 3, "mutations")
    assert canonical.treatments["treatment_id"].tolist() == ["T001", "T002", "T003"]


@pytest.mark.parametrize("name", ["problems.csv", "problems.xlsx", "problems.errors"])
def test_problems_files_neutralise_formulas_in_every_format(tmp_path, name):
    from oncoresist.exceptions import Problem
    from oncoresist.io.scores import write_problems

    hostile = ['=HYPERLINK("http://x")', "@SUM(A1)", "+1", "-2", "\t=1", "EGFR p.L858R"]
    problems = [
        Problem("in.csv", i + 2, "mutations", v, "unreadable", "fix it")
        for i, v in enumerate(hostile)
    ]
    path = write_problems(problems, tmp_path / name)
    if path.suffix == ".xlsx":
        back = pd.read_excel(path, dtype=str)
    else:
        back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["source", "row", "column", "value", "reason", "fix"]
    assert list(back["value"]) == ["'" + v for v in hostile[:-1]] + ["EGFR p.L858R"]
    assert list(back["row"]) == [str(i + 2) for i in range(len(hostile))]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
