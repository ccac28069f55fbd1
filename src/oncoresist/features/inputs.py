"""Reading a profile frame for the feature builder: checks, categories, expression, programs.

Helpers of :class:`~oncoresist.features.builder.FeatureBuilder` that look at the input frame itself:
required columns, the expression scale (declared and apparent), categorical values (with
combinations split into components), numbers, and expression programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.contract import expression_scale_problems
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.features.profile_text import EXPRESSION_PREFIX
from oncoresist.features.profiles import annotate_profiles
from oncoresist.knowledge.programs import PROGRAM_PREFIX, Signature, load_signatures, program_scores

__all__ = [
    "CATEGORY_FAMILIES",
    "REQUIRED_COLUMNS",
    "SPLIT_FAMILIES",
    "category_pairs",
    "check_expression_values",
    "combination_flags",
    "declared_scale",
    "expression_map",
    "numeric_column",
    "one_hot",
    "prepare_profiles",
    "program_frame",
    "resolve_signatures",
    "unseen_categories",
]

#: One-hot families and the profile column each reads (``drug``: one per combination part).
CATEGORY_FAMILIES: dict[str, str] = {
    "setting": "setting",
    "drug_class": "drug_class",
    "target": "target",
    "drug": "drug",
    "sex": "sex",
    "cancer_type": "cancer_type",
}
#: Families whose value names each part of a combination (``dabrafenib+trametinib``,
#: target ``BRAF+MAP2K1/MAP2K2``): one flag per part, so a part seen alone in training counts.
SPLIT_FAMILIES = frozenset({"drug", "target"})
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "treatment_id",
    "cancer_type",
    "drug",
    "line_number",
)
_SOURCE = "profiles"


def prepare_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """Check the required columns; annotate treatment columns that are absent.

    Raises
    ------
    InputDataError
        When the input is not a DataFrame or lacks a required column.
    """
    if not isinstance(profiles, pd.DataFrame):
        raise InputDataError(
            "the feature builder needs a profile frame (a pandas DataFrame)",
            [Problem(_SOURCE, None, None, type(profiles).__name__, "not a DataFrame",
                     "build one with oncoresist.features.profiles.cohort_to_profiles or read a "
                     "profile sheet")],
        )  # fmt: skip
    missing = [c for c in REQUIRED_COLUMNS if c not in profiles.columns]
    if missing:
        raise InputDataError(
            "the profile frame lacks required columns",
            [Problem(_SOURCE, 1, c, "", "required column is missing",
                     f"add a '{c}' column (required: {', '.join(REQUIRED_COLUMNS)})")
             for c in missing],
        )  # fmt: skip
    if any(c not in profiles.columns for c in ("setting", "drug_class", "target")):
        # A drug the catalogue does not know must not stop scoring: its row keeps missing
        # annotations and unseen_categories reports the drug.
        profiles, _ = annotate_profiles(profiles, errors="collect")
    return profiles


def declared_scale(profiles: pd.DataFrame) -> str:
    """The expression scale a frame declares (``attrs["expression_scale"]``, default log2_tpm)."""
    return str(profiles.attrs.get("expression_scale", "log2_tpm"))


def expression_map(profiles: pd.DataFrame) -> dict[str, str]:
    """Bare upper-case gene → its ``expr_<GENE>`` column in the frame."""
    n = len(EXPRESSION_PREFIX)
    return {str(c)[n:].upper(): c for c in profiles.columns if str(c).startswith(EXPRESSION_PREFIX)}


def check_expression_values(profiles: pd.DataFrame, scale: str) -> None:
    """Refuse expression columns holding text or values that do not look like ``scale``.

    Uses :func:`oncoresist.contract.expression_scale_problems` on each gene's range (two rows
    instead of the whole matrix: the check needs only minima and maxima).
    """
    columns = list(expression_map(profiles).values())
    if not columns:
        return
    values = profiles[columns]
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(values[c])]
    if text:
        raise InputDataError(
            "expression columns hold text",
            [Problem(_SOURCE, None, c, "", "expression column is not numeric",
                     "use numbers only; leave missing values empty") for c in text],
        )  # fmt: skip
    extremes = pd.DataFrame(
        [values.min().to_numpy(dtype=float), values.max().to_numpy(dtype=float)],
        columns=columns,
    )
    extremes.insert(0, "sample_id", ["min", "max"])
    problems = expression_scale_problems(extremes, scale, source=_SOURCE)
    if problems:
        raise InputDataError(
            f"expression values do not look like the declared '{scale}' scale", problems
        )


def category_pairs(values: pd.Series, split: bool) -> pd.DataFrame:
    """``row, value`` pairs of a categorical column (``split``: combinations on ``+``).

    Rows share few distinct values: each distinct value is read once, then broadcast.
    """
    codes, uniques = pd.factorize(pd.Series(values.to_numpy(dtype=object), dtype=object))
    rows: list[np.ndarray] = []
    found: list[np.ndarray] = []
    for k, raw in enumerate(uniques):
        parts = str(raw).split("+") if split else [str(raw)]
        parts = [p.strip() for p in parts if p.strip()]
        if not parts:
            continue
        where = np.flatnonzero(codes == k)
        for part in parts:
            rows.append(where)
            found.append(np.full(len(where), part, dtype=object))
    if not rows:
        return pd.DataFrame(
            {"row": np.array([], dtype=np.int64), "value": pd.Series([], dtype=object)}
        )
    row = np.concatenate(rows)
    order = np.argsort(row, kind="stable")
    value = np.concatenate(found)[order]
    return pd.DataFrame({"row": row[order], "value": pd.Series(value, dtype=object)})


def one_hot(profiles: pd.DataFrame, family: str, seen: list[str]) -> np.ndarray:
    """One-hot block of a family over its training categories.

    An unseen value gives an all-zero row (never an error); a missing value gives NaN.
    """
    block = np.zeros((len(profiles), len(seen)))
    column = CATEGORY_FAMILIES[family]
    if column not in profiles.columns:
        block[:] = np.nan
        return block
    pairs = category_pairs(profiles[column], split=family in SPLIT_FAMILIES)
    cols = pairs["value"].map({v: j for j, v in enumerate(seen)})
    hit = cols.notna().to_numpy()
    block[pairs["row"].to_numpy()[hit], cols[hit].to_numpy(dtype=np.int64)] = 1.0
    has_value = np.zeros(len(profiles), dtype=bool)
    has_value[pairs["row"].to_numpy()] = True
    block[~has_value] = np.nan
    return block


def unseen_categories(profiles: pd.DataFrame, categories: Mapping[str, list[str]]) -> pd.DataFrame:
    """Per row, the values of each one-hot family not among the training ``categories``.

    Returns
    -------
    DataFrame
        One column per family (unseen values ``;``-joined, or None) and ``warning`` (a
        sentence, or None), indexed like ``profiles``.
    """
    n = len(profiles)
    out = pd.DataFrame(index=np.arange(n))
    notes: list[list[str]] = [[] for _ in range(n)]
    for family, seen in categories.items():
        column = CATEGORY_FAMILIES[family]
        values = np.full(n, None, dtype=object)
        if column in profiles.columns:
            pairs = category_pairs(profiles[column], split=family in SPLIT_FAMILIES)
            new = pairs[~pairs["value"].isin(set(seen))]
            if len(new):
                joined = new.groupby("row")["value"].agg("; ".join)
                values[joined.index.to_numpy()] = joined.to_numpy(dtype=object)
                label = family.replace("_", " ")
                for row, value in joined.items():
                    notes[row].append(f"{label} '{value}'")
        out[family] = pd.Series(values, dtype=object)
    out["warning"] = pd.Series(
        [
            "not seen in training (its one-hot features are all zero): " + ", ".join(n)
            if n
            else None
            for n in notes
        ],
        dtype=object,
    )
    out.index = profiles.index
    return out


def numeric_column(profiles: pd.DataFrame, column: str, default: float = np.nan) -> np.ndarray:
    """A column as float (text that is not a number → NaN); ``default`` when absent."""
    if column not in profiles.columns:
        return np.full(len(profiles), default)
    return pd.to_numeric(profiles[column], errors="coerce").to_numpy(dtype=float)


def combination_flags(profiles: pd.DataFrame) -> np.ndarray:
    """1.0 for a combination regimen, 0.0 for a single agent, NaN when unknown."""
    if "is_combination" not in profiles.columns:
        drugs = profiles["drug"].astype(str).str.contains("+", regex=False)
        return drugs.to_numpy(dtype=float)

    def flag(value: object) -> float:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        return float(str(value).strip().lower() in {"true", "1", "1.0", "yes"})

    return profiles["is_combination"].map(flag).to_numpy(dtype=float)


def resolve_signatures(source: Mapping | str | Path | None):
    """Expression programs from a file path (None = the knowledge base's) or a mapping.

    A mapping may hold :class:`~oncoresist.knowledge.programs.Signature` objects or
    ``{"up": [...], "down": [...]}`` dicts.
    """
    if source is None or isinstance(source, str | Path):
        return load_signatures(source)
    signatures = {}
    for name, spec in source.items():
        if isinstance(spec, Signature):
            signatures[str(name)] = spec
            continue
        up = tuple(str(g).upper() for g in spec["up"])
        down = tuple(str(g).upper() for g in spec.get("down", ()))
        signatures[str(name)] = Signature(str(name), up, down)
    return signatures


def program_frame(profiles: pd.DataFrame, signatures: Mapping) -> pd.DataFrame:
    """Program scores of each row (columns = program names, positional index)."""
    columns = expression_map(profiles)
    bare = profiles[list(columns.values())].astype(float).reset_index(drop=True)
    bare.columns = list(columns)
    scores = program_scores(bare, signatures)
    scores.columns = [c[len(PROGRAM_PREFIX) :] for c in scores.columns]
    return scores
