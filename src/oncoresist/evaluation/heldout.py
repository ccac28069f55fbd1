"""Test-split evaluation: model metrics with bootstrap CIs, baselines, oracle ratios, subgroups.

Every metric comes from scikit-learn / scikit-survival through
:mod:`oncoresist.evaluation.metrics`; this module only decides *what* is evaluated on *which*
rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sksurv.metrics import concordance_index_censored

from oncoresist.evaluation.metrics import bootstrap_ci, mechanism_metrics, survival_metrics
from oncoresist.evaluation.oracle import oracle_cindex, oracle_mechanism_metrics


@dataclass
class Evaluation:
    """Metrics of one model on the test split: point estimates and 95% CIs."""

    model: str
    kind: str  # "mechanism" | "survival"
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    fit_seconds: float | None = None

    def as_rows(self) -> list[dict[str, Any]]:
        """One row per metric (for the comparison table)."""
        rows = []
        for name, value in self.metrics.items():
            low, high = self.ci.get(name, (np.nan, np.nan))
            rows.append(
                {
                    "model": self.model,
                    "kind": self.kind,
                    "metric": name,
                    "value": value,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        return rows


def evaluate_mechanism(
    name: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    n_boot: int = 0,
    seed: int = 0,
) -> Evaluation:
    """Macro-F1, balanced accuracy, OvR AUROC, log-loss and ECE (CIs when ``n_boot`` > 0)."""
    metrics = mechanism_metrics(y_true, proba)
    ci = {}
    if n_boot:
        y_arr, p_arr = np.asarray(y_true), np.asarray(proba)
        # Every metric's bootstrap uses the same seed, hence the same resamples: compute all
        # metrics once per resample (5x fewer metric calls, identical intervals).
        scores = _per_resample(lambda i: mechanism_metrics(y_arr[i], p_arr[i]))
        rows = np.arange(len(y_arr))
        for metric in ("macro_f1", "balanced_accuracy", "auroc", "log_loss", "ece"):
            _, low, high = bootstrap_ci(
                lambda i, _m=metric: scores(i)[_m], rows, n_resamples=n_boot, seed=seed
            )
            ci[metric] = (low, high)
    return Evaluation(name, "mechanism", metrics, ci)


def _per_resample(compute: Any) -> Any:
    """Memoise ``compute(rows)`` by the resampled row indices (one call per resample)."""
    cache: dict[bytes, Any] = {}

    def scores(rows: np.ndarray) -> Any:
        key = np.asarray(rows).tobytes()
        if key not in cache:
            cache[key] = compute(rows)
        return cache[key]

    return scores


def evaluate_survival(
    name: str,
    y_train: np.ndarray,
    y_test: np.ndarray,
    risk: np.ndarray,
    survival_fn: Any = None,
    times: tuple[float, ...] = (6.0, 12.0, 24.0),
    n_boot: int = 0,
    seed: int = 0,
) -> Evaluation:
    """Harrell C, Uno C, integrated Brier score and time-dependent AUC (CIs when asked).

    ``survival_fn(times) -> (n, len(times))`` gives each test row's survival curve, needed for
    the integrated Brier score.
    """
    metrics = survival_metrics(y_train, y_test, risk, survival_fn=survival_fn, times=times)
    ci = {}
    if n_boot:
        rows = np.arange(len(y_test))
        cached = _cached_survival(survival_fn, y_test) if survival_fn is not None else None

        def all_metrics(index: np.ndarray) -> dict[str, float]:
            sub_fn = None
            if cached is not None:

                def sub_fn(grid, _i=index):
                    return cached(grid)[_i]

            return survival_metrics(
                y_train, y_test[index], risk[index], survival_fn=sub_fn, times=times
            )

        # Same seed for every metric, so the same resamples: one metrics call per resample.
        scores = _per_resample(all_metrics)

        def metric_on(index: np.ndarray, metric: str) -> float:
            return scores(index)[metric]

        for metric in ("cindex_harrell", "cindex_uno", "ibs"):
            if metric not in metrics or not np.isfinite(metrics[metric]):
                continue
            _, low, high = bootstrap_ci(
                lambda i, _m=metric: metric_on(i, _m), rows, n_resamples=n_boot, seed=seed
            )
            ci[metric] = (low, high)
    return Evaluation(name, "survival", metrics, ci)


def _cached_survival(survival_fn: Any, y_test: np.ndarray) -> Any:
    """Survival curves evaluated once on a fine grid, looked up per bootstrap resample.

    Each resample needs the curves on its own time grid; predicting them again 200 times
    would dominate the evaluation. Curves are step functions of time here (right-continuous
    lookup on 400 quantiles of the test times), which moves a resample's grid points by
    less than the spacing of observed times.
    """
    observed = y_test[y_test.dtype.names[1]].astype(float)
    fine = np.unique(np.quantile(observed, np.linspace(0, 1, 400)))
    curves = np.asarray(survival_fn(fine))

    def lookup(grid: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(fine, np.asarray(grid), side="right") - 1, 0, len(fine) - 1)
        return curves[:, index]

    return lookup


def oracle_metrics(
    ground_truth: pd.DataFrame,
    treatment_ids: pd.Series,
    outcomes: pd.DataFrame,
) -> dict[str, float]:
    """Bayes-optimal mechanism metrics and oracle C-index on the given treatments.

    Uses the simulator's hidden truth; only called after the models are fitted.
    """
    ids = pd.Index(treatment_ids)
    mech = oracle_mechanism_metrics(ground_truth, outcomes, treatment_ids=ids)
    surv = oracle_cindex(ground_truth, outcomes, treatment_ids=ids)
    return {
        "oracle_mechanism_macro_f1": mech["macro_f1"],
        "oracle_mechanism_log_loss": mech["log_loss"],
        "oracle_mechanism_accuracy": mech["accuracy"],
        "oracle_cindex_harrell": surv,
    }


def subgroup_survival(
    settings: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    risk: np.ndarray,
    oracle_risk: np.ndarray | None = None,
    min_rows: int = 30,
) -> pd.DataFrame:
    """Harrell C-index per setting for the model (and the oracle's true risk when given)."""
    rows = []
    event = y_test[y_test.dtype.names[0]]
    time = y_test[y_test.dtype.names[1]]
    for setting in sorted(pd.unique(settings)):
        mask = settings == setting
        row: dict[str, Any] = {
            "setting": setting,
            "n": int(mask.sum()),
            "events": int(event[mask].sum()),
        }
        if mask.sum() >= min_rows and event[mask].sum() >= 5:
            row["cindex_model"] = concordance_index_censored(event[mask], time[mask], risk[mask])[0]
            if oracle_risk is not None:
                row["cindex_oracle"] = concordance_index_censored(
                    event[mask], time[mask], oracle_risk[mask]
                )[0]
                row["ratio"] = row["cindex_model"] / row["cindex_oracle"]
        rows.append(row)
    return pd.DataFrame(rows)


def subgroup_mechanism(
    settings: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    min_rows: int = 30,
) -> pd.DataFrame:
    """Mechanism macro-F1 and log-loss per setting (labelled test rows)."""
    rows = []
    for setting in sorted(pd.unique(settings)):
        mask = settings == setting
        row: dict[str, Any] = {"setting": setting, "n_labelled": int(mask.sum())}
        if mask.sum() >= min_rows:
            scores = mechanism_metrics(y_true[mask], proba[mask])
            row.update({"macro_f1": scores["macro_f1"], "log_loss": scores["log_loss"]})
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(evaluations: list[Evaluation], oracle: dict[str, float]) -> pd.DataFrame:
    """Wide table for the terminal: one row per model, key metrics with CIs, oracle last."""
    keys = {
        "mechanism": [
            ("macro_f1", "macro-F1"),
            ("auroc", "AUROC"),
            ("log_loss", "log-loss"),
            ("ece", "ECE"),
        ],
        "survival": [("cindex_harrell", "Harrell C"), ("cindex_uno", "Uno C"), ("ibs", "IBS")],
    }
    rows = []
    for ev in evaluations:
        row: dict[str, Any] = {"model": ev.model, "task": ev.kind}
        for metric, label in keys[ev.kind]:
            value = ev.metrics.get(metric, np.nan)
            if metric in ev.ci:
                low, high = ev.ci[metric]
                row[label] = f"{value:.3f} ({low:.3f}-{high:.3f})"
            else:
                row[label] = "" if value != value else f"{value:.3f}"
        if ev.fit_seconds is not None:
            row["fit s"] = f"{ev.fit_seconds:.1f}"
        rows.append(row)
    if oracle:
        rows.append(
            {
                "model": "oracle (truth)",
                "task": "mechanism",
                "macro-F1": f"{oracle['oracle_mechanism_macro_f1']:.3f}",
                "log-loss": f"{oracle['oracle_mechanism_log_loss']:.3f}",
            }
        )
        rows.append(
            {
                "model": "oracle (truth)",
                "task": "survival",
                "Harrell C": f"{oracle['oracle_cindex_harrell']:.3f}",
            }
        )
    return pd.DataFrame(rows).fillna("")


__all__ = [
    "Evaluation",
    "comparison_table",
    "evaluate_mechanism",
    "evaluate_survival",
    "oracle_metrics",
    "subgroup_mechanism",
    "subgroup_survival",
]
