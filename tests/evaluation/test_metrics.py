"""Evaluation metrics agree with direct scikit-learn / scikit-survival calls."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import special
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from oncoresist.contract import MECHANISMS
from oncoresist.evaluation.metrics import (
    bootstrap_ci,
    expected_calibration_error,
    mechanism_metrics,
    ratio_to_oracle,
    reliability_table,
    subgroup_metrics,
    survival_metrics,
    survival_time_grid,
)
from oncoresist.exceptions import InputDataError
from oncoresist.models.survival import make_survival_target


# ----------------------------------------------------------------------------- mechanism
def calibrated_predictions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    proba = special.softmax(rng.normal(scale=1.5, size=(n, 5)), axis=1)
    codes = np.array([rng.choice(5, p=p) for p in proba])
    return np.array(MECHANISMS, dtype=object)[codes], proba


def test_mechanism_metrics_match_sklearn():
    labels, proba = calibrated_predictions(500, seed=0)
    result = mechanism_metrics(labels, proba)
    codes = np.array([MECHANISMS.index(v) for v in labels])
    predicted = proba.argmax(axis=1)
    assert result["macro_f1"] == pytest.approx(f1_score(codes, predicted, average="macro"))
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(codes, predicted))
    assert result["auroc"] == pytest.approx(
        roc_auc_score(codes, proba, multi_class="ovr", average="macro")
    )
    assert result["log_loss"] == pytest.approx(log_loss(codes, proba))
    assert result["auroc_n_classes"] == 5 and result["n"] == 500
    assert result["ece"] < 0.06  # calibrated by construction


def test_mechanism_metrics_with_a_class_absent_from_the_truth():
    labels, proba = calibrated_predictions(300, seed=1)
    keep = labels != "lineage"
    result = mechanism_metrics(labels[keep], proba[keep])
    assert result["auroc_n_classes"] == 4
    codes = np.array([MECHANISMS.index(v) for v in labels[keep]])
    per_class = [roc_auc_score(codes == k, proba[keep][:, k]) for k in (0, 1, 2, 4)]
    assert result["auroc"] == pytest.approx(np.mean(per_class))
    assert result["log_loss"] == pytest.approx(log_loss(codes, proba[keep], labels=range(5)))
    one_class = mechanism_metrics(["bypass"] * 4, np.full((4, 5), 0.2))
    assert np.isnan(one_class["auroc"]) and "fewer than two" in one_class.reasons["auroc"]


def test_ece_and_reliability_on_a_hand_example():
    # two rows at confidence 0.9 (one right), two at 0.6 (both right)
    proba = np.array(
        [
            [0.9, 0.1, 0, 0, 0],
            [0.9, 0.1, 0, 0, 0],
            [0.6, 0.4, 0, 0, 0],
            [0.4, 0.6, 0, 0, 0],
        ]
    )
    labels = ["on_target", "bypass", "on_target", "bypass"]
    table = reliability_table(labels, proba, n_bins=10)
    assert table["n"].sum() == 4
    filled = table[table["n"] > 0]
    assert filled["n"].tolist() == [2, 2]
    assert filled["accuracy"].tolist() == [1.0, 0.5]
    # ECE = 0.5 * |1.0 - 0.6| + 0.5 * |0.5 - 0.9| = 0.4
    assert expected_calibration_error(labels, proba) == pytest.approx(0.4)


def test_over_confident_probabilities_have_high_ece():
    labels, proba = calibrated_predictions(500, seed=2)
    sharp = special.softmax(4 * np.log(proba), axis=1)
    assert expected_calibration_error(labels, sharp) > expected_calibration_error(labels, proba)


def test_mechanism_metrics_reject_bad_input():
    with pytest.raises(InputDataError, match="unknown class label"):
        mechanism_metrics(["resistance"], np.full((1, 5), 0.2))
    with pytest.raises(InputDataError, match="shape"):
        mechanism_metrics(["bypass"], np.full((1, 4), 0.25))


# ----------------------------------------------------------------------------- survival
def survival_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    marker = rng.normal(size=n)
    event_time = rng.exponential(np.exp(2.5 - 0.7 * marker))
    censor_time = rng.uniform(3, 50, n)
    y = make_survival_target(np.minimum(event_time, censor_time), event_time <= censor_time)
    return y, marker, 2.5 - 0.7 * marker  # risk, true log-scale


@pytest.fixture(scope="module")
def survival_split():
    y, marker, log_scale = survival_data(600, seed=0)
    return y[:400], y[400:], marker[400:], log_scale[400:]


def exponential_survival(log_scale: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.exp(-np.outer(np.exp(-log_scale), np.asarray(t)))


def test_survival_metrics_match_sksurv(survival_split):
    y_train, y_test, risk, log_scale = survival_split
    result = survival_metrics(
        y_train, y_test, risk, survival_fn=exponential_survival(log_scale), times=(6, 12)
    )
    event, time = y_test["resistance_observed"], y_test["time_to_resistance_months"]
    assert result["cindex_harrell"] == pytest.approx(
        concordance_index_censored(event, time, risk)[0]
    )
    tau = result["cindex_uno_tau"]
    assert time.min() < tau < time.max()
    assert result["cindex_uno"] == pytest.approx(
        concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0]
    )
    grid = survival_time_grid(y_train, y_test)
    assert time.min() < grid[0] and grid[-1] < time.max()
    expected_ibs = integrated_brier_score(
        y_train, y_test, exponential_survival(log_scale)(grid), grid
    )
    assert result["ibs"] == pytest.approx(expected_ibs)
    assert result["auc_12m"] == pytest.approx(
        cumulative_dynamic_auc(y_train, y_test, risk, [12.0])[0][0]
    )
    assert result["cindex_harrell"] > 0.65 and result["ibs"] < 0.25
    assert not result.reasons


def test_survival_metrics_explain_undefined_values(survival_split):
    y_train, y_test, risk, _ = survival_split
    result = survival_metrics(y_train, y_test, risk, times=(0.001, 12, 1000))
    assert np.isnan(result["ibs"]) and "no survival function" in result.reasons["ibs"]
    assert (
        np.isnan(result["auc_1000m"])
        and "outside the test follow-up" in result.reasons["auc_1000m"]
    )
    assert np.isnan(result["auc_0.001m"])
    assert np.isfinite(result["auc_12m"])
    with pytest.raises(InputDataError, match="risk has"):
        survival_metrics(y_train, y_test, risk[:-1])


def test_survival_metrics_without_test_events(survival_split):
    y_train, _, _, _ = survival_split
    y_test = np.array(
        [(False, 5.0), (False, 8.0), (False, 9.0)], dtype=y_train.dtype
    )  # built directly: make_survival_target rightly refuses all-censored data
    result = survival_metrics(y_train, y_test, np.array([1.0, 2.0, 3.0]))
    assert (
        np.isnan(result["cindex_harrell"])
        and "no observed resistance" in result.reasons["cindex_harrell"]
    )


# ----------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_contains_estimate_and_is_deterministic(survival_split):
    _, y_test, risk, _ = survival_split

    def harrell(y, r):
        return concordance_index_censored(
            y["resistance_observed"], y["time_to_resistance_months"], r
        )[0]

    ci = bootstrap_ci(harrell, y_test, risk, n_resamples=100, seed=3)
    estimate, low, high = ci
    assert estimate == pytest.approx(harrell(y_test, risk))
    assert low < estimate < high and high - low < 0.2
    assert ci.n_resamples == 100 and ci.n_skipped == 0
    assert tuple(bootstrap_ci(harrell, y_test, risk, n_resamples=100, seed=3)) == tuple(ci)


def test_bootstrap_skips_undefined_resamples():
    labels = np.array(["bypass"] * 18 + ["on_target"] * 2)
    scores = np.linspace(0, 1, 20)

    def auroc(y, s):
        if len(set(y)) < 2:
            raise ValueError("one class")
        return roc_auc_score(y == "on_target", s)

    ci = bootstrap_ci(auroc, labels, pd.Series(scores), n_resamples=200, seed=0)
    assert 0 < ci.n_skipped < 200
    assert ci.low <= ci.estimate <= ci.high
    with pytest.raises(InputDataError, match="same length"):
        bootstrap_ci(auroc, labels, scores[:5])


# ----------------------------------------------------------------------------- comparisons
def test_subgroup_metrics_per_setting():
    labels, proba = calibrated_predictions(300, seed=4)
    settings = np.array(["alk_1L"] * 150 + ["egfr_1L"] * 145 + ["rare"] * 5)
    table = subgroup_metrics(lambda y, p: mechanism_metrics(y, p), settings, labels, proba)
    assert table["group"].tolist() == ["alk_1L", "egfr_1L", "rare"]
    assert table["n_rows"].tolist() == [150, 145, 5]
    expected = mechanism_metrics(labels[:150], proba[:150])["macro_f1"]
    assert table.loc[0, "macro_f1"] == pytest.approx(expected)
    assert np.isnan(table.loc[2, "macro_f1"]) and "fewer than 10" in table.loc[2, "reason"]


def test_ratio_to_oracle():
    assert ratio_to_oracle(0.7, 0.8) == pytest.approx(0.875)
    assert ratio_to_oracle(1.2, 0.9, higher_is_better=False) == pytest.approx(0.75)
    assert np.isnan(ratio_to_oracle(0.7, 0.0))
    assert np.isnan(ratio_to_oracle(float("nan"), 0.8))
