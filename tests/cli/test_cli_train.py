"""`oncoresist train`, `evaluate` and `models` from the command line (exit codes, output)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import yaml
from typer.testing import CliRunner

from oncoresist.cli.app import app
from oncoresist.models.mechanism import MechanismLabelWarning

runner = CliRunner()


def _config_file(config, folder, **changes):
    data = config.with_overrides(**changes).model_dump(mode="json")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from oncoresist.cli.app import app\n"
        "for args in (['--help'], ['train', '--help'], ['evaluate', '--help'], "
        "['models', 'list', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('mlflow', 'xgboost', 'shap') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_train_without_data_is_a_usage_error():
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert "--data" in result.output


def test_evaluate_without_data_is_a_usage_error():
    result = runner.invoke(app, ["evaluate", "--model", "models:/oncoresist@champion"])
    assert result.exit_code == 2
    assert "--data" in result.output


def test_train_with_a_bad_config_exits_1_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("seed: 7\nmechanism:\n  n_estimator: 10\n")
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path), "--config", str(config), "--quiet"]
    )
    assert result.exit_code == 1
    assert "not a valid training config" in result.output
    assert "mechanism.n_estimator" in result.output


def test_train_with_a_missing_config_file_exits_1(tmp_path):
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path), "--config", str(tmp_path / "nope.yaml")]
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output


@pytest.mark.slow
def test_train_prints_the_comparison_and_run_id(tiny_trained_model, tmp_path):
    # Same store as the shared model, another registered name: the shared model stays v1.
    config = _config_file(
        tiny_trained_model.config,
        tmp_path,
        tracking={"model_name": "oncoresist-cli"},
        baselines={"rsf": False},
        evaluation={"bootstrap_resamples": 0},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MechanismLabelWarning)  # rare classes, tested elsewhere
        result = runner.invoke(
            app,
            [
                "train",
                "--data",
                str(tiny_trained_model.data),
                "--config",
                str(config),
                "--tracking-uri",
                tiny_trained_model.uri,
                "--experiment",
                "cli",
            ],
        )
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    assert "Test-split metrics" in stdout
    for model in ("xgboost", "logistic_regression", "cox_ph", "oracle (truth)"):
        assert model in stdout
    assert "Against the oracle" in stdout
    assert "Explanations vs planted causes" in stdout and "fidelity_tp53_time" in stdout
    assert "Uncertainty on the test split" in stdout and "mechanism_set_coverage" in stdout
    assert "Wall time per stage" in stdout
    assert "registered oncoresist-cli version 1" in stdout
    run_id = stdout.split("MLflow run ")[1].split(";")[0].strip()
    from mlflow.tracking import MlflowClient

    from oncoresist.tracking import store as tracking

    tracking.configure(tiny_trained_model.uri)
    assert MlflowClient().get_run(run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_models_list_promote_export(tiny_trained_model, tmp_path):
    uri = tiny_trained_model.uri
    listed = runner.invoke(app, ["models", "list", "--tracking-uri", uri])
    assert listed.exit_code == 0, listed.output
    assert "Registered model oncoresist" in listed.stdout
    assert "candidate" in listed.stdout
    assert tiny_trained_model.result.run_id[:8] in listed.stdout

    promoted = runner.invoke(app, ["models", "promote", "1", "--tracking-uri", uri])
    assert promoted.exit_code == 0, promoted.output
    assert "oncoresist@champion -> version 1" in promoted.stdout

    missing = runner.invoke(app, ["models", "promote", "42", "--tracking-uri", uri])
    assert missing.exit_code == 1
    assert "no version 42" in missing.output
    assert "Registered models: oncoresist" in missing.output

    dest = tmp_path / "models" / "oncoresist-champion"
    exported = runner.invoke(
        app,
        [
            *("models", "export", "models:/oncoresist@champion"),
            *("--dest", str(dest), "--tracking-uri", uri),
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert (dest / "MLmodel").exists()
    assert (dest / "artifacts" / "bundle" / "bundle.joblib").exists()

    unknown = runner.invoke(app, ["models", "list", "--name", "nobody", "--tracking-uri", uri])
    assert unknown.exit_code == 0
    assert "No registered versions of 'nobody'" in unknown.stdout


@pytest.mark.slow
def test_evaluate_prints_metrics_and_run(tiny_trained_model):
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "models:/oncoresist/1",
            "--data",
            str(tiny_trained_model.data),
            "--tracking-uri",
            tiny_trained_model.uri,
            "--experiment",
            "cli-evaluation",
            "--bootstrap",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "models:/oncoresist/1 on" in result.stdout
    assert "Against the oracle" in result.stdout
    assert "eval_cindex_oracle_ratio" in result.stdout
    assert "MLflow evaluation run" in result.stdout
    assert "(model version 1)" in result.stdout
    # Evaluating on the training cohort is allowed but flagged.
    assert "the cohort the model was trained on" in result.stderr


@pytest.mark.slow
def test_evaluate_with_an_unknown_model_exits_1_listing_models(tiny_trained_model):
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "models:/oncoresist@nope",
            "--data",
            str(tiny_trained_model.data),
            "--tracking-uri",
            tiny_trained_model.uri,
        ],
    )
    assert result.exit_code == 1
    assert "Registered models: oncoresist" in result.output


def test_metric_summaries_group_and_omit_empty_tables():
    from oncoresist.cli.summaries import metric_summaries

    tables = dict(
        metric_summaries({"cindex_oracle_ratio": 0.98, "fidelity_tp53_time": 1.0, "test_ibs": 0.17})
    )
    assert len(tables) == 2
    oracle = next(f for t, f in tables.items() if t.startswith("Against the oracle"))
    fidelity = next(f for t, f in tables.items() if t.startswith("Explanations"))
    assert list(oracle["metric"]) == ["cindex_oracle_ratio"]
    assert list(fidelity["value"]) == [1.0]
    assert metric_summaries({"test_ibs": 0.17}) == []
