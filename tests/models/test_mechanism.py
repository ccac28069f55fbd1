"""Mechanism classifier: fixed class order, label checks, calibration, SHAP scale."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError, TrainingDataError
from oncoresist.models.calibration import choose_calibration
from oncoresist.models.mechanism import (
    LogisticBaseline,
    MechanismClassifier,
    MechanismLabelWarning,
    encode_mechanisms,
)

SMALL = {"n_estimators": 30, "learning_rate": 0.1, "calibration": "none"}
#: Deep, fast-learning, unregularised trees on 400 noisy rows: badly over-confident.
OVERCONFIDENT = {
    "n_estimators": 60,
    "learning_rate": 0.3,
    "max_depth": 6,
    "min_child_weight": 0.1,
    "reg_lambda": 0.01,
}


def true_logits(X: pd.DataFrame) -> np.ndarray:
    return np.column_stack([1.5 * X.g0, 1.5 * X.g1, X.g2, np.zeros(len(X)), np.full(len(X), -1.0)])


def mechanism_cohort(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Labels drawn from a known multinomial logistic model over all five classes."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["g0", "g1", "g2", "g3"])
    proba = special.softmax(true_logits(X), axis=1)
    y = np.array([rng.choice(MECHANISMS, p=p) for p in proba], dtype=object)
    X.loc[rng.random(n) < 0.1, "g3"] = np.nan
    return X, y


@pytest.fixture(scope="module")
def cohort():
    return mechanism_cohort(400, seed=0)


# ----------------------------------------------------------------------------- labels
def test_encode_mechanisms_fixed_order():
    labels = ["bypass", "on_target", "microenvironment"] * 5
    with pytest.warns(MechanismLabelWarning, match="no training label"):
        assert encode_mechanisms(labels).tolist() == [1, 0, 4] * 5


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (["bypass"] * 10, "at least 2 are needed"),
        (["bypass"] * 5 + ["resistance"] * 5, "unknown mechanism"),
        (["bypass"] * 5 + [None] + ["on_target"] * 5, "missing"),
        (["bypass"] * 5 + [""] + ["on_target"] * 5, "missing"),
    ],
)
def test_bad_labels_are_training_errors(labels, match):
    with pytest.raises(TrainingDataError, match=match):
        encode_mechanisms(labels)


def test_absent_class_keeps_its_column_with_near_zero_probability():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 60), rng.normal(2, 1, 60), rng.normal(4, 1, 60)]})
    y = np.array(["on_target"] * 60 + ["bypass"] * 60 + ["lineage"] * 60)
    with pytest.warns(MechanismLabelWarning, match=r"\['epigenetic', 'microenvironment'\]"):
        model = MechanismClassifier(**SMALL).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (180, 5)
    assert list(model.classes_) == list(MECHANISMS)
    assert proba[:, [2, 4]].max() < 1e-3
    assert set(model.predict(X)) <= {"on_target", "bypass", "lineage"}


def test_rare_class_warns():
    rng = np.random.default_rng(4)
    y = ["on_target"] * 20 + ["bypass"] * 14 + ["epigenetic", "microenvironment"] * 5
    y += ["lineage"] * 3
    X = pd.DataFrame({"a": rng.normal(size=len(y))})
    with pytest.warns(MechanismLabelWarning) as record:
        MechanismClassifier(**SMALL).fit(X, y)
    assert [str(w.message) for w in record] == [
        "mechanism class(es) with fewer than 5 labels: {'lineage': 3}; "
        "their probabilities are unreliable"
    ]


# ----------------------------------------------------------------------------- margins
def test_uncalibrated_proba_is_softmax_of_margin(cohort):
    X, y = cohort
    model = MechanismClassifier(**SMALL).fit(X, y)
    margin = model.predict_margin(X)
    assert margin.shape == (len(X), 5)
    assert np.allclose(model.predict_proba(X), special.softmax(margin, axis=1), atol=1e-6)
    booster_proba = model.booster_.predict(model._dmatrix(X.to_numpy()))
    assert np.allclose(model.predict_proba(X), booster_proba, atol=1e-6)
    assert model.intercept_.shape == (5,)


def test_first_rounds_are_the_shorter_model(cohort):
    """A grid over n_estimators can share one fit: n_trees rounds == n_estimators=n_trees."""
    X, y = cohort
    params = {**SMALL, "colsample_bytree": 0.5, "subsample": 0.8}
    short = MechanismClassifier(**params).fit(X, y)
    long = MechanismClassifier(**{**params, "n_estimators": 60}).fit(X, y)
    assert np.array_equal(long.predict_margin(X, n_trees=30), short.predict_margin(X))
    assert not np.allclose(long.predict_margin(X), short.predict_margin(X))
    with pytest.raises(ConfigError, match="n_trees"):
        long.predict_margin(X, n_trees=61)


def test_shap_path_dependent_values_add_up_to_margin(cohort):
    shap = pytest.importorskip("shap")
    X, y = cohort
    model = MechanismClassifier(**SMALL).fit(X, y)
    explainer = shap.TreeExplainer(model.booster_)
    values = explainer.shap_values(X.iloc[:50].to_numpy())  # (n, p, K)
    total = values.sum(axis=1) + np.asarray(explainer.expected_value)
    assert np.allclose(total, model.predict_margin(X.iloc[:50]), atol=1e-4)


# ----------------------------------------------------------------------------- calibration
def test_auto_calibration_picks_temperature_when_overconfident(cohort):
    X, y = cohort
    model = MechanismClassifier(calibration="auto", **OVERCONFIDENT).fit(X, y)
    report = model.calibration_report_
    assert model.calibration_ == report["choice"] == "temperature"
    assert model.temperature_ > 1.5  # over-confident margins are shrunk
    assert report["ece"]["temperature"] < report["ece"]["none"]
    assert report["log_loss"]["temperature"] < report["log_loss"]["none"]
    margin = model.predict_margin(X)
    proba = model.predict_proba(X)
    assert np.allclose(proba, special.softmax(margin / model.temperature_, axis=1))
    assert np.array_equal(proba.argmax(axis=1), margin.argmax(axis=1))  # argmax kept
    assert sum(b["n"] for b in report["reliability_chosen"]) == len(X)


def test_auto_calibration_keeps_calibrated_margins():
    # Margins that are the true log-probabilities are calibrated by construction.
    X, y = mechanism_cohort(600, seed=1)
    codes = encode_mechanisms(y)
    logits = true_logits(X)
    decision = choose_calibration(
        lambda train, valid: logits[valid], codes, None, "auto", n_folds=3, seed=0
    )
    assert decision.choice == "none"
    assert decision.temperature == 1.0
    assert "not a material improvement" in decision.report["reason"]
    # the same margins tripled are over-confident: temperature scaling undoes it
    decision = choose_calibration(
        lambda train, valid: 3 * logits[valid], codes, None, "auto", n_folds=3, seed=0
    )
    assert decision.choice == "temperature"
    assert decision.temperature == pytest.approx(3.0, rel=0.25)


def test_isotonic_calibration_gives_probabilities(cohort):
    X, y = cohort
    model = MechanismClassifier(calibration="isotonic", **OVERCONFIDENT).fit(X, y)
    proba = model.predict_proba(X)
    assert model.calibration_ == "isotonic"
    assert np.allclose(proba.sum(axis=1), 1.0) and np.all(proba > 0)


def test_grouped_inner_folds_and_tiny_data(cohort):
    X, y = cohort
    groups = np.repeat(np.arange(200), 2)
    model = MechanismClassifier(calibration="temperature", n_estimators=20).fit(X, y, groups)
    assert model.calibration_report_["inner_folds"] == 3
    tiny = MechanismClassifier(calibration="auto", n_estimators=5)
    with pytest.warns(MechanismLabelWarning):
        tiny.fit(X.iloc[:5], ["on_target", "bypass", "on_target", "bypass", "bypass"])
    assert tiny.calibration_ == "none"
    assert "too few" in tiny.calibration_report_["reason"]


def test_invalid_calibration_option(cohort):
    X, y = cohort
    with pytest.raises(ConfigError, match="calibration must be one of"):
        MechanismClassifier(calibration="platt").fit(X, y)
    with pytest.raises(ConfigError, match="calibration_folds"):
        MechanismClassifier(calibration="auto", calibration_folds=1).fit(X, y)


# ----------------------------------------------------------------------------- baseline
def test_logistic_baseline_fixed_order_with_absent_class():
    X, y = mechanism_cohort(300, seed=2)
    keep = y != "epigenetic"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MechanismLabelWarning)
        model = LogisticBaseline().fit(X[keep], y[keep])
    proba = model.predict_proba(X)
    assert proba.shape == (300, 5)
    assert np.all(proba[:, MECHANISMS.index("epigenetic")] == 0)
    assert np.allclose(proba.sum(axis=1), 1.0)
    # it learns the planted signal: g0 drives on_target
    hi, lo = X.assign(g0=2.0), X.assign(g0=-2.0)
    assert np.all(model.predict_proba(hi)[:, 0] > model.predict_proba(lo)[:, 0])


def test_cv_grid_shares_one_fit_across_n_estimators():
    from oncoresist.models.config import load_config
    from oncoresist.models.tuning import _share_boosting_rounds, grid_candidates

    config = load_config(None)
    grid = grid_candidates({"max_depth": [2, 3], "n_estimators": [300, 600]})
    groups = _share_boosting_rounds(grid, config)
    assert [fit["max_depth"] for fit, _ in groups] == [2, 3]
    assert all(fit["n_estimators"] == 600 for fit, _ in groups)
    scored = [(c["max_depth"], c["n_estimators"], n) for _, members in groups for c, n in members]
    assert sorted(scored) == [(2, 300, 300), (2, 600, 600), (3, 300, 300), (3, 600, 600)]
    # without n_estimators in the grid each candidate keeps the configured rounds
    plain = _share_boosting_rounds(grid_candidates({"max_depth": [2, 3]}), config)
    assert [members[0][1] for _, members in plain] == [config.mechanism.n_estimators] * 2
