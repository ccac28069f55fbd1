"""The canonical folder: one file per contract table plus an optional ``dataset.yaml``.

Layout::

    patients.csv  samples.csv  treatments.csv            (required)
    mutations.csv copy_number.csv fusions.csv expression.csv   (optional: empty when absent)
    gene_panels.csv outcomes.csv                            (optional)
    dataset.yaml   name, source, expression_scale: log2_tpm | zscore, notes

Each table may be ``.csv``, ``.tsv`` or ``.parquet`` (one of them per table).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pandas as pd
import yaml

from oncoresist.contract import (
    COLUMNS,
    EXPRESSION_SCALES,
    OPTIONAL_TABLES,
    TABLES,
    Cohort,
    empty_table,
    validate_cohort,
    validate_expression,
    validate_table,
)
from oncoresist.contract.alterations import normalise_protein_change
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.files import atomic_write
from oncoresist.io.tables import read_table, write_table

__all__ = [
    "CANONICAL_EXTENSIONS",
    "DATASET_FILE",
    "find_table_file",
    "is_canonical_folder",
    "normalise_protein_column",
    "read_canonical_folder",
    "write_canonical_folder",
]

CANONICAL_EXTENSIONS = (".csv", ".tsv", ".parquet")
DATASET_FILE = "dataset.yaml"
REQUIRED_TABLES = ("patients", "samples", "treatments")
_DATASET_KEYS = {"name", "source", "expression_scale", "notes"}

#: Texts read as missing in numeric columns only (identifiers keep "NA" as text).
NUMERIC_MISSING = frozenset({"NA", "NaN", "nan", "N/A", "n/a", "null", "NULL"})
_NUMERIC_COLUMNS = {
    "age_years", "sample_month", "line_number", "vaf", "cn_state", "time_to_resistance_months",
}  # fmt: skip


def find_table_file(folder: Path, table: str) -> Path | None:
    """Return the file holding ``table`` in ``folder`` (any canonical extension), or None."""
    found = [folder / f"{table}{ext}" for ext in CANONICAL_EXTENSIONS]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputDataError(
            f"{folder}: table '{table}' is given more than once",
            [
                Problem(
                    str(folder),
                    None,
                    None,
                    names,
                    "several files for one table",
                    "keep exactly one of them",
                )
            ],
        )
    return found[0] if found else None


def is_canonical_folder(folder: Path) -> bool:
    """True when ``folder`` holds a ``patients`` table file in a canonical format."""
    return folder.is_dir() and any(
        (folder / f"patients{e}").is_file() for e in CANONICAL_EXTENSIONS
    )


def _read_dataset_yaml(folder: Path) -> dict[str, object]:
    path = folder / DATASET_FILE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputDataError(
            f"{DATASET_FILE} cannot be read",
            [
                Problem(
                    DATASET_FILE,
                    None,
                    None,
                    "",
                    f"not valid YAML/UTF-8: {err}",
                    "write key: value lines (name, source, expression_scale)",
                )
            ],
        ) from None
    problems = []
    if not isinstance(data, dict):
        data = {}
        problems.append(
            Problem(
                DATASET_FILE,
                None,
                None,
                "",
                "not a mapping",
                "write key: value lines (name, source, expression_scale)",
            )
        )
    for key in sorted(set(data) - _DATASET_KEYS):
        problems.append(
            Problem(
                DATASET_FILE,
                None,
                key,
                key,
                "unknown key",
                f"use only: {', '.join(sorted(_DATASET_KEYS))}",
            )
        )
    scale = data.get("expression_scale", "log2_tpm")
    if scale not in EXPRESSION_SCALES:
        problems.append(
            Problem(
                DATASET_FILE,
                None,
                "expression_scale",
                str(scale),
                "unknown expression scale",
                f"use one of: {', '.join(EXPRESSION_SCALES)}",
            )
        )
    if problems:
        raise InputDataError(f"{DATASET_FILE} is invalid", problems)
    return data


def blank_numeric_tokens(frame: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """Read ``NA``/``NaN``/``null`` as missing in the given numeric columns only."""
    frame = frame.copy()
    for column in columns & set(frame.columns):
        frame[column] = frame[column].map(lambda v: None if v in NUMERIC_MISSING else v)
    return frame


def normalise_protein_column(
    frame: pd.DataFrame, source: str, column: str = "protein_change"
) -> tuple[pd.DataFrame, list[Problem]]:
    """Normalise a protein-change column in place of a copy; return problems per bad row."""
    frame = frame.copy()
    problems: list[Problem] = []
    if column not in frame.columns:
        return frame, problems
    values = []
    for line, text in zip(frame.index, frame[column].tolist(), strict=True):
        try:
            values.append(normalise_protein_change(text))
        except ValueError as err:
            values.append(text)
            problems.append(
                Problem(
                    source, int(line), column, str(text), str(err), "use short HGVS, e.g. p.L858R"
                )
            )
    frame[column] = pd.Series(values, index=frame.index, dtype=object)
    return frame, problems


def read_canonical_folder(path: str | os.PathLike[str]) -> Cohort:
    """Read a canonical folder into a validated :class:`~oncoresist.contract.Cohort`.

    Every table is validated against the contract and every problem across all files is
    collected into one :class:`InputDataError` (file, line, column, value, fix). Protein
    changes are normalised and gene symbols upper-cased.
    """
    folder = Path(path)
    meta = _read_dataset_yaml(folder)
    scale = str(meta.get("expression_scale", "log2_tpm"))
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame | None] = {}
    sources: dict[str, str] = {}
    for table in TABLES:
        try:
            file = find_table_file(folder, table)
        except InputDataError as err:
            problems += err.problems
            continue
        if file is None:
            if table in REQUIRED_TABLES:
                problems.append(
                    Problem(
                        str(folder),
                        None,
                        None,
                        table,
                        f"the '{table}' table is missing",
                        f"add {table}.csv (columns: {', '.join(COLUMNS[table][0])})",
                    )
                )
            tables[table] = None if table in OPTIONAL_TABLES else empty_table(table)
            continue
        sources[table] = file.name
        try:
            tables[table] = _read_one(file, table, scale)
        except InputDataError as err:
            problems += err.problems
    if problems:
        raise InputDataError(f"{folder.name or folder} breaks the data contract", problems)
    notes = [str(n) for n in (meta.get("notes") or [])]
    cohort = Cohort(
        **tables,  # type: ignore[arg-type]
        expression_scale=scale,  # type: ignore[arg-type]
        name=str(meta.get("name") or folder.resolve().name),
        source=str(meta.get("source") or folder),
        notes=notes,
    )
    return validate_cohort(cohort, sources)


def _read_one(file: Path, table: str, scale: str) -> pd.DataFrame:
    frame = read_table(file)
    numeric = _NUMERIC_COLUMNS | (
        set(frame.columns) - {"sample_id"} if table == "expression" else set()
    )
    frame = blank_numeric_tokens(frame, numeric)
    lines = [int(i) for i in frame.index]
    problems: list[Problem] = []
    if table == "mutations":
        frame, problems = normalise_protein_column(frame, file.name)
    try:
        if table == "expression":
            result = validate_expression(frame, source=file.name, line_numbers=lines, scale=scale)  # type: ignore[arg-type]
        else:
            result = validate_table(frame, table, source=file.name, line_numbers=lines)
    except InputDataError as err:
        problems += err.problems
    if problems:
        raise InputDataError(f"{file.name} breaks the '{table}' table contract", problems)
    return result


def write_canonical_folder(cohort: Cohort, path: str | os.PathLike[str], fmt: str = "csv") -> Path:
    """Write ``cohort`` as a canonical folder (each file atomically) plus ``dataset.yaml``.

    Parameters
    ----------
    cohort : Cohort
    path : path-like
        Folder, created if needed. Canonical table files of other formats, or of tables the
        cohort lacks, are removed so the folder reads back as exactly this cohort.
    fmt : {"csv", "tsv", "parquet"}
    """
    ext = f".{fmt.lower().lstrip('.')}"
    if ext not in CANONICAL_EXTENSIONS:
        raise ValueError(f"fmt must be one of {[e[1:] for e in CANONICAL_EXTENSIONS]}, got {fmt!r}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    present = cohort.tables()
    for table in TABLES:
        for other in CANONICAL_EXTENSIONS:
            stale = folder / f"{table}{other}"
            if stale.exists() and (other != ext or table not in present):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
    for table, frame in present.items():
        write_table(frame.reset_index(drop=True), folder / f"{table}{ext}")
    meta = {
        "name": cohort.name,
        "source": cohort.source,
        "expression_scale": cohort.expression_scale,
        "notes": list(cohort.notes),
    }
    with atomic_write(folder / DATASET_FILE) as handle:
        yaml.safe_dump(meta, handle, sort_keys=False, allow_unicode=True)
    return folder
