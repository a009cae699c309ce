"""What the benchmarks share: clients of the local servers and the operator's environment."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3

import modelregistry
from modelregistry.localenv import ControlPlane, S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The operator runs from the source the benchmark imports: the working tree by
# default, or whatever PYTHONPATH puts first (e.g. an exported commit).
OPERATOR_SOURCE: Final = Path(modelregistry.__file__).resolve().parents[1]


@contextlib.contextmanager
def workdir(base: Path | None, name: str) -> Iterator[Path]:
    """`<base>/<name>-<time>-<pid>`, kept; without `base`, a temporary directory."""
    if base is not None:
        path = base / f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}"
        path.mkdir(parents=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"{name}-bench-") as tmp:
        yield Path(tmp)


def operator_environment(plane: ControlPlane, s3: S3Server, **settings: str) -> dict[str, str]:
    """`python -m modelregistry run` against these servers, with extra settings."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(OPERATOR_SOURCE), os.environ.get("PYTHONPATH")) if p
        ),
        # The operator's own identity, which the admission policies exempt.
        "KUBECONFIG": str(plane.operator_kubeconfig),
        "MODELREGISTRY_S3_ENDPOINT": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        **settings,
    }


def s3_client(s3: S3Server) -> S3Client:
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )
    return client


def versioned_bucket(s3: S3Server, bucket: str) -> S3Client:
    """A client, after creating `bucket` with versioning on."""
    client = s3_client(s3)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


def api_client(plane: ControlPlane) -> Any:
    """A `kubernetes` client of the control plane, as its admin."""
    import kubernetes

    return kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(plane.kubeconfig)
    )
