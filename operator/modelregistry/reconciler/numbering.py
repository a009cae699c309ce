"""Version numbers: a durable counter in the Model's status, and claims from spec.version.

New numbers come from `status.versionSequence` of the Model, advanced by a
status patch with a resourceVersion precondition: two writers (a second
replica, an operator restarted mid-way) can never hand out one number twice;
the loser reads again and retries. One write numbers every version the index
shows waiting for a number, not only the passes asking now (oldest object
first): a thousand versions applied at once cost one counter write, not a
thousand. A number handed out but never recorded (the operator stopped in
between) is skipped, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable

from modelregistry import metrics
from modelregistry.api.meta import MODELS, MODELVERSIONS
from modelregistry.decisions import numbering
from modelregistry.decisions.numbering import Claim, VersionDecision
from modelregistry.errors import ConflictError
from modelregistry.reconciler.index import Catalog, ModelKey
from modelregistry.reconciler.locks import Locks
from modelregistry.reconciler.ports import Body, ClusterPort
from modelregistry.reconciler.reading import mapping, whole_number

logger = logging.getLogger(__name__)

_MAX_CONFLICTS = 20


class ModelGone(Exception):
    """The Model was deleted while a number was being handed out."""


class Numbering:
    """Settles each version's number: held, claimed, or newly handed out."""

    def __init__(self, cluster: ClusterPort, catalog: Catalog) -> None:
        self._cluster = cluster
        self._catalog = catalog
        self._locks = Locks()
        self._asking: dict[ModelKey, list[Claim]] = defaultdict(list)
        self._draining: dict[ModelKey, asyncio.Task[None]] = {}
        # uid -> its number while the counter write that reserves it is under way.
        self._reserving: dict[str, asyncio.Future[int]] = {}
        # uid -> number handed out but not yet recorded in the version's status.
        self._handed_out: dict[str, int] = {}
        # The Model's resourceVersion and counter as this operator last wrote them.
        self._counters: dict[ModelKey, tuple[str, int]] = {}
        self.writes = 0  # counter writes, for the benchmark and the scaling test
        self.conflicts = 0  # counter writes that lost a race (409) and were made again

    def forget(self, uid: str) -> None:
        self._handed_out.pop(uid, None)

    def recorded(self, uid: str) -> None:
        """The version's status now holds its number."""
        self._handed_out.pop(uid, None)

    async def settle(self, body: Body, own: Claim, model: str) -> VersionDecision | None:
        """The version's number; None when the Model is gone."""
        namespace = body["metadata"]["namespace"]
        if own.settled and own.version is not None:
            return VersionDecision(version=own.version)  # held for good: no need to look
        if own.version is None:
            if (number := self._handed_out.get(own.uid)) is not None:
                return VersionDecision(version=number, assigned=True)
            try:
                number = await self._allocate((namespace, model), own)
            except ModelGone:
                return None
            self._handed_out[own.uid] = number
            return VersionDecision(version=number, assigned=True)
        # A claimed number: serialized per Model, and recorded before the lock is
        # released, so the next claim sees it settled whichever object is older.
        async with self._locks.hold(namespace, model):
            decision = numbering.decide_claim(own, self._catalog.claims(namespace, model))
            if decision.holder is None:
                written = await self._cluster.patch_status(
                    MODELVERSIONS, namespace, body["metadata"]["name"], {"version": own.version}
                )
                if written is not None:
                    metrics.STATUS_WRITES.labels("ModelVersion").inc()
                    self._catalog.wrote(written)
        return decision

    async def _allocate(self, key: ModelKey, own: Claim) -> int:
        future = self._reserving.get(own.uid)  # numbered ahead by a sibling's write
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._reserving[own.uid] = future
            self._asking[key].append(own)
            if key not in self._draining:
                self._draining[key] = asyncio.create_task(self._drain(key))
        return await future

    async def _drain(self, key: ModelKey) -> None:
        """Number every version of one Model that waits, one counter write per batch."""
        loop = asyncio.get_running_loop()
        try:
            while self._asking.get(key):
                asking = self._asking.pop(key)
                waiting = [
                    e.claim
                    for e in self._catalog.versions(*key)
                    if not e.stalled
                    and e.uid not in self._handed_out
                    and e.uid not in self._reserving
                ]
                batch = numbering.in_turn(asking, waiting)
                for claim in batch:
                    self._reserving.setdefault(claim.uid, loop.create_future())
                try:
                    numbers = await self._reserve(key, len(batch))
                except Exception as error:
                    for claim in batch:
                        future = self._reserving.pop(claim.uid)
                        if not future.done():  # done: its pass was cancelled
                            future.set_exception(error)
                            future.exception()  # those numbered ahead may have no one waiting
                    continue
                # Not for versions deleted while the counter was written: their
                # numbers are skipped, and nothing is kept for them.
                present = {e.uid for e in self._catalog.versions(*key)}
                for claim, number in zip(batch, numbers, strict=True):
                    if claim.uid in present:
                        self._handed_out[claim.uid] = number
                    future = self._reserving.pop(claim.uid)
                    if not future.done():
                        future.set_result(number)
        finally:
            del self._draining[key]
            if key in self._asking and not self._asking[key]:
                del self._asking[key]

    async def _reserve(self, key: ModelKey, count: int) -> list[int]:
        namespace, name = key
        known = [c.version for c in self._catalog.claims(namespace, name)]
        for _ in range(_MAX_CONFLICTS):
            current = self._counters.get(key)
            if current is None:
                body = await self._cluster.get_model(namespace, name)
                if body is None:
                    raise ModelGone(f"Model {name!r} is gone")
                current = (
                    str(body["metadata"].get("resourceVersion", "")),
                    whole_number(mapping(body.get("status")).get("versionSequence")) or 0,
                )
            resource_version, sequence = current
            numbers = numbering.reserve(sequence, known, count)
            try:
                written = await self._cluster.patch_status(
                    MODELS,
                    namespace,
                    name,
                    {"versionSequence": numbers[-1]},
                    resource_version=resource_version,
                )
            except ConflictError:
                self.conflicts += 1
                self._counters.pop(key, None)  # someone else wrote: read again
                continue
            self.writes += 1
            if written is None:
                raise ModelGone(f"Model {name!r} is gone")
            metrics.STATUS_WRITES.labels("Model").inc()
            self._counters[key] = (str(written["metadata"]["resourceVersion"]), numbers[-1])
            return numbers
        raise ConflictError(f"Model {name!r}: the version counter kept changing; retrying later")

    async def close(self) -> None:
        """Stop counter writes under way; their passes are stopped too."""
        for task in list(self._draining.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def model_deleted(self, key: ModelKey, uids: Iterable[str]) -> None:
        """The Model is gone: numbers handed out from its counter mean nothing now.

        A Model created again under the same name starts a new counter, so a
        number handed out but not recorded must not be recorded against it.
        """
        self._counters.pop(key, None)
        for uid in uids:
            self._handed_out.pop(uid, None)

    def model_written(self, key: ModelKey, body: Body) -> None:
        """The Model's status was written elsewhere: keep the counter's precondition current."""
        sequence = whole_number(mapping(body.get("status")).get("versionSequence"))
        if sequence is not None:
            self._counters[key] = (str(body["metadata"]["resourceVersion"]), sequence)
        else:
            self._counters.pop(key, None)
