"""The model registry and the pyfunc model: aliases, export, loading by every kind of reference."""

from __future__ import annotations

import json

import pytest

from oncoresist.exceptions import ModelLoadError
from oncoresist.tracking import pyfunc as pyfunc_model
from oncoresist.tracking import registry

# --------------------------------------------------------------------------------------
# Registry: a trained model in a throw-away store
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_registered_with_alias_candidate_and_listed(tiny_trained_model):
    versions = registry.list_versions(uri=tiny_trained_model.uri)
    first = versions.set_index("version").loc[1]
    assert "candidate" in first["aliases"].split(",")
    assert first["run_id"] == tiny_trained_model.result.run_id
    assert first["test_cindex_harrell"] == pytest.approx(
        tiny_trained_model.result.metrics["test_cindex_harrell"]
    )
    assert 0 <= first["test_mechanism_macro_f1"] <= 1


@pytest.mark.slow
def test_promote_moves_champion(tiny_trained_model):
    uri = tiny_trained_model.uri
    registry.promote(1, alias="champion", uri=uri)
    aliases = registry.list_versions(uri=uri).set_index("version").loc[1, "aliases"].split(",")
    assert {"candidate", "champion"} <= set(aliases)
    with pytest.raises(ModelLoadError, match=r"no version 99.*Registered models: oncoresist"):
        registry.promote(99, uri=uri)


@pytest.mark.slow
def test_list_versions_of_an_unknown_model_is_empty(tiny_trained_model):
    assert registry.list_versions("no-such-model", uri=tiny_trained_model.uri).empty


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["models:/oncoresist@candidate", "models:/oncoresist/1"])
def test_load_bundle_by_alias_and_version(tiny_trained_model, reference):
    bundle = registry.load_bundle(reference, uri=tiny_trained_model.uri)
    assert bundle.metadata["model_name"] == "oncoresist"
    assert bundle.metadata["model_version"] == "1"
    assert bundle.metadata["run_id"] == tiny_trained_model.result.run_id
    assert bundle.feature_names == tiny_trained_model.result.bundle.feature_names


@pytest.mark.slow
def test_load_bundle_by_run_uri(tiny_trained_model):
    run_id = tiny_trained_model.result.run_id
    bundle = registry.load_bundle(f"runs:/{run_id}/model", uri=tiny_trained_model.uri)
    assert bundle.metadata["run_id"] == run_id


@pytest.mark.slow
def test_export_then_load_from_the_folder_offline(tiny_trained_model, tmp_path, monkeypatch):
    dest = registry.export_bundle(
        "models:/oncoresist@candidate", tmp_path / "models" / "champion", uri=tiny_trained_model.uri
    )
    assert (dest / "MLmodel").exists()
    export = json.loads((dest / "EXPORT.json").read_text())
    assert export["exported_from"] == "models:/oncoresist@candidate"
    assert export["model_version"] == "1"
    assert not (tmp_path / "models" / "champion.tmp").exists()
    # Offline: no store reachable, the folder alone is enough.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    bundle = registry.load_bundle(str(dest))
    assert bundle.metadata["model_version"] == "1"
    assert bundle.metadata["model_name"] == "oncoresist"
    # Exporting again replaces the folder atomically.
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    again = registry.export_bundle("models:/oncoresist/1", dest, uri=tiny_trained_model.uri)
    assert json.loads((again / "EXPORT.json").read_text())["exported_from"].endswith("/1")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("models:/oncoresist@nope", "alias nope"),
        ("models:/oncoresist/99", "version=99"),
        ("models:/nothere@champion", "nothere"),
    ],
)
def test_missing_reference_lists_registered_models(tiny_trained_model, reference, reason):
    pattern = (
        rf"cannot resolve model .*{reason}.*"
        r"Registered models: oncoresist \(versions 1\.\.\d+; .*@candidate"
    )
    with pytest.raises(ModelLoadError, match=pattern):
        registry.load_bundle(reference, uri=tiny_trained_model.uri)


@pytest.mark.slow
def test_export_of_missing_reference_lists_registered_models(tiny_trained_model, tmp_path):
    with pytest.raises(ModelLoadError, match=r"cannot export.*Registered models: oncoresist"):
        registry.export_bundle(
            "models:/oncoresist@nope", tmp_path / "out", uri=tiny_trained_model.uri
        )
    assert not (tmp_path / "out").exists()


def test_reference_that_is_neither_folder_nor_uri(tmp_path):
    with pytest.raises(ModelLoadError, match=r"neither an existing folder nor an MLflow URI"):
        registry.load_bundle(str(tmp_path / "no-such-folder"))


