"""A compare check through the operator: what status records of it (the operator's own facts,
not the report's), a data set that cannot be read, and, on the in-memory API server, the
Production holder read for the run, the data set read before its Pod, and a new holder making
a new run."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from modelregistry.api import Artifact
from modelregistry.api.modelversion import CheckResult, ValidationCheck, VerifiedArtifact
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import validation, validationplan
from modelregistry.decisions.passdata import StepResult
from modelregistry.decisions.validation import ValidationDecision
from modelregistry.decisions.validationplan import Compared, Plan
from modelregistry.decisions.verification import Outcome, VerificationFailure
from modelregistry.reasons import Reason
from modelregistry.storage import Credentials, ReadProgress
from tests.unit.memorycluster import HEX, FixedVerifier
from tests.unit.test_reconciler import World, created, run, spec

from .builders import DIGEST_B, DIGEST_C, LATER, LATER_TEXT, NOW_TEXT
from .validationbuilders import (
    FETCHED,
    FORMAT,
    creating,
    ended,
    observe,
    pod_body,
    pod_name,
    pod_ref,
    run_of,
    running_in_status,
    terminated,
    view_of,
)

HOLDOUT = {"uri": "s3://models/holdout.csv", "digest": DIGEST_C, "target": "churned"}
COMPARE = ValidationCheck.model_validate(
    {"name": "ab", "builtin": "compare", "metric": "auc", "dataset": HOLDOUT}
)
HOLDER = Compared(
    "fraud-1",
    1,
    VerifiedArtifact(
        uri="s3://models/fraud/1/", digest=DIGEST_B, size=9, file_count=1, verified_at=NOW_TEXT
    ),
)
PLAN = Plan(checks=(FORMAT, COMPARE), against={"holder": HOLDER})
DETAILS = {
    "metric": "auc",
    "datasetDigest": DIGEST_C,
    "against": "holder",
    "holder": "fraud-1",
    "holderVersion": "1",
    "holderDigest": DIGEST_B,
}
RERUN = "kubectl annotate modelversion <name> modelregistry.io/revalidate=<new value>"


# --- what status records ----------------------------------------------------------------------


def test_a_run_starts_with_what_the_compare_check_is_run_on() -> None:
    decided = validation.decide(view_of(), observe(PLAN))

    assert decided.status is not None
    assert decided.status.checks == [
        CheckResult(name="format", result="Pending", started_at=NOW_TEXT),
        CheckResult(name="ab", result="Pending", started_at=NOW_TEXT, details=DETAILS),
    ]


def test_the_result_keeps_the_operator_s_details_whatever_the_report_claims() -> None:
    current = run_of(PLAN, run=2)
    current = current.model_copy(
        update={
            "checks": [
                CheckResult(name="format", result="Pending", started_at=NOW_TEXT),
                CheckResult(name="ab", result="Pending", started_at=NOW_TEXT, details=DETAILS),
            ]
        }
    )
    claimed = {"holder": "someone-else", "holderVersion": 9, "metric": "accuracy"}
    message = json.dumps(
        {
            "check": "compare",
            "passed": True,
            "value": 0.912345,
            "threshold": 0.8,
            "message": "auc ...",
            "details": claimed,
        }
    )
    pod = pod_body(
        pod_name(2),
        "Succeeded",
        init=[FETCHED],
        containers=[terminated("format", 0), terminated("ab", 0, message)],
    )

    decided = validation.decide(
        view_of(running_in_status(PLAN, current), now=LATER), observe(PLAN, pod)
    )

    assert decided.status is not None
    (_, result) = decided.status.checks
    assert result == CheckResult(
        name="ab",
        result="Passed",
        value="0.912345",
        threshold="0.8",
        message="auc ...",
        started_at="2030-01-02T03:04:20Z",
        finished_at="2030-01-02T03:05:01Z",
        details=DETAILS,
    )
    assert decided.delete_pods == (pod_ref(pod_name(2)),)


# --- a data set that cannot be read -------------------------------------------------------------


def started() -> tuple[Any, ValidationDecision]:
    current = validation.decide(view_of(), observe(PLAN))
    assert current.status is not None
    return current.status, current


def test_a_store_that_may_come_back_is_waited_for_without_a_pod() -> None:
    status, decided = started()

    waiting = validation.inputs_unavailable(
        view_of(now=LATER), decided, "ab", "Cannot reach the object store.", transient=True
    )

    assert waiting == ValidationDecision(
        StepResult(
            (
                DesiredCondition(
                    "Validated",
                    "Unknown",
                    Reason.VALIDATION_RUNNING,
                    "Waiting to read the data set of check 'ab': Cannot reach the object store.",
                ),
            ),
            status={"validation": status},
            proceed=False,
            retry=True,
        ),
        create_pod=False,
        status=status,
    )
    # The next pass asks for the Pod again: none was recorded.
    again = validation.decide(view_of(running_in_status(PLAN, status), now=LATER), observe(PLAN))
    assert again == creating(status, "format, ab")


def test_a_data_set_that_is_missing_or_another_fails_the_check() -> None:
    status, decided = started()
    problem = "Check 'ab' cannot use its data set s3://models/holdout.csv: there is no such object."

    failed = validation.inputs_unavailable(
        view_of(now=LATER), decided, "ab", problem, transient=False
    )

    message = f"{problem} Fix it, then re-run with `{RERUN}`."
    done = status.model_copy(
        update={
            "finished_at": LATER_TEXT,
            "checks": [
                status.checks[0],
                status.checks[1].model_copy(
                    update={"result": "Failed", "message": message, "finished_at": LATER_TEXT}
                ),
            ],
        }
    )
    assert failed == ended(done, "False", Reason.CHECK_FAILED, f"Check 'ab' failed: {message}")


EARLIER = (pod_ref("fraud-v3-validation-1-abcde", "uid-1"),)
ALTERED = (pod_ref("fraud-v3-validation-1-fghij", "uid-2"),)


@pytest.mark.parametrize("transient", [True, False])
def test_the_pods_a_run_was_to_delete_still_go(transient: bool) -> None:
    _, decided = started()
    decided = dataclasses.replace(decided, delete_pods=EARLIER, delete_now=ALTERED)

    after = validation.inputs_unavailable(view_of(), decided, "ab", "x", transient=transient)

    assert (after.delete_pods, after.delete_now, after.create_pod) == (EARLIER, ALTERED, False)


def test_only_a_run_that_started_has_inputs_to_read() -> None:
    with pytest.raises(ValueError, match=r"^only a run that started has inputs to read$"):
        validation.inputs_unavailable(
            view_of(), ValidationDecision(StepResult(())), "ab", "x", transient=False
        )


# --- through the reconciler, on the in-memory API server ----------------------------------------

DATASET_DIGEST = "sha256:" + HEX  # what the fixed store hashes everything to
CHECKS = {
    "checks": [
        {
            "name": "ab",
            "builtin": "compare",
            "metric": "auc",
            "dataset": {"uri": "s3://models/holdout.csv", "digest": DATASET_DIGEST, "target": "y"},
        }
    ]
}


class Store(FixedVerifier):
    """The fixed store, with what it answers for particular objects."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, Outcome] = {}
        self.read: list[tuple[str, str, str | None]] = []

    async def verify(
        self,
        artifact: Artifact,
        credentials: Credentials | None,
        field: str,
        checksum_may_prove: str | None = None,
        progress: ReadProgress | None = None,
    ) -> Outcome:
        self.read.append((artifact.uri, field, checksum_may_prove))
        if artifact.uri in self.answers:
            return self.answers[artifact.uri]
        return await super().verify(artifact, credentials, field, checksum_may_prove, progress)


