"""The profile sheet: one row per patient-treatment, for clinicians (DESIGN.md).

Columns: ``patient_id``, ``cancer_type``, ``drug`` (combinations as ``drug+drug``),
``line_number`` (required); ``treatment_id`` (default ``<patient_id>-r<row>``),
``age_years``, ``sex``, ``mutations`` (``"EGFR p.L858R; TP53 p.R273H"``), ``copy_number``
(``"MET amp; CDKN2A del"``), ``fusions`` (``"EML4-ALK v3"``) and ``expr_<GENE>`` columns on
the log2(TPM+1) scale (optional). CSV, TSV, Parquet or XLSX.

Everything in a sheet is baseline: each row becomes one baseline sample
(``<treatment_id>_baseline``) linked to its treatment. A problem in a row (malformed
alteration text, non-numeric or out-of-scale expression, a missing required value, a
repeated treatment) rejects **that row** with its sheet row number; the other rows go on.
A missing required column or an empty file rejects the whole file. The per-row parsing
and checks are in :mod:`oncoresist.io.profile_rows`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from oncoresist.contract import Cohort
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.delimited import iter_delimited_records, records_to_frame
from oncoresist.io.profile_rows import REQUIRED_COLUMNS, Accumulator, add_row, expression_cells
from oncoresist.io.tables import DELIMITED, read_table, typed_to_text

__all__ = [
    "EXPR_PREFIX",
    "OPTIONAL_COLUMNS",
    "ProfileSheet",
    "is_expression_column",
    "iter_profile_chunks",
    "parquet_sheet_shape",
    "profiles_to_cohort",
    "read_parquet_rows",
    "read_profile_sheet",
    "read_sheet_keys",
    "read_staged_chunk",
    "write_staged_chunk",
]

OPTIONAL_COLUMNS = ("treatment_id", "age_years", "sex", "mutations", "copy_number", "fusions")
EXPR_PREFIX = "expr_"


@dataclass
class ProfileSheet:
    """A profile sheet after reading: the rows that passed, and why the others did not.

    Attributes
    ----------
    cohort : Cohort
        Canonical tables built from the accepted rows (all samples baseline).
    rejected : list of Problem
        One or more problems per rejected row, with the sheet's row numbers.
    row_of_treatment : dict
        treatment_id → the sheet row it came from (to write scores in input order).
    n_read : int
        Data rows read.
    warnings_ : list of str
        Sheet-level remarks (e.g. unknown columns, listed once).
    """

    cohort: Cohort
    rejected: list[Problem] = field(default_factory=list)
    row_of_treatment: dict[str, int] = field(default_factory=dict)
    n_read: int = 0
    warnings_: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        """Sheet row numbers rejected (each once, in order)."""
        return sorted({p.row for p in self.rejected if p.row is not None})

    @property
    def n_accepted(self) -> int:
        """Rows turned into treatments."""
        return len(self.row_of_treatment)


def is_expression_column(name: str) -> bool:
    """``expr_<GENE>`` (any case), the columns read as numbers."""
    return name.strip().lower().startswith(EXPR_PREFIX)


def profiles_to_cohort(
    frame: pd.DataFrame,
    source: str,
    first_line: int = 2,
    seen_treatments: dict[str, int] | None = None,
) -> ProfileSheet:
    """Turn profile-sheet rows into canonical tables, rejecting bad rows one by one.

    Parameters
    ----------
    frame : DataFrame
        Sheet rows, cells as text (or numbers). When the index is named ``line`` (as
        returned by :func:`~oncoresist.io.tables.read_table`) it gives each row's number;
        otherwise row ``i`` is numbered ``first_line + i``.
    source : str
        File name shown in problems.
    first_line : int
        Row number of the first row (2 for a sheet with one header row).
    seen_treatments : dict, optional
        treatment_id → row already accepted, shared across chunks of one file so that a
        repeated treatment in a later chunk is still rejected. Updated in place.

    Raises
    ------
    InputDataError
        When a required column is missing (the whole file is unusable).
    """
    columns = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputDataError(
            f"{source} is not a profile sheet",
            [
                Problem(source, 1, c, "", "required column is missing",
                        f"add a column named '{c}' (required: {', '.join(REQUIRED_COLUMNS)})")
                for c in missing
            ],
        )  # fmt: skip
    expr_cols = [c for c in columns if is_expression_column(c)]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(expr_cols)
    unknown = [c for c in columns if c not in known]
    notes = []
    if unknown:
        notes.append(f"{source}: columns not used: {', '.join(unknown)}")
    genes = [c[len(EXPR_PREFIX) :].strip().upper() for c in expr_cols]
    if frame.index.name == "line":
        lines = [int(i) for i in frame.index]
    else:
        lines = list(range(first_line, first_line + len(frame)))
    seen = seen_treatments if seen_treatments is not None else {}
    patient_seen: dict[str, tuple[int, tuple[object, ...]]] = {}
    values, expr_problems = expression_cells(frame, expr_cols)
    acc = Accumulator(genes, values)
    rejected: list[Problem] = []
    fields = [c for c in columns if c in set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)]
    records = frame[fields].to_dict("records")
    for pos, (line, record) in enumerate(zip(lines, records, strict=True)):
        early = [
            Problem(source, line, column, raw, reason, fix)
            for column, raw, reason, fix in expr_problems.get(pos, ())
        ]
        rejected += add_row(record, line, source, pos, early, seen, patient_seen, acc)
    cohort = acc.cohort(source)
    return ProfileSheet(
        cohort=cohort,
        rejected=rejected,
        row_of_treatment=acc.row_of_treatment,
        n_read=len(frame),
        warnings_=notes,
    )


def read_profile_sheet(path: str | os.PathLike[str]) -> ProfileSheet:
    """Read a profile sheet (CSV, TSV, Parquet or XLSX) into accepted tables + rejections.

    Raises
    ------
    InputDataError
        Empty file, no data rows, a missing required column, non-UTF-8 text, or a file that
        is not the format its name says.
    """
    path = Path(path)
    frame = read_table(path)
    if len(frame) == 0:
        raise InputDataError(
            f"{path.name} has no rows",
            [Problem(path.name, None, None, "", "the sheet has a header but no rows",
                     "add one row per patient-treatment")],
        )  # fmt: skip
    sheet = profiles_to_cohort(frame, path.name)
    for message in sheet.warnings_:
        sheet.cohort.notes.append(message)
    return sheet


def iter_profile_chunks(path: str | os.PathLike[str], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Yield a sheet in frames of at most ``chunk_size`` rows, indexed by sheet row number.

    CSV/TSV and Parquet stream; XLSX is read whole, then sliced. Pass each frame to
    :func:`profiles_to_cohort` with one shared ``seen_treatments`` dict.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in DELIMITED:
        if path.is_file() and path.stat().st_size == 0:
            read_table(path)  # raises the standard "empty file" error
        records = iter_delimited_records(path, DELIMITED[suffix], path.name)
        try:
            header_line, header = next(records)
        except StopIteration:
            read_table(path)
            return
        batch: list[tuple[int, list[str]]] = []
        for record in records:
            batch.append(record)
            if len(batch) == chunk_size:
                yield records_to_frame(header, batch, path.name, header_line)
                batch = []
        if batch:
            yield records_to_frame(header, batch, path.name, header_line)
        return
    if suffix == ".parquet":
        if not path.is_file() or path.stat().st_size == 0:
            read_table(path)  # raises the standard "not found" / "empty file" error
        try:
            # pre_buffer=False: with pre-buffering, iter_batches keeps every row group it has
            # read cached until the file is closed, so Arrow memory grew with the sheet
            # (~32 MiB per 15,000 rows of a 500-gene sheet); unbuffered reads stay flat
            parquet = pq.ParquetFile(path, pre_buffer=False)
        except Exception:  # the standard "not Parquet" error, with file name
            read_table(path)
            raise
        first = 2
        for batch_ in parquet.iter_batches(batch_size=chunk_size):
            frame = batch_.to_pandas()
            yield typed_to_text(frame, first, keep_numbers=is_expression_column)
            first += len(frame)
        return
    frame = read_table(path)
    for start in range(0, len(frame), chunk_size):
        yield frame.iloc[start : start + chunk_size]


# --------------------------------------------------------------------------------------
# Parquet sheets read in slices and client-parsed chunks staged as Parquet (the Dask path,
# :mod:`oncoresist.scale.partitions`): a slice or a staged chunk is the frame
# :func:`iter_profile_chunks` yields for the same rows.


def parquet_sheet_shape(path: str | os.PathLike[str]) -> tuple[list[str], int]:
    """Column names and row count of a Parquet sheet, from its footer (no rows are read).

    Raises
    ------
    InputDataError
        The standard "not Parquet" / "empty file" error of
        :func:`~oncoresist.io.tables.read_table`, with the file name.
    """
    try:
        meta = pq.ParquetFile(path)
    except Exception:  # the standard "not Parquet" / "empty file" error, with file name
        read_table(Path(path))
        raise
    return [str(c) for c in meta.schema_arrow.names], meta.metadata.num_rows


def read_sheet_keys(path: str | os.PathLike[str], columns: list[str]) -> pd.DataFrame:
    """The ``patient_id`` and ``treatment_id`` columns of a Parquet sheet (names stripped).

    ``columns`` are the sheet's column names (:func:`parquet_sheet_shape`); a sheet with
    neither column gives an empty frame.
    """
    wanted = [c for c in columns if c.strip() in ("patient_id", "treatment_id")]
    frame = pq.read_table(path, columns=wanted).to_pandas() if wanted else pd.DataFrame()
    return frame.set_axis([c.strip() for c in frame.columns], axis=1)


def read_parquet_rows(
    path: str | os.PathLike[str], row_start: int, n_rows: int, first_line: int
) -> pd.DataFrame:
    """Rows ``row_start`` to ``row_start + n_rows`` of a Parquet sheet as text cells.

    Only the row groups holding those rows are read. The frame is indexed by sheet row
    number (``line``, from ``first_line``); numeric expression columns stay numbers, as
    :func:`iter_profile_chunks` streams them.
    """
    parquet = pq.ParquetFile(path)
    groups, offset = [], 0
    stop = row_start + n_rows
    for index in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(index).num_rows
        if offset < stop and offset + size > row_start:
            groups.append((index, offset))
        offset += size
    if not groups:
        table = parquet.schema_arrow.empty_table()
    else:
        table = parquet.read_row_groups([g for g, _ in groups])
        table = table.slice(row_start - groups[0][1], n_rows)
    # Numeric expression columns stay numbers, as iter_profile_chunks streams them: rendering
    # ~500 columns to text and parsing them back cost more than a third of a partition.
    return typed_to_text(table.to_pandas(), first_line, keep_numbers=is_expression_column)


def write_staged_chunk(chunk: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Store a parsed chunk (text cells, ``line`` index) as Parquet; missing cells as nulls."""
    text = chunk.astype(object).where(chunk.notna(), None)
    text.to_parquet(path, index=True)


def read_staged_chunk(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a chunk stored by :func:`write_staged_chunk`: text cells (None if missing), by line."""
    frame = pd.read_parquet(path)
    return frame.astype(object).where(frame.notna(), None)
