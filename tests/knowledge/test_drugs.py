"""Drug catalogue: names, brands, code names, regimens, unknown names, malformed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncoresist.exceptions import ConfigError, InputDataError, UnknownDrugError
from oncoresist.knowledge.drugs import (
    known_drug_names,
    load_drug_catalogue,
    resolve_drug,
    resolve_regimen,
)
from oncoresist.paths import knowledge_dir

#: Every drug named in shared/domain/published_parameters.md, with its class.
DOMAIN_DRUGS = {
    "osimertinib": "EGFR_TKI", "erlotinib": "EGFR_TKI", "gefitinib": "EGFR_TKI",
    "afatinib": "EGFR_TKI", "alectinib": "ALK_TKI", "lorlatinib": "ALK_TKI",
    "crizotinib": "ALK_TKI", "brigatinib": "ALK_TKI", "palbociclib": "CDK46_inhibitor",
    "ribociclib": "CDK46_inhibitor", "abemaciclib": "CDK46_inhibitor",
    "letrozole": "aromatase_inhibitor", "anastrozole": "aromatase_inhibitor",
    "fulvestrant": "SERD", "dabrafenib": "BRAF_inhibitor", "trametinib": "MEK_inhibitor",
    "sotorasib": "KRAS_G12C_inhibitor", "adagrasib": "KRAS_G12C_inhibitor",
    "trastuzumab": "HER2_antibody", "pertuzumab": "HER2_antibody", "imatinib": "BCR_ABL_TKI",
}  # fmt: skip

BRANDS = [
    ("Tagrisso", "osimertinib"), ("Tarceva", "erlotinib"), ("Iressa", "gefitinib"),
    ("Gilotrif", "afatinib"), ("Alecensa", "alectinib"), ("Lorbrena", "lorlatinib"),
    ("Xalkori", "crizotinib"), ("Alunbrig", "brigatinib"), ("Ibrance", "palbociclib"),
    ("Kisqali", "ribociclib"), ("Verzenio", "abemaciclib"), ("Femara", "letrozole"),
    ("Arimidex", "anastrozole"), ("Faslodex", "fulvestrant"), ("Tafinlar", "dabrafenib"),
    ("Mekinist", "trametinib"), ("Lumakras", "sotorasib"), ("Lumykras", "sotorasib"),
    ("Krazati", "adagrasib"), ("Herceptin", "trastuzumab"), ("Perjeta", "pertuzumab"),
    ("Gleevec", "imatinib"), ("Glivec", "imatinib"),
]  # fmt: skip

CODES = [
    ("AZD9291", "osimertinib"), ("AMG 510", "sotorasib"), ("amg-510", "sotorasib"),
    ("AMG510", "sotorasib"), ("MRTX849", "adagrasib"), ("PF-06463922", "lorlatinib"),
    ("pf06463922", "lorlatinib"), ("STI571", "imatinib"), ("PD-0332991", "palbociclib"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "drug_class"), sorted(DOMAIN_DRUGS.items()))
def test_every_domain_drug_resolves_to_itself_with_its_class(name: str, drug_class: str) -> None:
    info = resolve_drug(name)
    assert info.name == name
    assert info.drug_class == drug_class
    assert info.targets


@pytest.mark.parametrize(("brand", "name"), BRANDS + CODES)
def test_brands_and_code_names_resolve(brand: str, name: str) -> None:
    assert resolve_drug(brand).name == name


@pytest.mark.parametrize(
    ("written", "name"),
    [(" OSIMERTINIB ", "osimertinib"), ("Imatinib Mesylate", "imatinib"),
     ("erlotinib hydrochloride", "erlotinib"), ("osimertinib (Tagrisso)", "osimertinib"),
     ("Tagrisso®", "osimertinib"), ("ICI 182,780", "fulvestrant")],
)  # fmt: skip
def test_names_match_ignoring_case_space_salt_and_brand_in_parentheses(
    written: str, name: str
) -> None:
    assert resolve_drug(written).name == name


@pytest.mark.parametrize(
    ("name", "generation"),
    [("erlotinib", 1), ("gefitinib", 1), ("afatinib", 2), ("osimertinib", 3), ("crizotinib", 1),
     ("alectinib", 2), ("brigatinib", 2), ("lorlatinib", 3), ("imatinib", 1),
     ("palbociclib", None), ("dabrafenib", None)],
)  # fmt: skip
def test_generations(name: str, generation: int | None) -> None:
    assert resolve_drug(name).generation == generation


def test_unknown_drug_lists_the_closest_known_names() -> None:
    with pytest.raises(
        UnknownDrugError,
        match=r"unknown drug 'osimertinb'.*closest known names: "
        r"osimertinib",
    ) as info:
        resolve_drug("osimertinb")
    assert isinstance(info.value, InputDataError)
    assert info.value.problems[0].value == "osimertinb"


def test_unknown_brand_suggests_aliases_with_their_drug() -> None:
    with pytest.raises(UnknownDrugError, match=r"Tagrisso \(osimertinib\)"):
        resolve_drug("Tagriso")


def test_slash_combination_suggests_the_plus_form() -> None:
    with pytest.raises(
        UnknownDrugError,
        match=r"write combinations with '\+': "
        r"dabrafenib\+trametinib",
    ):
        resolve_regimen("Tafinlar / Mekinist")


def test_regimen_uses_canonical_names_in_input_order() -> None:
    regimen = resolve_regimen("Tafinlar + Mekinist")
    assert regimen.name == "dabrafenib+trametinib"
    assert regimen.is_combination
    assert regimen.drug_classes == ("BRAF_inhibitor", "MEK_inhibitor")
    assert regimen.target == "BRAF+MAP2K1/MAP2K2"
    assert resolve_regimen("palbociclib+Femara").name == "palbociclib+letrozole"


@pytest.mark.parametrize(
    "text", ["letrozole+palbociclib", "palbociclib+letrozole", "Femara + Ibrance"]
)
def test_primary_component_is_the_targeted_drug_whatever_the_order(text: str) -> None:
    regimen = resolve_regimen(text)
    assert regimen.primary.name == "palbociclib"
    assert regimen.drug_class == "CDK46_inhibitor"


def test_single_drug_regimen() -> None:
    regimen = resolve_regimen("tagrisso")
    assert (regimen.name, regimen.is_combination, regimen.generation) == ("osimertinib", False, 3)


def test_each_unknown_component_is_reported() -> None:
    with pytest.raises(UnknownDrugError) as info:
        resolve_regimen("dabrafenb+trametinb")
    assert [p.reason for p in info.value.problems] == [
        "unknown drug 'dabrafenb'",
        "unknown drug 'trametinb'",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("osimertinib+Tagrisso", "named twice"),
        ("dabrafenib++trametinib", "empty component"),
        ("", "no drug given"),
    ],
)
def test_malformed_regimens_are_input_errors_not_unknown_drugs(text: str, reason: str) -> None:
    with pytest.raises(InputDataError, match=reason) as info:
        resolve_regimen(text)
    assert not isinstance(info.value, UnknownDrugError)


def test_known_drug_names() -> None:
    names = known_drug_names()
    assert set(DOMAIN_DRUGS) <= set(names)
    assert names == sorted(names)
    assert {"Tagrisso", "AMG 510", "Glivec"} <= set(known_drug_names(include_aliases=True))


def test_partners_are_catalogue_drugs() -> None:
    catalogue = load_drug_catalogue()
    assert resolve_drug("dabrafenib").partners == ("trametinib",)
    for info in catalogue.drugs.values():
        assert all(p in catalogue.drugs for p in info.partners)


@given(st.text(max_size=30))
@settings(max_examples=60, deadline=None)
def test_any_text_resolves_or_raises_a_typed_error(text: str) -> None:
    try:
        resolve_regimen(text)
    except InputDataError as err:
        assert err.problems


# --------------------------------------------------------------------------------------
# Malformed drugs.yaml
# --------------------------------------------------------------------------------------


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A throwaway copy of data/knowledge to break."""
    folder = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir(), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_misspelt_field_names_file_and_field(knowledge_copy: Path) -> None:
    _edit(
        knowledge_copy / "drugs.yaml",
        "    class: EGFR_TKI\n    targets: [EGFR]\n    generation: 3",
        "    clas: EGFR_TKI\n    targets: [EGFR]\n    generation: 3",
    )
    with pytest.raises(ConfigError, match=r"drugs\.yaml is invalid[\s\S]*drugs\.osimertinib\.clas"):
        load_drug_catalogue(knowledge_copy)


