"""Oracle metrics: how well the simulator's truth itself predicts the observed outcomes.

The ground truth of a simulated cohort holds, per treatment, the Bayes-optimal mechanism
probabilities given the observables (``p_<mechanism>``: P(mechanism | baseline features,
progression observed)) and a true risk (``oracle_risk``: minus the restricted mean time to
resistance over 60 months, given the observables). Scoring them like a model, on the same
treatments, gives the ceiling any model can reach, so later stages report ``model / oracle``.
Metrics come from scikit-learn and scikit-survival.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sksurv.metrics import concordance_index_censored

from oncoresist.contract import MECHANISMS

PROBABILITY_COLUMNS = tuple(f"p_{m}" for m in MECHANISMS)


def _joined(
    ground_truth: pd.DataFrame, outcomes: pd.DataFrame, treatment_ids: Iterable[str] | None
) -> pd.DataFrame:
    missing = {"treatment_id", "oracle_risk", *PROBABILITY_COLUMNS} - set(ground_truth.columns)
    if missing:
        raise ValueError(f"ground truth lacks columns {sorted(missing)}; is it a simulation's?")
    shared = [c for c in ground_truth.columns if c in outcomes.columns and c != "treatment_id"]
    data = outcomes.merge(
        ground_truth.drop(columns=shared), on="treatment_id", how="inner", validate="one_to_one"
    )
    if treatment_ids is not None:
        wanted = pd.Index(pd.Series(list(treatment_ids), dtype=object))
        unknown = wanted.difference(pd.Index(data["treatment_id"]))
        if len(unknown):
            raise ValueError(
                f"{len(unknown)} treatment ids have no ground truth or outcome, "
                f"e.g. {list(unknown[:3])}"
            )
        data = data.set_index("treatment_id").loc[wanted].reset_index()
    return data


def _labelled(data: pd.DataFrame) -> pd.DataFrame:
    label = data["mechanism"]
    keep = label.notna() & label.astype(str).str.strip().ne("") & label.astype(str).ne("nan")
    return data[keep.to_numpy()]


def oracle_mechanism_metrics(
    ground_truth: pd.DataFrame,
    outcomes: pd.DataFrame,
    treatment_ids: Iterable[str] | None = None,
) -> dict[str, float]:
    """Bayes-optimal mechanism metrics on the labelled treatments among ``treatment_ids``.

    Parameters
    ----------
    ground_truth : DataFrame
        ``ground_truth.parquet`` of a simulation.
    outcomes : DataFrame
        Observed outcomes (``treatment_id``, ``mechanism``, ...).
    treatment_ids : iterable of str, optional
        Subset (e.g. a test split); all treatments by default.

    Returns
    -------
    dict
        ``log_loss``, ``accuracy``, ``macro_f1`` (argmax of the true probabilities against the
        observed labels) and ``n`` (labelled treatments scored). NaN when none is labelled.
    """
    return _mechanism_on(_joined(ground_truth, outcomes, treatment_ids))


def _mechanism_on(data: pd.DataFrame) -> dict[str, float]:

    data = _labelled(data)
    if data.empty:
        return {"log_loss": np.nan, "accuracy": np.nan, "macro_f1": np.nan, "n": 0}
    proba = data[list(PROBABILITY_COLUMNS)].to_numpy(float)
    truth = data["mechanism"].astype(str).to_numpy()
    predicted = np.asarray(MECHANISMS)[proba.argmax(axis=1)]
    # scikit-learn expects probability columns in sorted label order.
    ordered = sorted(MECHANISMS)
    columns = [MECHANISMS.index(m) for m in ordered]
    return {
        "log_loss": float(log_loss(truth, proba[:, columns], labels=ordered)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "n": len(data),
    }


def oracle_cindex(
    ground_truth: pd.DataFrame,
    outcomes: pd.DataFrame,
    treatment_ids: Iterable[str] | None = None,
) -> float:
    """Harrell C-index of the true risk against the observed (censored) outcomes.

    NaN when the subset has no observed progression.
    """
    return _cindex_on(_joined(ground_truth, outcomes, treatment_ids))


def _cindex_on(data: pd.DataFrame) -> float:

    event = data["resistance_observed"].astype(bool).to_numpy()
    if not event.any():
        return float("nan")
    time = data["time_to_resistance_months"].to_numpy(float)
    return float(concordance_index_censored(event, time, data["oracle_risk"].to_numpy(float))[0])


def oracle_table(
    ground_truth: pd.DataFrame,
    outcomes: pd.DataFrame,
    treatment_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Oracle metrics pooled (row ``all``) and per setting.

    Returns
    -------
    DataFrame
        Columns ``setting``, ``n``, ``events``, ``labelled``, ``log_loss``, ``accuracy``,
        ``macro_f1``, ``cindex_harrell``.
    """
    data = _joined(ground_truth, outcomes, treatment_ids)
    groups = [("all", data)] + [(s, g) for s, g in data.groupby("setting", sort=True)]
    rows = []
    for name, part in groups:
        mech = _mechanism_on(part)
        rows.append(
            {
                "setting": name,
                "n": len(part),
                "events": int(part["resistance_observed"].astype(bool).sum()),
                "labelled": mech["n"],
                "log_loss": mech["log_loss"],
                "accuracy": mech["accuracy"],
                "macro_f1": mech["macro_f1"],
                "cindex_harrell": _cindex_on(part),
            }
        )
    return pd.DataFrame(rows)
