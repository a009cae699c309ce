"""Step 4, the checks: which apply, when a run starts, how its Pod is read, and the exact
Validated condition, status.validation and Pod actions of each pass."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import astuple, replace
from datetime import datetime
from typing import Any

import pytest

from modelregistry.api.meta import DNS_SUBDOMAIN_PATTERN, ConditionStatus
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    CheckResult,
    ModelVersionStatus,
    Validation,
    ValidationCheck,
    ValidationStatus,
)
from modelregistry.checks.report import Report
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import modelref, numbering, validation, verification
from modelregistry.decisions import version as compose
from modelregistry.decisions.numbering import VersionDecision
from modelregistry.decisions.passdata import Decision, Event, StepResult, VersionView
from modelregistry.decisions.validation import (
    ContainerState,
    Observed,
    Plan,
    PodState,
    ValidationDecision,
    plan_for,
    pod_name,
    read_pod,
)
from modelregistry.reasons import (
    ARTIFACT_VERIFIED,
    MODEL_FOUND,
    READY,
    RECONCILING,
    STALLED,
    VALIDATED,
    VERSION_ASSIGNED,
    Reason,
)

from .builders import (
    DIGEST_A,
    LAST,
    LAST_TEXT,
    LATER,
    LATER_TEXT,
    MODEL,
    NAMESPACE,
    NOW,
    NOW_TEXT,
    OWNED,
    URI,
    Row,
    condition,
    conditions,
    make_spec,
    make_view,
    model_exists,
    ready,
    verified_status,
    version_held,
)

NAME = "fraud-v3"
IMAGE = "registry.example/fairness:1.2"
OWN_IMAGE = "ghcr.io/example/modelregistry:0.4.0"

FORMAT = ValidationCheck(name="format", builtin="format")
LOAD = ValidationCheck(name="load", builtin="loadAndPredict", calls=5, max_latency_p95_ms=250.0)
FAIRNESS = ValidationCheck(name="fairness", image=IMAGE, args=["--group", "age"])
QUALITY = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= 0.8"])
POLICY = ValidationPolicy(require_signature=True, metric_thresholds=["auc >= 0.9"])

POD_PLAN = Plan(Validation(checks=[FORMAT, LOAD, FAIRNESS]), POLICY)
METRICS_PLAN = Plan(Validation(checks=[QUALITY]), POLICY)
MIXED_PLAN = Plan(Validation(checks=[QUALITY, FORMAT]), POLICY)

GOOD_METRICS = {"auc": 0.93, "f1": 0.85}
QUALITY_PASSED = CheckResult(
    name="quality",
    result="Passed",
    value="0.85",
    threshold="f1 >= 0.8",
    message="auc = 0.93 meets 'auc >= 0.9'; f1 = 0.85 meets 'f1 >= 0.8'",
)

NO_CHECKS = (
    "No validation checks are declared (spec.validation, or the Model's spec.defaultValidation)."
)
NO_THRESHOLDS = (
    "No thresholds to check: set the Model's spec.policy.validation.metricThresholds or this "
    "check's thresholds."
)
OOM_RESULT = "The check ran out of memory (OOMKilled): raise its resources.limits.memory."
USAGE = "write it as '<metric> <operator> <number>', the operator one of >=, >, <=, <, =="


# --- builders of this step's data -------------------------------------------------------------


def view_of(
    status: ModelVersionStatus | None = None,
    *,
    name: str = NAME,
    now: datetime = NOW,
    generation: int = 1,
) -> VersionView:
    return replace(make_view(status=status, now=now, generation=generation), name=name)


def observe(
    plan: Plan,
    pod: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    metrics: dict[str, float] | None = None,
) -> Observed:
    return Observed(
        plan, token, read_pod(pod) if pod is not None else None, metrics if metrics else {}
    )


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
) -> ValidationStatus:
    """status.validation of a run of `plan` (its Pod named as the step names it)."""
    return ValidationStatus(
        run=run,
        checks_digest=plan.digest,
        token=token,
        pod_name=pod_name(name, run) if pod == "" else pod,
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
    assert run.pod_name is not None
    names = ", ".join(c.name for c in plan.pod_checks)
    return in_status(
        run, ("Unknown", Reason.VALIDATION_RUNNING, running_message(run.pod_name, names))
    )


# --- Pod status bodies, as the API server returns them ----------------------------------------

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
) -> dict[str, Any]:
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
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": "0b7d7d7e-pod"},
        "spec": {"restartPolicy": "Never"},
        "status": status,
    }


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


# --- constants and the plan -------------------------------------------------------------------


def test_the_step_owns_validated_only() -> None:
    assert validation.CONDITIONS == (VALIDATED,)


def test_the_names_the_step_shares_with_the_pod_and_the_reconciler() -> None:
    assert validation.REVALIDATE_ANNOTATION == "modelregistry.io/revalidate"
    assert validation.FETCH_CONTAINER == "fetch"
    assert validation.FETCH_CHANGED == 3
    assert validation.MAX_POD_NAME == 253
    assert (
        frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})
        == validation.IMAGE_PULL_REASONS
    )


def test_the_version_s_own_validation_wins_over_the_model_default() -> None:
    own = Validation(checks=[FAIRNESS])
    default = Validation(checks=[FORMAT, QUALITY], deadline_seconds=60)

    assert plan_for(own, default, POLICY) == Plan(own, POLICY)
    assert plan_for(own, default, POLICY).checks == [FAIRNESS]


def test_without_its_own_validation_a_version_gets_the_model_default() -> None:
    default = Validation(checks=[FORMAT, QUALITY], deadline_seconds=60)

    assert plan_for(None, default, None) == Plan(default, None)
    assert plan_for(None, default, POLICY).checks == [FORMAT, QUALITY]


def test_an_empty_own_validation_still_overrides_the_default() -> None:
    own = Validation()

    plan = plan_for(own, Validation(checks=[FORMAT]), POLICY)

    assert plan == Plan(own, POLICY)
    assert plan.checks == []


def test_no_validation_anywhere_means_no_checks() -> None:
    plan = plan_for(None, None, POLICY)

    assert plan == Plan(None, POLICY)
    assert plan.checks == []
    assert plan.pod_checks == []


def test_the_metrics_check_needs_no_pod() -> None:
    plan = Plan(Validation(checks=[QUALITY, FORMAT, FAIRNESS, LOAD]))

    assert plan.checks == [QUALITY, FORMAT, FAIRNESS, LOAD]
    assert plan.pod_checks == [FORMAT, FAIRNESS, LOAD]
    assert METRICS_PLAN.pod_checks == []


def test_the_checks_are_a_copy() -> None:
    plan = Plan(Validation(checks=[FORMAT]))

    plan.checks.append(LOAD)

    assert plan.checks == [FORMAT]


def test_the_digest_is_the_sha256_of_the_canonical_json_of_checks_and_policy() -> None:
    plan = Plan(Validation(checks=[FORMAT], deadline_seconds=120), POLICY)
    text = (
        '{"policy":{"metricThresholds":["auc >= 0.9"],"requireSignature":true},'
        '"validation":{"checks":[{"args":[],"builtin":"format","calls":null,"command":[],'
        '"env":[],"image":null,"maxLatencyP95Ms":null,"name":"format","resources":null,'
        '"thresholds":[]}],"deadlineSeconds":120}}'
    )

    assert plan.digest == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_digest_of_nothing() -> None:
    text = '{"policy":null,"validation":null}'

    assert Plan(None).digest == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_digest_is_stable_for_the_same_checks() -> None:
    again = Plan(
        Validation.model_validate(
            {
                "checks": [
                    {"name": "format", "builtin": "format"},
                    LOAD.model_dump(by_alias=True),
                    FAIRNESS.model_dump(),
                ]
            }
        ),
        ValidationPolicy.model_validate(
            {"metricThresholds": ["auc >= 0.9"], "requireSignature": True}
        ),
    )

    assert again.digest == POD_PLAN.digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", POD_PLAN.digest)


@pytest.mark.parametrize(
    "other",
    [
        Plan(Validation(checks=[FORMAT, LOAD]), POLICY),  # a check less
        Plan(Validation(checks=[FORMAT, LOAD, FAIRNESS, QUALITY]), POLICY),  # a check more
        Plan(Validation(checks=[FORMAT, LOAD.model_copy(update={"calls": 6}), FAIRNESS]), POLICY),
        Plan(Validation(checks=[FORMAT, LOAD, FAIRNESS], deadline_seconds=600), POLICY),
        Plan(Validation(checks=[FORMAT, LOAD, FAIRNESS])),  # no policy
        Plan(
            Validation(checks=[FORMAT, LOAD, FAIRNESS]),
            POLICY.model_copy(update={"require_signature": False}),
        ),
        Plan(
            Validation(checks=[FORMAT, LOAD, FAIRNESS]),
            POLICY.model_copy(update={"metric_thresholds": ["auc >= 0.95"]}),
        ),
        Plan(Validation(checks=[LOAD, FORMAT, FAIRNESS]), POLICY),  # another order
    ],
)
def test_the_digest_changes_with_what_a_run_would_do(other: Plan) -> None:
    assert other.digest != POD_PLAN.digest


# --- pod_name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "run", "expected"),
    [
        ("fraud-v3", 1, "fraud-v3-validation-1"),
        ("churn.2030-01", 12, "churn.2030-01-validation-12"),
    ],
)
def test_the_pod_is_named_after_the_version_and_the_run(
    version: str, run: int, expected: str
) -> None:
    assert pod_name(version, run) == expected


def test_a_long_version_name_is_cut_and_the_suffix_kept() -> None:
    long = "m" * 250 + "xyz"

    name = pod_name(long, 7)

    assert name == "m" * (253 - len("-validation-7")) + "-validation-7"
    assert len(name) == 253


def test_a_name_that_just_fits_is_kept_whole() -> None:
    fits = "a" * (253 - len("-validation-10"))

    assert pod_name(fits, 10) == fits + "-validation-10"
    assert pod_name(fits + "b", 10) == fits + "-validation-10"


def test_a_cut_name_is_still_a_valid_pod_name() -> None:
    long = "a" * 239 + "." + "b" * 13  # cut after the dot for run 1

    name = pod_name(long, 1)

    assert name == "a" * 239 + "-validation-1"
    assert re.fullmatch(DNS_SUBDOMAIN_PATTERN, name)


@pytest.mark.parametrize(
    ("long", "kept"),
    [
        ("a" * 239 + "-" + "z" * 10, "a" * 239),  # cut after a dash
        ("a" * 237 + "-.-" + "z" * 10, "a" * 237),  # after several
        ("a" * 239 + "b.c", "a" * 239 + "b"),  # cut before the dot: nothing to strip
    ],
)
def test_a_cut_name_never_ends_in_a_dot_or_a_dash_before_the_suffix(long: str, kept: str) -> None:
    assert pod_name(long, 1) == kept + "-validation-1"


def test_a_short_name_keeps_its_dots_and_dashes() -> None:
    assert pod_name("fraud.v3-a", 2) == "fraud.v3-a-validation-2"


# --- read_pod ---------------------------------------------------------------------------------


def test_read_pod_reads_phase_containers_and_their_states() -> None:
    body = pod_body(
        "fraud-v3-validation-1",
        "Running",
        init=[FETCHED],
        containers=[
            terminated("format", 0, '{"check":"format","passed":true}'),
            running("load", "2030-01-02T03:04:21Z"),
            waiting("fairness", "ContainerCreating", image=IMAGE),
        ],
    )

    assert read_pod(body) == PodState(
        name="fraud-v3-validation-1",
        phase="Running",
        reason="",
        message="",
        unschedulable=None,
        init=(
            ContainerState(
                "fetch",
                "terminated",
                "Completed",
                report("fetch", True, None, None, f"Fetched {URI} ({DIGEST_A})."),
                0,
                "2030-01-02T03:04:08Z",
                "2030-01-02T03:04:19Z",
            ),
        ),
        containers=(
            ContainerState(
                "format",
                "terminated",
                "Completed",
                '{"check":"format","passed":true}',
                0,
                "2030-01-02T03:04:20Z",
                "2030-01-02T03:05:01Z",
            ),
            ContainerState("load", "running", started_at="2030-01-02T03:04:21Z"),
            ContainerState("fairness", "waiting", "ContainerCreating"),
        ),
    )


def test_read_pod_reads_a_failed_pod_s_reason_and_message() -> None:
    body = pod_body(
        "churn-validation-4",
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
    )

    assert read_pod(body) == PodState(
        "churn-validation-4",
        "Failed",
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )


def test_read_pod_reads_the_scheduler_s_message() -> None:
    assert read_pod(unscheduled("fraud-v3-validation-2")) == PodState(
        "fraud-v3-validation-2", "Pending", unschedulable=UNSCHEDULABLE_TEXT
    )


def test_read_pod_says_unschedulable_without_a_scheduler_message() -> None:
    state = read_pod(unscheduled("fraud-v3-validation-2", message=None))

    assert state.unschedulable == "the scheduler found no node for it"


def test_only_an_unschedulable_pod_scheduled_condition_counts() -> None:
    decoys = [
        {"type": "Ready", "status": "False", "reason": "Unschedulable", "message": "ready"},
        {"type": "PodScheduled", "status": "True", "reason": "Unschedulable", "message": "true"},
        {"type": "PodScheduled", "status": "False", "reason": "SchedulerError", "message": "err"},
        {"type": "Ready", "status": "True", "reason": "Unschedulable", "message": "ready true"},
    ]
    body = pod_body("p", "Pending", pod_conditions=decoys)
    real = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no"}

    assert read_pod(body).unschedulable is None
    assert read_pod(pod_body("p", "Pending", pod_conditions=[*decoys, real])).unschedulable == "no"


def test_read_pod_without_a_status_is_pending() -> None:
    assert read_pod({"metadata": {"name": "fresh"}}) == PodState("fresh", "Pending")
    assert read_pod({"metadata": {"name": "fresh"}, "status": None}) == PodState("fresh", "Pending")
    assert read_pod({"metadata": {"name": "fresh"}, "status": {"phase": None}}) == PodState(
        "fresh", "Pending"
    )


def test_read_pod_takes_the_state_that_is_set_in_a_client_style_body() -> None:
    """The Kubernetes client's to_dict() writes every state key, unset ones as None."""
    body = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Running",
            "reason": None,
            "message": None,
            "conditions": None,
            "initContainerStatuses": None,
            "containerStatuses": [
                {
                    "name": "load",
                    "state": {
                        "terminated": None,
                        "running": {"startedAt": "2030-01-02T03:04:21Z"},
                        "waiting": None,
                    },
                },
                {
                    "name": "format",
                    "state": {
                        "terminated": None,
                        "running": None,
                        "waiting": {"reason": "PodInitializing", "message": None},
                    },
                },
                {
                    "name": "fairness",
                    "state": {"terminated": None, "running": None, "waiting": None},
                },
                {"name": "other", "state": None},
                {"name": "bare"},
            ],
        },
    }

    assert read_pod(body) == PodState(
        "p",
        "Running",
        containers=(
            ContainerState("load", "running", started_at="2030-01-02T03:04:21Z"),
            ContainerState("format", "waiting", "PodInitializing"),
            ContainerState("fairness", "unknown"),
            ContainerState("other", "unknown"),
            ContainerState("bare", "unknown"),
        ),
    )


