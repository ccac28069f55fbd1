"""The data contract: lazy validation, located problems, the baseline-only rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.contract import (
    MECHANISMS,
    Cohort,
    baseline_samples,
    expression_scale_problems,
    validate_cohort,
    validate_expression,
    validate_table,
)
from oncoresist.exceptions import MAX_PROBLEMS_SHOWN, InputDataError


def test_mechanism_labels_fixed_order():
    assert MECHANISMS == ("on_target", "bypass", "epigenetic", "lineage", "microenvironment")


def test_problems_are_collected_lazily_and_located():
    patients = pd.DataFrame(
        {"patient_id": ["P1", "P1", "P3"], "cancer_type": ["nsclc", "", "breast"],
         "age_years": ["50", "abc", "200"]}
    )  # fmt: skip
    with pytest.raises(InputDataError, match=r"patients\.csv") as info:
        validate_table(patients, "patients", source="patients.csv")
    found = {(p.row, p.column, p.reason) for p in info.value.problems}
    assert (3, "age_years", "not a number") in found
    assert (3, "cancer_type", "empty value in a required column") in found
    assert any(p.row == 4 and p.column == "age_years" and "range" in p.reason
               for p in info.value.problems)  # fmt: skip
    duplicates = [p for p in info.value.problems if p.reason == "duplicate row key"]
    assert sorted(p.row for p in duplicates) == [2, 3]
    assert all(p.source == "patients.csv" for p in info.value.problems)


def test_missing_required_column_names_it():
    with pytest.raises(InputDataError, match="required column is missing") as info:
        validate_table(pd.DataFrame({"patient_id": ["P1"]}), "patients", source="p.csv")
    assert info.value.problems[0].column == "cancer_type"


@pytest.mark.parametrize(
    ("table", "frame", "column", "reason"),
    [
        ("outcomes", {"treatment_id": ["T1"], "time_to_resistance_months": [0],
                      "resistance_observed": ["true"]}, "time_to_resistance_months", "range"),
        ("outcomes", {"treatment_id": ["T1"], "time_to_resistance_months": [-3],
                      "resistance_observed": ["true"]}, "time_to_resistance_months", "range"),
        ("outcomes", {"treatment_id": ["T1"], "time_to_resistance_months": [3],
                      "resistance_observed": ["maybe"]}, "resistance_observed", "boolean"),
        ("outcomes", {"treatment_id": ["T1"], "time_to_resistance_months": [3],
                      "resistance_observed": ["1"], "mechanism": ["resistance"]}, "mechanism",
         "not allowed"),
        ("mutations", {"sample_id": ["S1"], "gene": ["egfr"], "protein_change": ["p.L858R"],
                       "variant_class": ["Missense"], "vaf": [1.5]}, "vaf", "range"),
        ("copy_number", {"sample_id": ["S1"], "gene": ["MET"], "cn_state": [3]}, "cn_state",
         "not allowed"),
        ("treatments", {"patient_id": ["P1"], "treatment_id": ["T1"], "drug": ["osimertinib"],
                        "line_number": ["1.5"]}, "line_number", "whole number"),
    ],
)  # fmt: skip
def test_bad_values_name_row_and_column(table, frame, column, reason):
    with pytest.raises(InputDataError) as info:
        validate_table(pd.DataFrame(frame), table, source=f"{table}.csv")
    problem = info.value.problems[0]
    assert (problem.row, problem.column) == (2, column)
    assert reason in problem.reason
    assert problem.fix


def test_coercion_to_canonical_dtypes():
    mutations = validate_table(
        pd.DataFrame({"sample_id": ["S1"], "gene": [" egfr "], "protein_change": ["p.L858R"],
                      "variant_class": ["Missense"], "vaf": ["0.25"]}),
        "mutations",
    )  # fmt: skip
    assert mutations.loc[0, "gene"] == "EGFR"
    assert mutations["vaf"].dtype == np.float64


def test_blank_upper_cased_identifiers_are_located_not_a_crash():
    # Blank and missing gene cells among upper-cased ones: each is reported with its row
    # (an earlier three-pass clean-up called .upper() on a missing cell and crashed).
    frame = pd.DataFrame(
        {"sample_id": ["S1", "S1", "S1"], "gene": [" egfr ", None, "  "],
         "protein_change": ["p.L858R", "p.T790M", "p.C797S"], "variant_class": "Missense",
         "vaf": 0.3}
    )  # fmt: skip
    for dtype in (object, "str"):
        with pytest.raises(InputDataError) as info:
            validate_table(frame.astype({"gene": dtype}), "mutations", source="m.csv")
        assert [(p.row, p.column) for p in info.value.problems] == [(3, "gene"), (4, "gene")]
        assert all(p.value == "<empty>" for p in info.value.problems)


def test_long_problem_lists_are_summarised():
    frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(30)], "cancer_type": "nsclc",
                          "age_years": ["x"] * 30})  # fmt: skip
    with pytest.raises(InputDataError) as info:
        validate_table(frame, "patients")
    assert len(info.value.problems) == 30
    assert f"and {30 - MAX_PROBLEMS_SHOWN} more" in str(info.value)


def test_expression_text_and_infinite_cells():
    frame = pd.DataFrame({"sample_id": ["S1", "S2"], "EGFR": ["1.0", "x"], "met": [2.0, np.inf]})
    with pytest.raises(InputDataError) as info:
        validate_expression(frame, source="expr.csv")
    located = {(p.row, p.column, p.reason) for p in info.value.problems}
    assert (3, "EGFR", "expression value is not a number") in located
    assert (3, "MET", "infinite value") in located


@pytest.mark.parametrize(
    ("values", "scale", "reason"),
    [
        ([1.0, 5000.0], "log2_tpm", "raw counts"),
        ([-2.0, 1.0], "log2_tpm", "z-scores"),
        ([-2.0, 5000.0], "log2_tpm", "mixes scales"),
        ([0.5, 3.0], "zscore", "no value is negative"),
    ],
)
def test_expression_scale_problems_locate_the_offending_cell(values, scale, reason):
    frame = pd.DataFrame({"sample_id": ["S1", "S2"], "EGFR": [2.0, 2.0], "MET": values})
    problems = expression_scale_problems(frame, scale, source="expr.csv")
    assert len(problems) == 1
    assert reason in problems[0].reason
    assert problems[0].column == "MET"
    assert problems[0].row in (2, 3)


def _cohort(samples: pd.DataFrame) -> Cohort:
    return Cohort(
        patients=pd.DataFrame({"patient_id": ["P1"], "cancer_type": ["nsclc"]}),
        samples=samples,
        treatments=pd.DataFrame({"patient_id": ["P1", "P1"], "treatment_id": ["T1", "T2"],
                                 "drug": ["erlotinib", "osimertinib"], "line_number": [1, 2]}),
    )  # fmt: skip


def test_baseline_rule_linked_unlinked_and_progression():
    samples = pd.DataFrame({
        "sample_id": ["B-any", "B-T2", "PROG"],
        "patient_id": ["P1", "P1", "P1"],
        "timepoint": ["baseline", "baseline", "progression"],
        "treatment_id": [None, "T2", "T1"],
    })  # fmt: skip
    pairs = baseline_samples(validate_cohort(_cohort(samples)))
    assert set(map(tuple, pairs.to_numpy())) == {("T1", "B-any"), ("T2", "B-any"), ("T2", "B-T2")}
    assert "PROG" not in set(pairs["sample_id"])


def test_broken_links_are_reported():
    samples = pd.DataFrame({"sample_id": ["S1"], "patient_id": ["P9"], "timepoint": ["baseline"]})
    with pytest.raises(InputDataError, match="broken links") as info:
        validate_cohort(_cohort(samples))
    assert info.value.problems[0].column == "patient_id"
    assert "not found in the patients table" in info.value.problems[0].reason
