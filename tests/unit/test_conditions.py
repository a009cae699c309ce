"""Conditions: lastTransitionTime semantics, observedGeneration, time format."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelregistry import conditions as cond
from modelregistry.api.meta import Condition, ConditionStatus
from modelregistry.conditions import DesiredCondition, merge_conditions
from modelregistry.reasons import ARTIFACT_VERIFIED, READY, RECONCILING, STALLED

EARLIER = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
NOW = datetime(2030, 1, 2, 4, 0, 0, tzinfo=UTC)
EARLIER_TEXT = "2030-01-02T03:04:05Z"
NOW_TEXT = "2030-01-02T04:00:00Z"


def existing(
    type_: str, status: ConditionStatus, reason: str = "Old", generation: int = 1
) -> Condition:
    return Condition.model_validate(
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": f"{type_} was {status}.",
            "lastTransitionTime": EARLIER_TEXT,
            "observedGeneration": generation,
        }
    )


def test_new_condition_gets_now_and_the_generation() -> None:
    merged = merge_conditions(
        [], [DesiredCondition(READY, "True", "Succeeded", "ok")], generation=3, now=NOW
    )

    assert merged == [
        Condition(
            type=READY,
            status="True",
            reason="Succeeded",
            message="ok",
            last_transition_time=NOW_TEXT,
            observed_generation=3,
        )
    ]


def test_unchanged_status_keeps_last_transition_time_but_takes_new_reason_and_message() -> None:
    current = [existing(READY, "False", reason="ArtifactNotFound", generation=1)]

    (merged,) = merge_conditions(
        current,
        [DesiredCondition(READY, "False", "AccessDenied", "denied")],
        generation=2,
        now=NOW,
    )

    assert merged.last_transition_time == EARLIER_TEXT
    assert merged.reason == "AccessDenied"
    assert merged.message == "denied"
    assert merged.observed_generation == 2


@pytest.mark.parametrize(("before", "after"), [("False", "True"), ("True", "Unknown")])
def test_changed_status_sets_last_transition_time_to_now(
    before: ConditionStatus, after: ConditionStatus
) -> None:
    current = [existing(READY, before)]

    (merged,) = merge_conditions(
        current, [DesiredCondition(READY, after, "R", "m")], generation=1, now=NOW
    )

    assert merged.status == after
    assert merged.last_transition_time == NOW_TEXT


def test_conditions_not_desired_are_dropped_and_order_follows_desired() -> None:
    current = [
        existing(RECONCILING, "True"),
        existing(READY, "Unknown"),
        existing(ARTIFACT_VERIFIED, "True"),
        existing(STALLED, "True"),
    ]

    merged = merge_conditions(
        current,
        [
            DesiredCondition(ARTIFACT_VERIFIED, "True", "Verified", "v"),
            DesiredCondition(READY, "True", "Succeeded", "r"),
        ],
        generation=5,
        now=NOW,
    )

    assert [(c.type, c.status, c.last_transition_time) for c in merged] == [
        (ARTIFACT_VERIFIED, "True", EARLIER_TEXT),
        (READY, "True", NOW_TEXT),
    ]
    assert {c.observed_generation for c in merged} == {5}


def test_merging_the_same_desired_twice_is_stable() -> None:
    desired = [
        DesiredCondition(READY, "False", "DigestMismatch", "m"),
        DesiredCondition(STALLED, "True", "DigestMismatch", "m"),
    ]
    first = merge_conditions([], desired, generation=1, now=EARLIER)

    second = merge_conditions(first, desired, generation=1, now=NOW)

    assert second == first


def test_find_and_is_true() -> None:
    conditions = [existing(READY, "True"), existing(STALLED, "False")]

    assert cond.find(conditions, STALLED) == conditions[1]
    assert cond.find(conditions, RECONCILING) is None
    assert cond.is_true(conditions, READY) is True
    assert cond.is_true(conditions, STALLED) is False
    assert cond.is_true(conditions, ARTIFACT_VERIFIED) is False


def test_format_time_is_rfc3339_utc_with_seconds() -> None:
    assert cond.format_time(EARLIER) == EARLIER_TEXT
    assert cond.format_time(EARLIER.replace(microsecond=999_999)) == EARLIER_TEXT


def test_format_time_converts_other_zones_to_utc() -> None:
    berlin_summer = timezone(timedelta(hours=2))
    moment = datetime(2030, 7, 1, 0, 30, 0, tzinfo=berlin_summer)

    assert cond.format_time(moment) == "2030-06-30T22:30:00Z"


@pytest.mark.parametrize(
    "moment",
    [
        EARLIER,
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2030, 7, 1, 0, 30, 0, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
def test_parse_time_round_trips_format_time(moment: datetime) -> None:
    text = cond.format_time(moment)

    parsed = cond.parse_time(text)

    assert parsed == moment
    assert parsed.tzinfo is UTC
    assert cond.format_time(parsed) == text


def test_naive_datetime_is_refused() -> None:
    naive = datetime(2030, 1, 2, 3, 4, 5)

    with pytest.raises(ValueError) as by_format:
        cond.format_time(naive)
    with pytest.raises(ValueError) as by_merge:
        merge_conditions([], [DesiredCondition(READY, "True", "R", "m")], generation=1, now=naive)

    assert str(by_format.value) == "a timezone-aware datetime is required"
    assert str(by_merge.value) == "a timezone-aware datetime is required"


def test_parse_time_reads_a_time_without_zone_as_utc() -> None:
    parsed = cond.parse_time("2030-01-02T03:04:05")

    assert parsed == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_parse_time_keeps_the_offset_another_writer_used() -> None:
    parsed = cond.parse_time("2030-01-02T08:34:05.250+05:30")

    assert parsed == datetime(2030, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(hours=5, minutes=30)
    assert cond.format_time(parsed) == EARLIER_TEXT


def test_parse_time_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError):
        cond.parse_time("yesterday")


def test_merge_writes_now_in_utc_whatever_the_zone_of_the_clock() -> None:
    east = datetime(2030, 1, 2, 9, 30, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))

    (merged,) = merge_conditions(
        [], [DesiredCondition(READY, "True", "R", "m")], generation=1, now=east
    )

    assert merged.last_transition_time == NOW_TEXT


def test_a_condition_of_another_type_does_not_lend_its_transition_time() -> None:
    current = [existing(STALLED, "True")]

    (merged,) = merge_conditions(
        current, [DesiredCondition(READY, "True", "R", "m")], generation=1, now=NOW
    )

    assert merged.last_transition_time == NOW_TEXT


@pytest.fixture
def machine_in_india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone is UTC+05:30 (a POSIX TZ string: no tzdata needed)."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_india")
def test_format_time_does_not_depend_on_the_machines_zone() -> None:
    west = datetime(2030, 1, 1, 23, 4, 5, tzinfo=timezone(timedelta(hours=-4)))

    assert datetime(2030, 1, 2, 3, 4, 5).astimezone().utcoffset() == timedelta(hours=5, minutes=30)
    assert cond.format_time(west) == EARLIER_TEXT
    assert cond.parse_time(EARLIER_TEXT).tzinfo is UTC