def test_a_container_without_a_state_is_unknown_and_says_nothing_more() -> None:
    (state,) = read_pod(pod_body("p", "Pending", containers=[{"name": "load"}])).containers

    assert astuple(state) == ("load", "unknown", "", "", None, None, None)


def test_a_terminated_state_wins_over_the_others() -> None:
    body = pod_body(
        "p",
        "Running",
        containers=[
            entry(
                "load",
                {
                    "waiting": {"reason": "PodInitializing"},
                    "running": {"startedAt": "2030-01-02T03:04:21Z"},
                    "terminated": {"exitCode": 2, "reason": "Error", "message": "bad"},
                },
            ),
            entry(
                "format",
                {
                    "waiting": {"reason": "PodInitializing"},
                    "running": {"startedAt": "2030-01-02T03:04:22Z"},
                },
            ),
        ],
    )

    assert read_pod(body).containers == (
        ContainerState("load", "terminated", "Error", "bad", 2),
        ContainerState("format", "running", started_at="2030-01-02T03:04:22Z"),
    )


def test_the_last_state_of_a_restarted_container_is_not_read() -> None:
    restarted = running("load")
    restarted["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}

    assert read_pod(pod_body("p", "Running", containers=[restarted])).containers == (
        ContainerState("load", "running", started_at="2030-01-02T03:04:20Z"),
    )


def test_a_container_is_found_by_name_among_init_and_check_containers() -> None:
    state = read_pod(
        pod_body("p", "Running", init=[FETCHED], containers=[running("load"), running("format")])
    )

    assert state.container("fetch") == state.init[0]
    assert state.container("format") == state.containers[1]
    assert state.container("fairness") is None


# --- decide: no checks ------------------------------------------------------------------------


def test_no_checks_validate_at_once_and_clear_status() -> None:
    decided = validation.decide(view_of(), observe(Plan(None, POLICY)))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.NO_CHECKS, NO_CHECKS),), status={"validation": None})
    )
    assert decided.result.proceed is True
    assert decided.create_pod is False


