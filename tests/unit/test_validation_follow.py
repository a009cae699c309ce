"""Following a run in the operator's own Pod: each container's outcome lands in status, and
the run's verdict: a pass needs the fetch step and every planned check to end with exit
code 0; a failed check, fetch, image pull, deadline or Pod ends the run saying which."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from modelregistry.api.modelversion import CheckResult, ValidationCheck
from modelregistry.decisions import validation
from modelregistry.decisions.passdata import StepResult
from modelregistry.decisions.validation import ValidationDecision
from modelregistry.decisions.validationplan import Plan
from modelregistry.reasons import Reason

from .builders import DIGEST_A, LAST, LAST_TEXT, LATER, LATER_TEXT, NOW_TEXT, URI
from .validationbuilders import (
    FETCHED,
    FORMAT,
    IMAGE,
    MIXED_PLAN,
    NAME,
    POD_PLAN,
    QUALITY,
    UNSCHEDULABLE_TEXT,
    ended,
    follow,
    observe,
    pending,
    pod_body,
    pod_name,
    pod_ref,
    report,
    run_of,
    running,
    running_in_status,
    still_running,
    terminated,
    unscheduled,
    validated,
    view_of,
    waiting,
)

POD = pod_name(2)
OOM_RESULT = "The check ran out of memory (OOMKilled): raise its resources.limits.memory."
RERUN = "kubectl annotate modelversion <name> modelregistry.io/revalidate=<new value>"
QUALITY_PASSED = CheckResult(name="quality", result="Passed", message="from the metrics")


def test_a_pod_not_scheduled_yet_is_still_running() -> None:
    current, decided = follow(POD_PLAN, pod_body(POD, "Pending"))

    assert decided == still_running(POD_PLAN, current)


def test_a_pod_fetching_the_artifact_is_still_running() -> None:
    body = pod_body(
        POD,
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


def test_a_pod_in_an_unknown_phase_is_still_running() -> None:
    current, decided = follow(POD_PLAN, pod_body(POD, "Unknown", init=[FETCHED]))

    assert decided == still_running(POD_PLAN, current)


def test_running_checks_are_running_since_their_start() -> None:
    body = pod_body(
        POD,
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
        POD,
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
        POD,
        "Running",
        init=[FETCHED],
        containers=[terminated("format", 0, "read again"), running("load")],
    )

    _, decided = follow(POD_PLAN, body, run=current)

    assert decided.status is not None
    assert decided.status.checks[0] == kept
    assert decided.status.checks[1].result == "Running"


def test_a_container_in_an_unknown_state_leaves_its_result_as_it_was() -> None:
    body = pod_body(POD, "Running", init=[FETCHED], containers=[{"name": "load"}])

    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def test_reported_values_are_stringified_and_cut() -> None:
    body = pod_body(
        POD,
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


def test_a_report_cannot_pass_a_check_whose_exit_code_failed_it() -> None:
    said = json.dumps({"passed": True, "message": "all good, trust me"})
    body = pod_body(POD, "Running", init=[FETCHED], containers=[terminated("fairness", 1, said)])

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert decided.status.checks[2].result == "Failed"
    assert decided.result.conditions == (
        validated(
            "False",
            Reason.CHECK_FAILED,
            f"Check 'fairness' failed (exit code 1): all good, trust me Its logs: kubectl logs "
            f"{POD} -c fairness.",
        ),
    )


@pytest.mark.parametrize(
    ("version", "run", "token", "now", "at"),
    [(NAME, 2, None, LATER, LATER_TEXT), ("churn", 5, "again", LAST, LAST_TEXT)],
)
def test_a_failed_check_ends_the_run_naming_it_and_its_logs(
    version: str, run: int, token: str | None, now: datetime, at: str
) -> None:
    pod = pod_name(run, version)
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
        POD,
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
            f"Check 'load' failed (exit code 1): slow Its logs: kubectl logs {POD} -c load.",
        ),
    )


def test_an_oom_killed_check_fails_with_advice() -> None:
    body = pod_body(
        POD,
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
    assert decided.result.conditions == (
        validated(
            "False",
            Reason.CHECK_FAILED,
            "Check 'load' failed (exit code 137): it ran out of memory (OOMKilled): raise its "
            f"resources.limits.memory. Its logs: kubectl logs {POD} -c load.",
        ),
    )
    assert decided.delete_pods == ()
    assert decided.result.proceed is False


def test_an_oom_killed_check_s_report_values_are_dropped() -> None:
    body = pod_body(
        POD,
        "Running",
        containers=[
            terminated("load", 137, report("load", False, 3, 2, "half way"), reason="OOMKilled")
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert (decided.status.checks[1].value, decided.status.checks[1].threshold) == (None, None)
    assert decided.status.checks[1].message == OOM_RESULT


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"]
)
def test_a_check_image_that_cannot_be_pulled_ends_the_run(reason: str) -> None:
    kubelet = f'Back-off pulling image "{IMAGE}": {reason}'
    body = pod_body(
        POD,
        "Pending",
        init=[FETCHED],
        containers=[running("format"), waiting("fairness", reason, kubelet, image=IMAGE)],
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
    body = pod_body(POD, "Pending", containers=[waiting("format", "ImagePullBackOff")])

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
    body = pod_body(POD, "Pending", containers=[waiting("fairness", reason, image=IMAGE)])

    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def test_a_fetch_image_that_cannot_be_pulled_ends_the_run() -> None:
    body = pod_body(
        POD,
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
    body = pod_body(POD, "Pending", init=[waiting("fetch", reason)])

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
        POD,
        "Pending",
        init=[waiting("fetch", reason, "ErrImagePull once")],
        containers=[waiting("format", "PodInitializing")],
    )

    current, decided = follow(POD_PLAN, body)

    assert decided == still_running(POD_PLAN, current)


def fetch_failed(code: int, message: str) -> dict[str, object]:
    return pod_body(
        POD,
        "Failed",
        init=[terminated("fetch", code, message, finished="2030-01-02T03:04:19Z")],
        containers=[
            waiting("format", "PodInitializing"),
            waiting("load", "PodInitializing"),
            waiting("fairness", "PodInitializing", image=IMAGE),
        ],
    )


def test_bytes_that_changed_before_validation_end_the_run_and_are_verified_again() -> None:
    said = (
        f"{URI} hashes to sha256:{'b' * 64} now, but {DIGEST_A} was verified: the bytes "
        "changed before validation. Nothing was validated."
    )
    body = fetch_failed(3, report("fetch", False, None, None, said))

    current, decided = follow(POD_PLAN, body)
    failed = ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.ARTIFACT_CHANGED_BEFORE_VALIDATION,
        said,
    )

    assert decided == ValidationDecision(
        StepResult(
            failed.result.conditions,
            status=failed.result.status,
            proceed=False,
            reverify=True,
        ),
        status=failed.status,
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
        f"Fetching the artifact into Pod {POD} failed: {text}",
    )
    assert decided.result.reverify is False


def test_a_fetch_that_succeeded_or_runs_says_nothing() -> None:
    current, decided = follow(POD_PLAN, pod_body(POD, "Pending", init=[FETCHED]))

    assert decided == still_running(POD_PLAN, current)


def test_a_deadline_names_the_checks_still_running() -> None:
    body = pod_body(
        POD,
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
        POD,
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
    body = pod_body(POD, "Failed", reason="DeadlineExceeded", containers=[terminated("format", 0)])

    _, decided = follow(Plan(checks=(FORMAT,)), body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.DEADLINE_EXCEEDED,
            "The checks ran past spec.validation.deadlineSeconds; still running: none.",
        ),
    )


def test_a_deadline_is_the_verdict_after_the_kubelet_killed_the_checks() -> None:
    body = pod_body(
        POD,
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
        POD,
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
        init=[waiting("fetch", "ImagePullBackOff")],
        containers=[waiting("format", "PodInitializing")],
    )

    _, decided = follow(Plan(checks=(FORMAT,)), body)

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
        POD,
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
        POD,
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

    assert decided == ended(done, "False", Reason.POD_FAILED, f"Pod {POD} failed: {said}".strip())


def test_an_unschedulable_pod_says_so_and_the_run_goes_on() -> None:
    current, decided = follow(POD_PLAN, unscheduled(POD))

    assert decided == ValidationDecision(
        StepResult(
            (
                validated(
                    "False",
                    Reason.UNSCHEDULABLE,
                    f"Pod {POD} cannot be scheduled: {UNSCHEDULABLE_TEXT}",
                ),
            ),
            status={"validation": current},
            proceed=False,
        ),
        status=current,
    )
    assert current.finished_at is None


def test_an_unschedulable_pod_without_a_scheduler_message() -> None:
    _, decided = follow(POD_PLAN, unscheduled(POD, message=None))

    assert decided.result.conditions[0].message == (
        f"Pod {POD} cannot be scheduled: the scheduler found no node for it"
    )


# --- a pass needs the fetch step and every planned check to end with exit code 0 --------------


@pytest.mark.parametrize(
    ("plan", "names"),
    [(POD_PLAN, "format, load, fairness"), (MIXED_PLAN, "quality, format")],
)
def test_a_pod_that_succeeded_passes_and_is_deleted(plan: Plan, names: str) -> None:
    body = pod_body(
        POD,
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
        done, "True", Reason.CHECKS_PASSED, f"Every check passed: {names}.", delete=(pod_ref(POD),)
    )
    assert decided.result.proceed is True


def test_a_container_the_plan_does_not_know_changes_nothing() -> None:
    plan = Plan(checks=(FORMAT,))
    body = pod_body(
        POD,
        "Succeeded",
        init=[FETCHED],
        containers=[terminated("format", 0), terminated("extra", 1, "ignored")],
    )

    _, decided = follow(plan, body)

    assert decided.result.conditions == (
        validated("True", Reason.CHECKS_PASSED, "Every check passed: format."),
    )


FETCH_MISSING = (
    f"Pod {POD} ended, but its fetch step has no exit code 0: the bytes were not verified in "
    f"it, so nothing it ran counts. Re-run with `{RERUN}`."
)


@pytest.mark.parametrize(
    "init",
    [
        [],
        [running("fetch")],
        [waiting("fetch", "PodInitializing")],
        [{"name": "fetch"}],
        [{**terminated("fetch", 0), "name": "fetcher"}],
    ],
    ids=["no-fetch", "fetch-running", "fetch-waiting", "fetch-unknown", "another-name"],
)
def test_a_succeeded_pod_without_a_fetch_step_that_ended_with_0_fails(
    init: list[dict[str, object]],
) -> None:
    body = pod_body(
        POD,
        "Succeeded",
        init=init,
        containers=[terminated(c.name, 0) for c in POD_PLAN.pod_checks],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (validated("False", Reason.POD_FAILED, FETCH_MISSING),)
    assert decided.status is not None
    assert decided.status.finished_at == LATER_TEXT
    assert decided.delete_pods == ()


@pytest.mark.parametrize(
    ("containers", "missing"),
    [
        ([terminated("format", 0), terminated("load", 0)], "fairness"),
        ([terminated("format", 0)], "load, fairness"),
        ([], "format, load, fairness"),
        (
            [terminated("format", 0), running("load"), terminated("fairness", 0)],
            "load",
        ),
        (
            [
                terminated("format", 0),
                waiting("load", "PodInitializing"),
                terminated("fairness", 0),
            ],
            "load",
        ),
        ([terminated("format", 0), {"name": "load"}, terminated("fairness", 0)], "load"),
    ],
    ids=["one-missing", "two-missing", "none-ran", "still-running", "still-waiting", "unknown"],
)
def test_a_succeeded_pod_passes_only_with_every_planned_check_ended_with_0(
    containers: list[dict[str, object]], missing: str
) -> None:
    body = pod_body(POD, "Succeeded", init=[FETCHED], containers=containers)

    _, decided = follow(POD_PLAN, body)

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.POD_FAILED,
            f"Pod {POD} ended, but {missing} ended without exit code 0 (no result is no pass). "
            f"Re-run with `{RERUN}`.",
        ),
    )
    assert decided.delete_pods == ()


def test_a_check_without_an_exit_code_is_no_pass() -> None:
    body = pod_body(
        POD,
        "Succeeded",
        init=[FETCHED],
        containers=[
            {"name": "format", "state": {"terminated": {"reason": "Completed"}}},
            terminated("load", 0),
            terminated("fairness", 0),
        ],
    )

    _, decided = follow(POD_PLAN, body)

    assert decided.status is not None
    assert decided.status.checks[0].result == "Failed"
    assert decided.result.conditions[0].reason == Reason.CHECK_FAILED


def test_the_metrics_check_needs_no_container_to_pass() -> None:
    plan = Plan(checks=(QUALITY, FORMAT, ValidationCheck(name="q2", builtin="metrics")))
    body = pod_body(POD, "Succeeded", init=[FETCHED], containers=[terminated("format", 0)])

    _, decided = follow(plan, body)

    assert decided.result.conditions == (
        validated("True", Reason.CHECKS_PASSED, "Every check passed: quality, format, q2."),
    )
