"""Step 4: the declared checks passed on the verified bytes (Validated).

The checks are the version's `spec.validation`, else its Model's
`spec.defaultValidation`. The metrics check runs here, without a Pod; the
others run as containers of one Pod per run (built by `validationpod.py`),
whose state the reconciler hands back on each pass. A run is identified by
its number: a new one starts when the checks change or when the
`modelregistry.io/revalidate` annotation gets a new value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelregistry import conditions as cond
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    CheckResult,
    Validation,
    ValidationCheck,
    ValidationStatus,
)
from modelregistry.checks import report as reports
from modelregistry.checks import thresholds as limits
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.reasons import VALIDATED, Reason

CONDITIONS = (VALIDATED,)

REVALIDATE_ANNOTATION = "modelregistry.io/revalidate"
FETCH_CONTAINER = "fetch"
# The fetch container's exit codes (modelregistry.fetch).
FETCH_CHANGED = 3
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"}
)
MAX_POD_NAME = 253


@dataclass(frozen=True)
class Plan:
    """The checks that apply to a version, and what they are judged against."""

    validation: Validation | None
    policy: ValidationPolicy | None = None

    @property
    def checks(self) -> list[ValidationCheck]:
        return list(self.validation.checks) if self.validation else []

    @property
    def pod_checks(self) -> list[ValidationCheck]:
        return [c for c in self.checks if c.builtin != "metrics"]

    @property
    def digest(self) -> str:
        """Changes whenever what a run would do changes."""
        content = {
            "validation": self.validation.model_dump(mode="json", by_alias=True)
            if self.validation
            else None,
            "policy": self.policy.model_dump(mode="json", by_alias=True) if self.policy else None,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def plan_for(
    own: Validation | None, default: Validation | None, policy: ValidationPolicy | None
) -> Plan:
    return Plan(own if own is not None else default, policy)


def pod_name(version_name: str, run: int) -> str:
    suffix = f"-validation-{run}"
    # A cut name must not end in '.' or '-': the suffix would start a label with '-'.
    return version_name[: MAX_POD_NAME - len(suffix)].rstrip(".-") + suffix


# --- the Pod as the decision reads it ---------------------------------------------


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: Literal["waiting", "running", "terminated", "unknown"]
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None


@dataclass(frozen=True)
class PodState:
    """What a pass needs of the run's Pod, read from its status."""

    name: str
    phase: str
    reason: str = ""
    message: str = ""
    unschedulable: str | None = None  # the scheduler's message
    init: tuple[ContainerState, ...] = ()
    containers: tuple[ContainerState, ...] = ()

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in (*self.init, *self.containers) if c.name == name), None)


def read_pod(pod: Mapping[str, Any]) -> PodState:
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
    return PodState(
        name=pod["metadata"]["name"],
        phase=str(status.get("phase") or "Pending"),
        reason=str(status.get("reason") or ""),
        message=str(status.get("message") or ""),
        unschedulable=unschedulable,
        init=tuple(_container(c) for c in status.get("initContainerStatuses") or []),
        containers=tuple(_container(c) for c in status.get("containerStatuses") or []),
    )


def _container(raw: Mapping[str, Any]) -> ContainerState:
    state = raw.get("state") or {}
    for kind in ("terminated", "running", "waiting"):
        if kind in state and state[kind] is not None:
            detail = state[kind]
            return ContainerState(
                name=raw["name"],
                state=kind,
                reason=str(detail.get("reason") or ""),
                message=str(detail.get("message") or ""),
                exit_code=detail.get("exitCode"),
                started_at=detail.get("startedAt"),
                finished_at=detail.get("finishedAt"),
            )
    return ContainerState(name=raw["name"], state="unknown")


# --- the decision ------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationDecision:
    result: StepResult
    create_pod: bool = False  # the run's Pod must be created (or created again)
    delete_pods: tuple[str, ...] = ()  # Pods whose results are in, or of an earlier run
    status: ValidationStatus | None = None


@dataclass(frozen=True)
class Observed:
    """What the reconciler gathered for this step."""

    plan: Plan
    token: str | None  # the revalidate annotation
    pod: PodState | None  # the current run's Pod, when it exists
    metrics: Mapping[str, float] = field(default_factory=dict)


