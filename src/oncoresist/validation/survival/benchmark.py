"""Benchmark the time-to-resistance engine on real survival cohorts (``oncoresist benchmark
survival``).

Runs every model of :mod:`oncoresist.validation.survival.models` under each published
scikit-survival protocol and under repeated stratified K-fold CV, compares with the published
numbers, writes a generated section of ``docs/validation.md`` and logs one MLflow run per
dataset × model in the ``validation`` experiment.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from oncoresist.tracking import store as tracking
from oncoresist.validation.page import update_generated_section
from oncoresist.validation.survival.fits import SurvivalBenchmark, run_tasks
from oncoresist.validation.survival.models import (
    DATASETS,
    METRICS,
    MODELS,
    OURS,
    OURS_TUNED,
    PROTOCOLS,
    TUNING_GRID,
    Protocol,
    load_dataset,
)
from oncoresist.validation.survival.page import render_survival_markdown

#: Tolerance of the target "matches or beats": C-index within 0.005; IBS no worse than the
#: published value, which is rounded to 3 decimals (so + 0.0005).
C_TOLERANCE, IBS_TOLERANCE = 0.005, 0.0005
Reporter = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def _protocol_tasks(protocol: Protocol, models: Sequence[str]) -> list[tuple]:
    """One task per model on the protocol's published split (its own ``random_state``)."""
    X, y = load_dataset(protocol.dataset, protocol.encoding)
    event = y[y.dtype.names[0]]
    X_train, X_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=0.25,
        random_state=protocol.random_state,
        stratify=event if protocol.stratify else None,
    )
    ibs_times = None
    if protocol.guide_ibs:
        low, high = np.percentile(y[y.dtype.names[1]], [10, 90])
        ibs_times = np.arange(low, high + 1)
    split = (X_train, y_train, X_test, y_test, ibs_times, y)
    return [(name, protocol.dataset, protocol.random_state, protocol.key, split) for name in models]


