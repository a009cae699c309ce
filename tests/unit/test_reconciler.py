"""The reconciler's order of work and its API calls, on an in-memory API server.

The integration suite runs the same code against real servers; these cases
count calls and writes exactly, and play races that real servers do not
produce on demand.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelregistry.reconciler import Operator
from modelregistry.reconciler import version as version_module
from modelregistry.reconciler.model import REFRESHES_PER_WINDOW
from modelregistry.reconciler.operator import PASS_WORKERS
from modelregistry.reconciler.version import PROGRESS_AFTER
from modelregistry.settings import Settings
from tests.unit.memorycluster import HEX, FixedVerifier, MemoryCluster

NOW = datetime(2030, 1, 1, tzinfo=UTC)
DIGEST = "sha256:" + HEX


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def settings(**extra: str) -> Settings:
    return Settings.from_environment(
        {
            "MODELREGISTRY_MODEL_REFRESH_WINDOW": "0.01",
            "MODELREGISTRY_RETRY_BASE_DELAY": "30",
            **extra,
        }
    )


def spec(model: str = "fraud", **extra: Any) -> dict[str, Any]:
    return {"modelRef": {"name": model}, "artifact": {"uri": "s3://models/m.bin"}, **extra}


def created(i: int) -> str:
    return (NOW + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


class World:
    """A cluster, a store and an operator wired together."""

    def __init__(self, **extra: str) -> None:
        self.cluster = MemoryCluster()
        self.verifier = FixedVerifier()
        self.clock = Clock()
        self.settings = settings(**extra)
        self.operator: Operator | None = None

    def start(self) -> Operator:
        self.operator = Operator(
            self.cluster, self.verifier, self.cluster.catalog(), self.settings, clock=self.clock
        )
        return self.operator

    async def close(self) -> None:
        if self.operator is not None:
            await self.operator.close()


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def test_a_new_version_hashed_at_once_is_ready_after_one_status_write_and_one_counter_write() -> (
    None
):
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)

        status = w.cluster.status("modelversions", "fraud-a")
        assert status["version"] == 1
        assert conditions(status) == {
            "Ready": ("True", "Succeeded"),
            "ModelFound": ("True", "ModelExists"),
            "VersionAssigned": ("True", "VersionHeld"),
            "ArtifactVerified": ("True", "Verified"),
            "Validated": ("True", "NoChecks"),
            "StageGranted": ("True", "Granted"),
        }
        assert status["observedGeneration"] == 1
        assert w.cluster.calls["patch modelversions/status"] == 1  # Ready, nothing before
        assert operator.versions.status_writes == 1
        assert operator.numbers.writes == 1
        assert w.verifier.calls == 1
        assert [e.reason for _, e in w.cluster.events] == ["Verified"]
        await asyncio.sleep(0.05)  # the Model's refresh window
        model = w.cluster.status("models", "fraud")
        assert (model["latestVersion"], model["latestReadyVersion"]) == (1, 1)
        assert model["versionSequence"] == 1
        assert model["counts"] == {"total": 1, "ready": 1, "stalled": 0}
        await w.close()

    run(scenario)


async def until(holds: Callable[[], bool], what: str) -> None:
    """Until `holds()`: the Model's refresh runs on a timer, later on a loaded machine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not holds():
        if loop.time() > deadline:
            raise AssertionError(f"not within 5s: {what}")
        await asyncio.sleep(0.01)


async def first_read_held(*, size: int, read_before_gate: int | None) -> tuple[World, Operator]:
    """A new version whose first hash reports `size` bytes, reads some, and waits at the gate."""
    w = World()
    w.cluster.add("models", "fraud", {}, created(0))
    body = w.cluster.add("modelversions", "fraud-a", spec(), created(1))
    operator = w.start()
    w.verifier.gate = asyncio.Event()
    w.verifier.size, w.verifier.read_before_gate = size, read_before_gate
    await operator.version_event("ADDED", copy.deepcopy(body))
    return w, operator


async def let_it_finish(w: World, operator: Operator) -> None:
    assert w.verifier.gate is not None
    w.verifier.gate.set()
    await operator.drain()
    await w.cluster.settle(operator)


