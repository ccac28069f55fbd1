"""End-to-end scoring benchmark: CLI throughput vs raw XGBoost, peak memory, cold start.

Usage::

    .venv/bin/python benchmarks/bench_score.py [--sizes 100000 400000] [--train-n 2000]
        [--base-n 4000] [--workdir /tmp/oncoresist-bench-score] [--input-format parquet]

Steps (every figure comes from this one run, on this machine):

1. Model: simulate ``--train-n`` treatments and train with the default hyperparameters
   (300 trees per model) but a quick protocol: no inner grid, 2 CV folds, no baselines, no
   bootstrap. Scoring cost depends on the trees, not on how they were chosen.
2. Profile sheets: simulate ``--base-n`` treatments, turn them into the clinicians' sheet
   (``cohort_to_profiles`` → ``demo.profile_sheet``) and tile the sheet with new patient and
   treatment ids up to each size (simulating 400,000 treatments would take longer than
   scoring them).
3. Raw XGBoost: on the same feature matrix (the base sheet's features tiled to the first
   size), time ``DMatrix`` + ``predict`` + ``pred_contribs`` of both boosters, with the
   thread count the models use.
4. CLI: ``oncoresist score`` as a subprocess on each sheet (validate + features + both models
   + top drivers + write); wall time and CPU seconds (``os.wait4``), and the child's own peak
   RSS (VmHWM, written at exit).
5. Cold start: the CLI on a 10-row sheet, wall time from process start to exit.
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


def base_sheet(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated clinicians' sheet and its annotated profile frame."""
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.pipelines.demo import profile_sheet
    from oncoresist.simulate.cohort import simulate_cohort

    cohort = simulate_cohort(n=n, seed=seed).cohort
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    profiles = cohort_to_profiles(cohort)
    sheet = profile_sheet(profiles)
    expression = [c for c in sheet.columns if str(c).startswith("expr_")]
    sheet[expression] = sheet[expression].round(3)
    return sheet.reset_index(drop=True), profiles.reset_index(drop=True)


def write_tiled(sheet: pd.DataFrame, size: int, path: Path, fmt: str) -> Path:
    """Write ``size`` rows: the sheet repeated with new patient and treatment ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    writer = None
    written = 0
    copy = 0
    while written < size:
        part = sheet.iloc[: size - written].copy()
        part["patient_id"] = part["patient_id"].astype(str) + f"-c{copy}"
        part["treatment_id"] = part["treatment_id"].astype(str) + f"-c{copy}"
        if fmt == "parquet":
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
        else:
            part.to_csv(tmp, mode="a" if written else "w", header=written == 0, index=False)
        written += len(part)
        copy += 1
    if writer is not None:
        writer.close()
    tmp.replace(path)
    return path


def raw_xgboost_seconds(bundle, features: np.ndarray) -> tuple[float, float]:
    """DMatrix + predict + pred_contribs of both boosters on one feature matrix.

    Each booster gets the columns it was trained on (the mechanism model may use a subset of
    the built features, e.g. no gene-level expression), as the scorer gives it.
    """
    import xgboost as xgb

    from oncoresist.models.checks import xgboost_feature_names

    position = {name: j for j, name in enumerate(bundle.feature_names)}
    inputs = []
    for model in (bundle.mechanism_model, bundle.survival_model):
        used = list(getattr(model, "feature_names_in_", bundle.feature_names))
        columns = np.ascontiguousarray(features[:, [position[name] for name in used]])
        inputs.append((model, columns, xgboost_feature_names(used)))
    start, cpu = time.perf_counter(), time.process_time()  # selection is not XGBoost's work
    for model, columns, names in inputs:
        booster = model.booster_
        matrix = xgb.DMatrix(columns, feature_names=names, missing=np.nan, nthread=model.n_jobs)
        booster.predict(matrix)
        booster.predict(matrix, pred_contribs=True, strict_shape=True)
    return time.perf_counter() - start, time.process_time() - cpu


#: Runs the CLI and writes its own peak RSS (VmHWM) at exit. ``ru_maxrss`` from ``wait4``
#: is not the child's: Linux carries the parent's high-water mark across fork + exec, so it
#: reported this (large) benchmark process instead of the CLI.
_CLI_WITH_PEAK = """
import atexit, os, runpy
from oncoresist.tracking.bundles import read_bundle

def _peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])

