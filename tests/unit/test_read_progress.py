"""ReadProgress: what a running hash tells the pass about how far it has got."""

from __future__ import annotations

from modelregistry.storage import ReadProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_expected_nothing_read_no_time_before_the_first_object() -> None:
    clock = Clock()
    progress = ReadProgress(clock)
    clock.now += 5
    assert progress.seen() == (0, 0, 0.0)


def test_sizes_add_up_and_time_runs_from_the_first_object() -> None:
    clock = Clock()
    progress = ReadProgress(clock)
    progress.expect(300)
    clock.now += 2
    progress.expect(700)  # a second file of a prefix: time still runs from the first
    progress.advance(100)
    progress.advance(50)
    clock.now += 0.5
    assert progress.seen() == (1000, 150, 2.5)
