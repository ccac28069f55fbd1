"""Profile-frame cells from canonical tables, one vectorised pass per table; their text.

Helpers of :func:`oncoresist.features.profiles.cohort_to_profiles`. Each takes the cohort, the
(treatment, baseline sample) pairs and the treatments' order, and returns one value per
treatment. Alterations are *structured cells*, already normalised from the validated tables:
``(("EGFR", "p.L858R"), ("TP53", "p.R273H"))``, ``(("MET", 2),)``,
``(("EML4", "ALK", "v3"),)`` (``()`` when nothing was detected); the features read them as
they are (:func:`oncoresist.features.events.parse_events`), with no text written and parsed
back in between. The panel's genes stay text (one string per distinct panel) and expression
is the mean over baseline samples. Sorting and de-duplication are vectorised; Python touches
each distinct alteration once and each treatment once (a pandas groupby with a Python
aggregation costs ~50x more on 100,000 treatments).

Text is written only for people (the clinicians' sheet, reports): :func:`alteration_token`,
:func:`alterations_text` and :func:`profiles_as_text` spell a cell as the sheet does
(``"EGFR p.L858R; TP53 p.R273H"``, ``"MET amp"``, ``"EML4-ALK v3"``). Cells hold their items
in the order their text sorts, so the written text is exactly the sheet's.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from oncoresist.contract import Cohort
from oncoresist.contract.alterations import normalise_fusion_variant, normalise_protein_change

__all__ = [
    "ALTERATION_CELL_COLUMNS",
    "CN_STATE_WORDS",
    "EXPRESSION_PREFIX",
    "SEPARATOR",
    "alteration_token",
    "alterations_text",
    "cells_by_position",
    "cna_cells",
    "fusion_cells",
    "fusion_token",
    "gc_paused",
    "join_by_position",
    "mean_expression",
    "mutation_cells",
    "panel_text",
    "positions",
    "profiles_as_text",
]

EXPRESSION_PREFIX = "expr_"
#: The word written for each non-neutral copy-number state.
CN_STATE_WORDS: dict[int, str] = {2: "amp", 1: "gain", -1: "loss", -2: "del"}
#: Between two alterations of one list.
SEPARATOR = "; "
#: The profile-frame columns whose cells hold alterations (structured or text).
ALTERATION_CELL_COLUMNS: tuple[str, ...] = ("mutations", "copy_number", "fusions")


def fusion_token(gene_5p: str, gene_3p: str, variant: str | None = None) -> str:
    """Write one fusion as the profile frame spells it: ``EML4-ALK v3``.

    ``::`` joins the partners when either symbol holds a hyphen (``NKX2-1::ALK``), so the
    text always splits back into the same two genes.
    """
    joiner = "::" if "-" in gene_5p or "-" in gene_3p else "-"
    name = f"{gene_5p}{joiner}{gene_3p}"
    return name if not variant else f"{name} {variant}"


def alteration_token(column: str, item: Sequence[object]) -> str:
    """Write one structured alteration of ``column`` as the profile sheet spells it.

    ``("EGFR", "p.L858R")`` → ``EGFR p.L858R`` (``("EGFR", None)`` → ``EGFR``);
    ``("MET", 2)`` → ``MET amp``; ``("EML4", "ALK", "v3")`` → ``EML4-ALK v3``.
    """
    if column == "copy_number":
        gene, state = item
        return f"{gene} {CN_STATE_WORDS[int(state)]}"  # type: ignore[call-overload]
    if column == "fusions":
        gene_5p, gene_3p, *variant = item
        return fusion_token(str(gene_5p), str(gene_3p), *(str(v) for v in variant if v))
    gene, change = item
    return str(gene) if change is None else f"{gene} {change}"


def alterations_text(column: str, cell: object) -> object:
    """The text of one alteration cell, for people: items joined by ``"; "`` in cell order.

    A structured cell (tuple) becomes ``"EGFR p.L858R; TP53 p.R273H"`` (``""`` when empty);
    text and missing cells are returned as they are.
    """
    if not isinstance(cell, tuple | list):
        return cell
    return SEPARATOR.join(alteration_token(column, item) for item in cell)


def _is_structured(cell: object) -> bool:
    return isinstance(cell, tuple | list)


def profiles_as_text(profiles: pd.DataFrame) -> pd.DataFrame:
    """A profile frame with its alteration cells written as text (sheets, people, readers).

    The one place structured cells become text: each distinct cell is written once, text
    and missing cells are kept. Returns a copy, or ``profiles`` itself when no cell is
    structured (nothing to write).
    """
    columns = [
        c
        for c in ALTERATION_CELL_COLUMNS
        if c in profiles.columns and any(map(_is_structured, profiles[c].to_numpy(dtype=object)))
    ]
    if not columns:
        return profiles
    out = profiles.copy()
    for column in columns:
        cells = out[column].to_numpy(dtype=object)
        written: dict[object, object] = {}
        text = np.empty(len(cells), dtype=object)
        for i, cell in enumerate(cells.tolist()):
            try:
                if cell not in written:
                    written[cell] = alterations_text(column, cell)
                text[i] = written[cell]
            except TypeError:  # unhashable (a list written by hand): write it each time
                text[i] = alterations_text(column, cell)
        out[column] = pd.Series(text, index=out.index, dtype=object)
    return out


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while alteration text is built or parsed.

    100,000 profiles mean about a million short-lived strings and tuples (no reference
    cycles); each allocation burst would otherwise trigger collections that rescan the
    caller's whole heap (often a large cohort): about a third of the run time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: The usual, already normalised substitution (``p.L858R``): no need to parse it again.
_CANONICAL_SUBSTITUTION = re.compile(r"p\.[ACDEFGHIKLMNPQRSTVWY]\d+[ACDEFGHIKLMNPQRSTVWY*]")


def _normalise_change(change: object) -> str | None:
    # Canonical tables from the readers are already normalised; hand-made tables may not be.
    if isinstance(change, str) and _CANONICAL_SUBSTITUTION.fullmatch(change):
        return change
    try:
        return normalise_protein_change(change)
    except ValueError:
        return None if change is None or pd.isna(change) else str(change).strip()


def _normalise_variant(name: str, variant: object) -> str | None:
    if variant is None or pd.isna(variant):
        return None
    text = str(variant).strip()
    # Variants are often written with the fusion name ("EML4-ALK v3"): keep the variant only.
    for prefix in (name, name.replace("-", "::"), name.replace("::", "-")):
        if text.upper().startswith(prefix.upper()):
            text = text[len(prefix) :].strip()
            break
    return normalise_fusion_variant(text)


def _runs(position: np.ndarray, codes: np.ndarray) -> tuple[list[int], list[int], list[int], list]:
    """Sort ``(position, code)`` pairs, drop repeats, and cut them into one run per row.

    Returns ``(rows, starts, ends, codes)``: row ``rows[k]`` holds
    ``codes[starts[k]:ends[k]]``, ascending and unique. Vectorised: a groupby with a Python
    aggregation costs ~50x more on 100,000 treatments.
    """
    order = np.lexsort((codes, position))
    position, codes = position[order], codes[order]
    new = np.ones(len(position), dtype=bool)
    new[1:] = (position[1:] != position[:-1]) | (codes[1:] != codes[:-1])
    position, codes = position[new], codes[new]
    starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
    ends = np.r_[starts[1:], len(position)]
    return position[starts].tolist(), starts.tolist(), ends.tolist(), codes


def join_by_position(position: np.ndarray, tokens: np.ndarray, n: int, sep: str) -> np.ndarray:
    """Join the tokens of each row position (sorted, unique) with ``sep``; ``""`` when none."""
    out = np.full(n, "", dtype=object)
    if len(position) == 0:
        return out
    codes, uniques = pd.factorize(np.asarray(tokens, dtype=object), sort=True)
    rows, starts, ends, codes = _runs(position, codes)
    words = np.asarray(uniques, dtype=object)[codes].tolist()
    for row, a, b in zip(rows, starts, ends, strict=True):
        out[row] = sep.join(words[a:b])
    return out


def positions(order: pd.Index, treatment_ids: pd.Series) -> np.ndarray:
    """Row position of each treatment id in ``order`` (-1 when absent)."""
    return order.get_indexer(treatment_ids.to_numpy(dtype=object))


def cells_by_position(
    position: np.ndarray, tokens: Sequence[str], items: Sequence[tuple], n: int
) -> list[tuple]:
    """Gather the items of each row position into one tuple per row; ``()`` when none.

    ``tokens[i]`` spells ``items[i]`` (one spelling per distinct item): items are ordered as
    their text sorts and de-duplicated, so :func:`alterations_text` of a cell is the text
    :func:`join_by_position` would write. The same vectorised sort and de-duplication, then
    one ``tuple`` per row.
    """
    out: list[tuple] = [()] * n
    if len(position) == 0:
        return out
    codes, uniques = pd.factorize(np.asarray(tokens, dtype=object), sort=True)
    item_of = np.empty(len(uniques), dtype=object)
    for code, item in zip(codes.tolist(), items, strict=True):
        item_of[code] = item
    rows, starts, ends, codes = _runs(position, codes)
    gathered = item_of[codes].tolist()
    for row, a, b in zip(rows, starts, ends, strict=True):
        out[row] = tuple(gathered[a:b])
    return out


def _upper_genes(genes: pd.Series) -> list[str]:
    """Gene symbols upper-cased (once per distinct symbol), as the features read them."""
    values = genes.to_numpy(dtype=object)
    spelled = {g: str(g).strip().upper() for g in pd.unique(values)}
    return [spelled[g] for g in values]


def mutation_cells(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> list[tuple]:
    """``(("EGFR", "p.L858R"), ("TP53", "p.R273H"))`` per treatment (change None if unknown)."""
    muts = pairs.merge(cohort.mutations[["sample_id", "gene", "protein_change"]], on="sample_id")
    changes = muts["protein_change"].to_numpy(dtype=object)
    normalised = {c: _normalise_change(c) for c in pd.unique(changes) if isinstance(c, str)}
    spelled = [normalised.get(c) if isinstance(c, str) else None for c in changes]
    items = list(zip(_upper_genes(muts["gene"]), spelled, strict=True))
    text = {item: alteration_token("mutations", item) for item in set(items)}
    return cells_by_position(
        positions(order, muts["treatment_id"]), [text[i] for i in items], items, len(order)
    )


def cna_cells(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> list[tuple]:
    """``(("CDKN2A", -2), ("MET", 2))`` per treatment (copy-neutral calls are left out)."""
    cna = pairs.merge(cohort.copy_number[["sample_id", "gene", "cn_state"]], on="sample_id")
    cna = cna[cna["cn_state"].fillna(0) != 0]
    # Several baseline samples may disagree: keep the most extreme call per gene (ties → the
    # gain), so a focal amplification seen in one biopsy is not averaged away.
    state = cna["cn_state"].astype(int)
    cna = cna.assign(_abs=state.abs(), _state=state, gene=_upper_genes(cna["gene"]))
    cna = cna.sort_values(["treatment_id", "gene", "_abs", "_state"], ascending=False)
    cna = cna.drop_duplicates(["treatment_id", "gene"])
    items = list(zip(cna["gene"].tolist(), cna["_state"].tolist(), strict=True))
    text = {item: alteration_token("copy_number", item) for item in set(items)}
    return cells_by_position(
        positions(order, cna["treatment_id"]), [text[i] for i in items], items, len(order)
    )


def fusion_cells(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> list[tuple]:
    """``(("EML4", "ALK", "v3"), ("KIF5B", "RET", None))`` per treatment."""
    columns = ["sample_id", "gene_5p", "gene_3p"]
    if "variant" in cohort.fusions.columns:
        columns.append("variant")
    fus = pairs.merge(cohort.fusions[columns], on="sample_id")
    variants = fus["variant"] if "variant" in fus.columns else pd.Series(None, index=fus.index)
    keys = list(
        zip(
            _upper_genes(fus["gene_5p"]),
            _upper_genes(fus["gene_3p"]),
            variants.to_numpy(dtype=object),
            strict=True,
        )
    )
    normalised = {
        (g5, g3, v): (g5, g3, _normalise_variant(fusion_token(g5, g3), v))
        for g5, g3, v in set(keys)
    }
    items = [normalised[key] for key in keys]
    text = {item: alteration_token("fusions", item) for item in set(items)}
    return cells_by_position(
        positions(order, fus["treatment_id"]), [text[i] for i in items], items, len(order)
    )


def panel_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    """The genes tested per treatment (``;``-joined), or ``""`` when every gene was tested.

    ``""`` unless all of a treatment's baseline samples were sequenced on gene panels; then
    the union of those panels' genes.
    """
    n = len(order)
    everything = np.full(n, "", dtype=object)
    if cohort.gene_panels is None or "panel_id" not in cohort.samples.columns:
        return everything
    with_panel = pairs.merge(cohort.samples[["sample_id", "panel_id"]], on="sample_id")
    position = positions(order, with_panel["treatment_id"])
    panel = with_panel["panel_id"].to_numpy(dtype=object)
    missing = pd.isna(panel)
    # A sample with no panel was sequenced genome- or exome-wide: every gene was tested.
    whole = np.zeros(n, dtype=bool)
    whole[position[missing]] = True
    keep = ~missing & ~whole[position]
    combos = join_by_position(position[keep], panel[keep], n, "|")
    # Few distinct panel combinations, many treatments: spell each combination once and let
    # the rows share one string object (a 500-gene list per row would be huge).
    genes_by_panel = {p: set(g) for p, g in cohort.gene_panels.groupby("panel_id")["gene"]}
    spelled = {"": ""}
    for combo in set(combos.tolist()) - {""}:
        genes = set().union(*(genes_by_panel.get(p, set()) for p in combo.split("|")))
        spelled[combo] = ";".join(sorted(genes))
    return np.asarray([spelled[c] for c in combos.tolist()], dtype=object)


def mean_expression(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """Mean expression over each treatment's baseline samples that have a value."""
    genes = cohort.genes_with_expression
    columns = [f"{EXPRESSION_PREFIX}{g}" for g in genes]
    n = len(order)
    if not genes:
        return pd.DataFrame(index=range(n))
    matrix = cohort.expression[genes].to_numpy(dtype=float)
    sample_row = pd.Index(cohort.expression["sample_id"].to_numpy(dtype=object)).get_indexer(
        pairs["sample_id"].to_numpy(dtype=object)
    )
    position = positions(order, pairs["treatment_id"])
    has = sample_row >= 0
    sample_row, position = sample_row[has], position[has]
    out = np.full((n, len(genes)), np.nan)
    if np.bincount(position, minlength=n).max(initial=0) <= 1:
        out[position] = matrix[sample_row]  # one sample per treatment: no averaging
    elif len(position):
        sort = np.argsort(position, kind="stable")
        position, values = position[sort], matrix[sample_row[sort]]
        starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]])
        present = ~np.isnan(values)
        total = np.add.reduceat(np.where(present, values, 0.0), starts, axis=0)
        count = np.add.reduceat(present, starts, axis=0)
        mean = np.full(total.shape, np.nan)
        np.divide(total, count, out=mean, where=count > 0)
        out[position[starts]] = mean
    return pd.DataFrame(out, columns=columns, copy=False)