def test_unknown_class_is_a_config_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "drugs.yaml", "class: ALK_TKI", "class: ALK_inhibitor")
    with pytest.raises(ConfigError, match=r"drugs\.crizotinib\.class.*ALK_inhibitor"):
        load_drug_catalogue(knowledge_copy)


def test_wrong_type_is_a_config_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "drugs.yaml", "generation: 3", "generation: third")
    with pytest.raises(ConfigError, match=r"drugs\.osimertinib\.generation"):
        load_drug_catalogue(knowledge_copy)


def test_a_name_owned_by_two_drugs_is_a_config_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "drugs.yaml", "brands: [Iressa]", "brands: [Iressa, Tagrisso]")
    with pytest.raises(ConfigError, match=r"'Tagrisso' already belongs to 'osimertinib'"):
        load_drug_catalogue(knowledge_copy)


def test_unknown_partner_is_a_config_error(knowledge_copy: Path) -> None:
    _edit(knowledge_copy / "drugs.yaml", "partners: [trametinib]", "partners: [trametinibb]")
    with pytest.raises(ConfigError, match=r"drugs\.dabrafenib\.partners"):
        load_drug_catalogue(knowledge_copy)


def test_invalid_yaml_and_missing_file(knowledge_copy: Path) -> None:
    (knowledge_copy / "drugs.yaml").write_text("drugs: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"drugs\.yaml: not valid YAML"):
        load_drug_catalogue(knowledge_copy)
    (knowledge_copy / "drugs.yaml").unlink()
    with pytest.raises(ConfigError, match=r"drugs\.yaml: knowledge file not found"):
        load_drug_catalogue(knowledge_copy / ".." / "knowledge")
