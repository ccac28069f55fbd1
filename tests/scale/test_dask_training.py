"""Training with XGBoost on Dask: same run, same metrics, ``engine=dask`` in MLflow."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

#: The fewest fits that still exercise CV, early stopping and the final models.
DASK_TRAIN_OVERRIDES = {
    "n_jobs": 2,  # not the workers' 1 thread: dask boosting must not pass it on, yet keep it
    "split": {"cv_folds": 2},
    "mechanism": {"n_estimators": 15, "calibration": "none", "grid": {}},
    "survival": {"n_estimators": 15, "grid": {}},
    "baselines": {"logistic": False, "coxph": False, "rsf": False},
    "evaluation": {"bootstrap_resamples": 0},
    "tracking": {"register_model": False},
    "explain_rows": 20,
}


@pytest.fixture(scope="module")
def both_engines(tiny_training_cohort, tmp_path_factory):
    """The same config trained in this process and on a 2-worker LocalCluster."""
    from distributed import Client, LocalCluster

    from oncoresist.models.config import TrainingConfig
    from oncoresist.models.mechanism import MechanismLabelWarning
    from oncoresist.pipelines.train import train
    from oncoresist.scale.training import train_dask

    config = TrainingConfig().with_overrides(**DASK_TRAIN_OVERRIDES)
    store = tmp_path_factory.mktemp("mlflow-dask")
    uri = f"sqlite:///{store}/mlflow.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MechanismLabelWarning)  # rare classes, tiny cohort
        local = train(config, tiny_training_cohort, tracking_uri=uri)
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            dask = train_dask(config, tiny_training_cohort, tracking_uri=uri, client=client)
    return local, dask, uri


def test_dask_run_is_logged_like_the_local_run(both_engines):
    from mlflow.tracking import MlflowClient

    local, dask, uri = both_engines
    client = MlflowClient(tracking_uri=uri)
    local_run, dask_run = client.get_run(local.run_id), client.get_run(dask.run_id)
    assert local_run.data.params["engine"] == "local"
    assert dask_run.data.params["engine"] == "dask"
    assert dask_run.data.tags["engine"] == "dask"
    assert set(dask_run.data.metrics) == set(local_run.data.metrics)
    # git_commit may move between the two runs when the tree changes under a long test.
    same = {k for k in local_run.data.params if k not in {"engine", "git_commit"}}
    assert {k: dask_run.data.params[k] for k in same} == {k: local_run.data.params[k] for k in same}


def test_dask_models_are_plain_boosters_with_close_metrics(both_engines):
    import xgboost as xgb

    local, dask, _ = both_engines
    for bundle in (local.bundle, dask.bundle):
        assert isinstance(bundle.mechanism_model.booster_, xgb.Booster)
        assert isinstance(bundle.survival_model.booster_, xgb.Booster)
    for model in ("mechanism_model", "survival_model"):
        config = json.loads(getattr(dask.bundle, model).booster_.save_config())
        assert config["learner"]["generic_param"]["nthread"] == "2", model  # for local scoring
    assert dask.bundle.feature_names == local.bundle.feature_names
    assert set(dask.metrics) == set(local.metrics)
    for name in ("test_cindex_harrell", "test_mechanism_macro_f1"):
        assert abs(dask.metrics[name] - local.metrics[name]) < 0.05, name


def test_dask_bundle_scores_like_a_local_bundle(both_engines, tiny_training_cohort):
    """Bundles from both engines predict through the same code (features identical)."""
    from oncoresist.pipelines.train import load_training_data

    local, dask, _ = both_engines
    profiles = load_training_data(tiny_training_cohort).profiles.head(40)
    x_local = local.bundle.features(profiles)
    x_dask = dask.bundle.features(profiles)
    np.testing.assert_array_equal(x_local.to_numpy(), x_dask.to_numpy())
    p_local = local.bundle.predict(profiles)
    p_dask = dask.bundle.predict(profiles)
    assert list(p_dask.columns) == list(p_local.columns)
    assert np.isfinite(p_dask.select_dtypes("number").to_numpy()).all()
