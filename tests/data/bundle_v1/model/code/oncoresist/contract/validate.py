"""Lazy validation of one canonical table: every problem located, then one error."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from oncoresist.contract.schema import (
    _BOOL_FALSE,
    _BOOL_TRUE,
    _BOOLEAN,
    _INTEGER,
    _NUMERIC,
    _UPPER,
    COLUMNS,
    FIXES,
    KEYS,
    SCHEMAS,
    TABLES,
)
from oncoresist.exceptions import InputDataError, Problem

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
    # Identifiers and labels are strings; blanks are missing. One map over the cells (three
    # passes cost more than the pandera checks on sheet-sized tables).
    upper = column in _UPPER

    def clean(value: object) -> str | None:
        text = None if _is_missing(value) else str(value).strip()
        return (text.upper() if upper else text) if text else None

    frame[column] = raw.map(clean).astype(object)
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
        # Deferred: the expression module builds on this one.
        from oncoresist.contract.expression import validate_expression

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
