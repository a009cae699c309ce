"""Watch events wait here for their pass: each object at most once, newest first kept.

Kopf hands each watch event to a handler in a task of its own. Were the
pass run inside that handler, every object with an event in flight would
hold a chain of coroutines (Kopf's and the pass's) until its pass ended:
with thousands of versions applied at once, that chain, not the index, was
most of the operator's memory and of its garbage collector's work. So the
handler only records the object here and returns; a fixed number of
workers run the passes, oldest event first. An object that changes again
while it waits is passed once, with what the newest event said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from modelregistry import metrics

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


class WorkQueue(Generic[Item]):
    def __init__(self, handle: Callable[[Item], Awaitable[None]], workers: int) -> None:
        self._handle = handle
        self._workers = workers
        self._waiting: dict[str, Item] = {}  # key -> the newest item
        self._order: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        metrics.track_depth(self)

    def __len__(self) -> int:
        """How many objects wait for a pass."""
        return len(self._waiting)

    def __contains__(self, key: object) -> bool:
        """Whether the object waits for a pass."""
        return key in self._waiting

    def add(self, key: str, item: Item) -> None:
        """Queue `item` for a pass; replaces what waits for the same key, keeping its place."""
        if key not in self._waiting:
            self._order.put_nowait(key)
        self._waiting[key] = item
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"pass worker {i}")
                for i in range(self._workers)
            ]

    def discard(self, key: str) -> None:
        """The object is gone: drop its waiting item, if any."""
        self._waiting.pop(key, None)

    async def join(self) -> None:
        """Until every queued item has been handled (also those queued meanwhile)."""
        await self._order.join()

    async def _work(self) -> None:
        while True:
            key = await self._order.get()
            try:
                item = self._waiting.pop(key, None)  # None: discarded meanwhile
                if item is not None:
                    await self._handle(item)
            except Exception:
                logger.exception("a pass failed unexpectedly")
            finally:
                self._order.task_done()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
