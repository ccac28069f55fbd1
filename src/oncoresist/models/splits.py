"""Patient-grouped, setting-stratified data splits: the split plan and the CV folds.

A patient's treatments always stay together (later lines share the tumour's history, so
splitting a patient leaks it), and every clinical setting is represented in every split.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from oncoresist.exceptions import ConfigError, InputDataError

SPLITS = ("train", "calibration", "test")
_REQUIRED = ("treatment_id", "patient_id", "setting")
_UNKNOWN_SETTING = "<unknown setting>"


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InputDataError(f"split plan needs columns {list(_REQUIRED)}; missing {missing}")
    if frame.empty:
        raise InputDataError("cannot split an empty treatment table")
    if frame["treatment_id"].duplicated().any():
        raise InputDataError("treatment_id must be unique to plan splits")


def _settings(frame: pd.DataFrame) -> pd.Series:
    return frame["setting"].astype(object).where(frame["setting"].notna(), _UNKNOWN_SETTING)


def _patient_strata(frame: pd.DataFrame) -> pd.Series:
    """Stratum of each patient: the setting of their first treatment (lowest line)."""
    ordered = frame.assign(_setting=_settings(frame))
    if "line_number" in ordered.columns:
        ordered = ordered.sort_values("line_number", kind="stable")
    return ordered.groupby("patient_id", sort=True)["_setting"].first().astype(str)


def _allocate(sizes: pd.Series, fraction: float, rng: np.random.Generator) -> pd.Series:
    """Patients per stratum for one split: quotas rounded so the total is exact.

    Floors of ``size * fraction`` plus one extra patient for the strata with the largest
    remainders (largest-remainder rounding); every stratum of >= 3 patients gets at least one.
    """
    quota = sizes * fraction
    counts = np.floor(quota).astype(int)
    deficit = round(float(sizes.sum()) * fraction) - int(counts.sum())
    if deficit > 0:
        # rng tie-break keeps equal remainders from always favouring the same setting
        order = np.lexsort((rng.random(len(sizes)), -(quota - counts).to_numpy()))
        counts.iloc[order[:deficit]] += 1
    if fraction > 0:
        counts[(sizes >= 3) & (counts == 0)] = 1
    return counts


def make_split_plan(
    frame: pd.DataFrame, test_size: float = 0.2, calibration_size: float = 0.1, seed: int = 0
) -> pd.DataFrame:
    """Assign every treatment to ``train``, ``calibration`` or ``test``.

    Patients (not rows) are drawn: within each stratum (the setting of a patient's first
    treatment) patients are shuffled with ``seed`` and the first ones go to test, the next
    to calibration, the rest to training. Per-stratum counts use largest-remainder rounding,
    so patient proportions are exact overall and within one patient per stratum; every
    setting with at least 3 patients appears in all three splits.

    Why not sklearn's splitters: ``StratifiedGroupKFold`` yields only ``1/k`` fractions and
    warns on small settings; ``GroupShuffleSplit`` does not stratify.

    Parameters
    ----------
    frame : DataFrame
        One row per treatment with ``treatment_id``, ``patient_id``, ``setting`` (and
        optionally ``line_number``).
    test_size, calibration_size : float
        Fractions of patients for the test and calibration splits.
    seed : int

    Returns
    -------
    DataFrame
        ``treatment_id`` and ``split``, in the row order of ``frame``.
    """
    if not (0 <= test_size < 1 and 0 <= calibration_size < 1 and test_size + calibration_size < 1):
        raise ConfigError(
            f"test_size ({test_size}) and calibration_size ({calibration_size}) must be in "
            "[0, 1) and sum to less than 1"
        )
    _check_frame(frame)
    strata = _patient_strata(frame)
    rng = np.random.default_rng(seed)
    sizes = strata.value_counts().sort_index()
    n_test = _allocate(sizes, test_size, rng)
    n_cal = _allocate(sizes, calibration_size, rng)
    split_of: dict[object, str] = {}
    for setting in sizes.index:
        patients = rng.permutation(strata.index[strata == setting].to_numpy())
        n_t = min(int(n_test[setting]), max(len(patients) - 1, 0))
        n_c = min(int(n_cal[setting]), max(len(patients) - 1 - n_t, 0))
        for i, patient in enumerate(patients):
            split_of[patient] = "test" if i < n_t else "calibration" if i < n_t + n_c else "train"
    return pd.DataFrame(
        {
            "treatment_id": frame["treatment_id"].to_numpy(),
            "split": frame["patient_id"].map(split_of).to_numpy(),
        }
    )


def cv_folds(
    frame: pd.DataFrame, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped, setting-stratified K folds over the rows of ``frame``.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` (shuffled with ``seed``).
    A setting with fewer patients than folds cannot be in every fold; sklearn's warning
    about it is silenced because that is expected for rare settings.

    Parameters
    ----------
    frame : DataFrame
        Rows to split, with ``patient_id`` and ``setting`` (e.g. the training split).
    n_splits : int
    seed : int

    Returns
    -------
    list of (train_idx, valid_idx)
        Positional row indices into ``frame``.
    """
    for column in ("patient_id", "setting"):
        if column not in frame.columns:
            raise InputDataError(f"cv_folds needs column '{column}'")
    n_patients = frame["patient_id"].nunique()
    if not 2 <= n_splits <= n_patients:
        raise ConfigError(f"n_splits must be in [2, {n_patients} patients], got {n_splits}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    settings = _settings(frame).astype(str).to_numpy()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(splitter.split(np.zeros(len(frame)), settings, frame["patient_id"].to_numpy()))
    return [(np.asarray(train), np.asarray(valid)) for train, valid in folds]
