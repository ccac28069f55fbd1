"""SHAP explanations: additivity, agreement with shap, readable drivers, grouping, sentences."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from oncoresist.contract import MECHANISMS
from oncoresist.explain.attributions import (
    DRIVER_COLUMNS,
    drivers_table,
    explain_features,
    global_importance,
    shap_cross_check,
    survival_scale,
    top_drivers_text,
)
from oncoresist.explain.drivers import (
    SURVIVAL_MODEL,
    Reader,
    group_matrix,
    sentence_for,
    top_drivers,
)


@pytest.fixture(scope="module")
def explained(explain_trained):
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.pipelines.train import load_training_data

    data = load_training_data(explain_trained.data_dir)
    profiles = data.profiles.iloc[:120].reset_index(drop=True)
    features = explain_trained.bundle.features(profiles)
    assert cohort_to_profiles  # the profile frame is the model input
    return profiles, features, explain_features(explain_trained.bundle, features)


def test_mechanism_attributions_add_up_to_the_uncalibrated_margin(explain_trained, explained):
    _, features, explanation = explained
    margin = explain_trained.bundle.mechanism_model.predict_margin(features)
    assert explanation.mechanism.shape == (len(features), len(MECHANISMS), features.shape[1] + 1)
    np.testing.assert_allclose(explanation.mechanism.sum(axis=2), margin, atol=1e-4)


def test_survival_attributions_add_up_to_the_log_time_margin(explain_trained, explained):
    _, features, explanation = explained
    model = explain_trained.bundle.survival_model
    assert survival_scale(model) == "log-time"  # default config: AFT
    np.testing.assert_allclose(
        explanation.survival.sum(axis=1), model.predict_margin(features), atol=1e-4
    )


def test_attributions_equal_shap_tree_explainer(explain_trained, explained):
    _, features, explanation = explained
    bundle = explain_trained.bundle
    names = explanation.feature_names
    for model, ours in (
        (bundle.mechanism_model, explanation.mechanism[:40]),
        (bundle.survival_model, explanation.survival[:40]),
    ):
        seen = [str(n) for n in model.feature_names_in_]  # a model may see a subset
        columns = [names.index(n) for n in seen]
        theirs = shap_cross_check(model.booster_, features.iloc[:40][seen])
        np.testing.assert_allclose(theirs, ours[..., columns], atol=1e-4)
    surv = shap_cross_check(bundle.survival_model.booster_, features.iloc[:40][seen])
    # the check can fail: a perturbed attribution is caught
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(surv + 1e-3, explanation.survival[:40, columns], atol=1e-4)


def test_sentences_on_each_scale():
    assert sentence_for("MET amplification", 0.9, "mechanism:on_target") == (
        "MET amplification raises the log-odds of on_target by 0.90"
    )
    assert sentence_for("TP53 mutated", -0.4, "mechanism:lineage").endswith(
        "lowers the log-odds of lineage by 0.40"
    )
    assert sentence_for("TP53 mutated", np.log(0.78), SURVIVAL_MODEL) == (
        "TP53 mutated shortens expected time to resistance by 22%"
    )
    assert sentence_for("line 2", np.log(1.5), SURVIVAL_MODEL) == (
        "line 2 lengthens expected time to resistance by 50%"
    )
    assert "hazard of resistance by 50%" in sentence_for(
        "x", np.log(1.5), SURVIVAL_MODEL, "log-hazard"
    )


def test_readable_labels_come_from_the_builder(explain_trained):
    builder = explain_trained.bundle.feature_builder
    read = Reader(builder)
    names = list(builder.get_feature_names_out())
    for name in names[:: max(1, len(names) // 60)]:
        assert read(name, 1.0) == builder.describe_value(name, 1.0)
    assert read("mut:TP53", 1.0) == "TP53 mutated"
    assert read("line_number", 2.0) == "line 2"
    program = next(n for n in names if n.startswith("program:"))
    assert re.search(r"program score \+2\.1 SD$", read(program, 2.1))


def test_top_drivers_rank_by_absolute_contribution_and_respect_allowed(explain_trained):
    builder = explain_trained.bundle.feature_builder
    names = ["mut:TP53", "line_number", "age_years"]
    contribs = np.array([-0.5, 0.9, 0.1])
    values = np.array([1.0, 2.0, 60.0])
    found = top_drivers(contribs, values, names, builder, SURVIVAL_MODEL, k=2)
    assert [d.feature for d in found] == ["line_number", "mut:TP53"]
    assert [d.rank for d in found] == [1, 2]
    assert found[1].label == "TP53 mutated" and found[1].contribution == -0.5
    assert "shortens expected time to resistance by 39%" in found[1].sentence
    allowed = np.array([True, False, True])
    only = top_drivers(contribs, values, names, builder, SURVIVAL_MODEL, k=3, allowed=allowed)
    assert [d.feature for d in only] == ["mut:TP53", "age_years"]
    zero = top_drivers(np.zeros(3), values, names, builder, SURVIVAL_MODEL, k=3)
    assert zero == []


def test_grouping_sums_features_of_one_source(explain_trained):
    builder = explain_trained.bundle.feature_builder
    names = list(builder.get_feature_names_out())
    tp53 = [n for n in names if builder.feature_groups_[n] == "TP53"]
    assert "mut:TP53" in tp53 and len(tp53) >= 2  # mutation flag + expression at least
    contribs = np.zeros(len(names))
    values = np.zeros(len(names))
    for n in tp53:
        contribs[names.index(n)] = 0.3
    contribs[names.index("line_number")] = 0.5
    values[names.index("mut:TP53")] = 1.0
    values[names.index("line_number")] = 1.0
    plain = top_drivers(contribs, values, names, builder, "mechanism:lineage", k=1)
    assert plain[0].feature == "line_number"
    grouped = top_drivers(contribs, values, names, builder, "mechanism:lineage", k=2, group=True)
    assert grouped[0].feature == "TP53"
    assert grouped[0].contribution == pytest.approx(0.3 * len(tp53))
    assert "TP53" in grouped[0].label
    assert grouped[0].sentence.startswith(grouped[0].label + " raises the log-odds of lineage")
    assert grouped[1].feature == "line of therapy"


def test_group_matrix_sums_exactly():
    names, matrix = group_matrix(["a", "b", "c"], {"a": "g", "c": "g"})
    assert names == ["g", "b"]
    np.testing.assert_array_equal(np.array([[1.0, 2.0, 3.0]]) @ matrix, [[4.0, 2.0]])


def test_drivers_table_is_tidy_and_consistent(explain_trained, explained):
    profiles, features, explanation = explained
    bundle = explain_trained.bundle
    table = drivers_table(bundle, explanation, profiles, k=3)
    assert list(table.columns) == list(DRIVER_COLUMNS)
    assert table.groupby(["treatment_id", "model"]).size().max() <= 3
    predicted = pd.Series(
        np.asarray(MECHANISMS)[np.argmax(bundle.mechanism_model.predict_proba(features), 1)],
        index=profiles["treatment_id"],
    )
    mech = table[table["model"].str.startswith("mechanism:")]
    assert (mech["model"].str.split(":").str[1].to_numpy() == predicted[mech["treatment_id"]]).all()
    # contributions are the SHAP values of the named feature
    row = table[table["model"] == SURVIVAL_MODEL].iloc[0]
    i = int(np.flatnonzero(profiles["treatment_id"] == row["treatment_id"])[0])
    j = explanation.feature_names.index(row["feature"])
    assert row["contribution"] == pytest.approx(explanation.survival[i, j])
    grouped = drivers_table(bundle, explanation, profiles, k=3, group=True)
    groups = set(bundle.feature_builder.feature_groups_.values())
    assert set(grouped["feature"]) <= groups


def test_top_drivers_text_matches_table(explain_trained, explained):
    profiles, _, explanation = explained
    texts = top_drivers_text(explain_trained.bundle, explanation, SURVIVAL_MODEL, None, 2)
    assert len(texts) == len(profiles)
    assert all(t.count("; ") <= 1 for t in texts)
    assert re.search(r"\([+-]\d+% time\)$", texts[0])
    with pytest.raises(ValueError, match="need each row's mechanism"):
        top_drivers_text(explain_trained.bundle, explanation, "mechanism", None, 2)


def test_top_drivers_text_ranks_like_top_drivers_row_by_row(explain_trained, explained):
    from oncoresist.explain.attributions import _row_drivers, driver_text, predicted_mechanisms

    _, _, explanation = explained
    bundle = explain_trained.bundle
    mechanisms = predicted_mechanisms(bundle, explanation.features)
    scale = explanation.survival_scale
    for model, wanted in (("mechanism", mechanisms), (SURVIVAL_MODEL, None)):
        rows = _row_drivers(bundle, explanation, model, wanted, 3, group=False)
        expected = ["; ".join(driver_text(d, scale) for d in row) for row in rows]
        assert top_drivers_text(bundle, explanation, model, wanted, 3) == expected
        assert any(t.count("; ") == 2 for t in expected)  # three drivers shown somewhere


def test_attributions_of_a_model_on_a_feature_subset_land_in_their_columns():
    from types import SimpleNamespace

    from oncoresist.explain.attributions import _full_width

    features = pd.DataFrame(np.ones((2, 5)), columns=["a", "b", "c", "d", "e"])
    model = SimpleNamespace(feature_names_in_=np.array(["d", "b"], dtype=object))
    contribs = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)  # (n, K, used + base)
    full = _full_width(contribs, model, features)
    assert full.shape == (2, 3, 6) and full.dtype == np.float64
    np.testing.assert_array_equal(full[..., 3], contribs[..., 0])  # d
    np.testing.assert_array_equal(full[..., 1], contribs[..., 1])  # b
    np.testing.assert_array_equal(full[..., 5], contribs[..., 2])  # base value
    assert not full[..., [0, 2, 4]].any()
    same = _full_width(contribs[:, 0, :].copy(), SimpleNamespace(), features.iloc[:, :2])
    assert same.dtype == np.float64


def test_top_k_stable_equals_a_stable_full_sort():
    from oncoresist.explain.attributions import top_k_stable

    rng = np.random.default_rng(11)
    magnitude = np.abs(rng.normal(size=(300, 40)))
    magnitude[rng.random(magnitude.shape) < 0.6] = 0.0  # rows with fewer than k non-zeros
    magnitude[::7, 5] = magnitude[::7, 9] = 3.0  # ties among the largest values
    magnitude[::11, 2] = magnitude[::11, 30] = magnitude[::11, 31] = 0.5  # ties at the bound
    magnitude[3] = 0.0
    for k in (1, 3, 5, 12, 40, 50):
        expected = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_k_stable(magnitude, k), expected, err_msg=str(k))


def test_global_importance_per_feature_and_group(explain_trained, explained):
    _, _, explanation = explained
    table = global_importance(explanation)
    assert len(table) == len(explanation.feature_names)
    np.testing.assert_allclose(
        table.set_index("feature").loc[explanation.feature_names[0], SURVIVAL_MODEL],
        np.abs(explanation.survival[:, 0]).mean(),
    )
    assert table["mechanism:all"].is_monotonic_decreasing
    groups = explain_trained.bundle.feature_builder.feature_groups_
    grouped = global_importance(explanation, group=groups)
    assert set(grouped["feature"]) == set(groups.values())
