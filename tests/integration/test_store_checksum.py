"""The store's full-object SHA-256 checksums: what the store keeps, and what a Model may accept."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server
from modelregistry.storage import ArtifactStore, Credentials, Endpoint, S3Location
from modelregistry.upload import upload_artifact
from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def _store_view(s3: S3Server, uri: str) -> tuple[S3Location, Endpoint, Credentials]:
    return (
        S3Location.parse(uri),
        Endpoint(url=s3.endpoint_url, region=s3.region),
        Credentials(s3.access_key, s3.secret_key),
    )


def _checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def upload_environment(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """`modelregistry upload` reads boto3's usual variables."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3.region)


@pytest.mark.usefixtures("upload_environment")
def test_an_uploaded_directory_is_proven_by_its_checksums_alone(
    s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "shards").mkdir()
    (tmp_path / "config.json").write_bytes(b'{"layers": 2}')
    (tmp_path / "shards" / "a.safetensors").write_bytes(b"a" * 70_000)
    (tmp_path / "shards" / "b.safetensors").write_bytes(b"b" * 1234)
    uploaded = upload_artifact(tmp_path, f"s3://{bucket}/llm/")

    stored = ArtifactStore().stored_checksum(*_store_view(s3, f"s3://{bucket}/llm/"))

    assert stored is not None
    assert stored.digest == uploaded.digest == digest_local_path(tmp_path).digest
    assert stored.size == 70_000 + 1234 + 13
    assert [f.path for f in stored.files] == [
        "config.json",
        "shards/a.safetensors",
        "shards/b.safetensors",
    ]
    assert all(f.by_store_checksum and f.version_id for f in stored.files)


@pytest.mark.usefixtures("upload_environment")
def test_an_uploaded_file_is_proven_by_its_checksum(
    s3: S3Server, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "model.bin").write_bytes(b"weights" * 1000)
    uploaded = upload_artifact(tmp_path / "model.bin", f"s3://{bucket}/model.bin")

    stored = ArtifactStore().stored_checksum(*_store_view(s3, f"s3://{bucket}/model.bin"))

    assert stored is not None and stored.by_store_checksum
    assert stored.digest == uploaded.digest
    assert stored.size == 7000
    assert not stored.is_prefix


def test_objects_without_a_full_object_sha256_prove_nothing(
    s3: S3Server, s3_client: S3Client, bucket: str
) -> None:
    data = b"x" * 5000
    s3_client.put_object(Bucket=bucket, Key="plain.bin", Body=data)  # CRC32 only
    s3_client.put_object(Bucket=bucket, Key="dir/a.bin", Body=data, ChecksumSHA256=_checksum(data))
    s3_client.put_object(Bucket=bucket, Key="dir/b.bin", Body=data)  # one file without
    parts = s3_client.create_multipart_upload(
        Bucket=bucket, Key="parts.bin", ChecksumAlgorithm="SHA256"
    )
    part = s3_client.upload_part(
        Bucket=bucket,
        Key="parts.bin",
        UploadId=parts["UploadId"],
        PartNumber=1,
        Body=data,
        ChecksumSHA256=_checksum(data),
    )
    s3_client.complete_multipart_upload(
        Bucket=bucket,
        Key="parts.bin",
        UploadId=parts["UploadId"],
        MultipartUpload={
            "Parts": [
                {"ETag": part["ETag"], "PartNumber": 1, "ChecksumSHA256": part["ChecksumSHA256"]}
            ]
        },
    )
    store = ArtifactStore()

    for uri in (f"s3://{bucket}/plain.bin", f"s3://{bucket}/dir/", f"s3://{bucket}/parts.bin"):
        assert store.stored_checksum(*_store_view(s3, uri)) is None, uri
    # The one file with a checksum, alone, is proven by it.
    alone = store.stored_checksum(*_store_view(s3, f"s3://{bucket}/dir/a.bin"))
    assert alone is not None
    assert alone.digest == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.usefixtures("upload_environment")
def test_a_model_that_accepts_store_checksums_is_ready_before_hashing_then_hashes(
    operator: OperatorProcess, objects: Objects, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "model.bin").write_bytes(b"big weights" * 10_000)
    uploaded = upload_artifact(tmp_path / "model.bin", f"s3://{bucket}/llm.bin")
    objects.model("llm", policy={"verification": {"acceptStoreChecksum": True}})
    objects.version("llm-1", "llm", f"s3://{bucket}/llm.bin", artifact={"digest": uploaded.digest})

    # Accepted by the checksum first (the Event stays), then hashed by the
    # next periodic pass (every second here), which drops `verifiedBy`.
    accepted = wait_until(
        lambda: next(
            (e for e in objects.events("llm-1") if e["reason"] == "ChecksumAccepted"), None
        ),
        what="a ChecksumAccepted Event",
        on_timeout=operator.log_tail,
    )
    assert accepted["type"] == "Normal"
    assert "By the store's SHA-256 checksum, not yet hashed here" in accepted["message"]
    verified = objects.wait_condition(
        "llm-1", "ArtifactVerified", "True", "Verified", on_timeout=operator.log_tail
    )
    assert verified["message"].startswith(f"s3://{bucket}/llm.bin is {uploaded.digest}")
    status = objects.get("modelversions", "llm-1")["status"]
    assert "verifiedBy" not in status["artifact"]
    assert status["artifact"]["digest"] == uploaded.digest
    assert objects.present_condition("llm-1", "Ready")["status"] == "True"
    # The hash is announced too (the order is the unit tests' to check: the API
    # server lists Events by name).
    wait_until(
        lambda: any(e["reason"] == "Verified" for e in objects.events("llm-1")),
        what="a Verified Event after the hash",
    )


def test_a_model_that_does_not_opt_in_hashes_even_when_the_store_has_a_checksum(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client
) -> None:
    data = b"weights" * 3000
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=data, ChecksumSHA256=_checksum(data))
    objects.model("plain")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    objects.version("plain-1", "plain", f"s3://{bucket}/m.bin", artifact={"digest": digest})

    objects.wait_condition("plain-1", "Ready", "True", "Succeeded", on_timeout=operator.log_tail)
    assert objects.present_condition("plain-1", "ArtifactVerified")["reason"] == "Verified"
    assert all(e["reason"] != "ChecksumAccepted" for e in objects.events("plain-1"))
