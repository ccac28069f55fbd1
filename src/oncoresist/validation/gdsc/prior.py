"""Tissue prior as an offset for the GDSC1 models (:mod:`oncoresist.validation.gdsc.benchmark`).

The tissue's resistance rate is a strong predictor that trees must otherwise relearn from
sparse one-hot tissue columns. With the prior on, XGBoost starts every row from
``base_margin = logit(rate)``, the line's *smoothed* tissue resistance rate, so that the trees
only learn what the genomic features (and tissue, still a feature) add beyond it.

* **Smoothing**: m-estimate ``(k + m p) / (n + m)`` for a tissue with k resistant lines out of
  n, ``p`` the overall rate of the rows it is computed from and ``m =`` :data:`PRIOR_M` (fixed
  before any result was seen: a tissue needs ~10 lines before its own rate outweighs ``p``).
  A tissue absent from those rows gets ``p``.
* **No own label**: a training row's rate is computed out of fold (:data:`ENCODING_SPLITS`-fold
  target encoding inside the training rows), so its own label never sets its own offset; a
  test row's rate comes from all training rows. In leave-one-tissue-out the held-out tissue is
  absent from training, so its offset is the constant ``logit(p)``.
* **Choice**: prior on/off is a hyperparameter chosen with the depth by the same 3-fold inner
  CV on the training folds only (:func:`choose_depth_and_prior`).
* **Pan-drug model** (:mod:`oncoresist.validation.gdsc.pandrug`): the same option with the
  (drug × tissue) rate, shrunk towards the drug's rate, out of fold with folds grouped by cell
  line (:func:`out_of_fold_drug_tissue_rate`), chosen by its grouped inner CV.
* **SHAP**: with an offset the tissue's share of the margin sits outside the features, which
  would flatter the biomarker's rank. :func:`shap_with_prior` adds a pseudo-driver
  :data:`PRIOR_DRIVER` whose attribution is the offset minus its mean over rows; the biomarker
  is ranked among all drivers, this one included. Attributions + base still sum to the margin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

from oncoresist.validation.gdsc.data import DEPTH_GRID, make_classifier

PRIOR_M = 10.0
ENCODING_SPLITS = 5
PRIOR_GRID = (False, True)
PRIOR_DRIVER = "tissue (prior)"
_EPS = 1e-6  # keeps the logit finite for a rate of 0 or 1 (impossible with m > 0 and 0 < p < 1)


def smoothed_rate(
    groups_train: pd.Series, y_train: np.ndarray, groups_test: pd.Series, m: float = PRIOR_M
) -> np.ndarray:
    """m-estimate ``(k + m p) / (n + m)`` of each test row's group in the training rows.

    ``p`` is the training rows' overall rate; a group absent from them gets ``p``.
    """
    y = np.asarray(y_train, dtype=float)
    p = float(y.mean())
    counts = pd.Series(y, index=np.asarray(groups_train)).groupby(level=0).agg(["sum", "size"])
    rate = (counts["sum"] + m * p) / (counts["size"] + m)
    return pd.Series(np.asarray(groups_test)).map(rate).fillna(p).to_numpy(dtype=float)


def out_of_fold_rate(
    groups: pd.Series, y: np.ndarray, seed: int = 0, n_splits: int = ENCODING_SPLITS
) -> np.ndarray:
    """:func:`smoothed_rate` of every row from the other folds only (K-fold target encoding)."""
    groups = pd.Series(np.asarray(groups))
    y = np.asarray(y)
    rate = np.zeros(len(y))
    for fit, apply in KFold(n_splits, shuffle=True, random_state=seed).split(rate):
        rate[apply] = smoothed_rate(groups.iloc[fit], y[fit], groups.iloc[apply])
    return rate


def logit(rate: np.ndarray) -> np.ndarray:
    """Log-odds of a rate (the margin XGBoost starts from)."""
    rate = np.clip(np.asarray(rate, dtype=float), _EPS, 1 - _EPS)
    return np.log(rate / (1 - rate))


def prior_margins(
    tissue_train: pd.Series, y_train: np.ndarray, tissue_test: pd.Series, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the training rows (out of fold) and of the test rows (all training rows)."""
    train = logit(out_of_fold_rate(tissue_train, y_train, seed))
    return train, logit(smoothed_rate(tissue_train, y_train, tissue_test))


def fit_with_prior(
    X: pd.DataFrame, y: np.ndarray, margin: np.ndarray | None, depth: int, seed: int = 0
) -> object:
    """The per-drug classifier fitted from ``margin`` (None: from XGBoost's own base score)."""
    model = make_classifier(depth, seed)
    return model.fit(X, y) if margin is None else model.fit(X, y, base_margin=margin)


