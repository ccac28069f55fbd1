"""Pieces the scoring benchmarks share (``bench_score.py``, ``bench_scale.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path

from oncoresist.tracking.bundles import save_bundle


def quick_model(workdir: Path, n: int, seed: int = 3, register: bool = True) -> Path:
    """Train the default trees with a quick protocol; save and return the bundle folder.

    Scoring cost depends on the trees, not on how they were chosen: no inner grid, 2 CV
    folds, no baselines, no bootstrap. A bundle already in ``workdir/model`` is reused.
    """
    from oncoresist.models.config import TrainingConfig
    from oncoresist.pipelines.simulate import run_simulation
    from oncoresist.pipelines.train import train

    folder = workdir / "model"
    if (folder / "bundle.joblib").exists():
        return folder
    run_simulation(workdir / "train_data", n=n, seed=seed, overwrite=True)
    config = TrainingConfig().with_overrides(
        split={"cv_folds": 2},
        mechanism={"grid": {}},
        survival={"grid": {}},
        baselines={"logistic": False, "coxph": False, "rsf": False},
        evaluation={"bootstrap_resamples": 0},
        tracking={"register_model": register},
        explain_rows=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(
            config, workdir / "train_data", tracking_uri=f"sqlite:///{workdir}/mlflow.db"
        )
    save_bundle(result.bundle, folder)
    return folder
