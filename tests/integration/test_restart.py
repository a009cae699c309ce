"""The operator killed in the middle of a verification ends in the right state."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from modelregistry.localenv import S3Server
from tests.integration.slowproxy import SlowProxy
from tests.integration.support import Objects, OperatorProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def test_killed_mid_verification_then_restarted_ends_ready(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client: S3Client, s3: S3Server
) -> None:
    data = os.urandom(6 * 1024 * 1024)
    s3_client.put_object(Bucket=bucket, Key="big.bin", Body=data)
    target = urlsplit(s3.endpoint_url)
    # 1 MiB/s: hashing takes about six seconds, long enough to be interrupted.
    with SlowProxy(target.hostname or "127.0.0.1", target.port or 80, 1024 * 1024) as proxy:
        objects.model("big")
        objects.version(
            "big-1",
            "big",
            f"s3://{bucket}/big.bin",
            artifact={
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "storage": {"endpoint": proxy.url},
            },
        )
        objects.wait_condition("big-1", "Reconciling", "True", "Verifying")
        operator.kill()
        assert objects.present_condition("big-1", "Ready")["status"] == "Unknown"

        operator.start()
        ready = objects.wait_condition(
            "big-1", "Ready", "True", timeout=90, on_timeout=operator.log_tail
        )
    status = objects.get("modelversions", "big-1")["status"]
    assert status["version"] == 1
    assert status["artifact"]["size"] == len(data)
    assert ready["observedGeneration"] == 1
    assert objects.condition("big-1", "Reconciling") is None
