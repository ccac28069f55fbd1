"""Time the cohort simulator at 5,000 / 20,000 / 100,000 patient-treatments.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--sizes 5000 20000 100000]``.
Calibration (solved once per parameter set on a fixed reference population) is timed apart
from generation; writing is timed for the smallest size (canonical CSV).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.output import write_simulation


def main(sizes: list[int], seed: int = 7) -> None:
    console = Console()
    start = time.perf_counter()
    simulate_cohort(n=100, seed=seed)
    calibration = time.perf_counter() - start
    table = Table(title="oncoresist simulate (generation after calibration)")
    for column in (
        "treatments",
        "seconds",
        "treatments / s",
        "samples",
        "mutations",
        "expression cells",
    ):
        table.add_column(column, justify="right")
    for n in sizes:
        start = time.perf_counter()
        result = simulate_cohort(n=n, seed=seed)
        seconds = time.perf_counter() - start
        cohort = result.cohort
        cells = len(cohort.expression) * len(cohort.genes_with_expression)
        table.add_row(
            f"{n:,}",
            f"{seconds:.1f}",
            f"{n / seconds:,.0f}",
            f"{len(cohort.samples):,}",
            f"{len(cohort.mutations):,}",
            f"{cells:,}",
        )
    console.print(table)
    console.print(f"one-off calibration (reference population, all settings): {calibration:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        result = simulate_cohort(n=sizes[0], seed=seed)
        start = time.perf_counter()
        write_simulation(result, Path(tmp) / "out")
        console.print(
            f"write {sizes[0]:,} treatments as canonical CSV + ground truth: "
            f"{time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    main(args.sizes, args.seed)
