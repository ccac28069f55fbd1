"""Spelling canonical tables as profile-frame text, one vectorised pass per table.

Helpers of :func:`oncoresist.features.profiles.cohort_to_profiles`. Each takes the cohort, the
(treatment, baseline sample) pairs and the treatments' order, and returns one value per
treatment: ``"EGFR p.L858R; TP53 p.R273H"``, ``"MET amp"``, ``"EML4-ALK v3"``, the panel's
genes, or the mean expression. Sorting and de-duplication are vectorised; Python touches each
distinct spelling once and each treatment once (a pandas groupby with a Python aggregation
costs ~50x more on 100,000 treatments).
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.contract.alterations import normalise_fusion_variant, normalise_protein_change

__all__ = [
    "CN_STATE_WORDS",
    "EXPRESSION_PREFIX",
    "SEPARATOR",
    "cna_text",
    "fusion_text",
    "fusion_token",
    "gc_paused",
    "join_by_position",
    "mean_expression",
    "mutation_text",
    "panel_text",
    "positions",
]

EXPRESSION_PREFIX = "expr_"
#: The word written for each non-neutral copy-number state.
CN_STATE_WORDS: dict[int, str] = {2: "amp", 1: "gain", -1: "loss", -2: "del"}
#: Between two alterations of one list.
SEPARATOR = "; "


def fusion_token(gene_5p: str, gene_3p: str, variant: str | None = None) -> str:
    """Write one fusion as the profile frame spells it: ``EML4-ALK v3``.

    ``::`` joins the partners when either symbol holds a hyphen (``NKX2-1::ALK``), so the
    text always splits back into the same two genes.
    """
    joiner = "::" if "-" in gene_5p or "-" in gene_3p else "-"
    name = f"{gene_5p}{joiner}{gene_3p}"
    return name if not variant else f"{name} {variant}"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while alteration text is built or parsed.

    100,000 profiles mean about a million short-lived strings and tuples (no reference
    cycles); each allocation burst would otherwise trigger collections that rescan the
    caller's whole heap (often a large cohort): about a third of the run time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: The usual, already normalised substitution (``p.L858R``): no need to parse it again.
_CANONICAL_SUBSTITUTION = re.compile(r"p\.[ACDEFGHIKLMNPQRSTVWY]\d+[ACDEFGHIKLMNPQRSTVWY*]")


def _normalise_change(change: object) -> str | None:
    # Canonical tables from the readers are already normalised; hand-made tables may not be.
    if isinstance(change, str) and _CANONICAL_SUBSTITUTION.fullmatch(change):
        return change
    try:
        return normalise_protein_change(change)
    except ValueError:
        return None if change is None or pd.isna(change) else str(change).strip()


def _normalise_variant(name: str, variant: object) -> str | None:
    if variant is None or pd.isna(variant):
        return None
    text = str(variant).strip()
    # Variants are often written with the fusion name ("EML4-ALK v3"): keep the variant only.
    for prefix in (name, name.replace("-", "::"), name.replace("::", "-")):
        if text.upper().startswith(prefix.upper()):
            text = text[len(prefix) :].strip()
            break
    return normalise_fusion_variant(text)


def join_by_position(position: np.ndarray, tokens: np.ndarray, n: int, sep: str) -> np.ndarray:
    """Join the tokens of each row position (sorted, unique) with ``sep``; ``""`` when none.

    Vectorised sort and de-duplication, then one ``str.join`` per row: a groupby with a
    Python aggregation costs ~50x more on 100,000 treatments.
    """
    out = np.full(n, "", dtype=object)
    if len(position) == 0:
        return out
    codes, uniques = pd.factorize(np.asarray(tokens, dtype=object), sort=True)
    order = np.lexsort((codes, position))
    position, codes = position[order], codes[order]
    new = np.ones(len(position), dtype=bool)
    new[1:] = (position[1:] != position[:-1]) | (codes[1:] != codes[:-1])
    position, codes = position[new], codes[new]
    words = np.asarray(uniques, dtype=object)[codes].tolist()
    starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
    ends = np.r_[starts[1:], len(position)]
    for row, a, b in zip(position[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
        out[row] = sep.join(words[a:b])
    return out


def positions(order: pd.Index, treatment_ids: pd.Series) -> np.ndarray:
    """Row position of each treatment id in ``order`` (-1 when absent)."""
    return order.get_indexer(treatment_ids.to_numpy(dtype=object))


def mutation_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """``"EGFR p.L858R; TP53 p.R273H"`` per treatment (a gene alone when no protein change)."""
    muts = pairs.merge(cohort.mutations[["sample_id", "gene", "protein_change"]], on="sample_id")
    changes = muts["protein_change"].to_numpy(dtype=object)
    normalised = {c: _normalise_change(c) for c in pd.unique(changes) if isinstance(c, str)}
    spelled = [normalised.get(c) if isinstance(c, str) else None for c in changes]
    tokens = [
        g if c is None else f"{g} {c}"
        for g, c in zip(muts["gene"].to_numpy(dtype=object), spelled, strict=True)
    ]
    return join_by_position(positions(order, muts["treatment_id"]), tokens, len(order), SEPARATOR)


def cna_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """``"CDKN2A del; MET amp"`` per treatment (copy-neutral calls are not written)."""
    cna = pairs.merge(cohort.copy_number[["sample_id", "gene", "cn_state"]], on="sample_id")
    cna = cna[cna["cn_state"].fillna(0) != 0]
    # Several baseline samples may disagree: keep the most extreme call per gene (ties → the
    # gain), so a focal amplification seen in one biopsy is not averaged away.
    state = cna["cn_state"].astype(int)
    cna = cna.assign(_abs=state.abs(), _state=state)
    cna = cna.sort_values(["treatment_id", "gene", "_abs", "_state"], ascending=False)
    cna = cna.drop_duplicates(["treatment_id", "gene"])
    tokens = [
        f"{g} {CN_STATE_WORDS[s]}"
        for g, s in zip(cna["gene"].to_numpy(dtype=object), cna["_state"].tolist(), strict=True)
    ]
    return join_by_position(positions(order, cna["treatment_id"]), tokens, len(order), SEPARATOR)


def fusion_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """``"EML4-ALK v3; KIF5B-RET"`` per treatment."""
    columns = ["sample_id", "gene_5p", "gene_3p"]
    if "variant" in cohort.fusions.columns:
        columns.append("variant")
    fus = pairs.merge(cohort.fusions[columns], on="sample_id")
    variants = fus["variant"] if "variant" in fus.columns else pd.Series(None, index=fus.index)
    keys = list(
        zip(
            fus["gene_5p"].to_numpy(dtype=object),
            fus["gene_3p"].to_numpy(dtype=object),
            variants.to_numpy(dtype=object),
            strict=True,
        )
    )
    spelled = {
        (g5, g3, v): fusion_token(g5, g3, _normalise_variant(fusion_token(g5, g3), v))
        for g5, g3, v in set(keys)
    }
    tokens = [spelled[key] for key in keys]
    return join_by_position(positions(order, fus["treatment_id"]), tokens, len(order), SEPARATOR)


def panel_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """The genes tested per treatment (``;``-joined), or ``""`` when every gene was tested.

    ``""`` unless all of a treatment's baseline samples were sequenced on gene panels; then
    the union of those panels' genes.
    """
    n = len(order)
    everything = np.full(n, "", dtype=object)
    if cohort.gene_panels is None or "panel_id" not in cohort.samples.columns:
        return everything
    with_panel = pairs.merge(cohort.samples[["sample_id", "panel_id"]], on="sample_id")
    position = positions(order, with_panel["treatment_id"])
    panel = with_panel["panel_id"].to_numpy(dtype=object)
    missing = pd.isna(panel)
    # A sample with no panel was sequenced genome- or exome-wide: every gene was tested.
    whole = np.zeros(n, dtype=bool)
    whole[position[missing]] = True
    keep = ~missing & ~whole[position]
    combos = join_by_position(position[keep], panel[keep], n, "|")
    # Few distinct panel combinations, many treatments: spell each combination once and let
    # the rows share one string object (a 500-gene list per row would be huge).
    genes_by_panel = {p: set(g) for p, g in cohort.gene_panels.groupby("panel_id")["gene"]}
    spelled = {"": ""}
    for combo in set(combos.tolist()) - {""}:
        genes = set().union(*(genes_by_panel.get(p, set()) for p in combo.split("|")))
        spelled[combo] = ";".join(sorted(genes))
    return np.asarray([spelled[c] for c in combos.tolist()], dtype=object)


def mean_expression(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """Mean expression over each treatment's baseline samples that have a value."""
    genes = cohort.genes_with_expression
    columns = [f"{EXPRESSION_PREFIX}{g}" for g in genes]
    n = len(order)
    if not genes:
        return pd.DataFrame(index=range(n))
    matrix = cohort.expression[genes].to_numpy(dtype=float)
    sample_row = pd.Index(cohort.expression["sample_id"].to_numpy(dtype=object)).get_indexer(
        pairs["sample_id"].to_numpy(dtype=object)
    )
    position = positions(order, pairs["treatment_id"])
    has = sample_row >= 0
    sample_row, position = sample_row[has], position[has]
    out = np.full((n, len(genes)), np.nan)
    if np.bincount(position, minlength=n).max(initial=0) <= 1:
        out[position] = matrix[sample_row]  # one sample per treatment: no averaging
    elif len(position):
        sort = np.argsort(position, kind="stable")
        position, values = position[sort], matrix[sample_row[sort]]
        starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
        present = ~np.isnan(values)
        total = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0)
        count = np.add.reduceat(present, starts, axis=0)
        mean = np.full(total.shape, np.nan)
        np.divide(total, count, out=mean, where=count > 0)
        out[position[starts]] = mean
    return pd.DataFrame(out, columns=columns, copy=False)
