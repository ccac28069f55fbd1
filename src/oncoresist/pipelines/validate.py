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
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oncoresist.contract import MECHANISMS, Cohort
from oncoresist.contract.summary import cohort_summary, table_summary
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED
from oncoresist.exceptions import Problem
from oncoresist.io.inputs import detect_input_form, read_cohort
from oncoresist.io.tables import write_table
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.models.config import load_config
from oncoresist.paths import demo_dir
from oncoresist.pipelines.explain import report_file
from oncoresist.pipelines.score import score_file
from oncoresist.pipelines.train import train
from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.output import calibration_table, write_simulation
from oncoresist.tracking.registry import export_bundle, promote


def write_problems(problems: Sequence[Problem], path: str | Path) -> Path:
    """Write every problem as one CSV row (atomically)."""

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
    n: int = DEFAULT_COHORT_SIZE,
    seed: int = DEFAULT_SEED,
    settings: str = "all",
    fmt: str = "canonical",
    rebiopsy_rate: float = 0.6,
    censoring: float = 0.3,
    unexplained_to_epigenetic: float | None = None,
    overwrite: bool = False,
) -> SimulationJob:
    """Simulate a cohort, write it, and return the simulated-vs-published table."""

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


def run_main_job(
    out_dir: str | Path = "data/processed",
    n: int = DEFAULT_COHORT_SIZE,
    seed: int = DEFAULT_SEED,
    config: str | Path | None = "configs/default.yaml",
    tracking_uri: str | None = None,
    console: Any = None,
    reports_dir: str | Path = "reports",
    models_dir: str | Path = "models",
) -> dict[str, Any]:
    """The main job: validate demo → simulate → train → promote → export → score → report.

    Returns what each step produced (paths, run id, version, accounting).
    """


    console = console or Console()
    done: dict[str, Any] = {}

    def step(title: str) -> None:
        console.rule(f"[bold]{title}")

    step("1. Validate the demo inputs")
    for path in (demo_dir() / "canonical", demo_dir() / "profiles.csv"):
        report = validate_input(path)
        summary = report.summary
        console.print(
            f"[green]valid[/] {report.form}: {path} — {summary['patients']} patients, "
            f"{summary['treatments']} treatments, {summary['expressed_genes']} genes"
        )

    step(f"2. Simulate the default cohort ({n:,} patient-treatments, seed {seed})")
    sim = run_simulation(out_dir, n=n, seed=seed, overwrite=True)
    console.print(
        _table(
            calibration_display(sim.calibration),
            "Simulated / published per setting (mechanism shares among labelled)",
        )
    )
    console.print(f"Simulated data written to {sim.out_dir} (simulated, not real patients)")
    done["simulation"] = sim.out_dir

    step("3. Train, evaluate and register")
    result = train_and_report(sim.out_dir, config, tracking_uri=tracking_uri, console=console)
    console.print(_table(result.comparison, "Test-split metrics (95% CI)"))
    for title, frame in metric_summaries(result.metrics):
        console.print(_table(frame, title))
    done.update(run_id=result.run_id, version=result.model_version)

    step("4. Promote to champion and export")
    name = result.model_name or "oncoresist"
    promote(result.model_version, alias="champion", name=name, uri=tracking_uri)
    exported = export_bundle(
        f"models:/{name}@champion", Path(models_dir) / f"{name}-champion", uri=tracking_uri
    )
    console.print(f"{name}@champion -> version {result.model_version}; exported to {exported}")
    done["exported"] = exported

    step("5. Score the demo profiles")
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    scored = score_file(
        demo_dir() / "profiles.csv",
        reports / "demo_scores.csv",
        model=str(exported),
        overwrite=True,
    )
    console.print(scored.accounting())
    console.print(f"Scores written to {scored.out}")
    done["scores"] = scored.out

    step("6. Write the review report")

    report = report_file(
        demo_dir() / "profiles.csv", reports / "demo.html", model=str(exported), overwrite=True
    )
    console.print(f"Review report written to {report.out}")
    done["report"] = report.out
    return done


#: Summary tables printed after training or evaluation: title → metric-name test.
_SUMMARIES = (
    ("Against the oracle (simulated truth)", lambda k: "oracle" in k),
    (
        "Explanations vs planted causes (simulated truth; bar 0.90, noise rank 1.0)",
        lambda k: k.startswith("fidelity_"),
    ),
    (
        "Uncertainty on the test split (set 0.90, interval 0.80, OOD AUROC >= 0.9)",
        lambda k: (
            k
            in (
                "mechanism_set_coverage",
                "mechanism_set_mean_size",
                "time_interval_coverage",
                "time_interval_coverage_km",
                "ood_auroc_min",
            )
        ),
    ),
)


def metric_summaries(metrics: dict[str, float]) -> list[tuple[str, pd.DataFrame]]:
    """``(title, metric/value frame)`` for each summary the metrics fill (empty ones omitted).

    One definition for ``oncoresist train``, ``evaluate`` and ``run``: the oracle ratios, the
    explanation fidelity (both only on simulated data) and the uncertainty checks.
    """
    tables = []
    for title, wanted in _SUMMARIES:
        chosen = {k: float(v) for k, v in metrics.items() if wanted(k)}
        if chosen:
            tables.append(
                (title, pd.DataFrame({"metric": list(chosen), "value": list(chosen.values())}))
            )
    return tables


def _table(frame: pd.DataFrame, title: str) -> Any:

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[
                ""
                if (isinstance(v, float) and v != v)
                else (f"{v:.3f}" if isinstance(v, float) else str(v))
                for v in row
            ]
        )
    return table
