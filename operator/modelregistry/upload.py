"""`modelregistry upload`: put a local artifact in S3 and print its digest.

Uses boto3's usual configuration (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...),
so it works against AWS, MinIO, or the local server of `make run`.
"""

from __future__ import annotations

from pathlib import Path

import boto3

from modelregistry.digest import ArtifactDigest, digest_local_path
from modelregistry.storage import S3Location


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
        client.upload_file(str(path), location.bucket, location.key)
    else:
        for file in result.files:
            client.upload_file(str(path / file.path), location.bucket, location.key + file.path)
    return result
