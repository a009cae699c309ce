"""Retries with backoff, scheduled by the operator itself.

A pass that waits on something that may clear up (a Model not created yet,
an upload not finished, a store that does not answer) asks to be called
again; the delay doubles with each attempt up to a cap and resets once the
version is no longer waiting. A restart loses nothing: the initial listing
looks at every version that is not finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

Run = Callable[[str, str, str], Coroutine[Any, Any, None]]  # (namespace, name, uid)


class Requeue:
    def __init__(self, run: Run, delay: Callable[[int], float]) -> None:
        self._run = run
        self._delay = delay
        self._attempts: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def pending(self, uid: str) -> bool:
        return uid in self._timers

    def after_failure(self, namespace: str, name: str, uid: str) -> float:
        """Schedule the next attempt with backoff; returns the delay."""
        attempt = self._attempts.get(uid, 0)
        self._attempts[uid] = attempt + 1
        delay = self._delay(attempt)
        self._schedule(namespace, name, uid, delay)
        return delay

    def now(self, namespace: str, name: str, uid: str) -> None:
        """Look again at once (what it waited for may have appeared)."""
        self._schedule(namespace, name, uid, 0)

    def succeeded(self, uid: str) -> None:
        self._attempts.pop(uid, None)

    def cancel(self, uid: str) -> None:
        self._attempts.pop(uid, None)
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()

    def _schedule(self, namespace: str, name: str, uid: str, delay: float) -> None:
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[uid] = loop.call_later(delay, self._fire, namespace, name, uid)

    def _fire(self, namespace: str, name: str, uid: str) -> None:
        self._timers.pop(uid, None)
        task = asyncio.create_task(self._run(namespace, name, uid), name=f"retry {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
