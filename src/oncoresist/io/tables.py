"""Read and write single tables: CSV, TSV, Parquet, XLSX; atomic writes.

Every reader here returns cells as Python strings (``None`` for missing), so identifiers
such as ``007`` or ``NA`` survive untouched and the data contract does all typing. The
frame's index holds, for every row, its **line number as an editor shows it** (header on
line 1; for spreadsheets the row number Excel shows; for Parquet the row position + 2), so
validation reports rows where the user will find them. Delimited text is parsed record by
record in :mod:`oncoresist.io.delimited`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.delimited import iter_delimited_records, records_to_frame
from oncoresist.io.files import atomic_write

__all__ = [
    "DELIMITED",
    "TABLE_EXTENSIONS",
    "cell_text",
    "read_table",
    "typed_to_text",
    "write_table",
]

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".maf": "\t"}
TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` atomically in the format named by the extension of ``path``.

    ``.csv`` (comma), ``.tsv`` / ``.txt`` (tab), ``.parquet`` or ``.xlsx``. The index is not
    written. Floats are written with full precision so a round trip is exact.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in DELIMITED:
        with atomic_write(target) as handle:
            frame.to_csv(handle, sep=DELIMITED[suffix], index=False, lineterminator="\n")
    elif suffix == ".parquet":
        with atomic_write(target, "wb") as handle:
            frame.to_parquet(handle, index=False)
    elif suffix == ".xlsx":
        with atomic_write(target, "wb") as handle:
            frame.to_excel(handle, index=False, engine="openpyxl")
    else:
        raise ValueError(f"cannot write '{target.name}': use one of {', '.join(TABLE_EXTENSIONS)}")
    return target


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _empty_file(source: str) -> InputDataError:
    return InputDataError(
        f"{source} is empty",
        [
            Problem(
                source,
                None,
                None,
                "",
                "the file has no header and no rows",
                "write a header line, then one row per record",
            )
        ],
    )


def cell_text(value: object) -> str | None:
    """Render a typed cell (Parquet/XLSX) as text; floats keep every digit."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value).strip()
    return text or None


def typed_to_text(
    frame: pd.DataFrame, first_line: int, keep_numbers: Callable[[str], bool] | None = None
) -> pd.DataFrame:
    """Render a typed frame (Parquet/XLSX) as text cells indexed by row number.

    Columns named by ``keep_numbers`` that hold numbers (integer or float, not boolean) stay
    numbers as float64 with NaN for missing: a reader that parses them anyway (profile
    sheets' expression block) then skips rendering and re-parsing every cell, and gets the
    same values (a float's ``repr`` reads back exactly).
    """

    def numeric(column: object) -> bool:
        values = frame[column]
        return (
            keep_numbers is not None
            and keep_numbers(str(column))
            and pd.api.types.is_numeric_dtype(values)
            and not pd.api.types.is_bool_dtype(values)
        )

    kept = [c for c in frame.columns if numeric(c)]
    text = [c for c in frame.columns if c not in set(kept)]
    out = pd.DataFrame(
        {str(c): [cell_text(v) for v in frame[c].tolist()] for c in text},
        index=range(len(frame)),
        dtype=object,  # text stays object: pandas 3 would infer its string dtype
    )
    if kept:
        numbers = frame[kept].to_numpy(dtype=np.float64, na_value=np.nan)
        out = pd.concat(
            [out, pd.DataFrame(numbers, columns=[str(c) for c in kept], index=out.index)], axis=1
        )[[str(c) for c in frame.columns]]
    if len(frame.columns) == 0:
        out = pd.DataFrame(index=range(len(frame)))
    out.index = pd.Index(range(first_line, first_line + len(frame)), dtype="int64", name="line")
    # Blank spreadsheet rows are skipped like blank text lines; the others keep their number.
    return out[out.notna().any(axis=1)] if len(out.columns) else out


