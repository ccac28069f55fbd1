"""cBioPortal clinical files and timelines → patients, samples, treatments, outcomes.

Rules (documented choices):

* **Treatments** come from timeline rows with ``EVENT_TYPE = TREATMENT``; the drug from
  ``AGENT`` (else ``TREATMENT``). Rows of one patient that share a ``TREATMENT_ID`` (or,
  without that column, the same ``START_DATE``) form one combination ``drug+drug``.
  ``line_number`` comes from ``LINE_NUMBER`` / ``LINE_OF_THERAPY`` when present, else the
  rank of the start date among the patient's treatments. ``treatment_id`` comes from
  ``TREATMENT_ID`` when present, else ``<patient>_L<line>``.
* **Timepoints**: a sample attribute ``TIMEPOINT`` / ``SAMPLE_TIMEPOINT`` wins; else a
  timeline SPECIMEN (or SAMPLE ACQUISITION / SEQUENCING) event dates the sample against the
  patient's treatments: before a treatment starts (and after the previous one stops) →
  baseline of that treatment; during a treatment → on_treatment; after the last treatment
  stops → progression of it. Samples still undated are taken as baseline, with one
  :class:`TimepointAssumedWarning`.
* **Outcomes**: ``PFS_MONTHS`` / ``PFS_STATUS`` (``1:...`` = progression seen) on timeline
  treatment rows (what :func:`write_cbioportal_study` writes, with ``RESISTANCE_MECHANISM``),
  else the patient attributes ``PFS_MONTHS`` / ``PFS_STATUS`` for patients with exactly one
  treatment (ambiguous for several: skipped and counted in the notes).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.contract import validate_table
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.cbioportal.tables import (
    TimepointAssumedWarning,
    cells,
    col,
    read_cbio_table,
    relabel,
    require_columns,
)
from oncoresist.io.cbioportal.timeline import DAYS_PER_MONTH, treatments_from_timeline

__all__ = ["TIMEPOINT_WORDS", "read_clinical"]


#: Sample timepoint words → contract timepoints.
TIMEPOINT_WORDS = {
    **dict.fromkeys(["baseline", "pre", "pretreatment", "pre-treatment", "pre_treatment",
                     "before treatment", "screening", "t0"], "baseline"),
    **dict.fromkeys(["on_treatment", "on-treatment", "on treatment", "during treatment",
                     "on"], "on_treatment"),
    **dict.fromkeys(["progression", "progressed", "post-progression", "post_progression",
                     "at progression", "resistance", "relapse", "recurrence", "post"],
                    "progression"),
}  # fmt: skip

ASSAY_WORDS = {
    **dict.fromkeys(["tissue", "tumor", "tumour", "ffpe", "biopsy"], "tissue"),
    **dict.fromkeys(["plasma", "cfdna", "ctdna", "blood", "liquid", "liquid biopsy"], "plasma"),
}  # fmt: skip


def _cancer_type(record: dict[str, Any], frame: pd.DataFrame) -> str | None:
    for name in ("CANCER_TYPE", "CANCER_TYPE_DETAILED", "ONCOTREE_CODE"):
        column = col(frame, name)
        if column is not None and record.get(column):
            return str(record[column])
    return None


def read_clinical(
    files: Any, timeline: dict[str, list[dict[str, Any]]] | None, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Build validated patients, samples, treatments and outcomes tables."""
    timeline = timeline or {"treatments": [], "specimens": []}
    sample_file: Path = files.sample
    samples_raw = read_cbio_table(sample_file)
    problems = require_columns(samples_raw, sample_file.name, "PATIENT_ID", "SAMPLE_ID")
    patients_raw = read_cbio_table(files.patient) if files.patient is not None else None
    if patients_raw is not None:
        problems += require_columns(patients_raw, files.patient.name, "PATIENT_ID")
    if problems:
        raise InputDataError("the clinical files break the data contract", problems)
    study_type = files.meta_study.get("type_of_cancer")
    study_type = None if study_type in (None, "", "mixed") else study_type

    # Patients: the patient file first, then patients named only by samples.
    rows: dict[str, dict[str, Any]] = {}
    if patients_raw is not None:
        pid, age, sex = (col(patients_raw, n) for n in ("PATIENT_ID", "AGE", "SEX"))
        sex = sex or col(patients_raw, "GENDER")
        for line, rec in zip(patients_raw.index, patients_raw.to_dict("records"), strict=True):
            rows.setdefault(str(rec[pid]), {
                "patient_id": rec[pid], "cancer_type": _cancer_type(rec, patients_raw),
                "age_years": rec[age] if age else None, "sex": rec[sex] if sex else None,
                "_source": files.patient.name, "_line": int(line), "_record": rec,
            })  # fmt: skip
    spid = col(samples_raw, "PATIENT_ID")
    for line, rec in zip(samples_raw.index, samples_raw.to_dict("records"), strict=True):
        patient = rows.setdefault(str(rec[spid]), {
            "patient_id": rec[spid], "cancer_type": None, "age_years": None, "sex": None,
            "_source": sample_file.name, "_line": int(line),
        })  # fmt: skip
        patient["cancer_type"] = patient["cancer_type"] or _cancer_type(rec, samples_raw)
    for patient in rows.values():
        patient["cancer_type"] = patient["cancer_type"] or study_type
        if patient["cancer_type"] is None and patient["patient_id"] is not None:
            problems.append(
                Problem(
                    patient["_source"],
                    patient["_line"],
                    "CANCER_TYPE",
                    "<empty>",
                    "no cancer type for this patient",
                    "add CANCER_TYPE to the clinical file, or type_of_cancer to meta_study.txt",
                )
            )
    patients = pd.DataFrame(
        [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows.values()]
    )
    known_patients = {str(p) for p in rows}
    treatments, outcomes, t_problems, spans = treatments_from_timeline(
        timeline["treatments"], known_patients, rows, notes
    )
    problems += t_problems
    samples, s_problems = _samples(
        samples_raw, sample_file.name, timeline["specimens"], spans, notes
    )
    problems += s_problems
    # Problems name the columns as the user sees them in the files.
    file_columns = {
        "patient_id": "PATIENT_ID", "sample_id": "SAMPLE_ID", "cancer_type": "CANCER_TYPE",
        "age_years": "AGE", "sex": "SEX", "assay": "ASSAY", "treatment_id": "TREATMENT_ID",
        "sample_month": "SAMPLE_MONTH", "drug": "AGENT", "line_number": "LINE_NUMBER",
        "time_to_resistance_months": "PFS_MONTHS", "resistance_observed": "PFS_STATUS",
        "mechanism": "RESISTANCE_MECHANISM",
        "timepoint": col(samples_raw, "TIMEPOINT", "SAMPLE_TIMEPOINT", "TIME_POINT"),
    }  # fmt: skip
    validated = {}
    for name, frame, source, lines in (
        (
            "patients",
            patients,
            files.patient.name if files.patient else sample_file.name,
            [r["_line"] for r in rows.values()],
        ),
        ("samples", samples, sample_file.name, list(samples_raw.index)),
        ("treatments", treatments, _names(timeline["treatments"]), treatments.pop("_line")),
    ):
        try:
            validated[name] = validate_table(frame, name, source, line_numbers=list(lines))
        except InputDataError as err:
            problems += relabel(err, file_columns)
    if outcomes is not None:
        try:
            outcomes = validate_table(
                outcomes.drop(columns="_line"),
                "outcomes",
                _names(timeline["treatments"]) or "outcomes",
                line_numbers=list(outcomes["_line"]),
            )
        except InputDataError as err:
            problems += relabel(err, file_columns)
    if problems:
        raise InputDataError("the clinical files break the data contract", problems)
    return validated["patients"], validated["samples"], validated["treatments"], outcomes


