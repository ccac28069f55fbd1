"""FeatureBuilder: a profile frame → one named, float64 feature matrix.

The builder is a scikit-learn transformer. ``fit`` learns everything it needs (which genes,
alterations and categories become columns; expression means and SDs) from the rows it is
given — the training rows — and ``transform`` rebuilds exactly those columns for any profile
frame, so a model sees at scoring time what it saw in training. Its input is the profile frame
of :mod:`oncoresist.features.profiles`, which holds baseline samples only by construction.

Columns, in this order (names are readable and valid XGBoost feature names):

* ``kb:known_resistance_count``, ``kb:on_target_alteration``, ``kb:bypass_alteration``;
* ``mut:<GENE>`` (0/1), ``alt:<GENE> <p.CHANGE>`` (0/1), ``cna:<GENE>`` (-2..2),
  ``fusion:<5P>-<3P>`` and ``fusion_variant:<5P>-<3P> <variant>`` (0/1) — NaN when the gene
  was not on the row's panel (or nothing was profiled), never 0;
* ``expr:<GENE>`` (z-scored with training statistics), ``program:<name>`` (z-scored);
* ``setting:``, ``drug_class:``, ``target:``, ``drug:`` one-hots, ``generation``,
  ``line_number``, ``is_combination``;
* ``age_years``, ``sex:`` and ``cancer_type:`` one-hots.

A category never seen in training gives an all-zero one-hot (listed by
:meth:`FeatureBuilder.unseen_categories`); missing values are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from oncoresist.contract import EXPRESSION_SCALES
from oncoresist.exceptions import ConfigError, InputDataError, Problem
from oncoresist.features.events import parse_events
from oncoresist.features.genomic import (
    GENOMIC_FAMILIES,
    genomic_block,
    genomic_specs,
)
from oncoresist.features.inputs import (
    CATEGORY_FAMILIES,
    SPLIT_FAMILIES,
    category_pairs,
    check_expression_values,
    combination_flags,
    declared_scale,
    expression_map,
    numeric_column,
    one_hot,
    prepare_profiles,
    program_frame,
    resolve_signatures,
    unseen_categories,
)
from oncoresist.features.knowledge import KB_FEATURES, catalogued, knowledge_counts
from oncoresist.features.names import FeatureSpec, describe, feature_name
from oncoresist.features.profile_text import gc_paused

__all__ = ["FeatureBuilder"]

_TREATMENT_CATEGORIES = ("setting", "drug_class", "target", "drug")
_EXPRESSION_MODES = ("zscore", "raw", "none")


def _zstats(values: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    # Population SD (ddof=0), as StandardScaler; pandas skips NaN without warnings.
    return values.mean(), values.std(ddof=0)


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Build the named feature matrix of a profile frame (fitted on training rows only).

    Parameters
    ----------
    min_patients : int, default 5
        A gene-level mutation flag, named alteration, CNA gene, fusion or fusion variant
        becomes a column when seen in at least this many distinct training patients.
        Alterations the knowledge base lists as resistance alterations become columns when
        seen in training at all (needs ``knowledge_flags``).
    expression : {"zscore", "raw", "none"}, default "zscore"
        Expression features z-scored with training mean/SD, kept on the input scale, or left out.
    program_scores : bool, default True
        Add ``program:<name>`` scores, z-scored
        (:func:`oncoresist.knowledge.programs.program_scores`).
    top_variance_genes : int, optional
        Keep only the N genes with the largest training variance as ``expr:`` columns.
    knowledge_flags : bool, default True
        Add ``kb:`` counts and the always-on catalogue alteration flags.
    include_expression_genes : bool, default True
        Add per-gene ``expr:`` columns (False keeps only program scores).
    signatures : mapping or path, optional
        Expression programs; defaults to ``data/knowledge/signatures.yaml``. Read once at fit.

    Attributes
    ----------
    feature_specs_ : tuple of FeatureSpec
        What each output column reads, in column order.
    feature_names_out_ : ndarray of str
    feature_groups_ : dict of str to str
        Feature → source group (``mut:TP53``, ``alt:TP53 p.R273H`` → "TP53").
    feature_kinds_ : dict of str to str
        Feature → genomic | expression | program | treatment | clinical | knowledge.
    expression_scale_ : str
        The scale of the training expression; other scales are refused.
    expression_mean_, expression_sd_ : Series
        Training statistics of the kept ``expr:`` genes.
    program_mean_, program_sd_ : Series
        Training statistics of the kept programs.
    categories_ : dict of str to list of str
        Training categories of each one-hot family.
    n_training_rows_, n_training_patients_ : int
    """

    def __init__(
        self,
        min_patients: int = 5,
        expression: str = "zscore",
        program_scores: bool = True,
        top_variance_genes: int | None = None,
        knowledge_flags: bool = True,
        include_expression_genes: bool = True,
        signatures: Mapping | str | Path | None = None,
    ) -> None:
        self.min_patients = min_patients
        self.expression = expression
        self.program_scores = program_scores
        self.top_variance_genes = top_variance_genes
        self.knowledge_flags = knowledge_flags
        self.include_expression_genes = include_expression_genes
        self.signatures = signatures

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags

    # ----------------------------------------------------------------------------------
    # fit
    # ----------------------------------------------------------------------------------

    def fit(self, profiles: pd.DataFrame, y: object = None) -> FeatureBuilder:
        """Learn columns and statistics from the training rows of a profile frame.

        Parameters
        ----------
        profiles : DataFrame
            Profile frame of the training rows only.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        frame = prepare_profiles(profiles)
        scale = declared_scale(frame)
        if scale not in EXPRESSION_SCALES:
            raise InputDataError(
                f"unknown expression scale {scale!r}",
                [
                    Problem(
                        "profiles",
                        None,
                        "expression",
                        str(scale),
                        "unknown scale",
                        f"declare one of {', '.join(EXPRESSION_SCALES)}",
                    )
                ],
            )
        check_expression_values(frame, scale)
        self.expression_scale_ = scale
        patients = frame["patient_id"].astype(str).to_numpy(dtype=object)
        with gc_paused():
            events = parse_events(frame)
        specs: list[FeatureSpec] = []
        if self.knowledge_flags:
            specs += [FeatureSpec(feature_name("kb", k), "kb", k) for k in KB_FEATURES]
        listed = catalogued if self.knowledge_flags else None
        specs += genomic_specs(events, patients, self.min_patients, listed)
        specs += self._fit_expression(frame)
        specs += self._fit_programs(frame)
        self.categories_ = {}
        for family in _TREATMENT_CATEGORIES:
            specs += self._fit_categories(frame, family)
        specs += [FeatureSpec(n, n) for n in ("generation", "line_number", "is_combination")]
        specs.append(FeatureSpec("age_years", "age_years"))
        for family in ("sex", "cancer_type"):
            specs += self._fit_categories(frame, family)

        names = [s.name for s in specs]
        if len(set(names)) != len(names):  # two keys sanitised to one name: keep both, apart
            seen: dict[str, int] = {}
            for i, spec in enumerate(specs):
                seen[spec.name] = seen.get(spec.name, 0) + 1
                if seen[spec.name] > 1:
                    specs[i] = FeatureSpec(
                        f"{spec.name} ({seen[spec.name]})", spec.family, spec.key, spec.genes
                    )
        self.feature_specs_ = tuple(specs)
        self.feature_names_out_ = np.asarray([s.name for s in specs], dtype=object)
        self.feature_groups_ = {s.name: s.group for s in specs}
        self.feature_kinds_ = {s.name: s.kind for s in specs}
        self.n_training_rows_ = len(frame)
        self.n_training_patients_ = int(pd.Series(patients).nunique())
        return self

    def _check_params(self) -> None:
        if not isinstance(self.min_patients, int | np.integer) or self.min_patients < 1:
            raise ConfigError(
                f"min_patients must be a whole number >= 1, got {self.min_patients!r}"
            )
        if self.expression not in _EXPRESSION_MODES:
            raise ConfigError(
                f"expression must be one of {_EXPRESSION_MODES}, got {self.expression!r}"
            )
        top = self.top_variance_genes
        if top is not None and (not isinstance(top, int | np.integer) or top < 1):
            raise ConfigError(f"top_variance_genes must be None or an integer >= 1, got {top!r}")

    def _fit_expression(self, frame: pd.DataFrame) -> list[FeatureSpec]:
        self.expression_mean_ = pd.Series(dtype=float)
        self.expression_sd_ = pd.Series(dtype=float)
        columns = expression_map(frame)
        if self.expression == "none" or not self.include_expression_genes or not columns:
            return []
        genes = sorted(columns)
        values = frame[[columns[g] for g in genes]].astype(float)
        values.columns = genes
        mean, sd = _zstats(values)
        # A gene without spread in training carries no information (and cannot be z-scored).
        usable = sd.notna() & (sd > 0)
        mean, sd = mean[usable], sd[usable]
        if self.top_variance_genes is not None and len(sd) > self.top_variance_genes:
            ranked = sd.sort_values(ascending=False, kind="stable")
            chosen = sorted(ranked.index[: self.top_variance_genes])
            mean, sd = mean[chosen], sd[chosen]
        self.expression_mean_, self.expression_sd_ = mean, sd
        return [FeatureSpec(feature_name("expr", g), "expr", g) for g in mean.index]

    def _fit_programs(self, frame: pd.DataFrame) -> list[FeatureSpec]:
        self.signatures_ = None
        self.program_mean_ = pd.Series(dtype=float)
        self.program_sd_ = pd.Series(dtype=float)
        if not self.program_scores or self.expression == "none" or not expression_map(frame):
            return []
        self.signatures_ = resolve_signatures(self.signatures)
        mean, sd = _zstats(program_frame(frame, self.signatures_))
        usable = sd.notna() & (sd > 0)
        self.program_mean_, self.program_sd_ = mean[usable], sd[usable]
        return [FeatureSpec(feature_name("program", p), "program", p) for p in mean[usable].index]

    def _fit_categories(self, frame: pd.DataFrame, family: str) -> list[FeatureSpec]:
        column = CATEGORY_FAMILIES[family]
        values = frame[column] if column in frame.columns else pd.Series([None] * len(frame))
        seen = sorted(pd.unique(category_pairs(values, split=family in SPLIT_FAMILIES)["value"]))
        self.categories_[family] = seen
        return [FeatureSpec(feature_name(family, v), family, v) for v in seen]

    # ----------------------------------------------------------------------------------
    # transform
    # ----------------------------------------------------------------------------------

    def transform(self, profiles: pd.DataFrame) -> pd.DataFrame:
        """Build the feature matrix of a profile frame.

        Parameters
        ----------
        profiles : DataFrame
            A profile frame (any rows: training, test or new patients).

        Returns
        -------
        DataFrame
            float64, columns :meth:`get_feature_names_out` (fixed at fit), index of
            ``profiles``. NaN = missing (gene off panel, expression absent).

        Raises
        ------
        InputDataError
            When required columns are missing, an alteration cannot be read, or the
            expression is on another scale than the training data.
        """
        check_is_fitted(self, "feature_specs_")
        frame = prepare_profiles(profiles)
        self._check_scale(frame)
        specs = self.feature_specs_
        # Column-major: each family fills contiguous columns, and pandas keeps the block as is.
        # Every family below writes all of its columns, so the matrix needs no initial fill.
        out = np.empty((len(frame), len(specs)), order="F")
        # Each family's columns are contiguous (fit builds them family by family): slices
        # write in place, where lists of column numbers would copy.
        by_family: dict[str, slice] = {}
        for j, spec in enumerate(specs):
            start = by_family[spec.family].start if spec.family in by_family else j
            by_family[spec.family] = slice(start, j + 1)

        with gc_paused():
            events = parse_events(frame)
        genomic = [j for j, s in enumerate(specs) if s.family in GENOMIC_FAMILIES]
        if genomic:
            block = slice(genomic[0], genomic[-1] + 1)
            genomic_block(frame, events, specs[block], out=out[:, block])
        if "kb" in by_family:
            profiled = numeric_column(frame, "n_baseline_samples", default=1.0)
            kb = knowledge_counts(events, frame["drug"], np.nan_to_num(profiled, nan=1.0) > 0)
            out[:, by_family["kb"]] = kb
        if "expr" in by_family:
            self._expression_block(frame, out[:, by_family["expr"]])
        if "program" in by_family:
            scores = program_frame(frame, self.signatures_).reindex(
                columns=self.program_mean_.index
            )
            out[:, by_family["program"]] = (
                (scores - self.program_mean_) / self.program_sd_
            ).to_numpy(dtype=float)
        for family in CATEGORY_FAMILIES:
            if family in by_family:
                out[:, by_family[family]] = one_hot(frame, family, self.categories_[family])
        for family in ("generation", "line_number", "age_years"):
            out[:, by_family[family].start] = numeric_column(frame, family)
        out[:, by_family["is_combination"].start] = combination_flags(frame)
        return pd.DataFrame(
            out, columns=list(self.feature_names_out_), index=profiles.index, copy=False
        )

    def _expression_block(self, frame: pd.DataFrame, out: np.ndarray) -> None:
        """Fill ``out`` with the expression columns, gene by gene (no wide temporary copy)."""
        columns = expression_map(frame)
        zscore = self.expression == "zscore"
        for j, (gene, mean, sd) in enumerate(
            zip(
                self.expression_mean_.index, self.expression_mean_, self.expression_sd_, strict=True
            )
        ):
            if gene not in columns:
                out[:, j] = np.nan  # not measured in this frame: missing
                continue
            values = frame[columns[gene]].to_numpy(dtype=float)
            out[:, j] = (values - mean) / sd if zscore else values

    def _check_scale(self, frame: pd.DataFrame) -> None:
        declared = declared_scale(frame)
        if declared != self.expression_scale_ and expression_map(frame):
            raise InputDataError(
                f"expression is declared on the '{declared}' scale but this model was trained "
                f"on '{self.expression_scale_}'",
                [
                    Problem(
                        "profiles",
                        None,
                        "expression",
                        str(declared),
                        "expression scale differs from the training data",
                        f"supply expression on the {self.expression_scale_} scale (as in "
                        "training), or retrain the model on data of this scale",
                    )
                ],
            )
        check_expression_values(frame, declared)

    # ----------------------------------------------------------------------------------
    # names, warnings, readings
    # ----------------------------------------------------------------------------------

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Return the output feature names (fixed at fit), as an array of str."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def unseen_categories(self, profiles: pd.DataFrame) -> pd.DataFrame:
        """List, per row, the categories not seen in training (their one-hots are all zero).

        Returns
        -------
        DataFrame
            Indexed like ``profiles``: one column per one-hot family (:data:`CATEGORY_FAMILIES`)
            holding the unseen value(s) (``;``-joined) or None, and ``warning``: a readable
            sentence, or None when everything was seen.
        """
        check_is_fitted(self, "categories_")
        return unseen_categories(prepare_profiles(profiles), self.categories_).set_axis(
            profiles.index
        )

    def describe_value(self, feature: str, value: float) -> str:
        """Return the human reading of a feature value, e.g. "MET amplification", "line 2"."""
        check_is_fitted(self, "feature_specs_")
        specs = {s.name: s for s in self.feature_specs_}
        if feature not in specs:
            raise KeyError(f"{feature!r} is not a feature of this builder")
        mode = "zscore" if self.expression == "zscore" else "raw"
        return describe(specs[feature], float(value), expression=mode)
