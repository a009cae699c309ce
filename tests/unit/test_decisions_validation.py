"""Step 4, the checks: when a run starts, what the metrics check decides without a Pod, what a
finished run keeps, and the exact Validated condition, status.validation and Pod actions of
each pass; then whole passes (Ready, Reconciling and Stalled follow Validated)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    CheckResult,
    ModelVersionStatus,
    ValidationCheck,
    ValidationStatus,
)
from modelregistry.decisions import modelref, numbering, validation, verification
from modelregistry.decisions import version as compose
from modelregistry.decisions.numbering import VersionDecision
from modelregistry.decisions.passdata import Decision, Event, StepResult, VersionView
from modelregistry.decisions.podstate import PodRef
from modelregistry.decisions.validation import Observed, ValidationDecision
from modelregistry.decisions.validationplan import Plan
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
    NOW,
    NOW_TEXT,
    OWNED,
    URI,
    Row,
    condition,
    conditions,
    make_spec,
    model_exists,
    ready,
    verified_status,
    version_held,
)
from .validationbuilders import (
    FORMAT,
    LOAD,
    METRICS_PLAN,
    MIXED_PLAN,
    NAME,
    OTHER_UID,
    POD_PLAN,
    POD_UID,
    POLICY,
    QUALITY,
    UNSCHEDULABLE_TEXT,
    VERSION_UID,
    creating,
    ended,
    in_status,
    observe,
    pod_body,
    pod_name,
    pod_ref,
    run_of,
    running_in_status,
    running_message,
    starting,
    unscheduled,
    validated,
    view_of,
)

GOOD_METRICS = {"auc": 0.93, "f1": 0.85}
QUALITY_PASSED = CheckResult(
    name="quality",
    result="Passed",
    value="0.85",
    threshold="f1 >= 0.8",
    message="auc = 0.93 meets 'auc >= 0.9'; f1 = 0.85 meets 'f1 >= 0.8'",
)

NO_CHECKS = (
    "No validation checks apply: none are declared (spec.validation, or the Model's "
    "spec.defaultValidation) and the Model requires none (spec.policy.validation.requiredChecks)."
)
NO_THRESHOLDS = (
    "No thresholds to check: set the Model's spec.policy.validation.metricThresholds or this "
    "check's thresholds."
)
USAGE = "write it as '<metric> <operator> <number>', the operator one of >=, >, <=, <, =="
RERUN = "kubectl annotate modelversion <name> modelregistry.io/revalidate=<new value>"

# Pods this version controls, of earlier runs, and one it does not.
EARLIER = pod_body(pod_name(1), "Failed", uid="uid-run-1")
EARLIEST = pod_body(pod_name(0), "Succeeded", uid="uid-run-0")
FOREIGN = pod_body("fraud-v3-validation-1-aaaaa", "Succeeded", uid="uid-x", controller=OTHER_UID)
ORPHAN = pod_body("fraud-v3-validation-1-bbbbb", "Succeeded", uid="uid-y", controller=None)
OWN_PODS = (PodRef(pod_name(1), "uid-run-1"), PodRef(pod_name(0), "uid-run-0"))


def started(
    plan: Plan, *, run: int = 1, token: str | None = None, at: str = NOW_TEXT
) -> ValidationStatus:
    """status.validation of a run that has no Pod yet."""
    return run_of(plan, run=run, token=token, started=at, pod=None)


# --- constants --------------------------------------------------------------------------------


def test_the_step_owns_validated_only() -> None:
    assert validation.CONDITIONS == (VALIDATED,)


def test_the_names_the_step_shares_with_the_pod_and_the_reconciler() -> None:
    assert validation.REVALIDATE_ANNOTATION == "modelregistry.io/revalidate"
    assert validation.FETCH_CHANGED == 3
    assert validation.MAX_RECREATED == 1
    assert validation.RERUN == RERUN
    assert (
        frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})
        == validation.IMAGE_PULL_REASONS
    )


def test_what_the_reconciler_observes_defaults_to_nothing() -> None:
    observed = Observed(METRICS_PLAN, None, None)

    assert (observed.metrics, observed.pods) == ({}, ())


# --- decide: no checks ------------------------------------------------------------------------


def test_no_checks_validate_at_once_and_clear_status() -> None:
    decided = validation.decide(view_of(), observe(Plan(policy=POLICY)))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.NO_CHECKS, NO_CHECKS),), status={"validation": None})
    )
    assert decided.result.proceed is True
    assert decided.create_pod is False


def test_no_checks_delete_the_pods_this_version_controls() -> None:
    previous = run_of(POD_PLAN, run=3, finished=LATER_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))

    decided = validation.decide(
        view_of(status), observe(Plan(), pods=[EARLIER, FOREIGN, ORPHAN, EARLIEST])
    )

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.NO_CHECKS, NO_CHECKS),), status={"validation": None}),
        delete_pods=OWN_PODS,
    )


def test_a_version_without_a_uid_deletes_no_pod() -> None:
    """Pods with no controller would match an unknown uid; none is taken for the version's."""
    decided = validation.decide(
        view_of(uid=""), observe(Plan(), pods=[ORPHAN, pod_body("p", "Failed", controller="")])
    )

    assert decided.delete_pods == ()


