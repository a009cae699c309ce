"""The upload that hashes on the way: one read, the digest `digest.py` defines, parts in order."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from modelregistry.client import transfer
from modelregistry.client.transfer import TransferSettings, UploadError
from modelregistry.digest import digest_local_path
from modelregistry.storage import S3Location

MIB = 1024 * 1024
SMALL_PARTS = TransferSettings(part_size=5 * MIB, concurrency=4)


class FakeS3:
    """The S3 calls the uploader makes, kept in memory, thread-safe like a boto3 client."""

    def __init__(self, fail_part: int | None = None) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, bytes] = {}
        self.checksums: dict[str, str] = {}
        self.uploads: dict[str, tuple[str, dict[int, bytes]]] = {}
        self.aborted: list[str] = []
        self.part_sizes: dict[str, list[int]] = {}
        self.fail_part = fail_part

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ChecksumSHA256: str) -> Any:
        # As S3 does: the bytes must match the checksum sent with them.
        assert base64.b64encode(hashlib.sha256(Body).digest()).decode() == ChecksumSHA256
        with self.lock:
            self.objects[Key] = bytes(Body)
            self.checksums[Key] = ChecksumSHA256
        return {"VersionId": "v1"}

    def create_multipart_upload(self, *, Bucket: str, Key: str) -> Any:
        with self.lock:
            upload_id = f"u{len(self.uploads)}"
            self.uploads[upload_id] = (Key, {})
        return {"UploadId": upload_id}

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes
    ) -> Any:
        if PartNumber == self.fail_part:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no"}}, "UploadPart"
            )
        with self.lock:
            self.uploads[UploadId][1][PartNumber] = bytes(Body)
        return {"ETag": f'"{hashlib.md5(Body).hexdigest()}"'}  # noqa: S324 -- S3's ETag

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: Any
    ) -> Any:
        key, parts = self.uploads.pop(UploadId)
        numbers = [p["PartNumber"] for p in MultipartUpload["Parts"]]
        assert numbers == list(range(1, len(parts) + 1))
        with self.lock:
            self.objects[key] = b"".join(parts[n] for n in numbers)
            self.part_sizes[key] = [len(parts[n]) for n in numbers]
        return {}

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> Any:
        self.aborted.append(Key)
        return {}

    def list_objects_v2(self, *, Bucket: str, Prefix: str, MaxKeys: int) -> Any:
        return {"KeyCount": sum(1 for k in self.objects if k.startswith(Prefix))}

    def head_object(self, *, Bucket: str, Key: str) -> Any:
        if Key not in self.objects:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject"
            )
        return {}


def model_directory(root: Path) -> Path:
    """A directory of small and multipart-sized files, nested, with a non-ASCII name."""
    (root / "shards").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "caf\u00e9.json").write_text('{"a": 1}')
    (root / "shards" / "a.bin").write_bytes(os.urandom(12 * MIB + 123))
    (root / "shards" / "b.bin").write_bytes(os.urandom(5 * MIB))  # exactly one part: a PUT
    return root


def upload(client: FakeS3, path: Path, uri: str, **kwargs: Any) -> Any:
    location = S3Location.parse(uri)
    return transfer.upload(client, transfer.plan(path, location), location, **kwargs)


def test_a_directory_uploaded_hashes_to_what_digest_local_path_computes(tmp_path: Path) -> None:
    root = model_directory(tmp_path / "model")
    client = FakeS3()

    uploaded = upload(client, root, "s3://models/churn/1/", settings=SMALL_PARTS)

    expected = digest_local_path(root)
    assert uploaded == expected
    assert uploaded.is_prefix
    for file in expected.files:
        assert client.objects[f"churn/1/{file.path}"] == (root / file.path).read_bytes()


def test_small_files_go_up_in_one_put_with_their_sha256_large_ones_in_parts(
    tmp_path: Path,
) -> None:
    root = model_directory(tmp_path / "model")
    client = FakeS3()

    upload(client, root, "s3://models/m/", settings=SMALL_PARTS)

    assert set(client.checksums) == {
        "m/MLmodel",
        "m/empty.txt",
        "m/caf\u00e9.json",
        "m/shards/b.bin",
    }
    assert (
        client.checksums["m/shards/b.bin"]
        == base64.b64encode(
            hashlib.sha256((root / "shards" / "b.bin").read_bytes()).digest()
        ).decode()
    )
    assert client.part_sizes == {"m/shards/a.bin": [5 * MIB, 5 * MIB, 2 * MIB + 123]}


def test_a_single_file_uploaded_is_its_sha256(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(os.urandom(11 * MIB))
    client = FakeS3()

    uploaded = upload(client, path, "s3://models/model.onnx", settings=SMALL_PARTS)

    assert uploaded == digest_local_path(path)
    assert not uploaded.is_prefix
    assert client.objects["model.onnx"] == path.read_bytes()


def test_a_file_exactly_a_multiple_of_the_part_size_has_no_empty_last_part(
    tmp_path: Path,
) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(10 * MIB))
    client = FakeS3()

    upload(client, path, "s3://models/weights.bin", settings=SMALL_PARTS)

    assert client.part_sizes["weights.bin"] == [5 * MIB, 5 * MIB]


def test_progress_adds_up_to_every_byte(tmp_path: Path) -> None:
    root = model_directory(tmp_path / "model")
    sent: list[int] = []
    lock = threading.Lock()

    def progress(count: int) -> None:
        with lock:
            sent.append(count)

    upload(FakeS3(), root, "s3://models/m/", settings=SMALL_PARTS, progress=progress)

    assert sum(sent) == digest_local_path(root).size


def test_a_failed_part_aborts_the_multipart_upload_and_says_what_to_check(
    tmp_path: Path,
) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(16 * MIB))
    client = FakeS3(fail_part=2)

    with pytest.raises(UploadError, match=r"refused access .*AccessDenied.*credentials"):
        upload(client, path, "s3://models/weights.bin", settings=SMALL_PARTS)

    assert client.aborted == ["weights.bin"]
    assert "weights.bin" not in client.objects


def test_a_destination_that_holds_objects_is_refused(tmp_path: Path) -> None:
    client = FakeS3()
    client.objects["churn/1/MLmodel"] = b"x"
    client.objects["churn/model.onnx"] = b"x"

    with pytest.raises(UploadError, match=r"s3://models/churn/1/ holds objects under"):
        transfer.ensure_free(client, S3Location.parse("s3://models/churn/1/"))
    with pytest.raises(UploadError, match=r"holds an object at this key already"):
        transfer.ensure_free(client, S3Location.parse("s3://models/churn/model.onnx"))
    transfer.ensure_free(client, S3Location.parse("s3://models/churn/10/"))
    transfer.ensure_free(client, S3Location.parse("s3://models/churn/other.onnx"))


def test_a_file_needs_an_object_key_and_a_directory_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x")

    with pytest.raises(UploadError, match=r"ends in '/'.*s3://b1/m/model.onnx"):
        transfer.plan(path, S3Location.parse("s3://b1/m/"))
    with pytest.raises(UploadError, match=r"end the URI in '/' \(s3://b1/m/\)"):
        transfer.plan(tmp_path, S3Location.parse("s3://b1/m"))


def test_parts_grow_so_a_huge_file_fits_in_s3s_ten_thousand_parts() -> None:
    settings = TransferSettings()

    assert settings.part_size_for(1024 * MIB) == 16 * MIB
    big = 500 * 1024 * MIB  # 500 GiB
    assert settings.part_size_for(big) * transfer.MAX_PARTS >= big
    assert settings.part_size_for(big) % MIB == 0


def test_settings_below_s3s_floor_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 MiB"):
        TransferSettings(part_size=MIB)
    with pytest.raises(ValueError, match="concurrency"):
        TransferSettings(concurrency=0)
