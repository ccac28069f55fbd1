"""Model bundles on disk: save, read (old layouts included), resolve a model reference.

A bundle folder holds ``bundle.joblib`` (the pickled
:class:`~oncoresist.models.bundle.ResistanceBundle`) and ``bundle.json`` (its readable
metadata). An exported or logged MLflow model holds that folder under ``artifacts/bundle``.

Bundles pickle their classes by module path. Format 1 bundles were written by the flat layout
of oncoresist 0.1 (``oncoresist.features.FeatureBuilder``, ``oncoresist.mechanism...``);
:data:`OLD_MODULE_PATHS` maps those paths to today's modules when they are unpickled, here
and nowhere else. The bundle's own ``code/`` copy (MLflow's ``code_paths``) is never put on
``sys.path``.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import joblib
from joblib.numpy_pickle import NumpyUnpickler

from oncoresist import __version__
from oncoresist.exceptions import ModelLoadError
from oncoresist.io.files import atomic_write
from oncoresist.models.bundle import ResistanceBundle

#: Bumped when a saved bundle can no longer be read by older code. 2: the layered package
#: layout (issue 16); format 1 bundles are read through :data:`OLD_MODULE_PATHS`.
BUNDLE_FORMAT = 2
BUNDLE_FILE = "bundle.joblib"
METADATA_FILE = "bundle.json"
#: Name of the bundle folder inside a logged or exported MLflow model (``artifacts/bundle``).
BUNDLE_ARTIFACT = "bundle"
#: Written by :func:`oncoresist.tracking.registry.export_bundle`: registry name and version.
EXPORT_FILE = "EXPORT.json"
DEFAULT_MODEL = "models:/oncoresist@champion"
EXPORTED_CHAMPION = Path("models/oncoresist-champion")

#: Module of every class a format 1 bundle may pickle → the module that defines it today.
OLD_MODULE_PATHS: dict[str, str] = {
    "oncoresist._calibration": "oncoresist.models.calibration",
    "oncoresist._estimator_utils": "oncoresist.models.checks",
    "oncoresist.alterations": "oncoresist.contract.alterations",
    "oncoresist.boosting": "oncoresist.models.boosting",
    "oncoresist.bundle": "oncoresist.models.bundle",
    "oncoresist.cli": "oncoresist.cli.app",
    "oncoresist.cli_benchmark": "oncoresist.cli.benchmark",
    "oncoresist.cli_common": "oncoresist.cli.common",
    "oncoresist.cli_data": "oncoresist.cli.data",
    "oncoresist.cli_models": "oncoresist.cli.models",
    "oncoresist.cli_score": "oncoresist.cli.score",
    "oncoresist.cli_train": "oncoresist.cli.train",
    "oncoresist.config": "oncoresist.models.config",
    "oncoresist.conformal": "oncoresist.uncertainty.conformal",
    "oncoresist.cv": "oncoresist.models.tuning",
    "oncoresist.dask_engine": "oncoresist.scale.cluster",
    "oncoresist.dask_input": "oncoresist.scale.partitions",
    "oncoresist.dask_scoring": "oncoresist.scale.scoring",
    "oncoresist.dask_training": "oncoresist.scale.training",
    "oncoresist.datasets": "oncoresist.io.datasets",
    "oncoresist.demo": "oncoresist.pipelines.demo",
    "oncoresist.drugs": "oncoresist.knowledge.drugs",
    "oncoresist.evaluate_job": "oncoresist.pipelines.evaluate",
    "oncoresist.evaluation": "oncoresist.evaluation.heldout",
    "oncoresist.explain": "oncoresist.explain.attributions",
    "oncoresist.explain_drivers": "oncoresist.explain.drivers",
    "oncoresist.explain_job": "oncoresist.pipelines.explain",
    "oncoresist.explain_plots": "oncoresist.explain.plots",
    "oncoresist.features": "oncoresist.features.builder",
    "oncoresist.features_genomic": "oncoresist.features.genomic",
    "oncoresist.features_inputs": "oncoresist.features.inputs",
    "oncoresist.features_knowledge": "oncoresist.features.knowledge",
    "oncoresist.features_names": "oncoresist.features.names",
    "oncoresist.fidelity": "oncoresist.explain.fidelity",
    "oncoresist.intervals": "oncoresist.uncertainty.intervals",
    "oncoresist.io": "oncoresist.io.inputs",
    "oncoresist.io_canonical": "oncoresist.io.canonical",
    "oncoresist.io_cbio_clinical": "oncoresist.io.cbioportal.clinical",
    "oncoresist.io_cbio_genomic": "oncoresist.io.cbioportal.genomic",
    "oncoresist.io_cbio_tables": "oncoresist.io.cbioportal.tables",
    "oncoresist.io_cbio_timeline": "oncoresist.io.cbioportal.timeline",
    "oncoresist.io_cbio_write": "oncoresist.io.cbioportal.write",
    "oncoresist.io_cbioportal": "oncoresist.io.cbioportal.study",
    "oncoresist.io_delimited": "oncoresist.io.delimited",
    "oncoresist.io_profile_rows": "oncoresist.io.profile_rows",
    "oncoresist.io_profiles": "oncoresist.io.profiles",
    "oncoresist.io_tables": "oncoresist.io.tables",
    "oncoresist.jobs": "oncoresist.pipelines.validate",
    "oncoresist.knowledge": "oncoresist.knowledge.annotate",
    "oncoresist.mechanism": "oncoresist.models.mechanism",
    "oncoresist.metrics": "oncoresist.evaluation.metrics",
    "oncoresist.ood": "oncoresist.uncertainty.ood",
    "oncoresist.ood_shifts": "oncoresist.uncertainty.shifts",
    "oncoresist.oracle": "oncoresist.evaluation.oracle",
    "oncoresist.plots": "oncoresist.evaluation.plots",
    "oncoresist.profiles": "oncoresist.features.profiles",
    "oncoresist.profiles_text": "oncoresist.features.profile_text",
    "oncoresist.programs": "oncoresist.knowledge.programs",
    "oncoresist.provenance": "oncoresist.tracking.provenance",
    "oncoresist.pyfunc_model": "oncoresist.tracking.pyfunc",
    "oncoresist.registry": "oncoresist.tracking.registry",
    "oncoresist.report": "oncoresist.report.build",
    "oncoresist.report_charts": "oncoresist.report.charts",
    "oncoresist.report_uncertainty": "oncoresist.report.uncertainty",
    "oncoresist.resistance": "oncoresist.knowledge.resistance",
    "oncoresist.score_job": "oncoresist.pipelines.score",
    "oncoresist.score_output": "oncoresist.io.scores",
    "oncoresist.scoring": "oncoresist.scoring.engine",
    "oncoresist.simulate": "oncoresist.simulate.cohort",
    "oncoresist.simulate_assemble": "oncoresist.simulate.assemble",
    "oncoresist.simulate_baseline": "oncoresist.simulate.baseline",
    "oncoresist.simulate_draw": "oncoresist.simulate.draw",
    "oncoresist.simulate_observe": "oncoresist.simulate.observe",
    "oncoresist.simulate_output": "oncoresist.simulate.output",
    "oncoresist.simulate_params": "oncoresist.simulate.params",
    "oncoresist.simulate_truth": "oncoresist.simulate.truth",
    "oncoresist.splits": "oncoresist.models.splits",
    "oncoresist.summary": "oncoresist.contract.summary",
    "oncoresist.survival": "oncoresist.models.survival",
    "oncoresist.survival_baselines": "oncoresist.models.baselines",
    "oncoresist.tracking": "oncoresist.tracking.store",
    "oncoresist.train_evaluate": "oncoresist.pipelines.heldout",
    "oncoresist.training": "oncoresist.pipelines.train",
    "oncoresist.uncertainty": "oncoresist.uncertainty.fit",
    "oncoresist.validation_drivers": "oncoresist.validation.gdsc.drivers",
    "oncoresist.validation_fits": "oncoresist.validation.survival.fits",
    "oncoresist.validation_gdsc": "oncoresist.validation.gdsc.benchmark",
    "oncoresist.validation_loto": "oncoresist.validation.gdsc.loto",
    "oncoresist.validation_models": "oncoresist.validation.survival.models",
    "oncoresist.validation_pandrug": "oncoresist.validation.gdsc.pandrug",
    "oncoresist.validation_prior": "oncoresist.validation.gdsc.prior",
    "oncoresist.validation_report": "oncoresist.validation.page",
    "oncoresist.validation_survival": "oncoresist.validation.survival.benchmark",
}


class _LayoutUnpickler(NumpyUnpickler):
    """joblib's unpickler, with old module paths mapped to today's."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(OLD_MODULE_PATHS.get(module, module), name)


