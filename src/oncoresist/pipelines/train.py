"""Training orchestration: config → load → split → CV → fit → evaluate → explain → track.

One function, :func:`train`, does the data scientist's job: it trains both XGBoost models on
a cohort, chooses hyperparameters by cross-validation inside the training split (features
fitted in-fold), touches the test split once, compares with baselines in the same MLflow run
(as child runs) and registers one :class:`~oncoresist.models.bundle.ResistanceBundle`.

Training reads only the canonical tables: never the simulator's ground truth (used after the
fit, for oracle metrics) and never progression samples (``cohort_to_profiles`` keeps baseline
samples only).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.explain.fidelity import FidelityReport, fidelity_for_training
from oncoresist.explain.plots import GlobalExplanations, global_explanations
from oncoresist.features.profiles import cohort_to_profiles, outcomes_for_profiles
from oncoresist.io.inputs import read_cohort
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.models.boosting import engine_name
from oncoresist.models.bundle import ResistanceBundle
from oncoresist.models.config import TrainingConfig
from oncoresist.models.splits import make_split_plan
from oncoresist.models.survival import make_survival_target
from oncoresist.models.tuning import (
    Reporter,
    candidate_key,
    cross_validate,
    make_feature_builder,
    make_mechanism_model,
    make_survival_model,
    mechanism_columns,
    quiet,
)
from oncoresist.pipelines.heldout import evaluate_and_log
from oncoresist.simulate.output import is_simulation, read_ground_truth
from oncoresist.tracking import store as tracking
from oncoresist.tracking.provenance import (
    StageTimer,
    data_fingerprint,
    git_commit,
    package_versions,
)
from oncoresist.tracking.pyfunc import log_bundle
from oncoresist.uncertainty.fit import uncertainty_stage

# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    """A training cohort as the models see it (one row per treatment)."""

    profiles: pd.DataFrame
    outcomes: pd.DataFrame  # aligned with profiles: time, event, mechanism
    fingerprint: str
    row_counts: dict[str, int]
    trained_on: str
    source: str
    ground_truth: pd.DataFrame | None = None  # evaluation only, never a training input

    @property
    def time(self) -> np.ndarray:
        """Months to resistance or censoring."""
        return self.outcomes["time_to_resistance_months"].to_numpy(dtype=float)

    @property
    def event(self) -> np.ndarray:
        """True when progression was observed."""
        return self.outcomes["resistance_observed"].to_numpy(dtype=bool)

    @property
    def mechanism(self) -> pd.Series:
        """Observed mechanism label (missing when not re-biopsied or censored)."""
        return self.outcomes["mechanism"]


def load_training_data(path: str | Path) -> TrainingData:
    """Read a labelled cohort (any input form) and build its profile frame and outcomes."""
    path = Path(path)
    cohort = read_cohort(path)
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    profiles = cohort_to_profiles(cohort)
    outcomes = outcomes_for_profiles(cohort, profiles)
    fingerprint, counts = data_fingerprint(cohort)
    simulated = is_simulation(path)
    truth = read_ground_truth(path) if path.is_dir() else None
    return TrainingData(
        profiles=profiles,
        outcomes=outcomes,
        fingerprint=fingerprint,
        row_counts=counts,
        trained_on="simulated" if simulated else f"sha256:{fingerprint[:16]}",
        source=str(path),
        ground_truth=truth,
    )


# --------------------------------------------------------------------------------------
# The training run
# --------------------------------------------------------------------------------------


@dataclass
class TrainingResult:
    """What a training run produced (the MLflow run holds the rest)."""

    run_id: str
    model_name: str | None
    model_version: str | None
    metrics: dict[str, float]
    comparison: pd.DataFrame
    evaluations: list[Any]
    timings: dict[str, float]
    split_counts: pd.DataFrame
    bundle: Any


def train(
    config: TrainingConfig,
    data_path: str | Path,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    report: Reporter = quiet,
) -> TrainingResult:
    """Train, evaluate, explain and log one model; register it with alias ``candidate``.

    Parameters
    ----------
    config : TrainingConfig
        Validated configuration (``configs/default.yaml``).
    data_path : path
        A labelled cohort in any input form (canonical folder, cBioPortal study, sheet).
    experiment : str, optional
        MLflow experiment (default: ``config.tracking.experiment``).
    tracking_uri : str, optional
        MLflow store (default: ``./mlruns`` as an absolute sqlite URI).
    report : callable, optional
        ``report(stage, fraction)`` progress hook (the CLI draws rich progress bars with it).
    """
    timer = StageTimer()
    with timer.stage("load"):
        data = load_training_data(data_path)
    # Checked before any fit or MLflow run: a cohort with every treatment censored is a data
    # problem to state plainly, not a crash inside the first CV fold.
    make_survival_target(data.time, data.event)
    report("load", 1.0)
    plan = make_split_plan(
        data.profiles,
        test_size=config.split.test_size,
        calibration_size=config.split.calibration_size,
        seed=config.seed,
    )
    split = plan.set_index("treatment_id")["split"].reindex(data.profiles["treatment_id"])
    rows = {
        name: np.flatnonzero(split.to_numpy() == name) for name in ("train", "calibration", "test")
    }

    experiment = experiment or config.tracking.experiment
    tags = {
        "trained_on": data.trained_on,
        "engine": engine_name(),
        "oncoresist_version": package_versions()["oncoresist"],
    }
    with tracking.start_run(experiment, run_name="train", tags=tags, uri=tracking_uri) as run:
        tracking.log_params(
            {
                "config": config.model_dump(mode="json"),
                "data.fingerprint": data.fingerprint,
                "data.rows": data.row_counts,
                "data.trained_on": data.trained_on,
                "split.counts": {k: len(v) for k, v in rows.items()},
                "git_commit": git_commit(),
                "seed": config.seed,
                "engine": engine_name(),
            }
        )
        tracking.log_dict(package_versions(), "provenance/package_versions.json")
        tracking.log_dict(config.model_dump(mode="json"), "provenance/config.yaml")
        split_counts = _split_counts(data.profiles, split)
        tracking.log_frame(split_counts, "provenance/split_counts.csv")
        # The split plan by row position in the fingerprinted data: no identifiers logged.
        tracking.log_frame(
            pd.DataFrame({"row": np.arange(len(split)), "split": split.values}),
            "provenance/split_plan.csv",
        )

        with timer.stage("cross_validation"):
            cv = cross_validate(
                config,
                data.profiles.iloc[rows["train"]],
                data.outcomes.iloc[rows["train"]],
                report=report,
            )
        _log_cv(cv)

        train_p = data.profiles.iloc[rows["train"]]
        test_p = data.profiles.iloc[rows["test"]]
        out_train = data.outcomes.iloc[rows["train"]]
        out_test = data.outcomes.iloc[rows["test"]]
        with timer.stage("features"):
            builder = make_feature_builder(config).fit(train_p)
            x_train, x_test = builder.transform(train_p), builder.transform(test_p)
        y_train = make_survival_target(
            out_train["time_to_resistance_months"], out_train["resistance_observed"]
        )
        y_test = make_survival_target(
            out_test["time_to_resistance_months"], out_test["resistance_observed"]
        )
        lab_train = out_train["mechanism"].notna().to_numpy()
        lab_test = out_test["mechanism"].notna().to_numpy()
        with timer.stage("xgboost_mechanism"):
            mech = make_mechanism_model(config, **cv.best_mechanism)
            mech.fit(
                x_train.loc[lab_train, mechanism_columns(builder, config)],
                out_train["mechanism"][lab_train].to_numpy(),
            )
        with timer.stage("xgboost_survival"):
            surv = make_survival_model(config, **cv.best_survival).fit(x_train, y_train)
        report("final fit", 1.0)

        outcome = evaluate_and_log(
            config=config,
            data=data,
            timer=timer,
            mech=mech,
            surv=surv,
            x_train=x_train,
            x_test=x_test,
            y_train=y_train,
            y_test=y_test,
            y_mech_train=out_train["mechanism"][lab_train].to_numpy(),
            y_mech_test=out_test["mechanism"][lab_test].to_numpy(),
            lab_train=lab_train,
            lab_test=lab_test,
            test_profiles=test_p,
            report=report,
        )

        # --- Uncertainty (issue 9): conformal sets, calibrated intervals, OOD detector, fitted
        # on the calibration split the models never saw; measured on the test split.

        with timer.stage("uncertainty"):
            extras, uncertainty = uncertainty_stage(
                config, data, rows, builder, mech, surv, x_train
            )
        tracking.log_metrics(uncertainty.metrics)
        for name, table in uncertainty.tables.items():
            tracking.log_frame(table, f"uncertainty/{name}.csv")
        # --- end uncertainty

        bundle = ResistanceBundle(
            feature_builder=builder,
            mechanism_model=mech,
            survival_model=surv,
            metadata={
                "model_name": config.tracking.model_name,
                "run_id": run.info.run_id,
                "trained_on": data.trained_on,
                "data_fingerprint": data.fingerprint,
                "git_commit": git_commit(),
                "config": config.model_dump(mode="json"),
                "metrics": {
                    k: v for k, v in outcome.metrics.items() if k.startswith(("test_", "oracle_"))
                },
                "package_versions": package_versions(),
                "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "training_drugs": sorted(pd.unique(train_p["drug"].astype(str))),
                "training_settings": sorted(pd.unique(train_p["setting"].astype(str))),
                "training_cancer_types": sorted(pd.unique(train_p["cancer_type"].astype(str))),
                "uncertainty": uncertainty.card,
            },
            extras=extras,
        )
        _explain_and_check_fidelity(config, data, bundle, test_p, x_test, timer, outcome)
        with timer.stage("logging"):
            registered = None
            if config.tracking.register_model:
                registered = config.tracking.model_name
            logged = log_bundle(
                bundle,
                registered_name=registered,
                alias=config.tracking.alias,
                input_example=example_profiles(test_p),
            )
            bundle.metadata["model_version"] = logged["version"]
        tracking.log_metrics({f"seconds_{k}": v for k, v in timer.seconds.items()})
        tracking.log_frame(pd.DataFrame([timer.seconds]), "provenance/stage_seconds.csv")
    return TrainingResult(
        run_id=run.info.run_id,
        model_name=registered,
        model_version=logged["version"],
        metrics={**outcome.metrics, **uncertainty.metrics},
        comparison=outcome.comparison,
        evaluations=outcome.evaluations,
        timings=dict(timer.seconds),
        split_counts=split_counts,
        bundle=bundle,
    )


def _explain_and_check_fidelity(
    config: TrainingConfig,
    data: TrainingData,
    bundle: Any,
    test_profiles: pd.DataFrame,
    x_test: pd.DataFrame,
    timer: StageTimer,
    outcome: Any,
) -> None:
    """Log global SHAP figures; on simulated data, check the drivers against the truth."""
    if config.explain_rows > 0:
        log_global_explanations(bundle, x_test.iloc[: config.explain_rows], timer=timer)
    if data.ground_truth is not None and is_simulation(data.source):
        with timer.stage("fidelity"):
            fidelity = fidelity_for_training(bundle, data.source, test_profiles, x_test)
        log_fidelity(fidelity)
        # NaN = no carrier of that cause in the test split: undefined, not a score.
        outcome.metrics.update({k: v for k, v in fidelity.metrics.items() if v == v})


def _split_counts(profiles: pd.DataFrame, split: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"setting": profiles["setting"].to_numpy(), "split": split.to_numpy()})
    return frame.value_counts().unstack(fill_value=0).reset_index()


def _log_cv(cv: Any) -> None:

    for kind, folds in (("mechanism", cv.mechanism_folds), ("survival", cv.survival_folds)):
        tracking.log_frame(folds, f"cv/{kind}_folds.csv")
        chosen = folds[
            folds["params"]
            == candidate_key(cv.best_mechanism if kind == "mechanism" else cv.best_survival)
        ]
        for fold_row in chosen.to_dict("records"):
            tracking.log_metrics(
                {f"cv_{kind}_{k}": v for k, v in fold_row.items() if k not in {"fold", "params"}},
                step=int(fold_row["fold"]),
            )
        means = chosen.drop(columns=["fold", "params"]).mean(numeric_only=True)
        tracking.log_metrics({f"cv_mean_{kind}_{k}": v for k, v in means.items()})
    tracking.log_params(
        {
            "chosen.mechanism": candidate_key(cv.best_mechanism),
            "chosen.survival": candidate_key(cv.best_survival),
        }
    )


def example_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """An input example built from the schema, never from a patient row.

    Identifiers are placeholders, alterations are textbook examples, expression is missing.
    """
    example = pd.DataFrame([{column: None for column in profiles.columns}])
    defaults = {
        "patient_id": "EXAMPLE-PATIENT",
        "treatment_id": "EXAMPLE-TREATMENT",
        "cancer_type": "nsclc",
        "drug": "osimertinib",
        "line_number": 1.0,
        "age_years": 60.0,
        "sex": "F",
        "mutations": "EGFR p.L858R; TP53 p.R273H",
        "copy_number": "MET gain",
        "fusions": "",
        "panel_genes": "",
    }
    for column, value in defaults.items():
        if column in example.columns:
            example[column] = value
    for column in example.columns:
        if column.startswith("expr_") or column in {"age_years", "line_number"}:
            example[column] = pd.to_numeric(example[column]).astype(float)
    keep = [
        c
        for c in example.columns
        if c
        not in {
            "setting",
            "drug_class",
            "target",
            "generation",
            "is_combination",
            "n_baseline_samples",
        }
    ]
    return example[keep]


def log_global_explanations(
    bundle: Any, features_test: pd.DataFrame, timer: Any = None
) -> GlobalExplanations:
    """Compute :func:`global_explanations` and log figures and tables to the active run.

    The figures are closed once logged; the tables stay in the returned object.
    """
    with timer.stage("shap") if timer is not None else nullcontext():
        result = global_explanations(bundle, features_test)
        for path, figure in result.figures.items():
            tracking.log_figure(figure, path)
        for path, frame in result.tables.items():
            tracking.log_frame(frame, path)
    return result


def log_fidelity(report: FidelityReport) -> None:
    """Log ``fidelity_*`` metrics and the two tables to the active MLflow run."""
    tracking.log_metrics({k: v for k, v in report.metrics.items() if v == v})
    tracking.log_frame(report.causes, "explain/fidelity_causes.csv")
    tracking.log_frame(report.global_ranking, "explain/fidelity_global.csv")
