"""Training config: defaults, the shipped YAML, unknown keys and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from oncoresist.exceptions import ConfigError
from oncoresist.models.config import TrainingConfig, load_config, load_config_dict

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def test_defaults_are_valid_and_frozen():
    config = TrainingConfig()
    assert config.split.test_size == 0.2
    assert config.tracking.alias == "candidate"
    assert config.evaluation.times_months == (6.0, 12.0, 24.0)
    with pytest.raises(Exception, match="frozen"):
        config.seed = 3


def test_default_yaml_loads_with_every_value_it_states():
    config = load_config(DEFAULT_YAML)
    raw = yaml.safe_load(DEFAULT_YAML.read_text())
    assert config.seed == raw["seed"]
    assert config.mechanism.grid == raw["mechanism"]["grid"]
    assert config.survival.grid == raw["survival"]["grid"]
    assert config.survival.objective == raw["survival"]["objective"]
    assert config.baselines.rsf_time_grid_months == raw["baselines"]["rsf_time_grid_months"]
    # Every key in the YAML is a field: nothing in the shipped file is silently dropped.
    dumped = config.model_dump(mode="json")
    for section, values in raw.items():
        if isinstance(values, dict):
            assert set(values) <= set(dumped[section]), section


def test_none_gives_the_defaults():
    assert load_config(None) == TrainingConfig()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"sead": 3}, "sead"),
        ({"mechanism": {"n_estimator": 10}}, "mechanism.n_estimator"),
        ({"tracking": {"model": "x"}}, "tracking.model"),
    ],
)
def test_unknown_key_is_an_error_naming_it(data, named):
    with pytest.raises(ConfigError, match=rf"(?s)not a valid training config.*{named}"):
        load_config_dict(data)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"split": {"test_size": 0.7}}, "split.test_size"),
        ({"split": {"cv_folds": 1}}, "split.cv_folds"),
        ({"mechanism": {"learning_rate": 0}}, "mechanism.learning_rate"),
        ({"survival": {"objective": "survival:weibull"}}, "survival.objective"),
        ({"evaluation": {"times_months": [12, -6]}}, "evaluation.times_months"),
        ({"evaluation": {"times_months": []}}, "evaluation.times_months"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": "seven"}, "seed"),
    ],
)
def test_bad_values_are_errors_naming_the_field(data, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config_dict(data)


def test_times_are_sorted():
    config = load_config_dict({"evaluation": {"times_months": [24, 6, 12]}})
    assert config.evaluation.times_months == (6.0, 12.0, 24.0)


def test_overrides_merge_nested_and_validate():
    config = TrainingConfig().with_overrides(split={"cv_folds": 2}, mechanism={"max_depth": 4})
    assert config.split.cv_folds == 2
    assert config.split.test_size == 0.2  # untouched sibling kept
    assert config.mechanism.max_depth == 4
    with pytest.raises(ConfigError, match=r"split\.cv_folds"):
        TrainingConfig().with_overrides(split={"cv_folds": 99})


def test_yaml_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- seed\n- 7\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == TrainingConfig()
    typo = tmp_path / "typo.yaml"
    typo.write_text("split:\n  cv_fold: 3\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml.*\n.*split\.cv_fold"):
        load_config(typo)
