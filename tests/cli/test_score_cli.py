"""`oncoresist score`: exit codes, accounting, errors file, safety, formats, input forms."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from oncoresist.cli.app import app
from oncoresist.exceptions import OutputExistsError
from oncoresist.paths import demo_dir
from oncoresist.pipelines.score import score_file

runner = CliRunner()
DEMO = demo_dir() / "profiles.csv"
TESTS_DATA = Path(__file__).parents[1] / "data"


def score(*args: str):
    return runner.invoke(app, ["score", "-q", *args])


def demo_text() -> pd.DataFrame:
    return pd.read_csv(DEMO, dtype=str, keep_default_na=False)


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in a folder (hidden ``.NAME.PID.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_scores_demo_with_registry_alias(scoring_model, tmp_path):
    out = tmp_path / "scores.csv"
    result = score(
        "--model", scoring_model.ref, "--tracking-uri", scoring_model.uri,
        "--input", str(DEMO), "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("read 36 = scored 36 + rejected 0")
    assert f"Scores written to {out}" in result.stderr
    assert "P(" not in result.stdout  # no patient data on stdout beyond the accounting
    scores = pd.read_csv(out)
    assert scores["treatment_id"].tolist() == demo_text()["treatment_id"].tolist()
    assert (scores["model_name"] == "oncoresist").all()
    assert (scores["model_version"].astype(str) == scoring_model.version).all()
    assert (scores["run_id"] == scoring_model.run_id).all()
    assert (scores["trained_on"] == "simulated").all()
    assert not (tmp_path / "scores.errors.csv").exists()


def test_partial_run_exits_3_with_errors_file(scoring_model, tmp_path):
    sheet = demo_text()
    sheet.loc[4, "mutations"] = "EGFR L858R;;"
    sheet.loc[9, "expr_MET"] = "high"
    sheet.loc[9, "age_years"] = "inf"
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    errors = tmp_path / "rejected.csv"
    result = score(
        "--model", str(scoring_model.folder), "--input", str(path), "--out", str(out),
        "--errors", str(errors),
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "read 36 = scored 34 + rejected 2" in result.stdout
    assert f"Rejected rows written to {errors}" in result.stderr
    table = pd.read_csv(errors, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["source", "row", "column", "value", "reason", "fix"]
    # rows numbered as in the file: header is row 1, so frame index 4 is row 6
    assert set(zip(table["row"], table["column"], strict=True)) == {
        ("6", "mutations"), ("11", "expr_MET"), ("11", "age_years"),
    }  # fmt: skip
    assert table.loc[table["column"] == "expr_MET", "value"].item() == "high"
    assert table["reason"].str.len().gt(0).all()
    scored = pd.read_csv(out)["treatment_id"].tolist()
    assert scored == sheet["treatment_id"].drop(index=[4, 9]).tolist()


def test_nothing_scored_exits_1(scoring_model, tmp_path):
    sheet = demo_text().iloc[:3].assign(line_number="0")
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    result = score("--model", str(scoring_model.folder), "--input", str(path), "--out",
                   str(tmp_path / "o.csv"))  # fmt: skip
    assert result.exit_code == 1
    assert "read 3 = scored 0 + rejected 3" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"patient_id,cancer_type,drug,line_number\n", "has a header but no rows"),
        (b"patient_id;cancer_type;drug;line_number\nP1;nsclc;osimertinib;1\n", "separated by ';'"),
        (b"patient_id,cancer_type,drug\nP1,nsclc,osimertinib\n", "required column is missing"),
        (b"patient_id,cancer_type,drug,line_number\nP\xe91,nsclc,osimertinib,1\n", "not UTF-8"),
    ],
    ids=["empty", "header-only", "wrong-delimiter", "missing-column", "not-utf8"],
)
def test_unusable_file_exits_1_with_reason(scoring_model, tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    result = score("--model", str(scoring_model.folder), "--input", str(path), "--out",
                   str(tmp_path / "o.csv"))  # fmt: skip
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert not (tmp_path / "o.csv").exists()
    assert leftovers(tmp_path) == []


def test_unknown_columns_listed_once_across_chunks(scoring_model, tmp_path):
    path = tmp_path / "in.csv"
    demo_text().assign(mrn="x").to_csv(path, index=False)
    result = score("--model", str(scoring_model.folder), "--input", str(path), "--out",
                   str(tmp_path / "o.csv"), "--chunk-size", "12")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.count("columns not used: mrn") == 1


def test_refuses_to_overwrite_without_flag(scoring_model, tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("keep me")
    args = ["--model", str(scoring_model.folder), "--input", str(DEMO), "--out", str(out)]
    result = score(*args)
    assert result.exit_code == 2
    assert "exists; pass --overwrite" in result.stderr
    assert out.read_text() == "keep me"
    assert score(*args, "--overwrite").exit_code == 0
    assert len(pd.read_csv(out)) == 36


def test_bad_format_is_a_usage_error(scoring_model, tmp_path):
    result = score("--model", str(scoring_model.folder), "--input", str(DEMO), "--out",
                   str(tmp_path / "o.csv"), "--format", "json")  # fmt: skip
    assert result.exit_code == 2
    assert "--format must be" in result.stderr


def test_unknown_model_lists_registered_models(scoring_model, tmp_path):
    result = score("--model", "models:/oncoresist@nope", "--tracking-uri", scoring_model.uri,
                   "--input", str(DEMO), "--out", str(tmp_path / "o.csv"))  # fmt: skip
    assert result.exit_code == 1
    assert "cannot resolve model 'models:/oncoresist@nope'" in result.stderr
    assert "Registered models: oncoresist" in result.stderr
    assert "@candidate" in result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_model_folder_that_does_not_exist(tmp_path):
    result = score("--model", str(tmp_path / "nothing"), "--input", str(DEMO), "--out",
                   str(tmp_path / "o.csv"))  # fmt: skip
    assert result.exit_code == 1
    assert "neither an existing folder nor an MLflow URI" in result.stderr


def test_bundle_from_newer_oncoresist_is_refused(scoring_model, tmp_path):
    folder = tmp_path / "future"
    shutil.copytree(scoring_model.folder, folder)
    meta = json.loads((folder / "bundle.json").read_text())
    meta.update(bundle_format=meta["bundle_format"] + 1, oncoresist_version="9.0.0")
    (folder / "bundle.json").write_text(json.dumps(meta))
    result = score("--model", str(folder), "--input", str(DEMO), "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1
    assert "saved by oncoresist 9.0.0" in result.stderr
    assert "Upgrade oncoresist" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_are_neutralised_for_spreadsheets(scoring_model, tmp_path, fmt):
    sheet = demo_text().iloc[:4].copy()
    sheet["patient_id"] = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)"]
    sheet["treatment_id"] = ["=T1", "+T2", "-T3", "@T4"]
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    out = tmp_path / f"scores.{fmt}"
    result = score("--model", str(scoring_model.folder), "--input", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, dtype=str) if fmt == "csv" else pd.read_excel(out, dtype=str)
    assert written["patient_id"].tolist() == ["'" + p for p in sheet["patient_id"]]
    assert written["treatment_id"].tolist() == ["'" + t for t in sheet["treatment_id"]]
    probabilities = written["p_on_target"].astype(float)
    np.testing.assert_array_equal(probabilities, probabilities.round(3))


def test_parquet_keeps_full_precision_and_raw_text(scoring_model, tmp_path):
    sheet = demo_text().iloc[:5].copy()
    sheet.loc[0, "patient_id"] = "=P1"
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    out = tmp_path / "scores.parquet"
    result = score("--model", str(scoring_model.folder), "--input", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    assert written.loc[0, "patient_id"] == "=P1"
    from oncoresist.scoring.engine import score_profiles

    direct = score_profiles(scoring_model.bundle, sheet).scores
    for column in ["p_on_target", "p_bypass", "median_months_to_resistance"]:
        np.testing.assert_allclose(written[column], direct[column], rtol=0, atol=1e-12)
    assert not np.array_equal(written["p_on_target"], written["p_on_target"].round(3))


@pytest.fixture
def study_without_timeline(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(TESTS_DATA / "cbioportal_study", folder)
    for path in folder.glob("data_timeline_*.txt"):
        path.unlink()
    return folder


def score_study(model: Path, study: Path, out: Path, *extra: str):
    from oncoresist.io.cbioportal.tables import DuplicateGeneWarning, TimepointAssumedWarning

    with warnings.catch_warnings():
        # the quirks study's known oddities (tested with the reader)
        warnings.simplefilter("ignore", TimepointAssumedWarning)
        warnings.simplefilter("ignore", DuplicateGeneWarning)
        return score("--model", str(model), "--input", str(study), "--out", str(out),
                     "--expression-profile", "mrna_seq_tpm", *extra)  # fmt: skip


def test_study_without_treatments_needs_drug(scoring_model, study_without_timeline, tmp_path):
    result = score_study(scoring_model.folder, study_without_timeline, tmp_path / "o.csv")
    assert result.exit_code == 1
    assert "--drug NAME" in result.stderr


def test_study_without_treatments_scored_with_drug(scoring_model, study_without_timeline, tmp_path):
    out = tmp_path / "o.csv"
    result = score_study(scoring_model.folder, study_without_timeline, out, "--drug", "osimertinib")
    assert result.exit_code in (0, 3), result.output
    scores = pd.read_csv(out)
    assert len(scores) > 0
    assert set(scores["drug"]) == {"osimertinib"}
    assert scores["treatment_id"].str.endswith("-planned").all()


def test_unknown_planned_drug_rejected_with_closest_names(
    scoring_model, study_without_timeline, tmp_path
):
    result = score_study(
        scoring_model.folder, study_without_timeline, tmp_path / "o.csv", "--drug", "osimertinb"
    )
    assert result.exit_code == 1
    errors = pd.read_csv(tmp_path / "o.errors.csv")
    assert (errors["column"] == "drug").all()
    assert errors["value"].eq("osimertinb").all()
    assert (errors["reason"] + errors["fix"].fillna("")).str.contains("osimertinib").all()


def test_writer_failure_leaves_no_partial_file(scoring_model, tmp_path, monkeypatch):
    from oncoresist.io.scores import ChunkWriter

    calls = []
    real_write = ChunkWriter.write

    def failing(self, frame):
        calls.append(len(frame))
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(self, frame)

    monkeypatch.setattr(ChunkWriter, "write", failing)
    for fmt in ("csv", "parquet"):
        calls.clear()
        out = tmp_path / f"scores.{fmt}"
        with pytest.raises(KeyboardInterrupt):
            score_file(DEMO, out, model=str(scoring_model.folder), chunk_size=5)
        assert len(calls) == 3
        assert not out.exists()
        assert leftovers(tmp_path) == []


def test_failure_after_rejections_leaves_no_errors_file(scoring_model, tmp_path, monkeypatch):
    from oncoresist.io.scores import ChunkWriter

    sheet = demo_text()
    sheet.loc[0, "mutations"] = "p.XYZ"
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)

    def broken_close(self, columns):
        raise OSError("disk full")

    monkeypatch.setattr(ChunkWriter, "close", broken_close)
    with pytest.raises(OSError, match="disk full"):
        score_file(path, tmp_path / "o.csv", model=str(scoring_model.folder))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_accounting_and_order_across_chunks(scoring_model, tmp_path):
    sheet = demo_text()
    sheet.loc[[3, 20], "line_number"] = "zero"
    duplicate = sheet.iloc[[7]].copy()  # the same treatment again, in a later chunk
    sheet = pd.concat([sheet, duplicate], ignore_index=True)
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    seen_counts: list[int] = []
    job = score_file(
        path, tmp_path / "o.parquet", model=str(scoring_model.folder), chunk_size=4,
        progress=lambda rows, _total: seen_counts.append(rows),
    )  # fmt: skip
    assert job.accounting() == "read 37 = scored 34 + rejected 3"
    assert job.exit_code == 3
    assert seen_counts == sorted(seen_counts) and seen_counts[-1] == 37
    assert len(seen_counts) == 10
    errors = pd.read_csv(job.errors)
    assert sorted(errors["row"]) == [5, 22, 38]
    assert "first on row 9" in errors.loc[errors["row"] == 38, "reason"].item()
    scores = pd.read_parquet(job.out)
    kept = sheet["treatment_id"].drop(index=[3, 20, 36]).tolist()
    assert scores["treatment_id"].tolist() == kept


def test_existing_errors_file_blocks_the_run(scoring_model, tmp_path):
    (tmp_path / "o.errors.csv").write_text("old")
    with pytest.raises(OutputExistsError, match=r"o\.errors\.csv exists"):
        score_file(DEMO, tmp_path / "o.csv", model=str(scoring_model.folder))


def test_no_patient_data_in_logs_above_debug(scoring_model, tmp_path, caplog):
    sheet = demo_text()
    sheet.loc[2, "mutations"] = "EGFR p.XYZ"
    path = tmp_path / "in.csv"
    sheet.to_csv(path, index=False)
    caplog.set_level(logging.DEBUG)
    score_file(path, tmp_path / "o.csv", model=str(scoring_model.folder), chunk_size=10)
    loud = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    identifiers = set(sheet["patient_id"]) | set(sheet["treatment_id"]) | {"EGFR p.XYZ"}
    assert not [m for m in loud if any(i in m for i in identifiers)]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_killed_run_leaves_no_partial_file(scoring_model, tmp_path, signum):
    sheet = demo_text()
    parts = [
        sheet.assign(
            patient_id=sheet["patient_id"] + f"-{k}", treatment_id=sheet["treatment_id"] + f"-{k}"
        )
        for k in range(60)
    ]
    path = tmp_path / "big.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    command = [sys.executable, "-m", "oncoresist", "score", "-q", "--model",
               str(scoring_model.folder), "--input", str(path), "--out", str(out),
               "--chunk-size", "20"]  # fmt: skip

    def default_sigint() -> None:  # a shell's background job starts with SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    try:
        deadline = time.monotonic() + 300
        while not leftovers(tmp_path):  # the first chunk is in the temporary file
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no temporary output after 300 s"
            time.sleep(0.05)
        child.send_signal(signum)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert child.returncode != 0
    assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_whose_exception_is_swallowed_still_publishes_nothing(
    scoring_model, tmp_path, signum
):
    # A signal handler's KeyboardInterrupt is dropped when it fires inside a finaliser or a C
    # callback; the run must still stop before renaming its output into place.
    path = tmp_path / "in.csv"
    pd.concat([demo_text()] * 2, ignore_index=True).assign(
        treatment_id=lambda f: f["treatment_id"] + "-" + f.index.astype(str)
    ).to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    sent: list[int] = []

    def progress_that_swallows_the_interrupt(n_read: int, total: object) -> None:
        if sent:
            return
        sent.append(n_read)
        with contextlib.suppress(KeyboardInterrupt):  # what a finaliser or C callback does
            signal.raise_signal(signum)

    previous = signal.getsignal(signum)
    with pytest.raises(KeyboardInterrupt, match="terminated by signal"):
        score_file(
            path, out, model=str(scoring_model.folder), chunk_size=20,
            progress=progress_that_swallows_the_interrupt,
        )  # fmt: skip
    assert sent == [20]
    assert not out.exists()
    assert leftovers(tmp_path) == []
    assert signal.getsignal(signum) is previous  # handler restored


def test_progress_reports_rows_per_second_unless_quiet():
    from contextlib import nullcontext

    from oncoresist.cli.common import rows_progress

    display, report = rows_progress(quiet=False)
    with display:
        time.sleep(0.05)
        report(1200, None)
        task = display.tasks[0]
        assert task.completed == 1200
        assert task.fields["rate"].endswith(" rows/s")
    assert display.console.stderr
    quiet_display, quiet_report = rows_progress(quiet=True)
    assert isinstance(quiet_display, nullcontext)
    assert quiet_report is None


@pytest.mark.parametrize(("suffix", "rows"), [("csv", 1), ("parquet", 1), ("parquet", 36)])
def test_sheet_files_of_any_length_stream_in_chunks(scoring_model, tmp_path, suffix, rows):
    sheet = demo_text().iloc[:rows]
    path = tmp_path / f"in.{suffix}"
    if suffix == "csv":
        sheet.to_csv(path, index=False)
    else:
        sheet.to_parquet(path, index=False)
    job = score_file(path, tmp_path / "o.csv", model=str(scoring_model.folder), chunk_size=7)
    assert job.accounting() == f"read {rows} = scored {rows} + rejected 0"
    assert pd.read_csv(job.out)["treatment_id"].tolist() == sheet["treatment_id"].tolist()
