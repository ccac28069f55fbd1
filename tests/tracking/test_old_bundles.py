"""Bundles saved before the layered layout (format 1, oncoresist 0.1) load and score identically.

``tests/data/bundle_v1`` is a model exported with the flat-layout code (its README says how),
with the unrounded demo scores that code gave. Users have such models registered in MLflow.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from joblib.numpy_pickle import NumpyUnpickler

from oncoresist.exceptions import ModelLoadError
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.scoring.engine import score_profiles
from oncoresist.tracking.bundles import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    METADATA_FILE,
    OLD_MODULE_PATHS,
    read_bundle,
    save_bundle,
)
from oncoresist.tracking.resolve import resolve_bundle

OLD = Path(__file__).parents[1] / "data" / "bundle_v1"
OLD_MODEL = OLD / "model"
DEMO = Path(__file__).parents[2] / "data" / "demo" / "profiles.csv"
SCORED_AT = "2026-12-08T00:00:00+00:00"  # as recorded


def _demo_scores(bundle: ResistanceBundle) -> pd.DataFrame:
    frame = pd.read_csv(DEMO, dtype=str, keep_default_na=False)
    result = score_profiles(bundle, frame, source="profiles.csv", scored_at=SCORED_AT)
    assert result.rejected == []
    return result.scores


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(("p_", "median_", "months_"))]


def test_the_fixture_is_a_format_1_bundle_of_the_flat_layout():
    meta = json.loads((OLD_MODEL / "artifacts" / "bundle" / METADATA_FILE).read_text())
    assert meta["bundle_format"] == 1 < BUNDLE_FORMAT
    assert (OLD_MODEL / "code" / "oncoresist" / "features.py").exists()  # the old module


def test_old_bundle_scores_the_demo_profiles_as_recorded():
    bundle, used = resolve_bundle(str(OLD_MODEL))
    assert used == str(OLD_MODEL)
    recorded = pd.read_csv(OLD / "demo_scores.csv", keep_default_na=False, na_values=[""])
    scores = _demo_scores(bundle)
    assert list(scores["treatment_id"]) == list(recorded["treatment_id"])
    columns = _numeric_columns(recorded)
    assert {"p_on_target", "median_months_to_resistance", "months_lo", "months_hi"} <= set(columns)
    np.testing.assert_allclose(
        scores[columns].to_numpy(float), recorded[columns].to_numpy(float), rtol=0, atol=1e-6
    )
    assert list(scores["predicted_mechanism"]) == list(recorded["predicted_mechanism"])
    assert list(scores["mechanism_set"]) == list(recorded["mechanism_set"])


def test_the_loader_never_puts_the_bundles_code_copy_on_sys_path():
    import sys

    resolve_bundle(str(OLD_MODEL))
    assert not [p for p in sys.path if "bundle_v1" in p]
    assert "bundle_v1" not in importlib.import_module("oncoresist").__file__


class _RecordingUnpickler(NumpyUnpickler):
    """Records every global the pickle names, before any mapping."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.globals_seen: list[tuple[str, str]] = []

    def find_class(self, module, name):
        self.globals_seen.append((module, name))
        return super().find_class(OLD_MODULE_PATHS.get(module, module), name)


def test_every_class_path_in_the_old_pickle_is_mapped_to_a_current_module():
    import inspect

    file = OLD_MODEL / "artifacts" / "bundle" / BUNDLE_FILE
    options = {}
    if "ensure_native_byte_order" in inspect.signature(NumpyUnpickler.__init__).parameters:
        options["ensure_native_byte_order"] = True
    with open(file, "rb") as handle:
        unpickler = _RecordingUnpickler(str(file), handle, **options)
        unpickler.load()
    ours = sorted({(m, n) for m, n in unpickler.globals_seen if m.split(".")[0] == "oncoresist"})
    assert len(ours) >= 5, ours  # bundle, features, both models, uncertainty extras
    unmapped = []
    for module, name in ours:
        target = OLD_MODULE_PATHS.get(module, module)
        try:
            found = getattr(importlib.import_module(target), name)
        except (ImportError, AttributeError):
            unmapped.append(f"{module}.{name} -> {target}.{name}")
            continue
        # the class must be defined where the map points (one address per name)
        assert getattr(found, "__module__", target) == target, (module, name)
    assert unmapped == []


def test_a_re_saved_old_bundle_is_format_2_and_scores_the_same(tmp_path):
    bundle = read_bundle(OLD_MODEL / "artifacts" / "bundle")
    before = _demo_scores(bundle)
    folder = save_bundle(bundle, tmp_path / "bundle")
    assert json.loads((folder / METADATA_FILE).read_text())["bundle_format"] == BUNDLE_FORMAT
    after = _demo_scores(read_bundle(folder))
    columns = _numeric_columns(before)
    np.testing.assert_array_equal(after[columns].to_numpy(), before[columns].to_numpy())


def test_a_bundle_newer_than_the_code_is_refused_with_a_clear_message(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(OLD_MODEL, copy)
    meta_path = copy / "artifacts" / "bundle" / METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta.update(bundle_format=BUNDLE_FORMAT + 1, oncoresist_version="9.0.0")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"saved by oncoresist 9\.0\.0.*Upgrade oncoresist"):
        resolve_bundle(str(copy))
