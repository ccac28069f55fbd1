"""The wide expression table: one numeric column per gene, on one declared scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from oncoresist.contract.cells import (
    blank_mask,
    coerce_column,
    duplicate_key_problems,
    line_lookup,
    shorten,
)
from oncoresist.contract.schema import EXPRESSION_SCALES, FIXES, ExpressionScale
from oncoresist.exceptions import InputDataError, Problem

# --------------------------------------------------------------------------------------
# Expression: wide (sample_id + one column per gene) on ONE declared scale
# --------------------------------------------------------------------------------------

#: log2(TPM + 1) cannot exceed log2(1e6 + 1) ~ 19.93; values well above mean raw counts/TPM.
LOG2_TPM_MAX = 20.0


def validate_expression(
    frame: pd.DataFrame,
    source: str | None = None,
    line_numbers: Sequence[int] | None = None,
    scale: ExpressionScale = "log2_tpm",
) -> pd.DataFrame:
    """Validate a wide expression table (``sample_id`` + one numeric column per gene).

    Gene columns are upper-cased; text or infinite cells are problems; NaN is allowed
    (missing expression). The values are checked against the declared ``scale``.
    """
    source = source or "expression"
    if "sample_id" not in frame.columns:
        raise InputDataError(
            f"{source} does not match the 'expression' table contract",
            [
                Problem(
                    source,
                    1,
                    "sample_id",
                    "",
                    "required column is missing",
                    "the first column must be sample_id, then one column per gene",
                )
            ],
        )
    work = frame.copy()
    lines = line_lookup(work, line_numbers)
    problems = coerce_column(work, "sample_id", source, lines)
    genes = [c for c in work.columns if c != "sample_id"]
    upper = [str(g).strip().upper() for g in genes]
    repeated = sorted({g for g in upper if upper.count(g) > 1})
    if repeated:
        problems.append(
            Problem(
                source,
                1,
                ", ".join(repeated[:10]),
                "",
                "gene columns repeated",
                "give each gene one column (readers average duplicated genes)",
            )
        )
    work.columns = ["sample_id", *upper]
    if upper and not repeated:
        block = work[upper]
        if all(pd.api.types.is_numeric_dtype(dtype) for dtype in block.dtypes):
            numbers = block.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            text_cells = np.zeros(numbers.shape, dtype=bool)
        else:
            # Whole-column conversions (C speed): a cell is bad when it is neither empty nor
            # a number. Only the offending cells are visited in Python.
            numbers = block.apply(pd.to_numeric, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            empty = blank_mask(block)
            text_cells = np.isnan(numbers) & ~empty
        infinite = np.isinf(numbers)
        # the cells as given, for problem reports only (an object copy of the whole block)
        raw_values = block.to_numpy(dtype=object) if text_cells.any() or infinite.any() else None
        for (i, j), reason, fix in [
            *[(cell, "expression value is not a number",
               "use numbers only; leave missing values empty")
              for cell in zip(*np.nonzero(text_cells), strict=True)],
            *[(cell, "infinite value", "use finite numbers; leave missing values empty")
              for cell in zip(*np.nonzero(infinite), strict=True)],
        ]:  # fmt: skip
            problems.append(
                Problem(source, lines[work.index[i]], upper[j], shorten(raw_values[i, j]),
                        reason, fix)
            )  # fmt: skip
        numbers = np.where(infinite, np.nan, numbers)
        work = pd.concat(
            [work[["sample_id"]], pd.DataFrame(numbers, columns=upper, index=work.index)], axis=1
        )
    empty_ids = work["sample_id"].isna()
    for idx in work.index[empty_ids]:
        problems.append(
            Problem(
                source, lines[idx], "sample_id", "<empty>", "empty sample id", FIXES["sample_id"]
            )
        )
    problems += duplicate_key_problems(work, "expression", source, lines)
    if not problems and genes:
        problems += expression_scale_problems(work, scale, source, list(lines.values()))
    if problems:
        raise InputDataError(f"{source} breaks the 'expression' table contract", problems)
    return work.reset_index(drop=True)


def expression_scale_problems(
    frame: pd.DataFrame,
    scale: ExpressionScale,
    source: str = "expression",
    line_numbers: Sequence[int] | None = None,
) -> list[Problem]:
    """Return problems if the values do not look like the declared ``scale``.

    ``log2_tpm`` values lie in [0, 20]; negative values mean z-scores or log ratios, values
    above 20 mean raw counts or unlogged TPM. ``zscore`` values are centred near zero per gene;
    a table with no negative value is not z-scored. Each problem names the row (line in the
    file) and gene column of the most extreme offending value.
    """
    genes = [c for c in frame.columns if c != "sample_id"]
    values = frame[genes].to_numpy(dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return []
    lines = line_lookup(frame, line_numbers)
    low_at = np.unravel_index(np.nanargmin(np.where(finite, values, np.inf)), values.shape)
    high_at = np.unravel_index(np.nanargmax(np.where(finite, values, -np.inf)), values.shape)
    low, high = float(values[low_at]), float(values[high_at])

    def problem(at: tuple[int, int], value: str, reason: str, fix: str) -> Problem:
        return Problem(source, lines[frame.index[at[0]]], str(genes[at[1]]), value, reason, fix)

    if scale == "log2_tpm":
        if high > LOG2_TPM_MAX and low < -0.5:
            return [
                problem(
                    high_at,
                    f"{high:.3g} (and {low:.3g} elsewhere)",
                    f"expression mixes scales (negative values and values above {LOG2_TPM_MAX:g})",
                    "put every gene on log2(TPM+1); do not mix z-scores and counts",
                ),
            ]
        if high > LOG2_TPM_MAX:
            return [
                problem(
                    high_at,
                    f"{high:.3g}",
                    "values above 20 look like raw counts or unlogged TPM, not log2(TPM+1)",
                    "transform with log2(TPM + 1), or declare the real scale in "
                    "dataset.yaml (expression_scale)",
                ),
            ]
        if low < -0.5:
            return [
                problem(
                    low_at,
                    f"{low:.3g}",
                    "negative values look like z-scores, not log2(TPM+1)",
                    "declare expression_scale: zscore in dataset.yaml, or supply "
                    "log2(TPM+1) values",
                ),
            ]
        return []
    if scale == "zscore":
        if low >= 0:
            return [
                problem(
                    low_at,
                    f"{low:.3g}",
                    "declared z-scores but no value is negative",
                    "declare expression_scale: log2_tpm, or supply z-scores",
                ),
            ]
        if high > 50:
            return [
                problem(
                    high_at,
                    f"{high:.3g}",
                    "declared z-scores but values above 50 look like counts",
                    "supply z-scores per gene",
                ),
            ]
        return []
    raise ValueError(f"unknown expression scale {scale!r}; expected one of {EXPRESSION_SCALES}")
