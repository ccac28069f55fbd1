"""FeatureBuilder: fitted on training rows only, panel-aware, stable, readable, sklearn-friendly."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from oncoresist.exceptions import ConfigError, InputDataError
from oncoresist.features.builder import FeatureBuilder

SIGNATURES = {"emt": {"up": ["VIM"], "down": ["CDH1"]}, "neuroendocrine": {"up": ["ASCL1"]}}


def make_profiles(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A hand-made profile frame: EGFR-mutant NSCLC on osimertinib and ALK+ on alectinib."""
    rng = np.random.default_rng(seed)
    egfr = np.arange(n) % 2 == 0
    mutations = []
    for i in range(n):
        items = ["EGFR p.L858R"] if egfr[i] else []
        if i % 4 in (0, 1):
            items.append("TP53 p.R273H")
        if i == 3:
            items.append("ALK p.G1202R")  # one patient only, but a catalogued alteration
        if i == 5:
            items.append("TTN p.A100V")  # one patient only, not catalogued
        mutations.append("; ".join(items))
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "treatment_id": [f"T{i}" for i in range(n)],
            "cancer_type": "nsclc",
            "drug": np.where(egfr, "osimertinib", "alectinib"),
            "line_number": rng.integers(1, 3, n).astype(float),
            "age_years": rng.integers(40, 80, n).astype(float),
            "sex": np.where(rng.random(n) < 0.5, "F", "M"),
            "setting": np.where(egfr, "egfr_osimertinib_1L", "alk_alectinib_1L"),
            "drug_class": np.where(egfr, "EGFR_TKI", "ALK_TKI"),
            "target": np.where(egfr, "EGFR", "ALK"),
            "mutations": mutations,
            "copy_number": ["MET amp" if i % 5 == 0 else "" for i in range(n)],
            "fusions": ["" if egfr[i] else ("EML4-ALK v3" if i % 3 else "EML4-ALK v1")
                        for i in range(n)],
            "panel_genes": "",
            "generation": np.where(egfr, 3.0, 2.0),
            "is_combination": False,
            "n_baseline_samples": 1,
            "expr_MET": rng.normal(5, 1, n),
            "expr_VIM": np.abs(rng.normal(4, 2, n)),
            "expr_CDH1": rng.normal(8, 1, n),
            "expr_ASCL1": np.abs(rng.normal(1, 0.5, n)),
            "expr_FLAT": 4.0,
        }
    )  # fmt: skip
    frame.attrs["expression_scale"] = "log2_tpm"
    return frame


def builder(**params) -> FeatureBuilder:
    params.setdefault("signatures", SIGNATURES)
    params.setdefault("min_patients", 3)
    return FeatureBuilder(**params)


@pytest.fixture()
def profiles() -> pd.DataFrame:
    return make_profiles()


def test_statistics_come_from_the_training_rows_only(profiles):
    train, test = profiles.iloc[:30], profiles.iloc[30:]
    fb = builder().fit(train)
    mean, sd = train["expr_MET"].mean(), train["expr_MET"].std(ddof=0)
    assert fb.expression_mean_["MET"] == pytest.approx(mean)
    X = fb.transform(test)
    np.testing.assert_allclose(X["expr:MET"], (test["expr_MET"] - mean) / sd)
    # The test rows' own statistics differ: they were not used.
    assert abs(X["expr:MET"].mean()) > 1e-6
    assert X.index.equals(test.index)
    assert (X.dtypes == np.float64).all()


def test_program_scores_are_zscored_with_training_statistics(profiles):
    train, test = profiles.iloc[:30], profiles.iloc[30:]
    X = builder().fit(train).transform(test)
    raw = lambda f: f["expr_VIM"] - f["expr_CDH1"]  # noqa: E731 - the emt program score
    expected = (raw(test) - raw(train).mean()) / raw(train).std(ddof=0)
    np.testing.assert_allclose(X["program:emt"], expected)


def test_genes_without_training_variance_are_dropped(profiles):
    fb = builder().fit(profiles)
    assert "expr:FLAT" not in fb.get_feature_names_out()
    assert "expr:MET" in fb.get_feature_names_out()


def test_top_variance_genes_keeps_the_most_variable(profiles):
    names = builder(top_variance_genes=1, program_scores=False).fit(profiles)
    assert [n for n in names.get_feature_names_out() if n.startswith("expr:")] == ["expr:VIM"]


