"""Evaluate a trained model on a labelled cohort and log an evaluation run.

The job behind ``oncoresist evaluate``: it loads a registered or exported
:class:`~oncoresist.models.bundle.ResistanceBundle`, scores every treatment of a labelled cohort
with an outcome, computes the same metrics a training run logs on its test split (with
``eval_`` names instead of ``test_``), the oracle ratios when the cohort is simulated, and
logs them, with the same plots, as one MLflow run tagged ``evaluated_model``.

The metric code is shared with training (:func:`oncoresist.pipelines.heldout.evaluate_held_out`),
so an evaluation run and a training run measure the same things the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from oncoresist.evaluation.heldout import comparison_table
from oncoresist.exceptions import TrainingDataError
from oncoresist.models.survival import make_survival_target
from oncoresist.pipelines.heldout import evaluate_held_out, log_held_out
from oncoresist.pipelines.train import load_training_data
from oncoresist.tracking import store as tracking
from oncoresist.tracking.resolve import resolve_bundle

#: Experiment used when neither the caller nor the model's training config names one.
DEFAULT_EXPERIMENT = "oncoresist"


def eval_metric_name(name: str) -> str:
    """Name of a training-run metric on an evaluation run.

    ``test_cindex_harrell`` becomes ``eval_cindex_harrell``; every other name (oracle
    metrics and ratios) gets the ``eval_`` prefix: ``eval_cindex_oracle_ratio``.
    """
    return "eval_" + name.removeprefix("test_")


@dataclass
class EvaluationJob:
    """What ``oncoresist evaluate`` logged and shows."""

    run_id: str
    model: str
    model_version: str | None
    metrics: dict[str, float]
    comparison: pd.DataFrame
    n_treatments: int
    n_labelled: int
    notes: list[str] = field(default_factory=list)


def evaluate_model(
    model: str,
    data: str | Path,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    bootstrap_resamples: int | None = None,
) -> EvaluationJob:
    """Score a labelled cohort with a model and log the metrics as an evaluation run.

    Parameters
    ----------
    model : str
        ``models:/oncoresist@champion``, ``models:/oncoresist/3``, ``runs:/<id>/model`` or an
        exported folder (``oncoresist models export``).
    data : path
        A labelled cohort (outcomes table) in any input form.
    experiment : str, optional
        MLflow experiment of the evaluation run (default: the model's training experiment).
    tracking_uri : str, optional
        MLflow store (default: ``./mlruns`` as an absolute sqlite URI).
    bootstrap_resamples : int, optional
        Resamples for 95% CIs (default: the model's training config; 0 for none).

    Returns
    -------
    EvaluationJob

    Raises
    ------
    ModelLoadError
        When the model reference does not resolve (the message lists registered models).
    InputDataError
        When the cohort is invalid or has no outcomes.
    TrainingDataError
        When no treatment has an outcome, every one is censored, or none has a mechanism
        label (nothing to evaluate).
    """
    bundle, _ = resolve_bundle(model, tracking_uri)
    cohort = load_training_data(data)
    meta = bundle.metadata
    config = meta.get("config") or {}
    seed = int(config.get("seed", 7))
    evaluation = config.get("evaluation") or {}
    times = tuple(float(t) for t in evaluation.get("times_months", (6.0, 12.0, 24.0)))
    if bootstrap_resamples is None:
        bootstrap_resamples = int(evaluation.get("bootstrap_resamples", 0))
    experiment = experiment or (config.get("tracking") or {}).get("experiment", DEFAULT_EXPERIMENT)

    notes: list[str] = []
    has_outcome = cohort.outcomes["time_to_resistance_months"].notna().to_numpy()
    if not has_outcome.any():
        raise TrainingDataError(
            f"no treatment in {data} has an outcome: evaluation needs outcomes.csv rows "
            "(time_to_resistance_months, resistance_observed, mechanism)"
        )
    if not has_outcome.all():
        notes.append(
            f"{int((~has_outcome).sum())} treatment(s) without an outcome row were not evaluated"
        )
    profiles = cohort.profiles[has_outcome]
    outcomes = cohort.outcomes[has_outcome]
    if meta.get("data_fingerprint") == cohort.fingerprint:
        notes.append(
            "this is the cohort the model was trained on: the metrics are optimistic "
            "(the training run's test_* metrics are the honest ones)"
        )
    labelled = outcomes["mechanism"].notna().to_numpy()
    if not labelled.any():
        raise TrainingDataError(
            f"no treatment in {data} has a mechanism label; evaluation needs re-biopsied "
            "progressions (outcomes.mechanism)"
        )
    # The evaluation cohort itself estimates the censoring distribution (Uno's C, Brier):
    # the training rows are not shipped with a model.
    y = make_survival_target(outcomes["time_to_resistance_months"], outcomes["resistance_observed"])
    y_mech = outcomes["mechanism"].to_numpy()[labelled]
    x = bundle.features(profiles)
    held = evaluate_held_out(
        mech=bundle.mechanism_model,
        surv=bundle.survival_model,
        x=x,
        y_train=y,
        y=y,
        y_mech=y_mech,
        labelled=labelled,
        profiles=profiles,
        ground_truth=cohort.ground_truth,
        outcomes=cohort.outcomes,
        n_boot=bootstrap_resamples,
        seed=seed,
        times=times,
    )
    metrics = {eval_metric_name(k): v for k, v in held.metrics.items()}
    version = meta.get("model_version")
    tags = {
        "evaluated_model": model,
        "evaluated_model_version": str(version or ""),
        "evaluated_model_run_id": str(meta.get("run_id", "")),
        "model_trained_on": str(meta.get("trained_on", "")),
        "data_trained_on": cohort.trained_on,
        "run_type": "evaluation",
    }
    with tracking.start_run(experiment, run_name="evaluate", tags=tags, uri=tracking_uri) as run:
        tracking.log_params(
            {
                "model": model,
                "data.fingerprint": cohort.fingerprint,
                "data.rows": cohort.row_counts,
                "data.trained_on": cohort.trained_on,
                "evaluated.treatments": len(profiles),
                "evaluated.labelled": int(labelled.sum()),
                "bootstrap_resamples": bootstrap_resamples,
                "seed": seed,
            }
        )
        log_held_out(
            held,
            surv=bundle.survival_model,
            x=x,
            y=y,
            y_mech=y_mech,
            metric_names=eval_metric_name,
        )
        rows = [r for ev in (held.mechanism, held.survival) for r in ev.as_rows()]
        tracking.log_frame(pd.DataFrame(rows), "evaluation/comparison.csv")
        if notes:
            tracking.set_tags({"notes": " | ".join(notes)})
    return EvaluationJob(
        run_id=run.info.run_id,
        model=model,
        model_version=None if version is None else str(version),
        metrics=metrics,
        comparison=comparison_table([held.mechanism, held.survival], held.oracle),
        n_treatments=len(profiles),
        n_labelled=int(labelled.sum()),
        notes=notes,
    )
