"""Figures of the reviewer report, returned as base64 PNG data URIs (no files, no network)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS

#: Shade of the time interval on the survival curve.
INTERVAL_COLOUR = "#3498db"


def data_uri(figure: Any, dpi: int = 90) -> str:
    """Render a matplotlib figure to ``data:image/png;base64,...`` and close it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt.subplots(figsize=(width, height))


def probabilities_chart(row: pd.Series, members: Sequence[str] = ()) -> str:
    """Horizontal bars of P(mechanism | resistance occurs), the predicted class highlighted.

    Mechanisms in the conformal set (``members``) get a black outline and an "in set" mark.
    """
    figure, ax = _figure(5.0, 2.4)
    values = [float(row[f"p_{m}"]) for m in MECHANISMS]
    colours = ["#c0392b" if m == row["predicted_mechanism"] else "#95a5a6" for m in MECHANISMS]
    edges = [1.5 if m in members else 0.0 for m in MECHANISMS]
    names = [f"{m} (in set)" if m in members else m for m in MECHANISMS]
    ax.barh(
        names[::-1], values[::-1], color=colours[::-1], edgecolor="black", linewidth=edges[::-1]
    )
    for y, value in enumerate(values[::-1]):
        ax.text(value + 0.01, y, f"{value:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("P(mechanism | resistance occurs)")
    return data_uri(figure)


def survival_chart(
    months: np.ndarray, survival: np.ndarray, median: float, low: float | None, high: float | None
) -> str:
    """Predicted P(resistance-free) over time with the median and, when given, its interval.

    The interval is shaded from ``low`` to ``high``; an open upper bound (``high`` infinite)
    is shaded from ``low`` to the end of the axis.
    """
    figure, ax = _figure(5.0, 2.8)
    ax.plot(months, survival, color="#2c3e50")
    if low is not None and np.isfinite(low) and high is not None:
        if np.isfinite(high):
            ax.axvspan(
                low, high, color=INTERVAL_COLOUR, alpha=0.2, label=f"interval {low:.1f}–{high:.1f}"
            )
        else:
            end = float(np.max(months))
            ax.axvspan(
                low, end, color=INTERVAL_COLOUR, alpha=0.2, label=f"interval ≥ {low:.1f} (open)"
            )
            ax.set_xlim(float(np.min(months)), end)
    if np.isfinite(median):
        ax.axvline(median, color="#c0392b", linestyle="--", label=f"median {median:.1f} months")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("months from treatment start")
    ax.set_ylabel("P(resistance-free)")
    ax.legend(fontsize=8, loc="upper right")
    return data_uri(figure)


def waterfall_chart(
    labels: Sequence[str],
    contributions: np.ndarray,
    base: float,
    title: str,
    max_display: int = 8,
) -> str:
    """shap's waterfall of one prediction, with readable labels as feature names."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import shap  # noqa: PLC0415

    before = set(plt.get_fignums())
    _figure(6.5, 3.6)
    explanation = shap.Explanation(
        values=np.asarray(contributions, dtype=float),
        base_values=float(base),
        feature_names=list(labels),
    )
    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    figure = plt.gcf()
    for number in set(plt.get_fignums()) - before - {figure.number}:
        plt.close(number)  # shap's waterfall opens its own figure: keep only the drawn one
    figure.suptitle(title, fontsize=10)
    return data_uri(figure)


def overview_chart(scores: pd.DataFrame) -> str:
    """Cohort overview: predicted mechanism counts and predicted median times."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(9.0, 2.8))
    counts = scores["predicted_mechanism"].value_counts().reindex(MECHANISMS, fill_value=0)
    left.bar(list(MECHANISMS), counts.to_numpy(), color="#7f8c8d")
    left.set_title("predicted mechanism", fontsize=9)
    left.tick_params(axis="x", labelrotation=30, labelsize=8)
    months = scores["median_months_to_resistance"].to_numpy(dtype=float)
    right.hist(months[np.isfinite(months)], bins=20, color="#34495e")
    right.set_title("predicted median months to resistance", fontsize=9)
    figure.tight_layout()
    return data_uri(figure)
