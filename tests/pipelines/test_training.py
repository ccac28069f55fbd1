"""Training runs end to end on a tiny simulated cohort: what is logged, and reliability.

One model is trained per session (``tiny_trained_model`` in conftest.py); the reliability
tests train again on modified copies of the same cohort.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from oncoresist.exceptions import TrainingDataError
from oncoresist.models.mechanism import MechanismLabelWarning

pytestmark = pytest.mark.slow

REQUIRED_METRICS = (
    "test_cindex_harrell",
    "test_cindex_uno",
    "test_ibs",
    "test_mechanism_macro_f1",
    "test_mechanism_auroc",
    "test_mechanism_ece",
)
ORACLE_METRICS = (
    "oracle_cindex_harrell",
    "oracle_mechanism_macro_f1",
    "cindex_oracle_ratio",
    "mechanism_f1_oracle_ratio",
    "mechanism_logloss_oracle_ratio",
    "setting_mean_cindex_oracle_ratio",
)
PLOTS = (
    "plots/km_by_risk_group.png",
    "plots/survival_calibration_12m.png",
    "plots/confusion_matrix.png",
    "plots/reliability_diagram.png",
)
BASELINES = {"logistic_regression", "cox_ph", "random_survival_forest"}


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    from oncoresist.tracking import store as tracking

    tracking.configure(uri)
    return MlflowClient()


def _children(client, run):
    return client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )


def _unregistered(config):
    """Same model, logged but not registered (keeps the shared registry at one version)."""
    return config.with_overrides(tracking={"register_model": False})


def _train_quietly(config, data, uri, experiment="reliability"):
    from oncoresist.pipelines.train import train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MechanismLabelWarning)
        return train(config, data, experiment=experiment, tracking_uri=uri)


def _model_metrics(result) -> dict[str, dict[str, float]]:
    """Every model's test metrics (XGBoost and baselines), no timings."""
    return {f"{ev.kind}:{ev.model}": dict(ev.metrics) for ev in result.evaluations}


# --------------------------------------------------------------------------------------
# What a run logs
# --------------------------------------------------------------------------------------


def test_parent_run_params_provenance_and_tags(tiny_trained_model):
    client = _client(tiny_trained_model.uri)
    run = client.get_run(tiny_trained_model.result.run_id)
    params = run.data.params
    config = tiny_trained_model.config
    assert params["seed"] == str(config.seed)
    assert params["config.seed"] == str(config.seed)
    assert params["config.mechanism.n_estimators"] == "20"
    assert params["config.split.cv_folds"] == "2"
    assert re.fullmatch(r"[0-9a-f]{64}", params["data.fingerprint"])
    assert params["data.rows.treatments"] == "400"
    assert params["data.trained_on"] == "simulated"
    assert re.fullmatch(r"([0-9a-f]{40}(-dirty)?|unknown)", params["git_commit"])
    assert params["chosen.mechanism"] == "default"  # no grid in the tiny config
    assert run.data.tags["trained_on"] == "simulated"
    assert run.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "provenance")}
    assert {
        "provenance/config.yaml",
        "provenance/package_versions.json",
        "provenance/split_plan.csv",
        "provenance/split_counts.csv",
    } <= artifacts


def test_parent_run_has_the_required_metrics(tiny_trained_model):
    client = _client(tiny_trained_model.uri)
    metrics = client.get_run(tiny_trained_model.result.run_id).data.metrics
    for name in (*REQUIRED_METRICS, *ORACLE_METRICS):
        assert name in metrics, name
        assert np.isfinite(metrics[name]), name
    assert 0.4 < metrics["test_cindex_harrell"] < 1
    assert 0 < metrics["cindex_oracle_ratio"] < 1.5
    assert metrics["oracle_mechanism_macro_f1"] > 0
    # Bootstrap CIs bracket the point estimate; CV metrics are logged per fold and as a mean.
    assert (
        metrics["test_cindex_harrell_ci_low"]
        <= metrics["test_cindex_harrell"]
        <= metrics["test_cindex_harrell_ci_high"]
    )
    assert "cv_mean_survival_cindex_harrell" in metrics
    fold_history = client.get_metric_history(
        tiny_trained_model.result.run_id, "cv_survival_cindex_harrell"
    )
    assert sorted(m.step for m in fold_history) == [0, 1]
    # The result returned to the caller is what was logged.
    result = tiny_trained_model.result.metrics
    assert metrics["test_cindex_uno"] == pytest.approx(result["test_cindex_uno"])


def test_plots_are_png_artifacts(tiny_trained_model, tmp_path):
    client = _client(tiny_trained_model.uri)
    for artifact in PLOTS:
        local = Path(
            client.download_artifacts(tiny_trained_model.result.run_id, artifact, tmp_path)
        )
        assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", artifact


