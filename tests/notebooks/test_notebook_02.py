"""Notebook 02 (train and compare) runs headless against a throw-away MLflow store."""

from __future__ import annotations

import pytest
from notebook_runner import run_notebook


@pytest.mark.slow
def test_notebook_02_executes_headless(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the kernel inherits the environment
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's work folder lands here too
    outputs = run_notebook("02-train-and-compare.ipynb", tmp_path, timeout=600)
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

    from oncoresist.tracking import registry

    versions = registry.list_versions(uri=uri)
    assert versions["version"].tolist() == [1]
    assert "candidate" in versions.loc[0, "aliases"]
    assert list((tmp_path).glob("oncoresist-nb02-*/cohort/ground_truth.parquet"))
