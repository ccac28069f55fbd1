"""Plain summaries of a cohort, for `oncoresist validate` and the README walkthrough."""

from __future__ import annotations

import pandas as pd

from oncoresist.contract import MECHANISMS, TIMEPOINTS, Cohort


def table_summary(cohort: Cohort) -> pd.DataFrame:
    """Rows, columns and missing cells per table."""
    rows = []
    for name, frame in cohort.tables().items():
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "columns": frame.shape[1],
                "missing_cells": int(frame.isna().to_numpy().sum()) if len(frame) else 0,
            }
        )
    return pd.DataFrame(rows)


def cohort_summary(cohort: Cohort) -> dict[str, object]:
    """Headline counts: patients, samples by timepoint, treatments by drug, genes, labels."""
    samples = cohort.samples
    by_timepoint = {tp: int((samples["timepoint"] == tp).sum()) for tp in TIMEPOINTS}
    genes: set[str] = set()
    for frame, columns in (
        (cohort.mutations, ["gene"]),
        (cohort.copy_number, ["gene"]),
        (cohort.fusions, ["gene_5p", "gene_3p"]),
    ):
        for column in columns:
            if column in frame.columns:
                genes.update(frame[column].dropna().astype(str))
    summary: dict[str, object] = {
        "name": cohort.name,
        "source": cohort.source,
        "patients": len(cohort.patients),
        "samples": len(samples),
        "samples_by_timepoint": by_timepoint,
        "treatments": len(cohort.treatments),
        "drugs": cohort.treatments["drug"].value_counts().to_dict(),
        "cancer_types": cohort.patients["cancer_type"].value_counts().to_dict(),
        "altered_genes": len(genes),
        "expressed_genes": len(cohort.genes_with_expression),
        "expression_scale": cohort.expression_scale,
        "notes": list(cohort.notes),
    }
    if "setting" in cohort.treatments.columns:
        summary["settings"] = cohort.treatments["setting"].value_counts().to_dict()
    if cohort.outcomes is not None:
        outcomes = cohort.outcomes
        summary["outcomes"] = len(outcomes)
        summary["progressed"] = int(outcomes["resistance_observed"].sum())
        if "mechanism" in outcomes.columns:
            summary["mechanism_labels"] = {
                m: int((outcomes["mechanism"] == m).sum()) for m in MECHANISMS
            }
    return summary
