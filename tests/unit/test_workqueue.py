"""The queue between watch events and passes: once per object, newest item, bounded."""

from __future__ import annotations

import asyncio
import logging

import pytest

from modelregistry.reconciler.workqueue import WorkQueue


class Recorder:
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.handled: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.gate = gate

    async def handle(self, item: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if item == "boom":
                raise RuntimeError("boom")
            self.handled.append(item)
        finally:
            self.running -= 1


def test_an_object_changed_while_it_waits_is_passed_once_with_its_newest_item() -> None:
    async def scenario() -> list[str]:
        recorder = Recorder()
        queue: WorkQueue[str] = WorkQueue(recorder.handle, workers=1)
        queue.add("a", "a@1")
        queue.add("b", "b@1")
        queue.add("a", "a@2")  # keeps a's place ahead of b
        assert len(queue) == 2
        assert "a" in queue and "c" not in queue
        await queue.join()
        assert len(queue) == 0
        assert "a" not in queue
        await queue.close()
        return recorder.handled

    assert asyncio.run(scenario()) == ["a@2", "b@1"]


def test_an_object_changed_during_its_pass_is_passed_again() -> None:
    async def scenario() -> list[str]:
        gate = asyncio.Event()
        recorder = Recorder(gate)
        queue: WorkQueue[str] = WorkQueue(recorder.handle, workers=1)
        queue.add("a", "a@1")
        await asyncio.sleep(0.01)  # a@1 is being handled
        assert len(queue) == 0
        queue.add("a", "a@2")
        gate.set()
        await queue.join()
        await queue.close()
        return recorder.handled

    assert asyncio.run(scenario()) == ["a@1", "a@2"]


def test_a_discarded_object_is_not_passed() -> None:
    async def scenario() -> list[str]:
        recorder = Recorder()
        queue: WorkQueue[str] = WorkQueue(recorder.handle, workers=1)
        queue.add("a", "a@1")
        queue.add("b", "b@1")
        queue.discard("a")
        await queue.join()
        queue.add("a", "a@3")  # created again under the same key
        await queue.join()
        await queue.close()
        return recorder.handled

    assert asyncio.run(scenario()) == ["b@1", "a@3"]


def test_no_more_passes_run_at_once_than_there_are_workers() -> None:
    async def scenario() -> tuple[int, int]:
        gate = asyncio.Event()
        recorder = Recorder(gate)
        queue: WorkQueue[str] = WorkQueue(recorder.handle, workers=3)
        for i in range(10):
            queue.add(str(i), f"{i}")
        await asyncio.sleep(0.01)
        running = recorder.running
        gate.set()
        await queue.join()
        await queue.close()
        return running, len(recorder.handled)

    assert asyncio.run(scenario()) == (3, 10)


def test_a_failing_pass_is_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> list[str]:
        recorder = Recorder()
        queue: WorkQueue[str] = WorkQueue(recorder.handle, workers=1)
        queue.add("x", "boom")
        queue.add("y", "y@1")
        await queue.join()
        await queue.close()
        return recorder.handled

    with caplog.at_level(logging.ERROR, logger="modelregistry.reconciler.workqueue"):
        assert asyncio.run(scenario()) == ["y@1"]
    assert [r.getMessage() for r in caplog.records] == ["a pass failed unexpectedly"]
