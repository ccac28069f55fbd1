"""Dask scoring on a real LocalCluster: same numbers as one process, survives a killed worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pandas as pd
import pytest

from oncoresist.tracking.bundles import read_bundle

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

PARTITION_ROWS = 30


@pytest.fixture(scope="module")
def cluster_client():
    """Two single-threaded worker processes, as on a small real cluster."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def sheet(scoring_model, tmp_path_factory):
    """A 90-row profile sheet (CSV and Parquet, three partitions) with planted bad rows.

    File row 4 has an unknown drug, row 40 a bad line number, and row 70 repeats the
    treatment of row 10 (another partition), so it must be rejected as a repeat.
    """
    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.io.inputs import read_cohort
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.pipelines.demo import profile_sheet

    cohort = read_cohort(scoring_model.data)
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    frame = profile_sheet(cohort_to_profiles(cohort)).head(90).reset_index(drop=True)
    frame = frame.astype({"line_number": object})
    frame.loc[2, "drug"] = "notarealinib"  # file row 4
    frame.loc[38, "line_number"] = "first"  # file row 40
    frame.loc[68, ["patient_id", "treatment_id"]] = frame.loc[8, ["patient_id", "treatment_id"]]
    facts = ["cancer_type", "age_years", "sex"]
    frame.loc[68, facts] = frame.loc[8, facts]
    folder = tmp_path_factory.mktemp("dask-sheet")
    csv = folder / "profiles.csv"
    frame.to_csv(csv, index=False)
    parquet = folder / "profiles.parquet"
    # Row groups of 40 rows: partitions of 30 cut across them.
    frame.astype({"line_number": str}).to_parquet(parquet, index=False, row_group_size=40)
    return {"csv": csv, "parquet": parquet, "n": len(frame)}


@pytest.fixture(scope="module")
def single_process(scoring_model, sheet, tmp_path_factory):
    """The single-machine job on the same rows (chunks as large as the partitions)."""
    from oncoresist.pipelines.score import score_file

    out = tmp_path_factory.mktemp("single") / "scores.parquet"
    job = score_file(sheet["csv"], out, model=str(scoring_model.folder), chunk_size=PARTITION_ROWS)
    errors = pd.read_csv(job.errors)
    return job, pd.read_parquet(out), errors


def _comparable(scores: pd.DataFrame) -> pd.DataFrame:
    return scores.drop(columns=["scored_at"]).reset_index(drop=True)


def test_dask_scores_equal_single_process(
    cluster_client, scoring_model, sheet, single_process, tmp_path
):
    from oncoresist.scale.scoring import score_dataset

    single_job, single_scores, single_errors = single_process
    out = tmp_path / "scores"
    job = score_dataset(
        sheet["parquet"],
        out,
        model=str(scoring_model.folder),
        partition_rows=PARTITION_ROWS,
        client=cluster_client,
    )
    assert (out / "_SUCCESS").is_file()
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == [f"part-{i:05d}.parquet" for i in range(3)]
    scores = pd.read_parquet(out)
    pd.testing.assert_frame_equal(_comparable(scores), _comparable(single_scores))
    assert (job.n_read, job.n_scored, job.n_rejected) == (
        single_job.n_read,
        single_job.n_scored,
        single_job.n_rejected,
    )
    assert job.accounting() == "read 90 = scored 87 + rejected 3"
    errors = pd.read_parquet(job.errors).sort_values(["row", "column"])
    assert errors["row"].tolist() == single_errors.sort_values(["row", "column"])["row"].tolist()
    assert set(errors["row"]) == {4, 40, 70}
    repeat = errors[errors["row"] == 70]
    assert repeat["reason"].str.contains("treatment repeated").all()
    assert not scores["treatment_id"].duplicated().any()
    marker = json.loads((out / "_SUCCESS").read_text())
    assert marker["accounting"] == job.accounting()
    assert not (out / "_staging").exists()
    assert not list(out.glob(".*"))


