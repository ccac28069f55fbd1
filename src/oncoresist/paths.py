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
    """Return the folder holding ``knowledge/``, ``params/`` and ``demo/``."""
    override = os.environ.get("ONCORESIST_DATA_DIR")
    return Path(override).resolve() if override else project_root() / "data"


def knowledge_dir() -> Path:
    """Return the curated knowledge-base folder (``data/knowledge``)."""
    return data_dir() / "knowledge"


def params_dir() -> Path:
    """Return the simulator parameter folder (``data/params``)."""
    return data_dir() / "params"


def demo_dir() -> Path:
    """Return the committed demo inputs folder (``data/demo``)."""
    return data_dir() / "demo"