def _names(rows: list[dict[str, Any]]) -> str:
    return ", ".join(dict.fromkeys(r["source"] for r in rows)) or "timeline"


def _samples(
    raw: pd.DataFrame,
    source: str,
    specimens: list[dict[str, Any]],
    spans: dict[str, Any],
    notes: list[str],
) -> tuple[pd.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    tp_col = col(raw, "TIMEPOINT", "SAMPLE_TIMEPOINT", "TIME_POINT")
    assay_col = col(raw, "ASSAY")
    frame = pd.DataFrame({
        "sample_id": cells(raw, col(raw, "SAMPLE_ID")),
        "patient_id": cells(raw, col(raw, "PATIENT_ID")),
        "timepoint": [None] * len(raw),
        "treatment_id": cells(raw, col(raw, "TREATMENT_ID")),
        "sample_month": cells(raw, col(raw, "SAMPLE_MONTH")),
        "assay": cells(raw, assay_col),
    }, dtype=object)  # fmt: skip
    for pos, value in enumerate(cells(raw, tp_col)):
        if value is not None:
            # Unknown words stay as written: the contract reports them with line and column.
            frame.iat[pos, 2] = TIMEPOINT_WORDS.get(str(value).strip().lower(), value)
    for pos, value in enumerate(frame["assay"].tolist()):
        if value is not None:
            frame.iat[pos, 5] = ASSAY_WORDS.get(str(value).strip().lower(), value)
    dated = _date_specimens(frame, specimens, spans)
    undated = int(frame["timepoint"].isna().sum())
    if undated:
        frame["timepoint"] = frame["timepoint"].fillna("baseline")
        message = (
            f"{undated} sample(s) have no timepoint in the study (no TIMEPOINT sample "
            "attribute or timeline specimen event): taken as baseline"
        )
        notes.append(message)
        warnings.warn(message, TimepointAssumedWarning, stacklevel=4)
    if dated:
        notes.append(f"timeline: {dated} sample timepoint(s) dated from specimen events")
    return frame, problems


def _date_specimens(
    frame: pd.DataFrame,
    specimens: list[dict[str, Any]],
    spans: dict[str, tuple[str, float | None, float | None]],
) -> int:
    """Set timepoint/treatment_id/sample_month from specimen days; return how many."""
    day_of = {str(s["sample"]): s["start"] for s in specimens if s["start"] is not None}
    by_patient: dict[str, list[tuple[float, float | None, str]]] = {}
    for treatment_id, (patient, start, stop) in spans.items():
        if start is not None:
            by_patient.setdefault(patient, []).append((start, stop, treatment_id))
    dated = 0
    for pos in range(len(frame)):
        sample, patient = str(frame.iat[pos, 0]), str(frame.iat[pos, 1])
        if frame.iat[pos, 2] is not None or sample not in day_of:
            continue
        day, lines = day_of[sample], sorted(by_patient.get(patient, []))
        if not lines:
            continue
        following = [t for t in lines if t[0] >= day]
        running = [t for t in lines if t[0] < day and (t[1] is None or day < t[1])]
        if running:
            timepoint, (start, _, treatment_id) = "on_treatment", running[-1]
        elif following:
            timepoint, (start, _, treatment_id) = "baseline", following[0]
        else:
            timepoint, (start, _, treatment_id) = "progression", lines[-1]
        frame.iat[pos, 2] = timepoint
        if frame.iat[pos, 3] is None:
            frame.iat[pos, 3] = treatment_id
        if frame.iat[pos, 4] is None:
            frame.iat[pos, 4] = (day - start) / DAYS_PER_MONTH
        dated += 1
    return dated
