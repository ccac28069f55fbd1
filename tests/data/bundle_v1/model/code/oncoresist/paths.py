"""Where the project's data folders live.

The package is installed in editable mode from the repository, so curated data
(``data/knowledge``, ``data/params``, ``data/demo``) is found next to ``src/``.
``ONCORESIST_DATA_DIR`` points elsewhere (e.g. a deployed copy of ``data/``).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Return the repository root (the folder holding ``pyproject.toml``)."""
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Return the folder holding ``knowledge/``, ``params/`` and ``demo/``.

    ``ONCORESIST_DATA_DIR`` wins; then the repository's ``data/``; then a ``data/`` folder
    beside the package, which is where a logged MLflow model keeps the knowledge base it was
    trained with (its code copy has no repository around it).
    """
    override = os.environ.get("ONCORESIST_DATA_DIR")
    if override:
        return Path(override).resolve()
    repository = project_root() / "data"
    beside_package = Path(__file__).resolve().parents[1] / "data"
    if not repository.is_dir() and beside_package.is_dir():
        return beside_package
    return repository


def knowledge_dir() -> Path:
    """Return the curated knowledge-base folder (``data/knowledge``)."""
    return data_dir() / "knowledge"


def params_dir() -> Path:
    """Return the simulator parameter folder (``data/params``)."""
    return data_dir() / "params"


def demo_dir() -> Path:
    """Return the committed demo inputs folder (``data/demo``)."""
    return data_dir() / "demo"
