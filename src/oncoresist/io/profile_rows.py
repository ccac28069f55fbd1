"""One profile-sheet row at a time: parse, check and collect it into canonical tables.

:func:`~oncoresist.io.profiles.profiles_to_cohort` reads the sheet's header, then hands
the ``expr_`` block to :func:`expression_cells` (all rows at once) and every row to
:func:`add_row`, which either adds it to an :class:`Accumulator` or returns the row's
problems (with their fixes) so that only that row is rejected.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.contract import LOG2_TPM_MAX, Cohort, empty_table, validate_cohort
from oncoresist.contract.alterations import (
    parse_cna_list,
    parse_fusion_list,
    parse_mutation_list,
    variant_class_of,
)
from oncoresist.exceptions import Problem
from oncoresist.io.canonical import NUMERIC_MISSING
from oncoresist.io.tables import cell_text

__all__ = ["REQUIRED_COLUMNS", "Accumulator", "add_row", "expression_cells"]

# Here rather than in io_profiles (which re-exports it): add_row checks every row has them.
REQUIRED_COLUMNS = ("patient_id", "cancer_type", "drug", "line_number")
_FIX = {
    "patient_id": "give every row a patient identifier",
    "cancer_type": "name the cancer type, e.g. NSCLC",
    "drug": "name the drug; combinations as drug+drug",
    "line_number": "use the therapy line as a whole number >= 1",
    "age_years": "age in years, between 0 and 120 (or leave empty)",
    "mutations": "write GENE p.CHANGE items separated by ';', e.g. EGFR p.L858R; TP53 p.R273H",
    "copy_number": "write GENE call items separated by ';', e.g. MET amp; CDKN2A del",
    "fusions": "write GENE5-GENE3 [variant] items separated by ';', e.g. EML4-ALK v3",
}


def _blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (str(value).strip() == "")
    )


def _number(value: object) -> float | None:
    if _blank(value) or str(value).strip() in NUMERIC_MISSING:
        return None
    result = float(str(value).strip())
    if not math.isfinite(result):
        raise ValueError("not finite")
    return result


def expression_cells(
    frame: pd.DataFrame, expr_cols: list[str]
) -> tuple[np.ndarray, dict[int, list[tuple[str, str, str, str]]]]:
    """Parse every ``expr_`` column at once: values (NaN = missing) and bad cells by row.

    The whole block is converted in one step (the common case: every cell a number or
    blank); only when some cell is not a finite number on the log2(TPM+1) scale does the
    column-by-column reader run, to say which cells and why.
    """
    if not expr_cols:
        return np.full((len(frame), 0), np.nan), {}
    block = frame[expr_cols]
    if all(
        pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in block.dtypes
    ):  # numbers already (Parquet, a pyfunc request): nothing to parse
        numbers = block.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
    else:
        cells = block.to_numpy(dtype=object)
        flat = cells.ravel()
        # hashed lookup: np.isin compares every object cell with every missing marker
        blank = (
            pd.isna(flat) | pd.Series(flat, dtype=object).isin(["", *NUMERIC_MISSING]).to_numpy()
        )
        try:
            numbers = np.where(blank, np.nan, flat).astype(float).reshape(cells.shape)
        except (TypeError, ValueError):
            return _expression_cells_by_column(frame, expr_cols)
        missing = blank.reshape(cells.shape)
    with np.errstate(invalid="ignore"):
        bad = ~missing & (~np.isfinite(numbers) | (numbers < -0.5) | (numbers > LOG2_TPM_MAX))
    if bad.any():
        return _expression_cells_by_column(frame, expr_cols)
    return np.where(missing, np.nan, numbers), {}


def _expression_cells_by_column(
    frame: pd.DataFrame, expr_cols: list[str]
) -> tuple[np.ndarray, dict[int, list[tuple[str, str, str, str]]]]:
    """Column-by-column parse that locates every bad cell (the slow, explanatory path)."""
    values = np.full((len(frame), len(expr_cols)), np.nan)
    problems: dict[int, list[tuple[str, str, str, str]]] = {}
    for j, column in enumerate(expr_cols):
        cells = frame[column]
        if pd.api.types.is_float_dtype(cells):  # numbers kept by typed_to_text: show as typed
            cells = pd.Series([cell_text(v) for v in cells.tolist()], index=cells.index)
        text = cells.astype("string").str.strip()
        missing = (text.isna() | text.eq("") | text.isin(NUMERIC_MISSING)).to_numpy(bool)
        numbers = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(float)
        not_number = ~missing & ~np.isfinite(numbers)
        off_scale = ~missing & ~not_number & ((numbers < -0.5) | (numbers > LOG2_TPM_MAX))
        raw = text.to_numpy(object)
        for pos in np.flatnonzero(not_number):
            problems.setdefault(int(pos), []).append(
                (column, str(raw[pos])[:60], "expression value is not a finite number",
                 "use a number on the log2(TPM+1) scale, or leave it empty")
            )  # fmt: skip
        for pos in np.flatnonzero(off_scale):
            problems.setdefault(int(pos), []).append(
                (column, str(raw[pos])[:60],
                 "expression value is not on the log2(TPM+1) scale (0 to 20)",
                 "transform TPM with log2(TPM + 1); z-scores are not accepted in a sheet")
            )  # fmt: skip
        values[:, j] = np.where(missing | not_number | off_scale, np.nan, numbers)
    return values, problems


class Accumulator:
    """Rows of the canonical tables built from accepted sheet rows.

    Expression stays in the parsed block: accepted rows are remembered by position and
    their values taken in one slice at the end (no per-row dict of hundreds of genes).
    """

    def __init__(self, genes: list[str], expression: np.ndarray) -> None:
        self.genes = genes
        self.expression = expression
        self.tables: dict[str, list[dict[str, object]]] = {
            k: [] for k in ("patients", "samples", "treatments", "mutations", "copy_number",
                            "fusions")
        }  # fmt: skip
        self.expression_rows: list[tuple[str, int]] = []  # (sample_id, position in block)
        self.row_of_treatment: dict[str, int] = {}

    def _expression_table(self) -> pd.DataFrame:
        # A gene given twice (expr_EGFR, expr_egfr) keeps its first column position and its
        # last value, as a per-row dict of gene -> value would.
        last = {gene: j for j, gene in enumerate(self.genes)}
        columns = ["sample_id", *last]
        if not self.expression_rows:
            return pd.DataFrame([], columns=columns)
        samples, positions = zip(*self.expression_rows, strict=True)
        block = self.expression[np.asarray(positions)][:, list(last.values())]
        table = pd.DataFrame(block, columns=list(last))
        table.insert(0, "sample_id", list(samples))
        return table

    def cohort(self, source: str) -> Cohort:
        """The accepted rows as a validated :class:`Cohort` named after ``source``."""
        frames = {}
        for name, rows in self.tables.items():
            columns = list(empty_table(name).columns)
            frames[name] = pd.DataFrame(rows, columns=columns).astype(object)
        frames["expression"] = self._expression_table() if self.genes else empty_table("expression")
        cohort = Cohort(**frames, name=Path(source).stem, source=source)  # type: ignore[arg-type]
        return validate_cohort(cohort, {k: source for k in frames})


def add_row(
    record: dict[str, object],
    line: int,
    source: str,
    position: int,
    problems: list[Problem],
    seen: dict[str, int],
    patient_seen: dict[str, tuple[int, tuple[object, ...]]],
    acc: Accumulator,
) -> list[Problem]:
    """Check one sheet row; add it to ``acc`` when clean, else return its problems.

    ``problems`` holds the row's problems found earlier (its expression cells) and is
    extended and returned; ``seen`` and ``patient_seen`` are updated for accepted rows.
    """

    def bad(column: str | None, value: object, reason: str, fix: str = "") -> None:
        shown = "<empty>" if _blank(value) else str(value)[:60]
        problems.append(
            Problem(source, line, column, shown, reason, fix or _FIX.get(column or "", ""))
        )

    text = {c: (None if _blank(record.get(c)) else str(record[c]).strip()) for c in record}
    for column in REQUIRED_COLUMNS:
        if text.get(column) is None:
            bad(column, None, "required value is missing")
    line_number = age = None
    try:
        line_number = _number(text.get("line_number"))
        if line_number is not None and (line_number < 1 or not line_number.is_integer()):
            bad("line_number", text["line_number"], "not a whole number >= 1")
    except ValueError:
        bad("line_number", text["line_number"], "not a number")
    try:
        age = _number(text.get("age_years"))
        if age is not None and not 0 <= age <= 120:
            bad("age_years", text["age_years"], "age out of range")
    except ValueError:
        bad("age_years", text["age_years"], "not a number")
    parsed = {}
    for column, parser in (("mutations", parse_mutation_list), ("copy_number", parse_cna_list),
                           ("fusions", parse_fusion_list)):  # fmt: skip
        items, reasons = parser(text.get(column))
        for reason in reasons:
            bad(column, text.get(column), reason)
        if len({item[:2] for item in items}) < len(items):
            bad(
                column,
                text.get(column),
                "an alteration is listed twice",
                "list each alteration once",
            )
        parsed[column] = items
    patient = text.get("patient_id")
    treatment_id = text.get("treatment_id") or f"{patient}-r{line}"
    if treatment_id in seen:
        bad(
            "treatment_id",
            treatment_id,
            f"treatment repeated (first on row {seen[treatment_id]})",
            "give each patient-treatment one row",
        )
    facts = (text.get("cancer_type"), age, text.get("sex"))
    if patient in patient_seen and patient_seen[patient][1] != facts:
        bad(
            "patient_id",
            patient,
            f"cancer type, age or sex differ from row "
            f"{patient_seen[patient][0]} of the same patient",
            "make the patient's rows agree",
        )
    if problems:
        return problems
    seen[treatment_id] = line
    sample = f"{treatment_id}_baseline"
    acc.row_of_treatment[treatment_id] = line
    if patient not in patient_seen:
        patient_seen[patient] = (line, facts)  # type: ignore[index]
        acc.tables["patients"].append(
            {"patient_id": patient, "cancer_type": facts[0], "age_years": age, "sex": facts[2]}
        )
    drug = "+".join(part.strip() for part in str(text["drug"]).split("+"))
    acc.tables["treatments"].append(
        {
            "patient_id": patient,
            "treatment_id": treatment_id,
            "drug": drug,
            "line_number": line_number,
        }
    )
    acc.tables["samples"].append(
        {
            "sample_id": sample,
            "patient_id": patient,
            "timepoint": "baseline",
            "treatment_id": treatment_id,
        }
    )
    for gene, change in parsed["mutations"]:
        acc.tables["mutations"].append(
            {
                "sample_id": sample,
                "gene": gene,
                "protein_change": change,
                "variant_class": variant_class_of(change),
                "vaf": None,
            }
        )
    for gene, state in parsed["copy_number"]:
        acc.tables["copy_number"].append({"sample_id": sample, "gene": gene, "cn_state": state})
    for five, three, variant in parsed["fusions"]:
        acc.tables["fusions"].append(
            {"sample_id": sample, "gene_5p": five, "gene_3p": three, "variant": variant}
        )
    if acc.genes:
        acc.expression_rows.append((sample, position))
    return []
