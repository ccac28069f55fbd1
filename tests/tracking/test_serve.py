"""Parity: `mlflow models serve` (HTTP on loopback), pyfunc `predict` and the CLI agree."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from oncoresist.cli.app import app
from oncoresist.contract import MECHANISMS
from oncoresist.paths import data_dir, demo_dir
from oncoresist.scoring.engine import LANDMARK_MONTHS

DEMO = demo_dir() / "profiles.csv"
NUMBERS = [
    *[f"p_{m}" for m in MECHANISMS],
    "median_months_to_resistance",
    *[f"p_resistance_free_{m}m" for m in LANDMARK_MONTHS],
]
#: model_version included: the served model asks the registry for it when it loads.
TEXT = ["patient_id", "treatment_id", "drug", "predicted_mechanism", "mechanism_drivers",
        "time_drivers", "row_warnings", "model_name", "model_version", "run_id",
        "trained_on"]  # fmt: skip
#: The server starts a fresh Python with MLflow and the model: slow on a busy machine.
SERVER_START_S = 240


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(scoring_model, tmp_path_factory) -> Iterator[str]:
    """`mlflow models serve` of oncoresist@candidate on 127.0.0.1; always killed."""
    port = free_loopback_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": scoring_model.uri,
        "MLFLOW_REGISTRY_URI": scoring_model.uri,
        # The logged model carries the package code but not data/knowledge, which the code
        # finds next to itself; a deployment points ONCORESIST_DATA_DIR at its copy of data/
        # (reported: log_bundle should ship the knowledge folder with the model).
        "ONCORESIST_DATA_DIR": str(data_dir()),
        # the server runs `uvicorn` from PATH: this interpreter's environment first
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", scoring_model.ref,
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow models serve exited {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {SERVER_START_S} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        # the server forks uvicorn workers: end the whole session we started
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, signum)
                process.wait(timeout=20)
                break
            except ProcessLookupError:  # already gone
                process.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture(scope="module")
def sheet() -> pd.DataFrame:
    """The demo sheet as pandas reads it (numbers typed, ``line_number`` int64, empty cells
    missing): the logged signature accepts it as it is.
    """
    frame = pd.read_csv(DEMO)
    assert frame["line_number"].dtype == "int64" and frame["line_number"].max() > 1
    return frame


def served(url: str, frame: pd.DataFrame) -> pd.DataFrame:
    payload = json.loads(frame.to_json(orient="split", index=False))
    body = json.dumps({"dataframe_split": payload}).encode()
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return pd.DataFrame(json.loads(response.read())["predictions"])
    except urllib.error.HTTPError as error:
        raise AssertionError(f"HTTP {error.code}: {error.read().decode()[-2000:]}") from None


@pytest.mark.slow
def test_serve_pyfunc_and_cli_give_the_same_numbers(server, scoring_model, sheet, tmp_path):
    from oncoresist.tracking.registry import load_pyfunc

    over_http = served(server, sheet)
    pyfunc = load_pyfunc(scoring_model.ref, uri=scoring_model.uri).predict(sheet)
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "-q", "--model", scoring_model.ref, "--tracking-uri", scoring_model.uri,
         "--input", str(DEMO), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cli = pd.read_parquet(out)

    assert len(over_http) == len(pyfunc) == len(cli) == len(sheet)
    for name, frame in (("serve", over_http), ("pyfunc", pyfunc)):
        for column in NUMBERS:
            np.testing.assert_allclose(
                frame[column].astype(float), cli[column], rtol=0, atol=1e-6, err_msg=name
            )
        for column in TEXT:
            assert (
                frame[column].fillna("").astype(str).tolist()
                == cli[column].fillna("").astype(str).tolist()
            ), (name, column)
    assert (cli["run_id"] == scoring_model.run_id).all()
    assert scoring_model.version
    for frame in (over_http, pyfunc, cli):
        assert (frame["model_version"].astype(str) == scoring_model.version).all()
