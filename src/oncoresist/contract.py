"""The data contract: canonical tables, their schemas, and the labels every module shares.

This is the one place that names columns, dtypes and label sets. Readers (``io``) map every
input form into these tables; everything downstream trusts them.

Validation is lazy: every problem in a table is collected, then one
:class:`~oncoresist.exceptions.InputDataError` lists them all with file, row as the user sees
it, column, value and a fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from oncoresist.exceptions import InputDataError, Problem

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

_BOOL_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_BOOL_FALSE = {"false", "f", "no", "n", "0", "0.0"}


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

_NUMERIC = {
    "age_years",
    "sample_month",
    "line_number",
    "vaf",
    "cn_state",
    "time_to_resistance_months",
}
_INTEGER = {"line_number", "cn_state"}
_BOOLEAN = {"resistance_observed"}
_UPPER = {"gene", "gene_5p", "gene_3p"}


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _shorten(value: object, width: int = 60) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<empty>"
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _line_lookup(frame: pd.DataFrame, line_numbers: Sequence[int] | None) -> dict[object, int]:
    if line_numbers is None:
        # A CSV with a header: the first data row is line 2.
        return {idx: pos + 2 for pos, idx in enumerate(frame.index)}
    if len(line_numbers) != len(frame):
        raise ValueError("line_numbers must have one entry per row")
    return dict(zip(frame.index, line_numbers, strict=True))


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _blank_mask(block: pd.DataFrame) -> np.ndarray:
    """True where a cell is missing or only whitespace (vectorised over columns)."""
    text = block.astype("string")
    blank = text.isna().to_numpy()
    stripped = text.apply(lambda column: column.str.strip().eq(""))
    return blank | stripped.fillna(True).to_numpy(dtype=bool)


def _coerce_column(
    frame: pd.DataFrame, column: str, source: str, lines: dict[object, int]
) -> list[Problem]:
    """Coerce one column to its canonical dtype in place; report values that do not fit."""
    problems: list[Problem] = []
    raw = frame[column]
    if column in _BOOLEAN:
        text = raw.astype("string").str.strip().str.lower()
        ok = text.isin(_BOOL_TRUE | _BOOL_FALSE)
        for idx in raw.index[~ok.fillna(False).astype(bool)]:
            problems.append(
                Problem(
                    source,
                    lines[idx],
                    column,
                    _shorten(raw[idx]),
                    "not a boolean",
                    FIXES.get(column, ""),
                )
            )
        frame[column] = text.isin(_BOOL_TRUE).fillna(False).astype(bool)
        return problems
    if column in _NUMERIC:
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = numbers.isna() & ~raw.map(_is_missing) & ~raw.astype("string").str.strip().eq("")
        for idx in raw.index[bad.fillna(False).astype(bool)]:
            problems.append(
                Problem(
                    source,
                    lines[idx],
                    column,
                    _shorten(raw[idx]),
                    "not a number",
                    FIXES.get(column, ""),
                )
            )
        infinite = np.isinf(numbers.astype(float))
        for idx in raw.index[infinite]:
            problems.append(
                Problem(
                    source,
                    lines[idx],
                    column,
                    _shorten(raw[idx]),
                    "infinite value",
                    FIXES.get(column, ""),
                )
            )
        numbers = numbers.astype(float).where(~infinite)
        if column in _INTEGER:
            fractional = numbers.notna() & (numbers != numbers.round())
            for idx in raw.index[fractional]:
                problems.append(
                    Problem(
                        source,
                        lines[idx],
                        column,
                        _shorten(raw[idx]),
                        "not a whole number",
                        FIXES.get(column, ""),
                    )
                )
        frame[column] = numbers
        return problems
    # Identifiers and labels are strings; blanks are missing.
    text = raw.map(lambda v: None if _is_missing(v) else str(v).strip())
    text = text.map(lambda v: None if v == "" else v)
    if column in _UPPER:
        text = text.map(lambda v: v if v is None else v.upper())
    frame[column] = text.astype(object)
    return problems


def validate_table(
    frame: pd.DataFrame,
    table: str,
    source: str | None = None,
    line_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate one canonical table and return it with canonical dtypes.

    Parameters
    ----------
    frame : DataFrame
        The table as read. Columns beyond the contract are kept untouched.
    table : str
        One of :data:`TABLES`.
    source : str, optional
        File name shown in problems (defaults to the table name).
    line_numbers : sequence of int, optional
        For each row, its line number in the source file as an editor shows it. Defaults to
        ``row position + 2`` (a CSV with one header line).

    Returns
    -------
    DataFrame
        A copy with coerced dtypes: identifiers as ``object`` strings, numbers as ``float64``,
        flags as ``bool``, gene symbols upper-cased. The index is reset.

    Raises
    ------
    InputDataError
        Listing every problem found.
    """
    if table == "expression":
        return validate_expression(frame, source=source, line_numbers=line_numbers)
    if table not in SCHEMAS:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    source = source or table
    required, optional = COLUMNS[table]
    problems: list[Problem] = []
    if frame.empty and len(frame.columns) == 0:
        raise InputDataError(
            f"{source} is empty",
            [
                Problem(
                    source,
                    None,
                    None,
                    "",
                    "the file has no header and no rows",
                    f"write a header with the columns {', '.join(required)}",
                )
            ],
        )
    missing = [c for c in required if c not in frame.columns]
    for column in missing:
        problems.append(
            Problem(
                source,
                1,
                column,
                "",
                "required column is missing",
                f"add a column named '{column}' (required: {', '.join(required)})",
            )
        )
    if problems:
        raise InputDataError(f"{source} does not match the '{table}' table contract", problems)

    work = frame.copy()
    lines = _line_lookup(work, line_numbers)
    for column in (*required, *optional):
        if column in work.columns:
            problems += _coerce_column(work, column, source, lines)

    schema = SCHEMAS[table]
    try:
        schema.validate(work, lazy=True)
    except SchemaErrors as err:
        problems += _problems_from_pandera(err.failure_cases, source, lines, work)
    problems += _duplicate_key_problems(work, table, source, lines)
    problems = _dedupe(problems)
    if problems:
        raise InputDataError(f"{source} breaks the '{table}' table contract", problems)
    return work.reset_index(drop=True)


