"""CLI commands that read profiles with a model: ``score``, ``explain`` and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncoresist import RESEARCH_USE_NOTICE
from oncoresist.cli.common import (
    EXIT_USAGE,
    SchedulerOption,
    domain_errors,
    err,
    out,
    rows_progress,
)


def score(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Profile sheet (CSV/TSV/Parquet/XLSX), canonical folder or cBioPortal study.",
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Scores file (.csv, .parquet, .xlsx).")],
    model: Annotated[
        str,
        typer.Option(
            help="models:/oncoresist@champion (default), "
            "models:/oncoresist/VERSION, or an exported folder."
        ),
    ] = ("models:/oncoresist@champion"),
    errors: Annotated[
        Path | None,
        typer.Option(help="Rejected rows file (default: <out>.errors.csv, written when needed)."),
    ] = None,
    drug: Annotated[
        str | None, typer.Option(help="Planned therapy for rows (or inputs) that name none.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv | parquet | xlsx (default: from --out).")
    ] = None,
    top_drivers: Annotated[
        int, typer.Option(min=0, max=20, help="Drivers listed per model and row.")
    ] = 3,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Rows per chunk when streaming CSV/Parquet sheets.")
    ] = 5000,
    expression_profile: Annotated[
        str | None, typer.Option(help="cBioPortal expression profile to use.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    engine: Annotated[
        str,
        typer.Option(help="local | dask (--out becomes a partitioned Parquet dataset folder)."),
    ] = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Score patient profiles: mechanism probabilities, time to resistance, drivers.

    Probabilities are P(mechanism | resistance occurs). Every input row gets a scored row or
    a line in the errors file (row number, column, value, reason); the run ends with
    `read N = scored S + rejected R`. CSV and Parquet profile sheets are streamed in chunks;
    XLSX/TSV sheets and folders are loaded whole. Outputs are written atomically.

    Exit codes: 0 all rows scored, 3 some rows rejected, 1 nothing scored, 2 usage error.
    """
    from oncoresist.pipelines.score import score_file

    err.print(RESEARCH_USE_NOTICE, style="dim")
    if fmt is not None and fmt not in {"csv", "parquet", "xlsx"}:
        err.print("--format must be csv, parquet or xlsx")
        raise typer.Exit(EXIT_USAGE)
    if engine not in {"local", "dask"} or (engine == "dask" and fmt not in {None, "parquet"}):
        err.print("--engine must be local or dask; --engine dask writes Parquet only")
        raise typer.Exit(EXIT_USAGE)
    if engine == "dask":  # same scoring per partition; docs/scale-out.md
        from functools import partial

        from oncoresist.scale.scoring import score_file_dask

        score_file = partial(score_file_dask, scheduler=scheduler)  # type: ignore[assignment]
    progress_cm, report = rows_progress(quiet)
    with domain_errors(), progress_cm:
        job = score_file(
            input_path,
            out_path,
            model=model,
            errors=errors,
            drug=drug,
            fmt=fmt,
            top_drivers=top_drivers,
            overwrite=overwrite,
            chunk_size=chunk_size,
            tracking_uri=tracking_uri,
            expression_profile=expression_profile,
            progress=report,
        )
    for note in job.notes:
        err.print(f"note: {note}")
    if job.errors is not None:
        err.print(f"Rejected rows written to {job.errors}")
    err.print(f"Model: {job.model}. Scores written to {job.out}")
    out.print(job.accounting())
    raise typer.Exit(job.exit_code)


# --------------------------------------------------------------------------------------
# explain / report (issue 5)
# --------------------------------------------------------------------------------------


def explain(
    input_path: Annotated[
        Path, typer.Option("--input", help="Profile sheet, canonical folder or cBioPortal study.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Drivers file (.csv, .parquet, .xlsx).")],
    model: Annotated[
        str, typer.Option(help="models:/oncoresist@champion, models:/NAME/VERSION or a folder.")
    ] = "models:/oncoresist@champion",
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Drivers per row and model.")] = 3,
    group: Annotated[
        bool, typer.Option(help="Sum features from one source (e.g. a gene) into one driver.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Write the top SHAP drivers per row and model as tidy rows.

    Columns: patient_id, treatment_id, model, rank, feature, label, value, contribution
    (log-odds for the predicted mechanism, log-time for time to resistance), sentence.
    """
    from oncoresist.pipelines.explain import explain_file

    err.print(RESEARCH_USE_NOTICE, style="dim")
    with domain_errors():
        job = explain_file(
            input_path,
            out_path,
            model=model,
            top_k=top_k,
            group=group,
            overwrite=overwrite,
            tracking_uri=tracking_uri,
        )
    for problem in job.rejected[:20]:
        err.print(f"rejected: {problem}")
    out.print(
        f"{job.n_drivers} drivers for {job.n_explained} rows written to {job.out} "
        f"(read {job.n_read}, rejected {job.n_rejected}; model {job.model})"
    )
    raise typer.Exit(job.exit_code)


def report(
    input_path: Annotated[
        Path, typer.Option("--input", help="Profile sheet, canonical folder or cBioPortal study.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="HTML report to write.")],
    model: Annotated[
        str, typer.Option(help="models:/oncoresist@champion, models:/NAME/VERSION or a folder.")
    ] = "models:/oncoresist@champion",
    patients: Annotated[
        str | None, typer.Option(help="Comma-separated patient ids (default: the first 20 rows).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing report.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Write one self-contained HTML review report (model card, cohort, one section per patient)."""
    from oncoresist.pipelines.report import report_file

    err.print(RESEARCH_USE_NOTICE, style="dim")
    chosen = [p for p in patients.split(",") if p.strip()] if patients else None
    with domain_errors():
        job = report_file(
            input_path,
            out_path,
            model=model,
            patients=chosen,
            overwrite=overwrite,
            tracking_uri=tracking_uri,
        )
    for note in job.notes:
        err.print(f"note: {note}")
    out.print(f"Report for {job.n_patients} patient(s) written to {job.out} (model {job.model})")
