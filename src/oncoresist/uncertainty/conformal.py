"""Conformal mechanism sets: split-conformal, Mondrian by clinical setting with a fallback.

Method
------
Split conformal prediction with the "least ambiguous set" score ``s = 1 - p(y | x)`` (Sadinle,
Lei & Wasserman 2019, JASA 114:223) on a calibration split the models never fitted on. The
threshold of a group is the ``ceil((n + 1) * coverage) / n`` empirical quantile of its
calibration scores (Vovk et al. 2005; Angelopoulos & Bates 2023, "Conformal prediction: a gentle
introduction", Found. Trends ML 16:494), and a row's set holds every mechanism whose score is at
most that threshold. With exchangeable rows, P(true mechanism in set) >= coverage.

Mondrian (group-conditional) calibration (Vovk et al. 2005, ch. 4) computes one threshold per
clinical setting, so the guarantee holds within each setting, not only on average. A setting
with fewer than ``min_group_size`` labelled calibration rows (default 50: below that the
threshold moves by more than ~2 coverage points from one row) uses the marginal threshold of
all calibration rows instead; the setting is then covered on average only. A set is never empty:
the most probable mechanism is always in it (a superset keeps the guarantee).

Labels exist only for re-biopsied progressions, so the guarantee is for P(mechanism | resistance
occurs and is biopsied), exchangeable with the calibration labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError, InputDataError

#: Smallest labelled calibration group that gets its own (Mondrian) threshold.
DEFAULT_MIN_GROUP_SIZE = 50
MARGINAL = "__all__"


def conformal_threshold(scores: np.ndarray, coverage: float) -> float:
    """Split-conformal threshold: the ``ceil((n+1) coverage)``-th smallest score.

    Returns ``inf`` (every label admitted) when ``n`` is too small for the coverage asked
    (``n < coverage / (1 - coverage)``).
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    n = scores.size
    rank = int(np.ceil((n + 1) * coverage))
    if n == 0 or rank > n:
        return float("inf")
    return float(scores[rank - 1])


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``nan`` when ``n == 0``)."""
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def format_set(members: np.ndarray, proba: np.ndarray) -> list[str]:
    """Sets as text, most probable mechanism first: ``{bypass, on_target}``."""
    labels = np.asarray(MECHANISMS, dtype=object)
    texts = []
    for row_members, row_proba in zip(members, proba, strict=True):
        order = np.argsort(-row_proba, kind="stable")
        texts.append("{" + ", ".join(labels[order][row_members[order]]) + "}")
    return texts


class MechanismSetPredictor:
    """Split-conformal mechanism sets, one threshold per setting (Mondrian) where data allows.

    Parameters
    ----------
    coverage : float
        Target P(true mechanism in set), e.g. 0.9.
    min_group_size : int
        Labelled calibration rows a setting needs for its own threshold; smaller settings
        share the marginal threshold.

    Attributes
    ----------
    thresholds_ : dict of str to float
        Score threshold per setting with enough calibration labels, and ``"__all__"``
        (marginal, used for every other setting).
    group_sizes_ : dict of str to int
        Labelled calibration rows per setting.
    n_calibration_ : int
    """

    def __init__(self, coverage: float = 0.9, min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> None:
        self.coverage = coverage
        self.min_group_size = min_group_size

    def fit(
        self, proba: np.ndarray, labels: np.ndarray, groups: np.ndarray
    ) -> MechanismSetPredictor:
        """Calibrate on labelled calibration rows (probabilities from the fitted model)."""
        if not 0 < self.coverage < 1:
            raise ConfigError(f"mechanism coverage must be in (0, 1), got {self.coverage!r}")
        if int(self.min_group_size) < 1:
            raise ConfigError(f"min_group_size must be >= 1, got {self.min_group_size!r}")
        proba = np.asarray(proba, dtype=float)
        codes = _codes(labels)
        groups = np.asarray(groups, dtype=object)
        if not (len(proba) == len(codes) == len(groups)):
            raise InputDataError("proba, labels and groups must have the same number of rows")
        if len(codes) == 0:
            raise InputDataError(
                "no labelled calibration rows: conformal mechanism sets need re-biopsied "
                "progressions in the calibration split (raise split.calibration_size)"
            )
        scores = 1.0 - proba[np.arange(len(codes)), codes]
        self.n_calibration_ = len(codes)
        self.thresholds_ = {MARGINAL: conformal_threshold(scores, self.coverage)}
        self.group_sizes_ = {}
        for group in pd.unique(groups):
            mask = groups == group
            self.group_sizes_[str(group)] = int(mask.sum())
            if mask.sum() >= self.min_group_size:
                self.thresholds_[str(group)] = conformal_threshold(scores[mask], self.coverage)
        return self

    def threshold_for(self, groups: np.ndarray) -> np.ndarray:
        """Per-row threshold (the setting's own, or the marginal one)."""
        marginal = self.thresholds_[MARGINAL]
        return np.array([self.thresholds_.get(str(g), marginal) for g in groups], dtype=float)

    def predict_sets(self, proba: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Boolean membership matrix (rows × :data:`MECHANISMS`); never an empty row."""
        proba = np.asarray(proba, dtype=float)
        members = (1.0 - proba) <= self.threshold_for(np.asarray(groups, dtype=object))[:, None]
        members[np.arange(len(proba)), np.argmax(proba, axis=1)] = True
        return members

    def score_columns(
        self, bundle: object, profiles: pd.DataFrame, features: pd.DataFrame, out: pd.DataFrame
    ) -> pd.DataFrame:
        """``mechanism_set`` for the scoring engine (reads the ``p_<mechanism>`` columns)."""
        proba = out[[f"p_{m}" for m in MECHANISMS]].to_numpy(dtype=float)
        members = self.predict_sets(proba, profiles["setting"].astype(str).to_numpy(dtype=object))
        return pd.DataFrame({"mechanism_set": format_set(members, proba)}, index=out.index)

    def summary(self) -> dict[str, object]:
        """Model-card entry: method, coverage, thresholds and which settings are Mondrian."""
        return {
            "method": "split conformal, score 1 - p(true mechanism), Mondrian by setting",
            "coverage": float(self.coverage),
            "min_group_size": int(self.min_group_size),
            "n_calibration": self.n_calibration_,
            "mondrian_settings": sorted(k for k in self.thresholds_ if k != MARGINAL),
            "thresholds": {k: float(v) for k, v in self.thresholds_.items()},
        }


def set_coverage(
    members: np.ndarray, labels: np.ndarray, groups: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Coverage and mean set size, overall and per group, with 95% Wilson intervals.

    Parameters
    ----------
    members : bool ndarray (n, n_mechanisms)
    labels : array of mechanism labels
    groups : dict of str to array, optional
        Grouping variables (e.g. ``{"class": labels, "setting": settings}``).

    Returns
    -------
    DataFrame
        ``grouping, group, n, covered, coverage, ci_low, ci_high, mean_size``.
    """
    codes = _codes(labels)
    hit = members[np.arange(len(codes)), codes]
    size = members.sum(axis=1)
    rows = [_coverage_row("all", "all", hit, size)]
    for grouping, values in (groups or {}).items():
        values = np.asarray(values, dtype=object)
        for group in sorted(pd.unique(values), key=str):
            mask = values == group
            rows.append(_coverage_row(grouping, str(group), hit[mask], size[mask]))
    return pd.DataFrame(rows)


def _coverage_row(grouping: str, group: str, hit: np.ndarray, size: np.ndarray) -> dict:
    low, high = wilson_interval(int(hit.sum()), len(hit))
    return {
        "grouping": grouping,
        "group": group,
        "n": len(hit),
        "covered": int(hit.sum()),
        "coverage": float(hit.mean()) if len(hit) else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "mean_size": float(size.mean()) if len(size) else float("nan"),
    }


def _codes(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=object)
    lookup = {m: i for i, m in enumerate(MECHANISMS)}
    unknown = sorted({str(v) for v in labels if v not in lookup})
    if unknown:
        raise InputDataError(f"unknown mechanism label(s) {unknown[:10]}; expected {MECHANISMS}")
    return np.array([lookup[v] for v in labels], dtype=int)
