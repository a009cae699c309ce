"""`modelregistry upload`: put a local artifact in S3 and print its digest.

Uses boto3's usual configuration (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...),
so it works against AWS, MinIO, or the local server of `make run`.

Each file goes up in one PUT with its SHA-256 as `ChecksumSHA256`: the store
checks the bytes it receives against it and keeps it, so a Model whose
`policy.verification.acceptStoreChecksum` is true can accept it as a first
verification without reading the bytes back.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import boto3

from modelregistry.digest import ArtifactDigest, FileDigest, digest_local_path
from modelregistry.storage import S3Location

# S3 takes at most 5 GiB in one PUT. A larger file goes up in parts, and S3
# keeps no SHA-256 of a whole multipart object (only one of its parts'
# checksums), so such a file is always hashed by the operator.
SINGLE_PUT_LIMIT = 5 * 1024**3


def checksum_header(file: FileDigest) -> str:
    """`ChecksumSHA256` for a file: the base64 of its raw SHA-256."""
    return base64.b64encode(bytes.fromhex(file.hexdigest)).decode()


def _put(client: Any, path: Path, bucket: str, key: str, file: FileDigest) -> None:
    if file.size > SINGLE_PUT_LIMIT:
        client.upload_file(str(path), bucket, key)
        return
    with path.open("rb") as body:
        client.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=checksum_header(file))


def upload_artifact(path: Path, uri: str) -> ArtifactDigest:
    """Upload a file to s3://bucket/key, or a directory under s3://bucket/prefix/."""
    location = S3Location.parse(uri)
    result = digest_local_path(path)
    if result.is_prefix != location.is_prefix:
        expected = "a prefix ending in '/'" if result.is_prefix else "an object key (no final '/')"
        raise ValueError(
            f"{path} is a {'directory' if result.is_prefix else 'file'}: use {expected}"
        )
    client = boto3.session.Session().client("s3")
    if not result.is_prefix:
        _put(client, path, location.bucket, location.key, result.files[0])
    else:
        for file in result.files:
            _put(client, path / file.path, location.bucket, location.key + file.path, file)
    return result
