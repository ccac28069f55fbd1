"""GDSC1 data for the benchmarks: the join, the label rule, the classifier and shared constants.

Used by the per-drug models (:mod:`oncoresist.validation.gdsc.benchmark`), the tissue prior
(:mod:`oncoresist.validation.gdsc.prior`) and the pan-drug model
(:mod:`oncoresist.validation.gdsc.pandrug`); the rules are described in
:mod:`oncoresist.validation.gdsc.benchmark` and on the generated page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncoresist.exceptions import InputDataError


@dataclass(frozen=True)
class Biomarker:
    """Known single-gene biomarker of a drug, named as in the GDSC feature file."""

    columns: tuple[str, ...]
    effect: str  # "resistance" or "sensitivity" when present
    top_k: int  # target rank among SHAP drivers


BRAF, RAS = ("BRAF_mut",), ("BRAF_mut", "KRAS_mut", "NRAS_mut")
DRUG_BIOMARKERS = {
    "Nutlin-3a (-)": Biomarker(("TP53_mut",), "resistance", 1),
    "Dabrafenib": Biomarker(BRAF, "sensitivity", 1),
    "PLX-4720": Biomarker(BRAF, "sensitivity", 1),
    "SB590885": Biomarker(BRAF, "sensitivity", 1),
    "Trametinib": Biomarker(RAS, "sensitivity", 3),
    "Selumetinib": Biomarker(RAS, "sensitivity", 3),
    "Erlotinib": Biomarker(("EGFR_mut",), "sensitivity", 3),
    "Gefitinib": Biomarker(("EGFR_mut",), "sensitivity", 3),
    "Afatinib": Biomarker(("EGFR_mut",), "sensitivity", 3),
    "Lapatinib": Biomarker(("gain_cnaPANCAN301_(CDK12,ERBB2,MED24)",), "sensitivity", 3),
    "Crizotinib": Biomarker(("MET_mut", "ALK_mut", "gain_cnaPANCAN129_(MET)"), "sensitivity", 3),
}
MIN_POSITIVE = 15
MIN_CARRIERS = 5
RESISTANT_QUANTILE = 2 / 3
DEPTH_GRID = (1, 3)


def normalise_name(name: object) -> str:
    """Upper case with every non-alphanumeric character dropped (``"NCI-H1975"`` → ``NCIH1975``)."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


@dataclass
class GDSCData:
    """Joined GDSC1 data.

    Attributes
    ----------
    responses : DataFrame
        cell_line, cosmic_id, tissue, drug, ln_ic50 (mean over repeats), n_screens.
    features : DataFrame
        Indexed by cosmic_id: binary genomic features, MSI and ``tissue=<name>`` indicators.
    join : dict
        Counts and the names that did not match, for the report.
    """

    responses: pd.DataFrame
    features: pd.DataFrame
    join: dict[str, object] = field(default_factory=dict)


def join_gdsc(ic50: pd.DataFrame, cosmic: pd.DataFrame, genomic: pd.DataFrame) -> GDSCData:
    """Match screens to COSMIC lines and genomic features; average repeated screens."""
    for frame, columns, what in (
        (ic50, {"CELL_LINE_NAME", "DRUG_NAME", "LN_IC50"}, "GDSC1_IC50.csv"),
        (cosmic, {"SAMPLE_NAME", "COSMIC_ID", "GDSC1"}, "cosmic_info.csv.gz"),
        (genomic, {"COSMIC_ID"}, "genomic_features_v17.csv.gz"),
    ):
        missing = sorted(columns - set(frame.columns))
        if missing:
            raise InputDataError(f"{what} lacks column(s) {missing}")
    exact = dict(zip(cosmic["SAMPLE_NAME"].astype(str), cosmic["COSMIC_ID"], strict=True))
    normalised = cosmic.assign(key=cosmic["SAMPLE_NAME"].map(normalise_name))
    unique = normalised.groupby("key")["COSMIC_ID"].agg(
        lambda ids: ids.iloc[0] if len(ids) == 1 else None
    )
    names = pd.Series(ic50["CELL_LINE_NAME"].astype(str).unique())
    by_exact = names.map(exact)
    by_norm = names.map(normalise_name).map(unique.dropna())
    cosmic_id = by_exact.fillna(by_norm)
    has_features = cosmic_id.isin(set(genomic["COSMIC_ID"]))
    lookup = dict(zip(names[has_features], cosmic_id[has_features].astype(np.int64), strict=True))
    tissue = dict(zip(cosmic["COSMIC_ID"], cosmic["GDSC1"].fillna("unknown"), strict=False))

    pairs = ic50.groupby(["CELL_LINE_NAME", "DRUG_NAME"], as_index=False).agg(
        ln_ic50=("LN_IC50", "mean"), n_screens=("LN_IC50", "size")
    )
    pairs = pairs[pairs["CELL_LINE_NAME"].isin(lookup)].rename(
        columns={"CELL_LINE_NAME": "cell_line", "DRUG_NAME": "drug"}
    )
    pairs.insert(1, "cosmic_id", pairs["cell_line"].map(lookup).astype(np.int64))
    pairs.insert(2, "tissue", pairs["cosmic_id"].map(tissue))

    numeric = genomic.drop(columns=[c for c in ("TISSUE_FACTOR",) if c in genomic]).set_index(
        "COSMIC_ID"
    )
    numeric = numeric.apply(pd.to_numeric, errors="coerce").astype(np.float32)
    lines = pd.Index(sorted(set(lookup.values())), name="cosmic_id")
    tissues = pd.get_dummies(
        pd.Series(lines.map(tissue), index=lines), prefix="tissue", prefix_sep="="
    )
    features = numeric.loc[lines].join(tissues.astype(np.float32))
    join = {
        "screened_names": int(names.size),
        "matched_exact": int(by_exact.notna().sum()),
        "matched_normalised": int((by_exact.isna() & by_norm.notna()).sum()),
        "unmatched": sorted(names[cosmic_id.isna()]),
        "without_features": sorted(names[cosmic_id.notna() & ~has_features]),
        "cell_lines": len(lines),
        "repeated_pairs": int((pairs["n_screens"] > 1).sum()),
    }
    return GDSCData(pairs.reset_index(drop=True), features, join)


def label_resistant(ln_ic50: pd.Series, quantile: float = RESISTANT_QUANTILE) -> pd.Series:
    """1 when ln IC50 is in the drug's upper tertile (>= its 2/3 quantile), else 0."""
    values = pd.to_numeric(ln_ic50, errors="coerce")
    if values.isna().any():
        raise InputDataError("ln IC50 has missing or non-numeric values")
    return (values >= values.quantile(quantile)).astype(np.int64)


def tissue_rate_baseline(
    tissue_train: pd.Series, y_train: np.ndarray, tissue_test: pd.Series
) -> np.ndarray:
    """Each test line's tissue resistance rate in the training rows (overall rate if unseen)."""
    rates = pd.Series(np.asarray(y_train, dtype=float), index=tissue_train.to_numpy())
    rates = rates.groupby(level=0).mean()
    return tissue_test.map(rates).fillna(float(np.mean(y_train))).to_numpy(dtype=float)


# ----------------------------------------------------------------------------- models
def make_classifier(max_depth: int = 2, seed: int = 0) -> object:
    """The gradient-boosted classifier used for every drug (one thread: small data)."""
    from xgboost import XGBClassifier  # noqa: PLC0415

    return XGBClassifier(
        n_estimators=100,
        learning_rate=0.1,
        max_depth=max_depth,
        subsample=0.8,
        colsample_bytree=0.5,
        min_child_weight=1.0,
        max_bin=64,
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
    )
