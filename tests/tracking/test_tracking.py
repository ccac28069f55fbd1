"""MLflow store resolution and run logging (the registry side is tests/test_registry.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncoresist.tracking import store as tracking

# --------------------------------------------------------------------------------------
# Store resolution (no MLflow run needed)
# --------------------------------------------------------------------------------------


def test_default_store_is_an_absolute_sqlite_uri_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking.resolve_tracking_uri()
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert uri.startswith("sqlite:////")  # four slashes: an absolute path
    assert (tmp_path / "mlruns").is_dir()
    assert tracking.artifact_root_for(uri) == (tmp_path / "mlruns" / "artifacts").resolve().as_uri()


def test_relative_sqlite_uri_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking.resolve_tracking_uri("sqlite:///store/mlflow.db")
    assert uri == f"sqlite:///{tmp_path.resolve()}/store/mlflow.db"
    # The same answer from another directory: it was resolved once, against the cwd then.
    assert Path(uri.removeprefix("sqlite:///")).is_absolute()


def test_environment_variable_is_honoured_and_explicit_uri_wins(tmp_path, monkeypatch):
    env_uri = f"sqlite:///{tmp_path}/env.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert tracking.resolve_tracking_uri() == env_uri
    explicit = f"sqlite:///{tmp_path}/explicit.db"
    assert tracking.resolve_tracking_uri(explicit) == explicit
    # A server URI passes through untouched and has no local artifact root.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.resolve_tracking_uri() == "http://mlflow.example:5000"
    assert tracking.artifact_root_for("http://mlflow.example:5000") is None


def test_flatten_nested_params():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {
        "a.b": 1,
        "a.c.d": 2,
        "e": 3,
    }


def test_with_retry_retries_locks_only():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert tracking.with_retry(flaky, attempts=5) == "ok"
    assert len(calls) == 3

    def broken():
        calls.append(1)
        raise ValueError("not a lock")

    calls.clear()
    with pytest.raises(ValueError, match="not a lock"):
        tracking.with_retry(broken, attempts=5)
    assert len(calls) == 1


# --------------------------------------------------------------------------------------
# A trained model in a throw-away store
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_experiment_artifacts_live_under_the_store(tiny_trained_model):
    from mlflow.tracking import MlflowClient

    tracking.configure(tiny_trained_model.uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(tiny_trained_model.config.tracking.experiment)
    store = Path(tiny_trained_model.uri.removeprefix("sqlite:///")).parent
    assert experiment.artifact_location == (store / "artifacts").resolve().as_uri()
    run = client.get_run(tiny_trained_model.result.run_id)
    assert run.info.artifact_uri.startswith((store / "artifacts").resolve().as_uri())
    assert any((store / "artifacts").rglob("km_by_risk_group.png"))
