"""Batch scoring engine: profile rows in, one scored row (or one stated rejection) per row out.

:func:`score_profiles` is the one library function the CLI, notebooks, the MLflow pyfunc
model and Dask workers share. It validates the rows (bad rows are rejected with row, column,
value and reason; the others go on), builds features with the bundle's fitted builder,
predicts both models, explains each prediction and stamps provenance on every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncoresist import __version__
from oncoresist.contract import MECHANISMS, Cohort, baseline_samples
from oncoresist.exceptions import Problem, rejected_row_count
from oncoresist.explain.attributions import explain_features, top_drivers_text
from oncoresist.explain.drivers import SURVIVAL_MODEL
from oncoresist.features.profile_text import profiles_as_text
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.io.inputs import with_planned_drug
from oncoresist.io.profiles import profiles_to_cohort
from oncoresist.io.scores import problems_frame
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.knowledge.resistance import known_resistance_for_profile, load_resistance_catalogue

#: Landmarks at which P(resistance-free) is reported.
LANDMARK_MONTHS = (6, 12, 24)
NO_EXPRESSION_WARNING = "no expression data: mechanism confidence reduced"

#: Output columns in order (DESIGN.md "Output of score"); columns that a component does not
#: fill yet are simply absent.
OUTPUT_COLUMNS = (
    "patient_id", "treatment_id", "drug", "setting",
    *[f"p_{m}" for m in MECHANISMS],
    "predicted_mechanism", "mechanism_set",
    "median_months_to_resistance", "months_lo", "months_hi",
    *[f"p_resistance_free_{m}m" for m in LANDMARK_MONTHS],
    "mechanism_drivers", "time_drivers", "known_resistance_alterations",
    "row_warnings", "ood_score", "ood_flag", "ood_reasons",
    "model_name", "model_version", "run_id", "trained_on", "scored_at", "oncoresist_version",
)  # fmt: skip


@dataclass
class ScoreResult:
    """Scored rows, rejected rows and the accounting ``read = scored + rejected``."""

    scores: pd.DataFrame
    rejected: list[Problem] = field(default_factory=list)
    n_read: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        """Rows with a prediction."""
        return len(self.scores)

    @property
    def n_rejected(self) -> int:
        """Distinct input rows rejected (a row with several problems counts once)."""
        return rejected_row_count(self.rejected)

    def accounting(self) -> str:
        """The closing line of every scoring run."""
        return f"read {self.n_read} = scored {self.n_scored} + rejected {self.n_rejected}"

    def errors_frame(self) -> pd.DataFrame:
        """Rejected rows as a table: row number, column, value, reason, fix."""
        return problems_frame(self.rejected)


def score_profiles(
    bundle: Any,
    frame: pd.DataFrame,
    *,
    source: str = "input",
    first_line: int = 2,
    drug: str | None = None,
    top_drivers: int = 3,
    seen_treatments: dict[str, int] | None = None,
    scored_at: str | None = None,
) -> ScoreResult:
    """Score profile-sheet rows with a :class:`~oncoresist.models.bundle.ResistanceBundle`.

    Parameters
    ----------
    bundle : ResistanceBundle
    frame : DataFrame
        Rows of a profile sheet (DESIGN.md): patient_id, cancer_type, drug, line_number,
        mutations, copy_number, fusions, expr_<GENE> ... Cells may be text; alteration cells
        may also be structured (a frame from ``cohort_to_profiles``).
    source : str
        Input name used in rejection reports.
    first_line : int
        Row number of the frame's first row in the input (2 after one header line), unless
        the frame's index is named ``line``.
    drug : str, optional
        Planned therapy for rows whose ``drug`` is empty (or for every row when the column is
        absent).
    top_drivers : int
        Drivers listed per model and row (0 to skip explanations).
    seen_treatments : dict, optional
        Shared across chunks of one input so a repeated treatment in a later chunk is
        rejected too.

    Returns
    -------
    ScoreResult
        ``scores`` in input order (accepted rows), ``rejected`` problems, ``n_read``.
        Probabilities are P(mechanism | resistance occurs).
    """
    # The sheet reader validates text; a frame from cohort_to_profiles (structured cells) is
    # written as its sheet first (text frames pass through untouched).
    frame = profiles_as_text(with_planned_drug(frame, drug))
    sheet = profiles_to_cohort(
        frame, source, first_line=first_line, seen_treatments=seen_treatments
    )
    scores, rejected = score_cohort(
        bundle,
        sheet.cohort,
        source=source,
        row_of_treatment=sheet.row_of_treatment,
        top_drivers=top_drivers,
        scored_at=scored_at,
    )
    return ScoreResult(
        scores=scores,
        rejected=sheet.rejected + rejected,
        n_read=sheet.n_read,
        notes=list(sheet.warnings_),
    )


def score_cohort(
    bundle: Any,
    cohort: Cohort,
    *,
    source: str = "input",
    row_of_treatment: dict[str, int] | None = None,
    top_drivers: int = 3,
    scored_at: str | None = None,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Score every treatment of a validated cohort (canonical, cBioPortal or sheet input).

    Treatments whose drug is unknown are rejected (with the closest known names); the others
    are scored in treatments order.
    """
    row_of_treatment = row_of_treatment or {}
    treatments = cohort.treatments
    if len(treatments) == 0:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS[:4])), []
    lines = [row_of_treatment.get(t, i + 2) for i, t in enumerate(treatments["treatment_id"])]
    annotated, problems = annotate_treatments(
        treatments, cohort.patients, errors="collect", source=source, line_numbers=lines
    )
    if len(annotated) == 0:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS[:4])), problems
    cohort = cohort.with_tables(treatments=annotated.reset_index(drop=True))
    profiles = cohort_to_profiles(cohort)
    scores = score_profile_frame(bundle, profiles, top_drivers=top_drivers, scored_at=scored_at)
    scores = scores.join(_known_alterations(cohort, profiles))
    if "row_warnings" in scores.columns:
        scores["row_warnings"] = _joined(
            scores["row_warnings"], _unknown_genes(bundle, cohort, profiles)
        )
    return _ordered(scores), problems


