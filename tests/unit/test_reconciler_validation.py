"""Validation Pods through the reconciler, on the in-memory API server: only the operator's own
Pod counts, the namespace's box comes first, and bytes that changed are hashed again."""

from __future__ import annotations

import asyncio
from typing import Any

from modelregistry.decisions.sandbox import POLICY_NAME
from modelregistry.decisions.validationpod import SERVICE_ACCOUNT
from tests.unit.memorycluster import Body
from tests.unit.test_reconciler import World, conditions, created, run, spec

CHECKS = {"checks": [{"name": "smoke", "image": "registry.example/smoke@sha256:" + "1" * 64}]}


def exited(name: str, code: int) -> dict[str, Any]:
    return {"name": name, "state": {"terminated": {"exitCode": code, "reason": "Completed"}}}


def ended(*, fetch: int = 0, smoke: int | None = 0, phase: str = "Succeeded") -> Body:
    containers = [] if smoke is None else [exited("smoke", smoke)]
    return {
        "phase": phase,
        "initContainerStatuses": [exited("fetch", fetch)],
        "containerStatuses": containers,
    }


async def started(w: World) -> str:
    """A Model, a version with one custom check, and the operator's first pass; the Pod's name."""
    w.cluster.add("models", "fraud", {}, created(0))
    w.cluster.add("modelversions", "fraud-a", spec(validation=CHECKS), created(1))
    operator = w.start()
    await w.cluster.settle(operator)
    (name,) = w.cluster.pods()
    return name


async def pod_changed(w: World, name: str) -> None:
    """The Pod's watch event reaches the operator, whose retry then runs."""
    assert w.operator is not None
    w.cluster.reindex()
    await w.operator.pod_event("MODIFIED", w.cluster.pods()[name])
    await asyncio.sleep(0.05)
    await w.cluster.settle(w.operator)


def validated(w: World) -> dict[str, Any]:
    status = w.cluster.status("modelversions", "fraud-a")
    return next(c for c in status["conditions"] if c["type"] == "Validated")


def test_the_pod_is_created_in_the_namespace_s_box_and_recorded_by_uid_and_digest() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        pod = w.cluster.pods()[name]
        run_status = w.cluster.status("modelversions", "fraud-a")["validation"]
        assert name.startswith("fraud-a-validation-1-")
        assert run_status["podName"] == name
        assert run_status["podUid"] == pod["metadata"]["uid"]
        annotation = pod["metadata"]["annotations"]["modelregistry.io/pod-spec-digest"]
        assert run_status["podSpecDigest"] == annotation
        assert pod["spec"]["serviceAccountName"] == SERVICE_ACCOUNT
        account = w.cluster.objects[("serviceaccounts", SERVICE_ACCOUNT)]
        assert account["automountServiceAccountToken"] is False
        assert ("networkpolicies", POLICY_NAME) in w.cluster.objects
        assert validated(w)["reason"] == "ValidationRunning"
        assert name in validated(w)["message"]
        await w.close()

    run(scenario)


def test_the_operator_s_own_pod_that_ended_well_passes_and_is_deleted() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        w.cluster.set_pod_status(name, ended())
        await pod_changed(w, name)

        assert (validated(w)["status"], validated(w)["reason"]) == ("True", "ChecksPassed")
        assert conditions(w.cluster.status("modelversions", "fraud-a"))["Ready"] == (
            "True",
            "Succeeded",
        )
        assert w.cluster.pods() == {}
        await w.close()

    run(scenario)


def test_a_pod_that_ended_without_the_check_s_exit_code_does_not_pass() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        w.cluster.set_pod_status(name, ended(smoke=None))
        await pod_changed(w, name)

        assert (validated(w)["status"], validated(w)["reason"]) == ("False", "PodFailed")
        assert "smoke ended without exit code 0" in validated(w)["message"]
        await w.close()

    run(scenario)


