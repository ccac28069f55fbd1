"""What every CLI command shares: consoles, exit codes, error handling, tables, progress.

Only typer and rich are imported at module level so ``oncoresist --help`` stays fast.
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

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

# Wide tables must stay readable when the output goes to a file or a CI log (no terminal).
out = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180)


#: ``--scheduler`` of the commands that run on Dask (score, train).
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Dask scheduler tcp://HOST:8786 (default: a local cluster)."),
]


@contextmanager
def domain_errors(problems_file: Path | None = None) -> Iterator[None]:
    """Turn oncoresist's typed errors into a message and an exit code.

    An existing output without ``--overwrite`` is a usage error (2); anything else oncoresist
    raises on purpose is a data error (1).
    """
    from oncoresist.exceptions import InputDataError, OncoresistError, OutputExistsError

    try:
        yield
    except InputDataError as error:
        if problems_file is not None and error.problems:
            from oncoresist.io.scores import write_problems

            write_problems(error.problems, problems_file)
            err.print(f"All {len(error.problems)} problem(s) written to {problems_file}")
        err.print(f"[bold red]Error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_DATA_ERROR) from None
    except OutputExistsError as error:
        err.print(f"[bold red]Error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except OncoresistError as error:
        err.print(f"[bold red]Error:[/] {error}", markup=True, highlight=False)
        raise typer.Exit(EXIT_DATA_ERROR) from None


def frame_table(frame: Any, title: str | None = None, floatfmt: str = "{:.3f}") -> Table:
    """A rich table of a small frame (NaN shown empty, floats by ``floatfmt``)."""
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


def rows_progress(quiet: bool) -> tuple[Any, Any]:
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
