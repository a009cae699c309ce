"""Shared builders for the validation tests: checks, plans, views, runs, and validation Pods
as the API server returns them (metadata, spec, status), the operator's own by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from modelregistry.api.meta import ConditionStatus
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    CheckResult,
    ModelVersionStatus,
    ValidationCheck,
    ValidationStatus,
)
from modelregistry.checks.report import Report
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import validation
from modelregistry.decisions.passdata import Event, StepResult, VersionView
from modelregistry.decisions.podspec import fingerprint
from modelregistry.decisions.podstate import PodRef, read_pod
from modelregistry.decisions.validation import Observed, ValidationDecision
from modelregistry.decisions.validationplan import Plan
from modelregistry.decisions.validationpod import generate_name
from modelregistry.reasons import VALIDATED, Reason

from .builders import DIGEST_A, LATER, NAMESPACE, NOW, NOW_TEXT, URI, condition, make_view

NAME = "fraud-v3"
VERSION_UID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
POD_UID = "0b7d7d7e-5c1a-4f7e-9a0b-3c2d1e0f9a8b"
OTHER_UID = "99999999-0000-4000-8000-000000000000"
IMAGE = "registry.example/fairness:1.2"
OWN_IMAGE = "ghcr.io/example/modelregistry:0.4.0"
# The random tail the API server gives a generateName.
GENERATED = "x7k2p"

FORMAT = ValidationCheck(name="format", builtin="format")
LOAD = ValidationCheck(name="load", builtin="loadAndPredict", calls=5, max_latency_p95_ms=250.0)
FAIRNESS = ValidationCheck(name="fairness", image=IMAGE, args=["--group", "age"])
QUALITY = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= 0.8"])
POLICY = ValidationPolicy(require_signature=True, metric_thresholds=["auc >= 0.9"])


def plan_of(
    *checks: ValidationCheck,
    policy: ValidationPolicy | None = None,
    deadline: int | None = None,
) -> Plan:
    return Plan(checks=checks, deadline_seconds=deadline, policy=policy)


POD_PLAN = plan_of(FORMAT, LOAD, FAIRNESS, policy=POLICY)
METRICS_PLAN = plan_of(QUALITY, policy=POLICY)
MIXED_PLAN = plan_of(QUALITY, FORMAT, policy=POLICY)

# A validation Pod's spec as the operator built it (small: only its fingerprint matters here).
OWN_SPEC: dict[str, Any] = {
    "restartPolicy": "Never",
    "serviceAccountName": "modelregistry-validation",
    "automountServiceAccountToken": False,
    "containers": [{"name": "format", "image": OWN_IMAGE}],
}
SPEC_DIGEST = fingerprint(OWN_SPEC)


def pod_name(run: int = 2, version: str = NAME) -> str:
    """The name the API server gives the run's Pod."""
    return generate_name(version, run) + GENERATED


def view_of(
    status: ModelVersionStatus | None = None,
    *,
    name: str = NAME,
    now: datetime = NOW,
    generation: int = 1,
    uid: str = VERSION_UID,
) -> VersionView:
    return replace(make_view(status=status, now=now, generation=generation), name=name, uid=uid)


def pending(plan: Plan, at: str = NOW_TEXT) -> list[CheckResult]:
    return [CheckResult(name=c.name, result="Pending", started_at=at) for c in plan.checks]


def run_of(
    plan: Plan,
    *,
    run: int = 1,
    name: str = NAME,
    token: str | None = None,
    checks: list[CheckResult] | None = None,
    started: str = NOW_TEXT,
    finished: str | None = None,
    recreated: int = 0,
    pod: str | None = "",
    pod_uid: str | None = POD_UID,
    digest: str | None = SPEC_DIGEST,
) -> ValidationStatus:
    """status.validation of a run of `plan`, its Pod recorded (`pod=None`: none recorded)."""
    return ValidationStatus(
        run=run,
        checks_digest=plan.digest,
        token=token,
        pod_name=pod_name(run, name) if pod == "" else pod,
        pod_uid=pod_uid if pod is not None else None,
        pod_spec_digest=digest if pod is not None else None,
        recreated=recreated,
        started_at=started,
        finished_at=finished,
        checks=pending(plan, started) if checks is None else checks,
    )


