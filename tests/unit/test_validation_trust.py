"""Only the operator's own Pod counts: a Pod at the run's name that someone else made, or
that was changed, is not read, is reported, and the run goes on in a new Pod (the second
time, the run fails); a Pod that admission changed is refused and deleted at once; the Pod
the API server created is recorded with its uid and spec digest."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelregistry.api.modelversion import ValidationStatus
from modelregistry.decisions import validation
from modelregistry.decisions.passdata import Event, StepResult
from modelregistry.decisions.podstate import PodRef
from modelregistry.decisions.validation import ValidationDecision
from modelregistry.reasons import Reason

from .builders import LAST, LAST_TEXT, LATER, LATER_TEXT, NOW_TEXT
from .validationbuilders import (
    FETCHED,
    OTHER_UID,
    OWN_SPEC,
    POD_PLAN,
    POD_UID,
    SPEC_DIGEST,
    creating,
    ended,
    follow,
    pod_body,
    pod_name,
    pod_ref,
    run_of,
    running_message,
    terminated,
    validated,
    view_of,
)

POD = pod_name(2)
NAMES = "format, load, fairness"
RERUN = "kubectl annotate modelversion <name> modelregistry.io/revalidate=<new value>"
GOES_ON = "; the run goes on in a new Pod of the operator's own."
REMADE = (
    " The run's Pod was made again: the one before vanished or was not the operator's own "
    "(kubectl describe modelversion <name> shows the Event)."
)


def passed(**fields: Any) -> dict[str, Any]:
    """A Pod at the run's name in which the fetch step and every planned check passed."""
    return pod_body(
        POD,
        "Succeeded",
        init=[FETCHED],
        containers=[terminated(c.name, 0, f"{c.name} ok") for c in POD_PLAN.pod_checks],
        **fields,
    )


def again(current: ValidationStatus) -> ValidationStatus:
    """The run, about to get a new Pod: counted, its Pod forgotten."""
    return current.model_copy(
        update={"recreated": current.recreated + 1, "pod_name": None, "pod_uid": None}
    )


# --- a Pod that is not the operator's own -----------------------------------------------------

FOREIGN = (
    f"Pod {POD} is not the Pod the operator created for run 2 (its uid {OTHER_UID} is not the "
    f"recorded {POD_UID}); it was not read"
)
ORPHANED = (
    f"Pod {POD} is no longer controlled by this ModelVersion (its ownerReferences); it was not read"
)
ALTERED = (
    f"Pod {POD} was changed after the operator created it (its spec no longer has the digest "
    f"{SPEC_DIGEST}); it was not read"
)
EVIL_SPEC = {**OWN_SPEC, "containers": [{"name": "format", "image": "evil.example/true:1"}]}


@pytest.mark.parametrize(
    ("pod", "problem", "deleted"),
    [
        # Someone else's Pod, even one that passed every check: not read, not deleted.
        (passed(uid=OTHER_UID), FOREIGN, ()),
        (pod_body(POD, "Succeeded", uid=OTHER_UID, controller=None, digest=None), FOREIGN, ()),
        # The operator's own Pod, changed since: not read, deleted at once.
        (passed(controller=OTHER_UID), ORPHANED, (pod_ref(POD),)),
        (pod_body(POD, "Running", controller=None), ORPHANED, (pod_ref(POD),)),
        (passed(spec=EVIL_SPEC), ALTERED, (pod_ref(POD),)),
        (pod_body(POD, "Running", digest="sha256:" + "0" * 64), ALTERED, (pod_ref(POD),)),
    ],
    ids=["foreign", "foreign-bare", "owner-changed", "owner-removed", "image", "annotation"],
)
def test_an_untrusted_pod_is_reported_and_the_run_goes_on_in_a_new_pod(
    pod: dict[str, Any], problem: str, deleted: tuple[PodRef, ...]
) -> None:
    current, decided = follow(POD_PLAN, pod)

    assert decided == creating(
        again(current),
        NAMES,
        delete_now=deleted,
        events=(Event("Warning", Reason.UNTRUSTED_POD, f"{problem}.", action="Validate"),),
        note=f" {problem}{GOES_ON}",
    )