def test_a_long_read_is_announced_first_two_status_writes_in_all() -> None:
    async def scenario() -> None:
        # ~1% read, then it stalls
        w, operator = await first_read_held(size=100, read_before_gate=1)
        await asyncio.sleep(PROGRESS_AFTER / 2)
        assert w.cluster.calls["patch modelversions/status"] == 0  # not yet: it may be quick
        await asyncio.sleep(PROGRESS_AFTER)
        assert w.cluster.calls["patch modelversions/status"] == 1
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["Reconciling"] == ("True", "Verifying")
        assert conditions(status)["ArtifactVerified"] == ("Unknown", "Verifying")
        assert status["observedGeneration"] == 1

        await let_it_finish(w, operator)
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["Ready"] == ("True", "Succeeded")
        assert w.cluster.calls["patch modelversions/status"] == 2
        await w.close()

    run(scenario)


def test_a_small_read_that_waits_is_not_announced_one_status_write_in_all() -> None:
    async def scenario() -> None:
        # all read, then it waits (for its turn, say)
        w, operator = await first_read_held(size=3, read_before_gate=None)
        await asyncio.sleep(PROGRESS_AFTER * 3)
        assert w.cluster.calls["patch modelversions/status"] == 0

        await let_it_finish(w, operator)
        assert conditions(w.cluster.status("modelversions", "fraud-a"))["Ready"] == (
            "True",
            "Succeeded",
        )
        assert w.cluster.calls["patch modelversions/status"] == 1
        await w.close()

    run(scenario)


def test_any_read_still_running_at_the_latest_is_announced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(version_module, "PROGRESS_AT_THE_LATEST", PROGRESS_AFTER * 2)

    async def scenario() -> None:
        # no byte yet: no rate
        w, operator = await first_read_held(size=100, read_before_gate=0)
        await asyncio.sleep(PROGRESS_AFTER * 1.5)
        assert w.cluster.calls["patch modelversions/status"] == 0
        await asyncio.sleep(PROGRESS_AFTER * 1.5)
        assert w.cluster.calls["patch modelversions/status"] == 1
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["Reconciling"] == ("True", "Verifying")

        await let_it_finish(w, operator)
        assert w.cluster.calls["patch modelversions/status"] == 2
        await w.close()

    run(scenario)


def test_versions_created_together_get_distinct_numbers_oldest_first() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        for i in range(12):
            w.cluster.add("modelversions", f"fraud-{i:02d}", spec(), created(12 - i))
        operator = w.start()
        await w.cluster.settle(operator)

        numbers = {
            name: w.cluster.status("modelversions", name)["version"]
            for (plural, name) in w.cluster.objects
            if plural == "modelversions"
        }
        assert sorted(numbers.values()) == list(range(1, 13))
        # The oldest object (created first) got the lowest number.
        assert numbers["fraud-11"] == 1 and numbers["fraud-00"] == 12
        # The first pass to ask numbered all twelve in one counter write.
        assert operator.numbers.writes == 1
        await w.close()

    run(scenario)


def test_versions_waiting_in_the_index_are_numbered_ahead_and_a_deleted_one_leaves_a_gap() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        first = w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        w.cluster.add("modelversions", "fraud-b", spec(), created(2))
        w.cluster.add("modelversions", "fraud-c", spec(), created(3))
        operator = w.start()
        await operator.version_event("ADDED", copy.deepcopy(first))  # only a's pass runs
        await operator.drain()
        assert w.cluster.status("modelversions", "fraud-a")["version"] == 1
        assert operator.numbers.writes == 1
        assert w.cluster.status("models", "fraud")["versionSequence"] == 3  # b and c too

        gone = w.cluster.delete("modelversions", "fraud-b")  # before its pass recorded 2
        w.cluster.reindex()
        await operator.version_event("DELETED", gone)
        w.cluster.add("modelversions", "fraud-d", spec(), created(4))
        await w.cluster.settle(operator)

        numbers = {
            n: w.cluster.status("modelversions", n)["version"] for n in ("fraud-c", "fraud-d")
        }
        assert numbers == {"fraud-c": 3, "fraud-d": 4}  # 2 is skipped, never reused
        assert operator.numbers.writes == 2
        await w.close()

    run(scenario)


def calls_per_version(n: int) -> dict[str, float]:
    """API calls per version from create to Ready, for n versions of one Model."""

    async def scenario() -> dict[str, float]:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        for i in range(n):
            w.cluster.add("modelversions", f"fraud-{i:04d}", spec(), created(i + 1))
        operator = w.start()
        await w.cluster.settle(operator)
        await asyncio.sleep(0.05)
        assert all(
            conditions(body["status"])["Ready"] == ("True", "Succeeded")
            for (plural, _), body in w.cluster.objects.items()
            if plural == "modelversions"
        )
        # The Model's counter and summary: at most one write per batch, not per version.
        per_version = {
            kind: count / n
            for kind, count in w.cluster.calls.items()
            if kind.endswith("modelversions/status") or kind == "create events"
        }
        # Versions passed together share a counter write (one per batch of passes
        # in flight, PASS_WORKERS at most), and the summary is coalesced.
        per_version["model writes are shared"] = float(
            w.cluster.calls["patch models/status"] <= n / 8 + 2
        )
        await w.close()
        return per_version

    return asyncio.run(scenario())


