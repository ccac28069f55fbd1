"""Oracle metrics from the simulator's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from oncoresist.contract import MECHANISMS
from oncoresist.evaluation.oracle import oracle_cindex, oracle_mechanism_metrics, oracle_table
from oncoresist.simulate.cohort import simulate_cohort


@pytest.fixture(scope="module")
def sim():
    result = simulate_cohort(n=4000, seed=13)
    return result.ground_truth, result.cohort.outcomes


def test_true_probabilities_are_calibrated_on_the_observed_labels(sim):
    truth, outcomes = sim
    data = outcomes.merge(truth, on="treatment_id")
    labelled = data[data["mechanism"].notna()]
    assert len(labelled) > 1000
    for mechanism in MECHANISMS:
        mean_p = labelled[f"p_{mechanism}"].mean()
        freq = (labelled["mechanism"] == mechanism).mean()
        se = np.sqrt(mean_p * (1 - mean_p) / len(labelled))
        assert abs(mean_p - freq) < 3.5 * se, (mechanism, mean_p, freq)


def test_metrics_on_a_subset_use_only_that_subset(sim):
    truth, outcomes = sim
    ids = outcomes["treatment_id"].iloc[::2]
    subset = oracle_mechanism_metrics(truth, outcomes, treatment_ids=ids)
    whole = oracle_mechanism_metrics(truth, outcomes)
    part = outcomes[outcomes["treatment_id"].isin(ids)]
    labelled = part[part["mechanism"].notna()].merge(truth, on="treatment_id")
    predicted = np.asarray(MECHANISMS)[
        labelled[[f"p_{m}" for m in MECHANISMS]].to_numpy().argmax(axis=1)
    ]
    assert subset["n"] == len(labelled) < whole["n"]
    assert subset["macro_f1"] == pytest.approx(
        f1_score(labelled["mechanism"], predicted, average="macro")
    )
    # Bayes-optimal guesses beat always naming the most common class.
    assert subset["accuracy"] > labelled["mechanism"].value_counts(normalize=True).iloc[0]
    assert 0 < subset["log_loss"] < np.log(len(MECHANISMS))


def test_cindex_reflects_the_true_risk(sim):
    truth, outcomes = sim
    c = oracle_cindex(truth, outcomes)
    assert 0.6 < c < 0.9
    reversed_truth = truth.assign(oracle_risk=-truth["oracle_risk"])
    assert oracle_cindex(reversed_truth, outcomes) == pytest.approx(1 - c, abs=1e-3)
    censored = outcomes[~outcomes["resistance_observed"]]["treatment_id"]
    assert np.isnan(oracle_cindex(truth, outcomes, treatment_ids=censored))


def test_table_pooled_and_per_setting(sim):
    truth, outcomes = sim
    table = oracle_table(truth, outcomes)
    assert table["setting"].iloc[0] == "all"
    per_setting = table.iloc[1:]
    assert set(per_setting["setting"]) == set(truth["setting"])
    assert per_setting["n"].sum() == table["n"].iloc[0] == len(outcomes)
    assert per_setting["labelled"].sum() == table["labelled"].iloc[0]
    assert {"log_loss", "accuracy", "macro_f1", "cindex_harrell"} <= set(table.columns)


def test_bad_inputs_are_reported(sim):
    truth, outcomes = sim
    with pytest.raises(ValueError, match="have no ground truth"):
        oracle_cindex(truth, outcomes, treatment_ids=["T999999"])
    with pytest.raises(ValueError, match="lacks columns"):
        oracle_mechanism_metrics(truth.drop(columns="p_bypass"), outcomes)
    empty = outcomes.assign(mechanism=pd.Series([None] * len(outcomes), dtype=object))
    assert oracle_mechanism_metrics(truth, empty)["n"] == 0
