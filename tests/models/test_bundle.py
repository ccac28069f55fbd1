"""ResistanceBundle persistence, format guard, and parity of the MLflow pyfunc with scoring."""

from __future__ import annotations

import copy
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import ModelLoadError
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.tracking import registry
from oncoresist.tracking.bundles import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    METADATA_FILE,
    read_bundle,
    save_bundle,
)

pytestmark = pytest.mark.slow  # every test here uses the session's trained model

NUMERIC_OUTPUTS = [
    "p_on_target",
    "p_bypass",
    "p_epigenetic",
    "p_lineage",
    "p_microenvironment",
    "median_months_to_resistance",
    "p_resistance_free_6m",
    "p_resistance_free_12m",
    "p_resistance_free_24m",
]


@pytest.fixture(scope="module")
def demo_profiles():
    """A few rows of the committed demo profile sheet as pandas reads it (``line_number``
    int64): the pyfunc's signature accepts it without casting.
    """
    from oncoresist.paths import demo_dir

    return pd.read_csv(demo_dir() / "profiles.csv").head(8)


def _copy(tiny_trained_model) -> ResistanceBundle:
    return copy.deepcopy(tiny_trained_model.result.bundle)


def test_save_load_round_trip_predicts_identically(tiny_trained_model, tmp_path):
    from oncoresist.pipelines.train import load_training_data

    bundle = _copy(tiny_trained_model)
    folder = save_bundle(bundle, tmp_path / "bundle")
    assert (folder / BUNDLE_FILE).exists()
    meta = json.loads((folder / METADATA_FILE).read_text())
    assert meta["bundle_format"] == BUNDLE_FORMAT
    assert meta["run_id"] == tiny_trained_model.result.run_id
    assert not list(folder.glob("*.tmp"))
    loaded = read_bundle(folder)
    profiles = load_training_data(tiny_trained_model.data).profiles.head(25)
    pd.testing.assert_frame_equal(loaded.predict(profiles), bundle.predict(profiles))
    probabilities = loaded.predict(profiles)[[f"p_{m}" for m in loaded.mechanisms]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    # The joblib file alone loads too.
    assert read_bundle(folder / BUNDLE_FILE).feature_names == bundle.feature_names


def test_newer_bundle_format_is_refused_with_upgrade_advice(tiny_trained_model, tmp_path):
    folder = save_bundle(_copy(tiny_trained_model), tmp_path / "bundle")
    meta = json.loads((folder / METADATA_FILE).read_text())
    meta["bundle_format"] = BUNDLE_FORMAT + 1
    meta["oncoresist_version"] = "9.0.0"
    (folder / METADATA_FILE).write_text(json.dumps(meta))
    advice = (
        rf"saved by oncoresist 9\.0\.0 \(bundle format {BUNDLE_FORMAT + 1}\).*reads format "
        rf"{BUNDLE_FORMAT} or older\. Upgrade oncoresist"
    )
    with pytest.raises(ModelLoadError, match=advice):
        read_bundle(folder)
    with pytest.raises(ModelLoadError, match=advice):
        registry.load_bundle(str(folder))


def test_newer_format_inside_the_joblib_is_refused_too(tiny_trained_model, tmp_path):
    bundle = _copy(tiny_trained_model)
    bundle.metadata["bundle_format"] = BUNDLE_FORMAT + 1
    (tmp_path / "b").mkdir()
    joblib.dump(bundle, tmp_path / "b" / BUNDLE_FILE)  # no bundle.json beside it
    with pytest.raises(ModelLoadError, match=rf"bundle format {BUNDLE_FORMAT + 1}"):
        read_bundle(tmp_path / "b" / BUNDLE_FILE)


def test_exported_model_with_newer_format_is_refused(tiny_trained_model, tmp_path):
    dest = registry.export_bundle(
        "models:/oncoresist@candidate", tmp_path / "export", uri=tiny_trained_model.uri
    )
    meta_path = dest / "artifacts" / "bundle" / METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["bundle_format"] = BUNDLE_FORMAT + 5
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=rf"bundle format {BUNDLE_FORMAT + 5}"):
        registry.load_bundle(str(dest))


def test_unreadable_or_foreign_bundle_files(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / BUNDLE_FILE).write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError, match="cannot read the bundle"):
        read_bundle(tmp_path / "junk")
    (tmp_path / "foreign").mkdir()
    joblib.dump({"a": 1}, tmp_path / "foreign" / BUNDLE_FILE)
    with pytest.raises(ModelLoadError, match="does not hold an oncoresist ResistanceBundle"):
        read_bundle(tmp_path / "foreign")
    with pytest.raises(ModelLoadError, match="no oncoresist bundle"):
        read_bundle(tmp_path / "empty-folder-that-does-not-exist")


def test_pyfunc_predict_matches_score_profiles(tiny_trained_model, demo_profiles):
    from oncoresist.scoring.engine import score_profiles

    reference = "models:/oncoresist@candidate"
    bundle = registry.load_bundle(reference, uri=tiny_trained_model.uri)
    expected = score_profiles(bundle, demo_profiles).scores
    model = registry.load_pyfunc(reference, uri=tiny_trained_model.uri)
    got = model.predict(demo_profiles)
    assert len(got) == len(expected) == len(demo_profiles)
    assert got["treatment_id"].tolist() == expected["treatment_id"].tolist()
    np.testing.assert_allclose(
        got[NUMERIC_OUTPUTS].to_numpy(float), expected[NUMERIC_OUTPUTS].to_numpy(float), rtol=1e-9
    )
    assert got["predicted_mechanism"].tolist() == expected["predicted_mechanism"].tolist()
    assert got["mechanism_drivers"].tolist() == expected["mechanism_drivers"].tolist()
    assert (got["run_id"] == tiny_trained_model.result.run_id).all()
    # Not a constant model: the rows differ.
    assert expected["median_months_to_resistance"].nunique() > 1
