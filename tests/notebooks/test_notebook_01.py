"""Notebook 01 runs headless from top to bottom."""

from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_notebook_01_executes_headless(tmp_path):
    outputs = run_notebook("01-explore-cohort.ipynb", tmp_path, timeout=300)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # KM curves and mechanism shares
