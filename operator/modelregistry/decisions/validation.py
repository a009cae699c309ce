"""Step 4: the planned checks passed on the verified bytes, in the operator's own Pod (Validated).

The plan (`validationplan.py`) is the Model's required checks plus the
version's own (or the Model's default). The metrics check runs here,
without a Pod; the others run as containers of one Pod per run (built by
`validationpod.py`), whose state the reconciler hands back on each pass. A
run is identified by its number: a new one starts when the plan changes or
when the `modelregistry.io/revalidate` annotation gets a new value.

Only the Pod the operator created for the run is read (`podstate.distrust`);
a Pod at the recorded name that is not it, or that was changed, is reported
and the run goes on in a new Pod of the operator's own; a second time, the
run fails. A run passes only when the fetch step verified the bytes and
every planned check's container ended with exit code 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from modelregistry import conditions as cond
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import CheckResult, ValidationCheck, ValidationStatus
from modelregistry.checks import report as reports
from modelregistry.checks import thresholds as limits
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import Event, StepResult, VersionView
from modelregistry.decisions.podspec import differences
from modelregistry.decisions.podstate import PodRef, PodState, distrust, read_pod
from modelregistry.decisions.validationplan import Plan, compare_details
from modelregistry.decisions.validationpod import FETCH_CONTAINER, SPEC_DIGEST_ANNOTATION
from modelregistry.reasons import VALIDATED, Reason

CONDITIONS = (VALIDATED,)

REVALIDATE_ANNOTATION = "modelregistry.io/revalidate"
# The fetch container's exit codes (modelregistry.fetch).
FETCH_CHANGED = 3
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"}
)
# Times a run's Pod may vanish, or be found not the operator's, and be made again.
MAX_RECREATED = 1
RERUN = f"kubectl annotate modelversion <name> {REVALIDATE_ANNOTATION}=<new value>"
REMADE = (
    " The run's Pod was made again: the one before vanished or was not the operator's own "
    "(kubectl describe modelversion <name> shows the Event)."
)


# --- the decision ------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationDecision:
    result: StepResult
    create_pod: bool = False  # the run's Pod must be created (or created again)
    # Pods whose results are in, or of an earlier run: deleted once status is written.
    delete_pods: tuple[PodRef, ...] = ()
    # Pods that must not run a moment longer (altered ones): deleted before anything else.
    delete_now: tuple[PodRef, ...] = ()
    status: ValidationStatus | None = None
    note: str = ""  # said in the running condition once the Pod is created


@dataclass(frozen=True)
class Observed:
    """What the reconciler gathered for this step."""

    plan: Plan
    token: str | None  # the revalidate annotation
    pod: PodState | None  # the Pod at the run's recorded name, when there is one
    metrics: Mapping[str, float] = field(default_factory=dict)
    # Every validation Pod the index holds for this version (by its uid label).
    pods: tuple[PodState, ...] = ()


def decide(view: VersionView, observed: Observed) -> ValidationDecision:
    plan = observed.plan
    current = view.status.validation
    if not plan.checks and not plan.problems:
        message = (
            "No validation checks apply: none are declared (spec.validation, or the Model's "
            "spec.defaultValidation) and the Model requires none "
            "(spec.policy.validation.requiredChecks)."
        )
        return ValidationDecision(
            StepResult(
                (DesiredCondition(VALIDATED, "True", Reason.NO_CHECKS, message),),
                status={"validation": None},
            ),
            delete_pods=_own_pods(view, observed),
        )
    if current is None or current.checks_digest != plan.digest or current.token != observed.token:
        return _start(view, observed, current)
    if current.finished_at is not None:
        return _finished(view, current, observed.pod)
    return _follow(view, observed, current)


def _own_pods(view: VersionView, observed: Observed) -> tuple[PodRef, ...]:
    """The Pods this version controls (earlier runs', or one made before a restart)."""
    return tuple(p.ref for p in observed.pods if p.controller_uid == view.uid and view.uid)


def _start(
    view: VersionView, observed: Observed, previous: ValidationStatus | None
) -> ValidationDecision:
    plan = observed.plan
    run = (previous.run if previous else 0) + 1
    now = cond.format_time(view.now)
    old_pods = _own_pods(view, observed)
    if plan.problems:
        status = ValidationStatus(
            run=run,
            checks_digest=plan.digest,
            token=observed.token,
            started_at=now,
            finished_at=now,
        )
        message = (
            f"The checks cannot run as written: {'; '.join(plan.problems)}. Fix the Model's "
            "spec.defaultValidation or spec.policy.validation, or, since spec.validation cannot "
            "change, register a new ModelVersion."
        )
        condition = DesiredCondition(VALIDATED, "False", Reason.INVALID_CHECK, message)
        return _done(status, condition, delete=old_pods)
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
        metric_results.get(c.name)
        or CheckResult(
            name=c.name, result="Pending", started_at=now, details=compare_details(c, plan)
        )
        for c in plan.checks
    ]
    status = ValidationStatus(
        run=run,
        checks_digest=plan.digest,
        token=observed.token,
        started_at=now,
        checks=results,
    )
    failed = [r for r in results if r.result == "Failed"]
    if failed or not plan.pod_checks:
        done = status.model_copy(update={"finished_at": now})
        return ValidationDecision(_verdict(done, failed), delete_pods=old_pods, status=done)
    return _create(status, plan, delete=old_pods)