@pytest.mark.parametrize(
    ("pod", "problem", "deleted"),
    [
        (passed(uid=OTHER_UID), FOREIGN, ()),
        (passed(spec=EVIL_SPEC), ALTERED, (pod_ref(POD),)),
    ],
    ids=["foreign", "altered"],
)
@pytest.mark.parametrize("recreated", [1, 2])
def test_an_untrusted_pod_the_second_time_fails_the_run(
    pod: dict[str, Any], problem: str, deleted: tuple[PodRef, ...], recreated: int
) -> None:
    current = run_of(POD_PLAN, run=2, recreated=recreated)

    _, decided = follow(POD_PLAN, pod, run=current)

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.UNTRUSTED_POD,
        f"{problem}, for the second time in this run: its results cannot be relied on. Re-run "
        f"with `{RERUN}`; and find out who changes Pods in this namespace.",
        delete_now=deleted,
    )


def test_a_run_whose_pod_was_never_recorded_asks_for_it() -> None:
    current = run_of(POD_PLAN, run=2, pod=None, recreated=1)

    _, decided = follow(POD_PLAN, passed(), run=current)

    assert decided == creating(current, NAMES)


def test_a_pod_that_vanished_once_is_made_again() -> None:
    current, decided = follow(POD_PLAN, None)
    what = f"Its Pod {POD} vanished mid-run"

    assert decided == creating(again(current), NAMES, note=f" {what}{GOES_ON}")


@pytest.mark.parametrize("recreated", [1, 2])
def test_a_pod_that_vanished_twice_fails_the_run(recreated: int) -> None:
    current = run_of(POD_PLAN, run=2, recreated=recreated)

    _, decided = follow(POD_PLAN, None, run=current)

    assert decided == ended(
        current.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.POD_FAILED,
        f"Its Pod {POD} vanished mid-run, for the second time in this run: its results cannot "
        f"be relied on. Re-run with `{RERUN}`.",
    )


# --- pod_created, pod_refused -----------------------------------------------------------------


def built_manifest(spec: dict[str, Any] = OWN_SPEC) -> dict[str, Any]:
    """What the operator sent: a spec and the annotation with its digest."""
    return {
        "metadata": {
            "generateName": "fraud-v3-validation-2-",
            "annotations": {"modelregistry.io/pod-spec-digest": SPEC_DIGEST},
        },
        "spec": copy.deepcopy(spec),
    }


def created_pod(spec: dict[str, Any] = OWN_SPEC, uid: str = "uid-new") -> dict[str, Any]:
    """What the API server answered: the same Pod with a name, a uid and defaults."""
    stored = copy.deepcopy(spec)
    stored.update(dnsPolicy="ClusterFirst", schedulerName="default-scheduler", priority=0)
    for container in stored["containers"]:
        container["terminationMessagePath"] = "/dev/termination-log"
    return pod_body(POD, "Pending", uid=uid, spec=stored)


def asked_for(
    note: str = "", delete: tuple[PodRef, ...] = (), delete_now: tuple[PodRef, ...] = ()
) -> tuple[ValidationStatus, ValidationDecision]:
    run = run_of(POD_PLAN, run=2, pod=None)
    return run, creating(run, NAMES, delete=delete, delete_now=delete_now, note=note)


EARLIER = (PodRef(pod_name(1), "uid-run-1"),)


def test_the_created_pod_is_recorded_with_its_uid_and_spec_digest() -> None:
    run, decided = asked_for(delete=EARLIER)

    recorded = validation.pod_created(
        view_of(now=LATER), decided, POD_PLAN, built_manifest(), created_pod()
    )

    status = run.model_copy(
        update={"pod_name": POD, "pod_uid": "uid-new", "pod_spec_digest": SPEC_DIGEST}
    )
    assert recorded == ValidationDecision(
        StepResult(
            (validated("Unknown", Reason.VALIDATION_RUNNING, running_message(POD, NAMES)),),
            status={"validation": status},
            proceed=False,
        ),
        create_pod=True,
        delete_pods=EARLIER,
        status=status,
    )