def _thread_settings() -> tuple[str | None, str | None]:
    return os.environ.get("OMP_WAIT_POLICY"), os.environ.get("OMP_NUM_THREADS")


def test_local_cluster_workers_wait_passively_on_one_thread(cluster_client):
    """Workers started after ``import oncoresist`` inherit its OMP_WAIT_POLICY (no spinning)."""
    import oncoresist  # noqa: F401  (sets the policy in this process)

    policy = os.environ["OMP_WAIT_POLICY"]  # PASSIVE unless the user chose otherwise
    settings = cluster_client.run(_thread_settings)
    assert len(settings) == 2
    assert set(settings.values()) == {(policy, "1")}


def test_worker_bundle_runs_one_xgboost_thread(scoring_model):
    import json

    from oncoresist.scale.scoring import one_xgboost_thread

    bundle = read_bundle(scoring_model.folder)
    models = (bundle.mechanism_model, bundle.survival_model)

    def nthreads() -> list[str]:
        return [
            json.loads(m.booster_.save_config())["learner"]["generic_param"]["nthread"]
            for m in models
        ]

    for model in models:  # as trained with the default n_jobs=2 (the test model used 1)
        model.booster_.set_param({"nthread": 2})
        model.n_jobs = 2
    assert nthreads() == ["2", "2"]
    one_xgboost_thread(bundle)
    assert nthreads() == ["1", "1"]
    assert [m.n_jobs for m in models] == [1, 1]


def test_dask_scoring_survives_killed_worker(
    cluster_client, scoring_model, sheet, single_process, tmp_path
):
    """Hold partition 1 on an Event, kill its worker, release: it runs again, once."""
    from distributed import Event

    from oncoresist.scale.scoring import score_dataset

    attempts = tmp_path / "attempts"
    attempts.mkdir()
    name = f"hold-{uuid.uuid4().hex}"
    release = Event(name, client=cluster_client)

    def hold(number: int, folder: str = str(attempts), event: str = name) -> None:
        import os
        from pathlib import Path

        from distributed import Event

        earlier = list(Path(folder).glob(f"p{number}-*"))
        Path(folder, f"p{number}-{os.getpid()}-{len(earlier)}").touch()
        if number == 1 and not earlier:
            Event(event).wait(timeout=120)

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["job"] = score_dataset(
                sheet["parquet"],
                tmp_path / "scores",
                model=str(scoring_model.folder),
                partition_rows=PARTITION_ROWS,
                client=cluster_client,
                on_partition=hold,
            )
        except BaseException as error:  # re-raised in the test thread below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not list(attempts.glob("p1-*")):
        assert time.monotonic() < deadline, "partition 1 never started"
        time.sleep(0.1)
    first = next(attempts.glob("p1-*")).name
    held_pid = int(first.split("-")[1])
    os.kill(held_pid, signal.SIGKILL)  # a worker process this test's cluster started
    deadline = time.monotonic() + 60
    while len(list(attempts.glob("p1-*"))) < 2:
        assert time.monotonic() < deadline, "partition 1 was not run again"
        time.sleep(0.1)
    release.set()
    thread.join(timeout=120)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    job = outcome["job"]

    pids = {int(p.name.split("-")[2]): int(p.name.split("-")[1]) for p in attempts.glob("p1-*")}
    assert sorted(pids) == [0, 1]  # held once, run again once
    assert pids[0] == held_pid
    assert pids[1] != held_pid  # the rerun happened in another (or restarted) worker
    single_job, single_scores, _ = single_process
    scores = pd.read_parquet(tmp_path / "scores")
    pd.testing.assert_frame_equal(_comparable(scores), _comparable(single_scores))
    assert not scores["treatment_id"].duplicated().any()
    assert job.accounting() == single_job.accounting()  # type: ignore[attr-defined]


