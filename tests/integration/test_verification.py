"""End to end: ModelVersion objects on a real API server, bytes in a real S3 server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from modelregistry.api.meta import GROUP, VERSION
from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster
from tests.integration.slowproxy import SlowProxy
from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_verified_version_becomes_ready(
    operator: OperatorProcess, cluster: Cluster, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    put = s3_client.put_object(Bucket=bucket, Key="iris/model.onnx", Body=data)
    objects.model("iris", owner="team-a")
    objects.version(
        "iris-1",
        "iris",
        f"s3://{bucket}/iris/model.onnx",
        artifact={"digest": sha256(data), "format": "onnx"},
    )

    objects.wait_condition("iris-1", "Ready", "True", "Succeeded", on_timeout=operator.log_tail)
    objects.wait_condition(
        "iris-1", "StageGranted", "True", "Granted", on_timeout=operator.log_tail
    )
    body = objects.get("modelversions", "iris-1")
    status = body["status"]
    assert status["version"] == 1
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert status["artifact"]["digest"] == sha256(data)
    assert status["artifact"]["size"] == len(data)
    assert status["artifact"]["versionId"] == put["VersionId"]
    types = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert types == {
        "Ready": ("True", "Succeeded"),
        "ModelFound": ("True", "ModelExists"),
        "VersionAssigned": ("True", "VersionHeld"),
        "ArtifactVerified": ("True", "Verified"),
        "Validated": ("True", "NoChecks"),
        "StageGranted": ("True", "Granted"),
    }
    assert "kopf" not in json.dumps(body["metadata"].get("annotations", {}))

    listing = cluster.kubectl_run("get", "mv", "-n", objects.namespace).stdout
    header, row = listing.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "MODEL",
        "VERSION",
        "STAGE",
        "VERIFIED",
        "VALIDATED",
        "READY",
        "IN",  # IN USE: how many Pods use the version (empty: none yet)
        "USE",
        "AGE",
    ]
    assert row.split()[:7] == ["iris-1", "iris", "1", "None", "True", "True", "True"]

    model = wait_until(
        lambda: (
            (s := objects.get("models", "iris").get("status"))
            and s.get("latestReadyVersion") == 1
            and s
        ),
        what="Model status to count the version",
    )
    assert model["latestVersion"] == 1
    assert model["counts"] == {"total": 1, "ready": 1, "stalled": 0}
    assert any(e["reason"] == "Verified" for e in objects.events("iris-1"))


def test_wrong_digest_is_stalled_with_its_reason(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"the real bytes")
    objects.model("m")
    objects.version("m-1", "m", f"s3://{bucket}/m.bin", artifact={"digest": sha256(b"other bytes")})

    stalled = objects.wait_condition("m-1", "Stalled", "True", "DigestMismatch")
    assert "spec.artifact.digest" in stalled["message"]
    assert sha256(b"the real bytes") in stalled["message"]
    assert objects.present_condition("m-1", "Ready")["status"] == "False"
    assert objects.present_condition("m-1", "ArtifactVerified")["reason"] == "DigestMismatch"
    wait_until(
        lambda: any(
            e["type"] == "Warning" and e["reason"] == "DigestMismatch"
            for e in objects.events("m-1")
        ),
        what="a DigestMismatch warning Event",
    )


def test_missing_object_recovers_once_uploaded(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    objects.model("late")
    objects.version("late-1", "late", f"s3://{bucket}/late/model.pt")

    waiting = objects.wait_condition("late-1", "Reconciling", "True", "ArtifactNotFound")
    assert "spec.artifact.uri" in waiting["message"]
    assert objects.present_condition("late-1", "Ready")["status"] == "False"

    s3_client.put_object(Bucket=bucket, Key="late/model.pt", Body=b"weights")
    objects.wait_condition("late-1", "Ready", "True", on_timeout=operator.log_tail)
    status = objects.get("modelversions", "late-1")["status"]
    # No digest in the spec: the first verified digest is pinned.
    assert status["artifact"]["digest"] == sha256(b"weights")
    assert objects.condition("late-1", "Reconciling") is None


def test_prefix_artifact_matches_the_cli_digest(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client, tmp_path: Path
) -> None:
    files = {
        "MLmodel": b"flavors: {}\n",
        "model.pkl": os.urandom(200_000),
        "conda/env.yaml": b"dependencies: []\n",
        "data/\u00e9t\u00e9.txt": b"summer",
    }
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
        s3_client.put_object(Bucket=bucket, Key=f"run-7/{relative}", Body=data)
    expected = digest_local_path(tmp_path).digest

    objects.model("mlf")
    objects.version(
        "mlf-1", "mlf", f"s3://{bucket}/run-7/", artifact={"digest": expected, "format": "mlflow"}
    )
    objects.wait_condition("mlf-1", "Ready", "True", on_timeout=operator.log_tail)
    artifact = objects.get("modelversions", "mlf-1")["status"]["artifact"]
    assert artifact["fileCount"] == 4
    assert sorted(f["path"] for f in artifact["files"]) == sorted(files)
    assert all(f["versionId"] for f in artifact["files"])


def test_missing_model_is_waited_for(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="x", Body=b"x")
    objects.version("orphan-1", "orphan", f"s3://{bucket}/x")
    waiting = objects.wait_condition("orphan-1", "Reconciling", "True", "ModelNotFound")
    assert "orphan" in waiting["message"] and "spec.modelRef.name" in waiting["message"]

    objects.model("orphan")
    objects.wait_condition("orphan-1", "Ready", "True", on_timeout=operator.log_tail)


def test_versions_are_numbered_and_duplicates_refused(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a", Body=b"a")
    objects.model("num")
    for name in ("num-a", "num-b", "num-c"):
        objects.version(name, "num", f"s3://{bucket}/a")
    for name in ("num-a", "num-b", "num-c"):
        objects.wait_condition(name, "Ready", "True", on_timeout=operator.log_tail)
    numbers = sorted(
        objects.get("modelversions", n)["status"]["version"] for n in ("num-a", "num-b", "num-c")
    )
    assert numbers == [1, 2, 3]
    holder = next(
        n
        for n in ("num-a", "num-b", "num-c")
        if objects.get("modelversions", n)["status"]["version"] == 2
    )

    objects.version("num-dup", "num", f"s3://{bucket}/a", version=2)
    stalled = objects.wait_condition("num-dup", "Stalled", "True", "DuplicateVersion")
    assert holder in stalled["message"]
    assert "version" not in objects.get("modelversions", "num-dup")["status"]
    # The Model's summary follows within its refresh window.
    wait_until(
        lambda: (objects.get("models", "num").get("status") or {}).get("latestVersion") == 3,
        what="the Model's latestVersion to be 3",
    )
    assert objects.get("models", "num")["status"]["versionSequence"] == 3


def test_unreachable_endpoint_is_retried_until_it_answers(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client, s3: S3Server
) -> None:
    s3_client.put_object(Bucket=bucket, Key="far.bin", Body=b"behind a link that is down")
    with socket.socket() as probe:  # a port nothing listens on, for now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    objects.model("far")
    objects.version(
        "far-1",
        "far",
        f"s3://{bucket}/far.bin",
        artifact={"storage": {"endpoint": f"http://127.0.0.1:{port}"}},
    )
    waiting = objects.wait_condition(
        "far-1", "Reconciling", "True", "StorageUnreachable", timeout=90
    )
    assert "spec.artifact.storage.endpoint" in waiting["message"]
    assert objects.present_condition("far-1", "Ready")["status"] == "False"

    # The link comes up: a proxy to the real store on that very port.
    store = urlsplit(s3.endpoint_url)
    with SlowProxy(store.hostname or "127.0.0.1", store.port or 80, 64 << 20, port=port):
        objects.wait_condition("far-1", "Ready", "True", timeout=60, on_timeout=operator.log_tail)
    assert objects.condition("far-1", "Reconciling") is None


def test_credentials_from_a_secret(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client, s3: S3Server
) -> None:
    s3_client.put_object(Bucket=bucket, Key="s", Body=b"secret model")
    objects.model("sec")
    objects.version(
        "sec-1", "sec", f"s3://{bucket}/s", artifact={"storage": {"secretRef": {"name": "s3"}}}
    )
    missing = objects.wait_condition("sec-1", "Reconciling", "True", "CredentialsNotFound")
    assert "spec.artifact.storage.secretRef" in missing["message"]

    objects.s3_secret("s3", s3.access_key, s3.secret_key)
    objects.wait_condition("sec-1", "Ready", "True", on_timeout=operator.log_tail)

    objects.s3_secret("wrong", s3.access_key, "not-it")
    objects.version(
        "sec-2", "sec", f"s3://{bucket}/s", artifact={"storage": {"secretRef": {"name": "wrong"}}}
    )
    denied = objects.wait_condition("sec-2", "Stalled", "True", "AccessDenied")
    assert "'wrong'" in denied["message"]
    log = operator.log()
    for secret_value in ("not-it", s3.secret_key):
        assert secret_value not in log
        assert base64.b64encode(secret_value.encode()).decode() not in log


def test_overwritten_object_is_detected(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    first = s3_client.put_object(Bucket=bucket, Key="t.bin", Body=b"original")
    objects.model("tamper")
    objects.version("tamper-1", "tamper", f"s3://{bucket}/t.bin")
    objects.wait_condition("tamper-1", "Ready", "True", on_timeout=operator.log_tail)

    second = s3_client.put_object(Bucket=bucket, Key="t.bin", Body=b"replaced")
    # The operator re-verifies every few seconds in this suite (MODELREGISTRY_REVERIFY_INTERVAL).
    changed = objects.wait_condition("tamper-1", "Stalled", "True", "ArtifactChanged", timeout=60)
    assert first["VersionId"] in changed["message"] and second["VersionId"] in changed["message"]
    assert objects.present_condition("tamper-1", "Ready")["status"] == "False"
    # The pinned record still names the verified bytes, for consumers and auditors.
    pinned = objects.get("modelversions", "tamper-1")["status"]["artifact"]
    assert pinned["digest"] == sha256(b"original")
    assert pinned["versionId"] == first["VersionId"]
    # The Model no longer offers it as its latest ready version.
    wait_until(
        lambda: "latestReadyVersion" not in objects.get("models", "tamper")["status"],
        what="Model status to drop latestReadyVersion",
        on_timeout=operator.log_tail,
    )
    assert objects.get("models", "tamper")["status"]["counts"] == {
        "total": 1,
        "ready": 0,
        "stalled": 1,
    }


def test_a_deleted_version_leaves_its_model(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="d.bin", Body=b"short-lived")
    objects.model("gone")
    objects.version("gone-1", "gone", f"s3://{bucket}/d.bin")
    objects.wait_condition("gone-1", "Ready", "True", on_timeout=operator.log_tail)
    wait_until(
        lambda: objects.get("models", "gone")["status"].get("latestReadyVersion") == 1,
        what="Model status to count gone-1",
    )

    objects.api.delete_namespaced_custom_object(
        GROUP, VERSION, objects.namespace, "modelversions", "gone-1"
    )

    status = wait_until(
        lambda: (s := objects.get("models", "gone")["status"])["counts"]["total"] == 0 and s,
        what="Model status to forget gone-1",
        on_timeout=operator.log_tail,
    )
    assert "latestVersion" not in status and "latestReadyVersion" not in status


def test_a_recheck_that_cannot_read_the_bytes_keeps_the_verification(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client, s3: S3Server
) -> None:
    s3_client.put_object(Bucket=bucket, Key="k.bin", Body=b"kept")
    objects.s3_secret("short-lived", s3.access_key, s3.secret_key)
    objects.model("keep")
    objects.version(
        "keep-1",
        "keep",
        f"s3://{bucket}/k.bin",
        artifact={"storage": {"secretRef": {"name": "short-lived"}}},
    )
    objects.wait_condition("keep-1", "Ready", "True", on_timeout=operator.log_tail)
    checked_at = objects.get("modelversions", "keep-1")["status"]["artifactCheckedAt"]

    objects.core.delete_namespaced_secret("short-lived", objects.namespace)

    # The next re-check cannot read the bytes: it says so once, and revokes nothing.
    warnings = wait_until(
        lambda: [e for e in objects.events("keep-1") if e["reason"] == "CredentialsNotFound"],
        timeout=60,
        what="a CredentialsNotFound event on keep-1",
        on_timeout=operator.log_tail,
    )
    assert warnings[0]["type"] == "Warning"
    assert "stands" in warnings[0]["message"]
    status = objects.get("modelversions", "keep-1")["status"]
    assert objects.present_condition("keep-1", "Ready")["status"] == "True"
    assert status["artifactCheckedAt"] == checked_at
    time.sleep(3)  # a few more periodic passes, each failing the same way
    repeats = [e for e in objects.events("keep-1") if e["reason"] == "CredentialsNotFound"]
    assert len(repeats) == 1


def test_components_are_verified_with_the_artifact(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    parts = {"model.bin": b"encoder weights", "tokenizer.json": b'{"vocab": []}'}
    for key, data in parts.items():
        s3_client.put_object(Bucket=bucket, Key=f"multi/{key}", Body=data)
    objects.model("multi")
    tokenizer = {"uri": f"s3://{bucket}/multi/tokenizer.json", "digest": sha256(b"other")}
    objects.version(
        "multi-1",
        "multi",
        f"s3://{bucket}/multi/model.bin",
        artifact={"digest": sha256(parts["model.bin"])},
        components=[{"name": "tokenizer", "artifact": tokenizer}],
    )
    stalled = objects.wait_condition("multi-1", "Stalled", "True", "DigestMismatch")
    assert "spec.components[0].artifact.digest" in stalled["message"]

    tokenizer["digest"] = sha256(parts["tokenizer.json"])
    objects.version(
        "multi-2",
        "multi",
        f"s3://{bucket}/multi/model.bin",
        components=[{"name": "tokenizer", "artifact": tokenizer}],
    )
    objects.wait_condition("multi-2", "Ready", "True", on_timeout=operator.log_tail)
    components = objects.get("modelversions", "multi-2")["status"]["components"]
    assert [(c["name"], c["artifact"]["digest"]) for c in components] == [
        ("tokenizer", sha256(parts["tokenizer.json"]))
    ]
    assert components[0]["artifact"]["versionId"]


def test_status_is_written_under_the_operators_name_and_nothing_else_is(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="own", Body=b"own")
    objects.model("own")
    objects.version("own-1", "own", f"s3://{bucket}/own")
    objects.wait_condition("own-1", "Ready", "True", on_timeout=operator.log_tail)

    meta = objects.get("modelversions", "own-1")["metadata"]
    writers = {(m["manager"], m.get("subresource")) for m in meta["managedFields"]}
    assert ("modelregistry-operator", "status") in writers
    # Only the status subresource is written by anyone but the creator: no
    # finalizers, no annotations, no spec.
    assert {s for m, s in writers if m != "OpenAPI-Generator"} == {"status"}
    assert "finalizers" not in meta
    assert not meta.get("annotations")
