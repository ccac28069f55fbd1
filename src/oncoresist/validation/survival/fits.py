"""Fitting and scoring one survival model on one split, running many such fits at once, and
:class:`SurvivalBenchmark`, what the survival benchmark measured.

Shared by the published protocols and the repeated CV of
:mod:`oncoresist.validation.survival.benchmark`: each (split, model) pair is an independent task
that builds its own seeded model, so they can run in any order, in parallel processes. The
result class lives here so that the page renderer (:mod:`oncoresist.validation.survival.page`)
can import it without importing the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sksurv.metrics import integrated_brier_score

from oncoresist.evaluation.metrics import survival_metrics, survival_time_grid
from oncoresist.validation.survival.models import make_model


@dataclass
class SurvivalBenchmark:
    """Everything ``benchmark_survival`` measured.

    Attributes
    ----------
    protocols : DataFrame
        protocol, dataset, model, metric, value, published (NaN when the guide gave none).
    verdicts : DataFrame
        One row per published number: the best published baseline, our two models, the gap
        (ours tuned minus best, in the metric's "better" direction) and whether we match it.
    cv_folds, cv_summary : DataFrame
        Repeated-CV fold scores, and their mean with a corrected 95% interval.
    tuned_params : DataFrame
        Hyperparameters chosen by inner CV for each protocol split / CV fold.
    seconds : dict
        Wall time per stage.
    n_jobs : int
        Processes that shared the independent fits.
    """

    protocols: pd.DataFrame
    verdicts: pd.DataFrame
    cv_folds: pd.DataFrame
    cv_summary: pd.DataFrame
    tuned_params: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    n_jobs: int = 1


def fit_and_score(
    model: object,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    ibs_times: np.ndarray | None = None,
    y_censoring: np.ndarray | None = None,
) -> dict[str, float]:
    """Fit ``model`` and return Harrell C, Uno C and IBS on the test rows.

    Harrell and Uno C come from :func:`oncoresist.evaluation.metrics.survival_metrics`. The
    IBS runs on ``ibs_times`` with the censoring distribution of ``y_censoring`` when given
    (the evaluation guide's definition: ``np.arange`` over the 10th-90th percentile of all
    times, censoring from all patients); otherwise on
    :func:`oncoresist.evaluation.metrics.survival_time_grid` with censoring estimated from the
    training and test rows together: IPCW weights from the training rows alone are undefined for a
    test time beyond the last training time (it happens in breast_cancer).
    """
    model.fit(X_train, y_train)
    risk = model.predict(X_test)
    scores = survival_metrics(y_train, y_test, risk, times=())
    result = {name: float(scores[name]) for name in ("cindex_harrell", "cindex_uno")}
    if ibs_times is None:
        ibs_times = survival_time_grid(y_train, y_test)
        y_censoring = np.concatenate([y_train, y_test])
    surv = model.predict_survival_function(X_test, ibs_times)
    result["ibs"] = float(integrated_brier_score(y_censoring, y_test, surv, ibs_times))
    return result


def _tuned(model: object) -> dict[str, object]:
    """Hyperparameters the model chose by inner CV (empty for the others)."""
    return dict(getattr(model, "best_params_", {}))


def score_task(
    name: str, dataset: str, seed: int, threads: int, rsf: str, split: tuple
) -> tuple[dict[str, float], dict[str, object]]:
    """One independent task: a fresh model fitted and scored on one split (run in a worker)."""
    model = make_model(name, dataset, seed, threads, rsf)
    return fit_and_score(model, *split), _tuned(model)


def run_tasks(tasks: list[tuple], n_jobs: int, done: Callable[[int], None] | None = None) -> list:
    """Run :func:`score_task` tasks in up to ``n_jobs`` processes; results in task order.

    A task is ``(model name, dataset, seed, rsf configuration, split)`` with ``split`` the
    arguments of :func:`fit_and_score` after the model; ``done(i)`` is called as the i-th
    result comes in (in task order), for progress messages.

    Every task builds its own seeded model, so the scores do not depend on ``n_jobs`` or on
    the order the tasks finish. Processes, not threads: XGBoost and the forest's tree builder
    release the GIL, but the rest of each fit (sksurv, pandas, IBS) is Python. A single
    task, or ``n_jobs=1``, runs here, and the forest then gets the ``n_jobs`` threads itself.
    """
    workers = max(1, min(n_jobs, len(tasks)))
    threads = max(1, n_jobs // workers)  # threads per fit: only a lone task gets > 1
    calls = (
        delayed(score_task)(name, ds, seed, threads, rsf, split)
        for name, ds, seed, rsf, split in tasks
    )
    results = []
    for index, result in enumerate(Parallel(n_jobs=workers, return_as="generator")(calls)):
        results.append(result)
        if done is not None:
            done(index)
    return results
