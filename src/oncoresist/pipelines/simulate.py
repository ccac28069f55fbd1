"""The job behind `oncoresist simulate`: simulate a cohort, write it, compare with the papers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED
from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.output import calibration_table, write_simulation


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