def test_api_calls_per_version_do_not_grow_with_the_number_of_versions() -> None:
    small, large = calls_per_version(10), calls_per_version(300)
    assert small == large
    assert small["patch modelversions/status"] == 1
    assert small["create events"] == 1
    assert "get modelversions" not in small  # event bodies are used as they come


def test_an_idle_periodic_pass_over_ready_versions_makes_no_api_call() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        for i in range(50):
            w.cluster.add("modelversions", f"fraud-{i}", spec(), created(i + 1))
        operator = w.start()
        await w.cluster.settle(operator)
        await asyncio.sleep(0.05)
        before = sum(w.cluster.calls.values())
        w.cluster.reindex()

        assert await operator.periodic_pass() == 0
        assert sum(w.cluster.calls.values()) == before

        # Once the re-verification interval has passed, each version is due once.
        w.clock.now = NOW + timedelta(hours=2)
        assert await operator.periodic_pass() == 50
        assert w.verifier.calls == 100
        await w.close()

    run(scenario)


def test_the_periodic_pass_leaves_alone_versions_in_a_pass_or_queued_for_one() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        count = PASS_WORKERS + 8
        for i in range(count):
            w.cluster.add("modelversions", f"fraud-{i:03d}", spec(), created(i + 1))
        operator = w.start()
        w.verifier.gate = asyncio.Event()  # every pass waits in hashing
        bodies = [b for (plural, _), b in w.cluster.objects.items() if plural == "modelversions"]
        for body in bodies:
            await operator.version_event("ADDED", copy.deepcopy(body))
        await asyncio.sleep(0.05)
        assert len(operator.queue) == 8  # the rest are in a pass
        before = dict(w.cluster.calls)

        assert await operator.periodic_pass() == 0
        assert dict(w.cluster.calls) == before

        w.verifier.gate.set()
        await w.cluster.settle(operator)
        assert w.verifier.calls == count
        await w.close()

    run(scenario)


def test_an_event_older_than_our_own_write_is_skipped_without_a_call() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        first = w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        await until(
            lambda: w.cluster.status("models", "fraud").get("counts", {}).get("total") == 1,
            "the Model's refresh after the version's pass",
        )
        before = dict(w.cluster.calls)

        await operator.version_event("MODIFIED", first)  # the ADDED copy, delivered late
        await operator.drain()

        assert dict(w.cluster.calls) == before
        assert w.verifier.calls == 1
        await w.close()

    run(scenario)


def test_a_claim_on_a_recorded_number_is_refused_naming_the_holder() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-new", spec(version=3), created(1))
        # Older, but its claim came later: the recorded number is held for good.
        w.cluster.add("modelversions", "fraud-old", spec(), created(0), status={"version": 3})
        operator = w.start()
        await w.cluster.settle(operator)

        refused = w.cluster.status("modelversions", "fraud-new")
        assert "version" not in refused
        assert conditions(refused)["VersionAssigned"] == ("False", "DuplicateVersion")
        assert conditions(refused)["Stalled"] == ("True", "DuplicateVersion")
        message = next(c["message"] for c in refused["conditions"] if c["type"] == "Stalled")
        assert "already held by ModelVersion 'fraud-old'" in message
        assert w.cluster.status("modelversions", "fraud-old")["version"] == 3
        await w.close()

    run(scenario)


def test_new_numbers_go_above_numbers_claimed_in_spec() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-seven", spec(version=7), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        w.cluster.add("modelversions", "fraud-next", spec(), created(2))
        await w.cluster.settle(operator)

        assert w.cluster.status("modelversions", "fraud-next")["version"] == 8
        await w.close()

    run(scenario)


def test_a_counter_moved_by_another_writer_is_read_again_and_never_reused() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        w.cluster.bump_counter_behind_our_back("fraud", 5)  # numbers 2..5 went elsewhere
        w.cluster.add("modelversions", "fraud-b", spec(), created(2))
        await w.cluster.settle(operator)

        assert w.cluster.status("modelversions", "fraud-b")["version"] == 6
        assert w.cluster.status("models", "fraud")["versionSequence"] == 6
        await w.close()

    run(scenario)


