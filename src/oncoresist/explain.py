"""SHAP explanations: per model, per patient, in words a reviewer reads.

Attributions are exact tree SHAP values (the path-dependent algorithm) computed by XGBoost's
own ``pred_contribs``: they equal ``shap.TreeExplainer(booster)`` exactly (tested) and are
faster for batch work. Additivity holds: attributions + base value = the model's margin.

* Mechanism model: one attribution set per class, in **log-odds of the uncalibrated booster**
  (softmax margin). Calibration (temperature scaling) rescales all margins by one factor and
  does not change the ranking of drivers.
* Time-to-resistance model (AFT): attributions in **log-time**; a contribution ``c``
  multiplies the expected time by ``exp(c)`` ("shortens expected time to resistance by 22%").
  With a Cox objective they are in log-hazard.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS

SURVIVAL_MODEL = "time_to_resistance"


def _dmatrix(model: Any, features: pd.DataFrame) -> Any:
    import xgboost as xgb

    from oncoresist._estimator_utils import as_feature_matrix, xgboost_feature_names

    names = list(getattr(model, "feature_names_in_", features.columns))
    matrix, names = as_feature_matrix(features, names)
    return xgb.DMatrix(matrix, feature_names=xgboost_feature_names(names), missing=np.nan)


def mechanism_contributions(model: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values of the mechanism booster, shape (n, n_classes, n_features + 1).

    The last slot of each class is the base value (bias). Summed over the last axis they give
    the booster's raw margin (log-odds before softmax and calibration).
    """
    booster = model.booster_
    contribs = booster.predict(_dmatrix(model, features), pred_contribs=True, strict_shape=True)
    return np.asarray(contribs, dtype=np.float64)


