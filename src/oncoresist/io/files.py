"""Files as such: atomic writes, YAML in and out.

Every file the package writes goes through :func:`atomic_write` (temporary file, fsync, rename),
so a crash never leaves a half-written file; every YAML file is read and written here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[object]:
    """Open a temporary file beside ``path``; on success fsync and rename it onto ``path``.

    A reader never sees a half-written file, and an error leaves any previous file intact
    (the temporary file is removed).

    Parameters
    ----------
    path : path-like
        Final location. Its folder must exist.
    mode : {"w", "wb"}
        Text (UTF-8, ``\\n`` newlines) or binary.

    Yields
    ------
    file object
        Write to it; it is closed for you.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions any new file would get.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fd, 0o666 & ~umask)
    try:
        if "b" in mode:
            handle = os.fdopen(fd, mode)
        else:
            handle = os.fdopen(fd, mode, encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Parse a YAML file (UTF-8) with the safe loader; an empty file reads as ``None``."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def write_yaml(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = False) -> Path:
    """Write ``data`` as YAML atomically (block style, Unicode kept); return the path."""
    with atomic_write(path) as handle:
        yaml.safe_dump(data, handle, sort_keys=sort_keys, allow_unicode=True)
    return Path(path)
