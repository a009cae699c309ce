"""Ready, Reconciling and Stalled, derived from the steps' own conditions.

Reads conditions and the reason registry only, and imports no step, so a new
step adds its conditions to the list it is given and nothing here changes
(Flux's summarize: owned conditions in order, the first that is not good
decides).
"""

from __future__ import annotations

from collections.abc import Sequence

from modelregistry import conditions as cond
from modelregistry.api.meta import Condition
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import Event
from modelregistry.reasons import READY, RECONCILING, STALLED, Reason, announced, is_transient


def summarize(
    owned: Sequence[DesiredCondition], ready_message: str
) -> tuple[list[DesiredCondition], bool]:
    """Ready plus Reconciling or Stalled, and whether to retry after a backoff.

    The first owned condition that is not True decides: Unknown is work
    under way (Reconciling); False with a transient reason is a wait that is
    retried (Reconciling); any other False needs a person (Stalled).
    """
    blocker = next((c for c in owned if c.status != "True"), None)
    if blocker is None and owned:
        return [DesiredCondition(READY, "True", Reason.SUCCEEDED, ready_message)], False
    if blocker is None:
        message = "Nothing has been checked yet."
        return [
            DesiredCondition(READY, "Unknown", Reason.PROGRESSING, message),
            DesiredCondition(RECONCILING, "True", Reason.PROGRESSING, message),
        ], False
    ready = DesiredCondition(READY, blocker.status, blocker.reason, blocker.message)
    if blocker.status == "Unknown":
        return [
            ready,
            DesiredCondition(RECONCILING, "True", blocker.reason, blocker.message),
        ], False
    if is_transient(blocker.reason):
        waiting = DesiredCondition(
            RECONCILING, "True", blocker.reason, blocker.message + " Retrying."
        )
        return [ready, waiting], True
    return [ready, DesiredCondition(STALLED, "True", blocker.reason, blocker.message)], False


def stalled(reason: str, message: str) -> list[DesiredCondition]:
    """The summary when no step could run at all (e.g. a spec the types refuse)."""
    return [
        DesiredCondition(READY, "False", reason, message),
        DesiredCondition(STALLED, "True", reason, message),
    ]


def transition_events(
    before: Sequence[Condition], after: Sequence[Condition], owned: Sequence[str]
) -> list[Event]:
    """Announce what a person may want to see in `kubectl describe`.

    A condition that turns False is a Warning; one that turns True is a
    Normal Event when its reason is announced; Unknown (work under way) is
    not announced. Stalled is announced when no owned condition already said
    the same.
    """
    events: list[Event] = []
    for condition_type in owned:
        new = cond.find(after, condition_type)
        if new is None or not _changed(cond.find(before, condition_type), new):
            continue
        if new.status == "False":
            events.append(Event("Warning", new.reason, new.message))
        elif new.status == "True" and announced(new.reason):
            events.append(Event("Normal", new.reason, new.message))
    stall = cond.find(after, STALLED)
    if (
        stall is not None
        and _changed(cond.find(before, STALLED), stall)
        and all(e.reason != stall.reason for e in events)
    ):
        events.append(Event("Warning", stall.reason, stall.message))
    return events


def _changed(old: Condition | None, new: Condition) -> bool:
    return old is None or (old.status, old.reason) != (new.status, new.reason)
