"""Markdown pieces shared by the benchmark sections of the generated validation page."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

import numpy as np
import pandas as pd


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "**no**"
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub Markdown table of ``frame`` (floats to ``digits`` decimals, NaN blank)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(_cell(v, digits) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def versions(packages: Sequence[str]) -> str:
    """``name version`` for each installed package, comma-separated."""
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def processes(n_jobs: int) -> str:
    """How the independent fits ran; the numbers above do not depend on it."""
    return "one process" if n_jobs == 1 else f"independent fits shared by {n_jobs} processes"
