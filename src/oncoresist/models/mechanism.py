"""Resistance mechanism: P(mechanism | resistance occurs) over the fixed label set.

:class:`MechanismClassifier` boosts XGBoost ``multi:softprob`` trees and checks, on inner
cross-validation folds, whether calibrating its probabilities helps; :class:`LogisticBaseline`
is the multinomial logistic regression it is compared with. Both always return probability
columns in the order of :data:`oncoresist.contract.MECHANISMS`, whatever classes the
training labels happen to contain.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError, InputDataError, TrainingDataError
from oncoresist.models import boosting
from oncoresist.models.calibration import choose_calibration, isotonic_probabilities
from oncoresist.models.checks import as_feature_matrix, xgboost_feature_names

CALIBRATIONS = ("auto", "none", "temperature", "isotonic")

#: Below this many labels a class is learnt from anecdotes: warn.
MIN_LABELS_PER_CLASS = 5


class MechanismLabelWarning(UserWarning):
    """A mechanism class is absent from, or rare in, the training labels."""


def encode_mechanisms(y: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
    """Map mechanism labels to codes 0..4 in :data:`~oncoresist.contract.MECHANISMS` order.

    Warns (:class:`MechanismLabelWarning`) when a class is absent or has fewer than
    ``MIN_LABELS_PER_CLASS`` labels.

    Raises
    ------
    TrainingDataError
        Missing or unknown labels, or fewer than two distinct classes.
    """
    labels = pd.Series(np.asarray(y, dtype=object).ravel(), dtype=object)
    missing = labels.isna() | (labels.astype(str).str.strip() == "")
    if missing.any():
        raise TrainingDataError(
            f"{int(missing.sum())} mechanism label(s) are missing; train only on treatments "
            "with an observed mechanism (a re-biopsied progression)"
        )
    index = {name: code for code, name in enumerate(MECHANISMS)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise TrainingDataError(
            f"unknown mechanism label(s) {unknown[:10]}; use one of: {', '.join(MECHANISMS)}"
        )
    codes = labels.map(index).to_numpy(dtype=np.int64)
    counts = np.bincount(codes, minlength=len(MECHANISMS))
    if (counts > 0).sum() < 2:
        raise TrainingDataError(
            f"mechanism labels contain {(counts > 0).sum()} distinct class(es) "
            f"({dict(zip(MECHANISMS, counts.tolist(), strict=True))}); at least 2 are needed"
        )
    absent = [MECHANISMS[k] for k in np.flatnonzero(counts == 0)]
    if absent:
        warnings.warn(
            f"mechanism class(es) {absent} have no training label; their probability will be "
            "close to 0 for every patient",
            MechanismLabelWarning,
            stacklevel=3,
        )
    rare = {
        MECHANISMS[k]: int(counts[k])
        for k in np.flatnonzero((counts > 0) & (counts < MIN_LABELS_PER_CLASS))
    }
    if rare:
        warnings.warn(
            f"mechanism class(es) with fewer than {MIN_LABELS_PER_CLASS} labels: {rare}; "
            "their probabilities are unreliable",
            MechanismLabelWarning,
            stacklevel=3,
        )
    return codes


class MechanismClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost ``multi:softprob`` classifier of the resistance mechanism, optionally calibrated.

    Parameters
    ----------
    n_estimators, learning_rate, max_depth, min_child_weight, subsample, colsample_bytree,
    reg_lambda : XGBoost tree-booster hyperparameters (trees per class = ``n_estimators``).
    max_bin : int
        Histogram bins per feature. Most features are 0/1 flags; 64 bins instead of
        XGBoost's 256 made fits ~3x faster on ~800 features with no loss of resolution
        for z-scored expression at a few thousand rows.
    calibration : {"auto", "none", "temperature", "isotonic"}
        "none" skips the check; "temperature" (one scale on the log-odds, keeps argmax) or
        "isotonic" (per class, renormalised) are fitted on out-of-fold margins of
        ``calibration_folds`` inner folds; "auto" applies temperature scaling only when, on
        those folds, it lowers log-loss by a material amount without raising ECE.
    calibration_folds : int
        Inner folds (stratified, grouped by ``groups`` when given to ``fit``).
    random_state : int
    n_jobs : int

    Attributes
    ----------
    classes_ : ndarray of str
        Always :data:`~oncoresist.contract.MECHANISMS`, in that order.
    booster_ : xgboost.Booster
        Uncalibrated trees fitted on all rows.
    intercept_ : ndarray of shape (5,)
        Per-class margin before any tree (XGBoost estimates it from the class frequencies;
        a class absent from training starts near -7.6). ``predict_margin`` includes it, and
        SHAP's default (path-dependent) TreeExplainer reproduces it per class as its expected
        value. The interventional explainer (with background data) uses class 0's intercept
        for every class in shap 0.51: do not use it on this model.
    calibration_ : str
        Calibration applied in ``predict_proba``: "none", "temperature" or "isotonic".
    temperature_ : float
        Divisor of the margins (1.0 when not temperature-scaled).
    calibration_report_ : dict
        Out-of-fold ECE and log-loss of each option, the choice and why, reliability bins.
    class_counts_ : dict
        Training labels per class.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 64,
        calibration: str = "auto",
        calibration_folds: int = 3,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: Sequence[str] | np.ndarray | pd.Series,
        groups: Sequence[object] | np.ndarray | None = None,
    ) -> MechanismClassifier:
        """Fit on features ``X`` and mechanism labels ``y`` (strings from ``MECHANISMS``).

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features)
        y : array-like of str
        groups : array-like, optional
            Patient ids, so inner calibration folds never split a patient.

        Returns
        -------
        self
        """
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(
                f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}"
            )
        matrix, names = as_feature_matrix(X)
        codes = encode_mechanisms(y)
        if codes.shape[0] != matrix.shape[0]:
            raise InputDataError(f"X has {matrix.shape[0]} rows but y has {codes.shape[0]}")
        self.classes_ = np.asarray(MECHANISMS, dtype=object)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self._xgb_names = xgboost_feature_names(names)
        counts = np.bincount(codes, minlength=len(MECHANISMS))
        self.class_counts_ = dict(zip(MECHANISMS, counts.tolist(), strict=True))

        self.booster_ = self._train(matrix, codes)
        config = json.loads(self.booster_.save_config())["learner"]["learner_model_param"]
        self.intercept_ = np.asarray(json.loads(config["base_score"]), dtype=np.float64)

        self.calibration_, self.temperature_, self.isotonic_ = "none", 1.0, None
        if self.calibration == "none":
            self.calibration_report_ = {"requested": "none", "choice": "none"}
            return self
        decision = choose_calibration(
            lambda train, valid: self._train(matrix[train], codes[train]).predict(
                self._dmatrix(matrix[valid]), output_margin=True
            ),
            codes,
            groups=None if groups is None else np.asarray(groups),
            requested=self.calibration,
            n_folds=self.calibration_folds,
            seed=self.random_state,
        )
        self.calibration_ = decision.choice
        self.temperature_ = decision.temperature
        self.isotonic_ = decision.isotonic
        self.calibration_report_ = decision.report
        return self

    def _dmatrix(self, matrix: np.ndarray, label: np.ndarray | None = None) -> xgb.DMatrix:
        return xgb.DMatrix(matrix, label=label, feature_names=self._xgb_names, nthread=self.n_jobs)

    def _train(self, matrix: np.ndarray, codes: np.ndarray) -> xgb.Booster:
        params = {
            "objective": "multi:softprob",
            "num_class": len(MECHANISMS),
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "tree_method": "hist",
            "max_bin": self.max_bin,
            "eval_metric": "mlogloss",
            "seed": self.random_state,
            "nthread": self.n_jobs,
        }
        return boosting.train(  # xgboost.train, or xgboost.dask inside dask_boosting
            params, self._dmatrix(matrix, codes), num_boost_round=int(self.n_estimators)
        )

    def predict_margin(
        self, X: pd.DataFrame | np.ndarray, n_trees: int | None = None
    ) -> np.ndarray:
        """Uncalibrated log-odds (n_samples, 5) of the booster: the scale SHAP explains.

        ``n_trees`` uses only the first boosting rounds: exactly the model that
        ``n_estimators=n_trees`` would have fitted (same seed, same rounds), so a grid over
        ``n_estimators`` needs one fit.
        """
        check_is_fitted(self, "booster_")
        matrix, _ = as_feature_matrix(X, list(self.feature_names_in_))
        rounds = int(self.n_estimators if n_trees is None else n_trees)
        if not 1 <= rounds <= int(self.n_estimators):
            raise ConfigError(f"n_trees must be in 1..{self.n_estimators}, got {n_trees}")
        margin = self.booster_.predict(
            self._dmatrix(matrix), output_margin=True, iteration_range=(0, rounds)
        )
        return np.asarray(margin, dtype=np.float64).reshape(matrix.shape[0], len(MECHANISMS))

    def predict_proba(self, X: pd.DataFrame | np.ndarray, n_trees: int | None = None) -> np.ndarray:
        """P(mechanism | resistance), (n_samples, 5) in ``classes_`` order, calibrated if chosen.

        ``n_trees``: see :meth:`predict_margin`.
        """
        margin = self.predict_margin(X, n_trees)
        if self.calibration_ == "isotonic":
            return isotonic_probabilities(self.isotonic_, special.softmax(margin, axis=1))
        return special.softmax(margin / self.temperature_, axis=1)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Most probable mechanism per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression on imputed, standardised features (the baseline).

    Pipeline: median imputation → constant (incl. all-NaN) columns dropped →
    standardisation → L2-penalised multinomial ``LogisticRegression`` (lbfgs).

    Parameters
    ----------
    C : float
        Inverse L2 penalty strength.
    max_iter : int
        lbfgs iterations.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(
        self, X: pd.DataFrame | np.ndarray, y: Sequence[str] | np.ndarray | pd.Series
    ) -> LogisticBaseline:
        """Fit on features ``X`` and mechanism labels ``y``; returns self."""
        matrix, names = as_feature_matrix(X)
        codes = encode_mechanisms(y)
        if codes.shape[0] != matrix.shape[0]:
            raise InputDataError(f"X has {matrix.shape[0]} rows but y has {codes.shape[0]}")
        self.classes_ = np.asarray(MECHANISMS, dtype=object)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.pipeline_ = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("drop_constant", VarianceThreshold(0.0)),
                ("scale", StandardScaler()),
                ("logistic", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        ).fit(matrix, codes)
        return self

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """P(mechanism), (n_samples, 5) in ``classes_`` order; 0 for classes never seen."""
        check_is_fitted(self, "pipeline_")
        matrix, _ = as_feature_matrix(X, list(self.feature_names_in_))
        seen = self.pipeline_.predict_proba(matrix)
        proba = np.zeros((matrix.shape[0], len(MECHANISMS)))
        proba[:, self.pipeline_.classes_] = seen
        return proba

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Most probable mechanism per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
