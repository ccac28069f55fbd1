"""Profile sheets as a ``dask.dataframe``: partitions that keep the input file's row numbers.

Parquet sheets are read by the workers themselves, each partition a slice of rows (its
row numbers follow from the row offset, so problems name the file's row). CSV/TSV/XLSX
sheets cannot be split by byte ranges without losing row numbers (quoted cells span
lines), so the client parses them once with the single-machine reader and stages the
chunks as Parquet next to the output; for inputs past a few million rows convert to
Parquet first. A folder of sheets is read file by file, in name order.

Every partition is turned into text cells exactly as
:func:`~oncoresist.io.profiles.iter_profile_chunks` does, so a partition and a
single-machine chunk of the same rows are the same frame.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.files import make_folder
from oncoresist.io.profiles import (
    iter_profile_chunks,
    parquet_sheet_shape,
    read_parquet_rows,
    read_sheet_keys,
    read_staged_chunk,
    write_staged_chunk,
)
from oncoresist.io.tables import cell_text

SHEET_SUFFIXES = (".parquet", ".csv", ".tsv", ".xlsx")


@dataclass(frozen=True)
class Partition:
    """One partition of the input: ``n_rows`` rows of ``path`` from ``row_start``."""

    number: int
    path: str
    source: str  # input file name shown in problems
    row_start: int
    n_rows: int
    first_line: int  # the input file's row number of the first row (header is row 1)
    staged: bool  # a client-parsed chunk stored with its ``line`` index


def sheet_files(path: str | Path) -> list[Path]:
    """The sheet files of an input: the file itself, or a folder's sheets in name order."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith(("_", "."))
        )
        if files:
            return files
    raise InputDataError(
        f"{path} is not a profile sheet or a folder of them",
        [
            Problem(
                str(path),
                None,
                None,
                str(path),
                "no .parquet/.csv/.tsv/.xlsx profile sheet found",
                "pass a profile sheet, or a folder of sheet partitions (part-0.parquet, ...)",
            )
        ],
    )


def plan_partitions(
    path: str | Path, partition_rows: int, staging: Path
) -> tuple[list[Partition], dict[int, list[str]], list[str]]:
    """Split the input into partitions and collect each partition's treatment keys.

    Returns
    -------
    partitions : list of Partition
    keys : dict
        Partition number → treatment key of each row (``treatment_id``, else
        ``<patient_id>-r<row>`` as the sheet reader names it), for the duplicate pre-pass.
    columns : list of str
        Column names of the sheet (the dask meta).
    """
    if partition_rows < 1:
        raise ValueError("partition_rows must be >= 1")
    partitions: list[Partition] = []
    keys: dict[int, list[str]] = {}
    columns: list[str] | None = None
    for file in sheet_files(path):
        if file.suffix.lower() == ".parquet":
            found, file_columns = _plan_parquet(file, partition_rows, len(partitions), keys)
        else:
            found, file_columns = _stage_text(file, partition_rows, len(partitions), keys, staging)
        if columns is None:
            columns = file_columns
        partitions += found
    return partitions, keys, columns or []


def _plan_parquet(
    file: Path, partition_rows: int, start: int, keys: dict[int, list[str]]
) -> tuple[list[Partition], list[str]]:
    columns, n = parquet_sheet_shape(file)
    ids = read_sheet_keys(file, columns)
    parts = []
    for offset in range(0, n, partition_rows):
        number = start + len(parts)
        size = min(partition_rows, n - offset)
        first = 2 + offset
        keys[number] = _keys(ids.iloc[offset : offset + size], first)
        parts.append(Partition(number, str(file), file.name, offset, size, first, staged=False))
    return parts, columns


def _stage_text(
    file: Path, partition_rows: int, start: int, keys: dict[int, list[str]], staging: Path
) -> tuple[list[Partition], list[str]]:
    make_folder(staging)
    parts: list[Partition] = []
    columns: list[str] = []
    for chunk in iter_profile_chunks(file, partition_rows):
        number = start + len(parts)
        columns = [str(c) for c in chunk.columns]
        staged = staging / f"input-{number:05d}.parquet"
        write_staged_chunk(chunk, staged)
        first = int(chunk.index[0]) if len(chunk) else 2
        keys[number] = _keys(chunk.set_axis([c.strip() for c in columns], axis=1), first)
        parts.append(Partition(number, str(staged), file.name, 0, len(chunk), first, True))
    return parts, columns


def _keys(ids: pd.DataFrame, first_line: int) -> list[str]:
    """Treatment keys as :func:`~oncoresist.io.profiles.profiles_to_cohort` names them."""
    n = len(ids)
    lines = (
        [int(i) for i in ids.index]
        if ids.index.name == "line"
        else list(range(first_line, first_line + n))
    )
    patients = ids["patient_id"].tolist() if "patient_id" in ids else [None] * n
    treatments = ids["treatment_id"].tolist() if "treatment_id" in ids else [None] * n
    out = []
    for line, patient, treatment in zip(lines, patients, treatments, strict=True):
        text = cell_text(treatment)
        out.append(text if text is not None else f"{cell_text(patient)}-r{line}")
    return out


def read_partition(part: Partition) -> pd.DataFrame:
    """Read one partition as text cells indexed by the input file's row number (``line``)."""
    if part.staged:
        return read_staged_chunk(part.path)
    return read_parquet_rows(part.path, part.row_start, part.n_rows, part.first_line)


def profiles_dataframe(partitions: list[Partition], columns: list[str]) -> Any:
    """The input as a ``dask.dataframe`` of text cells, one partition per :class:`Partition`."""
    import dask  # noqa: PLC0415
    import dask.dataframe as dd  # noqa: PLC0415

    meta = pd.DataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        index=pd.Index([], dtype="int64", name="line"),
    )
    # Keep the reader's text cells as they are (no automatic Arrow-string conversion), so a
    # partition is the very frame a single-machine chunk of the same rows is.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(read_partition, partitions, meta=meta, enforce_metadata=False)


def cross_partition_keys(keys: dict[int, list[str]]) -> dict[int, set[str]]:
    """Per partition, the treatment keys that also occur in another partition."""
    where: dict[str, set[int]] = defaultdict(set)
    for number, found in keys.items():
        for key in found:
            where[key].add(number)
    shared: dict[int, set[str]] = defaultdict(set)
    for key, numbers in where.items():
        if len(numbers) > 1:
            for number in numbers:
                shared[number].add(key)
    return dict(shared)


def seen_before(
    shared: dict[int, set[str]], accepted: dict[int, dict[str, int]], n_partitions: int
) -> dict[int, dict[str, int]]:
    """Treatments already accepted in an earlier partition, as sequential reading would see.

    ``accepted[p]`` holds the shared keys that partition ``p`` accepts on its own (its
    first valid row of each). A key belongs to the earliest partition that accepts it;
    every later partition receives it as already seen, so its rows there are rejected as
    repeats exactly as in a single pass over the file.
    """
    first: dict[str, int] = {}
    seen: dict[int, dict[str, int]] = {}
    for number in range(n_partitions):
        mine = shared.get(number, set())
        seen[number] = {k: first[k] for k in mine if k in first}
        for key, line in accepted.get(number, {}).items():
            first.setdefault(key, line)
    return seen
