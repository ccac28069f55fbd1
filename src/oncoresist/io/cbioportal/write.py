"""Write a cohort as a cBioPortal study folder that :func:`read_cbioportal_study` reads back.

Files written (each with its ``meta_*.txt``): ``meta_study.txt``; clinical patient
(``CANCER_TYPE``, ``AGE``, ``SEX``) and sample files (``TIMEPOINT``, ``TREATMENT_ID``,
``SAMPLE_MONTH``, ``ASSAY``) with the four ``#`` header lines; ``data_mutations.txt`` (MAF
with ``#version 2.4``, ``HGVSp_Short``, ``t_alt_count``/``t_ref_count`` on a depth of 1000,
plus a ``tumor_vaf`` column holding the exact VAF, which the reader prefers);
``data_cna.txt`` (every sample; unlisted genes are neutral 0); the expression matrix
``data_mrna_seq_tpm.txt`` (log2(TPM+1) values) or ``data_mrna_Zscores.txt`` for z-scored
cohorts; ``data_sv.txt``; the gene panel matrix and one ``data_gene_panel_<id>.txt`` per
panel; ``data_timeline_treatment.txt``.

Outcomes: cBioPortal keeps PFS per *patient*, but a patient may have several treatments
here, so outcomes go on the **treatment timeline rows** as extra columns ``PFS_MONTHS``,
``PFS_STATUS`` (``1:Progressed`` / ``0:Censored``) and ``RESISTANCE_MECHANISM`` (timeline
files accept custom columns). ``TREATMENT_ID`` and ``LINE_NUMBER`` columns keep identifiers
and lines; start dates are synthetic (treatments chained in line order, each lasting its time
to resistance, or 365 days without an outcome).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.io.files import atomic_write

__all__ = ["write_cbioportal_study"]

DAYS_PER_MONTH = 30.4375
MAF_DEPTH = 1000


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "NA"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _write_rows(path: Path, header: list[str], rows: list[list[object]], preamble=()) -> None:
    with atomic_write(path) as handle:
        for line in preamble:
            handle.write(line + "\n")
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(_text(v) for v in row) + "\n")


def _write_meta(path: Path, study: str, **fields: str) -> None:
    with atomic_write(path) as handle:
        handle.write(f"cancer_study_identifier: {study}\n")
        for key, value in fields.items():
            handle.write(f"{key}: {value}\n")


def _clinical(path: Path, columns: list[tuple[str, str, str]], rows: list[list[object]]) -> None:
    """Write a clinical file: (attribute, display name, datatype) per column."""
    preamble = [
        "#" + "\t".join(c[1] for c in columns),
        "#" + "\t".join(c[1] for c in columns),
        "#" + "\t".join(c[2] for c in columns),
        "#" + "\t".join("1" for _ in columns),
    ]
    _write_rows(path, [c[0] for c in columns], rows, preamble)


def _records(frame: pd.DataFrame | None, column: str) -> list[object]:
    if frame is None or column not in frame.columns:
        return [None] * (0 if frame is None else len(frame))
    return frame[column].tolist()


def write_cbioportal_study(cohort: Cohort, path: str | os.PathLike[str]) -> Path:
    """Write ``cohort`` as a cBioPortal study folder (each file atomically).

    Parameters
    ----------
    cohort : Cohort
        A validated cohort.
    path : path-like
        Folder, created if needed.

    Returns
    -------
    Path
        The folder. Reading it back with :func:`read_cbioportal_study` gives the same
        tables (neutral copy-number rows aside, which cBioPortal leaves implicit).
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    study = re.sub(r"[^A-Za-z0-9_]", "_", cohort.name) or "oncoresist_study"
    types = sorted(set(cohort.patients["cancer_type"].dropna().astype(str)))
    with atomic_write(folder / "meta_study.txt") as handle:
        handle.write(
            f"type_of_cancer: {'mixed' if len(types) != 1 else types[0].lower()}\n"
            f"cancer_study_identifier: {study}\nname: {cohort.name}\n"
            f"description: Written by oncoresist from {cohort.source or 'a cohort'}\n"
            "add_global_case_list: true\n"
        )

    p = cohort.patients
    _clinical(
        folder / "data_clinical_patient.txt",
        [
            ("PATIENT_ID", "Patient Identifier", "STRING"),
            ("CANCER_TYPE", "Cancer Type", "STRING"),
            ("AGE", "Age", "NUMBER"),
            ("SEX", "Sex", "STRING"),
        ],
        list(
            zip(
                p["patient_id"],
                p["cancer_type"],
                _records(p, "age_years"),
                _records(p, "sex"),
                strict=True,
            )
        ),
    )
    _write_meta(
        folder / "meta_clinical_patient.txt",
        study,
        genetic_alteration_type="CLINICAL",
        datatype="PATIENT_ATTRIBUTES",
        data_filename="data_clinical_patient.txt",
    )
    s = cohort.samples
    _clinical(
        folder / "data_clinical_sample.txt",
        [
            ("PATIENT_ID", "Patient Identifier", "STRING"),
            ("SAMPLE_ID", "Sample Identifier", "STRING"),
            ("TIMEPOINT", "Timepoint", "STRING"),
            ("TREATMENT_ID", "Treatment Identifier", "STRING"),
            ("SAMPLE_MONTH", "Months Since Treatment Start", "NUMBER"),
            ("ASSAY", "Assay", "STRING"),
        ],
        list(
            zip(
                s["patient_id"],
                s["sample_id"],
                s["timepoint"],
                _records(s, "treatment_id"),
                _records(s, "sample_month"),
                _records(s, "assay"),
                strict=True,
            )
        ),
    )
    _write_meta(
        folder / "meta_clinical_sample.txt",
        study,
        genetic_alteration_type="CLINICAL",
        datatype="SAMPLE_ATTRIBUTES",
        data_filename="data_clinical_sample.txt",
    )
    _write_mutations(folder, study, cohort.mutations)
    _write_cna(folder, study, cohort)
    _write_expression(folder, study, cohort)
    _write_sv(folder, study, cohort.fusions)
    _write_panels(folder, study, cohort)
    _write_timeline(folder, study, cohort)
    return folder


