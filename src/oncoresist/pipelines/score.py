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

import numpy as np
import pandas as pd

from oncoresist.exceptions import InputDataError, OutputExistsError, Problem
from oncoresist.io.inputs import detect_input_form, read_cohort
from oncoresist.io.profiles import iter_profile_chunks
from oncoresist.io.scores import ChunkWriter as _ChunkWriter
from oncoresist.io.scores import atomic_path as _atomic_path
from oncoresist.io.scores import for_people
from oncoresist.io.scores import terminate_as_interrupt as _terminate_as_interrupt
from oncoresist.io.tables import DELIMITED, read_table
from oncoresist.scoring.engine import ScoreResult, problems_frame, score_cohort, score_profiles
from oncoresist.tracking.bundles import DEFAULT_MODEL, resolve_bundle

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
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    bundle, model_used = resolve_bundle(model, tracking_uri)
    form = detect_input_form(input_path)
    rejected: list[Problem] = []
    notes: list[str] = []
    n_read = n_scored = 0
    columns: list[str] = ["patient_id", "treatment_id"]
    with _terminate_as_interrupt() as termination, _atomic_path(out) as tmp:
        writer = _ChunkWriter(tmp, fmt)
        try:
            for result in _results(
                bundle, input_path, form, drug, top_drivers, chunk_size, expression_profile
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
            with _atomic_path(errors_path) as errors_tmp:
                for_people(problems_frame(rejected)).to_csv(errors_tmp, index=False)
            errors_written = errors_path
    n_rejected = len({(p.source, p.row) for p in rejected})
    if n_scored + n_rejected != n_read:
        raise RuntimeError(
            f"row accounting failed (read {n_read}, scored {n_scored}, "
            f"rejected {n_rejected}); please report this bug"
        )
    return ScoreJob(out, errors_written, n_read, n_scored, n_rejected, model_used, notes)


def _results(
    bundle: Any,
    path: Path,
    form: str,
    drug: str | None,
    top_drivers: int,
    chunk_size: int,
    expression_profile: str | None,
) -> Iterator[ScoreResult]:

    scored_at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    if form == "profiles":
        seen: dict[str, int] = {}
        _check_delimiter(path)
        if path.suffix.lower() in {".csv", ".parquet"}:
            chunks: Iterator[pd.DataFrame] = iter_profile_chunks(path, chunk_size)
        else:
            chunks = iter([read_table(path)])
        any_rows = False
        for chunk in chunks:
            any_rows = any_rows or len(chunk) > 0
            yield score_profiles(
                bundle,
                chunk,
                source=path.name,
                drug=drug,
                top_drivers=top_drivers,
                seen_treatments=seen,
                scored_at=scored_at,
            )
        if not any_rows:
            raise InputDataError(
                f"{path.name} has a header but no rows",
                [
                    Problem(
                        path.name,
                        None,
                        None,
                        "",
                        "no data rows",
                        "add one row per patient-treatment",
                    )
                ],
            )
        return
    cohort = read_cohort(path, expression_profile=expression_profile)
    if len(cohort.treatments) == 0:
        cohort = _planned_treatments(cohort, drug, path)
    scores, problems = score_cohort(
        bundle, cohort, source=path.name, top_drivers=top_drivers, scored_at=scored_at
    )
    yield ScoreResult(scores, problems, n_read=len(cohort.treatments), notes=cohort.notes)


def _check_delimiter(path: Path) -> None:
    """Fail with a clear reason when a delimited sheet's header uses another separator.

    Read with the wrong separator, the header is one long column and every required column
    looks missing; naming the separator found is the useful message.
    """

    expected = DELIMITED.get(path.suffix.lower())
    if expected is None or not path.is_file():
        return
    with path.open("rb") as handle:
        header = handle.readline(65536).decode("utf-8", errors="replace")
    if expected in header:
        return
    for found, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), (",", "','")):
        if found != expected and header.count(found) >= 2:
            raise InputDataError(
                f"{path.name} looks separated by {name}, not {expected!r}",
                [
                    Problem(
                        path.name,
                        1,
                        None,
                        header.strip()[:60],
                        f"the header is separated by {name}",
                        "save the sheet as comma-separated CSV (.csv) or tab-separated (.tsv)",
                    )
                ],
            )


def _planned_treatments(cohort: Any, drug: str | None, path: Path) -> Any:
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