def unpickle_bundle_file(file: Path) -> Any:
    """Unpickle a ``bundle.joblib`` written by any bundle format (old class paths mapped)."""
    options = {}
    if "ensure_native_byte_order" in inspect.signature(NumpyUnpickler.__init__).parameters:
        options["ensure_native_byte_order"] = True
    with open(file, "rb") as handle:
        return _LayoutUnpickler(str(file), handle, **options).load()


def save_bundle(bundle: ResistanceBundle, folder: str | os.PathLike[str]) -> Path:
    """Write ``bundle`` to ``folder`` (``bundle.joblib`` + readable ``bundle.json``), atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        **bundle.metadata,
        "bundle_format": BUNDLE_FORMAT,
        "oncoresist_version": bundle.metadata.get("oncoresist_version", __version__),
    }
    bundle.metadata = meta
    with atomic_write(folder / BUNDLE_FILE, "wb") as handle:
        joblib.dump(bundle, handle)
    with atomic_write(folder / METADATA_FILE) as handle:
        handle.write(json.dumps(meta, indent=2, sort_keys=True, default=str))
    return folder


def read_bundle(path: str | os.PathLike[str]) -> ResistanceBundle:
    """Read a bundle written by :func:`save_bundle` (a folder or its ``bundle.joblib``).

    Bundles of format 1 (oncoresist 0.1, flat module layout) load through
    :data:`OLD_MODULE_PATHS` and score as they did.

    Raises
    ------
    ModelLoadError
        When the file is missing, unreadable, or was written by a newer, incompatible
        oncoresist (its ``bundle_format`` is greater than this code's).
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    meta_path = folder / METADATA_FILE
    if meta_path.exists():
        _check_format(json.loads(meta_path.read_text()), folder)
    file = path if path.is_file() else folder / BUNDLE_FILE
    if not file.exists():
        raise ModelLoadError(
            f"no oncoresist bundle at {path}: expected {BUNDLE_FILE} (export one with "
            "`oncoresist models export` or train with `oncoresist train`)"
        )
    try:
        bundle = unpickle_bundle_file(file)
    except Exception as err:
        raise ModelLoadError(f"cannot read the bundle {file}: {err}") from err
    if not isinstance(bundle, ResistanceBundle):
        raise ModelLoadError(f"{file} does not hold an oncoresist ResistanceBundle")
    _check_format(bundle.metadata, folder)
    return bundle


def _check_format(meta: dict[str, Any], where: Path) -> None:
    found = int(meta.get("bundle_format", 0))
    if found > BUNDLE_FORMAT:
        raise ModelLoadError(
            f"the model at {where} was saved by oncoresist {meta.get('oncoresist_version', '?')} "
            f"(bundle format {found}); this oncoresist {__version__} reads format "
            f"{BUNDLE_FORMAT} or older. Upgrade oncoresist (pip install -U oncoresist) or "
            "score with the version that trained the model."
        )


def bundle_folder(folder: Path) -> Path | None:
    """The folder holding ``bundle.joblib`` inside ``folder`` (itself, or an MLflow model's
    ``artifacts/bundle``), or None."""
    for candidate in (folder, folder / "artifacts" / BUNDLE_ARTIFACT, folder / BUNDLE_ARTIFACT):
        if (candidate / BUNDLE_FILE).exists() or (candidate / METADATA_FILE).exists():
            return candidate
    return None


def bundle_from_folder(folder: Path) -> ResistanceBundle | None:
    """The bundle in a bundle folder or an exported/logged model folder, read without MLflow.

    An exported folder's ``EXPORT.json`` supplies the registry name and version. Returns None
    when ``folder`` holds no bundle.
    """
    if not folder.is_dir():
        return None
    found = bundle_folder(folder)
    if found is None:
        return None
    bundle = read_bundle(found)
    export = folder / EXPORT_FILE
    if export.exists():
        identity = json.loads(export.read_text())
        bundle.metadata.update(
            {k: identity[k] for k in ("model_name", "model_version") if k in identity}
        )
    return bundle


def require_bundle(folder: Path) -> ResistanceBundle:
    """:func:`bundle_from_folder`, raising :class:`ModelLoadError` where it finds none."""
    bundle = bundle_from_folder(folder)
    if bundle is None:
        raise ModelLoadError(
            f"{folder} holds no oncoresist bundle (looked for {BUNDLE_FILE} in {folder}, "
            f"{folder / 'artifacts' / BUNDLE_ARTIFACT} and {folder / BUNDLE_ARTIFACT})"
        )
    return bundle
