"""SHAP cost: our explanation path vs XGBoost's raw ``pred_contribs``, both models.

Usage::

    .venv/bin/python benchmarks/bench_explain.py [--rows 10000] [--train-n 3000] [--threads 1]

Simulates a cohort, fits the FeatureBuilder and both XGBoost models with the default
config's hyperparameters (deepest grid value, no CV: only the cost matters here), builds the
feature matrix of ``--rows`` rows (the cohort's rows repeated) and times, best of 3:

* raw: ``booster.predict(DMatrix(X), pred_contribs=True)`` for each model;
* ours: :func:`oncoresist.explain.attributions.explain_features` (both models, attributions
  laid out over the feature columns) — the path scoring and reports use;
* drivers: :func:`oncoresist.explain.attributions.drivers_table` (top-3 readable drivers per row and
  model) on top of ours;
* shap: ``shap.TreeExplainer`` (path-dependent) on 1,000 rows, for reference.

Exits 1 when ours is slower than 1.5x raw.
"""

from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd


def best_of(action, repeats: int = 3) -> float:
    """Fastest wall time of ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--train-n", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import xgboost as xgb

    from oncoresist.contract import MECHANISMS
    from oncoresist.explain.attributions import drivers_table, explain_features, shap_cross_check
    from oncoresist.features.profiles import cohort_to_profiles, outcomes_for_profiles
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.models.checks import xgboost_feature_names
    from oncoresist.models.config import load_config
    from oncoresist.models.survival import make_survival_target
    from oncoresist.models.tuning import (
        make_feature_builder,
        make_mechanism_model,
        make_survival_model,
    )
    from oncoresist.simulate.cohort import simulate_cohort

    config = load_config("configs/default.yaml").with_overrides(n_jobs=args.threads)
    cohort = simulate_cohort(n=args.train_n, seed=7).cohort
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    profiles = cohort_to_profiles(cohort)
    outcomes = outcomes_for_profiles(cohort, profiles)
    builder = make_feature_builder(config).fit(profiles)
    x = builder.transform(profiles)
    labelled = outcomes["mechanism"].notna().to_numpy()
    depth = {"max_depth": max(config.mechanism.grid.get("max_depth", [2]))}
    mech = make_mechanism_model(config, **depth)
    mech.set_params(calibration="none")
    mech.fit(x[labelled], outcomes["mechanism"][labelled].to_numpy())
    y = make_survival_target(outcomes["time_to_resistance_months"], outcomes["resistance_observed"])
    surv = make_survival_model(config, **depth).fit(x, y)
    bundle = SimpleNamespace(feature_builder=builder, mechanism_model=mech, survival_model=surv)

    rows = np.resize(np.arange(len(x)), args.rows)
    features = x.iloc[rows].reset_index(drop=True)
    ids = profiles.iloc[rows][["patient_id", "treatment_id"]].reset_index(drop=True)

    def raw() -> None:
        for model in (mech, surv):
            seen = list(model.feature_names_in_)
            matrix = xgb.DMatrix(
                features[seen].to_numpy(np.float64),
                feature_names=xgboost_feature_names(seen),
                missing=np.nan,
            )
            model.booster_.predict(matrix, pred_contribs=True, strict_shape=True)

    raw_s = best_of(raw)
    ours_s = best_of(lambda: explain_features(bundle, features))
    explanation = explain_features(bundle, features)
    drivers_s = best_of(lambda: drivers_table(bundle, explanation, ids, k=3), repeats=1)
    sample = features.iloc[:1000]
    shap_s = best_of(
        lambda: (
            shap_cross_check(mech.booster_, sample[list(mech.feature_names_in_)]),
            shap_cross_check(surv.booster_, sample[list(surv.feature_names_in_)]),
        ),
        repeats=1,
    )
    n = len(features)
    table = pd.DataFrame(
        [
            ("raw pred_contribs (both models)", n, raw_s, n / raw_s, 1.0),
            ("ours: explain_features", n, ours_s, n / ours_s, ours_s / raw_s),
            (
                "ours + drivers_table (top-3)",
                n,
                ours_s + drivers_s,
                n / (ours_s + drivers_s),
                (ours_s + drivers_s) / raw_s,
            ),
            (
                "shap.TreeExplainer (1,000 rows)",
                1000,
                shap_s,
                1000 / shap_s,
                (shap_s / 1000) / (raw_s / n),
            ),
        ],
        columns=["path", "rows", "seconds", "rows_per_s", "x_raw_per_row"],
    )
    print(
        f"features {x.shape[1]}, mechanism trees {mech.booster_.num_boosted_rounds()} x "
        f"{len(MECHANISMS)} classes, survival trees {surv.booster_.num_boosted_rounds()}, "
        f"max_depth {depth['max_depth']}, threads {args.threads}"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    ratio = ours_s / raw_s
    print(f"explanation path / raw pred_contribs = {ratio:.2f} (bar: <= 1.5)")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