def _create(
    status: ValidationStatus,
    plan: Plan,
    *,
    delete: tuple[PodRef, ...] = (),
    delete_now: tuple[PodRef, ...] = (),
    events: tuple[Event, ...] = (),
    note: str = "",
) -> ValidationDecision:
    """The run needs a Pod: the reconciler creates it, then `pod_created` records it."""
    names = ", ".join(c.name for c in plan.pod_checks)
    message = f"Starting {names} in a new validation Pod.{note}"
    return ValidationDecision(
        StepResult(
            (DesiredCondition(VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, message),),
            status={"validation": status},
            events=events,
            proceed=False,
        ),
        create_pod=True,
        delete_pods=delete,
        delete_now=delete_now,
        status=status,
        note=note,
    )


def pod_created(
    view: VersionView,
    started: ValidationDecision,
    plan: Plan,
    built: Mapping[str, Any],
    created: Mapping[str, Any],
) -> ValidationDecision:
    """Record the Pod the API server created for the run, or refuse it if admission changed it.

    `built` is the manifest the operator sent, `created` the Pod as stored:
    a mutating admission webhook that changed what the Pod runs or can reach
    (credentials, a sidecar, other images) makes its fingerprint differ.
    """
    if started.status is None:
        raise ValueError("only a run that started has a Pod")
    pod = read_pod(created)
    expected = built["metadata"]["annotations"][SPEC_DIGEST_ANNOTATION]
    if pod.fingerprint != expected:
        changed = ", ".join(differences(built["spec"], created.get("spec") or {})) or "the spec"
        done = started.status.model_copy(update={"finished_at": cond.format_time(view.now)})
        message = (
            f"The API server admitted validation Pod {pod.name} with a spec other than the one "
            f"the operator built ({changed} differ): an admission webhook changed it, so its "
            "checks would not run as planned, or not in the box they are meant to run in. The "
            "Pod was deleted. Exempt the operator's validation Pods from that webhook (they are "
            "labelled app.kubernetes.io/component=validation), then re-run with "
            f"`{RERUN}`."
        )
        return _done(
            done,
            DesiredCondition(VALIDATED, "False", Reason.POD_ALTERED, message),
            delete=started.delete_pods,
            delete_now=(*started.delete_now, pod.ref),
        )
    status = started.status.model_copy(
        update={"pod_name": pod.name, "pod_uid": pod.uid, "pod_spec_digest": expected}
    )
    condition = _running_condition(pod.name, plan.pod_checks)
    condition = replace(condition, message=condition.message + started.note)
    return replace(
        started,
        result=replace(started.result, conditions=(condition,), status={"validation": status}),
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
        f"The API server refused the validation Pod: {answer}. Fix the checks' image, env or "
        "resources: in the Model's spec.defaultValidation or spec.policy.validation, or, since "
        "spec.validation cannot change, in a new ModelVersion."
    )
    condition = DesiredCondition(VALIDATED, "False", Reason.INVALID_CHECK, message)
    return _done(done, condition, delete=started.delete_pods, delete_now=started.delete_now)


