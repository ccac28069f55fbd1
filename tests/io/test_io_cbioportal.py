"""Tests for the cBioPortal study reader and writer (tests/data/cbioportal_study)."""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from oncoresist.contract import KEYS
from oncoresist.exceptions import InputDataError
from oncoresist.io.canonical import read_canonical_folder
from oncoresist.io.cbioportal.study import list_expression_profiles, read_cbioportal_study
from oncoresist.io.cbioportal.tables import DuplicateGeneWarning, TimepointAssumedWarning
from oncoresist.io.cbioportal.write import write_cbioportal_study
from oncoresist.io.inputs import read_cohort

DATA = Path(__file__).parents[1] / "data"
STUDY = DATA / "cbioportal_study"


def read_quirks(path: Path = STUDY):
    """Read (a copy of) the quirks study, whose duplicated gene warning is not the point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateGeneWarning)
        return read_cbioportal_study(path)


@pytest.fixture(scope="module")
def cohort():
    return read_quirks()


@pytest.fixture
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(STUDY, folder)
    return folder


def problem_at(err: InputDataError, source: str, row: int | None, column: str | None):
    for problem in err.problems:
        if problem.source == source and problem.row == row and problem.column == column:
            return problem
    raise AssertionError(f"no problem at {source}:{row}:{column} in\n{err}")


def sort(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(list(KEYS[table])).reset_index(drop=True)


def test_duplicate_genes_averaged_with_one_warning_naming_them():
    with pytest.warns(DuplicateGeneWarning, match="repeated, their rows averaged: EGFR") as rec:
        cohort = read_cbioportal_study(STUDY)
    assert len(rec) == 1
    egfr = dict(zip(cohort.expression["sample_id"], cohort.expression["EGFR"], strict=True))
    assert egfr["P1-S1"] == pytest.approx(8.2) and egfr["P4-S1"] == pytest.approx(4.1)


def test_clinical_quirks(cohort):
    patients = cohort.patients.set_index("patient_id")
    # [Not Available] is missing; P3's cancer type comes from the sample file.
    assert math.isnan(patients.loc["P2", "age_years"])
    assert patients.loc["P3", "cancer_type"] == "Breast Cancer"
    assert patients.loc["P1", "cancer_type"] == "Non-Small Cell Lung Cancer"
    samples = cohort.samples.set_index("sample_id")
    assert samples["timepoint"].to_dict() == {
        "P1-S1": "baseline", "P1-S2": "progression", "P2-S1": "baseline",
        "P2-S2": "progression", "P3-S1": "baseline", "P4-S1": "baseline",
    }  # fmt: skip
    # P2-S2 has no TIMEPOINT value: dated by its specimen event after alectinib stopped.
    assert samples.loc["P2-S2", "treatment_id"] == "P2_L1"
    assert samples.loc["P2-S2", "sample_month"] == pytest.approx((790 - 10) / 30.4375)


def test_treatments_from_timeline(cohort):
    t = cohort.treatments.set_index("treatment_id")
    assert t["drug"].to_dict() == {
        "P1_L1": "Osimertinib", "P2_L1": "alectinib", "P3_L1": "palbociclib+letrozole",
        "P4_L1": "dabrafenib+trametinib", "P4_L2": "encorafenib+binimetinib",
    }  # fmt: skip
    assert t.loc["P4_L2", "line_number"] == 2
    assert not {"drug_class", "target", "setting"} & set(cohort.treatments.columns)
    assert any("1 treatment event(s) for patients absent" in n for n in cohort.notes)


def test_outcomes_from_patient_pfs(cohort):
    o = cohort.outcomes.set_index("treatment_id")
    assert sorted(o.index) == ["P1_L1", "P2_L1", "P3_L1"]
    assert o.loc["P1_L1", "time_to_resistance_months"] == 13.8
    assert bool(o.loc["P1_L1", "resistance_observed"]) is True
    assert bool(o.loc["P3_L1", "resistance_observed"]) is False
    assert any("PFS of 1 patient(s) with several treatments" in n for n in cohort.notes)


def test_maf_quirks(cohort):
    m = cohort.mutations.set_index(["sample_id", "gene"])
    assert m.loc[("P1-S1", "EGFR"), "vaf"] == pytest.approx(62 / 200)
    # HGVSp_Short blank / [Not Available]: Amino_Acid_Change used, three-letter normalised.
    assert m.loc[("P1-S1", "TP53"), "protein_change"] == "p.R273H"
    assert m.loc[("P2-S2", "ALK"), "protein_change"] == "p.G1202R"
    assert math.isnan(m.loc[("P3-S1", "PIK3CA"), "vaf"])
    assert m.loc[("P3-S1", "ESR1"), "protein_change"] == "p.E380_L384del"
    # TERT promoter (5'Flank) is kept, like cBioPortal's default filter does.
    assert ("P4-S1", "TERT") in m.index
    assert len(cohort.mutations) == 8
    notes = " ".join(cohort.notes)
    assert "1 silent/non-coding variant(s) skipped" in notes
    assert "1 row(s) for samples absent from the clinical sample file skipped" in notes
    assert "1 row(s) with no gene symbol skipped" in notes


def test_cna_with_entrez_column(cohort):
    cn = {(s, g): v for s, g, v in cohort.copy_number[["sample_id", "gene", "cn_state"]].values}
    assert cn == {
        ("P1-S2", "MET"): 2, ("P1-S1", "CDKN2A"): -1, ("P1-S2", "CDKN2A"): -1,
        ("P3-S1", "CDKN2A"): -2, ("P4-S1", "CDKN2A"): -2, ("P2-S2", "ERBB2"): 1,
    }  # fmt: skip
    assert any("11 neutral (0) call(s)" in n for n in cohort.notes)


def test_sv_fusions(cohort):
    f = cohort.fusions
    assert f[["gene_5p", "gene_3p", "variant"]].values.tolist() == [["EML4", "ALK", "v3"]] * 2
    notes = " ".join(cohort.notes)
    assert "1 germline event(s) skipped" in notes
    assert "1 event(s) that are not two-gene fusions skipped" in notes


def test_gene_panels(cohort):
    panel = cohort.samples.set_index("sample_id")["panel_id"]
    assert panel["P1-S1"] == "TESTPANEL" and pd.isna(panel["P3-S1"])
    assert "KRAS" in set(cohort.gene_panels["gene"]) and len(cohort.gene_panels) == 10


def test_expression_profile_preference_and_choice(cohort):
    assert cohort.expression_scale == "log2_tpm"
    assert any(n.startswith("expression profile used: data_mrna_seq_tpm.txt") for n in cohort.notes)
    assert list_expression_profiles(STUDY)[0].startswith("data_mrna_seq_tpm.txt")
    for choice in ("data_mrna_seq_v2_rsem_zscores_ref_all_samples",
                   "rna_seq_v2_mrna_median_all_sample_Zscores"):  # fmt: skip
        z = read_cbioportal_study(STUDY, expression_profile=choice)
        assert z.expression_scale == "zscore"
        assert z.expression.set_index("sample_id").loc["P1-S2", "MET"] == 2.1
        assert any("chosen with expression_profile" in n for n in z.notes)
    with pytest.raises(InputDataError, match="expression profile 'rsem' not found") as info:
        read_cbioportal_study(STUDY, expression_profile="rsem")
    assert "data_mrna_seq_tpm.txt" in info.value.problems[0].fix


def test_read_cohort_detects_study():
    with pytest.warns(DuplicateGeneWarning):
        cohort = read_cohort(STUDY)
    assert cohort.name == "oncoresist_quirks_2026"
    assert read_cohort(STUDY, expression_profile="data_mrna_seq_v2_rsem_zscores_ref_all_samples"
                       ).expression_scale == "zscore"  # fmt: skip


def test_timepoints_assumed_with_one_warning(study):
    (study / "data_timeline_specimen.txt").unlink()
    clinical = (study / "data_clinical_sample.txt").read_text(encoding="utf-8")
    (study / "data_clinical_sample.txt").write_text(
        clinical.replace("TIMEPOINT", "VISIT"), encoding="utf-8"
    )
    with pytest.warns(TimepointAssumedWarning, match="6 sample") as rec:
        cohort = read_quirks(study)
    assert len([w for w in rec if w.category is TimepointAssumedWarning]) == 1
    assert set(cohort.samples["timepoint"]) == {"baseline"}


def test_linear_tpm_is_log_transformed(study):
    path = study / "data_mrna_seq_tpm.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0], lines[1].replace("8.1", "1023")]  # EGFR only, linear TPM
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cohort = read_cbioportal_study(study)  # no duplicated gene left: no warning
    assert cohort.expression.set_index("sample_id").loc["P1-S1", "EGFR"] == 10.0
    assert any("linear TPM transformed with log2(x + 1)" in n for n in cohort.notes)


def test_study_without_treatments_gives_empty_table(study):
    for path in study.glob("data_timeline_*.txt"):
        path.unlink()
    with pytest.warns(TimepointAssumedWarning, match="1 sample"):
        cohort = read_quirks(study)
    assert cohort.treatments.empty
    assert list(cohort.treatments.columns) == ["patient_id", "treatment_id", "drug", "line_number"]
    assert cohort.outcomes is None
    notes = " ".join(cohort.notes)
    assert "no treatment events" in notes
    assert "PFS of 4 patient(s) without treatment events not used" in notes


def test_alternative_file_and_column_names(study):
    """Plural clinical file names, a .maf file, Protein_Change, SAMPLE_TIMEPOINT, ONCOTREE_CODE."""
    for meta in ("meta_clinical_sample.txt", "meta_mutations.txt"):
        (study / meta).unlink()
    (study / "data_clinical_patient.txt").rename(study / "data_clinical_patients.txt")
    sample = (study / "data_clinical_sample.txt").read_text(encoding="utf-8")
    sample = sample.replace("TIMEPOINT", "SAMPLE_TIMEPOINT")
    sample = sample.replace("\tCANCER_TYPE\tCANCER_TYPE_DETAILED\t", "\tCT\tCTD\t")
    (study / "data_clinical_samples.txt").write_text(sample, encoding="utf-8")
    (study / "data_clinical_sample.txt").unlink()
    maf = (study / "data_mutations_extended.txt").read_text(encoding="utf-8")
    (study / "mutations.maf").write_text(maf.replace("Amino_Acid_Change", "Protein_Change"),
                                         encoding="utf-8")  # fmt: skip
    (study / "data_mutations_extended.txt").unlink()
    cohort = read_quirks(study)
    assert cohort.patients.set_index("patient_id").loc["P3", "cancer_type"] == "IDC"
    assert cohort.samples.set_index("sample_id").loc["P1-S2", "timepoint"] == "progression"
    m = cohort.mutations.set_index(["sample_id", "gene"])
    assert m.loc[("P1-S1", "TP53"), "protein_change"] == "p.R273H"


def test_gene_panel_from_meta_file(study):
    (study / "data_gene_panel_matrix.txt").unlink()
    meta = study / "meta_mutations.txt"
    meta.write_text(meta.read_text(encoding="utf-8") + "gene_panel: TESTPANEL\n",
                    encoding="utf-8")  # fmt: skip
    cohort = read_quirks(study)
    assert set(cohort.samples["panel_id"]) == {"TESTPANEL"}


def test_bad_timepoint_value_names_line_and_column(study):
    path = study / "data_clinical_sample.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("\tProgression\t", "\tlater\t"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    assert problem_at(info.value, "data_clinical_sample.txt", 7, "TIMEPOINT").value == "later"


def test_bad_maf_missing_column_and_bad_change(study):
    path = study / "data_mutations_extended.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("p.C797S", "p.C797?S"), encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    problem_at(info.value, "data_mutations_extended.txt", 5, "HGVSp_Short")
    path.write_text(text.replace("Tumor_Sample_Barcode", "Sample"), encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    problem_at(info.value, "data_mutations_extended.txt", 1, "Tumor_Sample_Barcode")


def test_bad_cna_value_names_line_and_sample(study):
    path = study / "data_cna.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("\t-2\t-2", "\t-2\tdeep"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    problem_at(info.value, "data_cna.txt", 3, "P4-S1")


def test_undefined_gene_panel_is_reported(study):
    (study / "data_gene_panel_TESTPANEL.txt").unlink()
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    problem = problem_at(info.value, "data_gene_panel_matrix.txt", 2, "mutations")
    assert "data_gene_panel_TESTPANEL.txt" in problem.fix


def test_vaf_from_counts_out_of_range_is_an_error(study):
    path = study / "data_mutations_extended.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("\t62\t138\t", "\t62\t-38\t"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(InputDataError) as info:
        read_quirks(study)
    problem = problem_at(info.value, "data_mutations_extended.txt", 3, "t_alt_count, t_ref_count")
    assert "[0, 1]" in problem.fix


def test_not_a_study(tmp_path):
    (tmp_path / "meta_study.txt").write_text("cancer_study_identifier: x\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"data_clinical_sample\.txt is missing"):
        read_cbioportal_study(tmp_path)


def test_canonical_study_canonical_round_trip(tmp_path):
    canonical = read_canonical_folder(DATA / "canonical")
    write_cbioportal_study(canonical, tmp_path / "study")
    back = read_cbioportal_study(tmp_path / "study")  # no warning: everything is declared
    assert back.name == canonical.name and back.expression_scale == canonical.expression_scale
    assert set(back.tables()) == set(canonical.tables())
    for name, table in canonical.tables().items():
        other = back.tables()[name][list(table.columns)]
        pd.testing.assert_frame_equal(sort(other, name), sort(table, name))
    maf = (tmp_path / "study" / "data_mutations.txt").read_text(encoding="utf-8").splitlines()
    assert maf[0] == "#version 2.4" and "HGVSp_Short" in maf[1]
    clinical = (tmp_path / "study" / "data_clinical_sample.txt").read_text(encoding="utf-8")
    assert clinical.count("\n#") == 3 and "\nPATIENT_ID\tSAMPLE_ID\tTIMEPOINT" in clinical


def test_quirks_study_round_trips_through_writer(tmp_path, cohort):
    write_cbioportal_study(cohort, tmp_path / "again")
    back = read_cbioportal_study(tmp_path / "again")
    for name, table in cohort.tables().items():
        other = back.tables()[name][list(table.columns)]
        pd.testing.assert_frame_equal(sort(other, name), sort(table, name))


def test_zscore_cohort_round_trip(tmp_path):
    z = read_cbioportal_study(STUDY, expression_profile="rna_seq_v2_mrna_median_all_sample_Zscores")
    write_cbioportal_study(z, tmp_path / "z")
    assert (tmp_path / "z" / "data_mrna_Zscores.txt").is_file()
    back = read_cbioportal_study(tmp_path / "z")
    assert back.expression_scale == "zscore"
    pd.testing.assert_frame_equal(sort(back.expression, "expression"),
                                  sort(z.expression, "expression"))  # fmt: skip
