"""Shared builders for the lifecycle tests: versions asking for and holding stages,
history entries, approvals, and what the lifecycle step observes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from modelregistry import conditions as cond
from modelregistry.api.lifecycle import (
    Approval,
    DeletionProtection,
    HistoryEntry,
    HistorySummary,
    Stage,
)
from modelregistry.api.meta import Condition
from modelregistry.api.modelversion import ModelVersionStatus
from modelregistry.decisions.lifecycle import Holder, Observed, Policy
from modelregistry.decisions.passdata import VersionView

from .builders import HOUR, NOW, make_spec, make_view

NAME = "fraud-3"
UID = "uid-fraud-3"
NUMBER = 3
VALIDATED_AT = NOW - HOUR  # when Validated turned True
OTHER = Holder("fraud-1", "uid-fraud-1")
NEWCOMER = Holder("fraud-9", "uid-fraud-9")


def at(moment: datetime) -> str:
    return cond.format_time(moment)


def version_view(
    asked: Stage = "None",
    *,
    stage: Stage | None = None,
    history: Sequence[HistoryEntry] = (),
    summary: HistorySummary | None = None,
    approvals: Sequence[Approval] = (),
    conditions: Sequence[Condition] = (),
    protection: DeletionProtection | None = None,
    generation: int = 1,
    now: datetime = NOW,
) -> VersionView:
    """Version 3 of Model 'fraud' asking for `asked`, holding `stage`."""
    spec = make_spec().model_copy(update={"stage": asked})
    status = ModelVersionStatus(
        version=NUMBER,
        stage=stage,
        history=list(history),
        history_summary=summary,
        approvals=list(approvals),
        conditions=list(conditions),
        deletion_protection=protection,
    )
    view = make_view(spec, status, generation=generation, now=now)
    return dataclasses.replace(view, name=NAME, uid=UID)


def passing(
    policy: Policy | None = None,
    *,
    verified: bool = True,
    validated: str = "True",
    validated_since: datetime | None = VALIDATED_AT,
    admission_problem: str | None = None,
    holder: Holder | None = None,
    incoming: Holder | None = None,
    over_limit: bool = False,
) -> Observed:
    """Verified and validated (since VALIDATED_AT) unless told otherwise, under `policy`."""
    return Observed(
        policy=policy or Policy(),
        verified=verified,
        validated=validated,
        validated_since=validated_since,
        admission_problem=admission_problem,
        holder=holder,
        incoming=incoming,
        over_limit=over_limit,
    )


def approval(
    user: str,
    stage: str = "Production",
    *,
    time: datetime = NOW,
    groups: Sequence[str] = (),
) -> Approval:
    return Approval.model_validate(
        {"stage": stage, "user": user, "groups": list(groups), "time": at(time)}
    )


def entry(
    from_stage: Stage,
    to: Stage,
    reason: str = "Granted",
    *,
    time: datetime = NOW,
    actor: str | None = None,
    message: str = "",
    generation: int | None = 1,
) -> HistoryEntry:
    return HistoryEntry(
        time=at(time),
        from_stage=from_stage,
        to=to,
        actor=actor,
        reason=reason,
        message=message,
        generation=generation,
    )
