"""Known drug-resistance biomarkers recovered from real GDSC1 cell-line screens
(``oncoresist benchmark gdsc``).

Data (fetched by :func:`oncoresist.io.datasets.fetch_gdsc`): GDSC1 ln IC50 per cell line and drug,
COSMIC ids and tissues, binary genomic features (mutations, recurrent copy-number regions,
MSI). Rules, all documented in the generated page:

* **Join**: a screen's cell-line name matches a COSMIC ``SAMPLE_NAME`` exactly, else by its
  normalised form (upper case, non-alphanumerics dropped) when that identifies exactly one
  line (``T-T``/``TT`` and ``KM-H2``/``KMH-2`` are different lines that collide).
* **Repeats**: a cell line–drug pair screened more than once gets the mean ln IC50.
* **Label**: resistant = ln IC50 in the drug's upper tertile over its screened lines.
* **Models**: XGBoost on genomic features + tissue (one-hot), one per drug and one pan-drug
  model with drug indicators (:mod:`oncoresist.validation.gdsc.pandrug`); depth chosen by 3-fold
  inner CV on training folds only, together with whether to start from the tissue prior
  offset (:mod:`oncoresist.validation.gdsc.prior`; drug × tissue rate for the pan-drug model).
* **Evaluation**: (a) stratified 5-fold CV over cell lines next to the tissue's resistance
  rate in the training folds; (b) leave-one-tissue-out next to the drug's rate in the other
  tissues (:mod:`oncoresist.validation.gdsc.loto`; pooled AUROC below 0.5, measured, not assumed).
  Random drug–cell-line pair splits inflate results (DrEval, Nat Commun 2026): never used.
* **Biomarker rank**: mean |SHAP| (exact tree SHAP, XGBoost ``pred_contribs``) of a model fitted
  on all lines; rank of the best-ranked biomarker column among the drivers. Tissue is one
  driver (:mod:`oncoresist.validation.gdsc.drivers`): its one-hot columns and, when that model uses
  it, the tissue prior's pseudo-driver are summed per row before mean |SHAP|, so that ~20
  slivers of one feature do not flatter the others. That grouped rank is judged against the
  target; the per-column rank (tissue columns and prior separate, as on earlier pages) is
  kept beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from oncoresist.evaluation.metrics import bootstrap_ci
from oncoresist.exceptions import InputDataError
from oncoresist.io.datasets import load_gdsc
from oncoresist.tracking import store as tracking
from oncoresist.validation.gdsc import prior as vp
from oncoresist.validation.gdsc.data import (
    DRUG_BIOMARKERS,
    MIN_CARRIERS,
    MIN_POSITIVE,
    GDSCData,
    join_gdsc,
    label_resistant,
    tissue_rate_baseline,
)
from oncoresist.validation.gdsc.drivers import driver_ranks
from oncoresist.validation.gdsc.loto import loto_rate_baseline
from oncoresist.validation.gdsc.page import render_gdsc_markdown
from oncoresist.validation.gdsc.pandrug import evaluate_pan_drug, log_pan_drug_run
from oncoresist.validation.page import update_generated_section

_AUC_KEYS = ("auroc", "auroc_tissue_rate", "auroc_gain", "auroc_loto", "auroc_loto_prior")
_AUC_KEYS += ("auroc_loto_drug_rate", "auroc_loto_gain", "auroc_loto_prior_gain")


def _auc_ci(y: np.ndarray, *scores: np.ndarray, seed: int = 0, n: int = 200) -> tuple:
    """AUROC (or difference of two AUROCs on the same rows) with a percentile bootstrap CI."""

    def metric(rows: np.ndarray) -> float:
        if len(np.unique(y[rows])) < 2:
            return np.nan
        values = [roc_auc_score(y[rows], s[rows]) for s in scores]
        return values[0] if len(values) == 1 else values[0] - values[1]

    return tuple(bootstrap_ci(metric, np.arange(y.size), n_resamples=n, seed=seed))


def evaluate_drug(data: GDSCData, drug: str, seed: int = 0, n_boot: int = 200) -> dict:
    """Per-drug labels, CV vs tissue baseline, leave-one-tissue-out and biomarker SHAP rank."""
    rows = data.responses[data.responses["drug"] == drug].reset_index(drop=True)
    if rows.empty:
        raise InputDataError(f"drug {drug!r} is not in the GDSC1 screens")
    marker = DRUG_BIOMARKERS[drug]
    X = data.features.loc[rows["cosmic_id"]].reset_index(drop=True)
    # Label-free filter: a feature carried by < MIN_CARRIERS of the drug's lines cannot be
    # learned from, and dropping them cuts ~700 columns to a few hundred (fit time).
    X = X.loc[:, (X != 0).sum(axis=0) >= MIN_CARRIERS]
    y = label_resistant(rows["ln_ic50"]).to_numpy()
    tissue = rows["tissue"]
    present = [c for c in marker.columns if c in X]
    positive = X[present].max(axis=1).to_numpy() > 0 if present else np.zeros(len(X), bool)

    model_cv, base_cv, depths, priors = np.zeros(len(y)), np.zeros(len(y)), [], []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        depth, prior = vp.choose_depth_and_prior(X.iloc[train], y[train], tissue.iloc[train], seed)
        depths.append(depth)
        priors.append(prior)
        model_cv[test] = vp.fit_predict(
            X.iloc[train], y[train], tissue.iloc[train], X.iloc[test], tissue.iloc[test],
            depth, prior, seed,
        )  # fmt: skip
        base_cv[test] = tissue_rate_baseline(tissue.iloc[train], y[train], tissue.iloc[test])
    # Fixed depth 2 (no tuning), without and with the prior (held-out tissue: constant p).
    loto = {prior: np.zeros(len(y)) for prior in vp.PRIOR_GRID}
    for held_out in tissue.unique():
        test = (tissue == held_out).to_numpy()
        for prior, scores in loto.items():
            scores[test] = vp.fit_predict(
                X[~test], y[~test], tissue[~test], X[test], tissue[test], 2, prior, seed
            )

    final_depth, final_prior = vp.choose_depth_and_prior(X, y, tissue, seed)
    margin = vp.logit(vp.out_of_fold_rate(tissue, y, seed)) if final_prior else None
    final = vp.fit_with_prior(X, y, margin, final_depth, seed)
    importance, contribs, _ = vp.shap_with_prior(final, X, margin)
    drivers = driver_ranks(contribs, list(importance.index), tuple(present))
    push = (
        float(contribs[positive][:, [X.columns.get_loc(c) for c in present]].sum(axis=1).mean())
        if positive.any()
        else np.nan
    )
    auc = _auc_ci(y, model_cv, seed=seed, n=n_boot)
    base = _auc_ci(y, base_cv, seed=seed, n=n_boot)
    delta = _auc_ci(y, model_cv, base_cv, seed=seed, n=n_boot)
    loto_rate = loto_rate_baseline(tissue, y)  # (b)'s naive baseline, on the same rows
    return {
        "drug": drug,
        "biomarker": "/".join(marker.columns),
        "effect": marker.effect,
        "n_lines": len(y),
        "n_positive": int(positive.sum()),
        "n_resistant": int(y.sum()),
        "auroc": auc,
        "auroc_tissue_rate": base,
        "auroc_gain": delta,
        "auroc_loto": _auc_ci(y, loto[False], seed=seed, n=n_boot),
        "auroc_loto_prior": _auc_ci(y, loto[True], seed=seed, n=n_boot),
        "auroc_loto_drug_rate": _auc_ci(y, loto_rate, seed=seed, n=n_boot),
        "auroc_loto_gain": _auc_ci(y, loto[False], loto_rate, seed=seed, n=n_boot),
        "auroc_loto_prior_gain": _auc_ci(y, loto[True], loto_rate, seed=seed, n=n_boot),
        "shap_rank": drivers["shap_rank"],  # tissue as one driver: judged against the target
        "shap_rank_columns": drivers["shap_rank_columns"],  # per column, as on earlier pages
        "top_k": marker.top_k,
        # log-odds of resistance added by the biomarker where present (< 0: sensitising)
        "shap_push": push,
        "depths": depths,
        "priors": priors,  # tissue prior chosen on/off per outer fold
        "final_depth": final_depth,
        "final_prior": final_prior,
        "top_drivers": drivers["top_drivers"],
    }


# ---------------------------------------------------------------------- orchestration
@dataclass
class GDSCBenchmark:
    """Per-drug results (one row per drug), the pan-drug model's and the join report."""

    drugs: pd.DataFrame
    join: dict[str, object]
    seconds: float = 0.0
    run_ids: dict[str, str] = field(default_factory=dict)
    pan_drug: object | None = None  # validation_pandrug.PanDrugResult
    n_jobs: int = 1  # processes that shared the drugs and the pan-drug model