def validated(status: ConditionStatus, reason: str, message: str) -> DesiredCondition:
    return DesiredCondition(VALIDATED, status, reason, message)


def running_message(pod: str, names: str) -> str:
    return f"Running {names} in Pod {pod} (kubectl get pod {pod})."


def in_status(
    run: ValidationStatus, *items: tuple[ConditionStatus, str, str]
) -> ModelVersionStatus:
    """A status holding `run` and the Validated condition(s) written with it."""
    written = [condition(VALIDATED, s, r, m) for s, r, m in items]
    return ModelVersionStatus(validation=run, conditions=written)


def running_in_status(plan: Plan, run: ValidationStatus) -> ModelVersionStatus:
    """A status holding `run` under way, as the pass that asked for its Pod wrote it."""
    names = ", ".join(c.name for c in plan.pod_checks)
    said = starting(names) if run.pod_name is None else running_message(run.pod_name, names)
    return in_status(run, ("Unknown", Reason.VALIDATION_RUNNING, said))


def observe(
    plan: Plan,
    pod: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    metrics: dict[str, float] | None = None,
    pods: Sequence[dict[str, Any]] = (),
) -> Observed:
    return Observed(
        plan,
        token,
        read_pod(pod) if pod is not None else None,
        metrics if metrics else {},
        tuple(read_pod(p) for p in pods),
    )


# --- what a pass decides ----------------------------------------------------------------------


def starting(names: str, note: str = "") -> str:
    return f"Starting {names} in a new validation Pod.{note}"


def creating(
    run: ValidationStatus,
    names: str,
    *,
    delete: tuple[PodRef, ...] = (),
    delete_now: tuple[PodRef, ...] = (),
    events: tuple[Event, ...] = (),
    note: str = "",
) -> ValidationDecision:
    """The decision that the run needs a Pod (the reconciler then creates it)."""
    return ValidationDecision(
        StepResult(
            (validated("Unknown", Reason.VALIDATION_RUNNING, starting(names, note)),),
            status={"validation": run},
            events=events,
            proceed=False,
        ),
        create_pod=True,
        delete_pods=delete,
        delete_now=delete_now,
        status=run,
        note=note,
    )


def still_running(
    plan: Plan, status: ValidationStatus, pod: str | None = None
) -> ValidationDecision:
    names = ", ".join(c.name for c in plan.pod_checks)
    shown = pod if pod is not None else pod_name(2)
    return ValidationDecision(
        StepResult(
            (validated("Unknown", Reason.VALIDATION_RUNNING, running_message(shown, names)),),
            status={"validation": status},
            proceed=False,
        ),
        status=status,
    )


def ended(
    status: ValidationStatus,
    state: ConditionStatus,
    reason: str,
    message: str,
    delete: tuple[PodRef, ...] = (),
    delete_now: tuple[PodRef, ...] = (),
) -> ValidationDecision:
    return ValidationDecision(
        StepResult(
            (validated(state, reason, message),),
            status={"validation": status},
            proceed=state == "True",
        ),
        delete_pods=delete,
        delete_now=delete_now,
        status=status,
    )


def follow(
    plan: Plan,
    pod: dict[str, Any] | None,
    *,
    run: ValidationStatus | None = None,
    now: datetime = LATER,
    token: str | None = None,
) -> tuple[ValidationStatus, ValidationDecision]:
    """One pass while `run` (default: run 2 of `plan`, all Pending) is under way."""
    current = run if run is not None else run_of(plan, run=2, token=token)
    view = view_of(running_in_status(plan, current), now=now)
    return current, validation.decide(view, observe(plan, pod, token=token))


# --- Pods, as the API server returns them -----------------------------------------------------