def test_dask_scoring_refuses_existing_output(cluster_client, scoring_model, sheet, tmp_path):
    from oncoresist.exceptions import OutputExistsError
    from oncoresist.scale.scoring import score_dataset

    out = tmp_path / "scores"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        score_dataset(sheet["parquet"], out, model=str(scoring_model.folder), client=cluster_client)
    with pytest.raises(OutputExistsError, match="not part of a scores dataset"):
        score_dataset(
            sheet["parquet"],
            out,
            model=str(scoring_model.folder),
            client=cluster_client,
            overwrite=True,
        )
    assert (out / "notes.txt").read_text() == "mine"


def test_dask_scoring_folder_of_partitions(
    cluster_client, scoring_model, sheet, single_process, tmp_path
):
    """A folder of sheets (Parquet + CSV, staged on the client): rows keep their file's numbers."""
    from oncoresist.scale.scoring import score_dataset

    frame = pd.read_parquet(sheet["parquet"])
    folder = tmp_path / "input"
    folder.mkdir()
    frame.iloc[:60].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[60:].to_csv(folder / "part-1.csv", index=False)
    job = score_dataset(
        folder, tmp_path / "scores", model=str(scoring_model.folder), client=cluster_client
    )
    assert job.accounting() == "read 90 = scored 87 + rejected 3"
    scores = pd.read_parquet(tmp_path / "scores")
    pd.testing.assert_frame_equal(_comparable(scores), _comparable(single_process[1]))
    errors = pd.read_parquet(job.errors)
    located = set(zip(errors["source"], errors["row"], strict=True))
    # sheet row 70 is row 10 of part-1.csv (60 rows earlier, same header)
    assert located == {("part-0.parquet", 4), ("part-0.parquet", 40), ("part-1.csv", 10)}


def test_unknown_input_is_an_input_error(tmp_path):
    from oncoresist.exceptions import InputDataError
    from oncoresist.scale.partitions import sheet_files

    with pytest.raises(InputDataError, match="not a profile sheet"):
        sheet_files(tmp_path)


def test_seen_before_gives_first_accepting_partition():
    from oncoresist.scale.partitions import cross_partition_keys, seen_before

    keys = {0: ["a", "b"], 1: ["b", "c"], 2: ["a", "c", "d"]}
    shared = cross_partition_keys(keys)
    assert shared == {0: {"a", "b"}, 1: {"b", "c"}, 2: {"a", "c"}}
    # partition 0 rejected its only "a" row for another reason: partition 2 owns "a"
    accepted = {0: {"b": 3}, 1: {"b": 5, "c": 6}, 2: {"a": 9, "c": 10}}
    seen = seen_before(shared, accepted, 3)
    assert seen == {0: {}, 1: {"b": 3}, 2: {"c": 6}}


def test_cli_score_engine_dask(cluster_client, scoring_model, sheet, tmp_path):
    """`oncoresist score --engine dask --scheduler ADDRESS`: exit 3 (rows rejected), accounting."""
    from typer.testing import CliRunner

    from oncoresist.cli.app import app

    out = tmp_path / "scores"
    common = ["score", "-q", "--input", str(sheet["parquet"]), "--out", str(out),
              "--model", str(scoring_model.folder)]  # fmt: skip
    result = CliRunner().invoke(
        app,
        [
            *common,
            "--engine",
            "dask",
            "--scheduler",
            cluster_client.scheduler.address,
            "--chunk-size",
            str(PARTITION_ROWS),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "read 90 = scored 87 + rejected 3" in result.stdout
    assert len(pd.read_parquet(out)) == 87


@pytest.mark.parametrize(
    "options", [["--engine", "spark"], ["--engine", "dask", "--format", "csv"]]
)
def test_cli_score_engine_usage_errors(scoring_model, sheet, tmp_path, options):
    from typer.testing import CliRunner

    from oncoresist.cli.app import app

    result = CliRunner().invoke(
        app,
        [
            "score",
            "-q",
            "--input",
            str(sheet["parquet"]),
            "--out",
            str(tmp_path / "s"),
            "--model",
            str(scoring_model.folder),
            *options,
        ],
    )
    assert result.exit_code == 2
    assert "--engine must be local or dask" in result.output
    assert not (tmp_path / "s").exists()
