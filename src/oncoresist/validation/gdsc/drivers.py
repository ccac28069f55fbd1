"""SHAP drivers of the GDSC1 models, with tissue counted as one feature.

Tissue is one categorical feature, but the models see it as ~20 one-hot ``tissue=<name>``
columns plus, when a model starts from the tissue prior, the pseudo-driver
:data:`~oncoresist.validation.gdsc.prior.PRIOR_DRIVER`. Ranked column by column, each of those gets
only a sliver of the tissue effect, which flatters every other feature. So:

* **Primary rank** (the biomarker targets, *top drivers*): every tissue attribution of a row
  (one-hot columns + prior) is summed into one driver :data:`TISSUE_DRIVER`, then drivers are
  ranked by mean |SHAP| over rows. Summing per row before taking |·| keeps additivity: the
  grouped attributions still add up to the margin.
* **Per-column rank** (secondary, comparable with pages before the grouping): mean |SHAP| of
  each column, tissue one-hot columns and the prior ranked separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncoresist.validation.gdsc.prior import PRIOR_DRIVER

TISSUE_DRIVER = "tissue"
TISSUE_PREFIX = "tissue="


def is_tissue(name: str) -> bool:
    """Whether an attribution column belongs to the tissue driver (one-hot or prior)."""
    return str(name).startswith(TISSUE_PREFIX) or name == PRIOR_DRIVER


def grouped_attributions(contribs: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Per-row attributions with every tissue column summed into :data:`TISSUE_DRIVER` (last)."""
    names = list(names)
    tissue = np.array([is_tissue(n) for n in names], dtype=bool)
    if not tissue.any():
        return np.asarray(contribs), names
    kept = [n for n, t in zip(names, tissue, strict=True) if not t]
    grouped = np.column_stack([contribs[:, ~tissue], contribs[:, tissue].sum(axis=1)])
    return grouped, [*kept, TISSUE_DRIVER]


def driver_importance(contribs: np.ndarray, names: list[str], grouped: bool = True) -> pd.Series:
    """Mean |SHAP| per driver: tissue as one driver (``grouped``) or column by column."""
    if grouped:
        contribs, names = grouped_attributions(contribs, names)
    return pd.Series(np.abs(contribs).mean(axis=0), index=list(names))


def biomarker_rank(importance: pd.Series, columns: tuple[str, ...]) -> int | None:
    """1-based rank of the best-ranked biomarker column by mean |SHAP| (None when absent)."""
    order = importance.sort_values(ascending=False, kind="stable").index
    ranks = [order.get_loc(c) + 1 for c in columns if c in order and importance[c] > 0]
    return min(ranks) if ranks else None


def driver_ranks(contribs: np.ndarray, names: list[str], biomarkers: tuple[str, ...]) -> dict:
    """Biomarker rank with tissue grouped (primary) and per column, and the top-3 drivers.

    Returns ``shap_rank`` (grouped, judged against the target), ``shap_rank_columns``
    (per column, as on earlier pages) and ``top_drivers`` (grouped).
    """
    grouped = driver_importance(contribs, names, grouped=True)
    columns = driver_importance(contribs, names, grouped=False)
    return {
        "shap_rank": biomarker_rank(grouped, biomarkers),
        "shap_rank_columns": biomarker_rank(columns, biomarkers),
        "top_drivers": list(grouped.sort_values(ascending=False, kind="stable").index[:3]),
    }
