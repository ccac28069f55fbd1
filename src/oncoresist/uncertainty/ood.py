"""Out-of-distribution detection: a score, a flag and plain-language reasons per profile.

Score
-----
The features are split into three blocks: **expression** (z-scored genes and program scores),
**genomic** (alteration flags, copy number, knowledge counts, plus the number of the row's altered
genes never seen in training) and **context** (setting, drug, cancer type, line, age, sex). Each
block gets a Mahalanobis distance with a Ledoit–Wolf shrunk covariance fitted on the training
rows (missing values filled with the training mean: a missing value adds no distance). Each
distance becomes a conformal p-value against the same distances of the calibration rows, which
the detector never fitted on: ``p_k = (1 + #{calibration d_k >= d_k}) / (n + 1)`` (Bates et al.
2023, "Testing for outliers with conformal p-values", Ann. Statist. 51:149). The blocks are
combined with Bonferroni, ``p = min(1, 3 min_k p_k)``, and ``ood_score = 1 - p``: 0.99 means the
profile is more unusual than ~99% of in-distribution profiles in its most unusual block.
``ood_flag`` is ``ood_score >= quantile`` (default 0.99: ~1% of in-distribution rows flagged) or
any rule-based reason.

Reasons
-------
Drug, cancer type or setting never seen in training; expression on another level than the
training rows (e.g. unnormalised counts), or whole-number values (raw counts); many expression
genes or panel genes missing; and, for a flagged score, which block is unusual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from sklearn.covariance import LedoitWolf

from oncoresist.exceptions import ConfigError
from oncoresist.features.events import parse_events
from oncoresist.features.inputs import prepare_profiles, unseen_categories

BLOCK_KINDS = {
    "expression": ("expression", "program"),
    "genomic": ("genomic", "knowledge"),
    "context": ("treatment", "clinical"),
}
BLOCK_SENTENCES = {
    "expression": "expression profile unlike the training profiles",
    "genomic": "alteration pattern unlike the training profiles",
    "context": "clinical context (setting, drug, cancer type, line, age) unlike training",
}
#: A row-median expression this many training SDs (of row medians) away is on another level.
LEVEL_SDS = 6.0
#: Rows with at least this many expression values are checked for whole numbers.
MIN_VALUES_FOR_INTEGER_CHECK = 20


class OutOfDistributionDetector:
    """Blockwise Mahalanobis detector with conformal p-values and rule-based reasons.

    Parameters
    ----------
    quantile : float
        ``ood_flag`` when ``ood_score >= quantile``.
    missing_share : float
        A row missing more than this share of the training expression (or panel) genes gets
        the "many genes missing" reason.

    Attributes
    ----------
    blocks_ : dict of str to list of str
        Feature columns per block (blocks without columns are left out).
    location_, precision_ : dict of str to ndarray
        Training mean and shrunk inverse covariance per block.
    reference_ : dict of str to ndarray
        Sorted calibration distances per block.
    training_genes_ : set of str
        Genes with a genomic feature.
    row_median_ : tuple of float
        Mean and SD of training rows' median expression value (input scale).
    integer_share_ : float
        Largest share of whole-number expression values in a training row.
    """

    def __init__(self, quantile: float = 0.99, missing_share: float = 0.5) -> None:
        self.quantile = quantile
        self.missing_share = missing_share

    def fit(
        self,
        builder: object,
        x_train: pd.DataFrame,
        train_profiles: pd.DataFrame,
        x_reference: pd.DataFrame,
        reference_profiles: pd.DataFrame,
    ) -> OutOfDistributionDetector:
        """Fit on training features; take reference distances from held-out calibration rows."""
        if not 0 < self.quantile < 1:
            raise ConfigError(f"ood_quantile must be in (0, 1), got {self.quantile!r}")
        kinds = builder.feature_kinds_  # type: ignore[attr-defined]
        self.training_genes_ = {
            builder.feature_groups_[c]  # type: ignore[attr-defined]
            for c in x_train.columns
            if kinds.get(c) == "genomic"
        }
        self.blocks_ = {}
        self.location_, self.precision_, self.reference_ = {}, {}, {}
        for block, wanted in BLOCK_KINDS.items():
            columns = [c for c in x_train.columns if kinds.get(c) in wanted]
            if not columns:
                continue
            self.blocks_[block] = columns
            train = self._block_matrix(block, x_train, train_profiles, fitting=True)
            # Shrinkage keeps the covariance positive definite: a Cholesky solve is enough
            # (LedoitWolf's own pseudo-inverse runs an eigendecomposition, ~10x slower).
            estimator = LedoitWolf(store_precision=False).fit(train)
            factor = cho_factor(estimator.covariance_)
            self.location_[block] = estimator.location_
            self.precision_[block] = cho_solve(factor, np.eye(train.shape[1]))
            reference = self._block_matrix(block, x_reference, reference_profiles)
            self.reference_[block] = np.sort(self._distance(block, reference))
        expr = _expression(train_profiles)
        medians = expr.median(axis=1, skipna=True).dropna()
        self.row_median_ = (float(medians.mean()), float(medians.std(ddof=0)))
        self.integer_share_ = float(_integer_share(expr).max()) if len(expr.columns) else 0.0
        self.expression_genes_ = list(expr.columns)
        self.panel_missing_ = float(_missing_share(x_train, self._genomic_columns(kinds)).max())
        self.feature_kinds_ = dict(kinds)
        self.categories_ = {
            k: list(v)
            for k, v in builder.categories_.items()  # type: ignore[attr-defined]
        }
        return self

    # ------------------------------------------------------------------ score
    def _block_matrix(
        self,
        block: str,
        features: pd.DataFrame,
        profiles: pd.DataFrame,
        fitting: bool = False,
    ) -> np.ndarray:
        values = features[self.blocks_[block]].to_numpy(dtype=float)
        if block == "genomic":
            values = np.column_stack([values, self._unseen_gene_count(profiles)])
        if fitting:  # remember the training means used to fill gaps
            finite = np.isfinite(values)
            counts = finite.sum(axis=0)
            sums = np.where(finite, values, 0.0).sum(axis=0)
            means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
            self.__dict__.setdefault("fill_", {})[block] = means
        filler = self.fill_[block]
        return np.where(np.isfinite(values), values, filler[None, :])

    def _distance(self, block: str, matrix: np.ndarray) -> np.ndarray:
        centred = matrix - self.location_[block][None, :]
        # The product through BLAS, then a row-wise dot: a three-operand einsum runs an
        # unblocked n x p x p loop (seconds per 5,000 rows of a 500-gene block).
        return np.einsum("ij,ij->i", centred @ self.precision_[block], centred)

    def _unseen_gene_count(self, profiles: pd.DataFrame) -> np.ndarray:

        events = parse_events(prepare_profiles(profiles))
        pairs = pd.concat(
            [
                events.mutations[["row", "gene"]],
                events.copy_number[["row", "gene"]],
                events.fusions[["row", "gene_5p"]].rename(columns={"gene_5p": "gene"}),
                events.fusions[["row", "gene_3p"]].rename(columns={"gene_3p": "gene"}),
            ]
        ).drop_duplicates()
        unseen = pairs[~pairs["gene"].isin(self.training_genes_)]
        counts = np.zeros(len(profiles))
        rows = unseen["row"].to_numpy(dtype=int)
        np.add.at(counts, rows, 1.0)
        return counts

    def block_pvalues(self, features: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
        """Conformal p-value of each block (small = unusual), indexed like ``features``."""
        out = {}
        for block in self.blocks_:
            distance = self._distance(block, self._block_matrix(block, features, profiles))
            reference = self.reference_[block]
            # A distance is a sum of p products: the same profile can land a few last bits
            # away from its fit-time value (BLAS blocking, batch size), and small discrete
            # blocks tie with reference rows often. A reference within that rounding counts
            # as a tie (>=), as an exact tie does, so the p-value does not flicker.
            slack = 1e-8 * (np.abs(distance) + 1.0)
            larger = reference.size - np.searchsorted(reference, distance - slack, side="left")
            out[block] = (1.0 + larger) / (reference.size + 1.0)
        return pd.DataFrame(out, index=features.index)

    def score(self, features: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
        """``ood_score``, ``ood_flag`` and ``ood_reasons`` per row."""
        pvalues = self.block_pvalues(features, profiles)
        combined = np.minimum(1.0, len(self.blocks_) * pvalues.min(axis=1).to_numpy())
        ood_score = 1.0 - combined
        reasons = self.reasons(features, profiles)
        unusual = ood_score >= self.quantile
        for i in np.flatnonzero(unusual):
            block = str(pvalues.columns[int(np.argmin(pvalues.iloc[i].to_numpy()))])
            reasons[i].append(
                f"{BLOCK_SENTENCES[block]} (more unusual than {100 * ood_score[i]:.1f}% "
                "of held-out training-like profiles)"
            )
        return pd.DataFrame(
            {
                "ood_score": ood_score,
                "ood_flag": unusual | np.array([bool(r) for r in reasons]),
                "ood_reasons": ["; ".join(r) for r in reasons],
            },
            index=features.index,
        )

    def score_columns(
        self, bundle: object, profiles: pd.DataFrame, features: pd.DataFrame, out: pd.DataFrame
    ) -> pd.DataFrame:
        """``ood_score``, ``ood_flag``, ``ood_reasons`` for the scoring engine."""
        return self.score(features, profiles).set_axis(out.index)

    # ---------------------------------------------------------------- reasons
    def reasons(self, features: pd.DataFrame, profiles: pd.DataFrame) -> list[list[str]]:
        """Rule-based, plain-language reasons per row (empty list = none)."""
        n = len(profiles)
        reasons: list[list[str]] = [[] for _ in range(n)]
        unseen = unseen_categories(prepare_profiles(profiles), self.categories_)
        for family, label in (
            ("drug", "drug"),
            ("cancer_type", "cancer type"),
            ("setting", "clinical setting"),
        ):
            if family not in unseen.columns:
                continue
            for i, value in enumerate(unseen[family].to_numpy(dtype=object)):
                if isinstance(value, str) and value:
                    reasons[i].append(f"{label} '{value}' never seen in training")
        for i, sentence in enumerate(self._expression_reasons(profiles)):
            if sentence:
                reasons[i].append(sentence)
        panel = _missing_share(features, self._genomic_columns(self.feature_kinds_))
        limit = max(self.missing_share, self.panel_missing_)
        for i in np.flatnonzero(panel > limit):
            reasons[i].append(
                f"{100 * panel[i]:.0f}% of the training alteration features are not on this "
                "sample's panel (missing, not wild-type)"
            )
        return reasons

    def _expression_reasons(self, profiles: pd.DataFrame) -> list[str]:
        expr = _expression(profiles)
        n = len(profiles)
        out = [""] * n
        if not self.expression_genes_:
            return out
        present = expr.reindex(columns=self.expression_genes_)
        missing = present.isna().mean(axis=1).to_numpy()
        median = _row_medians(present.to_numpy(dtype=float))
        integer = _integer_share(present).to_numpy()
        count = present.notna().sum(axis=1).to_numpy()
        mean, sd = self.row_median_
        for i in range(n):
            if missing[i] >= 1.0:
                out[i] = "no expression measured (the model was trained with expression)"
            elif missing[i] > self.missing_share:
                out[i] = (
                    f"{round(float(missing[i]) * len(self.expression_genes_))} of "
                    f"{len(self.expression_genes_)} training expression genes missing"
                )
            elif count[i] >= MIN_VALUES_FOR_INTEGER_CHECK and integer[i] > max(
                0.9, self.integer_share_ + 0.05
            ):
                out[i] = (
                    "expression values are whole numbers: they look like raw counts rather "
                    "than log2(TPM+1)"
                )
            elif sd > 0 and abs(median[i] - mean) > LEVEL_SDS * sd:
                out[i] = (
                    f"expression level differs from training (median {median[i]:.2g} vs "
                    f"{mean:.2g}): raw or unnormalised counts instead of log2(TPM+1)?"
                )
        return out

    @staticmethod
    def _genomic_columns(kinds: dict[str, str]) -> list[str]:
        return [c for c, k in kinds.items() if k == "genomic"]

    def summary(self) -> dict[str, object]:
        """Model-card entry."""
        return {
            "method": "blockwise Mahalanobis (Ledoit-Wolf) on training features, conformal "
            "p-values against calibration rows, Bonferroni over blocks",
            "quantile": float(self.quantile),
            "blocks": {k: len(v) for k, v in self.blocks_.items()},
            "n_reference": int(min(len(v) for v in self.reference_.values())),
        }


def _expression(profiles: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in profiles.columns if str(c).startswith("expr_")]
    frame = profiles[columns]
    if all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        frame = frame.astype(float)  # numbers already: to_numeric would return them as they are
    else:
        frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    frame.columns = [str(c)[len("expr_") :] for c in columns]
    return frame


def _row_medians(values: np.ndarray) -> np.ndarray:
    """Median of each row's non-missing values (NaN for an empty row), as pandas' skipna
    median gives it: one sort of the block instead of pandas' row-by-row selection.
    """
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _integer_share(expr: pd.DataFrame) -> pd.Series:
    values = expr.to_numpy(dtype=float)
    finite = np.isfinite(values)
    whole = finite & (np.abs(values - np.round(values)) < 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = whole.sum(axis=1) / finite.sum(axis=1)
    return pd.Series(np.nan_to_num(share), index=expr.index)


def _missing_share(features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    columns = [c for c in columns if c in features.columns]
    if not columns:
        return np.zeros(len(features))
    return features[columns].isna().mean(axis=1).to_numpy(dtype=float)
