"""Hyperparameter search by cross-validation inside the training split.

Folds are patient-grouped and setting-stratified; the feature builder is fitted in-fold so no
statistic of a validation fold leaks into its features.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from oncoresist.evaluation.metrics import mechanism_metrics, survival_metrics
from oncoresist.features.builder import FeatureBuilder
from oncoresist.models.config import TrainingConfig
from oncoresist.models.mechanism import MechanismClassifier
from oncoresist.models.splits import cv_folds
from oncoresist.models.survival import TimeToResistanceModel, make_survival_target

#: A stage reporter: called with (stage name, fraction done or None).
Reporter = Callable[[str, float | None], None]


def quiet(_stage: str, _fraction: float | None = None) -> None:
    """A :data:`Reporter` that reports nothing."""
    return None


# --------------------------------------------------------------------------------------
# Model factories
# --------------------------------------------------------------------------------------


def make_feature_builder(config: TrainingConfig) -> Any:
    """A fresh FeatureBuilder from the config."""
    f = config.features
    return FeatureBuilder(
        min_patients=f.min_patients,
        expression=f.expression,
        program_scores=f.program_scores,
        top_variance_genes=f.top_variance_genes,
        knowledge_flags=f.knowledge_flags,
        include_expression_genes=f.include_expression_genes,
    )


def make_mechanism_model(config: TrainingConfig, **overrides: Any) -> Any:
    """A fresh MechanismClassifier with config values (and grid overrides)."""
    params = config.mechanism.model_dump(exclude={"grid", "exclude_feature_kinds"})
    params.update(overrides)
    return MechanismClassifier(**params, random_state=config.seed, n_jobs=config.n_jobs)


def make_survival_model(config: TrainingConfig, **overrides: Any) -> Any:
    """A fresh TimeToResistanceModel with config values (and grid overrides)."""
    params = config.survival.model_dump(exclude={"grid"})
    params.update(overrides)
    return TimeToResistanceModel(**params, random_state=config.seed, n_jobs=config.n_jobs)


def mechanism_columns(builder: Any, config: TrainingConfig) -> list[str]:
    """Features the mechanism model sees: all built features but the excluded kinds."""
    excluded = set(config.mechanism.exclude_feature_kinds)
    kinds = builder.feature_kinds_
    return [name for name in builder.get_feature_names_out() if kinds[name] not in excluded]


def grid_candidates(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of a small hyperparameter grid (one empty dict when no grid)."""
    if not grid:
        return [{}]
    keys = sorted(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


# --------------------------------------------------------------------------------------
# Cross-validation inside the training split
# --------------------------------------------------------------------------------------


@dataclass
class CVResult:
    """Per-fold metrics for every grid candidate, and the chosen hyperparameters."""

    mechanism_folds: pd.DataFrame
    survival_folds: pd.DataFrame
    best_mechanism: dict[str, Any]
    best_survival: dict[str, Any]


def cross_validate(
    config: TrainingConfig,
    profiles: pd.DataFrame,
    outcomes: pd.DataFrame,
    report: Reporter = quiet,
) -> CVResult:
    """Patient-grouped, setting-stratified K-fold CV on the training rows.

    ``profiles`` and ``outcomes`` are the training split's rows, aligned row for row.

    Features are fitted in-fold; the mechanism model sees only labelled in-fold rows.
    Hyperparameters are chosen by mean validation log-loss (mechanism) and Harrell C-index
    (survival).
    """
    profiles = profiles.reset_index(drop=True)
    outcomes = outcomes.reset_index(drop=True)
    folds = cv_folds(profiles, n_splits=config.split.cv_folds, seed=config.seed)
    mech_grid = grid_candidates(config.mechanism.grid)
    surv_grid = grid_candidates(config.survival.grid)
    mech_rows, surv_rows = [], []
    total = len(folds) * (len(mech_grid) + len(surv_grid))
    done = 0
    for fold, (fit_idx, valid_idx) in enumerate(folds):
        builder = make_feature_builder(config).fit(profiles.iloc[fit_idx])
        x_fit = builder.transform(profiles.iloc[fit_idx])
        x_valid = builder.transform(profiles.iloc[valid_idx])
        out_fit, out_valid = outcomes.iloc[fit_idx], outcomes.iloc[valid_idx]
        labelled_fit = out_fit["mechanism"].notna().to_numpy()
        labelled_valid = out_valid["mechanism"].notna().to_numpy()
        mech_cols = mechanism_columns(builder, config)
        for fit_params, candidates in _share_boosting_rounds(mech_grid, config):
            # Candidates are compared uncalibrated: calibration is refitted (and checked on
            # inner folds) once, for the chosen candidate, in the final fit. Candidates that
            # differ only in n_estimators share one fit: the shorter ones are its first rounds.
            model = make_mechanism_model(config, **{**fit_params, "calibration": "none"})
            model.fit(
                x_fit.loc[labelled_fit, mech_cols], out_fit["mechanism"][labelled_fit].to_numpy()
            )
            for candidate, n_trees in candidates:
                proba = model.predict_proba(x_valid[labelled_valid], n_trees=n_trees)
                labels = out_valid["mechanism"][labelled_valid].to_numpy()
                scores = mechanism_metrics(labels, proba)
                mech_rows.append({"fold": fold, "params": candidate_key(candidate), **scores})
                done += 1
                report("cross-validation", done / total)
        y_fit = make_survival_target(
            out_fit["time_to_resistance_months"], out_fit["resistance_observed"]
        )
        y_valid = make_survival_target(
            out_valid["time_to_resistance_months"], out_valid["resistance_observed"]
        )
        for candidate in surv_grid:
            model = make_survival_model(config, **candidate).fit(x_fit, y_fit)
            scores = survival_metrics(y_fit, y_valid, model.predict(x_valid))
            surv_rows.append({"fold": fold, "params": candidate_key(candidate), **scores})
            done += 1
            report("cross-validation", done / total)
    mech_folds, surv_folds = pd.DataFrame(mech_rows), pd.DataFrame(surv_rows)
    best_mech = _best(mech_folds, mech_grid, "log_loss", lower_is_better=True)
    best_surv = _best(surv_folds, surv_grid, "cindex_harrell", lower_is_better=False)
    return CVResult(mech_folds, surv_folds, best_mech, best_surv)


def _share_boosting_rounds(
    grid: list[dict[str, Any]], config: TrainingConfig
) -> list[tuple[dict[str, Any], list[tuple[dict[str, Any], int]]]]:
    """Group mechanism candidates that differ only in ``n_estimators``.

    Returns ``(fit_params, [(candidate, n_trees), ...])``: one fit per group with the most
    rounds, each candidate scored on its first ``n_trees`` rounds.
    """
    groups: dict[str, tuple[dict[str, Any], list[tuple[dict[str, Any], int]]]] = {}
    for candidate in grid:
        rest = {k: v for k, v in candidate.items() if k != "n_estimators"}
        n_trees = int(candidate.get("n_estimators", config.mechanism.n_estimators))
        fit_params, members = groups.setdefault(candidate_key(rest), (dict(rest), []))
        fit_params["n_estimators"] = max(n_trees, fit_params.get("n_estimators", 0))
        members.append((candidate, n_trees))
    return list(groups.values())


def candidate_key(candidate: Mapping[str, Any]) -> str:
    """A candidate's parameters as one stable text (``max_depth=2,n_estimators=300``)."""
    return ",".join(f"{k}={v}" for k, v in sorted(candidate.items())) or "default"


def _best(
    folds: pd.DataFrame, grid: list[dict[str, Any]], metric: str, lower_is_better: bool
) -> dict[str, Any]:
    means = folds.groupby("params")[metric].mean()
    choice = means.idxmin() if lower_is_better else means.idxmax()
    return next(c for c in grid if candidate_key(c) == choice)
