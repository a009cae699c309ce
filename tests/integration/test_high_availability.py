"""Two replicas and one Lease; shards that never overlap. Real operators, real API server.

The replicas here run in namespaces named `mr-incluster-*`, which the session's
own operator leaves alone (conftest.py), so only they act on these objects.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, operator_environment, temporary_namespace
from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

GROUP, VERSION = "modelregistry.io", "v1alpha1"
REPLICAS = ("replica-a", "replica-b")
LEASE = "registry-ha"


@pytest.fixture
def own_namespace(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-ha-") as name:
        yield name


def replica(
    cluster: Cluster, s3: S3Server, namespace: str, name: str, log: Path, **extra: str
) -> OperatorProcess:
    return OperatorProcess(
        {
            **operator_environment(cluster, s3),
            "MODELREGISTRY_LEADER_ELECTION": "true",
            "MODELREGISTRY_LEADER_ELECTION_NAMESPACE": namespace,
            "MODELREGISTRY_LEADER_ELECTION_NAME": LEASE,
            "POD_NAME": name,
            **extra,
        },
        log,
        namespace=namespace,
    )


def holder(cluster: Cluster, namespace: str) -> str | None:
    try:
        lease = kubernetes.client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(
            LEASE, namespace
        )
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    return lease.spec.holder_identity if lease.spec else None


def statuses(objects: Objects) -> list[dict[str, Any]]:
    listing = cast(
        dict[str, Any],
        objects.api.list_namespaced_custom_object(
            GROUP, VERSION, objects.namespace, "modelversions"
        ),
    )
    return [item.get("status") or {} for item in listing["items"]]


def test_the_standby_takes_over_a_killed_leader_mid_burst_and_nothing_is_done_twice(
    cluster: Cluster,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    own_namespace: str,
    tmp_path: Path,
) -> None:
    count = 500
    objects = Objects(cluster.api_client, own_namespace)
    replicas = {
        name: replica(cluster, s3, own_namespace, name, tmp_path / f"{name}.log")
        for name in REPLICAS
    }
    try:
        for process in replicas.values():
            process.start()
        leader = wait_until(lambda: holder(cluster, own_namespace), what="a leader")
        standby = next(name for name in REPLICAS if name != leader)
        s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
        objects.model("clf")

        def register(i: int) -> None:
            # Every 50th asks for Production: never two may hold it.
            stage = "Production" if i % 50 == 0 else "None"
            objects.version(f"clf-{i:03d}", "clf", f"s3://{bucket}/m.bin", stage=stage)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(count // 2)))
            # Half are in; some are being worked on: the leader dies mid-way.
            wait_until(
                lambda: sum(s.get("observedGeneration") == 1 for s in statuses(objects)) > 20,
                what="the leader at work",
            )
            replicas[leader].kill()
            killed = time.monotonic()
            list(pool.map(register, range(count // 2, count)))

        wait_until(
            lambda: holder(cluster, own_namespace) == standby,
            timeout=30,
            interval=0.2,
            what="the standby to take the Lease over",
            on_timeout=replicas[standby].log_tail,
        )
        took_over = time.monotonic() - killed
        print(f"the standby led {took_over:.1f}s after the leader's death")
        assert took_over <= 30

        def done() -> bool:
            found = statuses(objects)
            return len(found) == count and all(
                any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", []))
                for s in found
            )

        wait_until(
            done,
            timeout=300,
            interval=1,
            what="every version Ready",
            on_timeout=replicas[standby].log_tail,
        )
        found = statuses(objects)
        numbers = [s["version"] for s in found]
        assert len(set(numbers)) == count, "a version number was handed out twice"
        assert sum(s.get("stage") == "Production" for s in found) == 1
        assert "Traceback" not in replicas[standby].log()
    finally:
        for process in replicas.values():
            process.stop()


def test_a_leader_stopped_cleanly_hands_the_lease_over_without_waiting_it_out(
    cluster: Cluster,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    own_namespace: str,
    tmp_path: Path,
) -> None:
    """A rolling upgrade's SIGTERM: the standby leads at its next look, not a lease later."""
    objects = Objects(cluster.api_client, own_namespace)
    replicas = {
        name: replica(cluster, s3, own_namespace, name, tmp_path / f"{name}.log")
        for name in REPLICAS
    }
    try:
        for process in replicas.values():
            process.start()
        leader = wait_until(lambda: holder(cluster, own_namespace), what="a leader")
        standby = next(name for name in REPLICAS if name != leader)
        s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
        objects.model("clf")
        objects.version("clf-1", "clf", f"s3://{bucket}/m.bin")
        objects.wait_condition("clf-1", "Ready", "True", on_timeout=replicas[leader].log_tail)

        replicas[leader].stop()
        stopped = time.monotonic()
        assert "released Lease" in replicas[leader].log()

        wait_until(
            lambda: holder(cluster, own_namespace) == standby,
            timeout=30,
            interval=0.1,
            what="the standby to take the released Lease",
            on_timeout=replicas[standby].log_tail,
        )
        took_over = time.monotonic() - stopped
        print(f"the standby led {took_over:.1f}s after the leader stopped")
        # Waiting the lease out would take LEASE_DURATION (15 s) at least.
        assert took_over < 10
        objects.version("clf-2", "clf", f"s3://{bucket}/m.bin")
        objects.wait_condition("clf-2", "Ready", "True", on_timeout=replicas[standby].log_tail)
    finally:
        for process in replicas.values():
            process.stop()


def test_two_shards_by_label_never_touch_each_others_versions(
    cluster: Cluster,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    own_namespace: str,
    tmp_path: Path,
) -> None:
    objects = Objects(cluster.api_client, own_namespace)
    shards = {
        shard: OperatorProcess(
            {**operator_environment(cluster, s3), "MODELREGISTRY_LABEL_SELECTOR": f"shard={shard}"},
            tmp_path / f"shard-{shard}.log",
            namespace=own_namespace,
        )
        for shard in ("a", "b")
    }
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")

    def labelled(kind: str, name: str, shard: str, spec: dict[str, Any]) -> None:
        objects.create(
            "models" if kind == "Model" else "modelversions",
            {"kind": kind, "metadata": {"name": name, "labels": {"shard": shard}}, "spec": spec},
        )

    try:
        shards["a"].start()
        for shard in ("a", "b"):
            labelled("Model", f"m-{shard}", shard, {})
            for i in range(3):
                labelled(
                    "ModelVersion",
                    f"m-{shard}-{i}",
                    shard,
                    {
                        "modelRef": {"name": f"m-{shard}"},
                        "artifact": {"uri": f"s3://{bucket}/m.bin"},
                    },
                )
        for i in range(3):
            objects.wait_condition(f"m-a-{i}", "Ready", "True", on_timeout=shards["a"].log_tail)
        # Shard b has no operator yet: nothing of it was touched.
        time.sleep(2)
        assert all(not objects.get("modelversions", f"m-b-{i}").get("status") for i in range(3))
        assert not objects.get("models", "m-b").get("status")

        shards["b"].start()
        for i in range(3):
            objects.wait_condition(f"m-b-{i}", "Ready", "True", on_timeout=shards["b"].log_tail)
    finally:
        for process in shards.values():
            process.stop()