def test_expression_options(profiles):
    none = builder(expression="none").fit(profiles).get_feature_names_out()
    assert not any(n.startswith(("expr:", "program:")) for n in none)
    programs_only = builder(include_expression_genes=False).fit(profiles)
    names = programs_only.get_feature_names_out()
    assert not any(n.startswith("expr:") for n in names)
    assert "program:emt" in names
    raw = builder(expression="raw").fit(profiles).transform(profiles)
    np.testing.assert_allclose(raw["expr:MET"], profiles["expr_MET"])


def test_min_patients_counts_distinct_patients_not_rows(profiles):
    frame = profiles.copy()
    # KRAS mutated in 3 rows of only 2 patients (P0 has two treatments).
    frame.loc[[0, 2, 4], "mutations"] += "; KRAS p.Q61H"
    frame.loc[2, "patient_id"] = "P0"
    assert "mut:KRAS" not in builder(min_patients=3).fit(frame).get_feature_names_out()
    assert "mut:KRAS" in builder(min_patients=2).fit(frame).get_feature_names_out()


def test_gene_and_alteration_flags_respect_the_threshold(profiles):
    names = list(builder(min_patients=3).fit(profiles).get_feature_names_out())
    assert {"mut:EGFR", "mut:TP53", "alt:EGFR p.L858R", "alt:TP53 p.R273H"} <= set(names)
    assert "cna:MET" in names
    assert {"fusion:EML4-ALK", "fusion_variant:EML4-ALK v3", "fusion_variant:EML4-ALK v1"} <= set(
        names
    )
    # Seen in one patient: a catalogued resistance alteration is kept, a passenger is not.
    assert "alt:ALK p.G1202R" in names
    assert "mut:TTN" not in names and "alt:TTN p.A100V" not in names
    without_kb = builder(knowledge_flags=False).fit(profiles).get_feature_names_out()
    assert "alt:ALK p.G1202R" not in without_kb
    assert not any(n.startswith("kb:") for n in without_kb)


def test_knowledge_flags_count_known_resistance_for_this_drug(profiles):
    X = builder().fit(profiles).transform(profiles)
    # Row 3: ALK p.G1202R under alectinib is a known on-target resistance alteration.
    assert X.loc[3, "kb:on_target_alteration"] == 1
    assert X.loc[3, "kb:known_resistance_count"] == 1
    # Row 0: MET amplification under osimertinib is a known bypass alteration.
    assert X.loc[0, "kb:bypass_alteration"] == 1
    assert X.loc[2, "kb:known_resistance_count"] == 0
    # The same ALK p.G1202R under osimertinib is not a known way to escape that drug.
    other = profiles.copy()
    other.loc[3, ["drug", "drug_class", "target"]] = ["osimertinib", "EGFR_TKI", "EGFR"]
    assert builder().fit(profiles).transform(other).loc[3, "kb:on_target_alteration"] == 0


def test_a_gene_off_the_panel_is_missing_not_wild_type(profiles):
    frame = profiles.copy()
    frame.loc[7, "panel_genes"] = "EGFR;ALK"  # TP53 and MET not tested
    frame.loc[3, "panel_genes"] = "EGFR;ALK;TP53;MET"
    frame.loc[1, "panel_genes"] = "EGFR;ALK"
    X = builder().fit(profiles).transform(frame)
    assert np.isnan(X.loc[7, "mut:TP53"]) and np.isnan(X.loc[7, "alt:TP53 p.R273H"])
    assert np.isnan(X.loc[7, "cna:MET"])
    assert X.loc[7, "fusion:EML4-ALK"] == 1  # ALK covered: the fusion was tested (and found)
    assert X.loc[3, "cna:MET"] == 0 and X.loc[3, "mut:TP53"] == 0
    # A reported call proves the gene was tested, whatever the panel text says.
    assert X.loc[1, "mut:TP53"] == 1


def test_an_unprofiled_row_has_missing_genomic_features(profiles):
    frame = profiles.copy()
    frame.loc[2, ["mutations", "copy_number", "fusions"]] = ""
    frame.loc[2, "n_baseline_samples"] = 0
    X = builder().fit(profiles).transform(frame)
    genomic = [c for c in X.columns if c.split(":")[0] in ("mut", "alt", "cna", "fusion", "kb")]
    assert X.loc[2, genomic].isna().all()
    assert X.loc[2, "line_number"] == frame.loc[2, "line_number"]


