"""The plain data of one pass over a ModelVersion, shared by every step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from modelregistry.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelregistry.conditions import DesiredCondition


@dataclass(frozen=True)
class Event:
    """An Event to post about the object (events.k8s.io/v1)."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    action: str = "Reconcile"  # what the operator was doing (events.k8s.io `action`)


@dataclass(frozen=True)
class VersionView:
    """What every step reads: the object as stored when the pass began."""

    spec: ModelVersionSpec
    status: ModelVersionStatus
    generation: int
    now: datetime
    namespace: str
    name: str = ""  # metadata.name of the ModelVersion
    uid: str = ""  # metadata.uid of the ModelVersion

    @property
    def model(self) -> str:
        return self.spec.model_ref.name


@dataclass(frozen=True)
class StepResult:
    """What one step decided: its own conditions, its status fields, its Events."""

    conditions: tuple[DesiredCondition, ...]
    # ModelVersionStatus fields (Python names) this step owns, with their new values.
    status: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    proceed: bool = True  # False: the steps after this one wait
    retry: bool = False  # look again after a backoff, whatever the summary says
    reverify: bool = False  # the bytes must be hashed again in this pass


@dataclass(frozen=True)
class Decision:
    """What to write, what to announce, and whether to try again after a backoff."""

    status: ModelVersionStatus
    events: tuple[Event, ...] = ()
    retry: bool = False
