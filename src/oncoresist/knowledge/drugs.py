"""Drug catalogue: drug names, brands and code names -> canonical drugs, classes, targets.

The catalogue lives in ``data/knowledge/drugs.yaml``; it is loaded lazily (nothing is read at
import time), validated with strict pydantic models and cached. A malformed file raises
:class:`~oncoresist.exceptions.ConfigError` naming the file and field. This module also holds
the small YAML-loading helpers the other knowledge modules share (:func:`read_model`).

``"Tagrisso"``, ``"AZD9291"``, ``"osimertinib mesylate"`` all resolve to osimertinib;
``"Tafinlar + Mekinist"`` resolves to the regimen ``dabrafenib+trametinib``. An unknown name
raises :class:`~oncoresist.exceptions.UnknownDrugError` listing the closest known names.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from oncoresist.exceptions import InputDataError, Problem, UnknownDrugError
from oncoresist.knowledge.catalogue import (
    Strict,
    config_problem,
    is_missing,
    knowledge_folder,
    match_key,
    read_model,
)

DRUGS_FILE = "drugs.yaml"

#: How many close names an unknown-drug message suggests.
N_SUGGESTIONS = 5
_DRUG_FIX = "combinations as drug+drug; every known name is in data/knowledge/drugs.yaml"


def clear_cache() -> None:
    """Forget the loaded drug catalogue (after editing drugs.yaml in a running session)."""
    _load_drug_catalogue.cache_clear()


# --------------------------------------------------------------------------------------
# drugs.yaml
# --------------------------------------------------------------------------------------


class _DrugSpec(Strict):
    drug_class: str = Field(alias="class", min_length=1)
    targets: tuple[str, ...] = Field(min_length=1)
    generation: int | None = Field(default=None, ge=1)
    partners: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class _DrugsFile(Strict):
    salt_forms: tuple[str, ...] = ()
    classes: dict[str, str] = Field(min_length=1)
    drugs: dict[str, _DrugSpec] = Field(min_length=1)


@dataclass(frozen=True)
class DrugInfo:
    """One drug of the catalogue."""

    name: str
    drug_class: str
    targets: tuple[str, ...]
    generation: int | None = None
    partners: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        """Canonical name, brands, code names and aliases."""
        return (self.name, *self.brands, *self.codes, *self.aliases)


@dataclass(frozen=True)
class Regimen:
    """A treatment regimen: one drug or a combination, with its primary component.

    The primary component is the one whose class comes first in the catalogue's class order
    (targeted drug before endocrine partner before chemotherapy); it names the regimen's class.
    """

    components: tuple[DrugInfo, ...]
    primary: DrugInfo

    @property
    def name(self) -> str:
        """Canonical regimen string: canonical names in input order, joined by ``+``."""
        return "+".join(c.name for c in self.components)

    @property
    def drug_class(self) -> str:
        """Class of the primary component."""
        return self.primary.drug_class

    @property
    def drug_classes(self) -> tuple[str, ...]:
        """Class of every component, in component order."""
        return tuple(c.drug_class for c in self.components)

    @property
    def target(self) -> str:
        """Targets per component (``/`` within a drug, ``+`` between drugs)."""
        return "+".join("/".join(c.targets) for c in self.components)

    @property
    def generation(self) -> int | None:
        """Generation of the primary component (None where generations do not apply)."""
        return self.primary.generation

    @property
    def is_combination(self) -> bool:
        """True for more than one drug."""
        return len(self.components) > 1


class DrugCatalogue:
    """The drug catalogue: canonical drugs, their classes, and every name they go by.

    Parameters
    ----------
    drugs : mapping of str to DrugInfo
        Canonical name -> drug.
    classes : mapping of str to str
        Drug class -> description, in priority order (see :class:`Regimen`).
    salt_forms : sequence of str
        Salt words ignored at the end of a name (``imatinib mesylate`` -> imatinib).
    source : str
        The file the catalogue came from (for error messages).
    """

    def __init__(
        self,
        drugs: Mapping[str, DrugInfo],
        classes: Mapping[str, str],
        salt_forms: Sequence[str] = (),
        source: str = DRUGS_FILE,
    ) -> None:
        self.drugs = dict(drugs)
        self.classes = dict(classes)
        self.source = source
        self._class_rank = {c: i for i, c in enumerate(self.classes)}
        self._salts = sorted((s.lower() for s in salt_forms), key=len, reverse=True)
        self._index: dict[str, str] = {}
        self._display: dict[str, str] = {}
        for info in self.drugs.values():
            for label in info.all_names:
                key = self.key(label)
                owner = self._index.setdefault(key, info.name)
                if owner != info.name:
                    raise config_problem(
                        Path(source),
                        f"drugs.{info.name}",
                        f"name {label!r} already belongs to {owner!r}",
                    )
                self._display.setdefault(
                    key, label if label == info.name else f"{label} ({info.name})"
                )

    def __repr__(self) -> str:
        return f"DrugCatalogue({len(self.drugs)} drugs, {len(self.classes)} classes)"

    def key(self, name: object) -> str:
        """Matching key of a name: case, spaces, punctuation and salt words ignored."""
        text = str(name).lower().replace("®", "").replace("™", "").strip()
        for salt in self._salts:
            if text.endswith(" " + salt):
                text = text[: -len(salt)].strip()
                break
        return re.sub(r"[^a-z0-9]", "", text)

    def known_names(self, include_aliases: bool = False) -> list[str]:
        """Sorted canonical names, optionally with every brand, code name and alias."""
        if not include_aliases:
            return sorted(self.drugs)
        return sorted({n for info in self.drugs.values() for n in info.all_names}, key=str.lower)

    def drugs_of_class(self, drug_class: str) -> list[DrugInfo]:
        """Drugs of one class, in catalogue order."""
        return [d for d in self.drugs.values() if d.drug_class == drug_class]

    def find_class(self, text: str) -> str | None:
        """Return the drug class ``text`` names (case/punctuation-insensitive), or None."""
        wanted = match_key(text)
        return next((c for c in self.classes if match_key(c) == wanted), None)

    def closest(self, name: str, n: int = N_SUGGESTIONS) -> list[str]:
        """Known names (with aliases, as written) closest to ``name``."""
        keys = difflib.get_close_matches(self.key(name), list(self._index), n=n, cutoff=0.6)
        return [self._display[k] for k in keys]

    def get(self, name: object) -> DrugInfo | None:
        """Return the drug ``name`` denotes, or None. ``"osimertinib (Tagrisso)"`` works too."""
        found = self._index.get(self.key(name))
        if found is None:
            match = re.fullmatch(r"\s*(.+?)\s*\((.+)\)\s*", str(name))
            if match:
                hits = {self._index.get(self.key(part)) for part in match.groups()} - {None}
                found = hits.pop() if len(hits) == 1 else None
        return self.drugs[found] if found else None

    def resolve(self, name: str) -> DrugInfo:
        """Return the drug ``name`` denotes.

        Raises
        ------
        UnknownDrugError
            Listing the closest known names.
        """
        info = self.get(name)
        if info is None:
            problem = self._unknown(str(name), str(name), "drug name", None, None)
            raise UnknownDrugError(f"unknown drug {name!r}", [problem])
        return info

    def resolve_regimen(self, text: str) -> Regimen:
        """Resolve a regimen string (``"Tafinlar + Mekinist"``) to canonical components.

        Raises
        ------
        UnknownDrugError
            One problem per unknown component, each with the closest known names.
        InputDataError
            An empty component or a drug named twice.
        """
        regimen, problems, unknown = self.regimen_problems(text, "regimen", None, None)
        if regimen is None:
            error = UnknownDrugError if unknown else InputDataError
            raise error(f"cannot resolve regimen {text!r}", problems)
        return regimen

    def regimen_problems(
        self, text: object, source: str, row: int | None, column: str | None = "drug"
    ) -> tuple[Regimen | None, list[Problem], bool]:
        """Resolve a regimen, returning problems instead of raising.

        Returns
        -------
        regimen : Regimen or None
            None when there is any problem.
        problems : list of Problem
            Located at ``source``, ``row``, ``column``.
        unknown_only : bool
            True when every problem is an unknown drug name.
        """
        if is_missing(text) or not str(text).strip():
            fix = "name the drug; " + _DRUG_FIX
            return None, [Problem(source, row, column, "<empty>", "no drug given", fix)], False
        value = str(text).strip()
        parts = [p.strip() for p in value.split("+")]
        problems: list[Problem] = []
        found: list[DrugInfo] = []
        unknown = 0
        for part in parts:
            info = self.get(part) if part else None
            if not part:
                problems.append(
                    Problem(
                        source, row, column, value, "empty component in a combination", _DRUG_FIX
                    )
                )
            elif info is None:
                unknown += 1
                problems.append(self._unknown(part, value, source, row, column))
            elif info in found:
                problems.append(
                    Problem(
                        source,
                        row,
                        column,
                        value,
                        f"{info.name} named twice in one regimen",
                        "name each drug of a combination once",
                    )
                )
            else:
                found.append(info)
        if problems:
            return None, problems, unknown == len(problems)
        primary = min(found, key=lambda d: self._class_rank[d.drug_class])
        return Regimen(tuple(found), primary), [], False

    def _unknown(
        self, part: str, value: str, source: str, row: int | None, column: str | None
    ) -> Problem:
        pieces = [p for p in re.split(r"\s*(?:/|,|;|&|\band\b|\bwith\b)\s*", part) if p]
        resolved = [self.get(p) for p in pieces]
        if len(pieces) > 1 and all(resolved):
            combo = "+".join(d.name for d in resolved if d)
            fix = f"write combinations with '+': {combo}"
        else:
            close = self.closest(part)
            fix = (
                ("closest known names: " + ", ".join(close) if close else "no close known name")
                + "; "
                + _DRUG_FIX
            )
        return Problem(source, row, column, value, f"unknown drug '{part}'", fix)


@functools.lru_cache(maxsize=8)
def _load_drug_catalogue(directory: str) -> DrugCatalogue:
    path = Path(directory) / DRUGS_FILE
    spec = read_model(path, _DrugsFile)
    drugs: dict[str, DrugInfo] = {}
    for name, d in spec.drugs.items():
        if name != name.strip().lower() or not name.strip():
            raise config_problem(path, f"drugs.{name}", "canonical names are lower case")
        if d.drug_class not in spec.classes:
            raise config_problem(
                path,
                f"drugs.{name}.class",
                f"unknown class {d.drug_class!r}; add it under 'classes'",
            )
        for partner in d.partners:
            if partner not in spec.drugs:
                raise config_problem(
                    path, f"drugs.{name}.partners", f"{partner!r} is not a drug of this file"
                )
        drugs[name] = DrugInfo(
            name, d.drug_class, d.targets, d.generation, d.partners, d.brands, d.codes, d.aliases
        )
    return DrugCatalogue(drugs, spec.classes, spec.salt_forms, source=str(path))


def load_drug_catalogue(directory: str | Path | None = None) -> DrugCatalogue:
    """Load (once) and return the drug catalogue.

    Parameters
    ----------
    directory : str or Path, optional
        Knowledge folder; defaults to :func:`oncoresist.paths.knowledge_dir`.

    Raises
    ------
    ConfigError
        If ``drugs.yaml`` is missing or malformed (the message names file and field).
    """
    return _load_drug_catalogue(knowledge_folder(directory))


def resolve_drug(name: str) -> DrugInfo:
    """Resolve one drug name, brand or code name with the default catalogue."""
    return load_drug_catalogue().resolve(name)


def resolve_regimen(text: str) -> Regimen:
    """Resolve a regimen string (``"dabrafenib+trametinib"``) with the default catalogue."""
    return load_drug_catalogue().resolve_regimen(text)


def known_drug_names(include_aliases: bool = False) -> list[str]:
    """Sorted canonical drug names (optionally with brands, code names and aliases)."""
    return load_drug_catalogue().known_names(include_aliases)
