"""Typed training configuration, loaded from ``configs/*.yaml``.

Unknown keys are errors (``extra="forbid"``): a typo in a config must not silently fall back
to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oncoresist.exceptions import ConfigError
from oncoresist.io.files import YamlSyntaxError, read_yaml

#: Feature kinds of the FeatureBuilder (``FeatureBuilder.feature_kinds_``).
FeatureKind = Literal["genomic", "knowledge", "expression", "program", "treatment", "clinical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """Split plan: test and calibration fractions, CV folds inside training."""

    test_size: float = Field(0.2, gt=0, lt=0.5)
    calibration_size: float = Field(0.1, ge=0, lt=0.5)
    cv_folds: int = Field(3, ge=2, le=10)


class FeatureConfig(_Strict):
    """FeatureBuilder parameters."""

    min_patients: int = Field(5, ge=1)
    expression: Literal["zscore", "raw", "none"] = "zscore"
    program_scores: bool = True
    top_variance_genes: int | None = Field(None, ge=1)
    knowledge_flags: bool = True
    include_expression_genes: bool = True


class MechanismConfig(_Strict):
    """XGBoost mechanism classifier; ``grid`` values are tried by inner CV."""

    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.03, gt=0, le=1)
    max_depth: int = Field(2, ge=1, le=12)
    min_child_weight: float = Field(5.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.2, gt=0, le=1)
    reg_lambda: float = Field(5.0, ge=0)
    calibration: Literal["auto", "none", "temperature", "isotonic"] = "auto"
    #: Feature kinds the mechanism model does not see. Gene-level expression is left out by
    #: default: the expression programs summarise it, and ~500 noisy genes against ~1,500
    #: labels cost more in variance than they add (measured on inner CV folds).
    exclude_feature_kinds: tuple[FeatureKind, ...] = ("expression",)
    grid: dict[str, list[Any]] = Field(default_factory=dict)


class SurvivalConfig(_Strict):
    """XGBoost time-to-resistance model; ``grid`` values are tried by inner CV."""

    objective: Literal["survival:aft", "survival:cox"] = "survival:aft"
    aft_distribution: Literal["normal", "logistic", "extreme"] = "extreme"
    aft_scale: float = Field(1.0, gt=0)
    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.03, gt=0, le=1)
    max_depth: int = Field(2, ge=1, le=12)
    min_child_weight: float = Field(5.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.3, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    grid: dict[str, list[Any]] = Field(default_factory=dict)


class BaselineConfig(_Strict):
    """Baselines fitted once on the training split and evaluated on the test split."""

    logistic: bool = True
    logistic_c: float = Field(0.003, gt=0)
    coxph: bool = True
    coxph_alpha: float = Field(0.05, gt=0)
    rsf: bool = True
    rsf_n_estimators: int = Field(100, ge=1)
    rsf_min_samples_leaf: int = Field(15, ge=1)
    rsf_time_grid_months: float = Field(0.5, gt=0)
    rsf_max_samples: float | None = Field(0.5, gt=0, le=1)


class EvaluationConfig(_Strict):
    """Test-split evaluation."""

    bootstrap_resamples: int = Field(200, ge=0)
    times_months: tuple[float, ...] = (6.0, 12.0, 24.0)

    @field_validator("times_months")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(t <= 0 for t in value):
            raise ValueError("times must be positive months")
        return tuple(sorted(value))


class UncertaintyConfig(_Strict):
    """Conformal mechanism sets, calibrated time intervals and the OOD flag (uncertainty.py)."""

    mechanism_coverage: float = Field(0.9, gt=0, lt=1)
    #: Out-of-fold training labels join the calibration split's (0 = calibration split only).
    cross_conformal_folds: int = Field(5, ge=0, le=20)
    min_group_size: int = Field(50, ge=1)
    interval_coverage: float = Field(0.8, gt=0, lt=1)
    ood_quantile: float = Field(0.99, gt=0, lt=1)


class TrackingConfig(_Strict):
    """MLflow experiment, registry name and the alias a new model gets."""

    experiment: str = "oncoresist"
    model_name: str = "oncoresist"
    register_model: bool = True
    alias: str = "candidate"


class TrainingConfig(_Strict):
    """Everything a training run needs; saved with the run and inside the bundle."""

    seed: int = 7
    n_jobs: int = Field(2, ge=1)
    split: SplitConfig = SplitConfig()
    features: FeatureConfig = FeatureConfig()
    mechanism: MechanismConfig = MechanismConfig()
    survival: SurvivalConfig = SurvivalConfig()
    baselines: BaselineConfig = BaselineConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()
    uncertainty: UncertaintyConfig = UncertaintyConfig()
    explain_rows: int = Field(1000, ge=0)

    def with_overrides(self, **changes: Any) -> TrainingConfig:
        """Return a validated copy with nested overrides (``{"split": {"cv_folds": 2}}``)."""
        merged = _deep_merge(self.model_dump(), changes)
        return load_config_dict(merged)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config_dict(data: dict[str, Any], source: str = "config") -> TrainingConfig:
    """Validate a config mapping; raise :class:`ConfigError` naming each bad field."""
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as err:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError(f"{source} is not a valid training config:\n" + "\n".join(lines)) from err


def load_config(path: str | Path | None = None) -> TrainingConfig:
    """Load a YAML training config; ``None`` gives the defaults."""
    if path is None:
        return TrainingConfig()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist (try configs/default.yaml)")
    try:
        data = read_yaml(path) or {}
    except YamlSyntaxError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings at the top level")
    return load_config_dict(data, source=str(path))
