"""Fidelity of the explanations to the simulator's truth: do the drivers point at the causes?

On a simulated cohort the causes are known. The simulator plants them in
``data/params/settings.yaml`` and :func:`oncoresist.simulate.observe.truth_features`
recomputes, from the written tables alone, which treatments carry each one. For every
carrier, the explanation should name the cause among its top drivers of the output the cause
acts on; and globally, every planted cause should matter more than every pure-noise gene.

Drivers are ranked among genomic, expression, program and knowledge features only
(``FeatureBuilder.feature_kinds_``): treatment, setting and clinical features are left out
since the drug and the setting dominate survival. Features from one source are grouped
(``feature_groups_``: ``mut:TP53`` + ``alt:TP53 p.R273H`` + ``expr:TP53`` → "TP53") and their
SHAP values summed, so a cause spread over correlated encodings of one gene counts once.

A cause's groups are those of the model features reading what the truth reads: the genes of
a genomic feature, the fusion of a fusion variant, and for an expression program its score
and the expression of its signature genes (the score is their mean).

Drivers are ranked *within the patient's setting*: each row's grouped attributions are taken
relative to the mean attribution of its setting's rows. What every patient of a setting shares
(an ALK fusion in an ALK setting, a setting's typical program levels) then credits no one, and
a carrier's hit must come from what sets it apart from its setting: the variant, not the
fusion every ALK patient carries. A group whose relative attribution is exactly zero is never
counted as a driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.explain.attributions import Explanation, explain_features
from oncoresist.explain.drivers import SURVIVAL_MODEL, group_matrix
from oncoresist.io.inputs import read_cohort
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.knowledge.programs import load_signatures
from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.draw import mechanism_shifts
from oncoresist.simulate.observe import truth_features
from oncoresist.simulate.output import read_simulation
from oncoresist.simulate.params import SimulationParams

#: Feature kinds drivers are ranked among (treatment, setting and clinical excluded).
RANKED_KINDS = ("genomic", "expression", "program", "knowledge")
#: The bar a cause must meet: share of carriers with the cause in their top-k drivers.
FIDELITY_BAR = 0.90
TOP_K = 3


@dataclass(frozen=True)
class PlantedCause:
    """A cause the simulator planted, the output it acts on, and who carries it.

    Attributes
    ----------
    name : str
        Metric suffix (``fidelity_<name>``).
    truth_feature : str
        Column of :func:`~oncoresist.simulate.observe.truth_features` (simulator syntax).
    output : str
        ``"mechanism:<class>"`` or :data:`~oncoresist.explain.attributions.SURVIVAL_MODEL`.
    threshold : float
        A treatment carries the cause when its truth feature is at least this (1 for
        alterations; for a program, standardised within the setting, 1 SD above the mean).
    """

    name: str
    truth_feature: str
    output: str
    threshold: float = 1.0


PLANTED_CAUSES = (
    PlantedCause("tp53_rb1_lineage", "mut:TP53&loss:RB1", "mechanism:lineage"),
    PlantedCause("eml4_alk_v3_on_target", "fusion:EML4-ALK:v3", "mechanism:on_target"),
    PlantedCause("met_program_bypass", "program:met_hgf", "mechanism:bypass"),
    PlantedCause("tp53_time", "mut:TP53", SURVIVAL_MODEL),
)


@dataclass
class FidelityReport:
    """Per-cause carrier fidelity, the global ranking against noise genes, and the metrics."""

    metrics: dict[str, float]
    causes: pd.DataFrame
    global_ranking: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def passed(self) -> bool:
        """Every cause with carriers meets :data:`FIDELITY_BAR` and beats every noise gene."""
        rated = self.causes.dropna(subset=["fidelity"])
        return bool(
            (rated["fidelity"] >= FIDELITY_BAR).all()
            and self.metrics.get("fidelity_global_noise_rank", 0.0) == 1.0
        )


def cause_groups(cause: PlantedCause, builder: Any, signatures: dict | None = None) -> list[str]:
    """Feature groups of the builder that carry ``cause`` (see the module docstring)."""
    groups = builder.feature_groups_
    wanted: set[str] = set()
    for part in cause.truth_feature.split("&"):
        kind, _, rest = part.partition(":")
        if kind == "program":
            signatures = signatures or load_signatures()
            wanted.add(f"program:{rest}")
            wanted.update(f"expr:{g}" for g in signatures[rest].genes)
        elif kind == "fusion":
            pair = rest.split(":", 1)[0]
            wanted.update(
                f for f in groups if f.startswith((f"fusion:{pair}", f"fusion_variant:{pair}"))
            )
        else:  # mut / loss / gain / amp / del / expr_high / expr_low: the gene
            gene = rest.split(":", 1)[0]
            wanted.update(f for f, g in groups.items() if g == gene)
    return sorted({groups[f] for f in wanted if f in groups})


def _applies(cause: PlantedCause, setting: Any, params: Any) -> bool:

    if cause.output == SURVIVAL_MODEL:
        return any(r.feature == cause.truth_feature for r in setting.risk_factors)
    mechanism = cause.output.split(":", 1)[1]
    return any(
        s.feature == cause.truth_feature and s.mechanism == mechanism
        for s in mechanism_shifts(setting, params)
    )


def carriers(truth: dict[str, pd.DataFrame], params: Any, cause: PlantedCause) -> pd.Index:
    """Treatment ids carrying ``cause`` in settings whose truth uses it for its output."""
    ids = []
    for name, frame in truth.items():
        if cause.truth_feature in frame and _applies(cause, params.settings[name], params):
            ids.append(frame.index[frame[cause.truth_feature].to_numpy(float) >= cause.threshold])
    return pd.Index(np.concatenate(ids) if ids else [], name="treatment_id")


def fidelity_report(
    bundle: Any,
    features: pd.DataFrame,
    treatment_ids: pd.Series | np.ndarray,
    truth: dict[str, pd.DataFrame],
    params: Any,
    noise_genes: list[str],
    k: int = TOP_K,
    explanation: Explanation | None = None,
    settings: pd.Series | np.ndarray | None = None,
) -> FidelityReport:
    """Measure how often, and how strongly, the explanations name the planted causes.

    Parameters
    ----------
    bundle : ResistanceBundle
    features : DataFrame
        Feature matrix of the held-out rows (``bundle.features(test_profiles)``).
    treatment_ids : array
        Their treatment ids (keys of ``truth``).
    truth : dict of str to DataFrame
        :func:`~oncoresist.simulate.observe.truth_features` of the cohort.
    params : SimulationParams
    noise_genes : list of str
        Expressed genes with no role in the truth (``SimulationResult.noise_genes``).
    k : int
        A carrier counts when one of the cause's groups is among its top-``k`` groups.
    explanation : Explanation, optional
        Attributions of ``features`` (computed when not given).
    settings : array, optional
        Each row's setting; attributions are ranked relative to the setting's mean (see the
        module docstring). None treats all rows as one setting.

    Returns
    -------
    FidelityReport
        ``metrics``: ``fidelity_<cause>`` (share of carriers; NaN without carriers) and
        ``fidelity_global_noise_rank`` (over causes, the smallest share of noise genes whose
        mean |SHAP| is below the cause's; 1.0 = every cause above every noise gene).
    """
    builder = bundle.feature_builder
    explanation = explanation or explain_features(bundle, features)
    names = explanation.feature_names
    kinds = builder.feature_kinds_
    allowed = np.array([kinds.get(f) in RANKED_KINDS for f in names])
    groups, matrix = group_matrix(names, builder.feature_groups_)
    matrix = matrix * allowed[:, None]
    ranked = matrix.any(axis=0)
    position = pd.Index(np.asarray(treatment_ids, dtype=object))
    setting_codes = pd.factorize(
        np.zeros(len(position)) if settings is None else np.asarray(settings, dtype=object)
    )[0]
    expr_groups = {g: builder.feature_groups_.get(f"expr:{g}") for g in noise_genes}
    noise = sorted({grp for grp in expr_groups.values() if grp is not None})
    noise_cols = [groups.index(g) for g in noise if g in groups]
    rows, global_rows = [], []
    metrics: dict[str, float] = {}
    for cause in PLANTED_CAUSES:
        wanted = [groups.index(g) for g in cause_groups(cause, builder) if g in groups]
        summed = _relative_to_setting(
            explanation.contributions(cause.output) @ matrix, setting_codes
        )  # (n, groups)
        magnitude = np.where(ranked, np.abs(summed), -np.inf)
        top = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
        # a zero attribution drives nothing, even when ties put it in the top k
        top_is_driver = np.take_along_axis(magnitude, top, axis=1) > 0
        hit = (
            (np.isin(top, wanted) & top_is_driver).any(axis=1)
            if wanted
            else np.zeros(len(top), bool)
        )
        carrying = position.isin(carriers(truth, params, cause))
        n = int(carrying.sum())
        share = float(hit[carrying].mean()) if n else float("nan")
        sign = -1.0 if cause.output == SURVIVAL_MODEL else 1.0  # shorter time / higher odds
        right_way = (sign * summed[:, wanted].sum(axis=1) > 0) if wanted else hit
        metrics[f"fidelity_{cause.name}"] = share
        importance = np.abs(summed).mean(axis=0)
        cause_importance = float(importance[wanted].max()) if wanted else 0.0
        noise_importance = importance[noise_cols]
        below = float((noise_importance < cause_importance).mean()) if noise_cols else 1.0
        order = np.argsort(-np.where(ranked, importance, -np.inf), kind="stable")
        rank = int(np.flatnonzero(np.isin(order, wanted))[0]) + 1 if wanted else -1
        rows.append(
            {
                "cause": cause.name,
                "output": cause.output,
                "groups": "; ".join(groups[j] for j in wanted),
                "carriers": n,
                "fidelity": share,
                "right_direction": (
                    float(right_way[carrying & hit].mean()) if (carrying & hit).any() else np.nan
                ),
                "meets_bar": bool(n and share >= FIDELITY_BAR),
            }
        )
        global_rows.append(
            {
                "cause": cause.name,
                "output": cause.output,
                "cause_mean_abs_shap": cause_importance,
                "cause_global_rank": rank,
                "max_noise_mean_abs_shap": float(noise_importance.max()) if noise_cols else 0.0,
                "top_noise_gene": noise[int(np.argmax(noise_importance))] if noise_cols else "",
                "share_noise_genes_below": below,
                "noise_genes": len(noise_cols),
            }
        )
    global_table = pd.DataFrame(global_rows)
    metrics["fidelity_global_noise_rank"] = float(global_table["share_noise_genes_below"].min())
    return FidelityReport(metrics, pd.DataFrame(rows), global_table)


def _relative_to_setting(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each row minus the mean row of its setting (``codes`` from :func:`pandas.factorize`)."""
    counts = np.bincount(codes)
    means = np.zeros((len(counts), values.shape[1]))
    np.add.at(means, codes, values)
    return values - (means / counts[:, None])[codes]


def simulation_truth(data_dir: str | Path) -> tuple[dict[str, pd.DataFrame], Any, list[str]]:
    """Recompute the truth's observable features of a written simulated cohort.

    Returns ``(truth_features, params, noise_genes)``. The calibrated truth is rebuilt from
    ``simulation.yaml`` (same parameters and settings: calibration is deterministic), and the
    features are read back from the written tables, never from ``ground_truth.parquet``.
    """
    folder = Path(data_dir)
    meta = read_simulation(folder)
    params = SimulationParams.model_validate(meta["parameters"])
    result = simulate_cohort(
        n=1,
        seed=int(meta["seed"]),
        settings=list(meta["settings"]),
        rebiopsy_rate=meta["rebiopsy_rate"],
        censoring=meta["censoring_target"],
        unexplained_to_epigenetic=meta["unexplained_to_epigenetic"],
        params=params,
    )
    cohort = read_cohort(folder)
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    return truth_features(cohort, result), params, list(result.noise_genes)


def fidelity_for_training(
    bundle: Any, data_dir: str | Path, test_profiles: pd.DataFrame, features: pd.DataFrame
) -> FidelityReport:
    """Fidelity on the held-out rows of a training run on a simulated cohort."""
    truth, params, noise = simulation_truth(data_dir)
    return fidelity_report(
        bundle,
        features,
        test_profiles["treatment_id"],
        truth,
        params,
        noise,
        settings=test_profiles["setting"],
    )


__all__ = [
    "FIDELITY_BAR",
    "PLANTED_CAUSES",
    "FidelityReport",
    "PlantedCause",
    "carriers",
    "cause_groups",
    "fidelity_for_training",
    "fidelity_report",
    "simulation_truth",
]
