"""Tests for the clinician profile sheet reader (row-level rejection, formats, chunks)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oncoresist.exceptions import InputDataError
from oncoresist.io.profiles import (
    iter_profile_chunks,
    parquet_sheet_shape,
    profiles_to_cohort,
    read_parquet_rows,
    read_profile_sheet,
    read_sheet_keys,
    read_staged_chunk,
    write_staged_chunk,
)
from oncoresist.io.tables import read_table

BAD = Path(__file__).parents[1] / "data" / "bad"

HEADER = "patient_id,cancer_type,drug,line_number,age_years,sex,mutations,copy_number,fusions,"
HEADER += "expr_EGFR,expr_MET,clinic_note"
GOOD_ROWS = [
    "P1,NSCLC,osimertinib,1,61,F,EGFR p.L858R; TP53 R273H,MET amp,,8.1,4.0,first visit",
    "P2,NSCLC,alectinib,1,54,M,,,EML4-ALK v3,5.0,,",
    "P3,breast,palbociclib + letrozole,1,58,F,ESR1 p.Tyr537Ser,CDKN2A del; CCNE1 gain,,3.1,2.2,",
]


def write_sheet(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def only_row_problems(sheet, row: int) -> list:
    return [p for p in sheet.rejected if p.row == row]


def test_good_sheet(tmp_path):
    sheet = read_profile_sheet(write_sheet(tmp_path / "sheet.csv", GOOD_ROWS))
    assert sheet.n_read == 3 and sheet.n_accepted == 3 and sheet.rejected == []
    assert sheet.row_of_treatment == {"P1-r2": 2, "P2-r3": 3, "P3-r4": 4}
    assert sheet.warnings_ == ["sheet.csv: columns not used: clinic_note"]
    cohort = sheet.cohort
    assert set(cohort.samples["timepoint"]) == {"baseline"}
    assert cohort.samples["treatment_id"].tolist() == ["P1-r2", "P2-r3", "P3-r4"]
    assert cohort.treatments["drug"].tolist()[2] == "palbociclib+letrozole"
    muts = cohort.mutations[["gene", "protein_change", "variant_class"]].values.tolist()
    assert muts == [["EGFR", "p.L858R", "Missense_Mutation"],
                    ["TP53", "p.R273H", "Missense_Mutation"],
                    ["ESR1", "p.Y537S", "Missense_Mutation"]]  # fmt: skip
    assert cohort.copy_number[["gene", "cn_state"]].values.tolist() == [
        ["MET", 2.0], ["CDKN2A", -2.0], ["CCNE1", 1.0]]  # fmt: skip
    assert cohort.fusions[["gene_5p", "gene_3p", "variant"]].values.tolist() == [
        ["EML4", "ALK", "v3"]]  # fmt: skip
    expr = cohort.expression.set_index("sample_id")
    assert list(expr.columns) == ["EGFR", "MET"]
    assert pd.isna(expr.loc["P2-r3_baseline", "MET"]) and expr.loc["P1-r2_baseline", "EGFR"] == 8.1


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("P9,NSCLC,osimertinib,1,60,F,EGFR p.XYZ,,,1,1,", "mutations", "not a protein change"),
        ("P9,NSCLC,osimertinib,1,60,F,EGFR L858R;;,,,1,1,", "mutations", "item 2 is empty"),
        ("P9,NSCLC,osimertinib,1,60,F,,MET superamp,,1,1,", "copy_number", "unknown copy-number"),
        ("P9,NSCLC,osimertinib,1,60,F,,,EML4_ALK,1,1,", "fusions", "GENE5-GENE3"),
        ("P9,NSCLC,osimertinib,1,60,F,,,,high,1,", "expr_EGFR", "not a finite number"),
        ("P9,NSCLC,osimertinib,1,60,F,,,,inf,1,", "expr_EGFR", "not a finite number"),
        ("P9,NSCLC,osimertinib,1,60,F,,,,-2.1,1,", "expr_EGFR", "log2(TPM+1) scale"),
        ("P9,NSCLC,osimertinib,1,60,F,,,,1,5400,", "expr_MET", "log2(TPM+1) scale"),
        ("P9,,osimertinib,1,60,F,,,,1,1,", "cancer_type", "required value is missing"),
        ("P9,NSCLC,osimertinib,,60,F,,,,1,1,", "line_number", "required value is missing"),
        ("P9,NSCLC,osimertinib,1.5,60,F,,,,1,1,", "line_number", "whole number"),
        ("P9,NSCLC,osimertinib,1,sixty,F,,,,1,1,", "age_years", "not a number"),
        ("P9,NSCLC,osimertinib,1,60,F,EGFR L858R; EGFR p.Leu858Arg,,,1,1,", "mutations",
         "listed twice"),
    ],
)  # fmt: skip
def test_bad_row_is_rejected_alone(tmp_path, row, column, reason):
    sheet = read_profile_sheet(write_sheet(tmp_path / "s.csv", [*GOOD_ROWS[:2], row, GOOD_ROWS[2]]))
    assert sheet.n_read == 4 and sheet.n_accepted == 3
    assert sheet.rejected_rows == [4]
    problems = only_row_problems(sheet, 4)
    assert any(p.column == column and reason in p.reason and p.source == "s.csv"
               for p in problems), problems  # fmt: skip
    assert "P9" not in set(sheet.cohort.patients["patient_id"])
    assert sheet.row_of_treatment["P3-r5"] == 5  # the row after the bad one keeps its number


def test_repeated_treatment_is_rejected_and_points_to_first(tmp_path):
    header = "patient_id,cancer_type,drug,line_number,treatment_id"
    path = tmp_path / "s.csv"
    path.write_text(f"{header}\nP1,NSCLC,osimertinib,1,T1\nP2,NSCLC,alectinib,1,T2\n"
                    "P1,NSCLC,osimertinib,1,T1\n", encoding="utf-8")  # fmt: skip
    sheet = read_profile_sheet(path)
    assert sheet.rejected_rows == [4]
    assert "first on row 2" in sheet.rejected[0].reason
    assert sheet.cohort.treatments["treatment_id"].tolist() == ["T1", "T2"]


def test_conflicting_patient_rows(tmp_path):
    path = tmp_path / "s.csv"
    text = "patient_id,cancer_type,drug,line_number\nP1,NSCLC,osimertinib,1\n"
    text += "P1,breast,palbociclib,2\nP1,NSCLC,amivantamab,2\n"
    path.write_text(text, encoding="utf-8")
    sheet = read_profile_sheet(path)
    assert sheet.rejected_rows == [3]
    assert sheet.rejected[0].column == "patient_id"
    assert len(sheet.cohort.patients) == 1 and len(sheet.cohort.treatments) == 2


def test_missing_required_column_rejects_file():
    with pytest.raises(InputDataError, match="not a profile sheet") as info:
        read_profile_sheet(BAD / "sheet_missing_line_number.csv")
    problem = info.value.problems[0]
    assert (problem.source, problem.row, problem.column) == (
        "sheet_missing_line_number.csv", 1, "line_number")  # fmt: skip


def test_empty_and_header_only_sheets(tmp_path):
    with pytest.raises(InputDataError, match="is empty"):
        read_profile_sheet(BAD / "empty.csv")
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="has no rows"):
        read_profile_sheet(path)


@pytest.mark.parametrize("suffix", [".tsv", ".parquet", ".xlsx"])
def test_other_formats_read_the_same(tmp_path, suffix):
    rows = [*GOOD_ROWS[:2], "P9,NSCLC,osimertinib,1,60,F,EGFR p.XYZ,,,1,1,", GOOD_ROWS[2]]
    csv_sheet = read_profile_sheet(write_sheet(tmp_path / "s.csv", rows))
    frame = pd.read_csv(tmp_path / "s.csv", dtype=str, keep_default_na=False)
    frame = frame.replace("", None)
    for column in ("line_number", "age_years", "expr_EGFR", "expr_MET"):
        frame[column] = pd.to_numeric(frame[column])  # typed, as a spreadsheet would hold it
    other = tmp_path / f"s{suffix}"
    if suffix == ".tsv":
        frame.to_csv(other, sep="\t", index=False)
    elif suffix == ".parquet":
        frame.to_parquet(other, index=False)
    else:
        frame.to_excel(other, index=False)
    sheet = read_profile_sheet(other)
    assert sheet.rejected_rows == csv_sheet.rejected_rows == [4]
    assert sheet.row_of_treatment == csv_sheet.row_of_treatment
    for name, table in csv_sheet.cohort.tables().items():
        pd.testing.assert_frame_equal(sheet.cohort.tables()[name], table)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_keep_absolute_row_numbers(tmp_path, suffix):
    rows = [f"P{i},NSCLC,osimertinib,1,60,F,EGFR L858R,,,1,1," for i in range(7)]
    rows[5] = "P1,NSCLC,osimertinib,1,60,F,EGFR L858R,,,1,1,"  # P1's second treatment: accepted
    path = write_sheet(tmp_path / "s.csv", rows)
    if suffix == ".parquet":
        table = read_table(path).reset_index(drop=True)
        path = tmp_path / "s.parquet"
        table.to_parquet(path, index=False)
    chunks = list(iter_profile_chunks(path, chunk_size=3))
    assert [list(c.index) for c in chunks] == [[2, 3, 4], [5, 6, 7], [8]]
    seen: dict[str, int] = {}
    accepted = []
    for chunk in chunks:
        sheet = profiles_to_cohort(chunk, path.name, seen_treatments=seen)
        accepted += list(sheet.row_of_treatment.values())
    assert accepted == [2, 3, 4, 5, 6, 7, 8]  # generated ids hold the row: no clash


def test_repeated_treatment_across_chunks_is_rejected(tmp_path):
    path = tmp_path / "s.csv"
    lines = ["patient_id,cancer_type,drug,line_number,treatment_id"]
    lines += [f"P{i},NSCLC,osimertinib,1,T{i}" for i in range(4)] + ["P0,NSCLC,osimertinib,1,T0"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seen: dict[str, int] = {}
    rejected = []
    for chunk in iter_profile_chunks(path, chunk_size=2):
        rejected += profiles_to_cohort(chunk, path.name, seen_treatments=seen).rejected
    assert [(p.row, p.column) for p in rejected] == [(6, "treatment_id")]
    assert "first on row 2" in rejected[0].reason


def test_profiles_to_cohort_plain_frame_uses_first_line():
    frame = pd.DataFrame(
        {"patient_id": ["A", "B"], "cancer_type": ["NSCLC", None],
         "drug": ["osimertinib", "osimertinib"], "line_number": [1, 1]}
    )  # fmt: skip
    sheet = profiles_to_cohort(frame, "api", first_line=10)
    assert sheet.row_of_treatment == {"A-r10": 10}
    assert [(p.row, p.column) for p in sheet.rejected] == [(11, "cancer_type")]


def test_streamed_parquet_keeps_expression_numbers_and_reads_like_csv(tmp_path):
    rows = [
        *GOOD_ROWS,
        "P4,NSCLC,osimertinib,1,60,F,,,,25,1,",  # off the log2(TPM+1) scale
        "P5,NSCLC,osimertinib,1,60,F,,,,,,",  # no expression
        "P6,NSCLC,osimertinib,2,60,F,EGFR L858R;;,,,3.25,0.5,",  # a bad row beside numbers
    ]
    csv_path = write_sheet(tmp_path / "s.csv", rows)
    text = pd.read_csv(csv_path, dtype=str, keep_default_na=False).replace("", None)
    text["expr_egfr"] = ["0.1", "0.2", "0.3", "0.4", None, "0.6"]  # EGFR again: this one wins
    text.to_csv(csv_path, index=False)
    frame = text.copy()
    for column in ("line_number", "age_years", "expr_EGFR", "expr_MET", "expr_egfr"):
        frame[column] = pd.to_numeric(frame[column])
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    csv_chunks = list(iter_profile_chunks(csv_path, chunk_size=4))
    parquet_chunks = list(iter_profile_chunks(tmp_path / "s.parquet", chunk_size=4))
    # Typed expression columns stay numbers (no text round trip); the rest is text.
    assert parquet_chunks[0]["expr_EGFR"].dtype == "float64"
    assert parquet_chunks[0]["patient_id"].dtype == object
    for csv_chunk, parquet_chunk in zip(csv_chunks, parquet_chunks, strict=True):
        a = profiles_to_cohort(csv_chunk, "s")
        b = profiles_to_cohort(parquet_chunk, "s")
        assert [p.as_dict() for p in b.rejected] == [p.as_dict() for p in a.rejected]
        for name, table in a.cohort.tables().items():
            pd.testing.assert_frame_equal(b.cohort.tables()[name], table, obj=name)
    rejected = [p for c in parquet_chunks for p in profiles_to_cohort(c, "s").rejected]
    assert sorted({(p.row, p.column, p.value) for p in rejected}) == [
        (5, "expr_EGFR", "25"),
        (7, "mutations", "EGFR L858R;;"),
    ]
    expression = profiles_to_cohort(parquet_chunks[0], "s").cohort.expression
    assert expression["EGFR"].tolist() == [0.1, 0.2, 0.3]


def test_streamed_parquet_does_not_keep_row_groups_already_read(tmp_path):
    """Arrow memory after the last chunk is no larger than after the first (flat streaming)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, groups = 1000, 8
    rng = np.random.default_rng(0)
    sheet = pd.DataFrame(rng.uniform(0, 10, (rows * groups, 200)))
    sheet.columns = [f"expr_G{j}" for j in range(200)]
    sheet.insert(0, "patient_id", [f"P{i}" for i in range(len(sheet))])
    for column, value in (("cancer_type", "NSCLC"), ("drug", "osimertinib"), ("line_number", 1)):
        sheet[column] = value
    path = tmp_path / "sheet.parquet"
    pq.write_table(pa.Table.from_pandas(sheet, preserve_index=False), path, row_group_size=rows)
    meta = pq.ParquetFile(path).metadata
    sheet_bytes = sum(meta.row_group(g).total_byte_size for g in range(groups))
    held = []
    for chunk in iter_profile_chunks(path, rows):
        del chunk
        held.append(pa.total_allocated_bytes())
    assert len(held) == groups
    # pre-buffered reads keep the row groups (here the whole file) cached until it is closed
    assert max(held) < sheet_bytes
    assert held[-1] - held[0] < meta.row_group(0).total_byte_size


