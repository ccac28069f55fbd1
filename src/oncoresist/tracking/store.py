"""MLflow store and run logging: the store URI, experiments, runs, params, metrics, artifacts.

The default store is ``./mlruns`` under the working directory, resolved once to an **absolute**
``sqlite:////…/mlruns/mlflow.db`` with artifacts in ``…/mlruns/artifacts`` (a relative sqlite
URI silently opens a second, empty database when a process starts elsewhere).
``MLFLOW_TRACKING_URI`` or an explicit URI override it, e.g. for a shared server.

The model side lives beside it: :mod:`oncoresist.tracking.registry` (promote, list, load,
export) and :mod:`oncoresist.tracking.pyfunc` (the pyfunc model and logging it). These three
are the only modules that import mlflow; bundle files are :mod:`oncoresist.tracking.bundles`.

Never log patient identifiers or raw rows here: callers pass aggregate metrics, parameters,
figures and tables of aggregates only.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import mlflow

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no concurrent first use
    fcntl = None
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

DEFAULT_STORE_DIR = "mlruns"

T = TypeVar("T")

# --------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------


def default_store_dir(base_dir: str | Path | None = None) -> Path:
    """Return the absolute folder of the local store (``<cwd>/mlruns``)."""
    return (Path(base_dir) if base_dir else Path.cwd()).resolve() / DEFAULT_STORE_DIR


def resolve_tracking_uri(uri: str | None = None, base_dir: str | Path | None = None) -> str:
    """Resolve the tracking URI: explicit > ``MLFLOW_TRACKING_URI`` > local sqlite store.

    A relative ``sqlite:///relative.db`` is made absolute against the working directory.
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        store = default_store_dir(base_dir)
        store.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{store / 'mlflow.db'}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
    return uri


def artifact_root_for(uri: str) -> str | None:
    """Artifact location for new experiments in a local sqlite store (``…/artifacts``)."""
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "artifacts").resolve().as_uri()
    return None


def configure(uri: str | None = None) -> str:
    """Point MLflow (tracking and registry) at the resolved store; return the URI."""
    resolved = resolve_tracking_uri(uri)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    # MLflow's own progress bars would print between our rich tables.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _initialise_sqlite_store(resolved)
    return resolved


_INITIALISED: set[str] = set()


def _initialise_sqlite_store(uri: str) -> None:
    """Create (or migrate) a local sqlite store's schema once, one process at a time.

    Two processes opening a new store at once both run MLflow's schema migrations and one
    fails ("Online migration expected to match one row"). An exclusive lock on a file beside
    the database serialises that first step; later opens find the schema current.
    """
    if not uri.startswith("sqlite:///") or uri in _INITIALISED:
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".init-lock"), "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)  # tracking schema
            client.search_registered_models(max_results=1)  # registry schema
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
    _INITIALISED.add(uri)


def with_retry(action: Callable[[], T], attempts: int = 8, what: str = "MLflow call") -> T:
    """Run ``action``, retrying when sqlite reports a lock (two writers at once).

    MLflow's SQLAlchemy store surfaces ``database is locked`` as an ``MlflowException`` or an
    ``OperationalError``; both are transient and MLflow documents retrying them.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as err:
            transient = "locked" in str(err).lower() or "unique constraint" in str(err).lower()
            if not transient or attempt == attempts:
                raise
            wait = 0.2 * attempt + random.random() * 0.3
            logger.debug("%s hit a transient store error (%s); retry in %.1fs", what, err, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def ensure_experiment(name: str, uri: str | None = None) -> str:
    """Return the id of experiment ``name``, creating it (artifacts under the store) if needed."""
    resolved = configure(uri)
    client = MlflowClient()

    def get_or_create() -> str:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_root_for(resolved))
        except MlflowException as err:
            if "already exists" in str(err).lower():
                return client.get_experiment_by_name(name).experiment_id
            raise

    return with_retry(get_or_create, what=f"experiment {name}")


@contextmanager
def start_run(
    experiment: str,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    nested: bool = False,
    uri: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start an MLflow run (nested runs become child runs of the active parent)."""
    experiment_id = ensure_experiment(experiment, uri) if not nested else None
    kwargs: dict[str, Any] = {"run_name": run_name, "tags": dict(tags or {}), "nested": nested}
    if experiment_id is not None:
        kwargs["experiment_id"] = experiment_id
    elif mlflow.active_run() is not None:
        kwargs["experiment_id"] = mlflow.active_run().info.experiment_id
    run = with_retry(lambda: mlflow.start_run(**kwargs), what="start_run")
    try:
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run()


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a.b.c`` keys (for MLflow params)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def log_params(params: Mapping[str, Any]) -> None:
    """Log (flattened) parameters; long values are truncated to MLflow's limit."""
    flat = {k: str(v)[:6000] for k, v in flatten(params).items()}
    with_retry(lambda: mlflow.log_params(flat), what="log_params")


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log finite numeric metrics (NaN and None are skipped: MLflow cannot compare them)."""
    clean = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number == number and abs(number) != float("inf"):
            clean[key] = number
    if clean:
        with_retry(lambda: mlflow.log_metrics(clean, step=step), what="log_metrics")


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set run tags."""
    with_retry(lambda: mlflow.set_tags({k: str(v) for k, v in tags.items()}), what="set_tags")


def log_figure(figure: Any, artifact_file: str) -> None:
    """Log a matplotlib figure as a PNG artifact and close it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    with_retry(lambda: mlflow.log_figure(figure, artifact_file), what="log_figure")
    plt.close(figure)


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log an aggregate table (never raw patient rows) as a CSV artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_csv(path, index=False)
        folder = str(Path(artifact_file).parent) if Path(artifact_file).parent.name else None
        with_retry(lambda: mlflow.log_artifact(str(path), folder), what="log_artifact")


def log_dict(data: Mapping[str, Any], artifact_file: str) -> None:
    """Log a dict as a JSON or YAML artifact (by extension)."""
    with_retry(lambda: mlflow.log_dict(dict(data), artifact_file), what="log_dict")


def active_run_id() -> str | None:
    """Id of the active run, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run else None
