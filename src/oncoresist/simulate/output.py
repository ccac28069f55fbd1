"""Writing a simulated cohort, and the simulated-vs-published calibration table.

The output folder holds the canonical tables (and/or a cBioPortal study), the hidden truth in
``ground_truth.parquet`` (never needed to read the cohort) and ``simulation.yaml`` with the
parameters, seed and package version. The data are simulated, not real patients.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sksurv.nonparametric import kaplan_meier_estimator

from oncoresist import RESEARCH_USE_NOTICE, __version__
from oncoresist.contract import MECHANISMS, Cohort
from oncoresist.exceptions import ConfigError, OutputExistsError
from oncoresist.io.canonical import write_canonical_folder
from oncoresist.io.cbioportal.write import write_cbioportal_study
from oncoresist.io.files import make_folder, read_yaml, write_yaml
from oncoresist.io.tables import read_typed_parquet, write_table
from oncoresist.simulate.cohort import SimulationResult
from oncoresist.simulate.params import SimulationParams, load_params

GROUND_TRUTH_FILE = "ground_truth.parquet"
SIMULATION_FILE = "simulation.yaml"
CBIOPORTAL_FOLDER = "cbioportal"
FORMATS = ("canonical", "cbioportal", "both")
SIMULATED_NOTICE = (
    "Simulated from published trial figures (data/params/settings.yaml); not real patients."
)


def write_simulation(
    result: SimulationResult,
    out_dir: str | Path,
    fmt: str = "canonical",
    overwrite: bool = False,
    table_format: str = "csv",
) -> Path:
    """Write a simulated cohort and its truth to ``out_dir``.

    Parameters
    ----------
    result : SimulationResult
    out_dir : str or Path
        Folder to create. ``canonical`` tables go in it directly; a cBioPortal study goes in
        it (``fmt="cbioportal"``) or in its ``cbioportal/`` subfolder (``fmt="both"``).
    fmt : {"canonical", "cbioportal", "both"}
    overwrite : bool
        Replace files in a non-empty folder; otherwise refuse.
    table_format : {"csv", "parquet"}
        File format of the canonical tables.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    OutputExistsError
        If ``out_dir`` holds files and ``overwrite`` is False.
    ValueError
        For an unknown ``fmt``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    folder = Path(out_dir)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{folder} is not empty; choose another folder or pass overwrite=True (--overwrite)"
        )
    make_folder(folder)
    if fmt in {"canonical", "both"}:
        write_canonical_folder(result.cohort, folder, fmt=table_format)
    if fmt == "cbioportal":
        write_cbioportal_study(result.cohort, folder)
    elif fmt == "both":
        write_cbioportal_study(result.cohort, folder / CBIOPORTAL_FOLDER)
    write_table(result.ground_truth, folder / GROUND_TRUTH_FILE)
    meta = {
        "notice": SIMULATED_NOTICE,
        "research_use": RESEARCH_USE_NOTICE,
        "oncoresist_version": __version__,
        "format": fmt,
        **_plain(result.config),
        "noise_genes": list(result.noise_genes),
        "parameters": result.params.model_dump(mode="json", by_alias=True),
    }
    write_yaml(folder / SIMULATION_FILE, meta)
    return folder


def read_simulation(folder: str | Path) -> dict[str, Any]:
    """Read the ``simulation.yaml`` of a folder that :func:`write_simulation` wrote.

    Parameters
    ----------
    folder : str or Path
        A folder :func:`write_simulation` wrote.

    Returns
    -------
    dict
        The notices, package version, format, simulation settings (``seed``, ``settings``,
        ``rebiopsy_rate``, ``censoring_target``, ``unexplained_to_epigenetic``, ...),
        ``noise_genes`` and ``parameters`` (validate with ``SimulationParams.model_validate``).

    Raises
    ------
    FileNotFoundError
        If the folder holds no ``simulation.yaml``.
    oncoresist.io.files.YamlSyntaxError
        If the file is not valid YAML.
    ConfigError
        If the file does not hold a mapping.
    """
    path = Path(folder) / SIMULATION_FILE
    meta = read_yaml(path)
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: expected a mapping of simulation settings and parameters")
    return meta


