"""MLflow tracking and registry: the only module that imports mlflow.

The default store is ``./mlruns`` under the working directory, resolved once to an **absolute**
``sqlite:////…/mlruns/mlflow.db`` with artifacts in ``…/mlruns/artifacts`` (a relative sqlite
URI silently opens a second, empty database when a process starts elsewhere).
``MLFLOW_TRACKING_URI`` or an explicit URI override it, e.g. for a shared server.

Never log patient identifiers or raw rows here: callers pass aggregate metrics, parameters,
figures and tables of aggregates only.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from oncoresist.bundle import ResistanceBundle
from oncoresist.exceptions import ModelLoadError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "oncoresist"
DEFAULT_STORE_DIR = "mlruns"
BUNDLE_ARTIFACT = "bundle"

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
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no concurrent first use
        fcntl = None
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
    import matplotlib.pyplot as plt

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


# --------------------------------------------------------------------------------------
# The pyfunc model
# --------------------------------------------------------------------------------------


_TYPE_HINT_NAG = re.compile(r"type hint", re.IGNORECASE)


@contextmanager
def _without_type_hint_nag() -> Iterator[None]:
    """Drop MLflow's warnings about ``predict`` type hints (whatever the hints are).

    MLflow installs its own ``once`` filter around that warning, so a warning filter cannot
    silence it; the display hook can. Other warnings pass through unchanged. Our input schema
    is the explicit signature logged with the model.
    """
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if _TYPE_HINT_NAG.search(str(message)):
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


with _without_type_hint_nag():

    class ResistanceBundleModel(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc wrapper around a saved :class:`ResistanceBundle`.

        ``predict`` takes a profile frame (the clinicians' sheet columns) and returns the same
        scored frame as ``oncoresist score``.
        """

        # No type hints on the MLflow hooks: MLflow would try (and fail) to derive a schema from
        # them; the signature logged with the model describes the input instead.
        def load_context(self, context):
            """Load the bundle and learn its registry name and version.

            The bundle is saved before the registry numbers it, so the version is looked up
            here (served models and ``mlflow.pyfunc.load_model`` stamp it on every row).
            """
            folder = Path(context.artifacts[BUNDLE_ARTIFACT])
            self.bundle = ResistanceBundle.load(folder)
            model_dir = next((p for p in folder.parents if (p / "MLmodel").exists()), None)
            if model_dir is not None:
                self.bundle.metadata.update(model_folder_identity(model_dir, self.bundle.metadata))

        def predict(self, context, model_input, params=None):
            """Score a profile frame: one output row per input row, in input order.

            Rows the scorer rejects keep their place with empty predictions and the reason
            in ``rejected_reason`` (Spark UDFs and HTTP clients need one row per input row).
            """
            from oncoresist.scoring import score_profiles

            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            frame = frame.reset_index(drop=True)
            result = score_profiles(self.bundle, frame, first_line=0, **(params or {}))
            return rows_in_input_order(result, len(frame))


def rows_in_input_order(result: Any, n_rows: int) -> pd.DataFrame:
    """Scored rows and rejected rows interleaved back into input positions.

    ``result`` comes from ``score_profiles(..., first_line=0)``, so a problem's ``row`` is the
    input position; scored rows keep input order, so they fill the remaining positions.
    """
    reasons: dict[int, list[str]] = {}
    for problem in result.rejected:
        if problem.row is not None:
            where = f"{problem.column}: " if problem.column else ""
            reasons.setdefault(int(problem.row), []).append(where + problem.reason)
    scored = result.scores.reset_index(drop=True)
    kept = [i for i in range(n_rows) if i not in reasons]
    if len(kept) != len(scored):
        raise RuntimeError("row accounting failed in the pyfunc model; please report this bug")
    out = scored.set_axis(kept, axis=0).reindex(range(n_rows))
    out["rejected_reason"] = ["; ".join(reasons[i]) if i in reasons else "" for i in range(n_rows)]
    return out


