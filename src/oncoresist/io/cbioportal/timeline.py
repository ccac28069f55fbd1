"""cBioPortal timelines → treatment events, specimen events, treatments and outcomes.

See :mod:`oncoresist.io.cbioportal.clinical` for the rules (combinations, line numbers,
identifiers, outcomes on treatment rows or per patient).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.cbioportal.tables import col, number, read_cbio_table, require_columns

__all__ = ["DAYS_PER_MONTH", "read_timeline", "treatments_from_timeline"]

DAYS_PER_MONTH = 30.4375
_SPECIMEN_EVENTS = {"SPECIMEN", "SAMPLE ACQUISITION", "SEQUENCING"}


def read_timeline(paths: list[Path], notes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Read timeline files into treatment rows and specimen rows (with file and line)."""
    treatments: list[dict[str, Any]] = []
    specimens: list[dict[str, Any]] = []
    problems: list[Problem] = []
    other = 0
    for path in paths:
        frame = read_cbio_table(path)
        missing = require_columns(frame, path.name, "PATIENT_ID", "START_DATE", "EVENT_TYPE")
        if missing:
            problems += missing
            continue
        columns = {
            key: col(frame, *names)
            for key, names in {
                "patient": ("PATIENT_ID",), "start": ("START_DATE",), "stop": ("STOP_DATE",),
                "event": ("EVENT_TYPE",), "agent": ("AGENT", "TREATMENT"),
                "treatment_id": ("TREATMENT_ID",), "sample": ("SAMPLE_ID",),
                "line_number": ("LINE_NUMBER", "LINE_OF_THERAPY", "TREATMENT_LINE"),
                "pfs_months": ("PFS_MONTHS",), "pfs_status": ("PFS_STATUS",),
                "mechanism": ("RESISTANCE_MECHANISM",), "drug_class": ("AGENT_CLASS",),
                "target": ("AGENT_TARGET",), "setting": ("SETTING",),
            }.items()
        }  # fmt: skip
        records = frame.to_dict("records")
        for line, record in zip(frame.index, records, strict=True):
            row = {k: (record[c] if c is not None else None) for k, c in columns.items()}
            row["source"], row["line"] = path.name, int(line)
            event = (row["event"] or "").strip().upper()
            for key in ("start", "stop"):
                try:
                    row[key] = number(row[key])
                except ValueError:
                    problems.append(
                        Problem(
                            path.name,
                            int(line),
                            columns[key],
                            str(row[key]),
                            "not a number of days",
                            "give days since diagnosis as a number",
                        )
                    )
            if event == "TREATMENT":
                if columns["agent"] is None:
                    problems.append(
                        Problem(
                            path.name,
                            1,
                            "AGENT",
                            "",
                            "treatment events need an AGENT (or TREATMENT) column",
                            "add the drug name in an AGENT column",
                        )
                    )
                    break
                treatments.append(row)
            elif event in _SPECIMEN_EVENTS and row["sample"]:
                specimens.append(row)
            else:
                other += 1
    if problems:
        raise InputDataError("the timeline files break the data contract", problems)
    if other:
        notes.append(f"timeline: {other} event(s) other than treatments and specimens ignored")
    return {"treatments": treatments, "specimens": specimens}


def _status(value: object) -> bool | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text.startswith("1") or text in ("progressed", "progression", "true", "yes"):
        return True
    if text.startswith("0") or text in ("censored", "false", "no"):
        return False
    raise ValueError(text)