def fit_predict(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    tissue_train: pd.Series,
    X_test: pd.DataFrame,
    tissue_test: pd.Series,
    depth: int,
    prior: bool,
    seed: int = 0,
) -> np.ndarray:
    """Probability of resistance of the test rows, with or without the tissue prior."""
    if not prior:
        return fit_with_prior(X_train, y_train, None, depth, seed).predict_proba(X_test)[:, 1]
    train_margin, test_margin = prior_margins(tissue_train, y_train, tissue_test, seed)
    model = fit_with_prior(X_train, y_train, train_margin, depth, seed)
    return model.predict_proba(X_test, base_margin=test_margin)[:, 1]


def choose_depth_and_prior(
    X: pd.DataFrame, y: np.ndarray, tissue: pd.Series, seed: int = 0
) -> tuple[int, bool]:
    """(depth, prior on) with the best mean AUROC over 3 stratified inner folds of ``X``.

    Depths from :data:`oncoresist.validation.gdsc.data.DEPTH_GRID`, prior from :data:`PRIOR_GRID`;
    every pair is scored on the same folds. Ties keep the earlier pair (prior off first).
    """
    y = np.asarray(y)
    tissue = pd.Series(np.asarray(tissue))
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y))
    scores = {}
    for prior in PRIOR_GRID:
        for depth in DEPTH_GRID:
            aucs = [
                roc_auc_score(
                    y[valid],
                    fit_predict(
                        X.iloc[train], y[train], tissue.iloc[train],
                        X.iloc[valid], tissue.iloc[valid], depth, prior, seed,
                    ),
                )
                for train, valid in folds
            ]  # fmt: skip
            scores[(depth, prior)] = float(np.mean(aucs))
    return max(scores, key=scores.get)


def shap_with_prior(
    model: object, X: pd.DataFrame, margin: np.ndarray | None
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Mean |SHAP| per driver, per-row attributions and the base value (exact tree SHAP).

    Without a margin the drivers are the features. With one, :data:`PRIOR_DRIVER` is added
    (last column): the row's offset minus the offset's mean over ``X``, the mean going to the
    base. Either way attributions + base = the model's margin on each row.
    """
    import xgboost as xgb  # noqa: PLC0415

    matrix = xgb.DMatrix(X) if margin is None else xgb.DMatrix(X, base_margin=margin)
    contribs = model.get_booster().predict(matrix, pred_contribs=True)
    # With a base_margin, XGBoost's bias column holds the row's offset + the trees' mean output.
    attributions, base = contribs[:, :-1].astype(float), contribs[:, -1].astype(float)
    names = list(X.columns)
    if margin is not None:
        offset = np.asarray(margin, dtype=float)
        attributions = np.column_stack([attributions, offset - offset.mean()])
        base = base - (offset - offset.mean())
        names.append(PRIOR_DRIVER)
    importance = pd.Series(np.abs(attributions).mean(axis=0), index=names)
    return importance, attributions, base


# ------------------------------------------------------------------ pan-drug model prior
def drug_tissue_prior_rate(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Pan-drug prior: each test row's smoothed (drug × tissue) resistance rate in ``train``.

    Per drug, :func:`smoothed_rate` of the row's tissue among that drug's training rows, so a
    tissue is shrunk towards the drug's own rate; a drug without training rows gets the
    overall training rate. Both frames carry ``drug`` and ``tissue``, ``train`` ``resistant``.
    """
    rate = np.full(len(test), float(train["resistant"].mean()))
    test_drug, test_tissue = test["drug"].to_numpy(), test["tissue"].to_numpy()
    for drug in pd.unique(test_drug):
        seen = train[train["drug"].to_numpy() == drug]
        if len(seen):
            where = test_drug == drug
            rate[where] = smoothed_rate(
                seen["tissue"], seen["resistant"].to_numpy(), pd.Series(test_tissue[where])
            )
    return rate


def out_of_fold_drug_tissue_rate(
    rows: pd.DataFrame, seed: int = 0, n_splits: int = ENCODING_SPLITS
) -> np.ndarray:
    """:func:`drug_tissue_prior_rate` of every row from the other folds only.

    Folds are grouped by cell line (``cosmic_id``: a line's rows for all drugs share a fold)
    and stratified on the drug, never on the label, so a row's own label neither enters its
    rate nor moves it to another fold.
    """
    rate = np.zeros(len(rows))
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    drug, line = rows["drug"].to_numpy(), rows["cosmic_id"].to_numpy()
    for fit, apply in splitter.split(np.zeros(len(rows)), drug, line):
        rate[apply] = drug_tissue_prior_rate(rows.iloc[fit], rows.iloc[apply])
    return rate
