"""`oncoresist run`: the main job on the embedded default data, rendered step by step.

Imported inside the `run` command only (it pulls in the whole pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from oncoresist.cli.common import frame_table
from oncoresist.cli.summaries import calibration_display, metric_summaries, training_progress
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED
from oncoresist.models.config import load_config
from oncoresist.paths import demo_dir
from oncoresist.pipelines.report import report_file
from oncoresist.pipelines.score import score_file
from oncoresist.pipelines.simulate import run_simulation
from oncoresist.pipelines.train import train
from oncoresist.pipelines.validate import validate_input
from oncoresist.tracking.registry import export_bundle, promote


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
        checked = validate_input(path)
        summary = checked.summary
        console.print(
            f"[green]valid[/] {checked.form}: {path} — {summary['patients']} patients, "
            f"{summary['treatments']} treatments, {summary['expressed_genes']} genes"
        )

    step(f"2. Simulate the default cohort ({n:,} patient-treatments, seed {seed})")
    sim = run_simulation(out_dir, n=n, seed=seed, overwrite=True)
    console.print(
        frame_table(
            calibration_display(sim.calibration),
            "Simulated / published per setting (mechanism shares among labelled)",
        )
    )
    console.print(f"Simulated data written to {sim.out_dir} (simulated, not real patients)")
    done["simulation"] = sim.out_dir

    step("3. Train, evaluate and register")
    display, on_stage = training_progress(console, quiet=False)
    with display:
        result = train(load_config(config), sim.out_dir, tracking_uri=tracking_uri, report=on_stage)
    console.print(frame_table(result.comparison, title="Test-split metrics (95% CI)"))
    for title, frame in metric_summaries(result.metrics):
        console.print(frame_table(frame, title=title))
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
    reports = Path(reports_dir)  # score_file creates it
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
