"""What every knowledge file shares: strict YAML schemas, the knowledge folder, matching keys."""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from oncoresist.exceptions import ConfigError
from oncoresist.io.files import YamlSyntaxError, read_yaml
from oncoresist.paths import knowledge_dir


class Strict(BaseModel):
    """Base of every knowledge-file schema: a misspelt field is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_M = TypeVar("_M", bound=BaseModel)


def _field(loc: Iterable[object]) -> str:
    """Render a pydantic location as the user reads the YAML: ``alterations[3].drugs``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def read_model(path: Path, model: type[_M]) -> _M:
    """Read a YAML file into a strict pydantic model, or raise :class:`ConfigError`."""
    try:
        data = read_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: knowledge file not found") from None
    except (YamlSyntaxError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        lines = [
            f"  field '{_field(e['loc'])}': {e['msg']}"
            + (f" (got {str(e['input'])[:60]!r})" if e["type"] != "missing" else "")
            for e in err.errors()
        ]
        raise ConfigError(f"{path} is invalid:\n" + "\n".join(lines)) from None


def config_problem(path: Path, field: str, message: str) -> ConfigError:
    """Return a :class:`ConfigError` naming a file and a field."""
    return ConfigError(f"{path} is invalid:\n  field '{field}': {message}")


def knowledge_folder(directory: str | Path | None) -> str:
    """Resolved knowledge folder (the cache key of every loader)."""
    if directory:
        return str(Path(directory).resolve())
    # Resolving the default path costs file-system calls; lookups run per row, so cache it
    # per value of the variable that moves it.
    return _default_folder(os.environ.get("ONCORESIST_DATA_DIR"))


@functools.lru_cache(maxsize=4)
def _default_folder(data_dir_variable: str | None) -> str:
    return str(knowledge_dir())


def match_key(text: object) -> str:
    """Matching key: case, spaces and punctuation ignored."""
    return re.sub(r"[^a-z0-9+]", "", str(text).lower())


def is_missing(value: object) -> bool:
    """True for None, NA and NaN."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
