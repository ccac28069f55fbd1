"""The reviewer report: content, CLI, and a headless Chromium render with a negative control."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from report_browser import chromium, page_is_sound, render_check

from oncoresist.paths import demo_dir

#: Each test renders figures or a report from a trained model (tens of seconds on 2 cores).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_folder(explain_trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-model") / "model"
    explain_trained.bundle.save(folder)
    return folder


@pytest.fixture(scope="module")
def demo_report(model_folder, tmp_path_factory):
    from oncoresist.explain_job import report_file

    out = tmp_path_factory.mktemp("report") / "report.html"
    job = report_file(
        demo_dir() / "profiles.csv", out, model=str(model_folder), patients=["P000001", "P000003"]
    )
    return job, out


def test_report_has_card_banner_overview_and_requested_patients(demo_report, explain_trained):
    job, out = demo_report
    text = out.read_text()
    assert job.n_patients == 2
    assert text.index('id="simulated-banner"') < text.index("<h1>")  # at the top
    assert "research use only, not a medical device" in text.lower()
    assert explain_trained.bundle.metadata["run_id"] in text
    assert explain_trained.bundle.metadata["data_fingerprint"] in text
    assert "Cohort overview" in text
    assert re.findall(r'data-patient-id="([^"]+)"', text) == ["P000001", "P000003"]
    assert "raises the log-odds of" in text or "lowers the log-odds of" in text
    assert re.search(r"(shortens|lengthens) expected time to resistance by \d+%", text)
    # self-contained: every image inline, nothing fetched
    sources = re.findall(r'<img[^>]*src="([^"]+)"', text)
    assert len(sources) == 1 + 4 * 2 and all(
        s.startswith("data:image/png;base64,") for s in sources
    )
    assert not re.search(r'(?:src|href)="(?:https?:)?//', text)


def test_report_numbers_are_the_scoring_engines(demo_report, model_folder):
    from oncoresist.score_job import resolve_bundle
    from oncoresist.scoring import score_profiles

    _, out = demo_report
    bundle, _ = resolve_bundle(str(model_folder))
    frame = pd.read_csv(demo_dir() / "profiles.csv", dtype=str)
    scores = score_profiles(bundle, frame, top_drivers=0).scores.set_index("patient_id")
    text = out.read_text()
    row = scores.loc["P000003"]
    section = text[text.index('data-patient-id="P000003"') :]
    assert f"{row['median_months_to_resistance']:.1f} months" in section
    assert f"P = {row[f'p_{row.predicted_mechanism}']:.2f}" in section


def test_report_refuses_unknown_patient_and_existing_output(model_folder, tmp_path, demo_report):
    from oncoresist.exceptions import InputDataError
    from oncoresist.explain_job import report_file
    from oncoresist.score_job import OutputExistsError

    with pytest.raises(InputDataError, match="requested patient"):
        report_file(
            demo_dir() / "profiles.csv",
            tmp_path / "r.html",
            model=str(model_folder),
            patients=["NOPE"],
        )
    with pytest.raises(OutputExistsError, match="--overwrite"):
        report_file(demo_dir() / "profiles.csv", demo_report[1], model=str(model_folder))


def test_report_and_explain_cli(model_folder, tmp_path):
    from typer.testing import CliRunner

    from oncoresist.cli import app

    runner = CliRunner()
    out = tmp_path / "r.html"
    args = [
        "report",
        "--model",
        str(model_folder),
        "--input",
        str(demo_dir() / "profiles.csv"),
        "--out",
        str(out),
        "--patients",
        "P000002",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.exists() and "P000002" in out.read_text()
    assert runner.invoke(app, args).exit_code == 2  # exists, no --overwrite
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    drivers = tmp_path / "drivers.csv"
    result = runner.invoke(
        app,
        [
            "explain",
            "--model",
            str(model_folder),
            "--input",
            str(demo_dir() / "profiles.csv"),
            "--out",
            str(drivers),
            "--top-k",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(drivers)
    assert list(table.columns[:8]) == [
        "patient_id",
        "treatment_id",
        "model",
        "rank",
        "feature",
        "label",
        "value",
        "contribution",
    ]
    n_rows = len(pd.read_csv(demo_dir() / "profiles.csv"))
    assert table["treatment_id"].nunique() == n_rows
    assert table.groupby(["treatment_id", "model"])["rank"].max().max() == 2
    assert set(table["model"].str.split(":").str[0]) == {"mechanism", "time_to_resistance"}


needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium is not installed")


@needs_chromium
@pytest.mark.slow
def test_report_renders_in_headless_chromium(demo_report, tmp_path):
    _, out = demo_report
    result = render_check(out, tmp_path)
    assert page_is_sound(result, ["P000001", "P000003"]) == []
    assert len(result["images"]) == 9
    assert result["banner"]
    assert {"Model card", "Cohort overview", "Patients"} <= set(result["headings"])


@needs_chromium
@pytest.mark.slow
def test_render_check_catches_a_broken_page(demo_report, tmp_path):
    """Negative control: a corrupt image and a script error must fail the same check."""
    _, out = demo_report
    text = out.read_text()
    first = text.index("data:image/png;base64,") + len("data:image/png;base64,")
    broken = text[:first] + "bm90IGEgcG5n" + text[first + 40 :]  # "not a png"
    broken = broken.replace("</body>", "<script>undefinedFunction();</script></body>")
    page = tmp_path / "broken.html"
    page.write_text(broken)
    result = render_check(page, tmp_path)
    wrong = page_is_sound(result, ["P000001", "P000003", "P999999"])
    assert any("image not decoded" in w for w in wrong)
    assert any("undefinedFunction" in w for w in wrong)
    assert "patient P999999 not shown" in wrong
