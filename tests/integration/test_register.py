"""`modelregistry register` end to end: the real API server, S3 server, operator and MLflow.

The command runs as a person runs it (a process, KUBECONFIG and boto3's
variables in its environment) on an MLflow model directory, with lineage
from a git repository made here and a run logged to a real MLflow tracking
server (`mlflow server`, pip-installed once into a cached venv, as
bench/registry_throughput.py does).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server
from modelregistry.localenv.tools import cache_root
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, wait_until
from tests.unit.test_checks_artifacts import sklearn_mlflow_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

MLFLOW_VERSION = "3.17.2"  # the version bench/registry_throughput.py measures
OPERATOR_SOURCE = Path(__file__).resolve().parents[2] / "operator"


def mlflow_executable() -> Path:
    """`mlflow` from the cached venv the benchmarks use (installed once)."""
    venv = cache_root() / "bench" / f"mlflow-{MLFLOW_VERSION}"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
        subprocess.run([*pip, f"mlflow=={MLFLOW_VERSION}"], check=True, timeout=1200)
        stamp.touch()
    return venv / "bin" / "mlflow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- loopback
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server on loopback (sqlite), stopped with its workers."""
    work = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [
                str(mlflow_executable()),
                "server",
                "--backend-store-uri",
                f"sqlite:///{work / 'mlflow.db'}",
                "--default-artifact-root",
                (work / "artifacts").as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{url}/health") or server.poll() is not None,
            timeout=180,
            what="MLflow's /health",
        )
        assert server.poll() is None, (work / "server.log").read_text()[-3000:]
        yield url
    finally:
        # The server and its workers: the whole process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def mlflow_call(base: str, endpoint: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{base}/api/2.0/mlflow/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def logged_run(base: str) -> str:
    """A finished run in the default experiment, with a metric and a param."""
    run_id = str(
        mlflow_call(base, "runs/create", {"experiment_id": "0", "start_time": 0})["run"]["info"][
            "run_id"
        ]
    )
    now = int(time.time() * 1000)
    mlflow_call(
        base,
        "runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [{"key": "auc", "value": 0.91, "timestamp": now, "step": 0}],
            "params": [{"key": "C", "value": "0.5"}],
        },
    )
    mlflow_call(base, "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now})
    return run_id


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def training_repo(tmp_path: Path) -> Path:
    root = tmp_path / "training"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "ml@example.com")
    git(root, "config", "user.name", "ML")
    git(root, "remote", "add", "origin", "https://git.example.com/ml/churn.git")
    (root / "train.py").write_text("print('fit')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "train")
    return root


@pytest.fixture
def run_register(cluster: Cluster, s3: S3Server, namespace: str) -> Any:
    """`modelregistry register ARGS -n <namespace>` as a process, as a person runs it."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(OPERATOR_SOURCE), os.environ.get("PYTHONPATH")) if p
            ),
            "KUBECONFIG": str(cluster.kubeconfig),
            "AWS_ENDPOINT_URL": s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        return subprocess.run(
            [sys.executable, "-m", "modelregistry", "register", *args, "-n", namespace],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run


def store_secret(objects: Objects, s3: S3Server) -> str:
    """The Secret the validation Pod's fetch step reads the bytes with."""
    objects.s3_secret("store", s3.access_key, s3.secret_key)
    return "store"


def test_an_mlflow_model_is_registered_ready_with_its_lineage_signature_and_run(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    s3: S3Server,
    bucket: str,
    mlflow_server: str,
    training_repo: Path,
    run_register: Any,
    tmp_path: Path,
) -> None:
    objects.model(
        "churn",
        policy={"validation": {"requireSignature": True}},
        defaultValidation={
            "checks": [{"name": "format", "builtin": "format"}],
            "deadlineSeconds": 120,
        },
    )
    model = sklearn_mlflow_model(tmp_path / "model")
    run_id = logged_run(mlflow_server)

    done = run_register(
        str(model),
        "--model=churn",
        f"--to=s3://{bucket}/churn/1/",
        f"--git={training_repo}",
        f"--mlflow-run={run_id}",
        f"--mlflow-tracking-uri={mlflow_server}",
        f"--storage-secret={store_secret(objects, s3)}",
        "--stage=Staging",
        "--wait",
        "--timeout=240",
        "-o",
        "json",
    )

    assert done.returncode == 0, done.stderr + operator.log_tail()
    printed = json.loads(done.stdout)
    assert printed["ready"] is True
    body = objects.get("modelversions", printed["name"])
    spec, status = body["spec"], body["status"]
    local = digest_local_path(model)
    assert spec["artifact"]["digest"] == status["artifact"]["digest"] == local.digest
    assert status["artifact"]["fileCount"] == len(local.files)
    assert spec["artifact"]["format"] == "mlflow"
    assert spec["lineage"]["code"] == {
        "repository": "https://git.example.com/ml/churn.git",
        "commit": git(training_repo, "rev-parse", "HEAD"),
    }
    assert spec["lineage"]["trainingRun"] == {
        "id": run_id,
        "uri": f"{mlflow_server}/#/experiments/0/runs/{run_id}",
        "system": "mlflow",
    }
    assert (spec["metrics"], spec["hyperparameters"]) == ({"auc": 0.91}, {"C": "0.5"})
    assert [i["name"] for i in spec["signature"]["inputs"]] == ["x", "y", "z"]
    assert spec["signature"]["outputs"] == [{"name": "output_0", "dtype": "int64"}]
    assert body["metadata"]["annotations"]["modelregistry.io/mlflow-flavors"] == (
        "python_function,sklearn"
    )
    # The format check ran in a Pod on those bytes, and agreed with the recorded signature.
    (check,) = status["validation"]["checks"]
    assert (check["name"], check["result"]) == ("format", "Passed")
    assert f"registered {printed['name']} (Model churn)" in done.stderr
    wait_until(
        lambda: (
            (objects.get("modelversions", printed["name"]).get("status") or {}).get("stage")
            == "Staging"
        ),
        what="Staging granted",
    )


def test_a_dirty_working_tree_is_refused_before_anything_is_uploaded(
    operator: OperatorProcess,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    training_repo: Path,
    run_register: Any,
    tmp_path: Path,
) -> None:
    objects.model("churn")
    (training_repo / "train.py").write_text("print('fit harder')\n")
    model = sklearn_mlflow_model(tmp_path / "model")

    done = run_register(str(model), "--model=churn", f"--to=s3://{bucket}/d/", cwd=training_repo)

    assert done.returncode == 1
    assert "uncommitted changes (train.py)" in done.stderr
    assert "--allow-dirty" in done.stderr
    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    listing = objects.api.list_namespaced_custom_object(
        "modelregistry.io", "v1alpha1", objects.namespace, "modelversions"
    )
    assert cast(dict[str, Any], listing)["items"] == []


def test_a_version_that_stalls_exits_non_zero_with_the_reason(
    operator: OperatorProcess,
    objects: Objects,
    bucket: str,
    run_register: Any,
    tmp_path: Path,
) -> None:
    objects.model(
        "churn",
        policy={"validation": {"metricThresholds": ["auc >= 0.9"]}},
        defaultValidation={"checks": [{"name": "metrics", "builtin": "metrics"}]},
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not checked here")

    done = run_register(
        str(path),
        "--model=churn",
        f"--to=s3://{bucket}/weak/",
        "--no-git",
        "--metric=auc=0.85",
        "--wait",
        "--timeout=120",
    )

    assert done.returncode == 1, done.stderr + operator.log_tail()
    assert "is stalled: CheckFailed: Check 'metrics' failed: " in done.stderr
    assert "auc" in done.stderr and "0.9" in done.stderr
    # Each condition as it appeared (stderr is not a terminal here).
    assert "Stalled=True CheckFailed" in done.stderr
