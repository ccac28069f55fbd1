"""The profile frame: one row per patient-treatment, the one input every model consumes.

A *profile frame* has the columns of the clinicians' profile sheet (DESIGN.md):

``patient_id, treatment_id, cancer_type, drug, line_number, age_years, sex, setting,
drug_class, target, mutations, copy_number, fusions, panel_genes`` and ``expr_<GENE>``
columns (log2(TPM+1), NaN = missing).

The frames the package builds (:func:`cohort_to_profiles`) hold alterations as *structured
cells*, already normalised from the validated canonical tables, so the features read one
representation and never parse text the package has just written (no render-then-parse
round trip):

* ``mutations``: a tuple of ``(gene, change)`` pairs, sorted and unique, e.g.
  ``(("EGFR", "p.L858R"), ("TP53", "p.R273H"))`` (change ``None`` when unknown);
* ``copy_number``: a tuple of ``(gene, state)`` pairs, one per gene (state an int, amp = +2,
  gain = +1, loss = -1, del = -2; copy-neutral calls are left out), e.g. ``(("MET", 2),)``;
* ``fusions``: a tuple of ``(gene_5p, gene_3p, variant)``, sorted and unique, e.g.
  ``(("EML4", "ALK", "v3"),)`` (variant ``None`` when unknown);
* ``()`` where nothing was detected;
* ``panel_genes``: text, ``""`` when every gene was tested, else the ``;``-separated genes
  tested (one string per distinct panel, read once per panel).

A frame written by hand (notebooks, tests, a sheet given to the MLflow model) may hold the
sheet's text instead: ``"EGFR p.L858R; TP53 p.R273H"``, ``"MET amp; CDKN2A del"``,
``"EML4-ALK v3; KIF5B-RET"`` (``GENE5::GENE3`` when a symbol holds a hyphen). The features
accept both, even mixed in one column, and read the same events from either.
:func:`oncoresist.features.profile_text.profiles_as_text` writes the text for people.

:func:`cohort_to_profiles` builds it from canonical tables, using **baseline samples only**,
so the feature builder, the MLflow bundle and the batch scorer all see the same thing at
training and at scoring time. The frame carries its expression scale in
``frame.attrs["expression_scale"]``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort, baseline_samples
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.features.profile_text import (
    EXPRESSION_PREFIX,
    cna_cells,
    fusion_cells,
    gc_paused,
    mean_expression,
    mutation_cells,
    panel_text,
    positions,
)
from oncoresist.knowledge.annotate import annotate_treatments

__all__ = [
    "PROFILE_ALTERATION_COLUMNS",
    "PROFILE_COLUMNS",
    "PROFILE_ID_COLUMNS",
    "PROFILE_OPTIONAL_COLUMNS",
    "PROFILE_PATIENT_COLUMNS",
    "PROFILE_TREATMENT_COLUMNS",
    "annotate_profiles",
    "cohort_to_profiles",
    "expression_columns",
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

_ANNOTATION_COLUMNS = ("setting", "drug_class", "target", "generation")


def expression_columns(profiles: pd.DataFrame) -> list[str]:
    """Return the ``expr_<GENE>`` columns of a profile frame, in frame order."""
    return [c for c in profiles.columns if str(c).startswith(EXPRESSION_PREFIX)]


def annotate_profiles(
    profiles: pd.DataFrame, errors: Literal["raise", "collect"] = "raise"
) -> pd.DataFrame | tuple[pd.DataFrame, list[Problem]]:
    """Fill missing treatment annotations (setting, drug class, target, generation).

    Values already present win; only absent columns or empty cells are filled from the drug
    catalogue (:func:`oncoresist.knowledge.annotate.annotate_treatments`), and then ``drug`` is
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


def cohort_to_profiles(
    cohort: Cohort, errors: Literal["raise", "collect"] = "raise"
) -> pd.DataFrame | tuple[pd.DataFrame, list[Problem]]:
    """Build the profile frame of a cohort: one row per treatment, baseline samples only.

    Parameters
    ----------
    cohort : Cohort
        Validated canonical tables (:func:`oncoresist.contract.validate_cohort`).
    errors : {"raise", "collect"}
        For treatments without setting / drug class / target, which are annotated from the
        drug catalogue (:func:`annotate_profiles`): ``"raise"`` on a drug the catalogue does
        not know, or ``"collect"`` (keep the row unannotated and return the problems, for a
        batch scorer that rejects or flags those rows and scores the rest).

    Returns
    -------
    DataFrame, or (DataFrame, list of Problem) with ``errors="collect"``
        Rows in the order of ``cohort.treatments``; columns :data:`PROFILE_COLUMNS`, then
        :data:`PROFILE_OPTIONAL_COLUMNS`, then ``expr_<GENE>``. For each treatment the
        mutations, copy-number calls and fusions are structured cells (tuples, see the module
        docstring): the union over its baseline samples, de-duplicated and sorted (so the cell,
        and its text, is deterministic); a gene called differently in two samples keeps its
        most extreme copy-number state (ties → the gain); expression is the mean over the
        baseline samples that have it. ``attrs["expression_scale"]`` holds the cohort's scale.

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
    problems: list[Problem] = []
    if errors == "collect":
        frame, problems = annotate_profiles(frame, errors="collect")
    else:
        frame = annotate_profiles(frame)

    # Object dtype keeps the structured cells (tuples) as they are, and one shared string per
    # distinct panel (Arrow strings would copy each).
    with gc_paused():
        cells = {
            "mutations": mutation_cells(cohort, pairs, order),
            "copy_number": cna_cells(cohort, pairs, order),
            "fusions": fusion_cells(cohort, pairs, order),
            "panel_genes": panel_text(cohort, pairs, order),
        }
    for column, values in cells.items():
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    position = positions(order, pairs["treatment_id"])
    frame["n_baseline_samples"] = np.bincount(position, minlength=len(order)).astype(np.int64)

    columns = [*PROFILE_COLUMNS, *PROFILE_OPTIONAL_COLUMNS]
    frame = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    frame = pd.concat([frame, mean_expression(cohort, pairs, order)], axis=1)
    frame["line_number"] = frame["line_number"].astype(float)
    frame.attrs["expression_scale"] = cohort.expression_scale
    return (frame, problems) if errors == "collect" else frame


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
