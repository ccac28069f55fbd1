"""Wall time of each training stage and held-out quality of every model next to the oracle.

Usage::

    .venv/bin/python benchmarks/bench_train.py [--n 10000] [--seed 7]
        [--config configs/default.yaml]

Simulates the default cohort into a temporary folder, runs the full training
(:func:`oncoresist.pipelines.train.train`: CV, final fits, test-split evaluation with bootstrap CIs,
baselines as child runs, MLflow logging and registration) against a throw-away MLflow store,
then times exact SHAP (:func:`oncoresist.explain.attributions.explain_features`) on the test
split, which training itself does not compute. Prints three tables: seconds per stage, test-split
C-index / macro-F1 of every model with the oracle (the simulator's truth), and the oracle
ratios logged on the run. Only the oracle rows read the simulator's ground truth, after the
fit.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from oncoresist.defaults import DEFAULT_COHORT_SIZE

#: Stages reported in this order (names recorded by ``TrainingResult.timings``).
STAGES = (
    ("load", "load + profiles"),
    ("cross_validation", "inner CV (grid)"),
    ("features", "features (final fit)"),
    ("xgboost_mechanism", "XGBoost mechanism"),
    ("xgboost_survival", "XGBoost survival"),
    ("logistic_regression", "logistic baseline"),
    ("cox_ph", "Cox PH baseline"),
    ("random_survival_forest", "RSF baseline"),
    ("evaluation", "test metrics + bootstrap CIs"),
    ("plots_and_logging", "plots + metric logging"),
    ("logging", "MLflow log + register"),
)


def _load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT_COHORT_SIZE)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from oncoresist.explain.attributions import explain_features
    from oncoresist.models.config import load_config
    from oncoresist.models.splits import make_split_plan
    from oncoresist.pipelines.train import load_training_data, train
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.output import write_simulation

    config = load_config(args.config)
    print(f"load average before: {_load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        start = time.perf_counter()
        cohort = write_simulation(
            simulate_cohort(n=args.n, seed=args.seed), Path(tmp) / "cohort", overwrite=True
        )
        seconds = time.perf_counter() - start
        print(f"simulated {args.n} treatments (seed {args.seed}) in {seconds:.1f} s")

        start = time.perf_counter()
        result = train(config, cohort, tracking_uri=f"sqlite:///{tmp}/mlruns/mlflow.db")
        total = time.perf_counter() - start

        # SHAP on the test split, with the same split plan training used.
        data = load_training_data(cohort)
        plan = make_split_plan(
            data.profiles,
            test_size=config.split.test_size,
            calibration_size=config.split.calibration_size,
            seed=config.seed,
        )
        test_ids = set(plan.loc[plan["split"] == "test", "treatment_id"])
        test = data.profiles[data.profiles["treatment_id"].isin(test_ids)]
        x_test = result.bundle.features(test)
        start = time.perf_counter()
        explain_features(result.bundle, x_test)
        shap_seconds = time.perf_counter() - start

    timings = result.timings
    rows = [{"stage": label, "seconds": timings.get(key)} for key, label in STAGES]
    # Stages added later (e.g. uncertainty) are listed under their own names.
    rows += [{"stage": key, "seconds": v} for key, v in timings.items() if key not in dict(STAGES)]
    rows.append({"stage": "other (split, provenance)", "seconds": total - sum(timings.values())})
    rows.append({"stage": f"SHAP, exact ({len(x_test)} test rows)", "seconds": shap_seconds})
    rows.append({"stage": "TOTAL train()", "seconds": total})
    print("\nWall time per stage (s)")
    print(pd.DataFrame(rows).round(1).to_string(index=False))

    quality = []
    for ev in result.evaluations:
        quality.append(
            {
                "model": ev.model,
                "task": ev.kind,
                "fit_s": ev.fit_seconds,
                "harrell_c": ev.metrics.get("cindex_harrell"),
                "uno_c": ev.metrics.get("cindex_uno"),
                "ibs": ev.metrics.get("ibs"),
                "macro_f1": ev.metrics.get("macro_f1"),
                "log_loss": ev.metrics.get("log_loss"),
            }
        )
    metrics = result.metrics
    if "oracle_cindex_harrell" in metrics:
        quality.append(
            {"model": "oracle", "task": "survival", "harrell_c": metrics["oracle_cindex_harrell"]}
        )
        quality.append(
            {
                "model": "oracle (Bayes)",
                "task": "mechanism",
                "macro_f1": metrics["oracle_mechanism_macro_f1"],
                "log_loss": metrics["oracle_mechanism_log_loss"],
            }
        )
    print("\nTest split: every model next to the oracle")
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(quality).round(3).to_string(index=False))

    ratios = {k: v for k, v in metrics.items() if k.endswith("oracle_ratio")}
    if ratios:
        print("\nRatios to the oracle (targets: C-index >= 0.95, macro-F1 >= 0.90)")
        print(pd.Series(ratios).round(3).to_string())
    print(f"\nload average after: {_load_average()}")


if __name__ == "__main__":
    main()
