"""CLI commands on cohorts: ``validate`` an input and ``simulate`` a cohort."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from oncoresist.cli.common import EXIT_USAGE, domain_errors, err, frame_table, out
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED


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
    from oncoresist.pipelines.validate import validate_input

    with domain_errors(problems):
        report = validate_input(path, expression_profile=expression_profile)
    _print_cohort_report(report)


def _print_cohort_report(report: Any) -> None:
    import pandas as pd

    summary = report.summary
    out.print(f"[bold green]Valid[/] {report.form} input: {report.path}")
    out.print(frame_table(report.tables, title="Tables", floatfmt="{:.0f}"))
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
    out.print(frame_table(facts, title="Cohort"))
    for note in summary["notes"]:
        out.print(f"[yellow]note:[/] {note}")


# --------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------


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
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No tables (errors are still shown).")
    ] = False,
) -> None:
    """Simulate a cohort from published trial figures (with hidden ground truth).

    The data are simulated, not real patients.
    """
    if fmt not in {"canonical", "cbioportal", "both"}:
        err.print("--format must be canonical, cbioportal or both")
        raise typer.Exit(EXIT_USAGE)
    from oncoresist.pipelines.simulate import run_simulation

    with domain_errors():
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
    if not quiet:
        from oncoresist.cli.summaries import calibration_display

        out.print(
            frame_table(
                calibration_display(result.calibration),
                title="Simulated / published, per setting (mechanism shares among labelled)",
            )
        )
    out.print(f"Wrote {result.n_treatments} simulated treatments to {result.out_dir}")