def decide(view: VersionView, observed: Observed) -> ValidationDecision:
    plan = observed.plan
    current = view.status.validation
    if not plan.checks:
        message = (
            "No validation checks are declared (spec.validation, or the Model's "
            "spec.defaultValidation)."
        )
        stale = (current.pod_name,) if current and current.pod_name else ()
        return ValidationDecision(
            StepResult(
                (DesiredCondition(VALIDATED, "True", Reason.NO_CHECKS, message),),
                status={"validation": None},
            ),
            delete_pods=stale,
        )
    if current is None or current.checks_digest != plan.digest or current.token != observed.token:
        return _start(view, observed, current)
    if current.finished_at is not None:
        return _finished(view, current, observed.pod)
    return _follow(view, observed, current)


def _start(
    view: VersionView, observed: Observed, previous: ValidationStatus | None
) -> ValidationDecision:
    plan = observed.plan
    run = (previous.run if previous else 0) + 1
    now = cond.format_time(view.now)
    old_pods = (previous.pod_name,) if previous and previous.pod_name else ()
    try:
        metric_results = {
            c.name: _metrics(c, plan.policy, observed.metrics)
            for c in plan.checks
            if c.builtin == "metrics"
        }
    except _InvalidThreshold as error:
        status = ValidationStatus(
            run=run,
            checks_digest=plan.digest,
            token=observed.token,
            started_at=now,
            finished_at=now,
        )
        message = f"A threshold cannot be checked: {error.problem}. Fix it in {error.where}."
        return _done(
            status,
            DesiredCondition(VALIDATED, "False", Reason.INVALID_CHECK, message),
            delete=old_pods,
        )
    results = [
        metric_results.get(c.name) or CheckResult(name=c.name, result="Pending", started_at=now)
        for c in plan.checks
    ]
    name = pod_name(view.name, run) if plan.pod_checks else None
    status = ValidationStatus(
        run=run,
        checks_digest=plan.digest,
        token=observed.token,
        pod_name=name,
        started_at=now,
        checks=results,
    )
    failed = [r for r in results if r.result == "Failed"]
    if failed or name is None:
        done = status.model_copy(update={"finished_at": now})
        return ValidationDecision(_verdict(done, failed), delete_pods=old_pods, status=done)
    running = _running_condition(name, plan.pod_checks)
    return ValidationDecision(
        StepResult((running,), status={"validation": status}, proceed=False),
        create_pod=True,
        delete_pods=tuple(p for p in old_pods if p != name),
        status=status,
    )


def pod_refused(view: VersionView, started: ValidationDecision, answer: str) -> ValidationDecision:
    """The API server refused the run's Pod as invalid: the checks cannot run as written.

    Retrying would be refused the same way; the run ends here until the
    checks change (a new digest starts a new run). Pods of earlier runs are
    still deleted, as the run that started would have.
    """
    if started.status is None:
        raise ValueError("only a run that started has a Pod to refuse")
    done = started.status.model_copy(update={"finished_at": cond.format_time(view.now)})
    message = (
        f"The API server refused validation Pod {started.status.pod_name}: {answer}. Fix the "
        "checks' image, env or resources: in the Model's spec.defaultValidation, or, since "
        "spec.validation cannot change, in a new ModelVersion."
    )
    condition = DesiredCondition(VALIDATED, "False", Reason.INVALID_CHECK, message)
    return _done(done, condition, delete=started.delete_pods)


