"""Time-to-resistance intervals calibrated under right censoring, and D-calibration.

Method (censoring-aware quantile recalibration)
-----------------------------------------------
The survival model gives each patient a distribution ``F_i`` of months to resistance. If it were
calibrated, the probability integral transform ``U_i = F_i(T_i)`` would be uniform, and
``[F_i^-1(0.1), F_i^-1(0.9)]`` an 80% interval. On rows the model never fitted on (the
calibration split, plus out-of-fold training rows when ``cross_conformal_folds >= 2``) we
estimate the distribution of ``U`` and read off the levels ``a``, ``b`` with ``P(U <= a) =
(1 - coverage) / 2`` and ``P(U <= b) = (1 + coverage) / 2``; the interval of a new patient is
``[F_i^-1(a), F_i^-1(b)]`` (quantile recalibration, Kuleshov, Fenner & Ermon 2018, ICML).
Censoring: ``P(U <= u)`` is estimated with inverse-probability-of-censoring weights,
``sum over events of 1{U_i <= u} / G(T_i-)`` divided by ``n``, with ``G`` the Kaplan–Meier
survival of the censoring times (Robins & Rotnitzky 1992; the weighting of conformalised
survival analysis, Candès, Lei & Ren 2023, JRSS-B 85:24). Unlike a Kaplan–Meier curve of the
censored PIT values, this levels off below 1 when some patients never progress (a cured
fraction), so the upper level moves up to cover them where follow-up allows. When the follow-up
is too short for the weighted estimate to reach a level at all (the 90th percentile of many
patients' times lies beyond the longest follow-up: ALK and HR+ breast settings), that level is
read from the Kaplan–Meier curve of the censored PIT values instead (as D-calibration treats
censored rows, Haider et al. 2020, JMLR 21(85)), which extrapolates with the model's own
distribution shape; the card records it (``upper_level_beyond_follow_up``). Assumption:
censoring independent of the time and features (the simulator's is administrative plus random
loss to follow-up). The guarantee is marginal and asymptotic (an estimated quantile, not an
exact conformal rank).

Open upper bound: when the Kaplan–Meier curve of ``U`` never reaches ``(1 + coverage) / 2``
(many patients still resistance-free at the end of follow-up, e.g. a cured fraction), ``b = 1``
and ``months_hi = inf``: "no upper limit can be given"; the interval is then one-sided,
``[F_i^-1(1 - coverage), inf)``, so it still holds ``coverage`` of the patients (all of the
miscoverage goes to the lower tail; with a cured fraction above ``(1 - coverage) / 2`` the
equal-tailed upper quantile is infinite anyway). Coverage against the true times counts a
patient who never becomes resistant (``true_event_months = inf``) as covered only by such an
open interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sksurv.nonparametric import kaplan_meier_estimator

from oncoresist.exceptions import ConfigError, InputDataError
from oncoresist.uncertainty.conformal import wilson_interval

#: Calibration rows (events and censored) a setting needs for its own interval levels.
MIN_INTERVAL_GROUP = 200
#: Rows per block when reading each patient's own survival probability (rows × rows grid).
_BLOCK = 512


def survival_at_own_time(model: object, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """``S_i(t_i)``: each row's predicted survival at its own time (months)."""
    times = np.asarray(times, dtype=float)
    if len(times) != len(X):
        raise InputDataError(f"X has {len(X)} rows but times has {len(times)}")
    out = np.empty(len(times))
    for start in range(0, len(times), _BLOCK):
        block = slice(start, start + _BLOCK)
        grid, position = np.unique(times[block], return_inverse=True)
        surv = model.predict_survival_function(X.iloc[block], grid)
        out[block] = surv[np.arange(surv.shape[0]), position]
    return np.clip(out, 0.0, 1.0)


def pit_values(model: object, X: pd.DataFrame, time: np.ndarray) -> np.ndarray:
    """Probability integral transform ``F_i(t_i) = 1 - S_i(t_i)``."""
    return 1.0 - survival_at_own_time(model, X, time)


