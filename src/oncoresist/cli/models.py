"""The ``models`` sub-app: list, promote and export registered models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncoresist.cli.common import domain_errors, frame_table, out

models_app = typer.Typer(help="Registered models: list, promote, export.", no_args_is_help=True)


@models_app.command("list")
def models_list(
    name: Annotated[str, typer.Option(help="Registered model name.")] = "oncoresist",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """List registered versions with aliases and key metrics."""
    from oncoresist.tracking.registry import list_versions

    with domain_errors():
        frame = list_versions(name, uri=tracking_uri)
    if frame.empty:
        out.print(f"No registered versions of {name!r}. Train one with `oncoresist train`.")
        return
    frame["created"] = frame["created"].astype(str).str.slice(0, 19)
    frame["run_id"] = frame["run_id"].str.slice(0, 8)
    out.print(frame_table(frame, title=f"Registered model {name}"))


@models_app.command("promote")
def models_promote(
    version: Annotated[int, typer.Argument(help="Version to promote.")],
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    name: Annotated[str, typer.Option(help="Registered model name.")] = "oncoresist",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Move an alias (default ``champion``) to a registered version."""
    from oncoresist.tracking.registry import promote

    with domain_errors():
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
    from oncoresist.tracking.registry import export_bundle

    with domain_errors():
        path = export_bundle(reference, dest, uri=tracking_uri)
    out.print(f"Exported {reference} to {path}")