class _InvalidThreshold(Exception):
    def __init__(self, problem: str, where: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = where


def _metrics(
    check: ValidationCheck, policy: ValidationPolicy | None, metrics: Mapping[str, float]
) -> CheckResult:
    own = list(check.thresholds)
    shared = list(policy.metric_thresholds) if policy else []
    if not own and not shared:
        return CheckResult(
            name=check.name,
            result="Failed",
            message="No thresholds to check: set the Model's spec.policy.validation."
            "metricThresholds or this check's thresholds.",
        )
    parsed = []
    for expressions, where in (
        (shared, "the Model's spec.policy.validation.metricThresholds"),
        (own, f"the thresholds of check {check.name!r} (spec.validation)"),
    ):
        try:
            parsed += limits.parse_thresholds(expressions)
        except limits.ThresholdError as error:
            raise _InvalidThreshold(str(error), where) from error
    report = limits.metrics_report(limits.evaluate_all(parsed, metrics), check.name)
    return _result(check.name, report, "Passed" if report.passed else "Failed", None, None)


def _result(
    name: str, report: reports.Report, result: str, started: str | None, finished: str | None
) -> CheckResult:
    return CheckResult(
        name=name,
        result=result,
        value=None if report.value is None else str(report.value)[:256],
        threshold=None if report.threshold is None else str(report.threshold)[:256],
        message=report.message[:4096],
        started_at=started,
        finished_at=finished,
    )


def _running_condition(pod: str, checks: Sequence[ValidationCheck]) -> DesiredCondition:
    names = ", ".join(c.name for c in checks)
    return DesiredCondition(
        VALIDATED,
        "Unknown",
        Reason.VALIDATION_RUNNING,
        f"Running {names} in Pod {pod} (kubectl get pod {pod}).",
    )


def _follow(view: VersionView, observed: Observed, current: ValidationStatus) -> ValidationDecision:
    """The run is under way: read its Pod."""
    pod = observed.pod
    assert current.pod_name is not None
    if pod is None:
        if current.recreated >= 1:
            status = current.model_copy(update={"finished_at": cond.format_time(view.now)})
            message = (
                f"The validation Pod {current.pod_name} vanished twice before it finished. "
                f"Re-run with `kubectl annotate modelversion <name> {REVALIDATE_ANNOTATION}=<new "
                "value>`."
            )
            return _done(status, DesiredCondition(VALIDATED, "False", Reason.POD_FAILED, message))
        status = current.model_copy(update={"recreated": current.recreated + 1})
        condition = _running_condition(current.pod_name, observed.plan.pod_checks)
        message = condition.message + " Its Pod vanished mid-run and was created again."
        return ValidationDecision(
            StepResult(
                (DesiredCondition(VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, message),),
                status={"validation": status},
                proceed=False,
            ),
            create_pod=True,
            status=status,
        )
    results = _results(current, pod)
    status = current.model_copy(update={"checks": results})
    verdict = _pod_verdict(pod, observed.plan)
    if verdict is None:  # still running
        return ValidationDecision(
            StepResult(
                (_running_condition(pod.name, observed.plan.pod_checks),),
                status={"validation": status},
                proceed=False,
            ),
            status=status,
        )
    reason, message = verdict
    finished = status.model_copy(update={"finished_at": cond.format_time(view.now)})
    if reason == Reason.CHECKS_PASSED:
        return _done(
            finished, DesiredCondition(VALIDATED, "True", reason, message), delete=(pod.name,)
        )
    if reason == Reason.UNSCHEDULABLE:  # may clear up: the run goes on
        return ValidationDecision(
            StepResult(
                (DesiredCondition(VALIDATED, "False", reason, message),),
                status={"validation": status},
                proceed=False,
            ),
            status=status,
        )
    # A failed run keeps its Pod for `kubectl logs` until the next run.
    return _done(finished, DesiredCondition(VALIDATED, "False", reason, message))


def _results(current: ValidationStatus, pod: PodState) -> list[CheckResult]:
    results = []
    for previous in current.checks:
        container = pod.container(previous.name)
        if previous.finished_at is not None or container is None:
            results.append(previous)
            continue
        if container.state == "running":
            results.append(
                previous.model_copy(
                    update={"result": "Running", "started_at": container.started_at}
                )
            )
        elif container.state == "terminated":
            report = reports.from_termination_message(
                container.message, check=previous.name, exit_code=container.exit_code or 0
            )
            if container.reason == "OOMKilled":
                report = reports.Report(
                    previous.name,
                    False,
                    message="The check ran out of memory (OOMKilled): raise its "
                    "resources.limits.memory.",
                )
            results.append(
                _result(
                    previous.name,
                    report,
                    "Passed" if container.exit_code == 0 else "Failed",
                    container.started_at,
                    container.finished_at,
                )
            )
        else:
            results.append(previous)
    return results


def _pod_verdict(pod: PodState, plan: Plan) -> tuple[str, str] | None:
    """(reason, message) once the run has an outcome; None while it runs."""
    if pod.phase == "Failed" and pod.reason == "DeadlineExceeded":
        # The kubelet kills what still runs at the deadline: those are not failures.
        unfinished = [
            c.name
            for c in plan.pod_checks
            if (s := pod.container(c.name)) is None or s.state != "terminated" or s.exit_code != 0
        ]
        return (
            Reason.DEADLINE_EXCEEDED,
            f"The checks ran past spec.validation.deadlineSeconds; still running: "
            f"{', '.join(unfinished) or 'none'}. {pod.message}".strip(),
        )
    fetch = pod.container(FETCH_CONTAINER)
    if fetch is not None and fetch.state == "waiting" and fetch.reason in IMAGE_PULL_REASONS:
        return (
            Reason.IMAGE_PULL_FAILED,
            f"The validation Pod's fetch step cannot start: {fetch.reason} for the registry's "
            f"own image: {fetch.message or 'no detail from the kubelet'}. Check the operator's "
            "MODELREGISTRY_VALIDATION_IMAGE.",
        )
    if fetch is not None and fetch.state == "terminated" and fetch.exit_code not in (0, None):
        said = reports.from_termination_message(
            fetch.message, check=FETCH_CONTAINER, exit_code=fetch.exit_code
        ).message
        if fetch.exit_code == FETCH_CHANGED:
            return Reason.ARTIFACT_CHANGED_BEFORE_VALIDATION, said
        return Reason.POD_FAILED, f"Fetching the artifact into Pod {pod.name} failed: {said}"
    for check in plan.pod_checks:
        container = pod.container(check.name)
        if container is None:
            continue
        if container.state == "waiting" and container.reason in IMAGE_PULL_REASONS:
            image = check.image or "the registry's own image"
            return (
                Reason.IMAGE_PULL_FAILED,
                f"Check {check.name!r} cannot start: {container.reason} for {image}: "
                f"{container.message or 'no detail from the kubelet'}.",
            )
        if container.state == "terminated" and container.exit_code not in (0, None):
            said = reports.from_termination_message(
                container.message, check=check.name, exit_code=container.exit_code
            ).message
            if container.reason == "OOMKilled":
                said = "it ran out of memory (OOMKilled): raise its resources.limits.memory."
            return (
                Reason.CHECK_FAILED,
                f"Check {check.name!r} failed (exit code {container.exit_code}): {said} "
                f"Its logs: kubectl logs {pod.name} -c {check.name}.",
            )
    if pod.phase == "Failed":
        return Reason.POD_FAILED, f"Pod {pod.name} failed: {pod.reason} {pod.message}".strip()
    if pod.phase == "Succeeded":
        names = ", ".join(c.name for c in plan.checks)
        return Reason.CHECKS_PASSED, f"Every check passed: {names}."
    if pod.unschedulable is not None:
        return Reason.UNSCHEDULABLE, f"Pod {pod.name} cannot be scheduled: {pod.unschedulable}"
    return None


def _finished(
    view: VersionView, current: ValidationStatus, pod: PodState | None
) -> ValidationDecision:
    """The run has an outcome: its condition stands; a passed run's Pod goes."""
    found = cond.find(view.status.conditions, VALIDATED)
    if found is None:  # a status written by hand, or lost: judge the run from its results
        failed = [r for r in current.checks if r.result == "Failed"]
        return ValidationDecision(_verdict(current, failed), status=current)
    kept = DesiredCondition(found.type, found.status, found.reason, found.message)
    delete = (pod.name,) if pod is not None and found.status == "True" else ()
    return ValidationDecision(
        StepResult((kept,), proceed=found.status == "True"), delete_pods=delete, status=current
    )


def _verdict(status: ValidationStatus, failed: Sequence[CheckResult]) -> StepResult:
    if failed:
        first = failed[0]
        condition = DesiredCondition(
            VALIDATED,
            "False",
            Reason.CHECK_FAILED,
            f"Check {first.name!r} failed: {first.message}",
        )
    else:
        names = ", ".join(r.name for r in status.checks)
        condition = DesiredCondition(
            VALIDATED, "True", Reason.CHECKS_PASSED, f"Every check passed: {names}."
        )
    return StepResult(
        (condition,), status={"validation": status}, proceed=condition.status == "True"
    )


def _done(
    status: ValidationStatus, condition: DesiredCondition, delete: tuple[str, ...] = ()
) -> ValidationDecision:
    return ValidationDecision(
        StepResult((condition,), status={"validation": status}, proceed=condition.status == "True"),
        delete_pods=delete,
        status=status,
    )
