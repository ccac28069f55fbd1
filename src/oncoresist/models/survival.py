"""Time to resistance: the survival target and the XGBoost survival model.

Conventions shared by every survival model in oncoresist (this one and the baselines in
:mod:`oncoresist.models.baselines`):

* the target is the structured array made by :func:`make_survival_target` (the one place
  that checks times and events);
* ``predict(X)`` returns a **risk score**: higher means earlier resistance, as
  :func:`sksurv.metrics.concordance_index_censored` expects;
* ``predict_survival_function(X, times)`` returns an ndarray of shape (n_samples, n_times)
  of P(no resistance by t), so metrics treat every model alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy import special, stats
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.util import Surv

from oncoresist.exceptions import ConfigError, InputDataError, TrainingDataError
from oncoresist.models import boosting
from oncoresist.models.checks import (
    as_feature_matrix,
    check_times,
    step_function_at,
    xgboost_feature_names,
)

#: Field names of the survival target (same words as the outcomes table).
EVENT_FIELD = "resistance_observed"
TIME_FIELD = "time_to_resistance_months"

OBJECTIVES = ("survival:aft", "survival:cox")
AFT_DISTRIBUTIONS = ("normal", "logistic", "extreme")


def make_survival_target(time: Sequence[float] | np.ndarray, event: Sequence[bool]) -> np.ndarray:
    """Build and check the survival target: the one place times and events are validated.

    Parameters
    ----------
    time : array-like of shape (n_samples,)
        Months from treatment start to resistance (event) or to last follow-up (censored).
        Must be finite and > 0.
    event : array-like of shape (n_samples,)
        True when resistance was observed, False when censored. Booleans or 0/1.

    Returns
    -------
    y : structured ndarray
        Fields ``resistance_observed`` (bool) then ``time_to_resistance_months`` (float), the
        layout of :meth:`sksurv.util.Surv.from_arrays`.

    Raises
    ------
    TrainingDataError
        No sample has an observed event ("all samples are censored").
    InputDataError
        Lengths differ, times are missing, not finite or not > 0, or events are not boolean.
    """
    time_arr = np.asarray(pd.to_numeric(pd.Series(np.asarray(time).ravel()), errors="coerce"))
    time_arr = time_arr.astype(np.float64)
    event_raw = np.asarray(event).ravel()
    if time_arr.shape[0] != event_raw.shape[0]:
        raise InputDataError(
            f"time has {time_arr.shape[0]} values but event has {event_raw.shape[0]}"
        )
    if time_arr.shape[0] == 0:
        raise TrainingDataError("the survival target is empty (no treatments)")
    bad_time = ~np.isfinite(time_arr) | (time_arr <= 0)
    if bad_time.any():
        rows = np.flatnonzero(bad_time)
        raise InputDataError(
            f"time to resistance must be finite and > 0 months; {rows.size} value(s) are not "
            f"(positions {rows[:10].tolist()}, values {time_arr[rows[:10]].tolist()})"
        )
    event_arr = _as_bool_event(event_raw)
    if not event_arr.any():
        raise TrainingDataError(
            f"all samples are censored ({event_arr.size} treatments, 0 with resistance "
            "observed): a survival model needs at least one observed resistance"
        )
    return Surv.from_arrays(event_arr, time_arr, name_event=EVENT_FIELD, name_time=TIME_FIELD)


def _as_bool_event(event: np.ndarray) -> np.ndarray:
    if event.dtype == np.bool_:
        return event
    series = pd.Series(event)
    if series.isna().any():
        raise InputDataError("event indicator has missing values; use True/False or 1/0")
    values = set(series.tolist())
    if values <= {True, False}:  # also 0/1 (0 == False, 1 == True)
        return series.astype(bool).to_numpy()
    raise InputDataError(
        "event indicator must be boolean (True/False or 1/0), got values "
        f"{sorted(map(str, values))[:5]}"
    )


def unpack_survival_target(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(event, time)`` from a structured survival target, re-checking it.

    Accepts any two-field structured array (event first, time second), like scikit-survival.
    """
    names = getattr(getattr(y, "dtype", None), "names", None)
    if names is None or len(names) != 2:
        raise InputDataError(
            "survival target must be a structured array with (event, time) fields. "
            "Fix: build it with oncoresist.models.survival.make_survival_target(time, event)"
        )
    checked = make_survival_target(y[names[1]], y[names[0]])
    return checked[EVENT_FIELD], checked[TIME_FIELD]


