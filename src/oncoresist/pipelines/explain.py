"""Jobs behind `oncoresist explain` and `oncoresist report`: read → explain/render → write.

The CLI renders what these return; notebooks and tests call them directly. Outputs are
written atomically and never overwrite an existing file unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from oncoresist.exceptions import InputDataError, OutputExistsError, Problem
from oncoresist.explain.attributions import drivers_table, explain_features
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.io.files import atomic_write
from oncoresist.io.inputs import detect_input_form, read_cohort
from oncoresist.io.profiles import profiles_to_cohort
from oncoresist.io.tables import read_table, write_table
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.report.build import DEFAULT_MAX_PATIENTS, build_report
from oncoresist.tracking.bundles import resolve_bundle


@dataclass
class ExplainJob:
    """What `oncoresist explain` wrote."""

    out: Path
    n_read: int
    n_explained: int
    n_rejected: int
    n_drivers: int
    model: str
    rejected: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all rows explained, 3 partial, 1 nothing explained."""
        if self.n_explained == 0:
            return 1
        return 3 if self.n_rejected else 0


@dataclass
class ReportJob:
    """What `oncoresist report` wrote."""

    out: Path
    n_patients: int
    n_scored: int
    n_rejected: int
    model: str
    notes: list[str] = field(default_factory=list)


def _refuse_existing(out: Path, overwrite: bool) -> None:

    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")


def read_profiles(input_path: str | Path) -> tuple[pd.DataFrame, list[Problem], int]:
    """Annotated profile frame of any input, with the rows (or drugs) rejected and rows read."""

    path = Path(input_path)
    rejected: list[Problem] = []
    if detect_input_form(path) == "profiles":
        sheet = profiles_to_cohort(read_table(path), path.name)
        cohort, rejected, n_read = sheet.cohort, list(sheet.rejected), sheet.n_read
    else:
        cohort = read_cohort(path)
        n_read = len(cohort.treatments)
    annotated, problems = annotate_treatments(
        cohort.treatments, cohort.patients, errors="collect", source=path.name
    )
    rejected += problems
    if len(annotated) == 0:
        raise InputDataError(f"no row of {path} can be explained", rejected)
    profiles = cohort_to_profiles(cohort.with_tables(treatments=annotated.reset_index(drop=True)))
    return profiles, rejected, n_read


def explain_file(
    input_path: str | Path,
    out: str | Path,
    *,
    model: str = "models:/oncoresist@champion",
    top_k: int = 3,
    group: bool = False,
    overwrite: bool = False,
    tracking_uri: str | None = None,
) -> ExplainJob:
    """Write the top-``k`` drivers per row and model as tidy rows.

    Columns: patient_id, treatment_id, model (``mechanism:<predicted class>`` or
    ``time_to_resistance``), rank, feature, label, value, contribution (log-odds of the
    uncalibrated mechanism booster / log-time of the AFT model), sentence.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    InputDataError
        No row of the input can be read or explained.
    """

    out = Path(out)
    _refuse_existing(out, overwrite)
    bundle, used = resolve_bundle(model, tracking_uri)
    profiles, rejected, n_read = read_profiles(input_path)
    features = bundle.features(profiles)
    table = drivers_table(
        bundle, explain_features(bundle, features), profiles, k=top_k, group=group
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    n_rejected = len({(p.source, p.row) for p in rejected})
    return ExplainJob(out, n_read, len(profiles), n_rejected, len(table), used, rejected)


def report_file(
    input_path: str | Path,
    out: str | Path,
    *,
    model: str = "models:/oncoresist@champion",
    patients: list[str] | None = None,
    overwrite: bool = False,
    tracking_uri: str | None = None,
    max_patients: int | None = None,
) -> ReportJob:
    """Render the reviewer report of ``input_path`` into one self-contained HTML file.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    InputDataError
        Nothing could be scored, or a requested patient is not among the scored rows.
    """

    out = Path(out)
    _refuse_existing(out, overwrite)
    bundle, used = resolve_bundle(model, tracking_uri)
    html, data = build_report(
        bundle,
        input_path,
        patients=patients,
        max_patients=max_patients or DEFAULT_MAX_PATIENTS,
        reference=used,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as handle:
        handle.write(html)
    return ReportJob(
        out,
        len(data.patients),
        data.overview["n_scored"],
        data.overview["n_rejected"],
        used,
        data.notes,
    )