def test_no_checks_after_a_run_without_a_pod_delete_nothing() -> None:
    previous = run_of(METRICS_PLAN, finished=NOW_TEXT, pod=None, checks=[QUALITY_PASSED])

    decided = validation.decide(view_of(in_status(previous)), observe(Plan()))

    assert decided.delete_pods == ()
    assert decided.result.status == {"validation": None}


# --- decide: a run starts ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "now", "at"), [(NAME, NOW, NOW_TEXT), ("churn", LAST, LAST_TEXT)])
def test_a_first_run_asks_for_its_pod_and_waits(name: str, now: datetime, at: str) -> None:
    decided = validation.decide(view_of(name=name, now=now), observe(POD_PLAN, token=None))
    run = ValidationStatus(
        run=1,
        checks_digest=POD_PLAN.digest,
        token=None,
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
                    "Starting format, load, fairness in a new validation Pod.",
                ),
            ),
            status={"validation": run},
            proceed=False,
        ),
        create_pod=True,
        status=run,
    )


def test_a_first_run_records_the_revalidate_token() -> None:
    decided = validation.decide(view_of(), observe(POD_PLAN, token="2030-01-02"))

    assert decided.status == started(POD_PLAN, token="2030-01-02")


def test_a_plan_that_cannot_run_as_written_ends_the_run_at_once() -> None:
    plan = Plan(
        checks=(FORMAT,),
        policy=POLICY,
        problems=("custom check 'format' in spec.validation takes a name", "second"),
    )
    previous = run_of(POD_PLAN, run=2, finished=NOW_TEXT, token="t")
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))

    decided = validation.decide(
        view_of(status, now=LATER), observe(plan, token="t", pods=[EARLIER, FOREIGN, EARLIEST])
    )
    run = ValidationStatus(
        run=3, checks_digest=plan.digest, token="t", started_at=LATER_TEXT, finished_at=LATER_TEXT
    )

    assert decided == ended(
        run,
        "False",
        Reason.INVALID_CHECK,
        "The checks cannot run as written: custom check 'format' in spec.validation takes a "
        "name; second. Fix the Model's spec.defaultValidation or spec.policy.validation, or, "
        "since spec.validation cannot change, register a new ModelVersion.",
        delete=OWN_PODS,
    )


def test_problems_alone_are_not_a_plan_without_checks() -> None:
    plan = Plan(problems=("check 'x' in spec.validation sets neither builtin nor image",))

    decided = validation.decide(view_of(), observe(plan))

    assert decided.result.conditions == (
        validated(
            "False",
            Reason.INVALID_CHECK,
            "The checks cannot run as written: check 'x' in spec.validation sets neither builtin "
            "nor image. Fix the Model's spec.defaultValidation or spec.policy.validation, or, "
            "since spec.validation cannot change, register a new ModelVersion.",
        ),
    )
    assert decided.create_pod is False


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
    decided = validation.decide(view_of(), Observed(Plan(checks=(QUALITY,)), None, None))

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
    decided = validation.decide(view_of(), observe(Plan(checks=(QUALITY,)), metrics={"f1": 0.8}))

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
    plan = Plan(checks=(ValidationCheck(name="m", builtin="metrics"),), policy=POLICY)

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
    plan = Plan(checks=(ValidationCheck(name="metrics", builtin="metrics"),), policy=policy)

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
    full = "; ".join(
        f"metric {n!r} is missing from spec.metrics, and the threshold '{n} >= 1' needs it: "
        "record it in the ModelVersion's spec.metrics"
        for n in names
    )

    decided = validation.decide(view_of(), observe(Plan(checks=(check,))))

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


def test_metrics_and_pod_checks_ask_for_the_pod_with_the_metrics_result_in() -> None:
    decided = validation.decide(view_of(), observe(MIXED_PLAN, metrics=GOOD_METRICS))
    run = ValidationStatus(
        run=1,
        checks_digest=MIXED_PLAN.digest,
        started_at=NOW_TEXT,
        checks=[QUALITY_PASSED, CheckResult(name="format", result="Pending", started_at=NOW_TEXT)],
    )

    assert decided == creating(run, "format")


