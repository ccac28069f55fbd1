"""Genomic features from the events of a profile frame, respecting gene panels.

The events come from :func:`oncoresist.features.events.parse_events`. Whether a gene was
tested comes from ``panel_genes`` (``""`` = every gene) and ``n_baseline_samples`` (0 =
nothing profiled): a gene not tested is *missing* (NaN), never wild-type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from oncoresist.features.events import GenomicEvents
from oncoresist.features.names import FeatureSpec, feature_name

__all__ = [
    "GENOMIC_FAMILIES",
    "genomic_block",
    "genomic_specs",
    "tested_matrix",
]


def _panel_set(text: str) -> frozenset[str] | None:
    genes = frozenset(g.strip().upper() for g in re.split(r"[;,]", text) if g.strip())
    return genes or None


def _panel_table(
    profiles: pd.DataFrame, column_genes: Sequence[tuple[str, ...]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (row → panel code, panel x column tested table, row profiled flags)."""
    n = len(profiles)
    if "panel_genes" in profiles.columns:
        panels = pd.Series(profiles["panel_genes"].to_numpy(dtype=object)).fillna("").astype(str)
    else:
        panels = pd.Series([""] * n, dtype=object)
    codes, uniques = pd.factorize(panels)
    table = np.ones((len(uniques), len(column_genes)), dtype=bool)
    for k, text in enumerate(uniques):
        panel = _panel_set(text)
        if panel is not None:
            table[k] = [any(g in panel for g in genes) for genes in column_genes]
    profiled = np.ones(n, dtype=bool)
    if "n_baseline_samples" in profiles.columns:
        count = pd.to_numeric(profiles["n_baseline_samples"], errors="coerce").fillna(1)
        profiled = count.to_numpy() > 0
    return codes, table, profiled


