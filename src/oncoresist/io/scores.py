"""Writing scores: rounding and formula neutralisation for people, atomic files, chunk writer.

Used by :mod:`oncoresist.pipelines.score` and, for the partitioned Parquet dataset of the
Dask path (part files, the ``_SUCCESS`` marker), by :mod:`oncoresist.scale.scoring`. Files
are written to a hidden temporary name next to the destination and renamed at the end, so
an interrupted run (an exception, Ctrl-C or SIGTERM) leaves neither a partial output nor a
temporary file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from oncoresist.exceptions import OutputExistsError, Problem
from oncoresist.io.files import atomic_write, refuse_existing
from oncoresist.io.tables import TABLE_EXTENSIONS, write_table

#: Spreadsheets run a cell starting with one of these as a formula (CSV/XLSX injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """Round numbers for reading and neutralise spreadsheet formulas (CSV/XLSX only)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            digits = 1 if "months" in column else (2 if column == "ood_score" else 3)
            frame[column] = values.round(digits)
        elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            frame[column] = values.map(_neutralise)
    return frame


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path next to ``path``; rename on success, delete otherwise.

    The temporary file is removed on any exception, KeyboardInterrupt included (and SIGTERM,
    which :func:`terminate_as_interrupt` turns into one).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class Termination:
    """Whether SIGTERM or SIGINT arrived while scoring; :meth:`check` re-raises a swallowed one."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal arrived, even one whose exception was lost.

        A signal handler's exception is printed and dropped when it fires inside a finaliser
        or a C callback, and the run would then finish and publish its output as if never
        terminated; checking between chunks and before the rename closes that gap.
        """
        if self.signum is not None:
            raise KeyboardInterrupt(f"terminated by signal {self.signum}")


@contextmanager
def terminate_as_interrupt() -> Iterator[Termination]:
    """Route SIGTERM and SIGINT (Ctrl-C) through one recorded-signal path while scoring.

    Python's default SIGTERM action ends the process without unwinding, and its default
    SIGINT handler raises a KeyboardInterrupt that is lost when it fires inside a finaliser or
    a C callback. Both signals get one handler that records the signal and raises
    KeyboardInterrupt, so ``finally`` blocks delete temp files and the yielded
    :class:`Termination` still knows for :meth:`Termination.check` when the exception was lost.
    Only the main thread can install a handler, so elsewhere (notebook workers, servers)
    nothing changes; a signal the process ignores (SIGINT in a background job) stays ignored.
    """
    termination = Termination()
    if threading.current_thread() is not threading.main_thread():
        yield termination
        return

    def interrupt(signum: int, frame: object) -> None:
        termination.signum = signum
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    previous = {
        signum: signal.signal(signum, interrupt)
        for signum in (signal.SIGTERM, signal.SIGINT)
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield termination
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class ChunkWriter:
    """Appends scored chunks to one temporary output file (CSV, Parquet or XLSX)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._parquet: Any = None
        self._schema: Any = None
        self._xlsx: list[pd.DataFrame] = []
        self._wrote_header = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            for_people(frame).to_csv(
                self.path,
                mode="a" if self._wrote_header else "w",
                header=not self._wrote_header,
                index=False,
            )
            self._wrote_header = True
        elif self.fmt == "parquet":
            table = pa.Table.from_pandas(stable_types(frame), preserve_index=False)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self.path, self._schema)
            self._parquet.write_table(table.cast(self._schema))
        else:
            self._xlsx.append(frame)

    def abort(self) -> None:
        """Release the open Parquet file after a failure (the caller deletes it)."""
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._xlsx = []

    def close(self, empty_columns: list[str]) -> None:
        if self.fmt == "csv" and not self._wrote_header:
            pd.DataFrame(columns=empty_columns).to_csv(self.path, index=False)
        elif self.fmt == "parquet":
            if self._parquet is None:
                pd.DataFrame(columns=empty_columns).to_parquet(self.path, index=False)
            else:
                self._parquet.close()
        elif self.fmt == "xlsx":
            frames = self._xlsx or [pd.DataFrame(columns=empty_columns)]
            for_people(pd.concat(frames, ignore_index=True)).to_excel(
                self.path, index=False, engine="openpyxl"
            )


def stable_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Same Arrow types in every chunk: text as string, numbers as float64, flags as bool."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype("float64")
        else:
            frame[column] = values.astype("string")
    return frame


# --------------------------------------------------------------------------------------
# The partitioned Parquet dataset of ``oncoresist score --engine dask``::
#
#     OUT/part-00000.parquet ...      scored rows of partition 0 ...
#     OUT/_errors/part-00000.parquet  rejected rows
#     OUT/_SUCCESS                    written last (JSON)
#
# Readers (``pandas.read_parquet(OUT)``, Spark, DuckDB) skip ``_``/``.`` names.

#: Marker file written last into a complete dataset.
SUCCESS = "_SUCCESS"
#: Default errors dataset, inside the scores dataset.
ERRORS = "_errors"
#: Client-parsed CSV/TSV/XLSX chunks, inside the scores dataset while it is written.
STAGING = "_staging"
PART_PREFIX = "part-"


def part_name(number: int) -> str:
    """File name of partition ``number`` in the scores and errors datasets."""
    return f"{PART_PREFIX}{number:05d}.parquet"


def write_part_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write one Parquet part through a hidden temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def prepare_output(out: Path, errors: Path, overwrite: bool) -> None:
    """Refuse to replace an existing dataset unless ``overwrite``; then clear our files only.

    Raises
    ------
    OutputExistsError
        If ``out`` or ``errors`` exists and ``overwrite`` is False, or if a folder holds
        files that are not part of a scores dataset (those are never deleted).
    """
    for target in (out, errors):
        if not target.exists():
            continue
        refuse_existing(target, overwrite)
        if target.is_file():
            target.unlink()
            continue
        ours = {SUCCESS, ERRORS, STAGING}
        foreign = [
            p.name
            for p in target.iterdir()
            if not (p.name.startswith((PART_PREFIX, ".")) or p.name in ours)
        ]
        if foreign:
            raise OutputExistsError(
                f"{target} holds files that are not part of a scores dataset "
                f"({', '.join(sorted(foreign)[:5])}); choose an empty or new folder"
            )
        shutil.rmtree(target)


def write_success_marker(out: Path, marker: dict[str, Any]) -> Path:
    """Write ``OUT/_SUCCESS`` (``marker`` as indented JSON) through a rename; return its path."""
    tmp = out / f".{SUCCESS}.tmp"
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, out / SUCCESS)
    return out / SUCCESS


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as rows (``row`` is the input file's row number)."""
    columns = ["source", "row", "column", "value", "reason", "fix"]
    return pd.DataFrame([p.as_dict() for p in problems], columns=columns)


def write_problems(problems: Sequence[Problem], path: str | os.PathLike[str]) -> Path:
    """Write every problem as one row (source, row, column, value, reason, fix), atomically.

    The one writer of errors and problems files (``score``'s ``<out>.errors.csv``,
    ``validate --problems``): the rejected text in ``value`` is neutralised like score cells,
    so a spreadsheet never runs it as a formula. CSV unless the extension names another table
    format.
    """
    path = Path(path)
    frame = for_people(problems_frame(list(problems)))
    if path.suffix.lower() in TABLE_EXTENSIONS:
        return write_table(frame, path)
    with atomic_write(path) as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    return path
