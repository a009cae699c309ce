"""A real operator process, observed from outside: its probes, its metrics, its JSON logs.

The operator here is this test's own (the session's skips `mr-incluster-*`
namespaces) and watches only this test's namespace, so every count it
serves is this test's doing and can be asserted exactly.
"""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, operator_environment, temporary_namespace
from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

GOOD_BYTES = b"the bytes of a model that passes"
BAD_BYTES = b"the bytes of a model whose digest is wrong"
WRONG_DIGEST = "sha256:" + "0" * 64
# Every metric the operator documents, served from the start (labelled ones with no
# samples yet still say their TYPE).
FAMILIES = {
    "modelregistry_verifications",
    "modelregistry_verification_duration_seconds",
    "modelregistry_verification_bytes",
    "modelregistry_validations",
    "modelregistry_validation_duration_seconds",
    "modelregistry_stage_transitions",
    "modelregistry_reconcile_errors",
    "modelregistry_passes_in_progress",
    "modelregistry_pass_duration_seconds",
    "modelregistry_workqueue_depth",
    "modelregistry_watch_restarts",
    "modelregistry_status_writes",
}


# (name, sorted labels) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Observed:
    process: OperatorProcess
    namespace: str
    base: str  # http://127.0.0.1:PORT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def observed(cluster: Cluster, s3: S3Server, tmp_path: Path) -> Iterator[Observed]:
    port = free_port()
    with temporary_namespace(cluster, "mr-incluster-obs-") as namespace:
        process = OperatorProcess(
            {
                **operator_environment(cluster, s3),
                "MODELREGISTRY_HTTP_PORT": str(port),
                "MODELREGISTRY_LOG_FORMAT": "json",
                # Hashed once each: no re-check within the test, so counts are exact.
                "MODELREGISTRY_REVERIFY_INTERVAL": "3600",
            },
            tmp_path / "operator.log",
            namespace=namespace,
        )
        process.start()
        try:
            yield Observed(process, namespace, f"http://127.0.0.1:{port}")
        finally:
            process.stop()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310  # http to loopback
            return reply.status, reply.read().decode(), reply.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers["Content-Type"]


def scrape(base: str) -> Samples:
    """Every sample served, by name and labels; also checks that every family is there."""
    status, text, content_type = get(base + "/metrics")
    assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
    families = list(text_string_to_metric_families(text))
    assert not FAMILIES - {f.name for f in families}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_probes_metrics_and_json_logs_of_a_running_operator(
    observed: Observed, cluster: Cluster, s3_client: S3Client, bucket: str
) -> None:
    operator, namespace = observed.process, observed.namespace
    assert get(observed.base + "/healthz")[:2] == (200, "ok\n")
    assert get(observed.base + "/readyz")[:2] == (200, "ok\n")

    objects = Objects(cluster.api_client, namespace)
    s3_client.put_object(Bucket=bucket, Key="good.bin", Body=GOOD_BYTES)
    s3_client.put_object(Bucket=bucket, Key="bad.bin", Body=BAD_BYTES)
    objects.model("clf", policy={"validation": {"metricThresholds": ["auc >= 0.9"]}})
    good = objects.version(
        "clf-good",
        "clf",
        f"s3://{bucket}/good.bin",
        artifact={"digest": "sha256:" + hashlib.sha256(GOOD_BYTES).hexdigest()},
        metrics={"auc": 0.95},
        validation={"checks": [{"name": "metrics", "builtin": "metrics"}]},
        stage="Staging",
    )
    bad = objects.version(
        "clf-bad", "clf", f"s3://{bucket}/bad.bin", artifact={"digest": WRONG_DIGEST}
    )
    objects.wait_condition("clf-good", "Ready", "True", on_timeout=operator.log_tail)
    wait_until(
        lambda: objects.get("modelversions", "clf-good")["status"].get("stage") == "Staging",
        what="clf-good granted Staging",
        on_timeout=operator.log_tail,
    )
    objects.wait_condition(
        "clf-bad", "Stalled", "True", "DigestMismatch", on_timeout=operator.log_tail
    )

    def idle() -> Samples | None:
        found = scrape(observed.base)
        busy = sample(found, "modelregistry_passes_in_progress") or sample(
            found, "modelregistry_workqueue_depth"
        )
        return None if busy else found

    samples: Samples = wait_until(idle, what="the operator to be idle")
    counted = [
        sample(samples, "modelregistry_verifications_total", result="Verified"),
        sample(samples, "modelregistry_verifications_total", result="DigestMismatch"),
        sample(samples, "modelregistry_verification_bytes_total"),
        sample(samples, "modelregistry_verification_duration_seconds_count"),
        sample(samples, "modelregistry_validations_total", result="ChecksPassed"),
        sample(samples, "modelregistry_validation_duration_seconds_count"),
        sample(
            samples,
            "modelregistry_stage_transitions_total",
            **{"from": "None", "to": "Staging", "reason": "Granted"},
        ),
        # A version that needs a person is not a failed pass.
        sample(samples, "modelregistry_reconcile_errors_total", reason="DigestMismatch"),
    ]
    assert counted == [1, 1, len(GOOD_BYTES) + len(BAD_BYTES), 2, 1, 1, 1, 0]
    # Both versions' results, the Model's counter and summary: written, and counted.
    assert sample(samples, "modelregistry_status_writes_total", kind="ModelVersion") >= 2
    assert sample(samples, "modelregistry_status_writes_total", kind="Model") >= 2
    assert sample(samples, "modelregistry_pass_duration_seconds_count") >= 2
    assert sample(samples, "process_cpu_seconds_total") > 0

    lines = [json.loads(line) for line in operator.log().splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    for version in (good, bad):
        meta = version["metadata"]
        about = [
            line
            for line in lines
            if line.get("uid") == meta["uid"] or meta["name"] in line["message"]
        ]
        assert about, f"no line about {meta['name']}"
        for line in about:
            assert (line.get("namespace"), line.get("name"), line.get("uid")) == (
                namespace,
                meta["name"],
                meta["uid"],
            ), line
    # What made the lines about the good version: its pass posted its Events.
    assert any(
        line.get("name") == "clf-good" and "Event Verified" in line["message"] for line in lines
    )
