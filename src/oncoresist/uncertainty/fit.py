"""Honest uncertainty: conformal mechanism sets, calibrated time intervals, OOD flags.

Three components are fitted after the final models, on rows those models never fitted on (the
split plan's calibration split), and travel in ``ResistanceBundle.extras``; the scoring engine
asks each for its output columns:

* ``mechanism_sets`` (:class:`~oncoresist.uncertainty.conformal.MechanismSetPredictor`) →
  ``mechanism_set``;
* ``time_intervals`` (:class:`~oncoresist.uncertainty.intervals.TimeIntervalCalibrator`) →
  ``months_lo``, ``months_hi``;
* ``ood`` (:class:`~oncoresist.uncertainty.ood.OutOfDistributionDetector`) → ``ood_score``,
  ``ood_flag``, ``ood_reasons``.

:func:`evaluate_uncertainty` measures them on labelled rows (the test split at training time, or
a larger simulated cohort), against the simulator's true event times when they are known.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from oncoresist.models.mechanism import MechanismLabelWarning
from oncoresist.models.survival import make_survival_target, unpack_survival_target
from oncoresist.uncertainty.conformal import MechanismSetPredictor, set_coverage
from oncoresist.uncertainty.intervals import (
    TimeIntervalCalibrator,
    coverage_against_truth,
    coverage_censoring_aware,
    d_calibration,
    pit_values,
)
from oncoresist.uncertainty.ood import OutOfDistributionDetector
from oncoresist.uncertainty.shifts import ood_shift_auroc

EXTRA_NAMES = ("mechanism_sets", "time_intervals", "ood")


@dataclass
class UncertaintyReport:
    """Measured coverage, calibration and OOD figures.

    Attributes
    ----------
    metrics : dict of str to float
        ``mechanism_set_coverage``, ``mechanism_set_mean_size``; ``time_interval_coverage``
        (against the true uncensored times: simulated data only, absent otherwise) and the
        censoring-aware estimates from observed outcomes, ``time_interval_coverage_km`` and
        ``time_interval_coverage_ipcw`` (always, when there are events); ``d_calibration_*``,
        ``ood_flag_rate``...
    tables : dict of str to DataFrame
        ``mechanism_set_coverage``: overall, per class and per setting with Wilson intervals.
    card : dict
        Model-card entry (methods, levels, measured figures) for ``bundle.metadata``.
    """

    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)


def fit_uncertainty(
    config: Any,
    builder: Any,
    mechanism_model: Any,
    survival_model: Any,
    x_calibration: pd.DataFrame,
    y_calibration: np.ndarray,
    mechanism_calibration: np.ndarray,
    calibration_profiles: pd.DataFrame,
    x_train: pd.DataFrame,
    train_profiles: pd.DataFrame,
    mechanism_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
) -> dict[str, Any]:
    """Fit the three components on the calibration split (and the OOD detector on training).

    Parameters
    ----------
    config : TrainingConfig
        ``config.uncertainty`` gives the coverages and the OOD quantile.
    builder, mechanism_model, survival_model
        The fitted feature builder and final models.
    x_calibration, y_calibration, mechanism_calibration, calibration_profiles
        Calibration rows: features, survival target, mechanism labels (missing = unlabelled)
        and profile frame, aligned.
    x_train, train_profiles
        Training features and profiles (the OOD detector's reference population).
    mechanism_train : array, optional
        Training mechanism labels (missing = unlabelled). With
        ``config.uncertainty.cross_conformal_folds >= 2``, out-of-fold probabilities of the
        labelled training rows join the calibration scores (pooled cross-conformal scores, as
        in Vovk 2015 and CV+ for classification, Romano, Sesia & Candès 2020): ~8x more
        calibration labels, so the realised coverage moves by < 1 point from one cohort to the
        next instead of ~2. Approximate: the sets use the final model, whose scores are
        slightly better than the fold copies' (slightly conservative); the exact finite-sample
        guarantee holds with ``cross_conformal_folds: 0`` (calibration split only).
    y_train : structured array, optional
        Training survival target: out-of-fold PIT values of the training rows join the
        calibration split's for the interval levels (same folds setting).

    Returns
    -------
    dict
        ``{"mechanism_sets": ..., "time_intervals": ..., "ood": ...}`` for
        ``ResistanceBundle(extras=...)``. ``mechanism_sets`` is left out when the calibration
        split has no mechanism label, ``time_intervals`` when it has no observed progression
        (tiny cohorts); the report card lists what is missing.
    """
    settings = config.uncertainty
    extras: dict[str, Any] = {}
    labels = pd.Series(np.asarray(mechanism_calibration, dtype=object))
    labelled = labels.notna().to_numpy()
    if labelled.any():  # a tiny cohort may have no re-biopsy in calibration: no sets then
        proba = mechanism_model.predict_proba(x_calibration[labelled])
        y_cal = labels[labelled].to_numpy(dtype=object)
        groups = calibration_profiles["setting"].astype(str).to_numpy(dtype=object)[labelled]
        if mechanism_train is not None and settings.cross_conformal_folds >= 2:
            oof = out_of_fold_proba(
                mechanism_model,
                x_train,
                mechanism_train,
                train_profiles["patient_id"].astype(str).to_numpy(dtype=object),
                settings.cross_conformal_folds,
                seed=int(getattr(config, "seed", 0)),
            )
            known = pd.Series(np.asarray(mechanism_train, dtype=object)).notna().to_numpy()
            proba = np.vstack([proba, oof[known]])
            y_cal = np.concatenate([y_cal, np.asarray(mechanism_train, dtype=object)[known]])
            train_groups = train_profiles["setting"].astype(str).to_numpy(dtype=object)
            groups = np.concatenate([groups, train_groups[known]])
        extras["mechanism_sets"] = MechanismSetPredictor(
            settings.mechanism_coverage, settings.min_group_size
        ).fit(proba, y_cal, groups)
    event, time = unpack_survival_target(y_calibration)
    if event.any():
        pit = pit_values(survival_model, x_calibration, time)
        interval_groups = calibration_profiles["setting"].astype(str).to_numpy(dtype=object)
        if y_train is not None and settings.cross_conformal_folds >= 2:
            train_event, train_time = unpack_survival_target(y_train)
            oof = out_of_fold_pit(
                survival_model,
                x_train,
                y_train,
                train_profiles["patient_id"].astype(str).to_numpy(dtype=object),
                settings.cross_conformal_folds,
                seed=int(getattr(config, "seed", 0)),
            )
            pit = np.concatenate([pit, oof])
            interval_groups = np.concatenate(
                [interval_groups, train_profiles["setting"].astype(str).to_numpy(dtype=object)]
            )
            time = np.concatenate([time, train_time])
            event = np.concatenate([event, train_event])
        extras["time_intervals"] = TimeIntervalCalibrator(settings.interval_coverage).fit_pit(
            pit, time, event, interval_groups
        )
    extras["ood"] = OutOfDistributionDetector(settings.ood_quantile).fit(
        builder, x_train, train_profiles, x_calibration, calibration_profiles
    )
    return extras


def out_of_fold_proba(
    mechanism_model: Any,
    x_train: pd.DataFrame,
    labels: np.ndarray,
    patients: np.ndarray,
    folds: int,
    seed: int = 0,
) -> np.ndarray:
    """Mechanism probabilities of each training row from a copy fitted without its fold.

    Folds are drawn by patient (a patient's treatments stay together); copies share the
    final model's hyperparameters (:func:`sklearn.base.clone`) and features. Unlabelled rows
    get probabilities too (they are simply not used).
    """
    labels = pd.Series(np.asarray(labels, dtype=object))
    known = labels.notna().to_numpy()
    fold = _patient_folds(patients, folds, seed)
    columns = list(mechanism_model.feature_names_in_)
    matrix = x_train[columns]
    out = np.full((len(x_train), len(mechanism_model.predict_proba(matrix.iloc[:1])[0])), np.nan)
    for k in range(folds):
        held = fold == k
        fit_rows = known & ~held
        with warnings.catch_warnings():
            # The final model already warned about rare classes; its fold copies would repeat it.
            warnings.simplefilter("ignore", MechanismLabelWarning)
            copy = clone(mechanism_model).fit(matrix[fit_rows], labels[fit_rows].to_numpy())
        out[held] = copy.predict_proba(matrix[held])
    return out


def _patient_folds(patients: np.ndarray, folds: int, seed: int) -> np.ndarray:
    unique = pd.unique(pd.Series(patients))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_patient = dict(zip(unique[order], np.arange(len(unique)) % folds, strict=True))
    return np.array([fold_of_patient[p] for p in patients])


def out_of_fold_pit(
    survival_model: Any,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    patients: np.ndarray,
    folds: int,
    seed: int = 0,
) -> np.ndarray:
    """PIT value ``F_i(t_i)`` of each training row from a model copy fitted without its fold."""
    _, time = unpack_survival_target(y_train)
    fold = _patient_folds(patients, folds, seed)
    out = np.empty(len(x_train))
    for k in range(folds):
        held = fold == k
        copy = clone(survival_model).fit(x_train[~held], y_train[~held])
        out[held] = pit_values(copy, x_train[held], time[held])
    return out


def evaluate_uncertainty(
    extras: dict[str, Any],
    mechanism_model: Any,
    survival_model: Any,
    features: pd.DataFrame,
    y: np.ndarray,
    mechanisms: np.ndarray,
    profiles: pd.DataFrame,
    true_months: np.ndarray | None = None,
) -> UncertaintyReport:
    """Measure coverage, D-calibration and OOD flag rate on labelled rows.

    Parameters
    ----------
    extras : dict
        From :func:`fit_uncertainty`.
    features, y, mechanisms, profiles
        Evaluation rows (features, survival target, mechanism labels with missing values,
        profile frame), aligned.
    true_months : ndarray, optional
        True uncensored months to resistance (simulation ground truth; ``inf`` = never).
    """
    metrics: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    labels = pd.Series(np.asarray(mechanisms, dtype=object))
    labelled = labels.notna().to_numpy()
    settings = profiles["setting"].astype(str).to_numpy(dtype=object)
    if labelled.any() and "mechanism_sets" in extras:
        proba = mechanism_model.predict_proba(features[labelled])
        members = extras["mechanism_sets"].predict_sets(proba, settings[labelled])
        y_lab = labels[labelled].to_numpy(dtype=object)
        table = set_coverage(members, y_lab, {"class": y_lab, "setting": settings[labelled]})
        tables["mechanism_set_coverage"] = table
        overall = table.iloc[0]
        metrics.update(
            mechanism_set_coverage=float(overall["coverage"]),
            mechanism_set_coverage_ci_low=float(overall["ci_low"]),
            mechanism_set_coverage_ci_high=float(overall["ci_high"]),
            mechanism_set_mean_size=float(overall["mean_size"]),
            mechanism_set_n=float(overall["n"]),
        )
    event, time = unpack_survival_target(y)
    if "time_intervals" in extras and event.any():
        metrics.update(
            _interval_metrics(
                extras["time_intervals"], survival_model, features, time, event, settings
            )
        )
    if "time_intervals" in extras and true_months is not None:
        metrics.update(
            _truth_metrics(
                extras["time_intervals"], survival_model, features, true_months, settings
            )
        )
    scored = extras["ood"].score(features, profiles)
    metrics["ood_flag_rate"] = float(scored["ood_flag"].mean())
    metrics["ood_score_flag_rate"] = float((scored["ood_score"] >= extras["ood"].quantile).mean())
    card: dict[str, Any] = {name: extras[name].summary() for name in EXTRA_NAMES if name in extras}
    card["not_fitted"] = [name for name in EXTRA_NAMES if name not in extras]
    card["measured"] = {k: round(float(v), 4) for k, v in metrics.items()}
    return UncertaintyReport(metrics=metrics, tables=tables, card=card)


def _interval_metrics(
    intervals: TimeIntervalCalibrator,
    model: Any,
    features: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    settings: np.ndarray,
) -> dict[str, float]:
    """Censoring-aware coverage and D-calibration on observed (censored) data."""
    _, hi = intervals.predict_interval(model, features, settings)
    lower, upper = intervals.levels_for(settings, len(features))
    estimates = coverage_censoring_aware(model, features, time, event, lower, upper)
    out = {
        "time_interval_coverage_km": estimates["km"],
        "time_interval_coverage_ipcw": estimates["ipcw"],
        "time_interval_open_share": float(np.isinf(hi).mean()),
    }
    observed = d_calibration(pit_values(model, features, time), event)
    out.update({f"d_calibration_{k}": v for k, v in observed.items()})
    return out


def _truth_metrics(
    intervals: TimeIntervalCalibrator,
    model: Any,
    features: pd.DataFrame,
    true_months: np.ndarray,
    settings: np.ndarray,
) -> dict[str, float]:
    """Coverage and D-calibration against the true uncensored times (``inf`` = never)."""
    true_months = np.asarray(true_months, dtype=float)
    lo, hi = intervals.predict_interval(model, features, settings)
    truth = coverage_against_truth(lo, hi, true_months)
    out = {
        "time_interval_coverage": truth["coverage"],
        "time_interval_coverage_ci_low": truth["ci_low"],
        "time_interval_coverage_ci_high": truth["ci_high"],
        "time_interval_below": truth["below"],
        "time_interval_above": truth["above"],
    }
    pit = np.ones(len(true_months))  # never resistant: F(inf) = 1
    finite = np.isfinite(true_months)
    pit[finite] = pit_values(model, features[finite], np.maximum(true_months[finite], 1e-9))
    calibration = d_calibration(pit, np.ones(len(pit), dtype=bool))
    out.update({f"d_calibration_true_{k}": v for k, v in calibration.items()})
    return out


def uncertainty_stage(
    config: Any,
    data: Any,
    rows: dict[str, np.ndarray],
    builder: Any,
    mechanism_model: Any,
    survival_model: Any,
    x_train: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], UncertaintyReport]:
    """Training-time stage: fit on the calibration split, evaluate on the test split.

    ``data`` is a :class:`~oncoresist.pipelines.train.TrainingData`; ``rows`` the split's row
    positions (``train``, ``calibration``, ``test``); ``x_train`` the training features when
    already built. Truth-based coverage is measured when ``data.ground_truth`` is present
    (simulated cohorts); the OOD score's AUROC on shifted copies of the test rows
    (``ood_auroc_<shift>``, ``ood_auroc_min``:
    :func:`~oncoresist.uncertainty.shifts.ood_shift_auroc`) on every cohort.
    """

    def part(name: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
        profiles = data.profiles.iloc[rows[name]]
        outcomes = data.outcomes.iloc[rows[name]]
        y = make_survival_target(
            outcomes["time_to_resistance_months"], outcomes["resistance_observed"]
        )
        return profiles, builder.transform(profiles), y, outcomes["mechanism"].to_numpy()

    train_p = data.profiles.iloc[rows["train"]]
    train_o = data.outcomes.iloc[rows["train"]]
    cal_p, x_cal, y_cal, m_cal = part("calibration")
    extras = fit_uncertainty(
        config,
        builder,
        mechanism_model,
        survival_model,
        x_cal,
        y_cal,
        m_cal,
        cal_p,
        builder.transform(train_p) if x_train is None else x_train,
        train_p,
        train_o["mechanism"].to_numpy(),
        make_survival_target(train_o["time_to_resistance_months"], train_o["resistance_observed"]),
    )
    test_p, x_test, y_test, m_test = part("test")
    truth = None
    if data.ground_truth is not None:
        lookup = data.ground_truth.set_index("treatment_id")["true_event_months"]
        truth = lookup.reindex(test_p["treatment_id"]).to_numpy(dtype=float)
    report = evaluate_uncertainty(
        extras, mechanism_model, survival_model, x_test, y_test, m_test, test_p, truth
    )
    # ood_score alone against shifted copies of the test rows (seen drugs; see ood_shifts.py).
    shifts = ood_shift_auroc(extras["ood"], builder, test_p, x_test)
    report.metrics.update(shifts)
    report.card["measured"].update({k: round(v, 4) for k, v in shifts.items()})
    return extras, report
