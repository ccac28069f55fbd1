"""The model registry: promote, list, load and export registered oncoresist models.

A model is referenced as ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN_ID/model``
or an exported folder. The store itself (URI, experiments, run logging) is
:mod:`oncoresist.tracking.store`; the pyfunc model that is logged and registered is
:mod:`oncoresist.tracking.pyfunc`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

from oncoresist.exceptions import ModelLoadError
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.tracking.bundles import EXPORT_FILE, require_bundle
from oncoresist.tracking.store import configure, with_retry

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "oncoresist"
#: Name of the bundle folder among a logged model's artifacts.


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
        return require_bundle(path)
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
    bundle = require_bundle(Path(local))
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


def export_bundle(reference: str, destination: str | Path, uri: str | None = None) -> Path:
    """Copy a registered bundle to a local folder (e.g. ``models/oncoresist-champion``).

    The folder is a complete MLflow pyfunc model (``mlflow.pyfunc.load_model`` reads it) and
    holds the bundle, so scoring works offline without the registry.
    """
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
    (staging / EXPORT_FILE).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(destination, ignore_errors=True)
    staging.replace(destination)
    return destination


def load_pyfunc(reference: str, uri: str | None = None) -> Any:
    """Load the MLflow pyfunc model (for parity checks with ``mlflow models serve``)."""
    configure(uri)
    return mlflow.pyfunc.load_model(reference)
