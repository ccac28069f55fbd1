"""Command-line interface: the root ``oncoresist`` app; the commands live in ``cli_*`` modules.

The CLI modules are the only ones that import typer. Each command parses its options, calls
one library function and renders the result. Heavy libraries (mlflow, shap, xgboost) are
imported inside the commands so ``oncoresist --help`` stays fast.

- :mod:`oncoresist.cli.common`: consoles, exit codes, error handling, tables, progress
- :mod:`oncoresist.cli.data`: ``validate``, ``simulate``
- :mod:`oncoresist.cli.train`: ``train``, ``evaluate``, ``run``
- :mod:`oncoresist.cli.score`: ``score``, ``explain``, ``report``
- :mod:`oncoresist.cli.models`: the ``models`` sub-app
- :mod:`oncoresist.cli.benchmark`: the ``benchmark`` and ``datasets`` sub-apps

Exit codes (every command): 0 success, 1 data or domain error (nothing produced), 2 usage
error, 3 partial (some rows rejected, the rest produced).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from oncoresist import RESEARCH_USE_NOTICE, __version__
from oncoresist.cli.benchmark import benchmark_app, datasets_app
from oncoresist.cli.common import out
from oncoresist.cli.data import simulate, validate
from oncoresist.cli.models import models_app
from oncoresist.cli.score import explain, report, score
from oncoresist.cli.train import evaluate, run, train

__all__ = ["app", "main"]

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

# Registration order is the order of `oncoresist --help`.
for command in (validate, simulate, train, evaluate, score, explain, report, run):
    app.command()(command)
app.add_typer(models_app, name="models")
app.add_typer(benchmark_app, name="benchmark")
app.add_typer(datasets_app, name="datasets")


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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
