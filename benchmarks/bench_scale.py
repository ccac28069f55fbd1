"""Scale-out benchmark: rows/s of single-process scoring vs Dask with 1 and 2 workers.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--rows 200000] [--workers 1 2]
        [--partition-rows 5000] [--top-drivers 3] [--train-n 2000]
        [--workdir /tmp/oncoresist-bench-scale]

Steps (every figure from this one run, on this machine):

1. Model: simulate ``--train-n`` treatments, train with the default trees (300 per model)
   and a quick protocol (no grid, 2 CV folds, no baselines, no bootstrap); save the bundle.
2. Sheet: simulate 4,000 treatments, write them as a clinicians' profile sheet and tile it
   with new patient/treatment ids up to ``--rows`` (Parquet, row groups of 20,000).
3. Single process: :func:`~oncoresist.pipelines.score.score_file` (Parquet out, chunks of
   ``--partition-rows``), as ``oncoresist score`` runs it.
4. Dask: :func:`~oncoresist.scale.scoring.score_dataset` on a fresh ``LocalCluster`` of 1,
   then 2, single-threaded worker processes (cluster start timed separately); peak RSS of
   each worker process; outputs compared with the single-process output (all columns but
   ``scored_at``).

CPU seconds are reported too (the child's ``wait4`` usage; for Dask the workers' plus the
client's, which hosts the scheduler): on a machine shared with other jobs, wall time
measures the neighbours as much as the code, while CPU per row is what a free core gives.

Exact SHAP drivers (``--top-drivers 3``, the default of ``oncoresist score``) dominate the
cost. On a shared machine, run a smaller ``--rows`` and read the rows/s: scoring is linear
in rows (fixed cost per partition, no cross-row work), so the 200,000-row time is
``200,000 / (rows/s)``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _bench_common import quick_model


def tiled_sheet(workdir: Path, rows: int) -> Path:
    """A Parquet profile sheet of ``rows`` rows tiled from 4,000 simulated treatments."""
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.pipelines.demo import profile_sheet
    from oncoresist.simulate.cohort import simulate_cohort

    path = workdir / f"sheet_{rows}.parquet"
    if path.exists():
        return path
    cohort = simulate_cohort(n=4000, seed=5).cohort
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    base = profile_sheet(cohort_to_profiles(cohort)).reset_index(drop=True)
    expression = [c for c in base.columns if str(c).startswith("expr_")]
    base[expression] = base[expression].round(3)
    copies = -(-rows // len(base))
    sheet = pd.concat([base] * copies, ignore_index=True).iloc[:rows].copy()
    copy = np.repeat(np.arange(copies), len(base))[:rows].astype(str)
    sheet["patient_id"] = sheet["patient_id"].astype(str) + "-c" + copy
    sheet["treatment_id"] = sheet["treatment_id"].astype(str) + "-c" + copy
    sheet.to_parquet(path, index=False, row_group_size=20_000)
    return path


#: ``python -m oncoresist`` that writes its own peak RSS (VmHWM, kB) to $BENCH_HWM_FILE at exit.
#: Not the parent's ``wait4`` ru_maxrss: Linux carries a process's peak across fork + exec,
#: so every child would report at least this benchmark's own peak (the tiled sheet, GBs).
CHILD = """
import atexit, os, runpy
def report():
    with open(os.environ["BENCH_HWM_FILE"], "w") as out:
        out.write(str(_hwm_kb()))
def _hwm_kb():
    with open("/proc/self/status") as status:
        return int(next(l for l in status if l.startswith("VmHWM")).split()[1])
atexit.register(report)
runpy.run_module("oncoresist", run_name="__main__", alter_sys=True)
"""


def single_process(model: Path, sheet: Path, out: Path, args: argparse.Namespace) -> dict:
    """``oncoresist score`` as a child process: wall time, CPU and the child's peak RSS."""
    command = [sys.executable, "-c", CHILD, "score", "--input", str(sheet),
               "--out", str(out), "--model", str(model), "--top-drivers", str(args.top_drivers),
               "--chunk-size", str(args.partition_rows), "--overwrite", "-q"]  # fmt: skip
    hwm_file = args.workdir / "single.hwm"
    hwm_file.unlink(missing_ok=True)
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "BENCH_HWM_FILE": str(hwm_file)},
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    line = child.stdout.read().decode().strip() if child.stdout else ""
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(f"oncoresist score failed: {line}")
    rows = int(line.split()[1])  # "read N = scored S + rejected R"
    return {"engine": "single process", "workers": 1, "seconds": seconds, "rows": rows,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb_per_worker": int(hwm_file.read_text()) / 1024,
            "startup_s": 0.0}  # fmt: skip


