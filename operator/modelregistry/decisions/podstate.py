"""A validation Pod as a pass reads it, and whether it is the one the operator made.

A Pod counts only when it is the operator's own for the run: its uid is the
one recorded when the operator created it, its controller owner is the
ModelVersion, and both its spec-digest annotation and its spec as it stands
have the fingerprint the operator recorded. Anybody who may create Pods in
the namespace can make one with the right labels and owner, and anybody who
may patch Pods can change a container's image: neither is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelregistry.api.modelversion import ValidationStatus
from modelregistry.decisions.podspec import fingerprint
from modelregistry.decisions.validationpod import SPEC_DIGEST_ANNOTATION


@dataclass(frozen=True)
class PodRef:
    """A Pod to delete: by name, and only while it is still the one with this uid."""

    name: str
    uid: str | None = None


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: Literal["waiting", "running", "terminated", "unknown"]
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "terminated" and self.exit_code == 0


@dataclass(frozen=True)
class PodState:
    """What a pass needs of a validation Pod, read from its metadata, spec and status."""

    name: str
    phase: str
    reason: str = ""
    message: str = ""
    unschedulable: str | None = None  # the scheduler's message
    init: tuple[ContainerState, ...] = ()
    containers: tuple[ContainerState, ...] = ()
    uid: str | None = None
    controller_uid: str | None = None  # the uid of its controller ownerReference
    spec_digest: str | None = None  # its modelregistry.io/pod-spec-digest annotation
    fingerprint: str | None = None  # of its spec as it stands

    @property
    def ref(self) -> PodRef:
        return PodRef(self.name, self.uid)

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in (*self.init, *self.containers) if c.name == name), None)


def read_pod(pod: Mapping[str, Any]) -> PodState:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    unschedulable = next(
        (
            str(c.get("message") or "the scheduler found no node for it")
            for c in status.get("conditions") or []
            if c.get("type") == "PodScheduled"
            and c.get("status") == "False"
            and c.get("reason") == "Unschedulable"
        ),
        None,
    )
    controller: Mapping[str, Any] = next(
        (o for o in meta.get("ownerReferences") or [] if o.get("controller") is True), {}
    )
    annotations = meta.get("annotations") or {}
    spec = pod.get("spec")
    return PodState(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase") or "Pending"),
        reason=str(status.get("reason") or ""),
        message=str(status.get("message") or ""),
        unschedulable=unschedulable,
        init=tuple(_container(c) for c in status.get("initContainerStatuses") or []),
        containers=tuple(_container(c) for c in status.get("containerStatuses") or []),
        uid=meta.get("uid"),
        controller_uid=controller.get("uid"),
        spec_digest=annotations.get(SPEC_DIGEST_ANNOTATION),
        fingerprint=fingerprint(spec) if isinstance(spec, Mapping) else None,
    )


def _container(raw: Mapping[str, Any]) -> ContainerState:
    state = raw.get("state") or {}
    for kind in ("terminated", "running", "waiting"):
        if kind in state and state[kind] is not None:
            detail = state[kind]
            exit_code = detail.get("exitCode")
            return ContainerState(
                name=raw["name"],
                state=kind,
                reason=str(detail.get("reason") or ""),
                message=str(detail.get("message") or ""),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                started_at=detail.get("startedAt"),
                finished_at=detail.get("finishedAt"),
            )
    return ContainerState(name=raw["name"], state="unknown")


def distrust(pod: PodState, run: ValidationStatus, version_uid: str) -> str | None:
    """Why `pod` is not the operator's own Pod of `run` (None when it is)."""
    if run.pod_uid is None or pod.uid != run.pod_uid:
        return (
            f"Pod {pod.name} is not the Pod the operator created for run {run.run} (its uid "
            f"{pod.uid} is not the recorded {run.pod_uid})"
        )
    if pod.controller_uid != version_uid:
        return f"Pod {pod.name} is no longer controlled by this ModelVersion (its ownerReferences)"
    if pod.spec_digest != run.pod_spec_digest or pod.fingerprint != run.pod_spec_digest:
        return (
            f"Pod {pod.name} was changed after the operator created it (its spec no longer has "
            f"the digest {run.pod_spec_digest})"
        )
    return None
