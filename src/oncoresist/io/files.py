"""Files as such: atomic writes, YAML in and out.

Every file the package writes goes through :func:`atomic_write` (temporary file, fsync, rename),
so a crash never leaves a half-written file; every YAML file is read and written here.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from oncoresist.exceptions import OncoresistError, OutputExistsError


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
    """Parse a YAML file (UTF-8) with the safe loader; an empty file reads as ``None``.

    Raises
    ------
    OSError
        If the file cannot be read (``FileNotFoundError`` when it is missing).
    UnicodeDecodeError
        If the file is not UTF-8 text.
    YamlSyntaxError
        If the text is not valid YAML; the message is the parser's (line and column).
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise YamlSyntaxError(str(err)) from err


def write_yaml(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = False) -> Path:
    """Write ``data`` as YAML atomically (block style, Unicode kept); return the path."""
    with atomic_write(path) as handle:
        yaml.safe_dump(data, handle, sort_keys=sort_keys, allow_unicode=True)
    return Path(path)


def replace_section(
    path: str | os.PathLike[str],
    name: str,
    text: str,
    *,
    header: str = "",
    order: tuple[str, ...] = (),
) -> Path:
    """Replace (or add) section ``name`` of a generated Markdown file atomically; return the path.

    A section is the text between a ``<!-- BEGIN name -->`` line and a ``<!-- END name -->``
    line. The file keeps what precedes its first section (``header`` when it does not exist
    yet), then its sections: those named in ``order`` first, in that order, the others by
    name. The folder is created when missing.
    """
    target = Path(path)
    current = target.read_text(encoding="utf-8") if target.exists() else header
    sections = dict(re.findall(r"<!-- BEGIN (\w+) -->\n(.*?)<!-- END \1 -->\n", current, re.S))
    sections[name] = text.rstrip("\n") + "\n"
    ordered = [s for s in order if s in sections] + sorted(set(sections) - set(order))
    head = current.split("<!-- BEGIN ", 1)[0].rstrip("\n") + "\n"
    parts = [head] + [f"<!-- BEGIN {s} -->\n{sections[s]}<!-- END {s} -->\n" for s in ordered]
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as handle:
        handle.write("\n".join(parts))
    return target


class YamlSyntaxError(OncoresistError, yaml.YAMLError):
    """A file is not valid YAML (raised by :func:`read_yaml`; the message is the parser's).

    It subclasses ``yaml.YAMLError``, so a caller catching that still catches it, and callers
    outside ``io/`` catch it without importing yaml.
    """


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create a folder and its parents (an existing one is fine); return its path."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_folder(path: str | os.PathLike[str]) -> None:
    """Delete a folder and everything in it; a missing folder or a failed delete is ignored."""
    shutil.rmtree(path, ignore_errors=True)


def refuse_existing(path: str | os.PathLike[str], overwrite: bool) -> None:
    """Raise :class:`~oncoresist.exceptions.OutputExistsError` when ``path`` exists and
    ``overwrite`` is false (the CLI's exit 2: pass ``--overwrite``)."""
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
