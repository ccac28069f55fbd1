"""Known resistance alterations: which alteration of which gene escapes which drug, and why.

The catalogue lives in ``data/knowledge/resistance.yaml`` with a source (reference id from the
domain file) for every entry. It is loaded lazily, validated against the drug catalogue and
the reference list, and cached. Lookups answer "is this alteration a known way to escape this
drug?" with the mechanism class (``on_target``, ``bypass``, ...) and the source.

How an alteration is asked about:

* a protein change in any usual form (``p.G1202R``, ``G1202R``, ``p.Gly1202Arg``); a truncating
  change (``p.R320*``, ``p.E545fs``) also counts as ``loss`` of the gene; a compound mutation
  as ``p.L1196M+p.D1203N``;
* a word: ``amplification`` (``amp``), ``loss`` (``del``, ``deep deletion``), ``fusion``,
  ``splice_variant``.

A gene written another way (``HER2``, ``BCR-ABL``) is mapped by the file's ``gene_aliases``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from oncoresist.contract import MECHANISMS
from oncoresist.knowledge.catalogue import (
    Strict,
    config_problem,
    is_missing,
    knowledge_folder,
    read_model,
)
from oncoresist.knowledge.drugs import (
    Regimen,
    load_drug_catalogue,
)

RESISTANCE_FILE = "resistance.yaml"

#: Alteration words of the catalogue (besides protein changes).
ALTERATION_WORDS = ("amplification", "loss", "fusion", "splice_variant", "mutation")

# How users write those words (compared with letters only, lower case).
_WORD_FORMS = {
    "amplification": {"amp", "amplification", "amplified", "highlevelgain",
                      "highlevelamplification"},
    "loss": {"loss", "del", "deletion", "deepdel", "deepdeletion", "homdel",
             "homozygousdeletion", "lossoffunction", "lof", "truncation", "inactivation"},
    "fusion": {"fusion", "rearrangement", "translocation"},
    "splice_variant": {"splicevariant", "splice", "splicing", "spliceisoform"},
    "mutation": {"mutation", "mutant", "mutated", "mut"},
}  # fmt: skip
_WORD_OF = {form: word for word, forms in _WORD_FORMS.items() for form in forms}

_AA3 = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "TER": "*",
}  # fmt: skip
_THREE = re.compile(r"({0})(\d+)({0}|\*|=)?(FS.*)?".format("|".join(_AA3)))
# MAF / VEP variant classes that truncate the protein: loss of function of the gene.
_TRUNCATING_CLASSES = {"nonsense_mutation", "frame_shift_del", "frame_shift_ins", "frame_shift",
                       "stop_gained", "frameshift_variant", "nonsense", "frameshift"}  # fmt: skip

# Catalogue forms: p.G1202R (one change), p.Q61 (any change at a codon), compounds with '+'.
_ONE = r"p\.[A-Z]\d+[A-Z*]"
_PATTERN = re.compile(rf"{_ONE}|p\.[A-Z]\d+|{_ONE}(?:\+{_ONE})+")


class _EntrySpec(Strict):
    gene: str | tuple[str, ...]
    alteration: str | tuple[str, ...]
    drugs: tuple[str, ...] = ()
    drug_classes: tuple[str, ...] = ()
    mechanism: str
    evidence: Literal["V", "R", "D"]
    sources: tuple[str, ...] = Field(min_length=1)
    note: str = ""


class _ResistanceFile(Strict):
    references: dict[str, str] = Field(min_length=1)
    gene_aliases: dict[str, str] = Field(default_factory=dict)
    alterations: tuple[_EntrySpec, ...] = Field(min_length=1)


@dataclass(frozen=True)
class KnownResistance:
    """A catalogued resistance alteration (one gene, one alteration).

    Attributes
    ----------
    gene, alteration : str
        As catalogued (``ALK``, ``p.G1202R``; ``p.Q61`` = any change at codon 61).
    mechanism : str
        One of :data:`~oncoresist.contract.MECHANISMS`.
    drugs, drug_classes : tuple of str
        What it confers resistance to.
    evidence : str
        The domain file's tag: V verbatim, R recalled, D derived/assumed.
    source_ids : tuple of str
        Reference ids (``R19``); ``source`` gives them with short citations.
    note : str
        What the source says, briefly.
    observed : str
        Set by lookups: the alteration as asked or seen in the profile (``p.Q61K``).
    """

    gene: str
    alteration: str
    mechanism: str
    drugs: tuple[str, ...]
    drug_classes: tuple[str, ...]
    evidence: str
    source_ids: tuple[str, ...]
    source: str
    note: str = ""
    observed: str = ""

    @property
    def label(self) -> str:
        """Short text for reports: ``ALK p.G1202R: on_target (R19 Gainor 2016 ...)``."""
        return f"{self.gene} {self.observed or self.alteration}: {self.mechanism} ({self.source})"


def _protein(text: str) -> str:
    """Normalise a protein change simply: ``p.Leu1196Met`` -> ``L1196M``, ``R320X`` -> ``R320*``."""
    change = re.sub(r"\s+", "", text).upper()
    change = re.sub(r"^P\.", "", change).strip("()")
    three = _THREE.fullmatch(change)
    if three:
        ref, pos, alt, tail = three.groups()
        change = _AA3[ref] + pos + (_AA3.get(alt, alt) if alt else "") + (tail or "")
    change = re.sub(r"^([A-Z]\d+)X$", r"\1*", change)  # older notations write a stop as X
    return re.sub(r"^([A-Z*]\d+)[A-Z]?FS.*$", r"\1FS", change)


def _query(alteration: object) -> dict[str, str]:
    """Tokens an alteration is matched by, each with the text it shows as ``observed``."""
    if is_missing(alteration) or not str(alteration).strip():
        return {}
    text = str(alteration).strip()
    word = _WORD_OF.get(re.sub(r"[^a-z]", "", text.lower()))
    if word:
        return {word: word}
    tokens: dict[str, str] = {}
    for part in (p for p in re.split(r"\s*[+/]\s*", text) if p):
        change = _protein(part)
        shown = "p." + (change[:-2] + "fs" if change.endswith("FS") else change)
        tokens.setdefault(change, shown)
        if not change.endswith("="):
            tokens.setdefault("mutation", shown)
        if change.endswith(("*", "FS")):
            tokens.setdefault("loss", shown)
    return tokens


def _matched(pattern: str, tokens: Mapping[str, str]) -> str | None:
    """The observed text when ``tokens`` satisfy a catalogue ``pattern``, else None."""
    if "+" in pattern:
        parts = pattern.split("+")
        return "+".join(tokens[p] for p in parts) if all(p in tokens for p in parts) else None
    if pattern[-1].isdigit():  # a codon: any substitution there, not a stop or a synonym
        codon = re.compile(rf"{pattern}[A-Z]")
        return next(
            (
                shown
                for token, shown in tokens.items()
                if codon.fullmatch(token) and token[-1] != pattern[0]
            ),
            None,
        )
    return tokens.get(pattern)


class ResistanceCatalogue:
    """Known resistance alterations, indexed by gene.

    Build it with :func:`load_resistance_catalogue`.
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, KnownResistance]],
        references: Mapping[str, str],
        gene_aliases: Mapping[str, str],
        directory: str,
    ) -> None:
        self.references = dict(references)
        self.gene_aliases = {k.upper(): v for k, v in gene_aliases.items()}
        self.entries: list[KnownResistance] = []
        self._by_gene: dict[str, list[tuple[str, KnownResistance]]] = {}
        self._directory = directory
        for pattern, entry in entries:
            self.entries.append(entry)
            self._by_gene.setdefault(entry.gene, []).append((pattern, entry))

    def __repr__(self) -> str:
        return f"ResistanceCatalogue({len(self.entries)} alterations, {len(self._by_gene)} genes)"

    def gene(self, text: object) -> str:
        """Canonical gene symbol (upper case, ``gene_aliases`` applied)."""
        symbol = re.sub(r"\s+", "", str(text)).upper()
        return self.gene_aliases.get(symbol, symbol)

    def _drug_filter(self, drug: str | Regimen | None) -> tuple[set[str], set[str]] | None:
        if drug is None:
            return None
        catalogue = load_drug_catalogue(self._directory)
        if not isinstance(drug, Regimen):
            drug_class = catalogue.find_class(drug)
            if drug_class is not None:
                return {d.name for d in catalogue.drugs_of_class(drug_class)}, {drug_class}
            drug = catalogue.resolve_regimen(drug)
        return {c.name for c in drug.components}, set(drug.drug_classes)

    def match(
        self, gene: object, tokens: Mapping[str, str], drug: str | Regimen | None = None
    ) -> list[KnownResistance]:
        """Entries of ``gene`` matched by alteration ``tokens`` (see :func:`known_resistance`)."""
        wanted = self._drug_filter(drug)
        found = []
        for pattern, entry in self._by_gene.get(self.gene(gene), []):
            if wanted is not None and not (
                set(entry.drugs) & wanted[0] or set(entry.drug_classes) & wanted[1]
            ):
                continue
            observed = _matched(pattern, tokens)
            if observed is not None:
                found.append(replace(entry, observed=observed))
        return found

    def to_frame(self) -> pd.DataFrame:
        """One row per catalogued alteration, for reports."""
        rows = [
            {
                "gene": e.gene,
                "alteration": e.alteration,
                "mechanism": e.mechanism,
                "drugs": "; ".join(e.drugs),
                "drug_classes": "; ".join(e.drug_classes),
                "evidence": e.evidence,
                "sources": "; ".join(e.source_ids),
                "citation": e.source,
                "note": e.note,
            }
            for e in self.entries
        ]
        return pd.DataFrame(rows)


