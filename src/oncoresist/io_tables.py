"""Read and write single tables: CSV, TSV, Parquet, XLSX; atomic writes.

Every reader here returns cells as Python strings (``None`` for missing), so identifiers
such as ``007`` or ``NA`` survive untouched and the data contract does all typing. The
frame's index holds, for every row, its **line number as an editor shows it** (header on
line 1; for spreadsheets the row number Excel shows; for Parquet the row position + 2), so
validation reports rows where the user will find them.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.exceptions import InputDataError, Problem

__all__ = [
    "DELIMITED",
    "TABLE_EXTENSIONS",
    "atomic_write",
    "iter_delimited_records",
    "read_table",
    "records_to_frame",
    "typed_to_text",
    "write_table",
]

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".maf": "\t"}
TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")

_MAGIC = {b"PAR1": "Parquet", b"PK\x03\x04": "XLSX (zip)"}


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[object]:
    """Open a temporary file beside ``path``; on success fsync and rename it onto ``path``.

    A reader never sees a half-written file, and an error leaves any previous file intact
    (the temporary file is removed).

    Parameters
    ----------
    path : path-like
        Final location. Its folder must exist.
    mode : {"w", "wb"}
        Text (UTF-8, ``\\n`` newlines) or binary.

    Yields
    ------
    file object
        Write to it; it is closed for you.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions any new file would get.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fd, 0o666 & ~umask)
    try:
        if "b" in mode:
            handle = os.fdopen(fd, mode)
        else:
            handle = os.fdopen(fd, mode, encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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


def _decoded_lines(path: Path, source: str, delimiter: str | None = None) -> Iterator[str]:
    """Yield the file's lines as text, failing with the byte offset (and column) of bad UTF-8."""
    offset = 0
    header: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                column = None
                if delimiter and header and number > 1:
                    index = raw[: err.start].count(delimiter.encode())
                    column = header[index] if index < len(header) else None
                raise InputDataError(
                    f"{source} is not UTF-8 text",
                    [
                        Problem(
                            source,
                            number,
                            column,
                            repr(raw[err.start : err.start + 4]),
                            f"byte {offset + err.start} (line {number}) is not valid UTF-8",
                            "save the file as UTF-8 (e.g. in Excel: CSV UTF-8)",
                        )
                    ],
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is harmless
                if delimiter:
                    header = [h.strip() for h in text.rstrip("\r\n").split(delimiter)]
            offset += len(raw)
            yield text


def _check_magic(path: Path, source: str, expected: str) -> None:
    with path.open("rb") as handle:
        head = handle.read(4)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            raise InputDataError(
                f"{source} is not {expected}",
                [
                    Problem(
                        source,
                        None,
                        None,
                        repr(head),
                        f"the file is {kind}, not {expected}",
                        f"rename it with the extension of its real format, or export it "
                        f"as {expected}",
                    )
                ],
            )


def iter_delimited_records(
    path: str | os.PathLike[str],
    delimiter: str,
    source: str | None = None,
    skip_comment_header: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for the header and every record of a delimited file.

    The line number is where the record starts (quoted fields may span lines). Blank lines
    are skipped. With ``skip_comment_header``, lines starting with ``#`` *before* the header
    are skipped (cBioPortal's clinical metadata rows, a MAF's ``#version``).
    """
    path = Path(path)
    source = source or path.name
    _check_magic(path, source, "delimited text")
    lines = _decoded_lines(path, source, delimiter)
    counter = _CountingLines(lines)
    reader = csv.reader(counter, delimiter=delimiter)
    seen_header = False
    while True:
        start = counter.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputDataError(
                f"{source} cannot be parsed",
                [
                    Problem(
                        source,
                        start,
                        None,
                        "",
                        f"malformed line: {err}",
                        "check quotes: a field that holds the delimiter must be quoted",
                    )
                ],
            ) from None
        if not fields or all(f.strip() == "" for f in fields):
            continue
        if not seen_header and skip_comment_header and fields[0].startswith("#"):
            continue
        seen_header = True
        yield start, fields


class _CountingLines:
    """Iterator over lines that counts how many were consumed (for record line numbers)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def records_to_frame(
    header: Sequence[str],
    records: Iterable[tuple[int, list[str]]],
    source: str,
    header_line: int = 1,
    missing: Iterable[str] = ("",),
) -> pd.DataFrame:
    """Build a string frame (index = line numbers) from a header and delimited records.

    Short rows are padded with missing cells (editors strip trailing tabs); a row with more
    cells than the header is an error naming its line.
    """
    header = [h.strip() for h in header]
    _check_header(header, source, header_line)
    missing = set(missing)
    width = len(header)
    lines: list[int] = []
    rows: list[list[str | None]] = []
    problems: list[Problem] = []
    for line, fields in records:
        if len(fields) > width and any(f.strip() for f in fields[width:]):
            problems.append(
                Problem(
                    source,
                    line,
                    None,
                    f"{len(fields)} cells",
                    f"row has more cells than the header ({width})",
                    "remove the extra cells or add a header for them",
                )
            )
            continue
        cells = [None if f.strip() in missing else f.strip() for f in fields[:width]]
        cells += [None] * (width - len(cells))
        lines.append(line)
        rows.append(cells)
    if problems:
        raise InputDataError(f"{source} has malformed rows", problems)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    if not rows:
        frame = pd.DataFrame({h: pd.Series(dtype=object) for h in header})
    frame.index = pd.Index(lines, dtype="int64", name="line")
    return frame


def _check_header(header: Sequence[str], source: str, line: int) -> None:
    problems = []
    for position, name in enumerate(header, start=1):
        if name == "":
            problems.append(
                Problem(
                    source,
                    line,
                    f"#{position}",
                    "",
                    "empty column name",
                    "give every column a name",
                )
            )
    repeated = sorted({h for h in header if h and list(header).count(h) > 1})
    for name in repeated:
        problems.append(
            Problem(
                source, line, name, name, "column name repeated", "give each column a unique name"
            )
        )
    if problems:
        raise InputDataError(f"{source} has a bad header", problems)


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


def _cell_text(value: object) -> str | None:
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
        {str(c): [_cell_text(v) for v in frame[c].tolist()] for c in text},
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
