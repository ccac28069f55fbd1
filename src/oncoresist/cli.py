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
)
models_app = typer.Typer(help="Registered models: list, promote, export.", no_args_is_help=True)
app.add_typer(models_app, name="models")

out = Console()
err = Console(stderr=True)


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
        bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                           help="Show the version and exit.")
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
    path: Annotated[Path, typer.Argument(help="Canonical folder, cBioPortal study folder or "
                                              "profile sheet (CSV/TSV/Parquet/XLSX).")],
    expression_profile: Annotated[
        str | None, typer.Option(help="cBioPortal expression profile to use (file name or "
                                      "stable id); default: the documented preference.")
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
    n: Annotated[int, typer.Option("--n", min=1, help="Patient-treatments to simulate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 7,
    settings: Annotated[str, typer.Option(help="'all' or comma-separated setting ids.")] = "all",
    fmt: Annotated[str, typer.Option("--format", help="canonical | cbioportal | both")] = (
        "canonical"
    ),
    rebiopsy_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of progressions "
                                                 "re-biopsied (labelled).")] = 0.6,
    censoring: Annotated[float, typer.Option(min=0.0, max=0.95, help="Target censored "
                                             "fraction.")] = 0.3,
    unexplained_to_epigenetic: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of 'no mechanism found' "
                                   "assigned to epigenetic (default: the domain file's).")
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
            out_dir, n=n, seed=seed, settings=settings, fmt=fmt, rebiopsy_rate=rebiopsy_rate,
            censoring=censoring, unexplained_to_epigenetic=unexplained_to_epigenetic,
            overwrite=overwrite,
        )
    out.print(_frame_table(result.calibration, title="Simulated vs published, per setting"))
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
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: "
                                                     "./mlruns as absolute sqlite).")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bars.")] = False,
) -> None:
    """Train both models with baselines, evaluate, and log everything to MLflow."""
    from oncoresist.jobs import train_and_report

    with _domain_errors():
        result = train_and_report(data, config, experiment=experiment,
                                  tracking_uri=tracking_uri, quiet=quiet, console=err)
    out.print(_frame_table(result.comparison, title="Test-split metrics (95% CI)"))
    out.print(f"MLflow run {result.run_id}; registered "
              f"{result.model_name} version {result.model_version}")


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
    n: Annotated[int, typer.Option("--n", min=200, help="Patient-treatments to simulate.")] = (
        5000
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
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
        run_main_job(out_dir=out_dir, n=n, seed=seed, config=config,
                     tracking_uri=tracking_uri, console=out)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