@functools.lru_cache(maxsize=8)
def _load(directory: str) -> ResistanceCatalogue:

    path = Path(directory) / RESISTANCE_FILE
    spec = read_model(path, _ResistanceFile)
    drugs = load_drug_catalogue(directory)
    entries: list[tuple[str, KnownResistance]] = []
    for i, item in enumerate(spec.alterations):
        field = f"alterations[{i}]"
        genes = (item.gene,) if isinstance(item.gene, str) else item.gene
        alterations = (item.alteration,) if isinstance(item.alteration, str) else item.alteration
        if item.mechanism not in MECHANISMS:
            raise config_problem(
                path,
                f"{field}.mechanism",
                f"{item.mechanism!r} is not one of {', '.join(MECHANISMS)}",
            )
        if not (item.drugs or item.drug_classes):
            raise config_problem(path, field, "give drugs or drug_classes (or both)")
        for name, values, known in (
            ("drugs", item.drugs, drugs.drugs),
            ("drug_classes", item.drug_classes, drugs.classes),
            ("sources", item.sources, spec.references),
        ):
            for value in values:
                if value not in known:
                    raise config_problem(path, f"{field}.{name}", f"unknown value {value!r}")
        for gene in genes:
            if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-]*", gene):
                raise config_problem(path, f"{field}.gene", f"{gene!r} is not an HGNC symbol")
        for alteration in alterations:
            if alteration not in ALTERATION_WORDS and not _PATTERN.fullmatch(alteration):
                raise config_problem(
                    path,
                    f"{field}.alteration",
                    f"{alteration!r} is neither p.X123Y, p.X123, a compound p.X1Y+p.X2Z nor "
                    f"one of {', '.join(ALTERATION_WORDS)}",
                )
        source = "; ".join(f"{s} {spec.references[s]}" for s in item.sources)
        for gene in genes:
            for alteration in alterations:
                entry = KnownResistance(
                    gene,
                    alteration,
                    item.mechanism,
                    item.drugs,
                    item.drug_classes,
                    item.evidence,
                    item.sources,
                    source,
                    item.note,
                )
                entries.append((alteration.replace("p.", ""), entry))
    return ResistanceCatalogue(entries, spec.references, spec.gene_aliases, directory)


