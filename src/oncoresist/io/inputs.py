"""Readers and writers: one entry point per input form, and the detection between them.

Three input forms map into the canonical tables of :mod:`oncoresist.contract`:

* a **canonical folder** (``patients.csv`` ... plus ``dataset.yaml``):
  :func:`read_canonical_folder` / :func:`write_canonical_folder`;
* a **cBioPortal study folder**: :func:`read_cbioportal_study` /
  :func:`write_cbioportal_study`;
* a **profile sheet** (one file, one row per patient-treatment): :func:`read_profile_sheet`.

:func:`read_cohort` detects the form and dispatches. Every writer is atomic (temporary file
in the same folder, fsync, rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.canonical import (
    is_canonical_folder,
    read_canonical_folder,
)
from oncoresist.io.cbioportal.study import (
    is_cbioportal_study,
    read_cbioportal_study,
)
from oncoresist.io.profiles import iter_profile_chunks, profiles_to_cohort, read_profile_sheet
from oncoresist.io.tables import TABLE_EXTENSIONS, check_delimiter, read_table

__all__ = [
    "STREAMED_SHEETS",
    "InputBatch",
    "InputForm",
    "detect_input_form",
    "iter_input",
    "no_rows_error",
    "planned_treatments",
    "read_cohort",
    "read_input",
    "with_planned_drug",
]

InputForm = Literal["canonical", "cbioportal", "profiles"]
_SHEET_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".xlsx")


def detect_input_form(path: str | os.PathLike[str]) -> InputForm:
    """Tell which input form ``path`` is.

    A folder with a ``patients`` table file is ``"canonical"``; a folder with
    ``meta_study.txt`` or ``data_clinical_sample.txt`` is ``"cbioportal"``; a single table
    file is a ``"profiles"`` sheet.

    Raises
    ------
    InputDataError
        When the path does not exist or matches none (or both) of the forms.
    """
    target = Path(path)
    name = str(target)
    if not target.exists():
        raise InputDataError(
            f"{name} not found",
            [Problem(name, None, None, name, "no such file or folder", "check the path")],
        )
    if target.is_dir():
        canonical, cbio = is_canonical_folder(target), is_cbioportal_study(target)
        if canonical and not cbio:
            return "canonical"
        if cbio and not canonical:
            return "cbioportal"
        reason = (
            "the folder looks like both a canonical folder and a cBioPortal study"
            if canonical
            else "the folder holds neither patients.csv/.tsv/.parquet nor a cBioPortal "
            "data_clinical_sample.txt / meta_study.txt"
        )
        raise InputDataError(
            f"{name}: cannot tell the input form",
            [Problem(name, None, None, "", reason,
                     "give a canonical folder (patients.csv, samples.csv, treatments.csv ...), "
                     "a cBioPortal study folder, or one profile-sheet file")],
        )  # fmt: skip
    if target.suffix.lower() in _SHEET_EXTENSIONS:
        return "profiles"
    raise InputDataError(
        f"{name}: cannot tell the input form",
        [Problem(name, None, None, target.suffix, "a single file must be a profile sheet",
                 f"use one of {', '.join(TABLE_EXTENSIONS)}")],
    )  # fmt: skip


def _check_expression_profile(
    path: str | os.PathLike[str], form: InputForm, expression_profile: str | None
) -> None:
    if expression_profile is not None and form != "cbioportal":
        raise InputDataError(
            f"{path}: expression_profile applies to cBioPortal studies only",
            [Problem(str(path), None, None, expression_profile,
                     f"this input is a {form} input with one expression table",
                     "drop --expression-profile")],
        )  # fmt: skip


def read_cohort(path: str | os.PathLike[str], expression_profile: str | None = None) -> Cohort:
    """Read any input form into a validated :class:`~oncoresist.contract.Cohort`.

    Parameters
    ----------
    path : path-like
        Canonical folder, cBioPortal study folder, or profile-sheet file.
    expression_profile : str, optional
        cBioPortal only: the expression profile to use (file name or stable id).

    Raises
    ------
    InputDataError
        When the form cannot be told, or the data break the contract. For a profile sheet
        any rejected row raises here, listing them all; use :func:`read_profile_sheet` to
        keep the good rows and get the rejected ones back.
    """
    form = detect_input_form(path)
    _check_expression_profile(path, form, expression_profile)
    if form == "canonical":
        return read_canonical_folder(path)
    if form == "cbioportal":
        return read_cbioportal_study(path, expression_profile=expression_profile)
    sheet = read_profile_sheet(path)
    if sheet.rejected:
        raise InputDataError(
            f"{Path(path).name}: {len(sheet.rejected_rows)} of {sheet.n_read} row(s) rejected",
            sheet.rejected,
        )
    return sheet.cohort


def planned_treatments(cohort: Cohort, drug: str | None, path: Path) -> Cohort:
    """One planned treatment per patient when the input has no treatment table (``--drug``)."""
    if not drug:
        raise InputDataError(
            f"{path} has no treatments",
            [
                Problem(
                    path.name,
                    None,
                    "drug",
                    "",
                    "the input names no therapy",
                    "pass the planned therapy for every patient with --drug NAME",
                )
            ],
        )
    patients = cohort.patients["patient_id"].astype(str)
    treatments = pd.DataFrame(
        {
            "patient_id": patients.to_numpy(),
            "treatment_id": (patients + "-planned").to_numpy(),
            "drug": drug,
            "line_number": np.ones(len(patients)),
        }
    )
    return cohort.with_tables(treatments=treatments)


def with_planned_drug(frame: pd.DataFrame, drug: str | None) -> pd.DataFrame:
    """Sheet rows with ``drug`` filled in where the sheet names none (``--drug``)."""
    if drug is None:
        return frame
    frame = frame.copy()
    if "drug" not in frame.columns:
        frame["drug"] = drug
    else:
        empty = frame["drug"].isna() | frame["drug"].astype(str).str.strip().eq("")
        frame.loc[empty, "drug"] = drug
    if "line_number" not in frame.columns:
        frame["line_number"] = "1"
    return frame


@dataclass
class InputBatch:
    """Rows of an input on their way to scoring: the cohort read, and what was rejected.

    Attributes
    ----------
    cohort : Cohort
        Validated canonical tables of the accepted rows (treatments not yet annotated).
    rejected : list of Problem
        Rows (or drugs) rejected while reading, located as the user sees them.
    n_read : int
        Input rows (treatments) this batch covers, accepted or not.
    source : str
        Input name used in problem reports.
    row_of_treatment : dict, optional
        Sheet row number of each treatment id (profile sheets only).
    notes : list of str
        Warnings to show the user once (e.g. the expression profile chosen).
    """

    cohort: Cohort
    rejected: list[Problem]
    n_read: int
    source: str
    row_of_treatment: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)


#: Sheets streamed in chunks; TSV and XLSX sheets are read whole.
STREAMED_SHEETS = (".csv", ".parquet")


def iter_input(
    path: str | os.PathLike[str],
    *,
    chunk_size: int | None = None,
    drug: str | None = None,
    expression_profile: str | None = None,
) -> Iterator[InputBatch]:
    """Read any input form as batches: the one input-loading path of every command.

    A profile sheet in CSV or Parquet is streamed in chunks of ``chunk_size`` rows (one batch
    when ``chunk_size`` is None); other sheets and canonical or cBioPortal folders are one
    batch. Bad sheet rows are rejected one by one (a repeated treatment id in a later chunk
    too); a folder's tables are validated as a whole.

    Parameters
    ----------
    path : path-like
        Profile sheet, canonical folder or cBioPortal study.
    chunk_size : int, optional
        Rows per batch for streamed sheets.
    drug : str, optional
        The planned therapy: fills empty ``drug`` cells of a sheet, and gives every patient of
        a folder without treatments one planned treatment (``--drug``).
    expression_profile : str, optional
        cBioPortal only: the expression profile to use.

    Raises
    ------
    InputDataError
        The input as a whole is unusable: not found, unknown form, wrong separator, a header
        but no rows, a missing required column, a folder breaking the contract, or a folder
        without treatments and no ``drug``.
    """
    path = Path(path)
    form = detect_input_form(path)
    if form != "profiles":
        cohort = read_cohort(path, expression_profile=expression_profile)
        if len(cohort.treatments) == 0:
            cohort = planned_treatments(cohort, drug, path)
        yield InputBatch(cohort, [], len(cohort.treatments), path.name, None, list(cohort.notes))
        return
    _check_expression_profile(path, form, expression_profile)
    check_delimiter(path)
    if chunk_size is not None and path.suffix.lower() in STREAMED_SHEETS:
        chunks: Iterable[pd.DataFrame] = iter_profile_chunks(path, chunk_size)
    else:
        chunks = [read_table(path)]
    seen: dict[str, int] = {}
    any_rows = False
    for chunk in chunks:
        any_rows = any_rows or len(chunk) > 0
        sheet = profiles_to_cohort(with_planned_drug(chunk, drug), path.name, seen_treatments=seen)
        yield InputBatch(
            sheet.cohort,
            list(sheet.rejected),
            sheet.n_read,
            path.name,
            sheet.row_of_treatment,
            list(sheet.warnings_),
        )
    if not any_rows:
        raise no_rows_error(path.name)


def no_rows_error(source: str) -> InputDataError:
    """The error of a sheet with a header but no rows (streamed here or partitioned by Dask)."""
    return InputDataError(
        f"{source} has a header but no rows",
        [Problem(source, None, None, "", "no data rows", "add one row per patient-treatment")],
    )


def read_input(
    path: str | os.PathLike[str],
    *,
    drug: str | None = None,
    expression_profile: str | None = None,
) -> InputBatch:
    """Read a whole input as one :class:`InputBatch` (see :func:`iter_input`)."""
    (batch,) = iter_input(path, drug=drug, expression_profile=expression_profile)
    return batch
