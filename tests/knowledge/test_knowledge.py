"""Cancer types, clinical settings and treatment annotation."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncoresist.exceptions import ConfigError, InputDataError, UnknownDrugError
from oncoresist.knowledge import annotate as knowledge
from oncoresist.knowledge.annotate import (
    annotate_treatments,
    cancer_types,
    derive_setting,
    is_known_cancer_type,
    normalise_cancer_type,
    setting_rules,
)
from oncoresist.paths import knowledge_dir

#: The setting ids the simulator (data/params/settings.yaml) uses.
SIMULATOR_SETTINGS = {
    "egfr_osimertinib_1L", "egfr_osimertinib_2L_T790M", "egfr_1st2nd_gen_TKI",
    "alk_alectinib_1L", "alk_lorlatinib_1L", "alk_lorlatinib_after_2ndgen", "alk_crizotinib_1L",
    "hrpos_breast_AI_CDK46i_1L", "melanoma_BRAF_dabrafenib_trametinib",
    "kras_G12C_sotorasib_adagrasib_2L", "her2pos_breast_trastuzumab_pertuzumab_1L",
    "cml_imatinib_CP",
}  # fmt: skip

# --------------------------------------------------------------------------------------
# Cancer types
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [("NSCLC", "nsclc"), ("Non-Small Cell Lung Cancer", "nsclc"), ("non small cell lung cancer",
     "nsclc"), ("LUAD", "nsclc"), ("Lung Adenocarcinoma", "nsclc"), ("lung", "nsclc"),
     ("Breast Cancer", "breast"), ("BRCA", "breast"), ("Breast Invasive Ductal Carcinoma",
     "breast"), ("HR+/HER2- breast cancer", "breast"), ("HER2-positive breast cancer", "breast"),
     ("Melanoma", "melanoma"), ("SKCM", "melanoma"), ("Cutaneous Melanoma", "melanoma"),
     ("Chronic Myeloid Leukemia", "cml"), ("CML", "cml"), ("Colorectal Adenocarcinoma",
     "colorectal"), ("COADREAD", "colorectal"), ("  nsclc  ", "nsclc")],
)  # fmt: skip
def test_cancer_type_aliases(text: str, code: str) -> None:
    assert normalise_cancer_type(text) == code
    assert is_known_cancer_type(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("  Glioblastoma ", "glioblastoma"),
        ("Small Cell Lung Cancer", "small cell lung cancer"),
        ("Uveal Melanoma", "uveal melanoma"),
    ],
)
def test_unknown_cancer_type_is_kept_lowercased_and_flagged(text: str, kept: str) -> None:
    assert normalise_cancer_type(text) == kept
    assert not is_known_cancer_type(text)


def test_missing_cancer_type_is_empty_and_unknown() -> None:
    assert normalise_cancer_type(None) == ""
    assert normalise_cancer_type(math.nan) == ""
    assert not is_known_cancer_type(None)


def test_canonical_codes() -> None:
    assert set(cancer_types()) == {"nsclc", "breast", "melanoma", "cml", "colorectal"}


@given(st.text(max_size=40))
@settings(max_examples=80, deadline=None)
def test_normalise_never_fails_and_is_idempotent(text: str) -> None:
    code = normalise_cancer_type(text)
    assert normalise_cancer_type(code) == code


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------

SETTING_CASES = [
    ("NSCLC", "osimertinib", 1, "egfr_osimertinib_1L"),
    ("LUAD", "Tagrisso", 1, "egfr_osimertinib_1L"),
    ("NSCLC", "osimertinib", 2, "egfr_osimertinib_2L_T790M"),
    ("lung", "AZD9291", 4, "egfr_osimertinib_2L_T790M"),
    ("NSCLC", "erlotinib", 1, "egfr_1st2nd_gen_TKI"),
    ("NSCLC", "Iressa", 2, "egfr_1st2nd_gen_TKI"),
    ("NSCLC", "afatinib", 1, "egfr_1st2nd_gen_TKI"),
    ("NSCLC", "alectinib", 1, "alk_alectinib_1L"),
    ("NSCLC", "Alecensa", 2, "alk_alectinib_1L"),
    ("NSCLC", "lorlatinib", 1, "alk_lorlatinib_1L"),
    ("NSCLC", "Lorbrena", 2, "alk_lorlatinib_after_2ndgen"),
    ("NSCLC", "lorlatinib", 3, "alk_lorlatinib_after_2ndgen"),
    ("NSCLC", "crizotinib", 1, "alk_crizotinib_1L"),
    ("Breast Cancer", "letrozole+palbociclib", 1, "hrpos_breast_AI_CDK46i_1L"),
    ("BRCA", "Ibrance + Faslodex", 2, "hrpos_breast_AI_CDK46i_1L"),
    ("HR+/HER2- breast cancer", "ribociclib+anastrozole", 1, "hrpos_breast_AI_CDK46i_1L"),
    ("breast", "abemaciclib", 1, "hrpos_breast_AI_CDK46i_1L"),
    ("Melanoma", "Tafinlar + Mekinist", 1, "melanoma_BRAF_dabrafenib_trametinib"),
    ("SKCM", "dabrafenib", 2, "melanoma_BRAF_dabrafenib_trametinib"),
    ("melanoma", "trametinib", 1, "melanoma_BRAF_dabrafenib_trametinib"),
    ("Cutaneous Melanoma", "encorafenib+binimetinib", 1, "melanoma_BRAF_dabrafenib_trametinib"),
    ("NSCLC", "sotorasib", 2, "kras_G12C_sotorasib_adagrasib_2L"),
    ("NSCLC", "Krazati", 3, "kras_G12C_sotorasib_adagrasib_2L"),
    ("breast", "trastuzumab+pertuzumab", 1, "her2pos_breast_trastuzumab_pertuzumab_1L"),
    ("breast", "Herceptin+Perjeta+docetaxel", 1, "her2pos_breast_trastuzumab_pertuzumab_1L"),
    ("CML", "imatinib", 1, "cml_imatinib_CP"),
    ("Chronic Myeloid Leukemia", "Glivec", 2, "cml_imatinib_CP"),
    # No rule: "<primary class>_other"
    ("NSCLC", "brigatinib", 2, "alk_tki_other"),
    ("NSCLC", "osimertinib+palbociclib", 1, "egfr_tki_other"),
    ("glioblastoma", "osimertinib", 1, "egfr_tki_other"),
    ("NSCLC", "osimertinib", None, "egfr_tki_other"),
    ("breast", "letrozole", 1, "aromatase_inhibitor_other"),
    ("breast", "docetaxel", 1, "taxane_other"),
    ("colorectal", "sotorasib", 2, "kras_g12c_inhibitor_other"),
    ("CML", "dasatinib", 1, "bcr_abl_tki_other"),
    ("NSCLC", "imatinib", 1, "bcr_abl_tki_other"),
]


@pytest.mark.parametrize(("cancer", "drug", "line", "expected"), SETTING_CASES)
def test_derive_setting(cancer: str, drug: str, line: int | None, expected: str) -> None:
    assert derive_setting(cancer, drug, line) == expected


def test_rules_name_exactly_the_simulator_settings_and_each_is_tested() -> None:
    ids = [rule.id for rule in setting_rules()]
    assert set(ids) == SIMULATOR_SETTINGS
    assert len(ids) == len(set(ids))
    assert {case[3] for case in SETTING_CASES} >= SIMULATOR_SETTINGS


def test_derive_setting_with_unknown_drug_raises() -> None:
    with pytest.raises(UnknownDrugError, match="osimertinib"):
        derive_setting("NSCLC", "osimertinb", 1)


# --------------------------------------------------------------------------------------
# Treatments
# --------------------------------------------------------------------------------------


@pytest.fixture
def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {"patient_id": ["P1", "P2", "P3"], "cancer_type": ["NSCLC", "Breast Cancer", "SKCM"]}
    )


@pytest.fixture
def treatments() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["P1", "P1", "P2", "P3"],
        "treatment_id": ["T1", "T2", "T3", "T4"],
        "drug": ["Tarceva", "Tagrisso", "Femara + Ibrance", "dabrafenib+trametinib"],
        "line_number": [1.0, 2.0, 1.0, 1.0],
        "setting": ["stale", "stale", "stale", "stale"],
    })  # fmt: skip


def test_annotate_treatments_adds_the_derived_columns(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    out = annotate_treatments(treatments, patients)
    assert list(out["drug"]) == [
        "erlotinib",
        "osimertinib",
        "letrozole+palbociclib",
        "dabrafenib+trametinib",
    ]
    assert list(out["setting"]) == [
        "egfr_1st2nd_gen_TKI",
        "egfr_osimertinib_2L_T790M",
        "hrpos_breast_AI_CDK46i_1L",
        "melanoma_BRAF_dabrafenib_trametinib",
    ]
    assert list(out["drug_class"]) == ["EGFR_TKI", "EGFR_TKI", "CDK46_inhibitor", "BRAF_inhibitor"]
    assert out.loc[2, "drug_classes"] == "aromatase_inhibitor+CDK46_inhibitor"
    assert list(out["target"]) == ["EGFR", "EGFR", "CYP19A1+CDK4/CDK6", "BRAF+MAP2K1/MAP2K2"]
    assert out["generation"].tolist()[:2] == [1.0, 3.0]
    assert out["generation"].iloc[2:].isna().all()
    assert out["is_combination"].tolist() == [False, False, True, True]
    assert out["is_combination"].dtype == bool
    assert list(out["treatment_id"]) == list(treatments["treatment_id"])
    assert treatments.loc[0, "drug"] == "Tarceva"  # the input is not modified


def test_unknown_drugs_raise_one_error_listing_every_bad_row(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    treatments.loc[1, "drug"] = "osimertinb"
    treatments.loc[3, "drug"] = "dabrafenib+trametinb"
    with pytest.raises(UnknownDrugError, match=r"2 problem") as info:
        annotate_treatments(treatments, patients, source="treatments.csv")
    problems = info.value.problems
    assert [(p.source, p.row, p.column) for p in problems] == [
        ("treatments.csv", 3, "drug"),
        ("treatments.csv", 5, "drug"),
    ]
    assert problems[0].value == "osimertinb"
    assert "closest known names: osimertinib" in problems[0].fix
    assert "trametinib" in problems[1].fix


def test_collect_mode_keeps_good_rows_and_returns_problems(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    treatments.loc[1, "drug"] = "osimertinb"
    treatments.loc[2, "patient_id"] = "P9"
    ok, problems = annotate_treatments(
        treatments, patients, errors="collect", line_numbers=[10, 11, 12, 13]
    )
    assert list(ok.index) == [0, 3]
    assert list(ok["setting"]) == ["egfr_1st2nd_gen_TKI", "melanoma_BRAF_dabrafenib_trametinib"]
    assert [(p.row, p.column) for p in problems] == [(11, "drug"), (12, "patient_id")]


def test_missing_patient_raises_input_error_not_unknown_drug(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    treatments.loc[0, "patient_id"] = "P9"
    with pytest.raises(InputDataError, match="patient not in the patients table") as info:
        annotate_treatments(treatments, patients)
    assert not isinstance(info.value, UnknownDrugError)


def test_missing_column_and_bad_errors_argument(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    with pytest.raises(InputDataError, match=r"required column is missing.*line_number"):
        annotate_treatments(treatments.drop(columns="line_number"), patients)
    with pytest.raises(ValueError, match="errors must be"):
        annotate_treatments(treatments, patients, errors="ignore")  # type: ignore[call-overload]


def test_line_number_that_is_not_a_number_is_a_row_problem(
    treatments: pd.DataFrame, patients: pd.DataFrame
) -> None:
    treatments["line_number"] = ["1", "second", "1", "2"]
    ok, problems = annotate_treatments(treatments, patients, errors="collect")
    assert list(ok["treatment_id"]) == ["T1", "T3", "T4"]
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "line_number", "second")]
    with pytest.raises(InputDataError, match="not a number") as info:
        annotate_treatments(treatments, patients)
    assert not isinstance(info.value, UnknownDrugError)


def test_repeated_regimens_report_each_row(patients: pd.DataFrame) -> None:
    treatments = pd.DataFrame(
        {"patient_id": ["P1"] * 3, "treatment_id": ["T1", "T2", "T3"],
         "drug": ["osimertinb", "osimertinib", "osimertinb"], "line_number": [1, 2, 3]}
    )  # fmt: skip
    ok, problems = annotate_treatments(treatments, patients, errors="collect")
    assert list(ok["treatment_id"]) == ["T2"]
    assert [p.row for p in problems] == [2, 4]


def test_unknown_cancer_type_gives_the_fallback_setting(treatments: pd.DataFrame) -> None:
    patients = pd.DataFrame(
        {"patient_id": ["P1", "P2", "P3"], "cancer_type": ["mesothelioma", "breast", "melanoma"]}
    )
    out = annotate_treatments(treatments, patients)
    assert list(out["setting"])[:2] == ["egfr_tki_other", "egfr_tki_other"]


# --------------------------------------------------------------------------------------
# Malformed settings / cancer types
# --------------------------------------------------------------------------------------


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir(), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_rule_with_unknown_drug_names_the_field(knowledge_copy: Path) -> None:
    _edit(
        knowledge_copy / "settings_rules.yaml",
        "any_drug: [osimertinib]",
        "any_drug: [osimertinibb]",
    )
    with pytest.raises(
        ConfigError,
        match=r"settings_rules\.yaml[\s\S]*rules\[0\]\.any_drug.*"
        r"osimertinibb",
    ):
        setting_rules(knowledge_copy)


def test_rule_with_misspelt_field_names_the_field(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "settings_rules.yaml", "max_line: 1", "max_lines: 1")
    with pytest.raises(ConfigError, match=r"rules\[0\]\.max_lines.*Extra inputs"):
        setting_rules(knowledge_copy)


def test_rule_without_a_drug_condition_is_rejected(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "settings_rules.yaml", "    any_drug: [imatinib]\n", "")
    with pytest.raises(ConfigError, match=r"rules\[11\].*any_drug or any_class"):
        setting_rules(knowledge_copy)


def test_cancer_type_alias_collision_is_rejected(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "cancer_types.yaml", "aliases: [Melanoma,", "aliases: [Melanoma, LUAD,")
    with pytest.raises(ConfigError, match=r"cancer_types\.melanoma\.aliases.*'LUAD'"):
        knowledge.cancer_types(knowledge_copy)


def test_setting_uses_the_given_folder(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "settings_rules.yaml", "id: cml_imatinib_CP", "id: cml_imatinib_any")
    assert derive_setting("CML", "imatinib", 1, directory=knowledge_copy) == "cml_imatinib_any"
    assert derive_setting("CML", "imatinib", 1) == "cml_imatinib_CP"
