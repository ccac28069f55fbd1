"""Drawing one setting's patient-treatments.

See :mod:`oncoresist.simulate.cohort` for the causal design. This module holds the per-setting draw
(baseline -> mechanism -> time -> censoring -> re-biopsy -> progression sample);
:mod:`oncoresist.simulate.assemble` joins the blocks into tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError
from oncoresist.knowledge.programs import Signature, signature_genes
from oncoresist.simulate.baseline import (
    ExpressionModel,
    Genomics,
    cn_matrix,
    draw_baseline_genomics,
    draw_event,
    draw_passengers,
    expression_feature_genes,
    expression_values,
    latent_programs,
    observable_features,
    raw_program_scores,
)
from oncoresist.simulate.params import Setting, SimulationParams, parse_event
from oncoresist.simulate.truth import (
    Censoring,
    SettingTruth,
    labelled_weights,
    marginal_components,
    mixture_median,
    mixture_rmst,
    softmax,
)

TIME_DECIMALS = 3
#: Extra latent drift between the baseline and the progression biopsy (SD units).
PROGRESSION_DRIFT_SD = 0.3


def mechanism_shifts(setting: Setting, params: SimulationParams) -> list:
    """Mechanism log-odds shifts of a setting: the common ones, then its own."""
    return [*params.global_.common_mechanism_shifts, *setting.mechanism_shifts]


def setting_features(setting: Setting, params: SimulationParams) -> list[str]:
    """Every observable feature the truth of a setting reads."""
    features = [r.feature for r in setting.risk_factors]
    features += [s.feature for s in mechanism_shifts(setting, params)]
    features += [s.feature for s in setting.named_alteration_shifts]
    return list(dict.fromkeys(features))


def linear_parts(
    setting: Setting, params: SimulationParams, feats: dict[str, np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mechanism log-odds shifts (n x mechanisms) and the hazard's observable predictor."""
    shifts = np.zeros((n, len(MECHANISMS)))
    for s in mechanism_shifts(setting, params):
        shifts[:, MECHANISMS.index(s.mechanism)] += s.log_odds * feats[s.feature]
    lp = np.zeros(n)
    for r in setting.risk_factors:
        lp += np.log(r.hr) * feats[r.feature]
    return shifts, lp


def draw_hidden(setting: Setting, n: int, rng: np.random.Generator) -> np.ndarray:
    """Realised hidden log hazard ratio (covariates never written to the output)."""
    hidden = np.zeros(n)
    for factor in setting.hidden_risk_factors:
        hidden += np.log(factor.hr) * (rng.random(n) < factor.prevalence)
    return hidden


def categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


class Context:
    """Gene-level constants shared by every block of one parameter set."""

    def __init__(self, params: SimulationParams, signatures: dict[str, Signature]) -> None:
        self.params = params
        self.signatures = signatures
        gp = params.global_
        event_genes: set[str] = set()
        events = [
            e
            for s in params.settings.values()
            for e in [*(d.event for d in s.drivers), *(c.event for c in s.co_alterations)]
        ]
        events += [e for group in gp.alterations.values() for e in group]
        for event in map(parse_event, events):
            if event.kind == "fusion":
                event_genes.update(event.gene.split("-"))
            elif event.kind != "program":
                event_genes.add(event.gene)
        self.expr_genes = expression_feature_genes(
            [f for s in params.settings.values() for f in setting_features(s, params)]
        )
        overlap = set(gp.passenger_genes) & (event_genes | set(signature_genes(signatures)))
        if overlap:
            raise ConfigError(f"passenger_genes must not carry signal; remove {sorted(overlap)}")
        extra = event_genes | set(gp.passenger_genes) | set(gp.background_genes)
        self.model = ExpressionModel.build(signatures, sorted(extra), gp.expression.program_loading)
        truth_genes = sorted(set(signature_genes(signatures)) | set(self.expr_genes))
        self.truth_model = self.model.subset(truth_genes)
        self.noise_genes = sorted(set(self.model.genes) - set(truth_genes) - event_genes)

    def block(
        self, setting: Setting, n: int, rng: np.random.Generator, model: ExpressionModel
    ) -> tuple[Genomics, np.ndarray, np.ndarray, np.ndarray]:
        """Baseline genomics, purity, latent programs and written expression of ``n`` samples."""
        gp = self.params.global_
        genomics, purity = draw_baseline_genomics(setting, n, rng, gp)
        effect_feats = observable_features(
            [e.feature for e in gp.program_effects], genomics, n, {}, {}, {}
        )
        effects = [(effect_feats[e.feature], e.program, e.shift) for e in gp.program_effects]
        means = self.params.cancer_types[setting.cancer_type].program_means
        latent = latent_programs(n, model, means, effects, gp.expression.program_sd, rng)
        values = self.express(latent, genomics, model, rng)
        return genomics, purity, latent, values

    def express(
        self,
        latent: np.ndarray,
        genomics: Genomics,
        model: ExpressionModel,
        rng: np.random.Generator,
    ) -> np.ndarray:
        ex = self.params.global_.expression
        return expression_values(
            latent,
            model,
            cn_matrix(genomics, len(latent), model.genes),
            ex.gene_noise_sd,
            ex.cn_effect,
            ex.max_log2_tpm,
            rng,
        )

    def features(
        self,
        setting: Setting,
        truth: SettingTruth,
        genomics: Genomics,
        n: int,
        values: np.ndarray,
        genes: Sequence[str],
    ) -> dict[str, np.ndarray]:
        """Observable features from written values (standardised programs, quartiles)."""
        where = {g: i for i, g in enumerate(genes)}
        cols = [where[g] for g in self.truth_model.genes]
        raw = raw_program_scores(values[:, cols], self.truth_model.genes, self.signatures)
        z = {p: (raw[p] - truth.program_center[p]) / truth.program_scale[p] for p in raw}
        expr = {g: values[:, where[g]] for g in self.expr_genes}
        return observable_features(
            setting_features(setting, self.params), genomics, n, z, expr, truth.thresholds
        )


