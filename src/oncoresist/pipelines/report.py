"""The `oncoresist report` job: read and score an input, render the reviewer report, write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oncoresist.exceptions import InputDataError, rejected_row_count
from oncoresist.io.files import atomic_write, make_folder, refuse_existing
from oncoresist.io.inputs import read_input
from oncoresist.report.build import DEFAULT_MAX_PATIENTS, build_report
from oncoresist.scoring.engine import score_cohort
from oncoresist.tracking.resolve import resolve_bundle


@dataclass
class ReportJob:
    """What `oncoresist report` wrote."""

    out: Path
    n_patients: int
    n_scored: int
    n_rejected: int
    model: str
    notes: list[str] = field(default_factory=list)


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
    refuse_existing(out, overwrite)
    bundle, used = resolve_bundle(model, tracking_uri)
    batch = read_input(input_path)
    scores, problems = score_cohort(
        bundle,
        batch.cohort,
        source=batch.source,
        row_of_treatment=batch.row_of_treatment,
        top_drivers=0,
    )
    rejected = batch.rejected + problems
    if len(scores) == 0:
        raise InputDataError(f"no row of {input_path} could be scored", rejected)
    html, data = build_report(
        bundle,
        batch.cohort,
        scores,
        n_read=batch.n_read,
        n_rejected=rejected_row_count(rejected),
        patients=patients,
        max_patients=max_patients or DEFAULT_MAX_PATIENTS,
        reference=used,
    )
    make_folder(out.parent)
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