def test_no_checks_delete_the_pod_of_a_previous_run() -> None:
    previous = run_of(POD_PLAN, run=3, finished=LATER_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))

    decided = validation.decide(view_of(status), observe(Plan(Validation(), POLICY)))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.NO_CHECKS, NO_CHECKS),), status={"validation": None}),
        delete_pods=("fraud-v3-validation-3",),
    )


def test_no_checks_after_a_run_without_a_pod_delete_nothing() -> None:
    previous = run_of(METRICS_PLAN, finished=NOW_TEXT, pod=None, checks=[QUALITY_PASSED])

    decided = validation.decide(view_of(in_status(previous)), observe(Plan(None)))

    assert decided.delete_pods == ()
    assert decided.result.status == {"validation": None}


# --- decide: a run starts ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "now", "at"), [(NAME, NOW, NOW_TEXT), ("churn", LAST, LAST_TEXT)])
def test_a_first_run_creates_its_pod_and_waits(name: str, now: datetime, at: str) -> None:
    decided = validation.decide(view_of(name=name, now=now), observe(POD_PLAN, token=None))
    run = ValidationStatus(
        run=1,
        checks_digest=POD_PLAN.digest,
        token=None,
        pod_name=f"{name}-validation-1",
        started_at=at,
        checks=[
            CheckResult(name="format", result="Pending", started_at=at),
            CheckResult(name="load", result="Pending", started_at=at),
            CheckResult(name="fairness", result="Pending", started_at=at),
        ],
    )

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    f"Running format, load, fairness in Pod {name}-validation-1 "
                    f"(kubectl get pod {name}-validation-1).",
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        create_pod=True,
        status=run,
    )


@pytest.mark.parametrize(("name", "now", "at"), [(NAME, NOW, NOW_TEXT), ("churn", LAST, LAST_TEXT)])
def test_a_pod_the_api_server_refuses_ends_the_run_as_an_invalid_check(
    name: str, now: datetime, at: str
) -> None:
    started = run_of(POD_PLAN, name=name, run=2, started=NOW_TEXT)
    answer = 'Pod "x" is invalid: spec.containers[0].resources.requests[cpu]: Invalid value'
    earlier = (f"{name}-validation-1",)
    running = ValidationDecision(
        StepResult((), proceed=False), create_pod=True, delete_pods=earlier, status=started
    )

    decided = validation.pod_refused(view_of(name=name, now=now), running, answer)

    done = started.model_copy(update={"finished_at": at})
    message = (
        f"The API server refused validation Pod {name}-validation-2: {answer}. Fix the checks' "
        "image, env or resources: in the Model's spec.defaultValidation, or, since "
        "spec.validation cannot change, in a new ModelVersion."
    )
    assert decided == ValidationDecision(
        StepResult(
            (validated("False", Reason.INVALID_CHECK, message),),
            status={"validation": done},
            proceed=False,
        ),
        delete_pods=earlier,  # the earlier run's Pod goes, as the new run would have made it
        status=done,
    )


def test_only_a_run_that_started_has_a_pod_to_refuse() -> None:
    with pytest.raises(ValueError, match=r"^only a run that started has a Pod to refuse$"):
        validation.pod_refused(view_of(), ValidationDecision(StepResult(())), "refused")


def test_a_first_run_records_the_revalidate_token() -> None:
    decided = validation.decide(view_of(), observe(POD_PLAN, token="2030-01-02"))

    assert decided.status == run_of(POD_PLAN, token="2030-01-02")


def test_a_metrics_only_run_passes_without_a_pod() -> None:
    decided = validation.decide(
        view_of(now=LATER), observe(METRICS_PLAN, token="t1", metrics=GOOD_METRICS)
    )
    run = ValidationStatus(
        run=1,
        checks_digest=METRICS_PLAN.digest,
        token="t1",
        started_at=LATER_TEXT,
        finished_at=LATER_TEXT,
        checks=[QUALITY_PASSED],
    )

    assert decided == ValidationDecision(
        StepResult(
            (validated("True", Reason.CHECKS_PASSED, "Every check passed: quality."),),
            status={"validation": run},
        ),
        status=run,
    )
    assert decided.result.proceed is True


def test_a_metrics_only_run_fails_on_the_policy_threshold() -> None:
    decided = validation.decide(view_of(), observe(METRICS_PLAN, metrics={"auc": 0.87, "f1": 0.85}))
    run = ValidationStatus(
        run=1,
        checks_digest=METRICS_PLAN.digest,
        started_at=NOW_TEXT,
        finished_at=NOW_TEXT,
        checks=[
            CheckResult(
                name="quality",
                result="Failed",
                value="0.87",
                threshold="auc >= 0.9",
                message="auc = 0.87 fails 'auc >= 0.9'",
            )
        ],
    )

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "False",
                    Reason.CHECK_FAILED,
                    "Check 'quality' failed: auc = 0.87 fails 'auc >= 0.9'",
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        status=run,
    )


