"""Resolve a model reference to a bundle: the one path of score, evaluate, explain and report."""

from __future__ import annotations

from pathlib import Path

from oncoresist.exceptions import ModelLoadError
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.tracking.bundles import DEFAULT_MODEL, EXPORTED_CHAMPION, require_bundle


def resolve_bundle(reference: str, tracking_uri: str | None = None) -> tuple[ResistanceBundle, str]:
    """Load the bundle a model reference names; returns ``(bundle, reference used)``.

    The one model-resolution path of ``score``, ``evaluate``, ``explain`` and ``report``:
    a folder (saved bundle or exported model) is read without importing MLflow;
    ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` and ``runs:/`` go through the registry.
    The default ``models:/oncoresist@champion`` falls back to the exported
    ``models/oncoresist-champion`` folder when no registry answers.
    """
    if Path(reference).exists():  # a folder: read without MLflow, or say why it holds no model
        return require_bundle(Path(reference)), reference
    # Only registry references need MLflow (~1 s to import); folders never load it.
    from oncoresist.tracking.registry import load_bundle  # noqa: PLC0415

    try:
        return load_bundle(reference, uri=tracking_uri), reference
    except ModelLoadError:
        if reference == DEFAULT_MODEL and EXPORTED_CHAMPION.exists():
            return load_bundle(str(EXPORTED_CHAMPION)), str(EXPORTED_CHAMPION)
        raise
