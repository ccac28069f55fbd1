"""Cell-level helpers of the contract: coercing text cells, blanks, row numbers, duplicate keys."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from oncoresist.contract.schema import (
    BOOL_FALSE_TEXTS,
    BOOL_TRUE_TEXTS,
    BOOLEAN_COLUMNS,
    FIXES,
    INTEGER_COLUMNS,
    KEYS,
    NUMERIC_COLUMNS,
    UPPER_COLUMNS,
)
from oncoresist.exceptions import Problem


def shorten(value: object, width: int = 60) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<empty>"
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def line_lookup(frame: pd.DataFrame, line_numbers: Sequence[int] | None) -> dict[object, int]:
    if line_numbers is None:
        # A CSV with a header: the first data row is line 2.
        return {idx: pos + 2 for pos, idx in enumerate(frame.index)}
    if len(line_numbers) != len(frame):
        raise ValueError("line_numbers must have one entry per row")
    return dict(zip(frame.index, line_numbers, strict=True))


def is_blank_value(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def blank_mask(block: pd.DataFrame) -> np.ndarray:
    """True where a cell is missing or only whitespace (vectorised over columns)."""
    text = block.astype("string")
    blank = text.isna().to_numpy()
    stripped = text.apply(lambda column: column.str.strip().eq(""))
    return blank | stripped.fillna(True).to_numpy(dtype=bool)


def coerce_column(
    frame: pd.DataFrame, column: str, source: str, lines: dict[object, int]
) -> list[Problem]:
    """Coerce one column to its canonical dtype in place; report values that do not fit."""
    problems: list[Problem] = []
    raw = frame[column]
    if column in BOOLEAN_COLUMNS:
        text = raw.astype("string").str.strip().str.lower()
        ok = text.isin(BOOL_TRUE_TEXTS | BOOL_FALSE_TEXTS)
        for idx in raw.index[~ok.fillna(False).astype(bool)]:
            problems.append(
                Problem(
                    source,
                    lines[idx],
                    column,
                    shorten(raw[idx]),
                    "not a boolean",
                    FIXES.get(column, ""),
                )
            )
        frame[column] = text.isin(BOOL_TRUE_TEXTS).fillna(False).astype(bool)
        return problems
    if column in NUMERIC_COLUMNS:
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = numbers.isna() & ~raw.map(is_blank_value) & ~raw.astype("string").str.strip().eq("")
        for idx in raw.index[bad.fillna(False).astype(bool)]:
            problems.append(
                Problem(
                    source,
                    lines[idx],
                    column,
                    shorten(raw[idx]),
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
                    shorten(raw[idx]),
                    "infinite value",
                    FIXES.get(column, ""),
                )
            )
        numbers = numbers.astype(float).where(~infinite)
        if column in INTEGER_COLUMNS:
            fractional = numbers.notna() & (numbers != numbers.round())
            for idx in raw.index[fractional]:
                problems.append(
                    Problem(
                        source,
                        lines[idx],
                        column,
                        shorten(raw[idx]),
                        "not a whole number",
                        FIXES.get(column, ""),
                    )
                )
        frame[column] = numbers
        return problems
    # Identifiers and labels are strings; blanks are missing. One map over the cells (three
    # passes cost more than the pandera checks on sheet-sized tables).
    upper = column in UPPER_COLUMNS

    def clean(value: object) -> str | None:
        text = None if is_blank_value(value) else str(value).strip()
        return (text.upper() if upper else text) if text else None

    frame[column] = raw.map(clean).astype(object)
    return problems


def duplicate_key_problems(
    frame: pd.DataFrame, table: str, source: str, lines: dict[object, int]
) -> list[Problem]:
    keys = [k for k in KEYS[table] if k in frame.columns]
    if not keys:
        return []
    dup = frame.duplicated(subset=keys, keep=False) & frame[keys].notna().all(axis=1)
    problems = []
    for idx in frame.index[dup]:
        value = " / ".join(shorten(frame.at[idx, k]) for k in keys)
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
