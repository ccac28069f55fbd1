"""Alteration cells of a profile frame read into long tables of events (one row per alteration).

The frames the package builds hold alterations as structured cells, already normalised
(``(("EGFR", "p.L858R"), ("TP53", "p.R273H"))``, ``(("MET", 2),)``,
``(("EML4", "ALK", "v3"),)``; see :mod:`oncoresist.features.profiles`): they go straight into
long tables of events, with the profile row's position, and no text written and parsed back
(that round trip cost time and could lose or change an alteration on the way). Frames written
by hand may hold the sheet's ``;``-separated text (``"EGFR p.L858R; TP53 p.R273H"``,
``"MET amp"``, ``"EML4-ALK v3"``), parsed here into the same events; a column may mix both
forms. Values are normalised once per *distinct* value, so 100,000 rows cost a few vectorised
pandas operations, not 100,000 Python parses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncoresist.contract.alterations import (
    CN_WORDS,
    normalise_fusion_variant,
    normalise_gene,
    normalise_protein_change,
)
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.features.profile_text import alteration_token, fusion_token

__all__ = ["GenomicEvents", "parse_events"]


_SOURCE = "profiles"


_FIXES = {
    "mutations": "write mutations as 'GENE p.CHANGE' separated by ';', e.g. EGFR p.L858R",
    "copy_number": "write copy-number calls as 'GENE amp|gain|loss|del' separated by ';'",
    "fusions": "write fusions as GENE5-GENE3 [variant] separated by ';', e.g. EML4-ALK v3 "
    "(GENE5::GENE3 when a symbol holds a hyphen)",
}


@dataclass(frozen=True)
class GenomicEvents:
    """Alterations of a profile frame in long form (``row`` = position in the frame).

    Attributes
    ----------
    mutations : DataFrame
        ``row, gene, change`` (``change`` None when only the gene was given), one row per
        distinct (row, gene, change).
    copy_number : DataFrame
        ``row, gene, state`` (-2..2, non-zero), one row per (row, gene): the most extreme call.
    fusions : DataFrame
        ``row, name, gene_5p, gene_3p, variant`` (``name`` = ``EML4-ALK``; variant may be None).
    reported : dict of str to bool
        Whether each alteration column exists in the frame (an absent column = not tested).
    """

    mutations: pd.DataFrame
    copy_number: pd.DataFrame
    fusions: pd.DataFrame
    reported: dict[str, bool]


def _objects(values: Sequence[object], keep: np.ndarray | None = None) -> pd.Series:
    """Text as an object Series (RangeIndex), optionally only where ``keep``.

    Object dtype on purpose: pandas 3 would store text as Arrow strings, which are slow to
    iterate item by item, and the events are iterated when features are looked up.
    """
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array if keep is None else array[keep], dtype=object)


def _items(profiles: pd.DataFrame, column: str) -> tuple[np.ndarray, list[object]]:
    """Return (row position, item) for every alteration of a column, in row order.

    A structured cell (tuple or list) gives its items as tuples; a text cell gives its
    non-empty ``;``-separated items as strings (so a column may mix both).
    """
    rows: list[int] = []
    items: list[object] = []
    if column not in profiles.columns:
        return np.array([], dtype=np.int64), items
    for i, cell in enumerate(profiles[column].to_numpy(dtype=object)):
        if isinstance(cell, tuple | list):
            for item in cell:
                rows.append(i)
                items.append(tuple(item) if isinstance(item, list) else item)
            continue
        text = cell
        if not isinstance(text, str):
            if text is None or pd.isna(text):
                continue  # blank cell: nothing detected
            text = str(text)
        if not text:
            continue
        for item in text.replace(",", ";").split(";"):
            item = item.strip()
            if item:
                rows.append(i)
                items.append(item)
    return np.asarray(rows, dtype=np.int64), items


def _pairs(items: list[object]) -> tuple[list[object], list[object], list[str | None]]:
    """Split items into (gene, rest): text as ``"GENE rest"``, a 2-tuple as it is.

    Returns the genes, the rests and, per item, why its shape is wrong (None when right).
    """
    if all(isinstance(item, str) for item in items):
        genes, rests = _heads(items)  # type: ignore[arg-type]
        return list(genes), list(rests), [None] * len(items)
    genes: list[object] = [None] * len(items)
    rests: list[object] = [None] * len(items)
    shape: list[str | None] = [None] * len(items)
    text_at: list[int] = []
    for k, item in enumerate(items):
        if isinstance(item, str):
            text_at.append(k)
        elif isinstance(item, tuple) and len(item) == 2:
            genes[k], rests[k] = item
        else:
            shape[k] = f"expected a tuple of 2 fields, not {item!r}"
    heads, tails = _heads([items[k] for k in text_at])  # type: ignore[misc]
    for k, head, tail in zip(text_at, heads, tails, strict=True):
        genes[k], rests[k] = head, tail
    return genes, rests, shape


def _cn_state(value: object) -> int | None:
    """A structured copy-number state (an integer in -2..2), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return int(value) if value in (-2, -1, 0, 1, 2) else None


def _unknown_call(call: object) -> str:
    if isinstance(call, str):
        return f"unknown copy-number call '{call}'; use amp, gain, loss or del"
    return f"unknown copy-number state {call!r}; use -2, -1, 1 or 2"


def _shown(column: str, item: object) -> str:
    """An item as a problem shows it: as written, or a tuple as the sheet would spell it."""
    if isinstance(item, str):
        return item
    try:
        return alteration_token(column, item)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError):
        return repr(item)


