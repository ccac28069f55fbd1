"""Curated knowledge: cancer types, clinical settings, treatment annotation (one entry point).

The facts live in ``data/knowledge/*.yaml`` (sources cited there); they are loaded lazily
(nothing is read at import time), validated with strict pydantic models and cached. A malformed
file raises :class:`~oncoresist.exceptions.ConfigError` naming the file and field.

* drugs (:mod:`oncoresist.knowledge.drugs`, re-exported): :func:`load_drug_catalogue`,
  :func:`resolve_regimen`, :func:`known_drug_names`;
* :func:`normalise_cancer_type` maps free-text cancer types to canonical codes (``nsclc``,
  ``breast``, ``melanoma``, ``cml``, ``colorectal``); unknown types are kept, never an error;
* :func:`derive_setting` names the clinical setting a model conditions on, from ordered rules;
* :func:`annotate_treatments` adds the derived treatment columns of the data contract;
* known resistance alterations (:mod:`oncoresist.knowledge.resistance`, re-exported):
  :func:`known_resistance`, :func:`known_resistance_for_profile`, :func:`resistance_catalogue`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd
from pydantic import Field, model_validator

from oncoresist.exceptions import InputDataError, Problem, UnknownDrugError
from oncoresist.knowledge import drugs as _drugs
from oncoresist.knowledge import resistance as _resistance
from oncoresist.knowledge.catalogue import (
    Strict,
    config_problem,
    is_missing,
    knowledge_folder,
    match_key,
    read_model,
)
from oncoresist.knowledge.drugs import (
    Regimen,
    load_drug_catalogue,
)

__all__ = [
    "DERIVED_COLUMNS",
    "SettingRule",
    "annotate_treatments",
    "cancer_types",
    "clear_cache",
    "derive_setting",
    "is_known_cancer_type",
    "normalise_cancer_type",
    "setting_rules",
]

CANCER_TYPES_FILE = "cancer_types.yaml"
SETTINGS_FILE = "settings_rules.yaml"

# --------------------------------------------------------------------------------------
# File schemas
# --------------------------------------------------------------------------------------


class _CancerTypeSpec(Strict):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()


class _CancerTypesFile(Strict):
    cancer_types: dict[str, _CancerTypeSpec] = Field(min_length=1)


class SettingRule(Strict):
    """One rule of ``settings_rules.yaml`` (see that file for the meaning of each field)."""

    id: str = Field(min_length=1)
    description: str = ""
    cancer_types: tuple[str, ...] = ()
    any_drug: tuple[str, ...] = ()
    any_class: tuple[str, ...] = ()
    allowed_drugs: tuple[str, ...] = ()
    allowed_classes: tuple[str, ...] = ()
    min_line: int | None = Field(default=None, ge=1)
    max_line: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _needs_a_drug(self) -> SettingRule:
        if not (self.any_drug or self.any_class):
            raise ValueError("a rule needs any_drug or any_class")
        return self


class _SettingsFile(Strict):
    rules: tuple[SettingRule, ...] = Field(min_length=1)


def clear_cache() -> None:
    """Forget every loaded knowledge file (after editing one in a running session)."""
    _drugs.clear_cache()
    _resistance.clear_cache()
    _load_cancer_types.cache_clear()
    _load_setting_rules.cache_clear()


# --------------------------------------------------------------------------------------
# Cancer types
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _load_cancer_types(directory: str) -> tuple[dict[str, str], dict[str, str]]:
    path = Path(directory) / CANCER_TYPES_FILE
    spec = read_model(path, _CancerTypesFile)
    index: dict[str, str] = {}
    for code, entry in spec.cancer_types.items():
        if code != code.lower():
            raise config_problem(path, f"cancer_types.{code}", "codes are lower case")
        for alias in (code, entry.name, *entry.aliases):
            owner = index.setdefault(match_key(alias), code)
            if owner != code:
                raise config_problem(
                    path,
                    f"cancer_types.{code}.aliases",
                    f"alias {alias!r} already belongs to {owner!r}",
                )
    return {c: e.name for c, e in spec.cancer_types.items()}, index


def cancer_types(directory: str | Path | None = None) -> dict[str, str]:
    """Canonical cancer type codes and their names."""
    return dict(_load_cancer_types(knowledge_folder(directory))[0])


def normalise_cancer_type(text: object, directory: str | Path | None = None) -> str:
    """Map a cancer type as written to its canonical code.

    ``"Non-Small Cell Lung Cancer"``, ``"LUAD"`` and ``"lung"`` give ``nsclc``. An unknown type
    is kept as written, lower-cased and stripped (never an error); a missing one gives ``""``.
    See :func:`is_known_cancer_type`.
    """
    if is_missing(text):
        return ""
    code = _load_cancer_types(knowledge_folder(directory))[1].get(match_key(text))
    return code or str(text).strip().lower()


def is_known_cancer_type(text: object, directory: str | Path | None = None) -> bool:
    """True when ``text`` (a code or any alias) is a cancer type of the knowledge base."""
    codes = _load_cancer_types(knowledge_folder(directory))[0]
    return normalise_cancer_type(text, directory) in codes


# --------------------------------------------------------------------------------------
# Clinical settings
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _load_setting_rules(directory: str) -> tuple[SettingRule, ...]:
    path = Path(directory) / SETTINGS_FILE
    rules = read_model(path, _SettingsFile).rules
    catalogue = load_drug_catalogue(directory)
    codes = _load_cancer_types(directory)[0]
    for i, rule in enumerate(rules):
        checks = (
            ("cancer_types", rule.cancer_types, codes),
            ("any_drug", rule.any_drug, catalogue.drugs),
            ("allowed_drugs", rule.allowed_drugs, catalogue.drugs),
            ("any_class", rule.any_class, catalogue.classes),
            ("allowed_classes", rule.allowed_classes, catalogue.classes),
        )
        for field, values, known in checks:
            for value in values:
                if value not in known:
                    raise config_problem(
                        path, f"rules[{i}].{field}", f"unknown value {value!r} (rule {rule.id})"
                    )
    return rules


def setting_rules(directory: str | Path | None = None) -> tuple[SettingRule, ...]:
    """The ordered setting rules (first match wins)."""
    return _load_setting_rules(knowledge_folder(directory))


def _rule_matches(rule: SettingRule, cancer: str, regimen: Regimen, line: int | None) -> bool:
    names = {c.name for c in regimen.components}
    classes = set(regimen.drug_classes)
    if rule.cancer_types and cancer not in rule.cancer_types:
        return False
    if not (names & set(rule.any_drug) or classes & set(rule.any_class)):
        return False
    if (rule.allowed_drugs or rule.allowed_classes) and not all(
        c.name in rule.allowed_drugs or c.drug_class in rule.allowed_classes
        for c in regimen.components
    ):
        return False
    if rule.min_line is not None or rule.max_line is not None:
        if line is None:
            return False
        if rule.min_line is not None and line < rule.min_line:
            return False
        if rule.max_line is not None and line > rule.max_line:
            return False
    return True


def derive_setting(
    cancer_type: object,
    drug: str | Regimen,
    line_number: float | None,
    directory: str | Path | None = None,
) -> str:
    """Name the clinical setting of a treatment.

    Parameters
    ----------
    cancer_type : str
        As written (normalised with :func:`normalise_cancer_type`).
    drug : str or Regimen
        A drug or combination (``"letrozole+palbociclib"``); names resolve through aliases.
    line_number : int, optional
        Therapy line (1 = first line). Missing fails rules that bound the line.
    directory : str or Path, optional
        Knowledge folder (defaults to the project's).

    Returns
    -------
    str
        The id of the first rule of ``settings_rules.yaml`` that matches, else
        ``"<primary drug class>_other"`` in lower case (e.g. ``"egfr_tki_other"``).

    Raises
    ------
    UnknownDrugError
        If the drug is not in the catalogue.
    """
    folder = knowledge_folder(directory)
    regimen = (
        drug if isinstance(drug, Regimen) else load_drug_catalogue(folder).resolve_regimen(drug)
    )
    cancer = normalise_cancer_type(cancer_type, folder)
    line = None if is_missing(line_number) else int(float(line_number))  # type: ignore[arg-type]
    for rule in _load_setting_rules(folder):
        if _rule_matches(rule, cancer, regimen, line):
            return rule.id
    return f"{regimen.drug_class}_other".lower()


# --------------------------------------------------------------------------------------
# Treatments table
# --------------------------------------------------------------------------------------

#: Columns :func:`annotate_treatments` adds or overwrites.
DERIVED_COLUMNS = (
    "drug",
    "drug_class",
    "drug_classes",
    "target",
    "setting",
    "generation",
    "is_combination",
)


@overload
def annotate_treatments(
    treatments: pd.DataFrame,
    patients: pd.DataFrame,
    errors: Literal["raise"] = ...,
    source: str = ...,
    line_numbers: Sequence[int] | None = ...,
) -> pd.DataFrame: ...
@overload
def annotate_treatments(
    treatments: pd.DataFrame,
    patients: pd.DataFrame,
    errors: Literal["collect"],
    source: str = ...,
    line_numbers: Sequence[int] | None = ...,
) -> tuple[pd.DataFrame, list[Problem]]: ...
def annotate_treatments(
    treatments: pd.DataFrame,
    patients: pd.DataFrame,
    errors: Literal["raise", "collect"] = "raise",
    source: str = "treatments",
    line_numbers: Sequence[int] | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, list[Problem]]:
    """Add the catalogue-derived columns to a treatments table.

    Parameters
    ----------
    treatments : DataFrame
        Needs ``patient_id``, ``drug``, ``line_number``.
    patients : DataFrame
        Needs ``patient_id``, ``cancer_type`` (used for the setting).
    errors : {"raise", "collect"}
        ``"raise"``: any bad row raises one error listing every bad row. ``"collect"``: bad
        rows are left out and returned as problems (a batch scorer rejects them, keeps the rest).
    source : str
        File name shown in problems.
    line_numbers : sequence of int, optional
        Each row's line in the source file; defaults to ``position + 2`` (CSV with a header).

    Returns
    -------
    DataFrame, or (DataFrame, list of Problem) with ``errors="collect"``
        A copy (original index kept) with ``drug`` rewritten to the canonical regimen string
        and added/overwritten columns: ``drug_class`` (class of the primary component, see
        :class:`Regimen`), ``drug_classes`` (every component's class, ``+``-joined),
        ``target``, ``setting``, ``generation`` (float, NaN where it does not apply) and
        ``is_combination`` (bool).

    Raises
    ------
    UnknownDrugError
        (``errors="raise"``) when every problem is an unknown drug name: one row per problem
        with the closest known names.
    InputDataError
        (``errors="raise"``) for other problems: empty drug, a drug named twice, a patient
        missing from ``patients``, missing columns.
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    _require(treatments, ("patient_id", "drug", "line_number"), source)
    _require(patients, ("patient_id", "cancer_type"), "patients")
    folder = knowledge_folder(None)
    catalogue = load_drug_catalogue(folder)
    cancer = {
        str(p).strip(): c
        for p, c in zip(patients["patient_id"], patients["cancer_type"], strict=True)
    }
    lines = list(line_numbers) if line_numbers is not None else None
    records: dict[str, list[Any]] = {c: [] for c in DERIVED_COLUMNS}
    kept: list[int] = []
    problems: list[Problem] = []
    unknown_only = True
    # A cohort repeats a handful of regimens and settings: resolve each distinct one once.
    resolved: dict[str, tuple[Regimen | None, list[Problem], bool]] = {}
    derived: dict[tuple[str, str, object], tuple[Any, ...]] = {}
    columns = zip(
        treatments["patient_id"], treatments["drug"], treatments["line_number"], strict=True
    )
    for pos, (patient, drug, line) in enumerate(columns):
        row = lines[pos] if lines is not None else pos + 2
        text = "" if is_missing(drug) else str(drug)
        if text not in resolved:
            resolved[text] = catalogue.regimen_problems(drug, source, row)
        regimen, first, unknown = resolved[text]
        found = [replace(p, row=row) for p in first]
        patient_id = "" if is_missing(patient) else str(patient).strip()
        if patient_id not in cancer:
            unknown = False
            found.append(
                Problem(
                    source,
                    row,
                    "patient_id",
                    patient_id or "<empty>",
                    "patient not in the patients table",
                    "add the patient to the patients table or fix the id",
                )
            )
        try:
            line_int = None if is_missing(line) else int(float(line))
        except (TypeError, ValueError):
            unknown = False
            found.append(
                Problem(
                    source,
                    row,
                    "line_number",
                    str(line),
                    "not a number",
                    "use the therapy line as a whole number >= 1",
                )
            )
        if found or regimen is None:
            problems += found
            unknown_only = unknown_only and unknown
            continue
        kept.append(pos)
        key = (str(cancer[patient_id]), regimen.name, line_int)
        if key not in derived:
            derived[key] = (
                regimen.name,
                regimen.drug_class,
                "+".join(regimen.drug_classes),
                regimen.target,
                derive_setting(cancer[patient_id], regimen, line_int, folder),
                math.nan if regimen.generation is None else float(regimen.generation),
                regimen.is_combination,
            )
        for column, value in zip(DERIVED_COLUMNS, derived[key], strict=True):
            records[column].append(value)
    if problems and errors == "raise":
        error = UnknownDrugError if unknown_only else InputDataError
        raise error(f"{source}: cannot annotate treatments", problems)
    out = treatments.iloc[kept].copy()
    for column in DERIVED_COLUMNS:
        out[column] = pd.Series(records[column], index=out.index, dtype=_DTYPES[column])
    return (out, problems) if errors == "collect" else out


_DTYPES = {"generation": "float64", "is_combination": "bool"} | {
    c: object for c in ("drug", "drug_class", "drug_classes", "target", "setting")
}


def _require(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{source} lacks columns needed to annotate treatments",
            [
                Problem(source, 1, c, "", "required column is missing", f"add a column '{c}'")
                for c in missing
            ],
        )