def km_cdf(values: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of ``P(V <= v)`` for right-censored ``V`` (steps at events)."""
    values = np.asarray(values, dtype=float)
    event = np.asarray(event, dtype=bool)
    if not event.any():
        return np.array([0.0]), np.array([0.0])
    x, survival = kaplan_meier_estimator(event, values)
    return np.asarray(x, dtype=float), 1.0 - np.asarray(survival, dtype=float)


def km_level(x: np.ndarray, cdf: np.ndarray, p: float) -> float:
    """Smallest ``v`` with Kaplan–Meier ``P(V <= v) >= p``; ``1.0`` when never reached."""
    reached = np.flatnonzero(cdf >= p - 1e-12)
    return float(x[reached[0]]) if reached.size else 1.0


def km_cdf_at(x: np.ndarray, cdf: np.ndarray, v: float, strict: bool = False) -> float:
    """Kaplan–Meier ``P(V <= v)`` (``P(V < v)`` with ``strict``)."""
    k = np.searchsorted(x, v, side="left" if strict else "right")
    return float(cdf[k - 1]) if k > 0 else 0.0


def censoring_weights(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Inverse-probability-of-censoring weights ``1 / G(t_i-)`` for events (0 for censored).

    ``G`` is the Kaplan–Meier estimate of the censoring time's survival (Robins & Rotnitzky
    1992), floored at 0.05 so a few late events cannot dominate.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    x, cdf = km_cdf(time, ~event)
    k = np.searchsorted(x, time[event], side="left")  # censoring strictly before t
    before = np.where(k > 0, cdf[np.maximum(k - 1, 0)], 0.0)
    weights = np.zeros(len(time))
    weights[event] = 1.0 / np.maximum(1.0 - before, 0.05)
    return weights


def ipcw_cdf(pit: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IPCW estimate of ``P(U <= u)``: weighted share of events with PIT at most ``u``.

    Divided by the number of rows (not the weights' sum), so it levels off below 1 when some
    patients never become resistant within the follow-up (a cured fraction).
    """
    events = weights > 0
    order = np.argsort(pit[events], kind="stable")
    values = pit[events][order]
    return values, np.cumsum(weights[events][order]) / len(pit)


class TimeIntervalCalibrator:
    """Per-patient time-to-resistance interval with censoring-aware recalibrated levels.

    Parameters
    ----------
    coverage : float
        Target P(lo <= true time <= hi), e.g. 0.8 (equal tails).

    Attributes
    ----------
    lower_level_, upper_level_ : float
        Recalibrated quantile levels ``a`` and ``b`` of the model's distribution; ``b = 1``
        means an open upper bound.
    extrapolated_ : list of bool
        Per level, whether the follow-up was too short for the IPCW estimate to reach it
        (then read from the Kaplan-Meier curve of the PIT values).
    group_levels_ : dict of str to (float, float)
        Levels of each setting with at least ``min_group_size`` calibration rows.
    n_calibration_, n_events_ : int
    """

    def __init__(self, coverage: float = 0.8, min_group_size: int = MIN_INTERVAL_GROUP) -> None:
        self.coverage = coverage
        self.min_group_size = min_group_size

    def fit(
        self,
        model: object,
        X: pd.DataFrame,
        time: np.ndarray,
        event: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> TimeIntervalCalibrator:
        """Recalibrate on calibration rows (observed time, event) the model never fitted on."""
        return self.fit_pit(pit_values(model, X, time), time, event, groups)

    def fit_pit(
        self,
        u: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> TimeIntervalCalibrator:
        """Recalibrate from PIT values ``F_i(t_i)`` already computed (e.g. out of fold).

        With ``groups`` (settings), each group with at least ``min_group_size`` rows gets its
        own levels (Mondrian), correcting a survival model whose spread is right on average but
        not per setting; the others use the pooled levels.
        """
        if not 0 < self.coverage < 1:
            raise ConfigError(f"interval coverage must be in (0, 1), got {self.coverage!r}")
        time = np.asarray(time, dtype=float)
        event = np.asarray(event, dtype=bool)
        u = np.asarray(u, dtype=float)
        if not event.any():
            raise InputDataError(
                "no observed progression in the calibration split: time intervals cannot be "
                "calibrated (raise split.calibration_size or use a cohort with events)"
            )
        self.lower_level_, self.upper_level_, self.extrapolated_ = self._levels(u, time, event)
        self.group_levels_: dict[str, tuple[float, float]] = {}
        if groups is not None:
            groups = np.asarray(groups, dtype=object)
            for group in pd.unique(groups):
                mask = groups == group
                if mask.sum() >= self.min_group_size and event[mask].any():
                    low, high, _ = self._levels(u[mask], time[mask], event[mask])
                    self.group_levels_[str(group)] = (low, high)
        self.n_calibration_ = len(time)
        self.n_events_ = int(event.sum())
        return self

    def _levels(
        self, u: np.ndarray, time: np.ndarray, event: np.ndarray
    ) -> tuple[float, float, list[bool]]:
        x, cdf = ipcw_cdf(u, censoring_weights(time, event))
        km_x, km = km_cdf(u, event)
        tail = (1.0 - self.coverage) / 2.0
        levels, extrapolated = [], []
        for p in (tail, 1.0 - tail):
            # IPCW where the follow-up identifies the level; beyond it, the Kaplan-Meier curve
            # of the PIT values, which extrapolates with the model's own distribution shape.
            reached = cdf.size > 0 and cdf[-1] >= p - 1e-12
            levels.append(km_level(x, cdf, p) if reached else km_level(km_x, km, p))
            extrapolated.append(not reached)
        if levels[1] >= 1.0:
            # No finite upper bound: the interval is one-sided, [F^-1(1 - coverage), inf), so
            # the whole miscoverage goes to the lower tail (identified early in follow-up).
            p = 1.0 - self.coverage
            reached = cdf.size > 0 and cdf[-1] >= p - 1e-12
            levels[0] = km_level(x, cdf, p) if reached else km_level(km_x, km, p)
            extrapolated[0] = not reached
        return levels[0], levels[1], extrapolated

    def levels_for(self, groups: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-row levels ``(a, b)``: the row's group's own, or the pooled ones."""
        pooled = (self.lower_level_, self.upper_level_)
        own = getattr(self, "group_levels_", {})
        if groups is None:
            pairs = [pooled] * n
        else:
            pairs = [own.get(str(g), pooled) for g in np.asarray(groups, dtype=object)]
        array = np.asarray(pairs, dtype=float).reshape(n, 2)
        return array[:, 0], array[:, 1]

    def predict_interval(
        self, model: object, X: pd.DataFrame, groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(months_lo, months_hi)``; ``months_hi`` is ``inf`` for an open upper bound."""
        n = len(X)
        lower, upper = self.levels_for(groups, n)
        lo, hi = np.zeros(n), np.full(n, np.inf)
        # One margin for all rows when the model can turn margins into quantiles (a row's
        # prediction does not depend on the rows beside it), instead of two per group.
        from_margin = getattr(model, "quantile_from_margin", None)
        margin = model.predict_margin(X) if from_margin is not None else None
        for a, b in set(zip(lower.tolist(), upper.tolist(), strict=True)):
            rows = np.flatnonzero((lower == a) & (upper == b))
            if margin is not None:
                part, quantile = margin[rows], from_margin
            else:
                part, quantile = X.iloc[rows], model.predict_quantile
            if 0 < a < 1:
                lo[rows] = quantile(part, a)
            if b < 1:
                hi[rows] = quantile(part, b)
        return lo, hi

    def score_columns(
        self, bundle: object, profiles: pd.DataFrame, features: pd.DataFrame, out: pd.DataFrame
    ) -> pd.DataFrame:
        """``months_lo`` / ``months_hi`` for the scoring engine."""
        settings = profiles["setting"].astype(str).to_numpy(dtype=object)
        lo, hi = self.predict_interval(bundle.survival_model, features, settings)  # type: ignore[attr-defined]
        return pd.DataFrame({"months_lo": lo, "months_hi": hi}, index=out.index)

    def summary(self) -> dict[str, object]:
        """Model-card entry."""
        return {
            "method": "quantile recalibration of the survival model's PIT values, "
            "inverse-probability-of-censoring weighted (Kuleshov 2018; Robins 1992; "
            "Candes 2023)",
            "coverage": float(self.coverage),
            "lower_level": float(self.lower_level_),
            "upper_level": float(self.upper_level_),
            "open_upper_bound": bool(self.upper_level_ >= 1.0),
            "upper_level_beyond_follow_up": bool(self.extrapolated_[1]),
            "setting_levels": {k: [float(a), float(b)] for k, (a, b) in self.group_levels_.items()},
            "n_calibration": int(self.n_calibration_),
            "n_events": int(self.n_events_),
        }


def coverage_against_truth(
    lo: np.ndarray, hi: np.ndarray, true_months: np.ndarray
) -> dict[str, float]:
    """Share of true (uncensored) times inside ``[lo, hi]``, with its 95% Wilson interval.

    A patient who never becomes resistant (``inf``) is covered only when ``hi`` is ``inf``.
    """
    true_months = np.asarray(true_months, dtype=float)
    covered = (true_months >= lo) & (true_months <= hi)
    low, high = wilson_interval(int(covered.sum()), len(covered))
    return {
        "coverage": float(covered.mean()),
        "ci_low": low,
        "ci_high": high,
        "below": float((true_months < lo).mean()),
        "above": float((true_months > hi).mean()),
        "n": float(len(covered)),
    }


def coverage_censoring_aware(
    model: object,
    X: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    lower: float | np.ndarray,
    upper: float | np.ndarray,
) -> dict[str, float]:
    """Censoring-aware estimates of P(lo <= T <= hi) on observed (censored) data.

    ``[lo, hi] = [F_i^-1(a), F_i^-1(b)]``, so the event is ``a <= U <= b`` for the PIT ``U``;
    with per-row levels (one pair per setting) each pair is estimated on its rows and the
    estimates are averaged with the rows' weights.

    Returns
    -------
    dict
        ``ipcw``: inverse-probability-of-censoring weighted estimate; it sees only events within
        the follow-up, so it is a lower bound when intervals reach beyond it. ``km``: from the
        Kaplan–Meier curve of the censored PIT values (extrapolates with the model's shape).
        An open upper bound (``upper >= 1``) covers every time above ``lo``.
    """
    n = len(X)
    u = pit_values(model, X, time)
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=bool)
    lower = np.broadcast_to(np.asarray(lower, dtype=float), (n,))
    upper = np.broadcast_to(np.asarray(upper, dtype=float), (n,))
    out = {"ipcw": 0.0, "km": 0.0}
    for a, b in set(zip(lower.tolist(), upper.tolist(), strict=True)):
        rows = (lower == a) & (upper == b)
        for name, (x, cdf) in (
            ("ipcw", ipcw_cdf(u[rows], censoring_weights(time[rows], event[rows]))),
            ("km", km_cdf(u[rows], event[rows])),
        ):
            top = 1.0 if b >= 1.0 else km_cdf_at(x, cdf, b)
            out[name] += rows.mean() * float(top - km_cdf_at(x, cdf, a, strict=True))
    return out


def d_calibration(pit: np.ndarray, event: np.ndarray, bins: int = 10) -> dict[str, float]:
    """D-calibration test (Haider et al. 2020): are the PIT values uniform?

    An event adds 1 to the bin of its PIT; a censored row with PIT ``u`` spreads its unit mass
    uniformly over ``(u, 1]`` (its true PIT is above ``u``). Pearson chi-square against equal
    counts, ``bins - 1`` degrees of freedom; a large p-value is consistent with calibration.

    Returns
    -------
    dict
        ``chi2``, ``p_value``, ``max_bin_deviation`` (largest |share - 1/bins|).
    """
    pit = np.clip(np.asarray(pit, dtype=float), 0.0, 1.0)
    event = np.asarray(event, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.zeros(bins)
    index = np.clip(np.searchsorted(edges, pit[event], side="right") - 1, 0, bins - 1)
    np.add.at(counts, index, 1.0)
    u = pit[~event]
    if u.size:
        width = np.clip(1.0 - u, 1e-12, None)[:, None]
        overlap = np.clip(edges[None, 1:] - np.maximum(edges[None, :-1], u[:, None]), 0.0, None)
        # A censored row at u == 1 has no mass left to spread: it sits in the last bin.
        mass = np.where(u[:, None] >= 1.0, np.eye(bins)[-1][None, :], overlap / width)
        counts += mass.sum(axis=0)
    expected = counts.sum() / bins
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return {
        "chi2": chi2,
        "p_value": float(stats.chi2.sf(chi2, bins - 1)),
        "max_bin_deviation": float(np.abs(counts / counts.sum() - 1.0 / bins).max()),
    }
