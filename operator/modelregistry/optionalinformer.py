"""An informer of a resource the cluster may not have: watched while it can be.

KServe's InferenceServices name the versions they serve, but a cluster without
KServe has no such resource, and an operator whose Role lacks the rule may
not list it. Neither stops the operator: `OptionalInformer` wraps the
resource's `Informer` in a namespace (or all) and

- at start-up asks discovery whether the API server serves the resource;
  served, it is listed with the Pods, before anything is written, so a
  restart drops none of its users;
- not served, says so once (`Discovery`) and asks again every `interval`
  seconds (the operator's periodic interval), so a CRD installed later is
  watched without a restart;
- refused (403), says once which rule is missing, keeps what it knew and
  tries the LIST again every `interval`;
- gone while watched (404: the CRD was deleted, and its objects with it),
  hands every object it knew on as deleted, and waits for the CRD again.

The discovery GET of `/apis/GROUP/VERSION` is allowed to any authenticated
user and costs one small request per interval, shared by every namespace's
informer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from modelregistry.decisions.optionalapi import Resource, State, explain, served, state_of_refusal
from modelregistry.errors import ClusterError
from modelregistry.informer import Body, Informer

logger = logging.getLogger(__name__)


class DiscoveryPort(Protocol):
    async def api_resources(self, group_version: str) -> Body | None: ...


class Discovery:
    """Whether the API server serves `resource`: asked at most once per half `interval`,
    and said in the log only when the answer becomes no."""

    def __init__(
        self,
        cluster: DiscoveryPort,
        resource: Resource,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cluster = cluster
        self._resource = resource
        self._interval = interval
        self._clock = clock
        self._answer: bool | None = None
        self._asked_at = -math.inf

    async def served(self) -> bool:
        now = self._clock()
        if self._answer is not None and now < self._asked_at + self._interval / 2:
            return self._answer
        try:
            body = await self._cluster.api_resources(self._resource.group_version)
        except ClusterError as error:
            # The API server is not answering: everything else says so too.
            logger.debug("asking whether %s is served: %s", self._resource.group_version, error)
            return bool(self._answer)
        answer = served(body, self._resource)
        if not answer and self._answer is not False:
            logger.info(explain(self._resource, State.NOT_SERVED, None, self._interval))
        self._answer, self._asked_at = answer, now
        return answer

    def ask_again(self) -> None:
        """A LIST or WATCH found the resource gone: the next question goes to the server."""
        self._asked_at = -math.inf


class OptionalInformer:
    """`informer`, run while the API server serves its resource and lets it be listed."""

    def __init__(
        self,
        informer: Informer[Any, Any],
        resource: Resource,
        namespace: str | None,
        discovery: Discovery,
        interval: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._informer = informer
        self._resource = resource
        self._namespace = namespace
        self._discovery = discovery
        self._interval = interval
        self._sleep = sleep
        self.state: State | None = None  # None: not looked yet

    @property
    def path(self) -> str:
        return self._informer.path

    async def load(self) -> list[Body]:
        """At start-up: the resource's objects when it can be listed; none otherwise."""
        if not await self._discovery.served():
            self.state = State.NOT_SERVED
            return []
        try:
            items = await self._informer.load()
        except ClusterError as error:
            await self._refused(error)
            return []
        self._note(State.WATCHED)
        return items

    async def hand_on(self, items: list[Body]) -> None:
        await self._informer.hand_on(items)

    async def run(self) -> None:
        """Watch while it can; otherwise look again every interval. Until cancelled."""
        while True:
            if self.state is State.WATCHED:
                try:
                    await self._informer.run()  # ends only by giving up
                except ClusterError as error:
                    await self._refused(error)
                continue
            await self._sleep(self._interval)
            if await self._discovery.served():
                await self.hand_on(await self.load())

    async def _refused(self, error: ClusterError) -> None:
        state = state_of_refusal(error.status)
        if state is None:
            raise error  # the informer gives up on nothing else
        if state is State.NOT_SERVED:
            # The CRD went, and every object of it: none of them uses anything now.
            self._discovery.ask_again()
            await self._informer.forget_all()
        # Forbidden: what was known stays until a LIST can say otherwise.
        self._note(state)

    def _note(self, state: State) -> None:
        if state is self.state:
            return
        self.state = state
        if state is State.FORBIDDEN:
            logger.warning(explain(self._resource, state, self._namespace, self._interval))
        elif state is State.WATCHED:
            logger.info(explain(self._resource, state, self._namespace, self._interval))
        # Not served: `Discovery` says so, once for every namespace.
