"""The profile frame: one row per patient-treatment, the one input every model consumes.

A *profile frame* has the columns of the clinicians' profile sheet (DESIGN.md):

``patient_id, treatment_id, cancer_type, drug, line_number, age_years, sex, setting,
drug_class, target, mutations, copy_number, fusions, panel_genes`` and ``expr_<GENE>``
columns (log2(TPM+1), NaN = missing), with alterations written as text:

* ``mutations``: ``"EGFR p.L858R; TP53 p.R273H"`` (a gene alone when the protein change is
  unknown);
* ``copy_number``: ``"MET amp; CDKN2A del"`` (amp = +2, gain = +1, loss = -1, del = -2);
* ``fusions``: ``"EML4-ALK v3; KIF5B-RET"`` (``GENE5::GENE3`` when a symbol holds a hyphen);
* ``panel_genes``: ``""`` when every gene was tested, else the ``;``-separated genes tested.

:func:`cohort_to_profiles` builds it from canonical tables, using **baseline samples only**,
so the feature builder, the MLflow bundle and the batch scorer all see the same thing at
training and at scoring time. The frame carries its expression scale in
``frame.attrs["expression_scale"]``.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from oncoresist.alterations import normalise_fusion_variant, normalise_protein_change
from oncoresist.contract import Cohort, baseline_samples
from oncoresist.exceptions import InputDataError, Problem

__all__ = [
    "CN_STATE_WORDS",
    "EXPRESSION_PREFIX",
    "PROFILE_ALTERATION_COLUMNS",
    "PROFILE_COLUMNS",
    "PROFILE_ID_COLUMNS",
    "PROFILE_OPTIONAL_COLUMNS",
    "PROFILE_PATIENT_COLUMNS",
    "PROFILE_TREATMENT_COLUMNS",
    "annotate_profiles",
    "cohort_to_profiles",
    "expression_columns",
    "fusion_token",
    "gc_paused",
    "outcomes_for_profiles",
]

PROFILE_ID_COLUMNS: tuple[str, ...] = ("patient_id", "treatment_id")
PROFILE_PATIENT_COLUMNS: tuple[str, ...] = ("cancer_type", "age_years", "sex")
PROFILE_TREATMENT_COLUMNS: tuple[str, ...] = (
    "drug",
    "line_number",
    "setting",
    "drug_class",
    "target",
)
PROFILE_ALTERATION_COLUMNS: tuple[str, ...] = ("mutations", "copy_number", "fusions", "panel_genes")
#: The sheet's columns, in the sheet's order (expression columns follow).
PROFILE_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "treatment_id",
    "cancer_type",
    "drug",
    "line_number",
    "age_years",
    "sex",
    "setting",
    "drug_class",
    "target",
    "mutations",
    "copy_number",
    "fusions",
    "panel_genes",
)
#: Added when known: drug generation and combination flag (from the drug catalogue), and
#: how many baseline samples a treatment has (0 = nothing profiled: genomic features missing).
PROFILE_OPTIONAL_COLUMNS: tuple[str, ...] = ("generation", "is_combination", "n_baseline_samples")
EXPRESSION_PREFIX = "expr_"
#: The word written for each non-neutral copy-number state.
CN_STATE_WORDS: dict[int, str] = {2: "amp", 1: "gain", -1: "loss", -2: "del"}
SEPARATOR = "; "

_ANNOTATION_COLUMNS = ("setting", "drug_class", "target", "generation")


def expression_columns(profiles: pd.DataFrame) -> list[str]:
    """Return the ``expr_<GENE>`` columns of a profile frame, in frame order."""
    return [c for c in profiles.columns if str(c).startswith(EXPRESSION_PREFIX)]


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


def _join_by_position(position: np.ndarray, tokens: np.ndarray, n: int, sep: str) -> np.ndarray:
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


def _positions(order: pd.Index, treatment_ids: pd.Series) -> np.ndarray:
    return order.get_indexer(treatment_ids.to_numpy(dtype=object))


def _mutation_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    muts = pairs.merge(cohort.mutations[["sample_id", "gene", "protein_change"]], on="sample_id")
    changes = muts["protein_change"].to_numpy(dtype=object)
    normalised = {c: _normalise_change(c) for c in pd.unique(changes) if isinstance(c, str)}
    spelled = [normalised.get(c) if isinstance(c, str) else None for c in changes]
    tokens = [
        g if c is None else f"{g} {c}"
        for g, c in zip(muts["gene"].to_numpy(dtype=object), spelled, strict=True)
    ]
    return _join_by_position(_positions(order, muts["treatment_id"]), tokens, len(order), SEPARATOR)


def _cna_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
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
    return _join_by_position(_positions(order, cna["treatment_id"]), tokens, len(order), SEPARATOR)


def _fusion_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
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
    return _join_by_position(_positions(order, fus["treatment_id"]), tokens, len(order), SEPARATOR)


def _panel_genes(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """``""`` (every gene tested) unless all of a treatment's baseline samples were on panels."""
    n = len(order)
    everything = np.full(n, "", dtype=object)
    if cohort.gene_panels is None or "panel_id" not in cohort.samples.columns:
        return everything
    with_panel = pairs.merge(cohort.samples[["sample_id", "panel_id"]], on="sample_id")
    position = _positions(order, with_panel["treatment_id"])
    panel = with_panel["panel_id"].to_numpy(dtype=object)
    missing = pd.isna(panel)
    # A sample with no panel was sequenced genome- or exome-wide: every gene was tested.
    whole = np.zeros(n, dtype=bool)
    whole[position[missing]] = True
    keep = ~missing & ~whole[position]
    combos = _join_by_position(position[keep], panel[keep], n, "|")
    # Few distinct panel combinations, many treatments: spell each combination once and let
    # the rows share one string object (a 500-gene list per row would be huge).
    genes_by_panel = {p: set(g) for p, g in cohort.gene_panels.groupby("panel_id")["gene"]}
    spelled = {"": ""}
    for combo in set(combos.tolist()) - {""}:
        genes = set().union(*(genes_by_panel.get(p, set()) for p in combo.split("|")))
        spelled[combo] = ";".join(sorted(genes))
    return np.asarray([spelled[c] for c in combos.tolist()], dtype=object)