def test_a_version_waiting_for_its_model_is_looked_at_when_the_model_appears() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        waiting = w.cluster.status("modelversions", "fraud-a")
        assert conditions(waiting)["Reconciling"] == ("True", "ModelNotFound")
        assert operator.requeue.pending("uid-fraud-a")  # retried with backoff meanwhile

        model = w.cluster.add("models", "fraud", {}, created(2))
        w.cluster.reindex()
        await operator.model_event("ADDED", model)
        for _ in range(50):
            await asyncio.sleep(0.01)
            await w.cluster.deliver(operator)
            if conditions(w.cluster.status("modelversions", "fraud-a"))["Ready"][0] == "True":
                break
        assert conditions(w.cluster.status("modelversions", "fraud-a"))["Ready"] == (
            "True",
            "Succeeded",
        )
        assert not operator.requeue.pending("uid-fraud-a")
        await w.close()

    run(scenario)


def test_a_status_version_that_is_not_a_number_is_replaced_by_one() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1), status={"version": "7"})
        operator = w.start()
        await w.cluster.settle(operator)

        assert w.cluster.status("modelversions", "fraud-a")["version"] == 1
        await w.close()

    run(scenario)


def test_a_deleted_version_is_left_alone_and_forgotten() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        body = w.cluster.delete("modelversions", "fraud-a")
        w.cluster.reindex()
        await operator.version_event("DELETED", body)
        await until(
            lambda: w.cluster.status("models", "fraud").get("counts", {}).get("total") == 0,
            "the Model's refresh after the deletion",
        )

        model = w.cluster.status("models", "fraud")
        assert model["counts"] == {"total": 0, "ready": 0, "stalled": 0}
        assert "latestVersion" not in model
        await w.close()

    run(scenario)


@pytest.mark.parametrize("generation", [2, 7])
def test_a_new_generation_is_reconciled_and_stamped(generation: int) -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        body = w.cluster.objects[("modelversions", "fraud-a")]
        body["metadata"]["generation"] = generation
        body["spec"]["stage"] = "Staging"
        body["metadata"]["resourceVersion"] = "999"
        await w.cluster.settle(operator)

        status = w.cluster.status("modelversions", "fraud-a")
        assert status["observedGeneration"] == generation
        assert {c["observedGeneration"] for c in status["conditions"]} == {generation}
        assert w.verifier.calls == 1  # verified bytes are not hashed again for a stage change
        await w.close()

    run(scenario)


def test_model_summaries_are_refreshed_a_bounded_number_per_window_longest_marked_first() -> None:
    async def scenario() -> None:
        w = World(MODELREGISTRY_MODEL_REFRESH_WINDOW="0.2")
        names = [f"m{i:02d}" for i in range(REFRESHES_PER_WINDOW + 5)]
        for i, name in enumerate(names):
            w.cluster.add("models", name, {}, created(i))
        operator = w.start()
        for name in names:
            operator.models.mark(w.cluster.namespace, name)
        operator.models.mark(w.cluster.namespace, names[0])  # marked again: still once, first
        await asyncio.sleep(0.3)  # one window
        first = [n for n in names if w.cluster.status("models", n).get("counts")]
        assert first == names[:REFRESHES_PER_WINDOW]
        await asyncio.sleep(0.2)  # the next window takes the rest
        assert all(w.cluster.status("models", n).get("counts") for n in names)
        assert w.cluster.calls["patch models/status"] == len(names)
        await w.close()

    run(scenario)


def test_a_validation_pod_the_api_server_refuses_stalls_the_version_without_retries() -> None:
    async def scenario() -> None:
        w = World()
        answer = 'Pod "fraud-a-validation-1-x1y2z" is invalid: spec.containers[1].resources: bad'
        w.cluster.refuse_pods = answer
        w.cluster.add("models", "fraud", {}, created(0))
        checks = {"checks": [{"name": "smoke", "image": "busybox"}]}
        w.cluster.add("modelversions", "fraud-a", spec(validation=checks), created(1))
        operator = w.start()
        await w.cluster.settle(operator)

        status = w.cluster.status("modelversions", "fraud-a")
        found = {c["type"]: c for c in status["conditions"]}
        assert (found["Validated"]["status"], found["Validated"]["reason"]) == (
            "False",
            "InvalidCheck",
        )
        assert found["Validated"]["message"] == (
            f"The API server refused the validation Pod: {answer}. Fix the checks' image, env or "
            "resources: in the Model's spec.defaultValidation or spec.policy.validation, or, "
            "since spec.validation cannot change, in a new ModelVersion."
        )
        assert conditions(status)["Stalled"] == ("True", "InvalidCheck")
        assert status["validation"]["finishedAt"] is not None
        assert w.cluster.calls["create pods"] == 1
        assert not operator.requeue.pending(
            w.cluster.objects[("modelversions", "fraud-a")]["metadata"]["uid"]
        )
        await w.close()

    run(scenario)


