"""Feature names, their source groups and their human reading.

Every feature the :class:`~oncoresist.features.builder.FeatureBuilder` makes is described by a
:class:`FeatureSpec`: the family it belongs to (``mut``, ``alt``, ``cna`` ...), the key it
reads (a gene, an alteration, a category), its *kind* (genomic, expression, program,
treatment, clinical, knowledge) and its *group* (the gene or concept a reviewer would name,
so that ``mut:TP53`` and ``alt:TP53 p.R273H`` add up to "TP53"). Names are readable and valid
XGBoost feature names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["FeatureSpec", "describe", "feature_name", "program_label", "sanitise"]

#: Characters XGBoost refuses in feature names (``[``, ``]``, ``<``) and their replacements;
#: the same mapping as the model estimators use, so a name means one thing everywhere.
XGB_FORBIDDEN = {"[": "(", "]": ")", "<": "lt"}

KINDS = ("genomic", "expression", "program", "treatment", "clinical", "knowledge")

_KIND_OF = {
    "mut": "genomic",
    "alt": "genomic",
    "cna": "genomic",
    "fusion": "genomic",
    "fusion_variant": "genomic",
    "kb": "knowledge",
    "expr": "expression",
    "program": "program",
    "setting": "treatment",
    "drug_class": "treatment",
    "target": "treatment",
    "drug": "treatment",
    "generation": "treatment",
    "line_number": "treatment",
    "is_combination": "treatment",
    "age_years": "clinical",
    "sex": "clinical",
    "cancer_type": "clinical",
}

#: Upper-case spelling of words in program names (``lineage_emt`` → "lineage EMT").
_ACRONYMS = {
    "emt": "EMT",
    "dtp": "DTP",
    "ne": "NE",
    "mapk": "MAPK",
    "er": "ER",
    "e2f": "E2F",
    "cdk46": "CDK4/6",
    "egfr": "EGFR",
    "kras": "KRAS",
    "caf": "CAF",
}

_KB_TEXT = {
    "known_resistance_count": ("known resistance alteration", "for this drug"),
    "on_target_alteration": ("known on-target resistance alteration", "for this drug"),
    "bypass_alteration": ("known bypass resistance alteration", "for this drug"),
}

_CN_TEXT = {2: "amplification", 1: "gain", 0: "copy-neutral", -1: "loss", -2: "deep deletion"}


def sanitise(text: str) -> str:
    """Return ``text`` as a valid, readable XGBoost feature name (no ``[``, ``]``, ``<``)."""
    for bad, good in XGB_FORBIDDEN.items():
        text = text.replace(bad, good)
    return re.sub(r"\s+", " ", text).strip()


def feature_name(family: str, key: str | None = None) -> str:
    """Return the feature name for a family and key: ``mut:TP53``, ``line_number``."""
    return sanitise(family if key is None else f"{family}:{key}")


def program_label(name: str) -> str:
    """Return a readable program name: ``lineage_emt`` → ``lineage EMT``."""
    words = re.split(r"[_\s]+", name.strip())
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words if w)


@dataclass(frozen=True)
class FeatureSpec:
    """What one feature column reads.

    Attributes
    ----------
    name : str
        Column name (sanitised).
    family : str
        ``mut, alt, cna, fusion, fusion_variant, kb, expr, program, setting, drug_class,
        target, drug, generation, line_number, is_combination, age_years, sex, cancer_type``.
    key : str or None
        Gene (``mut``, ``cna``, ``expr``), ``GENE p.CHANGE`` (``alt``), fusion name
        ``EML4-ALK`` (``fusion``), ``EML4-ALK v3`` (``fusion_variant``), program name,
        category value, or None for a plain number.
    genes : tuple of str
        Genes whose panel coverage decides whether a genomic feature was tested.
    """

    name: str
    family: str
    key: str | None = None
    genes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """genomic | expression | program | treatment | clinical | knowledge."""
        return _KIND_OF[self.family]

    @property
    def group(self) -> str:
        """The source a reviewer would name: a gene, a fusion, a program, a covariate."""
        family, key = self.family, self.key or ""
        if family in ("mut", "cna", "expr"):
            return key
        if family == "alt":
            return key.split(" ", 1)[0]
        if family == "fusion":
            return f"{key} fusion"
        if family == "fusion_variant":
            return f"{key.split(' ', 1)[0]} fusion"
        if family == "program":
            return f"{program_label(key)} program"
        if family == "kb":
            return "known resistance alterations"
        if family in ("drug", "drug_class", "target", "generation", "is_combination"):
            return "drug"
        return {
            "setting": "clinical setting",
            "line_number": "line of therapy",
            "age_years": "age",
            "sex": "sex",
            "cancer_type": "cancer type",
        }[family]


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def describe(spec: FeatureSpec, value: float, expression: str = "zscore") -> str:
    """Return the human reading of one feature value.

    Parameters
    ----------
    spec : FeatureSpec
    value : float
        The value in the feature matrix (NaN = missing / not tested).
    expression : {"zscore", "raw"}
        How expression features were scaled (z-scores read as SD from the training mean).

    Examples
    --------
    ``mut:TP53`` 1 → "TP53 mutated"; ``cna:MET`` 2 → "MET amplification";
    ``program:neuroendocrine`` 2.1 → "neuroendocrine program score +2.1 SD";
    ``fusion_variant:EML4-ALK v3`` 1 → "EML4-ALK variant 3"; ``line_number`` 2 → "line 2".
    """
    family, key = spec.family, spec.key or ""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    on = not missing and value >= 0.5
    if family == "mut":
        return f"{key} not tested" if missing else f"{key} {'mutated' if on else 'not mutated'}"
    if family == "alt":
        gene = key.split(" ", 1)[0]
        if missing:
            return f"{gene} not tested ({key} unknown)"
        return f"{key} {'present' if on else 'absent'}"
    if family == "cna":
        if missing:
            return f"{key} copy number not tested"
        return f"{key} {_CN_TEXT.get(round(value), f'copy-number state {value:g}')}"
    if family == "fusion":
        if missing:
            return f"{key} fusion not tested"
        return f"{key} fusion" if on else f"no {key} fusion"
    if family == "fusion_variant":
        name, _, variant = key.partition(" ")
        match = re.fullmatch(r"v(\d+\w*)", variant)
        reading = f"{name} variant {match.group(1)}" if match else f"{name} {variant}"
        if missing:
            return f"{name} fusion not tested"
        return reading if on else f"not {reading}"
    if family == "kb":
        noun, tail = _KB_TEXT.get(key, (key.replace("_", " "), ""))
        if missing:
            return f"{noun}s: not profiled"
        count = round(value)
        return f"{count} {noun}{'' if count == 1 else 's'} {tail}".strip()
    if family == "expr":
        if missing:
            return f"{key} expression missing"
        if expression == "zscore":
            return f"{key} expression {_signed(value)} SD"
        return f"{key} expression {value:.1f} log2(TPM+1)"
    if family == "program":
        label = program_label(key)
        if missing:
            return f"{label} program score missing"
        return f"{label} program score {_signed(value)} SD"
    if family in ("setting", "drug_class", "target", "drug", "sex", "cancer_type"):
        label = {"drug_class": "drug class", "cancer_type": "cancer type"}.get(family, family)
        if missing:
            return f"{label} unknown"
        return f"{label} {key}" if on else f"{label} not {key}"
    if missing:
        return {
            "generation": "drug generation unknown",
            "line_number": "line of therapy unknown",
            "is_combination": "combination unknown",
            "age_years": "age unknown",
        }[family]
    if family == "generation":
        return f"generation {value:g} drug"
    if family == "line_number":
        return f"line {value:g}"
    if family == "is_combination":
        return "combination therapy" if on else "single agent"
    if family == "age_years":
        return f"age {value:g}"
    raise ValueError(f"unknown feature family {family!r}")
