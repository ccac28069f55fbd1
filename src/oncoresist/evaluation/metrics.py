"""Evaluation metrics: mechanism classification, time to resistance, bootstrap CIs, subgroups.

Every metric comes from scikit-learn or scikit-survival; only the expected calibration error
and its reliability bins are computed here (no library gives top-label ECE over a fixed label
set). Split planning lives in :mod:`oncoresist.models.splits` and is re-exported here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import InputDataError

__all__ = [
    "BootstrapCI",
    "MetricDict",
    "bootstrap_ci",
    "expected_calibration_error",
    "mechanism_metrics",
    "ratio_to_oracle",
    "reliability_table",
    "subgroup_metrics",
    "survival_metrics",
    "survival_time_grid",
]

#: Quantile of follow-up that bounds the IPCW C-index and the Brier grid: beyond it few
#: patients remain and inverse-probability-of-censoring weights explode.
FOLLOW_UP_QUANTILE = 0.9


class MetricDict(dict):
    """A plain ``{name: float}`` dict that also says why some values are NaN (``reasons``)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.reasons: dict[str, str] = {}


# --------------------------------------------------------------------------- mechanism
def _class_codes(y_true: Sequence[object] | np.ndarray, classes: Sequence[str]) -> np.ndarray:
    values = np.asarray(y_true).ravel()
    if np.issubdtype(values.dtype, np.integer):
        codes = values.astype(np.int64)
        bad = (codes < 0) | (codes >= len(classes))
        if bad.any():
            raise InputDataError(
                f"class codes must be in [0, {len(classes)}), got {codes[bad][:5]}"
            )
        return codes
    index = {name: k for k, name in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise InputDataError(f"unknown class label(s) {unknown[:10]}; expected {list(classes)}")
    return np.array([index[v] for v in values], dtype=np.int64)


def _check_proba(proba: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (n_rows, n_classes):
        raise InputDataError(f"proba must have shape ({n_rows}, {n_classes}), got {proba.shape}")
    return proba


def reliability_table(
    y_true: Sequence[object] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str] = MECHANISMS,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Top-label reliability bins: predicted confidence vs observed accuracy.

    Parameters
    ----------
    y_true : array-like
        Labels (from ``classes``) or integer class codes.
    proba : ndarray of shape (n_samples, n_classes)
        Probabilities in ``classes`` order.
    classes : sequence of str
    n_bins : int
        Equal-width confidence bins on [0, 1].

    Returns
    -------
    DataFrame
        One row per bin: ``bin_lower``, ``bin_upper``, ``n``, ``mean_confidence``,
        ``accuracy`` (NaN in empty bins).
    """
    codes = _class_codes(y_true, classes)
    proba = _check_proba(proba, codes.size, len(classes))
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == codes).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        rows.append(
            {
                "bin_lower": edges[b],
                "bin_upper": edges[b + 1],
                "n": n,
                "mean_confidence": float(confidence[inside].mean()) if n else np.nan,
                "accuracy": float(correct[inside].mean()) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(
    y_true: Sequence[object] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str] = MECHANISMS,
    n_bins: int = 10,
) -> float:
    """Top-label ECE: sum over bins of ``n_b / n * |accuracy_b - confidence_b|``."""
    table = reliability_table(y_true, proba, classes, n_bins)
    filled = table[table["n"] > 0]
    gap = (filled["accuracy"] - filled["mean_confidence"]).abs()
    return float((filled["n"] * gap).sum() / filled["n"].sum())


def mechanism_metrics(
    y_true: Sequence[object] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str] = MECHANISMS,
) -> MetricDict:
    """Classification metrics of mechanism probabilities.

    Returns
    -------
    MetricDict
        ``macro_f1`` (over classes in the truth or the predictions), ``balanced_accuracy``,
        ``auroc`` (macro one-vs-rest over the classes present in ``y_true``: a class absent
        from the test labels has no AUROC and is left out, ``auroc_n_classes`` says how many
        counted), ``log_loss`` (labels fixed to ``classes``), ``ece``, ``n``.
    """
    codes = _class_codes(y_true, classes)
    proba = _check_proba(proba, codes.size, len(classes))
    predicted = proba.argmax(axis=1)
    result = MetricDict()
    result["macro_f1"] = float(f1_score(codes, predicted, average="macro", zero_division=0))
    with warnings.catch_warnings():
        # predicting a class absent from the truth is legitimate here, not a usage error
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        result["balanced_accuracy"] = float(balanced_accuracy_score(codes, predicted))
    present = [k for k in range(len(classes)) if 0 < (codes == k).sum() < codes.size]
    if present:
        result["auroc"] = float(np.mean([roc_auc_score(codes == k, proba[:, k]) for k in present]))
    else:
        result["auroc"] = np.nan
        result.reasons["auroc"] = "fewer than two classes in y_true"
    result["auroc_n_classes"] = float(len(present))
    result["log_loss"] = float(log_loss(codes, proba, labels=list(range(len(classes)))))
    result["ece"] = expected_calibration_error(codes, proba, classes)
    result["n"] = float(codes.size)
    return result


# --------------------------------------------------------------------------- survival
def _event_time(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names = getattr(getattr(y, "dtype", None), "names", None)
    if names is None or len(names) != 2:
        raise InputDataError("survival target must be a structured (event, time) array")
    return y[names[0]].astype(bool), y[names[1]].astype(np.float64)


def survival_time_grid(y_train: np.ndarray, y_test: np.ndarray, n_times: int = 50) -> np.ndarray:
    """Times (months) for the integrated Brier score, strictly inside the test follow-up.

    From the 10th percentile of test times to the smaller of the test and training
    ``FOLLOW_UP_QUANTILE`` quantiles (the censoring distribution comes from training).
    """
    _, test_time = _event_time(y_test)
    _, train_time = _event_time(y_train)
    low = float(np.quantile(test_time, 0.1))
    high = float(
        min(np.quantile(test_time, FOLLOW_UP_QUANTILE), np.quantile(train_time, FOLLOW_UP_QUANTILE))
    )
    low = max(low, float(test_time.min()) + 1e-9)
    if not high > low:
        return np.empty(0)
    return np.linspace(low, high, n_times)


def survival_metrics(
    y_train: np.ndarray,
    y_test: np.ndarray,
    risk: np.ndarray,
    survival_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    times: Sequence[float] = (6, 12, 24),
) -> MetricDict:
    """Discrimination and calibration of a survival model on a test set.

    Parameters
    ----------
    y_train : structured ndarray
        Training target (estimates the censoring distribution for IPCW metrics).
    y_test : structured ndarray
        Test target.
    risk : ndarray of shape (n_test,)
        Risk score, higher = earlier resistance (``model.predict``).
    survival_fn : callable, optional
        ``survival_fn(grid) -> ndarray (n_test, len(grid))`` of S(t), e.g.
        ``lambda t: model.predict_survival_function(X_test, t)``. Without it ``ibs`` is NaN.
    times : sequence of float
        Months for time-dependent AUC (``auc_6m`` ...).

    Returns
    -------
    MetricDict
        ``cindex_harrell``, ``cindex_uno`` (IPCW, truncated at ``cindex_uno_tau``), ``ibs``,
        ``auc_<t>m``, ``n``, ``n_events``; ``reasons`` explains any NaN.
    """
    event, time = _event_time(y_test)
    _, train_time = _event_time(y_train)
    risk = np.asarray(risk, dtype=np.float64).ravel()
    if risk.shape[0] != time.shape[0]:
        raise InputDataError(f"risk has {risk.shape[0]} values but y_test has {time.shape[0]}")
    result = MetricDict(n=float(time.size), n_events=float(event.sum()))
    if not event.any():
        result.reasons["cindex_harrell"] = "no observed resistance in the test set"
        result["cindex_harrell"] = np.nan
    else:
        result["cindex_harrell"] = float(concordance_index_censored(event, time, risk)[0])

    tau = float(
        min(np.quantile(time, FOLLOW_UP_QUANTILE), np.quantile(train_time, FOLLOW_UP_QUANTILE))
    )
    result["cindex_uno_tau"] = tau
    result["cindex_uno"] = _guarded(
        result,
        "cindex_uno",
        lambda: concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0],
    )

    grid = survival_time_grid(y_train, y_test)
    if survival_fn is None:
        result["ibs"] = np.nan
        result.reasons["ibs"] = "no survival function given"
    elif grid.size < 2:
        result["ibs"] = np.nan
        result.reasons["ibs"] = "test follow-up too short for a Brier grid"
    else:
        result["ibs"] = _guarded(
            result,
            "ibs",
            lambda: integrated_brier_score(y_train, y_test, survival_fn(grid), grid),
        )

    for t in times:
        name = f"auc_{t:g}m"
        reason = _auc_time_problem(float(t), event, time, train_time)
        if reason:
            result[name] = np.nan
            result.reasons[name] = reason
            continue
        result[name] = _guarded(
            result, name, lambda t=t: cumulative_dynamic_auc(y_train, y_test, risk, [t])[0][0]
        )
    return result


def _auc_time_problem(
    t: float, event: np.ndarray, time: np.ndarray, train_time: np.ndarray
) -> str | None:
    if not time.min() <= t < time.max():
        return f"{t:g} months is outside the test follow-up [{time.min():.3g}, {time.max():.3g})"
    if t >= train_time.max():
        return f"{t:g} months is beyond the training follow-up ({train_time.max():.3g})"
    if not (event & (time <= t)).any():
        return f"no observed resistance by {t:g} months in the test set"
    return None


def _guarded(result: MetricDict, name: str, compute: Callable[[], float]) -> float:
    """Run a scikit-survival metric; a ValueError (undefined here) becomes NaN + reason."""
    try:
        return float(compute())
    except ValueError as error:
        result.reasons[name] = str(error)
        return np.nan


# --------------------------------------------------------------------------- uncertainty
@dataclass(frozen=True)
class BootstrapCI:
    """Point estimate and percentile interval; unpacks as ``estimate, low, high``."""

    estimate: float
    low: float
    high: float
    n_resamples: int
    n_skipped: int

    def __iter__(self):
        return iter((self.estimate, self.low, self.high))


def _take(array: object, rows: np.ndarray) -> object:
    if isinstance(array, pd.DataFrame | pd.Series):
        return array.iloc[rows]
    return np.asarray(array)[rows]


def bootstrap_ci(
    fn: Callable[..., float],
    *arrays: object,
    n_resamples: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapCI:
    """Percentile bootstrap interval of ``fn(*arrays)`` over resampled rows.

    Rows are drawn with replacement, the same rows from every array. A resample where the
    metric is undefined (``fn`` raises ``ValueError`` or returns NaN, e.g. no event) is
    skipped and counted in ``n_skipped``. To resample something ``fn`` closes over, pass
    ``np.arange(n)`` and index with it inside ``fn``.

    Returns
    -------
    BootstrapCI
        ``estimate`` is ``fn`` on the full data; ``low``/``high`` the ``alpha/2`` and
        ``1 - alpha/2`` quantiles of the valid resamples (NaN when none is valid).
    """
    if not arrays:
        raise InputDataError("bootstrap_ci needs at least one array to resample")
    n = len(arrays[0])  # type: ignore[arg-type]
    if any(len(a) != n for a in arrays):  # type: ignore[arg-type]
        raise InputDataError("arrays passed to bootstrap_ci must have the same length")
    estimate = float(fn(*arrays))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(int(n_resamples)):
        rows = rng.integers(0, n, size=n)
        try:
            value = float(fn(*(_take(a, rows) for a in arrays)))
        except ValueError:
            continue
        if np.isfinite(value):
            values.append(value)
    skipped = int(n_resamples) - len(values)
    if not values:
        return BootstrapCI(estimate, np.nan, np.nan, int(n_resamples), skipped)
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return BootstrapCI(estimate, float(low), float(high), int(n_resamples), skipped)


# --------------------------------------------------------------------------- comparisons
def subgroup_metrics(
    fn: Callable[..., dict[str, float]],
    groups: Sequence[object] | np.ndarray | pd.Series,
    *arrays: object,
    min_rows: int = 10,
) -> pd.DataFrame:
    """Apply a metric function within each subgroup (e.g. clinical setting).

    Parameters
    ----------
    fn : callable
        ``fn(*arrays_subset) -> dict`` of metric values (e.g. a partial of
        :func:`survival_metrics` binding ``y_train``).
    groups : array-like
        Subgroup of each row.
    *arrays : array-likes
        Row-aligned inputs to ``fn``.
    min_rows : int
        Subgroups with fewer rows get NaN metrics.

    Returns
    -------
    DataFrame
        One row per subgroup (sorted): ``group``, ``n_rows`` and the metrics; a ``reason``
        column holds why a subgroup has no metrics.
    """
    labels = np.asarray(groups, dtype=object)
    rows = []
    for group in sorted(pd.unique(labels), key=str):
        where = np.flatnonzero(labels == group)
        row: dict[str, object] = {"group": group, "n_rows": int(where.size), "reason": ""}
        if where.size < min_rows:
            row["reason"] = f"fewer than {min_rows} rows"
        else:
            try:
                row.update(fn(*(_take(a, where) for a in arrays)))
            except ValueError as error:
                row["reason"] = str(error)
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_to_oracle(
    model_value: float, oracle_value: float, higher_is_better: bool = True
) -> float:
    """How close a model gets to the oracle: 1.0 = as good, below 1 = worse.

    ``model / oracle`` for metrics where higher is better (C-index, F1), ``oracle / model``
    where lower is better (log-loss, Brier). NaN when undefined (zero or NaN inputs).
    """
    numerator, denominator = (
        (model_value, oracle_value) if higher_is_better else (oracle_value, model_value)
    )
    if not (np.isfinite(numerator) and np.isfinite(denominator)) or denominator == 0:
        return float("nan")
    return float(numerator / denominator)
