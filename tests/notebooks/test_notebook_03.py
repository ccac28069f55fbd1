"""Notebook 03 (review explanations) runs headless from top to bottom."""

from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_notebook_03_executes_headless(tmp_path):
    outputs = run_notebook("03-review-explanations.ipynb", tmp_path, timeout=900)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # waterfall, mean |SHAP| bar chart, beeswarm
    text = "".join(o.get("text", "") for o in outputs)
    assert "log-odds of" in text and "expected time to resistance" in text
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("fidelity" in o["data"]["text/html"] for o in tables)