def _expression(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
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
    position = _positions(order, pairs["treatment_id"])
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


def annotate_profiles(
    profiles: pd.DataFrame, errors: Literal["raise", "collect"] = "raise"
) -> pd.DataFrame | tuple[pd.DataFrame, list[Problem]]:
    """Fill missing treatment annotations (setting, drug class, target, generation).

    Values already present win; only absent columns or empty cells are filled from the drug
    catalogue (:func:`oncoresist.knowledge.annotate_treatments`), and then ``drug`` is
    rewritten to its canonical name (brand names → INN) so that training and scoring spell
    a drug one way. ``is_combination`` is read from the drug text (``drug+drug``) when absent.
    The catalogue is asked once per distinct (cancer type, drug, line), not once per row.

    Parameters
    ----------
    profiles : DataFrame
        A profile frame (needs ``patient_id, treatment_id, cancer_type, drug, line_number``).
    errors : {"raise", "collect"}
        ``"raise"``: a drug the catalogue cannot resolve raises. ``"collect"``: such rows keep
        their drug text and get missing annotations (a scorer flags them as unseen), and the
        problems are returned (row = position + 2).

    Returns
    -------
    DataFrame, or (DataFrame, list of Problem) with ``errors="collect"``

    Raises
    ------
    UnknownDrugError
        (``errors="raise"``) when a drug that needs annotating is not in the catalogue.
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    out = profiles.copy()
    problems: list[Problem] = []
    # Generation is legitimately empty for most drug classes: fill it only when absent.
    needs = [
        c
        for c in _ANNOTATION_COLUMNS
        if c not in out.columns or (c != "generation" and out[c].isna().any())
    ]
    if needs:
        from oncoresist.knowledge import annotate_treatments

        keys = ["cancer_type", "drug", "line_number"]
        rows = out[keys].astype(object)
        # Each distinct (cancer type, drug, line) is one pseudo-patient and one treatment.
        combos = rows.drop_duplicates().reset_index(drop=True)
        code = rows.merge(combos.reset_index(), on=keys, how="left")["index"].to_numpy()
        ids = [f"combo{i}" for i in range(len(combos))]
        treatments = combos.assign(patient_id=ids, treatment_id=ids)
        patients = pd.DataFrame({"patient_id": ids, "cancer_type": combos["cancer_type"]})
        if errors == "raise":
            annotated = annotate_treatments(treatments, patients)
        else:
            annotated, found = annotate_treatments(treatments, patients, errors="collect")
            for problem in found:
                combo = None if problem.row is None else problem.row - 2
                for pos in np.flatnonzero(code == combo):
                    problems.append(replace(problem, source="profiles", row=int(pos) + 2))
        # Rows of combinations that could not be resolved stay unannotated (NaN).
        annotated = annotated.reindex(range(len(combos)))
        for column in needs:
            known = annotated[column].to_numpy(dtype=object)[code]
            if column in out.columns:
                out[column] = out[column].where(out[column].notna(), known)
            else:
                out[column] = known
        canonical = annotated["drug"].to_numpy(dtype=object)[code]
        out["drug"] = np.where(pd.isna(canonical), out["drug"].to_numpy(dtype=object), canonical)
        if "generation" in needs:
            out["generation"] = pd.to_numeric(out["generation"], errors="coerce")
    if "is_combination" not in out.columns:
        out["is_combination"] = out["drug"].astype(str).str.contains("+", regex=False)
    return (out, problems) if errors == "collect" else out


def cohort_to_profiles(cohort: Cohort) -> pd.DataFrame:
    """Build the profile frame of a cohort: one row per treatment, baseline samples only.

    Parameters
    ----------
    cohort : Cohort
        Validated canonical tables (:func:`oncoresist.contract.validate_cohort`).

    Returns
    -------
    DataFrame
        Rows in the order of ``cohort.treatments``; columns :data:`PROFILE_COLUMNS`, then
        :data:`PROFILE_OPTIONAL_COLUMNS`, then ``expr_<GENE>``. For each treatment the
        mutations, copy-number calls and fusions are the union over its baseline samples
        (sorted, so the text is deterministic); a gene called differently in two samples keeps
        its most extreme copy-number state; expression is the mean over the baseline samples
        that have it. ``attrs["expression_scale"]`` holds the cohort's scale.

    Notes
    -----
    Samples come from :func:`oncoresist.contract.baseline_samples`: progression and
    on-treatment samples carry the answer and can never reach a feature.
    """
    treatments = cohort.treatments.reset_index(drop=True)
    order = pd.Index(treatments["treatment_id"], name="treatment_id")
    pairs = baseline_samples(cohort)

    frame = treatments[["patient_id", "treatment_id", "drug", "line_number"]].copy()
    for column in ("setting", "drug_class", "target", "generation", "is_combination"):
        if column in treatments.columns:
            frame[column] = treatments[column].to_numpy()
    patient_cols = ["patient_id", *[c for c in PROFILE_PATIENT_COLUMNS if c in cohort.patients]]
    frame = frame.merge(cohort.patients[patient_cols], on="patient_id", how="left")
    for column in ("age_years", "sex"):
        if column not in frame.columns:
            frame[column] = np.nan if column == "age_years" else None
    frame = annotate_profiles(frame)

    # Object dtype keeps one shared string per distinct panel (Arrow strings would copy each).
    with gc_paused():
        text = {
            "mutations": _mutation_text(cohort, pairs, order),
            "copy_number": _cna_text(cohort, pairs, order),
            "fusions": _fusion_text(cohort, pairs, order),
            "panel_genes": _panel_genes(cohort, pairs, order),
        }
    for column, values in text.items():
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    position = _positions(order, pairs["treatment_id"])
    frame["n_baseline_samples"] = np.bincount(position, minlength=len(order)).astype(np.int64)

    columns = [*PROFILE_COLUMNS, *PROFILE_OPTIONAL_COLUMNS]
    frame = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    frame = pd.concat([frame, _expression(cohort, pairs, order)], axis=1)
    frame["line_number"] = frame["line_number"].astype(float)
    frame.attrs["expression_scale"] = cohort.expression_scale
    return frame


def outcomes_for_profiles(cohort: Cohort, profiles: pd.DataFrame) -> pd.DataFrame:
    """Return the outcome of each profile row, aligned with ``profiles`` (same index).

    Parameters
    ----------
    cohort : Cohort
        A training cohort (with an ``outcomes`` table).
    profiles : DataFrame
        A profile frame (from :func:`cohort_to_profiles`).

    Returns
    -------
    DataFrame
        ``treatment_id, time_to_resistance_months, resistance_observed, mechanism`` in the row
        order of ``profiles``; NaN / ``<NA>`` where a treatment has no outcome row.

    Raises
    ------
    InputDataError
        When the cohort has no outcomes table.
    """
    if cohort.outcomes is None:
        raise InputDataError(
            f"cohort '{cohort.name}' has no outcomes",
            [
                Problem(
                    "outcomes",
                    None,
                    None,
                    "",
                    "the outcomes table is missing",
                    "add outcomes.csv (treatment_id, time_to_resistance_months, "
                    "resistance_observed, mechanism) to train or evaluate a model",
                )
            ],
        )
    columns = ["treatment_id", "time_to_resistance_months", "resistance_observed", "mechanism"]
    outcomes = cohort.outcomes.copy()
    if "mechanism" not in outcomes.columns:
        outcomes["mechanism"] = None
    aligned = outcomes[columns].set_index("treatment_id").reindex(profiles["treatment_id"])
    aligned = aligned.reset_index()
    aligned.index = profiles.index
    aligned["time_to_resistance_months"] = aligned["time_to_resistance_months"].astype(float)
    aligned["resistance_observed"] = aligned["resistance_observed"].astype("boolean")
    aligned["mechanism"] = aligned["mechanism"].astype(object)
    return aligned
