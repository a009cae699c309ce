"""The audit trail: append-only, bounded, the oldest entries counted in a summary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelregistry.api.lifecycle import HISTORY_LIMIT, HistoryEntry, HistorySummary, Stage
from modelregistry.decisions import history
from modelregistry.decisions.history import History

from .builders import NOW
from .lifecyclebuilders import at, entry

MINUTE = timedelta(minutes=1)


def entries(n: int, start: int = 0) -> list[HistoryEntry]:
    """`n` entries, one a minute apart, the i-th at minute start + i."""
    return [entry("None", "Staging", time=NOW + (start + i) * MINUTE) for i in range(n)]


def test_the_limit_is_32() -> None:
    assert HISTORY_LIMIT == 32


def test_entries_are_added_at_the_end() -> None:
    old, new = entries(2), entries(1, start=2)

    assert history.append(old, None, new) == History(tuple(old + new), None)


def test_a_summary_is_carried_while_nothing_overflows() -> None:
    summary = HistorySummary(count=4, first=at(NOW - MINUTE), last=at(NOW))

    assert history.append(entries(1), summary, entries(1, start=1)).summary == summary


def test_exactly_at_the_limit_nothing_is_summarised() -> None:
    combined = entries(HISTORY_LIMIT)

    assert history.append(combined[:-1], None, combined[-1:]) == History(tuple(combined), None)


def test_one_over_the_limit_the_oldest_is_counted() -> None:
    combined = entries(HISTORY_LIMIT + 1)

    kept = history.append(combined[:-1], None, combined[-1:])

    assert kept == History(
        tuple(combined[1:]),
        HistorySummary(count=1, first=combined[0].time, last=combined[0].time),
    )


def test_several_over_the_limit_are_counted_first_and_last() -> None:
    old, new = entries(3), entries(3, start=3)

    kept = history.append(old, None, new, limit=2)

    assert kept == History(
        tuple(new[1:]), HistorySummary(count=4, first=old[0].time, last=new[0].time)
    )


def test_an_existing_summary_keeps_its_first_time_and_grows_its_count() -> None:
    summary = HistorySummary(count=7, first=at(NOW - 60 * MINUTE), last=at(NOW - 30 * MINUTE))
    old, new = entries(2), entries(1, start=2)

    kept = history.append(old, summary, new, limit=2)

    assert kept == History(
        (old[1], new[0]),
        HistorySummary(count=8, first=at(NOW - 60 * MINUTE), last=old[0].time),
    )


def test_a_summary_without_a_first_time_takes_the_oldest_moved() -> None:
    summary = HistorySummary(count=2)
    old, new = entries(1), entries(1, start=1)

    kept = history.append(old, summary, new, limit=1)

    assert kept.summary == HistorySummary(count=3, first=old[0].time, last=old[0].time)


def test_nothing_added_to_an_empty_history_is_empty() -> None:
    assert history.append([], None, []) == History((), None)


@pytest.mark.parametrize(
    ("moves", "stage", "expected"),
    [
        ([], "Archived", None),
        ([("None", "Staging")], "Archived", None),
        ([("None", "Archived"), ("Archived", "Staging")], "Archived", 0),
        ([("None", "Archived"), ("Archived", "Staging"), ("Staging", "Archived")], "Archived", 2),
        ([("None", "Staging"), ("Staging", "Archived"), ("Archived", "None")], "Staging", 0),
        # Where it came from does not count: only where it went.
        ([("Archived", "Staging")], "Archived", None),
    ],
)
def test_last_move_to(moves: list[tuple[Stage, Stage]], stage: str, expected: int | None) -> None:
    trail = [entry(a, b, time=NOW + i * MINUTE) for i, (a, b) in enumerate(moves)]

    found = history.last_move_to(trail, stage)

    assert found == (trail[expected] if expected is not None else None)
