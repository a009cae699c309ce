"""The operator killed in the middle of a verification ends in the right state."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import urlsplit

import pytest

from tests.integration.slowproxy import SlowProxy
from tests.integration.support import Objects, OperatorProcess

pytestmark = pytest.mark.integration


def test_killed_mid_verification_then_restarted_ends_ready(
    operator: OperatorProcess, objects: Objects, bucket: str, s3_client, s3
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
        assert objects.condition("big-1", "Ready")["status"] == "Unknown"  # type: ignore[index]

        operator.start()
        ready = objects.wait_condition(
            "big-1", "Ready", "True", timeout=90, on_timeout=operator.log_tail
        )
    status = objects.get("modelversions", "big-1")["status"]
    assert status["version"] == 1
    assert status["artifact"]["size"] == len(data)
    assert ready["observedGeneration"] == 1
    assert objects.condition("big-1", "Reconciling") is None