def _write_mutations(folder: Path, study: str, m: pd.DataFrame) -> None:
    rows = []
    for sample, gene, change, klass, vaf in zip(
        m["sample_id"],
        m["gene"],
        m["protein_change"],
        m["variant_class"],
        m["vaf"],
        strict=True,
    ):
        missing = vaf is None or (isinstance(vaf, float) and np.isnan(vaf))
        alt = None if missing else round(float(vaf) * MAF_DEPTH)
        ref = None if missing else MAF_DEPTH - alt
        rows.append([gene, sample, klass, change, alt, ref, vaf])
    with atomic_write(folder / "data_mutations.txt") as handle:
        handle.write("#version 2.4\n")
        handle.write(
            "\t".join(
                [
                    "Hugo_Symbol",
                    "Tumor_Sample_Barcode",
                    "Variant_Classification",
                    "HGVSp_Short",
                    "t_alt_count",
                    "t_ref_count",
                    "tumor_vaf",
                ]
            )
            + "\n"
        )
        for row in rows:
            handle.write("\t".join("" if _text(v) == "NA" else _text(v) for v in row) + "\n")
    _write_meta(
        folder / "meta_mutations.txt",
        study,
        genetic_alteration_type="MUTATION_EXTENDED",
        datatype="MAF",
        stable_id="mutations",
        show_profile_in_analysis_tab="true",
        profile_name="Mutations",
        profile_description="Mutations (oncoresist)",
        data_filename="data_mutations.txt",
    )


def _gene_matrix(long: pd.DataFrame, value: str, samples: list[str], fill: object) -> list:
    genes = list(dict.fromkeys(long["gene"]))
    lookup = {
        (g, s): v for g, s, v in zip(long["gene"], long["sample_id"], long[value], strict=True)
    }
    return [[g, *[lookup.get((g, s), fill) for s in samples]] for g in genes]


def _write_cna(folder: Path, study: str, cohort: Cohort) -> None:
    cn = cohort.copy_number
    if cn.empty:
        return
    samples = list(cohort.samples["sample_id"])
    _write_rows(
        folder / "data_cna.txt", ["Hugo_Symbol", *samples], _gene_matrix(cn, "cn_state", samples, 0)
    )
    _write_meta(
        folder / "meta_cna.txt",
        study,
        genetic_alteration_type="COPY_NUMBER_ALTERATION",
        datatype="DISCRETE",
        stable_id="cna",
        show_profile_in_analysis_tab="true",
        profile_name="Putative copy-number alterations",
        profile_description="Values: -2 deep deletion; -1 loss; 0 neutral; 1 gain; 2 amplification",
        data_filename="data_cna.txt",
    )


def _write_expression(folder: Path, study: str, cohort: Cohort) -> None:
    genes = cohort.genes_with_expression
    if not genes:
        return
    e = cohort.expression
    zscore = cohort.expression_scale == "zscore"
    name = "data_mrna_Zscores.txt" if zscore else "data_mrna_seq_tpm.txt"
    samples = list(e["sample_id"])
    rows = [[g, *e[g].tolist()] for g in genes]
    _write_rows(folder / name, ["Hugo_Symbol", *samples], rows)
    _write_meta(
        folder / "meta_expression.txt",
        study,
        genetic_alteration_type="MRNA_EXPRESSION",
        datatype="Z-SCORE" if zscore else "CONTINUOUS",
        stable_id="mrna_median_Zscores" if zscore else "rna_seq_mrna",
        show_profile_in_analysis_tab="false",
        profile_name="mRNA expression z-scores" if zscore else "mRNA log2(TPM+1)",
        profile_description="z-scores" if zscore else "log2(TPM + 1)",
        data_filename=name,
    )


