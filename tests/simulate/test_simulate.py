"""Simulator on small cohorts: contract, causal structure, determinism, writing and reading."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from oncoresist.contract import MECHANISMS, validate_cohort
from oncoresist.exceptions import ConfigError, OutputExistsError
from oncoresist.knowledge.programs import program_scores
from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.output import (
    GROUND_TRUTH_FILE,
    SIMULATION_FILE,
    calibration_table,
    read_simulation,
    write_simulation,
)
from oncoresist.simulate.params import SimulationParams


@pytest.fixture(scope="module")
def small():
    return simulate_cohort(n=600, seed=5)


def _digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_tables_meet_the_data_contract(small):
    cohort = validate_cohort(small.cohort)
    assert len(cohort.treatments) == 600
    assert cohort.patients["patient_id"].iloc[0] == "P000001"
    assert cohort.treatments["treatment_id"].iloc[-1] == "T000600"
    assert set(cohort.samples["timepoint"]) == {"baseline", "progression"}
    assert cohort.samples["sample_id"].str.fullmatch(r"S\d{6}-[BP]").all()
    genes = cohort.genes_with_expression
    assert len(genes) >= 500
    values = cohort.expression[genes].to_numpy(float)
    assert values.min() >= 0.0 and values.max() <= 15.0 and values.mean() > 3.0


def test_every_setting_is_recovered_by_the_knowledge_base(small):
    knowledge = pytest.importorskip("oncoresist.knowledge.annotate")
    rows = small.cohort.treatments.merge(small.cohort.patients, on="patient_id")
    derived = [
        knowledge.derive_setting(r.cancer_type, r.drug, r.line_number) for r in rows.itertuples()
    ]
    assert derived == rows["setting"].tolist()


def test_labels_only_for_rebiopsied_progressions(small):
    outcomes = small.cohort.outcomes
    labelled = outcomes["mechanism"].notna()
    assert not (labelled & ~outcomes["resistance_observed"]).any()
    assert set(outcomes.loc[labelled, "mechanism"]) <= set(MECHANISMS)
    progressed = outcomes["resistance_observed"].sum()
    assert 0.45 < labelled.sum() / progressed < 0.75  # default re-biopsy rate 0.6
    prog = small.cohort.samples.query("timepoint == 'progression'")
    assert set(prog["treatment_id"]) == set(outcomes.loc[labelled, "treatment_id"])
    truth = small.ground_truth.set_index("treatment_id")
    observed = outcomes.set_index("treatment_id")
    events = observed["resistance_observed"]
    np.testing.assert_allclose(
        observed.loc[events, "time_to_resistance_months"],
        truth.loc[events[events].index, "true_event_months"],
        atol=1e-3,
    )
    assert (
        truth.loc[labelled.to_numpy(), "true_mechanism"].to_numpy()
        == outcomes.loc[labelled, "mechanism"].to_numpy()
    ).all()


def test_named_alteration_appears_only_in_the_progression_sample():
    result = simulate_cohort(n=1500, seed=9, settings=["alk_alectinib_1L"])
    truth = result.ground_truth
    hit = truth[(truth["true_alteration"] == "ALK_G1202R") & truth["labelled"]]
    assert len(hit) > 10
    mutations = result.cohort.mutations
    g1202r = mutations[(mutations["gene"] == "ALK") & (mutations["protein_change"] == "p.G1202R")]
    assert g1202r["sample_id"].str.endswith("-P").all()
    carriers = set(g1202r["sample_id"].str[1:7])
    assert {t[1:] for t in hit["treatment_id"]} <= carriers


def test_ground_truth_probabilities_are_distributions_and_follow_baseline_programs(small):
    truth = small.ground_truth
    for prefix in ("p_", "prior_p_"):
        total = truth[[f"{prefix}{m}" for m in MECHANISMS]].sum(axis=1)
        np.testing.assert_allclose(total, 1.0, atol=1e-9)
    # The truth is a function of programs scored from the *written* baseline expression.
    baseline = small.cohort.expression[small.cohort.expression["sample_id"].str.endswith("-B")]
    scores = program_scores(baseline).reset_index(drop=True)
    corr = np.corrcoef(scores["program_met_hgf"], truth["prior_p_bypass"])[0, 1]
    assert corr > 0.2


def test_same_seed_same_bytes_and_other_seed_other_data(tmp_path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_simulation(simulate_cohort(n=150, seed=21), first, fmt="both")
    write_simulation(simulate_cohort(n=150, seed=21), second, fmt="both")
    write_simulation(simulate_cohort(n=150, seed=22), other, fmt="both")
    digest = _digest(first)
    assert GROUND_TRUTH_FILE in digest and SIMULATION_FILE in digest
    assert digest == _digest(second)
    differing = {k for k, v in _digest(other).items() if digest.get(k) != v}
    assert {"outcomes.csv", "expression.csv", GROUND_TRUTH_FILE} <= differing


def test_round_trip_through_both_writers_and_readers(tmp_path):
    io = pytest.importorskip("oncoresist.io.inputs")
    small = simulate_cohort(n=200, seed=21)
    folder = write_simulation(small, tmp_path / "sim", fmt="both")
    (folder / GROUND_TRUTH_FILE).unlink()  # the truth is never needed to read the cohort
    expected = validate_cohort(small.cohort).tables()
    for cohort in (
        io.read_canonical_folder(folder),
        io.read_cbioportal_study(folder / "cbioportal"),
    ):
        for table in (
            "patients",
            "samples",
            "treatments",
            "mutations",
            "copy_number",
            "fusions",
            "outcomes",
        ):
            written = expected[table]
            read = getattr(cohort, table)[list(written.columns)]
            key = list(written.columns[:3])
            pd.testing.assert_frame_equal(
                read.sort_values(key).reset_index(drop=True),
                written.sort_values(key).reset_index(drop=True),
                check_dtype=False,
            )
        expression = cohort.expression.set_index("sample_id").sort_index()
        original = small.cohort.expression.set_index("sample_id").sort_index()
        np.testing.assert_allclose(
            expression[original.columns].to_numpy(float), original.to_numpy(float), atol=1e-9
        )


def test_writer_refuses_a_non_empty_folder(small, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_simulation(small, tmp_path)
    with pytest.raises(ValueError, match="fmt must be one of"):
        write_simulation(small, tmp_path / "new", fmt="excel")


def test_read_simulation_returns_the_written_settings_and_parameters(tmp_path):
    result = simulate_cohort(n=60, seed=4, settings=["alk_alectinib_1L"])
    folder = write_simulation(result, tmp_path / "sim")
    meta = read_simulation(folder)
    assert meta["seed"] == 4 and meta["settings"] == ["alk_alectinib_1L"]
    assert meta["noise_genes"] == list(result.noise_genes)
    assert SimulationParams.model_validate(meta["parameters"]) == result.params
    (folder / SIMULATION_FILE).write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_simulation(folder)
    with pytest.raises(FileNotFoundError):
        read_simulation(tmp_path)


def test_settings_subset_knobs_and_unknown_setting():
    result = simulate_cohort(
        n=400,
        seed=1,
        settings="kras_G12C_sotorasib_adagrasib_2L",
        rebiopsy_rate=1.0,
        censoring=0.1,
        unexplained_to_epigenetic=1.0,
    )
    assert set(result.cohort.treatments["setting"]) == {"kras_G12C_sotorasib_adagrasib_2L"}
    outcomes = result.cohort.outcomes
    assert (outcomes["mechanism"].notna() == outcomes["resistance_observed"]).all()
    assert "microenvironment" not in set(outcomes["mechanism"].dropna())
    table = calibration_table(result)
    assert table.loc[0, "share_microenvironment_published"] == 0.0
    with pytest.raises(ConfigError, match=r"unknown setting.*choose from"):
        simulate_cohort(n=10, settings=["egfr_typo"])
    with pytest.raises(ConfigError, match="rebiopsy_rate"):
        simulate_cohort(n=10, rebiopsy_rate=1.5)


def test_t790m_is_lost_at_progression_in_about_half_after_second_line_osimertinib():
    result = simulate_cohort(n=1200, seed=4, settings=["egfr_osimertinib_2L_T790M"])
    samples, mutations = result.cohort.samples, result.cohort.mutations
    t790m = set(mutations.loc[mutations["protein_change"] == "p.T790M", "sample_id"])
    baseline = samples[samples["timepoint"] == "baseline"]["sample_id"]
    assert baseline.isin(t790m).all()  # eligibility: T790M-positive before osimertinib
    progression = samples[samples["timepoint"] == "progression"].merge(
        result.cohort.outcomes, on="treatment_id"
    )
    kept = progression["sample_id"].isin(t790m)
    assert 0.40 < 1 - kept.mean() < 0.60  # published: undetectable in 50%
    on_target = progression["mechanism"] == "on_target"
    assert kept[on_target].all()


def test_unreachable_censoring_target_is_a_config_error():
    with pytest.raises(ConfigError, match="lowest reachable censored fraction"):
        simulate_cohort(n=50, settings=["alk_lorlatinib_1L"], censoring=0.1)


def test_truth_is_a_function_of_the_written_baseline_data(tmp_path):
    io = pytest.importorskip("oncoresist.io.inputs")
    from oncoresist.simulate.observe import truth_features

    result = simulate_cohort(n=200, seed=21)
    folder = write_simulation(result, tmp_path / "sim")
    (folder / GROUND_TRUTH_FILE).unlink()
    cohort = io.read_canonical_folder(folder)
    truth = result.ground_truth.set_index("treatment_id")
    recomputed = pd.concat(truth_features(cohort, result).values())
    assert len(recomputed) == len(truth)
    rows = truth.loc[recomputed.index]
    np.testing.assert_allclose(
        recomputed["linear_predictor"], rows["true_linear_predictor"], atol=1e-9
    )
    for mechanism in MECHANISMS:
        np.testing.assert_allclose(
            recomputed[f"prior_p_{mechanism}"], rows[f"prior_p_{mechanism}"], atol=1e-9
        )
