"""Validation runs as Pods on the local node, end to end.

Artifacts are made here: a tiny scikit-learn model saved in MLflow layout,
an ONNX model made with onnx.helper. The checks run in the project's own
image, in a namespace that enforces the `restricted` Pod Security profile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes
import pytest

from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, wait_until
from tests.unit.test_checks_artifacts import onnx_linear_model, sklearn_mlflow_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

VALIDATION_POD_LABEL = "modelregistry.io/model-version"


def upload_dir(s3_client: S3Client, bucket: str, prefix: str, root: Path) -> str:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3_client.upload_file(str(path), bucket, prefix + path.relative_to(root).as_posix())
    return digest_local_path(root).digest


def secret_for(objects: Objects, s3: S3Server) -> dict[str, Any]:
    """Storage settings with a Secret: the fetch step in the Pod needs credentials."""
    objects.s3_secret("store", s3.access_key, s3.secret_key)
    return {"secretRef": {"name": "store"}}


def pods_of(objects: Objects, version: str) -> list[Any]:
    listing = objects.core.list_namespaced_pod(
        objects.namespace, label_selector=f"{VALIDATION_POD_LABEL}={version}"
    )
    return list(listing.items)


def pod_name(pod: kubernetes.client.V1Pod) -> str:
    assert pod.metadata is not None and pod.metadata.name is not None
    return pod.metadata.name


def validation_of(objects: Objects, name: str) -> dict[str, Any]:
    return dict((objects.get("modelversions", name).get("status") or {}).get("validation") or {})


def register(
    objects: Objects,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    name: str,
    root: Path,
    checks: list[dict[str, Any]],
    **spec: Any,
) -> None:
    digest = upload_dir(s3_client, bucket, f"{name}/", root)
    objects.version(
        name,
        "clf",
        f"s3://{bucket}/{name}/",
        artifact={"digest": digest, "format": "mlflow", "storage": secret_for(objects, s3)},
        validation={"checks": checks, "deadlineSeconds": 120},
        **spec,
    )


def test_a_sklearn_model_in_mlflow_layout_passes_format_and_load_and_predict(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    register(
        objects,
        s3,
        s3_client,
        bucket,
        "clf-good",
        sklearn_mlflow_model(tmp_path / "good"),
        [
            {"name": "format", "builtin": "format"},
            {"name": "predict", "builtin": "loadAndPredict", "calls": 5},
        ],
    )

    objects.wait_condition(
        "clf-good", "Validated", "True", "ChecksPassed", timeout=180, on_timeout=operator.log_tail
    )
    objects.wait_condition("clf-good", "Ready", "True", "Succeeded")
    validation = validation_of(objects, "clf-good")
    assert validation["run"] == 1
    assert [(c["name"], c["result"]) for c in validation["checks"]] == [
        ("format", "Passed"),
        ("predict", "Passed"),
    ]
    assert all(c["startedAt"] and c["finishedAt"] for c in validation["checks"])
    # A passed run's Pod goes once its results are in status.
    wait_until(lambda: not pods_of(objects, "clf-good"), what="the passed run's Pod to go")


def test_a_corrupted_file_fails_the_check_naming_it_and_keeps_the_pod_for_logs(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    cluster: Cluster,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    root = sklearn_mlflow_model(tmp_path / "broken")
    (root / "model.pkl").write_bytes((root / "model.pkl").read_bytes()[:40])
    objects.model("clf")
    register(
        objects,
        s3,
        s3_client,
        bucket,
        "clf-broken",
        root,
        [{"name": "format", "builtin": "format"}],
    )

    failed = objects.wait_condition(
        "clf-broken", "Validated", "False", "CheckFailed", timeout=180, on_timeout=operator.log_tail
    )
    assert "Check 'format' failed (exit code 1)" in failed["message"]
    assert "model.pkl" in failed["message"]
    stalled = objects.condition("clf-broken", "Stalled")
    assert stalled is not None and stalled["reason"] == "CheckFailed"
    (pod,) = pods_of(objects, "clf-broken")
    assert f"kubectl logs {pod.metadata.name} -c format" in failed["message"]
    logs = cluster.kubectl_run("logs", "-n", restricted, pod.metadata.name, "-c", "format")
    assert "model.pkl" in logs.stdout


def test_a_missing_signature_is_refused_when_the_policy_requires_one(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf", policy={"validation": {"requireSignature": True}})
    register(
        objects,
        s3,
        s3_client,
        bucket,
        "clf-unsigned",
        sklearn_mlflow_model(tmp_path / "unsigned", inputs=None),
        [{"name": "format", "builtin": "format"}],
    )

    failed = objects.wait_condition(
        "clf-unsigned",
        "Validated",
        "False",
        "CheckFailed",
        timeout=180,
        on_timeout=operator.log_tail,
    )
    assert "signature" in failed["message"]


def test_an_onnx_model_made_with_onnx_helper_passes(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    s3_client.upload_file(str(path), bucket, "onnx/linear.onnx")
    objects.model("clf")
    objects.version(
        "clf-onnx",
        "clf",
        f"s3://{bucket}/onnx/linear.onnx",
        artifact={
            "digest": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
            "format": "onnx",
            "storage": secret_for(objects, s3),
        },
        validation={
            "checks": [
                {"name": "format", "builtin": "format"},
                {"name": "predict", "builtin": "loadAndPredict"},
            ]
        },
    )

    objects.wait_condition(
        "clf-onnx", "Validated", "True", "ChecksPassed", timeout=180, on_timeout=operator.log_tail
    )


def test_a_metric_under_its_threshold_fails_without_any_pod(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf", policy={"validation": {"metricThresholds": ["auc >= 0.9"]}})
    objects.version(
        "clf-weak",
        "clf",
        f"s3://{bucket}/m.bin",
        metrics={"auc": 0.85},
        validation={"checks": [{"name": "metrics", "builtin": "metrics"}]},
    )

    failed = objects.wait_condition(
        "clf-weak", "Validated", "False", "CheckFailed", on_timeout=operator.log_tail
    )
    assert failed["message"].startswith("Check 'metrics' failed: ")
    assert "auc" in failed["message"] and "0.9" in failed["message"]
    (result,) = validation_of(objects, "clf-weak")["checks"]
    assert (result["result"], result["value"], result["threshold"]) == (
        "Failed",
        "0.85",
        "auc >= 0.9",
    )
    assert pods_of(objects, "clf-weak") == []


def custom(
    objects: Objects, name: str, check: dict[str, Any], bucket: str, s3: S3Server, **v: Any
) -> None:
    objects.version(
        name,
        "clf",
        f"s3://{bucket}/m.bin",
        artifact={"storage": secret_for(objects, s3)},
        validation={"checks": [check], **v},
    )


def test_a_check_that_sleeps_past_its_deadline_ends_deadline_exceeded(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    custom(
        objects,
        "clf-slow",
        {"name": "sleepy", "image": busybox, "command": ["sleep", "600"]},
        bucket,
        s3,
        deadlineSeconds=5,
    )

    failed = objects.wait_condition(
        "clf-slow",
        "Validated",
        "False",
        "DeadlineExceeded",
        timeout=120,
        on_timeout=operator.log_tail,
    )
    assert "still running: sleepy" in failed["message"]


def test_a_custom_checks_json_report_lands_in_status(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    report = (
        '{"passed": true, "value": 0.93, "threshold": ">= 0.9", '
        '"message": "fairness gap within bounds"}'
    )
    custom(
        objects,
        "clf-custom",
        {
            "name": "fairness",
            "image": busybox,
            "command": [
                "sh",
                "-c",
                f"test -s /artifact/m.bin && echo '{report}' > /dev/termination-log",
            ],
        },
        bucket,
        s3,
    )

    objects.wait_condition(
        "clf-custom",
        "Validated",
        "True",
        "ChecksPassed",
        timeout=120,
        on_timeout=operator.log_tail,
    )
    (result,) = validation_of(objects, "clf-custom")["checks"]
    assert (result["name"], result["result"], result["value"], result["threshold"]) == (
        "fairness",
        "Passed",
        "0.93",
        ">= 0.9",
    )
    assert result["message"] == "fairness gap within bounds"


def test_an_image_that_does_not_exist_surfaces_image_pull_failed(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    custom(
        objects,
        "clf-noimage",
        {"name": "ghost", "image": "registry.invalid/nothing/here:1"},
        bucket,
        s3,
    )

    failed = objects.wait_condition(
        "clf-noimage",
        "Validated",
        "False",
        "ImagePullFailed",
        timeout=120,
        on_timeout=operator.log_tail,
    )
    assert "Check 'ghost' cannot start" in failed["message"]
    assert "registry.invalid/nothing/here:1" in failed["message"]


def test_deleting_the_version_removes_its_pods(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    custom(
        objects,
        "clf-gone",
        {"name": "sleepy", "image": busybox, "command": ["sleep", "600"]},
        bucket,
        s3,
    )
    wait_until(lambda: pods_of(objects, "clf-gone"), what="the validation Pod", timeout=60)

    objects.api.delete_namespaced_custom_object(
        "modelregistry.io", "v1alpha1", objects.namespace, "modelversions", "clf-gone"
    )

    wait_until(
        lambda: not pods_of(objects, "clf-gone"),
        what="the garbage collector to remove the Pod",
        timeout=90,
    )


def test_an_operator_killed_mid_run_and_restarted_leaves_exactly_one_pod(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    custom(
        objects,
        "clf-restart",
        {"name": "slow", "image": busybox, "command": ["sh", "-c", "sleep 6"]},
        bucket,
        s3,
    )
    wait_until(lambda: pods_of(objects, "clf-restart"), what="the validation Pod")
    operator.kill()
    operator.start()

    objects.wait_condition(
        "clf-restart",
        "Validated",
        "True",
        "ChecksPassed",
        timeout=120,
        on_timeout=operator.log_tail,
    )
    validation = validation_of(objects, "clf-restart")
    assert (validation["run"], validation.get("recreated", 0)) == (1, 0)
    events = objects.core.list_namespaced_pod(objects.namespace).items
    # The run's Pod, recorded before the kill, is the only one made (and is gone once it passed).
    assert [pod_name(p) for p in events] in ([], [validation["podName"]])