def load_resistance_catalogue(directory: str | Path | None = None) -> ResistanceCatalogue:
    """Load (once) and return the known-resistance catalogue.

    Raises
    ------
    ConfigError
        If ``resistance.yaml`` is malformed, names an unknown drug, class, mechanism or
        reference id (the message names file and field).
    """
    return _load(knowledge_folder(directory))


def clear_cache() -> None:
    """Forget the loaded catalogue and cached lookups."""
    _load.cache_clear()
    _cached_lookup.cache_clear()


@functools.lru_cache(maxsize=65536)
def _cached_lookup(
    directory: str, gene: str, alteration: str, drug: str | Regimen | None
) -> tuple[KnownResistance, ...]:
    return tuple(_load(directory).match(gene, _query(alteration), drug))


def known_resistance(
    gene: str, alteration: str, drug: str | Regimen | None = None
) -> list[KnownResistance]:
    """Catalogued resistance alterations matching one observed alteration.

    Parameters
    ----------
    gene : str
        Gene symbol (case-insensitive; ``HER2``, ``BCR-ABL`` accepted).
    alteration : str
        A protein change in any usual form (``p.G1202R``, ``G1202R``, ``p.Gly1202Arg``;
        compound ``p.L1196M+p.D1203N``) or a word: ``amplification``/``amp``,
        ``loss``/``del``, ``fusion``, ``splice_variant``. A truncating change also counts as
        ``loss``.
    drug : str or Regimen, optional
        A regimen (``"letrozole+palbociclib"``), a drug name or brand, or a drug class
        (``"CDK46_inhibitor"``). An entry matches when it lists any component or its class.
        None: every entry for the alteration.

    Returns
    -------
    list of KnownResistance
        In catalogue order, each with ``observed`` set; empty when nothing is catalogued.

    Raises
    ------
    UnknownDrugError
        If ``drug`` is neither a known drug nor a drug class.

    Examples
    --------
    >>> [m.mechanism for m in known_resistance("ALK", "p.G1202R", "alectinib")]
    ['on_target']
    """
    return list(_cached_lookup(knowledge_folder(None), str(gene), str(alteration), drug))


