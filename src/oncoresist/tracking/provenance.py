"""Provenance of a trained model: data fingerprint, git commit, package versions, timings."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from oncoresist import __version__
from oncoresist.contract import Cohort


def data_fingerprint(cohort: Cohort) -> tuple[str, dict[str, int]]:
    """SHA-256 over every table's content and columns, plus row counts.

    Identifies the training data in MLflow without logging a single row.
    """
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    for name, frame in sorted(cohort.tables().items()):
        counts[name] = len(frame)
        digest.update(name.encode())
        digest.update("|".join(map(str, frame.columns)).encode())
        if len(frame):
            hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
            digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest(), counts


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the code (with ``-dirty`` when the tree has changes), or ``unknown``."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return commit + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    versions = {"python": platform.python_version(), "oncoresist": __version__}
    for name in (
        "numpy",
        "pandas",
        "scikit-learn",
        "scikit-survival",
        "xgboost",
        "xgboost-cpu",
        "shap",
        "mlflow",
        "pandera",
    ):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


@dataclass
class StageTimer:
    """Wall time of each stage, for the run log and the benchmark."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a block under ``name`` (accumulates)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