def _protocol_rows(
    protocol: Protocol, models: Sequence[str], results: list
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rows, tuned = [], []
    for name, (scores, choice) in zip(models, results, strict=True):
        for metric, value in scores.items():
            rows.append(
                {
                    "protocol": protocol.key,
                    "dataset": protocol.dataset,
                    "model": name,
                    "metric": metric,
                    "value": value,
                    "published": protocol.published.get((name, metric), np.nan),
                }
            )
        if choice:
            tuned.append({"where": protocol.key, **choice})
    return rows, tuned


def run_protocols(
    protocols: Sequence[Protocol], models: Sequence[str] = MODELS, n_jobs: int = 1
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """All ``models`` on each protocol's published split, every (protocol, model) fit in parallel.

    Returns long scores (protocol, dataset, model, metric, value, published) and the tuned
    model's choices. ``n_jobs`` processes share the fits
    (:func:`~oncoresist.validation.survival.fits.run_tasks`).
    """
    tasks = [_protocol_tasks(protocol, models) for protocol in protocols]
    results = run_tasks([task for group in tasks for task in group], n_jobs)
    rows, tuned = [], []
    for number, protocol in enumerate(protocols):
        mine = results[number * len(models) : (number + 1) * len(models)]
        more_rows, more_tuned = _protocol_rows(protocol, models, mine)
        rows += more_rows
        tuned += more_tuned
    return pd.DataFrame(rows), tuned


def run_protocol(
    protocol: Protocol, models: Sequence[str] = MODELS, n_jobs: int = 1
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """All ``models`` on one published split; returns long scores and tuned choices."""
    return run_protocols((protocol,), models, n_jobs)


def run_repeated_cv(
    dataset: str,
    models: Sequence[str] = MODELS,
    n_splits: int = 5,
    n_repeats: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
    report: Reporter = _quiet,
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Repeated stratified K-fold CV (stratified on the event), every model on the same folds."""
    encoding = "ordinal_grade" if dataset == "gbsg2" else "one_hot"
    X, y = load_dataset(dataset, encoding)
    event = y[y.dtype.names[0]]
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    splits = list(splitter.split(X, event))
    tasks = [
        (name, dataset, seed, "rsf_guide", (X.iloc[train], y[train], X.iloc[test], y[test]))
        for train, test in splits
        for name in models
    ]

    def done(index: int) -> None:
        if (index + 1) % len(models) == 0:  # the fold's last model is in
            repeat, fold = divmod(index // len(models), n_splits)
            report(f"{dataset}: repeat {repeat + 1}/{n_repeats}, fold {fold + 1}/{n_splits} done")

    results = run_tasks(tasks, n_jobs, done)
    rows, tuned = [], []
    for index, (task, (scores, choice)) in enumerate(zip(tasks, results, strict=True)):
        name, (train, test) = task[0], splits[index // len(models)]
        repeat, fold = divmod(index // len(models), n_splits)
        rows.append(
            {
                "dataset": dataset,
                "model": name,
                "repeat": repeat,
                "fold": fold,
                "n_train": len(train),
                "n_test": len(test),
                **scores,
            }
        )
        if choice:
            tuned.append({"where": f"{dataset} cv r{repeat} f{fold}", **choice})
    return pd.DataFrame(rows), tuned


def summarise_cv(folds: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval per dataset × model × metric over repeated-CV folds.

    The variance of the mean uses Nadeau & Bengio's correction ``(1/J + n_test/n_train) s²``
    with J fold scores, and a t quantile with J - 1 degrees of freedom.
    """
    rows = []
    for (dataset, model), group in folds.groupby(["dataset", "model"], sort=False):
        ratio = float(group["n_test"].mean() / group["n_train"].mean())
        for metric in METRICS:
            values = group[metric].dropna().to_numpy(dtype=np.float64)
            n = values.size
            mean = float(values.mean()) if n else np.nan
            half = np.nan
            if n > 1:
                se = np.sqrt((1.0 / n + ratio) * values.var(ddof=1))
                half = float(stats.t.ppf(0.975, n - 1) * se)
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "metric": metric,
                    "mean": mean,
                    "low": mean - half,
                    "high": mean + half,
                    "n_folds": n,
                }
            )
    return pd.DataFrame(rows)


def make_verdicts(protocols: pd.DataFrame) -> pd.DataFrame:
    """Compare our models with the best published number of each protocol and metric."""
    rows = []
    for (protocol, metric), group in protocols.groupby(["protocol", "metric"], sort=False):
        published = group.dropna(subset=["published"])
        if published.empty:
            continue
        lower_is_better = metric == "ibs"
        best = published.loc[
            published["published"].idxmin() if lower_is_better else published["published"].idxmax()
        ]
        value = group.set_index("model")["value"]
        sign = -1.0 if lower_is_better else 1.0
        gap = sign * (value.get(OURS_TUNED, np.nan) - best["published"])
        tolerance = IBS_TOLERANCE if lower_is_better else C_TOLERANCE
        rows.append(
            {
                "protocol": protocol,
                "metric": metric,
                "best_published_model": best["model"],
                "best_published": best["published"],
                "reproduced": best["value"],
                OURS: value.get(OURS, np.nan),
                OURS_TUNED: value.get(OURS_TUNED, np.nan),
                "gap_tuned": gap,
                "target_met": bool(gap >= -tolerance),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- orchestration
def benchmark_survival(
    datasets: Sequence[str] = DATASETS,
    models: Sequence[str] = MODELS,
    n_splits: int = 5,
    n_repeats: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
    docs_path: str | Path | None = "docs/validation.md",
    experiment: str | None = "validation",
    tracking_uri: str | None = None,
    report: Reporter = _quiet,
) -> SurvivalBenchmark:
    """Run the published protocols and repeated CV; write the docs section; log to MLflow.

    Parameters
    ----------
    datasets : names from :data:`~oncoresist.validation.survival.models.DATASETS`
    models : names from :data:`~oncoresist.validation.survival.models.MODELS`
    n_splits, n_repeats : int
        Repeated stratified K-fold CV (``n_repeats=0`` skips it).
    seed : int
        Seed of the CV folds and of the baselines' randomness in CV.
    n_jobs : int
        Processes sharing the independent (split, model) fits; results do not depend on it.
    docs_path : path, optional
        Markdown file whose generated ``survival`` section is replaced (None: no file).
    experiment : str, optional
        MLflow experiment for one run per dataset × model (None: no logging).
    """
    seconds: dict[str, float] = {}
    tuned: list[dict[str, object]] = []
    started = _time.perf_counter()
    chosen = [protocol for protocol in PROTOCOLS if protocol.dataset in datasets]
    protocols = pd.DataFrame()
    if chosen:
        report(f"protocols {', '.join(p.key for p in chosen)}")
        protocols, tuned = run_protocols(chosen, models, n_jobs)
    seconds["protocols"] = _time.perf_counter() - started
    fold_frames = []
    for dataset in datasets if n_repeats > 0 else ():
        started = _time.perf_counter()
        frame, choices = run_repeated_cv(dataset, models, n_splits, n_repeats, seed, n_jobs, report)
        fold_frames.append(frame)
        tuned += choices
        seconds[f"cv_{dataset}"] = _time.perf_counter() - started
    folds = pd.concat(fold_frames, ignore_index=True) if fold_frames else pd.DataFrame()
    result = SurvivalBenchmark(
        protocols=protocols,
        verdicts=make_verdicts(protocols) if len(protocols) else pd.DataFrame(),
        cv_folds=folds,
        cv_summary=summarise_cv(folds) if len(folds) else pd.DataFrame(),
        tuned_params=pd.DataFrame(tuned),
        seconds=seconds,
        n_jobs=n_jobs,
    )
    if docs_path is not None:
        markdown = render_survival_markdown(result, n_splits=n_splits, n_repeats=n_repeats)
        update_generated_section(docs_path, "survival", markdown)
    if experiment is not None:
        result.run_ids = log_survival_runs(result, experiment, tracking_uri)
    return result


def log_survival_runs(
    result: SurvivalBenchmark, experiment: str, tracking_uri: str | None = None
) -> dict[str, str]:
    """One MLflow run per dataset × model: protocol and CV metrics, fold table, tuned choices."""
    run_ids = {}
    pairs = pd.concat(
        [result.protocols[["dataset", "model"]], result.cv_folds[["dataset", "model"]]]
        if len(result.cv_folds)
        else [result.protocols[["dataset", "model"]]]
    ).drop_duplicates()
    for dataset, model in pairs.itertuples(index=False):
        tags = {"part": "survival", "dataset": dataset, "model": model}
        with tracking.start_run(experiment, f"{dataset} · {model}", tags, uri=tracking_uri) as run:
            params = {"dataset": dataset, "model": model}
            if model == OURS_TUNED:
                params["grid"] = TUNING_GRID
            tracking.log_params(params)
            mine = result.protocols.query("dataset == @dataset and model == @model")
            tracking.log_metrics(
                {f"{r.protocol}.{r.metric}": r.value for r in mine.itertuples(index=False)}
            )
            if len(result.cv_summary):
                summary = result.cv_summary.query("dataset == @dataset and model == @model")
                metrics = {}
                for r in summary.itertuples(index=False):
                    metrics.update(
                        {f"cv.{r.metric}.{k}": getattr(r, k) for k in ("mean", "low", "high")}
                    )
                tracking.log_metrics(metrics)
                folds = result.cv_folds.query("dataset == @dataset and model == @model")
                tracking.log_frame(folds, "cv_folds.csv")
            if model == OURS_TUNED and len(result.tuned_params):
                tracking.log_frame(result.tuned_params, "tuned_params.csv")
            run_ids[f"{dataset}/{model}"] = run.info.run_id
    return run_ids