def _problems_from_pandera(
    failures: pd.DataFrame, source: str, lines: dict[object, int], frame: pd.DataFrame
) -> list[Problem]:
    problems = []
    for record in failures.to_dict("records"):
        column = record.get("column")
        check = str(record.get("check"))
        index = record.get("index")
        if check.startswith("dtype(") or check.startswith("coerce_dtype("):
            continue  # already reported by _coerce_column with a clearer reason
        if check == "field_uniqueness":
            continue  # reported by _duplicate_key_problems with every row involved
        if check == "not_nullable":
            reason = "empty value in a required column"
        elif check.startswith("isin"):
            reason = "value not allowed"
        elif check.startswith("in_range") or check.startswith("greater_than"):
            reason = f"value out of range ({check})"
        elif check.startswith("str_length"):
            reason = "empty value in a required column"
        else:
            reason = f"failed check {check}"
        row = lines.get(index) if index is not None and not _is_missing(index) else None
        problems.append(
            Problem(
                source,
                row,
                column,
                _shorten(record.get("failure_case")),
                reason,
                FIXES.get(str(column), ""),
            )
        )
    return problems


def _duplicate_key_problems(
    frame: pd.DataFrame, table: str, source: str, lines: dict[object, int]
) -> list[Problem]:
    keys = [k for k in KEYS[table] if k in frame.columns]
    if not keys:
        return []
    dup = frame.duplicated(subset=keys, keep=False) & frame[keys].notna().all(axis=1)
    problems = []
    for idx in frame.index[dup]:
        value = " / ".join(_shorten(frame.at[idx, k]) for k in keys)
        problems.append(
            Problem(
                source,
                lines[idx],
                ",".join(keys),
                value,
                "duplicate row key",
                "each key must appear once; remove or rename the repeated rows "
                "(oncoresist never merges them silently)",
            )
        )
    return problems


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique


# --------------------------------------------------------------------------------------
# Expression: wide (sample_id + one column per gene) on ONE declared scale
# --------------------------------------------------------------------------------------

