"""Notebook 02 (train and compare) runs headless against a throw-away MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02-train-and-compare.ipynb"


@pytest.mark.slow
def test_notebook_02_executes_headless(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to read notebooks")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is needed to run notebooks")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip(
            "no 'python3' Jupyter kernel: run `.venv/bin/python -m ipykernel install --sys-prefix`"
        )
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the kernel inherits the environment
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's work folder lands here too
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1  # models vs oracle
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "random_survival_forest" in text
    assert "oracle (truth)" in text
    assert "cindex_oracle_ratio" in text
    assert "predicted_mechanism" in text

    from oncoresist import tracking

    versions = tracking.list_versions(uri=uri)
    assert versions["version"].tolist() == [1]
    assert "candidate" in versions.loc[0, "aliases"]
    assert list((tmp_path).glob("oncoresist-nb02-*/cohort/ground_truth.parquet"))
