"""`oncoresist score --engine dask`: the same scoring, one partition per Dask task.

Each partition of the input (a ``dask.dataframe``, see :mod:`oncoresist.scale.partitions`) goes
through :func:`~oncoresist.scoring.engine.score_profiles`, the function the single-machine job
uses, so the numbers are the same. The bundle is loaded once on the client and scattered
to every worker once (``broadcast``): tasks share the worker's copy.

Output is a partitioned Parquet dataset::

    OUT/part-00000.parquet ...      scored rows of partition 0 ... (absent when none scored)
    OUT/_errors/part-00000.parquet  rejected rows (input file, row, column, value, reason)
    OUT/_SUCCESS                    written last: accounting, model, partitions (JSON)

Each part is written to a hidden temporary file and renamed, so a task killed mid-write
leaves nothing behind and its rerun writes the same part once. Readers
(``pandas.read_parquet(OUT)``, Spark, DuckDB) skip ``_``/``.`` names. The files are written
by :mod:`oncoresist.io.scores`.

Repeated treatments: a global pre-pass (treatment keys of every row, read on the client;
cheap, only two columns) finds treatments that occur in more than one partition; only then
do those partitions validate once more to learn which occurrence is accepted first, and
later partitions receive it as already seen. The result equals one sequential pass.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from oncoresist.exceptions import ConfigError, Problem
from oncoresist.io.files import make_folder, remove_folder
from oncoresist.io.inputs import no_rows_error, with_planned_drug
from oncoresist.io.profiles import profiles_to_cohort
from oncoresist.io.scores import (
    ERRORS,
    STAGING,
    part_name,
    prepare_output,
    problems_frame,
    stable_types,
    write_part_atomic,
    write_success_marker,
)
from oncoresist.pipelines.score import ScoreJob
from oncoresist.scale.cluster import dask_client
from oncoresist.scale.partitions import (
    cross_partition_keys,
    plan_partitions,
    profiles_dataframe,
    read_partition,
    seen_before,
)
from oncoresist.scoring.engine import (
    check_nothing_lost,
    score_profiles,
)
from oncoresist.tracking.bundles import DEFAULT_MODEL
from oncoresist.tracking.resolve import resolve_bundle

ACCOUNTING_META = pd.DataFrame(
    {
        "partition": pd.Series(dtype="int64"),
        "n_read": pd.Series(dtype="int64"),
        "n_scored": pd.Series(dtype="int64"),
        "n_rejected": pd.Series(dtype="int64"),
        "notes": pd.Series(dtype=object),
    }
)


@dataclass(frozen=True)
class _Task:
    """What every partition task needs besides its rows and the bundle (small, picklable)."""

    partitions: tuple[Any, ...]
    seen: dict[int, dict[str, int]]
    out: str
    errors: str
    drug: str | None
    top_drivers: int
    scored_at: str
    on_partition: Callable[[int], None] | None


#: Worker copies of bundles already set to one XGBoost thread per task (by id; weak values,
#: so a released bundle is forgotten and a new one at the same address is set again).
_ONE_THREAD: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_ONE_THREAD_LOCK = threading.Lock()


def one_xgboost_thread(bundle: Any) -> None:
    """Make XGBoost use one thread per task with this (worker's) bundle; once per bundle.

    A bundle's boosters keep the ``nthread`` they were trained with (``n_jobs``, 2 by
    default), and a worker runs one task per worker thread, so a worker with ``t`` threads
    would start ``2t`` OpenMP threads on ``t`` cores. The nanny's ``OMP_NUM_THREADS=1`` caps
    that today, but workers started without a nanny, or with another environment, do not
    have it; the setting here holds everywhere. Predictions and SHAP values do not depend on
    the thread count (rows are independent, trees summed in order).
    """
    with _ONE_THREAD_LOCK:
        if _ONE_THREAD.get(id(bundle)) is bundle:
            return
        for model in (bundle.mechanism_model, bundle.survival_model):
            booster = getattr(model, "booster_", None)
            if booster is not None:
                booster.set_param({"nthread": 1})
            if hasattr(model, "n_jobs"):
                model.n_jobs = 1  # DMatrix construction threads
        _ONE_THREAD[id(bundle)] = bundle


def _errors_table(problems: list[Problem]) -> pd.DataFrame:
    frame = problems_frame(problems)
    frame["row"] = frame["row"].astype("Int64")
    for column in ("source", "column", "value", "reason", "fix"):
        frame[column] = frame[column].astype("string")
    return frame


def score_partition(
    frame: pd.DataFrame, bundle: Any, task: _Task, partition_info: dict | None = None
) -> pd.DataFrame:
    """Score one partition, write its parts, return its accounting row (a Dask task)."""
    if partition_info is None:
        raise RuntimeError("score_partition runs inside map_partitions only")
    number = int(partition_info["number"])
    part = task.partitions[number]
    if task.on_partition is not None:
        task.on_partition(number)
    one_xgboost_thread(bundle)
    result = score_profiles(
        bundle,
        frame,
        source=part.source,
        drug=task.drug,
        top_drivers=task.top_drivers,
        seen_treatments=dict(task.seen.get(number, {})),
        scored_at=task.scored_at,
    )
    check_nothing_lost(result)
    if result.n_scored:
        write_part_atomic(stable_types(result.scores), Path(task.out) / part_name(number))
    if result.rejected:
        write_part_atomic(_errors_table(result.rejected), Path(task.errors) / part_name(number))
    return pd.DataFrame(
        {
            "partition": [number],
            "n_read": [result.n_read],
            "n_scored": [result.n_scored],
            "n_rejected": [result.n_rejected],
            "notes": [json.dumps(result.notes)],
        }
    )


def _accepted_shared(
    frame: pd.DataFrame, keys: set[str], source: str, drug: str | None
) -> dict[str, int]:
    """Shared treatment keys this partition accepts on its own, with their row (pre-pass)."""
    sheet = profiles_to_cohort(with_planned_drug(frame, drug), source)
    return {k: line for k, line in sheet.row_of_treatment.items() if k in keys}


def score_dataset(
    input_path: str | Path,
    out: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    errors: str | Path | None = None,
    drug: str | None = None,
    top_drivers: int = 3,
    overwrite: bool = False,
    partition_rows: int = 5000,
    tracking_uri: str | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    client: Any = None,
    progress: Callable[[int, int | None], None] | None = None,
    on_partition: Callable[[int], None] | None = None,
) -> ScoreJob:
    """Score a profile sheet (or a folder of sheet partitions) on a Dask cluster.

    Parameters
    ----------
    input_path : path
        A Parquet/CSV/TSV/XLSX profile sheet or a folder of them.
    out : path
        Folder of the scores dataset (``part-*.parquet`` + ``_SUCCESS``).
    errors : path, optional
        Folder of the errors dataset (default ``OUT/_errors``).
    partition_rows : int
        Rows per partition (as ``--chunk-size``: patient consistency is checked within
        one partition, exactly like a chunk of the single-machine job).
    scheduler : str, optional
        ``tcp://HOST:8786`` of a running cluster; default: a ``LocalCluster`` with one
        single-threaded worker process per core (or ``n_workers``).
    client : distributed.Client, optional
        Use this client (left open).
    on_partition : callable, optional
        Called with the partition number when a task starts (tests use it to hold a task).

    Returns
    -------
    ScoreJob
        Totals over all partitions; ``read = scored + rejected`` is checked.
    """
    input_path, out = Path(input_path), Path(out)
    errors_dir = Path(errors) if errors else out / ERRORS
    prepare_output(out, errors_dir, overwrite)
    bundle, model_used = resolve_bundle(model, tracking_uri)
    make_folder(out)
    make_folder(errors_dir)
    staging = out / STAGING
    try:
        partitions, keys, columns = plan_partitions(input_path, partition_rows, staging)
        if not partitions or sum(p.n_rows for p in partitions) == 0:
            raise no_rows_error(input_path.name)
        shared = cross_partition_keys(keys)
        with dask_client(scheduler, n_workers, client) as dask:
            accepted: dict[int, dict[str, int]] = {}
            if shared:
                futures = {
                    n: dask.submit(
                        _accepted_shared,
                        dask.submit(read_partition, partitions[n], pure=False),
                        keys_,
                        partitions[n].source,
                        drug,
                    )
                    for n, keys_ in shared.items()
                }
                accepted = {n: f.result() for n, f in futures.items()}
            task = _Task(
                partitions=tuple(partitions),
                seen=seen_before(shared, accepted, len(partitions)),
                out=str(out),
                errors=str(errors_dir),
                drug=drug,
                top_drivers=top_drivers,
                scored_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                on_partition=on_partition,
            )
            shared_bundle = dask.scatter(bundle, broadcast=True)
            scored = profiles_dataframe(partitions, columns).map_partitions(
                score_partition, shared_bundle, task, meta=ACCOUNTING_META
            )
            rows = _run(dask, scored, progress)
    finally:
        remove_folder(staging)
    return _finish(rows, out, errors_dir, model_used, len(partitions))


def score_file_dask(
    input_path: str | Path,
    out: str | Path,
    *,
    fmt: str | None = None,
    chunk_size: int = 5000,
    expression_profile: str | None = None,
    **options: Any,
) -> ScoreJob:
    """:func:`score_dataset` with the options of :func:`~oncoresist.pipelines.score.score_file`.

    ``chunk_size`` becomes the partition size; the output is Parquet only; profile sheets
    only (``expression_profile`` is for cBioPortal studies, which are scored on one machine).
    """
    if fmt not in (None, "parquet"):
        raise ConfigError(f"--engine dask writes a Parquet dataset, not {fmt}")
    if expression_profile is not None:
        raise ConfigError(
            "--expression-profile applies to cBioPortal studies, which --engine dask does not "
            "read; score them with --engine local or convert them to a profile sheet"
        )
    return score_dataset(input_path, out, partition_rows=chunk_size, **options)


def _run(dask: Any, scored: Any, progress: Callable[[int, int | None], None] | None) -> list:
    from distributed import as_completed  # noqa: PLC0415

    futures = dask.compute(scored.to_delayed())
    rows, n_read = [], 0
    for future in as_completed(futures):
        row = future.result()
        rows.append(row)
        n_read += int(row["n_read"].sum())
        if progress is not None:
            progress(n_read, None)
    return rows


def _finish(rows: list, out: Path, errors_dir: Path, model: str, n_partitions: int) -> ScoreJob:
    table = pd.concat(rows, ignore_index=True).sort_values("partition")
    if table["partition"].tolist() != list(range(n_partitions)):
        raise RuntimeError(
            f"partitions {table['partition'].tolist()} came back for {n_partitions}; "
            "please report this bug"
        )
    n_read, n_scored, n_rejected = (
        int(table[c].sum()) for c in ("n_read", "n_scored", "n_rejected")
    )
    if n_scored + n_rejected != n_read:
        raise RuntimeError(
            f"row accounting failed (read {n_read}, scored {n_scored}, "
            f"rejected {n_rejected}); please report this bug"
        )
    notes: list[str] = []
    for text in table["notes"]:
        notes += [n for n in json.loads(text) if n not in notes]
    errors_written = errors_dir if n_rejected else None
    job = ScoreJob(out, errors_written, n_read, n_scored, n_rejected, model, notes)
    if not n_rejected:
        remove_folder(errors_dir)
    marker = {
        "accounting": job.accounting(),
        "n_read": n_read,
        "n_scored": n_scored,
        "n_rejected": n_rejected,
        "partitions": n_partitions,
        "model": model,
        "engine": "dask",
    }
    write_success_marker(out, marker)
    return job
