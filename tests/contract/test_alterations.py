"""Tests for alteration parsing: protein changes, mutation / CNA / fusion lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncoresist.contract.alterations import (
    alteration_key,
    normalise_fusion_variant,
    normalise_protein_change,
    parse_cna_list,
    parse_fusion_list,
    parse_mutation_list,
    variant_class_of,
)

ONE_TO_THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val",
}  # fmt: skip
RESIDUES = st.sampled_from(sorted(ONE_TO_THREE))
POSITIONS = st.integers(min_value=1, max_value=5000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p.L1196M", "p.L1196M"),
        ("L1196M", "p.L1196M"),
        ("p.Leu1196Met", "p.L1196M"),
        ("l1196m", "p.L1196M"),
        ("p.(L858R)", "p.L858R"),
        (" p.G1202R ", "p.G1202R"),
        ("R213X", "p.R213*"),
        ("p.Arg213Ter", "p.R213*"),
        ("p.R213*", "p.R213*"),
        ("p.L858=", "p.L858="),
        ("p.E746_A750del", "p.E746_A750del"),
        ("e746_a750DEL", "p.E746_A750del"),
        ("p.E746_A750delELREA", "p.E746_A750del"),
        ("p.L747del", "p.L747del"),
        ("A767_V769dup", "p.A767_V769dup"),
        ("p.D770_N771insSVD", "p.D770_N771insSVD"),
        ("p.Asp770_Asn771insSerValAsp", "p.D770_N771insSVD"),
        ("L747_P753delinsS", "p.L747_P753delinsS"),
        ("p.E545Kfs*12", "p.E545fs"),
        ("p.E545fs", "p.E545fs"),
        ("p.Glu545LysfsTer12", "p.E545fs"),
        ("p.X963_splice", "p.X963_splice"),
        ("963_splice", "p.X963_splice"),
        ("p.M1?", "p.M1?"),
        ("p.*1187Qext*?", "p.*1187Qext"),
    ],
)
def test_normalise_protein_change_forms(text, expected):
    assert normalise_protein_change(text) == expected


@pytest.mark.parametrize("text", [None, "", "  ", "p.?", "?", "p.(?)", "p.=", float("nan")])
def test_no_protein_change_is_none(text):
    assert normalise_protein_change(text) is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("p.XYZ", "not a protein change"),
        ("EGFR", "not a protein change"),
        ("c.2573T>G", "DNA change"),
        ("p.L858", "not a protein change"),
        ("858R", "not a protein change"),
    ],
)
def test_garbage_raises_value_error(text, match):
    with pytest.raises(ValueError, match=match):
        normalise_protein_change(text)


@settings(max_examples=150, deadline=None)
@given(ref=RESIDUES, pos=POSITIONS, alt=RESIDUES, prefix=st.sampled_from(["", "p.", "P."]),
       case=st.sampled_from(["upper", "lower"]), three=st.booleans())  # fmt: skip
def test_substitution_spellings_agree(ref, pos, alt, prefix, case, three):
    body = f"{ONE_TO_THREE[ref]}{pos}{ONE_TO_THREE[alt]}" if three else f"{ref}{pos}{alt}"
    body = body.upper() if case == "upper" else body.lower()
    assert normalise_protein_change(prefix + body) == f"p.{ref}{pos}{alt}"


@settings(max_examples=100, deadline=None)
@given(ref=RESIDUES, a=POSITIONS, span=st.integers(0, 20), ref2=RESIDUES,
       kind=st.sampled_from(["del", "dup", "fs", "insGS", "delinsK"]))  # fmt: skip
def test_normalised_form_is_a_fixed_point(ref, a, span, ref2, kind):
    body = f"{ref}{a}" if span == 0 or kind == "fs" else f"{ref}{a}_{ref2}{a + span}"
    once = normalise_protein_change(body + kind)
    assert once is not None and once.startswith("p.")
    assert normalise_protein_change(once) == once


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=25))
def test_normalise_never_fails_other_than_value_error(text):
    try:
        result = normalise_protein_change(text)
    except ValueError:
        return
    if result is not None:
        assert result.startswith("p.")
        assert normalise_protein_change(result) == result


def test_parse_mutation_list():
    items, problems = parse_mutation_list("EGFR p.L858R; tp53 R273H")
    assert items == [("EGFR", "p.L858R"), ("TP53", "p.R273H")]
    assert problems == []
    assert parse_mutation_list(None) == ([], [])
    assert parse_mutation_list("  ") == ([], [])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("EGFR L858R;;", "item 2 is empty"),
        ("EGFR p.L858R; EGFR", "names no protein change"),
        ("EGFR p.XYZ", "not a protein change"),
        ("MET amp", "copy-number or fusion call"),
        ("p.L858R", "names no gene"),
        ("EG/FR p.L858R", "not a gene symbol"),
    ],
)
def test_parse_mutation_list_reports_bad_items(text, match):
    _, problems = parse_mutation_list(text)
    assert problems, text
    assert any(match in p for p in problems), problems


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["EGFR", "KRAS", "ALK", "tp53", "Esr1"]), RESIDUES,
                          POSITIONS, RESIDUES), min_size=1, max_size=6),
       st.sampled_from(["; ", ";", " ;  "]))  # fmt: skip
def test_parse_mutation_list_round_trips(entries, sep):
    text = sep.join(f"{g} p.{r}{p}{a}" for g, r, p, a in entries)
    items, problems = parse_mutation_list(text)
    assert problems == []
    assert items == [(g.upper(), f"p.{r}{p}{a}") for g, r, p, a in entries]


@pytest.mark.parametrize(
    ("word", "state"),
    [("amp", 2), ("Amplification", 2), ("+2", 2), ("gain", 1), ("+1", 1), ("loss", -1),
     ("shallow del", -1), ("-1", -1), ("del", -2), ("deletion", -2), ("deep del", -2),
     ("homdel", -2), ("-2", -2)],
)  # fmt: skip
def test_parse_cna_words(word, state):
    assert parse_cna_list(f"met {word}") == ([("MET", state)], [])


def test_parse_cna_list_reports_unknown_call_and_empty_item():
    items, problems = parse_cna_list("MET amp; CDKN2A superloss;")
    assert items == [("MET", 2)]
    assert len(problems) == 2
    assert "unknown copy-number call 'superloss'" in problems[0]
    assert "item 3 is empty" in problems[1]


def test_parse_fusion_list():
    items, problems = parse_fusion_list("EML4-ALK v3; KIF5B-RET; NKX2-1::ALK variant 1")
    assert items == [("EML4", "ALK", "v3"), ("KIF5B", "RET", None), ("NKX2-1", "ALK", "v1")]
    assert problems == []
    items, problems = parse_fusion_list("NKX2-1-ALK")
    assert items == [] and "GENE5::GENE3" in problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v3", "v3"), ("V3a", "v3a"), ("variant 3", "v3"), ("var. 2", "v2"), ("E13;A20", "E13;A20"),
     ("", None)],
)  # fmt: skip
def test_normalise_fusion_variant(text, expected):
    assert normalise_fusion_variant(text) == expected


@pytest.mark.parametrize(
    ("change", "klass"),
    [("p.L858R", "Missense_Mutation"), ("p.R213*", "Nonsense_Mutation"),
     ("p.E746_A750del", "In_Frame_Del"), ("p.D770_N771insSVD", "In_Frame_Ins"),
     ("p.E545fs", "Frame_Shift"), ("p.X963_splice", "Splice_Site"), (None, None)],
)  # fmt: skip
def test_variant_class_of(change, klass):
    assert variant_class_of(change) == klass


def test_alteration_key():
    assert alteration_key("egfr", "p.T790M") == "EGFR p.T790M"
    assert alteration_key("MET", None) == "MET"
    with pytest.raises(ValueError, match="not a gene symbol"):
        alteration_key("", "p.T790M")
