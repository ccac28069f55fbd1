"""The job behind `oncoresist validate`: read any input form, check it, summarise it.

The CLI renders what these return; notebooks and tests call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.contract.summary import cohort_summary, table_summary
from oncoresist.io.inputs import detect_input_form, read_cohort
from oncoresist.knowledge.annotate import annotate_treatments


@dataclass
class ValidationReport:
    """What `oncoresist validate` shows: the input form, the cohort and its summary."""

    path: Path
    form: str
    cohort: Cohort
    summary: dict[str, Any]
    tables: pd.DataFrame


def validate_input(path: str | Path, expression_profile: str | None = None) -> ValidationReport:
    """Read any input form, validate it against the contract and summarise it.

    Raises
    ------
    InputDataError
        Listing every problem found (all tables, then broken links, then unknown drugs).
    """
    path = Path(path)
    form = detect_input_form(path)
    cohort = read_cohort(path, expression_profile=expression_profile)
    if len(cohort.treatments):
        cohort = cohort.with_tables(
            treatments=annotate_treatments(cohort.treatments, cohort.patients)
        )
    return ValidationReport(
        path=path,
        form=form,
        cohort=cohort,
        summary=cohort_summary(cohort),
        tables=table_summary(cohort),
    )
