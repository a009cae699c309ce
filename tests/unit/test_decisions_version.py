"""A whole pass over a ModelVersion, composed from its steps: the exact status,
Events and retry wish, over one or several passes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from modelregistry.api.modelversion import ModelVersionStatus, VerifiedComponent
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import verification
from modelregistry.decisions import version as compose
from modelregistry.decisions.numbering import VersionDecision
from modelregistry.decisions.passdata import Decision, Event, StepResult, VersionView
from modelregistry.decisions.verification import Hashed, Outcome
from modelregistry.reasons import (
    ARTIFACT_VERIFIED,
    MODEL_FOUND,
    READY,
    RECONCILING,
    STALLED,
    VERSION_ASSIGNED,
    Reason,
)

from .builders import (
    DIGEST_A,
    DIGEST_B,
    DIGEST_C,
    HEX_A,
    HEX_B,
    HEX_C,
    HOUR,
    LAST,
    LAST_TEXT,
    LATER,
    LATER_TEXT,
    MODEL,
    NAMESPACE,
    NOW,
    NOW_TEXT,
    OWNED,
    PREFIX_URI,
    TOKENIZER_URI,
    URI,
    Row,
    changed,
    condition,
    conditions,
    duplicate,
    failed,
    hashed,
    make_spec,
    make_view,
    mismatch,
    model_exists,
    model_missing,
    one_object,
    ready,
    record,
    run_pass,
    two_files,
    verified_status,
    version_held,
)

VERIFIED_A = f"{URI} is {DIGEST_A} (42 bytes, versionId v1)."


def found(at: str = NOW_TEXT, model: str = MODEL, namespace: str = NAMESPACE) -> Row:
    return (MODEL_FOUND, "True", Reason.MODEL_EXISTS, model_exists(model, namespace), at)


def held(number: int = 1, at: str = NOW_TEXT, model: str = MODEL, assigned: bool = True) -> Row:
    return (
        VERSION_ASSIGNED,
        "True",
        Reason.VERSION_HELD,
        version_held(number, model, assigned=assigned),
        at,
    )


def verified(message: str = VERIFIED_A, at: str = NOW_TEXT) -> Row:
    return (ARTIFACT_VERIFIED, "True", Reason.VERIFIED, message, at)


def stall(reason: str, message: str, at: str = NOW_TEXT) -> list[Row]:
    return [
        (READY, "False", reason, message, at),
        (STALLED, "True", reason, message, at),
    ]


def waiting(reason: str, message: str, at: str = NOW_TEXT) -> list[Row]:
    return [
        (READY, "False", reason, message, at),
        (RECONCILING, "True", reason, message + " Retrying.", at),
    ]


def again(first: Decision, view: VersionView, **kwargs: Any) -> Decision:
    """The same pass once more, later, on the status the first one wrote."""
    return run_pass(replace(view, status=first.status, now=LATER), **kwargs)


# --- one pass, one situation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "namespace", "generation"), [("fraud", "team-a", 1), ("churn", "risk-prod", 7)]
)
def test_model_missing_waits_and_retries(model: str, namespace: str, generation: int) -> None:
    view = make_view(make_spec(model=model), generation=generation, namespace=namespace)
    text = model_missing(model, namespace)

    decision = run_pass(view, model_found=False)

    assert decision.status == ModelVersionStatus(
        observed_generation=generation,
        stage="None",
        conditions=conditions(
            generation,
            *waiting(Reason.MODEL_NOT_FOUND, text),
            (MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, text, NOW_TEXT),
        ),
    )
    assert decision.retry is True
    assert decision.events == (Event("Warning", Reason.MODEL_NOT_FOUND, text, "Reconcile"),)


@pytest.mark.parametrize(("number", "holder"), [(3, "fraud-v3-first"), (42, "fraud-42")])
def test_duplicate_version_stalls_and_names_the_holder(number: int, holder: str) -> None:
    view = make_view(make_spec(version=number), generation=7)
    text = duplicate(number, holder)

    decision = run_pass(view, number=VersionDecision(version=number, holder=holder))

    assert decision.status == ModelVersionStatus(
        observed_generation=7,
        stage="None",
        conditions=conditions(
            7,
            *stall(Reason.DUPLICATE_VERSION, text),
            found(),
            (VERSION_ASSIGNED, "False", Reason.DUPLICATE_VERSION, text, NOW_TEXT),
        ),
    )
    assert decision.status.version is None  # a refused claim is not the version
    assert decision.retry is False
    assert decision.events == (Event("Warning", Reason.DUPLICATE_VERSION, text),)


def test_verifying_shows_progress_without_retry() -> None:
    view = make_view(make_spec(version=42))
    text = f"Hashing {URI}."

    decision = run_pass(view, number=VersionDecision(version=42), hashing=True)

    assert decision.status == ModelVersionStatus(
        observed_generation=1,
        version=42,
        stage="None",
        conditions=conditions(
            1,
            (READY, "Unknown", Reason.VERIFYING, text, NOW_TEXT),
            (RECONCILING, "True", Reason.VERIFYING, text, NOW_TEXT),
            found(),
            held(42, assigned=False),
            (ARTIFACT_VERIFIED, "Unknown", Reason.VERIFYING, text, NOW_TEXT),
        ),
    )
    assert decision.retry is False
    assert decision.events == ()


def test_nothing_hashed_yet_is_verifying() -> None:
    text = "The artifact has not been verified yet."

    decision = run_pass(make_view())

    assert decision.status.conditions == conditions(
        1,
        (READY, "Unknown", Reason.VERIFYING, text, NOW_TEXT),
        (RECONCILING, "True", Reason.VERIFYING, text, NOW_TEXT),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "Unknown", Reason.VERIFYING, text, NOW_TEXT),
    )
    assert decision.events == ()


def test_nothing_hashed_yet_retries() -> None:
    assert run_pass(make_view()).retry is True


@pytest.mark.parametrize(
    ("generation", "number", "model", "namespace"),
    [(4, 7, "fraud", "team-a"), (1, 42, "churn", "risk-prod")],
)
def test_verified_single_object_is_ready_and_recorded(
    generation: int, number: int, model: str, namespace: str
) -> None:
    view = make_view(
        make_spec(model=model, version=number), generation=generation, namespace=namespace
    )

    decision = run_pass(
        view, number=VersionDecision(version=number), outcome=hashed(one_object(HEX_A, 42, "v1"))
    )

    assert decision.status == ModelVersionStatus(
        observed_generation=generation,
        version=number,
        stage="None",
        artifact=record(),
        components=[],
        artifact_checked_at=NOW_TEXT,
        conditions=conditions(
            generation,
            (READY, "True", Reason.SUCCEEDED, ready(number, model), NOW_TEXT),
            found(model=model, namespace=namespace),
            held(number, model=model, assigned=False),
            verified(),
        ),
    )
    assert decision.status.artifact is not None
    assert decision.status.artifact.model_dump(by_alias=True) == {
        "uri": URI,
        "digest": DIGEST_A,
        "size": 42,
        "fileCount": 1,
        "files": [],
        "versionId": "v1",
        "verifiedAt": "2030-01-02T03:04:05Z",
        "verifiedBy": None,
        "oci": None,
    }
    assert decision.retry is False
    assert decision.events == (Event("Normal", Reason.VERIFIED, VERIFIED_A),)


def test_verified_prefix_records_every_file() -> None:
    observed = two_files()
    view = make_view(make_spec(uri=PREFIX_URI, digest=observed.digest))

    decision = run_pass(view, outcome=hashed(observed))

    assert (
        decision.status.conditions[-1]
        == conditions(1, verified(f"{PREFIX_URI} is {observed.digest} (100 bytes, 2 files)."))[0]
    )
    artifact = decision.status.artifact
    assert artifact is not None
    assert (artifact.uri, artifact.digest, artifact.size, artifact.file_count) == (
        PREFIX_URI,
        observed.digest,
        100,
        2,
    )
    assert artifact.version_id is None
    assert [(f.path, f.digest, f.size, f.version_id) for f in artifact.files] == [
        ("MLmodel", "sha256:" + "1" * 64, 10, "m1"),
        ("data/model.pkl", "sha256:" + "2" * 64, 90, None),
    ]


def test_digest_mismatch_stalls_and_names_spec_artifact_digest() -> None:
    text = mismatch(URI, DIGEST_B, DIGEST_A)

    decision = run_pass(make_view(), outcome=hashed(one_object(HEX_B)))

    assert decision.status == ModelVersionStatus(
        observed_generation=1,
        version=1,
        stage="None",
        artifact_checked_at=NOW_TEXT,
        conditions=conditions(
            1,
            *stall(Reason.DIGEST_MISMATCH, text),
            found(),
            held(),
            (ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, text, NOW_TEXT),
        ),
    )
    assert decision.retry is False
    # ArtifactVerified and Stalled share the reason: announced once.
    assert decision.events == (Event("Warning", Reason.DIGEST_MISMATCH, text),)


@pytest.mark.parametrize(
    ("before", "after", "versions"),
    [("v1", "v2", " (versionId v1 -> v2)"), (None, None, ""), ("v1", None, ""), (None, "v2", "")],
)
def test_artifact_changed_after_verification_stalls(
    before: str | None, after: str | None, versions: str
) -> None:
    status = verified_status(outcome=hashed(one_object(HEX_A, version_id=before)))
    text = changed(URI, DIGEST_A, DIGEST_B, versions=versions)

    decision = run_pass(
        make_view(status=status, now=LATER), outcome=hashed(one_object(HEX_B, version_id=after))
    )

    assert decision.status.conditions == conditions(
        1,
        *stall(Reason.ARTIFACT_CHANGED, text, at=LATER_TEXT),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED, text, LATER_TEXT),
    )
    assert decision.retry is False
    # The verified record stays: it says what the bytes must be.
    assert decision.status.artifact == status.artifact
    assert decision.status.artifact_checked_at == LATER_TEXT
    assert decision.events == (Event("Warning", Reason.ARTIFACT_CHANGED, text),)


@pytest.mark.parametrize(
    "reason",
    [
        Reason.ARTIFACT_NOT_FOUND,
        Reason.STORAGE_UNREACHABLE,
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.STORAGE_ERROR,
    ],
)
def test_transient_failure_is_reconciling_and_retries(reason: str) -> None:
    text = f"{reason} happened."

    decision = run_pass(make_view(generation=7), outcome=hashed(failed(reason)))

    assert decision.status.conditions == conditions(
        7,
        *waiting(reason, text),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", reason, text, NOW_TEXT),
    )
    assert decision.retry is True
    assert decision.status.artifact_checked_at == NOW_TEXT
    assert decision.events == (Event("Warning", reason, text),)


@pytest.mark.parametrize(
    "reason",
    [
        Reason.ACCESS_DENIED,
        Reason.CREDENTIALS_REJECTED,
        Reason.INVALID_ENDPOINT,
        Reason.INVALID_ARTIFACT,
        Reason.DIGEST_MISMATCH,
        Reason.ARTIFACT_CHANGED,
    ],
)
def test_permanent_failure_stalls_without_retry(reason: str) -> None:
    text = "Only a person can fix this."

    decision = run_pass(make_view(), outcome=hashed(failed(reason, text)))

    assert decision.status.conditions == conditions(
        1,
        *stall(reason, text),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", reason, text, NOW_TEXT),
    )
    assert decision.retry is False
    assert decision.events == (Event("Warning", reason, text),)


def test_recovery_after_transient_failure_drops_reconciling() -> None:
    failing = run_pass(make_view(), outcome=hashed(failed(Reason.ARTIFACT_NOT_FOUND, "gone")))

    decision = run_pass(
        make_view(status=failing.status, now=LATER, generation=2), outcome=hashed(one_object())
    )

    assert decision.status.conditions == conditions(
        2,
        (READY, "True", Reason.SUCCEEDED, ready(1), LATER_TEXT),
        found(),
        held(),
        verified(at=LATER_TEXT),
    )
    assert decision.retry is False
    assert decision.events == (Event("Normal", Reason.VERIFIED, VERIFIED_A),)


def test_pass_without_hashing_keeps_a_verified_version_ready() -> None:
    status = verified_status()

    decision = run_pass(make_view(status=status, now=LATER))

    assert decision.status == status
    assert decision.retry is False
    assert decision.events == ()


def test_model_missing_keeps_the_later_conditions_as_they_were() -> None:
    status = verified_status()
    text = model_missing()

    decision = run_pass(make_view(status=status, now=LATER, generation=2), model_found=False)

    assert decision.status.conditions == conditions(
        2,
        *waiting(Reason.MODEL_NOT_FOUND, text, at=LATER_TEXT),
        (MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, text, LATER_TEXT),
        held(),
        verified(),
    )
    assert decision.status.artifact == status.artifact
    assert decision.status.version == 1
    assert decision.retry is True
    assert decision.events == (Event("Warning", Reason.MODEL_NOT_FOUND, text),)


def test_a_duplicate_keeps_the_verification_as_it_was() -> None:
    status = verified_status()
    text = duplicate(1, "older")

    decision = run_pass(
        make_view(status=status, now=LATER), number=VersionDecision(version=1, holder="older")
    )

    assert decision.status.conditions == conditions(
        1,
        *stall(Reason.DUPLICATE_VERSION, text, at=LATER_TEXT),
        found(),
        (VERSION_ASSIGNED, "False", Reason.DUPLICATE_VERSION, text, LATER_TEXT),
        verified(),
    )


@pytest.mark.parametrize(
    ("reason", "retry"),
    [
        (Reason.ARTIFACT_NOT_FOUND, True),
        (Reason.STORAGE_UNREACHABLE, True),
        (Reason.ACCESS_DENIED, False),
        (Reason.DIGEST_MISMATCH, False),
    ],
)
def test_a_pass_that_hashes_nothing_keeps_waiting_or_stalled_as_it_was(
    reason: str, retry: bool
) -> None:
    first = run_pass(make_view(), outcome=hashed(failed(reason, "what happened")))

    second = run_pass(make_view(status=first.status, now=LATER))

    assert second.status == first.status
    assert second.retry is retry
    assert second.events == ()


# --- pinning when spec.artifact.digest is omitted ----------------------------------------


def test_first_verification_pins_the_digest() -> None:
    spec = make_spec(digest=None)

    decision = run_pass(make_view(spec), outcome=hashed(one_object(HEX_B)))

    assert decision.status.conditions[0] == condition(READY, "True", Reason.SUCCEEDED, ready(1))
    assert decision.status.artifact == record(digest=DIGEST_B)
    assert verification.is_verified(spec, decision.status) is True


def test_pinned_digest_then_different_bytes_is_artifact_changed() -> None:
    spec = make_spec(digest=None)
    pinned = run_pass(make_view(spec), outcome=hashed(one_object(HEX_A, version_id="v1"))).status
    text = changed(URI, DIGEST_A, DIGEST_B, versions=" (versionId v1 -> v2)")

    decision = run_pass(
        make_view(spec, pinned, now=LATER), outcome=hashed(one_object(HEX_B, version_id="v2"))
    )

    assert decision.status.conditions[-1] == condition(
        ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED, text, LATER_TEXT
    )
    assert decision.status.artifact == record()
    assert verification.is_verified(spec, decision.status) is False


def test_pinned_digest_then_same_bytes_stays_verified() -> None:
    spec = make_spec(digest=None)
    pinned = run_pass(make_view(spec), outcome=hashed(one_object(HEX_A))).status

    decision = run_pass(make_view(spec, pinned, now=LATER), outcome=hashed(one_object(HEX_A)))

    assert decision.status.conditions == pinned.conditions
    assert decision.status.artifact == record(at=LATER_TEXT)
    assert decision.status.artifact_checked_at == LATER_TEXT
    assert decision.events == ()


# --- events: on transitions only ------------------------------------------------------------

PASSES: dict[str, tuple[VersionView, dict[str, Any]]] = {
    "model-missing": (make_view(), {"model_found": False}),
    "duplicate": (make_view(), {"number": VersionDecision(version=2, holder="other")}),
    "verifying": (make_view(), {"hashing": True}),
    "verified": (make_view(), {"outcome": hashed(one_object())}),
    "mismatch": (make_view(), {"outcome": hashed(one_object(HEX_B))}),
    "transient": (make_view(), {"outcome": hashed(failed(Reason.STORAGE_UNREACHABLE))}),
    "denied": (make_view(), {"outcome": hashed(failed(Reason.ACCESS_DENIED))}),
    "assigned": (
        make_view(generation=7),
        {"number": VersionDecision(version=42, assigned=True), "outcome": hashed(one_object())},
    ),
}


@pytest.mark.parametrize("name", sorted(PASSES))
def test_second_identical_pass_emits_no_events(name: str) -> None:
    view, kwargs = PASSES[name]
    first = run_pass(view, **kwargs)

    second = again(first, view, **kwargs)

    assert second.events == ()
    assert second.status.conditions == first.status.conditions


def test_an_assigned_number_is_announced_only_with_the_verification() -> None:
    view, kwargs = PASSES["assigned"]

    decision = run_pass(view, **kwargs)

    assert decision.events == (Event("Normal", Reason.VERIFIED, VERIFIED_A),)
    assert decision.status.conditions[2] == condition(
        VERSION_ASSIGNED, "True", Reason.VERSION_HELD, version_held(42, assigned=True), generation=7
    )


def test_change_of_failure_reason_is_announced() -> None:
    view, kwargs = PASSES["transient"]
    first = run_pass(view, **kwargs)

    second = run_pass(
        replace(view, status=first.status), outcome=hashed(failed(Reason.ACCESS_DENIED, "denied"))
    )

    assert second.events == (Event("Warning", Reason.ACCESS_DENIED, "denied"),)
    # Ready stayed False: its transition time stays; Stalled is new.
    assert [(c.type, c.last_transition_time) for c in second.status.conditions] == [
        (READY, NOW_TEXT),
        (STALLED, NOW_TEXT),
        (MODEL_FOUND, NOW_TEXT),
        (VERSION_ASSIGNED, NOW_TEXT),
        (ARTIFACT_VERIFIED, NOW_TEXT),
    ]


# --- compose: what is carried, and the order --------------------------------------------------


def test_compose_orders_ready_then_reconciling_or_stalled_then_owned_in_step_order() -> None:
    results = [
        StepResult((DesiredCondition(ARTIFACT_VERIFIED, "False", Reason.STORAGE_ERROR, "store"),)),
        StepResult((DesiredCondition(MODEL_FOUND, "True", Reason.MODEL_EXISTS, "model"),)),
        StepResult((DesiredCondition(VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "held"),)),
    ]

    decision = compose.compose(make_view(now=LAST, generation=3), results, OWNED)

    assert decision.status.conditions == conditions(
        3,
        (READY, "False", Reason.STORAGE_ERROR, "store", LAST_TEXT),
        (RECONCILING, "True", Reason.STORAGE_ERROR, "store Retrying.", LAST_TEXT),
        (MODEL_FOUND, "True", Reason.MODEL_EXISTS, "model", LAST_TEXT),
        (VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "held", LAST_TEXT),
        (ARTIFACT_VERIFIED, "False", Reason.STORAGE_ERROR, "store", LAST_TEXT),
    )
    assert decision.retry is True


def test_compose_carries_the_conditions_of_steps_that_did_not_run() -> None:
    before = ModelVersionStatus(
        version=9,
        stage="Production",
        conditions=conditions(
            2,
            (READY, "True", Reason.SUCCEEDED, "old", NOW_TEXT),
            (VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "Version 9.", NOW_TEXT),
            (ARTIFACT_VERIFIED, "True", Reason.VERIFIED, "old bytes", NOW_TEXT),
            ("Custom", "True", "Other", "not owned", NOW_TEXT),
        ),
    )
    results = [StepResult((DesiredCondition(MODEL_FOUND, "True", Reason.MODEL_EXISTS, "m"),))]

    decision = compose.compose(make_view(status=before, now=LATER, generation=5), results, OWNED)

    assert decision.status == before.model_copy(
        update={
            "observed_generation": 5,
            "conditions": conditions(
                5,
                (READY, "True", Reason.SUCCEEDED, "Version 9 of Model 'fraud' is ready.", NOW_TEXT),
                (MODEL_FOUND, "True", Reason.MODEL_EXISTS, "m", LATER_TEXT),
                (VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "Version 9.", NOW_TEXT),
                (ARTIFACT_VERIFIED, "True", Reason.VERIFIED, "old bytes", NOW_TEXT),
            ),
        }
    )
    assert decision.events == ()


def test_compose_takes_the_steps_status_fields_and_the_new_number() -> None:
    before = ModelVersionStatus(version=3, artifact_checked_at="then")
    results = [
        StepResult((), status={"version": 42}),
        StepResult((), status={"artifact_checked_at": LATER_TEXT}),
    ]

    decision = compose.compose(make_view(make_spec(model="churn"), before), results, OWNED)

    assert decision.status.version == 42
    assert decision.status.artifact_checked_at == LATER_TEXT
    assert decision.status.stage == "None"
    # No owned condition at all: nothing has been checked.
    assert decision.status.conditions == conditions(
        1,
        (READY, "Unknown", Reason.PROGRESSING, "Nothing has been checked yet.", NOW_TEXT),
        (RECONCILING, "True", Reason.PROGRESSING, "Nothing has been checked yet.", NOW_TEXT),
    )


def test_compose_names_the_new_number_in_ready() -> None:
    before = ModelVersionStatus(version=3)
    results = [
        StepResult(
            (DesiredCondition(VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "h"),),
            status={"version": 42},
        )
    ]

    decision = compose.compose(make_view(make_spec(model="churn"), before), results, OWNED)

    assert decision.status.conditions[0] == condition(
        READY, "True", Reason.SUCCEEDED, "Version 42 of Model 'churn' is ready."
    )


def test_compose_posts_step_events_first_and_does_not_repeat_their_reason() -> None:
    own = Event("Warning", Reason.DIGEST_MISMATCH, "said by the step", "Verify")
    results = [
        StepResult(
            (DesiredCondition(MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, "no model"),),
        ),
        StepResult(
            (DesiredCondition(ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, "wrong"),),
            events=(own,),
        ),
    ]

    decision = compose.compose(make_view(), results, OWNED)

    assert decision.events == (own, Event("Warning", Reason.MODEL_NOT_FOUND, "no model"))


# --- invalid_spec ---------------------------------------------------------------------------


def test_invalid_spec_stalls_and_names_the_problem() -> None:
    status = verified_status()
    problem = "spec.artifact.uri: String should match pattern"
    text = f"The spec is invalid: {problem}. Fix the named fields and apply again."

    decision = compose.invalid_spec(status, problem, 6, LATER)

    assert decision == Decision(
        status=status.model_copy(
            update={
                "observed_generation": 6,
                "conditions": conditions(6, *stall(Reason.INVALID_SPEC, text, at=LATER_TEXT)),
            }
        ),
        events=(Event("Warning", Reason.INVALID_SPEC, text),),
        retry=False,
    )

    repeated = compose.invalid_spec(decision.status, "spec.artifact.uri: other words", 6, LAST)

    assert repeated.events == ()
    assert [c.last_transition_time for c in repeated.status.conditions] == [
        LATER_TEXT,
        LATER_TEXT,
    ]


def test_invalid_spec_on_a_new_object_keeps_the_stage_unset() -> None:
    decision = compose.invalid_spec(ModelVersionStatus(), "x", 1, NOW)

    assert decision.status.stage is None
    assert decision.status.observed_generation == 1


# --- components ---------------------------------------------------------------------------

TOKENIZER = ("tokenizer", TOKENIZER_URI, DIGEST_B)
TOKENIZER_VERIFIED = (
    f"{URI} is {DIGEST_A} (42 bytes, versionId v1). All 1 components match their digests too."
)


def test_components_verified_with_the_artifact_are_recorded_by_name() -> None:
    spec = make_spec(components=[TOKENIZER])

    decision = run_pass(make_view(spec), outcome=hashed(one_object(), one_object(HEX_B, 7, "t1")))

    assert decision.status.conditions == conditions(
        1,
        (READY, "True", Reason.SUCCEEDED, ready(1), NOW_TEXT),
        found(),
        held(),
        verified(TOKENIZER_VERIFIED),
    )
    assert decision.status.components == [
        VerifiedComponent(
            name="tokenizer",
            artifact=record(TOKENIZER_URI, DIGEST_B, size=7, version_id="t1"),
        )
    ]
    assert verification.is_verified(spec, decision.status)


def test_a_component_with_the_wrong_bytes_stalls_the_version_naming_its_field() -> None:
    spec = make_spec(components=[TOKENIZER])
    text = mismatch(TOKENIZER_URI, DIGEST_A, DIGEST_B, "spec.components[0].artifact")

    decision = run_pass(make_view(spec), outcome=hashed(one_object(), one_object(HEX_A)))

    assert decision.status.conditions == conditions(
        1,
        *stall(Reason.DIGEST_MISMATCH, text),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, text, NOW_TEXT),
    )
    # The artifact itself matched and is recorded; the component is not.
    assert decision.status.artifact == record()
    assert decision.status.components == []
    assert not verification.is_verified(spec, decision.status)


def test_a_missing_component_is_waited_for() -> None:
    spec = make_spec(components=[TOKENIZER])
    missing = failed(Reason.ARTIFACT_NOT_FOUND, "nothing there")

    decision = run_pass(make_view(spec), outcome=hashed(one_object(), missing))

    assert decision.status.conditions == conditions(
        1,
        *waiting(Reason.ARTIFACT_NOT_FOUND, "nothing there"),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_NOT_FOUND, "nothing there", NOW_TEXT),
    )
    assert decision.retry is True


def test_a_component_without_a_digest_is_pinned_then_guarded() -> None:
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, None)])
    first = run_pass(make_view(spec), outcome=hashed(one_object(), one_object(HEX_B, 7, "t1")))
    text = changed(
        TOKENIZER_URI, DIGEST_B, DIGEST_C, "spec.components[0].artifact", " (versionId t1 -> t2)"
    )

    decision = run_pass(
        make_view(spec, first.status, now=LATER),
        outcome=hashed(one_object(), one_object(HEX_C, 7, "t2")),
    )

    assert decision.status.conditions[-1] == condition(
        ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED, text, LATER_TEXT
    )
    assert decision.status.components == first.status.components  # the pinned record stays


# --- re-checks that cannot read the bytes ----------------------------------------------------


@pytest.mark.parametrize(
    "reason", [Reason.STORAGE_UNREACHABLE, Reason.STORAGE_ERROR, Reason.CREDENTIALS_NOT_FOUND]
)
def test_a_recheck_that_cannot_read_keeps_the_verification(reason: str) -> None:
    before = verified_status()
    view = make_view(status=before, now=LATER)
    outcome = hashed(failed(reason, "The store is down."))

    decision = run_pass(view, outcome=outcome)
    repeated = run_pass(view, outcome=outcome, unreadable_before=reason)

    assert decision.status == before  # Ready, the record and artifactCheckedAt as they were
    assert decision.retry is False
    assert decision.events == (
        Event(
            "Warning",
            reason,
            "Re-verification could not read the bytes: The store is down. The verification "
            f"of {NOW_TEXT} stands; the next periodic pass tries again.",
        ),
    )
    assert repeated.status == before
    assert repeated.events == ()


UNREADABLE = failed(Reason.STORAGE_UNREACHABLE, "down")
CHANGED = one_object(HEX_C, 7, "v2")


@pytest.mark.parametrize(
    ("artifact", "component", "text"),
    [
        (CHANGED, UNREADABLE, changed(URI, DIGEST_A, DIGEST_C, versions=" (versionId v1 -> v2)")),
        (
            UNREADABLE,
            CHANGED,
            changed(
                TOKENIZER_URI,
                DIGEST_B,
                DIGEST_C,
                "spec.components[0].artifact",
                " (versionId t1 -> v2)",
            ),
        ),
    ],
    ids=["artifact-changed", "component-changed"],
)
def test_changed_bytes_are_not_hidden_by_another_target_that_cannot_be_read(
    artifact: Outcome, component: Outcome, text: str
) -> None:
    spec = make_spec(components=[TOKENIZER])
    status = verified_status(spec, hashed(one_object(), one_object(HEX_B, 7, "t1")))

    decision = run_pass(make_view(spec, status, now=LATER), outcome=Hashed(artifact, (component,)))

    assert decision.status.conditions == conditions(
        1,
        *stall(Reason.ARTIFACT_CHANGED, text, at=LATER_TEXT),
        found(),
        held(),
        (ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED, text, LATER_TEXT),
    )
    assert decision.events == (Event("Warning", Reason.ARTIFACT_CHANGED, text),)


def test_an_unreadable_recheck_is_due_again_on_the_next_periodic_pass() -> None:
    decision = run_pass(
        make_view(status=verified_status(), now=LATER),
        outcome=hashed(failed(Reason.STORAGE_UNREACHABLE)),
    )

    # The interval counts from the last check that read the bytes (NOW, not LATER).
    assert decision.status.artifact_checked_at == NOW_TEXT
    assert verification.reverification_due(decision.status, NOW + HOUR, HOUR) is True


@pytest.mark.parametrize(
    ("outcome", "reason", "text"),
    [
        (failed(Reason.ARTIFACT_NOT_FOUND, "gone"), Reason.ARTIFACT_NOT_FOUND, "gone"),
        (failed(Reason.ACCESS_DENIED, "denied"), Reason.ACCESS_DENIED, "denied"),
        (
            one_object(HEX_B),
            Reason.ARTIFACT_CHANGED,
            changed(URI, DIGEST_A, DIGEST_B, versions=""),
        ),
    ],
    ids=["gone", "denied", "changed"],
)
def test_a_recheck_that_finds_the_bytes_gone_or_changed_revokes_ready(
    outcome: Outcome, reason: str, text: str
) -> None:
    decision = run_pass(make_view(status=verified_status(), now=LATER), outcome=hashed(outcome))

    assert decision.status.conditions[0] == condition(READY, "False", reason, text, LATER_TEXT)
    assert decision.status.conditions[-1] == condition(
        ARTIFACT_VERIFIED, "False", reason, text, LATER_TEXT
    )
    assert decision.status.artifact == record()
    assert decision.events == (Event("Warning", reason, text),)
