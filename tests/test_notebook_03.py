"""Notebook 03 (review explanations) runs headless from top to bottom."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03-review-explanations.ipynb"


@pytest.mark.slow
def test_notebook_03_executes_headless(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to read notebooks")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is needed to run notebooks")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip(
            "no 'python3' Jupyter kernel: run `.venv/bin/python -m ipykernel install --sys-prefix`"
        )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # waterfall, mean |SHAP| bar chart, beeswarm
    text = "".join(o.get("text", "") for o in outputs)
    assert "log-odds of" in text and "expected time to resistance" in text
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("fidelity" in o["data"]["text/html"] for o in tables)
