"""Knowledge-base features: is a baseline alteration a known resistance alteration for *this* drug?

Each reported alteration of a profile row is looked up with
:func:`oncoresist.knowledge.annotate.known_resistance` against each component of the row's drug.
Lookups run once per distinct (gene, alteration, drug) triple, so 100,000 rows cost a few
hundred catalogue lookups, not millions.

How alterations are asked about (the catalogue's vocabulary, ``data/knowledge/resistance.yaml``):

* a mutation: its protein change (``p.G1202R``; the catalogue also reads a truncating change
  such as ``p.R213*`` as ``loss`` of the gene);
* a copy-number call: ``amplification`` for +2, ``loss`` for -2 (gains and shallow losses are
  not catalogued);
* a fusion: ``fusion`` for each partner gene.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from oncoresist.exceptions import UnknownDrugError
from oncoresist.features.events import GenomicEvents
from oncoresist.knowledge.drugs import resolve_drug
from oncoresist.knowledge.resistance import (
    known_resistance,
    load_resistance_catalogue,
    resistance_catalogue,
)

__all__ = ["KB_FEATURES", "alteration_queries", "catalogued", "knowledge_counts"]

#: The knowledge features, in column order.
KB_FEATURES: tuple[str, ...] = (
    "known_resistance_count",
    "on_target_alteration",
    "bypass_alteration",
)


def alteration_queries(events: GenomicEvents) -> pd.DataFrame:
    """Return ``row, event, gene, alteration``: the catalogue questions each alteration asks.

    ``event`` numbers the alterations, so an alteration asked two ways counts once.
    """
    parts = []
    offset = 0
    mut = events.mutations[events.mutations["change"].notna()]
    if len(mut):
        ids = np.arange(offset, offset + len(mut))
        offset += len(mut)
        parts.append(
            pd.DataFrame(
                {
                    "row": mut["row"].to_numpy(),
                    "event": ids,
                    "gene": mut["gene"].to_numpy(),
                    "alteration": mut["change"].to_numpy(),
                }
            )
        )
    cna = events.copy_number[events.copy_number["state"].abs() == 2]
    if len(cna):
        ids = np.arange(offset, offset + len(cna))
        offset += len(cna)
        words = np.where(cna["state"].to_numpy() > 0, "amplification", "loss")
        parts.append(
            pd.DataFrame(
                {
                    "row": cna["row"].to_numpy(),
                    "event": ids,
                    "gene": cna["gene"].to_numpy(),
                    "alteration": words,
                }
            )
        )
    fus = events.fusions.drop_duplicates(["row", "name"])
    if len(fus):
        ids = np.arange(offset, offset + len(fus))
        for side in ("gene_5p", "gene_3p"):
            parts.append(
                pd.DataFrame(
                    {
                        "row": fus["row"].to_numpy(),
                        "event": ids,
                        "gene": fus[side].to_numpy(),
                        "alteration": "fusion",
                    }
                )
            )
    if not parts:
        return pd.DataFrame({"row": [], "event": [], "gene": [], "alteration": []})
    return pd.concat(parts, ignore_index=True)


class _Catalogue:
    """The resistance catalogue, asked once per distinct question within one call.

    Only genes the catalogue names are asked about (most alterations are passengers), and
    each (gene, alteration) is asked once with no drug; the drug filter is then applied
    here, per distinct drug, with the same rule as the catalogue (an entry matches a regimen
    when it lists any component or any component's class).
    """

    def __init__(self) -> None:

        self._catalogue = load_resistance_catalogue()
        self._genes = set(resistance_catalogue()["gene"])
        self._gene_known: dict[str, bool] = {}
        self._entries: dict[tuple[str, str], tuple] = {}
        self._regimens: dict[str, tuple[set[str], set[str]]] = {}

    def has_gene(self, gene: str) -> bool:
        if gene not in self._gene_known:
            self._gene_known[gene] = self._catalogue.gene(gene) in self._genes
        return self._gene_known[gene]

    def entries(self, gene: str, alteration: str) -> tuple:
        """Catalogue entries for an alteration, any drug (empty for uncatalogued genes)."""
        key = (gene, alteration)
        if key not in self._entries:
            found = known_resistance(gene, alteration) if self.has_gene(gene) else []
            self._entries[key] = tuple(found)
        return self._entries[key]

    def regimen(self, drug: str) -> tuple[set[str], set[str]]:
        """Canonical component names and classes of a regimen (unknown components skipped)."""
        if drug not in self._regimens:
            names: set[str] = set()
            classes: set[str] = set()
            for part in str(drug).split("+"):
                try:
                    info = resolve_drug(part.strip())
                except UnknownDrugError:
                    # An unknown drug has no known resistance alterations; the builder
                    # reports the drug itself as unseen.
                    continue
                names.add(info.name)
                classes.add(info.drug_class)
            self._regimens[drug] = (names, classes)
        return self._regimens[drug]

    def mechanisms(self, gene: str, alteration: str, drug: str) -> frozenset[str]:
        """Mechanism classes catalogued for (gene, alteration) against ``drug``."""
        names, classes = self.regimen(drug)
        return frozenset(
            e.mechanism
            for e in self.entries(gene, alteration)
            if set(e.drugs) & names or set(e.drug_classes) & classes
        )


def knowledge_counts(events: GenomicEvents, drugs: pd.Series, profiled: np.ndarray) -> np.ndarray:
    """Count each row's known resistance alterations for its own drug.

    Parameters
    ----------
    events : GenomicEvents
        Parsed alterations of the profile frame.
    drugs : Series
        The drug of each row (combinations as ``drug+drug``), in row order.
    profiled : ndarray of bool
        Whether the row had any baseline profile; rows without one get NaN (unknown, not 0).

    Returns
    -------
    ndarray of shape (n_rows, 3)
        Columns :data:`KB_FEATURES`: alterations with any catalogue match, with an
        ``on_target`` match, with a ``bypass`` match.
    """
    n = len(drugs)
    out = np.zeros((n, len(KB_FEATURES)), dtype=float)
    queries = alteration_queries(events)
    if len(queries):
        catalogue = _Catalogue()
        genes = pd.unique(queries["gene"])
        known = {g for g in genes if catalogue.has_gene(g)}
        queries = queries[queries["gene"].isin(known)]
        pairs = queries[["gene", "alteration"]].drop_duplicates()
        listed = [bool(catalogue.entries(g, a)) for g, a in pairs.itertuples(index=False)]
        pairs = pairs[np.asarray(listed, dtype=bool)]
        asked = queries.merge(pairs, on=["gene", "alteration"])
        asked["drug"] = drugs.to_numpy(dtype=object)[asked["row"].to_numpy(dtype=np.int64)]
        asked = asked[asked["drug"].notna()]
        unique = asked[["gene", "alteration", "drug"]].drop_duplicates()
        mechs = [catalogue.mechanisms(*t) for t in unique.itertuples(index=False, name=None)]
        unique = unique.assign(
            _any=[bool(m) for m in mechs],
            _on=["on_target" in m for m in mechs],
            _by=["bypass" in m for m in mechs],
        )
        asked = asked.merge(unique, on=["gene", "alteration", "drug"])
        if len(asked):
            per_event = asked.groupby(["row", "event"])[["_any", "_on", "_by"]].any()
            per_row = per_event.groupby(level="row").sum()
            out[per_row.index.to_numpy(dtype=np.int64)] = per_row.to_numpy(dtype=float)
    out[~np.asarray(profiled, dtype=bool)] = np.nan
    return out


def catalogued(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Return the (gene, alteration) pairs the resistance catalogue lists (for any drug)."""
    catalogue = _Catalogue()
    return {(gene, alteration) for gene, alteration in pairs if catalogue.entries(gene, alteration)}
