"""Baseline tumour profiles for the simulator: genomics, expression, and observable features.

Everything here is what a model can read at baseline. The truth (mechanism log-odds, hazard)
is computed from :func:`observable_features`, which evaluates features on the very values
that are written (rounded VAFs, copy-number states, rounded expression), so a model reading
the written tables sees exactly what the simulator used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncoresist.knowledge.programs import Signature, program_scores
from oncoresist.simulate.params import (
    Atom,
    Event,
    GlobalParams,
    Setting,
    parse_event,
    parse_feature,
)

#: Fixed seed for gene-level constants (baseline expression means): the same genes look alike
#: in every simulated cohort, whatever the cohort seed.
GENE_CONSTANTS_SEED = 20_261_127
EXPRESSION_DECIMALS = 3
VAF_DECIMALS = 3
_AMINO = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def variant_class(protein_change: str) -> str:
    """MAF-style variant class implied by a short HGVS protein change."""
    if protein_change == "p.?":
        return "Splice_Site"
    if protein_change.endswith("*"):
        return "Nonsense_Mutation"
    if "fs" in protein_change:
        return "Frame_Shift_Del"
    if "del" in protein_change:
        return "In_Frame_Del"
    return "Missense_Mutation"


@dataclass
class Genomics:
    """Long-format genomic calls for a block of samples (row indices into the block)."""

    mut_idx: list[np.ndarray] = field(default_factory=list)
    mut_gene: list[np.ndarray] = field(default_factory=list)
    mut_change: list[np.ndarray] = field(default_factory=list)
    mut_vaf: list[np.ndarray] = field(default_factory=list)
    cn_idx: list[np.ndarray] = field(default_factory=list)
    cn_gene: list[np.ndarray] = field(default_factory=list)
    cn_state: list[np.ndarray] = field(default_factory=list)
    fu_idx: list[np.ndarray] = field(default_factory=list)
    fu_pair: list[np.ndarray] = field(default_factory=list)
    fu_variant: list[np.ndarray] = field(default_factory=list)

    def add_mutation(self, idx, gene, change, vaf) -> None:
        n = len(idx)
        self.mut_idx.append(np.asarray(idx, dtype=np.int64))
        self.mut_gene.append(np.broadcast_to(np.asarray(gene, dtype=object), (n,)).copy())
        self.mut_change.append(np.broadcast_to(np.asarray(change, dtype=object), (n,)).copy())
        self.mut_vaf.append(np.round(np.asarray(vaf, dtype=float), VAF_DECIMALS))

    def add_cn(self, idx, gene, state) -> None:
        n = len(idx)
        self.cn_idx.append(np.asarray(idx, dtype=np.int64))
        self.cn_gene.append(np.full(n, gene, dtype=object))
        self.cn_state.append(np.full(n, int(state), dtype=np.int64))

    def add_fusion(self, idx, pair, variant) -> None:
        n = len(idx)
        self.fu_idx.append(np.asarray(idx, dtype=np.int64))
        self.fu_pair.append(np.full(n, pair, dtype=object))
        self.fu_variant.append(np.full(n, variant, dtype=object))

    def arrays(self, part: str) -> tuple[np.ndarray, ...]:
        """Concatenated arrays of ``mut``, ``cn`` or ``fu``."""
        names = {
            "mut": ("mut_idx", "mut_gene", "mut_change", "mut_vaf"),
            "cn": ("cn_idx", "cn_gene", "cn_state"),
            "fu": ("fu_idx", "fu_pair", "fu_variant"),
        }[part]
        out = []
        for name in names:
            chunks = getattr(self, name)
            dtype = (
                object
                if name.endswith(("gene", "change", "pair", "variant"))
                else (float if name.endswith("vaf") else np.int64)
            )
            out.append(np.concatenate(chunks) if chunks else np.array([], dtype=dtype))
        return tuple(out)


def clonal_vaf(purity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heterozygous clonal VAF: purity / 2 with sequencing noise."""
    return np.clip(rng.normal(purity / 2.0, 0.03), 0.02, 0.99)


