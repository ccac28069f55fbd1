"""Global SHAP explanations of a trained bundle: figures and tables for the training run.

:func:`global_explanations` computes exact tree SHAP values of both models on held-out rows
and draws them with shap's own plots (``shap.Explanation`` objects, matplotlib Agg):

* a beeswarm per mechanism class (log-odds of the uncalibrated booster) and for the
  time-to-resistance model (log-time for AFT);
* a mean |SHAP| bar chart of the top features for both models;
* dependence (scatter) plots of the top features of each model;
* the table of global importances (per feature and per source group).

:func:`oncoresist.pipelines.train.log_global_explanations` logs them to the active MLflow
run; this module only returns figures and tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS
from oncoresist.explain.attributions import Explanation, explain_features, global_importance
from oncoresist.explain.drivers import SURVIVAL_MODEL

#: Features shown in a beeswarm / bar chart, and dependence plots drawn per model.
MAX_DISPLAY = 15
TOP_DEPENDENCE = 3


@dataclass
class GlobalExplanations:
    """Figures (artifact path → matplotlib Figure) and tables (artifact path → DataFrame)."""

    figures: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_rows: int = 0

    def close(self) -> None:
        """Close every figure (free memory when they were not logged)."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        for figure in self.figures.values():
            plt.close(figure)


def _shap_explanation(values: np.ndarray, base: np.ndarray, features: pd.DataFrame) -> Any:
    import shap  # noqa: PLC0415

    return shap.Explanation(
        values=values,
        base_values=base,
        data=features.to_numpy(dtype=np.float64),
        feature_names=list(features.columns),
    )


def _draw(plot: Any, *args: Any, title: str, **kwargs: Any) -> Any:
    """Run one shap plot on a fresh figure and return that figure (never shown)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    before = set(plt.get_fignums())
    plt.figure()
    plot(*args, show=False, **kwargs)
    figure = plt.gcf()
    for number in set(plt.get_fignums()) - before - {figure.number}:
        plt.close(number)  # a shap plot may open its own figure: keep only the drawn one
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def _bar_chart(table: pd.DataFrame, max_display: int) -> Any:
    """Mean |SHAP| of the top features: mechanism (stacked by class) and time to resistance."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 0.35 * max_display + 1.8))
    mech = table.nlargest(max_display, "mechanism:all")[::-1]
    start = np.zeros(len(mech))
    for mechanism in MECHANISMS:
        width = mech[f"mechanism:{mechanism}"].to_numpy()
        left.barh(mech["feature"], width, left=start, label=mechanism)
        start += width
    left.set_xlabel("mean |SHAP| (log-odds, summed over classes)")
    left.set_title("Mechanism model")
    left.legend(fontsize=8, loc="lower right")
    surv = table.nlargest(max_display, SURVIVAL_MODEL)[::-1]
    right.barh(surv["feature"], surv[SURVIVAL_MODEL], color="#555")
    right.set_xlabel("mean |SHAP| (log-time)")
    right.set_title("Time-to-resistance model")
    figure.tight_layout()
    return figure


def global_explanations(
    bundle: Any,
    features: pd.DataFrame,
    max_display: int = MAX_DISPLAY,
    top_dependence: int = TOP_DEPENDENCE,
    explanation: Explanation | None = None,
) -> GlobalExplanations:
    """SHAP summary figures and importance tables of both models on ``features``.

    Parameters
    ----------
    bundle : ResistanceBundle
    features : DataFrame
        Held-out feature matrix (e.g. the test split; ``explain_rows`` rows are plenty).
    max_display : int
        Features per beeswarm and bar chart.
    top_dependence : int
        Dependence plots per model (its top features by mean |SHAP|).

    Returns
    -------
    GlobalExplanations
        ``figures`` keyed ``explain/beeswarm_<mechanism>.png``,
        ``explain/beeswarm_time_to_resistance.png``, ``explain/mean_abs_shap.png``,
        ``explain/dependence_<model>_<n>.png``; ``tables`` keyed
        ``explain/global_importance.csv`` and ``explain/global_importance_groups.csv``.
    """
    import shap  # noqa: PLC0415

    explanation = explanation or explain_features(bundle, features)
    out = GlobalExplanations(n_rows=len(features))
    table = global_importance(explanation)
    out.tables["explain/global_importance.csv"] = table
    out.tables["explain/global_importance_groups.csv"] = global_importance(
        explanation, group=getattr(bundle.feature_builder, "feature_groups_", None)
    )
    per_model: dict[str, Any] = {}
    for k, mechanism in enumerate(MECHANISMS):
        per_model[mechanism] = _shap_explanation(
            explanation.mechanism[:, k, :-1], explanation.mechanism[:, k, -1], features
        )
    per_model[SURVIVAL_MODEL] = _shap_explanation(
        explanation.survival[:, :-1], explanation.survival[:, -1], features
    )
    for name, values in per_model.items():
        scale = (
            f"SHAP ({explanation.survival_scale})"
            if name == SURVIVAL_MODEL
            else f"SHAP (log-odds of {name})"
        )
        out.figures[f"explain/beeswarm_{name}.png"] = _draw(
            shap.plots.beeswarm,
            values,
            max_display=max_display,
            title=f"{name}: {scale}, {len(features)} held-out rows",
        )
    out.figures["explain/mean_abs_shap.png"] = _bar_chart(table, max_display)
    for column, model in (("mechanism:all", "mechanism"), (SURVIVAL_MODEL, SURVIVAL_MODEL)):
        top = table.nlargest(top_dependence, column)["feature"].tolist()
        for n, feature in enumerate(top, start=1):
            if model == "mechanism":  # the class this feature moves most
                k = int(
                    np.argmax(
                        [
                            table.set_index("feature").loc[feature, f"mechanism:{m}"]
                            for m in MECHANISMS
                        ]
                    )
                )
                values, label = per_model[MECHANISMS[k]], f"log-odds of {MECHANISMS[k]}"
            else:
                values, label = per_model[SURVIVAL_MODEL], explanation.survival_scale
            out.figures[f"explain/dependence_{model}_{n}.png"] = _draw(
                shap.plots.scatter,
                values[:, feature],
                title=f"{feature}: SHAP ({label})",
            )
    return out
