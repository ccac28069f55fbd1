"""Run a project notebook headless with nbclient (shared by the notebook tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run_notebook(name: str, workdir: Path, timeout: int) -> list:
    """Execute ``notebooks/<name>`` in ``workdir``; return every code cell's outputs.

    Skips when nbformat/nbclient or a ``python3`` Jupyter kernel is missing.
    """
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to read notebooks")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is needed to run notebooks")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip(
            "no 'python3' Jupyter kernel: run `.venv/bin/python -m ipykernel install --sys-prefix`"
        )
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
