"""Step 2: the version number, held for good once recorded.

Numbers left out by the user are handed out from a counter kept in the
Model's status (`status.versionSequence`), advanced with optimistic
concurrency by the reconciler; `reserve` says how far. A number claimed in
`spec.version` is checked against the claims the operator knows of.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.reasons import VERSION_ASSIGNED, Reason

CONDITIONS = (VERSION_ASSIGNED,)


@dataclass(frozen=True)
class Claim:
    """A ModelVersion's claim on a version number of its Model."""

    name: str
    uid: str
    created: str  # creationTimestamp, RFC 3339: sorts in time order
    version: int | None  # spec.version, else status.version
    settled: bool = False  # status.version records `version`: the number is held

    @property
    def seniority(self) -> tuple[str, str]:
        return (self.created, self.name)


@dataclass(frozen=True)
class VersionDecision:
    version: int
    holder: str | None = None  # name of the ModelVersion that holds `version`, if not us
    assigned: bool = False  # True when the number was handed out by the operator


def decide_claim(own: Claim, siblings: Iterable[Claim]) -> VersionDecision:
    """Keep a number claimed in spec.version, unless another version holds it.

    A number recorded in status is held for good: a later claim on it is
    refused, whatever the objects' ages. Among unsettled claims on one number
    the oldest object holds it (ties by name), so the decision is the same
    whichever object is reconciled first.
    """
    if own.version is None:
        raise ValueError("decide_claim needs a claimed number; use reserve() for new numbers")
    if own.settled:
        return VersionDecision(version=own.version)
    rivals = [s for s in siblings if s.uid != own.uid and s.version == own.version]
    holders = [s for s in rivals if s.settled] or [s for s in rivals if s.seniority < own.seniority]
    holder = min(holders, key=lambda s: s.seniority) if holders else None
    return VersionDecision(version=own.version, holder=holder.name if holder else None)


def in_turn(asking: Iterable[Claim], waiting: Iterable[Claim]) -> list[Claim]:
    """Who gets the next numbers, in order: the versions asking now and those still waiting.

    `waiting` are the Model's other versions the index shows with no number
    yet (their passes have not asked): numbering them in the same counter
    write saves one write each, and gives every version its number by age
    whichever pass runs first. Oldest first; each uid once.
    """
    chosen: dict[str, Claim] = {}
    for claim in (*asking, *waiting):
        if claim.version is None and not claim.settled:
            chosen.setdefault(claim.uid, claim)
    return sorted(chosen.values(), key=lambda c: (c.seniority, c.uid))


def reserve(sequence: int, known: Iterable[int | None], count: int) -> list[int]:
    """The next `count` numbers after the counter and after every number known to be taken.

    The counter alone would do, but numbers claimed in spec.version do not
    advance it; taking the highest known number too keeps new numbers above them.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    start = max([sequence, *(n for n in known if n is not None)]) + 1
    return list(range(start, start + count))


def decide(view: VersionView, decision: VersionDecision) -> StepResult:
    number = decision.version
    if decision.holder is not None:
        message = (
            f"Version {number} of Model {view.model!r} is already held by ModelVersion "
            f"{decision.holder!r}. Versions are immutable: delete this ModelVersion and create "
            "one with another spec.version, or omit spec.version to get the next free number."
        )
        return StepResult(
            (DesiredCondition(VERSION_ASSIGNED, "False", Reason.DUPLICATE_VERSION, message),),
            proceed=False,
        )
    origin = "assigned by the operator" if view.spec.version is None else "from spec.version"
    message = f"Version {number} of Model {view.model!r} ({origin})."
    return StepResult(
        (DesiredCondition(VERSION_ASSIGNED, "True", Reason.VERSION_HELD, message),),
        status={"version": number},
    )