def test_numbers_handed_out_ahead_are_dropped_when_their_model_is_deleted() -> None:
    async def scenario() -> None:
        w = World()
        model = w.cluster.add("models", "fraud", {}, created(0))
        first = w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        w.cluster.add("modelversions", "fraud-b", spec(), created(2))
        operator = w.start()
        await operator.version_event("ADDED", copy.deepcopy(first))  # numbers a and b
        await operator.drain()
        assert w.cluster.status("models", "fraud")["versionSequence"] == 2

        # The Model is deleted and created again before b's pass: a new counter.
        w.cluster.delete("models", "fraud")
        w.cluster.reindex()
        await operator.model_event("DELETED", model)
        w.cluster.add("models", "fraud", {}, created(3))
        w.cluster.add("modelversions", "fraud-c", spec(), created(4))
        await operator.model_event("ADDED", w.cluster.objects[("models", "fraud")])
        await w.cluster.settle(operator)

        numbers = {
            n: w.cluster.status("modelversions", n).get("version") for n in ("fraud-b", "fraud-c")
        }
        assert numbers == {"fraud-b": 2, "fraud-c": 3}  # above every recorded number, no duplicate
        await w.close()

    run(scenario)


def test_a_model_that_accepts_store_checksums_is_ready_first_then_hashed_by_the_periodic_pass() -> (
    None
):
    async def scenario() -> None:
        w = World()
        w.verifier = FixedVerifier(store_checksum=True)
        policy = {"policy": {"verification": {"acceptStoreChecksum": True}}}
        w.cluster.add("models", "fraud", policy, created(0))
        w.cluster.add("models", "churn", {}, created(0))
        declared = {"uri": "s3://models/m.bin", "digest": DIGEST}
        w.cluster.add("modelversions", "fraud-a", spec(artifact=declared), created(1))
        w.cluster.add("modelversions", "churn-a", spec("churn", artifact=declared), created(2))
        operator = w.start()
        await w.cluster.settle(operator)

        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["ArtifactVerified"] == ("True", "ChecksumAccepted")
        assert conditions(status)["Ready"] == ("True", "Succeeded")
        assert status["artifact"]["verifiedBy"] == "StoreChecksum"
        # The Model that did not opt in hashed at once.
        churn = w.cluster.status("modelversions", "churn-a")
        assert conditions(churn)["ArtifactVerified"] == ("True", "Verified")
        assert "verifiedBy" not in churn["artifact"]
        assert sorted(w.verifier.checksum_asked, key=str) == [None, DIGEST]

        # The next periodic pass, long before the re-verification interval, hashes it.
        w.cluster.reindex()
        w.clock.now = NOW + timedelta(seconds=1)
        assert await operator.periodic_pass() == 1
        await w.cluster.settle(operator)
        assert w.verifier.checksum_asked[-1] is None
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["ArtifactVerified"] == ("True", "Verified")
        assert "verifiedBy" not in status["artifact"]
        # Both steps are in the object's Events, in order.
        assert [e.reason for name, e in w.cluster.events if name == "fraud-a"] == [
            "ChecksumAccepted",
            "Verified",
        ]
        w.cluster.reindex()
        assert await operator.periodic_pass() == 0  # nothing owed any more
        await w.close()

    run(scenario)


def test_the_echo_of_a_write_is_not_queued_but_a_change_is() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        operator = w.start()
        await w.cluster.settle(operator)
        echo = copy.deepcopy(w.cluster.objects[("modelversions", "fraud-a")])

        await operator.version_event("MODIFIED", copy.deepcopy(echo))
        assert len(operator.queue) == 0  # Ready for its generation: nothing to do

        changed = copy.deepcopy(echo)
        changed["metadata"]["generation"] = 2
        await operator.version_event("MODIFIED", changed)
        assert "uid-fraud-a" in operator.queue
        # A queued version takes the newest copy, even one that needs nothing.
        await operator.version_event("MODIFIED", copy.deepcopy(echo))
        assert len(operator.queue) == 1
        await w.close()

    run(scenario)