def _heads(items: list[str]) -> tuple[list[str], list[str]]:
    """Split ``"GENE rest"`` (space or ``:`` between) into gene texts and the rests."""
    parts = [item.replace(":", " ").split(None, 1) for item in items]
    return [p[0] for p in parts], [p[1].strip() if len(p) > 1 else "" for p in parts]


def _normalise_all(values: list[str], normalise) -> tuple[list, dict[str, str]]:
    """Normalise each distinct value once; return the results and {bad value: reason}."""
    mapping: dict[str, object] = {}
    errors: dict[str, str] = {}
    for value in set(values):
        try:
            mapping[value] = normalise(value)
        except ValueError as err:
            errors[value] = str(err)
    return [mapping.get(v) for v in values], errors


def _problems(
    rows: np.ndarray, items: list[object], reasons: list[str | None], column: str
) -> list[Problem]:
    return [
        Problem(_SOURCE, int(row) + 2, column, _shown(column, item), reason, _FIXES[column])
        for row, item, reason in zip(rows, items, reasons, strict=True)
        if reason is not None
    ]


def _parse_fusion(item: object) -> tuple[str, str, str | None]:
    if not isinstance(item, str):  # a structured (gene_5p, gene_3p, variant)
        if not isinstance(item, tuple) or len(item) not in (2, 3):
            raise ValueError(f"expected a tuple (gene_5p, gene_3p, variant), not {item!r}")
        variant = item[2] if len(item) == 3 else None
        return normalise_gene(item[0]), normalise_gene(item[1]), normalise_fusion_variant(variant)
    pair, _, variant = item.partition(" ")
    genes = pair.split("::") if "::" in pair else pair.split("-")
    if len(genes) != 2:
        raise ValueError("write a fusion as GENE5-GENE3 (GENE5::GENE3 when a symbol holds '-')")
    return normalise_gene(genes[0]), normalise_gene(genes[1]), normalise_fusion_variant(variant)


def parse_events(profiles: pd.DataFrame) -> GenomicEvents:
    """Read the ``mutations``, ``copy_number`` and ``fusions`` cells of a profile frame.

    Structured cells (tuples, as :func:`~oncoresist.features.profiles.cohort_to_profiles`
    builds them) are read as they are; text cells (``"EGFR p.L858R; TP53 p.R273H"``, a frame
    written by hand) are split and parsed; a column may mix both, and a cell gives the same
    events in either form. Blank cells and ``()`` mean "none detected". Values are
    normalised like the readers do (protein changes to ``p.L858R``, genes upper-cased,
    fusion variants to ``v3``; a no-op on the cells ``cohort_to_profiles`` builds), each
    distinct value once.

    Raises
    ------
    InputDataError
        Listing every item that cannot be read (row as a CSV line: position + 2).
    """
    problems: list[Problem] = []

    rows, items = _items(profiles, "mutations")
    gene_raw, change_raw, shape = _pairs(items)
    genes, gene_bad = _normalise_all(gene_raw, normalise_gene)
    changes, change_bad = _normalise_all(change_raw, normalise_protein_change)
    reasons = [
        bad or gene_bad.get(g, change_bad.get(c))
        for g, c, bad in zip(gene_raw, change_raw, shape, strict=True)
    ]
    problems += _problems(rows, items, reasons, "mutations")
    keep = np.array([r is None for r in reasons], dtype=bool)
    mutations = pd.DataFrame(
        {
            "row": pd.Series(rows[keep]),
            "gene": _objects(genes, keep),
            "change": _objects(changes, keep),
        }
    ).drop_duplicates(["row", "gene", "change"])

    rows, items = _items(profiles, "copy_number")
    gene_raw, calls, shape = _pairs(items)
    genes, gene_bad = _normalise_all(gene_raw, normalise_gene)
    states = [
        CN_WORDS.get(" ".join(w.lower().split())) if isinstance(w, str) else _cn_state(w)
        for w in calls
    ]
    reasons = [
        bad or gene_bad.get(g) or (None if s is not None else _unknown_call(w))
        for g, w, s, bad in zip(gene_raw, calls, states, shape, strict=True)
    ]
    problems += _problems(rows, items, reasons, "copy_number")
    keep = np.array([r is None for r in reasons], dtype=bool)
    copy_number = pd.DataFrame(
        {
            "row": pd.Series(rows[keep]),
            "gene": _objects(genes, keep),
            "state": pd.Series(np.array([0 if x is None else x for x in states])[keep]),
        }
    )
    copy_number = copy_number[copy_number["state"] != 0]
    # Two calls for one gene in one row: keep the most extreme (ties → the gain).
    copy_number = (
        copy_number.assign(_abs=copy_number["state"].abs())
        .sort_values(["row", "gene", "_abs", "state"])
        .drop_duplicates(["row", "gene"], keep="last")
        .drop(columns="_abs")
    )

    rows, items = _items(profiles, "fusions")
    parsed, bad = _normalise_all(items, _parse_fusion)
    problems += _problems(rows, items, [bad.get(i) for i in items], "fusions")
    if problems:
        raise InputDataError("the profile frame holds alterations that cannot be read", problems)
    fusions = pd.DataFrame(
        {
            "row": pd.Series(rows),
            "name": _objects([fusion_token(f[0], f[1]) for f in parsed]),
            "gene_5p": _objects([f[0] for f in parsed]),
            "gene_3p": _objects([f[1] for f in parsed]),
            "variant": _objects([f[2] for f in parsed]),
        }
    ).drop_duplicates(["row", "name", "variant"])
    reported = {c: c in profiles.columns for c in ("mutations", "copy_number", "fusions")}
    return GenomicEvents(
        mutations.reset_index(drop=True),
        copy_number.reset_index(drop=True),
        fusions.reset_index(drop=True),
        reported,
    )
