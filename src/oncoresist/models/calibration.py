"""Probability calibration of the mechanism classifier, chosen on inner folds (private).

The decision is honest: each candidate calibrator is fitted on the out-of-fold margins of the
*other* inner folds and judged on the held-out fold (cross-fitting), so a calibrator cannot
look good merely by memorising the margins it is scored on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from oncoresist.contract import MECHANISMS
from oncoresist.evaluation.metrics import expected_calibration_error, reliability_table
from oncoresist.exceptions import ConfigError

#: "auto" applies temperature scaling only if out-of-fold log-loss drops by at least this
#: many nats: smaller gains are within fold-to-fold noise for an already calibrated model.
MIN_LOGLOSS_GAIN = 0.005

#: Floor on an isotonic class probability before renormalising (avoids log(0)).
_ISOTONIC_FLOOR = 1e-6

_LABELS = list(range(len(MECHANISMS)))


@dataclass
class CalibrationDecision:
    """Outcome of :func:`choose_calibration`."""

    choice: str
    temperature: float = 1.0
    isotonic: list[IsotonicRegression | None] | None = None
    report: dict[str, object] = field(default_factory=dict)


def fit_temperature(margin: np.ndarray, codes: np.ndarray) -> float:
    """Temperature T minimising the log-loss of ``softmax(margin / T)`` (T in [0.05, 20])."""

    def nll(log_t: float) -> float:
        logp = special.log_softmax(margin / np.exp(log_t), axis=1)
        return float(-logp[np.arange(codes.size), codes].mean())

    result = optimize.minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def fit_isotonic(proba: np.ndarray, codes: np.ndarray) -> list[IsotonicRegression | None]:
    """One increasing map per class from its probability to its observed frequency."""
    maps: list[IsotonicRegression | None] = []
    for k in range(proba.shape[1]):
        hit = (codes == k).astype(np.float64)
        if hit.min() == hit.max():  # class always or never present: nothing to learn
            maps.append(None)
            continue
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        maps.append(iso.fit(proba[:, k], hit))
    return maps


def isotonic_probabilities(
    maps: list[IsotonicRegression | None] | None, proba: np.ndarray
) -> np.ndarray:
    """Apply per-class isotonic maps and renormalise rows to sum to 1."""
    if maps is None:
        return proba
    out = np.column_stack(
        [proba[:, k] if m is None else m.predict(proba[:, k]) for k, m in enumerate(maps)]
    )
    out = np.maximum(out, _ISOTONIC_FLOOR)
    return out / out.sum(axis=1, keepdims=True)


def _folds(codes: np.ndarray, groups: np.ndarray | None, n_folds: int, seed: int) -> np.ndarray:
    fold_of = np.full(codes.size, -1)
    splitter = (
        StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        if groups is None
        else StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    )
    with warnings.catch_warnings():
        # A rare class cannot be in every fold; that is expected, not a problem.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for k, (_, valid) in enumerate(splitter.split(np.zeros(codes.size), codes, groups)):
            fold_of[valid] = k
    return fold_of


def choose_calibration(
    oof_margin: Callable[[np.ndarray, np.ndarray], np.ndarray],
    codes: np.ndarray,
    groups: np.ndarray | None,
    requested: str,
    n_folds: int,
    seed: int,
) -> CalibrationDecision:
    """Decide and fit the calibration from inner-fold out-of-fold margins.

    Parameters
    ----------
    oof_margin : callable
        ``oof_margin(train_idx, valid_idx)`` trains a booster on ``train_idx`` and returns
        its margins for ``valid_idx``.
    codes : ndarray of int
        Class codes of all training rows.
    groups : ndarray, optional
        Patient ids for grouped folds.
    requested : {"auto", "temperature", "isotonic"}
    n_folds : int
    seed : int

    Returns
    -------
    CalibrationDecision
    """
    if int(n_folds) < 2:
        raise ConfigError(f"calibration_folds must be >= 2, got {n_folds!r}")
    n_groups = codes.size if groups is None else np.unique(groups).size
    if n_groups < 2 * n_folds:
        return CalibrationDecision(
            "none",
            report={
                "requested": requested,
                "choice": "none",
                "reason": f"too few rows/patients ({n_groups}) for {n_folds} inner folds",
            },
        )
    fold_of = _folds(codes, groups, int(n_folds), seed)
    margin = np.zeros((codes.size, len(MECHANISMS)))
    for k in range(int(n_folds)):
        valid = np.flatnonzero(fold_of == k)
        train = np.flatnonzero(fold_of != k)
        margin[valid] = np.asarray(oof_margin(train, valid)).reshape(valid.size, -1)

    raw = special.softmax(margin, axis=1)
    candidates = {"none": raw, "temperature": np.empty_like(raw), "isotonic": np.empty_like(raw)}
    for k in range(int(n_folds)):
        valid, other = fold_of == k, fold_of != k
        temperature = fit_temperature(margin[other], codes[other])
        candidates["temperature"][valid] = special.softmax(margin[valid] / temperature, axis=1)
        maps = fit_isotonic(raw[other], codes[other])
        candidates["isotonic"][valid] = isotonic_probabilities(maps, raw[valid])

    ece = {name: expected_calibration_error(codes, p) for name, p in candidates.items()}
    loss = {name: float(log_loss(codes, p, labels=_LABELS)) for name, p in candidates.items()}
    if requested == "auto":
        gain = loss["none"] - loss["temperature"]
        if gain >= MIN_LOGLOSS_GAIN and ece["temperature"] <= ece["none"]:
            choice = "temperature"
            reason = f"temperature scaling lowered out-of-fold log-loss by {gain:.4f} nats"
        else:
            choice = "none"
            reason = (
                f"temperature scaling changed out-of-fold log-loss by {-gain:+.4f} nats and "
                f"ECE by {ece['temperature'] - ece['none']:+.4f}: not a material improvement"
            )
    else:
        choice, reason = requested, "requested explicitly"

    decision = CalibrationDecision(choice)
    if choice == "temperature":
        decision.temperature = fit_temperature(margin, codes)
    elif choice == "isotonic":
        decision.isotonic = fit_isotonic(raw, codes)
    decision.report = {
        "requested": requested,
        "choice": choice,
        "reason": reason,
        "inner_folds": int(n_folds),
        "n_rows": int(codes.size),
        "ece": ece,
        "log_loss": loss,
        "temperature": decision.temperature,
        "reliability_uncalibrated": reliability_table(codes, raw).to_dict("records"),
        "reliability_chosen": reliability_table(codes, candidates[choice]).to_dict("records"),
    }
    return decision
