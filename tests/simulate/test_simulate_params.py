"""Simulator parameter file: validation and clear errors."""

from __future__ import annotations

import copy

import pytest
import yaml

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError
from oncoresist.paths import params_dir
from oncoresist.simulate.params import (
    load_params,
    params_from_mapping,
    parse_event,
    parse_feature,
)

REQUIRED_SETTINGS = {
    "egfr_osimertinib_1L",
    "egfr_osimertinib_2L_T790M",
    "egfr_1st2nd_gen_TKI",
    "alk_alectinib_1L",
    "alk_lorlatinib_1L",
    "hrpos_breast_AI_CDK46i_1L",
    "melanoma_BRAF_dabrafenib_trametinib",
    "kras_G12C_sotorasib_adagrasib_2L",
}


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load((params_dir() / "settings.yaml").read_text())


def test_default_file_loads_with_every_required_setting():
    params = load_params()
    assert set(params.settings) >= REQUIRED_SETTINGS
    flaura = params.settings["egfr_osimertinib_1L"]
    assert flaura.survival.pfs_median_months == 18.9
    assert params.settings["alk_lorlatinib_1L"].survival.targets == {12.0: 0.78, 60.0: 0.60}
    for setting in params.settings.values():
        assert set(setting.mechanism_shares) == set(MECHANISMS)


def test_every_value_line_keeps_an_evidence_tag():
    text = (params_dir() / "settings.yaml").read_text()
    for key in ("pfs_median_months: 18.9", "hr: 1.69", "prevalence: 0.55"):
        line = next(ln for ln in text.splitlines() if key in ln)
        assert any(tag in line for tag in ("[V]", "[R]", "[D]")), line


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("settings", "alk_alectinib_1L", "survival", "shape"),
            -1.0,
            r"setting 'alk_alectinib_1L', field 'survival.shape'",
        ),
        (
            ("settings", "egfr_osimertinib_1L", "cohort_weight"),
            "lots",
            r"setting 'egfr_osimertinib_1L', field 'cohort_weight'",
        ),
        (
            ("settings", "egfr_osimertinib_1L", "risk_factors", 0, "feature"),
            "mutation:TP53",
            r"setting 'egfr_osimertinib_1L', field 'risk_factors.0.feature'.*not a feature",
        ),
        (
            ("settings", "egfr_osimertinib_1L", "mechanism_shares", "bypass"),
            0.9,
            r"mechanism_shares sum to",
        ),
        (
            ("settings", "egfr_osimertinib_1L", "surprise"),
            1,
            r"field 'surprise'.*Extra inputs are not permitted",
        ),
        (
            ("settings", "alk_lorlatinib_1L", "survival", "landmarks"),
            {12: 0.78},
            r"exactly two landmarks",
        ),
    ],
)
def test_malformed_values_name_the_setting_and_field(raw, path, value, message):
    data = copy.deepcopy(raw)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        params_from_mapping(data, source="settings.yaml")


def test_unknown_alteration_and_program_are_reported(raw):
    data = copy.deepcopy(raw)
    data["settings"]["egfr_osimertinib_1L"]["named_alterations"]["bypass"]["NOT_A_THING"] = 0.1
    data["global"]["common_mechanism_shifts"].append(
        {"feature": "program:imaginary", "mechanism": "bypass", "log_odds": 1.0}
    )
    with pytest.raises(ConfigError, match=r"NOT_A_THING.*not in global\.alterations") as err:
        params_from_mapping(data, source="settings.yaml")
    assert "unknown program" in str(err.value)
    assert "imaginary" in str(err.value)


def test_missing_or_broken_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("settings: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_unexplained_knob_splits_the_epigenetic_microenvironment_pool():
    setting = load_params().settings["egfr_osimertinib_1L"]
    published = setting.target_shares(None)
    assert published["epigenetic"] == pytest.approx(0.35)
    shifted = setting.target_shares(0.5)
    pool = published["epigenetic"] + published["microenvironment"]
    assert shifted["epigenetic"] == pytest.approx(pool / 2)
    assert shifted["microenvironment"] == pytest.approx(pool / 2)
    assert shifted["on_target"] == pytest.approx(published["on_target"])


def test_event_and_feature_mini_syntax():
    assert parse_event("fusion:EML4-ALK:v3").value == "v3"
    assert parse_event("cn:MET:2").value == "2"
    atoms = parse_feature("mut:TP53&loss:RB1")
    assert [(a.kind, a.name) for a in atoms] == [("mut", "TP53"), ("loss", "RB1")]
    with pytest.raises(ValueError, match="copy-number state"):
        parse_event("cn:MET:3")
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_feature("program:emt&mut:TP53")
