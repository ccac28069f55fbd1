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
from pathlib import Path
from typing import Literal

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
from oncoresist.io.profiles import (
    read_profile_sheet,
)
from oncoresist.io.tables import TABLE_EXTENSIONS

__all__ = [
    "InputForm",
    "detect_input_form",
    "read_cohort",
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
    if expression_profile is not None and form != "cbioportal":
        raise InputDataError(
            f"{path}: expression_profile applies to cBioPortal studies only",
            [Problem(str(path), None, None, expression_profile,
                     f"this input is a {form} input with one expression table",
                     "drop --expression-profile")],
        )  # fmt: skip
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