def test_the_policy_thresholds_come_before_the_check_s_own() -> None:
    decided = validation.decide(view_of(), observe(METRICS_PLAN, metrics={"auc": 0.5, "f1": 0.1}))

    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(
            name="quality",
            result="Failed",
            value="0.5",
            threshold="auc >= 0.9",
            message="auc = 0.5 fails 'auc >= 0.9'; f1 = 0.1 fails 'f1 >= 0.8'",
        )
    ]


def test_without_metrics_observed_every_threshold_misses_its_metric() -> None:
    view = view_of()

    decided = validation.decide(view, Observed(Plan(Validation(checks=[QUALITY])), None, None))

    assert decided.status is not None
    assert decided.status.checks[0].result == "Failed"
    assert decided.status.checks[0].message.startswith("metric 'f1' is missing")


def test_a_missing_metric_fails_its_own_threshold() -> None:
    decided = validation.decide(view_of(), observe(METRICS_PLAN, metrics={"auc": 0.95}))
    message = (
        "metric 'f1' is missing from spec.metrics, and the threshold 'f1 >= 0.8' needs it: "
        "record it in the ModelVersion's spec.metrics"
    )

    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(
            name="quality", result="Failed", value=None, threshold="f1 >= 0.8", message=message
        )
    ]
    assert decided.result.conditions == (
        validated("False", Reason.CHECK_FAILED, f"Check 'quality' failed: {message}"),
    )


def test_without_a_policy_the_check_s_own_thresholds_apply() -> None:
    plan = Plan(Validation(checks=[QUALITY]))

    decided = validation.decide(view_of(), observe(plan, metrics={"f1": 0.8}))

    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(
            name="quality",
            result="Passed",
            value="0.8",
            threshold="f1 >= 0.8",
            message="f1 = 0.8 meets 'f1 >= 0.8'",
        )
    ]


def test_the_policy_thresholds_alone_are_enough() -> None:
    plan = Plan(Validation(checks=[ValidationCheck(name="m", builtin="metrics")]), POLICY)

    decided = validation.decide(view_of(), observe(plan, metrics={"auc": 1}))

    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(
            name="m",
            result="Passed",
            value="1.0",
            threshold="auc >= 0.9",
            message="auc = 1 meets 'auc >= 0.9'",
        )
    ]


@pytest.mark.parametrize(
    "policy", [None, ValidationPolicy(require_signature=True)], ids=["no-policy", "no-thresholds"]
)
def test_a_metrics_check_without_thresholds_fails(policy: ValidationPolicy | None) -> None:
    plan = Plan(Validation(checks=[ValidationCheck(name="metrics", builtin="metrics")]), policy)

    decided = validation.decide(view_of(), observe(plan, metrics=GOOD_METRICS))
    run = ValidationStatus(
        run=1,
        checks_digest=plan.digest,
        started_at=NOW_TEXT,
        finished_at=NOW_TEXT,
        checks=[CheckResult(name="metrics", result="Failed", message=NO_THRESHOLDS)],
    )

    assert decided == ValidationDecision(
        StepResult(
            (validated("False", Reason.CHECK_FAILED, f"Check 'metrics' failed: {NO_THRESHOLDS}"),),
            status={"validation": run},
            proceed=False,
        ),
        status=run,
    )


def test_a_long_metrics_message_is_cut_to_the_status_limit() -> None:
    names = [f"metric_{i:02d}_" + "x" * 50 for i in range(30)]
    check = ValidationCheck(
        name="quality", builtin="metrics", thresholds=[f"{n} >= 1" for n in names]
    )
    plan = Plan(Validation(checks=[check]))
    full = "; ".join(
        f"metric {n!r} is missing from spec.metrics, and the threshold '{n} >= 1' needs it: "
        "record it in the ModelVersion's spec.metrics"
        for n in names
    )

    decided = validation.decide(view_of(), observe(plan))

    assert len(full) > 4096
    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(
            name="quality",
            result="Failed",
            threshold=f"{names[0]} >= 1",
            message=full[:4096],
        )
    ]


def test_metrics_and_pod_checks_start_the_pod_with_the_metrics_result_in() -> None:
    decided = validation.decide(view_of(), observe(MIXED_PLAN, metrics=GOOD_METRICS))
    run = ValidationStatus(
        run=1,
        checks_digest=MIXED_PLAN.digest,
        pod_name="fraud-v3-validation-1",
        started_at=NOW_TEXT,
        checks=[QUALITY_PASSED, CheckResult(name="format", result="Pending", started_at=NOW_TEXT)],
    )

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    running_message("fraud-v3-validation-1", "format"),
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        create_pod=True,
        status=run,
    )


def test_a_failed_metrics_check_ends_the_run_before_its_pod_is_created() -> None:
    previous = run_of(MIXED_PLAN, finished=NOW_TEXT, checks=[QUALITY_PASSED])
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))

    decided = validation.decide(
        view_of(status, now=LATER), observe(MIXED_PLAN, token="r", metrics={"auc": 0.1, "f1": 0.9})
    )
    run = ValidationStatus(
        run=2,
        checks_digest=MIXED_PLAN.digest,
        token="r",
        pod_name="fraud-v3-validation-2",
        started_at=LATER_TEXT,
        finished_at=LATER_TEXT,
        checks=[
            CheckResult(
                name="quality",
                result="Failed",
                value="0.1",
                threshold="auc >= 0.9",
                message="auc = 0.1 fails 'auc >= 0.9'",
            ),
            CheckResult(name="format", result="Pending", started_at=LATER_TEXT),
        ],
    )

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "False",
                    Reason.CHECK_FAILED,
                    "Check 'quality' failed: auc = 0.1 fails 'auc >= 0.9'",
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        delete_pods=("fraud-v3-validation-1",),
        status=run,
    )


@pytest.mark.parametrize(
    ("policy", "thresholds", "bad", "where"),
    [
        (
            ["auc => 0.9"],
            [],
            "threshold 'auc => 0.9' uses the unsupported operator '=>': " + USAGE,
            "the Model's spec.policy.validation.metricThresholds",
        ),
        (
            [],
            ["f1 >= high"],
            f"threshold 'f1 >= high': 'high' is not a number: {USAGE}",
            "the thresholds of check 'quality' (spec.validation)",
        ),
    ],
)
def test_a_malformed_threshold_is_an_invalid_check(
    policy: list[str], thresholds: list[str], bad: str, where: str
) -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=thresholds)
    plan = Plan(Validation(checks=[check, FORMAT]), ValidationPolicy(metric_thresholds=policy))

    decided = validation.decide(view_of(now=LATER), observe(plan, token="t", metrics=GOOD_METRICS))
    run = ValidationStatus(
        run=1,
        checks_digest=plan.digest,
        token="t",
        started_at=LATER_TEXT,
        finished_at=LATER_TEXT,
    )

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "False",
                    Reason.INVALID_CHECK,
                    f"A threshold cannot be checked: {bad}. Fix it in {where}.",
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        status=run,
    )


def test_an_invalid_check_counts_the_run() -> None:
    plan = Plan(Validation(checks=[QUALITY]), ValidationPolicy(metric_thresholds=["auc"]))
    previous = run_of(METRICS_PLAN, run=4, pod=None, finished=NOW_TEXT, checks=[QUALITY_PASSED])

    decided = validation.decide(view_of(in_status(previous)), observe(plan))

    assert decided.status is not None
    assert decided.status.run == 5


def test_an_invalid_check_deletes_the_previous_run_s_pod() -> None:
    previous = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))
    plan = Plan(Validation(checks=[QUALITY, FORMAT]), ValidationPolicy(metric_thresholds=["auc"]))

    decided = validation.decide(view_of(status), observe(plan))

    assert decided.delete_pods == ("fraud-v3-validation-2",)


