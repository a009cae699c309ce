"""Compare checks with oci:// versions, on the local node: an oci:// candidate scored against
an s3:// Production holder, and an s3:// candidate against an oci:// holder.

The oci:// version is an MLflow model pushed as a ModelPack (one raw layer per file) to the
tests' real registry. The validation Pod's fetch step pulls it by its verified manifest
digest (with that version's own registry Secret when it is the compared one), fetches the
s3:// version at its pinned versionIds and the held-out data set with the Secret its
`dataset.storage` names, and re-hashes everything before a check sees it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from modelregistry.localenv import S3Server
from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration import ocipush
from tests.integration.conftest import OCI_PASSWORD, OCI_USER
from tests.integration.support import Objects, OperatorProcess, wait_until
from tests.integration.test_compare_check import compare, held_out, scores
from tests.integration.test_validation import secret_for, upload_dir, validation_of
from tests.unit.test_checks_compare import good_model, mlflow_model_of, poor_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

MLFLOW_FILE = "application/vnd.cncf.model.weight.v1.raw"


def push_mlflow(registry: OciRegistry, repository: str, model: Any, root: Path,
                auth: bool = False) -> str:  # fmt: skip
    """`model` as an MLflow directory pushed as a ModelPack; its manifest digest."""
    directory = mlflow_model_of(root / "model", model)
    found = ocipush.client(registry.host, *((OCI_USER, OCI_PASSWORD) if auth else ()))
    pushed = ocipush.modelpack(
        found,
        f"{registry.host}/{repository}:v1",
        [(p, MLFLOW_FILE) for p in sorted(directory.iterdir())],
        root,
    )
    return str(pushed.digest)


def registry_secret(objects: Objects, name: str, host: str) -> None:
    config = {"auths": {host: {"username": OCI_USER, "password": OCI_PASSWORD}}}
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


def wait_production(objects: Objects, name: str) -> None:
    wait_until(
        lambda: (
            (objects.get("modelversions", name).get("status") or {}).get("stage") == "Production"
        ),
        timeout=90,
        what=f"{name} in Production",
    )


def test_an_oci_candidate_is_scored_against_an_s3_holder(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    oci_registry: OciRegistry,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    storage = secret_for(objects, s3)
    holder = upload_dir(
        s3_client, bucket, "clf-1/", mlflow_model_of(tmp_path / "poor", poor_model())
    )
    objects.version(
        "clf-1",
        "clf",
        f"s3://{bucket}/clf-1/",
        artifact={"digest": holder, "format": "mlflow", "storage": storage},
        stage="Production",
    )
    wait_production(objects, "clf-1")
    held = held_out(s3_client, bucket, tmp_path)
    dataset: dict[str, Any] = {**held, "storage": storage}
    digest = push_mlflow(oci_registry, "models/clf", good_model(), tmp_path / "good")
    objects.version(
        "clf-2",
        "clf",
        f"oci://{oci_registry.host}/models/clf@{digest}",
        artifact={"format": "mlflow", "registry": {"plainHttp": True}},
        validation={"checks": [compare(dataset)], "deadlineSeconds": 180},
    )

    passed = objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )

    assert passed["message"] == "Every check passed: ab."
    own, other, details = scores(objects)
    assert own > 0.9 and other == 0.5
    assert (details["holder"], details["holderDigest"]) == ("clf-1", holder)
    assert details["datasetDigest"] == dataset["digest"]


def test_an_s3_candidate_is_scored_against_an_oci_holder_pulled_with_its_own_secret(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    oci_registry_auth: OciRegistry,
    tmp_path: Path,
) -> None:
    host = oci_registry_auth.host
    objects.model("clf")
    registry_secret(objects, "holder-registry", host)
    digest = push_mlflow(oci_registry_auth, "models/clf", poor_model(), tmp_path / "poor", True)
    objects.version(
        "clf-1",
        "clf",
        f"oci://{host}/models/clf@{digest}",
        artifact={
            "format": "mlflow",
            "registry": {"secretRef": {"name": "holder-registry"}, "plainHttp": True},
        },
        stage="Production",
    )
    wait_production(objects, "clf-1")
    storage = secret_for(objects, s3)
    candidate = upload_dir(
        s3_client, bucket, "clf-2/", mlflow_model_of(tmp_path / "good", good_model())
    )
    dataset = held_out(s3_client, bucket, tmp_path)
    objects.version(
        "clf-2",
        "clf",
        f"s3://{bucket}/clf-2/",
        artifact={"digest": candidate, "format": "mlflow", "storage": storage},
        validation={"checks": [compare(dataset)], "deadlineSeconds": 180},
    )

    objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )

    own, other, details = scores(objects)
    assert own > 0.9 and other == 0.5
    assert (details["holder"], details["holderDigest"]) == ("clf-1", digest)
    (result,) = validation_of(objects, "clf-2")["checks"]
    assert result["message"].endswith(
        f"clf-1 (version 1) 0.5 (this version is better by {round(own - other, 6)})"
    )


def test_an_oci_candidate_is_scored_against_an_oci_holder_in_another_registry(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    oci_registry: OciRegistry,
    oci_registry_auth: OciRegistry,
    tmp_path: Path,
) -> None:
    """The holder's registry asks for a password, the candidate's does not: each is pulled
    with what its own version names."""
    host = oci_registry_auth.host
    objects.model("clf")
    registry_secret(objects, "holder-registry", host)
    holder = push_mlflow(oci_registry_auth, "models/clf", poor_model(), tmp_path / "poor", True)
    objects.version(
        "clf-1",
        "clf",
        f"oci://{host}/models/clf@{holder}",
        artifact={
            "format": "mlflow",
            "registry": {"secretRef": {"name": "holder-registry"}, "plainHttp": True},
        },
        stage="Production",
    )
    wait_production(objects, "clf-1")
    held = held_out(s3_client, bucket, tmp_path)
    dataset: dict[str, Any] = {**held, "storage": secret_for(objects, s3)}
    digest = push_mlflow(oci_registry, "models/clf", good_model(), tmp_path / "good")
    objects.version(
        "clf-2",
        "clf",
        f"oci://{oci_registry.host}/models/clf@{digest}",
        artifact={"format": "mlflow", "registry": {"plainHttp": True}},
        validation={"checks": [compare(dataset)], "deadlineSeconds": 180},
    )

    objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )

    own, other, details = scores(objects)
    assert own > 0.9 and other == 0.5
    assert (details["holder"], details["holderDigest"]) == ("clf-1", holder)
