"""Jobs behind the CLI commands: read → run library functions → write, with no rendering.

The CLI renders what these return; notebooks and tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.exceptions import Problem


def write_problems(problems: Sequence[Problem], path: str | Path) -> Path:
    """Write every problem as one CSV row (atomically)."""
    from oncoresist.io import write_table

    frame = pd.DataFrame(
        [p.as_dict() for p in problems],
        columns=["source", "row", "column", "value", "reason", "fix"],
    )
    path = Path(path)
    write_table(frame, path)
    return path


@dataclass
class ValidationReport:
    """What `oncoresist validate` shows: the input form, the cohort and its summary."""

    path: Path
    form: str
    cohort: Cohort
    summary: dict[str, Any]
    tables: pd.DataFrame


def validate_input(path: str | Path, expression_profile: str | None = None) -> ValidationReport:
    """Read any input form, validate it against the contract and summarise it.

    Raises
    ------
    InputDataError
        Listing every problem found (all tables, then broken links, then unknown drugs).
    """
    from oncoresist.io import detect_input_form, read_cohort
    from oncoresist.knowledge import annotate_treatments
    from oncoresist.summary import cohort_summary, table_summary

    path = Path(path)
    form = detect_input_form(path)
    cohort = read_cohort(path, expression_profile=expression_profile)
    if len(cohort.treatments):
        cohort = cohort.with_tables(
            treatments=annotate_treatments(cohort.treatments, cohort.patients)
        )
    return ValidationReport(
        path=path,
        form=form,
        cohort=cohort,
        summary=cohort_summary(cohort),
        tables=table_summary(cohort),
    )


@dataclass
class SimulationJob:
    """What `oncoresist simulate` wrote."""

    out_dir: Path
    n_treatments: int
    calibration: pd.DataFrame


def run_simulation(
    out_dir: str | Path,
    n: int = 5000,
    seed: int = 7,
    settings: str = "all",
    fmt: str = "canonical",
    rebiopsy_rate: float = 0.6,
    censoring: float = 0.3,
    unexplained_to_epigenetic: float | None = None,
    overwrite: bool = False,
) -> SimulationJob:
    """Simulate a cohort, write it, and return the simulated-vs-published table."""
    from oncoresist.simulate import simulate_cohort
    from oncoresist.simulate_output import calibration_table, write_simulation

    chosen = "all" if settings == "all" else [s.strip() for s in settings.split(",") if s.strip()]
    result = simulate_cohort(
        n=n,
        seed=seed,
        settings=chosen,
        rebiopsy_rate=rebiopsy_rate,
        censoring=censoring,
        unexplained_to_epigenetic=unexplained_to_epigenetic,
    )
    path = write_simulation(result, out_dir, fmt=fmt, overwrite=overwrite)
    return SimulationJob(Path(path), len(result.cohort.treatments), calibration_table(result))


def calibration_display(table: pd.DataFrame) -> pd.DataFrame:
    """The simulated-vs-published table, compact enough for a terminal.

    Each cell reads ``simulated / published``; cure-fraction settings show 12- and 60-month
    landmark PFS instead of the median.
    """
    from oncoresist.contract import MECHANISMS

    def pair(sim: float, pub: float, fmt: str) -> str:
        if sim != sim and pub != pub:
            return ""
        left = "—" if sim != sim else (fmt.format(sim) if np.isfinite(sim) else "NR")
        right = "—" if pub != pub else (fmt.format(pub) if np.isfinite(pub) else "NR")
        return f"{left} / {right}"

    rows = []
    for record in table.to_dict("records"):
        row = {
            "setting": record["setting"],
            "n": int(record["n"]),
            "censored %": f"{record['censored_pct']:.0f}",
        }
        if record.get("pfs_12m_published") == record.get("pfs_12m_published") and (
            record.get("pfs_12m_published") is not None
        ):
            row["PFS (months or landmark)"] = (
                "12m "
                + pair(record["pfs_12m_simulated"], record["pfs_12m_published"], "{:.2f}")
                + "; 60m "
                + pair(record["pfs_60m_simulated"], record["pfs_60m_published"], "{:.2f}")
            )
        else:
            row["PFS (months or landmark)"] = pair(
                record["median_pfs_simulated"], record["median_pfs_published"], "{:.1f}"
            )
        row["labelled"] = int(record["labelled"])
        for mechanism in MECHANISMS:
            row[mechanism] = pair(
                record.get(f"share_{mechanism}_simulated", np.nan),
                record.get(f"share_{mechanism}_published", np.nan),
                "{:.2f}",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def train_and_report(
    data: str | Path,
    config: str | Path | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    quiet: bool = False,
    console: Any = None,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """Load the config, train with progress bars (unless ``quiet``) and return the result."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from oncoresist.config import load_config
    from oncoresist.training import train

    settings = load_config(config)
    if overrides:
        settings = settings.with_overrides(**overrides)
    if quiet or console is None:
        return train(settings, data, experiment=experiment, tracking_uri=tracking_uri)
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def report(stage: str, fraction: float | None = None) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=1.0)
        if fraction is not None:
            progress.update(tasks[stage], completed=fraction)

    with progress:
        return train(
            settings, data, experiment=experiment, tracking_uri=tracking_uri, report=report
        )
