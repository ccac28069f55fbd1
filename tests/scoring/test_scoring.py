"""score_profiles: bad input row by row, accounting, order, warnings and provenance."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import InputDataError
from oncoresist.paths import demo_dir
from oncoresist.scoring.engine import (
    LANDMARK_MONTHS,
    NO_EXPRESSION_WARNING,
    OUTPUT_COLUMNS,
    score_profiles,
)

PROBABILITIES = [f"p_{m}" for m in MECHANISMS]
NUMBERS = [*PROBABILITIES, "median_months_to_resistance"] + [
    f"p_resistance_free_{m}m" for m in LANDMARK_MONTHS
]


def demo_sheet() -> pd.DataFrame:
    """The committed demo sheet, every cell as text (as the CSV reader gives it)."""
    return pd.read_csv(demo_dir() / "profiles.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sheet() -> pd.DataFrame:
    return demo_sheet()


@pytest.fixture(scope="module")
def bundle(scoring_model):
    return scoring_model.bundle


@pytest.fixture(scope="module")
def demo_result(bundle, sheet):
    return score_profiles(bundle, sheet, source="profiles.csv")


def one_row(sheet: pd.DataFrame, **cells: object) -> pd.DataFrame:
    """The first demo row (an osimertinib-free lung row) with some cells replaced."""
    row = sheet.iloc[[1]].copy().reset_index(drop=True)
    for column, value in cells.items():
        row[column] = value
    return row


def test_every_row_scored_in_input_order(demo_result, sheet):
    scores = demo_result.scores
    assert demo_result.n_read == len(sheet) == demo_result.n_scored
    assert demo_result.rejected == []
    assert scores["treatment_id"].tolist() == sheet["treatment_id"].tolist()
    assert demo_result.accounting() == f"read {len(sheet)} = scored {len(sheet)} + rejected 0"


def test_output_columns_probabilities_and_landmarks(demo_result):
    scores = demo_result.scores
    present = [c for c in OUTPUT_COLUMNS if c in scores.columns]
    assert list(scores.columns[: len(present)]) == present
    np.testing.assert_allclose(scores[PROBABILITIES].sum(axis=1), 1.0, atol=1e-9)
    assert (scores["predicted_mechanism"] == scores[PROBABILITIES].idxmax(axis=1).str[2:]).all()
    landmarks = scores[[f"p_resistance_free_{m}m" for m in LANDMARK_MONTHS]].to_numpy()
    assert np.all(np.diff(landmarks, axis=1) <= 1e-12)  # survival falls with time
    assert np.isfinite(scores["median_months_to_resistance"]).all()
    assert scores["mechanism_drivers"].str.len().gt(0).all()
    assert scores["time_drivers"].str.len().gt(0).all()


def test_every_row_names_its_model(demo_result, scoring_model):
    scores = demo_result.scores
    assert (scores["model_name"] == "oncoresist").all()
    assert (scores["run_id"] == scoring_model.run_id).all()
    assert scores["model_version"].notna().all()
    assert (scores["trained_on"] == "simulated").all()
    assert scores["scored_at"].nunique() == 1


def test_rows_without_expression_are_warned(demo_result, sheet):
    expression = [c for c in sheet.columns if c.startswith("expr_")]
    empty = sheet[expression].eq("").all(axis=1).to_numpy()
    assert empty.sum() == 2  # demo rows 3 and 17
    warned = demo_result.scores["row_warnings"].str.contains(NO_EXPRESSION_WARNING).to_numpy()
    np.testing.assert_array_equal(warned, empty)


def test_drug_not_in_training_is_warned(bundle, sheet):
    trained = set(bundle.metadata["training_drugs"])
    result = score_profiles(bundle, sheet)
    assert not set(result.scores["drug"]) <= trained  # the demo has drugs the model lacks
    for drug, warning in zip(result.scores["drug"], result.scores["row_warnings"], strict=True):
        # a combination is named by its parts ("drug 'dabrafenib; trametinib'")
        assert ("drug '" in warning) == (drug not in trained), (drug, warning)


def test_one_row_frame(bundle, sheet):
    result = score_profiles(bundle, one_row(sheet))
    assert (result.n_read, result.n_scored, result.n_rejected) == (1, 1, 0)


def test_missing_required_column_rejects_the_file(bundle, sheet):
    with pytest.raises(InputDataError, match="not a profile sheet") as caught:
        score_profiles(bundle, sheet.drop(columns=["line_number"]), source="s.csv")
    (problem,) = caught.value.problems
    assert (problem.column, problem.reason) == ("line_number", "required column is missing")


def test_unknown_columns_are_ignored_and_noted_once(bundle, sheet):
    extra = sheet.assign(mrn="123", notes_free_text="x")
    result = score_profiles(bundle, extra, source="s.csv")
    assert result.notes == ["s.csv: columns not used: mrn, notes_free_text"]
    base = score_profiles(bundle, sheet, source="s.csv")
    pd.testing.assert_frame_equal(result.scores[NUMBERS], base.scores[NUMBERS])


def test_duplicated_row_is_rejected_naming_the_first(bundle, sheet):
    frame = pd.concat([sheet.iloc[:3], sheet.iloc[[1]]], ignore_index=True)
    result = score_profiles(bundle, frame, source="s.csv")
    assert result.accounting() == "read 4 = scored 3 + rejected 1"
    (problem,) = result.rejected
    assert (problem.row, problem.column) == (5, "treatment_id")
    assert "first on row 3" in problem.reason


def test_same_patient_with_conflicting_facts_is_rejected(bundle, sheet):
    second = one_row(sheet, treatment_id="T-second", cancer_type="breast")
    result = score_profiles(bundle, pd.concat([one_row(sheet), second], ignore_index=True))
    assert result.n_scored == 1
    assert result.rejected[0].column == "patient_id"
    assert "differ from row 2" in result.rejected[0].reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("EGFR p.L858R;;", "item 2 is empty"),
        ("p.XYZ", "names no protein change"),
        ("EGFR p.XYZ", "not a protein change oncoresist can read"),
        ("EGFR p.L858R; EGFR p.L858R", "listed twice"),
        ("MET amp", "copy-number or fusion call"),
    ],
)
def test_malformed_mutations_reject_the_row(bundle, sheet, text, reason):
    frame = pd.concat([one_row(sheet, mutations=text), sheet.iloc[2:4]], ignore_index=True)
    result = score_profiles(bundle, frame, source="s.csv")
    assert result.accounting() == "read 3 = scored 2 + rejected 1"
    assert {p.row for p in result.rejected} == {2}
    assert all(p.column == "mutations" and p.value == text for p in result.rejected)
    assert any(reason in p.reason for p in result.rejected)


def test_lowercase_genes_read_as_upper_case(bundle, sheet):
    upper = score_profiles(bundle, one_row(sheet, mutations="EGFR p.L858R; TP53 p.R273H"))
    lower = score_profiles(bundle, one_row(sheet, mutations="egfr p.L858R; tp53 p.R273H"))
    pd.testing.assert_frame_equal(lower.scores[NUMBERS], upper.scores[NUMBERS])


def test_unknown_gene_is_kept_and_flagged(bundle, sheet):
    base = score_profiles(bundle, one_row(sheet, mutations="EGFR p.L858R"))
    odd = score_profiles(bundle, one_row(sheet, mutations="EGFR p.L858R; ZZZ9 p.A12T"))
    assert odd.n_scored == 1
    assert re.search(
        r"no feature for \(not weighed\): [A-Z0-9, ]*ZZZ9", odd.scores.loc[0, "row_warnings"]
    )
    assert "ZZZ9" not in base.scores.loc[0, "row_warnings"]
    pd.testing.assert_frame_equal(odd.scores[NUMBERS], base.scores[NUMBERS])


@pytest.mark.parametrize("value", ["high", "1,5", "inf", "-inf", float("inf"), "25", "-3"])
def test_bad_expression_value_rejects_the_row(bundle, sheet, value):
    result = score_profiles(bundle, one_row(sheet, expr_EGFR=value), source="s.csv")
    assert result.n_scored == 0
    (problem,) = result.rejected
    assert (problem.row, problem.column) == (2, "expr_EGFR")
    assert "expression value" in problem.reason


@pytest.mark.parametrize("value", ["", "NA", "nan", float("nan")])
def test_missing_expression_value_is_allowed(bundle, sheet, value):
    result = score_profiles(bundle, one_row(sheet, expr_EGFR=value))
    assert result.n_scored == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [("age_years", "inf"), ("age_years", "200"), ("line_number", "1.5"), ("line_number", "x")],
)
def test_bad_numbers_reject_the_row(bundle, sheet, column, value):
    result = score_profiles(bundle, one_row(sheet, **{column: value}))
    assert result.n_scored == 0
    assert result.rejected[0].column == column


def test_planned_drug_fills_empty_drug_cells(bundle, sheet):
    frame = sheet.iloc[:4].copy()
    frame.loc[[0, 2], "drug"] = ""
    result = score_profiles(bundle, frame, drug="osimertinib")
    drugs = result.scores["drug"].tolist()
    assert drugs[0] == drugs[2] == "osimertinib"
    assert drugs[1] == frame.loc[1, "drug"]


def test_planned_drug_when_the_column_is_absent(bundle, sheet):
    frame = sheet.iloc[:3].drop(columns=["drug", "line_number"])
    result = score_profiles(bundle, frame, drug="osimertinib")
    assert result.n_scored == 3
    assert set(result.scores["drug"]) == {"osimertinib"}


def test_unknown_drug_rejected_with_closest_names(bundle, sheet):
    frame = sheet.iloc[:3].copy()
    frame.loc[1, "drug"] = "osimertinb"
    result = score_profiles(bundle, frame, source="s.csv")
    assert result.accounting() == "read 3 = scored 2 + rejected 1"
    (problem,) = result.rejected
    assert (problem.row, problem.column, problem.value) == (3, "drug", "osimertinb")
    assert "osimertinib" in problem.reason + problem.fix
    assert result.scores["treatment_id"].tolist() == frame["treatment_id"].iloc[[0, 2]].tolist()


def test_repeated_treatment_in_a_later_chunk_is_rejected(bundle, sheet):
    seen: dict[str, int] = {}
    first = score_profiles(bundle, sheet.iloc[:3], seen_treatments=seen, first_line=2)
    again = score_profiles(bundle, sheet.iloc[[1]], seen_treatments=seen, first_line=5)
    assert first.n_scored == 3
    assert again.n_scored == 0
    assert "first on row 3" in again.rejected[0].reason


def test_probabilities_are_the_bundle_predictions(bundle, sheet, demo_result):
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.io.profiles import profiles_to_cohort
    from oncoresist.knowledge.annotate import annotate_treatments

    cohort = profiles_to_cohort(sheet, "s.csv").cohort
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    direct = bundle.predict(cohort_to_profiles(cohort)).reset_index(drop=True)
    np.testing.assert_allclose(demo_result.scores[PROBABILITIES], direct[PROBABILITIES], atol=1e-12)


def test_a_frame_with_structured_cells_scores_as_its_sheet(bundle, sheet, demo_result):
    from oncoresist.features.profile_text import profiles_as_text
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.io.profiles import profiles_to_cohort
    from oncoresist.knowledge.annotate import annotate_treatments

    cohort = profiles_to_cohort(sheet, "s.csv").cohort
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    structured = cohort_to_profiles(cohort)
    assert all(isinstance(cell, tuple) for cell in structured["mutations"])
    result = score_profiles(bundle, structured, scored_at="2026-12-08T00:00:00+00:00")
    assert result.rejected == []
    as_sheet = score_profiles(
        bundle, profiles_as_text(structured), scored_at="2026-12-08T00:00:00+00:00"
    )
    pd.testing.assert_frame_equal(result.scores, as_sheet.scores)
    assert list(result.scores["treatment_id"]) == list(demo_result.scores["treatment_id"])
    np.testing.assert_allclose(
        result.scores[PROBABILITIES], demo_result.scores[PROBABILITIES], atol=1e-12
    )


cell_text = st.text(
    alphabet=st.sampled_from(list("EGFRKMTp.L858Rdelins_;,: -+0123456789xyzé\t")), max_size=30
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mutations=st.lists(cell_text, min_size=3, max_size=3),
    copy_number=st.lists(
        st.sampled_from(["", "MET amp", "MET", "amp", "CDKN2A del;"]), min_size=3, max_size=3
    ),
    fusions=st.lists(
        st.sampled_from(["", "EML4-ALK v3", "EML4ALK", "-ALK", "EML4-ALK v3;;"]),
        min_size=3,
        max_size=3,
    ),
    expression=st.lists(
        st.one_of(cell_text, st.floats(allow_nan=True, allow_infinity=True)), min_size=3, max_size=3
    ),
)
def test_free_form_cells_never_lose_a_row(
    bundle, sheet, mutations, copy_number, fusions, expression
):
    frame = sheet.iloc[:3].copy().reset_index(drop=True)
    frame["mutations"] = mutations
    frame["copy_number"] = copy_number
    frame["fusions"] = fusions
    frame["expr_MET"] = expression
    result = score_profiles(bundle, frame, source="s.csv")
    assert result.n_read == 3
    assert result.n_scored + result.n_rejected == 3
    rejected_rows = {p.row for p in result.rejected}
    assert rejected_rows <= {2, 3, 4}
    kept = [t for i, t in enumerate(frame["treatment_id"]) if i + 2 not in rejected_rows]
    assert result.scores["treatment_id"].tolist() == kept
    assert all(p.column and p.reason for p in result.rejected)
