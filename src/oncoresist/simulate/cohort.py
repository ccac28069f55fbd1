"""Cohort simulator grounded in published trials, with the hidden truth kept for oracles.

Real patient-level data with resistance-mechanism labels is not freely downloadable, so this
module simulates patient-treatments from the published figures in ``data/params/settings.yaml``.
The data are simulated, not real patients.

Causal design, per treatment:

1. baseline genomics (driver, co-alterations at published prevalence, passengers) and baseline
   expression from a latent-program model whose programs depend on the genomics;
2. observable features read from those written values (alterations, standardised
   :func:`~oncoresist.knowledge.programs.program_scores`, expression quartiles);
3. the resistance mechanism from a multinomial model whose log-odds are the features' shifts
   plus intercepts solved to meet the published shares; the named alteration within the class;
4. time to resistance from a (cure +) Weibull law whose hazard is scaled by the features'
   hazard ratios and by hidden covariates (never written; the oracle averages them out), and
   whose time is multiplied by the mechanism's modifier;
5. independent censoring and re-biopsy; a progression sample carries the named alteration.

Baseline expression is never drawn from the eventual mechanism.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS, Cohort
from oncoresist.defaults import DEFAULT_COHORT_SIZE, DEFAULT_SEED
from oncoresist.exceptions import ConfigError
from oncoresist.knowledge.programs import load_signatures
from oncoresist.simulate.assemble import assemble
from oncoresist.simulate.baseline import raw_program_scores
from oncoresist.simulate.draw import (
    Context,
    draw_hidden,
    draw_setting_block,
    linear_parts,
)
from oncoresist.simulate.params import SimulationParams, load_params
from oncoresist.simulate.truth import (
    Censoring,
    SettingTruth,
    hidden_atoms,
    labelled_weights,
    population_offsets,
    softmax,
    solve_censoring,
    solve_intercepts,
    solve_survival,
)

#: Size and seed of the reference population each setting is calibrated on.
REFERENCE_SIZE = 20_000
REFERENCE_SEED = 1_234_567
_CALIBRATION_ROUNDS = 3


@dataclass
class SimulationResult:
    """A simulated cohort and its hidden truth.

    Attributes
    ----------
    cohort : Cohort
        Canonical tables (patients, samples, treatments, mutations, copy_number, fusions,
        expression, outcomes). Everything a model may read.
    ground_truth : DataFrame
        One row per treatment: true mechanism probabilities, true event time before
        censoring, linear predictor and oracle risk. Never a model input.
    params : SimulationParams
        The parameters used.
    config : dict
        Arguments, seed and calibrated values (written to ``simulation.yaml``).
    noise_genes : list of str
        Expressed genes with no role in the truth (pure noise).
    """

    cohort: Cohort
    ground_truth: pd.DataFrame
    params: SimulationParams
    config: dict
    noise_genes: list[str] = field(default_factory=list)
    truths: dict[str, SettingTruth] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Calibration on a reference population
# --------------------------------------------------------------------------------------


def _calibrate(
    ctx: Context,
    names: tuple[str, ...],
    weights: tuple[float, ...],
    censoring_target: float,
    unexplained: float | None,
) -> tuple[dict, Censoring]:
    params, gp = ctx.params, ctx.params.global_
    order = list(params.settings)
    truths, parts = {}, {}
    for name in names:
        setting = params.settings[name]
        rng = np.random.default_rng([REFERENCE_SEED, order.index(name)])
        genomics, _, _, values = ctx.block(setting, REFERENCE_SIZE, rng, ctx.truth_model)
        raw = raw_program_scores(values, ctx.truth_model.genes, ctx.signatures)
        where = {g: i for i, g in enumerate(ctx.truth_model.genes)}
        hv, hp = hidden_atoms(
            [f.hr for f in setting.hidden_risk_factors],
            [f.prevalence for f in setting.hidden_risk_factors],
        )
        shares = setting.target_shares(unexplained)
        truth = SettingTruth(
            name=name,
            shape=setting.survival.shape,
            cure=0.0,
            log_scale0=0.0,
            intercepts=np.log(np.maximum([shares[m] for m in MECHANISMS], 1e-300)),
            modifiers=np.array([setting.mechanism_time_modifiers.get(m, 1.0) for m in MECHANISMS]),
            target_shares=np.array([shares[m] for m in MECHANISMS]),
            hidden_values=hv,
            hidden_probs=hp,
            program_center={p: float(np.nanmean(v)) for p, v in raw.items()},
            program_scale={p: float(np.nanstd(v)) or 1.0 for p, v in raw.items()},
            thresholds={
                g: (
                    float(np.percentile(values[:, where[g]], 25)),
                    float(np.percentile(values[:, where[g]], 75)),
                )
                for g in ctx.expr_genes
            },
        )
        feats = ctx.features(
            setting, truth, genomics, REFERENCE_SIZE, values, ctx.truth_model.genes
        )
        shifts, lp = linear_parts(setting, params, feats, REFERENCE_SIZE)
        truths[name] = truth
        parts[name] = (shifts, lp, draw_hidden(setting, REFERENCE_SIZE, rng))
    censoring = base = Censoring(gp.accrual_months, gp.min_follow_up_months)
    for _ in range(_CALIBRATION_ROUNDS):
        summaries = {}
        for name in names:
            shifts, lp, hidden = parts[name]
            prior = softmax(truths[name].intercepts[None, :] + shifts)
            summaries[name] = population_offsets(truths[name], lp, hidden, prior)
            survival = params.settings[name].survival
            solve_survival(
                truths[name], survival.targets, *summaries[name], survival.model == "cure_weibull"
            )
        censoring = solve_censoring(
            [(w, truths[nm], *summaries[nm]) for nm, w in zip(names, weights, strict=True)],
            censoring_target,
            base,
        )
        for name in names:
            shifts, lp, hidden = parts[name]
            q = labelled_weights(truths[name], lp, censoring, hidden=hidden)
            solve_intercepts(truths[name], shifts, q)
    return truths, censoring


@lru_cache(maxsize=8)
def _calibrate_cached(
    params_json: str,
    names: tuple[str, ...],
    weights: tuple[float, ...],
    censoring_target: float,
    unexplained: float | None,
):
    params = SimulationParams.model_validate_json(params_json)
    ctx = Context(params, load_signatures())
    return ctx, _calibrate(ctx, names, weights, censoring_target, unexplained)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _choose_settings(params: SimulationParams, settings: str | Sequence[str]) -> list[str]:
    if isinstance(settings, str):
        chosen = (
            list(params.settings)
            if settings == "all"
            else [s.strip() for s in settings.split(",") if s.strip()]
        )
    else:
        chosen = list(dict.fromkeys(settings))
    unknown = [s for s in chosen if s not in params.settings]
    if unknown or not chosen:
        raise ConfigError(
            f"unknown setting(s) {unknown or chosen}; choose from: "
            + ", ".join(params.settings)
            + " (or 'all')"
        )
    if sum(params.settings[s].cohort_weight for s in chosen) <= 0:
        raise ConfigError(f"settings {chosen} all have cohort_weight 0")
    return [s for s in params.settings if s in chosen]


def _allocate(n: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder allocation of ``n`` treatments to settings (deterministic)."""
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    remainder = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def simulate_cohort(
    n: int = DEFAULT_COHORT_SIZE,
    seed: int = DEFAULT_SEED,
    settings: str | Sequence[str] = "all",
    rebiopsy_rate: float | None = None,
    censoring: float | None = None,
    unexplained_to_epigenetic: float | None = None,
    params: SimulationParams | str | Path | None = None,
) -> SimulationResult:
    """Simulate ``n`` patient-treatments across clinical settings.

    Parameters
    ----------
    n : int
        Patient-treatments (one treatment per patient), split across settings by their
        ``cohort_weight``.
    seed : int
        Seed; the same seed gives identical tables.
    settings : "all", str or sequence of str
        Setting ids (comma-separated in a string).
    rebiopsy_rate : float, optional
        Share of observed progressions with a post-progression biopsy (mechanism label).
        Defaults to the parameter file (0.6).
    censoring : float, optional
        Target overall censored fraction. Defaults to the parameter file (0.3).
    unexplained_to_epigenetic : float, optional
        Share of the "no mechanism found" pool (epigenetic + microenvironment) assigned to
        epigenetic; None keeps each setting's published split.
    params : SimulationParams or path, optional
        Parameters; defaults to ``data/params/settings.yaml``.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        Unknown setting or invalid parameters.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not isinstance(params, SimulationParams):
        params = load_params(params)
    gp = params.global_
    rebiopsy = gp.rebiopsy_rate if rebiopsy_rate is None else float(rebiopsy_rate)
    target = gp.censoring_target if censoring is None else float(censoring)
    unexplained = (
        gp.unexplained_to_epigenetic
        if unexplained_to_epigenetic is None
        else float(unexplained_to_epigenetic)
    )
    for label, value, hi in (
        ("rebiopsy_rate", rebiopsy, 1.0),
        ("censoring", target, 0.95),
        ("unexplained_to_epigenetic", unexplained or 0.0, 1.0),
    ):
        if not 0.0 <= value <= hi:
            raise ConfigError(f"{label} must lie in [0, {hi}], got {value}")
    names = _choose_settings(params, settings)
    weights = tuple(float(params.settings[s].cohort_weight) for s in names)
    ctx, (truths, plan) = _calibrate_cached(
        params.model_dump_json(by_alias=True), tuple(names), weights, target, unexplained
    )
    rng = np.random.default_rng(seed)
    counts = _allocate(n, np.array(weights))
    assignment = rng.permutation(np.repeat(np.arange(len(names)), counts))
    blocks = []
    for j, name in enumerate(names):
        rows = np.flatnonzero(assignment == j)
        if len(rows):
            blocks.append(
                draw_setting_block(
                    ctx, params.settings[name], name, truths[name], rows, rng, plan, rebiopsy
                )
            )
    cohort, truth_table = assemble(blocks, n, ctx.model.genes)
    config = {
        "n": n,
        "seed": seed,
        "settings": names,
        "rebiopsy_rate": rebiopsy,
        "censoring_target": target,
        "unexplained_to_epigenetic": unexplained,
        "censoring_plan": {
            "accrual_months": plan.accrual,
            "min_follow_up_months": plan.min_follow_up,
            "loss_to_follow_up_per_month": plan.rate,
            "follow_up_stretch": plan.stretch,
        },
        "calibrated": {
            name: {
                "weibull_shape": t.shape,
                "cure_fraction": t.cure,
                "baseline_scale_months": float(np.exp(t.log_scale0)),
                "mechanism_intercepts": dict(
                    zip(MECHANISMS, map(float, t.intercepts), strict=True)
                ),
                "target_shares": dict(zip(MECHANISMS, map(float, t.target_shares), strict=True)),
            }
            for name, t in truths.items()
        },
    }
    return SimulationResult(
        cohort, truth_table, params, config, list(ctx.noise_genes), dict(truths)
    )
