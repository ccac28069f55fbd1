"""The MLflow pyfunc model: the wrapper around a bundle, its signature, and logging it.

:func:`log_bundle` logs one pyfunc model in the active run and registers it; loading it back
is :mod:`oncoresist.tracking.registry`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import AnyType

import oncoresist
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.paths import knowledge_dir
from oncoresist.scoring.engine import score_profiles
from oncoresist.tracking.bundles import BUNDLE_ARTIFACT, read_bundle, save_bundle
from oncoresist.tracking.registry import DEFAULT_MODEL_NAME, model_folder_identity
from oncoresist.tracking.store import with_retry

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
            self.bundle = read_bundle(folder)
            model_dir = next((p for p in folder.parents if (p / "MLmodel").exists()), None)
            if model_dir is not None:
                self.bundle.metadata.update(model_folder_identity(model_dir, self.bundle.metadata))

        def predict(self, context, model_input, params=None):
            """Score a profile frame: one output row per input row, in input order.

            Rows the scorer rejects keep their place with empty predictions and the reason
            in ``rejected_reason`` (Spark UDFs and HTTP clients need one row per input row).
            """
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
    package_dir = Path(oncoresist.__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp, _without_type_hint_nag():
        folder = save_bundle(bundle, Path(tmp) / BUNDLE_ARTIFACT)
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
    specs = []
    for column in example.columns:
        kind = DataType.double if str(column).startswith("expr_") else AnyType()
        specs.append(ColSpec(kind, str(column), required=column in REQUIRED_PROFILE_COLUMNS))
    return ModelSignature(inputs=Schema(specs))
