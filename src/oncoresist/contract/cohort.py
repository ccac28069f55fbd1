"""The Cohort (a set of canonical tables), cross-table links and the baseline-only rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from oncoresist.contract.cells import shorten
from oncoresist.contract.expression import validate_expression
from oncoresist.contract.schema import BASELINE, COLUMNS, TABLES, ExpressionScale
from oncoresist.contract.validate import validate_table
from oncoresist.exceptions import InputDataError, Problem

# --------------------------------------------------------------------------------------
# Cohort
# --------------------------------------------------------------------------------------


def empty_table(table: str) -> pd.DataFrame:
    """Return an empty canonical table with its required and optional columns."""
    required, optional = COLUMNS[table]
    columns = required if table == "expression" else (*required, *optional)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class Cohort:
    """A set of canonical tables describing patients, their treatments and tumour profiles.

    ``outcomes`` exists only for training cohorts; ``gene_panels`` only when samples were
    sequenced on targeted panels (a gene off a sample's panel is *missing*, not wild-type).
    """

    patients: pd.DataFrame
    samples: pd.DataFrame
    treatments: pd.DataFrame
    mutations: pd.DataFrame = field(default_factory=lambda: empty_table("mutations"))
    copy_number: pd.DataFrame = field(default_factory=lambda: empty_table("copy_number"))
    fusions: pd.DataFrame = field(default_factory=lambda: empty_table("fusions"))
    expression: pd.DataFrame = field(default_factory=lambda: empty_table("expression"))
    gene_panels: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    expression_scale: ExpressionScale = "log2_tpm"
    name: str = "cohort"
    source: str = ""
    #: Notes from the reader (e.g. which expression profile was used, rows skipped by design).
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables present, by name, in :data:`TABLES` order."""
        present = {}
        for f in fields(self):
            if f.name in TABLES:
                value = getattr(self, f.name)
                if value is not None:
                    present[f.name] = value
        return present

    def with_tables(self, **tables: pd.DataFrame | None) -> Cohort:
        """Return a copy with some tables replaced."""
        return replace(self, **tables)

    @property
    def genes_with_expression(self) -> list[str]:
        """Gene columns of the expression table."""
        return [c for c in self.expression.columns if c != "sample_id"]

    def __repr__(self) -> str:
        n_out = 0 if self.outcomes is None else len(self.outcomes)
        return (
            f"<Cohort {self.name!r}: {len(self.patients)} patients, {len(self.samples)} "
            f"samples, {len(self.treatments)} treatments, {len(self.mutations)} mutations, "
            f"{len(self.genes_with_expression)} expressed genes, {n_out} outcomes>"
        )


def validate_cohort(cohort: Cohort, sources: Mapping[str, str] | None = None) -> Cohort:
    """Validate every table and the links between them.

    Returns a new cohort with canonical dtypes. Raises one :class:`InputDataError` listing
    the problems of every table (each table's problems, then broken links).
    """
    sources = dict(sources or {})
    problems: list[Problem] = []
    validated: dict[str, pd.DataFrame | None] = {}
    for name, frame in cohort.tables().items():
        try:
            if name == "expression":
                validated[name] = validate_expression(
                    frame, source=sources.get(name), scale=cohort.expression_scale
                )
            else:
                validated[name] = validate_table(frame, name, source=sources.get(name))
        except InputDataError as err:
            problems += err.problems
    if problems:
        raise InputDataError(f"cohort '{cohort.name}' breaks the data contract", problems)
    result = cohort.with_tables(**validated)
    problems += _link_problems(result, sources)
    if problems:
        raise InputDataError(f"cohort '{cohort.name}' has broken links between tables", problems)
    return result


def _link_problems(cohort: Cohort, sources: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []

    def check(table: str, column: str, frame: pd.DataFrame, known: set[str], parent: str):
        if frame is None or column not in frame.columns:
            return
        values = frame[column]
        bad = values.notna() & ~values.isin(known)
        for pos in np.flatnonzero(bad.to_numpy()):
            problems.append(
                Problem(
                    sources.get(table, table),
                    int(pos) + 2,
                    column,
                    shorten(values.iloc[pos]),
                    f"not found in the {parent} table",
                    f"add it to {parent} or correct the identifier",
                )
            )

    patients = set(cohort.patients["patient_id"])
    samples = set(cohort.samples["sample_id"])
    treatments = set(cohort.treatments["treatment_id"])
    check("samples", "patient_id", cohort.samples, patients, "patients")
    check("treatments", "patient_id", cohort.treatments, patients, "patients")
    check("samples", "treatment_id", cohort.samples, treatments, "treatments")
    for table in ("mutations", "copy_number", "fusions", "expression"):
        check(table, "sample_id", getattr(cohort, table), samples, "samples")
    if cohort.outcomes is not None:
        check("outcomes", "treatment_id", cohort.outcomes, treatments, "treatments")
    if cohort.gene_panels is not None and "panel_id" in cohort.samples.columns:
        check(
            "samples",
            "panel_id",
            cohort.samples,
            set(cohort.gene_panels["panel_id"]),
            "gene_panels",
        )
    return problems


def baseline_samples(cohort: Cohort) -> pd.DataFrame:
    """Map each treatment to the samples its features may use.

    The rule of the contract: features come **only** from ``baseline`` samples. A baseline
    sample that names a ``treatment_id`` belongs to that treatment; one that names none
    belongs to every treatment of its patient. Progression and on-treatment samples carry
    the answer (or post-start information) and never appear here.

    Returns
    -------
    DataFrame
        Columns ``treatment_id``, ``sample_id`` (one row per pair), in treatment order.
    """
    samples = cohort.samples
    base = samples[samples["timepoint"] == BASELINE]
    treatments = cohort.treatments[["treatment_id", "patient_id"]]
    if "treatment_id" in base.columns:
        linked = base[base["treatment_id"].notna()][["treatment_id", "sample_id"]]
        unlinked = base[base["treatment_id"].isna()]
    else:
        linked = pd.DataFrame({"treatment_id": [], "sample_id": []}, dtype=object)
        unlinked = base
    via_patient = treatments.merge(unlinked[["patient_id", "sample_id"]], on="patient_id")
    pairs = pd.concat([linked, via_patient[["treatment_id", "sample_id"]]], ignore_index=True)
    pairs = pairs[pairs["treatment_id"].isin(set(treatments["treatment_id"]))]
    order = {t: i for i, t in enumerate(treatments["treatment_id"])}
    pairs = pairs.drop_duplicates().assign(_order=pairs["treatment_id"].map(order))
    return pairs.sort_values(["_order", "sample_id"]).drop(columns="_order").reset_index(drop=True)