def target_met(row: pd.Series) -> tuple[bool, bool] | tuple[None, None]:
    """(biomarker within its top-k, CV gain over the tissue rate >= 0.05); None below 15 lines."""
    if row["n_positive"] < MIN_POSITIVE:
        return None, None
    ranked = bool(pd.notna(row["shap_rank"]) and row["shap_rank"] <= row["top_k"])
    return bool(ranked), bool(row["auroc_gain"][0] >= 0.05)


def evaluate_drugs(
    data: GDSCData,
    drugs: tuple[str, ...],
    seed: int = 0,
    n_boot: int = 200,
    pan_drug: bool = True,
    n_jobs: int = 1,
    report=lambda _message: None,
) -> tuple[pd.DataFrame, object | None, int]:
    """:func:`evaluate_drug` per drug and, with ``pan_drug`` and >= 2 drugs, the pan-drug model.

    They are independent, seeded tasks shared by ``n_jobs`` processes (the results do not
    depend on it). Returns the per-drug frame with the target columns, the
    :class:`~oncoresist.validation.gdsc.pandrug.PanDrugResult` (or None) and the processes used.
    """

    def only(names: tuple[str, ...]) -> GDSCData:  # each worker gets only the rows it uses
        rows = data.responses[data.responses["drug"].isin(names)]
        return GDSCData(rows, data.features, data.join)

    with_pan = pan_drug and len(drugs) > 1
    names = list(drugs)
    calls = [delayed(evaluate_drug)(only((d,)), d, seed=seed, n_boot=n_boot) for d in drugs]
    if with_pan:  # the longest task: first, so that the drugs fill the other worker meanwhile
        names.insert(0, "pan-drug model")
        calls.insert(0, delayed(evaluate_pan_drug)(only(drugs), drugs, seed=seed, n_boot=n_boot))
    report(f"GDSC1: {len(drugs)} drugs" + (" and the pan-drug model" if with_pan else ""))
    workers = max(1, min(n_jobs, len(calls)))
    results = []
    for name, result in zip(names, Parallel(workers, return_as="generator")(calls), strict=True):
        report(f"GDSC1: {name} done")  # results come in task order
        results.append(result)
    pan = results.pop(0) if with_pan else None
    frame = pd.DataFrame(results)
    met = frame.apply(target_met, axis=1, result_type="expand")
    frame["rank_target_met"], frame["gain_target_met"] = met[0], met[1]
    return frame, pan, workers