def test_a_failed_metrics_check_ends_the_run_before_its_pod_is_created() -> None:
    previous = run_of(MIXED_PLAN, finished=NOW_TEXT, checks=[QUALITY_PASSED])
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))

    decided = validation.decide(
        view_of(status, now=LATER),
        observe(MIXED_PLAN, token="r", metrics={"auc": 0.1, "f1": 0.9}, pods=[EARLIER, EARLIEST]),
    )
    run = ValidationStatus(
        run=2,
        checks_digest=MIXED_PLAN.digest,
        token="r",
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
        delete_pods=OWN_PODS,
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
            "the thresholds of check 'quality'",
        ),
    ],
)
def test_a_malformed_threshold_is_an_invalid_check(
    policy: list[str], thresholds: list[str], bad: str, where: str
) -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=thresholds)
    plan = Plan(checks=(check, FORMAT), policy=ValidationPolicy(metric_thresholds=policy))

    decided = validation.decide(view_of(now=LATER), observe(plan, token="t", metrics=GOOD_METRICS))
    run = ValidationStatus(
        run=1,
        checks_digest=plan.digest,
        token="t",
        started_at=LATER_TEXT,
        finished_at=LATER_TEXT,
    )

    assert decided == ended(
        run,
        "False",
        Reason.INVALID_CHECK,
        f"A threshold cannot be checked: {bad}. Fix it in {where}.",
    )


def test_an_invalid_check_counts_the_run() -> None:
    plan = Plan(checks=(QUALITY,), policy=ValidationPolicy(metric_thresholds=["auc"]))
    previous = run_of(METRICS_PLAN, run=4, pod=None, finished=NOW_TEXT, checks=[QUALITY_PASSED])

    decided = validation.decide(view_of(in_status(previous)), observe(plan))

    assert decided.status is not None
    assert decided.status.run == 5


def test_an_invalid_check_deletes_the_previous_runs_pods() -> None:
    previous = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))
    plan = Plan(checks=(QUALITY, FORMAT), policy=ValidationPolicy(metric_thresholds=["auc"]))

    decided = validation.decide(view_of(status), observe(plan, pods=[EARLIER, FOREIGN, EARLIEST]))

    assert decided.delete_pods == OWN_PODS


def test_a_malformed_own_threshold_is_not_blamed_on_the_policy() -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= high"])

    decided = validation.decide(view_of(), observe(Plan(checks=(check,))))

    (said,) = decided.result.conditions
    assert said.reason == Reason.INVALID_CHECK
    assert "spec.policy" not in said.message


def test_when_both_are_malformed_the_policy_s_threshold_is_named() -> None:
    check = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= high"])
    plan = Plan(checks=(check,), policy=ValidationPolicy(metric_thresholds=["auc"]))

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


def test_changed_checks_start_a_new_run_and_delete_the_old_pods() -> None:
    old_plan = Plan(checks=(FORMAT, LOAD), policy=POLICY)
    previous = run_of(old_plan, run=2, token="t", finished=NOW_TEXT)
    status = in_status(previous, ("False", Reason.CHECK_FAILED, "Check 'load' failed: slow."))

    decided = validation.decide(
        view_of(status, now=LATER), observe(POD_PLAN, token="t", pods=[EARLIER, FOREIGN, EARLIEST])
    )
    run = started(POD_PLAN, run=3, token="t", at=LATER_TEXT)

    assert decided == creating(run, "format, load, fairness", delete=OWN_PODS)


@pytest.mark.parametrize(("before", "after"), [(None, "1"), ("1", "2"), ("1", None)])
def test_a_new_revalidate_token_starts_a_new_run(before: str | None, after: str | None) -> None:
    previous = run_of(POD_PLAN, run=1, token=before, finished=NOW_TEXT)
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))
    pod = pod_body(pod_name(1), "Succeeded")

    decided = validation.decide(
        view_of(status, now=LATER), observe(POD_PLAN, pod, token=after, pods=[pod])
    )

    assert decided.status == started(POD_PLAN, run=2, token=after, at=LATER_TEXT)
    assert decided.create_pod is True
    assert decided.delete_pods == (pod_ref(pod_name(1)),)


def test_the_same_token_and_checks_start_no_new_run() -> None:
    previous = run_of(POD_PLAN, run=1, token="1", finished=NOW_TEXT)
    status = in_status(previous, ("True", Reason.CHECKS_PASSED, "Every check passed."))

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, token="1"))

    assert decided.status == previous
    assert decided.create_pod is False


