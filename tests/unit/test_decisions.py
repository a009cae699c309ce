"""The decision layer: exact conditions, status, events and retry wishes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelregistry import conditions as cond
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelregistry.conditions import Reason
from modelregistry.decisions import (
    Claim,
    Decision,
    Event,
    Outcome,
    Situation,
    VerificationFailure,
    VersionDecision,
    VersionSummary,
    decide,
    decide_version,
    expected_digest,
    invalid_spec,
    is_verified,
    reverification_due,
    settled_for_now,
    summarize_model,
)
from modelregistry.digest import ArtifactDigest, FileDigest, prefix_artifact, single_object

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
URI = "s3://models/fraud/v1/model.onnx"
PREFIX_URI = "s3://models/fraud/v1/mlflow/"
HEX_A = "a" * 64
HEX_B = "b" * 64
DIGEST_A = "sha256:" + HEX_A
DIGEST_B = "sha256:" + HEX_B
NAMESPACE = "team-a"
MODEL = "fraud"


def make_spec(
    *, uri: str = URI, digest: str | None = DIGEST_A, version: int | None = None
) -> ModelVersionSpec:
    artifact: dict[str, Any] = {"uri": uri}
    if digest is not None:
        artifact["digest"] = digest
    body: dict[str, Any] = {"modelRef": {"name": MODEL}, "artifact": artifact}
    if version is not None:
        body["version"] = version
    return ModelVersionSpec.model_validate(body)


def one_object(
    hexdigest: str = HEX_A, size: int = 42, version_id: str | None = "v1"
) -> ArtifactDigest:
    return single_object(
        FileDigest(path="model.onnx", hexdigest=hexdigest, size=size, version_id=version_id)
    )


def situation(
    spec: ModelVersionSpec | None = None,
    status: ModelVersionStatus | None = None,
    **changes: Any,
) -> Situation:
    base = Situation(
        spec=spec if spec is not None else make_spec(),
        status=status if status is not None else ModelVersionStatus(),
        generation=1,
        now=NOW,
        namespace=NAMESPACE,
        version=VersionDecision(version=1),
    )
    return dataclasses.replace(base, **changes)


def kinds(decision: Decision) -> list[tuple[str, str, str]]:
    return [(c.type, c.status, c.reason) for c in decision.status.conditions]


def message(decision: Decision, condition_type: str) -> str:
    found = cond.find(decision.status.conditions, condition_type)
    assert found is not None, f"no {condition_type} condition"
    return found.message


def event_kinds(decision: Decision) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in decision.events]


def verified_status(
    spec: ModelVersionSpec | None = None, outcome: ArtifactDigest | None = None
) -> ModelVersionStatus:
    """The status after a first, successful verification."""
    decision = decide(situation(spec, outcome=outcome if outcome is not None else one_object()))
    assert kinds(decision)[0] == (cond.READY, "True", Reason.SUCCEEDED)
    return decision.status


def again(previous: Decision, first: Situation) -> Decision:
    """The same pass once more, on the status the first pass wrote."""
    version = first.version
    if version is not None:
        version = dataclasses.replace(version, assigned=False)
    return decide(dataclasses.replace(first, status=previous.status, version=version, now=LATER))


# --- decide: one table row per situation ------------------------------------


def test_model_missing_waits_and_retries() -> None:
    decision = decide(situation(model_found=False))

    assert kinds(decision) == [
        (cond.READY, "False", Reason.MODEL_NOT_FOUND),
        (cond.RECONCILING, "True", Reason.MODEL_NOT_FOUND),
    ]
    assert decision.retry is True
    assert f"Model {MODEL!r} does not exist in namespace {NAMESPACE!r}" in message(
        decision, cond.READY
    )
    assert "spec.modelRef.name" in message(decision, cond.READY)
    assert decision.events == ()


def test_duplicate_version_stalls_and_names_the_holder() -> None:
    decision = decide(situation(version=VersionDecision(version=3, holder="fraud-v3-first")))

    assert kinds(decision) == [
        (cond.READY, "False", Reason.DUPLICATE_VERSION),
        (cond.STALLED, "True", Reason.DUPLICATE_VERSION),
    ]
    assert decision.retry is False
    assert decision.status.version is None  # a refused claim is not the version
    text = message(decision, cond.STALLED)
    assert "Version 3 of Model 'fraud'" in text
    assert "'fraud-v3-first'" in text
    assert event_kinds(decision) == [("Warning", Reason.DUPLICATE_VERSION)]


def test_verifying_shows_progress_without_retry() -> None:
    decision = decide(situation(verifying=True))

    assert kinds(decision) == [
        (cond.READY, "Unknown", Reason.VERIFYING),
        (cond.RECONCILING, "True", Reason.VERIFYING),
    ]
    assert decision.retry is False
    assert URI in message(decision, cond.RECONCILING)
    assert decision.status.artifact is None
    assert decision.status.artifact_checked_at is None


def test_nothing_hashed_yet_is_progressing_and_retries() -> None:
    decision = decide(situation())

    assert kinds(decision) == [
        (cond.READY, "Unknown", Reason.PROGRESSING),
        (cond.RECONCILING, "True", Reason.PROGRESSING),
    ]
    assert decision.retry is True


def test_verified_single_object_is_ready_and_recorded() -> None:
    decision = decide(
        situation(
            generation=4,
            version=VersionDecision(version=7),
            outcome=one_object(HEX_A, size=42, version_id="v1"),
        )
    )

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.retry is False
    status = decision.status
    assert status.artifact is not None
    assert status.artifact.model_dump(by_alias=True) == {
        "uri": URI,
        "digest": DIGEST_A,
        "size": 42,
        "fileCount": 1,
        "files": [],
        "versionId": "v1",
        "verifiedAt": "2030-01-02T03:04:05Z",
    }
    assert status.artifact_checked_at == "2030-01-02T03:04:05Z"
    assert status.observed_generation == 4
    assert status.version == 7
    assert status.stage == "None"
    assert {c.observed_generation for c in status.conditions} == {4}
    assert message(decision, cond.ARTIFACT_VERIFIED) == (
        f"{URI} is {DIGEST_A} (42 bytes, versionId v1)."
    )
    assert message(decision, cond.READY) == "Version 7 of Model 'fraud' is verified and ready."
    assert event_kinds(decision) == [("Normal", Reason.VERIFIED)]


def test_verified_prefix_records_every_file() -> None:
    files = [
        FileDigest(path="MLmodel", hexdigest="1" * 64, size=10, version_id="m1"),
        FileDigest(path="data/model.pkl", hexdigest="2" * 64, size=90),
    ]
    observed = prefix_artifact(files)
    spec = make_spec(uri=PREFIX_URI, digest=observed.digest)

    decision = decide(situation(spec, outcome=observed))

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
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
    assert message(decision, cond.ARTIFACT_VERIFIED) == (
        f"{PREFIX_URI} is {observed.digest} (100 bytes, 2 files)."
    )


def test_digest_mismatch_stalls_and_names_spec_artifact_digest() -> None:
    decision = decide(situation(outcome=one_object(HEX_B)))

    assert kinds(decision) == [
        (cond.READY, "False", Reason.DIGEST_MISMATCH),
        (cond.STALLED, "True", Reason.DIGEST_MISMATCH),
        (cond.ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH),
    ]
    assert decision.retry is False
    text = message(decision, cond.ARTIFACT_VERIFIED)
    assert f"{URI} hashes to {DIGEST_B}, but spec.artifact.digest is {DIGEST_A}" in text
    assert "modelregistry digest" in text
    assert decision.status.artifact is None
    assert decision.status.artifact_checked_at == "2030-01-02T03:04:05Z"
    # ArtifactVerified and Stalled share the reason: announced once.
    assert event_kinds(decision) == [("Warning", Reason.DIGEST_MISMATCH)]


def test_artifact_changed_after_verification_names_both_version_ids() -> None:
    status = verified_status()

    decision = decide(
        situation(status=status, now=LATER, outcome=one_object(HEX_B, version_id="v2"))
    )

    assert kinds(decision) == [
        (cond.READY, "False", Reason.ARTIFACT_CHANGED),
        (cond.STALLED, "True", Reason.ARTIFACT_CHANGED),
        (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED),
    ]
    assert decision.retry is False
    text = message(decision, cond.ARTIFACT_VERIFIED)
    assert f"it was {DIGEST_A}, it is now {DIGEST_B}" in text
    assert "(versionId v1 -> v2)" in text
    # The verified record stays: it says what the bytes must be.
    assert decision.status.artifact == status.artifact
    assert decision.status.artifact_checked_at == "2030-01-02T05:04:05Z"
    assert event_kinds(decision) == [("Warning", Reason.ARTIFACT_CHANGED)]


@pytest.mark.parametrize(("before", "after"), [(None, None), ("v1", None), (None, "v2")])
def test_artifact_changed_without_both_version_ids_omits_them(
    before: str | None, after: str | None
) -> None:
    status = verified_status(outcome=one_object(HEX_A, version_id=before))

    decision = decide(situation(status=status, outcome=one_object(HEX_B, version_id=after)))

    assert kinds(decision)[2] == (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED)
    assert "versionId" not in message(decision, cond.ARTIFACT_VERIFIED)


@pytest.mark.parametrize(
    "reason", [Reason.ARTIFACT_NOT_FOUND, Reason.STORAGE_UNREACHABLE, Reason.STORAGE_ERROR]
)
def test_transient_failure_is_reconciling_and_retries(reason: str) -> None:
    failure = VerificationFailure(reason, f"{reason} happened.", transient=True)

    decision = decide(situation(outcome=failure))

    assert kinds(decision) == [
        (cond.READY, "False", reason),
        (cond.RECONCILING, "True", reason),
        (cond.ARTIFACT_VERIFIED, "False", reason),
    ]
    assert decision.retry is True
    assert message(decision, cond.RECONCILING) == f"{reason} happened. Retrying."
    assert message(decision, cond.ARTIFACT_VERIFIED) == f"{reason} happened."
    assert decision.status.artifact_checked_at == "2030-01-02T03:04:05Z"
    assert event_kinds(decision) == [("Warning", reason)]


@pytest.mark.parametrize("reason", [Reason.ACCESS_DENIED, Reason.INVALID_SPEC])
def test_permanent_failure_stalls_without_retry(reason: str) -> None:
    failure = VerificationFailure(reason, "Only a person can fix this.", transient=False)

    decision = decide(situation(outcome=failure))

    assert kinds(decision) == [
        (cond.READY, "False", reason),
        (cond.STALLED, "True", reason),
        (cond.ARTIFACT_VERIFIED, "False", reason),
    ]
    assert decision.retry is False
    assert message(decision, cond.STALLED) == "Only a person can fix this."


def test_recovery_after_transient_failure_drops_reconciling() -> None:
    failing = decide(
        situation(outcome=VerificationFailure(Reason.ARTIFACT_NOT_FOUND, "gone", transient=True))
    )

    decision = decide(situation(status=failing.status, now=LATER, outcome=one_object()))

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.retry is False
    assert all(c.last_transition_time == "2030-01-02T05:04:05Z" for c in decision.status.conditions)
    assert event_kinds(decision) == [("Normal", Reason.VERIFIED)]


def test_pass_without_hashing_keeps_a_verified_version_ready() -> None:
    status = verified_status()

    decision = decide(situation(status=status, now=LATER))

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.status.artifact == status.artifact
    assert decision.status.artifact_checked_at == status.artifact_checked_at
    assert decision.status.conditions == status.conditions
    assert decision.events == ()


def test_model_missing_keeps_the_artifact_condition() -> None:
    status = verified_status()

    decision = decide(situation(status=status, model_found=False))

    assert kinds(decision) == [
        (cond.READY, "False", Reason.MODEL_NOT_FOUND),
        (cond.RECONCILING, "True", Reason.MODEL_NOT_FOUND),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.status.artifact == status.artifact


# --- pinning when spec.artifact.digest is omitted ------------------------------


def test_first_verification_pins_the_digest() -> None:
    spec = make_spec(digest=None)
    assert expected_digest(spec, ModelVersionStatus()) is None

    decision = decide(situation(spec, outcome=one_object(HEX_B)))

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.status.artifact is not None
    assert decision.status.artifact.digest == DIGEST_B
    assert expected_digest(spec, decision.status) == DIGEST_B
    assert is_verified(spec, decision.status) is True


def test_pinned_digest_then_different_bytes_is_artifact_changed() -> None:
    spec = make_spec(digest=None)
    pinned = decide(situation(spec, outcome=one_object(HEX_A, version_id="v1"))).status

    decision = decide(
        situation(spec, status=pinned, now=LATER, outcome=one_object(HEX_B, version_id="v2"))
    )

    assert kinds(decision) == [
        (cond.READY, "False", Reason.ARTIFACT_CHANGED),
        (cond.STALLED, "True", Reason.ARTIFACT_CHANGED),
        (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED),
    ]
    text = message(decision, cond.ARTIFACT_VERIFIED)
    assert DIGEST_A in text
    assert DIGEST_B in text
    assert "versionId v1 -> v2" in text
    assert decision.status.artifact is not None
    assert decision.status.artifact.digest == DIGEST_A
    assert is_verified(spec, decision.status) is False


def test_pinned_digest_then_same_bytes_stays_verified() -> None:
    spec = make_spec(digest=None)
    pinned = decide(situation(spec, outcome=one_object(HEX_A))).status

    decision = decide(situation(spec, status=pinned, now=LATER, outcome=one_object(HEX_A)))

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert decision.status.artifact is not None
    assert decision.status.artifact.verified_at == "2030-01-02T05:04:05Z"
    assert decision.events == ()


def test_pin_applies_only_to_the_uri_it_was_recorded_for() -> None:
    pinned = decide(situation(make_spec(digest=None), outcome=one_object(HEX_A))).status
    other = make_spec(uri="s3://models/fraud/v2/model.onnx", digest=None)

    assert expected_digest(other, pinned) is None
    assert is_verified(other, pinned) is False


# --- decide_version -------------------------------------------------------------


def claim(name: str, version: int | None, created: str = "2030-01-01T00:00:00Z") -> Claim:
    return Claim(name=name, uid=f"uid-{name}", created=created, version=version)


def test_assigns_the_next_number_after_the_highest() -> None:
    own = claim("new", None)
    siblings = [claim("a", 1), claim("b", 4), claim("c", None), own]

    assert decide_version(own, siblings) == VersionDecision(version=5, assigned=True)


def test_first_version_of_a_model_is_one() -> None:
    own = claim("new", None)

    assert decide_version(own, [own]) == VersionDecision(version=1, assigned=True)


def test_own_claim_is_not_counted_as_a_sibling() -> None:
    own = claim("new", None)
    stale_self = Claim(name="new", uid=own.uid, created=own.created, version=9)

    assert decide_version(own, [claim("a", 2), stale_self]).version == 3


def test_keeps_the_spec_number() -> None:
    own = claim("mine", 10)

    assert decide_version(own, [claim("a", 1), claim("b", 11), own]) == VersionDecision(version=10)


def test_oldest_claim_holds_a_number() -> None:
    older = claim("zeta", 2, created="2030-01-01T00:00:00Z")
    newer = claim("alpha", 2, created="2030-01-01T00:00:01Z")

    assert decide_version(older, [older, newer]) == VersionDecision(version=2)
    assert decide_version(newer, [older, newer]) == VersionDecision(version=2, holder="zeta")


def test_tie_on_creation_time_goes_to_the_name_first_in_order() -> None:
    first = claim("fraud-a", 2)
    second = claim("fraud-b", 2)

    assert decide_version(first, [first, second]).holder is None
    assert decide_version(second, [first, second]).holder == "fraud-a"


def test_holder_is_the_oldest_of_several_senior_claims() -> None:
    own = claim("d", 5, created="2030-01-04T00:00:00Z")
    siblings = [
        claim("c", 5, created="2030-01-03T00:00:00Z"),
        claim("a", 5, created="2030-01-01T00:00:00Z"),
        claim("b", 5, created="2030-01-02T00:00:00Z"),
        claim("z", 6, created="2029-01-01T00:00:00Z"),
    ]

    assert decide_version(own, siblings).holder == "a"


def test_exactly_one_of_competing_claims_holds_the_number() -> None:
    claims = [
        claim("m", 3, created="2030-01-01T00:00:01Z"),
        claim("k", 3, created="2030-01-01T00:00:00Z"),
        claim("j", 3, created="2030-01-01T00:00:00Z"),
    ]

    holders = [c.name for c in claims if decide_version(c, claims).holder is None]

    assert holders == ["j"]


# --- is_verified / reverification_due -----------------------------------------------


def test_is_verified_after_a_successful_check() -> None:
    assert is_verified(make_spec(), verified_status()) is True


def test_not_verified_without_a_check() -> None:
    assert is_verified(make_spec(), ModelVersionStatus()) is False


def test_not_verified_after_a_failed_check() -> None:
    failed = decide(situation(outcome=one_object(HEX_B))).status

    assert is_verified(make_spec(), failed) is False


def test_not_verified_when_the_record_is_for_another_uri() -> None:
    status = verified_status()

    assert is_verified(make_spec(uri="s3://models/fraud/v9/model.onnx"), status) is False


def test_not_verified_when_the_record_has_another_digest() -> None:
    status = verified_status()

    assert is_verified(make_spec(digest=DIGEST_B), status) is False


def test_reverification_due_when_never_checked() -> None:
    assert reverification_due(ModelVersionStatus(), NOW, timedelta(hours=1)) is True


@pytest.mark.parametrize(
    ("elapsed", "due"),
    [
        (timedelta(0), False),
        (timedelta(minutes=59, seconds=59), False),
        (timedelta(hours=1), True),
        (timedelta(days=3), True),
    ],
)
def test_reverification_due_after_the_interval(elapsed: timedelta, due: bool) -> None:
    status = ModelVersionStatus(artifact_checked_at=cond.format_time(NOW))

    assert reverification_due(status, NOW + elapsed, timedelta(hours=1)) is due


def test_reverification_due_counts_failed_checks_too() -> None:
    failed = decide(situation(outcome=one_object(HEX_B))).status

    assert reverification_due(failed, NOW + timedelta(minutes=5), timedelta(hours=1)) is False
    assert reverification_due(failed, NOW + timedelta(hours=1), timedelta(hours=1)) is True


# --- events: on transitions only -------------------------------------------------------

PASSES = {
    "model-missing": situation(model_found=False),
    "duplicate": situation(version=VersionDecision(version=2, holder="other")),
    "verifying": situation(verifying=True),
    "verified": situation(outcome=one_object()),
    "mismatch": situation(outcome=one_object(HEX_B)),
    "transient": situation(
        outcome=VerificationFailure(Reason.STORAGE_UNREACHABLE, "down", transient=True)
    ),
    "denied": situation(
        outcome=VerificationFailure(Reason.ACCESS_DENIED, "denied", transient=False)
    ),
    "assigned": situation(version=VersionDecision(version=4, assigned=True), outcome=one_object()),
}


@pytest.mark.parametrize("name", sorted(PASSES))
def test_second_identical_pass_emits_no_events(name: str) -> None:
    first = decide(PASSES[name])

    second = again(first, PASSES[name])

    assert second.events == ()
    assert kinds(second) == kinds(first)
    assert [c.last_transition_time for c in second.status.conditions] == [
        c.last_transition_time for c in first.status.conditions
    ]


def test_version_assignment_is_announced_with_the_verification() -> None:
    decision = decide(PASSES["assigned"])

    assert decision.events == (
        Event("Normal", "VersionAssigned", "Assigned version 4.", "Assign"),
        Event("Normal", Reason.VERIFIED, message(decision, cond.ARTIFACT_VERIFIED)),
    )


def test_change_of_failure_reason_is_announced() -> None:
    first = decide(PASSES["transient"])

    second = decide(
        dataclasses.replace(
            PASSES["transient"],
            status=first.status,
            outcome=VerificationFailure(Reason.ACCESS_DENIED, "denied", transient=False),
        )
    )

    assert event_kinds(second) == [("Warning", Reason.ACCESS_DENIED)]


# --- invalid_spec --------------------------------------------------------------------


def test_invalid_spec_stalls_and_names_the_problem() -> None:
    status = verified_status()

    decision = invalid_spec(status, "spec.artifact.uri: String should match pattern", 6, LATER)

    assert kinds(decision) == [
        (cond.READY, "False", Reason.INVALID_SPEC),
        (cond.STALLED, "True", Reason.INVALID_SPEC),
    ]
    assert decision.retry is False
    assert "spec.artifact.uri: String should match pattern" in message(decision, cond.READY)
    assert decision.status.observed_generation == 6
    assert {c.observed_generation for c in decision.status.conditions} == {6}
    assert decision.status.artifact == status.artifact
    assert event_kinds(decision) == [("Warning", Reason.INVALID_SPEC)]

    repeated = invalid_spec(decision.status, "spec.artifact.uri: String should match", 6, LATER)

    assert repeated.events == ()


# --- summarize_model ---------------------------------------------------------------


def test_summarize_model_counts_and_latest_versions() -> None:
    versions = [
        VersionSummary(version=1, ready=True, stalled=False, stage="Production"),
        VersionSummary(version=2, ready=False, stalled=True, stage="None"),
        VersionSummary(version=3, ready=True, stalled=False, stage="Staging"),
        VersionSummary(version=4, ready=False, stalled=False, stage=None),
        VersionSummary(version=None, ready=False, stalled=False, stage=None),
    ]

    status = summarize_model(versions, ModelStatus(), generation=2, now=NOW)

    assert status.counts == VersionCounts(total=5, ready=2, stalled=1)
    assert status.latest_version == 4
    assert status.latest_ready_version == 3
    assert status.stages == {"Production": 1, "Staging": 3}
    assert status.observed_generation == 2
    assert [(c.type, c.status, c.reason, c.message) for c in status.conditions] == [
        (cond.READY, "True", Reason.SUCCEEDED, "5 versions, 2 ready.")
    ]


def test_summarize_model_without_versions() -> None:
    status = summarize_model([], ModelStatus(), generation=1, now=NOW)

    assert status.counts == VersionCounts(total=0, ready=0, stalled=0)
    assert status.latest_version is None
    assert status.latest_ready_version is None
    assert status.stages is None


def test_summarize_model_stage_held_twice_names_the_highest_version() -> None:
    versions = [
        VersionSummary(version=5, ready=True, stalled=False, stage="Production"),
        VersionSummary(version=2, ready=True, stalled=False, stage="Production"),
    ]

    status = summarize_model(versions, ModelStatus(), generation=1, now=NOW)

    assert status.stages == {"Production": 5}


def test_summarize_model_keeps_ready_transition_time() -> None:
    first = summarize_model([], ModelStatus(), generation=1, now=NOW)

    second = summarize_model(
        [VersionSummary(version=1, ready=True, stalled=False, stage=None)],
        first,
        generation=1,
        now=LATER,
    )

    (ready,) = second.conditions
    assert ready.message.endswith(" 1 ready.")
    assert ready.last_transition_time == "2030-01-02T03:04:05Z"


# --- components ----------------------------------------------------------------------

TOKENIZER_URI = "s3://models/fraud/v1/tokenizer.json"


def spec_with_components(tokenizer_digest: str | None = DIGEST_B) -> ModelVersionSpec:
    tokenizer: dict[str, Any] = {"uri": TOKENIZER_URI}
    if tokenizer_digest is not None:
        tokenizer["digest"] = tokenizer_digest
    return ModelVersionSpec.model_validate(
        {
            "modelRef": {"name": MODEL},
            "artifact": {"uri": URI, "digest": DIGEST_A},
            "components": [{"name": "tokenizer", "artifact": tokenizer}],
        }
    )


def test_components_verified_with_the_artifact_are_recorded_by_name() -> None:
    spec = spec_with_components()

    decision = decide(
        situation(spec, outcome=one_object(), component_outcomes=(one_object(HEX_B, 7, "t1"),))
    )

    assert kinds(decision) == [
        (cond.READY, "True", Reason.SUCCEEDED),
        (cond.ARTIFACT_VERIFIED, "True", Reason.VERIFIED),
    ]
    assert [
        (c.name, c.artifact.digest, c.artifact.version_id) for c in decision.status.components
    ] == [("tokenizer", DIGEST_B, "t1")]
    assert "components" in message(decision, cond.ARTIFACT_VERIFIED)
    assert is_verified(spec, decision.status)


def test_a_component_with_the_wrong_bytes_stalls_the_version_naming_its_field() -> None:
    spec = spec_with_components()

    decision = decide(
        situation(spec, outcome=one_object(), component_outcomes=(one_object(HEX_A),))
    )

    assert kinds(decision) == [
        (cond.READY, "False", Reason.DIGEST_MISMATCH),
        (cond.STALLED, "True", Reason.DIGEST_MISMATCH),
        (cond.ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH),
    ]
    assert "spec.components[0].artifact.digest" in message(decision, cond.ARTIFACT_VERIFIED)
    # The artifact itself matched and is recorded; the component is not.
    assert decision.status.artifact is not None and decision.status.components == []
    assert not is_verified(spec, decision.status)


def test_a_missing_component_is_waited_for() -> None:
    spec = spec_with_components()
    missing = VerificationFailure(Reason.ARTIFACT_NOT_FOUND, "nothing there", transient=True)

    decision = decide(situation(spec, outcome=one_object(), component_outcomes=(missing,)))

    assert kinds(decision) == [
        (cond.READY, "False", Reason.ARTIFACT_NOT_FOUND),
        (cond.RECONCILING, "True", Reason.ARTIFACT_NOT_FOUND),
        (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_NOT_FOUND),
    ]
    assert decision.retry is True


def test_a_component_without_a_digest_is_pinned_then_guarded() -> None:
    spec = spec_with_components(tokenizer_digest=None)
    first = decide(
        situation(spec, outcome=one_object(), component_outcomes=(one_object(HEX_B, 7, "t1"),))
    )

    changed = decide(
        situation(
            spec,
            status=first.status,
            outcome=one_object(),
            component_outcomes=(one_object("c" * 64, 7, "t2"),),
        )
    )

    assert kinds(changed)[-1] == (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED)
    assert "t1 -> t2" in message(changed, cond.ARTIFACT_VERIFIED)
    assert changed.status.components == first.status.components  # the pinned record stays


def test_is_verified_needs_every_component() -> None:
    spec = spec_with_components()
    artifact_only = decide(situation(make_spec(), outcome=one_object())).status

    assert is_verified(make_spec(), artifact_only)
    assert not is_verified(spec, artifact_only)


@pytest.mark.parametrize(
    ("reason", "transient"),
    [
        (Reason.ARTIFACT_NOT_FOUND, True),
        (Reason.STORAGE_UNREACHABLE, True),
        (Reason.ACCESS_DENIED, False),
        (Reason.DIGEST_MISMATCH, False),
    ],
)
def test_a_pass_that_hashes_nothing_keeps_waiting_or_stalled_as_it_was(
    reason: str, transient: bool
) -> None:
    failed = decide(
        situation(outcome=VerificationFailure(reason, "what happened", transient=transient))
    )

    again = decide(situation(status=failed.status, now=LATER))

    assert kinds(again) == kinds(failed)
    assert again.retry is transient
    assert again.events == ()


# --- settled version numbers ------------------------------------------------------------


def settled(name: str, version: int, created: str = "2030-01-01T00:00:00Z") -> Claim:
    return Claim(name=name, uid=f"uid-{name}", created=created, version=version, settled=True)


def test_a_recorded_number_is_kept_whatever_the_siblings_say() -> None:
    own = settled("newer", 3, created="2030-01-02T00:00:00Z")
    senior_rival = claim("older", 3, created="2030-01-01T00:00:00Z")

    assert decide_version(own, [own, senior_rival]) == VersionDecision(version=3)


def test_a_senior_claim_on_a_recorded_number_is_refused() -> None:
    holder = settled("assigned", 3, created="2030-01-02T00:00:00Z")
    late = claim("late-spec", 3, created="2030-01-01T00:00:00Z")

    assert decide_version(late, [holder, late]) == VersionDecision(version=3, holder="assigned")


def test_recorded_numbers_count_when_assigning() -> None:
    own = claim("new", None)

    assert decide_version(own, [settled("a", 7), own]).version == 8


# --- re-checks that cannot read the bytes ------------------------------------------------


def recheck(outcome: VerificationFailure, **changes: Any) -> Decision:
    """A periodic re-check of a verified version that met `outcome`."""
    return decide(situation(status=verified_status(), outcome=outcome, now=LATER, **changes))


@pytest.mark.parametrize(
    "reason", [Reason.STORAGE_UNREACHABLE, Reason.STORAGE_ERROR, Reason.CREDENTIALS_NOT_FOUND]
)
def test_a_recheck_that_cannot_read_keeps_the_verification(reason: str) -> None:
    before = verified_status()

    decision = recheck(VerificationFailure(reason, "the store is down.", transient=True))

    assert decision.status == before  # Ready, the record and artifactCheckedAt as they were
    assert decision.retry is False
    assert decision.unreadable == reason
    assert event_kinds(decision) == [("Warning", reason)]
    assert "the store is down." in decision.events[0].message
    assert "stands" in decision.events[0].message


def test_an_unreadable_recheck_is_announced_once_per_run_of_failures() -> None:
    down = VerificationFailure(Reason.STORAGE_UNREACHABLE, "down.", transient=True)

    decision = recheck(down, unreadable_before=Reason.STORAGE_UNREACHABLE)

    assert decision.events == ()
    assert decision.unreadable == Reason.STORAGE_UNREACHABLE


def test_an_unreadable_recheck_is_due_again_on_the_next_pass() -> None:
    decision = recheck(VerificationFailure(Reason.STORAGE_UNREACHABLE, "down.", transient=True))

    checked_at = decision.status.artifact_checked_at
    assert checked_at is not None
    # The interval counts from the last check that read the bytes.
    assert reverification_due(
        decision.status, cond.parse_time(checked_at) + timedelta(hours=1), timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (VerificationFailure(Reason.ARTIFACT_NOT_FOUND, "gone", True), Reason.ARTIFACT_NOT_FOUND),
        (VerificationFailure(Reason.ACCESS_DENIED, "denied", False), Reason.ACCESS_DENIED),
        (one_object(HEX_B), Reason.ARTIFACT_CHANGED),
    ],
)
def test_a_recheck_that_finds_the_bytes_gone_or_changed_revokes_ready(
    outcome: ArtifactDigest | VerificationFailure, reason: str
) -> None:
    decision = decide(situation(status=verified_status(), outcome=outcome, now=LATER))

    assert kinds(decision)[0] == (cond.READY, "False", reason)
    assert decision.unreadable is None


def test_a_transient_failure_is_due_on_every_periodic_pass() -> None:
    waiting = decide(
        situation(outcome=VerificationFailure(Reason.ARTIFACT_NOT_FOUND, "gone", transient=True))
    ).status

    assert reverification_due(waiting, NOW + timedelta(seconds=1), timedelta(hours=1)) is True


# --- settled_for_now: what the periodic pass may skip --------------------------------------


def test_a_ready_current_version_with_no_recheck_due_is_skipped() -> None:
    status = verified_status()

    assert settled_for_now(make_spec(), status, 1, NOW + timedelta(minutes=1), timedelta(hours=1))


@pytest.mark.parametrize(
    ("generation", "elapsed"),
    [(2, timedelta(minutes=1)), (1, timedelta(hours=1))],
    ids=["spec-changed", "recheck-due"],
)
def test_a_changed_or_due_version_is_looked_at(generation: int, elapsed: timedelta) -> None:
    status = verified_status()

    assert not settled_for_now(make_spec(), status, generation, NOW + elapsed, timedelta(hours=1))


def test_a_version_that_is_not_ready_is_looked_at() -> None:
    stalled = decide(situation(outcome=one_object(HEX_B))).status

    assert not settled_for_now(make_spec(), stalled, 1, NOW, timedelta(hours=1))


def test_an_unreadable_check_time_makes_the_check_due() -> None:
    status = ModelVersionStatus(artifact_checked_at="yesterday")

    assert reverification_due(status, NOW, timedelta(hours=1)) is True


UNREADABLE = VerificationFailure(Reason.STORAGE_UNREACHABLE, "down", transient=True)
CHANGED = one_object("c" * 64, 7, "v2")


@pytest.mark.parametrize(
    ("artifact", "component", "field"),
    [
        (CHANGED, UNREADABLE, "spec.artifact"),
        (UNREADABLE, CHANGED, "spec.components[0].artifact"),
    ],
    ids=["artifact-changed", "component-changed"],
)
def test_changed_bytes_are_not_hidden_by_another_target_that_cannot_be_read(
    artifact: Outcome, component: Outcome, field: str
) -> None:
    spec = spec_with_components()
    verified = decide(
        situation(spec, outcome=one_object(), component_outcomes=(one_object(HEX_B, 7, "t1"),))
    ).status

    decision = decide(
        situation(
            spec, status=verified, outcome=artifact, component_outcomes=(component,), now=LATER
        )
    )

    assert kinds(decision) == [
        (cond.READY, "False", Reason.ARTIFACT_CHANGED),
        (cond.STALLED, "True", Reason.ARTIFACT_CHANGED),
        (cond.ARTIFACT_VERIFIED, "False", Reason.ARTIFACT_CHANGED),
    ]
    assert field in message(decision, cond.ARTIFACT_VERIFIED)
    assert decision.unreadable is None
