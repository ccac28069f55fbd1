"""Uncertainty figures on the default cohort: train, then measure on a larger held-out cohort.

Trains ``configs/default.yaml`` on a simulated cohort (default 10,000 treatments, seed 7; the
baselines and bootstrap are switched off: they do not change the bundle), then scores a second
simulated cohort (default 10,000, seed 8: > 4,000 labelled treatments) and prints mechanism-set
coverage (overall, per class, per setting, Wilson intervals), interval coverage against the true
event times (``time_interval_coverage``) and the censoring-aware estimates
(``time_interval_coverage_km``, ``_ipcw``), D-calibration, OOD flag rate, and the OOD score's
AUROC on shifted copies of the held-out profiles (``ood_auroc_<shift>``, ``ood_auroc_min``;
training logs the same on its test split).

Run: ``.venv/bin/python benchmarks/bench_uncertainty.py [--n 10000] [--holdout 10000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from oncoresist.defaults import DEFAULT_COHORT_SIZE


def main() -> None:
    """Train, score the held-out cohort, print the figures."""
    from oncoresist.features.profiles import cohort_to_profiles, outcomes_for_profiles
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.models.config import load_config
    from oncoresist.models.survival import make_survival_target
    from oncoresist.pipelines.train import train
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.output import write_simulation
    from oncoresist.uncertainty.fit import evaluate_uncertainty
    from oncoresist.uncertainty.shifts import ood_shift_auroc

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=DEFAULT_COHORT_SIZE)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout", type=int, default=10000)
    parser.add_argument("--holdout-seed", type=int, default=8)
    args = parser.parse_args()
    start = time.perf_counter()
    config = load_config("configs/default.yaml").with_overrides(
        baselines={"logistic": False, "coxph": False, "rsf": False},
        evaluation={"bootstrap_resamples": 0},
        tracking={"register_model": False},
        explain_rows=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = write_simulation(simulate_cohort(n=args.n, seed=args.seed), Path(tmp) / "cohort")
        result = train(config, data, tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    bundle = result.bundle
    print(f"trained in {time.perf_counter() - start:.0f} s")
    print("test split (logged to MLflow):")
    for key, value in bundle.metadata["uncertainty"]["measured"].items():
        print(f"  {key:40s} {value:.4f}")
    held = simulate_cohort(n=args.holdout, seed=args.holdout_seed)
    cohort = held.cohort.with_tables(
        treatments=annotate_treatments(held.cohort.treatments, held.cohort.patients)
    )
    profiles = cohort_to_profiles(cohort)
    outcomes = outcomes_for_profiles(cohort, profiles)
    truth = held.ground_truth.set_index("treatment_id")["true_event_months"]
    features = bundle.features(profiles)
    report = evaluate_uncertainty(
        bundle.extras,
        bundle.mechanism_model,
        bundle.survival_model,
        features,
        make_survival_target(
            outcomes["time_to_resistance_months"], outcomes["resistance_observed"]
        ),
        outcomes["mechanism"].to_numpy(),
        profiles,
        truth.reindex(profiles["treatment_id"]).to_numpy(dtype=float),
    )
    # The same shifted copies training measures on its test split (ood_shifts.py).
    report.metrics.update(
        ood_shift_auroc(bundle.extras["ood"], bundle.feature_builder, profiles, features)
    )
    print(f"held-out cohort n={args.holdout} seed={args.holdout_seed}:")
    for key, value in report.metrics.items():
        print(f"  {key:40s} {value:.4f}")
    with pd.option_context("display.width", 160):
        print(report.tables["mechanism_set_coverage"].round(3).to_string(index=False))
    print({k: v for k, v in bundle.metadata["uncertainty"].items() if k != "measured"})
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
