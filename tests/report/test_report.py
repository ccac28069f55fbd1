"""The reviewer report: content, CLI, and a headless Chromium render with a negative control."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from report_browser import chromium, page_is_sound, render_check

from oncoresist.paths import demo_dir
from oncoresist.tracking.bundles import save_bundle

#: Each test renders figures or a report from a trained model (tens of seconds on 2 cores).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_folder(explain_trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-model") / "model"
    save_bundle(explain_trained.bundle, folder)
    return folder


@pytest.fixture(scope="module")
def demo_report(model_folder, tmp_path_factory):
    from oncoresist.pipelines.report import report_file

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
    from oncoresist.scoring.engine import score_profiles
    from oncoresist.tracking.resolve import resolve_bundle

    _, out = demo_report
    bundle, _ = resolve_bundle(str(model_folder))
    frame = pd.read_csv(demo_dir() / "profiles.csv", dtype=str)
    scores = score_profiles(bundle, frame, top_drivers=0).scores.set_index("patient_id")
    text = out.read_text()
    row = scores.loc["P000003"]
    section = text[text.index('data-patient-id="P000003"') :]
    assert f"{row['median_months_to_resistance']:.1f} months" in section
    assert f"P = {row[f'p_{row.predicted_mechanism}']:.2f}" in section


@pytest.fixture(scope="module")
def demo_scores(model_folder):
    """The scoring engine's rows for the demo sheet, by patient id."""
    from oncoresist.scoring.engine import score_profiles
    from oncoresist.tracking.resolve import resolve_bundle

    bundle, _ = resolve_bundle(str(model_folder))
    frame = pd.read_csv(demo_dir() / "profiles.csv", dtype=str)
    return score_profiles(bundle, frame, top_drivers=0).scores.set_index("patient_id")


def _section(text: str, patient: str) -> str:
    start = text.index(f'data-patient-id="{patient}"')
    return text[start : text.index("</section>", start)]


def test_report_shows_sets_beside_probabilities_and_intervals_on_the_curve(
    demo_report, demo_scores, explain_trained
):
    from oncoresist.contract import MECHANISMS

    card = explain_trained.bundle.metadata["uncertainty"]
    assert {"mechanism_sets", "time_intervals", "ood"} <= set(explain_trained.bundle.extras)
    set_level = f"{100 * card['mechanism_sets']['coverage']:.0f}%"
    interval_level = f"{100 * card['time_intervals']['coverage']:.0f}%"
    text = demo_report[1].read_text()
    for patient in ("P000001", "P000003"):
        row, section = demo_scores.loc[patient], _section(text, patient)
        members = row["mechanism_set"].strip("{}").split(", ")
        assert members[0] == row["predicted_mechanism"]
        # The set beside the probabilities: in the sentence, and marked in the table of all five.
        assert (
            f'{set_level} conformal mechanism set: <strong class="mechanism-set">'
            f"{row['mechanism_set']}</strong>" in section
        )
        table = re.search(r'<table class="mechanisms">(.*?)</table>', section, re.S)
        assert table and section.index("mechanism-set") < table.start()
        assert f"<th>in {set_level} set</th>" in table.group(1)
        cells = re.findall(
            r"<tr><td>(\w+)</td><td>([\d.]+)</td><td>(yes|)</td></tr>", table.group(1)
        )
        assert [c[0] for c in cells] == list(MECHANISMS)
        for mechanism, probability, in_set in cells:
            assert probability == f"{row[f'p_{mechanism}']:.2f}"
            assert (in_set == "yes") == (mechanism in members)
        # The interval: the engine's months_lo / months_hi, in the text and on the curve.
        low, high = row["months_lo"], row["months_hi"]
        assert low <= row["median_months_to_resistance"]
        expected = (
            f"{interval_level} interval {low:.1f} – {high:.1f} months"
            if np.isfinite(high)
            else f"{interval_level} interval: at least {low:.1f} months"
        )
        assert f'<span class="interval">{expected}' in section
        caption = re.search(r'alt="survival curve[^>]*>.*?<figcaption>(.*?)</figcaption>', section)
        assert caption and f"shaded: {expected}" in caption.group(1)


def test_report_model_card_gives_uncertainty_as_logged(demo_report, explain_trained):
    measured = explain_trained.bundle.metadata["uncertainty"]["measured"]
    text = demo_report[1].read_text()
    match = re.search(r'<table id="uncertainty-card">(.*?)</table>', text, re.S)
    assert match and text.index('id="model-card"') < match.start() < text.index("Cohort overview")
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", match.group(1))
    rows = {component: measured_text for component, _, measured_text in cells}
    assert set(rows) == {"mechanism sets (90%)", "time intervals (80%)", "out-of-distribution flag"}
    sets, intervals, ood = rows.values()
    assert f"coverage {measured['mechanism_set_coverage']:.3f} (95% CI" in sets
    assert f"mean set size {measured['mechanism_set_mean_size']:.2f}" in sets
    # Simulated data: coverage of the true times, and the censoring-aware estimates by name.
    truth = f"coverage of the true (uncensored) times {measured['time_interval_coverage']:.3f}"
    assert truth in intervals
    assert f"{measured['time_interval_coverage_km']:.3f} (Kaplan-Meier)" in intervals
    assert f"{measured['time_interval_coverage_ipcw']:.3f} (IPCW" in intervals
    assert f"flagged {measured['ood_flag_rate']:.1%} of test rows" in ood
    for name in ("expression_programs", "unseen_cancer_type", "unnormalised_counts"):
        assert f"{measured[f'ood_auroc_{name}']:.3f}" in ood, name


