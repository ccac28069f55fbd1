"""Uncertainty on a small trained model: coverage on a held-out simulated cohort, OOD shifts,
pickling and scoring with and without the extras.

One model per module (2,500 simulated treatments without the melanoma setting, few trees); a
held-out cohort of 5,000 (seed 8) measures coverage, and its melanoma rows, given a drug seen in
training, are the "cancer type never seen" shift.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from oncoresist.tracking.bundles import read_bundle, save_bundle

pytestmark = pytest.mark.slow

MELANOMA = "melanoma_BRAF_dabrafenib_trametinib"


def _profiles(result, drug: str | None = None):
    from oncoresist.features.profiles import cohort_to_profiles, outcomes_for_profiles
    from oncoresist.knowledge.annotate import annotate_treatments

    treatments = result.cohort.treatments
    if drug is not None:
        treatments = treatments.drop(columns=["setting"]).assign(drug=drug)
    cohort = result.cohort.with_tables(
        treatments=annotate_treatments(treatments, result.cohort.patients)
    )
    profiles = cohort_to_profiles(cohort).reset_index(drop=True)
    outcomes = outcomes_for_profiles(cohort, profiles).reset_index(drop=True)
    truth = result.ground_truth.set_index("treatment_id")["true_event_months"]
    return profiles, outcomes, truth.reindex(profiles["treatment_id"]).to_numpy(dtype=float)


@pytest.fixture(scope="module")
def fitted():
    from oncoresist.models.bundle import ResistanceBundle
    from oncoresist.models.config import TrainingConfig
    from oncoresist.models.mechanism import MechanismLabelWarning
    from oncoresist.models.splits import make_split_plan
    from oncoresist.models.survival import make_survival_target
    from oncoresist.models.tuning import (
        make_feature_builder,
        make_mechanism_model,
        make_survival_model,
        mechanism_columns,
    )
    from oncoresist.simulate.cohort import simulate_cohort
    from oncoresist.simulate.params import load_params
    from oncoresist.uncertainty.fit import fit_uncertainty

    seen = [s for s in load_params().settings if s != MELANOMA]
    profiles, outcomes, _ = _profiles(simulate_cohort(n=2500, seed=7, settings=seen))
    config = TrainingConfig().with_overrides(
        n_jobs=1,
        mechanism={"n_estimators": 40, "calibration": "none", "grid": {}},
        survival={"n_estimators": 60, "grid": {}},
    )
    plan = make_split_plan(profiles, test_size=0.05, calibration_size=0.15, seed=7)
    split = plan.set_index("treatment_id")["split"].reindex(profiles["treatment_id"]).to_numpy()
    train, calib = split == "train", split == "calibration"
    builder = make_feature_builder(config).fit(profiles[train])
    x_train, x_calib = builder.transform(profiles[train]), builder.transform(profiles[calib])
    labelled = outcomes["mechanism"].notna().to_numpy()

    def target(rows):
        return make_survival_target(
            outcomes["time_to_resistance_months"][rows], outcomes["resistance_observed"][rows]
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MechanismLabelWarning)
        mech = make_mechanism_model(config).fit(
            x_train.loc[labelled[train], mechanism_columns(builder, config)],
            outcomes["mechanism"][train & labelled].to_numpy(),
        )
    surv = make_survival_model(config).fit(x_train, target(train))
    extras = fit_uncertainty(
        config,
        builder,
        mech,
        surv,
        x_calib,
        target(calib),
        outcomes["mechanism"][calib].to_numpy(),
        profiles[calib],
        x_train,
        profiles[train],
        outcomes["mechanism"][train].to_numpy(),
        target(train),
    )
    bundle = ResistanceBundle(builder, mech, surv, extras=extras)
    held_p, held_o, held_truth = _profiles(simulate_cohort(n=5000, seed=8))
    melanoma = held_p["cancer_type"].eq("melanoma").to_numpy()
    return SimpleNamespace(
        bundle=bundle,
        extras=extras,
        n_calibration_labels=int(labelled[calib].sum() + labelled[train].sum()),
        held=held_p[~melanoma].reset_index(drop=True),
        held_outcomes=held_o[~melanoma].reset_index(drop=True),
        held_truth=held_truth[~melanoma],
        melanoma=held_p[melanoma].reset_index(drop=True),
    )


def _band(n_calibration: int, n_test: int, coverage: float) -> tuple[float, float]:
    """99.9% range of split-conformal test coverage: Beta(k, n + 1 - k) spread from the
    calibration draw plus binomial spread of the test rows (Angelopoulos & Bates 2023, §3)."""
    k = int(np.ceil((n_calibration + 1) * coverage))
    low, high = stats.beta.ppf([0.0005, 0.9995], k, n_calibration + 1 - k)
    noise = 3.3 * np.sqrt(coverage * (1 - coverage) / n_test)
    return float(low - noise), float(high + noise)


def _evaluate(fitted, with_truth: bool = True):
    from oncoresist.models.survival import make_survival_target
    from oncoresist.uncertainty.fit import evaluate_uncertainty

    bundle, outcomes = fitted.bundle, fitted.held_outcomes
    return evaluate_uncertainty(
        fitted.extras,
        bundle.mechanism_model,
        bundle.survival_model,
        bundle.features(fitted.held),
        make_survival_target(
            outcomes["time_to_resistance_months"], outcomes["resistance_observed"]
        ),
        outcomes["mechanism"].to_numpy(),
        fitted.held,
        fitted.held_truth if with_truth else None,
    )


def test_mechanism_sets_cover_a_held_out_cohort(fitted):
    report = _evaluate(fitted)
    n_test = int(report.metrics["mechanism_set_n"])
    assert n_test >= 1500
    low, high = _band(fitted.n_calibration_labels, n_test, 0.9)
    assert low <= report.metrics["mechanism_set_coverage"] <= high
    assert 1.0 <= report.metrics["mechanism_set_mean_size"] < 5.0
    table = report.tables["mechanism_set_coverage"]
    assert {"all", "class", "setting"} <= set(table["grouping"])
    assert (table["ci_low"] <= table["coverage"]).all()
    assert set(report.card) >= {"mechanism_sets", "time_intervals", "ood", "measured"}


def test_time_intervals_cover_true_event_times(fitted):
    metrics = _evaluate(fitted).metrics
    summary = {k: round(v, 3) for k, v in metrics.items() if k.startswith("time_interval")}
    # True times (cured = inf): within 5 points with this small model (the default model
    # reaches 3, see benchmarks/bench_uncertainty.py). The ALK, breast and melanoma tails lie
    # beyond the follow-up, where the upper level is extrapolated (see intervals.py).
    assert abs(metrics["time_interval_coverage"] - 0.8) <= 0.05, summary
    # Lower tail: 10% below a two-sided interval, 20% below a one-sided (open) one.
    open_share = metrics["time_interval_open_share"]
    expected_below = 0.1 * (1 - open_share) + 0.2 * open_share
    assert abs(metrics["time_interval_below"] - expected_below) <= 0.03, summary
    # Observed (censored) data: Kaplan-Meier of the PIT values estimates the truth; IPCW sees
    # only events within the follow-up, a lower bound.
    assert abs(metrics["time_interval_coverage_km"] - metrics["time_interval_coverage"]) <= 0.05
    assert metrics["time_interval_coverage_ipcw"] <= metrics["time_interval_coverage"] + 0.02
    assert 0 <= metrics["d_calibration_p_value"] <= 1
    # One name, one measure: without the truth there is no time_interval_coverage (never the
    # censoring-aware estimate under that name); the estimates keep their own names and values.
    blind = _evaluate(fitted, with_truth=False).metrics
    assert not {k for k in blind if k.startswith("time_interval_coverage")} - {
        "time_interval_coverage_km",
        "time_interval_coverage_ipcw",
    }
    for key in ("time_interval_coverage_km", "time_interval_coverage_ipcw"):
        assert blind[key] == metrics[key]


def _ood_auroc(fitted, shifted: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    bundle = fitted.bundle
    base = fitted.held.iloc[:1500]
    detector = fitted.extras["ood"]
    inside = detector.score(bundle.features(base), base)
    outside = detector.score(bundle.features(shifted), shifted)
    labels = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
    scores = np.r_[inside["ood_score"], outside["ood_score"]]
    return roc_auc_score(labels, scores), outside


def _expression_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("expr_")]


def test_ood_score_separates_shifted_expression_programs(fitted):
    from oncoresist.uncertainty.shifts import shift_expression_programs

    shifted = shift_expression_programs(fitted.held.iloc[1500:2000])
    auroc, outside = _ood_auroc(fitted, shifted)
    assert auroc >= 0.9
    assert not outside["ood_reasons"].str.contains("drug").any()


def test_ood_score_separates_a_cancer_type_never_seen_with_a_seen_drug(fitted):
    shifted = fitted.melanoma.copy()
    assert set(shifted["drug"]) == {"dabrafenib+trametinib"}
    # A seen drug: the treatment columns are re-derived for osimertinib (an "other" setting).
    shifted = shifted.drop(columns=["setting", "drug_class", "target"]).assign(drug="osimertinib")
    auroc, outside = _ood_auroc(fitted, shifted)
    assert auroc >= 0.9
    assert outside["ood_reasons"].str.contains("cancer type 'melanoma' never seen").all()
    assert not outside["ood_reasons"].str.contains("drug 'osimertinib'").any()


def test_ood_score_separates_counts_instead_of_log2_tpm(fitted):
    from oncoresist.uncertainty.shifts import shift_to_counts

    # Unnormalised counts (library ~50x TPM), logged: passes the frame's scale check.
    shifted = shift_to_counts(fitted.held.iloc[1500:2000])
    auroc, outside = _ood_auroc(fitted, shifted)
    assert auroc >= 0.9
    assert outside["ood_reasons"].str.contains("expression level differs").mean() > 0.9


def test_reasons_in_plain_language(fitted):
    bundle, detector = fitted.bundle, fitted.extras["ood"]
    rows = fitted.held.iloc[:4].copy()
    columns = _expression_columns(rows)
    rng = np.random.default_rng(0)
    rows.loc[rows.index[0], columns] = rng.poisson(3.0, len(columns)).astype(float)  # counts
    rows.loc[rows.index[1], columns] = np.nan  # no expression
    rows.loc[rows.index[2], columns[: int(0.8 * len(columns))]] = np.nan
    reasons = detector.score(bundle.features(rows), rows)["ood_reasons"].tolist()
    assert "whole numbers" in reasons[0] and "raw counts" in reasons[0]
    assert "no expression measured" in reasons[1]
    assert "training expression genes missing" in reasons[2]
    typical = detector.score(bundle.features(fitted.held.iloc[:1000]), fitted.held.iloc[:1000])
    assert typical["ood_flag"].mean() <= 0.05


def test_unseen_drug_is_a_reason(fitted):
    rows = fitted.held.iloc[:3].drop(columns=["setting", "drug_class", "target"])
    rows = rows.assign(drug="dabrafenib+trametinib")
    scored = fitted.extras["ood"].score(fitted.bundle.features(rows), rows)
    assert scored["ood_flag"].all()
    assert scored["ood_reasons"].str.contains("never seen in training").all()


def test_scoring_adds_the_columns_and_works_without_extras(fitted, tmp_path):
    from oncoresist.models.bundle import ResistanceBundle
    from oncoresist.scoring.engine import score_profile_frame

    rows = fitted.held.iloc[:50]
    scored = score_profile_frame(fitted.bundle, rows, top_drivers=0, scored_at="t")
    for column in ("mechanism_set", "months_lo", "months_hi", "ood_score", "ood_flag"):
        assert column in scored.columns
    assert scored["mechanism_set"].str.match(r"^\{[a-z_]+(, [a-z_]+)*\}$").all()
    first = scored["mechanism_set"].str.strip("{}").str.split(", ").str[0]
    assert (first == scored["predicted_mechanism"]).all()
    finite = np.isfinite(scored["months_hi"])
    assert (scored["months_lo"] <= scored["median_months_to_resistance"]).all()
    assert (
        scored.loc[finite, "months_hi"] >= scored.loc[finite, "median_months_to_resistance"]
    ).all()
    old = ResistanceBundle(
        fitted.bundle.feature_builder, fitted.bundle.mechanism_model, fitted.bundle.survival_model
    )
    plain = score_profile_frame(old, rows, top_drivers=0, scored_at="t")
    assert not {"mechanism_set", "months_lo", "ood_score"} & set(plain.columns)
    pd.testing.assert_series_equal(plain["p_bypass"], scored["p_bypass"])
    # Extras survive a save/load round trip (joblib) and give the same columns.
    loaded = read_bundle(save_bundle(fitted.bundle, tmp_path / "bundle"))
    again = score_profile_frame(loaded, rows, top_drivers=0, scored_at="t")
    pd.testing.assert_frame_equal(again, scored)
    copy = joblib.load(_dump(fitted.extras, tmp_path / "extras.joblib"))
    assert set(copy) == set(fitted.extras)


def _dump(value, path):
    joblib.dump(value, path)
    return path


def test_training_puts_uncertainty_in_the_bundle_and_model_card(tiny_trained_model):
    bundle = tiny_trained_model.result.bundle
    assert "ood" in bundle.extras
    card = bundle.metadata["uncertainty"]
    assert set(card["not_fitted"]) | set(bundle.extras) == {
        "mechanism_sets",
        "time_intervals",
        "ood",
    }
    assert "ood_flag_rate" in card["measured"]
    if "time_intervals" in bundle.extras:
        assert 0 < card["time_intervals"]["lower_level"] < card["time_intervals"]["upper_level"]
