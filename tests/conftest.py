"""Shared test fixtures."""

from __future__ import annotations

import os

# Tiny XGBoost fits slow down badly when two threads fight over two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")


# --------------------------------------------------------------------------------------
# Explanations (issue 5): one tiny trained bundle shared by the explain/report/fidelity tests
# --------------------------------------------------------------------------------------

import pytest

from oncoresist.tracking.bundles import save_bundle

#: Small, fast training config for tests that need a trained bundle (not for metrics).
EXPLAIN_TINY_OVERRIDES = {
    "n_jobs": 1,
    "split": {"cv_folds": 2},
    "mechanism": {"n_estimators": 30, "calibration": "none", "grid": {"max_depth": [2]}},
    "survival": {"n_estimators": 30, "grid": {"max_depth": [2]}},
    "baselines": {"logistic": False, "coxph": False, "rsf": False},
    "evaluation": {"bootstrap_resamples": 0},
    "tracking": {"register_model": False},
    "explain_rows": 200,
}


@pytest.fixture(scope="session")
def explain_trained(tmp_path_factory):
    """A simulated 500-treatment cohort on disk and a tiny model trained on it.

    Returns a namespace with ``data_dir`` (written cohort with ground truth), ``result``
    (:class:`~oncoresist.pipelines.train.TrainingResult`), ``bundle`` and ``tracking_uri``.
    """
    import warnings
    from types import SimpleNamespace

    from oncoresist.models.config import load_config
    from oncoresist.models.mechanism import MechanismLabelWarning
    from oncoresist.pipelines.train import train
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.output import write_simulation

    root = tmp_path_factory.mktemp("explain_trained")
    data_dir = write_simulation(simulate_cohort(n=500, seed=11), root / "sim")
    uri = f"sqlite:///{root}/mlflow.db"
    config = load_config().with_overrides(**EXPLAIN_TINY_OVERRIDES)
    with warnings.catch_warnings():
        # A 500-row cohort has classes with < 5 labels in some CV folds: expected here.
        warnings.simplefilter("ignore", MechanismLabelWarning)
        result = train(config, data_dir, experiment="explain-tests", tracking_uri=uri)
    return SimpleNamespace(
        data_dir=data_dir, result=result, bundle=result.bundle, tracking_uri=uri, root=root
    )


# --------------------------------------------------------------------------------------
# Training (issue 4): one tiny simulated cohort and one model trained on it, shared by the
# training, tracking, bundle, CLI and evaluation tests (a training run costs ~15 s).
# --------------------------------------------------------------------------------------

#: Two settings so each has >= 30 test rows (per-setting oracle ratios need them).
TINY_TRAINING_SETTINGS = ("egfr_osimertinib_1L", "hrpos_breast_AI_CDK46i_1L")
TINY_TRAINING_N = 400
#: Few trees, two folds, no grid, small baselines and bootstrap: seconds, not minutes.
TINY_TRAINING_OVERRIDES = {
    "n_jobs": 1,
    "split": {"cv_folds": 2},
    "mechanism": {"n_estimators": 20, "grid": {}},
    "survival": {"n_estimators": 20, "grid": {}},
    "baselines": {"rsf_n_estimators": 10},
    "evaluation": {"bootstrap_resamples": 10},
    "explain_rows": 50,
}


@pytest.fixture(scope="session")
def tiny_training_config():
    """TrainingConfig for tiny cohorts (``configs/default.yaml`` values, fewer trees)."""
    from oncoresist.models.config import TrainingConfig

    return TrainingConfig().with_overrides(**TINY_TRAINING_OVERRIDES)


@pytest.fixture(scope="session")
def tiny_training_cohort(tmp_path_factory):
    """A written simulated cohort (canonical tables, ground truth, simulation.yaml)."""
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.output import write_simulation

    folder = tmp_path_factory.mktemp("tiny-training") / "cohort"
    result = simulate_cohort(n=TINY_TRAINING_N, seed=11, settings=list(TINY_TRAINING_SETTINGS))
    return write_simulation(result, folder)


@pytest.fixture(scope="session")
def tiny_trained_model(tmp_path_factory, tiny_training_cohort, tiny_training_config):
    """A model trained on the tiny cohort in a throw-away store: ``.result``, ``.uri``, ``.data``.

    Registered as ``oncoresist`` version 1 with alias ``candidate``. Tests may add aliases
    but must not delete versions.
    """
    import warnings
    from types import SimpleNamespace

    from oncoresist.models.mechanism import MechanismLabelWarning
    from oncoresist.pipelines.train import train

    store = tmp_path_factory.mktemp("mlflow-tiny")
    uri = f"sqlite:///{store}/mlflow.db"
    with warnings.catch_warnings():
        # Rare classes in a 400-treatment cohort; the warning itself is tested elsewhere.
        warnings.simplefilter("ignore", MechanismLabelWarning)
        result = train(tiny_training_config, tiny_training_cohort, tracking_uri=uri)
    return SimpleNamespace(
        result=result,
        uri=uri,
        store=store,
        data=tiny_training_cohort,
        config=tiny_training_config,
    )


# --------------------------------------------------------------------------------------
# Scoring (issue 6): the tiny trained model above, also saved as a bundle folder, shared by
# the scoring, score-CLI and serve tests.
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scoring_model(tmp_path_factory, tiny_trained_model):
    """``tiny_trained_model`` for scoring: ``uri``, ``ref`` (``models:/oncoresist@candidate``),
    ``folder`` (the bundle saved to disk), ``bundle``, ``run_id``, ``version``, ``data``.
    """
    from types import SimpleNamespace

    result = tiny_trained_model.result
    folder = save_bundle(result.bundle, tmp_path_factory.mktemp("scoring-bundle") / "bundle")
    return SimpleNamespace(
        uri=tiny_trained_model.uri,
        ref="models:/oncoresist@candidate",
        folder=folder,
        bundle=result.bundle,
        run_id=result.run_id,
        version=str(result.model_version),
        data=tiny_trained_model.data,
    )
