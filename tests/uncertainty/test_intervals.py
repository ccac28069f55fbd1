"""Censoring-aware interval recalibration and D-calibration on synthetic Weibull data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import InputDataError
from oncoresist.uncertainty.intervals import (
    TimeIntervalCalibrator,
    coverage_against_truth,
    coverage_censoring_aware,
    d_calibration,
    pit_values,
)


class _Weibull:
    """A stand-in survival model: Weibull with per-row scale ``x``, a fixed (wrong) shape."""

    def __init__(self, shape: float) -> None:
        self.shape = shape

    def predict_survival_function(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        scale = X["scale"].to_numpy()[:, None]
        return np.exp(-((np.asarray(times)[None, :] / scale) ** self.shape))

    def predict_quantile(self, X: pd.DataFrame, q: float) -> np.ndarray:
        return X["scale"].to_numpy() * (-np.log1p(-q)) ** (1.0 / self.shape)


def _cohort(n: int, seed: int, cure: float = 0.0, follow_up: float = 60.0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(5, 30, n)
    true = scale * rng.weibull(1.6, n)  # true shape 1.6; the model says 0.8
    true[rng.random(n) < cure] = np.inf
    censor = np.minimum(rng.exponential(40.0, n), follow_up)
    time = np.minimum(true, censor)
    return pd.DataFrame({"scale": scale}), time, true <= censor, true


def test_recalibrated_interval_covers_true_times_under_censoring():
    model = _Weibull(shape=0.8)  # too wide: nominal 10%/90% quantiles over-cover
    X, time, event, _ = _cohort(3000, seed=1)
    assert 0.2 < 1 - event.mean() < 0.6
    calibrator = TimeIntervalCalibrator(0.8).fit(model, X, time, event)
    X_new, time_new, event_new, true_new = _cohort(20000, seed=2)
    lo, hi = calibrator.predict_interval(model, X_new)
    assert abs(coverage_against_truth(lo, hi, true_new)["coverage"] - 0.8) <= 0.03
    naive = (true_new >= model.predict_quantile(X_new, 0.1)) & (
        true_new <= model.predict_quantile(X_new, 0.9)
    )
    assert naive.mean() > 0.86  # the uncalibrated interval is off: the test can fail
    estimate = coverage_censoring_aware(
        model,
        X_new,
        time_new,
        event_new,
        calibrator.lower_level_,
        calibrator.upper_level_,
    )
    assert abs(estimate["ipcw"] - 0.8) <= 0.03 and abs(estimate["km"] - 0.8) <= 0.03


def test_open_upper_bound_when_follow_up_never_reaches_the_upper_level():
    model = _Weibull(shape=1.6)
    X, time, event, _ = _cohort(2000, seed=3, cure=0.4, follow_up=12.0)
    calibrator = TimeIntervalCalibrator(0.8).fit(model, X, time, event)
    assert calibrator.upper_level_ == 1.0
    X_new, _, _, true_new = _cohort(5000, seed=4, cure=0.4, follow_up=12.0)
    lo, hi = calibrator.predict_interval(model, X_new)
    assert np.isinf(hi).all() and (lo > 0).all()
    result = coverage_against_truth(lo, hi, true_new)
    # Never-resistant patients (inf) are inside an open interval; only early ones fall out.
    assert result["above"] == 0.0
    assert result["coverage"] == pytest.approx(1 - result["below"])
    # One-sided [F^-1(0.2), inf): the whole 20% miscoverage goes to the lower tail.
    assert abs(result["coverage"] - 0.8) <= 0.03
    assert calibrator.summary()["open_upper_bound"] is True


def test_never_resistant_patient_outside_a_closed_interval():
    result = coverage_against_truth(
        np.array([1.0, 1.0]), np.array([10.0, 10.0]), np.array([5, np.inf])
    )
    assert result["coverage"] == 0.5 and result["above"] == 0.5


def test_d_calibration_accepts_uniform_and_rejects_skewed_pit():
    rng = np.random.default_rng(5)
    uniform = d_calibration(rng.random(5000), np.ones(5000, dtype=bool))
    skewed = d_calibration(rng.random(5000) ** 2, np.ones(5000, dtype=bool))
    assert uniform["p_value"] > 0.01 and skewed["p_value"] < 1e-6
    # A censored row spreads its unit mass over the bins above its PIT (independent censoring).
    u, c = rng.random(4000), rng.random(4000)
    mixed = d_calibration(np.minimum(u, c), u <= c)
    biased = d_calibration(np.minimum(u, c), np.ones(4000, dtype=bool))  # censoring ignored
    assert mixed["p_value"] > 0.001 and biased["p_value"] < 1e-6


def test_pit_and_calibration_need_matching_rows_and_events():
    model = _Weibull(1.0)
    X, time, _, _ = _cohort(50, seed=6)
    with pytest.raises(InputDataError, match="rows but times has"):
        pit_values(model, X, time[:10])
    with pytest.raises(InputDataError, match="no observed progression"):
        TimeIntervalCalibrator(0.8).fit(model, X, time, np.zeros(50, dtype=bool))


def test_levels_per_setting_fix_a_spread_that_is_right_only_on_average():
    rng = np.random.default_rng(7)

    def draw(n: int, shape: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        scale = rng.uniform(5, 30, n)
        true = scale * rng.weibull(shape, n)
        censor = rng.exponential(60.0, n)
        return pd.DataFrame({"scale": scale}), np.minimum(true, censor), true <= censor, true

    model = _Weibull(shape=1.5)
    parts = [draw(1500, 3.0), draw(1500, 0.9)]  # one setting tighter, one wider than the model
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    time, event = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
    groups = np.repeat(np.array(["tight", "wide"], dtype=object), 1500)
    grouped = TimeIntervalCalibrator(0.8, min_group_size=200).fit(model, X, time, event, groups)
    pooled = TimeIntervalCalibrator(0.8).fit(model, X, time, event)
    assert set(grouped.group_levels_) == {"tight", "wide"}
    pooled_errors = []
    for name, shape in (("tight", 3.0), ("wide", 0.9)):
        X_new, _, _, true_new = draw(10000, shape)
        setting = np.full(10000, name, dtype=object)
        lo, hi = grouped.predict_interval(model, X_new, setting)
        assert abs(coverage_against_truth(lo, hi, true_new)["coverage"] - 0.8) <= 0.03, name
        lo, hi = pooled.predict_interval(model, X_new)
        pooled_errors.append(abs(coverage_against_truth(lo, hi, true_new)["coverage"] - 0.8))
    assert max(pooled_errors) > 0.05  # pooled levels miss in at least one setting
