"""Leader election on the in-memory API server, with clocks the tests move."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from modelregistry.errors import ClusterError
from modelregistry.leadership import LEASE_DURATION, RENEW_DEADLINE, RETRY, LeaderElector
from modelregistry.reconciler import Operator
from tests.unit.memorycluster import MemoryCluster
from tests.unit.test_reconciler import World, created, run, spec

WALL = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(cluster: MemoryCluster, me: str, clock: Clock) -> LeaderElector:
    async def no_sleep(seconds: float) -> None:
        clock.now += seconds

    return LeaderElector(
        cluster, "ops", "registry", me, clock=clock, wall=lambda: WALL, sleep=no_sleep
    )


def lease(cluster: MemoryCluster) -> dict[str, Any]:
    return dict(cluster.objects[("leases", "registry")]["spec"])


def test_the_first_replica_creates_the_lease_and_leads() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        first = elector(cluster, "replica-a", clock)

        assert await first.try_acquire_or_renew() is True
        assert lease(cluster) == {
            "holderIdentity": "replica-a",
            "leaseDurationSeconds": int(LEASE_DURATION),
            "acquireTime": "2030-01-01T00:00:00.000000Z",
            "renewTime": "2030-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        }
        await first.acquire()
        assert first.leading.is_set()

    run(scenario)


def test_a_standby_waits_while_the_holder_renews_and_takes_over_once_it_stops() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        holder, standby = elector(cluster, "replica-a", clock), elector(cluster, "replica-b", clock)
        assert await holder.try_acquire_or_renew()
        # The holder renews every RETRY: however long, the standby never gets it.
        for _ in range(20):
            assert await standby.try_acquire_or_renew() is False
            clock.now += RETRY
            assert await holder.try_acquire_or_renew() is True
        # The holder dies: the standby takes over once the record stood still for a lease.
        assert await standby.try_acquire_or_renew() is False
        clock.now += LEASE_DURATION - 0.1
        assert await standby.try_acquire_or_renew() is False
        clock.now += 0.1
        assert await standby.try_acquire_or_renew() is True
        taken = lease(cluster)
        assert (taken["holderIdentity"], taken["leaseTransitions"]) == ("replica-b", 1)

    run(scenario)


def test_two_standbys_taking_over_at_once_cannot_both_win() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        dead = elector(cluster, "replica-a", clock)
        b, c = elector(cluster, "replica-b", clock), elector(cluster, "replica-c", clock)
        assert await dead.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
        assert not await c.try_acquire_or_renew()
        clock.now += LEASE_DURATION

        won = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())

        assert sorted(won) == [False, True]
        assert lease(cluster)["holderIdentity"] == ("replica-b" if won[0] else "replica-c")

    run(scenario)


def test_a_holder_that_cannot_renew_within_the_deadline_gives_up() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        holder = elector(cluster, "replica-a", clock)
        await holder.acquire()
        lost: list[float] = []

        async def refused(*args: Any) -> None:
            raise ClusterError("the API server did not answer")

        cluster.write_namespaced = refused  # type: ignore[method-assign, assignment]
        began = clock.now
        await holder.keep(lost=lambda: lost.append(clock.now))

        assert lost == [began + RENEW_DEADLINE]
        assert not holder.leading.is_set()
        # Given up before the lease ends: nobody else may have taken it yet.
        assert RENEW_DEADLINE < LEASE_DURATION

    run(scenario)


def test_a_holder_that_finds_another_holding_gives_up_at_once() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        holder = elector(cluster, "replica-a", clock)
        await holder.acquire()
        cluster.objects[("leases", "registry")]["spec"]["holderIdentity"] = "replica-b"
        cluster.objects[("leases", "registry")]["metadata"]["resourceVersion"] = "999"
        lost: list[float] = []

        await holder.keep(lost=lambda: lost.append(clock.now))

        assert len(lost) == 1

    run(scenario)


def test_a_standby_operator_writes_nothing_until_it_leads() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(), created(1))
        leading = asyncio.Event()
        w.operator = Operator(
            w.cluster,
            w.verifier,
            w.cluster.catalog(),
            w.settings,
            clock=w.clock,
            leading=leading,
        )
        delivery = asyncio.create_task(w.cluster.deliver(w.operator))
        await asyncio.sleep(0.05)
        assert w.cluster.calls["patch modelversions/status"] == 0
        assert w.verifier.calls == 0

        leading.set()
        await delivery
        await w.cluster.settle(w.operator)
        assert w.cluster.status("modelversions", "fraud-a")["version"] == 1
        await w.close()

    run(scenario)


def test_a_holder_that_stops_cleanly_frees_the_lease_for_a_standby_at_once() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        holder, standby = elector(cluster, "replica-a", clock), elector(cluster, "replica-b", clock)
        await holder.acquire()
        assert await standby.try_acquire_or_renew() is False

        await holder.release()

        assert not holder.leading.is_set()
        released = lease(cluster)
        assert (released["holderIdentity"], released["leaseDurationSeconds"]) == (None, 1)
        assert released["leaseTransitions"] == 0
        # No waiting out the lease: the standby's next look takes it.
        assert await standby.try_acquire_or_renew() is True
        assert (lease(cluster)["holderIdentity"], lease(cluster)["leaseTransitions"]) == (
            "replica-b",
            1,
        )

    run(scenario)


def test_release_never_touches_a_lease_someone_else_holds() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        stale, current = elector(cluster, "replica-a", clock), elector(cluster, "replica-b", clock)
        await stale.acquire()
        # replica-a stalled; replica-b took over once the lease ran out.
        clock.now += LEASE_DURATION
        assert await current.try_acquire_or_renew() is False
        clock.now += LEASE_DURATION
        assert await current.try_acquire_or_renew() is True
        taken = lease(cluster)

        await stale.release()

        assert lease(cluster) == taken
        assert not stale.leading.is_set()

    run(scenario)


def test_a_standby_that_never_led_releases_nothing() -> None:
    async def scenario() -> None:
        cluster, clock = MemoryCluster(), Clock()
        holder, standby = elector(cluster, "replica-a", clock), elector(cluster, "replica-b", clock)
        await holder.acquire()
        held = lease(cluster)

        await standby.release()

        assert lease(cluster) == held

    run(scenario)