def treatments_from_timeline(
    events: list[dict[str, Any]],
    known: set[str],
    patients: dict[str, dict[str, Any]],
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[Problem], dict[str, Any]]:
    problems: list[Problem] = []
    unknown = [e for e in events if str(e["patient"]) not in known]
    if unknown:
        notes.append(
            f"timeline: {len(unknown)} treatment event(s) for patients absent from "
            "the clinical files skipped"
        )
    no_agent = [e for e in events if str(e["patient"]) in known and not e["agent"]]
    if no_agent:
        notes.append(f"timeline: {len(no_agent)} treatment event(s) without an agent skipped")
    if not events:
        notes.append(
            "timeline: no treatment events, so the treatments table is empty (name the drug "
            "when scoring)"
        )
    groups: dict[tuple[str, object], list[dict[str, Any]]] = {}
    for event in events:
        if str(event["patient"]) in known and event["agent"]:
            key = event["treatment_id"] or ("@start", event["start"])
            groups.setdefault((str(event["patient"]), key), []).append(event)
    table = []
    for (patient, _), group in groups.items():
        first = group[0]
        drugs = list(
            dict.fromkeys(
                part.strip() for e in group for part in str(e["agent"]).split("+") if part.strip()
            )
        )
        table.append(
            {
                "patient_id": patient,
                "drug": "+".join(drugs),
                "_first": first,
                "_start": first["start"],
                "_stop": first["stop"],
                "_line": first["line"],
                "line_number": first["line_number"],
                "treatment_id": first["treatment_id"],
            }
        )
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for row in table:
        by_patient.setdefault(row["patient_id"], []).append(row)
    for rows in by_patient.values():
        starts = sorted({r["_start"] for r in rows if r["_start"] is not None})
        for row in rows:
            if row["line_number"] is None and row["_start"] is not None:
                row["line_number"] = starts.index(row["_start"]) + 1
            if row["treatment_id"] is None:
                row["treatment_id"] = f"{row['patient_id']}_L{row['line_number']}"
    outcome_rows = []
    for row in table:
        first = row["_first"]
        months, status = first["pfs_months"], first["pfs_status"]
        if months is None and status is None:
            continue
        try:
            observed = _status(status)
        except ValueError:
            problems.append(
                Problem(
                    first["source"],
                    first["line"],
                    "PFS_STATUS",
                    str(status),
                    "unknown status",
                    "use 1:Progressed or 0:Censored",
                )
            )
            continue
        outcome_rows.append(
            {
                "treatment_id": row["treatment_id"],
                "time_to_resistance_months": months,
                "resistance_observed": observed,
                "mechanism": first["mechanism"],
                "_line": first["line"],
            }
        )
    if not outcome_rows:
        outcome_rows, skipped, untreated = _patient_outcomes(patients, by_patient, problems)
        if untreated:
            notes.append(
                f"clinical: PFS of {untreated} patient(s) without treatment events not used"
            )
        if skipped:
            notes.append(
                f"clinical: PFS of {skipped} patient(s) with several treatments not "
                "used (cBioPortal keeps PFS per patient; ambiguous)"
            )
    columns = ["patient_id", "treatment_id", "drug", "line_number", "_line"]
    frame = pd.DataFrame(table, columns=[*columns, "_first", "_start", "_stop"])
    for key, name in (("drug_class", "drug_class"), ("target", "target"), ("setting", "setting")):
        if any(r["_first"][key] for r in table):
            frame[name] = [r["_first"][key] for r in table]
    spans = {r["treatment_id"]: (r["patient_id"], r["_start"], r["_stop"]) for r in table}
    frame = frame.drop(columns=["_first", "_start", "_stop"])
    outcomes = pd.DataFrame(outcome_rows) if outcome_rows else None
    return frame, outcomes, problems, spans


def _patient_outcomes(
    patients: dict[str, dict[str, Any]],
    by_patient: dict[str, list[dict[str, Any]]],
    problems: list[Problem],
) -> tuple[list[dict[str, Any]], int, int]:
    rows, skipped, untreated = [], 0, 0
    for patient_id, info in patients.items():
        record = info.get("_record")
        if not record:
            continue
        lookup = {str(k).upper(): v for k, v in record.items()}
        months, status = lookup.get("PFS_MONTHS"), lookup.get("PFS_STATUS")
        if months is None or status is None:
            continue
        treatments = by_patient.get(patient_id, [])
        if len(treatments) != 1:
            skipped += len(treatments) > 1
            untreated += not treatments
            continue
        try:
            observed = _status(status)
        except ValueError:
            problems.append(
                Problem(
                    info["_source"],
                    info["_line"],
                    "PFS_STATUS",
                    str(status),
                    "unknown status",
                    "use 1:Progressed or 0:Censored",
                )
            )
            continue
        rows.append(
            {
                "treatment_id": treatments[0]["treatment_id"],
                "time_to_resistance_months": months,
                "resistance_observed": observed,
                "mechanism": None,
                "_line": info["_line"],
            }
        )
    return rows, skipped, untreated
