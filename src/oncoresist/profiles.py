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


def _normalise_change(change: object) -> str | None:
    # Canonical tables from the readers are already normalised; hand-made tables may not be.
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


def _joined(tokens: pd.DataFrame, order: pd.Index) -> pd.Series:
    """Join each treatment's tokens (sorted, unique) with ``"; "``; ``""`` when none."""
    if tokens.empty:
        return pd.Series("", index=order, dtype=object)
    tokens = tokens.drop_duplicates().sort_values(["treatment_id", "token"])
    joined = tokens.groupby("treatment_id", sort=False)["token"].agg(SEPARATOR.join)
    return joined.reindex(order).fillna("").astype(object)


def _mutation_tokens(cohort: Cohort, pairs: pd.DataFrame) -> pd.DataFrame:
    muts = pairs.merge(cohort.mutations[["sample_id", "gene", "protein_change"]], on="sample_id")
    changes = muts["protein_change"].astype(object)
    unique = pd.unique(changes[changes.notna()])
    normalised = {c: _normalise_change(c) for c in unique}
    change = changes.map(normalised)
    gene = muts["gene"].astype(str)
    token = gene.where(change.isna(), gene + " " + change.fillna(""))
    return pd.DataFrame({"treatment_id": muts["treatment_id"], "token": token})


def _cna_tokens(cohort: Cohort, pairs: pd.DataFrame) -> pd.DataFrame:
    cna = pairs.merge(cohort.copy_number[["sample_id", "gene", "cn_state"]], on="sample_id")
    cna = cna[cna["cn_state"].fillna(0) != 0]
    if cna.empty:
        return pd.DataFrame({"treatment_id": [], "token": []})
    # Several baseline samples may disagree: keep the most extreme call per gene (ties → the
    # gain), so a focal amplification seen in one biopsy is not averaged away.
    state = cna["cn_state"].astype(int)
    cna = cna.assign(_abs=state.abs(), _state=state)
    cna = cna.sort_values(["treatment_id", "gene", "_abs", "_state"], ascending=False)
    cna = cna.drop_duplicates(["treatment_id", "gene"])
    token = cna["gene"].astype(str) + " " + cna["_state"].map(CN_STATE_WORDS)
    return pd.DataFrame({"treatment_id": cna["treatment_id"], "token": token})


def _fusion_tokens(cohort: Cohort, pairs: pd.DataFrame) -> pd.DataFrame:
    columns = ["sample_id", "gene_5p", "gene_3p"]
    if "variant" in cohort.fusions.columns:
        columns.append("variant")
    fus = pairs.merge(cohort.fusions[columns], on="sample_id")
    if fus.empty:
        return pd.DataFrame({"treatment_id": [], "token": []})
    variants = fus["variant"] if "variant" in fus.columns else pd.Series(None, index=fus.index)
    keys = pd.DataFrame(
        {"g5": fus["gene_5p"].astype(str), "g3": fus["gene_3p"].astype(str), "v": variants}
    )
    unique = keys.drop_duplicates()
    spelled = {
        (g5, g3, v): fusion_token(g5, g3, _normalise_variant(fusion_token(g5, g3), v))
        for g5, g3, v in unique.itertuples(index=False, name=None)
    }
    token = [spelled[key] for key in keys.itertuples(index=False, name=None)]
    return pd.DataFrame({"treatment_id": fus["treatment_id"].to_numpy(), "token": token})


def _panel_genes(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> pd.Series:
    """``""`` (every gene tested) unless all of a treatment's baseline samples were on panels."""
    everything = pd.Series("", index=order, dtype=object)
    if cohort.gene_panels is None or "panel_id" not in cohort.samples.columns:
        return everything
    with_panel = pairs.merge(cohort.samples[["sample_id", "panel_id"]], on="sample_id")
    # A sample with no panel was sequenced genome- or exome-wide: every gene was tested.
    whole = with_panel["panel_id"].isna().groupby(with_panel["treatment_id"]).any()
    panelled = with_panel[with_panel["panel_id"].notna()]
    panelled = panelled[~panelled["treatment_id"].map(whole).astype(bool)]
    if panelled.empty:
        return everything
    combos = (
        panelled.drop_duplicates(["treatment_id", "panel_id"])
        .sort_values(["treatment_id", "panel_id"])
        .groupby("treatment_id", sort=False)["panel_id"]
        .agg("|".join)
    )
    # Few distinct panel combinations, many treatments: spell each combination once and let
    # the rows share the same string object (a 500-gene list per row would be huge).
    genes_by_panel = cohort.gene_panels.groupby("panel_id")["gene"].agg(lambda g: set(g))
    spelled = {}
    for combo in pd.unique(combos):
        genes = set().union(*(genes_by_panel.get(p, set()) for p in combo.split("|")))
        spelled[combo] = ";".join(sorted(genes))
    out = everything.copy()
    out.loc[combos.index] = combos.map(spelled).to_numpy(dtype=object)
    return out


def _expression(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    genes = cohort.genes_with_expression
    if not genes:
        return pd.DataFrame(index=order)
    expr = pairs.merge(cohort.expression, on="sample_id")
    # Mean over the treatment's baseline samples that have a value (NaN when none has).
    mean = expr.groupby("treatment_id", sort=False)[genes].mean()
    mean = mean.reindex(order).astype(float)
    mean.columns = [f"{EXPRESSION_PREFIX}{g}" for g in genes]
    return mean


def annotate_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """Fill missing treatment annotations (setting, drug class, target, generation).

    Values already present win; only absent columns or empty cells are filled from the drug
    catalogue (:func:`oncoresist.knowledge.annotate_treatments`), and then ``drug`` is
    rewritten to its canonical name (brand names → INN) so that training and scoring spell
    a drug one way. ``is_combination`` is read from the drug text (``drug+drug``) when absent.
    The catalogue is asked once per distinct (cancer type, drug, line), not once per row.

    Raises
    ------
    UnknownDrugError
        When a drug that needs annotating is not in the catalogue (from ``knowledge``).
    """
    out = profiles.copy()
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
        annotated = annotate_treatments(treatments, patients).reset_index(drop=True)
        for column in needs:
            known = annotated[column].to_numpy()[code]
            if column in out.columns:
                out[column] = out[column].where(out[column].notna(), known)
            else:
                out[column] = known
        out["drug"] = annotated["drug"].to_numpy()[code]
    if "is_combination" not in out.columns:
        out["is_combination"] = out["drug"].astype(str).str.contains("+", regex=False)
    return out


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

    frame["mutations"] = _joined(_mutation_tokens(cohort, pairs), order).to_numpy()
    frame["copy_number"] = _joined(_cna_tokens(cohort, pairs), order).to_numpy()
    frame["fusions"] = _joined(_fusion_tokens(cohort, pairs), order).to_numpy()
    frame["panel_genes"] = _panel_genes(cohort, pairs, order).to_numpy()
    counts = pairs.groupby("treatment_id").size().reindex(order).fillna(0).astype(int)
    frame["n_baseline_samples"] = counts.to_numpy()

    expression = _expression(cohort, pairs, order)
    columns = [*PROFILE_COLUMNS, *PROFILE_OPTIONAL_COLUMNS]
    frame = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    frame = pd.concat([frame, expression.reset_index(drop=True)], axis=1)
    for column in ("mutations", "copy_number", "fusions", "panel_genes"):
        frame[column] = frame[column].astype(object)
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
