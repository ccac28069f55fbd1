"""Low-level helpers shared by the cBioPortal reader and writer."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.tables import read_table

__all__ = [
    "CBIO_MISSING",
    "DuplicateGeneWarning",
    "TimepointAssumedWarning",
    "col",
    "number",
    "read_cbio_table",
    "read_meta",
    "relabel",
    "require_columns",
]

#: Cell texts cBioPortal files use for "no value".
CBIO_MISSING = (
    "", "NA", "N/A", "NaN", "nan", "[Not Available]", "[Not Applicable]", "[Unknown]",
    "[Not Evaluated]", "[Discrepancy]", "[Not Reported]",
)  # fmt: skip


class DuplicateGeneWarning(UserWarning):
    """An expression matrix repeats gene rows; they were averaged."""


class TimepointAssumedWarning(UserWarning):
    """A study does not say when samples were taken; they were taken as baseline."""


def read_meta(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a cBioPortal ``meta_*.txt`` file (``key: value`` lines)."""
    path = Path(path)
    meta: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputDataError(
            f"{path.name} is not UTF-8 text",
            [
                Problem(
                    path.name,
                    None,
                    None,
                    "",
                    f"byte {err.start} is not valid UTF-8",
                    "save the file as UTF-8",
                )
            ],
        ) from None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip()] = value.strip()
    return meta


def read_cbio_table(path: Path) -> pd.DataFrame:
    """Read a tab-separated cBioPortal data file; ``#`` lines before the header skipped."""
    return read_table(path, missing=CBIO_MISSING, skip_comment_header=True)


def col(frame: pd.DataFrame, *names: str) -> str | None:
    """Return the first column of ``frame`` matching one of ``names`` (case-insensitive)."""
    lookup = {str(c).upper(): c for c in frame.columns}
    for name in names:
        if name.upper() in lookup:
            return lookup[name.upper()]
    return None


def require_columns(frame: pd.DataFrame, source: str, *names: str) -> list[Problem]:
    """Return a problem for each required column missing from ``frame``."""
    return [
        Problem(
            source,
            1,
            name,
            "",
            "required column is missing",
            f"add a column named {name} (see docs.cbioportal.org/file-formats)",
        )
        for name in names
        if col(frame, name) is None
    ]


def number(value: object) -> float | None:
    """Parse a cell as a float; None when missing. Raises ValueError when not a number."""
    if value is None:
        return None
    result = float(str(value).strip())
    if math.isinf(result):
        raise ValueError("infinite")
    return None if math.isnan(result) else result


def cells(frame: pd.DataFrame, column: str | None) -> Sequence[object]:
    """Values of ``column`` (all None when the column is absent)."""
    if column is None:
        return [None] * len(frame)
    return frame[column].tolist()


def relabel(err: InputDataError, columns: Mapping[str, str | None]) -> list[Problem]:
    """Return ``err``'s problems with canonical column names replaced by the file's own."""
    return [
        replace(p, column=columns.get(p.column) or p.column) if p.column else p
        for p in err.problems
    ]
