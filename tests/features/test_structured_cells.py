"""Structured alteration cells give the events and features that today's text gives.

``cohort_to_profiles`` builds ``mutations``, ``copy_number`` and ``fusions`` as tuples; the
features read them without writing and parsing text. Here the same frame is also written with
the text builders ``cohort_to_profiles`` used before (kept below as the reference, through
public functions only), and both must give equal events and equal feature matrices. The
cohorts are simulated, then given a second baseline sample on some treatments whose calls
disagree (copy-number ties, fusion variants spelled several ways, unnormalised protein
changes), so a difference in a tie-break or a normalisation fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoresist.contract import Cohort, baseline_samples, validate_cohort
from oncoresist.contract.alterations import normalise_fusion_variant, normalise_protein_change
from oncoresist.exceptions import InputDataError
from oncoresist.features.builder import FeatureBuilder
from oncoresist.features.events import parse_events
from oncoresist.features.profile_text import (
    CN_STATE_WORDS,
    SEPARATOR,
    alterations_text,
    fusion_token,
    join_by_position,
    positions,
    profiles_as_text,
)
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.simulate.cohort import simulate_cohort

ALTERATIONS = ["mutations", "copy_number", "fusions"]


# ---- today's text, as cohort_to_profiles wrote it before structured cells (the reference) --


def _change(change: object) -> str | None:
    try:
        return normalise_protein_change(change)
    except ValueError:
        return None if change is None or pd.isna(change) else str(change).strip()


def _variant(name: str, variant: object) -> str | None:
    if variant is None or pd.isna(variant):
        return None
    text = str(variant).strip()
    for prefix in (name, name.replace("-", "::"), name.replace("::", "-")):
        if text.upper().startswith(prefix.upper()):
            text = text[len(prefix) :].strip()
            break
    return normalise_fusion_variant(text)


def _mutation_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    muts = pairs.merge(cohort.mutations[["sample_id", "gene", "protein_change"]], on="sample_id")
    changes = [_change(c) if isinstance(c, str) else None for c in muts["protein_change"]]
    tokens = [g if c is None else f"{g} {c}" for g, c in zip(muts["gene"], changes, strict=True)]
    return join_by_position(positions(order, muts["treatment_id"]), tokens, len(order), SEPARATOR)


def _cna_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    cna = pairs.merge(cohort.copy_number[["sample_id", "gene", "cn_state"]], on="sample_id")
    cna = cna[cna["cn_state"].fillna(0) != 0]
    state = cna["cn_state"].astype(int)
    cna = cna.assign(_abs=state.abs(), _state=state)
    cna = cna.sort_values(["treatment_id", "gene", "_abs", "_state"], ascending=False)
    cna = cna.drop_duplicates(["treatment_id", "gene"])
    tokens = [
        f"{g} {CN_STATE_WORDS[s]}" for g, s in zip(cna["gene"], cna["_state"].tolist(), strict=True)
    ]
    return join_by_position(positions(order, cna["treatment_id"]), tokens, len(order), SEPARATOR)


def _fusion_text(cohort: Cohort, pairs: pd.DataFrame, order: pd.Index) -> np.ndarray:
    fus = pairs.merge(
        cohort.fusions[["sample_id", "gene_5p", "gene_3p", "variant"]], on="sample_id"
    )
    tokens = [
        fusion_token(g5, g3, _variant(fusion_token(g5, g3), v))
        for g5, g3, v in zip(fus["gene_5p"], fus["gene_3p"], fus["variant"], strict=True)
    ]
    return join_by_position(positions(order, fus["treatment_id"]), tokens, len(order), SEPARATOR)


def todays_text(cohort: Cohort, profiles: pd.DataFrame) -> pd.DataFrame:
    """``profiles`` with the three alteration columns written by the pre-structured builders."""
    pairs = baseline_samples(cohort)
    order = pd.Index(cohort.treatments["treatment_id"], name="treatment_id")
    out = profiles.copy()
    for column, build in zip(ALTERATIONS, (_mutation_text, _cna_text, _fusion_text), strict=True):
        out[column] = pd.Series(build(cohort, pairs, order), index=out.index, dtype=object)
    return out


# ---- cohorts ------------------------------------------------------------------------------


def _with_disagreeing_samples(cohort: Cohort) -> Cohort:
    """Add a second baseline sample to every 4th treatment, with calls that disagree."""
    first = cohort.samples[cohort.samples["timepoint"] == "baseline"].iloc[::4]
    extra = first.assign(sample_id=first["sample_id"] + "2")
    cna = cohort.copy_number[cohort.copy_number["sample_id"].isin(set(first["sample_id"]))]
    # The same genes with the opposite call: ties of |state|, which the gain must win.
    flipped = cna.assign(sample_id=cna["sample_id"] + "2", cn_state=-cna["cn_state"].astype(int))
    ids = extra["sample_id"].tolist()
    spellings = ["variant 3", "EML4-ALK v1", "V2", None, "EML4::ALK var 4", "E13-A20"]
    fusions = pd.DataFrame(
        {
            "sample_id": ids,
            "gene_5p": ["NKX2-1" if i % 5 == 3 else "EML4" for i in range(len(ids))],
            "gene_3p": "ALK",
            "variant": [spellings[i % len(spellings)] for i in range(len(ids))],
        }
    )
    changes = ["L858R", "p.Arg273His", None, "p.T790M", "e746_a750DEL"]
    genes = ["EGFR", "TP53", "KRAS", "EGFR", "EGFR"]
    mutations = pd.DataFrame(
        {
            "sample_id": ids,
            "gene": [genes[i % len(genes)] for i in range(len(ids))],
            "protein_change": [changes[i % len(changes)] for i in range(len(ids))],
            "variant_class": "Missense_Mutation",
            "vaf": 0.2,
        }
    )
    states = [(1, 2, -1, -2)[i % 4] for i in range(len(ids))]
    gains = pd.DataFrame({"sample_id": ids, "gene": "MET", "cn_state": states})
    tables = cohort.tables()
    tables.update(
        samples=pd.concat([cohort.samples, extra], ignore_index=True),
        copy_number=pd.concat([cohort.copy_number, flipped, gains], ignore_index=True)
        .drop_duplicates(["sample_id", "gene"])
        .reset_index(drop=True),
        fusions=pd.concat([cohort.fusions, fusions], ignore_index=True),
        mutations=pd.concat([cohort.mutations, mutations], ignore_index=True),
    )
    return validate_cohort(Cohort(**tables))


def _annotated(seed: int) -> Cohort:
    cohort = _with_disagreeing_samples(simulate_cohort(n=400, seed=seed).cohort)
    return cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))


@pytest.fixture(scope="module", params=[11, 23])
def frames(request) -> tuple[pd.DataFrame, pd.DataFrame]:
    cohort = _annotated(request.param)
    structured = cohort_to_profiles(cohort)
    return structured, todays_text(cohort, structured)


def _assert_same_events(left, right) -> None:
    for table in ALTERATIONS:
        pd.testing.assert_frame_equal(getattr(left, table), getattr(right, table))
    assert left.reported == right.reported


# ---- tests --------------------------------------------------------------------------------


def test_the_cohorts_hold_the_cases_that_differ(frames):
    structured, text = frames
    assert text["copy_number"].str.contains("amp").any()
    assert text["fusions"].str.contains(" v3").any() and text["fusions"].str.contains("::").any()
    cells = structured["copy_number"]
    assert all(isinstance(c, tuple) for c in cells) and any(c == () for c in cells)
    assert any(len(c) > 1 for c in cells)


def test_the_renderer_writes_todays_text(frames):
    structured, text = frames
    written = profiles_as_text(structured)
    pd.testing.assert_frame_equal(written[ALTERATIONS], text[ALTERATIONS])
    assert structured["mutations"].map(lambda c: isinstance(c, tuple)).all()  # not changed


def test_structured_and_text_cells_give_the_same_events(frames):
    structured, text = frames
    _assert_same_events(parse_events(structured), parse_events(text))


def test_a_column_may_mix_structured_and_text_cells(frames):
    structured, text = frames
    mixed = structured.copy()
    odd = mixed.index % 2 == 1
    for column in ALTERATIONS:
        mixed.loc[odd, column] = text.loc[odd, column]
    assert {type(c) for c in mixed["mutations"]} == {tuple, str}
    _assert_same_events(parse_events(mixed), parse_events(text))


def test_a_fitted_builder_gives_equal_matrices_from_both_forms(frames):
    structured, text = frames
    fitted = FeatureBuilder().fit(structured)
    pd.testing.assert_frame_equal(fitted.transform(structured), fitted.transform(text))
    from_text = FeatureBuilder().fit(text)
    assert list(from_text.get_feature_names_out()) == list(fitted.get_feature_names_out())
    pd.testing.assert_frame_equal(from_text.transform(text), fitted.transform(structured))


def test_structured_cells_are_checked_like_text():
    frame = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "mutations": [(("egfr", "L858R"),), (("EGFR", "c.2573T>G"),), "EGFR p.L858R"],
            "copy_number": [(("MET", 2),), (("MET", 5),), ""],
            "fusions": [(("EML4", "ALK", "variant 3"),), (("EML4",),), ()],
        }
    )
    with pytest.raises(InputDataError, match="cannot be read") as err:
        parse_events(frame)
    bad = {(p.row, p.column, p.value) for p in err.value.problems}
    assert bad == {
        (3, "mutations", "EGFR c.2573T>G"),
        (3, "copy_number", "('MET', 5)"),
        (3, "fusions", "('EML4',)"),
    }
    events = parse_events(frame.iloc[[0, 2]].reset_index(drop=True))
    assert events.mutations[["gene", "change"]].values.tolist() == [["EGFR", "p.L858R"]] * 2
    assert events.fusions["variant"].tolist() == ["v3"]
    assert alterations_text("fusions", (("EML4", "ALK", "v3"), ("NKX2-1", "ALK", None))) == (
        "EML4-ALK v3; NKX2-1::ALK"
    )


def test_a_structured_variant_holding_a_separator_is_kept_whole():
    # Written as text, "EML4-ALK E13;A20" splits into two items and cannot be read back:
    # the structured cell carries the variant as the table gives it.
    frame = pd.DataFrame({"patient_id": ["P1"], "fusions": [(("EML4", "ALK", "E13;A20"),)]})
    assert parse_events(frame).fusions["variant"].tolist() == ["E13;A20"]
    with pytest.raises(InputDataError, match="cannot be read"):
        parse_events(profiles_as_text(frame))
