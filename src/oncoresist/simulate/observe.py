"""Re-derive the simulator's truth inputs from a cohort's tables.

The simulator promises that its truth (mechanism log-odds, the hazard's linear predictor) is
a function of what a model can observe at baseline. :func:`truth_features` recomputes those
observable features from the canonical tables alone (baseline samples only), so a test can
check the promise on a cohort written to disk and read back, and later stages can flag
patients carrying a planted cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS, Cohort
from oncoresist.knowledge.programs import load_signatures
from oncoresist.simulate.baseline import Genomics
from oncoresist.simulate.cohort import SimulationResult
from oncoresist.simulate.draw import Context, linear_parts
from oncoresist.simulate.truth import softmax


def _genomics(cohort: Cohort, position: dict[str, int]) -> Genomics:
    genomics = Genomics()
    mut = cohort.mutations[cohort.mutations["sample_id"].isin(position)]
    genomics.add_mutation(
        mut["sample_id"].map(position).to_numpy(np.int64),
        mut["gene"].to_numpy(object),
        mut["protein_change"].to_numpy(object),
        mut["vaf"].to_numpy(float),
    )
    cn = cohort.copy_number[cohort.copy_number["sample_id"].isin(position)]
    genomics.cn_idx.append(cn["sample_id"].map(position).to_numpy(np.int64))
    genomics.cn_gene.append(cn["gene"].to_numpy(object))
    genomics.cn_state.append(cn["cn_state"].to_numpy(float).astype(np.int64))
    fus = cohort.fusions[cohort.fusions["sample_id"].isin(position)]
    genomics.fu_idx.append(fus["sample_id"].map(position).to_numpy(np.int64))
    genomics.fu_pair.append((fus["gene_5p"] + "-" + fus["gene_3p"]).to_numpy(object))
    variant = fus["variant"] if "variant" in fus.columns else pd.Series(None, index=fus.index)
    genomics.fu_variant.append(variant.to_numpy(object))
    return genomics


def truth_features(cohort: Cohort, result: SimulationResult) -> dict[str, pd.DataFrame]:
    """Observable baseline features the truth reads, recomputed from ``cohort``'s tables.

    Parameters
    ----------
    cohort : Cohort
        The simulated cohort, e.g. as read back from its written files.
    result : SimulationResult
        The simulation (for its parameters and calibrated program scales / thresholds).

    Returns
    -------
    dict of str to DataFrame
        Per setting, one row per treatment (indexed by ``treatment_id``): every feature of the
        setting (``mut:TP53``, ``program:met_hgf`` ...), plus ``linear_predictor`` and
        ``prior_p_<mechanism>`` recomputed from them.
    """
    ctx = Context(result.params, load_signatures())
    baseline = cohort.samples[cohort.samples["timepoint"] == "baseline"]
    sample_of = dict(zip(baseline["treatment_id"], baseline["sample_id"], strict=True))
    expression = cohort.expression.set_index("sample_id")
    genes = ctx.truth_model.genes
    out = {}
    for name, truth in result.truths.items():
        setting = result.params.settings[name]
        ids = cohort.treatments.loc[cohort.treatments["setting"] == name, "treatment_id"]
        samples = [sample_of[t] for t in ids]
        position = {s: i for i, s in enumerate(samples)}
        values = expression.loc[samples, genes].to_numpy(float)
        feats = ctx.features(
            setting, truth, _genomics(cohort, position), len(samples), values, genes
        )
        shifts, lp = linear_parts(setting, result.params, feats, len(samples))
        frame = pd.DataFrame(feats, index=pd.Index(ids.to_numpy(), name="treatment_id"))
        frame["linear_predictor"] = lp
        prior = softmax(truth.intercepts[None, :] + shifts)
        for m, mechanism in enumerate(MECHANISMS):
            frame[f"prior_p_{mechanism}"] = prior[:, m]
        out[name] = frame
    return out
