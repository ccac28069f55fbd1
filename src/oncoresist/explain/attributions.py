"""SHAP explanations: per model, per patient, in words a reviewer reads.

Attributions are exact tree SHAP values (the path-dependent algorithm) computed by XGBoost's
own ``pred_contribs``: they equal ``shap.TreeExplainer(booster)`` with its default
(path-dependent) algorithm (tested) and are faster for batch work. Additivity holds:
attributions + base value = the model's margin.

* Mechanism model: one attribution set per class, in **log-odds of the uncalibrated booster**
  (the softmax margin returned by ``MechanismClassifier.predict_margin``). Calibration
  (temperature scaling) divides all margins by one factor and does not change the ranking.
* Time-to-resistance model (AFT): attributions in **log-time** (``predict_margin`` of
  ``TimeToResistanceModel``); a contribution ``c`` multiplies the expected time by
  ``exp(c)`` ("shortens expected time to resistance by 22%"). With a Cox objective they are
  in log-hazard.

Features derived from one source (``mut:TP53``, ``alt:TP53 p.R273H``, ``expr:TP53``) can be
grouped (``group=True``): their contributions add up, exactly, because SHAP is additive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS
from oncoresist.explain.drivers import (  # re-exported: the public API lives here too
    SURVIVAL_MODEL,
    Driver,
    Reader,
    group_matrix,
    top_drivers,
)
from oncoresist.models.checks import as_feature_matrix, xgboost_feature_names

__all__ = [
    "DRIVER_COLUMNS",
    "Explanation",
    "driver_text",
    "drivers_table",
    "explain_features",
    "global_importance",
    "mechanism_contributions",
    "predicted_mechanisms",
    "shap_cross_check",
    "survival_contributions",
    "survival_scale",
    "top_drivers_text",
]

DRIVER_COLUMNS = (
    "patient_id",
    "treatment_id",
    "model",
    "rank",
    "feature",
    "label",
    "value",
    "contribution",
    "sentence",
)


def _dmatrix(model: Any, features: pd.DataFrame) -> Any:
    import xgboost as xgb  # noqa: PLC0415

    names = list(getattr(model, "feature_names_in_", features.columns))
    matrix, names = as_feature_matrix(features, names)
    return xgb.DMatrix(matrix, feature_names=xgboost_feature_names(names), missing=np.nan)


def mechanism_contributions(model: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values of the mechanism booster, shape (n, n_classes, n_features + 1).

    In log-odds of the uncalibrated booster. The last slot of each class is the base value
    (bias). Summed over the last axis they give ``model.predict_margin(features)``.
    """
    booster = model.booster_
    contribs = booster.predict(_dmatrix(model, features), pred_contribs=True, strict_shape=True)
    return _full_width(contribs, model, features)


def _full_width(contribs: np.ndarray, model: Any, features: pd.DataFrame) -> np.ndarray:
    """Place a model's attributions in the columns of ``features`` (zeros where unused), as
    float64.

    A model may be trained on a subset of the built features (e.g. the mechanism model
    without gene-level expression); attributions of both models then share one layout.
    """
    used = list(getattr(model, "feature_names_in_", features.columns))
    if used == list(features.columns):
        return np.asarray(contribs, dtype=np.float64)
    position = {name: j for j, name in enumerate(features.columns)}
    # A gather, not a scatter (several times faster on (n, K, p) blocks): the attributions
    # plus one zero slot, and each output column picks its source slot.
    width = contribs.shape[-1]  # used features + base value
    padded = np.zeros((*contribs.shape[:-1], width + 1), dtype=np.float64)
    padded[..., :width] = contribs
    source = np.full(features.shape[1] + 1, width)  # unused features: the zero slot
    source[[position[name] for name in used]] = np.arange(len(used))
    source[-1] = width - 1  # base value
    return np.take(padded, source, axis=-1)


