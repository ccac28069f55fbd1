"""Input checks shared by the model estimators (private).

Every model takes the FeatureBuilder's output: a float64 DataFrame with named columns in
which NaN means "not measured". These helpers turn it into a float64 matrix in the training
column order, with errors that say which columns are wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from oncoresist.exceptions import InputDataError

#: Characters XGBoost refuses in feature names, and what they become inside the booster.
_XGB_FORBIDDEN = {"[": "(", "]": ")", "<": "lt"}

#: How many column names an error message lists.
_SHOWN = 10


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    if len(names) > _SHOWN:
        shown += f" ... (+{len(names) - _SHOWN} more)"
    return shown


def as_feature_matrix(
    X: pd.DataFrame | np.ndarray, feature_names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Return ``X`` as a C-ordered float64 matrix and its column names.

    Parameters
    ----------
    X : DataFrame or 2-D array
        Features; NaN marks a missing value. A DataFrame is the normal input.
    feature_names : sequence of str, optional
        Column order seen in ``fit``. When given, a DataFrame is reordered to it (extra columns
        are ignored, missing ones raise) and an array must have that many columns.

    Returns
    -------
    matrix : ndarray of shape (n_samples, n_features)
    names : list of str
        Column names (``x0``, ``x1``, ... for an array).

    Raises
    ------
    InputDataError
        Missing, duplicated or non-numeric columns, infinite values, or an empty matrix.
    """
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        present = set(names)  # built once: per-name list scans cost O(p^2) on wide matrices
        if len(present) < len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise InputDataError(f"feature columns are duplicated: {_listing(duplicated)}")
        if feature_names is not None:
            missing = [n for n in feature_names if n not in present]
            if missing:
                raise InputDataError(
                    f"{len(missing)} feature column(s) seen in fit are missing: "
                    f"{_listing(missing)}. Fix: build features with the FeatureBuilder "
                    "saved with this model"
                )
            X = X.set_axis(names, axis=1)[list(feature_names)]
            names = list(feature_names)
        non_numeric = [
            str(c) for c, dtype in X.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
        ]
        if non_numeric:
            raise InputDataError(
                f"feature columns must be numeric (float64, NaN = missing); not numeric: "
                f"{_listing(non_numeric)}"
            )
        matrix = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        matrix = np.asarray(X, dtype=np.float64)
        if matrix.ndim != 2:
            raise InputDataError(f"features must be 2-D, got an array of shape {matrix.shape}")
        names = [f"x{i}" for i in range(matrix.shape[1])]
        if feature_names is not None:
            if matrix.shape[1] != len(feature_names):
                raise InputDataError(
                    f"features have {matrix.shape[1]} columns; the model was fitted on "
                    f"{len(feature_names)}"
                )
            names = list(feature_names)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InputDataError(f"feature matrix is empty (shape {matrix.shape})")
    infinite = np.isinf(matrix).any(axis=0)
    if infinite.any():
        bad = [names[i] for i in np.flatnonzero(infinite)]
        raise InputDataError(
            f"features contain infinite values in column(s) {_listing(bad)}. "
            "Fix: use NaN for a missing value"
        )
    return np.ascontiguousarray(matrix), names


def xgboost_feature_names(names: Sequence[str]) -> list[str]:
    """Map column names to names XGBoost accepts (no ``[``, ``]`` or ``<``), kept unique."""
    safe: list[str] = []
    seen: set[str] = set()
    for name in names:
        new = name
        for bad, good in _XGB_FORBIDDEN.items():
            new = new.replace(bad, good)
        base, k = new, 1
        while new in seen:
            new, k = f"{base}_{k}", k + 1
        seen.add(new)
        safe.append(new)
    return safe


def step_function_at(
    knots: np.ndarray, values: np.ndarray, times: np.ndarray, before: float
) -> np.ndarray:
    """Evaluate right-continuous step functions at ``times``.

    Parameters
    ----------
    knots : ndarray of shape (k,)
        Increasing times at which the functions jump.
    values : ndarray of shape (n, k) or (k,)
        Function values from each knot on.
    times : ndarray of shape (m,)
        Where to evaluate; before the first knot the value is ``before``, after the last knot
        the last value carries forward.
    before : float
        Value before the first knot (1 for a survival function, 0 for a cumulative hazard).

    Returns
    -------
    ndarray of shape (n, m) or (m,)
    """
    position = np.searchsorted(knots, times, side="right") - 1
    values = np.asarray(values, dtype=np.float64)
    padded = np.concatenate(
        [np.full((*values.shape[:-1], 1), before, dtype=np.float64), values], axis=-1
    )
    return padded[..., position + 1]


def check_times(times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return evaluation times as a 1-D float array of finite, non-negative months."""
    grid = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if grid.ndim != 1 or grid.size == 0:
        raise InputDataError("times must be a non-empty 1-D sequence of months")
    if not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise InputDataError(f"times must be finite and >= 0 months, got {grid.tolist()[:10]}")
    return grid
