"""Shifted copies of a profile frame, to measure how well ``ood_score`` sees a shift.

Issue 9 asks that ``ood_score`` alone (no rule-based reason) separate shifted from
in-distribution profiles with AUROC >= 0.9, on shifts where the drug *was* seen in training.
Each shift below keeps the row's drug and changes one thing a scoring input can get wrong:

``expression_programs``
    Every gene of the EMT and T-cell-inflamed programs (up and down genes alike) raised by
    ``PROGRAM_SHIFT`` log2 units (16-fold), capped inside the log2(TPM+1) range the scale
    check accepts: the inflamed program far above its training range, and EMT genes out of
    their usual relation to one another. A shift *along* the training's main axes of
    variation is harder: moving EMT coherently (up genes up, down genes down, 4 log2 units)
    gave AUROC 0.77 on the 2,500-treatment model of ``tests/test_uncertainty.py``.
``unseen_cancer_type``
    The cancer type replaced by a cancer type oncoresist knows (``data/knowledge``) but the
    model never saw in training, with the same (seen) drug; the setting is re-derived from the
    new cancer type, as the scorer would. Training cannot hold a cancer type out of its own
    cohort, so this is the label part of the shift: the alterations and expression stay those
    of a seen cancer type. A fully held-out type (genome and expression too) is tested in
    ``tests/test_uncertainty.py`` with a model trained without melanoma.
``unnormalised_counts``
    Expression as library-size counts (~``COUNT_FACTOR`` x TPM) instead of TPM, log2(x + 1)
    transformed and capped below 20, so that the builder's scale check lets it through. Counts
    that were not log-transformed at all (values above 20) never reach a score: the builder
    refuses them as an input error.

:func:`ood_shift_auroc` scores the unshifted rows and each shifted copy of the same rows and
returns ``ood_auroc_<shift>`` (shifted = positive) and ``ood_auroc_min``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from oncoresist.features.inputs import expression_map
from oncoresist.features.profiles import annotate_profiles
from oncoresist.knowledge.annotate import cancer_types
from oncoresist.knowledge.programs import load_signatures

SHIFTS = ("expression_programs", "unseen_cancer_type", "unnormalised_counts")
SHIFTED_PROGRAMS = ("emt", "immune_inflamed")
#: log2 units added to the shifted programs' genes.
PROGRAM_SHIFT = 4.0
#: Library-size factor of the counts shift (~50 reads per TPM).
COUNT_FACTOR = 50.0
#: Shifted values stay below the largest log2(TPM+1) value the scale check accepts (20).
LOG2_CEILING = 19.5


def shift_expression_programs(
    profiles: pd.DataFrame,
    programs: tuple[str, ...] = SHIFTED_PROGRAMS,
    delta: float = PROGRAM_SHIFT,
) -> pd.DataFrame | None:
    """Copy with every gene of ``programs`` raised by ``delta`` log2 units (capped).

    Returns None when the frame has none of the programs' genes (nothing to shift).
    """
    signatures = load_signatures()
    columns = expression_map(profiles)
    genes = [columns.get(g.upper()) for p in programs for g in signatures[p].genes]
    genes = list(dict.fromkeys(g for g in genes if g is not None))
    if not genes:
        return None
    out = profiles.copy()
    out[genes] = np.minimum(out[genes].astype(float) + delta, LOG2_CEILING)
    return out


def shift_to_counts(profiles: pd.DataFrame, factor: float = COUNT_FACTOR) -> pd.DataFrame | None:
    """Copy with log2(TPM+1) replaced by log2(factor x TPM + 1); None without expression."""
    columns = list(expression_map(profiles).values())
    if not columns:
        return None
    out = profiles.copy()
    tpm = np.exp2(out[columns].astype(float).to_numpy()) - 1.0
    out[columns] = np.minimum(np.log2(factor * tpm + 1.0), LOG2_CEILING)
    return out


def unseen_cancer_type(seen: Any) -> str | None:
    """The first cancer type of the knowledge base (file order) not in ``seen``; None if all are."""
    known = set(map(str, seen))
    return next((code for code in cancer_types() if code not in known), None)


def shift_cancer_type(profiles: pd.DataFrame, cancer_type: str) -> pd.DataFrame:
    """Copy with every row's cancer type replaced and its setting re-derived (same drug)."""
    out = profiles.drop(columns=["setting"], errors="ignore").assign(cancer_type=cancer_type)
    annotated, _ = annotate_profiles(out, errors="collect")
    return annotated


def shifted_profiles(profiles: pd.DataFrame, training_cancer_types: Any) -> dict[str, pd.DataFrame]:
    """Shifted copies of ``profiles`` by shift name; a shift that cannot be built is left out.

    ``training_cancer_types``: the cancer types the model saw (the feature builder's
    ``categories_["cancer_type"]``).
    """
    out: dict[str, pd.DataFrame] = {}
    programs = shift_expression_programs(profiles)
    if programs is not None:
        out["expression_programs"] = programs
    cancer_type = unseen_cancer_type(training_cancer_types)
    if cancer_type is not None:
        out["unseen_cancer_type"] = shift_cancer_type(profiles, cancer_type)
    counts = shift_to_counts(profiles)
    if counts is not None:
        out["unnormalised_counts"] = counts
    return out


def ood_shift_auroc(
    detector: Any,
    builder: Any,
    profiles: pd.DataFrame,
    features: pd.DataFrame | None = None,
    shifts: dict[str, pd.DataFrame] | None = None,
) -> dict[str, float]:
    """AUROC of ``ood_score`` for each shifted copy (positive) against the unshifted rows.

    Parameters
    ----------
    detector : OutOfDistributionDetector
        Fitted detector (``bundle.extras["ood"]``).
    builder : FeatureBuilder
        The fitted feature builder (turns shifted profiles into features).
    profiles : DataFrame
        In-distribution profiles (e.g. the test split).
    features : DataFrame, optional
        ``builder.transform(profiles)`` when already built.
    shifts : dict of str to DataFrame, optional
        Shifted copies of ``profiles`` by name; default :func:`shifted_profiles`.

    Returns
    -------
    dict
        ``ood_auroc_<name>`` for each shifted copy, and ``ood_auroc_min``; empty with fewer
        than two rows.
    """
    if len(profiles) < 2:
        return {}
    profiles = profiles.reset_index(drop=True)
    base = builder.transform(profiles) if features is None else features.reset_index(drop=True)
    inside = detector.score(base, profiles)["ood_score"].to_numpy(dtype=float)
    out: dict[str, float] = {}
    if shifts is None:
        shifts = shifted_profiles(profiles, builder.categories_["cancer_type"])
    for name, shifted in shifts.items():
        outside = detector.score(builder.transform(shifted), shifted)["ood_score"]
        labels = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
        out[f"ood_auroc_{name}"] = float(roc_auc_score(labels, np.r_[inside, outside]))
    if out:
        out["ood_auroc_min"] = min(out.values())
    return out