def inputs_unavailable(
    view: VersionView, started: ValidationDecision, check: str, problem: str, *, transient: bool
) -> ValidationDecision:
    """A compare check's data set could not be read from the store, or is not the declared
    one, so no Pod was made. What may clear up by itself (the store unreachable) is tried
    again; anything else fails the check, until the data set is fixed and the run re-run."""
    if started.status is None:
        raise ValueError("only a run that started has inputs to read")
    if transient:
        message = f"Waiting to read the data set of check {check!r}: {problem}"
        waiting = DesiredCondition(VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, message)
        return replace(
            started,
            result=replace(started.result, conditions=(waiting,), retry=True),
            create_pod=False,
        )
    now = cond.format_time(view.now)
    message = f"{problem} Fix it, then re-run with `{RERUN}`."
    checks = [
        c.model_copy(update={"result": "Failed", "message": message, "finished_at": now})
        if c.name == check
        else c
        for c in started.status.checks
    ]
    done = started.status.model_copy(update={"checks": checks, "finished_at": now})
    condition = DesiredCondition(
        VALIDATED, "False", Reason.CHECK_FAILED, f"Check {check!r} failed: {message}"
    )
    return _done(done, condition, delete=started.delete_pods, delete_now=started.delete_now)


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
        (own, f"the thresholds of check {check.name!r}"),
    ):
        try:
            parsed += limits.parse_thresholds(expressions)
        except limits.ThresholdError as error:
            raise _InvalidThreshold(str(error), where) from error
    report = limits.metrics_report(limits.evaluate_all(parsed, metrics), check.name)
    return _result(check.name, report, "Passed" if report.passed else "Failed", None, None)


