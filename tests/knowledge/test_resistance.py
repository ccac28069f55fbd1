"""Known resistance alterations: lookups, profiles, the catalogue and its sources."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError, UnknownDrugError
from oncoresist.knowledge.resistance import (
    known_resistance,
    known_resistance_for_profile,
    load_resistance_catalogue,
    resistance_catalogue,
)
from oncoresist.knowledge.resistance import known_resistance as reexported
from oncoresist.paths import knowledge_dir, project_root

DOMAIN_FILE = project_root().parent / "shared" / "domain" / "published_parameters.md"


def _one(gene: str, alteration: str, drug: str | None):
    matches = known_resistance(gene, alteration, drug)
    assert len(matches) == 1, matches
    return matches[0]


# --------------------------------------------------------------------------------------
# The examples of the issue
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gene", "alteration", "drug", "mechanism", "source"),
    [("ALK", "p.G1202R", "alectinib", "on_target", "R19 Gainor 2016 Cancer Discov"),
     ("MET", "amplification", "osimertinib", "bypass", "R4 Chmielecki 2023"),
     ("ESR1", "p.D538G", "letrozole", "on_target", "R39 Fribbens 2018"),
     ("RB1", "loss", "palbociclib", "on_target", "R32 Wander 2020"),
     ("BCR-ABL", "T315I", "imatinib", "on_target", "R60 Nicolini 2013"),
     ("EGFR", "p.T790M", "erlotinib", "on_target", "R6 Yu 2013"),
     ("EGFR", "p.C797S", "osimertinib", "on_target", "R5 Chmielecki 2023"),
     ("KRAS", "p.Y96D", "sotorasib", "on_target", "R55"),
     ("ESR1", "p.Y537S", "Femara", "on_target", "R39")],
)  # fmt: skip
def test_issue_examples(gene: str, alteration: str, drug: str, mechanism: str, source: str) -> None:
    match = _one(gene, alteration, drug)
    assert match.mechanism == mechanism
    assert source in match.source


def test_g1202r_alone_does_not_escape_lorlatinib_but_compounds_do() -> None:
    assert known_resistance("ALK", "p.G1202R", "lorlatinib") == []
    compound = _one("ALK", "p.L1196M+p.D1203N", "lorlatinib")
    assert (compound.mechanism, compound.source_ids) == ("on_target", ("R21",))


def test_the_drug_target_itself_is_not_a_resistance_alteration() -> None:
    assert known_resistance("KRAS", "p.G12C", "sotorasib") == []
    assert known_resistance("EGFR", "p.L858R", "osimertinib") == []
    assert known_resistance("BRAF", "p.V600E", "dabrafenib+trametinib") == []


def test_t790m_escapes_first_generation_not_osimertinib() -> None:
    assert known_resistance("EGFR", "p.T790M", "osimertinib") == []
    assert _one("EGFR", "T790M", "gefitinib").mechanism == "on_target"


@pytest.mark.parametrize(
    ("gene", "alteration", "drug", "mechanism"),
    [
        ("ALK", "p.I1171N", "alectinib", "on_target"),
        ("ALK", "p.I1171T", "crizotinib", "on_target"),
        ("ALK", "p.I1171S", "alectinib", "on_target"),
        ("ALK", "p.V1180L", "alectinib", "on_target"),
        ("ALK", "p.L1196M", "crizotinib", "on_target"),
        ("ALK", "p.G1269A", "crizotinib", "on_target"),
        ("ALK", "p.C1156Y", "crizotinib", "on_target"),
        ("EGFR", "p.L718Q", "osimertinib", "on_target"),
        ("EGFR", "p.G724S", "osimertinib", "on_target"),
        ("MET", "amplification", "alectinib", "bypass"),
        ("MET", "amplification", "adagrasib", "bypass"),
        ("ERBB2", "amplification", "erlotinib", "bypass"),
        ("KRAS", "p.G12D", "osimertinib", "bypass"),
        ("NRAS", "p.Q61K", "osimertinib", "bypass"),
        ("BRAF", "p.V600E", "osimertinib", "bypass"),
        ("ESR1", "p.Y537N", "anastrozole", "on_target"),
        ("ESR1", "p.E380Q", "exemestane", "on_target"),
        ("ESR1", "fusion", "letrozole", "on_target"),
        ("CCNE1", "amplification", "palbociclib", "on_target"),
        ("FGFR1", "amplification", "ribociclib", "bypass"),
        ("FGFR2", "amplification", "abemaciclib", "bypass"),
        ("PIK3CA", "p.H1047R", "abemaciclib", "bypass"),
        ("AKT1", "p.E17K", "palbociclib", "bypass"),
        ("PTEN", "loss", "ribociclib", "bypass"),
        ("NRAS", "p.Q61R", "dabrafenib", "bypass"),
        ("MAP2K1", "p.C121S", "trametinib", "bypass"),
        ("BRAF", "amplification", "dabrafenib", "on_target"),
        ("BRAF", "splice_variant", "vemurafenib", "on_target"),
        ("KRAS", "p.Y96C", "adagrasib", "on_target"),
        ("KRAS", "p.R68S", "sotorasib", "on_target"),
        ("KRAS", "p.H95D", "adagrasib", "on_target"),
        ("KRAS", "amplification", "adagrasib", "on_target"),
        ("ABL1", "p.E255K", "imatinib", "on_target"),
    ],
)
def test_catalogue_covers_the_published_mechanisms(
    gene: str, alteration: str, drug: str, mechanism: str
) -> None:
    assert _one(gene, alteration, drug).mechanism == mechanism


@pytest.mark.parametrize("written", ["p.G1202R", "G1202R", "g1202r", "p.Gly1202Arg", " p.G1202R "])
def test_protein_change_forms(written: str) -> None:
    match = _one("alk", written, "alectinib")
    assert (match.gene, match.alteration, match.observed) == ("ALK", "p.G1202R", "p.G1202R")


@pytest.mark.parametrize(
    ("gene", "written"), [("MET", "amp"), ("MET", "Amplified"), ("HER2", "amplification")]
)
def test_copy_number_words_and_gene_aliases(gene: str, written: str) -> None:
    assert _one(gene, written, "erlotinib").mechanism == "bypass"


@pytest.mark.parametrize("gene", ["BCR-ABL", "BCR-ABL1", "BCR::ABL1", "abl1"])
def test_bcr_abl_is_written_on_abl1(gene: str) -> None:
    assert _one(gene, "p.T315I", "Gleevec").gene == "ABL1"


def test_codon_entries_match_substitutions_only() -> None:
    match = _one("NRAS", "p.Q61K", "dabrafenib+trametinib")
    assert (match.alteration, match.observed) == ("p.Q61", "p.Q61K")
    assert known_resistance("NRAS", "p.Q61*", "dabrafenib+trametinib") == []
    assert known_resistance("NRAS", "p.Q61=", "dabrafenib+trametinib") == []
    assert known_resistance("NRAS", "p.Q611K", "dabrafenib+trametinib") == []


def test_truncating_mutation_counts_as_loss() -> None:
    assert _one("PTEN", "p.R130fs", "palbociclib").observed == "p.R130fs"
    assert _one("RB1", "p.R320*", "palbociclib").mechanism == "on_target"
    assert _one("RB1", "R320X", "palbociclib").observed == "p.R320*"
    assert known_resistance("RB1", "p.R320Q", "palbociclib") == []


@pytest.mark.parametrize(
    "drug", ["letrozole+palbociclib", "Ibrance + Femara", "CDK46_inhibitor", "cdk46 inhibitor"]
)
def test_drug_as_regimen_brand_or_class(drug: str) -> None:
    assert {m.mechanism for m in known_resistance("RB1", "loss", drug)} == {"on_target"}


def test_regimen_matches_on_any_component() -> None:
    assert _one("ESR1", "p.D538G", "palbociclib+letrozole").mechanism == "on_target"
    assert known_resistance("ESR1", "p.D538G", "palbociclib") == []


def test_without_a_drug_every_entry_for_the_alteration() -> None:
    matches = known_resistance("MET", "amplification")
    assert {m.source_ids[0] for m in matches} == {"R4", "R20", "R55"}


def test_unknown_drug_raises() -> None:
    with pytest.raises(UnknownDrugError, match="osimertinib"):
        known_resistance("EGFR", "p.C797S", "osimertinb")


def test_unknown_gene_or_alteration_gives_nothing() -> None:
    assert known_resistance("TP53", "p.R273H", "osimertinib") == []
    assert known_resistance("EGFR", "", "osimertinib") == []


def test_knowledge_reexports_the_lookup() -> None:
    assert reexported("ALK", "p.G1202R", "alectinib") == known_resistance(
        "ALK", "p.G1202R", "alectinib"
    )


def test_label_reads_well() -> None:
    label = _one("ALK", "G1202R", "alectinib").label
    assert label.startswith("ALK p.G1202R: on_target (R19 Gainor 2016")


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def test_profile_under_osimertinib() -> None:
    mutations = pd.DataFrame(
        {
            "gene": ["EGFR", "EGFR", "TP53"],
            "protein_change": ["p.L858R", "p.C797S", "p.R273H"],
            "variant_class": ["Missense_Mutation"] * 3,
        }
    )
    copy_number = pd.DataFrame({"gene": ["MET", "CDKN2A", "ERBB2"], "cn_state": [2.0, -2.0, 1.0]})
    fusions = pd.DataFrame({"gene_5p": ["EML4"], "gene_3p": ["ALK"]})
    found = known_resistance_for_profile(mutations, copy_number, fusions, "osimertinib")
    assert {(m.gene, m.observed, m.mechanism) for m in found} == {
        ("EGFR", "p.C797S", "on_target"),
        ("MET", "amplification", "bypass"),
        ("ALK", "fusion", "bypass"),
    }


def test_profile_compound_mutation_and_nonsense_class() -> None:
    mutations = pd.DataFrame({"gene": ["ALK", "ALK"], "protein_change": ["p.L1196M", "p.D1203N"]})
    found = known_resistance_for_profile(mutations, drug="lorlatinib")
    assert [(m.alteration, m.observed) for m in found] == [
        ("p.L1196M+p.D1203N", "p.L1196M+p.D1203N")
    ]
    rb1 = pd.DataFrame(
        {"gene": ["RB1"], "protein_change": ["p.Q702*"], "variant_class": ["Nonsense_Mutation"]}
    )
    assert [m.mechanism for m in known_resistance_for_profile(rb1, drug="palbociclib")] == [
        "on_target"
    ]


def test_profile_counts_an_entry_once_and_handles_empty_tables() -> None:
    mutations = pd.DataFrame({"gene": ["NRAS", "NRAS"], "protein_change": ["p.Q61K", "p.Q61R"]})
    assert len(known_resistance_for_profile(mutations, drug="trametinib")) == 1
    empty = pd.DataFrame({"gene": [], "protein_change": []})
    assert known_resistance_for_profile(empty, None, None, "osimertinib") == []
    deep = pd.DataFrame({"gene": ["RB1"], "cn_state": [-2]})
    assert [m.gene for m in known_resistance_for_profile(copy_number=deep, drug="ribociclib")] == [
        "RB1"
    ]


# --------------------------------------------------------------------------------------
# The catalogue and its sources
# --------------------------------------------------------------------------------------


def test_catalogue_table() -> None:
    table = resistance_catalogue()
    assert {
        "gene",
        "alteration",
        "mechanism",
        "drugs",
        "drug_classes",
        "evidence",
        "sources",
        "citation",
    } <= set(table.columns)
    assert set(table["mechanism"]) <= set(MECHANISMS)
    assert set(table["evidence"]) <= {"V", "R", "D"}
    assert (table["citation"].str.len() > 0).all()
    assert ((table["drugs"] != "") | (table["drug_classes"] != "")).all()


def test_every_source_id_exists_in_the_reference_list() -> None:
    catalogue = load_resistance_catalogue()
    for entry in catalogue.entries:
        assert entry.source_ids
        for source in entry.source_ids:
            assert source in catalogue.references, (entry.gene, entry.alteration, source)


@pytest.mark.skipif(not DOMAIN_FILE.exists(), reason="shared domain file not in this checkout")
def test_reference_list_matches_the_domain_file() -> None:
    text = DOMAIN_FILE.read_text(encoding="utf-8")
    domain = set(re.findall(r"^\* (R\d+b?): ", text, flags=re.MULTILINE))
    assert set(load_resistance_catalogue().references) == domain


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir(), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [("sources: [R6, R7]", "sources: [R6, R999]", r"alterations\[0\]\.sources.*'R999'"),
     ("mechanism: on_target", "mechanism: target", r"alterations\[0\]\.mechanism"),
     ("alteration: p.T790M", "alteration: T790M", r"alterations\[0\]\.alteration"),
     ("drugs: [erlotinib,", "drugs: [erlotinibb,", r"alterations\[0\]\.drugs.*'erlotinibb'"),
     ("evidence: V", "evidence: X", r"alterations\[0\]\.evidence"),
     ("    note: gatekeeper", "    notes: gatekeeper", r"alterations\[0\]\.notes.*Extra inputs")],
)  # fmt: skip
def test_malformed_resistance_file_names_the_field(
    knowledge_copy: Path, old: str, new: str, field: str
) -> None:
    _edit(knowledge_copy / "resistance.yaml", old, new)
    with pytest.raises(ConfigError, match=r"resistance\.yaml is invalid[\s\S]*" + field):
        load_resistance_catalogue(knowledge_copy)