def test_a_foreign_pod_at_the_recorded_name_is_not_read_and_the_run_goes_on_in_a_new_pod() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        # Someone deleted the operator's Pod and made one of their own at its name that "passed".
        w.cluster.objects[("pods", name)]["metadata"]["uid"] = "someone-else"
        w.cluster.set_pod_status(name, ended())
        await pod_changed(w, name)

        assert (validated(w)["status"], validated(w)["reason"]) == ("Unknown", "ValidationRunning")
        pods = w.cluster.pods()
        assert name in pods  # not the operator's to delete
        (new,) = set(pods) - {name}
        status = w.cluster.status("modelversions", "fraud-a")["validation"]
        assert (status["podName"], status["recreated"]) == (new, 1)
        assert validated(w)["message"] == (
            f"Running smoke in Pod {new} (kubectl get pod {new}). The run's Pod was made again: "
            "the one before vanished or was not the operator's own (kubectl describe "
            "modelversion <name> shows the Event)."
        )
        (warning,) = [e for _, e in w.cluster.events if e.type == "Warning"]
        assert warning.reason == "UntrustedPod"
        assert warning.message == (
            f"Pod {name} is not the Pod the operator created for run 1 (its uid someone-else is "
            "not the recorded pod-uid-1); it was not read."
        )
        await w.close()

    run(scenario)


def test_an_altered_pod_twice_fails_the_run_unread() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        for _ in range(2):
            pod = w.cluster.objects[("pods", name)]
            pod["spec"]["containers"][0]["image"] = "registry.example/always-passes:1"
            w.cluster.set_pod_status(name, ended())
            await pod_changed(w, name)
            name = w.cluster.status("modelversions", "fraud-a")["validation"].get("podName", name)

        assert (validated(w)["status"], validated(w)["reason"]) == ("False", "UntrustedPod")
        assert "for the second time in this run" in validated(w)["message"]
        assert conditions(w.cluster.status("modelversions", "fraud-a"))["Stalled"] == (
            "True",
            "UntrustedPod",
        )
        assert w.cluster.pods() == {}  # both were the operator's own, altered: deleted at once
        await w.close()

    run(scenario)


def test_a_pod_changed_by_admission_is_deleted_at_once_and_the_run_fails() -> None:
    async def scenario() -> None:
        w = World()

        def inject_credentials(pod: Body) -> None:
            for container in pod["spec"]["initContainers"] + pod["spec"]["containers"]:
                container["env"].append({"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::1:role/x"})

        w.cluster.admission = inject_credentials
        w.cluster.add("models", "fraud", {}, created(0))
        w.cluster.add("modelversions", "fraud-a", spec(validation=CHECKS), created(1))
        operator = w.start()
        await w.cluster.settle(operator)

        assert (validated(w)["status"], validated(w)["reason"]) == ("False", "PodAltered")
        assert (
            "(initContainers[fetch].env, containers[smoke].env differ)" in (validated(w)["message"])
        )
        assert w.cluster.pods() == {}
        await w.close()

    run(scenario)


def test_a_service_account_taken_first_with_a_cloud_role_is_written_over() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("serviceaccounts", SERVICE_ACCOUNT, {}, created(0))
        taken = w.cluster.objects[("serviceaccounts", SERVICE_ACCOUNT)]
        taken["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
        taken["automountServiceAccountToken"] = True
        await started(w)

        account = w.cluster.objects[("serviceaccounts", SERVICE_ACCOUNT)]
        assert "eks.amazonaws.com/role-arn" not in account["metadata"]["annotations"]
        assert account["automountServiceAccountToken"] is False
        assert w.cluster.calls["replace serviceaccounts"] == 1
        await w.close()

    run(scenario)


def test_bytes_that_changed_before_validation_are_hashed_again_at_once() -> None:
    async def scenario() -> None:
        w = World()
        name = await started(w)
        w.verifier.hexdigest = "b" * 64  # the object was overwritten since it was verified
        w.cluster.set_pod_status(name, ended(fetch=3, smoke=None, phase="Failed"))
        await pod_changed(w, name)

        found = conditions(w.cluster.status("modelversions", "fraud-a"))
        assert found["Validated"] == ("False", "ArtifactChangedBeforeValidation")
        assert found["ArtifactVerified"][0] == "False"
        assert found["Ready"][0] == "False"
        assert w.verifier.calls == 2
        await w.close()

    run(scenario)