SCHEDULED = [
    {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": NOW_TEXT},
    {"type": "Initialized", "status": "True", "lastTransitionTime": NOW_TEXT},
    {
        "type": "Ready",
        "status": "False",
        "reason": "ContainersNotReady",
        "message": "containers with unready status: [format load fairness]",
        "lastTransitionTime": NOW_TEXT,
    },
    {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
    {"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW_TEXT},
]
UNSCHEDULABLE_TEXT = (
    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)


def pod_body(
    name: str,
    phase: str,
    *,
    init: Sequence[dict[str, Any]] = (),
    containers: Sequence[dict[str, Any]] = (),
    pod_conditions: Sequence[dict[str, Any]] = SCHEDULED,
    reason: str | None = None,
    message: str | None = None,
    uid: str = POD_UID,
    controller: str | None = VERSION_UID,
    digest: str | None = SPEC_DIGEST,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A validation Pod; by default the operator's own (uid, owner and spec as recorded)."""
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": list(pod_conditions),
        "qosClass": "Burstable",
    }
    if phase != "Pending" or init or containers:
        status.update(hostIP="10.0.0.7", podIP="10.244.1.9", startTime="2030-01-02T03:04:06Z")
    if init:
        status["initContainerStatuses"] = list(init)
    if containers:
        status["containerStatuses"] = list(containers)
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "uid": uid}
    if digest is not None:
        metadata["annotations"] = {"modelregistry.io/pod-spec-digest": digest}
    if controller is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "modelregistry.io/v1alpha1",
                "kind": "ModelVersion",
                "name": NAME,
                "uid": controller,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": OWN_SPEC if spec is None else spec,
        "status": status,
    }


def pod_ref(name: str, uid: str = POD_UID) -> PodRef:
    return PodRef(name, uid)


def unscheduled(name: str, message: str | None = UNSCHEDULABLE_TEXT) -> dict[str, Any]:
    scheduled: dict[str, Any] = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "lastProbeTime": None,
        "lastTransitionTime": NOW_TEXT,
    }
    if message is not None:
        scheduled["message"] = message
    return pod_body(name, "Pending", pod_conditions=[scheduled])


def entry(name: str, state: dict[str, Any], image: str = OWN_IMAGE) -> dict[str, Any]:
    """One item of containerStatuses (or initContainerStatuses)."""
    body: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": "",
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "started": "running" in state,
        "state": state,
    }
    if "waiting" not in state:
        body["containerID"] = "containerd://" + "e" * 64
        body["imageID"] = image.split(":")[0] + "@sha256:" + "f" * 64
    return body


def waiting(
    name: str, reason: str, message: str | None = None, image: str = OWN_IMAGE
) -> dict[str, Any]:
    detail = {"reason": reason} if message is None else {"reason": reason, "message": message}
    return entry(name, {"waiting": detail}, image)


def running(name: str, started: str = "2030-01-02T03:04:20Z") -> dict[str, Any]:
    return entry(name, {"running": {"startedAt": started}})


def terminated(
    name: str,
    code: int,
    message: str = "",
    *,
    reason: str | None = None,
    started: str = "2030-01-02T03:04:20Z",
    finished: str = "2030-01-02T03:05:01Z",
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "exitCode": code,
        "reason": reason if reason is not None else ("Completed" if code == 0 else "Error"),
        "startedAt": started,
        "finishedAt": finished,
        "containerID": "containerd://" + "e" * 64,
    }
    if message:
        detail["message"] = message
    return entry(name, {"terminated": detail})


def report(check: str, passed: bool, value: Any, threshold: Any, message: str) -> str:
    return Report(check, passed, value, threshold, message, {"n": 1}).encode()


FETCHED = terminated(
    "fetch",
    0,
    report("fetch", True, None, None, f"Fetched {URI} ({DIGEST_A})."),
    started="2030-01-02T03:04:08Z",
    finished="2030-01-02T03:04:19Z",
)