#: log2(TPM + 1) cannot exceed log2(1e6 + 1) ~ 19.93; values well above mean raw counts/TPM.
LOG2_TPM_MAX = 20.0


def validate_expression(
    frame: pd.DataFrame,
    source: str | None = None,
    line_numbers: Sequence[int] | None = None,
    scale: ExpressionScale = "log2_tpm",
) -> pd.DataFrame:
    """Validate a wide expression table (``sample_id`` + one numeric column per gene).

    Gene columns are upper-cased; text or infinite cells are problems; NaN is allowed
    (missing expression). The values are checked against the declared ``scale``.
    """
    source = source or "expression"
    if "sample_id" not in frame.columns:
        raise InputDataError(
            f"{source} does not match the 'expression' table contract",
            [
                Problem(
                    source,
                    1,
                    "sample_id",
                    "",
                    "required column is missing",
                    "the first column must be sample_id, then one column per gene",
                )
            ],
        )
    work = frame.copy()
    lines = _line_lookup(work, line_numbers)
    problems = _coerce_column(work, "sample_id", source, lines)
    genes = [c for c in work.columns if c != "sample_id"]
    upper = [str(g).strip().upper() for g in genes]
    repeated = sorted({g for g in upper if upper.count(g) > 1})
    if repeated:
        problems.append(
            Problem(
                source,
                1,
                ", ".join(repeated[:10]),
                "",
                "gene columns repeated",
                "give each gene one column (readers average duplicated genes)",
            )
        )
    work.columns = ["sample_id", *upper]
    if upper and not repeated:
        block = work[upper]
        if all(pd.api.types.is_numeric_dtype(dtype) for dtype in block.dtypes):
            numbers = block.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            text_cells = np.zeros(numbers.shape, dtype=bool)
        else:
            # Whole-column conversions (C speed): a cell is bad when it is neither empty nor
            # a number. Only the offending cells are visited in Python.
            numbers = block.apply(pd.to_numeric, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            empty = _blank_mask(block)
            text_cells = np.isnan(numbers) & ~empty
        infinite = np.isinf(numbers)
        raw_values = block.to_numpy(dtype=object)
        for (i, j), reason, fix in [
            *[(cell, "expression value is not a number",
               "use numbers only; leave missing values empty")
              for cell in zip(*np.nonzero(text_cells), strict=True)],
            *[(cell, "infinite value", "use finite numbers; leave missing values empty")
              for cell in zip(*np.nonzero(infinite), strict=True)],
        ]:  # fmt: skip
            problems.append(
                Problem(source, lines[work.index[i]], upper[j], _shorten(raw_values[i, j]),
                        reason, fix)
            )  # fmt: skip
        numbers = np.where(infinite, np.nan, numbers)
        work = pd.concat(
            [work[["sample_id"]], pd.DataFrame(numbers, columns=upper, index=work.index)], axis=1
        )
    empty_ids = work["sample_id"].isna()
    for idx in work.index[empty_ids]:
        problems.append(
            Problem(
                source, lines[idx], "sample_id", "<empty>", "empty sample id", FIXES["sample_id"]
            )
        )
    problems += _duplicate_key_problems(work, "expression", source, lines)
    if not problems and genes:
        problems += expression_scale_problems(work, scale, source, list(lines.values()))
    if problems:
        raise InputDataError(f"{source} breaks the 'expression' table contract", problems)
    return work.reset_index(drop=True)


def expression_scale_problems(
    frame: pd.DataFrame,
    scale: ExpressionScale,
    source: str = "expression",
    line_numbers: Sequence[int] | None = None,
) -> list[Problem]:
    """Return problems if the values do not look like the declared ``scale``.

    ``log2_tpm`` values lie in [0, 20]; negative values mean z-scores or log ratios, values
    above 20 mean raw counts or unlogged TPM. ``zscore`` values are centred near zero per gene;
    a table with no negative value is not z-scored. Each problem names the row (line in the
    file) and gene column of the most extreme offending value.
    """
    genes = [c for c in frame.columns if c != "sample_id"]
    values = frame[genes].to_numpy(dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return []
    lines = _line_lookup(frame, line_numbers)
    low_at = np.unravel_index(np.nanargmin(np.where(finite, values, np.inf)), values.shape)
    high_at = np.unravel_index(np.nanargmax(np.where(finite, values, -np.inf)), values.shape)
    low, high = float(values[low_at]), float(values[high_at])

    def problem(at: tuple[int, int], value: str, reason: str, fix: str) -> Problem:
        return Problem(source, lines[frame.index[at[0]]], str(genes[at[1]]), value, reason, fix)

    if scale == "log2_tpm":
        if high > LOG2_TPM_MAX and low < -0.5:
            return [
                problem(
                    high_at,
                    f"{high:.3g} (and {low:.3g} elsewhere)",
                    f"expression mixes scales (negative values and values above {LOG2_TPM_MAX:g})",
                    "put every gene on log2(TPM+1); do not mix z-scores and counts",
                ),
            ]
        if high > LOG2_TPM_MAX:
            return [
                problem(
                    high_at,
                    f"{high:.3g}",
                    "values above 20 look like raw counts or unlogged TPM, not log2(TPM+1)",
                    "transform with log2(TPM + 1), or declare the real scale in "
                    "dataset.yaml (expression_scale)",
                ),
            ]
        if low < -0.5:
            return [
                problem(
                    low_at,
                    f"{low:.3g}",
                    "negative values look like z-scores, not log2(TPM+1)",
                    "declare expression_scale: zscore in dataset.yaml, or supply "
                    "log2(TPM+1) values",
                ),
            ]
        return []
    if scale == "zscore":
        if low >= 0:
            return [
                problem(
                    low_at,
                    f"{low:.3g}",
                    "declared z-scores but no value is negative",
                    "declare expression_scale: log2_tpm, or supply z-scores",
                ),
            ]
        if high > 50:
            return [
                problem(
                    high_at,
                    f"{high:.3g}",
                    "declared z-scores but values above 50 look like counts",
                    "supply z-scores per gene",
                ),
            ]
        return []
    raise ValueError(f"unknown expression scale {scale!r}; expected one of {EXPRESSION_SCALES}")


# --------------------------------------------------------------------------------------
# Cohort
# --------------------------------------------------------------------------------------


def empty_table(table: str) -> pd.DataFrame:
    """Return an empty canonical table with its required and optional columns."""
    required, optional = COLUMNS[table]
    columns = required if table == "expression" else (*required, *optional)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class Cohort:
    """A set of canonical tables describing patients, their treatments and tumour profiles.

    ``outcomes`` exists only for training cohorts; ``gene_panels`` only when samples were
    sequenced on targeted panels (a gene off a sample's panel is *missing*, not wild-type).
    """

    patients: pd.DataFrame
    samples: pd.DataFrame
    treatments: pd.DataFrame
    mutations: pd.DataFrame = field(default_factory=lambda: empty_table("mutations"))
    copy_number: pd.DataFrame = field(default_factory=lambda: empty_table("copy_number"))
    fusions: pd.DataFrame = field(default_factory=lambda: empty_table("fusions"))
    expression: pd.DataFrame = field(default_factory=lambda: empty_table("expression"))
    gene_panels: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    expression_scale: ExpressionScale = "log2_tpm"
    name: str = "cohort"
    source: str = ""
    #: Notes from the reader (e.g. which expression profile was used, rows skipped by design).
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables present, by name, in :data:`TABLES` order."""
        present = {}
        for f in fields(self):
            if f.name in TABLES:
                value = getattr(self, f.name)
                if value is not None:
                    present[f.name] = value
        return present

    def with_tables(self, **tables: pd.DataFrame | None) -> Cohort:
        """Return a copy with some tables replaced."""
        return replace(self, **tables)

    @property
    def genes_with_expression(self) -> list[str]:
        """Gene columns of the expression table."""
        return [c for c in self.expression.columns if c != "sample_id"]

    def __repr__(self) -> str:
        n_out = 0 if self.outcomes is None else len(self.outcomes)
        return (
            f"<Cohort {self.name!r}: {len(self.patients)} patients, {len(self.samples)} "
            f"samples, {len(self.treatments)} treatments, {len(self.mutations)} mutations, "
            f"{len(self.genes_with_expression)} expressed genes, {n_out} outcomes>"
        )


def validate_cohort(cohort: Cohort, sources: Mapping[str, str] | None = None) -> Cohort:
    """Validate every table and the links between them.

    Returns a new cohort with canonical dtypes. Raises one :class:`InputDataError` listing
    the problems of every table (each table's problems, then broken links).
    """
    sources = dict(sources or {})
    problems: list[Problem] = []
    validated: dict[str, pd.DataFrame | None] = {}
    for name, frame in cohort.tables().items():
        try:
            if name == "expression":
                validated[name] = validate_expression(
                    frame, source=sources.get(name), scale=cohort.expression_scale
                )
            else:
                validated[name] = validate_table(frame, name, source=sources.get(name))
        except InputDataError as err:
            problems += err.problems
    if problems:
        raise InputDataError(f"cohort '{cohort.name}' breaks the data contract", problems)
    result = cohort.with_tables(**validated)
    problems += _link_problems(result, sources)
    if problems:
        raise InputDataError(f"cohort '{cohort.name}' has broken links between tables", problems)
    return result


def _link_problems(cohort: Cohort, sources: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []

    def check(table: str, column: str, frame: pd.DataFrame, known: set[str], parent: str):
        if frame is None or column not in frame.columns:
            return
        values = frame[column]
        bad = values.notna() & ~values.isin(known)
        for pos in np.flatnonzero(bad.to_numpy()):
            problems.append(
                Problem(
                    sources.get(table, table),
                    int(pos) + 2,
                    column,
                    _shorten(values.iloc[pos]),
                    f"not found in the {parent} table",
                    f"add it to {parent} or correct the identifier",
                )
            )

    patients = set(cohort.patients["patient_id"])
    samples = set(cohort.samples["sample_id"])
    treatments = set(cohort.treatments["treatment_id"])
    check("samples", "patient_id", cohort.samples, patients, "patients")
    check("treatments", "patient_id", cohort.treatments, patients, "patients")
    check("samples", "treatment_id", cohort.samples, treatments, "treatments")
    for table in ("mutations", "copy_number", "fusions", "expression"):
        check(table, "sample_id", getattr(cohort, table), samples, "samples")
    if cohort.outcomes is not None:
        check("outcomes", "treatment_id", cohort.outcomes, treatments, "treatments")
    if cohort.gene_panels is not None and "panel_id" in cohort.samples.columns:
        check(
            "samples",
            "panel_id",
            cohort.samples,
            set(cohort.gene_panels["panel_id"]),
            "gene_panels",
        )
    return problems


def baseline_samples(cohort: Cohort) -> pd.DataFrame:
    """Map each treatment to the samples its features may use.

    The rule of the contract: features come **only** from ``baseline`` samples. A baseline
    sample that names a ``treatment_id`` belongs to that treatment; one that names none
    belongs to every treatment of its patient. Progression and on-treatment samples carry
    the answer (or post-start information) and never appear here.

    Returns
    -------
    DataFrame
        Columns ``treatment_id``, ``sample_id`` (one row per pair), in treatment order.
    """
    samples = cohort.samples
    base = samples[samples["timepoint"] == BASELINE]
    treatments = cohort.treatments[["treatment_id", "patient_id"]]
    if "treatment_id" in base.columns:
        linked = base[base["treatment_id"].notna()][["treatment_id", "sample_id"]]
        unlinked = base[base["treatment_id"].isna()]
    else:
        linked = pd.DataFrame({"treatment_id": [], "sample_id": []}, dtype=object)
        unlinked = base
    via_patient = treatments.merge(unlinked[["patient_id", "sample_id"]], on="patient_id")
    pairs = pd.concat([linked, via_patient[["treatment_id", "sample_id"]]], ignore_index=True)
    pairs = pairs[pairs["treatment_id"].isin(set(treatments["treatment_id"]))]
    order = {t: i for i, t in enumerate(treatments["treatment_id"])}
    pairs = pairs.drop_duplicates().assign(_order=pairs["treatment_id"].map(order))
    return pairs.sort_values(["_order", "sample_id"]).drop(columns="_order").reset_index(drop=True)
