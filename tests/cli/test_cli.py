"""The command line: help, validate, simulate, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from oncoresist import RESEARCH_USE_NOTICE
from oncoresist.cli.app import app
from oncoresist.paths import demo_dir

runner = CliRunner()


def test_help_lists_commands_without_heavy_imports():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from oncoresist.cli.app import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = [m for m in ('mlflow', 'shap', 'xgboost', 'sksurv') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "print(result.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    assert "HEAVY []" in done.stdout
    for command in ("validate", "simulate", "train", "score", "models", "run"):
        assert command in done.stdout
    assert "not a medical device" in done.stdout


def test_python_dash_m_works():
    done = subprocess.run([sys.executable, "-m", "oncoresist", "--version"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0
    assert "oncoresist" in done.stdout


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_wait_passively_unless_told_otherwise(given, expected):
    """Spinning OpenMP threads starve each other on shared cores; a user's choice is kept."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, oncoresist; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == expected


@pytest.mark.parametrize("form", ["canonical", "profiles.csv"])
def test_validate_demo_inputs(form):
    result = runner.invoke(app, ["validate", str(demo_dir() / form)])
    assert result.exit_code == 0, result.output
    assert "Valid" in result.output
    assert "patients" in result.output


def test_validate_reports_problems_and_writes_them_all(tmp_path):
    sheet = pd.read_csv(demo_dir() / "profiles.csv")
    broken = tmp_path / "canonical"
    broken.mkdir()
    for file in (demo_dir() / "canonical").iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    patients = pd.read_csv(broken / "patients.csv", dtype=str)
    patients.loc[:24, "age_years"] = "old"
    patients.to_csv(broken / "patients.csv", index=False)
    problems = tmp_path / "problems.csv"
    result = runner.invoke(app, ["validate", str(broken), "--problems", str(problems)])
    assert result.exit_code == 1
    assert "patients.csv" in result.output
    assert "more (write them all with --problems FILE)" in result.output
    written = pd.read_csv(problems)
    assert len(written) == 25
    assert set(written["column"]) == {"age_years"}
    assert written["row"].tolist() == list(range(2, 27))
    assert len(sheet) > 0


def test_validate_missing_path_is_a_data_error(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1


def test_usage_error_exit_code():
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2


def test_simulate_writes_cohort_and_prints_calibration(tmp_path):
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--n", "120", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Simulated / published" in result.output
    for name in ("patients.csv", "treatments.csv", "outcomes.csv", "ground_truth.parquet"):
        assert (out / name).exists()
    again = runner.invoke(app, ["simulate", "--n", "120", "--seed", "3", "--out", str(out)])
    # refuses to overwrite without --overwrite: a usage error with a message, no traceback
    assert again.exit_code == 2, again.output
    assert "is not empty" in again.output and "--overwrite" in again.output
    assert again.exception is None or isinstance(again.exception, SystemExit)


def test_simulate_quiet_prints_no_table_but_still_reports_errors(tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--n", "120", "--seed", "3", "--out", str(out)]
    result = runner.invoke(app, [*args, "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "treatments.csv").exists()
    assert "Simulated / published" not in result.output
    assert f"Wrote 120 simulated treatments to {out}" in " ".join(result.output.split())
    unknown = runner.invoke(
        app, [*args[:-2], "--out", str(tmp_path / "x"), "--settings", "nope", "--quiet"]
    )
    assert unknown.exit_code == 1
    assert "Error: unknown setting(s) ['nope']" in unknown.output


def test_research_notice_in_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "not a medical device" in readme
    assert RESEARCH_USE_NOTICE.startswith("Research use only")