def score_profile_frame(
    bundle: Any,
    profiles: pd.DataFrame,
    *,
    top_drivers: int = 3,
    scored_at: str | None = None,
) -> pd.DataFrame:
    """Predictions, drivers, warnings and provenance for an annotated profile frame."""
    features = bundle.features(profiles)
    features.index = profiles.index
    out = profiles[["patient_id", "treatment_id", "drug", "setting"]].copy()
    out = out.join(bundle.predict_features(features))
    landmarks = bundle.survival_model.predict_survival_function(
        features, np.asarray(LANDMARK_MONTHS, dtype=float)
    )
    for j, month in enumerate(LANDMARK_MONTHS):
        out[f"p_resistance_free_{month}m"] = landmarks[:, j]
    for name, extra in bundle.extras.items():
        contribute = getattr(extra, "score_columns", None)
        if contribute is not None:
            out = out.join(contribute(bundle, profiles, features, out), rsuffix=f"_{name}")
    if top_drivers > 0:
        explanation = explain_features(bundle, features)
        out["mechanism_drivers"] = top_drivers_text(
            bundle, explanation, "mechanism", out["predicted_mechanism"].tolist(), top_drivers
        )
        out["time_drivers"] = top_drivers_text(
            bundle, explanation, SURVIVAL_MODEL, None, top_drivers
        )
    out["row_warnings"] = _row_warnings(bundle, profiles)
    meta = bundle.metadata
    out["model_name"] = meta.get("model_name", "oncoresist")
    out["model_version"] = str(meta.get("model_version", ""))
    out["run_id"] = meta.get("run_id", "")
    out["trained_on"] = meta.get("trained_on", "")
    out["scored_at"] = scored_at or pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    out["oncoresist_version"] = __version__
    return out


def _row_warnings(bundle: Any, profiles: pd.DataFrame) -> pd.Series:
    messages: list[list[str]] = [[] for _ in range(len(profiles))]
    expr = [c for c in profiles.columns if str(c).startswith("expr_")]
    no_expression = (
        profiles[expr].isna().all(axis=1).to_numpy() if expr else np.ones(len(profiles), dtype=bool)
    )
    for i in np.flatnonzero(no_expression):
        messages[i].append(NO_EXPRESSION_WARNING)
    unseen = getattr(bundle.feature_builder, "unseen_categories", None)
    if unseen is not None:
        sentences = unseen(profiles)["warning"].to_numpy()
        for i, sentence in enumerate(sentences):
            if isinstance(sentence, str) and sentence:
                messages[i].append(sentence)
    return pd.Series(["; ".join(m) for m in messages], index=profiles.index, dtype=object)


def _joined(first: pd.Series, second: pd.Series) -> pd.Series:
    """Join two warning columns with '; ', skipping empty parts."""
    return pd.Series(
        ["; ".join(p for p in pair if p) for pair in zip(first, second, strict=True)],
        index=first.index,
        dtype=object,
    )