def known_resistance_for_profile(
    mutations: pd.DataFrame | None = None,
    copy_number: pd.DataFrame | None = None,
    fusions: pd.DataFrame | None = None,
    drug: str | Regimen | None = None,
) -> list[KnownResistance]:
    """Catalogued resistance alterations present in one sample's profile.

    Parameters
    ----------
    mutations : DataFrame, optional
        Canonical ``mutations`` rows (``gene``, ``protein_change``, optional
        ``variant_class``: nonsense and frameshift also count as ``loss``). Compound
        catalogue entries match when all their parts are present.
    copy_number : DataFrame, optional
        Canonical ``copy_number`` rows: ``cn_state`` 2 is ``amplification``, -2 ``loss``.
    fusions : DataFrame, optional
        Canonical ``fusions`` rows: each partner (``gene_5p``, ``gene_3p``) has a ``fusion``.
    drug : str or Regimen, optional
        As in :func:`known_resistance`.

    Returns
    -------
    list of KnownResistance
        Each catalogued entry at most once, with the observed alteration.
    """
    catalogue = load_resistance_catalogue()
    events: dict[str, dict[str, str]] = {}

    def add(gene: object, tokens: Mapping[str, str]) -> None:
        if not is_missing(gene):
            bucket = events.setdefault(catalogue.gene(gene), {})
            for token, shown in tokens.items():
                bucket.setdefault(token, shown)

    if mutations is not None and len(mutations):
        classes = (
            mutations["variant_class"] if "variant_class" in mutations else [None] * len(mutations)
        )
        for gene, change, variant_class in zip(
            mutations["gene"], mutations["protein_change"], classes, strict=True
        ):
            tokens = _query(change)
            if tokens and str(variant_class).strip().lower() in _TRUNCATING_CLASSES:
                tokens.setdefault("loss", next(iter(tokens.values())))
            add(gene, tokens)
    if copy_number is not None and len(copy_number):
        for gene, state in zip(copy_number["gene"], copy_number["cn_state"], strict=True):
            if not is_missing(state) and abs(float(state)) == 2:
                word = "amplification" if float(state) > 0 else "loss"
                add(gene, {word: word})
    if fusions is not None and len(fusions):
        for five, three in zip(fusions["gene_5p"], fusions["gene_3p"], strict=True):
            add(five, {"fusion": "fusion"})
            add(three, {"fusion": "fusion"})
    found: list[KnownResistance] = []
    for gene, tokens in events.items():
        for entry in catalogue.match(gene, tokens, drug):
            if all(replace(entry, observed="") != replace(f, observed="") for f in found):
                found.append(entry)
    return found


def resistance_catalogue() -> pd.DataFrame:
    """The catalogue as a table (gene, alteration, mechanism, drugs, sources, citation ...)."""
    return load_resistance_catalogue().to_frame()