class TimeToResistanceModel(SurvivalAnalysisMixin, BaseEstimator):
    """Gradient-boosted survival model for months to resistance (XGBoost AFT or Cox).

    Parameters
    ----------
    objective : {"survival:aft", "survival:cox"}
        Accelerated failure time (log-time = margin + scale * noise; censored rows enter as the
        interval [t, +inf)) or Cox proportional hazards (log-hazard = margin, Breslow baseline
        computed here after boosting).
    aft_distribution : {"normal", "logistic", "extreme"}
        Noise distribution of the AFT model ("extreme" gives Weibull times).
    aft_scale : float
        Scale of that noise on the log-time axis (fixed, not learned by XGBoost).
    n_estimators, learning_rate, max_depth, min_child_weight, subsample, colsample_bytree,
    reg_lambda : XGBoost tree-booster hyperparameters.
    max_bin : int
        Histogram bins per feature. Most features are 0/1 flags; 64 bins instead of
        XGBoost's 256 made fits ~3x faster on ~800 features with no loss of resolution
        for z-scored expression at a few thousand rows.
    monotone_constraints : mapping of feature name to -1/0/+1, or sequence, optional
        Constraint on the **margin** (log-time for AFT: +1 = later resistance).
    early_stopping_rounds : int, optional
        When set, 10% of training rows (seeded) are held out and boosting stops when their
        loss has not improved for that many rounds; the model keeps the best iteration.
    random_state : int
        Seed for row/column subsampling (and the early-stopping hold-out).
    n_jobs : int
        XGBoost threads.

    Attributes
    ----------
    booster_ : xgboost.Booster
        Boosted trees; feature names are the input names with ``[``, ``]``, ``<`` replaced.
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    intercept_ : float
        Margin of a row that reaches no split: ``log(base_score)``. For AFT, ``base_score`` is
        set to the geometric median of training times (XGBoost's default 0.5 months would
        spend the first trees walking up to the right scale); for Cox it is 1 (margin 0).
        ``predict_margin`` includes it, so SHAP values plus the explainer's expected value
        add up to ``predict_margin``.
    best_iteration_ : int
        Boosting rounds kept (with early stopping, ``booster_`` is cut to the best round so
        SHAP explains exactly the trees that predict).
    baseline_cumulative_hazard_ : tuple of ndarray (Cox only)
        Breslow estimate (event times, cumulative baseline hazard at margin 0).
    n_events_, n_censored_ : int
    """

    def __init__(
        self,
        objective: str = "survival:aft",
        aft_distribution: str = "normal",
        aft_scale: float = 1.0,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 64,
        monotone_constraints: Mapping[str, int] | Sequence[int] | None = None,
        early_stopping_rounds: int | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.objective = objective
        self.aft_distribution = aft_distribution
        self.aft_scale = aft_scale
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.monotone_constraints = monotone_constraints
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fitting
    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> TimeToResistanceModel:
        """Fit on features ``X`` and a target from :func:`make_survival_target`.

        Returns
        -------
        self
        """
        self._check_params()
        matrix, names = as_feature_matrix(X)
        event, time = unpack_survival_target(y)
        if matrix.shape[0] != time.shape[0]:
            raise InputDataError(f"X has {matrix.shape[0]} rows but y has {time.shape[0]}")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self._xgb_names = xgboost_feature_names(names)
        self.n_events_ = int(event.sum())
        self.n_censored_ = int((~event).sum())

        is_aft = self.objective == "survival:aft"
        base_score = float(np.exp(np.median(np.log(time)))) if is_aft else 1.0
        self.intercept_ = float(np.log(base_score))
        rows = np.arange(time.shape[0])
        evals: list[tuple[xgb.DMatrix, str]] = []
        if self.early_stopping_rounds is not None:
            rng = np.random.default_rng(self.random_state)
            shuffled = rng.permutation(rows)
            n_valid = max(1, round(0.1 * rows.size))
            valid, rows = np.sort(shuffled[:n_valid]), np.sort(shuffled[n_valid:])
            evals = [(self._dmatrix(matrix[valid], time[valid], event[valid]), "valid")]
        dtrain = self._dmatrix(matrix[rows], time[rows], event[rows])
        self.booster_ = boosting.train(  # xgboost.train, or xgboost.dask (dask_boosting)
            self._xgb_params(base_score),
            dtrain,
            num_boost_round=int(self.n_estimators),
            evals=evals,
            early_stopping_rounds=self.early_stopping_rounds,
            verbose_eval=False,
        )
        if self.early_stopping_rounds is not None:
            self.best_iteration_ = int(self.booster_.best_iteration) + 1
            # Keep only the trees used: SHAP reads every tree of the booster it is given.
            self.booster_ = self.booster_[: self.best_iteration_]
        else:
            self.best_iteration_ = int(self.n_estimators)

        if not is_aft:
            # Breslow's estimator on the boosted log-hazard, as CoxPHSurvivalAnalysis does on
            # its linear predictor; fitted on every training row (held-out ones included).
            breslow = BreslowEstimator().fit(self._margin(matrix), event, time)
            cumhaz = breslow.cum_baseline_hazard_
            self.baseline_cumulative_hazard_ = (np.asarray(cumhaz.x), np.asarray(cumhaz.y))
        return self

    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.aft_distribution not in AFT_DISTRIBUTIONS:
            raise ConfigError(
                f"aft_distribution must be one of {AFT_DISTRIBUTIONS}, "
                f"got {self.aft_distribution!r}"
            )
        if not self.aft_scale > 0:
            raise ConfigError(f"aft_scale must be > 0, got {self.aft_scale!r}")
        if int(self.n_estimators) < 1:
            raise ConfigError(f"n_estimators must be >= 1, got {self.n_estimators!r}")

    def _xgb_params(self, base_score: float) -> dict[str, object]:
        params: dict[str, object] = {
            "objective": self.objective,
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "tree_method": "hist",
            "max_bin": self.max_bin,
            "seed": self.random_state,
            "nthread": self.n_jobs,
            "base_score": base_score,
        }
        if self.objective == "survival:aft":
            params["aft_loss_distribution"] = self.aft_distribution
            params["aft_loss_distribution_scale"] = self.aft_scale
            params["eval_metric"] = "aft-nloglik"
        else:
            params["eval_metric"] = "cox-nloglik"
        if self.monotone_constraints is not None:
            params["monotone_constraints"] = self._constraint_string()
        return params

    def _constraint_string(self) -> str:
        names = list(self.feature_names_in_)
        constraints = self.monotone_constraints
        if isinstance(constraints, Mapping):
            unknown = sorted(set(constraints) - set(names))
            if unknown:
                raise ConfigError(f"monotone_constraints name unknown features: {unknown[:10]}")
            values = [int(constraints.get(name, 0)) for name in names]
        else:
            values = [int(v) for v in constraints]  # type: ignore[union-attr]
            if len(values) != len(names):
                raise ConfigError(
                    f"monotone_constraints has {len(values)} entries for {len(names)} features"
                )
        if any(v not in (-1, 0, 1) for v in values):
            raise ConfigError("monotone_constraints values must be -1, 0 or 1")
        return "(" + ",".join(str(v) for v in values) + ")"

    def _dmatrix(
        self, matrix: np.ndarray, time: np.ndarray | None = None, event: np.ndarray | None = None
    ) -> xgb.DMatrix:
        dmatrix = xgb.DMatrix(matrix, feature_names=self._xgb_names, nthread=self.n_jobs)
        if time is None or event is None:
            return dmatrix
        if self.objective == "survival:aft":
            # Interval-censored labels: an event is [t, t], a censored follow-up is [t, +inf).
            dmatrix.set_float_info("label_lower_bound", time)
            dmatrix.set_float_info("label_upper_bound", np.where(event, time, np.inf))
        else:
            dmatrix.set_label(np.where(event, time, -time))  # XGBoost Cox: negative = censored
        return dmatrix

    # --------------------------------------------------------------- prediction
    def _margin(self, matrix: np.ndarray) -> np.ndarray:
        margin = self.booster_.predict(self._dmatrix(matrix), output_margin=True)
        return margin.astype(np.float64)

    def _margin_of(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "booster_")
        matrix, _ = as_feature_matrix(X, list(self.feature_names_in_))
        return self._margin(matrix)

    def predict_margin(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Raw boosted margin: log-time (AFT) or log-hazard ratio (Cox); the scale SHAP explains."""
        return self._margin_of(X)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Risk score, higher = earlier resistance: ``-log-time`` (AFT) or log-hazard (Cox)."""
        margin = self._margin_of(X)
        return -margin if self.objective == "survival:aft" else margin

    def predict_survival_function(
        self, X: pd.DataFrame | np.ndarray, times: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """P(no resistance by t) for each row at each of ``times`` (months).

        AFT: ``S(t) = 1 - F((log t - margin) / aft_scale)`` with F the noise distribution.
        Cox: ``S(t) = exp(-H0(t) * exp(margin))`` with Breslow's H0, constant after the last
        training event time.

        Returns
        -------
        ndarray of shape (n_samples, n_times)
        """
        grid = check_times(times)
        margin = self._margin_of(X)
        if self.objective == "survival:cox":
            knots, cumhaz = self.baseline_cumulative_hazard_
            baseline = step_function_at(knots, cumhaz, grid, before=0.0)
            return np.exp(-np.outer(np.exp(margin), baseline))
        with np.errstate(divide="ignore"):  # log(0) = -inf gives S(0) = 1 exactly
            z = (np.log(grid)[None, :] - margin[:, None]) / self.aft_scale
        if self.aft_distribution == "normal":
            return stats.norm.sf(z)
        if self.aft_distribution == "logistic":
            return special.expit(-z)
        return np.exp(-np.exp(z))  # extreme value (Gumbel minimum): Weibull times

    def predict_quantile(self, X: pd.DataFrame | np.ndarray, q: float) -> np.ndarray:
        """Months by which a fraction ``q`` of such tumours has become resistant.

        ``q = 0.5`` is the median. For Cox the answer is the first training event time with
        ``S(t) <= 1 - q``, and ``inf`` when the baseline never gets that low.
        """
        if not 0 < q < 1:
            raise ConfigError(f"quantile q must be in (0, 1), got {q!r}")
        return self.quantile_from_margin(self._margin_of(X), q)

    def quantile_from_margin(self, margin: np.ndarray, q: float) -> np.ndarray:
        """:meth:`predict_quantile` from margins already predicted (:meth:`predict_margin`).

        Callers that need several quantiles of the same rows predict the margin once.
        """
        if not 0 < q < 1:
            raise ConfigError(f"quantile q must be in (0, 1), got {q!r}")
        margin = np.asarray(margin, dtype=np.float64)
        if self.objective == "survival:cox":
            knots, cumhaz = self.baseline_cumulative_hazard_
            surv = np.exp(-np.outer(np.exp(margin), cumhaz))
            reached = surv <= 1 - q
            first = np.argmax(reached, axis=1)
            return np.where(reached.any(axis=1), knots[first], np.inf)
        if self.aft_distribution == "normal":
            z = stats.norm.ppf(q)
        elif self.aft_distribution == "logistic":
            z = np.log(q / (1 - q))
        else:
            z = np.log(-np.log1p(-q))
        return np.exp(margin + self.aft_scale * z)

    def predict_median(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Median months to resistance for each row (see :meth:`predict_quantile`)."""
        return self.predict_quantile(X, 0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