def _unknown_genes(bundle: Any, cohort: Cohort, profiles: pd.DataFrame) -> pd.Series:
    """Per row, the altered genes that no feature of the model reads (kept, flagged).

    A gene outside the training data (or too rare there) changes nothing in the prediction;
    the reader should know that its alteration was not weighed.
    """
    specs = getattr(bundle.feature_builder, "feature_specs_", [])
    known = {gene for spec in specs for gene in spec.genes}
    parts = [
        cohort.mutations[["sample_id", "gene"]],
        cohort.copy_number[["sample_id", "gene"]],
        cohort.fusions[["sample_id", "gene_5p"]].set_axis(["sample_id", "gene"], axis=1),
        cohort.fusions[["sample_id", "gene_3p"]].set_axis(["sample_id", "gene"], axis=1),
    ]
    genes = pd.concat(parts, ignore_index=True)
    genes = genes[~genes["gene"].astype(str).isin(known)]
    texts = pd.Series("", index=profiles.index, dtype=object)
    if len(genes) == 0:
        return texts
    pairs = baseline_samples(cohort)[["treatment_id", "sample_id"]]
    found = pairs.merge(genes, on="sample_id")
    by_treatment = found.groupby("treatment_id")["gene"].agg(
        lambda g: ", ".join(sorted(set(map(str, g))))
    )
    named = profiles["treatment_id"].map(by_treatment)
    mask = named.notna().to_numpy()
    texts[mask] = "genes the model has no feature for (not weighed): " + named[mask]
    return texts


def _known_alterations(cohort: Cohort, profiles: pd.DataFrame) -> pd.DataFrame:
    """Known resistance alterations for each row's drug among its baseline alterations.

    Only alterations in catalogued genes can match, so the others are dropped first, and rows
    sharing a drug and the same catalogued alterations are looked up once (most rows have
    none, many share a driver such as EGFR p.L858R).
    """
    catalogue = load_resistance_catalogue()
    catalogued = {entry.gene for entry in catalogue.entries}

    def in_catalogue(values: pd.Series) -> np.ndarray:
        keep = {v for v in pd.unique(values.dropna()) if catalogue.gene(v) in catalogued}
        return values.isin(keep).to_numpy()

    mutations = cohort.mutations[in_catalogue(cohort.mutations["gene"])]
    cnas = cohort.copy_number[in_catalogue(cohort.copy_number["gene"])]
    fusions = cohort.fusions[
        in_catalogue(cohort.fusions["gene_5p"]) | in_catalogue(cohort.fusions["gene_3p"])
    ]
    pairs = baseline_samples(cohort)[["treatment_id", "sample_id"]]
    tables = {"mutations": mutations, "copy_number": cnas, "fusions": fusions}
    # the columns the lookup reads (vaf is NaN in sheets, and NaN keys never hit a cache)
    used = {
        "mutations": ["gene", "protein_change", "variant_class"],
        "copy_number": ["gene", "cn_state"],
        "fusions": ["gene_5p", "gene_3p"],
    }
    columns = {name: [c for c in used[name] if c in t.columns] for name, t in tables.items()}
    items: dict[str, dict[str, list[tuple[object, ...]]]] = {}
    for name, table in tables.items():
        if len(table) == 0:
            continue
        linked = pairs.merge(table, on="sample_id")
        for treatment, *values in linked[["treatment_id", *columns[name]]].itertuples(
            index=False, name=None
        ):
            items.setdefault(str(treatment), {}).setdefault(name, []).append(tuple(values))

    cache = _known_texts(catalogue)
    texts = []
    for treatment, drug in zip(profiles["treatment_id"], profiles["drug"], strict=True):
        found_items = items.get(str(treatment))
        if not found_items:
            texts.append("")
            continue
        signature = (drug, *(tuple(found_items.get(name, ())) for name in tables))
        if signature not in cache:
            frames = {
                name: pd.DataFrame(found_items.get(name, []), columns=columns[name])
                for name in tables
            }
            found = known_resistance_for_profile(
                frames["mutations"], frames["copy_number"], frames["fusions"], drug
            )
            cache[signature] = "; ".join(dict.fromkeys(f"{m.label} [{m.source}]" for m in found))
        texts.append(cache[signature])
    return pd.DataFrame({"known_resistance_alterations": texts}, index=profiles.index)


#: Known-alteration texts by (drug, catalogued alterations), kept across chunks of one run
#: (and runs in one process) for the catalogue they were looked up in; bounded.
_KNOWN_TEXTS: dict[str, Any] = {"catalogue": None, "texts": {}}
_KNOWN_TEXTS_MAX = 50_000


def _known_texts(catalogue: Any) -> dict[tuple[object, ...], str]:
    if _KNOWN_TEXTS["catalogue"] is not catalogue or len(_KNOWN_TEXTS["texts"]) > _KNOWN_TEXTS_MAX:
        _KNOWN_TEXTS["catalogue"], _KNOWN_TEXTS["texts"] = catalogue, {}
    return _KNOWN_TEXTS["texts"]


def _ordered(scores: pd.DataFrame) -> pd.DataFrame:
    present = [c for c in OUTPUT_COLUMNS if c in scores.columns]
    rest = [c for c in scores.columns if c not in set(OUTPUT_COLUMNS)]
    return scores[present + rest].reset_index(drop=True)


def check_nothing_lost(result: ScoreResult) -> None:
    """Raise if the accounting does not add up (a bug, never a data problem)."""
    if result.n_scored + result.n_rejected != result.n_read:
        raise RuntimeError(f"row accounting failed: {result.accounting()}; please report this bug")