def test_a_malformed_own_threshold_is_not_blamed_on_the_policy() -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= high"])

    decided = validation.decide(view_of(), observe(Plan(Validation(checks=[check]))))

    (said,) = decided.result.conditions
    assert said.reason == Reason.INVALID_CHECK
    assert "spec.policy" not in said.message


def test_when_both_are_malformed_the_policy_s_threshold_is_named() -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= high"])
    plan = Plan(Validation(checks=[check]), ValidationPolicy(metric_thresholds=["auc"]))

    decided = validation.decide(view_of(), observe(plan))

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.INVALID_CHECK,
            f"A threshold cannot be checked: threshold 'auc' has no comparison operator: {USAGE}. "
            "Fix it in the Model's spec.policy.validation.metricThresholds.",
        ),
    )


# --- decide: a new run ------------------------------------------------------------------------


def test_changed_checks_start_a_new_run_and_delete_the_old_pod() -> None:
    old_plan = Plan(Validation(checks=[FORMAT, LOAD]), POLICY)
    previous = run_of(old_plan, run=2, token="t", finished=NOW_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, token="t"))
    run = run_of(POD_PLAN, run=3, token="t", started=LATER_TEXT)

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    running_message("fraud-v3-validation-3", "format, load, fairness"),
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        create_pod=True,
        delete_pods=("fraud-v3-validation-2",),
        status=run,
    )


@pytest.mark.parametrize(("before", "after"), [(None, "1"), ("1", "2"), ("1", None)])
def test_a_new_revalidate_token_starts_a_new_run(before: str | None, after: str | None) -> None:
    previous = run_of(POD_PLAN, run=1, token=before, finished=NOW_TEXT)
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, token=after))

    assert decided.status == run_of(POD_PLAN, run=2, token=after, started=LATER_TEXT)
    assert decided.create_pod is True
    assert decided.delete_pods == ("fraud-v3-validation-1",)


def test_a_new_run_during_a_run_deletes_the_running_pod() -> None:
    previous = run_of(POD_PLAN, run=1)

    decided = validation.decide(
        view_of(running_in_status(POD_PLAN, previous), now=LATER),
        observe(MIXED_PLAN, metrics=GOOD_METRICS),
    )

    assert decided.delete_pods == ("fraud-v3-validation-1",)
    assert decided.create_pod is True
    assert decided.status is not None
    assert decided.status.run == 2


def test_a_new_run_never_deletes_the_pod_it_creates() -> None:
    """A status written by hand may already name the next run's Pod."""
    previous = run_of(Plan(Validation(checks=[FORMAT])), run=1, pod="fraud-v3-validation-2")

    decided = validation.decide(view_of(in_status(previous)), observe(POD_PLAN))

    assert decided.status is not None
    assert decided.status.pod_name == "fraud-v3-validation-2"
    assert decided.create_pod is True
    assert decided.delete_pods == ()


def test_a_new_metrics_only_run_deletes_the_old_pod() -> None:
    previous = run_of(POD_PLAN, run=1, finished=NOW_TEXT)

    decided = validation.decide(
        view_of(in_status(previous)), observe(METRICS_PLAN, metrics=GOOD_METRICS)
    )

    assert decided.delete_pods == ("fraud-v3-validation-1",)
    assert decided.create_pod is False


# --- decide: following a run ------------------------------------------------------------------


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


def still_running(
    plan: Plan, status: ValidationStatus, pod: str = "fraud-v3-validation-2"
) -> ValidationDecision:
    names = ", ".join(c.name for c in plan.pod_checks)
    return ValidationDecision(
        StepResult(
            (validated("Unknown", Reason.VALIDATION_RUNNING, running_message(pod, names)),),
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
    delete: tuple[str, ...] = (),
) -> ValidationDecision:
    return ValidationDecision(
        StepResult(
            (validated(state, reason, message),),
            status={"validation": status},
            proceed=state == "True",
        ),
        delete_pods=delete,
        status=status,
    )


def test_a_pod_not_scheduled_yet_is_still_running() -> None:
    current, decided = follow(POD_PLAN, pod_body("fraud-v3-validation-2", "Pending"))

    assert decided == still_running(POD_PLAN, current)


def test_a_pod_fetching_the_artifact_is_still_running() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Pending",
        init=[running("fetch")],
        containers=[
            waiting("format", "PodInitializing"),
            waiting("load", "PodInitializing"),
            waiting("fairness", "PodInitializing", image=IMAGE),
        ],
    )

    current, decided = follow(POD_PLAN, body, token="x")

    assert decided == still_running(POD_PLAN, current)


def test_running_checks_are_running_since_their_start() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        init=[FETCHED],
        containers=[
            running("format", "2030-01-02T03:04:20Z"),
            running("load", "2030-01-02T03:04:21Z"),
            waiting("fairness", "ContainerCreating", image=IMAGE),
        ],
    )

    current, decided = follow(POD_PLAN, body)
    now = current.model_copy(
        update={
            "checks": [
                CheckResult(name="format", result="Running", started_at="2030-01-02T03:04:20Z"),
                CheckResult(name="load", result="Running", started_at="2030-01-02T03:04:21Z"),
                CheckResult(name="fairness", result="Pending", started_at=NOW_TEXT),
            ]
        }
    )

    assert decided == still_running(POD_PLAN, now)


def test_finished_checks_land_in_status_while_others_run() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        init=[FETCHED],
        containers=[
            terminated(
                "format",
                0,
                report("format", True, "onnx", None, "model.onnx is a valid onnx model."),
                finished="2030-01-02T03:04:31Z",
            ),
            running("load", "2030-01-02T03:04:21Z"),
            terminated("fairness", 0, "all groups within 2%\n", started="2030-01-02T03:04:25Z"),
        ],
    )

    current, decided = follow(POD_PLAN, body)
    now = current.model_copy(
        update={
            "checks": [
                CheckResult(
                    name="format",
                    result="Passed",
                    value="onnx",
                    message="model.onnx is a valid onnx model.",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:04:31Z",
                ),
                CheckResult(name="load", result="Running", started_at="2030-01-02T03:04:21Z"),
                CheckResult(
                    name="fairness",
                    result="Passed",
                    message="all groups within 2%",
                    started_at="2030-01-02T03:04:25Z",
                    finished_at="2030-01-02T03:05:01Z",
                ),
            ]
        }
    )

    assert decided == still_running(POD_PLAN, now)


def test_a_recorded_outcome_is_not_read_again() -> None:
    kept = CheckResult(
        name="format",
        result="Passed",
        message="as recorded",
        started_at="2030-01-02T03:04:20Z",
        finished_at="2030-01-02T03:04:31Z",
    )
    current = run_of(POD_PLAN, run=2, checks=[kept, *pending(POD_PLAN)[1:]])
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        init=[FETCHED],
        containers=[terminated("format", 0, "read again"), running("load")],
    )

    _, decided = follow(POD_PLAN, body, run=current)

    assert decided.status is not None
    assert decided.status.checks[0] == kept
    assert decided.status.checks[1].result == "Running"