def pip_requirements() -> list[str]:
    """Requirements recorded with the logged model (explicit: inference takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    names = [
        "pandas",
        "numpy",
        "scikit-learn",
        "scikit-survival",
        "shap",
        "pandera",
        "pydantic",
        "pyyaml",
        "joblib",
        "pyarrow",
    ]
    xgb = "xgboost-cpu"
    try:
        version(xgb)
    except PackageNotFoundError:
        xgb = "xgboost"
    reqs = []
    for name in [*names, xgb, "mlflow"]:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs


def _knowledge_snapshot(destination: Path) -> Path:
    """Copy the knowledge base (``data/knowledge``) the model was trained with.

    ``destination`` is named ``data`` so that, as a code path, it lands beside the package.
    """
    import shutil

    from oncoresist.paths import knowledge_dir

    shutil.copytree(knowledge_dir(), destination / "knowledge")
    return destination


def log_bundle(
    bundle: ResistanceBundle,
    registered_name: str | None = DEFAULT_MODEL_NAME,
    alias: str | None = "candidate",
    input_example: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Log the bundle as one pyfunc model in the active run; register and alias it.

    Returns a dict with ``model_uri``, ``version`` (None when not registered) and ``name``.
    """
    import oncoresist

    package_dir = Path(oncoresist.__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp, _without_type_hint_nag():
        folder = bundle.save(Path(tmp) / "bundle")
        data = _knowledge_snapshot(Path(tmp) / "data")
        signature = profile_signature(input_example) if input_example is not None else None
        info = with_retry(
            lambda: mlflow.pyfunc.log_model(
                name="model",
                python_model=ResistanceBundleModel(),
                artifacts={BUNDLE_ARTIFACT: str(folder)},
                # The knowledge base travels beside the code copy (paths.data_dir finds it),
                # so a served model or a Dask worker needs no checkout.
                code_paths=[str(package_dir), str(data)],
                pip_requirements=pip_requirements(),
                signature=signature,
                input_example=input_example,
                registered_model_name=registered_name,
            ),
            what="log_model",
        )
    version = getattr(info, "registered_model_version", None)
    if registered_name and version is not None and alias:
        client = MlflowClient()
        with_retry(
            lambda: client.set_registered_model_alias(registered_name, alias, str(version)),
            what="set alias",
        )
    # Registry versions are strings everywhere else (aliases, model URIs, scored rows).
    version = None if version is None else str(version)
    return {"model_uri": info.model_uri, "version": version, "name": registered_name}


#: Profile-sheet columns a scoring request must carry; every other column is optional.
REQUIRED_PROFILE_COLUMNS = ("patient_id", "cancer_type", "drug", "line_number")


def profile_signature(example: pd.DataFrame) -> Any:
    """Model signature of the profile frame: required id/treatment columns, the rest optional.

    Built from the schema (column names and dtypes), so a sheet without expression, or with
    only some genes, passes MLflow's input enforcement. Expression columns are ``double``.
    Every other column is ``any``: MLflow refuses int64 -> double (a ``line_number`` of 2
    read from CSV) and float -> string (an optional text column that is empty in every row,
    or numeric patient ids), while the scorer validates these cells row by row and rejects
    only the bad rows. ``any`` costs a per-cell pass in MLflow, affordable for these few
    columns but not for hundreds of expression columns.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import AnyType

    specs = []
    for column in example.columns:
        kind = DataType.double if str(column).startswith("expr_") else AnyType()
        specs.append(ColSpec(kind, str(column), required=column in REQUIRED_PROFILE_COLUMNS))
    return ModelSignature(inputs=Schema(specs))


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def promote(
    version: str | int,
    alias: str = "champion",
    name: str = DEFAULT_MODEL_NAME,
    uri: str | None = None,
) -> None:
    """Point ``alias`` (default ``champion``) at a registered version."""
    configure(uri)
    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException as err:
        raise ModelLoadError(
            f"model {name!r} has no version {version}. {_registry_listing(client)}"
        ) from err
    with_retry(lambda: client.set_registered_model_alias(name, alias, str(version)), what="promote")


def list_versions(
    name: str = DEFAULT_MODEL_NAME,
    uri: str | None = None,
    metric_names: tuple[str, ...] = (
        "test_cindex_harrell",
        "test_cindex_uno",
        "test_ibs",
        "test_mechanism_macro_f1",
        "test_mechanism_auroc",
        "test_mechanism_ece",
    ),
) -> pd.DataFrame:
    """Registered versions with aliases, run id, creation time and key metrics."""
    configure(uri)
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        versions = []
    aliases: dict[str, list[str]] = {}
    try:
        for alias, version in client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
    except MlflowException:
        pass
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version)):
        row: dict[str, Any] = {
            "version": int(mv.version),
            "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
            "run_id": mv.run_id,
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms"),
        }
        metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        for metric in metric_names:
            row[metric] = metrics.get(metric)
        rows.append(row)
    return pd.DataFrame(rows)


def _registry_listing(client: MlflowClient) -> str:
    try:
        models = client.search_registered_models()
    except MlflowException:
        models = []
    if not models:
        return "The registry is empty: train a model first (`oncoresist train`)."
    parts = []
    for model in models:
        aliases = ", ".join(f"@{a}" for a in sorted(model.aliases)) or "no aliases"
        latest = max(
            (int(v.version) for v in client.search_model_versions(f"name = '{model.name}'")),
            default=0,
        )
        parts.append(f"{model.name} (versions 1..{latest}; {aliases})")
    return "Registered models: " + "; ".join(parts) + "."


def load_bundle(reference: str, uri: str | None = None) -> ResistanceBundle:
    """Load a bundle from a registry reference, a run URI or an exported folder.

    Parameters
    ----------
    reference : str
        ``models:/oncoresist@champion``, ``models:/oncoresist/3``, ``runs:/<id>/model``, a
        folder written by :func:`export_bundle` or :meth:`ResistanceBundle.save`, or a
        pyfunc model folder.

    Raises
    ------
    ModelLoadError
        Listing the registered models and aliases when the reference does not resolve.
    """
    path = Path(reference)
    if path.exists():
        return _bundle_from_folder(path)
    if not reference.startswith(("models:/", "runs:/", "m-")):
        raise ModelLoadError(
            f"model reference {reference!r} is neither an existing folder nor an MLflow URI "
            "(models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model)"
        )
    configure(uri)
    client = MlflowClient()
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=reference)
    except MlflowException as err:
        raise ModelLoadError(
            f"cannot resolve model {reference!r}: {err.message.rstrip('.')}. "
            f"{_registry_listing(client)}"
        ) from err
    bundle = _bundle_from_folder(Path(local))
    identity = _registry_identity(reference, client)
    if not identity:  # runs:/ or a logged-model id: ask the registry by run
        identity = model_folder_identity(Path(local), bundle.metadata)
    bundle.metadata.update(identity)
    return bundle


def _registry_identity(reference: str, client: MlflowClient) -> dict[str, str]:
    """Name and version behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.

    The bundle is saved before the registry gives it a version, so the version is read back
    from the registry when the bundle is loaded.
    """
    if not reference.startswith("models:/"):
        return {}
    path = reference.removeprefix("models:/")
    try:
        if "@" in path:
            name, alias = path.split("@", 1)
            version = client.get_model_version_by_alias(name, alias).version
        else:
            name, version = path.split("/", 1)
    except (MlflowException, ValueError):
        return {}
    return {"model_name": name, "model_version": str(version)}


def model_folder_identity(model_dir: Path, metadata: Mapping[str, Any]) -> dict[str, str]:
    """Registry name and version of a logged model folder (``{}`` when it has none).

    An exported folder says so in its ``EXPORT.json`` (no registry needed). Otherwise, when a
    tracking URI is set (``mlflow models serve`` needs one to fetch ``models:/…``), the
    registry is asked which version was registered from this folder's run and logged model;
    the first such version is the model's number (re-registering the same files adds
    aliases of one model, not another model). A lookup failure leaves the version empty
    with a warning; the rows still carry the run id.
    """
    export = model_dir / "EXPORT.json"
    if export.exists():
        saved = json.loads(export.read_text())
        return {k: str(saved[k]) for k in ("model_name", "model_version") if saved.get(k)}
    from mlflow.models import Model
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    # Without one, MLflow would create ./mlflow.db wherever the model happens to be loaded.
    if not is_tracking_uri_set():
        return {}
    run_id, model_id = metadata.get("run_id"), None
    if (model_dir / "MLmodel").exists():
        logged = Model.load(str(model_dir / "MLmodel"))
        run_id, model_id = logged.run_id or run_id, logged.model_id
    if not run_id:
        return {}
    try:
        versions = MlflowClient().search_model_versions(f"run_id = '{run_id}'")
    except Exception as err:  # a model must load even when the registry cannot answer
        logger.warning(
            "registry version of run %s not found (%s); rows carry the run id", run_id, err
        )
        return {}
    mine = [v for v in versions if model_id is None or v.model_id in (None, model_id)]
    named = [v for v in mine if v.name == metadata.get("model_name")] or mine
    if not named:
        return {}
    first = min(named, key=lambda v: int(v.version))
    return {"model_name": first.name, "model_version": str(first.version)}


def _bundle_from_folder(folder: Path) -> ResistanceBundle:
    candidates = [folder, folder / "artifacts" / BUNDLE_ARTIFACT, folder / BUNDLE_ARTIFACT]
    for candidate in candidates:
        if (candidate / "bundle.joblib").exists() or (candidate / "bundle.json").exists():
            bundle = ResistanceBundle.load(candidate)
            export = folder / "EXPORT.json"
            if export.exists():
                identity = json.loads(export.read_text())
                bundle.metadata.update(
                    {k: identity[k] for k in ("model_name", "model_version") if k in identity}
                )
            return bundle
    raise ModelLoadError(
        f"{folder} holds no oncoresist bundle (looked for bundle.joblib in "
        f"{', '.join(str(c) for c in candidates)})"
    )


def export_bundle(reference: str, destination: str | Path, uri: str | None = None) -> Path:
    """Copy a registered bundle to a local folder (e.g. ``models/oncoresist-champion``).

    The folder is a complete MLflow pyfunc model (``mlflow.pyfunc.load_model`` reads it) and
    holds the bundle, so scoring works offline without the registry.
    """
    import shutil

    configure(uri)
    destination = Path(destination)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=reference))
    except MlflowException as err:
        raise ModelLoadError(
            f"cannot export {reference!r}: {err.message.rstrip('.')}. "
            f"{_registry_listing(MlflowClient())}"
        ) from err
    staging = destination.with_name(destination.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(local, staging)
    meta = {
        "exported_from": reference,
        "exported_at": pd.Timestamp.now(tz="UTC").isoformat(),
        **_registry_identity(reference, MlflowClient()),
    }
    (staging / "EXPORT.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(destination, ignore_errors=True)
    staging.replace(destination)
    return destination


def load_pyfunc(reference: str, uri: str | None = None) -> Any:
    """Load the MLflow pyfunc model (for parity checks with ``mlflow models serve``)."""
    configure(uri)
    return mlflow.pyfunc.load_model(reference)
