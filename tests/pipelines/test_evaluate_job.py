"""`evaluate_model`: a trained model scored on a labelled cohort, logged as an evaluation run."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import InputDataError, ModelLoadError, TrainingDataError
from oncoresist.pipelines.evaluate import eval_metric_name, evaluate_model

EVAL_METRICS = (
    "eval_cindex_harrell",
    "eval_cindex_uno",
    "eval_ibs",
    "eval_mechanism_macro_f1",
    "eval_mechanism_auroc",
    "eval_mechanism_ece",
)
EVAL_ORACLE = (
    "eval_oracle_cindex_harrell",
    "eval_oracle_mechanism_macro_f1",
    "eval_cindex_oracle_ratio",
    "eval_mechanism_f1_oracle_ratio",
    "eval_mechanism_logloss_oracle_ratio",
    "eval_setting_mean_cindex_oracle_ratio",
)


def test_metric_names():
    assert eval_metric_name("test_cindex_harrell") == "eval_cindex_harrell"
    assert eval_metric_name("cindex_oracle_ratio") == "eval_cindex_oracle_ratio"
    assert eval_metric_name("oracle_mechanism_macro_f1") == "eval_oracle_mechanism_macro_f1"


@pytest.fixture(scope="module")
def new_cohort(tmp_path_factory, tiny_training_cohort):
    """An independent simulated cohort (another seed) in the tiny model's settings."""
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.output import write_simulation

    settings = sorted(pd.read_csv(tiny_training_cohort / "treatments.csv")["setting"].unique())
    folder = tmp_path_factory.mktemp("evaluate") / "cohort"
    result = simulate_cohort(n=300, seed=23, settings=settings)
    return write_simulation(result, folder)


@pytest.mark.slow
def test_evaluation_run_logs_eval_metrics_tags_and_plots(tiny_trained_model, new_cohort):
    from mlflow.tracking import MlflowClient

    from oncoresist.tracking import store as tracking

    job = evaluate_model(
        "models:/oncoresist@candidate",
        new_cohort,
        experiment="evaluation",
        tracking_uri=tiny_trained_model.uri,
        bootstrap_resamples=5,
    )
    assert job.model_version == "1"
    assert job.n_treatments == 300
    assert 0 < job.n_labelled < 300
    assert job.notes == []  # not the training cohort
    tracking.configure(tiny_trained_model.uri)
    client = MlflowClient()
    run = client.get_run(job.run_id)
    assert run.data.tags["evaluated_model"] == "models:/oncoresist@candidate"
    assert run.data.tags["evaluated_model_version"] == "1"
    assert run.data.tags["evaluated_model_run_id"] == tiny_trained_model.result.run_id
    metrics = run.data.metrics
    for name in (*EVAL_METRICS, *EVAL_ORACLE):
        assert np.isfinite(metrics[name]), name
    assert not [k for k in metrics if k.startswith("test_")]  # evaluation names only
    assert metrics["eval_cindex_harrell_ci_low"] <= metrics["eval_cindex_harrell"]
    artifacts = {a.path for a in client.list_artifacts(job.run_id, "plots")}
    assert "plots/km_by_risk_group.png" in artifacts
    assert "plots/reliability_diagram.png" in artifacts
    assert set(job.comparison["model"]) == {"xgboost", "oracle (truth)"}


@pytest.mark.slow
def test_evaluation_metrics_agree_with_a_direct_computation(tiny_trained_model, new_cohort):
    from sklearn.metrics import f1_score
    from sksurv.metrics import concordance_index_censored

    from oncoresist.contract import MECHANISMS
    from oncoresist.pipelines.train import load_training_data

    job = evaluate_model(
        "models:/oncoresist/1",
        new_cohort,
        tracking_uri=tiny_trained_model.uri,
        bootstrap_resamples=0,
    )
    bundle = tiny_trained_model.result.bundle
    data = load_training_data(new_cohort)
    features = bundle.features(data.profiles)
    cindex = concordance_index_censored(
        data.event, data.time, bundle.survival_model.predict(features)
    )[0]
    assert job.metrics["eval_cindex_harrell"] == pytest.approx(cindex)
    labelled = data.mechanism.notna().to_numpy()
    proba = bundle.mechanism_model.predict_proba(features[labelled])
    predicted = np.asarray(MECHANISMS)[proba.argmax(axis=1)]
    f1 = f1_score(data.mechanism[labelled], predicted, labels=list(MECHANISMS), average="macro")
    assert job.metrics["eval_mechanism_macro_f1"] == pytest.approx(f1, abs=1e-9)


@pytest.mark.slow
def test_exported_folder_without_ground_truth(tiny_trained_model, new_cohort, tmp_path):
    from oncoresist.tracking import registry

    folder = shutil.copytree(new_cohort, tmp_path / "cohort")
    (folder / "ground_truth.parquet").unlink()
    exported = registry.export_bundle(
        "models:/oncoresist@candidate", tmp_path / "export", uri=tiny_trained_model.uri
    )
    job = evaluate_model(
        str(exported), folder, tracking_uri=tiny_trained_model.uri, bootstrap_resamples=0
    )
    assert "eval_cindex_harrell" in job.metrics
    assert not [k for k in job.metrics if "oracle" in k]
    assert job.model_version == "1"  # read from EXPORT.json


@pytest.mark.slow
def test_training_cohort_is_flagged_as_optimistic(tiny_trained_model):
    job = evaluate_model(
        "models:/oncoresist@candidate",
        tiny_trained_model.data,
        tracking_uri=tiny_trained_model.uri,
        bootstrap_resamples=0,
    )
    assert any("trained on" in note and "optimistic" in note for note in job.notes)


@pytest.mark.slow
def test_unknown_model_and_unlabelled_cohorts(tiny_trained_model, new_cohort, tmp_path):
    with pytest.raises(ModelLoadError, match="Registered models: oncoresist"):
        evaluate_model("models:/oncoresist@nope", new_cohort, tracking_uri=tiny_trained_model.uri)

    no_outcomes = shutil.copytree(new_cohort, tmp_path / "no-outcomes")
    (no_outcomes / "outcomes.csv").unlink()
    with pytest.raises(InputDataError, match="no outcomes"):
        evaluate_model(
            "models:/oncoresist@candidate", no_outcomes, tracking_uri=tiny_trained_model.uri
        )

    unlabelled = shutil.copytree(new_cohort, tmp_path / "unlabelled")
    outcomes = pd.read_csv(unlabelled / "outcomes.csv")
    outcomes["mechanism"] = None
    outcomes.to_csv(unlabelled / "outcomes.csv", index=False)
    with pytest.raises(TrainingDataError, match=r"no treatment .* has a mechanism label"):
        evaluate_model(
            "models:/oncoresist@candidate", unlabelled, tracking_uri=tiny_trained_model.uri
        )