def survival_contributions(model: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values of the survival booster, shape (n, n_features + 1), last column = base.

    AFT: log-time; Cox: log-hazard. Rows sum to ``model.predict_margin(features)``.
    """
    booster = model.booster_
    contribs = booster.predict(_dmatrix(model, features), pred_contribs=True, strict_shape=True)
    return _full_width(contribs.reshape(contribs.shape[0], -1), model, features)


def survival_scale(model: Any) -> str:
    """``log-time`` for AFT models, ``log-hazard`` for Cox models."""
    return "log-hazard" if str(getattr(model, "objective", "")).endswith("cox") else "log-time"


def shap_cross_check(booster: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values from ``shap.TreeExplainer`` (default path-dependent), for cross-checking.

    Returns (n, n_features) for a single-output model or (n, n_classes, n_features) for a
    multi-class one: the layout of :func:`mechanism_contributions` without the base value.
    Never use the interventional explainer (background data) on the multi-class model: in
    shap 0.51 it applies class 0's intercept to every class.
    """
    import shap  # noqa: PLC0415

    values = np.asarray(
        shap.TreeExplainer(booster).shap_values(features.to_numpy(dtype=np.float64))
    )
    if values.ndim == 3:  # (n, p, K) -> (n, K, p)
        values = np.transpose(values, (0, 2, 1))
    return values


@dataclass
class Explanation:
    """SHAP values of both models for a feature matrix.

    ``mechanism`` is (n, K, p + 1) in log-odds of the uncalibrated booster; ``survival`` is
    (n, p + 1) in ``survival_scale`` (log-time for AFT). The last slot is the base value.
    """

    features: pd.DataFrame
    mechanism: np.ndarray  # (n, K, p + 1)
    survival: np.ndarray  # (n, p + 1)
    survival_scale: str

    @property
    def feature_names(self) -> list[str]:
        """Feature names, in attribution order."""
        return list(self.features.columns)

    def contributions(self, model: str) -> np.ndarray:
        """(n, p) contributions of ``"mechanism:<class>"`` or :data:`SURVIVAL_MODEL`."""
        if model == SURVIVAL_MODEL:
            return self.survival[:, :-1]
        return self.mechanism[:, MECHANISMS.index(model.split(":", 1)[1]), :-1]


def explain_features(bundle: Any, features: pd.DataFrame) -> Explanation:
    """SHAP values of both models of a bundle for an already-built feature matrix.

    Both attribution arrays are laid out over ``features.columns`` (plus the base value),
    whatever subset of columns each model was trained on.
    """
    mech, surv = bundle.mechanism_model, bundle.survival_model
    return Explanation(
        features=features,
        mechanism=mechanism_contributions(mech, features),
        survival=survival_contributions(surv, features),
        survival_scale=survival_scale(surv),
    )


def _row_drivers(
    bundle: Any,
    explanation: Explanation,
    model: str,
    mechanisms: list[str] | None,
    k: int,
    group: bool,
) -> list[list[Driver]]:
    """Per row, the top-``k`` drivers of ``"mechanism"`` (each row's class) or survival."""
    names = explanation.feature_names
    values = explanation.features.to_numpy(dtype=np.float64)
    builder = bundle.feature_builder
    reader = Reader(builder)
    out = []
    for i in range(len(values)):
        if model == "mechanism":
            if mechanisms is None:
                raise ValueError("mechanism drivers need each row's mechanism")
            name = f"mechanism:{mechanisms[i]}"
            contribs = explanation.mechanism[i, MECHANISMS.index(mechanisms[i]), :-1]
            scale = "log-odds"
        else:
            name, contribs, scale = SURVIVAL_MODEL, explanation.survival[i, :-1], None
        out.append(
            top_drivers(
                contribs,
                values[i],
                names,
                builder,
                name,
                k,
                scale=scale or explanation.survival_scale,
                group=group,
                reader=reader,
            )
        )
    return out


def top_k_stable(magnitude: np.ndarray, k: int) -> np.ndarray:
    """Per row, ``np.argsort(-magnitude, kind="stable")[:k]`` without sorting whole rows.

    The k-th largest value bounds the candidates; rows where exactly k values reach it
    (the usual case) sort only those k, in column order, so ties keep the lower column
    first as the stable sort does. Rows with ties at the bound are sorted in full.
    """
    n, p = magnitude.shape
    k = min(k, p)
    if k == 0 or 4 * k >= p:
        return np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    bound = -np.partition(-magnitude, k - 1, axis=1)[:, k - 1]
    candidate = magnitude >= bound[:, None]
    exact = candidate.sum(axis=1) == k
    out = np.empty((n, k), dtype=np.intp)
    rows = np.flatnonzero(exact)
    columns = np.nonzero(candidate[rows])[1].reshape(len(rows), k)  # ascending per row
    ranked = np.argsort(
        -np.take_along_axis(magnitude[rows], columns, axis=1), axis=1, kind="stable"
    )
    out[rows] = np.take_along_axis(columns, ranked, axis=1)
    rest = np.flatnonzero(~exact)
    out[rest] = np.argsort(-magnitude[rest], axis=1, kind="stable")[:, :k]
    return out


def predicted_mechanisms(bundle: Any, features: pd.DataFrame) -> list[str]:
    """The most probable mechanism of each row (calibrated probabilities)."""
    proba = bundle.mechanism_model.predict_proba(features)
    return list(np.asarray(MECHANISMS)[np.argmax(proba, axis=1)])


def drivers_table(
    bundle: Any,
    explanation: Explanation,
    ids: pd.DataFrame,
    k: int = 3,
    mechanisms: list[str] | None = None,
    group: bool = False,
) -> pd.DataFrame:
    """Tidy top-``k`` drivers per row and model.

    Columns: :data:`DRIVER_COLUMNS` (patient_id, treatment_id, model, rank, feature, label,
    value, contribution, sentence). The mechanism drivers are for each row's ``mechanisms``
    entry (default: the predicted mechanism), in log-odds; the time drivers in log-time
    (AFT). ``group=True`` sums features from one source (see :func:`top_drivers`).
    """
    if mechanisms is None:
        mechanisms = predicted_mechanisms(bundle, explanation.features)
    per_model = [
        _row_drivers(bundle, explanation, "mechanism", mechanisms, k, group),
        _row_drivers(bundle, explanation, SURVIVAL_MODEL, None, k, group),
    ]
    patients = ids["patient_id"].to_numpy(dtype=object)
    treatments = ids["treatment_id"].to_numpy(dtype=object)
    rows = [
        {"patient_id": patients[i], "treatment_id": treatments[i], **driver.as_dict()}
        for i in range(len(patients))
        for found in (per_model[0][i], per_model[1][i])
        for driver in found
    ]
    return pd.DataFrame(rows, columns=list(DRIVER_COLUMNS))


def global_importance(
    explanation: Explanation, group: dict[str, str] | None = None
) -> pd.DataFrame:
    """Mean |SHAP| per feature, per mechanism class and for the survival model.

    With ``group`` (a builder's ``feature_groups_``) contributions are first summed per
    source within each row, then averaged in absolute value.
    """
    names = explanation.feature_names
    labels, matrix = group_matrix(names, group) if group is not None else (names, None)
    table = pd.DataFrame({"feature": labels})

    def mean_abs(values: np.ndarray) -> np.ndarray:
        summed = values if matrix is None else values @ matrix
        return np.abs(summed).mean(axis=0)

    for k, mechanism in enumerate(MECHANISMS):
        table[f"mechanism:{mechanism}"] = mean_abs(explanation.mechanism[:, k, :-1])
    table["mechanism:all"] = table[[f"mechanism:{m}" for m in MECHANISMS]].sum(axis=1)
    table[SURVIVAL_MODEL] = mean_abs(explanation.survival[:, :-1])
    return table.sort_values("mechanism:all", ascending=False).reset_index(drop=True)


def driver_text(driver: Driver, scale: str = "log-time") -> str:
    """Compact driver text for a scores file: ``"MET amplification (+0.91 log-odds)"``.

    Mechanism contributions are log-odds; time contributions are shown as the percentage
    change of expected time to resistance (AFT) or of the hazard (Cox).
    """
    return _contribution_text(driver.model, driver.label, driver.contribution, scale)


def _contribution_text(model: str, label: str, contribution: float, scale: str) -> str:
    if model.startswith("mechanism:"):
        return f"{label} ({contribution:+.2f} log-odds)"
    change = np.expm1(contribution) * 100
    unit = "hazard" if scale == "log-hazard" else "time"
    return f"{label} ({change:+.0f}% {unit})"


def top_drivers_text(
    bundle: Any,
    explanation: Explanation,
    model: str,
    mechanisms: list[str] | None,
    k: int,
    group: bool = False,
) -> list[str]:
    """Per row, the top-``k`` drivers of one model joined with ``"; "``.

    ``model`` is ``"mechanism"`` (drivers of each row's ``mechanisms`` entry) or
    :data:`SURVIVAL_MODEL`.
    """
    scale = explanation.survival_scale
    if group:
        found = _row_drivers(bundle, explanation, model, mechanisms, k, group)
        return ["; ".join(driver_text(d, scale) for d in row) for row in found]
    # The ungrouped ranking for all rows at once (what top_drivers does row by row: a stable
    # sort by |contribution|, zeros never drivers); only the k winners are read into words,
    # each distinct (feature, value) once.
    n = len(explanation.features)
    if model == "mechanism":
        if mechanisms is None:
            raise ValueError("mechanism drivers need each row's mechanism")
        classes = [MECHANISMS.index(m) for m in mechanisms]
        contributions = explanation.mechanism[np.arange(n), classes, :-1]
        models = [f"mechanism:{m}" for m in mechanisms]
    else:
        contributions = explanation.survival[:, :-1]
        models = [SURVIVAL_MODEL] * n
    magnitude = np.abs(contributions)
    order = top_k_stable(magnitude, k)
    values = explanation.features.to_numpy(dtype=np.float64)
    names = explanation.feature_names
    reader = Reader(bundle.feature_builder)
    labels: dict[tuple[int, float], str] = {}
    texts = []
    for i in range(n):
        parts = []
        for j in order[i]:
            if magnitude[i, j] <= 0:
                break
            value = float(values[i, j])
            label = labels.get((j, value))
            if label is None:
                label = labels[(j, value)] = reader(names[j], value)
            parts.append(_contribution_text(models[i], label, float(contributions[i, j]), scale))
        texts.append("; ".join(parts))
    return texts