atexit.register(_peak)
runpy.run_module("oncoresist", run_name="__main__", alter_sys=True)
"""


def run_cli(args: list[str]) -> tuple[float, int, int, float]:
    """Run ``oncoresist`` as a child: wall seconds, exit code, peak RSS (bytes), CPU seconds."""
    import tempfile

    command = [sys.executable, "-c", _CLI_WITH_PEAK, *args]
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        out_file, err_file = Path(tmp) / "out", Path(tmp) / "err"
        env = {**os.environ, "BENCH_PEAK_FILE": str(peak_file)}
        start = time.perf_counter()
        with out_file.open("wb") as out, err_file.open("wb") as err:  # files: no pipe to fill
            child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
            _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            raise SystemExit(
                f"CLI failed ({code}): oncoresist {' '.join(args)}\n{out_file.read_text()}\n"
                f"{err_file.read_text()[-3000:]}"
            )
        peak_kib = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return wall, code, peak_kib * 1024, cpu  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--train-n", type=int, default=2000)
    parser.add_argument("--base-n", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--input-format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--output-format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/oncoresist-bench-score"))
    args = parser.parse_args()
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    from oncoresist.tracking.bundles import read_bundle

    t0 = time.perf_counter()
    model = quick_model(workdir, args.train_n, args.seed)
    bundle = read_bundle(model)
    print(f"model: {model} ({time.perf_counter() - t0:.0f} s to prepare)", flush=True)
    sheet, profiles = base_sheet(args.base_n, args.seed + 1)
    print(f"base sheet: {len(sheet)} rows x {sheet.shape[1]} columns", flush=True)

    first = args.sizes[0]
    base_features = bundle.features(profiles).to_numpy(dtype=np.float32)
    reps = -(-first // len(base_features))
    features = np.tile(base_features, (reps, 1))[:first]
    raw, raw_cpu = raw_xgboost_seconds(bundle, features)
    del features
    raw_rate = first / raw
    print(f"raw XGBoost predict + pred_contribs, {first:,} rows: {raw:.1f} s", flush=True)

    rows = []
    for size in args.sizes:
        path = write_tiled(
            sheet, size, workdir / f"sheet_{size}.{args.input_format}", args.input_format
        )
        out = workdir / f"scores_{size}.{args.output_format}"
        wall, code, rss, cpu = run_cli(
            ["score", "--model", str(model), "--input", str(path), "--out", str(out),
             "--overwrite", "-q", "--chunk-size", str(args.chunk_size)]
        )  # fmt: skip
        rows.append(
            {
                "rows": size,
                "cli_s": round(wall, 1),
                "cli_cpu_s": round(cpu, 1),
                "cli_rows_per_s": round(size / wall),
                "peak_rss_mib": round(rss / 2**20),
                "exit": code,
            }
        )
        print(rows[-1], flush=True)

    small = write_tiled(sheet, 10, workdir / "sheet_10.csv", "csv")
    cold, _, _, _ = run_cli(
        ["score", "--model", str(model), "--input", str(small),
         "--out", str(workdir / "scores_10.csv"), "--overwrite", "-q"]
    )  # fmt: skip

    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False))
    first_rate = table.loc[0, "cli_rows_per_s"]
    print(f"\nraw XGBoost: {raw_rate:,.0f} rows/s on {first:,} rows")
    print(f"throughput ratio CLI / raw at {first:,}: {first_rate / raw_rate:.2f} (target >= 0.5)")
    # On a shared machine wall time follows the neighbours' load; CPU seconds much less so.
    print(
        f"CPU seconds at {first:,}: raw {raw_cpu:.1f}, CLI {table.loc[0, 'cli_cpu_s']:.1f} "
        f"(ratio {raw_cpu / table.loc[0, 'cli_cpu_s']:.2f})"
    )
    if len(table) > 1:
        growth = table["peak_rss_mib"].iloc[-1] / table["peak_rss_mib"].iloc[0] - 1
        print(
            f"peak RSS growth {table['rows'].iloc[0]:,} -> {table['rows'].iloc[-1]:,} rows: "
            f"{growth:+.1%} (target within 10%, under 2048 MiB)"
        )
    print(f"cold start, 10 profiles end to end: {cold:.1f} s (target < 5 s)")
    print(f"({os.cpu_count()} CPUs; input {args.input_format}, output {args.output_format})")


if __name__ == "__main__":
    main()
