"""Manifests that must be refused at `kubectl apply`, or explained in a condition.

Each case asserts the exact outcome and that the message names the field;
after all of them the operator still works and has logged no traceback.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from kubernetes.client.exceptions import ApiException

from tests.integration.support import Objects, OperatorProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


REFUSED_URIS = [
    ("s3://models/tmp/../good/model.bin", "'..' segment"),
    ("s3://models/./model.bin", "'.' segment"),
    ("s3://models/a//model.bin", "empty segment"),
    ("s3://models/a/..", "'..' at the end"),
    ("s3://models/a\\b.bin", "backslash"),
    ("s3://models/", "no key"),
]


@pytest.mark.parametrize(("uri", "why"), REFUSED_URIS, ids=[w for _, w in REFUSED_URIS])
def test_keys_that_stores_normalise_are_refused_at_apply(
    objects: Objects, uri: str, why: str
) -> None:
    objects.model("hostile")
    with pytest.raises(ApiException) as refused:
        objects.version("bad-uri", "hostile", uri)
    assert refused.value.status == 422, why
    assert "spec.artifact.uri" in str(refused.value.body), refused.value.body


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://[::1", "must be a URL such as http://minio.storage:9000"),
        ("http://127.0.0.1:99999", "the port must be between 1 and 65535"),
        ("http://127.0.0.1:0", "the port must be between 1 and 65535"),
    ],
)
def test_unusable_endpoints_are_refused_at_apply(
    objects: Objects, endpoint: str, message: str
) -> None:
    objects.model("hostile")
    with pytest.raises(ApiException) as refused:
        objects.version(
            "bad-endpoint",
            "hostile",
            "s3://models/x.bin",
            artifact={"storage": {"endpoint": endpoint}},
        )
    assert refused.value.status == 422
    body = str(refused.value.body)
    assert "spec.artifact.storage.endpoint" in body and message in body, body


def test_a_component_endpoint_is_checked_like_the_artifacts(objects: Objects) -> None:
    objects.model("hostile")
    with pytest.raises(ApiException) as refused:
        objects.version(
            "bad-component",
            "hostile",
            "s3://models/x.bin",
            components=[
                {
                    "name": "tokenizer",
                    "artifact": {
                        "uri": "s3://models/tok/../x",
                        "storage": {"endpoint": "http://[::1"},
                    },
                }
            ],
        )
    assert refused.value.status == 422
    body = str(refused.value.body)
    assert "spec.components[0].artifact.uri" in body, body
    assert "spec.components[0].artifact.storage.endpoint" in body, body


def test_an_access_key_the_store_does_not_know_stalls_naming_the_secret(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    data = b"model bytes"
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=data)
    objects.s3_secret("stranger", "AKIANOTKNOWNHERE0000", "not-a-secret")
    objects.model("keys")
    objects.version(
        "keys-1",
        "keys",
        f"s3://{bucket}/m.bin",
        artifact={"digest": sha256(data), "storage": {"secretRef": {"name": "stranger"}}},
    )
    stalled = objects.wait_condition(
        "keys-1", "Stalled", "True", "CredentialsRejected", on_timeout=operator.log_tail
    )
    assert "Secret 'stranger' (spec.artifact.storage.secretRef)" in stalled["message"]
    assert "does not know the access key" in stalled["message"]
    assert objects.condition("keys-1", "Reconciling") is None
    verified = objects.condition("keys-1", "ArtifactVerified")
    assert verified is not None
    assert (verified["status"], verified["reason"]) == ("False", "CredentialsRejected")


def test_the_operator_keeps_working_and_logs_no_traceback(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    data = b"after all that"
    s3_client.put_object(Bucket=bucket, Key="fine.bin", Body=data)
    objects.model("fine")
    objects.version("fine-1", "fine", f"s3://{bucket}/fine.bin", artifact={"digest": sha256(data)})
    objects.wait_condition("fine-1", "Ready", "True", "Succeeded", on_timeout=operator.log_tail)
    assert "Traceback" not in operator.log(), operator.log_tail(120)
