"""The `oncoresist score` job: input file or folder → scores file + errors file + accounting.

Profile sheets in CSV or Parquet are streamed in chunks (memory stays flat as the input
grows); XLSX/TSV sheets and canonical or cBioPortal folders are loaded whole. Outputs are
written to a temporary file in the destination folder and renamed at the end, so an
interrupted run leaves no partial file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.exceptions import Problem, rejected_row_count
from oncoresist.io.files import make_folder, refuse_existing
from oncoresist.io.inputs import iter_input
from oncoresist.io.scores import ChunkWriter, atomic_path, terminate_as_interrupt, write_problems
from oncoresist.scoring.engine import ScoreResult, score_cohort
from oncoresist.tracking.bundles import DEFAULT_MODEL
from oncoresist.tracking.resolve import resolve_bundle

FORMATS = ("csv", "parquet", "xlsx")


@dataclass
class ScoreJob:
    """What a scoring run produced."""

    out: Path
    errors: Path | None
    n_read: int
    n_scored: int
    n_rejected: int
    model: str
    notes: list[str] = field(default_factory=list)

    def accounting(self) -> str:
        """``read N = scored S + rejected R``."""
        return f"read {self.n_read} = scored {self.n_scored} + rejected {self.n_rejected}"

    @property
    def exit_code(self) -> int:
        """0 all scored, 3 partial, 1 nothing scored."""
        if self.n_scored == 0:
            return 1
        return 3 if self.n_rejected else 0


def output_format(out: Path, fmt: str | None) -> str:
    """The output format: explicit, else from the extension, else CSV."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
        return fmt
    suffix = out.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "csv"


def score_file(
    input_path: str | Path,
    out: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    errors: str | Path | None = None,
    drug: str | None = None,
    fmt: str | None = None,
    top_drivers: int = 3,
    overwrite: bool = False,
    chunk_size: int = 5000,
    tracking_uri: str | None = None,
    expression_profile: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> ScoreJob:
    """Score an input (profile sheet, canonical folder or cBioPortal study) into ``out``.

    Rejected rows (row number, column, value, reason) go to ``errors`` (default: next to
    ``out`` as ``<name>.errors.csv``), written only when something was rejected.

    Raises
    ------
    OutputExistsError
        ``out`` or ``errors`` exists and ``overwrite`` is false.
    InputDataError
        The input as a whole is unusable (missing required column, empty file...).
    ModelLoadError
        The model reference does not resolve.
    """
    input_path, out = Path(input_path), Path(out)
    fmt = output_format(out, fmt)
    errors_path = Path(errors) if errors else out.with_name(out.stem + ".errors.csv")
    for target in (out, errors_path):
        refuse_existing(target, overwrite)
    make_folder(out.parent)
    bundle, model_used = resolve_bundle(model, tracking_uri)
    rejected: list[Problem] = []
    notes: list[str] = []
    n_read = n_scored = 0
    columns: list[str] = ["patient_id", "treatment_id"]
    with terminate_as_interrupt() as termination, atomic_path(out) as tmp:
        writer = ChunkWriter(tmp, fmt)
        try:
            for result in _results(
                bundle, input_path, drug, top_drivers, chunk_size, expression_profile
            ):
                if len(result.scores):
                    writer.write(result.scores)
                    columns = list(result.scores.columns)
                termination.check()
                n_read += result.n_read
                n_scored += result.n_scored
                rejected += result.rejected
                notes += [n for n in result.notes if n not in notes]
                if progress is not None:
                    progress(n_read, None)
            writer.close(columns)
        except BaseException:
            writer.abort()
            raise
        termination.check()  # last chance before any output is renamed into place
        errors_written = None
        if rejected:
            # renamed just before the scores, so a finished scores file always has its errors
            errors_written = write_problems(rejected, errors_path)
    n_rejected = rejected_row_count(rejected)
    if n_scored + n_rejected != n_read:
        raise RuntimeError(
            f"row accounting failed (read {n_read}, scored {n_scored}, "
            f"rejected {n_rejected}); please report this bug"
        )
    return ScoreJob(out, errors_written, n_read, n_scored, n_rejected, model_used, notes)


def _results(
    bundle: Any,
    path: Path,
    drug: str | None,
    top_drivers: int,
    chunk_size: int,
    expression_profile: str | None,
) -> Iterator[ScoreResult]:
    scored_at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    for batch in iter_input(
        path, chunk_size=chunk_size, drug=drug, expression_profile=expression_profile
    ):
        scores, problems = score_cohort(
            bundle,
            batch.cohort,
            source=batch.source,
            row_of_treatment=batch.row_of_treatment,
            top_drivers=top_drivers,
            scored_at=scored_at,
        )
        yield ScoreResult(scores, batch.rejected + problems, batch.n_read, notes=batch.notes)