def read_table(
    path: str | os.PathLike[str],
    source: str | None = None,
    missing: Iterable[str] = ("",),
    skip_comment_header: bool = False,
) -> pd.DataFrame:
    """Read one table by extension: ``.csv``, ``.tsv``, ``.txt``/``.maf`` (tab), ``.parquet``,
    ``.xlsx`` (first sheet).

    Parameters
    ----------
    path : path-like
        The file.
    source : str, optional
        Name used in problems (default: the file name).
    missing : iterable of str
        Cell texts read as missing (default: blank only, so ``NA`` stays a string).
    skip_comment_header : bool
        Skip ``#`` lines before the header (cBioPortal files).

    Returns
    -------
    DataFrame
        Every cell a ``str`` or ``None``; the index holds line numbers (see module doc).

    Raises
    ------
    InputDataError
        Empty file, non-UTF-8 bytes (with byte offset and line), a file that is not the
        format its name says, malformed rows, or a bad header.
    """
    path = Path(path)
    source = source or path.name
    if not path.is_file():
        raise InputDataError(
            f"{source} not found",
            [Problem(source, None, None, str(path), "file not found", "check the path")],
        )
    if path.stat().st_size == 0:
        raise _empty_file(source)
    suffix = path.suffix.lower()
    if suffix in DELIMITED:
        records = iter_delimited_records(path, DELIMITED[suffix], source, skip_comment_header)
        try:
            header_line, header = next(records)
        except StopIteration:
            raise _empty_file(source) from None
        return records_to_frame(header, records, source, header_line, missing)
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a non-Parquet file
            raise _wrong_format(source, "Parquet", err) from None
        return _apply_missing(typed_to_text(frame, 2), missing)
    if suffix == ".xlsx":
        try:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        except Exception as err:  # openpyxl/zipfile raise several types for a non-XLSX file
            raise _wrong_format(source, "XLSX", err) from None
        if len(frame.columns) == 0:
            raise _empty_file(source)
        return _apply_missing(typed_to_text(frame, 2), missing)
    raise InputDataError(
        f"{source}: unknown table format",
        [
            Problem(
                source,
                None,
                None,
                suffix,
                "unknown file extension",
                f"use one of {', '.join(TABLE_EXTENSIONS)}",
            )
        ],
    )


def _apply_missing(frame: pd.DataFrame, missing: Iterable[str]) -> pd.DataFrame:
    tokens = set(missing) - {""}
    if tokens:
        frame = frame.map(lambda v: None if v in tokens else v)
    return frame


def _wrong_format(source: str, expected: str, err: Exception) -> InputDataError:
    return InputDataError(
        f"{source} is not a valid {expected} file",
        [
            Problem(
                source,
                None,
                None,
                type(err).__name__,
                f"the file cannot be read as {expected} ({str(err)[:120]})",
                f"export it as {expected}, or give it the extension of its real format",
            )
        ],
    )


def check_delimiter(path: Path) -> None:
    """Fail with a clear reason when a delimited sheet's header uses another separator.

    Read with the wrong separator, the header is one long column and every required column
    looks missing; naming the separator found is the useful message.
    """
    expected = DELIMITED.get(path.suffix.lower())
    if expected is None or not path.is_file():
        return
    with path.open("rb") as handle:
        header = handle.readline(65536).decode("utf-8", errors="replace")
    if expected in header:
        return
    for found, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), (",", "','")):
        if found != expected and header.count(found) >= 2:
            raise InputDataError(
                f"{path.name} looks separated by {name}, not {expected!r}",
                [
                    Problem(
                        path.name,
                        1,
                        None,
                        header.strip()[:60],
                        f"the header is separated by {name}",
                        "save the sheet as comma-separated CSV (.csv) or tab-separated (.tsv)",
                    )
                ],
            )


def read_typed_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file the package wrote itself, keeping its column types.

    For the package's own outputs (e.g. a simulation's ground truth); user inputs go through
    :func:`read_table`, which reads every cell as text for validation.
    """
    return pd.read_parquet(path)
