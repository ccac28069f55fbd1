"""Naive baseline of leave-one-tissue-out (LOTO) evaluation, scored like the models.

In LOTO the held-out tissue has no rate of its own in training, so the naive baseline gives
each held-out line the drug's resistance rate in the *remaining* tissues. Within one held-out
tissue that score is constant, but pooled over tissues it is not uninformative: a tissue with
many resistant lines leaves a lower rate behind (and vice versa), so the score is
anti-correlated with the held-out tissue's own rate and its pooled AUROC falls below 0.5.
It is therefore measured on the same rows and with the same bootstrap as the LOTO models,
never assumed to be 0.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def loto_rate_baseline(tissue: pd.Series, y: np.ndarray) -> np.ndarray:
    """Each line's resistance rate among the lines of every *other* tissue.

    With a single tissue there are no other lines: the overall rate (uninformative).
    """
    tissue = np.asarray(tissue)
    y = np.asarray(y, dtype=float)
    rate = np.full(len(y), float(y.mean()) if len(y) else np.nan)
    for held_out in pd.unique(tissue):
        test = tissue == held_out
        if (~test).any():
            rate[test] = y[~test].mean()
    return rate


def loto_drug_rate_baseline(rows: pd.DataFrame) -> np.ndarray:
    """Pan-drug rows: each row's drug rate in the other tissues' rows (:func:`loto_rate_baseline`
    per drug; labels in ``resistant``)."""
    rate = np.zeros(len(rows))
    for _, mine in rows.groupby("drug", sort=False).indices.items():
        rate[mine] = loto_rate_baseline(rows["tissue"].iloc[mine], rows["resistant"].iloc[mine])
    return rate