def benchmark_gdsc(
    cache_dir: str = "data/external",
    drugs: tuple[str, ...] | None = None,
    seed: int = 0,
    n_boot: int = 200,
    docs_path: str | None = "docs/validation.md",
    experiment: str | None = "validation",
    tracking_uri: str | None = None,
    report=lambda _message: None,
    pan_drug: bool = True,
    n_jobs: int = 1,
) -> GDSCBenchmark:
    """Evaluate every listed drug on the cached GDSC1 files; write docs; log MLflow runs.

    With ``pan_drug`` (and at least two drugs) one pan-drug model over all their rows is
    evaluated too (:func:`oncoresist.validation.gdsc.pandrug.evaluate_pan_drug`), all of them in
    ``n_jobs`` processes (:func:`evaluate_drugs`).
    """
    started = time.perf_counter()
    files = load_gdsc(cache_dir)
    data = join_gdsc(files["ic50"], files["cosmic"], files["features"])
    drugs = tuple(drugs or DRUG_BIOMARKERS)
    frame, pan, workers = evaluate_drugs(data, drugs, seed, n_boot, pan_drug, n_jobs, report)
    seconds = time.perf_counter() - started
    result = GDSCBenchmark(frame, data.join, seconds, pan_drug=pan, n_jobs=workers)
    if docs_path is not None:
        update_generated_section(docs_path, "gdsc", render_gdsc_markdown(result))
    if experiment is not None:
        result.run_ids = log_gdsc_runs(result, experiment, tracking_uri)
        if pan is not None:
            result.run_ids["pan-drug"] = log_pan_drug_run(pan, experiment, tracking_uri)
    return result


def log_gdsc_runs(result: GDSCBenchmark, experiment: str, uri: str | None) -> dict[str, str]:
    """One MLflow run per drug (dataset ``gdsc1`` × model ``xgboost <drug>``)."""
    run_ids = {}
    for row in result.drugs.to_dict("records"):
        name = f"gdsc1 · xgboost {row['drug']}"
        tags = {"part": "gdsc", "dataset": "gdsc1", "model": "xgboost", "drug": row["drug"]}
        with tracking.start_run(experiment, name, tags, uri=uri) as run:
            tracking.log_params(
                {k: row[k] for k in ("drug", "biomarker", "effect", "top_k", "depths", "priors")}
                | {k: row[k] for k in ("final_depth", "final_prior")}
                | {"label": "upper tertile of ln IC50", "join": result.join}
            )
            metrics = {k: row[k] for k in ("n_lines", "n_positive", "n_resistant", "shap_push")}
            for key in ("shap_rank", "shap_rank_columns"):
                if pd.notna(row.get(key)):
                    metrics[key] = row[key]
            for key in _AUC_KEYS:
                metrics.update(dict(zip((key, f"{key}_low", f"{key}_high"), row[key], strict=True)))
            tracking.log_metrics(metrics)
            run_ids[row["drug"]] = run.info.run_id
    return run_ids