def test_the_note_of_a_new_pod_stays_in_the_running_condition() -> None:
    note = f" Its Pod {pod_name(2, 'x')} vanished mid-run{GOES_ON}"
    events = (Event("Warning", Reason.UNTRUSTED_POD, "x.", action="Validate"),)
    run, asked = asked_for(note=note, delete_now=(PodRef("old", "uid-old"),))
    asked = ValidationDecision(
        StepResult(asked.result.conditions, asked.result.status, events=events, proceed=False),
        create_pod=True,
        delete_now=asked.delete_now,
        status=asked.status,
        note=note,
    )

    recorded = validation.pod_created(view_of(), asked, POD_PLAN, built_manifest(), created_pod())

    status = run.model_copy(
        update={"pod_name": POD, "pod_uid": "uid-new", "pod_spec_digest": SPEC_DIGEST}
    )
    assert recorded == ValidationDecision(
        StepResult(
            (
                validated(
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    running_message(POD, NAMES) + note,
                ),
            ),
            status={"validation": status},
            events=events,
            proceed=False,
        ),
        create_pod=True,
        delete_now=(PodRef("old", "uid-old"),),
        status=status,
        note=note,
    )


def altered(message_changed: str) -> str:
    return (
        f"The API server admitted validation Pod {POD} with a spec other than the one the "
        f"operator built ({message_changed} differ): an admission webhook changed it, so its "
        "checks would not run as planned, or not in the box they are meant to run in. The Pod "
        "was deleted. Exempt the operator's validation Pods from that webhook (they are "
        "labelled app.kubernetes.io/component=validation), then re-run with "
        f"`{RERUN}`."
    )


def injected(spec: dict[str, Any]) -> None:
    """What a workload-identity webhook does: a token volume, its mount, and variables."""
    spec["volumes"] = [{"name": "aws-iam-token", "projected": {"sources": []}}]
    for container in spec["containers"]:
        container["env"] = [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::1:role/x"}]
        container["volumeMounts"] = [{"name": "aws-iam-token", "mountPath": "/var/run/aws"}]


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        (injected, "volumes, containers[format].env, containers[format].volumeMounts"),
        (
            lambda s: s["containers"].append({"name": "istio-proxy", "image": "istio/proxy"}),
            "containers[istio-proxy] added",
        ),
        (
            lambda s: s["containers"][0].update(image="mirror.example/modelregistry:0.4.0"),
            "containers[format].image",
        ),
        (lambda s: s.update(serviceAccountName="default"), "serviceAccountName"),
    ],
    ids=["credentials", "sidecar", "image", "service-account"],
)
def test_a_pod_admission_changed_is_refused_and_deleted_at_once(change: Any, changed: str) -> None:
    run, decided = asked_for(delete=EARLIER, delete_now=(PodRef("old", "uid-old"),))
    mutated = created_pod()
    change(mutated["spec"])

    refused = validation.pod_created(
        view_of(now=LAST), decided, POD_PLAN, built_manifest(), mutated
    )

    assert refused == ended(
        run.model_copy(update={"finished_at": LAST_TEXT}),
        "False",
        Reason.POD_ALTERED,
        altered(changed),
        delete=EARLIER,
        delete_now=(PodRef("old", "uid-old"), PodRef(POD, "uid-new")),
    )


def test_a_created_pod_without_a_spec_is_refused() -> None:
    _, decided = asked_for()
    created = created_pod()
    del created["spec"]

    refused = validation.pod_created(view_of(), decided, POD_PLAN, built_manifest(), created)

    assert refused.result.conditions == (
        validated(
            "False",
            Reason.POD_ALTERED,
            altered(
                "serviceAccountName, automountServiceAccountToken, restartPolicy, "
                "containers[format] removed"
            ),
        ),
    )
    assert refused.delete_now == (PodRef(POD, "uid-new"),)