def test_unseen_categories_give_zeros_and_are_listed(profiles):
    fb = builder().fit(profiles)
    new = profiles.iloc[:3].copy()
    new.loc[0, "drug"] = "lorlatinib"
    new.loc[1, "cancer_type"] = "glioma"
    new.loc[1, "setting"] = "alk_lorlatinib_1L"
    new.loc[2, "sex"] = None
    X = fb.transform(new)
    assert (X.loc[0, [c for c in X.columns if c.startswith("drug:")]] == 0).all()
    assert (X.loc[1, [c for c in X.columns if c.startswith("cancer_type:")]] == 0).all()
    assert (X.loc[1, [c for c in X.columns if c.startswith("setting:")]] == 0).all()
    assert X.loc[2, ["sex:F", "sex:M"]].isna().all()  # missing is unknown, not "neither"
    unseen = fb.unseen_categories(new)
    assert unseen.loc[0, "drug"] == "lorlatinib"
    assert unseen.loc[1, "cancer_type"] == "glioma"
    assert unseen.loc[1, "setting"] == "alk_lorlatinib_1L"
    assert "glioma" in unseen.loc[1, "warning"] and "setting" in unseen.loc[1, "warning"]
    assert unseen.loc[2, "warning"] is None


def test_profiles_without_treatment_annotations_are_annotated_and_never_crash(profiles):
    fb = builder().fit(profiles)
    bare = profiles.iloc[:2].drop(columns=["setting", "drug_class", "target", "generation"])
    bare.loc[0, "drug"] = "madeupinib"  # unknown to the drug catalogue
    bare.loc[1, ["drug", "line_number"]] = ["Tagrisso", 1.0]  # a brand name of osimertinib
    X = fb.transform(bare)
    assert X.loc[1, "drug:osimertinib"] == 1 and X.loc[1, "setting:egfr_osimertinib_1L"] == 1
    assert (X.loc[0, [c for c in X.columns if c.startswith("drug:")]] == 0).all()
    assert X.loc[0, [c for c in X.columns if c.startswith("setting:")]].isna().all()
    assert fb.unseen_categories(bare).loc[0, "drug"] == "madeupinib"


def test_combination_components_are_separate_drug_flags(profiles):
    frame = profiles.copy()
    frame.loc[0, "drug"] = "dabrafenib+trametinib"
    frame.loc[0, "target"] = "BRAF+MAP2K1/MAP2K2"
    frame.loc[0, "is_combination"] = True
    fb = builder().fit(frame)
    X = fb.transform(frame)
    assert X.loc[0, "drug:dabrafenib"] == 1 and X.loc[0, "drug:trametinib"] == 1
    assert X.loc[0, "target:BRAF"] == 1 and X.loc[0, "target:MAP2K1/MAP2K2"] == 1
    # A scoring row on one part of a training combination still lights that part.
    single = frame.iloc[[1]].assign(drug="trametinib", target="MAP2K1/MAP2K2")
    assert fb.transform(single).iloc[0]["drug:trametinib"] == 1
    assert X.loc[0, "is_combination"] == 1 and X.loc[1, "is_combination"] == 0


def test_refuses_expression_declared_on_another_scale(profiles):
    fb = builder().fit(profiles)
    zscored = profiles.copy()
    zscored.attrs["expression_scale"] = "zscore"
    with pytest.raises(InputDataError, match="trained on 'log2_tpm'") as err:
        fb.transform(zscored)
    assert "log2_tpm" in err.value.problems[0].fix


def test_refuses_values_that_look_like_raw_counts(profiles):
    fb = builder().fit(profiles)
    counts = profiles.copy()
    counts["expr_MET"] = counts["expr_MET"] * 300
    with pytest.raises(InputDataError, match="raw counts"):
        fb.transform(counts)
    with pytest.raises(InputDataError, match="raw counts"):
        builder().fit(counts)


def test_records_the_training_scale(profiles):
    assert builder().fit(profiles).expression_scale_ == "log2_tpm"


def test_unreadable_alterations_are_reported_with_their_row(profiles):
    frame = profiles.copy()
    frame.loc[4, "mutations"] = "EGFR c.2573T>G"
    frame.loc[6, "copy_number"] = "MET lots"
    with pytest.raises(InputDataError, match="cannot be read") as err:
        builder().fit(frame)
    rows = {(p.row, p.column) for p in err.value.problems}
    assert rows == {(6, "mutations"), (8, "copy_number")}


def test_missing_required_columns_are_named(profiles):
    with pytest.raises(InputDataError, match="lacks required columns") as err:
        builder().fit(profiles.drop(columns=["drug", "line_number"]))
    assert {p.column for p in err.value.problems} == {"drug", "line_number"}


def test_bad_parameters_are_config_errors(profiles):
    with pytest.raises(ConfigError, match="min_patients"):
        builder(min_patients=0).fit(profiles)
    with pytest.raises(ConfigError, match="expression must be one of"):
        builder(expression="log").fit(profiles)