def _typed_sheet(tmp_path: Path, rows: int = 23) -> Path:
    """A Parquet sheet of ``rows`` rows in row groups of 5, with text and expression columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(rows)],
            " treatment_id ": [f"T{i}" if i % 3 else None for i in range(rows)],
            "cancer_type": "NSCLC",
            "drug": "osimertinib",
            "line_number": [1 + i % 2 for i in range(rows)],
            "expr_EGFR": [0.5 * i if i % 4 else None for i in range(rows)],
        }
    )
    path = tmp_path / "sheet.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=5)
    return path


def test_parquet_slices_are_the_streamed_chunks(tmp_path):
    path = _typed_sheet(tmp_path)
    columns, n = parquet_sheet_shape(path)
    assert n == 23
    assert columns == [
        "patient_id",
        " treatment_id ",
        "cancer_type",
        "drug",
        "line_number",
        "expr_EGFR",
    ]
    # Slices of 7 rows cut across the row groups of 5; each equals the streamed chunk.
    for start, chunk in zip(range(0, n, 7), iter_profile_chunks(path, 7), strict=True):
        size = min(7, n - start)
        part = read_parquet_rows(path, start, size, first_line=2 + start)
        pd.testing.assert_frame_equal(part, chunk)
    assert read_parquet_rows(path, 23, 0, first_line=25).empty
    keys = read_sheet_keys(path, columns)
    assert list(keys.columns) == ["patient_id", "treatment_id"] and len(keys) == n
    assert read_sheet_keys(path, ["cancer_type"]).empty


def test_parquet_shape_of_a_file_that_is_not_parquet(tmp_path):
    (tmp_path / "sheet.parquet").write_text("patient_id\nP1\n")
    with pytest.raises(InputDataError):
        parquet_sheet_shape(tmp_path / "sheet.parquet")


def test_staged_chunk_round_trip(tmp_path):
    chunk = next(iter_profile_chunks(write_sheet(tmp_path / "s.csv", GOOD_ROWS), 10))
    write_staged_chunk(chunk, tmp_path / "input-00000.parquet")
    staged = read_staged_chunk(tmp_path / "input-00000.parquet")
    expected = chunk.astype(object).where(chunk.notna(), None)
    pd.testing.assert_frame_equal(staged, expected)
    assert staged.index.name == "line" and staged.index.tolist() == [2, 3, 4]
