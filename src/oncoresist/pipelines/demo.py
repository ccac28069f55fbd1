"""The committed demo inputs (``data/demo/``): a few dozen simulated patient-treatments.

They exist in two forms, a canonical folder and a clinicians' profile sheet, so the README
walkthrough and ``make run`` exercise both readers. They are regenerated (byte for byte) by
:func:`make_demo`; a test checks the committed files match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.features.profile_text import profiles_as_text
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.io.canonical import write_canonical_folder
from oncoresist.io.tables import write_table
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.paths import demo_dir
from oncoresist.simulate.cohort import simulate_cohort

DEMO_SEED = 2024
DEMO_SIZE = 36
#: Rows of the sheet whose expression is blanked, to show scoring without expression.
ROWS_WITHOUT_EXPRESSION = (3, 17)
SHEET_COLUMNS = (
    "patient_id", "treatment_id", "cancer_type", "drug", "line_number", "age_years", "sex",
    "mutations", "copy_number", "fusions",
)  # fmt: skip


def profile_sheet(profiles: pd.DataFrame) -> pd.DataFrame:
    """The clinicians' sheet of a profile frame: input columns only (nothing derived).

    Alterations are written as the sheet's text (structured cells through
    :func:`~oncoresist.features.profile_text.profiles_as_text`).
    """
    expression = [c for c in profiles.columns if str(c).startswith("expr_")]
    sheet = profiles_as_text(profiles[[*SHEET_COLUMNS, *expression]])
    sheet["line_number"] = sheet["line_number"].astype(int)
    return sheet


def make_demo(
    out_dir: str | Path | None = None, n: int = DEMO_SIZE, seed: int = DEMO_SEED
) -> dict[str, Path]:
    """Simulate the demo cohort and write ``canonical/`` and ``profiles.csv`` under ``out_dir``.

    The simulator's hidden truth is not written: the demo is an input example, not a
    benchmark.
    """
    out = Path(out_dir) if out_dir else demo_dir()
    cohort = simulate_cohort(n=n, seed=seed).cohort
    cohort.name = "oncoresist-demo"
    cohort.source = f"simulated (seed {seed}); not real patients"
    canonical = write_canonical_folder(cohort, out / "canonical")
    annotated = cohort.with_tables(
        treatments=annotate_treatments(cohort.treatments, cohort.patients)
    )
    sheet = profile_sheet(cohort_to_profiles(annotated))
    expression = [c for c in sheet.columns if str(c).startswith("expr_")]
    sheet[expression] = sheet[expression].round(3)
    rows = [r for r in ROWS_WITHOUT_EXPRESSION if r < len(sheet)]
    sheet.loc[rows, expression] = np.nan
    profiles_path = write_table(sheet, out / "profiles.csv")
    return {"canonical": canonical, "profiles": profiles_path}