def _write_sv(folder: Path, study: str, f: pd.DataFrame) -> None:
    if f.empty:
        return
    rows = []
    for sample, five, three, variant in zip(
        f["sample_id"], f["gene_5p"], f["gene_3p"], _records(f, "variant"), strict=True
    ):
        info = f"{five}-{three} fusion"
        if variant is not None and not (isinstance(variant, float) and np.isnan(variant)):
            info += f" (variant {variant})"
        rows.append([sample, "SOMATIC", five, three, "FUSION", info])
    _write_rows(
        folder / "data_sv.txt",
        ["Sample_Id", "SV_Status", "Site1_Hugo_Symbol", "Site2_Hugo_Symbol", "Class", "Event_Info"],
        rows,
    )
    _write_meta(
        folder / "meta_sv.txt",
        study,
        genetic_alteration_type="STRUCTURAL_VARIANT",
        datatype="SV",
        stable_id="structural_variants",
        show_profile_in_analysis_tab="true",
        profile_name="Structural variants",
        profile_description="Fusions (oncoresist)",
        data_filename="data_sv.txt",
    )


def _write_panels(folder: Path, study: str, cohort: Cohort) -> None:
    if cohort.gene_panels is None or cohort.gene_panels.empty:
        return
    for panel, genes in cohort.gene_panels.groupby("panel_id", sort=False)["gene"]:
        with atomic_write(folder / f"data_gene_panel_{panel}.txt") as handle:
            handle.write(
                f"stable_id: {panel}\ndescription: Gene panel {panel}\n"
                f"gene_list: {chr(9).join(genes)}\n"
            )
    s = cohort.samples
    rows = [
        [sid, panel] for sid, panel in zip(s["sample_id"], _records(s, "panel_id"), strict=True)
    ]
    _write_rows(folder / "data_gene_panel_matrix.txt", ["SAMPLE_ID", "mutations"], rows)
    _write_meta(
        folder / "meta_gene_panel_matrix.txt",
        study,
        genetic_alteration_type="GENE_PANEL_MATRIX",
        datatype="GENE_PANEL_MATRIX",
        data_filename="data_gene_panel_matrix.txt",
    )


def _write_timeline(folder: Path, study: str, cohort: Cohort) -> None:
    t = cohort.treatments
    if t.empty:
        return
    outcomes = {}
    if cohort.outcomes is not None:
        for record in cohort.outcomes.to_dict("records"):
            outcomes[record["treatment_id"]] = record
    header = [
        "PATIENT_ID",
        "START_DATE",
        "STOP_DATE",
        "EVENT_TYPE",
        "TREATMENT_TYPE",
        "AGENT",
        "TREATMENT_ID",
        "LINE_NUMBER",
        "PFS_MONTHS",
        "PFS_STATUS",
        "RESISTANCE_MECHANISM",
    ]
    extra = [c for c in ("drug_class", "target", "setting") if c in t.columns]
    header += [
        {"drug_class": "AGENT_CLASS", "target": "AGENT_TARGET", "setting": "SETTING"}[c]
        for c in extra
    ]
    rows, clock = [], {}
    ordered = t.assign(_pos=range(len(t))).sort_values(["patient_id", "line_number", "_pos"])
    by_id = {}
    for record in ordered.to_dict("records"):
        start = clock.get(record["patient_id"], 0)
        outcome = outcomes.get(record["treatment_id"])
        months = None if outcome is None else outcome["time_to_resistance_months"]
        days = 365 if months is None else max(1, round(months * DAYS_PER_MONTH))
        clock[record["patient_id"]] = start + days + 1
        status = None
        if outcome is not None:
            status = "1:Progressed" if outcome["resistance_observed"] else "0:Censored"
        by_id[record["_pos"]] = [
            record["patient_id"],
            start,
            start + days if outcome else None,
            "TREATMENT",
            "Medical Therapy",
            record["drug"],
            record["treatment_id"],
            record["line_number"],
            months,
            status,
            None if outcome is None else outcome.get("mechanism"),
            *[record[c] for c in extra],
        ]
    rows = [by_id[i] for i in range(len(t))]  # the table's own order
    text_rows = [["" if _text(v) == "NA" else v for v in row] for row in rows]
    _write_rows(folder / "data_timeline_treatment.txt", header, text_rows)
    _write_meta(
        folder / "meta_timeline_treatment.txt",
        study,
        genetic_alteration_type="CLINICAL",
        datatype="TIMELINE",
        data_filename="data_timeline_treatment.txt",
    )