def _result(
    name: str,
    report: reports.Report,
    result: str,
    started: str | None,
    finished: str | None,
    details: dict[str, str] | None = None,
) -> CheckResult:
    return CheckResult(
        name=name,
        result=result,
        value=None if report.value is None else str(report.value)[:256],
        threshold=None if report.threshold is None else str(report.threshold)[:256],
        message=report.message[:4096],
        started_at=started,
        finished_at=finished,
        details=details,
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
    """The run is under way: read its Pod, if it is the operator's own."""
    pod = observed.pod
    plan = observed.plan
    if current.pod_name is None:  # decided, but the Pod was never recorded: make it now
        return _create(current, plan)
    if pod is None:
        return _again(
            view, current, plan, f"Its Pod {current.pod_name} vanished mid-run", Reason.POD_FAILED
        )
    problem = distrust(pod, current, view.uid)
    if problem is not None:
        ours = pod.uid is not None and pod.uid == current.pod_uid
        return _again(
            view,
            current,
            plan,
            f"{problem}; it was not read",
            Reason.UNTRUSTED_POD,
            event=True,
            delete_now=(pod.ref,) if ours else (),
        )
    results = _results(current, pod)
    status = current.model_copy(update={"checks": results})
    verdict = _pod_verdict(pod, plan)
    if verdict is None:  # still running
        running = _running_condition(pod.name, plan.pod_checks)
        if current.recreated:
            running = replace(running, message=running.message + REMADE)
        return ValidationDecision(
            StepResult(
                (running,),
                status={"validation": status},
                proceed=False,
            ),
            status=status,
        )
    reason, message = verdict
    finished = status.model_copy(update={"finished_at": cond.format_time(view.now)})
    if reason == Reason.CHECKS_PASSED:
        return _done(
            finished, DesiredCondition(VALIDATED, "True", reason, message), delete=(pod.ref,)
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
    failed = _done(finished, DesiredCondition(VALIDATED, "False", reason, message))
    if reason == Reason.ARTIFACT_CHANGED_BEFORE_VALIDATION:  # the verification is stale
        return replace(failed, result=replace(failed.result, reverify=True))
    return failed


def _again(
    view: VersionView,
    current: ValidationStatus,
    plan: Plan,
    what: str,
    reason: str,
    *,
    event: bool = False,
    delete_now: tuple[PodRef, ...] = (),
) -> ValidationDecision:
    """The run's Pod is gone or not to be trusted: a new one, or, the second time, a failure."""
    if current.recreated >= MAX_RECREATED:
        status = current.model_copy(update={"finished_at": cond.format_time(view.now)})
        message = (
            f"{what}, for the second time in this run: its results cannot be relied on. "
            f"Re-run with `{RERUN}`"
            + (
                "; and find out who changes Pods in this namespace."
                if reason == Reason.UNTRUSTED_POD
                else "."
            )
        )
        return _done(
            status, DesiredCondition(VALIDATED, "False", reason, message), delete_now=delete_now
        )
    status = current.model_copy(
        update={"recreated": current.recreated + 1, "pod_name": None, "pod_uid": None}
    )
    note = f" {what}; the run goes on in a new Pod of the operator's own."
    events = (
        (Event("Warning", Reason.UNTRUSTED_POD, f"{what}.", action="Validate"),) if event else ()
    )
    return _create(status, plan, delete_now=delete_now, events=events, note=note)


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
                    "Passed" if container.succeeded else "Failed",
                    container.started_at,
                    container.finished_at,
                    # What the operator ran it on, not what the report claims.
                    previous.details,
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
            if (s := pod.container(c.name)) is None or not s.succeeded
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
    if fetch is not None and fetch.state == "terminated" and fetch.exit_code != 0:
        said = reports.from_termination_message(
            fetch.message, check=FETCH_CONTAINER, exit_code=fetch.exit_code or 1
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
        if container.state == "terminated" and container.exit_code != 0:
            said = reports.from_termination_message(
                container.message, check=check.name, exit_code=container.exit_code or 1
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
        return _succeeded(pod, plan)
    if pod.unschedulable is not None:
        return Reason.UNSCHEDULABLE, f"Pod {pod.name} cannot be scheduled: {pod.unschedulable}"
    return None


def _succeeded(pod: PodState, plan: Plan) -> tuple[str, str]:
    """A Pod that ended well passes only with the fetch step's and every check's exit code 0."""
    fetch = pod.container(FETCH_CONTAINER)
    if fetch is None or not fetch.succeeded:
        return (
            Reason.POD_FAILED,
            f"Pod {pod.name} ended, but its fetch step has no exit code 0: the bytes were not "
            f"verified in it, so nothing it ran counts. Re-run with `{RERUN}`.",
        )
    missing = [
        c.name for c in plan.pod_checks if (s := pod.container(c.name)) is None or not s.succeeded
    ]
    if missing:
        return (
            Reason.POD_FAILED,
            f"Pod {pod.name} ended, but {', '.join(missing)} ended without exit code 0 "
            f"(no result is no pass). Re-run with `{RERUN}`.",
        )
    names = ", ".join(c.name for c in plan.checks)
    return Reason.CHECKS_PASSED, f"Every check passed: {names}."


def _finished(
    view: VersionView, current: ValidationStatus, pod: PodState | None
) -> ValidationDecision:
    """The run has an outcome: its condition stands; a passed run's Pod goes."""
    found = cond.find(view.status.conditions, VALIDATED)
    if found is None:  # a status written by hand, or lost: judge the run from its results
        failed = [r for r in current.checks if r.result == "Failed"]
        return ValidationDecision(_verdict(current, failed), status=current)
    kept = DesiredCondition(found.type, found.status, found.reason, found.message)
    passed = found.status == "True"
    delete = (pod.ref,) if pod is not None and passed and pod.uid == current.pod_uid else ()
    return ValidationDecision(
        StepResult((kept,), proceed=passed), delete_pods=delete, status=current
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
    status: ValidationStatus,
    condition: DesiredCondition,
    delete: tuple[PodRef, ...] = (),
    delete_now: tuple[PodRef, ...] = (),
) -> ValidationDecision:
    return ValidationDecision(
        StepResult((condition,), status={"validation": status}, proceed=condition.status == "True"),
        delete_pods=delete,
        delete_now=delete_now,
        status=status,
    )