def test_reported_values_are_stringified_and_cut() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        init=[FETCHED],
        containers=[
            terminated(
                "format",
                0,
                json.dumps({"check": "format", "passed": True, "value": 0, "threshold": 0.5}),
            ),
            terminated(
                "load",
                0,
                json.dumps({"passed": True, "value": "v" * 300, "threshold": "t" * 257}),
            ),
            running("fairness"),
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert [(c.value, c.threshold, c.message) for c in decided.status.checks[:2]] == [
        ("0", "0.5", ""),
        ("v" * 256, "t" * 256, ""),
    ]


@pytest.mark.parametrize(
    ("version", "run", "token", "now", "at"),
    [(NAME, 2, None, LATER, LATER_TEXT), ("churn", 5, "again", LAST, LAST_TEXT)],
)
def test_a_failed_check_ends_the_run_naming_it_and_its_logs(
    version: str, run: int, token: str | None, now: datetime, at: str
) -> None:
    pod = f"{version}-validation-{run}"
    body = pod_body(
        pod,
        "Running",
        init=[FETCHED],
        containers=[
            terminated("format", 0, report("format", True, "onnx", None, "valid onnx")),
            terminated(
                "load",
                1,
                report("load", False, 412.5, 250, "p95 latency 412.5 ms is above 250 ms."),
                finished="2030-01-02T03:05:11Z",
            ),
            running("fairness", "2030-01-02T03:04:25Z"),
        ],
    )
    current = run_of(POD_PLAN, run=run, name=version, token=token)
    view = view_of(running_in_status(POD_PLAN, current), name=version, now=now)

    decided = validation.decide(view, observe(POD_PLAN, body, token=token))
    done = current.model_copy(
        update={
            "finished_at": at,
            "checks": [
                CheckResult(
                    name="format",
                    result="Passed",
                    value="onnx",
                    message="valid onnx",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:05:01Z",
                ),
                CheckResult(
                    name="load",
                    result="Failed",
                    value="412.5",
                    threshold="250",
                    message="p95 latency 412.5 ms is above 250 ms.",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:05:11Z",
                ),
                CheckResult(name="fairness", result="Running", started_at="2030-01-02T03:04:25Z"),
            ],
        }
    )

    assert decided == ended(
        done,
        "False",
        Reason.CHECK_FAILED,
        "Check 'load' failed (exit code 1): p95 latency 412.5 ms is above 250 ms. "
        f"Its logs: kubectl logs {pod} -c load.",
    )


def test_the_first_failed_check_in_plan_order_is_named() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        containers=[
            terminated("fairness", 2, "biased"),
            terminated("load", 1, "slow"),
            running("format"),
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.CHECK_FAILED,
            "Check 'load' failed (exit code 1): slow "
            "Its logs: kubectl logs fraud-v3-validation-2 -c load.",
        ),
    )


def test_an_oom_killed_check_fails_with_advice() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        init=[FETCHED],
        containers=[
            running("format"),
            terminated("load", 137, "Killed", reason="OOMKilled"),
            running("fairness"),
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert decided.status.finished_at == LATER_TEXT
    assert decided.status.checks[1] == CheckResult(
        name="load",
        result="Failed",
        message=OOM_RESULT,
        started_at="2030-01-02T03:04:20Z",
        finished_at="2030-01-02T03:05:01Z",
    )
    (said,) = decided.result.conditions
    assert (said.type, said.status, said.reason) == (VALIDATED, "False", Reason.CHECK_FAILED)
    assert said.message.startswith(
        "Check 'load' failed (exit code 137): it ran out of memory (OOMKilled): raise its "
        "resources.limits.memory"
    )
    assert said.message.endswith(" Its logs: kubectl logs fraud-v3-validation-2 -c load.")
    assert decided.delete_pods == ()
    assert decided.result.proceed is False


def test_an_oom_killed_check_s_report_values_are_dropped() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Running",
        containers=[
            terminated("load", 137, report("load", False, 3, 2, "half way"), reason="OOMKilled")
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert (decided.status.checks[1].value, decided.status.checks[1].threshold) == (None, None)
    assert decided.status.checks[1].message == OOM_RESULT


def test_an_oom_killed_check_s_message_is_punctuated() -> None:
    body = pod_body(
        "fraud-v3-validation-2", "Running", containers=[terminated("load", 137, reason="OOMKilled")]
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions[0].message == (
        "Check 'load' failed (exit code 137): it ran out of memory (OOMKilled): raise its "
        "resources.limits.memory. Its logs: kubectl logs fraud-v3-validation-2 -c load."
    )


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"]
)
def test_a_check_image_that_cannot_be_pulled_ends_the_run(reason: str) -> None:
    kubelet = f'Back-off pulling image "{IMAGE}": {reason}'
    body = pod_body(
        "fraud-v3-validation-2",
        "Pending",
        init=[FETCHED],
        containers=[
            running("format"),
            waiting("fairness", reason, kubelet, image=IMAGE),
        ],
    )

    current, decided = follow(POD_PLAN, body)
    done = current.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                CheckResult(name="format", result="Running", started_at="2030-01-02T03:04:20Z"),
                *current.checks[1:],
            ],
        }
    )

    assert decided == ended(
        done,
        "False",
        Reason.IMAGE_PULL_FAILED,
        f"Check 'fairness' cannot start: {reason} for {IMAGE}: {kubelet}.",
    )


def test_a_builtin_check_that_cannot_be_pulled_names_the_registry_image() -> None:
    body = pod_body(
        "fraud-v3-validation-2", "Pending", containers=[waiting("format", "ImagePullBackOff")]
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.IMAGE_PULL_FAILED,
            "Check 'format' cannot start: ImagePullBackOff for the registry's own image: "
            "no detail from the kubelet.",
        ),
    )


@pytest.mark.parametrize(
    "reason", ["ContainerCreating", "PodInitializing", "CreateContainerConfigError", ""]
)
def test_other_waiting_reasons_keep_the_run_going(reason: str) -> None:
    body = pod_body(
        "fraud-v3-validation-2", "Pending", containers=[waiting("fairness", reason, image=IMAGE)]
    )

    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def test_a_fetch_image_that_cannot_be_pulled_ends_the_run() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Pending",
        init=[waiting("fetch", "ImagePullBackOff", 'Back-off pulling image "x"')],
        containers=[waiting("format", "PodInitializing")],
    )

    current, decided = follow(POD_PLAN, body)

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.IMAGE_PULL_FAILED,
        "The validation Pod's fetch step cannot start: ImagePullBackOff for the registry's own "
        'image: Back-off pulling image "x". Check the operator\'s MODELREGISTRY_VALIDATION_IMAGE.',
    )


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"]
)
def test_each_image_pull_reason_of_the_fetch_step_ends_the_run(reason: str) -> None:
    body = pod_body("fraud-v3-validation-2", "Pending", init=[waiting("fetch", reason)])

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.IMAGE_PULL_FAILED,
            f"The validation Pod's fetch step cannot start: {reason} for the registry's own "
            "image: no detail from the kubelet. Check the operator's "
            "MODELREGISTRY_VALIDATION_IMAGE.",
        ),
    )


@pytest.mark.parametrize("reason", ["ContainerCreating", "CreateContainerConfigError"])
def test_a_fetch_step_waiting_for_other_reasons_keeps_the_run_going(reason: str) -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Pending",
        init=[waiting("fetch", reason, "ErrImagePull once")],
        containers=[waiting("format", "PodInitializing")],
    )

    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def fetch_failed(code: int, message: str) -> dict[str, Any]:
    return pod_body(
        "fraud-v3-validation-2",
        "Failed",
        init=[terminated("fetch", code, message, finished="2030-01-02T03:04:19Z")],
        containers=[
            waiting("format", "PodInitializing"),
            waiting("load", "PodInitializing"),
            waiting("fairness", "PodInitializing", image=IMAGE),
        ],
    )


