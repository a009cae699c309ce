"""A hash on a real S3 server tells its ReadProgress each object's size and every byte read."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from modelregistry.localenv import S3Server
from modelregistry.storage import ArtifactStore, Credentials, Endpoint, ReadProgress, S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def _hash(s3: S3Server, uri: str, progress: ReadProgress, chunk_size: int) -> int:
    store = ArtifactStore(chunk_size=chunk_size)
    hashed = store.hash_artifact(
        S3Location.parse(uri),
        Endpoint(url=s3.endpoint_url, region=s3.region),
        Credentials(s3.access_key, s3.secret_key),
        progress,
    )
    return hashed.size


@pytest.mark.parametrize("chunk_size", [64 * 1024, 4 * 1024 * 1024])
def test_a_prefix_reports_every_size_and_byte(
    s3: S3Server, bucket: str, s3_client: S3Client, chunk_size: int
) -> None:
    sizes = {"a.bin": 1_000_000, "b.bin": 17, "c/d.bin": 300_001}
    for key, size in sizes.items():
        s3_client.put_object(Bucket=bucket, Key=f"m/{key}", Body=os.urandom(size))
    progress = ReadProgress()

    size = _hash(s3, f"s3://{bucket}/m/", progress, chunk_size)

    expected, read, seconds = progress.seen()
    assert size == expected == read == sum(sizes.values())
    assert seconds > 0


def test_a_single_object_reports_its_size_and_bytes(
    s3: S3Server, bucket: str, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=bucket, Key="one.bin", Body=os.urandom(123_456))
    progress = ReadProgress()

    _hash(s3, f"s3://{bucket}/one.bin", progress, 64 * 1024)

    assert progress.seen()[:2] == (123_456, 123_456)