def _loads(loads: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.1f}" for x in loads)


def _thread_settings() -> tuple[str | None, str | None]:
    """OMP_WAIT_POLICY and OMP_NUM_THREADS of a worker (run on each worker)."""
    return os.environ.get("OMP_WAIT_POLICY"), os.environ.get("OMP_NUM_THREADS")


def _peak_rss_mb() -> float:
    """Peak RSS of this process in MB (VmHWM: a worker's own, not inherited from its parent)."""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process so far (run on each worker)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dask_run(model: Path, sheet: Path, out: Path, workers: int, args: argparse.Namespace) -> dict:
    from distributed import Client, LocalCluster

    from oncoresist.scale.scoring import score_dataset

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        startup = time.perf_counter() - start
        settings = set(client.run(_thread_settings).values())
        before = sum(client.run(_cpu_s).values()) + _cpu_s()
        start = time.perf_counter()
        job = score_dataset(
            sheet,
            out,
            model=str(model),
            top_drivers=args.top_drivers,
            overwrite=True,
            partition_rows=args.partition_rows,
            client=client,
        )
        seconds = time.perf_counter() - start
        cpu = sum(client.run(_cpu_s).values()) + _cpu_s() - before  # workers + client
        peaks = client.run(_peak_rss_mb)
    return {"engine": "dask", "workers": workers, "seconds": seconds, "rows": job.n_read,
            "cpu_s": cpu, "peak_rss_mb_per_worker": max(peaks.values()),
            "startup_s": startup, "omp_wait_policy, omp_num_threads": settings}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partition-rows", type=int, default=5000)
    parser.add_argument("--top-drivers", type=int, default=3)
    parser.add_argument("--train-n", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/oncoresist-bench-scale"))
    args = parser.parse_args()
    # No OMP_NUM_THREADS here: the single process runs as `oncoresist score` does, XGBoost on
    # the bundle's n_jobs threads (2); Dask workers get one thread each (nanny + dask_scoring).
    args.workdir.mkdir(parents=True, exist_ok=True)
    loads_before = os.getloadavg()

    t0 = time.perf_counter()
    model = quick_model(args.workdir, args.train_n, register=False)
    sheet = tiled_sheet(args.workdir, args.rows)
    print(f"model + sheet ready in {time.perf_counter() - t0:.0f} s; {args.rows:,} rows, "
          f"top drivers {args.top_drivers}, partitions of {args.partition_rows:,} rows, "
          f"{os.cpu_count()} cores, load averages at start {_loads(loads_before)}",
          flush=True)  # fmt: skip

    results = [single_process(model, sheet, args.workdir / "single.parquet", args)]
    print(results[-1], flush=True)
    reference = pd.read_parquet(args.workdir / "single.parquet").drop(columns=["scored_at"])
    for workers in args.workers:
        out = args.workdir / f"dask_{workers}"
        results.append(dask_run(model, sheet, out, workers, args))
        scores = pd.read_parquet(out).drop(columns=["scored_at"])
        pd.testing.assert_frame_equal(scores, reference)  # identical outputs, or it stops here
        results[-1]["identical_to_single"] = True
        print(results[-1], flush=True)

    table = pd.DataFrame(results)
    table["rows_per_s"] = table["rows"] / table["seconds"]
    base = table.loc[0, "rows_per_s"]
    table["speedup"] = table["rows_per_s"] / base
    table["efficiency"] = table["speedup"] / table["workers"]
    # CPU per row is what a free core delivers; wall time on a shared machine is not.
    table["cpu_ms_per_row"] = 1000 * table["cpu_s"] / table["rows"]
    table[f"est_s_for_{200_000:,}_rows"] = 200_000 / table["rows_per_s"]
    print(f"\nload averages (1, 5, 15 min): start {_loads(loads_before)}, "
          f"end {_loads(os.getloadavg())}")  # fmt: skip
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
