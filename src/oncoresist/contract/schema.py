"""Labels, table columns, keys, fixes and pandera schemas of the canonical tables."""

from __future__ import annotations

from typing import Literal

import pandera.pandas as pa

# --------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------

#: Resistance mechanism classes, in the fixed order every model uses.
MECHANISMS: tuple[str, ...] = ("on_target", "bypass", "epigenetic", "lineage", "microenvironment")

#: Sample timepoints relative to the treatment. Only ``baseline`` feeds features.
TIMEPOINTS: tuple[str, ...] = ("baseline", "on_treatment", "progression")
BASELINE = "baseline"

#: Discrete copy-number states (GISTIC-style): deep deletion .. amplification.
CN_STATES: tuple[int, ...] = (-2, -1, 0, 1, 2)

#: Expression scales a cohort may declare.
ExpressionScale = Literal["log2_tpm", "zscore"]
EXPRESSION_SCALES: tuple[str, ...] = ("log2_tpm", "zscore")

ASSAYS: tuple[str, ...] = ("tissue", "plasma")

#: Tables of a cohort, in the order they are read and reported.
TABLES: tuple[str, ...] = (
    "patients",
    "samples",
    "treatments",
    "mutations",
    "copy_number",
    "fusions",
    "expression",
    "gene_panels",
    "outcomes",
)
OPTIONAL_TABLES: frozenset[str] = frozenset({"gene_panels", "outcomes"})

# --------------------------------------------------------------------------------------
# Columns: (required, optional) per table
# --------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patients": (("patient_id", "cancer_type"), ("age_years", "sex")),
    "samples": (
        ("sample_id", "patient_id", "timepoint"),
        ("treatment_id", "sample_month", "assay", "panel_id"),
    ),
    "treatments": (
        ("patient_id", "treatment_id", "drug", "line_number"),
        ("drug_class", "target", "setting"),
    ),
    "mutations": (("sample_id", "gene", "protein_change", "variant_class", "vaf"), ()),
    "copy_number": (("sample_id", "gene", "cn_state"), ()),
    "fusions": (("sample_id", "gene_5p", "gene_3p"), ("variant",)),
    "expression": (("sample_id",), ()),  # plus one float column per gene
    "gene_panels": (("panel_id", "gene"), ()),
    "outcomes": (
        ("treatment_id", "time_to_resistance_months", "resistance_observed"),
        ("mechanism",),
    ),
}

#: The columns that together identify a row; duplicates are reported, never merged.
KEYS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "samples": ("sample_id",),
    "treatments": ("treatment_id",),
    "mutations": ("sample_id", "gene", "protein_change"),
    "copy_number": ("sample_id", "gene"),
    "fusions": ("sample_id", "gene_5p", "gene_3p"),
    "expression": ("sample_id",),
    "gene_panels": ("panel_id", "gene"),
    "outcomes": ("treatment_id",),
}

#: How to fix a problem in a given column; shown beside each problem.
FIXES: dict[str, str] = {
    "patient_id": "give every row a non-empty, unique patient identifier",
    "sample_id": "give every row a non-empty sample identifier that exists in the samples table",
    "treatment_id": "give every treatment a non-empty, unique identifier",
    "cancer_type": "name the cancer type, e.g. NSCLC, breast, melanoma",
    "timepoint": "use one of: " + ", ".join(TIMEPOINTS),
    "assay": "use one of: " + ", ".join(ASSAYS),
    "drug": "name the drug; combinations as drug+drug (e.g. dabrafenib+trametinib)",
    "line_number": "use the therapy line as a whole number >= 1",
    "gene": "use the HGNC gene symbol, e.g. EGFR",
    "vaf": "VAF is a fraction in [0, 1]; divide percentages by 100",
    "cn_state": "use a discrete copy-number call: -2, -1, 0, 1 or 2",
    "time_to_resistance_months": "time must be a number of months > 0",
    "resistance_observed": "use true/false (1/0): was progression seen?",
    "mechanism": "use one of: " + ", ".join(MECHANISMS) + " (or leave empty)",
    "age_years": "age in years, between 0 and 120",
    "sample_month": "months since the start of treatment (may be negative for baseline)",
    "line_number_int": "use a whole number",
}

BOOL_TRUE_TEXTS = {"true", "t", "yes", "y", "1", "1.0"}
BOOL_FALSE_TEXTS = {"false", "f", "no", "n", "0", "0.0"}


def _id(nullable: bool = False, unique: bool = False, required: bool = True) -> pa.Column:
    return pa.Column(
        str,
        checks=pa.Check.str_length(min_value=1),
        nullable=nullable,
        unique=unique,
        required=required,
    )


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "patients": pa.DataFrameSchema(
        {
            "patient_id": _id(unique=True),
            "cancer_type": _id(),
            "age_years": pa.Column(float, pa.Check.in_range(0, 120), nullable=True, required=False),
            "sex": pa.Column(str, nullable=True, required=False),
        }
    ),
    "samples": pa.DataFrameSchema(
        {
            "sample_id": _id(unique=True),
            "patient_id": _id(),
            "timepoint": pa.Column(str, pa.Check.isin(TIMEPOINTS)),
            "treatment_id": pa.Column(str, nullable=True, required=False),
            "sample_month": pa.Column(float, nullable=True, required=False),
            "assay": pa.Column(str, pa.Check.isin(ASSAYS), nullable=True, required=False),
            "panel_id": pa.Column(str, nullable=True, required=False),
        }
    ),
    "treatments": pa.DataFrameSchema(
        {
            "patient_id": _id(),
            "treatment_id": _id(unique=True),
            "drug": _id(),
            "line_number": pa.Column(float, pa.Check.ge(1)),
            "drug_class": pa.Column(str, nullable=True, required=False),
            "target": pa.Column(str, nullable=True, required=False),
            "setting": pa.Column(str, nullable=True, required=False),
        }
    ),
    "mutations": pa.DataFrameSchema(
        {
            "sample_id": _id(),
            "gene": _id(),
            "protein_change": pa.Column(str, nullable=True),
            "variant_class": pa.Column(str, nullable=True),
            "vaf": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        }
    ),
    "copy_number": pa.DataFrameSchema(
        {
            "sample_id": _id(),
            "gene": _id(),
            "cn_state": pa.Column(float, pa.Check.isin([float(s) for s in CN_STATES])),
        }
    ),
    "fusions": pa.DataFrameSchema(
        {
            "sample_id": _id(),
            "gene_5p": _id(),
            "gene_3p": _id(),
            "variant": pa.Column(str, nullable=True, required=False),
        }
    ),
    "gene_panels": pa.DataFrameSchema({"panel_id": _id(), "gene": _id()}),
    "outcomes": pa.DataFrameSchema(
        {
            "treatment_id": _id(unique=True),
            "time_to_resistance_months": pa.Column(float, pa.Check.gt(0)),
            "resistance_observed": pa.Column(bool),
            "mechanism": pa.Column(str, pa.Check.isin(MECHANISMS), nullable=True, required=False),
        }
    ),
}

NUMERIC_COLUMNS = {
    "age_years",
    "sample_month",
    "line_number",
    "vaf",
    "cn_state",
    "time_to_resistance_months",
}
INTEGER_COLUMNS = {"line_number", "cn_state"}
BOOLEAN_COLUMNS = {"resistance_observed"}
UPPER_COLUMNS = {"gene", "gene_5p", "gene_3p"}
