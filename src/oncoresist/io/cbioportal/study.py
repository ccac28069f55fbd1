"""Read a cBioPortal study folder into canonical tables.

Written against cBioPortal's file-format documentation (docs.cbioportal.org/file-formats).
Data files are found through their ``meta_*.txt`` files when present (``genetic_alteration_type``,
``datatype``, ``stable_id``, ``data_filename``), else by the usual file names:

=====================================  ========================================================
file                                   becomes
=====================================  ========================================================
data_clinical_patient(s).txt           patients (``CANCER_TYPE`` → ``CANCER_TYPE_DETAILED`` →
                                       ``ONCOTREE_CODE`` → study ``type_of_cancer``; AGE; SEX)
data_clinical_sample(s).txt            samples; timepoint from ``TIMEPOINT`` /
                                       ``SAMPLE_TIMEPOINT``; optional ``TREATMENT_ID``,
                                       ``SAMPLE_MONTH``, ``ASSAY``
data_mutations*.txt, *.maf             mutations (``HGVSp_Short``, else ``Amino_Acid_Change``
                                       / ``Protein_Change``; vaf from ``tumor_vaf`` or
                                       ``t_alt_count / (t_alt_count + t_ref_count)``)
data_cna.txt (discrete)                copy_number (neutral 0 calls are implicit, not listed)
expression matrices                    expression (one profile, see :data:`PROFILE_PREFERENCE`)
data_sv.txt                            fusions (two-gene somatic events)
data_gene_panel_matrix.txt + panels    samples.panel_id and gene_panels
data_timeline*.txt                     treatments (TREATMENT events), sample timepoints
                                       (SPECIMEN events), outcomes (``PFS_MONTHS``/
                                       ``PFS_STATUS`` on treatment events)
=====================================  ========================================================

The four ``#`` metadata lines of clinical files and a MAF's ``#version`` line are skipped;
``[Not Available]``, ``NA`` and blanks are missing. Columns not used are ignored. Rows skipped
by design (silent variants, rows for samples absent from the clinical file...) are counted in
``cohort.notes``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from oncoresist.contract import Cohort, empty_table, validate_cohort
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.cbioportal.clinical import read_clinical
from oncoresist.io.cbioportal.genomic import (
    read_cna,
    read_expression_matrix,
    read_gene_panels,
    read_mutations,
    read_sv,
)
from oncoresist.io.cbioportal.tables import (
    read_meta,
)
from oncoresist.io.cbioportal.timeline import read_timeline

__all__ = [
    "PROFILE_PREFERENCE",
    "is_cbioportal_study",
    "list_expression_profiles",
    "read_cbioportal_study",
]

#: Expression profile preference, first match wins (change it with ``expression_profile=``):
#: 1. a TPM profile (name holds ``tpm``), log2(x+1)-transformed if its values are linear;
#: 2. another continuous profile (e.g. RSEM), log2(x+1)-transformed if linear (noted: not TPM);
#: 3. a z-score profile (``*Zscores*`` or ``datatype: Z-SCORE``), declared scale ``zscore``.
PROFILE_PREFERENCE = ("tpm", "continuous", "zscore")


@dataclass
class ExpressionProfile:
    """One expression matrix of a study."""

    path: Path
    stable_id: str
    kind: str  # "tpm" | "continuous" | "zscore"

    @property
    def label(self) -> str:
        return f"{self.path.name} (stable_id {self.stable_id})"


@dataclass
class StudyFiles:
    """Data files of a study, by kind."""

    meta_study: dict[str, str] = field(default_factory=dict)
    patient: Path | None = None
    sample: Path | None = None
    mutations: list[Path] = field(default_factory=list)
    cna: Path | None = None
    expression: list[ExpressionProfile] = field(default_factory=list)
    sv: Path | None = None
    panel_matrix: Path | None = None
    panels: list[Path] = field(default_factory=list)
    timelines: list[Path] = field(default_factory=list)
    meta_gene_panel: dict[str, str] = field(default_factory=dict)


def is_cbioportal_study(folder: Path) -> bool:
    """True when ``folder`` holds a cBioPortal clinical sample file or ``meta_study.txt``."""
    if not folder.is_dir():
        return False
    names = {p.name.lower() for p in folder.iterdir()}
    return "meta_study.txt" in names or bool(
        names & {"data_clinical_sample.txt", "data_clinical_samples.txt"}
    )


def _profile_kind(name: str, datatype: str = "") -> str:
    lowered = name.lower()
    if "zscore" in lowered or datatype.upper() == "Z-SCORE":
        return "zscore"
    return "tpm" if "tpm" in lowered else "continuous"


def _discover(folder: Path) -> StudyFiles:
    files = StudyFiles()
    claimed: set[str] = set()
    for meta_path in sorted(folder.glob("meta_*.txt")):
        meta = read_meta(meta_path)
        if meta_path.name == "meta_study.txt":
            files.meta_study = meta
            continue
        data = meta.get("data_filename", "")
        target = folder / data
        if not data or not target.is_file():
            continue
        claimed.add(data)
        kind = meta.get("genetic_alteration_type", "").upper()
        datatype = meta.get("datatype", "").upper()
        if kind == "CLINICAL" and datatype == "PATIENT_ATTRIBUTES":
            files.patient = target
        elif kind == "CLINICAL" and datatype == "SAMPLE_ATTRIBUTES":
            files.sample = target
        elif kind == "CLINICAL" and datatype == "TIMELINE":
            files.timelines.append(target)
        elif kind == "MUTATION_EXTENDED":
            files.mutations.append(target)
            if meta.get("gene_panel"):
                files.meta_gene_panel["mutations"] = meta["gene_panel"]
        elif kind == "COPY_NUMBER_ALTERATION" and datatype in ("DISCRETE", ""):
            files.cna = target
        elif kind == "MRNA_EXPRESSION" and datatype in ("CONTINUOUS", "Z-SCORE"):
            stable = meta.get("stable_id", target.stem)
            files.expression.append(
                ExpressionProfile(target, stable, _profile_kind(f"{data} {stable}", datatype))
            )
        elif kind == "STRUCTURAL_VARIANT":
            files.sv = target
        elif kind == "GENE_PANEL_MATRIX":
            files.panel_matrix = target
    # Files without a meta file, by their conventional names.
    for path in sorted(folder.iterdir()):
        name, low = path.name, path.name.lower()
        if name in claimed or not path.is_file() or low.startswith("meta_"):
            continue
        if low in ("data_clinical_patient.txt", "data_clinical_patients.txt"):
            files.patient = files.patient or path
        elif low in ("data_clinical_sample.txt", "data_clinical_samples.txt"):
            files.sample = files.sample or path
        elif (low.startswith("data_mutations") and low.endswith(".txt")) or low.endswith(".maf"):
            files.mutations.append(path)
        elif low in ("data_cna.txt", "data_cna_discrete.txt", "data_gistic.txt"):
            files.cna = files.cna or path
        elif re.match(r"data_(mrna|rna_seq|expression)", low) and low.endswith(".txt"):
            files.expression.append(ExpressionProfile(path, path.stem, _profile_kind(low)))
        elif low in ("data_sv.txt", "data_structural_variants.txt"):
            files.sv = files.sv or path
        elif low == "data_gene_panel_matrix.txt":
            files.panel_matrix = files.panel_matrix or path
        elif low.startswith("data_gene_panel_") and low.endswith(".txt"):
            files.panels.append(path)
        elif low.startswith("data_timeline") and low.endswith(".txt"):
            files.timelines.append(path)
    return files


def list_expression_profiles(path: str | os.PathLike[str]) -> list[str]:
    """Return the expression profiles of a study (file name and stable id), preferred first."""
    profiles = _ordered_profiles(_discover(Path(path)).expression)
    return [p.label for p in profiles]


def _ordered_profiles(profiles: list[ExpressionProfile]) -> list[ExpressionProfile]:
    rank = {kind: i for i, kind in enumerate(PROFILE_PREFERENCE)}
    return sorted(profiles, key=lambda p: (rank[p.kind], p.path.name))


def _choose_profile(
    profiles: list[ExpressionProfile], wanted: str | None, source: str
) -> ExpressionProfile | None:
    ordered = _ordered_profiles(profiles)
    if wanted is None:
        return ordered[0] if ordered else None
    for profile in ordered:
        names = {profile.path.name, profile.path.stem, profile.stable_id}
        if wanted in names or profile.stable_id.endswith(f"_{wanted}"):
            return profile
    available = "; ".join(p.label for p in ordered) or "none"
    raise InputDataError(
        f"{source}: expression profile '{wanted}' not found",
        [
            Problem(
                source,
                None,
                None,
                wanted,
                "no expression profile with this file name or stable id",
                f"choose one of: {available}",
            )
        ],
    )


def read_cbioportal_study(
    path: str | os.PathLike[str], expression_profile: str | None = None
) -> Cohort:
    """Read a cBioPortal study folder into a validated :class:`~oncoresist.contract.Cohort`.

    Parameters
    ----------
    path : path-like
        The study folder.
    expression_profile : str, optional
        File name (with or without ``.txt``) or stable id of the expression profile to use;
        by default the first by :data:`PROFILE_PREFERENCE`. The choice is recorded in
        ``cohort.notes``.

    Returns
    -------
    Cohort
        Treatments carry patient_id, treatment_id, drug and line_number only (drug class,
        target and setting are added by the knowledge base). A study without treatment
        events gives an empty treatments table.

    Raises
    ------
    InputDataError
        Every problem of every file at once (file, line, column, value, fix).

    Warns
    -----
    DuplicateGeneWarning
        Once, naming genes repeated in the expression matrix (their rows are averaged).
    TimepointAssumedWarning
        Once, when the study does not say which samples are baseline (all taken as baseline).
    """
    folder = Path(path)
    files = _discover(folder)
    study = files.meta_study.get("cancer_study_identifier") or folder.resolve().name
    if files.sample is None:
        raise InputDataError(
            f"{folder}: not a cBioPortal study",
            [
                Problem(
                    str(folder),
                    None,
                    None,
                    "",
                    "data_clinical_sample.txt is missing",
                    "add the clinical sample file (PATIENT_ID, SAMPLE_ID columns)",
                )
            ],
        )
    notes: list[str] = []
    problems: list[Problem] = []
    # Fail fast on an unknown profile choice, before reading anything else.
    _choose_profile(files.expression, expression_profile, str(folder))

    def run(step, *args):
        try:
            return step(*args)
        except InputDataError as err:
            problems.extend(err.problems)
            return None

    timeline = run(read_timeline, files.timelines, notes)
    clinical = run(read_clinical, files, timeline, notes)
    if clinical is None:
        raise InputDataError(f"{study}: the clinical files break the data contract", problems)
    patients, samples, treatments, outcomes = clinical
    known = set(samples["sample_id"])
    mutations = run(read_mutations, files.mutations, known, notes)
    copy_number = run(read_cna, files.cna, known, notes)
    fusions = run(read_sv, files.sv, known, notes)
    panels = run(read_gene_panels, files, samples, notes)
    expression, scale = _expression(files, expression_profile, known, notes, problems)
    if problems:
        raise InputDataError(f"{study} breaks the data contract", problems)
    if panels is not None:
        samples, gene_panels = panels
    else:
        gene_panels = None
    cohort = Cohort(
        patients=patients,
        samples=samples,
        treatments=treatments,
        mutations=mutations,
        copy_number=copy_number,
        fusions=fusions,
        expression=expression,
        gene_panels=gene_panels,
        outcomes=outcomes,
        expression_scale=scale,  # type: ignore[arg-type]
        name=study,
        source=str(folder),
        notes=notes,
    )
    sources = {
        "patients": files.patient.name if files.patient else files.sample.name,
        "samples": files.sample.name,
    }
    return validate_cohort(cohort, sources)


def _expression(
    files: StudyFiles,
    wanted: str | None,
    known: set[str],
    notes: list[str],
    problems: list[Problem],
) -> tuple[pd.DataFrame, str]:
    profile = _choose_profile(files.expression, wanted, str(files.sample.parent))  # type: ignore[union-attr]
    if profile is None:
        return empty_table("expression"), "log2_tpm"
    others = [p.path.name for p in files.expression if p is not profile]
    how = "chosen with expression_profile" if wanted else "by the default preference"
    notes.append(
        f"expression profile used: {profile.label}, {how}"
        + (f"; other profiles: {', '.join(others)}" if others else "")
    )
    try:
        frame, scale = read_expression_matrix(profile.path, profile.kind, known, notes)
    except InputDataError as err:
        problems.extend(err.problems)
        return empty_table("expression"), "log2_tpm"
    return frame, scale