def survival_contributions(model: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values of the survival booster, shape (n, n_features + 1), last column = base.

    AFT: log-time; Cox: log-hazard.
    """
    booster = model.booster_
    contribs = booster.predict(_dmatrix(model, features), pred_contribs=True, strict_shape=True)
    contribs = np.asarray(contribs, dtype=np.float64)
    return contribs.reshape(contribs.shape[0], -1)


def survival_scale(model: Any) -> str:
    """``log-time`` for AFT models, ``log-hazard`` for Cox models."""
    return "log-hazard" if str(getattr(model, "objective", "")).endswith("cox") else "log-time"


def shap_cross_check(booster: Any, features: pd.DataFrame) -> np.ndarray:
    """SHAP values from ``shap.TreeExplainer`` (path-dependent), for cross-checking.

    Returns (n, n_features) for a single-output model or (n, n_classes, n_features) for a
    multi-class one — the layout of :func:`mechanism_contributions` without the base value.
    """
    import shap

    values = np.asarray(
        shap.TreeExplainer(booster).shap_values(features.to_numpy(dtype=np.float64))
    )
    if values.ndim == 3:  # (n, p, K) -> (n, K, p)
        values = np.transpose(values, (0, 2, 1))
    return values


# --------------------------------------------------------------------------------------
# Readable drivers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    """One feature's contribution to one prediction, in words."""

    model: str  # "mechanism:<class>" or "time_to_resistance"
    rank: int
    feature: str
    label: str
    value: float
    contribution: float
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (one tidy row)."""
        return asdict(self)


def describe(builder: Any, feature: str, value: float) -> str:
    """Human reading of a feature value (the builder knows its features best)."""
    describe_value = getattr(builder, "describe_value", None)
    if describe_value is not None:
        try:
            return str(describe_value(feature, value))
        except (KeyError, ValueError):
            pass
    if value != value:
        return f"{feature} missing"
    return f"{feature} = {value:g}"


def sentence_for(label: str, contribution: float, model: str, scale: str = "log-time") -> str:
    """The driver's effect in the model's own scale, as a sentence."""
    if model.startswith("mechanism:"):
        mechanism = model.split(":", 1)[1]
        verb = "raises" if contribution >= 0 else "lowers"
        return f"{label} {verb} the log-odds of {mechanism} by {abs(contribution):.2f}"
    change = np.expm1(abs(contribution)) * 100
    if scale == "log-hazard":
        verb = "raises" if contribution >= 0 else "lowers"
        return f"{label} {verb} the hazard of resistance by {change:.0f}%"
    factor = np.expm1(contribution) * 100
    if contribution < 0:
        return f"{label} shortens expected time to resistance by {abs(factor):.0f}%"
    return f"{label} lengthens expected time to resistance by {factor:.0f}%"


def top_drivers(
    contributions: np.ndarray,
    values: np.ndarray,
    feature_names: list[str],
    builder: Any,
    model: str,
    k: int = 3,
    scale: str = "log-time",
    allowed: np.ndarray | None = None,
) -> list[Driver]:
    """The ``k`` largest contributions (by absolute value) of one row, with sentences.

    Parameters
    ----------
    contributions : ndarray of shape (n_features,)
        One row's SHAP values (base value excluded).
    values : ndarray of shape (n_features,)
        The row's feature values.
    allowed : boolean ndarray, optional
        Restrict the ranking to these features (e.g. genomic and expression only).
    """
    magnitude = np.abs(contributions).astype(float)
    if allowed is not None:
        magnitude = np.where(allowed, magnitude, -1.0)
    order = np.argsort(-magnitude, kind="stable")[:k]
    drivers = []
    for rank, j in enumerate(order, start=1):
        if magnitude[j] <= 0:
            break
        label = describe(builder, feature_names[j], float(values[j]))
        drivers.append(
            Driver(
                model,
                rank,
                feature_names[j],
                label,
                float(values[j]),
                float(contributions[j]),
                sentence_for(label, float(contributions[j]), model, scale),
            )
        )
    return drivers


@dataclass
class Explanation:
    """SHAP values of both models for a feature matrix."""

    features: pd.DataFrame
    mechanism: np.ndarray  # (n, K, p + 1)
    survival: np.ndarray  # (n, p + 1)
    survival_scale: str

    @property
    def feature_names(self) -> list[str]:
        """Feature names, in attribution order."""
        return list(self.features.columns)


def explain_features(bundle: Any, features: pd.DataFrame) -> Explanation:
    """SHAP values of both models of a bundle for an already-built feature matrix."""
    return Explanation(
        features=features,
        mechanism=mechanism_contributions(bundle.mechanism_model, features),
        survival=survival_contributions(bundle.survival_model, features),
        survival_scale=survival_scale(bundle.survival_model),
    )


def drivers_table(
    bundle: Any,
    explanation: Explanation,
    ids: pd.DataFrame,
    k: int = 3,
    mechanisms: list[str] | None = None,
) -> pd.DataFrame:
    """Tidy top-``k`` drivers per row and model.

    Columns: patient_id, treatment_id, model, rank, feature, label, value, contribution,
    sentence. The mechanism drivers are for each row's ``mechanisms`` entry (default: the
    predicted mechanism).
    """
    names = explanation.feature_names
    values = explanation.features.to_numpy(dtype=np.float64)
    if mechanisms is None:
        proba = bundle.mechanism_model.predict_proba(explanation.features)
        mechanisms = list(np.asarray(MECHANISMS)[np.argmax(proba, axis=1)])
    rows = []
    builder = bundle.feature_builder
    for i in range(len(values)):
        k_class = MECHANISMS.index(mechanisms[i])
        found = top_drivers(
            explanation.mechanism[i, k_class, :-1],
            values[i],
            names,
            builder,
            f"mechanism:{mechanisms[i]}",
            k,
        )
        found += top_drivers(
            explanation.survival[i, :-1],
            values[i],
            names,
            builder,
            SURVIVAL_MODEL,
            k,
            scale=explanation.survival_scale,
        )
        for driver in found:
            rows.append(
                {
                    "patient_id": ids["patient_id"].iloc[i],
                    "treatment_id": ids["treatment_id"].iloc[i],
                    **driver.as_dict(),
                }
            )
    columns = [
        "patient_id",
        "treatment_id",
        "model",
        "rank",
        "feature",
        "label",
        "value",
        "contribution",
        "sentence",
    ]
    return pd.DataFrame(rows, columns=columns)


def global_importance(explanation: Explanation) -> pd.DataFrame:
    """Mean |SHAP| per feature, per mechanism class and for the survival model."""
    names = explanation.feature_names
    table = pd.DataFrame({"feature": names})
    for k, mechanism in enumerate(MECHANISMS):
        table[f"mechanism:{mechanism}"] = np.abs(explanation.mechanism[:, k, :-1]).mean(axis=0)
    table["mechanism:all"] = table[[f"mechanism:{m}" for m in MECHANISMS]].sum(axis=1)
    table[SURVIVAL_MODEL] = np.abs(explanation.survival[:, :-1]).mean(axis=0)
    return table.sort_values("mechanism:all", ascending=False).reset_index(drop=True)


def driver_text(driver: Driver, scale: str = "log-time") -> str:
    """Compact driver text for a scores file: ``"MET amplification (+0.91)"``.

    Mechanism contributions are log-odds; time contributions are shown as the percentage
    change of expected time to resistance (AFT) or of the hazard (Cox).
    """
    if driver.model.startswith("mechanism:"):
        return f"{driver.label} ({driver.contribution:+.2f} log-odds)"
    change = np.expm1(driver.contribution) * 100
    unit = "hazard" if scale == "log-hazard" else "time"
    return f"{driver.label} ({change:+.0f}% {unit})"


def top_drivers_text(
    bundle: Any,
    explanation: Explanation,
    model: str,
    mechanisms: list[str] | None,
    k: int,
) -> list[str]:
    """Per row, the top-``k`` drivers of one model joined with ``"; "``.

    ``model`` is ``"mechanism"`` (drivers of each row's ``mechanisms`` entry) or
    :data:`SURVIVAL_MODEL`.
    """
    names = explanation.feature_names
    values = explanation.features.to_numpy(dtype=np.float64)
    builder = bundle.feature_builder
    texts = []
    for i in range(len(values)):
        if model == "mechanism":
            assert mechanisms is not None
            k_class = MECHANISMS.index(mechanisms[i])
            found = top_drivers(
                explanation.mechanism[i, k_class, :-1],
                values[i],
                names,
                builder,
                f"mechanism:{mechanisms[i]}",
                k,
            )
        else:
            found = top_drivers(
                explanation.survival[i, :-1],
                values[i],
                names,
                builder,
                SURVIVAL_MODEL,
                k,
                scale=explanation.survival_scale,
            )
        texts.append("; ".join(driver_text(d, explanation.survival_scale) for d in found))
    return texts