def test_a_new_run_during_a_run_deletes_the_running_pod() -> None:
    previous = run_of(POD_PLAN, run=1)
    pod = pod_body(pod_name(1), "Running")

    decided = validation.decide(
        view_of(running_in_status(POD_PLAN, previous), now=LATER),
        observe(MIXED_PLAN, pod, metrics=GOOD_METRICS, pods=[pod]),
    )

    assert decided.delete_pods == (PodRef(pod_name(1), POD_UID),)
    assert decided.create_pod is True
    assert decided.status is not None
    assert decided.status.run == 2


def test_a_new_metrics_only_run_deletes_the_old_pods() -> None:
    previous = run_of(POD_PLAN, run=1, finished=NOW_TEXT)

    decided = validation.decide(
        view_of(in_status(previous)), observe(METRICS_PLAN, metrics=GOOD_METRICS, pods=[EARLIER])
    )

    assert decided.delete_pods == (PodRef(pod_name(1), "uid-run-1"),)
    assert decided.create_pod is False


# --- decide: a finished run -------------------------------------------------------------------


def test_a_passed_run_keeps_its_condition_and_deletes_its_pod() -> None:
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(current, ("True", Reason.CHECKS_PASSED, "Every check passed: format."))
    body = pod_body(pod_name(2), "Succeeded")

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, body))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.CHECKS_PASSED, "Every check passed: format."),)),
        delete_pods=(pod_ref(pod_name(2)),),
        status=current,
    )


def test_a_passed_run_leaves_a_pod_that_is_not_its_own() -> None:
    current = run_of(POD_PLAN, run=2, finished=NOW_TEXT)
    status = in_status(current, ("True", Reason.CHECKS_PASSED, "Every check passed: format."))
    body = pod_body(pod_name(2), "Succeeded", uid=OTHER_UID)

    decided = validation.decide(view_of(status, now=LATER), observe(POD_PLAN, body))

    assert decided == ValidationDecision(
        StepResult((validated("True", Reason.CHECKS_PASSED, "Every check passed: format."),)),
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
    body = pod_body(pod_name(2), "Failed")

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
    body = pod_body(pod_name(2), "Failed")

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
    results = [QUALITY_PASSED, CheckResult(name="format", result="Passed", message="ok")]
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


def test_a_starting_validation_keeps_the_version_reconciling() -> None:
    view = verified_view()
    text = starting("format, load, fairness")

    decision = whole_pass(view, observe(POD_PLAN))

    assert decision.status == ModelVersionStatus(
        observed_generation=2,
        version=3,
        stage="None",
        artifact=view.status.artifact,
        artifact_checked_at=NOW_TEXT,
        validation=started(POD_PLAN, at=LATER_TEXT),
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


def test_a_running_validation_keeps_the_version_reconciling() -> None:
    current = run_of(POD_PLAN, run=1)
    first = verified_view()
    view = replace(first, status=first.status.model_copy(update={"validation": current}))
    text = running_message(pod_name(1), "format, load, fairness")

    decision = whole_pass(view, observe(POD_PLAN, pod_body(pod_name(1), "Pending")))

    assert decision.status.conditions == conditions(
        2,
        (READY, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
        (RECONCILING, "True", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
        *earlier_rows(),
        (VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
    )
    assert decision.status.validation == current


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
    text = f"Pod {pod_name(1)} cannot be scheduled: {UNSCHEDULABLE_TEXT}"

    decision = whole_pass(view, observe(POD_PLAN, unscheduled(pod_name(1))))

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


def test_an_untrusted_pod_is_announced_and_the_version_keeps_reconciling() -> None:
    current = run_of(POD_PLAN, run=1)
    first = verified_view()
    view = replace(first, status=first.status.model_copy(update={"validation": current}))
    foreign = pod_body(pod_name(1), "Succeeded", uid=OTHER_UID)
    problem = (
        f"Pod {pod_name(1)} is not the Pod the operator created for run 1 (its uid {OTHER_UID} "
        f"is not the recorded {POD_UID}); it was not read"
    )
    text = starting(
        "format, load, fairness",
        f" {problem}; the run goes on in a new Pod of the operator's own.",
    )

    decision = whole_pass(view, observe(POD_PLAN, foreign))

    assert decision.status.conditions == conditions(
        2,
        (READY, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
        (RECONCILING, "True", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
        *earlier_rows(),
        (VALIDATED, "Unknown", Reason.VALIDATION_RUNNING, text, LATER_TEXT),
    )
    assert decision.events == (
        Event("Warning", Reason.UNTRUSTED_POD, f"{problem}.", action="Validate"),
    )
    assert VERSION_UID != OTHER_UID