def test_bytes_that_changed_before_validation_end_the_run() -> None:
    said = (
        f"{URI} hashes to sha256:{'b' * 64} now, but {DIGEST_A} was verified: the bytes "
        "changed before validation. Nothing was validated."
    )
    body = fetch_failed(3, report("fetch", False, None, None, said))

    current, decided = follow(POD_PLAN, body)

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.ARTIFACT_CHANGED_BEFORE_VALIDATION,
        said,
    )


@pytest.mark.parametrize(
    ("code", "message", "said"),
    [
        (
            4,
            report("fetch", False, None, None, f"Could not fetch {URI}: AccessDenied"),
            f"Could not fetch {URI}: AccessDenied",
        ),
        (2, "Traceback (most recent call last):\n  ...\nKeyError: 'uri'\n", None),
        (1, "", ""),
    ],
)
def test_a_fetch_that_fails_otherwise_fails_the_pod(
    code: int, message: str, said: str | None
) -> None:
    text = message.strip() if said is None else said
    current, decided = follow(POD_PLAN, fetch_failed(code, message))

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.POD_FAILED,
        f"Fetching the artifact into Pod fraud-v3-validation-2 failed: {text}",
    )


def test_a_fetch_that_succeeded_or_runs_says_nothing() -> None:
    body = pod_body("fraud-v3-validation-2", "Pending", init=[FETCHED])
    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def test_a_deadline_names_the_checks_still_running() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
        init=[FETCHED],
        containers=[
            terminated("format", 0),
            running("load", "2030-01-02T03:04:21Z"),
            running("fairness", "2030-01-02T03:04:22Z"),
        ],
    )

    current, decided = follow(POD_PLAN, body)
    done = current.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                CheckResult(
                    name="format",
                    result="Passed",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:05:01Z",
                ),
                CheckResult(name="load", result="Running", started_at="2030-01-02T03:04:21Z"),
                CheckResult(name="fairness", result="Running", started_at="2030-01-02T03:04:22Z"),
            ],
        }
    )

    assert decided == ended(
        done,
        "False",
        Reason.DEADLINE_EXCEEDED,
        "The checks ran past spec.validation.deadlineSeconds; still running: load, fairness. "
        "Pod was active on the node longer than the specified deadline",
    )


def test_a_deadline_without_container_statuses_names_every_check() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.DEADLINE_EXCEEDED,
            "The checks ran past spec.validation.deadlineSeconds; still running: format, load, "
            "fairness. Pod was active on the node longer than the specified deadline",
        ),
    )


def test_a_deadline_after_every_check_ended_names_none() -> None:
    plan = Plan(Validation(checks=[FORMAT]))
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="DeadlineExceeded",
        containers=[terminated("format", 0)],
    )

    _, decided = follow(plan, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.DEADLINE_EXCEEDED,
            "The checks ran past spec.validation.deadlineSeconds; still running: none.",
        ),
    )


def test_a_deadline_is_the_verdict_after_the_kubelet_killed_the_checks() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
        init=[FETCHED],
        containers=[
            terminated("format", 0),
            terminated("load", 137, reason="Error"),
            terminated("fairness", 143, reason="Error", finished="2030-01-02T03:14:20Z"),
        ],
    )

    current, decided = follow(POD_PLAN, body)
    done = current.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                CheckResult(
                    name="format",
                    result="Passed",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:05:01Z",
                ),
                CheckResult(
                    name="load",
                    result="Failed",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:05:01Z",
                ),
                CheckResult(
                    name="fairness",
                    result="Failed",
                    started_at="2030-01-02T03:04:20Z",
                    finished_at="2030-01-02T03:14:20Z",
                ),
            ],
        }
    )

    assert decided == ended(
        done,
        "False",
        Reason.DEADLINE_EXCEEDED,
        "The checks ran past spec.validation.deadlineSeconds; still running: load, fairness. "
        "Pod was active on the node longer than the specified deadline",
    )


def test_a_deadline_wins_over_a_fetch_step_that_never_started() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
        init=[waiting("fetch", "ImagePullBackOff")],
        containers=[waiting("format", "PodInitializing")],
    )

    _, decided = follow(Plan(Validation(checks=[FORMAT])), body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.DEADLINE_EXCEEDED,
            "The checks ran past spec.validation.deadlineSeconds; still running: format. "
            "Pod was active on the node longer than the specified deadline",
        ),
    )


def test_a_pod_failed_for_another_reason_is_judged_by_its_containers() -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason="Evicted",
        containers=[terminated("format", 0), terminated("load", 137, reason="Error")],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions[0].reason == Reason.CHECK_FAILED


@pytest.mark.parametrize(
    ("reason", "message", "said"),
    [
        (
            "Evicted",
            "The node was low on resource: ephemeral-storage.",
            "Evicted The node was low on resource: ephemeral-storage.",
        ),
        ("NodeLost", None, "NodeLost"),
        (None, None, ""),
    ],
)
def test_a_pod_that_failed_for_its_own_reason(
    reason: str | None, message: str | None, said: str
) -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Failed",
        reason=reason,
        message=message,
        containers=[running("format"), waiting("load", "ContainerCreating")],
    )

    current, decided = follow(POD_PLAN, body)
    done = current.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                CheckResult(name="format", result="Running", started_at="2030-01-02T03:04:20Z"),
                *current.checks[1:],
            ],
        }
    )

    assert decided == ended(
        done, "False", Reason.POD_FAILED, f"Pod fraud-v3-validation-2 failed: {said}".strip()
    )


@pytest.mark.parametrize(
    ("plan", "names"),
    [(POD_PLAN, "format, load, fairness"), (MIXED_PLAN, "quality, format")],
)
def test_a_pod_that_succeeded_passes_and_is_deleted(plan: Plan, names: str) -> None:
    body = pod_body(
        "fraud-v3-validation-2",
        "Succeeded",
        init=[FETCHED],
        containers=[terminated(c.name, 0, f"{c.name} ok") for c in plan.pod_checks],
    )
    first = [QUALITY_PASSED] if plan is MIXED_PLAN else []
    current = run_of(plan, run=2, checks=[*first, *pending(plan)[len(first) :]])

    _, decided = follow(plan, body, run=current)
    done = current.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                *first,
                *(
                    CheckResult(
                        name=c.name,
                        result="Passed",
                        message=f"{c.name} ok",
                        started_at="2030-01-02T03:04:20Z",
                        finished_at="2030-01-02T03:05:01Z",
                    )
                    for c in plan.pod_checks
                ),
            ],
        }
    )

    assert decided == ended(
        done,
        "True",
        Reason.CHECKS_PASSED,
        f"Every check passed: {names}.",
        delete=("fraud-v3-validation-2",),
    )
    assert decided.result.proceed is True


def test_an_unschedulable_pod_says_so_and_the_run_goes_on() -> None:
    current, decided = follow(POD_PLAN, unscheduled("fraud-v3-validation-2"))

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "False",
                    Reason.UNSCHEDULABLE,
                    f"Pod fraud-v3-validation-2 cannot be scheduled: {UNSCHEDULABLE_TEXT}",
                ),
            ),
            status={"validation": current},
            proceed=False,
        ),
        status=current,
    )
    assert current.finished_at is None


def test_an_unschedulable_pod_without_a_scheduler_message() -> None:
    _, decided = follow(POD_PLAN, unscheduled("fraud-v3-validation-2", message=None))

    assert decided.result.conditions[0].message == (
        "Pod fraud-v3-validation-2 cannot be scheduled: the scheduler found no node for it"
    )


