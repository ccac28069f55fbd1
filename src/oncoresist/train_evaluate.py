"""The test-split stage of a training run: evaluate, compare with baselines and the oracle, log.

Called once per run by :func:`oncoresist.training.train`, inside its MLflow parent run. Each
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
from oncoresist.evaluation import (
    Evaluation,
    comparison_table,
    evaluate_mechanism,
    evaluate_survival,
    oracle_metrics,
    subgroup_mechanism,
    subgroup_survival,
)


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
    from oncoresist import plots, tracking

    seed, n_boot = config.seed, config.evaluation.bootstrap_resamples
    times = config.evaluation.times_months
    evaluations: list[Evaluation] = []
    metrics: dict[str, float] = {}

    # XGBoost mechanism model
    proba = mech.predict_proba(x_test[lab_test])
    ev_mech = evaluate_mechanism("xgboost", y_mech_test, proba, n_boot=n_boot, seed=seed)
    ev_mech.fit_seconds = timer.seconds.get("xgboost_mechanism")
    evaluations.append(ev_mech)
    for key, name in PARENT_MECHANISM_KEYS.items():
        metrics[name] = ev_mech.metrics.get(key, np.nan)
        if key in ev_mech.ci:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ev_mech.ci[key]
    report("evaluation", 0.3)

    # XGBoost survival model
    risk = surv.predict(x_test)
    ev_surv = evaluate_survival(
        "xgboost",
        y_train,
        y_test,
        risk,
        survival_fn=lambda grid: surv.predict_survival_function(x_test, grid),
        times=times,
        n_boot=n_boot,
        seed=seed,
    )
    ev_surv.fit_seconds = timer.seconds.get("xgboost_survival")
    evaluations.append(ev_surv)
    for key, name in PARENT_SURVIVAL_KEYS.items():
        metrics[name] = ev_surv.metrics.get(key, np.nan)
        if key in ev_surv.ci:
            metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = ev_surv.ci[key]
    report("evaluation", 0.6)

    # Oracle (simulated data only; the truth is read after the fit, never before)
    oracle: dict[str, float] = {}
    oracle_risk = None
    settings = test_profiles["setting"].astype(str).to_numpy()
    if data.ground_truth is not None:
        oracle = oracle_metrics(data.ground_truth, test_profiles["treatment_id"], data.outcomes)
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
        truth = data.ground_truth.set_index("treatment_id")
        oracle_risk = truth.loc[test_profiles["treatment_id"], "oracle_risk"].to_numpy(float)
    by_setting = subgroup_survival(settings, y_train, y_test, risk, oracle_risk)
    if oracle_risk is not None and "ratio" in by_setting:
        metrics["setting_mean_cindex_oracle_ratio"] = float(by_setting["ratio"].mean())
        metrics["setting_mean_cindex"] = float(by_setting["cindex_model"].mean())
    by_setting_mech = subgroup_mechanism(settings[lab_test], y_mech_test, proba)
    tracking.log_metrics(metrics)
    tracking.log_frame(by_setting, "evaluation/survival_by_setting.csv")
    tracking.log_frame(by_setting_mech, "evaluation/mechanism_by_setting.csv")
    calibration_report = getattr(mech, "calibration_report_", None)
    if isinstance(calibration_report, dict):
        tracking.log_dict(_jsonable(calibration_report), "evaluation/calibration_report.json")

    # Plots
    event = y_test[y_test.dtype.names[0]]
    time_ = y_test[y_test.dtype.names[1]]
    tracking.log_figure(plots.km_by_risk_group(time_, event, risk), "plots/km_by_risk_group.png")
    at = 12.0
    surv_at = surv.predict_survival_function(x_test, np.array([at]))[:, 0]
    tracking.log_figure(
        plots.survival_calibration(surv_at, time_, event, at), "plots/survival_calibration_12m.png"
    )
    predicted = np.asarray(MECHANISMS)[np.argmax(proba, axis=1)]
    tracking.log_figure(
        plots.confusion_matrix_figure(y_mech_test, predicted), "plots/confusion_matrix.png"
    )
    tracking.log_figure(
        plots.reliability_diagram(y_mech_test, proba), "plots/reliability_diagram.png"
    )
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
    )
    report("baselines", 1.0)
    rows = [r for ev in evaluations for r in ev.as_rows()]
    tracking.log_frame(pd.DataFrame(rows), "evaluation/comparison.csv")
    return EvaluationOutcome(metrics, comparison_table(evaluations, oracle), evaluations)


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
) -> list[Evaluation]:
    """Fit each enabled baseline once on the training split; one child run each."""
    from oncoresist import tracking
    from oncoresist.mechanism import LogisticBaseline
    from oncoresist.survival_baselines import CoxPHBaseline, RSFBaseline

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
                model.fit(x_train[lab_train], y_mech_train)
                seconds = time.perf_counter() - start
                ev = evaluate_mechanism(name, y_mech_test, model.predict_proba(x_test[lab_test]))
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
