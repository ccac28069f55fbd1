"""The simulator's hidden truth: survival law, censoring plan, and their calibration.

For a treatment with observable linear predictor ``lp`` (sum of log hazard ratios of its
baseline features), hidden log hazard ratio ``h`` (covariates never written) and resistance
mechanism ``m``, the time to resistance is, with probability ``1 - cure``, Weibull with shape
``k`` and scale ``scale0 * exp(-(lp + h) / k) * modifier[m]`` (a hazard ratio HR multiplies
time by HR^(-1/k)); with probability ``cure`` resistance never occurs.

Calibration: ``scale0`` (and ``cure`` for plateauing settings) are solved so the cohort-wide
survival curve meets the published median (or 12/60-month landmarks); mechanism intercepts
are solved so the shares *among observed, re-biopsied progressions* meet the published
shares; the loss-to-follow-up rate so the overall censored fraction meets its target. Each is
solved on a fixed reference population (independent of the cohort seed), so a patient's truth
does not depend on which other patients were drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gamma, gammainc

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError

RMST_HORIZON_MONTHS = 60.0


@dataclass(frozen=True)
class Censoring:
    """Independent censoring: uniform accrual with a data cut-off, plus loss to follow-up.

    The administrative censoring time is uniform on ``[F, A + F] * stretch`` (accrual ``A``,
    minimum follow-up ``F``); loss to follow-up is exponential with ``rate`` per month.
    """

    accrual: float
    min_follow_up: float
    rate: float = 0.0
    stretch: float = 1.0

    @property
    def horizon(self) -> float:
        return (self.accrual + self.min_follow_up) * self.stretch

    def survival(self, t: np.ndarray) -> np.ndarray:
        """P(C > t)."""
        low, high = self.min_follow_up * self.stretch, self.horizon
        admin = np.clip((high - t) / (high - low), 0.0, 1.0)
        return admin * np.exp(-self.rate * t)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        admin = rng.uniform(self.min_follow_up * self.stretch, self.horizon, n)
        if self.rate <= 0:
            return admin
        return np.minimum(admin, rng.exponential(1.0 / self.rate, n))


def weibull_survival(t: np.ndarray, scale: np.ndarray, shape: float) -> np.ndarray:
    return np.exp(-np.power(t / scale, shape))


def event_probability(log_scale: np.ndarray, shape: float, censoring: Censoring) -> np.ndarray:
    """P(T < C) for an uncured Weibull time with the given log scales (interpolated)."""
    log_scale = np.asarray(log_scale, dtype=float)
    lo, hi = float(log_scale.min()) - 0.01, float(log_scale.max()) + 0.01
    grid = np.linspace(lo, hi, 300)
    edges = np.linspace(0.0, censoring.horizon, 1501)
    mids = 0.5 * (edges[1:] + edges[:-1])
    cdf = 1.0 - weibull_survival(edges[None, :], np.exp(grid)[:, None], shape)
    table = (np.diff(cdf, axis=1) * censoring.survival(mids)[None, :]).sum(axis=1)
    return np.interp(log_scale, grid, table)


def mixture_survival(
    t: float | np.ndarray, weights: np.ndarray, scales: np.ndarray, shape: float, cure: float
) -> np.ndarray:
    """S(t) per row of a cure + Weibull-mixture law (``weights``, ``scales``: rows x components)."""
    t = np.asarray(t, dtype=float)
    t = t[..., None] if t.ndim == 1 else t
    return cure + (1.0 - cure) * (weights * weibull_survival(t, scales, shape)).sum(axis=-1)


def mixture_median(
    weights: np.ndarray, scales: np.ndarray, shape: float, cure: float
) -> np.ndarray:
    """Median time per row (inf where the survival curve never reaches 0.5)."""
    n = weights.shape[0]
    if cure >= 0.5:
        return np.full(n, np.inf)
    lo = np.full(n, np.log(1e-4))
    hi = np.full(n, np.log(np.max(scales) * 1e3))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = mixture_survival(np.exp(mid), weights, scales, shape, cure) > 0.5
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.exp(0.5 * (lo + hi))


def mixture_rmst(
    weights: np.ndarray,
    scales: np.ndarray,
    shape: float,
    cure: float,
    horizon: float = RMST_HORIZON_MONTHS,
) -> np.ndarray:
    """Restricted mean time to resistance up to ``horizon`` months, per row."""
    a = 1.0 / shape
    part = scales * a * gamma(a) * gammainc(a, np.power(horizon / scales, shape))
    return cure * horizon + (1.0 - cure) * (weights * part).sum(axis=-1)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class SettingTruth:
    """Calibrated truth of one setting."""

    name: str
    shape: float
    cure: float
    log_scale0: float
    intercepts: np.ndarray  # one per mechanism, MECHANISMS order
    modifiers: np.ndarray  # time multiplier per mechanism
    target_shares: np.ndarray
    hidden_values: np.ndarray  # atoms of the hidden log-HR distribution
    hidden_probs: np.ndarray
    program_center: dict[str, float]
    program_scale: dict[str, float]
    thresholds: dict[str, tuple[float, float]]

    def log_scales(self, lp: np.ndarray, hidden: np.ndarray | float = 0.0) -> np.ndarray:
        """log scale per row x mechanism for observable ``lp`` and hidden log-HR ``hidden``."""
        base = self.log_scale0 - (np.asarray(lp) + hidden) / self.shape
        return base[:, None] + np.log(self.modifiers)[None, :]


def hidden_atoms(hrs: list[float], prevalences: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Exact distribution of the summed hidden log-HR of independent binary covariates."""
    values, probs = np.zeros(1), np.ones(1)
    for hr, p in zip(hrs, prevalences, strict=True):
        values = np.concatenate([values, values + np.log(hr)])
        probs = np.concatenate([probs * (1 - p), probs * p])
    return values, probs


