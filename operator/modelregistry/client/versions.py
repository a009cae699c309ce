"""Read and steer versions: promote, status, list, and wait for Ready."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from kubernetes.client.exceptions import ApiException

from modelregistry.api.meta import GROUP, MODELVERSIONS, VERSION
from modelregistry.client.errors import Refused, RegistryError, VersionStalled, WaitTimedOut
from modelregistry.client.session import Body, Session, said
from modelregistry.client.spec import STAGES

POLL_INTERVAL = 0.5
# Conditions as a version shows them: a list of {type, status, reason, message, ...}.
Conditions = list[Body]
OnChange = Callable[[Body], None]


@dataclass(frozen=True)
class VersionSummary:
    """One line of `list`: what a person asks of a version at a glance."""

    name: str
    model: str
    version: int | None
    stage_asked: str
    stage: str | None  # granted
    ready: str  # the Ready condition's status, or "Unknown"
    reason: str
    digest: str | None
    created: str

    @classmethod
    def of(cls, body: Body) -> VersionSummary:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        ready = condition(body, "Ready") or {}
        return cls(
            name=body["metadata"]["name"],
            model=(spec.get("modelRef") or {}).get("name", ""),
            version=status.get("version") or spec.get("version"),
            stage_asked=spec.get("stage") or "None",
            stage=status.get("stage"),
            ready=ready.get("status", "Unknown"),
            reason=ready.get("reason", ""),
            digest=(status.get("artifact") or {}).get("digest")
            or (spec.get("artifact") or {}).get("digest"),
            created=body["metadata"].get("creationTimestamp", ""),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "stageAsked": self.stage_asked,
            "ready": self.ready,
            "reason": self.reason,
            "digest": self.digest,
            "created": self.created,
        }


def condition(body: Body, condition_type: str) -> Body | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == condition_type), None)


def promote(session: Session, version: str, stage: str) -> Body:
    """Ask for `stage` (spec.stage); the operator grants it in status.stage once the gates pass.

    Returns the version as the API server stored it.
    """
    if stage not in STAGES:
        raise RegistryError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    session.get(MODELVERSIONS, version)  # a missing version is named as such
    try:
        patched = session.custom.patch_namespaced_custom_object(
            GROUP, VERSION, session.namespace, MODELVERSIONS, version, {"spec": {"stage": stage}}
        )
    except ApiException as error:
        raise Refused(said(error)) from None
    return cast(Body, patched)


def status(session: Session, version: str) -> Body:
    """The version as it is now (spec, status and its conditions)."""
    return session.get(MODELVERSIONS, version)


def list_versions(session: Session, model: str | None = None) -> list[VersionSummary]:
    """Every version in the namespace, or of one Model; by Model, then number."""
    selector = f"spec.modelRef.name={model}" if model else None
    items = [VersionSummary.of(b) for b in session.list_objects(MODELVERSIONS, selector)]
    return sorted(items, key=lambda v: (v.model, v.version or 0, v.name))


def is_current(body: Body) -> bool:
    """Whether the status speaks of the spec as it is (not of an older generation)."""
    observed = (body.get("status") or {}).get("observedGeneration")
    return observed is not None and observed >= body["metadata"].get("generation", 1)


def wait_ready(
    session: Session,
    version: str,
    *,
    timeout: float = 600,
    on_change: OnChange | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Body:
    """Wait until the version is Ready; returns it then.

    Raises VersionStalled (with the Stalled condition's reason and message)
    when only a person can unblock it, and WaitTimedOut after `timeout`
    seconds. `on_change` sees the version each time its conditions change.
    """
    deadline = clock() + timeout
    seen: object = None
    while True:
        body = session.get(MODELVERSIONS, version)
        conditions = (body.get("status") or {}).get("conditions") or []
        shown = [
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message")) for c in conditions
        ]
        if shown != seen and on_change is not None:
            on_change(body)
        seen = shown
        if is_current(body):
            ready, stalled = condition(body, "Ready"), condition(body, "Stalled")
            if ready is not None and ready.get("status") == "True":
                return body
            if stalled is not None and stalled.get("status") == "True":
                raise VersionStalled(version, stalled.get("reason", ""), stalled.get("message", ""))
        if clock() >= deadline:
            ready = condition(body, "Ready") or {}
            where = (
                f" (Ready is {ready.get('status')}: {ready.get('reason')}: {ready.get('message')})"
                if ready
                else ""
            )
            raise WaitTimedOut(
                f"{version} was not Ready within {timeout:.0f}s{where}: it may still become "
                f"Ready; look with `modelregistry status {version}`"
            )
        sleep(POLL_INTERVAL)
