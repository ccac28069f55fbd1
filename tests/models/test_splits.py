"""Split plan and CV folds: grouped by patient, stratified by setting, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import ConfigError, InputDataError
from oncoresist.models.splits import cv_folds, make_split_plan

SETTINGS = ["egfr_osimertinib_1L", "alk_alectinib_1L", "braf_dab_tram_1L", "er_cdk46_1L"]


def treatments(n_patients: int = 900, seed: int = 0) -> pd.DataFrame:
    """1-3 treatment lines per patient; later lines may be in another setting."""
    rng = np.random.default_rng(seed)
    rows = []
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    for p in range(n_patients):
        first = rng.choice(SETTINGS, p=weights)
        for line in range(1, rng.integers(1, 4) + 1):
            setting = first if line == 1 or rng.random() < 0.7 else rng.choice(SETTINGS)
            rows.append(
                {
                    "treatment_id": f"P{p:04d}-T{line}",
                    "patient_id": f"P{p:04d}",
                    "setting": setting,
                    "line_number": line,
                }
            )
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def frame():
    return treatments()


def test_split_plan_groups_patients_and_keeps_proportions(frame):
    plan = make_split_plan(frame, test_size=0.2, calibration_size=0.1, seed=0)
    assert plan["treatment_id"].tolist() == frame["treatment_id"].tolist()
    merged = frame.assign(split=plan["split"].to_numpy())
    assert merged.groupby("patient_id")["split"].nunique().max() == 1
    shares = merged["split"].value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.2, abs=0.02)
    assert shares["calibration"] == pytest.approx(0.1, abs=0.02)
    assert shares["train"] == pytest.approx(0.7, abs=0.02)
    present = merged.groupby("split")["setting"].unique()
    for split in ("train", "calibration", "test"):
        assert set(present[split]) == set(SETTINGS)
    by_setting = pd.crosstab(merged["setting"], merged["split"], normalize="index")
    assert (by_setting["test"] - 0.2).abs().max() < 0.05  # stratified, not just on average


def test_split_plan_is_deterministic_and_seeded(frame):
    first = make_split_plan(frame, seed=3)
    assert first.equals(make_split_plan(frame, seed=3))
    assert not first.equals(make_split_plan(frame, seed=4))


def test_small_settings_still_reach_every_split():
    frame = pd.DataFrame(
        {
            "treatment_id": [f"T{i}" for i in range(43)],
            "patient_id": [f"P{i}" for i in range(43)],
            "setting": ["common"] * 40 + ["rare"] * 3,
        }
    )
    plan = make_split_plan(frame, seed=0).assign(setting=frame["setting"])
    assert set(plan.loc[plan["setting"] == "rare", "split"]) == {"train", "calibration", "test"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 0.6, "calibration_size": 0.5}, ConfigError, "sum to less than 1"),
        ({"test_size": -0.1}, ConfigError, "must be in"),
    ],
)
def test_split_plan_rejects_bad_fractions(frame, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_split_plan(frame, **kwargs)


def test_split_plan_rejects_bad_frames(frame):
    with pytest.raises(InputDataError, match="missing"):
        make_split_plan(frame.drop(columns="setting"))
    with pytest.raises(InputDataError, match="unique"):
        make_split_plan(pd.concat([frame, frame.iloc[:1]]))


def test_cv_folds_grouped_stratified_and_covering(frame):
    folds = cv_folds(frame, n_splits=5, seed=0)
    assert len(folds) == 5
    valid_all = np.concatenate([valid for _, valid in folds])
    assert np.array_equal(np.sort(valid_all), np.arange(len(frame)))
    patients = frame["patient_id"].to_numpy()
    for train, valid in folds:
        assert not set(patients[train]) & set(patients[valid])
        assert set(frame["setting"].iloc[valid]) == set(SETTINGS)
        assert len(valid) / len(frame) == pytest.approx(0.2, abs=0.03)
    again = cv_folds(frame, n_splits=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    with pytest.raises(ConfigError, match="n_splits"):
        cv_folds(frame.iloc[:3], n_splits=5)