def binned(
    offsets: np.ndarray, weights: np.ndarray, bins: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted histogram of log-scale offsets: a compact summary of a population's law."""
    offsets, weights = np.ravel(offsets), np.ravel(weights)
    lo, hi = float(offsets.min()) - 1e-9, float(offsets.max()) + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    mass, _ = np.histogram(offsets, edges, weights=weights)
    centres = 0.5 * (edges[1:] + edges[:-1])
    keep = mass > 0
    return centres[keep], mass[keep] / mass.sum()


def population_offsets(
    truth: SettingTruth, lp: np.ndarray, hidden: np.ndarray, prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Binned log-scale offsets (relative to ``log_scale0``) of a reference population."""
    return binned(truth.log_scales(lp, hidden) - truth.log_scale0, prior)


def solve_survival(
    truth: SettingTruth,
    targets: dict[float, float],
    centres: np.ndarray,
    mass: np.ndarray,
    cure_model: bool,
) -> None:
    """Set ``log_scale0`` (and ``cure``) so the population curve meets the targets.

    ``centres`` / ``mass``: the population's binned log-scale offsets (:func:`binned`).
    """

    def pop_survival(t: float, log0: float, cure: float) -> float:
        return cure + (1.0 - cure) * float(
            (mass * weibull_survival(t, np.exp(centres + log0), truth.shape)).sum()
        )

    def solve_log0(t: float, s: float, cure: float) -> float:
        lo, hi = -10.0, 15.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if pop_survival(t, mid, cure) < s:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    (t1, s1), *rest = sorted(targets.items())
    if not cure_model:
        truth.cure, truth.log_scale0 = 0.0, solve_log0(t1, s1, 0.0)
        return
    (t2, s2) = rest[0]
    lo, hi = 0.0, s2
    for _ in range(40):
        cure = 0.5 * (lo + hi)
        log0 = solve_log0(t1, s1, cure)
        if pop_survival(t2, log0, cure) < s2:
            lo = cure
        else:
            hi = cure
    truth.cure = 0.5 * (lo + hi)
    truth.log_scale0 = solve_log0(t1, s1, truth.cure)


def labelled_weights(
    truth: SettingTruth, lp: np.ndarray, censoring: Censoring, hidden: np.ndarray | None = None
) -> np.ndarray:
    """P(progression observed | observables, mechanism), rows x mechanisms.

    With ``hidden`` given (realised values) it is conditional on them; otherwise averaged
    over the hidden covariates' distribution (what the oracle may know).
    """
    if hidden is not None:
        ls = truth.log_scales(lp, hidden)
        return (1.0 - truth.cure) * event_probability(ls.ravel(), truth.shape, censoring).reshape(
            ls.shape
        )
    out = np.zeros((len(lp), len(MECHANISMS)))
    for value, prob in zip(truth.hidden_values, truth.hidden_probs, strict=True):
        ls = truth.log_scales(lp, value)
        out += prob * event_probability(ls.ravel(), truth.shape, censoring).reshape(ls.shape)
    return (1.0 - truth.cure) * out


def solve_intercepts(truth: SettingTruth, shifts: np.ndarray, q: np.ndarray) -> None:
    """Intercepts so that shares among observed progressions equal the target shares.

    A mechanism with a zero target share gets an intercept of -inf (never drawn).
    """
    target = truth.target_shares
    live = target > 0
    b = np.where(live, np.nan_to_num(truth.intercepts, neginf=0.0), -np.inf)
    for _ in range(200):
        p = softmax(b[None, :] + shifts)
        achieved = (p * q).sum(axis=0)
        achieved = achieved / achieved.sum()
        step = np.zeros_like(b)
        step[live] = np.log(target[live]) - np.log(achieved[live])
        b = b + step
        b = b - b[live].max()
        if np.abs(step).max() < 1e-7:
            break
    truth.intercepts = b


def censored_fraction(
    truth: SettingTruth, centres: np.ndarray, mass: np.ndarray, censoring: Censoring
) -> float:
    """Expected censored fraction of a population given as binned log-scale offsets."""
    q = event_probability(centres + truth.log_scale0, truth.shape, censoring)
    return float(1.0 - (1.0 - truth.cure) * (mass * q).sum())


def solve_censoring(
    parts: list[tuple[float, SettingTruth, np.ndarray, np.ndarray]], target: float, base: Censoring
) -> Censoring:
    """Loss-to-follow-up rate (or longer follow-up) giving the target censored fraction.

    ``parts``: (cohort weight, truth, binned offsets, their mass) per setting.
    """

    def fraction(plan: Censoring) -> float:
        total = sum(w for w, *_ in parts)
        return sum(w * censored_fraction(t, c, m, plan) for w, t, c, m in parts) / total

    floor = fraction(base)
    if floor <= target:
        # Follow-up window fixed: the event-time density on it is computed once.
        total = sum(w for w, *_ in parts)
        edges = np.linspace(0.0, base.horizon, 3001)
        mids = 0.5 * (edges[1:] + edges[:-1])
        density = np.zeros(len(mids))
        for w, truth, centres, mass in parts:
            cdf = 1.0 - weibull_survival(
                edges[None, :], np.exp(centres + truth.log_scale0)[:, None], truth.shape
            )
            density += w / total * (1.0 - truth.cure) * (mass @ np.diff(cdf, axis=1))

        def with_rate(rate: float) -> float:
            return float(
                1.0 - density @ Censoring(base.accrual, base.min_follow_up, rate).survival(mids)
            )

        lo, hi = 0.0, 1.0
        while with_rate(hi) < target and hi < 1e3:
            hi *= 2
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            if with_rate(mid) < target:
                lo = mid
            else:
                hi = mid
        return Censoring(base.accrual, base.min_follow_up, 0.5 * (lo + hi))
    # Administrative censoring alone censors too many: follow everyone longer.
    lowest = fraction(Censoring(base.accrual, base.min_follow_up, 0.0, 1e4))
    if target < lowest - 1e-3:
        raise ConfigError(
            f"censoring target {target:.3f} is below the lowest reachable censored fraction "
            f"{lowest:.3f} for these settings (patients who never progress, e.g. the cure "
            "fraction of plateauing settings, are always censored); raise --censoring"
        )
    lo, hi = 1.0, 2.0
    while fraction(Censoring(base.accrual, base.min_follow_up, 0.0, hi)) > target and hi < 1e3:
        hi *= 2
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if fraction(Censoring(base.accrual, base.min_follow_up, 0.0, mid)) > target:
            lo = mid
        else:
            hi = mid
    return Censoring(base.accrual, base.min_follow_up, 0.0, 0.5 * (lo + hi))


def marginal_components(
    truth: SettingTruth, lp: np.ndarray, prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mixture weights and scales over (mechanism, hidden atom) for each row."""
    weights, scales = [], []
    for value, prob in zip(truth.hidden_values, truth.hidden_probs, strict=True):
        weights.append(prior * prob)
        scales.append(np.exp(truth.log_scales(lp, value)))
    return np.concatenate(weights, axis=1), np.concatenate(scales, axis=1)
