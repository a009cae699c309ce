"""A Model's status: the summary of its versions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from modelregistry import conditions as cond
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.conditions import DesiredCondition
from modelregistry.reasons import READY, Reason


@dataclass(frozen=True)
class VersionSummary:
    """What a Model needs to know of one of its versions."""

    version: int | None
    ready: bool
    stalled: bool
    stage: str | None


def summarize_model(
    versions: Iterable[VersionSummary], status: ModelStatus, generation: int, now: datetime
) -> ModelStatus:
    """The Model's status from its versions; the version counter is carried as it is."""
    versions = sorted(versions, key=lambda v: v.version or 0)
    numbers = [v.version for v in versions if v.version is not None]
    ready_numbers = [v.version for v in versions if v.version is not None and v.ready]
    stages = {
        v.stage: v.version
        for v in versions
        if v.stage and v.stage != "None" and v.version is not None
    }
    counts = VersionCounts(
        total=len(versions),
        ready=sum(v.ready for v in versions),
        stalled=sum(v.stalled for v in versions),
    )
    noun = "version" if counts.total == 1 else "versions"
    message = f"{counts.total} {noun}, {counts.ready} ready."
    return ModelStatus(
        observed_generation=generation,
        latest_version=max(numbers, default=None),
        latest_ready_version=max(ready_numbers, default=None),
        counts=counts,
        stages=stages or None,
        version_sequence=status.version_sequence,
        conditions=cond.merge_conditions(
            status.conditions,
            [DesiredCondition(READY, "True", Reason.SUCCEEDED, message)],
            generation=generation,
            now=now,
        ),
        kopf=status.kopf,
    )