def test_baselines_are_child_runs(tiny_trained_model):
    client = _client(tiny_trained_model.uri)
    run = client.get_run(tiny_trained_model.result.run_id)
    children = _children(client, run)
    by_name = {c.data.tags.get("baseline"): c for c in children}
    assert set(by_name) == BASELINES
    assert "test_mechanism_macro_f1" in by_name["logistic_regression"].data.metrics
    for name in ("cox_ph", "random_survival_forest"):
        metrics = by_name[name].data.metrics
        assert {"test_cindex_harrell", "test_cindex_uno", "test_ibs", "fit_seconds"} <= set(metrics)
    assert by_name["random_survival_forest"].data.params["n_estimators"] == "10"
    table = tiny_trained_model.result.comparison
    assert BASELINES | {"xgboost", "oracle (truth)"} == set(table["model"])


def test_registered_version_has_alias_candidate(tiny_trained_model):
    result = tiny_trained_model.result
    assert (result.model_name, result.model_version) == ("oncoresist", "1")
    client = _client(tiny_trained_model.uri)
    version = client.get_model_version_by_alias("oncoresist", "candidate")
    assert str(version.version) == "1"
    assert version.run_id == result.run_id
    assert result.bundle.metadata["model_version"] == "1"


def test_timings_cover_every_stage(tiny_trained_model):
    timings = tiny_trained_model.result.timings
    for stage in (
        "load",
        "cross_validation",
        "features",
        "xgboost_mechanism",
        "xgboost_survival",
        *BASELINES,
        "logging",
    ):
        assert timings[stage] > 0, stage


def _identifiers(folder: Path) -> set[str]:
    ids: set[str] = set()
    for table, columns in (
        ("patients.csv", ["patient_id"]),
        ("treatments.csv", ["treatment_id"]),
        ("samples.csv", ["sample_id"]),
    ):
        frame = pd.read_csv(folder / table, dtype=str)
        for column in columns:
            ids |= set(frame[column])
    return ids


def _text_files(folder: Path) -> dict[str, str]:
    """Every UTF-8 file under ``folder`` but the package source (``code_paths``), by path."""
    texts = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if not path.is_file() or "code" in relative.parts[:2]:
            continue
        try:
            texts[str(relative)] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # PNG, pickles
    return texts


def test_no_identifier_in_params_metrics_tags_or_text_artifacts(tiny_trained_model, tmp_path):
    import mlflow

    ids = _identifiers(tiny_trained_model.data)
    assert len(ids) > 800
    token = re.compile(r"[A-Za-z0-9_\-]+")
    client = _client(tiny_trained_model.uri)
    parent = client.get_run(tiny_trained_model.result.run_id)
    texts: dict[str, str] = {}
    for run in [parent, *_children(client, parent)]:
        rid = run.info.run_id
        texts.update({f"{rid} param {k}": f"{k} {v}" for k, v in run.data.params.items()})
        texts.update({f"{rid} metric {k}": k for k in run.data.metrics})
        texts.update({f"{rid} tag {k}": f"{k} {v}" for k, v in run.data.tags.items()})
        local = Path(client.download_artifacts(rid, "", tmp_path / rid))
        texts.update({f"{rid} artifact {k}": v for k, v in _text_files(local).items()})
    # MLflow 3 keeps a logged model's files apart from the run's artifacts.
    model = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{parent.info.run_id}/model", dst_path=str(tmp_path / "model")
        )
    )
    model_files = _text_files(model)
    assert {"MLmodel", "input_example.json", "artifacts/bundle/bundle.json"} <= set(model_files)
    texts.update({f"model file {k}": v for k, v in model_files.items()})
    assert len(texts) > 100
    assert any("split_plan.csv" in where for where in texts)
    leaks = {
        where: sorted(set(token.findall(text)) & ids)[:5]
        for where, text in texts.items()
        if set(token.findall(text)) & ids
    }
    assert not leaks, leaks
    # The input example is built from the schema: placeholder identifiers only.
    assert "EXAMPLE-PATIENT" in model_files["input_example.json"]


# --------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------


def test_same_seed_gives_identical_metrics(tiny_trained_model):
    again = _train_quietly(
        _unregistered(tiny_trained_model.config), tiny_trained_model.data, tiny_trained_model.uri
    )
    assert again.run_id != tiny_trained_model.result.run_id
    assert again.metrics == tiny_trained_model.result.metrics
    assert _model_metrics(again) == _model_metrics(tiny_trained_model.result)


