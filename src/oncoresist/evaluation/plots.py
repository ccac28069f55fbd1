"""Evaluation figures: matplotlib figures returned to the caller (who logs or saves them)."""

from __future__ import annotations

from collections.abc import Sequence

# No matplotlib.use("Agg") here: switching the backend at import turned off a notebook's
# inline figures after training. Headless processes fall back to Agg by themselves.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import ConfusionMatrixDisplay
from sksurv.nonparametric import kaplan_meier_estimator

from oncoresist.contract import MECHANISMS


def km_by_risk_group(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    n_groups: int = 3,
    title: str = "Kaplan-Meier by predicted risk group (test split)",
) -> Figure:
    """Kaplan–Meier curves of the observed outcome in tertiles (default) of predicted risk.

    Well-separated curves, ordered low → high risk, show the ranking is real.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    edges = np.quantile(risk, np.linspace(0, 1, n_groups + 1))
    groups = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, n_groups - 1)
    names = (
        ["low", "intermediate", "high"]
        if n_groups == 3
        else [f"group {i + 1}" for i in range(n_groups)]
    )
    for g in range(n_groups):
        mask = groups == g
        if mask.sum() < 2:
            continue
        t, s = kaplan_meier_estimator(event[mask].astype(bool), time[mask])
        ax.step(t, s, where="post", label=f"{names[g]} risk (n={mask.sum()})")
    ax.set_xlabel("months")
    ax.set_ylabel("resistance-free probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def survival_calibration(
    predicted_survival: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    at_month: float,
    n_bins: int = 5,
) -> Figure:
    """Predicted vs Kaplan–Meier observed resistance-free probability at ``at_month``, by bin."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    edges = np.quantile(predicted_survival, np.linspace(0, 1, n_bins + 1))
    bins = np.clip(np.searchsorted(edges, predicted_survival, side="right") - 1, 0, n_bins - 1)
    xs, ys = [], []
    for b in range(n_bins):
        mask = bins == b
        if mask.sum() < 5:
            continue
        t, s = kaplan_meier_estimator(event[mask].astype(bool), time[mask])
        observed = s[t <= at_month][-1] if np.any(t <= at_month) else 1.0
        xs.append(float(predicted_survival[mask].mean()))
        ys.append(float(observed))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.plot(xs, ys, marker="o")
    ax.set_xlabel(f"predicted P(resistance-free at {at_month:g} months)")
    ax.set_ylabel("observed (Kaplan-Meier)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Survival calibration at {at_month:g} months", fontsize=10)
    fig.tight_layout()
    return fig


def confusion_matrix_figure(y_true: Sequence[str], y_pred: Sequence[str]) -> Figure:
    """Confusion matrix of mechanism labels (rows: true, normalised per row)."""
    fig, ax = plt.subplots(figsize=(6, 5))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=list(MECHANISMS),
        normalize="true",
        ax=ax,
        colorbar=False,
        values_format=".2f",
        xticks_rotation=30,
    )
    ax.set_title("Mechanism confusion matrix (test, row-normalised)", fontsize=10)
    fig.tight_layout()
    return fig


def reliability_diagram(y_true: Sequence[str], proba: np.ndarray, n_bins: int = 10) -> Figure:
    """Reliability of the mechanism probabilities: one line per class (one-vs-rest)."""
    y_true = np.asarray(y_true)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    for k, mechanism in enumerate(MECHANISMS):
        positives = y_true == mechanism
        if positives.sum() < 5 or positives.all():
            continue
        frac, mean_pred = calibration_curve(
            positives, proba[:, k], n_bins=n_bins, strategy="quantile"
        )
        ax.plot(mean_pred, frac, marker="o", ms=3, label=mechanism)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Mechanism reliability diagram (test)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