def world() -> World:
    w = World()
    w.verifier = Store()
    return w


def fetch_plan_of(pod: dict[str, Any]) -> dict[str, Any]:
    (init,) = pod["spec"]["initContainers"]
    env = {e["name"]: e["value"] for e in init["env"]}
    plan: dict[str, Any] = json.loads(env["MODELREGISTRY_FETCH_PLAN"])
    return plan


async def holder_then_candidate(w: World, *, lock: bool = True, **extra: Any) -> dict[str, Any]:
    """fraud-1 verified and named by the Model's Production lock; then fraud-2 with a compare
    check (and `extra` in its spec), and the operator's passes; the Pod made for fraud-2."""
    w.cluster.add("models", "fraud", {}, created(0))
    w.cluster.add("modelversions", "fraud-1", spec(version=1), created(1))
    operator = w.start()
    await w.cluster.settle(operator)
    if lock:
        w.cluster.patch_status_as_someone_else(
            "models", "fraud", {"production": {"holder": "fraud-1", "uid": "uid-fraud-1"}}
        )
    w.cluster.add(
        "modelversions", "fraud-2", spec(version=2, validation=CHECKS, **extra), created(2)
    )
    await w.cluster.settle(operator)
    pods = w.cluster.pods()
    return next(iter(pods.values())) if pods else {}


def check_result(w: World, name: str = "fraud-2") -> dict[str, Any]:
    (result,) = w.cluster.status("modelversions", name)["validation"]["checks"]
    assert isinstance(result, dict)
    return result


def validated(w: World, name: str = "fraud-2") -> tuple[str, str, str]:
    found = next(
        c for c in w.cluster.status("modelversions", name)["conditions"] if c["type"] == "Validated"
    )
    return found["status"], found["reason"], found["message"]


