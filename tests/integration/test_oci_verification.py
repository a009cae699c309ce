"""End to end: ModelVersions naming oci:// artifacts, verified by the operator.

A real API server, a real registry (distribution v3) and the operator: the
manifest digest is the content digest, every layer is hashed, and what was
verified (the manifest and each blob's digest, media type and size) is
recorded in status. A registry that serves other bytes stalls the version,
naming the layer and both digests; a reference the operator could not pin
is refused by the API server in words.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest

from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration import ocipush
from tests.integration.conftest import OCI_PASSWORD, OCI_USER, Cluster
from tests.integration.hostileregistry import HostileRegistry
from tests.integration.support import Objects, OperatorProcess, bind_cluster_role, impersonating

pytestmark = pytest.mark.integration

MALLORY = "mallory@example.com"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "model.onnx").write_bytes(os.urandom(5 << 20))
    (tmp_path / "tokenizer.json").write_text('{"vocab": ["a", "b"]}')
    return {p.name: p for p in (tmp_path / "model.onnx", tmp_path / "tokenizer.json")}


def push(found: Any, host: str, repository: str, files: dict[str, Path], tmp: Path) -> Any:
    return ocipush.modelpack(
        found,
        f"{host}/{repository}:v1",
        [
            (files["model.onnx"], ocipush.MODELPACK_WEIGHT_RAW),
            (files["tokenizer.json"], "application/vnd.cncf.model.weight.config.v1.raw"),
        ],
        tmp,
    )


def docker_secret(objects: Objects, name: str, host: str, password: str) -> None:
    """A Secret as `kubectl create secret docker-registry` writes it."""
    config = {"auths": {host: {"username": OCI_USER, "password": password}}}
    encoded = base64.b64encode(json.dumps(config).encode()).decode()
    objects.core.create_namespaced_secret(
        objects.namespace,
        cast(
            Any,
            {
                "metadata": {"name": name},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": encoded},
            },
        ),
    )


def test_an_oci_artifact_is_verified_and_its_manifest_recorded(
    operator: OperatorProcess,
    objects: Objects,
    oci_registry_auth: OciRegistry,
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    host = oci_registry_auth.host
    pushed = push(
        ocipush.client(host, OCI_USER, OCI_PASSWORD), host, "models/churn", files, tmp_path
    )
    docker_secret(objects, "registry", host, OCI_PASSWORD)
    docker_secret(objects, "wrong", host, "not-the-password")
    objects.model("churn", owner="team-a")
    uri = f"oci://{host}/models/churn@{pushed.digest}"
    registry = {"secretRef": {"name": "registry"}, "plainHttp": True}
    objects.version(
        "churn-1", "churn", uri, artifact={"digest": pushed.digest, "registry": registry}
    )
    objects.version(
        "churn-wrong",
        "churn",
        uri,
        artifact={"registry": {"secretRef": {"name": "wrong"}, "plainHttp": True}},
    )
    objects.version(
        "churn-nosecret",
        "churn",
        uri,
        artifact={"registry": {"secretRef": {"name": "missing"}, "plainHttp": True}},
    )

    objects.wait_condition("churn-1", "Ready", "True", "Succeeded", on_timeout=operator.log_tail)
    status = objects.get("modelversions", "churn-1")["status"]
    artifact = status["artifact"]
    assert (artifact["uri"], artifact["digest"]) == (uri, pushed.digest)
    model, tokenizer = files["model.onnx"].read_bytes(), files["tokenizer.json"].read_bytes()
    assert artifact["size"] == len(model) + len(tokenizer)
    assert artifact["fileCount"] == 2
    oci = artifact["oci"]
    config = pushed.manifest["config"]
    assert (oci["registry"], oci["repository"], oci["layout"]) == (
        host,
        "models/churn",
        "ModelPack",
    )
    assert oci["mediaType"] == ocipush.OCI_MANIFEST
    assert oci["artifactType"] == ocipush.MODELPACK_ARTIFACT_TYPE
    assert oci["config"] == {
        "mediaType": config["mediaType"],
        "digest": config["digest"],
        "size": config["size"],
    }
    assert oci["layers"] == [
        {
            "mediaType": ocipush.MODELPACK_WEIGHT_RAW,
            "digest": sha256(model),
            "size": len(model),
            "path": "model.onnx",
        },
        {
            "mediaType": "application/vnd.cncf.model.weight.config.v1.raw",
            "digest": sha256(tokenizer),
            "size": len(tokenizer),
            "path": "tokenizer.json",
        },
    ]
    assert oci["unpackedSize"] == len(model) + len(tokenizer)

    rejected = objects.wait_condition(
        "churn-wrong", "ArtifactVerified", "False", "CredentialsRejected"
    )
    assert rejected["message"].startswith(
        f"{host} refuses the credentials of {OCI_USER!r} for manifest {pushed.digest} in "
        "models/churn. Fix the username and password in Secret 'wrong' "
        "(spec.artifact.registry.secretRef)"
    )
    missing = objects.wait_condition(
        "churn-nosecret", "ArtifactVerified", "False", "CredentialsNotFound"
    )
    assert missing["message"].startswith(
        f"Secret 'missing' (spec.artifact.registry.secretRef.name) does not exist in namespace "
        f"{objects.namespace!r}. Create it: `kubectl create secret docker-registry missing "
        f"--docker-server={host} "
    )


def test_a_registry_that_alters_a_layer_stalls_the_version_naming_it(
    operator: OperatorProcess,
    objects: Objects,
    oci_registry: OciRegistry,
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    pushed = push(ocipush.client(oci_registry.host), oci_registry.host, "models/t", files, tmp_path)
    layer = pushed.blobs["model.onnx"]
    altered = bytearray(files["model.onnx"].read_bytes())
    altered[0] ^= 0xFF
    objects.model("tamper", owner="team-a")
    with HostileRegistry("127.0.0.1", oci_registry.port) as hostile:
        hostile.altered_blobs.add(layer)
        objects.version(
            "tamper-1",
            "tamper",
            f"oci://{hostile.host}/models/t@{pushed.digest}",
            artifact={"registry": {"plainHttp": True}},
        )

        stalled = objects.wait_condition(
            "tamper-1", "Stalled", "True", "BlobDigestMismatch", on_timeout=operator.log_tail
        )

    verified = objects.present_condition("tamper-1", "ArtifactVerified")
    assert (verified["status"], verified["reason"]) == ("False", "BlobDigestMismatch")
    assert objects.present_condition("tamper-1", "Ready")["status"] == "False"
    assert stalled["message"] == verified["message"]
    assert verified["message"].startswith(
        f"oci://{hostile.host}/models/t@{pushed.digest} (spec.artifact.uri): layer 0 "
        f"(model.onnx) is not the bytes its digest names: expected {layer}, the registry "
        f"served {sha256(bytes(altered))}. "
    )
    assert "artifact" not in (objects.get("modelversions", "tamper-1")["status"] or {})


@pytest.mark.parametrize(
    ("artifact", "message"),
    [
        (
            {"uri": "oci://registry.example.com/models/churn:v1"},
            "an oci:// artifact is named by its manifest digest: "
            "oci://REGISTRY/REPOSITORY@sha256:<64 hex>",
        ),
        (
            {
                "uri": "oci://registry.example.com/models/churn@sha256:" + "a" * 64,
                "digest": "sha256:" + "b" * 64,
            },
            "for an oci:// artifact the digest is the manifest digest the URI names",
        ),
        (
            {
                "uri": "oci://registry.example.com/models/churn@sha256:" + "a" * 64,
                "storage": {"endpoint": "http://minio.storage:9000"},
            },
            "storage (S3 settings) does not apply to an oci:// artifact: use registry",
        ),
        (
            {"uri": "s3://models/churn/model.onnx", "registry": {"plainHttp": True}},
            "registry applies to oci:// artifacts only",
        ),
    ],
    ids=["tag", "other-digest", "storage", "registry-on-s3"],
)
def test_a_namespace_user_cannot_register_an_oci_reference_the_operator_cannot_pin(
    cluster: Cluster, objects: Objects, artifact: dict[str, Any], message: str
) -> None:
    bind_cluster_role(cluster.api_client, objects.namespace, "edit", MALLORY)
    mallory = kubernetes.client.CustomObjectsApi(impersonating(cluster.api_client, MALLORY))
    body = {
        "apiVersion": "modelregistry.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "pinned"},
        "spec": {"modelRef": {"name": "churn"}, "artifact": artifact},
    }

    with pytest.raises(kubernetes.client.ApiException) as refused:
        mallory.create_namespaced_custom_object(
            "modelregistry.io", "v1alpha1", objects.namespace, "modelversions", body
        )

    assert refused.value.status == 422
    assert message in json.loads(str(refused.value.body))["message"]
