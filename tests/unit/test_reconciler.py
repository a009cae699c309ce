"""The reconciler's order of work, on an in-memory API server and store.

The integration suite runs the same code against real servers; these cases
are races and sequences that real servers do not produce on demand.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

from modelregistry.api.modelversion import Artifact
from modelregistry.cluster import MODELS, MODELVERSIONS
from modelregistry.decisions import Event, Outcome
from modelregistry.digest import FileDigest, single_object
from modelregistry.reconciler import Reconciler
from modelregistry.settings import Settings
from modelregistry.storage import Credentials
from tests.unit.mergepatches import apply_merge_patch

NAMESPACE = "team-a"
HEX = "a" * 64
NOW = datetime(2030, 1, 1, tzinfo=UTC)


class MemoryCluster:
    """Stores objects and applies status patches the way the API server does."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[str, Event]] = []
        # A slow API server: condition writes to `held` wait until `release` is set.
        self.held: str | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def add(self, plural: str, name: str, spec: dict[str, Any], created: str) -> dict[str, Any]:
        body = {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "uid": f"uid-{name}",
                "generation": 1,
                "creationTimestamp": created,
            },
            "spec": spec,
        }
        self.objects[(plural, name)] = body
        return copy.deepcopy(body)

    async def _get(self, plural: str, name: str) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        found = self.objects.get((plural, name))
        return copy.deepcopy(found) if found else None

    async def get_model(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(MODELS, name)

    async def get_version(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get(MODELVERSIONS, name)

    async def list_versions(self, namespace: str, model: str) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return [
            copy.deepcopy(body)
            for (plural, _), body in self.objects.items()
            if plural == MODELVERSIONS and body["spec"]["modelRef"]["name"] == model
        ]

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: dict[str, Any]
    ) -> None:
        await asyncio.sleep(0)
        if name == self.held and "conditions" in status:
            self.holding.set()
            await self.release.wait()
        body = self.objects[(plural, name)]
        body["status"] = apply_merge_patch(body.get("status") or {}, status)

    async def post_event(self, regarding: dict[str, Any], event: Event) -> None:
        self.events.append((regarding["metadata"]["name"], event))

    async def read_credentials(self, namespace: str, name: str, field: str) -> Credentials:
        raise AssertionError("no Secret is named in these cases")


class GatedVerifier:
    """Hashes to a fixed digest once `release` is set; counts the calls."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    def endpoint_for(self, artifact: Artifact) -> Any:
        return None

    async def verify(self, artifact: Artifact, credentials: Any, field: str) -> Outcome:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return single_object(FileDigest(path="m.bin", hexdigest=HEX, size=3, version_id="v1"))


def reconciler(cluster: MemoryCluster, verifier: GatedVerifier) -> Reconciler:
    settings = Settings.from_environment({})
    return Reconciler(cluster, verifier, settings, clock=lambda: NOW)  # type: ignore[arg-type]


def version_spec(**extra: Any) -> dict[str, Any]:
    return {"modelRef": {"name": "fraud"}, "artifact": {"uri": "s3://models/m.bin"}, **extra}


def test_a_pass_that_waited_for_the_lock_starts_from_the_stored_object() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    stale = cluster.add(MODELVERSIONS, "fraud-a", version_spec(), "2030-01-01T00:00:01Z")
    work = reconciler(cluster, verifier)

    async def scenario() -> None:
        # Two events delivered the same body (no status yet); the second waits for the first.
        first = asyncio.create_task(work.reconcile_version(copy.deepcopy(stale)))
        second = asyncio.create_task(work.reconcile_version(copy.deepcopy(stale)))
        await verifier.started.wait()
        verifier.release.set()
        await asyncio.gather(first, second)

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))

    status = cluster.objects[(MODELVERSIONS, "fraud-a")]["status"]
    assert status["version"] == 1
    assert verifier.calls == 1  # the second pass saw the verification and did not hash again
    assigned = [e for _, e in cluster.events if e.reason == "VersionAssigned"]
    assert [e.message for e in assigned] == ["Assigned version 1."]


def test_a_recorded_number_survives_an_older_claim_on_it() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    verifier.release.set()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    auto = cluster.add(MODELVERSIONS, "fraud-auto", version_spec(), "2030-01-01T00:00:05Z")
    work = reconciler(cluster, verifier)
    asyncio.run(work.reconcile_version(auto))
    # An object created earlier (same second, say, or restored from a backup) claims 1.
    late = cluster.add(MODELVERSIONS, "fraud-late", version_spec(version=1), "2030-01-01T00:00:01Z")

    asyncio.run(work.reconcile_version(late))
    asyncio.run(work.reconcile_version(auto))

    auto_status = cluster.objects[(MODELVERSIONS, "fraud-auto")]["status"]
    late_status = cluster.objects[(MODELVERSIONS, "fraud-late")]["status"]
    assert auto_status["version"] == 1
    assert "version" not in late_status
    stalled = next(c for c in late_status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "DuplicateVersion" and "fraud-auto" in stalled["message"]


def test_the_model_forgets_a_ready_version_that_is_no_longer_ready() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    verifier.release.set()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    body = cluster.add(
        MODELVERSIONS,
        "fraud-a",
        version_spec(artifact={"uri": "s3://models/m.bin", "digest": "sha256:" + HEX}),
        "2030-01-01T00:00:01Z",
    )
    work = reconciler(cluster, verifier)
    asyncio.run(work.reconcile_version(body))
    assert cluster.objects[(MODELS, "fraud")]["status"]["latestReadyVersion"] == 1

    del cluster.objects[(MODELVERSIONS, "fraud-a")]
    asyncio.run(work.refresh_model(NAMESPACE, "fraud"))

    model = cluster.objects[(MODELS, "fraud")]["status"]
    assert "latestReadyVersion" not in model and "latestVersion" not in model
    assert model["counts"] == {"total": 0, "ready": 0, "stalled": 0}


def test_a_deleted_object_is_left_alone() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    body = cluster.add(MODELVERSIONS, "fraud-a", version_spec(), "2030-01-01T00:00:01Z")
    del cluster.objects[(MODELVERSIONS, "fraud-a")]

    asyncio.run(reconciler(cluster, verifier).reconcile_version(body))

    assert verifier.calls == 0 and cluster.events == []
    assert (MODELVERSIONS, "fraud-a") not in cluster.objects


def test_two_claims_on_one_number_never_both_hold_it() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    verifier.release.set()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    first = cluster.add(MODELVERSIONS, "fraud-b", version_spec(version=5), "2030-01-01T00:00:01Z")
    cluster.held = "fraud-b"
    work = reconciler(cluster, verifier)

    async def scenario() -> None:
        # fraud-b won the number; its first status write is slow to land.
        slow = asyncio.create_task(work.reconcile_version(first))
        await cluster.holding.wait()
        # Meanwhile fraud-a (same second, a name that sorts first) claims the same number.
        second = cluster.add(
            MODELVERSIONS, "fraud-a", version_spec(version=5), "2030-01-01T00:00:01Z"
        )
        await work.reconcile_version(second)
        cluster.release.set()
        await slow

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))

    holders = [
        name
        for name in ("fraud-a", "fraud-b")
        if cluster.objects[(MODELVERSIONS, name)]["status"].get("version") == 5
    ]
    assert holders == ["fraud-b"]
    refused = cluster.objects[(MODELVERSIONS, "fraud-a")]["status"]["conditions"]
    assert [c["reason"] for c in refused if c["type"] == "Stalled"] == ["DuplicateVersion"]


def test_a_status_version_that_is_not_a_number_is_replaced_by_one() -> None:
    cluster = MemoryCluster()
    verifier = GatedVerifier()
    verifier.release.set()
    cluster.add(MODELS, "fraud", {}, "2030-01-01T00:00:00Z")
    body = cluster.add(MODELVERSIONS, "fraud-a", version_spec(), "2030-01-01T00:00:01Z")
    cluster.objects[(MODELVERSIONS, "fraud-a")]["status"] = {"version": "three"}
    work = reconciler(cluster, verifier)

    asyncio.run(work.reconcile_version(body))
    asyncio.run(work.refresh_model(NAMESPACE, "fraud"))

    assert cluster.objects[(MODELVERSIONS, "fraud-a")]["status"]["version"] == 1
    assert cluster.objects[(MODELS, "fraud")]["status"]["latestReadyVersion"] == 1
