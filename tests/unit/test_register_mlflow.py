"""MLmodel and an MLflow run, as the spec fields a registration records."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelregistry.api.modelversion import Signature
from modelregistry.checks.formats import check_format
from modelregistry.checks.signature import from_spec
from modelregistry.client.mlflowmodel import (
    MlflowModelError,
    is_mlflow_model,
    read_mlflow_model,
)
from modelregistry.client.mlflowrun import MlflowRunError, fetch_run, parse_run, tracking_uri
from tests.unit.test_checks_artifacts import mlmodel_text, sklearn_mlflow_model

RUN = {
    "run": {
        "info": {"run_id": "5f2a", "experiment_id": "7", "status": "FINISHED"},
        "data": {
            "metrics": [
                {"key": "auc", "value": 0.87, "timestamp": 1, "step": 0},
                {"key": "loss", "value": "NaN", "timestamp": 1, "step": 0},
            ],
            "params": [
                {"key": "C", "value": "0.5"},
                {"key": "features", "value": "x" * 300},
            ],
            "tags": [{"key": "mlflow.user", "value": "ml"}],
        },
    }
}


def test_an_mlflow_directory_gives_flavors_signature_and_run(tmp_path: Path) -> None:
    root = sklearn_mlflow_model(tmp_path / "model")
    (root / "MLmodel").write_text((root / "MLmodel").read_text() + "run_id: 5f2a\n")

    found = read_mlflow_model(root)

    assert is_mlflow_model(root)
    assert found.flavors == ("python_function", "sklearn")
    assert found.run_id == "5f2a"
    assert found.signature == {
        "inputs": [
            {"name": "x", "dtype": "float64"},
            {"name": "y", "dtype": "float64"},
            {"name": "z", "dtype": "float64"},
        ],
        "outputs": [{"name": "output_0", "dtype": "int64"}],
    }


def test_the_recorded_signature_passes_the_format_check_on_the_same_model(
    tmp_path: Path,
) -> None:
    root = sklearn_mlflow_model(tmp_path / "model")
    signature = read_mlflow_model(root).signature
    assert signature is not None

    declared = from_spec(Signature.model_validate(signature))
    report = check_format(root, "mlflow", declared=declared, require_signature=True)

    assert report.passed, report.message


def test_tensor_specs_keep_their_shape(tmp_path: Path) -> None:
    tensors = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}]
    root = sklearn_mlflow_model(tmp_path / "model", inputs=tensors, outputs=tensors)

    signature = read_mlflow_model(root).signature

    assert signature == {
        "inputs": [{"name": "input_0", "dtype": "float32", "shape": [-1, 28, 28]}],
        "outputs": [{"name": "output_0", "dtype": "float32", "shape": [-1, 28, 28]}],
    }


def test_a_model_without_a_signature_records_none(tmp_path: Path) -> None:
    root = sklearn_mlflow_model(tmp_path / "model", inputs=None)

    assert read_mlflow_model(root).signature is None


def test_a_broken_mlmodel_is_named(tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(MlflowModelError, match=r"MLmodel.*not valid YAML"):
        read_mlflow_model(root)
    (root / "MLmodel").write_text(mlmodel_text().replace("'[{", "'not json [{"))
    with pytest.raises(MlflowModelError, match=r"signature.inputs is not valid JSON"):
        read_mlflow_model(root)


def test_a_run_gives_metrics_params_and_its_link_and_says_what_it_left_out() -> None:
    run = parse_run("http://mlflow:5000", RUN)

    assert run.metrics == {"auc": 0.87}
    assert run.params == {"C": "0.5"}
    assert run.training_run() == {
        "id": "5f2a",
        "uri": "http://mlflow:5000/#/experiments/7/runs/5f2a",
        "system": "mlflow",
    }
    assert len(run.skipped) == 2
    assert "metric loss" in run.skipped[0]
    assert "param features (its value is 300 characters" in run.skipped[1]


def test_the_tracking_uri_comes_from_the_flag_or_mlflows_variable() -> None:
    assert tracking_uri("http://a:5000/", {}) == "http://a:5000"
    assert tracking_uri(None, {"MLFLOW_TRACKING_URI": "https://b"}) == "https://b"
    with pytest.raises(MlflowRunError, match=r"--mlflow-tracking-uri.*MLFLOW_TRACKING_URI"):
        tracking_uri(None, {})
    with pytest.raises(MlflowRunError, match="not an http"):
        tracking_uri("file:///tmp/mlruns", {})


class _Tracking(BaseHTTPRequestHandler):
    """runs/get as MLflow's server answers it, for run 5f2a only."""

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        if self.path == "/api/2.0/mlflow/runs/get?run_id=5f2a":
            self._answer(200, RUN)
        else:
            self._answer(
                404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'x' not found"}
            )

    def _answer(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tracking_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tracking)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_run_is_read_over_http_with_mlflows_credentials(
    tracking_server: tuple[str, list[dict[str, str]]],
) -> None:
    base, seen = tracking_server

    run = fetch_run(base, "5f2a", {"MLFLOW_TRACKING_TOKEN": "tok"})

    assert run.metrics == {"auc": 0.87}
    assert seen[0]["Authorization"] == "Bearer tok"


def test_a_missing_run_and_an_unreachable_server_are_named(
    tracking_server: tuple[str, list[dict[str, str]]],
) -> None:
    base, _ = tracking_server
    with pytest.raises(MlflowRunError, match=r"run 'nope' does not exist at .*--mlflow-run"):
        fetch_run(base, "nope", {})
    with pytest.raises(MlflowRunError, match=r"cannot reach the MLflow tracking server"):
        fetch_run("http://127.0.0.1:9", "5f2a", {})