def test_uncertainty_card_without_ground_truth_names_only_the_estimates():
    from oncoresist.report.uncertainty import uncertainty_rows

    card = {
        "time_intervals": {"method": "m", "coverage": 0.8},
        "not_fitted": ["mechanism_sets"],
        "measured": {"time_interval_coverage_km": 0.812, "time_interval_coverage_ipcw": 0.79},
    }
    rows = {r["component"]: r for r in uncertainty_rows(card)}
    assert set(rows) == {"time intervals (80%)", "not fitted"}
    measured = rows["time intervals (80%)"]["measured"]
    assert "true" not in measured
    assert "0.812 (Kaplan-Meier)" in measured and "0.790 (IPCW" in measured
    assert rows["not fitted"]["method"] == "mechanism_sets"
    assert uncertainty_rows({}) == []


@pytest.fixture(scope="module")
def ood_report(model_folder, tmp_path_factory):
    """Report on the demo sheet plus a copy of P000003 with a cancer type never seen."""
    from oncoresist.pipelines.report import report_file
    from oncoresist.scoring.engine import score_profiles
    from oncoresist.tracking.resolve import resolve_bundle

    folder = tmp_path_factory.mktemp("ood-report")
    frame = pd.read_csv(demo_dir() / "profiles.csv", dtype=str)
    shifted = frame[frame["patient_id"] == "P000003"].assign(
        patient_id="P900003", treatment_id="T900003", cancer_type="colorectal"
    )
    sheet = folder / "profiles.csv"
    pd.concat([frame, shifted], ignore_index=True).to_csv(sheet, index=False)
    out = folder / "report.html"
    report_file(sheet, out, model=str(model_folder), patients=["P000003", "P900003"])
    bundle, _ = resolve_bundle(str(model_folder))
    scores = score_profiles(bundle, pd.read_csv(sheet, dtype=str), top_drivers=0).scores
    return out.read_text(), scores.set_index("patient_id")


def test_report_marks_out_of_distribution_rows(ood_report):
    text, scores = ood_report
    assert bool(scores.loc["P900003", "ood_flag"]) and not bool(scores.loc["P000003", "ood_flag"])
    marked = _section(text, "P900003")
    assert 'data-ood="true"' in marked
    notice = re.search(r'<p class="notice ood">(.*?)</p>', marked, re.S)
    assert notice and "do not trust these predictions" in notice.group(1)
    assert "cancer type &#39;colorectal&#39; never seen in training" in notice.group(1)
    plain = _section(text, "P000003")
    assert 'data-ood="false"' in plain and "notice ood" not in plain
    assert re.findall(r'<section class="patient ood"[^>]*data-patient-id="([^"]+)"', text) == [
        "P900003"
    ]
    flagged = int(scores["ood_flag"].astype(bool).sum())
    assert flagged >= 1
    assert f"Out of distribution: {flagged} of {len(scores)} scored rows flagged." in text


def _interval_shade_columns(uri: str) -> int:
    """Image columns holding the interval's shade (#3498db at alpha 0.2 on white)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    pixels = plt.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))[..., :3] * 255
    shade = np.array([214.4, 234.4, 247.8])
    near = (np.abs(pixels - shade) < 6).all(axis=2)
    return int((near.sum(axis=0) > 20).sum())  # legend swatches are shorter than 20 pixels


def test_survival_chart_draws_closed_and_open_intervals():
    from oncoresist.contract import MECHANISMS
    from oncoresist.report.charts import probabilities_chart, survival_chart

    months = np.linspace(0.0, 30.0, 120)
    curve = np.exp(-months / 10.0)
    none = _interval_shade_columns(survival_chart(months, curve, 7.0, None, None))
    closed = _interval_shade_columns(survival_chart(months, curve, 7.0, 5.0, 10.0))
    opened = _interval_shade_columns(survival_chart(months, curve, 7.0, 5.0, float("inf")))
    assert none == 0
    assert closed > 20
    assert opened > 3 * closed  # 5 to the axis end (30) against 5 to 10
    row = pd.Series({"predicted_mechanism": "bypass", **{f"p_{m}": 0.2 for m in MECHANISMS}})
    assert probabilities_chart(row, ["bypass", "lineage"]) != probabilities_chart(row)


def test_report_refuses_unknown_patient_and_existing_output(model_folder, tmp_path, demo_report):
    from oncoresist.exceptions import InputDataError, OutputExistsError
    from oncoresist.pipelines.report import report_file

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

    from oncoresist.cli.app import app

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