def _copy_cohort(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def test_training_never_reads_ground_truth_or_progression_samples(tiny_trained_model, tmp_path):
    folder = _copy_cohort(tiny_trained_model.data, tmp_path / "cohort")
    (folder / "ground_truth.parquet").unlink()
    samples = pd.read_csv(folder / "samples.csv", dtype=str)
    progression = set(samples.loc[samples["timepoint"] == "progression", "sample_id"])
    assert len(progression) > 50
    samples[~samples["sample_id"].isin(progression)].to_csv(folder / "samples.csv", index=False)
    for table in ("mutations.csv", "copy_number.csv", "fusions.csv", "expression.csv"):
        frame = pd.read_csv(folder / table, dtype=str, keep_default_na=False)
        kept = frame[~frame["sample_id"].isin(progression)]
        assert len(kept) < len(frame) or table == "fusions.csv", table
        kept.to_csv(folder / table, index=False)

    stripped = _train_quietly(
        _unregistered(tiny_trained_model.config), folder, tiny_trained_model.uri
    )
    full = tiny_trained_model.result
    # Metrics measured against the simulator's truth (oracle, fidelity, coverage of the true
    # event times) disappear without it; every other metric must be identical. One name, one
    # measure: time_interval_coverage is coverage of the true times only, never the
    # censoring-aware estimate (time_interval_coverage_km / _ipcw, which both runs log).
    model_keys = {k for k in full.metrics if k in stripped.metrics}
    assert {k for k in full.metrics if k.startswith("test_")} <= model_keys
    assert {k: stripped.metrics[k] for k in model_keys} == {k: full.metrics[k] for k in model_keys}
    assert not [k for k in stripped.metrics if "oracle" in k or "fidelity" in k]
    truth_only = {"time_interval_coverage", "time_interval_below", "time_interval_above"}
    assert "time_intervals" in full.bundle.extras
    assert truth_only <= set(full.metrics)
    assert {"time_interval_coverage_km", "time_interval_coverage_ipcw"} <= model_keys
    assert not truth_only & set(stripped.metrics)
    assert not [k for k in stripped.metrics if k.startswith("d_calibration_true")]
    assert not set(stripped.metrics) - set(full.metrics)
    assert _model_metrics(stripped) == _model_metrics(full)
    assert stripped.bundle.feature_names == full.bundle.feature_names


def test_every_treatment_censored_is_a_clear_error(tiny_trained_model, tmp_path):
    from oncoresist.pipelines.train import train

    folder = _copy_cohort(tiny_trained_model.data, tmp_path / "cohort")
    outcomes = pd.read_csv(folder / "outcomes.csv")
    outcomes["resistance_observed"] = False
    outcomes["mechanism"] = None
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    store = tmp_path / "store"
    with pytest.raises(TrainingDataError, match=r"all samples are censored \(400 treatments"):
        train(tiny_trained_model.config, folder, tracking_uri=f"sqlite:///{store}/mlflow.db")
    assert not store.exists()  # refused before any MLflow run was opened


def test_a_class_with_fewer_than_5_labels_warns_and_trains(tiny_trained_model, tmp_path):
    from oncoresist.pipelines.train import load_training_data, train

    folder = _copy_cohort(tiny_trained_model.data, tmp_path / "cohort")
    outcomes = pd.read_csv(folder / "outcomes.csv")
    rare = outcomes.index[outcomes["mechanism"] == "on_target"]
    assert len(rare) > 10
    outcomes.loc[rare[3:], "mechanism"] = None  # 3 labels left for one class
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    config = _unregistered(tiny_trained_model.config).with_overrides(
        baselines={"rsf": False, "coxph": False}
    )
    with pytest.warns(MechanismLabelWarning, match=r"fewer than 5 labels.*on_target"):
        result = train(config, folder, experiment="rare", tracking_uri=tiny_trained_model.uri)
    assert np.isfinite(result.metrics["test_cindex_harrell"])
    assert "test_mechanism_macro_f1" in result.metrics
    profiles = load_training_data(folder).profiles
    proba = result.bundle.mechanism_model.predict_proba(result.bundle.features(profiles))
    assert proba.shape == (len(profiles), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_two_training_processes_share_one_store(tiny_trained_model, tmp_path):
    # The store is what is under test: no baselines or bootstrap, fewer trees.
    settings = tiny_trained_model.config.with_overrides(
        mechanism={"n_estimators": 10, "calibration": "none", "grid": {}},
        survival={"n_estimators": 10, "grid": {}},
        baselines={"logistic": False, "coxph": False, "rsf": False},
        evaluation={"bootstrap_resamples": 0},
        uncertainty={"cross_conformal_folds": 0},
        explain_rows=0,
    )
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    store = tmp_path / "shared-store"
    uri = f"sqlite:///{store}/mlflow.db"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable,
        "-m",
        "oncoresist",
        "train",
        "--data",
        str(tiny_trained_model.data),
        "--config",
        str(config),
        "--tracking-uri",
        uri,
        "--experiment",
        "concurrent",
        "--quiet",
    ]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "MLflow run" in stdout
    client = _client(uri)
    experiment = client.get_experiment_by_name("concurrent")
    parents = client.search_runs(
        [experiment.experiment_id], filter_string="tags.mlflow.runName = 'train'"
    )
    assert len(parents) == 2
    assert {r.info.status for r in parents} == {"FINISHED"}
    versions = client.search_model_versions("name = 'oncoresist'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert {v.run_id for v in versions} == {r.info.run_id for r in parents}
    # Both runs logged the same metrics (same data, same seed) and the store still reads.
    metrics = [r.data.metrics["test_cindex_harrell"] for r in parents]
    assert metrics[0] == metrics[1]
    for parent in parents:
        assert {a.path for a in client.list_artifacts(parent.info.run_id, "plots")} >= set(PLOTS)
