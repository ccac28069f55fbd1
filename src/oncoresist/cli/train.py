"""CLI commands that train and evaluate models: ``train``, ``evaluate``, the main job ``run``."""

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
    frame_table,
    out,
)
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED


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
    scheduler: SchedulerOption = None,
) -> None:
    """Train both models with baselines, evaluate, and log everything to MLflow."""
    from oncoresist.cli.summaries import metric_summaries, training_progress
    from oncoresist.models.config import load_config
    from oncoresist.pipelines.train import train as train_job

    if engine not in {"local", "dask"}:
        err.print("--engine must be local or dask")
        raise typer.Exit(EXIT_USAGE)
    if engine == "dask":  # the same run; every XGBoost fit goes to xgboost.dask
        from functools import partial

        from oncoresist.scale.training import train_dask

        train_job = partial(train_dask, scheduler=scheduler)

    with domain_errors():
        settings = load_config(config)
        display, report = training_progress(err, quiet)
        with display:
            result = train_job(
                settings, data, experiment=experiment, tracking_uri=tracking_uri, report=report
            )
    import pandas as pd

    out.print(frame_table(result.comparison, title="Test-split metrics (95% CI)"))
    for title, frame in metric_summaries(result.metrics):
        out.print(frame_table(frame, title=title))
    out.print(
        frame_table(
            pd.DataFrame({"stage": list(result.timings), "seconds": list(result.timings.values())}),
            title="Wall time per stage",
            floatfmt="{:.1f}",
        )
    )
    out.print(
        f"MLflow run {result.run_id}; registered {result.model_name} version {result.model_version}"
    )


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
    from oncoresist.cli.summaries import metric_summaries
    from oncoresist.pipelines.evaluate import evaluate_model

    with domain_errors():
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
        frame_table(
            job.comparison,
            title=f"{job.model} on {data} ({job.n_treatments} treatments, "
            f"{job.n_labelled} with a mechanism label)",
        )
    )
    for title, frame in metric_summaries(job.metrics):
        out.print(frame_table(frame, title=title))
    out.print(f"MLflow evaluation run {job.run_id} (model version {job.model_version or '?'})")


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
    from oncoresist.cli.run import run_main_job

    err.print(RESEARCH_USE_NOTICE)
    with domain_errors():
        run_main_job(
            out_dir=out_dir, n=n, seed=seed, config=config, tracking_uri=tracking_uri, console=out
        )
