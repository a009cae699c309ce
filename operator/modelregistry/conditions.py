"""The one helper that writes conditions, and the time format they use.

Condition types and reasons are declared in `reasons.py`. Whatever decides a
condition hands a `DesiredCondition` to `merge_conditions`, which stamps
observedGeneration and keeps lastTransitionTime stable while the status
stays the same (as Flux's condition setter does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelregistry.api.meta import Condition, ConditionStatus

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class DesiredCondition:
    """A condition as decided, before timestamps and generation are stamped."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def merge_conditions(
    current: Sequence[Condition],
    desired: Iterable[DesiredCondition],
    *,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Return the new condition list.

    `lastTransitionTime` is kept while a condition's status stays the same, so
    it answers "since when". Conditions not in `desired` are dropped, which is
    how Reconciling and Stalled disappear when they stop being true. The order
    is the order of `desired`, so the output is stable and writes happen only
    on real change.
    """
    by_type = {c.type: c for c in current}
    timestamp = format_time(now)
    merged: list[Condition] = []
    for want in desired:
        previous = by_type.get(want.type)
        transition = (
            previous.last_transition_time
            if previous is not None and previous.status == want.status
            else timestamp
        )
        merged.append(
            Condition(
                type=want.type,
                status=want.status,
                reason=want.reason,
                message=want.message,
                last_transition_time=transition,
                observed_generation=generation,
            )
        )
    return merged


def find(conditions: Sequence[Condition], condition_type: str) -> Condition | None:
    return next((c for c in conditions if c.type == condition_type), None)


def is_true(conditions: Sequence[Condition], condition_type: str) -> bool:
    found = find(conditions, condition_type)
    return found is not None and found.status == "True"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes times."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as written here, or with fractions or an offset (other writers)."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
