"""Pan-drug GDSC1 model: one XGBoost over every listed drug's cell lines, with drug features.

Same path as the per-drug models in :mod:`oncoresist.validation.gdsc.benchmark` (same
classifier, same label rule, same tissue and genomic features, exact tree SHAP), on stacked
(cell line, drug) rows with two kinds of drug feature: ``drug=<name>`` (one-hot) and
``target=<class>`` (the drug's primary target class, :data:`DRUG_TARGET_CLASS`), so drugs of
one class can share what they learn (e.g. three EGFR inhibitors with few EGFR-mutant lines
each).

* **Label**: per drug, as in the per-drug models (upper tertile of the drug's ln IC50).
* **Folds**: stratified (on drug × label) 5-fold CV *grouped by cell line*
  (:class:`~sklearn.model_selection.StratifiedGroupKFold`): a line's rows for different drugs
  are all in training or all in test, otherwise its genome would be seen while testing it.
* **Hyperparameters**: depth from :data:`PAN_DEPTH_GRID` and the tissue prior on/off by 3-fold
  inner CV, grouped the same way, on the training folds only; leave-one-tissue-out uses
  :data:`LOTO_DEPTH` (no tuning), without and with the prior.
* **Tissue prior** (:mod:`oncoresist.validation.gdsc.prior`): optionally the model starts each row
  from the logit of its smoothed (drug × tissue) resistance rate in the training rows, out of
  fold for the training rows themselves (folds grouped by cell line), as the per-drug models
  do with the tissue rate.
* **Baseline**: each test row's (drug × tissue) resistance rate in the training folds; in
  leave-one-tissue-out, the row's drug rate in the other tissues' rows
  (:func:`~oncoresist.validation.gdsc.loto.loto_drug_rate_baseline`), measured like the model.
* **Biomarker rank**: mean |SHAP| over that drug's rows of a model fitted on all rows; the
  drug and target-class indicators are constant within a drug, so they are not ranked. As in
  the per-drug models, tissue is one driver (one-hot columns summed per row,
  :mod:`oncoresist.validation.gdsc.drivers`) for the rank judged against the target and the top
  drivers; the per-column rank is kept beside it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from oncoresist.evaluation.metrics import bootstrap_ci
from oncoresist.exceptions import InputDataError
from oncoresist.tracking import store as tracking
from oncoresist.validation.gdsc.data import (
    DRUG_BIOMARKERS,
    MIN_CARRIERS,
    GDSCData,
    label_resistant,
    make_classifier,
    tissue_rate_baseline,
)
from oncoresist.validation.gdsc.drivers import driver_ranks
from oncoresist.validation.gdsc.loto import loto_drug_rate_baseline
from oncoresist.validation.gdsc.prior import (
    PRIOR_GRID,
    drug_tissue_prior_rate,
    logit,
    out_of_fold_drug_tissue_rate,
    shap_with_prior,
)

#: Primary target class of each listed drug (the shared drug feature).
DRUG_TARGET_CLASS = {
    "Nutlin-3a (-)": "MDM2",
    "Dabrafenib": "BRAF",
    "PLX-4720": "BRAF",
    "SB590885": "BRAF",
    "Trametinib": "MEK1/2",
    "Selumetinib": "MEK1/2",
    "Erlotinib": "EGFR/ERBB2",
    "Gefitinib": "EGFR/ERBB2",
    "Afatinib": "EGFR/ERBB2",
    "Lapatinib": "EGFR/ERBB2",
    "Crizotinib": "MET/ALK",
}
#: Depths tried by inner CV. Depth >= 3 lets one tree split on drug, then biomarker, then
#: tissue; a first look at inner folds of one training part moved AUROC little past depth 6.
PAN_DEPTH_GRID = (3, 6)
LOTO_DEPTH = 4
N_SPLITS, INNER_SPLITS = 5, 3
DRUG_PREFIXES = ("drug=", "target=")


@dataclass
class PanDrugResult:
    """Per-drug rows (``drugs``), pooled figures (``overall``) and out-of-fold predictions."""

    drugs: pd.DataFrame
    overall: dict[str, object]
    predictions: pd.DataFrame
    depths: list[int] = field(default_factory=list)
    final_depth: int = 0
    n_features: int = 0
    seconds: float = 0.0
    priors: list[bool] = field(default_factory=list)  # (drug × tissue) prior per outer fold
    final_prior: bool = False


def pan_drug_table(data: GDSCData, drugs: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stacked rows of ``drugs`` (with a per-drug ``resistant`` label) and their features."""
    unknown = [d for d in drugs if d not in DRUG_TARGET_CLASS]
    if unknown:
        raise InputDataError(f"no target class recorded for {unknown}")
    rows = data.responses[data.responses["drug"].isin(drugs)].reset_index(drop=True)
    missing = sorted(set(drugs) - set(rows["drug"]))
    if missing:
        raise InputDataError(f"drug(s) {missing} not in the GDSC1 screens")
    rows["resistant"] = rows.groupby("drug")["ln_ic50"].transform(label_resistant)
    lines = data.features.loc[rows["cosmic_id"].unique()]
    # Label-free filter as in the per-drug models, counted over distinct cell lines.
    kept = lines.columns[(lines != 0).sum(axis=0) >= MIN_CARRIERS]
    X = data.features.loc[rows["cosmic_id"], kept].reset_index(drop=True)
    drug = pd.Categorical(rows["drug"], categories=list(drugs))
    target = pd.Categorical(
        rows["drug"].map(DRUG_TARGET_CLASS),
        categories=sorted(set(map(DRUG_TARGET_CLASS.get, drugs))),
    )
    indicators = [
        pd.get_dummies(values, prefix=prefix[:-1], prefix_sep="=").astype(np.float32)
        for values, prefix in ((drug, DRUG_PREFIXES[0]), (target, DRUG_PREFIXES[1]))
    ]
    return rows, pd.concat([X, *indicators], axis=1)


