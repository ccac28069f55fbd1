"""Fidelity of explanations to the simulator's planted causes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.explain.attributions import Explanation, explain_features
from oncoresist.explain.drivers import SURVIVAL_MODEL
from oncoresist.explain.fidelity import (
    PLANTED_CAUSES,
    carriers,
    cause_groups,
    fidelity_report,
    simulation_truth,
)
from oncoresist.features.profile_text import profiles_as_text


@pytest.fixture(scope="module")
def held_out(explain_trained):
    from oncoresist.pipelines.train import load_training_data

    data = load_training_data(explain_trained.data_dir)
    truth, params, noise = simulation_truth(explain_trained.data_dir)
    profiles = data.profiles.reset_index(drop=True)
    features = explain_trained.bundle.features(profiles)
    return data, profiles, features, truth, params, noise


def test_cause_groups_name_the_sources(explain_trained):
    builder = explain_trained.bundle.feature_builder
    by_name = {c.name: c for c in PLANTED_CAUSES}
    assert {"TP53", "RB1"} <= set(cause_groups(by_name["tp53_rb1_lineage"], builder))
    assert cause_groups(by_name["tp53_time"], builder) == ["TP53"]
    met = cause_groups(by_name["met_program_bypass"], builder)
    assert builder.feature_groups_["program:met_hgf"] in met and "HGF" in met


def test_carriers_are_read_from_the_written_tables(explain_trained, held_out):
    _, profiles, _, truth, params, _ = held_out
    tp53 = next(c for c in PLANTED_CAUSES if c.name == "tp53_time")
    found = set(carriers(truth, params, tp53))
    # independent reading: baseline TP53 mutation in a setting whose truth has a TP53 hazard
    text = profiles_as_text(profiles)["mutations"].fillna("")
    has_tp53 = text.str.contains(r"(?:^|; )TP53(?: |;|$)", regex=True)
    hazard = [
        s
        for s, st in params.settings.items()
        if any(r.feature == "mut:TP53" for r in st.risk_factors)
    ]
    expected = set(profiles.loc[has_tp53 & profiles["setting"].isin(hazard), "treatment_id"])
    assert found == expected and len(found) > 50
    # the program cause uses the setting-standardised score: about 16% are >= 1 SD
    met = next(c for c in PLANTED_CAUSES if c.name == "met_program_bypass")
    share = len(carriers(truth, params, met)) / len(profiles)
    assert 0.08 < share < 0.25


def test_fidelity_report_metrics_and_tables(explain_trained, held_out):
    _, profiles, features, truth, params, noise = held_out
    report = fidelity_report(
        explain_trained.bundle,
        features,
        profiles["treatment_id"],
        truth,
        params,
        noise,
        settings=profiles["setting"],
    )
    expected = {f"fidelity_{c.name}" for c in PLANTED_CAUSES} | {"fidelity_global_noise_rank"}
    assert set(report.metrics) == expected
    for value in report.metrics.values():
        assert np.isnan(value) or 0.0 <= value <= 1.0
    assert list(report.causes["cause"]) == [c.name for c in PLANTED_CAUSES]
    assert (report.global_ranking["noise_genes"] > 100).all()
    # TP53 is the strongest planted time cause: even a tiny model names it for most carriers
    assert report.metrics["fidelity_tp53_time"] > 0.5


def _explanation_from(features: pd.DataFrame, survival: np.ndarray) -> Explanation:
    n, p = features.shape
    return Explanation(
        features=features,
        mechanism=np.zeros((n, 5, p + 1)),
        survival=np.column_stack([survival, np.zeros(n)]),
        survival_scale="log-time",
    )


def test_fidelity_can_pass_and_fail(explain_trained, held_out):
    """Controls: attributions on the planted feature score 1; attributions on noise score 0."""
    _, profiles, features, truth, params, noise = held_out
    bundle = explain_trained.bundle
    names = list(features.columns)
    planted = np.zeros(features.shape)
    planted[:, names.index("mut:TP53")] = -np.nan_to_num(features["mut:TP53"].to_numpy())
    good = fidelity_report(
        bundle,
        features,
        profiles["treatment_id"],
        truth,
        params,
        noise,
        explanation=_explanation_from(features, planted),
    )
    assert good.metrics["fidelity_tp53_time"] == 1.0
    gene = next(g for g in noise if f"expr:{g}" in names)
    wrong = np.zeros(features.shape)
    wrong[:, names.index(f"expr:{gene}")] = np.random.default_rng(0).normal(size=len(features))
    bad = fidelity_report(
        bundle,
        features,
        profiles["treatment_id"],
        truth,
        params,
        noise,
        explanation=_explanation_from(features, wrong),
        settings=profiles["setting"],
    )
    assert bad.metrics["fidelity_tp53_time"] == 0.0
    assert bad.metrics["fidelity_global_noise_rank"] == 0.0
    # the real explanation of the survival model for comparison
    real = explain_features(bundle, features)
    assert real.contributions(SURVIVAL_MODEL).shape == features.shape


def test_fidelity_ranks_drivers_within_the_setting(explain_trained, held_out):
    """What every patient of a setting shares credits no carrier once ranked within settings."""
    _, profiles, features, truth, params, noise = held_out
    names = list(features.columns)
    codes = pd.factorize(profiles["setting"])[0]
    # the same attribution for every row of a setting, carrier or not, differing by setting
    shared = np.zeros(features.shape)
    shared[:, names.index("mut:TP53")] = -(codes + 1.0)
    args = (explain_trained.bundle, features, profiles["treatment_id"], truth, params, noise)
    explanation = _explanation_from(features, shared)
    pooled = fidelity_report(*args, explanation=explanation)
    within = fidelity_report(*args, explanation=explanation, settings=profiles["setting"])
    assert pooled.metrics["fidelity_tp53_time"] == 1.0
    assert within.metrics["fidelity_tp53_time"] == 0.0


@pytest.mark.slow
def test_fidelity_metrics_are_logged_to_the_run(explain_trained, held_out, tmp_path):
    from mlflow import MlflowClient

    from oncoresist.explain.fidelity import fidelity_for_training
    from oncoresist.pipelines.train import log_fidelity
    from oncoresist.tracking import store as tracking

    _, profiles, features, _, _, _ = held_out
    report = fidelity_for_training(
        explain_trained.bundle, explain_trained.data_dir, profiles, features
    )
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with tracking.start_run("fidelity", uri=uri) as run:
        log_fidelity(report)
    client = MlflowClient(tracking_uri=uri)
    logged = client.get_run(run.info.run_id).data.metrics
    for key, value in report.metrics.items():
        if value == value:
            assert logged[key] == pytest.approx(value)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "explain")}
    assert artifacts == {"explain/fidelity_causes.csv", "explain/fidelity_global.csv"}