def tested_matrix(profiles: pd.DataFrame, column_genes: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Return a boolean (rows x columns) matrix: was each feature's gene tested in each row?

    Parameters
    ----------
    profiles : DataFrame
        The profile frame (``panel_genes`` and, when present, ``n_baseline_samples``).
    column_genes : sequence of tuple of str
        For each genomic feature column, the genes it reads; the column counts as tested
        when any of them is on the row's panel (a fusion is detected when either partner is
        covered).

    Notes
    -----
    Rows share few distinct panels, so the panel test runs once per distinct panel text and
    the rows then index the result.
    """
    codes, table, profiled = _panel_table(profiles, column_genes)
    return table[codes] & profiled[:, None]


#: Feature families read from alteration cells, in column order, and the column each needs.
GENOMIC_FAMILIES: dict[str, str] = {
    "mut": "mutations",
    "alt": "mutations",
    "cna": "copy_number",
    "fusion": "fusions",
    "fusion_variant": "fusions",
}


def _keys(events: GenomicEvents) -> dict[str, pd.DataFrame]:
    """``row, key, value`` per genomic family (value = 1, or the copy-number state)."""
    mut, cna, fus = events.mutations, events.copy_number, events.fusions
    named = mut[mut["change"].notna()]
    variants = fus[fus["variant"].notna()]

    def table(rows: pd.Series, keys: pd.Series, values: object = 1.0) -> pd.DataFrame:
        return pd.DataFrame(
            {"row": rows.to_numpy(dtype=np.int64), "key": keys.to_numpy(), "value": values}
        )

    return {
        "mut": table(mut["row"], mut["gene"]).drop_duplicates(["row", "key"]),
        "alt": table(named["row"], named["gene"] + " " + named["change"].astype(str)),
        "cna": table(cna["row"], cna["gene"], cna["state"].to_numpy(dtype=float)),
        "fusion": table(fus["row"], fus["name"]).drop_duplicates(["row", "key"]),
        "fusion_variant": table(
            variants["row"], variants["name"] + " " + variants["variant"].astype(str)
        ),
    }


def genomic_specs(
    events: GenomicEvents,
    patients: np.ndarray,
    min_patients: int,
    listed: Callable[[set[tuple[str, str]]], set[tuple[str, str]]] | None = None,
) -> list[FeatureSpec]:
    """Choose the genomic columns from the training rows' alterations.

    Parameters
    ----------
    events : GenomicEvents
        Alterations of the training rows.
    patients : ndarray
        Patient id of each training row (thresholds count distinct patients, not rows).
    min_patients : int
        A key becomes a column when seen in at least this many distinct patients.
    listed : callable, optional
        Given (gene, alteration) pairs, returns those the resistance catalogue lists; their
        alterations become columns when seen in training at all.

    Returns
    -------
    list of FeatureSpec
        ``mut``, ``alt``, ``cna``, ``fusion``, ``fusion_variant`` columns, keys sorted.
    """
    keyed = _keys(events)
    keep: dict[str, set[str]] = {}
    for family, table in keyed.items():
        if table.empty:
            keep[family] = set()
            continue
        who = pd.Series(patients[table["row"].to_numpy()])
        counts = who.groupby(table["key"].to_numpy()).nunique()
        keep[family] = set(counts.index[counts >= min_patients])
    fus = events.fusions
    partners_of = dict(
        zip(fus["name"], zip(fus["gene_5p"], fus["gene_3p"], strict=True), strict=True)
    )
    if listed is not None:
        mut = events.mutations[events.mutations["change"].notna()]
        pairs = set(zip(mut["gene"], mut["change"].astype(str), strict=True))
        keep["alt"] |= {f"{g} {a}" for g, a in listed(pairs)}
        cna = events.copy_number[events.copy_number["state"].abs() == 2]
        words = np.where(cna["state"].to_numpy() > 0, "amplification", "loss")
        keep["cna"] |= {g for g, _ in listed(set(zip(cna["gene"], words, strict=True)))}
        genes = {g for pair in partners_of.values() for g in pair}
        fused = {g for g, _ in listed({(g, "fusion") for g in genes})}
        keep["fusion"] |= {n for n, pair in partners_of.items() if set(pair) & fused}
    specs = []
    for family in GENOMIC_FAMILIES:
        for key in sorted(keep[family]):
            if family in ("mut", "cna"):
                genes_read: tuple[str, ...] = (key,)
            elif family == "alt":
                genes_read = (key.split(" ", 1)[0],)
            else:
                genes_read = tuple(partners_of[key.split(" ", 1)[0]])
            specs.append(FeatureSpec(feature_name(family, key), family, key, genes_read))
    return specs


def genomic_block(
    profiles: pd.DataFrame,
    events: GenomicEvents,
    specs: Sequence[FeatureSpec],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Return the (rows x specs) genomic matrix: 0 when tested and absent, NaN when untested.

    A reported alteration is 1 (its state for ``cna``) even when the panel text omits the
    gene: a call proves the gene was tested. ``out``, when given, is filled in place.
    """
    codes, table, profiled = _panel_table(profiles, [s.genes for s in specs])
    base = np.where(table, 0.0, np.nan)
    for j, spec in enumerate(specs):
        if not events.reported[GENOMIC_FAMILIES[spec.family]]:
            base[:, j] = np.nan  # the column is absent from the frame: nothing is known
    if out is None:
        out = np.empty((len(profiles), len(specs)), order="F")
    if len(base) == 1:
        out[:] = base[0]  # one panel for every row (the usual case): broadcast
    elif len(profiles):
        by_column = np.ascontiguousarray(base.T)
        codes = codes.astype(np.intp, copy=False)
        for j in range(base.shape[1]):  # column by column: contiguous in column-major output
            out[:, j] = by_column[j][codes]
    if not profiled.all():
        out[~profiled] = np.nan
    keyed = _keys(events)
    for family in GENOMIC_FAMILIES:
        local = {s.key: j for j, s in enumerate(specs) if s.family == family}
        table_ = keyed[family]
        if not local or table_.empty:
            continue
        cols = table_["key"].map(local)
        hit = cols.notna().to_numpy()
        rows = table_["row"].to_numpy()[hit]
        out[rows, cols[hit].to_numpy(dtype=np.int64)] = table_["value"].to_numpy(dtype=float)[hit]
    return out
