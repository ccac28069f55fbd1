"""Assembling simulated setting blocks into canonical tables and the ground-truth table.

Rows are ordered by treatment index; sample ids are ``S<index>-B`` (baseline) and
``S<index>-P`` (progression), patient and treatment ids ``P<index>`` / ``T<index>``, all
zero-padded, so the same seed gives the same files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.simulate.baseline import variant_class
from oncoresist.simulate.draw import Block


def _ids(prefix: str, index: np.ndarray, width: int, suffix: str = "") -> np.ndarray:
    if len(index) == 0:
        return np.array([], dtype=object)
    return np.char.add(
        np.char.add(prefix, np.char.zfill((index + 1).astype(str), width)), suffix
    ).astype(object)


def _frame(columns: dict[str, list[np.ndarray]], order_key: list[np.ndarray]) -> pd.DataFrame:
    key = np.concatenate(order_key) if order_key else np.array([], dtype=np.int64)
    order = np.argsort(key, kind="stable")
    data = {
        c: (np.concatenate(v)[order] if v else np.array([], dtype=object))
        for c, v in columns.items()
    }
    return pd.DataFrame(data)


def assemble(blocks: list[Block], n: int, genes: Sequence[str]) -> tuple[Cohort, pd.DataFrame]:
    """Join setting blocks into canonical tables (ordered by id) and the ground truth."""
    width = max(6, len(str(n)))
    tables: dict[str, dict[str, list[np.ndarray]]] = {
        "mutations": {
            c: [] for c in ("sample_id", "gene", "protein_change", "variant_class", "vaf")
        },
        "copy_number": {c: [] for c in ("sample_id", "gene", "cn_state")},
        "fusions": {c: [] for c in ("sample_id", "gene_5p", "gene_3p", "variant")},
    }
    keys: dict[str, list[np.ndarray]] = {t: [] for t in tables}
    samples = {
        c: []
        for c in ("sample_id", "patient_id", "timepoint", "treatment_id", "sample_month", "assay")
    }
    sample_key, expr_blocks, expr_key, expr_ids = [], [], [], []
    per_treatment = {
        c: []
        for c in (
            "patient_id",
            "cancer_type",
            "age_years",
            "sex",
            "treatment_id",
            "drug",
            "line_number",
            "setting",
            "time_to_resistance_months",
            "resistance_observed",
            "mechanism",
        )
    }
    truth_cols: dict[str, list[np.ndarray]] = {}
    for b in blocks:
        rows, n_b = b.rows, len(b.rows)
        pid, tid = _ids("P", rows, width), _ids("T", rows, width)
        base_sid, prog_rows = _ids("S", rows, width, "-B"), rows[b.prog]
        prog_sid = _ids("S", prog_rows, width, "-P")
        for sid_of, key_of, genomics in (
            (base_sid, 2 * rows, b.genomics),
            (prog_sid, 2 * prog_rows + 1, b.prog_genomics),
        ):
            idx, gene, change, vaf = genomics.arrays("mut")
            _extend(
                tables["mutations"],
                keys["mutations"],
                key_of[idx],
                sample_id=sid_of[idx],
                gene=gene,
                protein_change=change,
                variant_class=np.array([variant_class(c) for c in change], dtype=object),
                vaf=vaf,
            )
            idx, gene, state = genomics.arrays("cn")
            _extend(
                tables["copy_number"],
                keys["copy_number"],
                key_of[idx],
                sample_id=sid_of[idx],
                gene=gene,
                cn_state=state,
            )
            idx, pair, variant = genomics.arrays("fu")
            split = np.array([p.split("-") for p in pair], dtype=object).reshape(-1, 2)
            _extend(
                tables["fusions"],
                keys["fusions"],
                key_of[idx],
                sample_id=sid_of[idx],
                gene_5p=split[:, 0],
                gene_3p=split[:, 1],
                variant=variant,
            )
        samples["sample_id"] += [base_sid, prog_sid]
        samples["patient_id"] += [pid, pid[b.prog]]
        samples["timepoint"] += [
            np.full(n_b, "baseline", dtype=object),
            np.full(len(b.prog), "progression", dtype=object),
        ]
        samples["treatment_id"] += [tid, tid[b.prog]]
        samples["sample_month"] += [b.baseline_month, np.round(b.time[b.prog], 2)]
        samples["assay"] += [
            np.full(n_b, "tissue", dtype=object),
            np.where(b.prog_tissue, "tissue", "plasma").astype(object),
        ]
        sample_key += [2 * rows, 2 * prog_rows + 1]
        expr_blocks += [b.values, b.prog_values]
        expr_key += [2 * rows, 2 * prog_rows[b.prog_tissue] + 1]
        expr_ids += [base_sid, prog_sid[b.prog_tissue]]
        for column, value in (
            ("patient_id", pid),
            ("treatment_id", tid),
            ("drug", b.drug),
            ("cancer_type", np.full(n_b, b.setting.cancer_type, dtype=object)),
            ("age_years", b.age),
            ("sex", b.sex),
            ("line_number", np.full(n_b, b.setting.line_number)),
            ("setting", np.full(n_b, b.name, dtype=object)),
            ("time_to_resistance_months", b.time),
            ("resistance_observed", b.event),
            ("mechanism", b.label),
        ):
            per_treatment[column].append(value)
        truth_cols.setdefault("treatment_id", []).append(tid)
        truth_cols.setdefault("patient_id", []).append(pid)
        for column, value in b.truth.items():
            truth_cols.setdefault(column, []).append(value)
    order_rows = [b.rows for b in blocks]
    treat = _frame(per_treatment, order_rows)
    ground_truth = _frame(truth_cols, order_rows)
    order = np.argsort(np.concatenate(expr_key), kind="stable")
    expression = pd.DataFrame(np.concatenate(expr_blocks)[order], columns=list(genes))
    expression.insert(0, "sample_id", np.concatenate(expr_ids)[order])
    mutations = _frame(tables["mutations"], keys["mutations"]).drop_duplicates(
        ["sample_id", "gene", "protein_change"], keep="last"
    )
    copy_number = _frame(tables["copy_number"], keys["copy_number"]).drop_duplicates(
        ["sample_id", "gene"], keep="last"
    )
    fusions = _frame(tables["fusions"], keys["fusions"]).drop_duplicates(
        ["sample_id", "gene_5p", "gene_3p"], keep="last"
    )
    cohort = Cohort(
        patients=treat[["patient_id", "cancer_type", "age_years", "sex"]].copy(),
        samples=_frame(samples, sample_key),
        treatments=treat[["patient_id", "treatment_id", "drug", "line_number", "setting"]].copy(),
        mutations=mutations.reset_index(drop=True),
        copy_number=copy_number.reset_index(drop=True),
        fusions=fusions.reset_index(drop=True),
        expression=expression,
        outcomes=treat[
            ["treatment_id", "time_to_resistance_months", "resistance_observed", "mechanism"]
        ].copy(),
        name="simulated",
        source="oncoresist.simulate (simulated from published figures, not real patients)",
    )
    return cohort, ground_truth


def _extend(
    table: dict[str, list[np.ndarray]],
    keys: list[np.ndarray],
    key: np.ndarray,
    **columns: np.ndarray,
) -> None:
    for column, value in columns.items():
        table[column].append(np.asarray(value))
    keys.append(key)
