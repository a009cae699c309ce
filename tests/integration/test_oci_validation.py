"""On the local node: a validation Pod pulls an oci:// artifact by its verified digest.

The registry is the tests' real one (distribution v3) with a password,
reached by Pods through the node's forward that
MODELREGISTRY_VALIDATION_REGISTRIES names; the fetch step gets the
registry's credentials from the version's Secret, pulls every blob by digest
and hashes it again, and the check reads the bytes it wrote. A registry the
setting does not name is not reached from the Pod.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, cast

import pytest

from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration import ocipush
from tests.integration.conftest import OCI_PASSWORD, OCI_USER
from tests.integration.hostileregistry import HostileRegistry
from tests.integration.support import Objects, OperatorProcess

pytestmark = pytest.mark.integration


def hexdigest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "model.onnx").write_bytes(os.urandom(3 << 20))
    (tmp_path / "tokenizer.json").write_text('{"vocab": ["x"]}')
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


def sha_check(busybox: str, files: dict[str, Path]) -> dict[str, Any]:
    """A check that passes only if the Pod holds exactly the pushed bytes at their paths."""
    expected = "\n".join(f"{hexdigest(p)}  {name}" for name, p in sorted(files.items()))
    report = '{"passed": true, "message": "the pulled files are the pushed ones"}'
    return {
        "name": "bytes",
        "image": busybox,
        "command": [
            "sh",
            "-c",
            f"cd /artifact && sha256sum model.onnx tokenizer.json > /tmp/seen && "
            f"printf '%s\\n' '{expected}' | diff - /tmp/seen && "
            f"echo '{report}' > /dev/termination-log",
        ],
    }


def test_a_validation_pod_pulls_the_verified_oci_artifact_with_the_versions_credentials(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    oci_registry_auth: OciRegistry,
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    host = oci_registry_auth.host
    pushed = push(
        ocipush.client(host, OCI_USER, OCI_PASSWORD), host, "models/validated", files, tmp_path
    )
    config = {"auths": {host: {"username": OCI_USER, "password": OCI_PASSWORD}}}
    objects.core.create_namespaced_secret(
        objects.namespace,
        cast(
            Any,
            {
                "metadata": {"name": "registry"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {
                    ".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()
                },
            },
        ),
    )
    objects.model("clf")
    objects.version(
        "clf-oci",
        "clf",
        f"oci://{host}/models/validated@{pushed.digest}",
        artifact={"registry": {"secretRef": {"name": "registry"}, "plainHttp": True}},
        validation={"checks": [sha_check(busybox, files)], "deadlineSeconds": 120},
    )

    objects.wait_condition(
        "clf-oci", "Validated", "True", "ChecksPassed", timeout=180, on_timeout=operator.log_tail
    )
    objects.wait_condition("clf-oci", "Ready", "True", "Succeeded")
    status = objects.get("modelversions", "clf-oci")["status"]
    (result,) = status["validation"]["checks"]
    assert (result["name"], result["result"]) == ("bytes", "Passed")
    assert result["message"] == "the pulled files are the pushed ones"


def test_a_registry_the_setting_does_not_name_is_not_reached_from_the_pod(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    oci_registry: OciRegistry,
    files: dict[str, Path],
    tmp_path: Path,
) -> None:
    pushed = push(
        ocipush.client(oci_registry.host), oci_registry.host, "models/elsewhere", files, tmp_path
    )
    objects.model("clf")
    # Another address of the same registry: the operator reads it, Pods may not.
    with HostileRegistry("127.0.0.1", oci_registry.port) as unlisted:
        objects.version(
            "clf-unlisted",
            "clf",
            f"oci://{unlisted.host}/models/elsewhere@{pushed.digest}",
            artifact={"registry": {"plainHttp": True}},
            validation={"checks": [sha_check(busybox, files)], "deadlineSeconds": 120},
        )

        failed = objects.wait_condition(
            "clf-unlisted",
            "Validated",
            "False",
            "PodFailed",
            timeout=180,
            on_timeout=operator.log_tail,
        )

    assert objects.present_condition("clf-unlisted", "ArtifactVerified")["status"] == "True"
    assert failed["message"].startswith("Fetching the artifact into Pod ")
    assert (
        f"validation Pods may not reach the registry {unlisted.host}: the operator's "
        "MODELREGISTRY_VALIDATION_REGISTRIES does not name it" in failed["message"]
    )
