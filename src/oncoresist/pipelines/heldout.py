"""The test-split stage of a training run: evaluate, compare with baselines and the oracle, log.

Called once per run by :func:`oncoresist.pipelines.train.train`, inside its MLflow parent run. Each
baseline is fitted on the training split only and logged as a child run so the MLflow UI
compares them side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS
from oncoresist.evaluation import plots
from oncoresist.evaluation.heldout import (
    Evaluation,
    comparison_table,
    evaluate_mechanism,
    evaluate_survival,
    oracle_metrics,
    subgroup_mechanism,
    subgroup_survival,
)
from oncoresist.models.baselines import CoxPHBaseline, RSFBaseline
from oncoresist.models.mechanism import LogisticBaseline
from oncoresist.tracking import store as tracking


@dataclass
class EvaluationOutcome:
    """Metrics logged on the parent run, the comparison table and every evaluation."""

    metrics: dict[str, float]
    comparison: pd.DataFrame
    evaluations: list[Evaluation]


PARENT_MECHANISM_KEYS = {
    "macro_f1": "test_mechanism_macro_f1",
    "balanced_accuracy": "test_mechanism_balanced_accuracy",
    "auroc": "test_mechanism_auroc",
    "log_loss": "test_mechanism_log_loss",
    "ece": "test_mechanism_ece",
}
PARENT_SURVIVAL_KEYS = {
    "cindex_harrell": "test_cindex_harrell",
    "cindex_uno": "test_cindex_uno",
    "ibs": "test_ibs",
    "auc_6m": "test_auc_6m",
    "auc_12m": "test_auc_12m",
    "auc_24m": "test_auc_24m",
}


@dataclass
class HeldOutEvaluation:
    """Both XGBoost models scored on held-out rows (a test split or an external cohort).

    ``metrics`` uses the parent-run names (``test_*``, ``oracle_*``, ``*_oracle_ratio``).
    """

    metrics: dict[str, float]
    mechanism: Evaluation
    survival: Evaluation
    oracle: dict[str, float]
    survival_by_setting: pd.DataFrame
    mechanism_by_setting: pd.DataFrame
    proba: np.ndarray
    risk: np.ndarray


def evaluate_held_out(
    *,
    mech: Any,
    surv: Any,
    x: pd.DataFrame,
    y_train: np.ndarray,
    y: np.ndarray,
    y_mech: np.ndarray,
    labelled: np.ndarray,
    profiles: pd.DataFrame,
    ground_truth: pd.DataFrame | None,
    outcomes: pd.DataFrame,
    n_boot: int,
    seed: int,
    times: tuple[float, ...],
) -> HeldOutEvaluation:
    """Metrics (with bootstrap CIs), oracle ratios and per-setting subgroups on held-out rows.

    ``y_train`` estimates the censoring distribution for Uno's C and the Brier score;
    ``ground_truth`` (simulated cohorts only) is read here, after the fit, never before.
    """
    metrics: dict[str, float] = {}
    proba = mech.predict_proba(x[labelled])
    ev_mech = evaluate_mechanism("xgboost", y_mech, proba, n_boot=n_boot, seed=seed)
    for key, name in PARENT_MECHANISM_KEYS.items():
        metrics[name] = ev_mech.metrics.get(key, np.nan)
        if key in ev_mech.ci:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ev_mech.ci[key]

    risk = surv.predict(x)
    ev_surv = evaluate_survival(
        "xgboost",
        y_train,
        y,
        risk,
        survival_fn=lambda grid: surv.predict_survival_function(x, grid),
        times=times,
        n_boot=n_boot,
        seed=seed,
    )
    for key, name in PARENT_SURVIVAL_KEYS.items():
        metrics[name] = ev_surv.metrics.get(key, np.nan)
        if key in ev_surv.ci:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ev_surv.ci[key]

    oracle: dict[str, float] = {}
    oracle_risk = None
    settings = profiles["setting"].astype(str).to_numpy()
    if ground_truth is not None:
        oracle = oracle_metrics(ground_truth, profiles["treatment_id"], outcomes)
        metrics.update(oracle)
        metrics["cindex_oracle_ratio"] = (
            metrics["test_cindex_harrell"] / oracle["oracle_cindex_harrell"]
        )
        metrics["mechanism_f1_oracle_ratio"] = (
            metrics["test_mechanism_macro_f1"] / oracle["oracle_mechanism_macro_f1"]
        )
        # log-loss: lower is better, so oracle / model is the ratio that reaches 1 from below
        metrics["mechanism_logloss_oracle_ratio"] = (
            oracle["oracle_mechanism_log_loss"] / metrics["test_mechanism_log_loss"]
        )
        truth = ground_truth.set_index("treatment_id")
        oracle_risk = truth.loc[profiles["treatment_id"], "oracle_risk"].to_numpy(float)
    by_setting = subgroup_survival(settings, y_train, y, risk, oracle_risk)
    if "cindex_model" in by_setting:
        metrics["setting_mean_cindex"] = float(by_setting["cindex_model"].mean())
    if oracle_risk is not None and "ratio" in by_setting:
        metrics["setting_mean_cindex_oracle_ratio"] = float(by_setting["ratio"].mean())
    by_setting_mech = subgroup_mechanism(settings[labelled], y_mech, proba)
    return HeldOutEvaluation(
        metrics, ev_mech, ev_surv, oracle, by_setting, by_setting_mech, proba, risk
    )


def log_held_out(
    held: HeldOutEvaluation,
    *,
    surv: Any,
    x: pd.DataFrame,
    y: np.ndarray,
    y_mech: np.ndarray,
    metric_names: Any = None,
) -> None:
    """Log the metrics, per-setting tables and plots of a held-out evaluation.

    ``metric_names(name) -> name`` renames metrics (the evaluation run's ``eval_`` names).
    """
    rename = metric_names or (lambda name: name)
    tracking.log_metrics({rename(k): v for k, v in held.metrics.items()})
    tracking.log_frame(held.survival_by_setting, "evaluation/survival_by_setting.csv")
    tracking.log_frame(held.mechanism_by_setting, "evaluation/mechanism_by_setting.csv")
    event = y[y.dtype.names[0]]
    time_ = y[y.dtype.names[1]]
    tracking.log_figure(
        plots.km_by_risk_group(time_, event, held.risk), "plots/km_by_risk_group.png"
    )
    at = 12.0
    surv_at = surv.predict_survival_function(x, np.array([at]))[:, 0]
    tracking.log_figure(
        plots.survival_calibration(surv_at, time_, event, at), "plots/survival_calibration_12m.png"
    )
    predicted = np.asarray(MECHANISMS)[np.argmax(held.proba, axis=1)]
    tracking.log_figure(
        plots.confusion_matrix_figure(y_mech, predicted), "plots/confusion_matrix.png"
    )
    tracking.log_figure(
        plots.reliability_diagram(y_mech, held.proba), "plots/reliability_diagram.png"
    )


def evaluate_and_log(
    *,
    config: Any,
    data: Any,
    timer: Any,
    mech: Any,
    surv: Any,
    x_train: pd.DataFrame,
    x_test: pd.DataFrame,
    y_train: np.ndarray,
    y_test: np.ndarray,
    y_mech_train: np.ndarray,
    y_mech_test: np.ndarray,
    lab_train: np.ndarray,
    lab_test: np.ndarray,
    test_profiles: pd.DataFrame,
    report: Any,
) -> EvaluationOutcome:
    """Evaluate the XGBoost models (with CIs) and the baselines on the test split; log all."""
    times = config.evaluation.times_months
    with timer.stage("evaluation"):
        held = evaluate_held_out(
            mech=mech,
            surv=surv,
            x=x_test,
            y_train=y_train,
            y=y_test,
            y_mech=y_mech_test,
            labelled=lab_test,
            profiles=test_profiles,
            ground_truth=data.ground_truth,
            outcomes=data.outcomes,
            n_boot=config.evaluation.bootstrap_resamples,
            seed=config.seed,
            times=times,
        )
    held.mechanism.fit_seconds = timer.seconds.get("xgboost_mechanism")
    held.survival.fit_seconds = timer.seconds.get("xgboost_survival")
    evaluations: list[Evaluation] = [held.mechanism, held.survival]
    report("evaluation", 0.6)
    with timer.stage("plots_and_logging"):
        log_held_out(held, surv=surv, x=x_test, y=y_test, y_mech=y_mech_test)
    calibration_report = getattr(mech, "calibration_report_", None)
    if isinstance(calibration_report, dict):
        tracking.log_dict(_jsonable(calibration_report), "evaluation/calibration_report.json")
    report("evaluation", 0.8)

    evaluations += _baselines(
        config,
        timer,
        x_train,
        x_test,
        y_train,
        y_test,
        y_mech_train,
        y_mech_test,
        lab_train,
        lab_test,
        times,
        mech_columns=list(getattr(mech, "feature_names_in_", x_train.columns)),
    )
    report("baselines", 1.0)
    rows = [r for ev in evaluations for r in ev.as_rows()]
    tracking.log_frame(pd.DataFrame(rows), "evaluation/comparison.csv")
    return EvaluationOutcome(held.metrics, comparison_table(evaluations, held.oracle), evaluations)


def _baselines(
    config: Any,
    timer: Any,
    x_train: pd.DataFrame,
    x_test: pd.DataFrame,
    y_train: np.ndarray,
    y_test: np.ndarray,
    y_mech_train: np.ndarray,
    y_mech_test: np.ndarray,
    lab_train: np.ndarray,
    lab_test: np.ndarray,
    times: tuple[float, ...],
    mech_columns: list[str] | None = None,
) -> list[Evaluation]:
    """Fit each enabled baseline once on the training split; one child run each.

    The mechanism baseline sees the same features as the XGBoost mechanism model.
    """
    b = config.baselines
    specs: list[tuple[str, str, Any]] = []
    if b.logistic:
        specs.append(("logistic_regression", "mechanism", LogisticBaseline(C=b.logistic_c)))
    if b.coxph:
        specs.append(("cox_ph", "survival", CoxPHBaseline(alpha=b.coxph_alpha)))
    if b.rsf:
        specs.append(
            (
                "random_survival_forest",
                "survival",
                RSFBaseline(
                    n_estimators=b.rsf_n_estimators,
                    min_samples_leaf=b.rsf_min_samples_leaf,
                    time_grid_months=b.rsf_time_grid_months,
                    max_samples=b.rsf_max_samples,
                    random_state=config.seed,
                    n_jobs=config.n_jobs,
                ),
            )
        )
    out = []
    for name, kind, model in specs:
        with tracking.start_run("", run_name=name, nested=True, tags={"baseline": name}):
            start = time.perf_counter()
            if kind == "mechanism":
                columns = mech_columns or list(x_train.columns)
                model.fit(x_train.loc[lab_train, columns], y_mech_train)
                seconds = time.perf_counter() - start
                ev = evaluate_mechanism(
                    name, y_mech_test, model.predict_proba(x_test.loc[lab_test, columns])
                )
                prefix = "test_mechanism_"
            else:
                model.fit(x_train, y_train)
                seconds = time.perf_counter() - start
                ev = evaluate_survival(
                    name,
                    y_train,
                    y_test,
                    model.predict(x_test),
                    survival_fn=lambda grid, _m=model: _m.predict_survival_function(x_test, grid),
                    times=times,
                )
                prefix = "test_"
            ev.fit_seconds = seconds
            timer.seconds[name] = seconds
            tracking.log_params(
                {
                    "model": name,
                    **{k: v for k, v in model.get_params().items() if np.isscalar(v) or v is None},
                }
            )
            tracking.log_metrics({f"{prefix}{k}": v for k, v in ev.metrics.items()})
            tracking.log_metrics({"fit_seconds": seconds})
        out.append(ev)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return value.to_dict("records")
    return value
