"""The profile frame: one row per treatment, baseline samples only, deterministic cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.contract import Cohort, validate_cohort
from oncoresist.exceptions import InputDataError, UnknownDrugError
from oncoresist.features.builder import FeatureBuilder
from oncoresist.features.profile_text import alterations_text, fusion_token
from oncoresist.features.profiles import (
    PROFILE_COLUMNS,
    annotate_profiles,
    cohort_to_profiles,
    outcomes_for_profiles,
)


def tiny_cohort(**overrides: pd.DataFrame | None) -> Cohort:
    """Three patients, four treatments; P1 has two baseline samples and a progression sample."""
    tables: dict[str, pd.DataFrame | None] = {
        "patients": pd.DataFrame(
            {
                "patient_id": ["P1", "P2", "P3"],
                "cancer_type": ["nsclc", "nsclc", "breast"],
                "age_years": [61, 70, 55],
                "sex": ["F", "M", "F"],
            }
        ),
        "samples": pd.DataFrame(
            {
                "sample_id": ["S1a", "S1b", "S1p", "S2", "S3", "S3t"],
                "patient_id": ["P1", "P1", "P1", "P2", "P3", "P3"],
                "timepoint": [
                    "baseline",
                    "baseline",
                    "progression",
                    "baseline",
                    "baseline",
                    "baseline",
                ],
                "treatment_id": [None, None, "T1", None, None, "T3b"],
                "panel_id": [None, None, None, "LUNG2", None, None],
            }
        ),
        # Not in id order on purpose: the frame keeps the treatments table's order.
        "treatments": pd.DataFrame(
            {
                "patient_id": ["P3", "P1", "P2", "P3"],
                "treatment_id": ["T3", "T1", "T2", "T3b"],
                "drug": ["letrozole+palbociclib", "osimertinib", "osimertinib", "fulvestrant"],
                "line_number": [1, 1, 1, 2],
                "setting": [
                    "hr_breast_cdk46_1L",
                    "egfr_osimertinib_1L",
                    "egfr_osimertinib_1L",
                    "hr_breast_other",
                ],
                "drug_class": ["CDK46_inhibitor", "EGFR_TKI", "EGFR_TKI", "SERD"],
                "target": ["CDK4", "EGFR", "EGFR", "ESR1"],
            }
        ),
        "mutations": pd.DataFrame(
            {
                "sample_id": ["S1a", "S1b", "S1b", "S1p", "S2", "S3t"],
                "gene": ["TP53", "EGFR", "TP53", "EGFR", "EGFR", "ESR1"],
                "protein_change": ["p.R273H", "L858R", "p.R273H", "p.C797S", "p.L858R", "D538G"],
                "variant_class": ["Missense_Mutation"] * 6,
                "vaf": [0.3, 0.4, 0.2, 0.1, 0.5, 0.2],
            }
        ),
        "copy_number": pd.DataFrame(
            {
                "sample_id": ["S1a", "S1b", "S1b", "S1p", "S3"],
                "gene": ["MET", "MET", "CDKN2A", "ERBB2", "CCND1"],
                "cn_state": [1, 2, -2, 2, 0],
            }
        ),
        "fusions": pd.DataFrame(
            {
                "sample_id": ["S1a", "S1p"],
                "gene_5p": ["NKX2-1", "CCDC6"],
                "gene_3p": ["ALK", "RET"],
                "variant": [None, None],
            }
        ),
        "expression": pd.DataFrame(
            {
                "sample_id": ["S1a", "S1b", "S1p", "S2"],
                "MET": [4.0, 6.0, 12.0, 2.0],
                "VIM": [1.0, np.nan, 9.0, 3.0],
            }
        ),
        "gene_panels": pd.DataFrame({"panel_id": ["LUNG2"] * 3, "gene": ["KRAS", "EGFR", "ALK"]}),
        "outcomes": pd.DataFrame(
            {
                "treatment_id": ["T1", "T2", "T3"],
                "time_to_resistance_months": [14.0, 6.5, 20.0],
                "resistance_observed": [True, False, True],
                "mechanism": ["bypass", None, "on_target"],
            }
        ),
    }
    tables.update(overrides)
    return validate_cohort(Cohort(**tables))


@pytest.fixture()
def profiles() -> pd.DataFrame:
    return cohort_to_profiles(tiny_cohort())


def row(frame: pd.DataFrame, treatment: str) -> pd.Series:
    return frame.set_index("treatment_id").loc[treatment]


def test_one_row_per_treatment_in_treatment_order(profiles):
    assert list(profiles["treatment_id"]) == ["T3", "T1", "T2", "T3b"]
    assert list(profiles.columns[: len(PROFILE_COLUMNS)]) == list(PROFILE_COLUMNS)
    assert profiles.attrs["expression_scale"] == "log2_tpm"
    assert row(profiles, "T1")["age_years"] == 61
    assert row(profiles, "T2")["sex"] == "M"


def test_alterations_are_the_sorted_union_of_baseline_samples(profiles):
    t1 = row(profiles, "T1")
    # TP53 p.R273H seen in both baseline samples appears once; L858R is normalised.
    assert t1["mutations"] == (("EGFR", "p.L858R"), ("TP53", "p.R273H"))
    assert alterations_text("mutations", t1["mutations"]) == "EGFR p.L858R; TP53 p.R273H"
    # MET gain in one sample and amplification in the other: the most extreme call wins.
    assert t1["copy_number"] == (("CDKN2A", -2), ("MET", 2))
    assert alterations_text("copy_number", t1["copy_number"]) == "CDKN2A del; MET amp"
    assert t1["fusions"] == (("NKX2-1", "ALK", None),)
    assert alterations_text("fusions", t1["fusions"]) == "NKX2-1::ALK"
    assert t1["n_baseline_samples"] == 2


def test_copy_neutral_calls_are_not_written(profiles):
    assert row(profiles, "T3")["copy_number"] == ()
    assert alterations_text("copy_number", row(profiles, "T3")["copy_number"]) == ""


def test_expression_is_the_mean_over_baseline_samples_with_a_value(profiles):
    t1 = row(profiles, "T1")
    assert t1["expr_MET"] == pytest.approx(5.0)
    assert t1["expr_VIM"] == pytest.approx(1.0)  # S1b has no VIM value
    assert np.isnan(row(profiles, "T3")["expr_MET"])


def test_expression_of_a_single_baseline_sample_is_taken_as_is():
    cohort = tiny_cohort()
    one = cohort.expression[cohort.expression["sample_id"] != "S1b"]
    profiles = cohort_to_profiles(tiny_cohort(expression=one))
    assert row(profiles, "T1")["expr_MET"] == 4.0
    assert row(profiles, "T2")["expr_VIM"] == 3.0
    assert np.isnan(row(profiles, "T3b")["expr_VIM"])


def test_panel_genes_list_the_tested_genes_or_blank_for_everything(profiles):
    assert row(profiles, "T2")["panel_genes"] == "ALK;EGFR;KRAS"
    assert row(profiles, "T1")["panel_genes"] == ""


def test_a_sample_linked_to_a_treatment_feeds_only_that_treatment(profiles):
    assert row(profiles, "T3b")["mutations"] == (("ESR1", "p.D538G"),)
    assert row(profiles, "T3")["mutations"] == ()
    assert row(profiles, "T3")["n_baseline_samples"] == 1
    assert row(profiles, "T3b")["n_baseline_samples"] == 2


def test_progression_samples_never_leak_into_profiles():
    before = cohort_to_profiles(tiny_cohort())
    cohort = tiny_cohort()
    extra = {
        "samples": pd.concat(
            [cohort.samples, pd.DataFrame({"sample_id": ["S2p"], "patient_id": ["P2"],
                                           "timepoint": ["progression"], "treatment_id": [None],
                                           "panel_id": [None]})],
            ignore_index=True,
        ),
        "mutations": pd.concat(
            [cohort.mutations, pd.DataFrame({"sample_id": ["S2p"], "gene": ["KRAS"],
                                             "protein_change": ["p.G12C"],
                                             "variant_class": ["Missense_Mutation"],
                                             "vaf": [0.2]})],
            ignore_index=True,
        ),
        "copy_number": pd.concat(
            [cohort.copy_number,
             pd.DataFrame({"sample_id": ["S2p"], "gene": ["MET"], "cn_state": [2]})],
            ignore_index=True,
        ),
        "expression": pd.concat(
            [cohort.expression, pd.DataFrame({"sample_id": ["S2p"], "MET": [15.0], "VIM": [8.0]})],
            ignore_index=True,
        ),
    }  # fmt: skip
    after = cohort_to_profiles(tiny_cohort(**extra))
    pd.testing.assert_frame_equal(before, after)
    # The P1 progression sample (C797S, ERBB2 amp, CCDC6-RET, MET 12) is absent too.
    t1 = row(after, "T1")
    assert "C797S" not in alterations_text("mutations", t1["mutations"])
    assert "ERBB2" not in alterations_text("copy_number", t1["copy_number"])
    assert "RET" not in alterations_text("fusions", t1["fusions"])
    assert "ERBB2" not in {gene for gene, _ in t1["copy_number"]}


def test_a_treatment_without_baseline_samples_is_marked_unprofiled():
    cohort = tiny_cohort()
    samples = cohort.samples[cohort.samples["patient_id"] != "P2"]
    profiles = cohort_to_profiles(
        tiny_cohort(
            samples=samples,
            mutations=cohort.mutations[cohort.mutations["sample_id"] != "S2"],
            expression=cohort.expression[cohort.expression["sample_id"] != "S2"],
        )
    )
    t2 = row(profiles, "T2")
    assert t2["n_baseline_samples"] == 0
    assert t2["mutations"] == ()
    assert np.isnan(t2["expr_MET"])


def test_fusion_text_uses_double_colon_when_a_symbol_holds_a_hyphen():
    assert fusion_token("EML4", "ALK", "v3") == "EML4-ALK v3"
    assert fusion_token("NKX2-1", "ALK") == "NKX2-1::ALK"


def test_fusion_variant_written_with_the_fusion_name_is_not_repeated():
    fusions = pd.DataFrame(
        {"sample_id": ["S2"], "gene_5p": ["EML4"], "gene_3p": ["ALK"], "variant": ["EML4-ALK v3"]}
    )
    profiles = cohort_to_profiles(tiny_cohort(fusions=fusions))
    assert row(profiles, "T2")["fusions"] == (("EML4", "ALK", "v3"),)
    assert alterations_text("fusions", row(profiles, "T2")["fusions"]) == "EML4-ALK v3"


def test_treatments_without_annotations_are_annotated_from_the_drug_catalogue():
    cohort = tiny_cohort()
    bare = cohort.treatments[["patient_id", "treatment_id", "drug", "line_number"]].copy()
    bare.loc[bare["treatment_id"] == "T2", "drug"] = "Tagrisso"  # a brand name
    profiles = cohort_to_profiles(tiny_cohort(treatments=bare))
    t2 = row(profiles, "T2")
    assert t2["drug"] == "osimertinib"
    assert t2["drug_class"] == "EGFR_TKI"
    assert t2["setting"] == "egfr_osimertinib_1L"
    assert t2["generation"] == 3
    assert bool(row(profiles, "T3")["is_combination"]) is True


def test_annotation_keeps_values_already_given_and_names_unknown_drugs():
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "treatment_id": ["T1", "T2"],
            "cancer_type": ["nsclc", "nsclc"],
            "drug": ["osimertinib", "osimertinib"],
            "line_number": [1.0, 1.0],
            "setting": ["my_setting", None],
        }
    )
    annotated = annotate_profiles(frame)
    assert list(annotated["setting"]) == ["my_setting", "egfr_osimertinib_1L"]
    with pytest.raises(UnknownDrugError, match="madeupinib"):
        annotate_profiles(frame.assign(drug=["madeupinib", "osimertinib"]))


def test_annotation_can_collect_unknown_drugs_and_keep_their_rows():
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "treatment_id": ["T1", "T2", "T3"],
            "cancer_type": ["nsclc"] * 3,
            "drug": ["madeupinib", "Tagrisso", "madeupinib"],
            "line_number": [1.0, 1.0, 1.0],
        }
    )
    annotated, problems = annotate_profiles(frame, errors="collect")
    assert list(annotated["drug"]) == ["madeupinib", "osimertinib", "madeupinib"]
    assert annotated["setting"].isna().tolist() == [True, False, True]
    assert [(p.row, p.column) for p in problems] == [(2, "drug"), (4, "drug")]
    assert "madeupinib" in problems[0].value


def test_a_cohort_with_an_unknown_drug_raises_or_collects():
    cohort = tiny_cohort()
    bare = cohort.treatments[["patient_id", "treatment_id", "drug", "line_number"]].copy()
    bare.loc[bare["treatment_id"] == "T2", "drug"] = "madeupinib"
    unknown = tiny_cohort(treatments=bare)
    with pytest.raises(UnknownDrugError, match="madeupinib"):
        cohort_to_profiles(unknown)
    profiles, problems = cohort_to_profiles(unknown, errors="collect")
    assert list(profiles["treatment_id"]) == ["T3", "T1", "T2", "T3b"]
    assert [(p.row, p.column) for p in problems] == [(4, "drug")]
    assert pd.isna(row(profiles, "T2")["setting"])
    assert row(profiles, "T2")["mutations"] == (("EGFR", "p.L858R"),)


def test_outcomes_align_with_profile_rows(profiles):
    outcomes = outcomes_for_profiles(tiny_cohort(), profiles)
    assert list(outcomes["treatment_id"]) == list(profiles["treatment_id"])
    assert outcomes.index.equals(profiles.index)
    t1 = outcomes.set_index("treatment_id").loc["T1"]
    assert t1["time_to_resistance_months"] == 14.0
    assert bool(t1["resistance_observed"]) is True
    assert t1["mechanism"] == "bypass"
    # T3b has no outcome row: missing, not invented.
    assert np.isnan(outcomes.set_index("treatment_id").loc["T3b", "time_to_resistance_months"])


def test_outcomes_need_an_outcomes_table(profiles):
    with pytest.raises(InputDataError, match="no outcomes"):
        outcomes_for_profiles(tiny_cohort(outcomes=None), profiles)


def test_round_trip_from_a_hand_made_cohort():
    cohort = tiny_cohort()
    profiles = cohort_to_profiles(cohort)
    fb = FeatureBuilder(min_patients=1, signatures={"emt": {"up": ["VIM"]}}).fit(profiles)
    X = fb.transform(profiles).set_axis(profiles["treatment_id"])
    assert X.loc["T1", "alt:EGFR p.L858R"] == 1
    assert X.loc["T1", "cna:MET"] == 2 and X.loc["T1", "cna:CDKN2A"] == -2
    # MET amplification and an ALK fusion are both known bypass routes under osimertinib.
    assert X.loc["T1", "kb:bypass_alteration"] == 2
    assert np.isnan(X.loc["T2", "mut:TP53"])  # P2's panel has no TP53
    assert X.loc["T2", "mut:EGFR"] == 1
    assert X.loc["T3b", "alt:ESR1 p.D538G"] == 1
    assert X.loc["T3", "drug:palbociclib"] == 1 and X.loc["T3", "drug:letrozole"] == 1
    # The progression sample's EGFR C797S is nowhere.
    assert not any("C797S" in n for n in fb.get_feature_names_out())