def test_a_digest_mismatch_that_shows_no_difference_says_the_spec() -> None:
    _, decided = asked_for()
    built = built_manifest()
    built["metadata"]["annotations"]["modelregistry.io/pod-spec-digest"] = "sha256:" + "0" * 64

    refused = validation.pod_created(view_of(), decided, POD_PLAN, built, created_pod())

    assert refused.result.conditions == (
        validated("False", Reason.POD_ALTERED, altered("the spec")),
    )


def test_only_a_run_that_started_has_a_pod() -> None:
    with pytest.raises(ValueError, match=r"^only a run that started has a Pod$"):
        validation.pod_created(
            view_of(), ValidationDecision(StepResult(())), POD_PLAN, built_manifest(), {}
        )


def test_a_pod_the_api_server_refuses_ends_the_run_as_an_invalid_check() -> None:
    run, decided = asked_for(delete=EARLIER, delete_now=(PodRef("old", "uid-old"),))
    answer = 'Pod "x" is invalid: spec.containers[0].resources.requests[cpu]: Invalid value'

    refused = validation.pod_refused(view_of(now=LATER), decided, answer)

    assert refused == ended(
        run.model_copy(update={"finished_at": LATER_TEXT}),
        "False",
        Reason.INVALID_CHECK,
        f"The API server refused the validation Pod: {answer}. Fix the checks' image, env or "
        "resources: in the Model's spec.defaultValidation or spec.policy.validation, or, since "
        "spec.validation cannot change, in a new ModelVersion.",
        delete=EARLIER,  # the earlier run's Pod goes, as the new run would have made it
        delete_now=(PodRef("old", "uid-old"),),
    )


def test_only_a_run_that_started_has_a_pod_to_refuse() -> None:
    with pytest.raises(ValueError, match=r"^only a run that started has a Pod to refuse$"):
        validation.pod_refused(view_of(), ValidationDecision(StepResult(())), "refused")


# --- the whole round: a foreign Pod, then the operator's own ----------------------------------


def test_after_a_foreign_pod_the_run_is_judged_on_the_operator_s_own_pod_only() -> None:
    current = run_of(POD_PLAN, run=2, started=NOW_TEXT)
    foreign = passed(uid=OTHER_UID)
    _, first = follow(POD_PLAN, foreign, run=current)
    assert first.create_pod is True
    assert first.status is not None

    recorded = validation.pod_created(
        view_of(now=LATER),
        first,
        POD_PLAN,
        built_manifest(),
        created_pod(uid="uid-own"),
    )
    assert recorded.status is not None
    own = pod_body(POD, "Running", uid="uid-own", init=[FETCHED])
    _, second = follow(POD_PLAN, own, run=recorded.status)

    assert recorded.status.recreated == 1
    assert recorded.status.pod_uid == "uid-own"
    assert second.result.conditions == (
        validated("Unknown", Reason.VALIDATION_RUNNING, running_message(POD, NAMES) + REMADE),
    )
    assert second.create_pod is False


@pytest.mark.parametrize(("recreated", "said"), [(0, ""), (1, REMADE), (2, REMADE)])
def test_a_run_in_a_pod_made_again_says_so_while_it_runs(recreated: int, said: str) -> None:
    current = run_of(POD_PLAN, run=2, recreated=recreated)

    _, decided = follow(POD_PLAN, pod_body(POD, "Running", init=[FETCHED]), run=current)

    assert decided == ValidationDecision(
        StepResult(
            (validated("Unknown", Reason.VALIDATION_RUNNING, running_message(POD, NAMES) + said),),
            status={"validation": current},
            proceed=False,
        ),
        status=current,
    )


def test_a_pod_made_again_is_judged_as_any_other() -> None:
    current = run_of(POD_PLAN, run=2, recreated=1)

    _, decided = follow(POD_PLAN, passed(), run=current)

    assert decided.result.conditions == (
        validated("True", Reason.CHECKS_PASSED, f"Every check passed: {NAMES}."),
    )
    assert decided.delete_pods == (pod_ref(POD),)