def grouped_folds(strata: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold number of each row: stratified on ``strata``, a group never split across folds."""
    folds = np.full(len(strata), -1)
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    for number, (_, test) in enumerate(splitter.split(np.zeros(len(strata)), strata, groups)):
        folds[test] = number
    return folds


def fit_pan(
    X: pd.DataFrame, rows: pd.DataFrame, depth: int, prior: bool, seed: int = 0
) -> tuple[object, np.ndarray | None]:
    """The classifier on ``rows`` and its offsets: out-of-fold (drug × tissue) prior, or None."""
    y = rows["resistant"].to_numpy()
    if not prior:
        return make_classifier(depth, seed).fit(X, y), None
    margin = logit(out_of_fold_drug_tissue_rate(rows, seed))
    return make_classifier(depth, seed).fit(X, y, base_margin=margin), margin


def fit_predict_pan(
    X_train: pd.DataFrame,
    rows_train: pd.DataFrame,
    X_test: pd.DataFrame,
    rows_test: pd.DataFrame,
    depth: int,
    prior: bool,
    seed: int = 0,
) -> np.ndarray:
    """Probability of resistance of the test rows; with the prior, offsets from training rows."""
    model, _ = fit_pan(X_train, rows_train, depth, prior, seed)
    if not prior:
        return model.predict_proba(X_test)[:, 1]
    margin = logit(drug_tissue_prior_rate(rows_train, rows_test))
    return model.predict_proba(X_test, base_margin=margin)[:, 1]


def choose_grouped(
    X: pd.DataFrame, rows: pd.DataFrame, strata: np.ndarray, seed: int = 0
) -> tuple[int, bool]:
    """(depth, prior on) with the best mean AUROC over 3 inner folds grouped by cell line.

    Depths from :data:`PAN_DEPTH_GRID`, the (drug × tissue) prior from
    :data:`~oncoresist.validation.gdsc.prior.PRIOR_GRID`; every pair on the same folds, ties keep
    the earlier pair (prior off first).
    """
    folds = grouped_folds(strata, rows["cosmic_id"].to_numpy(), INNER_SPLITS, seed)
    y = rows["resistant"].to_numpy()
    scores = {}
    for prior in PRIOR_GRID:
        for depth in PAN_DEPTH_GRID:
            aucs = []
            for fold in range(INNER_SPLITS):
                valid = folds == fold
                scores_valid = fit_predict_pan(
                    X[~valid], rows[~valid], X[valid], rows[valid], depth, prior, seed
                )
                aucs.append(roc_auc_score(y[valid], scores_valid))
            scores[(depth, prior)] = float(np.mean(aucs))
    return max(scores, key=scores.get)


def drug_tissue_rate(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Each test row's (drug × tissue) resistance rate in ``train`` (the drug's rate if unseen)."""
    rate = np.full(len(test), float(train["resistant"].mean()))
    for drug, rows in test.groupby("drug", sort=False):
        seen = train[train["drug"] == drug]
        if len(seen):
            where = test.index.get_indexer(rows.index)
            rate[where] = tissue_rate_baseline(seen["tissue"], seen["resistant"], rows["tissue"])
    return rate


def auc_ci_by_group(
    y: np.ndarray, groups: np.ndarray, *scores: np.ndarray, seed: int = 0, n: int = 200
) -> tuple:
    """AUROC (or the difference of two) with a bootstrap CI that resamples whole groups.

    Rows of one cell line (one per drug) are not independent, so pooled intervals resample
    cell lines; on one drug's rows every group is one row and this is the row bootstrap.
    """
    codes, _ = pd.factorize(groups)
    members = pd.Series(np.arange(len(codes))).groupby(codes).indices
    members = [members[i] for i in range(len(members))]

    def metric(chosen: np.ndarray) -> float:
        rows = np.concatenate([members[i] for i in chosen])
        if len(np.unique(y[rows])) < 2:
            return np.nan
        values = [roc_auc_score(y[rows], s[rows]) for s in scores]
        return values[0] if len(values) == 1 else values[0] - values[1]

    return tuple(bootstrap_ci(metric, np.arange(len(members)), n_resamples=n, seed=seed))


def evaluate_pan_drug(
    data: GDSCData, drugs: tuple[str, ...], seed: int = 0, n_boot: int = 200
) -> PanDrugResult:
    """Grouped CV vs the (drug × tissue) rate, leave-one-tissue-out, SHAP rank per drug."""
    started = time.perf_counter()
    rows, X = pan_drug_table(data, drugs)
    y = rows["resistant"].to_numpy()
    lines = rows["cosmic_id"].to_numpy()
    strata = (rows["drug"] + ":" + rows["resistant"].astype(str)).to_numpy()
    folds = grouped_folds(strata, lines, N_SPLITS, seed)
    model_cv, base_cv, depths, priors = np.zeros(len(y)), np.zeros(len(y)), [], []
    for fold in range(N_SPLITS):
        test = folds == fold
        train = ~test
        depth, prior = choose_grouped(X[train], rows[train], strata[train], seed)
        depths.append(depth)
        priors.append(prior)
        model_cv[test] = fit_predict_pan(
            X[train], rows[train], X[test], rows[test], depth, prior, seed
        )
        base_cv[test] = drug_tissue_rate(rows[train], rows[test])
    # Fixed depth, without and with the prior (held-out tissue: its drug's training rate).
    loto = {prior: np.zeros(len(y)) for prior in PRIOR_GRID}
    for held_out in rows["tissue"].unique():
        test = (rows["tissue"] == held_out).to_numpy()
        for prior, scores in loto.items():
            scores[test] = fit_predict_pan(
                X[~test], rows[~test], X[test], rows[test], LOTO_DEPTH, prior, seed
            )
    loto_rate = loto_drug_rate_baseline(rows)  # (b)'s naive baseline, on the same rows

    final_depth, final_prior = choose_grouped(X, rows, strata, seed)
    final, margin = fit_pan(X, rows, final_depth, final_prior, seed)
    importance, contribs, _ = shap_with_prior(final, X, margin)
    line_columns = [c for c in importance.index if not c.startswith(DRUG_PREFIXES)]
    line_index = [importance.index.get_loc(c) for c in line_columns]
    per_drug = []
    for drug in drugs:
        mine = (rows["drug"] == drug).to_numpy()
        marker = DRUG_BIOMARKERS[drug]
        present = [c for c in marker.columns if c in X]
        attributions = contribs[mine][:, line_index]
        if margin is not None:
            # The offset's mean over the drug's rows is constant there, like the drug
            # indicators, so it is not ranked: the prior driver (last) is the rest.
            attributions[:, -1] = margin[mine] - margin[mine].mean()
        drivers = driver_ranks(attributions, line_columns, tuple(present))
        positive = X.loc[mine, present].max(axis=1).to_numpy() > 0 if present else None
        push = np.nan
        if positive is not None and positive.any():
            columns = [X.columns.get_loc(c) for c in present]
            push = float(contribs[mine][positive][:, columns].sum(axis=1).mean())
        ci = {
            key: auc_ci_by_group(y[mine], lines[mine], *s, seed=seed, n=n_boot)
            for key, s in (
                ("auroc", (model_cv[mine],)),
                ("auroc_tissue_rate", (base_cv[mine],)),
                ("auroc_gain", (model_cv[mine], base_cv[mine])),
                ("auroc_loto", (loto[False][mine],)),
                ("auroc_loto_prior", (loto[True][mine],)),
                ("auroc_loto_drug_rate", (loto_rate[mine],)),
                ("auroc_loto_gain", (loto[False][mine], loto_rate[mine])),
                ("auroc_loto_prior_gain", (loto[True][mine], loto_rate[mine])),
            )
        }
        per_drug.append(
            {
                "drug": drug,
                "biomarker": "/".join(marker.columns),
                "n_lines": int(mine.sum()),
                "n_positive": 0 if positive is None else int(positive.sum()),
                **ci,
                "shap_rank": drivers["shap_rank"],  # tissue as one driver
                "shap_rank_columns": drivers["shap_rank_columns"],  # as on earlier pages
                "top_k": marker.top_k,
                "shap_push": push,
                "top_drivers": drivers["top_drivers"],
            }
        )
    overall = {
        "n_rows": len(y),
        "n_lines": len(np.unique(lines)),
        "auroc": auc_ci_by_group(y, lines, model_cv, seed=seed, n=n_boot),
        "auroc_tissue_rate": auc_ci_by_group(y, lines, base_cv, seed=seed, n=n_boot),
        "auroc_gain": auc_ci_by_group(y, lines, model_cv, base_cv, seed=seed, n=n_boot),
        "auroc_loto": auc_ci_by_group(y, lines, loto[False], seed=seed, n=n_boot),
        "auroc_loto_prior": auc_ci_by_group(y, lines, loto[True], seed=seed, n=n_boot),
        "auroc_loto_drug_rate": auc_ci_by_group(y, lines, loto_rate, seed=seed, n=n_boot),
        "auroc_loto_gain": auc_ci_by_group(y, lines, loto[False], loto_rate, seed=seed, n=n_boot),
        "auroc_loto_prior_gain": auc_ci_by_group(
            y, lines, loto[True], loto_rate, seed=seed, n=n_boot
        ),
    }
    predictions = rows[["cell_line", "cosmic_id", "tissue", "drug", "resistant"]].assign(
        fold=folds,
        model=model_cv,
        tissue_rate=base_cv,
        loto=loto[False],
        loto_prior=loto[True],
        loto_drug_rate=loto_rate,
    )
    return PanDrugResult(
        pd.DataFrame(per_drug),
        overall,
        predictions,
        depths,
        final_depth,
        X.shape[1],
        time.perf_counter() - started,
        priors,
        final_prior,
    )


def _metric_key(drug: str) -> str:
    """MLflow-safe metric prefix of a drug name (``"Nutlin-3a (-)"`` → ``Nutlin-3a``)."""
    return re.sub(r"[^0-9A-Za-z.\-]+", "_", drug).strip("_-")


def log_pan_drug_run(result: PanDrugResult, experiment: str, uri: str | None) -> str:
    """One MLflow run (dataset ``gdsc1`` × model ``xgboost pan-drug``): pooled and per drug."""
    tags = {"part": "gdsc", "dataset": "gdsc1", "model": "xgboost pan-drug", "drug": "pan-drug"}
    with tracking.start_run(experiment, "gdsc1 · xgboost pan-drug", tags, uri=uri) as run:
        tracking.log_params(
            {
                "drugs": list(result.drugs["drug"]),
                "drug_features": "one-hot drug + one-hot target class",
                # a string: drug names such as "Nutlin-3a (-)" are not valid MLflow keys
                "target_classes": "; ".join(
                    f"{d}: {DRUG_TARGET_CLASS[d]}" for d in result.drugs["drug"]
                ),
                "label": "upper tertile of ln IC50 per drug",
                "folds": "StratifiedGroupKFold(5) on drug x label, grouped by cell line",
                "depth_grid": list(PAN_DEPTH_GRID),
                "depths": result.depths,
                "final_depth": result.final_depth,
                "priors": result.priors,
                "final_prior": result.final_prior,
                "loto_depth": LOTO_DEPTH,
                "n_features": result.n_features,
            }
        )
        metrics = {"n_rows": result.overall["n_rows"], "n_lines": result.overall["n_lines"]}
        keys = ("auroc", "auroc_tissue_rate", "auroc_gain", "auroc_loto", "auroc_loto_prior")
        keys += ("auroc_loto_drug_rate", "auroc_loto_gain", "auroc_loto_prior_gain")
        for row in [{"prefix": "", **result.overall}] + [
            {"prefix": f"{_metric_key(r['drug'])}.", **r} for r in result.drugs.to_dict("records")
        ]:
            for key in keys:
                names = (key, f"{key}_low", f"{key}_high")
                metrics.update({row["prefix"] + n: v for n, v in zip(names, row[key], strict=True)})
            if row["prefix"]:
                metrics[row["prefix"] + "n_positive"] = row["n_positive"]
                metrics[row["prefix"] + "shap_push"] = row["shap_push"]
                for key in ("shap_rank", "shap_rank_columns"):
                    if pd.notna(row[key]):
                        metrics[row["prefix"] + key] = row[key]
        tracking.log_metrics(metrics)
        return run.info.run_id
