"""The job behind `oncoresist explain`: read → explain → write tidy driver rows.

The CLI renders what these return; notebooks and tests call them directly. Outputs are
written atomically and never overwrite an existing file unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from oncoresist.exceptions import InputDataError, Problem, rejected_row_count
from oncoresist.explain.attributions import drivers_table, explain_features
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.io.files import make_folder, refuse_existing
from oncoresist.io.inputs import read_input
from oncoresist.io.tables import write_table
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.tracking.resolve import resolve_bundle


@dataclass
class ExplainJob:
    """What `oncoresist explain` wrote."""

    out: Path
    n_read: int
    n_explained: int
    n_rejected: int
    n_drivers: int
    model: str
    rejected: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all rows explained, 3 partial, 1 nothing explained."""
        if self.n_explained == 0:
            return 1
        return 3 if self.n_rejected else 0


def read_profiles(input_path: str | Path) -> tuple[pd.DataFrame, list[Problem], int]:
    """Annotated profile frame of any input, with the rows (or drugs) rejected and rows read."""
    batch = read_input(input_path)
    annotated, problems = annotate_treatments(
        batch.cohort.treatments, batch.cohort.patients, errors="collect", source=batch.source
    )
    rejected = batch.rejected + problems
    if len(annotated) == 0:
        raise InputDataError(f"no row of {input_path} can be explained", rejected)
    cohort = batch.cohort.with_tables(treatments=annotated.reset_index(drop=True))
    return cohort_to_profiles(cohort), rejected, batch.n_read


def explain_file(
    input_path: str | Path,
    out: str | Path,
    *,
    model: str = "models:/oncoresist@champion",
    top_k: int = 3,
    group: bool = False,
    overwrite: bool = False,
    tracking_uri: str | None = None,
) -> ExplainJob:
    """Write the top-``k`` drivers per row and model as tidy rows.

    Columns: patient_id, treatment_id, model (``mechanism:<predicted class>`` or
    ``time_to_resistance``), rank, feature, label, value, contribution (log-odds of the
    uncalibrated mechanism booster / log-time of the AFT model), sentence.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    InputDataError
        No row of the input can be read or explained.
    """
    out = Path(out)
    refuse_existing(out, overwrite)
    bundle, used = resolve_bundle(model, tracking_uri)
    profiles, rejected, n_read = read_profiles(input_path)
    features = bundle.features(profiles)
    table = drivers_table(
        bundle, explain_features(bundle, features), profiles, k=top_k, group=group
    )
    make_folder(out.parent)
    write_table(table, out)
    n_rejected = rejected_row_count(rejected)
    return ExplainJob(out, n_read, len(profiles), n_rejected, len(table), used, rejected)