def test_column_order_is_deterministic(profiles):
    fitted = builder().fit(profiles)
    first = fitted.get_feature_names_out()
    shuffled = profiles.sample(frac=1.0, random_state=3)
    second = builder().fit(shuffled).get_feature_names_out()
    assert list(first) == list(second)
    kinds = [fitted.feature_kinds_[n] for n in first]
    order = ["knowledge", "genomic", "expression", "program", "treatment", "clinical"]
    assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)


def test_sklearn_clone_pipeline_and_fitted_checks(profiles):
    fb = builder()
    with pytest.raises(NotFittedError):
        fb.transform(profiles)
    twin = clone(fb)
    assert twin.get_params() == fb.get_params()
    labels = np.arange(len(profiles)) % 2
    pipe = Pipeline([("features", fb), ("model", HistGradientBoostingClassifier(max_iter=5))])
    pipe.fit(profiles, labels)
    assert pipe.predict_proba(profiles).shape == (len(profiles), 2)
    check_is_fitted(pipe.named_steps["features"])
    names = pipe[:-1].get_feature_names_out()
    assert list(names) == list(pipe.named_steps["features"].get_feature_names_out())
    assert list(clone(fb).fit(profiles).get_feature_names_out()) == list(names)
    assert isinstance(fb.set_output(transform="pandas").transform(profiles), pd.DataFrame)


def test_fitted_builder_survives_pickling(profiles):
    fb = builder().fit(profiles.iloc[:30])
    again = pickle.loads(pickle.dumps(fb))
    pd.testing.assert_frame_equal(fb.transform(profiles), again.transform(profiles))


def test_feature_names_are_valid_for_xgboost(profiles):
    frame = profiles.copy()
    frame["cancer_type"] = np.where(np.arange(len(frame)) < 20, "nsclc [stage<4]", "nsclc")
    fb = builder().fit(frame)
    names = list(fb.get_feature_names_out())
    assert "cancer_type:nsclc (stagelt4)" in names
    assert not any(c in n for n in names for c in "[]<")
    X = fb.transform(frame)
    dmatrix = xgb.DMatrix(X, feature_names=names)
    assert dmatrix.feature_names == names


def test_groups_kinds_and_readings(profiles):
    fb = builder().fit(profiles)
    groups, kinds = fb.feature_groups_, fb.feature_kinds_
    assert groups["mut:TP53"] == groups["alt:TP53 p.R273H"] == "TP53"
    assert groups["expr:MET"] == groups["cna:MET"] == "MET"
    assert groups["program:emt"] == "EMT program"
    assert groups["fusion_variant:EML4-ALK v3"] == "EML4-ALK fusion"
    assert kinds["mut:TP53"] == "genomic" and kinds["expr:MET"] == "expression"
    assert kinds["program:emt"] == "program" and kinds["line_number"] == "treatment"
    assert kinds["age_years"] == "clinical" and kinds["kb:bypass_alteration"] == "knowledge"
    assert set(groups) == set(fb.get_feature_names_out())
    read = fb.describe_value
    assert read("mut:TP53", 1) == "TP53 mutated"
    assert read("mut:TP53", np.nan) == "TP53 not tested"
    assert read("cna:MET", 2) == "MET amplification"
    assert read("program:neuroendocrine", 2.1) == "neuroendocrine program score +2.1 SD"
    assert read("fusion_variant:EML4-ALK v3", 1) == "EML4-ALK variant 3"
    assert read("line_number", 2) == "line 2"
    assert read("kb:on_target_alteration", 1) == (
        "1 known on-target resistance alteration for this drug"
    )
    with pytest.raises(KeyError, match="not a feature"):
        read("mut:NOPE", 1)


def test_on_a_small_simulated_cohort_progression_samples_change_nothing():
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.simulate.cohort import simulate_cohort

    cohort = simulate_cohort(n=60, seed=11).cohort
    assert (cohort.samples["timepoint"] == "progression").any()
    kept = cohort.samples[cohort.samples["timepoint"] != "progression"]
    ids = set(kept["sample_id"])
    without = cohort.with_tables(
        samples=kept,
        **{
            name: getattr(cohort, name)[getattr(cohort, name)["sample_id"].isin(ids)]
            for name in ("mutations", "copy_number", "fusions", "expression")
        },
    )
    fb = FeatureBuilder()
    X = fb.fit_transform(cohort_to_profiles(cohort))
    pd.testing.assert_frame_equal(X, FeatureBuilder().fit_transform(cohort_to_profiles(without)))
    assert set(fb.feature_kinds_.values()) == {
        "genomic",
        "expression",
        "program",
        "treatment",
        "clinical",
        "knowledge",
    }
    assert (X.dtypes == np.float64).all()
