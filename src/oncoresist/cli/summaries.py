"""Terminal summaries of job results: what `simulate`, `train`, `evaluate` and `run` print.

Imported inside commands (it needs pandas), so `oncoresist --help` stays fast.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oncoresist.contract import MECHANISMS
from oncoresist.models.tuning import quiet as quiet_reporter


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


def training_progress(console: Console | None, quiet: bool) -> tuple[Any, Any]:
    """A rich display of one bar per training stage, and the ``report`` callback that feeds it.

    Returns ``(display, report)``: enter ``display`` around
    :func:`~oncoresist.pipelines.train.train` and pass it ``report=report``. Quiet, or without
    a console, the display is a no-op context and ``report`` reports nothing.
    """
    if quiet or console is None:
        return nullcontext(), quiet_reporter
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

    return progress, report
