"""Expression programs: signature loading and per-sample scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.exceptions import ConfigError
from oncoresist.knowledge.programs import (
    Signature,
    load_signatures,
    program_scores,
    signature_genes,
)

EXPECTED_PROGRAMS = {
    "neuroendocrine",
    "squamous",
    "emt",
    "persister",
    "immune_inflamed",
    "caf_stroma",
    "met_hgf",
    "er_signalling",
    "e2f_cell_cycle",
    "mapk_output",
}


def test_default_signatures_hold_every_program_with_domain_genes():
    signatures = load_signatures()
    assert set(signatures) == EXPECTED_PROGRAMS
    assert {"ASCL1", "NEUROD1", "INSM1"} <= set(signatures["neuroendocrine"].up)
    assert "RB1" in signatures["neuroendocrine"].down
    assert {"MET", "HGF"} <= set(signatures["met_hgf"].up)
    assert {"CDH1", "EPCAM"} <= set(signatures["emt"].down)
    assert len(signature_genes(signatures)) >= 60


def test_score_is_mean_up_minus_mean_down_on_the_input_scale():
    signatures = {"toy": Signature("toy", up=("A", "B"), down=("C",))}
    frame = pd.DataFrame({"A": [2.0, 4.0], "B": [4.0, 8.0], "C": [1.0, 0.0]}, index=["s1", "s2"])
    scores = program_scores(frame, signatures)
    assert list(scores.columns) == ["program_toy"]
    assert list(scores.index) == ["s1", "s2"]
    np.testing.assert_allclose(scores["program_toy"], [3.0 - 1.0, 6.0 - 0.0])


def test_absent_and_missing_genes_are_ignored_and_no_up_gene_gives_nan():
    signatures = {
        "toy": Signature("toy", up=("A", "B", "ABSENT"), down=("C",)),
        "gone": Signature("gone", up=("X", "Y")),
    }
    frame = pd.DataFrame(
        {
            "sample_id": ["s1", "s2", "s3"],
            "A": [2.0, np.nan, np.nan],
            "b": [4.0, 6.0, np.nan],
            "C": [np.nan, 1.0, 1.0],
        }
    )
    scores = program_scores(frame, signatures)
    assert list(scores.index) == ["s1", "s2", "s3"]  # sample_id becomes the index
    # s1: down arm missing -> mean(up) alone; s2: A missing -> B - C; s3: no up gene -> NaN
    np.testing.assert_allclose(scores["program_toy"].to_numpy(), [3.0, 5.0, np.nan])
    assert scores["program_gone"].isna().all()


def test_malformed_signature_file_is_a_config_error(tmp_path):
    path = tmp_path / "signatures.yaml"
    path.write_text("programs:\n  broken: {down: [A]}\n")
    with pytest.raises(ConfigError, match="broken"):
        load_signatures(path)
    path.write_text("programs:\n  odd: {up: [A], sideways: [B]}\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_signatures(path)
