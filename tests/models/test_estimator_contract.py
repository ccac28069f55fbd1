"""The scikit-learn estimator contract, checked over every oncoresist model."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from oncoresist.contract import MECHANISMS
from oncoresist.models.baselines import CoxPHBaseline, RSFBaseline
from oncoresist.models.mechanism import LogisticBaseline, MechanismClassifier
from oncoresist.models.survival import TimeToResistanceModel, make_survival_target

CLASSIFIERS = {
    "xgb_mechanism": MechanismClassifier(n_estimators=20, calibration="auto"),
    "logistic": LogisticBaseline(C=0.5),
}
SURVIVAL = {
    "xgb_aft": TimeToResistanceModel(n_estimators=20),
    "xgb_cox": TimeToResistanceModel(objective="survival:cox", n_estimators=20),
    "coxph": CoxPHBaseline(alpha=0.02),
    "rsf": RSFBaseline(n_estimators=10, min_samples_leaf=10),
}
ALL = {**CLASSIFIERS, **SURVIVAL}
#: A hyperparameter each model has, and a valid other value.
OTHER_VALUE = {
    "xgb_mechanism": ("max_depth", 2),
    "logistic": ("C", 2.0),
    "xgb_aft": ("aft_scale", 0.7),
    "xgb_cox": ("learning_rate", 0.2),
    "coxph": ("l1_ratio", 0.9),
    "rsf": ("min_samples_leaf", 5),
}


@pytest.fixture(scope="module")
def data():
    """200 rows, 6 named features with NaN, labels over all classes, a survival target."""
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"feature {i}" for i in range(6)])
    X = X.mask(rng.random((n, 6)) < 0.1)  # NaN = not measured
    signal = X["feature 0"].fillna(0).to_numpy()
    codes = np.where(signal > 0.5, 0, rng.integers(0, 5, n))
    labels = np.array(MECHANISMS, dtype=object)[codes]
    event_time = rng.exponential(np.exp(2.5 - 0.8 * signal))
    censor_time = rng.uniform(3, 40, n)
    y_surv = make_survival_target(np.minimum(event_time, censor_time), event_time <= censor_time)
    return X, labels, y_surv


def target(name, data):
    _, labels, y_surv = data
    return labels if name in CLASSIFIERS else y_surv


def predictions(model, X):
    if is_classifier(model):
        return model.predict_proba(X)
    return np.column_stack([model.predict(X), model.predict_survival_function(X, [3, 12])])


@pytest.mark.parametrize("name", ALL)
def test_clone_and_params_round_trip(name):
    model = ALL[name]
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    key, value = OTHER_VALUE[name]
    copy.set_params(**{key: value})
    assert copy.get_params()[key] == value and model.get_params()[key] != value
    assert repr(copy).startswith(type(model).__name__)


@pytest.mark.parametrize("name", ALL)
def test_fit_returns_self_with_fitted_attributes(name, data):
    X = data[0]
    model = clone(ALL[name])
    assert model.fit(X, target(name, data)) is model
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.n_features_in_ == X.shape[1]
    assert np.all(np.isfinite(predictions(model, X)))  # NaN in X accepted


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_predictions_and_pickle_round_trip(name, data):
    X = data[0]
    first = clone(ALL[name]).fit(X, target(name, data))
    second = clone(ALL[name]).fit(X, target(name, data))
    np.testing.assert_array_equal(predictions(first, X), predictions(second, X))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(predictions(restored, X), predictions(first, X))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_fixed_class_order_and_probabilities(name, data):
    X, labels, _ = data
    model = clone(CLASSIFIERS[name]).fit(X, labels)
    assert list(model.classes_) == list(MECHANISMS)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(MECHANISMS))
    assert np.allclose(proba.sum(axis=1), 1.0) and np.all(proba >= 0)
    assert np.array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert 0 <= model.score(X, labels) <= 1  # ClassifierMixin accuracy


@pytest.mark.parametrize("name", SURVIVAL)
def test_survival_models_speak_scikit_survival(name, data):
    X, _, y_surv = data
    model = clone(SURVIVAL[name]).fit(X, y_surv)
    assert model.predict(X).shape == (len(X),)
    surv = model.predict_survival_function(X, np.array([1.0, 6.0, 12.0]))
    assert surv.shape == (len(X), 3)
    assert model.score(X, y_surv) > 0.6  # Harrell C on the risk score, higher = earlier


@pytest.mark.parametrize("name", ["xgb_aft", "logistic"])
def test_models_work_inside_pipelines_and_cross_validation(name, data):
    X = data[0]
    pipeline = Pipeline([("identity", FunctionTransformer()), ("model", clone(ALL[name]))])
    scores = cross_val_score(
        pipeline, X, target(name, data), cv=KFold(3, shuffle=True, random_state=0)
    )
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