def draw_event(
    genomics: Genomics,
    event: Event,
    idx: np.ndarray,
    purity: np.ndarray,
    rng: np.random.Generator,
    hotspots: Mapping[str, Sequence[str]],
) -> None:
    """Write one event (mutation / copy number / loss / fusion) for the samples ``idx``."""
    if len(idx) == 0 or event.kind == "program":
        return
    if event.kind == "mut":
        if event.value is not None:
            change = np.full(len(idx), event.value, dtype=object)
        else:
            options = hotspots.get(event.gene) or [_random_missense(rng)]
            change = np.asarray(options, dtype=object)[rng.integers(0, len(options), len(idx))]
        genomics.add_mutation(idx, event.gene, change, clonal_vaf(purity[idx], rng))
    elif event.kind == "cn":
        genomics.add_cn(idx, event.gene, int(event.value))
    elif event.kind == "loss":
        # Tumour-suppressor inactivation: truncating mutation or deep deletion, half each.
        by_mutation = rng.random(len(idx)) < 0.5
        draw_event(
            genomics,
            Event("mut", event.gene, None),
            idx[by_mutation],
            purity,
            rng,
            {event.gene: hotspots.get(event.gene) or ["p.R100*"]},
        )
        genomics.add_cn(idx[~by_mutation], event.gene, -2)
    elif event.kind == "fusion":
        genomics.add_fusion(idx, event.gene, event.value)


def _random_missense(rng: np.random.Generator) -> str:
    a, b = rng.choice(_AMINO, 2, replace=False)
    return f"p.{a}{int(rng.integers(10, 1200))}{b}"


def draw_baseline_genomics(
    setting: Setting,
    n: int,
    rng: np.random.Generator,
    gp: GlobalParams,
) -> tuple[Genomics, np.ndarray]:
    """Draw the driver and co-alterations of ``n`` baseline samples; return calls and purity."""
    genomics = Genomics()
    purity = rng.uniform(0.2, 0.9, n)
    if setting.drivers:
        freqs = np.array([d.frequency for d in setting.drivers])
        choice = np.searchsorted(np.cumsum(freqs / freqs.sum()), rng.random(n), side="right")
        choice = np.minimum(choice, len(freqs) - 1)
        for k, driver in enumerate(setting.drivers):
            draw_event(
                genomics,
                parse_event(driver.event),
                np.flatnonzero(choice == k),
                purity,
                rng,
                gp.hotspots,
            )
    for co in setting.co_alterations:
        carriers = np.flatnonzero(rng.random(n) < co.prevalence)
        draw_event(genomics, parse_event(co.event), carriers, purity, rng, gp.hotspots)
    return genomics, purity


def draw_passengers(
    genomics: Genomics,
    n: int,
    purity: np.ndarray,
    rng: np.random.Generator,
    gp: GlobalParams,
) -> None:
    """Add passenger mutations (subclonal, random genes and residues) so a model must search."""
    counts = rng.poisson(gp.passengers_per_sample, n)
    total = int(counts.sum())
    if total == 0:
        return
    idx = np.repeat(np.arange(n), counts)
    genes = np.asarray(gp.passenger_genes, dtype=object)[
        rng.integers(0, len(gp.passenger_genes), total)
    ]
    pairs = rng.integers(0, len(_AMINO), (total, 2))
    pairs[:, 1] = np.where(pairs[:, 1] == pairs[:, 0], (pairs[:, 1] + 1) % len(_AMINO), pairs[:, 1])
    pos = rng.integers(10, 2000, total)
    change = np.char.add(
        np.char.add(np.char.add("p.", _AMINO[pairs[:, 0]]), pos.astype(str)), _AMINO[pairs[:, 1]]
    ).astype(object)
    vaf = np.clip(purity[idx] / 2.0 * rng.uniform(0.1, 1.0, total), 0.01, 0.99)
    genomics.add_mutation(idx, genes, change, vaf)


# --------------------------------------------------------------------------------------
# Expression
# --------------------------------------------------------------------------------------


@dataclass
class ExpressionModel:
    """Gene-level constants of the latent-program expression model."""

    genes: list[str]
    programs: list[str]
    loadings: np.ndarray  # genes x programs: +loading (up), -loading (down), 0 (not in program)
    base: np.ndarray  # per-gene baseline log2(TPM+1)

    @classmethod
    def build(
        cls, signatures: Mapping[str, Signature], extra_genes: Sequence[str], loading: float
    ) -> ExpressionModel:
        programs = list(signatures)
        genes = sorted({g for s in signatures.values() for g in s.genes} | set(extra_genes))
        where = {g: i for i, g in enumerate(genes)}
        loadings = np.zeros((len(genes), len(programs)))
        for p, sig in enumerate(signatures.values()):
            for g in sig.up:
                loadings[where[g], p] += loading
            for g in sig.down:
                loadings[where[g], p] -= loading
        rng = np.random.default_rng(GENE_CONSTANTS_SEED)
        base = rng.uniform(3.0, 9.0, len(genes))
        return cls(genes, programs, loadings, base)

    def subset(self, genes: Sequence[str]) -> ExpressionModel:
        keep = [self.genes.index(g) for g in genes]
        return ExpressionModel(list(genes), self.programs, self.loadings[keep], self.base[keep])


