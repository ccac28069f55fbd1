"""Lazy validation of one canonical table: every problem located, then one error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
from pandera.errors import SchemaErrors

from oncoresist.contract.cells import (
    coerce_column,
    duplicate_key_problems,
    is_blank_value,
    line_lookup,
    shorten,
)
from oncoresist.contract.expression import validate_expression
from oncoresist.contract.schema import COLUMNS, FIXES, SCHEMAS, TABLES
from oncoresist.exceptions import InputDataError, Problem

# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


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
    lines = line_lookup(work, line_numbers)
    for column in (*required, *optional):
        if column in work.columns:
            problems += coerce_column(work, column, source, lines)

    schema = SCHEMAS[table]
    try:
        schema.validate(work, lazy=True)
    except SchemaErrors as err:
        problems += _problems_from_pandera(err.failure_cases, source, lines, work)
    problems += duplicate_key_problems(work, table, source, lines)
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
            continue  # already reported by coerce_column with a clearer reason
        if check == "field_uniqueness":
            continue  # reported by duplicate_key_problems with every row involved
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
        row = lines.get(index) if index is not None and not is_blank_value(index) else None
        problems.append(
            Problem(
                source,
                row,
                column,
                shorten(record.get("failure_case")),
                reason,
                FIXES.get(str(column), ""),
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
