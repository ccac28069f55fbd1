"""Expression programs: signature gene sets scored per sample.

A program score is ``mean(up genes) - mean(down genes)`` on the input's log2(TPM+1) scale. The
simulator defines its truth through these scores, and the feature builder reuses this function,
so a model sees exactly the quantities the simulator used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oncoresist.exceptions import ConfigError
from oncoresist.io.files import YamlSyntaxError, read_yaml
from oncoresist.paths import knowledge_dir

PROGRAM_PREFIX = "program_"


@dataclass(frozen=True)
class Signature:
    """One expression program: genes that go up and genes that go down in that state."""

    name: str
    up: tuple[str, ...]
    down: tuple[str, ...] = ()
    description: str = ""

    @property
    def genes(self) -> tuple[str, ...]:
        """All genes of the program (up, then down), without repeats."""
        return tuple(dict.fromkeys((*self.up, *self.down)))


def load_signatures(path: str | Path | None = None) -> dict[str, Signature]:
    """Read the expression programs from ``data/knowledge/signatures.yaml``.

    Parameters
    ----------
    path : str or Path, optional
        Another signatures file with the same layout.

    Returns
    -------
    dict of str to Signature
        Programs by name, in file order.

    Raises
    ------
    ConfigError
        If the file is missing or a program lacks genes.
    """
    path = Path(path) if path is not None else knowledge_dir() / "signatures.yaml"
    try:
        raw = read_yaml(path)
    except (OSError, YamlSyntaxError) as err:
        raise ConfigError(f"cannot read signatures file {path}: {err}") from err
    programs = raw.get("programs") if isinstance(raw, Mapping) else None
    if not isinstance(programs, Mapping) or not programs:
        raise ConfigError(f"{path}: expected a 'programs' mapping of name -> {{up, down}}")
    signatures: dict[str, Signature] = {}
    for name, spec in programs.items():
        if not isinstance(spec, Mapping) or not spec.get("up"):
            raise ConfigError(f"{path}: program '{name}' needs a non-empty 'up' gene list")
        unknown = set(spec) - {"up", "down", "description"}
        if unknown:
            raise ConfigError(f"{path}: program '{name}' has unknown keys {sorted(unknown)}")
        signatures[str(name)] = Signature(
            name=str(name),
            up=tuple(str(g).upper() for g in spec["up"]),
            down=tuple(str(g).upper() for g in (spec.get("down") or ())),
            description=str(spec.get("description", "")),
        )
    return signatures


def signature_genes(signatures: Mapping[str, Signature] | None = None) -> list[str]:
    """Return every gene used by the programs, sorted."""
    signatures = load_signatures() if signatures is None else signatures
    return sorted({g for s in signatures.values() for g in s.genes})


def _mean_present(values: np.ndarray) -> np.ndarray:
    """Row mean over non-NaN entries; NaN where a row has none (no warning)."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    out = np.full(values.shape[0], np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def program_scores(
    expression: pd.DataFrame, signatures: Mapping[str, Signature] | None = None
) -> pd.DataFrame:
    """Score every expression program for every sample.

    Parameters
    ----------
    expression : DataFrame
        Samples in rows, genes in columns, log2(TPM+1) values. A ``sample_id`` column, if
        present, becomes the index; other non-numeric columns are ignored.
    signatures : mapping of str to Signature, optional
        Programs to score; defaults to :func:`load_signatures`.

    Returns
    -------
    DataFrame
        One column ``program_<name>`` per program, indexed like the input (or by ``sample_id``).
        A score is ``mean(up) - mean(down)`` over the genes present and not NaN; when no down
        gene is available the score is ``mean(up)``; NaN when no up gene is available.
    """
    signatures = load_signatures() if signatures is None else signatures
    frame = expression.set_index("sample_id") if "sample_id" in expression.columns else expression
    columns = {str(c).upper(): c for c in frame.columns}
    scores: dict[str, np.ndarray] = {}
    for name, signature in signatures.items():
        up_cols = [columns[g] for g in signature.up if g in columns]
        down_cols = [columns[g] for g in signature.down if g in columns]
        up = _mean_present(_as_float(frame, up_cols))
        if down_cols:
            down = _mean_present(_as_float(frame, down_cols))
            # A missing down arm falls back to the up arm alone rather than losing the sample.
            up = np.where(np.isnan(down), up, up - down)
        scores[PROGRAM_PREFIX + name] = up
    return pd.DataFrame(scores, index=frame.index)


def _as_float(frame: pd.DataFrame, cols: list) -> np.ndarray:
    if not cols:
        return np.full((len(frame), 0), np.nan)
    return frame[cols].to_numpy(dtype=float, na_value=np.nan)