@dataclass
class Block:
    """One setting's draw, with row indices local to the block and ``rows`` global."""

    name: str
    setting: Setting
    rows: np.ndarray
    drug: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    baseline_month: np.ndarray
    genomics: Genomics
    values: np.ndarray
    prog: np.ndarray  # local indices of re-biopsied treatments
    prog_tissue: np.ndarray  # bool per prog entry
    prog_genomics: Genomics  # indices local to ``prog``
    prog_values: np.ndarray  # rows for prog[prog_tissue]
    time: np.ndarray
    event: np.ndarray
    label: np.ndarray
    truth: dict[str, np.ndarray]


def _alterations(
    setting: Setting, mech: np.ndarray, feats: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Named alteration within the drawn class (shifted by baseline features where given)."""
    out = np.empty(len(mech), dtype=object)
    for m, mechanism in enumerate(MECHANISMS):
        rows = np.flatnonzero(mech == m)
        names = list(setting.named_alterations[mechanism])
        base = np.array([setting.named_alterations[mechanism][a] for a in names], dtype=float)
        probs = np.tile(base / base.sum(), (len(rows), 1))
        for shift in setting.named_alteration_shifts:
            if shift.mechanism != mechanism:
                continue
            a = names.index(shift.alteration)
            hit = feats[shift.feature][rows] > 0.5
            others = probs[hit].copy()
            others[:, a] = 0.0
            total = others.sum(axis=1, keepdims=True)
            others = np.divide(others, total, out=np.zeros_like(others), where=total > 0)
            probs[hit] = others * (1.0 - shift.share)
            probs[hit, a] = shift.share
        out[rows] = np.asarray(names, dtype=object)[categorical(probs, rng)]
    return out


def _progression(
    ctx: Context,
    setting: Setting,
    block_genomics: Genomics,
    prog: np.ndarray,
    alteration: np.ndarray,
    purity: np.ndarray,
    latent: np.ndarray,
    mech: np.ndarray,
    rng: np.random.Generator,
):
    """Progression samples: the baseline calls (truncal) plus the named alteration."""
    gp = ctx.params.global_
    position = np.full(len(purity), -1)
    position[prog] = np.arange(len(prog))
    out = Genomics()
    idx, gene, change, vaf = block_genomics.arrays("mut")
    keep = position[idx] >= 0
    for loss in setting.progression_losses:
        # A competing clone without the baseline mutation takes over (lost at progression).
        event = parse_event(loss.event)
        eligible = np.isin(mech, [MECHANISMS.index(m) for m in loss.mechanisms])
        lost = np.zeros(len(purity), dtype=bool)
        lost[prog] = eligible[prog] & (rng.random(len(prog)) < loss.probability)
        keep &= ~(lost[idx] & (gene == event.gene) & (change == event.value))
    out.add_mutation(
        position[idx[keep]],
        gene[keep],
        change[keep],
        np.clip(vaf[keep] * rng.uniform(0.6, 1.2, keep.sum()), 0.01, 0.99),
    )
    idx, gene, state = block_genomics.arrays("cn")
    keep = position[idx] >= 0
    out.cn_idx.append(position[idx[keep]])
    out.cn_gene.append(gene[keep])
    out.cn_state.append(state[keep])
    idx, pair, variant = block_genomics.arrays("fu")
    keep = position[idx] >= 0
    out.fu_idx.append(position[idx[keep]])
    out.fu_pair.append(pair[keep])
    out.fu_variant.append(variant[keep])
    shifted = latent[prog] + rng.normal(0.0, PROGRESSION_DRIFT_SD, (len(prog), latent.shape[1]))
    programs = ctx.model.programs
    for name in sorted(set(alteration[prog].tolist())):
        local = np.flatnonzero(alteration[prog] == name)
        for event in map(parse_event, gp.alterations[name]):
            if event.kind == "program":
                shifted[local, programs.index(event.gene)] += float(event.value)
            else:
                draw_event(out, event, local, purity[prog], rng, gp.hotspots)
    # Histology is needed to see a transformation: lineage re-biopsies are tissue.
    tissue = (rng.random(len(prog)) < gp.progression_tissue_share) | (
        mech[prog] == MECHANISMS.index("lineage")
    )
    values = ctx.express(shifted, out, ctx.model, rng)[tissue]
    return out, tissue, values


def draw_setting_block(
    ctx: Context,
    setting: Setting,
    name: str,
    truth: SettingTruth,
    rows: np.ndarray,
    rng: np.random.Generator,
    plan: Censoring,
    rebiopsy: float,
) -> Block:
    """Draw every treatment of one setting (see the module docstring of ``simulate``)."""
    params, n, k = ctx.params, len(rows), truth.shape
    genomics, purity, latent, values = ctx.block(setting, n, rng, ctx.model)
    draw_passengers(genomics, n, purity, rng, params.global_)
    feats = ctx.features(setting, truth, genomics, n, values, ctx.model.genes)
    shifts, lp = linear_parts(setting, params, feats, n)
    prior = softmax(truth.intercepts[None, :] + shifts)
    mech = categorical(prior, rng)
    alteration = _alterations(setting, mech, feats, rng)
    hidden = draw_hidden(setting, n, rng)
    cured = rng.random(n) < truth.cure
    log_scale = truth.log_scales(lp, hidden)[np.arange(n), mech]
    true_time = np.exp(log_scale) * np.power(rng.exponential(1.0, n), 1.0 / k)
    true_time[cured] = np.inf
    censor = plan.draw(n, rng)
    event = true_time <= censor
    time = np.maximum(np.round(np.minimum(true_time, censor), TIME_DECIMALS), 10**-TIME_DECIMALS)
    labelled = event & (rng.random(n) < rebiopsy)
    label = np.where(labelled, np.asarray(MECHANISMS, dtype=object)[mech], None)
    prog = np.flatnonzero(labelled)
    prog_genomics, tissue, prog_values = _progression(
        ctx, setting, genomics, prog, alteration, purity, latent, mech, rng
    )
    # Patients and regimens (no effect on the truth).
    ctype = params.cancer_types[setting.cancer_type]
    age = np.clip(np.round(rng.normal(ctype.age_mean, 10.0, n)), 25, 90)
    sex = np.where(rng.random(n) < ctype.female_share, "female", "male").astype(object)
    drugs = list(setting.drugs)
    drug_p = np.array([setting.drugs[d] for d in drugs])
    drug = np.asarray(drugs, dtype=object)[categorical(np.tile(drug_p, (n, 1)), rng)]
    baseline_month = -np.round(rng.uniform(0.1, 1.0, n), 2)
    # Oracle quantities: functions of the observables only (hidden covariates averaged out).
    q = labelled_weights(truth, lp, plan)
    joint = prior * q
    total = joint.sum(axis=1, keepdims=True)
    p_label = np.divide(joint, total, out=prior.copy(), where=total > 0)
    weights, scales = marginal_components(truth, lp, prior)
    rmst = mixture_rmst(weights, scales, k, truth.cure)
    columns: dict[str, np.ndarray] = {
        "setting": np.full(n, name, dtype=object),
        "true_mechanism": np.asarray(MECHANISMS, dtype=object)[mech],
        "true_alteration": alteration,
    }
    for m, mechanism in enumerate(MECHANISMS):
        columns[f"p_{mechanism}"] = p_label[:, m]
    for m, mechanism in enumerate(MECHANISMS):
        columns[f"prior_p_{mechanism}"] = prior[:, m]
    columns.update(
        {
            "true_event_months": true_time,
            "true_cured": cured,
            "censor_months": censor,
            "labelled": labelled,
            "true_linear_predictor": lp,
            "hidden_log_hr": hidden,
            "weibull_shape": np.full(n, k),
            "weibull_scale_months": np.exp(truth.log_scale0 - lp / k),
            "cure_fraction": np.full(n, truth.cure),
            "true_median_months": mixture_median(weights, scales, k, truth.cure),
            "rmst_60_months": rmst,
            "oracle_risk": -rmst,
        }
    )
    return Block(
        name,
        setting,
        rows,
        drug,
        age,
        sex,
        baseline_month,
        genomics,
        values,
        prog,
        tissue,
        prog_genomics,
        prog_values,
        time,
        event,
        label,
        columns,
    )