def test_the_holder_s_verified_bytes_and_the_data_set_as_read_go_to_the_pod() -> None:
    async def scenario() -> None:
        w = world()
        pod = await holder_then_candidate(w)

        holder = w.cluster.status("modelversions", "fraud-1")["artifact"]
        planned = fetch_plan_of(pod)
        assert planned["against"] == [
            {
                "name": "fraud-1",
                "uri": holder["uri"],
                "digest": holder["digest"],
                "versionId": "v1",
                "size": 3,
                "fileCount": 1,
                "files": [],
                "endpoint": None,
                "region": None,
                "addressingStyle": None,
            }
        ]
        assert [
            (d["uri"], d["digest"], d["size"], d["versionId"]) for d in planned["datasets"]
        ] == [("s3://models/holdout.csv", DATASET_DIGEST, 3, "v1")]
        assert isinstance(w.verifier, Store)
        assert ("s3://models/holdout.csv", "spec.artifact", DATASET_DIGEST) in w.verifier.read
        assert check_result(w)["details"] == {
            "metric": "auc",
            "datasetDigest": DATASET_DIGEST,
            "against": "holder",
            "holder": "fraud-1",
            "holderVersion": "1",
            "holderDigest": holder["digest"],
        }
        (check,) = pod["spec"]["containers"]
        assert check["args"][-8:] == [
            "--against",
            "/against/fraud-1/m.bin",
            "--against-name",
            "fraud-1",
            "--against-version",
            "1",
            "--against-digest",
            holder["digest"],
        ]
        await w.close()

    run(scenario)


def test_without_a_holder_the_candidate_is_scored_alone() -> None:
    async def scenario() -> None:
        w = world()
        pod = await holder_then_candidate(w, lock=False)

        assert fetch_plan_of(pod)["against"] == []
        assert check_result(w)["details"] == {
            "metric": "auc",
            "datasetDigest": DATASET_DIGEST,
            "against": "holder",
        }
        await w.close()

    run(scenario)


async def handed_over(w: World, **extra: Any) -> dict[str, Any]:
    """fraud-2 (with `extra`) run against fraud-1; then Production handed to fraud-3 and a
    pass of fraud-2; its validation status."""
    await holder_then_candidate(w, **extra)
    w.cluster.add("modelversions", "fraud-3", spec(version=3), created(3))
    assert w.operator is not None
    await w.cluster.settle(w.operator)
    w.cluster.patch_status_as_someone_else(
        "models", "fraud", {"production": {"holder": "fraud-3", "uid": "uid-fraud-3"}}
    )
    w.cluster.edit_spec("modelversions", "fraud-2", description="look again")
    await w.cluster.settle(w.operator)
    status: dict[str, Any] = w.cluster.status("modelversions", "fraud-2")["validation"]
    return status


def test_a_new_holder_starts_a_new_run_for_a_version_asking_for_production() -> None:
    async def scenario() -> None:
        w = world()
        status = await handed_over(w, stage="Production")

        assert status["run"] == 2
        assert check_result(w)["details"]["holder"] == "fraud-3"
        (pod,) = (p for n, p in w.cluster.pods().items() if n == status["podName"])
        assert [a["name"] for a in fetch_plan_of(pod)["against"]] == ["fraud-3"]
        await w.close()

    run(scenario)


@pytest.mark.parametrize("stage", ["None", "Staging"])
def test_a_version_not_asking_for_production_keeps_its_run_through_a_handover(
    stage: str,
) -> None:
    async def scenario() -> None:
        w = world()
        status = await handed_over(w, stage=stage)

        # Scored once, against the holder when its run started: no Pod per handover.
        assert status["run"] == 1
        assert check_result(w)["details"]["holder"] == "fraud-1"
        assert len(w.cluster.pods()) == 1
        await w.close()

    run(scenario)


@pytest.mark.parametrize(
    ("asked", "granted", "pinned"),
    [
        ("Production", None, True),
        ("Production", "Staging", True),
        ("Production", "Production", False),
        ("Staging", None, False),
        ("None", "Production", False),
        (None, None, False),
    ],
)
def test_only_a_version_asking_for_production_it_does_not_hold_follows_the_holder(
    asked: str | None, granted: str | None, pinned: bool
) -> None:
    assert validationplan.pins_against(asked, granted) is pinned