def test_folder_without_a_bundle(tmp_path):
    with pytest.raises(ModelLoadError, match=r"holds no oncoresist bundle"):
        registry.load_bundle(str(tmp_path))


@pytest.mark.slow
def test_empty_registry_says_train_first(tmp_path):
    uri = f"sqlite:///{tmp_path}/empty.db"
    with pytest.raises(ModelLoadError, match=r"registry is empty: train a model first"):
        registry.load_bundle("models:/oncoresist@champion", uri=uri)


def test_pyfunc_rows_keep_input_positions_with_rejection_reasons():
    import pandas as pd

    from oncoresist.exceptions import Problem
    from oncoresist.scoring.engine import ScoreResult
    from oncoresist.tracking.pyfunc import rows_in_input_order

    scores = pd.DataFrame({"treatment_id": ["T0", "T2"], "p_bypass": [0.4, 0.7]})
    rejected = [Problem("input", 1, "mutations", "EGFR L858R;;", "empty item", "remove it")]
    out = rows_in_input_order(ScoreResult(scores, rejected, n_read=3), 3)
    assert out["treatment_id"].tolist()[0] == "T0" and out["treatment_id"].tolist()[2] == "T2"
    assert pd.isna(out.loc[1, "p_bypass"])
    assert out["rejected_reason"].tolist() == ["", "mutations: empty item", ""]


# --------------------------------------------------------------------------------------
# The pyfunc model: input signature and the version it stamps on rows
# --------------------------------------------------------------------------------------


def _demo_rows(n: int = 6):
    """Demo sheet rows as pandas reads them: line_number int64 (one value above 1)."""
    import pandas as pd

    from oncoresist.paths import demo_dir

    frame = pd.read_csv(demo_dir() / "profiles.csv").head(n)
    assert frame["line_number"].dtype == "int64" and frame["line_number"].max() > 1
    return frame


def test_signature_accepts_integer_and_float_line_numbers_and_empty_text_columns():
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.models import validate_schema

    example = pd.DataFrame(
        {"patient_id": ["P"], "cancer_type": ["nsclc"], "drug": ["osimertinib"],
         "line_number": [1.0], "fusions": [""], "expr_EGFR": [0.5]}
    )  # fmt: skip
    schema = pyfunc_model.profile_signature(example).inputs
    rows = pd.DataFrame(
        {"patient_id": [101, 102], "cancer_type": ["nsclc"] * 2, "drug": ["osimertinib"] * 2,
         "line_number": [1, 2], "fusions": [float("nan")] * 2, "expr_EGFR": [0.1, 0.2]}
    )  # fmt: skip
    validate_schema(rows, schema)  # int64 line numbers and ids, an all-empty text column
    validate_schema(rows.astype({"line_number": "float64"}), schema)
    validate_schema(rows.astype({"line_number": "str"}), schema)  # cells as text (Spark CSV)
    # Expression stays numeric and the required columns stay required.
    with pytest.raises(MlflowException, match="expr_EGFR"):
        validate_schema(rows.assign(expr_EGFR=["high", "low"]), schema)
    with pytest.raises(MlflowException, match="line_number"):
        validate_schema(rows.drop(columns="line_number"), schema)


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["models:/oncoresist/1", "runs"])
def test_pyfunc_rows_carry_the_registered_version(tiny_trained_model, reference):
    run_id = tiny_trained_model.result.run_id
    if reference == "runs":
        reference = f"runs:/{run_id}/model"
    model = registry.load_pyfunc(reference, uri=tiny_trained_model.uri)
    rows = _demo_rows()
    out = model.predict(rows)  # int64 line numbers, as read from CSV
    assert len(out) == len(rows) and (out["rejected_reason"] == "").all()
    assert out["model_version"].tolist() == ["1"] * len(rows)
    assert out["model_name"].tolist() == ["oncoresist"] * len(rows)
    assert (out["run_id"] == run_id).all()
    # The CLI's loader agrees for a run reference too.
    assert (
        registry.load_bundle(reference, uri=tiny_trained_model.uri).metadata["model_version"] == "1"
    )


@pytest.mark.slow
def test_pyfunc_of_an_exported_folder_knows_its_version_offline(
    tiny_trained_model, tmp_path, monkeypatch
):
    import mlflow

    dest = registry.export_bundle(
        "models:/oncoresist/1", tmp_path / "champion", uri=tiny_trained_model.uri
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    out = mlflow.pyfunc.load_model(str(dest)).predict(_demo_rows(3))
    assert out["model_version"].tolist() == ["1"] * 3
