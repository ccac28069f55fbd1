"""Split-conformal mechanism sets on synthetic exchangeable data (exact guarantees)."""

from __future__ import annotations

import numpy as np
import pytest

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError, InputDataError
from oncoresist.uncertainty.conformal import (
    MARGINAL,
    MechanismSetPredictor,
    conformal_threshold,
    format_set,
    set_coverage,
)


def _draw(n: int, seed: int, concentration: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them (a calibrated model)."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(len(MECHANISMS), concentration), size=n)
    codes = np.array([rng.choice(len(MECHANISMS), p=p) for p in proba])
    return proba, np.asarray(MECHANISMS, dtype=object)[codes]


def _covered(members: np.ndarray, labels: np.ndarray) -> np.ndarray:
    codes = np.array([MECHANISMS.index(v) for v in labels])
    return members[np.arange(len(codes)), codes]


def test_threshold_is_the_conformal_rank():
    scores = np.arange(1, 20) / 20.0  # 19 scores: ceil(20 * 0.9) = 18th smallest
    assert conformal_threshold(scores, 0.9) == pytest.approx(18 / 20)
    assert conformal_threshold(scores[:5], 0.9) == np.inf  # too few for 90%


def test_marginal_coverage_within_two_points_of_nominal():
    proba, labels = _draw(2000, seed=1)
    groups = np.full(len(labels), "s", dtype=object)
    sets = MechanismSetPredictor(0.9, min_group_size=10**6).fit(proba, labels, groups)
    test_p, test_y = _draw(20000, seed=2)
    hit = _covered(sets.predict_sets(test_p, np.full(20000, "s", dtype=object)), test_y)
    assert abs(hit.mean() - 0.9) <= 0.02
    assert sets.thresholds_.keys() == {MARGINAL}


def test_mondrian_threshold_per_setting_and_marginal_fallback():
    sharp_p, sharp_y = _draw(1000, seed=3, concentration=0.2)  # confident setting
    flat_p, flat_y = _draw(1000, seed=4, concentration=5.0)  # uninformative setting
    small_p, small_y = _draw(20, seed=5)
    proba = np.vstack([sharp_p, flat_p, small_p])
    labels = np.concatenate([sharp_y, flat_y, small_y])
    groups = np.array(["sharp"] * 1000 + ["flat"] * 1000 + ["small"] * 20, dtype=object)
    sets = MechanismSetPredictor(0.9, min_group_size=50).fit(proba, labels, groups)
    assert set(sets.thresholds_) == {MARGINAL, "sharp", "flat"}
    assert sets.group_sizes_["small"] == 20
    assert sets.threshold_for(np.array(["small"], dtype=object))[0] == sets.thresholds_[MARGINAL]
    for name, concentration, seed in (("sharp", 0.2, 6), ("flat", 5.0, 7)):
        test_p, test_y = _draw(10000, seed=seed, concentration=concentration)
        members = sets.predict_sets(test_p, np.full(10000, name, dtype=object))
        assert abs(_covered(members, test_y).mean() - 0.9) <= 0.025, name
    # The uninformative setting needs bigger sets for the same coverage.
    assert sets.thresholds_["flat"] > sets.thresholds_["sharp"]


def test_sets_never_empty_and_listed_by_probability():
    proba = np.array([[0.96, 0.01, 0.01, 0.01, 0.01], [0.1, 0.5, 0.3, 0.05, 0.05]])
    sets = MechanismSetPredictor(0.9)
    sets.thresholds_ = {MARGINAL: 0.0}  # admits nothing by score
    members = sets.predict_sets(proba, np.array(["a", "b"], dtype=object))
    assert members.sum(axis=1).tolist() == [1, 1]
    sets.thresholds_ = {MARGINAL: 0.75}
    text = format_set(sets.predict_sets(proba, np.array(["a", "b"], dtype=object)), proba)
    assert text == ["{on_target}", "{bypass, epigenetic}"]


def test_coverage_table_has_wilson_intervals_per_group():
    proba, labels = _draw(500, seed=8)
    members = MechanismSetPredictor(0.8).fit(proba, labels, labels).predict_sets(proba, labels)
    table = set_coverage(members, labels, {"class": labels})
    overall = table.iloc[0]
    assert overall["n"] == 500
    assert overall["ci_low"] < overall["coverage"] < overall["ci_high"]
    assert set(table.loc[table["grouping"] == "class", "group"]) == set(labels)


def test_bad_inputs_are_named():
    proba, labels = _draw(10, seed=9)
    with pytest.raises(InputDataError, match="unknown mechanism label"):
        MechanismSetPredictor().fit(proba, np.array(["resistance"] * 10), labels)
    with pytest.raises(ConfigError, match="coverage must be in"):
        MechanismSetPredictor(coverage=1.5).fit(proba, labels, labels)
    with pytest.raises(InputDataError, match="no labelled calibration rows"):
        MechanismSetPredictor().fit(proba[:0], labels[:0], labels[:0])
