"""Delimited text (CSV, TSV, cBioPortal/MAF text) read record by record, with line numbers.

:func:`iter_delimited_records` yields each record with the line it starts on, failing on
bytes that are not UTF-8 (byte offset, line and column) and on a file that is really
Parquet or XLSX; :func:`records_to_frame` turns a header and records into a frame of text
cells indexed by those line numbers. :func:`~oncoresist.io.tables.read_table` reads a
whole file with them; a profile sheet streams them in chunks.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from oncoresist.exceptions import InputDataError, Problem

__all__ = ["iter_delimited_records", "records_to_frame"]

_MAGIC = {b"PAR1": "Parquet", b"PK\x03\x04": "XLSX (zip)"}


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