def test_the_compared_version_is_in_the_digest_only_where_it_is_pinned() -> None:
    other = Compared("fraud-3", 3, HOLDER.artifact.model_copy(update={"digest": DIGEST_C}))
    pinned = dataclasses.replace(PLAN, pin_against=True)
    loose = dataclasses.replace(PLAN, pin_against=False)

    assert pinned.digest != dataclasses.replace(pinned, against={"holder": other}).digest
    assert pinned.digest != dataclasses.replace(pinned, against={"holder": None}).digest
    assert loose.digest == dataclasses.replace(loose, against={"holder": other}).digest
    assert loose.digest == dataclasses.replace(loose, against={"holder": None}).digest
    assert loose.digest != pinned.digest


def test_a_data_set_of_other_bytes_fails_the_check_and_makes_no_pod() -> None:
    async def scenario() -> None:
        w = world()
        assert isinstance(w.verifier, Store)
        w.verifier.hexdigest = "f" * 64  # the store holds other bytes than the digest declared
        pod = await holder_then_candidate(w)

        assert pod == {}
        message = (
            f"Check 'ab' cannot use its data set s3://models/holdout.csv: it hashes to "
            f"sha256:{'f' * 64}, not to {DATASET_DIGEST} (dataset.digest). Upload the file that "
            f"digest is of. Fix it, then re-run with `{RERUN}`."
        )
        assert validated(w) == ("False", "CheckFailed", f"Check 'ab' failed: {message}")
        assert (check_result(w)["result"], check_result(w)["message"]) == ("Failed", message)
        await w.close()

    run(scenario)


def test_a_missing_data_set_fails_the_check() -> None:
    async def scenario() -> None:
        w = world()
        assert isinstance(w.verifier, Store)
        w.verifier.answers["s3://models/holdout.csv"] = VerificationFailure(
            Reason.ARTIFACT_NOT_FOUND, "Nothing found."
        )
        await holder_then_candidate(w)

        assert w.cluster.pods() == {}
        assert validated(w)[:2] == ("False", "CheckFailed")
        assert validated(w)[2].startswith(
            "Check 'ab' failed: Check 'ab' cannot use its data set s3://models/holdout.csv: "
            "there is no such object. Upload it there. Fix it"
        )
        await w.close()

    run(scenario)


def test_a_store_out_of_reach_is_waited_for() -> None:
    async def scenario() -> None:
        w = world()
        assert isinstance(w.verifier, Store)
        w.verifier.answers["s3://models/holdout.csv"] = VerificationFailure(
            Reason.STORAGE_UNREACHABLE, "Cannot reach the object store."
        )
        await holder_then_candidate(w)

        assert w.cluster.pods() == {}
        assert validated(w) == (
            "Unknown",
            "ValidationRunning",
            "Waiting to read the data set of check 'ab': Check 'ab' cannot use its data set "
            "s3://models/holdout.csv: Cannot reach the object store.",
        )
        del w.verifier.answers["s3://models/holdout.csv"]
        assert w.operator is not None
        w.cluster.edit_spec("modelversions", "fraud-2", description="look again")
        await w.cluster.settle(w.operator)
        assert len(w.cluster.pods()) == 1
        assert validated(w)[:2] == ("Unknown", "ValidationRunning")
        await w.close()

    run(scenario)


# --- what the champion gate may read ------------------------------------------------------------


def test_the_gate_reads_only_compare_checks_the_model_requires() -> None:
    own = COMPARE.model_copy(update={"name": "mine"})
    plan = Plan(checks=(FORMAT, COMPARE, own), required=frozenset({"format", "ab"}))

    # The required format check scores nothing; the version's own compare check chose its
    # data set and metric.
    assert validationplan.gate_checks(plan) == frozenset({"ab"})
    assert validationplan.gate_checks(dataclasses.replace(plan, required=frozenset())) == (
        frozenset()
    )


def scored(name: str = "ab", **details: str) -> CheckResult:
    return CheckResult(name=name, result="Passed", value="0.9", threshold="0.8", details=details)


def test_the_gate_compares_only_scores_of_its_metric_against_the_version_it_compares_with() -> None:
    right = scored(**DETAILS)
    other_metric = scored("ab2", **{**DETAILS, "metric": "f1"})
    earlier_holder = scored("ab3", **{**DETAILS, "holder": "fraud-0"})
    no_details = CheckResult(name="ab4", result="Passed", value="0.9", threshold="0.8")
    results = (right, other_metric, earlier_holder, no_details)

    assert validationplan.measured_results(results, "auc", "fraud-1") == (right,)
    assert validationplan.measured_results(results, "f1", "fraud-1") == (other_metric,)
    assert validationplan.measured_results(results, "auc", "fraud-0") == (earlier_holder,)
    # Nobody to beat: only a run that scored this version alone.
    alone = scored("ab5", metric="auc", datasetDigest=DIGEST_C, against="holder")
    assert validationplan.measured_results([*results, alone], "auc", None) == (alone,)
    assert validationplan.measured_results([*results, alone], "rmse", None) == ()
