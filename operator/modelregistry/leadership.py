"""Leader election on a coordination.k8s.io Lease: one replica works, the others stand by.

As client-go's leader election does: the holder renews the Lease every
`RETRY` seconds; a standby takes it over once it has seen the same record
unchanged for `LEASE_DURATION` seconds by its own clock (so clocks that
disagree do not matter), with the Lease's resourceVersion as the write's
precondition, so two standbys never both win. A holder that cannot renew
within `RENEW_DEADLINE` (shorter than the lease) stops the process: it is
then certain to have stopped before anyone else may start, and no object is
worked on by two replicas. The orchestrator restarts it as a standby.
A holder that stops cleanly (a rolling upgrade, Ctrl-C) releases the Lease
after its last write, so a standby takes over at its next look instead of
waiting out the lease.

Standbys keep their informers running, so a takeover starts from a warm
index; what they must not do is write, and the operator holds every pass,
retry and periodic look until `leading` is set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from modelregistry.errors import ClusterError, ConflictError
from modelregistry.reconciler.ports import Body, ClusterPort
from modelregistry.reconciler.reading import mapping

logger = logging.getLogger(__name__)

LEASE_DURATION: Final = 15.0
RENEW_DEADLINE: Final = 10.0
RETRY: Final = 2.0
API: Final = "coordination.k8s.io/v1"


def identity() -> str:
    """This replica's name in the Lease: the Pod's name, else host and process."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def micro_time(moment: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Seen:
    """A Lease record as last read, and when (this process's monotonic clock) it last changed."""

    holder: str | None
    renewed: str | None
    transitions: int
    resource_version: str | None
    since: float


class LeaderElector:
    def __init__(
        self,
        cluster: ClusterPort,
        namespace: str,
        name: str,
        me: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._cluster = cluster
        self._namespace = namespace
        self._name = name
        self._me = me
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._seen: Seen | None = None
        self.leading = asyncio.Event()

    async def acquire(self) -> None:
        """Until this replica holds the Lease."""
        logger.info("standing by for Lease %s/%s as %s", self._namespace, self._name, self._me)
        while not await self.try_acquire_or_renew():
            await self._sleep(RETRY)
        logger.info("leading: holding Lease %s/%s as %s", self._namespace, self._name, self._me)
        self.leading.set()

    async def keep(self, lost: Callable[[], None]) -> None:
        """Renew for good; if a renewal has not succeeded for RENEW_DEADLINE, call `lost`."""
        last = self._clock()
        while True:
            await self._sleep(RETRY)
            try:
                renewed = await self.try_acquire_or_renew()
            except ClusterError as error:
                logger.warning("renewing Lease %s failed: %s", self._name, error)
                renewed = False
            if renewed:
                last = self._clock()
            elif self._clock() - last >= RENEW_DEADLINE or self._someone_else_holds():
                logger.error(
                    "lost Lease %s/%s (not renewed for %.0f s): stopping, so that nothing is "
                    "done twice",
                    self._namespace,
                    self._name,
                    self._clock() - last,
                )
                self.leading.clear()
                lost()
                return

    async def release(self) -> None:
        """After this replica's last write: leave the Lease free, so a standby need not wait.

        As client-go's ReleaseOnCancel: no holder and a one-second duration,
        written only over the record this replica holds (a precondition on its
        resourceVersion), so a Lease someone else has taken is never touched.
        """
        if not self.leading.is_set():
            return
        self.leading.clear()
        try:
            body = await self._cluster.get_namespaced(API, "leases", self._namespace, self._name)
            if body is None:
                return
            spec = mapping(body.get("spec"))
            if spec.get("holderIdentity") != self._me:
                return
            now_wall = micro_time(self._wall())
            record = self._record(str(spec.get("acquireTime") or now_wall), now_wall, 0)
            record["spec"] = {
                **record["spec"],
                "holderIdentity": None,
                "leaseDurationSeconds": 1,
                "leaseTransitions": self._observe(body, spec).transitions,
            }
            version = mapping(body.get("metadata")).get("resourceVersion")
            if version is None or not await self._write(record, str(version)):
                return  # changed meanwhile: whoever wrote it owns it now
        except ClusterError as error:
            # Nothing lost: a standby takes over once the lease runs out.
            logger.warning("releasing Lease %s failed: %s", self._name, error)
        else:
            logger.info("released Lease %s/%s", self._namespace, self._name)

    def _someone_else_holds(self) -> bool:
        return self._seen is not None and self._seen.holder not in (None, self._me)

    async def try_acquire_or_renew(self) -> bool:
        """One look at the Lease: True when this replica holds it (now renewed)."""
        body = await self._cluster.get_namespaced(API, "leases", self._namespace, self._name)
        now_wall = micro_time(self._wall())
        if body is None:
            return await self._write(self._record(now_wall, now_wall, 0), None)
        spec = mapping(body.get("spec"))
        observed = self._observe(body, spec)
        holder = observed.holder
        if holder == self._me:
            acquired = spec.get("acquireTime") or now_wall
            return await self._write(
                self._record(str(acquired), now_wall, observed.transitions),
                observed.resource_version,
            )
        duration = float(spec.get("leaseDurationSeconds") or LEASE_DURATION)
        if holder and self._clock() - observed.since < duration:
            return False  # held, and renewed lately as this process sees it
        return await self._write(
            self._record(now_wall, now_wall, observed.transitions + 1),
            observed.resource_version,
        )

    def _observe(self, body: Body, spec: dict[str, object]) -> Seen:
        holder = spec.get("holderIdentity")
        renewed = spec.get("renewTime")
        transitions = spec.get("leaseTransitions")
        version = mapping(body.get("metadata")).get("resourceVersion")
        previous = self._seen
        # Any write changes the resourceVersion: a renewal shows even with a coarse clock.
        unchanged = (
            previous is not None
            and previous.holder == holder
            and previous.renewed == renewed
            and previous.resource_version == (str(version) if version is not None else None)
        )
        self._seen = Seen(
            holder=holder if isinstance(holder, str) else None,
            renewed=renewed if isinstance(renewed, str) else None,
            transitions=transitions if isinstance(transitions, int) else 0,
            resource_version=str(version) if version is not None else None,
            since=previous.since if unchanged and previous is not None else self._clock(),
        )
        return self._seen

    def _record(self, acquired: str, renewed: str, transitions: int) -> Body:
        return {
            "apiVersion": API,
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self._me,
                "leaseDurationSeconds": int(LEASE_DURATION),
                "acquireTime": acquired,
                "renewTime": renewed,
                "leaseTransitions": transitions,
            },
        }

    async def _write(self, record: Body, resource_version: str | None) -> bool:
        try:
            await self._cluster.write_namespaced(
                API, "leases", self._namespace, record, resource_version
            )
        except ConflictError:
            return False  # someone else wrote it first: look again
        spec = record["spec"]
        self._seen = Seen(
            self._me, spec["renewTime"], spec["leaseTransitions"], None, self._clock()
        )
        return True