def test_a_pod_that_vanished_once_is_created_again() -> None:
    current, decided = follow(POD_PLAN, None)
    again = current.model_copy(update={"recreated": 1})

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    running_message("fraud-v3-validation-2", "format, load, fairness")
                    + " Its Pod vanished mid-run and was created again.",
                ),
            ),
            status={"validation": again},
            proceed=False,
        ),
        create_pod=True,
        status=again,
    )


@pytest.mark.parametrize("recreated", [1, 2])
def test_a_pod_that_vanished_twice_fails_the_run(recreated: int) -> None:
    current = run_of(POD_PLAN, run=2, recreated=recreated)

    _, decided = follow(POD_PLAN, None, run=current)

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.POD_FAILED,
        "The validation Pod fraud-v3-validation-2 vanished twice before it finished. Re-run "
        "with `kubectl annotate modelversion <name> modelregistry.io/revalidate=<new value>`.",
    )


# --- decide: a finished run -------------------------------------------------------------------


def test_a_passed_run_keeps_its_condition_and_deletes_its_pod() -> None:
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(current, ("True", Reason.CHECKS_PASSED, "Every check passed: format."))
    body = pod_body("fraud-v3-validation-2", "Succeeded")

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, body))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.CHECKS_PASSED, "Every check passed: format."),)),
        delete_pods=("fraud-v3-validation-2",),
        status=current,
    )


def test_a_passed_run_whose_pod_is_gone_deletes_nothing() -> None:
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(current, ("True", Reason.CHECKS_PASSED, "Every check passed: format."))

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.CHECKS_PASSED, "Every check passed: format."),)),
        status=current,
    )


def test_a_failed_run_keeps_its_condition_and_its_pod_for_the_logs() -> None:
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT, token="t")
    status = in_status(current, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))
    body = pod_body("fraud-v3-validation-2", "Failed", containers=[terminated("load", 1)])

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, body, token="t"))

    assert decided == ValidationDecision(
        StepResult(
            (validated("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."),),
            proceed=False,
        ),
        status=current,
    )


def test_a_finished_run_with_its_condition_lost_is_judged_from_its_results() -> None:
    results = [
        CheckResult(name="format", result="Passed", message="ok"),
        CheckResult(name="load", result="Failed", message="too slow"),
        CheckResult(name="fairness", result="Failed", message="biased"),
    ]
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT, checks=results)
    body = pod_body("fraud-v3-validation-2", "Failed")

    decided = validation.decide(
        view_of(ModelVersionStatus(validation=current), now=LATER), observe(POD_PLAN, body)
    )

    assert decided == ValidationDecision(
        StepResult(
            (validated("False", Reason.CHECK_FAILED, "Check 'load' failed: too slow"),),
            status={"validation": current},
            proceed=False,
        ),
        status=current,
    )


def test_a_passed_run_with_its_condition_lost_is_judged_passed() -> None:
    results = [
        QUALITY_PASSED,
        CheckResult(name="format", result="Passed", message="ok"),
    ]
    current = run_of(MIXED_PLAN, run=2, finished=NOW_TEXT, checks=results)
    other = condition(READY, "True", Reason.SUCCEEDED, "ready")

    decided = validation.decide(
        view_of(ModelVersionStatus(validation=current, conditions=[other]), now=LATER),
        observe(MIXED_PLAN),
    )

    assert decided == ValidationDecision(
        StepResult(
            (validated("True", Reason.CHECKS_PASSED, "Every check passed: quality, format."),),
            status={"validation": current},
        ),
        status=current,
    )


# --- whole passes: Ready, Reconciling and Stalled follow Validated ----------------------------


VERIFIED_A = f"{URI} is {DIGEST_A} (42 bytes, versionId v1)."


def whole_pass(view: VersionView, observed: Observed) -> Decision:
    """Every step, as reconciler/version.py chains them, on a verified version 3."""
    results = [
        modelref.decide(view, True),
        numbering.decide(view, VersionDecision(3)),
        verification.unchanged(view),
    ]
    results.append(validation.decide(view, observed).result)
    return compose.compose(view, results, OWNED)


def earlier_rows() -> list[Row]:
    return [
        (MODEL_FOUND, "True", Reason.MODEL_EXISTS, model_exists(), NOW_TEXT),
        (VERSION_ASSIGNED, "True", Reason.VERSION_HELD, version_held(3, MODEL), NOW_TEXT),
        (ARTIFACT_VERIFIED, "True", Reason.VERIFIED, VERIFIED_A, NOW_TEXT),
    ]


def verified_view(generation: int = 2) -> VersionView:
    status = verified_status(make_spec(version=3), generation=generation)
    return replace(view_of(status, now=LATER, generation=generation), spec=make_spec(version=3))


def test_a_running_validation_keeps_the_version_reconciling() -> None:
    view = verified_view()
    text = running_message("fraud-v3-validation-1", "format, load, fairness")

    decision = whole_pass(view, observe(POD_PLAN))

    assert decision.status == ModelVersionStatus(
        observed_generation=2,
        version=3,
        stage="None",
        artifact=view.status.artifact,
        artifact_checked_at=NOW_TEXT,
        validation=run_of(POD_PLAN, started=LATER_TEXT),
        conditions=conditions(
            2,
            (READY, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
            (RECONCILING, "True", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
            *earlier_rows(),
            (VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
        ),
    )
    assert decision.events == ()
    assert decision.retry is False


def test_a_failed_check_stalls_the_version_with_a_warning() -> None:
    view = verified_view()
    text = "Check 'quality' failed: auc = 0.87 fails 'auc >= 0.9'"

    decision = whole_pass(view, observe(METRICS_PLAN, metrics={"auc": 0.87, "f1": 0.9}))

    assert decision.status.conditions == conditions(
        2,
        (READY, "False", Reason.CHECK_FAILED, text, LATER_TEXT),
        (STALLED, "True", Reason.CHECK_FAILED, text, LATER_TEXT),
        *earlier_rows(),
        (VALIDATED, "False", Reason.CHECK_FAILED, text, LATER_TEXT),
    )
    assert decision.events == (Event("Warning", Reason.CHECK_FAILED, text),)
    assert decision.retry is False


def test_an_unschedulable_pod_is_retried() -> None:
    current = run_of(POD_PLAN, run=1)
    first = verified_view()
    view = replace(first, status=first.status.model_copy(update={"validation": current}))
    text = f"Pod fraud-v3-validation-1 cannot be scheduled: {UNSCHEDULABLE_TEXT}"

    decision = whole_pass(view, observe(POD_PLAN, unscheduled("fraud-v3-validation-1")))

    assert decision.status.conditions == conditions(
        2,
        (READY, "False", Reason.UNSCHEDULABLE, text, LATER_TEXT),
        (RECONCILING, "True", Reason.UNSCHEDULABLE, text + " Retrying.", LATER_TEXT),
        *earlier_rows(),
        (VALIDATED, "False", Reason.UNSCHEDULABLE, text, LATER_TEXT),
    )
    assert decision.events == (Event("Warning", Reason.UNSCHEDULABLE, text),)
    assert decision.retry is True


def test_passed_checks_make_the_version_ready_and_are_announced() -> None:
    view = verified_view()

    decision = whole_pass(view, observe(METRICS_PLAN, metrics=GOOD_METRICS))

    assert decision.status.conditions == conditions(
        2,
        (READY, "True", Reason.SUCCEEDED, ready(3), NOW_TEXT),
        *earlier_rows(),
        (VALIDATED, "True", Reason.CHECKS_PASSED, "Every check passed: quality.", LATER_TEXT),
    )
    assert decision.events == (
        Event("Normal", Reason.CHECKS_PASSED, "Every check passed: quality."),
    )