def _plain(value: object) -> object:
    """Convert numpy scalars and tuples to plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _km(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:

    return kaplan_meier_estimator(event.astype(bool), time.astype(float))


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (first time S(t) <= 0.5; inf if never reached)."""
    if not event.any():
        return float("inf")
    t, s = _km(time, event)
    below = np.flatnonzero(s <= 0.5)
    return float(t[below[0]]) if len(below) else float("inf")


def km_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan-Meier survival at ``at`` months (NaN beyond the last observed time)."""
    if not event.any():
        return 1.0
    t, s = _km(time, event)
    if at > time.max():
        return float("nan")
    pos = np.searchsorted(t, at, side="right") - 1
    return 1.0 if pos < 0 else float(s[pos])


def calibration_table(
    result: SimulationResult | Cohort,
    params: SimulationParams | None = None,
    unexplained_to_epigenetic: float | None = None,
) -> pd.DataFrame:
    """Simulated versus published figures, per setting, from the observed outcomes only.

    Parameters
    ----------
    result : SimulationResult or Cohort
        A simulation, or a cohort read back from its written files (``treatments.setting`` and
        ``outcomes`` are used; the ground truth never is).
    params : SimulationParams, optional
        Published figures; defaults to the result's parameters or the parameter file.
    unexplained_to_epigenetic : float, optional
        The knob used to simulate (taken from the result when given one).

    Returns
    -------
    DataFrame
        One row per setting and a final ``all`` row: ``n``, ``censored_pct``, Kaplan-Meier
        ``median_pfs_simulated`` vs ``median_pfs_published`` (months), 12/60-month landmark PFS
        simulated vs published for plateauing settings, ``labelled`` (re-biopsied
        progressions) and ``share_<mechanism>_simulated`` / ``_published``.
    """
    if isinstance(result, SimulationResult):
        cohort = result.cohort
        params = params or result.params
        unexplained = result.config.get("unexplained_to_epigenetic")
    else:
        cohort, unexplained = result, unexplained_to_epigenetic
        params = params or load_params()
    data = cohort.treatments[["treatment_id", "setting"]].merge(cohort.outcomes, on="treatment_id")
    data["resistance_observed"] = data["resistance_observed"].astype(bool)
    rows = []
    for name in [s for s in params.settings if s in set(data["setting"])]:
        part = data[data["setting"] == name]
        rows.append(_row(name, part, params.settings[name], unexplained))
    pooled = {
        "setting": "all",
        "n": len(data),
        "censored_pct": 100.0 * float((~data["resistance_observed"]).mean()),
        "labelled": int(data["mechanism"].notna().sum()),
    }
    rows.append(pooled)
    return pd.DataFrame(rows)


def _row(name: str, part: pd.DataFrame, setting, unexplained: float | None) -> dict:
    time = part["time_to_resistance_months"].to_numpy(float)
    event = part["resistance_observed"].to_numpy(bool)
    survival = setting.survival
    row: dict[str, object] = {
        "setting": name,
        "n": len(part),
        "censored_pct": 100.0 * float((~event).mean()),
        "median_pfs_simulated": km_median(time, event),
        "median_pfs_published": (
            float(survival.pfs_median_months)
            if survival.pfs_median_months is not None
            else float("inf")
        ),
    }
    for month in (12.0, 60.0):
        published = survival.landmarks.get(month)
        row[f"pfs_{int(month)}m_simulated"] = km_at(time, event, month) if published else np.nan
        row[f"pfs_{int(month)}m_published"] = float(published) if published else np.nan
    labels = part["mechanism"].dropna()
    labels = labels[labels.astype(str).str.len() > 0]
    row["labelled"] = len(labels)
    target = setting.target_shares(unexplained)
    counts = labels.value_counts()
    for mechanism in MECHANISMS:
        row[f"share_{mechanism}_simulated"] = (
            float(counts.get(mechanism, 0)) / len(labels) if len(labels) else np.nan
        )
        row[f"share_{mechanism}_published"] = target[mechanism]
    return row


def is_simulation(folder: str | Path) -> bool:
    """Whether ``folder`` was written by :func:`write_simulation` (it holds ``simulation.yaml``)."""
    folder = Path(folder)
    return folder.is_dir() and (folder / SIMULATION_FILE).exists()


def read_ground_truth(folder: str | Path) -> pd.DataFrame | None:
    """The hidden ground truth of a simulated cohort folder, or None when it has none."""
    path = Path(folder) / GROUND_TRUTH_FILE
    return read_typed_parquet(path) if path.is_file() else None