def latent_programs(
    n: int,
    model: ExpressionModel,
    means: Mapping[str, float],
    effects: Sequence[tuple[np.ndarray, str, float]],
    sd: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Latent program activity per sample: tumour-type mean + genomic effects + noise."""
    latent = rng.normal(0.0, sd, (n, len(model.programs)))
    for p, program in enumerate(model.programs):
        latent[:, p] += means.get(program, 0.0)
    for present, program, shift in effects:
        latent[:, model.programs.index(program)] += shift * present
    return latent


def expression_values(
    latent: np.ndarray,
    model: ExpressionModel,
    cn: np.ndarray,
    noise_sd: float,
    cn_effect: float,
    ceiling: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """log2(TPM+1) per sample x gene, rounded as written: base + programs + copy number + noise."""
    values = latent @ model.loadings.T
    values += model.base
    values += cn_effect * cn
    values += rng.normal(0.0, noise_sd, values.shape)
    np.clip(values, 0.0, ceiling, out=values)
    return np.round(values, EXPRESSION_DECIMALS)


def cn_matrix(genomics: Genomics, n: int, genes: Sequence[str]) -> np.ndarray:
    """Copy-number state per sample x gene (0 where no call; a later call replaces an earlier)."""
    out = np.zeros((n, len(genes)))
    where = {g: i for i, g in enumerate(genes)}
    for idx, gene, state in zip(genomics.cn_idx, genomics.cn_gene, genomics.cn_state, strict=True):
        for g in set(gene.tolist()) & set(where):
            rows = gene == g
            out[idx[rows], where[g]] = state[rows]
    return out


# --------------------------------------------------------------------------------------
# Observable features
# --------------------------------------------------------------------------------------


def _atom_present(atom: Atom, genomics: Genomics, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    if atom.kind in {"mut", "loss"}:
        idx, gene, change, _ = genomics.arrays("mut")
        rows = gene == atom.name
        if atom.detail is not None:
            rows &= change == atom.detail
        out[idx[rows]] = True
    if atom.kind in {"gain", "amp", "del", "loss"}:
        idx, gene, state = genomics.arrays("cn")
        test = {"gain": state >= 1, "amp": state == 2, "del": state == -2, "loss": state == -2}[
            atom.kind
        ]
        out[idx[(gene == atom.name) & test]] = True
    if atom.kind == "fusion":
        idx, pair, variant = genomics.arrays("fu")
        rows = pair == atom.name
        if atom.detail is not None:
            rows &= variant == atom.detail
        out[idx[rows]] = True
    return out


def expression_feature_genes(features: Sequence[str]) -> list[str]:
    """Genes read directly by ``expr_high`` / ``expr_low`` features."""
    return sorted(
        {a.name for f in features for a in parse_feature(f) if a.kind in {"expr_high", "expr_low"}}
    )


def observable_features(
    features: Sequence[str],
    genomics: Genomics,
    n: int,
    program_z: Mapping[str, np.ndarray],
    expression: Mapping[str, np.ndarray],
    thresholds: Mapping[str, tuple[float, float]],
) -> dict[str, np.ndarray]:
    """Evaluate features (see :func:`~oncoresist.simulate.params.parse_feature`) per sample.

    ``program_z`` holds standardised program scores, ``expression`` the written values of the
    genes that ``expr_high`` / ``expr_low`` read, ``thresholds`` their (25th, 75th)
    percentiles in the setting's reference population. Binary features are 0/1 floats.
    """
    out: dict[str, np.ndarray] = {}
    for feature in dict.fromkeys(features):
        atoms = parse_feature(feature)
        if atoms[0].kind == "program":
            out[feature] = np.asarray(program_z[atoms[0].name], dtype=float)
            continue
        present = np.ones(n, dtype=bool)
        for atom in atoms:
            if atom.kind == "expr_high":
                present &= expression[atom.name] > thresholds[atom.name][1]
            elif atom.kind == "expr_low":
                present &= expression[atom.name] < thresholds[atom.name][0]
            else:
                present &= _atom_present(atom, genomics, n)
        out[feature] = present.astype(float)
    return out


def raw_program_scores(
    values: np.ndarray, genes: Sequence[str], signatures: Mapping[str, Signature]
) -> dict[str, np.ndarray]:
    """Program scores (``programs.program_scores``) of an expression block, by program name."""
    scores = program_scores(pd.DataFrame(values, columns=list(genes)), signatures)
    return {c.removeprefix("program_"): scores[c].to_numpy(float) for c in scores.columns}
