"""Step 3, the bytes: what is expected, when to look again, and the step's exact result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelregistry.api.meta import ConditionStatus
from modelregistry.api.modelversion import (
    Artifact,
    ModelVersionStatus,
    VerifiedArtifact,
    VerifiedComponent,
    VerifiedFile,
)
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import modelref, numbering, verification
from modelregistry.decisions.numbering import VersionDecision
from modelregistry.decisions.passdata import Event, StepResult
from modelregistry.decisions.verification import (
    MAX_LISTED_FILES,
    UNREADABLE_REASONS,
    VerificationDecision,
    VerificationFailure,
    component_record,
    expected_digest,
    is_verified,
    judge_bytes,
    next_check,
    reverification_due,
    verified_record,
)
from modelregistry.digest import FileDigest, prefix_artifact
from modelregistry.reasons import (
    ARTIFACT_VERIFIED,
    MODEL_FOUND,
    READY,
    REASONS,
    VERSION_ASSIGNED,
    Reason,
)

from .builders import (
    DIGEST_A,
    DIGEST_B,
    DIGEST_C,
    ENCODER_URI,
    HEX_A,
    HEX_B,
    HEX_C,
    HOUR,
    LATER,
    LATER_TEXT,
    NOW,
    NOW_TEXT,
    PREFIX_URI,
    TOKENIZER_URI,
    URI,
    changed,
    condition,
    failed,
    hashed,
    make_spec,
    make_view,
    mismatch,
    one_object,
    record,
    status_with,
    two_files,
    verified_status,
)


def artifact(uri: str = URI, digest: str | None = DIGEST_A) -> Artifact:
    return Artifact(uri=uri, digest=digest)


def verified_condition(message: str = "ok") -> DesiredCondition:
    return DesiredCondition(ARTIFACT_VERIFIED, "True", Reason.VERIFIED, message)


def test_the_step_owns_artifact_verified_only() -> None:
    assert verification.CONDITIONS == (ARTIFACT_VERIFIED,)


def test_unreadable_reasons_say_nothing_about_the_bytes() -> None:
    assert (
        frozenset({Reason.STORAGE_UNREACHABLE, Reason.CREDENTIALS_NOT_FOUND, Reason.STORAGE_ERROR})
        == UNREADABLE_REASONS
    )


@pytest.mark.parametrize(
    ("reason", "transient"),
    [
        (Reason.ARTIFACT_NOT_FOUND, True),
        (Reason.STORAGE_ERROR, True),
        (Reason.ACCESS_DENIED, False),
        (Reason.DIGEST_MISMATCH, False),
        ("Unregistered", False),
    ],
)
def test_a_failure_is_transient_as_its_reason_is(reason: str, transient: bool) -> None:
    assert VerificationFailure(reason, "m").transient is transient


# --- expected_digest ------------------------------------------------------------------


def test_the_spec_digest_is_expected_whatever_was_pinned() -> None:
    assert expected_digest(artifact(digest=DIGEST_B), record(digest=DIGEST_A)) == DIGEST_B


def test_without_a_spec_digest_the_pinned_one_is_expected() -> None:
    assert expected_digest(artifact(digest=None), record(digest=DIGEST_C)) == DIGEST_C


def test_a_pin_applies_only_to_the_uri_it_was_recorded_for() -> None:
    other = artifact("s3://models/fraud/v2/model.onnx", digest=None)

    assert expected_digest(other, record(digest=DIGEST_C)) is None


def test_nothing_is_expected_before_the_first_verification() -> None:
    assert expected_digest(artifact(digest=None), None) is None


# --- is_verified -----------------------------------------------------------------------


def test_is_verified_after_a_successful_check() -> None:
    assert is_verified(make_spec(), verified_status()) is True


def test_not_verified_without_a_check() -> None:
    assert is_verified(make_spec(), ModelVersionStatus()) is False


def test_a_record_without_a_true_condition_proves_nothing() -> None:
    unconfirmed = status_with(
        condition(ARTIFACT_VERIFIED, "False", Reason.STORAGE_ERROR), artifact=record()
    )
    unsaid = status_with(artifact=record())

    assert is_verified(make_spec(), unconfirmed) is False
    assert is_verified(make_spec(), unsaid) is False


def test_a_true_condition_without_a_record_proves_nothing() -> None:
    status = status_with(condition(ARTIFACT_VERIFIED, "True", Reason.VERIFIED))

    assert is_verified(make_spec(), status) is False


def test_not_verified_when_the_record_is_for_another_uri() -> None:
    assert is_verified(make_spec(uri="s3://models/fraud/v9/model.onnx"), verified_status()) is False


def test_not_verified_when_the_record_has_another_digest() -> None:
    assert is_verified(make_spec(digest=DIGEST_B), verified_status()) is False


def test_a_pinned_digest_is_verified_for_its_uri_only() -> None:
    pinned = verified_status(make_spec(digest=None), hashed(one_object(HEX_B)))

    assert is_verified(make_spec(digest=None), pinned) is True
    assert is_verified(make_spec(digest=DIGEST_B), pinned) is True
    assert is_verified(make_spec(uri="s3://models/fraud/v2/model.onnx", digest=None), pinned) is (
        False
    )


def test_is_verified_needs_every_component() -> None:
    with_tokenizer = make_spec(components=[("tokenizer", TOKENIZER_URI, DIGEST_B)])
    artifact_only = verified_status()
    both = verified_status(with_tokenizer, hashed(one_object(), one_object(HEX_B)))

    assert is_verified(make_spec(), artifact_only) is True
    assert is_verified(with_tokenizer, artifact_only) is False
    assert is_verified(with_tokenizer, both) is True


def test_a_component_is_proven_by_the_record_of_its_own_name() -> None:
    spec = make_spec(
        components=[("tokenizer", TOKENIZER_URI, DIGEST_B), ("encoder", ENCODER_URI, DIGEST_C)]
    )
    status = verified_status(spec, hashed(one_object(), one_object(HEX_B), one_object(HEX_C)))
    swapped = status.model_copy(
        update={
            "components": [
                VerifiedComponent(name="tokenizer", artifact=status.components[1].artifact),
                VerifiedComponent(name="encoder", artifact=status.components[0].artifact),
            ]
        }
    )

    assert is_verified(spec, status) is True
    assert component_record(status, "encoder") == status.components[1].artifact
    assert component_record(status, "decoder") is None
    assert is_verified(spec, swapped) is False


# --- next_check and reverification_due ----------------------------------------------------


def test_never_checked_is_due_now() -> None:
    assert next_check(ModelVersionStatus(), HOUR) is None
    assert reverification_due(ModelVersionStatus(), NOW, HOUR) is True


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("True", Reason.VERIFIED),
        ("False", Reason.DIGEST_MISMATCH),
        ("False", Reason.ACCESS_DENIED),
        ("Unknown", Reason.VERIFYING),
    ],
)
def test_verified_stalled_or_hashing_is_due_one_interval_after_the_check(
    status: ConditionStatus, reason: str
) -> None:
    checked = status_with(
        condition(ARTIFACT_VERIFIED, status, reason),
        checked_at=NOW_TEXT,
    )

    assert next_check(checked, HOUR) == datetime(2030, 1, 2, 4, 4, 5, tzinfo=UTC)
    assert next_check(checked, timedelta(days=2)) == datetime(2030, 1, 4, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "reason", [Reason.ARTIFACT_NOT_FOUND, Reason.STORAGE_UNREACHABLE, Reason.MODEL_NOT_FOUND]
)
def test_a_transient_failure_is_due_on_every_periodic_pass(reason: str) -> None:
    waiting = status_with(condition(ARTIFACT_VERIFIED, "False", reason), checked_at=NOW_TEXT)

    assert next_check(waiting, HOUR) is None
    assert reverification_due(waiting, NOW + timedelta(seconds=1), HOUR) is True


def test_an_unreadable_check_time_makes_the_check_due() -> None:
    status = status_with(checked_at="yesterday")

    assert next_check(status, HOUR) is None
    assert reverification_due(status, NOW, HOUR) is True


def test_a_check_time_with_an_offset_is_read_as_written() -> None:
    status = status_with(checked_at="2030-01-02T08:34:05+05:30")

    due = next_check(status, HOUR)

    assert due == datetime(2030, 1, 2, 4, 4, 5, tzinfo=UTC)
    assert due is not None and due.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("elapsed", "due"),
    [
        (timedelta(0), False),
        (timedelta(minutes=59, seconds=59), False),
        (HOUR, True),
        (timedelta(days=3), True),
    ],
)
def test_reverification_due_after_the_interval(elapsed: timedelta, due: bool) -> None:
    status = status_with(condition(ARTIFACT_VERIFIED, "True", Reason.VERIFIED), checked_at=NOW_TEXT)
    # The same moment written in another zone: the comparison is between instants.
    west = (NOW + elapsed).astimezone(timezone(timedelta(hours=-8)))

    assert reverification_due(status, west, HOUR) is due


def test_reverification_due_counts_failed_checks_too() -> None:
    failed_check = status_with(
        condition(ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH), checked_at=NOW_TEXT
    )

    assert reverification_due(failed_check, NOW + timedelta(minutes=5), HOUR) is False
    assert reverification_due(failed_check, NOW + HOUR, HOUR) is True


# --- judge_bytes -----------------------------------------------------------------------------


def test_matching_bytes_are_no_failure() -> None:
    assert judge_bytes("spec.artifact", artifact(), None, one_object()) is None
    assert judge_bytes("spec.artifact", artifact(digest=None), record(), one_object()) is None


def test_nothing_expected_is_no_failure() -> None:
    assert judge_bytes("spec.artifact", artifact(digest=None), None, one_object(HEX_C)) is None


@pytest.mark.parametrize("field", ["spec.artifact", "spec.components[3].artifact"])
def test_bytes_that_are_not_the_spec_digest_are_a_mismatch(field: str) -> None:
    failure = judge_bytes(field, artifact(digest=DIGEST_A), None, one_object(HEX_B))

    assert failure == VerificationFailure(
        Reason.DIGEST_MISMATCH, mismatch(URI, DIGEST_B, DIGEST_A, field)
    )


def test_the_mismatch_message_in_full() -> None:
    failure = judge_bytes("spec.artifact", artifact(), None, one_object(HEX_B))

    assert failure is not None
    assert failure.message == (
        f"{URI} hashes to {DIGEST_B}, but spec.artifact.digest is {DIGEST_A}. "
        "spec.artifact.digest is immutable: upload the expected bytes (checked again "
        "periodically), or create a new ModelVersion with the right digest "
        "(`modelregistry digest PATH` computes it)."
    )


def test_a_record_of_other_bytes_does_not_make_a_mismatch_a_change() -> None:
    # The record (say, of an earlier spec) is not what the spec expects.
    failure = judge_bytes(
        "spec.artifact", artifact(digest=DIGEST_A), record(digest=DIGEST_B), one_object(HEX_C)
    )

    assert failure == VerificationFailure(Reason.DIGEST_MISMATCH, mismatch(URI, DIGEST_C, DIGEST_A))


def test_a_record_for_another_uri_does_not_make_a_mismatch_a_change() -> None:
    pinned = record("s3://models/fraud/v0/model.onnx", DIGEST_A)

    failure = judge_bytes("spec.artifact", artifact(), pinned, one_object(HEX_B))

    assert failure == VerificationFailure(Reason.DIGEST_MISMATCH, mismatch(URI, DIGEST_B, DIGEST_A))


@pytest.mark.parametrize(
    ("before", "after", "versions"),
    [
        ("v1", "v2", " (versionId v1 -> v2)"),
        (None, None, ""),
        ("v1", None, ""),
        (None, "v2", ""),
        ("v1", "v1", ""),
    ],
)
@pytest.mark.parametrize("spec_digest", [DIGEST_A, None])
def test_verified_bytes_that_changed_name_both_version_ids_when_known(
    before: str | None, after: str | None, versions: str, spec_digest: str | None
) -> None:
    failure = judge_bytes(
        "spec.components[0].artifact",
        artifact(digest=spec_digest),
        record(version_id=before),
        one_object(HEX_B, version_id=after),
    )

    assert failure == VerificationFailure(
        Reason.ARTIFACT_CHANGED,
        changed(URI, DIGEST_A, DIGEST_B, "spec.components[0].artifact", versions),
    )


def test_the_changed_message_in_full() -> None:
    failure = judge_bytes("spec.artifact", artifact(), record(), one_object(HEX_B, version_id="v2"))

    assert failure is not None
    assert failure.message == (
        f"{URI} (spec.artifact) changed after it was verified: it was {DIGEST_A}, it is now "
        f"{DIGEST_B} (versionId v1 -> v2). Restore the verified bytes, or register the new "
        "bytes as a new ModelVersion."
    )


# --- verified_record --------------------------------------------------------------------------


def test_a_single_object_is_recorded_without_a_file_list() -> None:
    assert verified_record(URI, one_object(HEX_B, 7, "v9"), NOW) == VerifiedArtifact(
        uri=URI,
        digest=DIGEST_B,
        size=7,
        file_count=1,
        files=[],
        version_id="v9",
        verified_at=NOW_TEXT,
    )


def test_a_prefix_is_recorded_with_every_file_in_manifest_order() -> None:
    observed = two_files()

    assert verified_record(PREFIX_URI, observed, LATER) == VerifiedArtifact(
        uri=PREFIX_URI,
        digest=observed.digest,
        size=100,
        file_count=2,
        files=[
            VerifiedFile(path="MLmodel", digest="sha256:" + "1" * 64, size=10, version_id="m1"),
            VerifiedFile(path="data/model.pkl", digest="sha256:" + "2" * 64, size=90),
        ],
        version_id=None,
        verified_at=LATER_TEXT,
    )


def test_a_prefix_of_one_file_is_still_listed() -> None:
    observed = prefix_artifact([FileDigest(path="only.bin", hexdigest=HEX_C, size=3)])

    recorded = verified_record(PREFIX_URI, observed, NOW)

    assert recorded.files == [VerifiedFile(path="only.bin", digest=DIGEST_C, size=3)]
    assert recorded.file_count == 1


def test_a_large_prefix_lists_the_first_thousand_files_and_counts_all() -> None:
    files = [FileDigest(path=f"f{i:05d}", hexdigest=HEX_A, size=1) for i in range(1001)]

    recorded = verified_record(PREFIX_URI, prefix_artifact(files), NOW)

    assert MAX_LISTED_FILES == 1000
    assert recorded.file_count == 1001
    assert recorded.size == 1001
    assert [f.path for f in recorded.files] == [f"f{i:05d}" for i in range(1000)]


# --- hashing and unchanged ----------------------------------------------------------------------


def test_hashing_says_what_is_hashed_and_stops_the_chain() -> None:
    assert verification.hashing(make_view()) == StepResult(
        (DesiredCondition(ARTIFACT_VERIFIED, "Unknown", Reason.VERIFYING, f"Hashing {URI}."),),
        proceed=False,
    )


def test_hashing_counts_the_components() -> None:
    spec = make_spec(
        uri=PREFIX_URI,
        components=[("tokenizer", TOKENIZER_URI, None), ("encoder", ENCODER_URI, None)],
    )

    (progress,) = verification.hashing(make_view(spec)).conditions

    assert progress.message == f"Hashing {PREFIX_URI} and 2 components."


def test_unchanged_without_a_verification_is_verifying_and_asks_to_be_retried() -> None:
    assert verification.unchanged(make_view()) == StepResult(
        (
            DesiredCondition(
                ARTIFACT_VERIFIED,
                "Unknown",
                Reason.VERIFYING,
                "The artifact has not been verified yet.",
            ),
        ),
        proceed=False,
        retry=True,
    )


@pytest.mark.parametrize(
    ("status", "reason", "proceed"),
    [
        ("True", Reason.VERIFIED, True),
        ("False", Reason.DIGEST_MISMATCH, False),
        ("False", Reason.ARTIFACT_NOT_FOUND, False),
        ("Unknown", Reason.VERIFYING, False),
    ],
)
def test_unchanged_keeps_the_condition_as_it_stands(
    status: ConditionStatus, reason: str, proceed: bool
) -> None:
    current = status_with(
        condition(READY, "True", Reason.SUCCEEDED, "ready"),
        condition(ARTIFACT_VERIFIED, status, reason, "as it was"),
    )

    assert verification.unchanged(make_view(status=current)) == StepResult(
        (DesiredCondition(ARTIFACT_VERIFIED, status, reason, "as it was"),),
        proceed=proceed,
    )


# --- decide ---------------------------------------------------------------------------------------


def test_matching_bytes_are_recorded_and_let_the_chain_go_on() -> None:
    decided = verification.decide(make_view(now=LATER), hashed(one_object(HEX_A, 42, "v1")))

    assert decided == VerificationDecision(
        StepResult(
            (verified_condition(f"{URI} is {DIGEST_A} (42 bytes, versionId v1)."),),
            status={
                "artifact": record(at=LATER_TEXT),
                "components": [],
                "artifact_checked_at": LATER_TEXT,
            },
        )
    )
    assert decided.unreadable is None
    assert decided.result.proceed is True


def test_a_verified_object_without_a_version_id_says_none() -> None:
    decided = verification.decide(make_view(), hashed(one_object(version_id=None)))

    assert decided.result.conditions == (verified_condition(f"{URI} is {DIGEST_A} (42 bytes)."),)


def test_a_verified_prefix_counts_its_files() -> None:
    observed = two_files()
    view = make_view(make_spec(uri=PREFIX_URI, digest=observed.digest))

    decided = verification.decide(view, hashed(observed))

    assert decided.result.conditions == (
        verified_condition(f"{PREFIX_URI} is {observed.digest} (100 bytes, 2 files)."),
    )


def test_verified_components_are_recorded_by_name_and_counted() -> None:
    spec = make_spec(
        components=[("tokenizer", TOKENIZER_URI, DIGEST_B), ("encoder", ENCODER_URI, None)]
    )

    decided = verification.decide(
        make_view(spec),
        hashed(one_object(), one_object(HEX_B, 7, "t1"), one_object(HEX_C, 9, None)),
    )

    assert decided.result == StepResult(
        (
            verified_condition(
                f"{URI} is {DIGEST_A} (42 bytes, versionId v1). All 2 components match their "
                "digests too."
            ),
        ),
        status={
            "artifact": record(),
            "components": [
                VerifiedComponent(
                    name="tokenizer",
                    artifact=record(TOKENIZER_URI, DIGEST_B, size=7, version_id="t1"),
                ),
                VerifiedComponent(
                    name="encoder", artifact=record(ENCODER_URI, DIGEST_C, size=9, version_id=None)
                ),
            ],
            "artifact_checked_at": NOW_TEXT,
        },
    )


def test_outcomes_must_match_the_components_one_to_one() -> None:
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, DIGEST_B)])

    with pytest.raises(ValueError, match="zip"):
        verification.decide(make_view(spec), hashed(one_object()))


@pytest.mark.parametrize(
    "reason",
    [
        Reason.ARTIFACT_NOT_FOUND,
        Reason.STORAGE_UNREACHABLE,
        Reason.ACCESS_DENIED,
        Reason.INVALID_ARTIFACT,
    ],
)
def test_a_failure_on_first_verification_records_only_the_check_time(reason: str) -> None:
    decided = verification.decide(make_view(now=LATER), hashed(failed(reason, "It failed.")))

    assert decided == VerificationDecision(
        StepResult(
            (DesiredCondition(ARTIFACT_VERIFIED, "False", reason, "It failed."),),
            status={"artifact": None, "components": [], "artifact_checked_at": LATER_TEXT},
            proceed=False,
        )
    )


def test_a_component_with_the_wrong_bytes_names_its_field_and_only_the_rest_is_recorded() -> None:
    spec = make_spec(
        components=[("tokenizer", TOKENIZER_URI, DIGEST_B), ("encoder", ENCODER_URI, DIGEST_C)]
    )

    decided = verification.decide(
        make_view(spec), hashed(one_object(), one_object(HEX_B, 7, None), one_object(HEX_A))
    )

    assert decided.result == StepResult(
        (
            DesiredCondition(
                ARTIFACT_VERIFIED,
                "False",
                Reason.DIGEST_MISMATCH,
                mismatch(ENCODER_URI, DIGEST_A, DIGEST_C, "spec.components[1].artifact"),
            ),
        ),
        status={
            "artifact": record(),
            "components": [
                VerifiedComponent(
                    name="tokenizer",
                    artifact=record(TOKENIZER_URI, DIGEST_B, size=7, version_id=None),
                )
            ],
            "artifact_checked_at": NOW_TEXT,
        },
        proceed=False,
    )


def test_the_artifact_decides_before_the_components_and_components_in_order() -> None:
    spec = make_spec(
        components=[("tokenizer", TOKENIZER_URI, DIGEST_B), ("encoder", ENCODER_URI, DIGEST_C)]
    )
    view = make_view(spec)

    artifact_first = verification.decide(
        view, hashed(one_object(HEX_C), one_object(HEX_A), one_object(HEX_A))
    )
    first_component = verification.decide(
        view, hashed(one_object(), one_object(HEX_A), failed(Reason.ACCESS_DENIED))
    )

    assert artifact_first.result.conditions[0].message == mismatch(URI, DIGEST_C, DIGEST_A)
    assert first_component.result.conditions[0].message == mismatch(
        TOKENIZER_URI, DIGEST_A, DIGEST_B, "spec.components[0].artifact"
    )


def test_wrong_bytes_outrank_bytes_that_could_not_be_read() -> None:
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, DIGEST_B)])

    decided = verification.decide(
        make_view(spec), hashed(failed(Reason.STORAGE_ERROR), one_object(HEX_C))
    )

    (verdict,) = decided.result.conditions
    assert verdict.reason == Reason.DIGEST_MISMATCH
    assert verdict.message == mismatch(
        TOKENIZER_URI, DIGEST_C, DIGEST_B, "spec.components[0].artifact"
    )


def test_a_component_failure_keeps_its_pinned_record_and_drops_removed_ones() -> None:
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, None)])
    first = verified_status(spec, hashed(one_object(), one_object(HEX_B, 7, "t1")))
    stale = VerifiedComponent(name="old", artifact=record(ENCODER_URI))
    status = first.model_copy(update={"components": [*first.components, stale]})

    decided = verification.decide(
        make_view(spec, status, now=LATER), hashed(one_object(), one_object(HEX_C, 7, "t2"))
    )

    assert decided.result.conditions == (
        DesiredCondition(
            ARTIFACT_VERIFIED,
            "False",
            Reason.ARTIFACT_CHANGED,
            changed(
                TOKENIZER_URI,
                DIGEST_B,
                DIGEST_C,
                "spec.components[0].artifact",
                " (versionId t1 -> t2)",
            ),
        ),
    )
    assert decided.result.status["components"] == first.components
    assert decided.result.status["artifact"] == record(at=LATER_TEXT)


# --- re-checks that cannot read the bytes ----------------------------------------------------


@pytest.mark.parametrize("reason", sorted(UNREADABLE_REASONS))
def test_a_recheck_that_cannot_read_keeps_the_verification_and_warns(reason: str) -> None:
    status = verified_status()

    decided = verification.decide(
        make_view(status=status, now=LATER), hashed(failed(reason, "The store is down."))
    )

    assert decided == VerificationDecision(
        StepResult(
            (verified_condition(f"{URI} is {DIGEST_A} (42 bytes, versionId v1)."),),
            events=(
                Event(
                    "Warning",
                    reason,
                    "Re-verification could not read the bytes: The store is down. The "
                    f"verification of {NOW_TEXT} stands; the next periodic pass tries again.",
                    "Reconcile",
                ),
            ),
        ),
        unreadable=reason,
    )
    assert decided.result.status == {}  # artifactCheckedAt stays: the next pass tries again


def test_an_unreadable_recheck_is_announced_once_per_run_of_failures() -> None:
    view = make_view(status=verified_status(), now=LATER)
    down = hashed(failed(Reason.STORAGE_UNREACHABLE))

    again = verification.decide(view, down, Reason.STORAGE_UNREACHABLE)
    other = verification.decide(view, down, Reason.CREDENTIALS_NOT_FOUND)

    assert again.result.events == ()
    assert again.unreadable == Reason.STORAGE_UNREACHABLE
    assert [e.reason for e in other.result.events] == [Reason.STORAGE_UNREACHABLE]


def test_the_first_unreadable_target_is_the_one_warned_about() -> None:
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, DIGEST_B)])
    status = verified_status(spec, hashed(one_object(), one_object(HEX_B)))

    decided = verification.decide(
        make_view(spec, status, now=LATER),
        hashed(failed(Reason.STORAGE_ERROR, "first."), failed(Reason.STORAGE_UNREACHABLE)),
    )

    assert decided.unreadable == Reason.STORAGE_ERROR
    assert [e.reason for e in decided.result.events] == [Reason.STORAGE_ERROR]


def test_unreadable_bytes_of_an_unverified_version_are_a_failure() -> None:
    decided = verification.decide(make_view(), hashed(failed(Reason.STORAGE_UNREACHABLE, "down")))

    assert decided.unreadable is None
    assert decided.result.conditions == (
        DesiredCondition(ARTIFACT_VERIFIED, "False", Reason.STORAGE_UNREACHABLE, "down"),
    )
    assert decided.result.events == ()


@pytest.mark.parametrize(
    "outcome",
    [failed(Reason.ARTIFACT_NOT_FOUND), failed(Reason.ACCESS_DENIED), one_object(HEX_B)],
    ids=["gone", "denied", "changed"],
)
def test_a_recheck_that_finds_the_bytes_gone_or_changed_is_no_unreadable_recheck(
    outcome: VerificationFailure,
) -> None:
    decided = verification.decide(make_view(status=verified_status(), now=LATER), hashed(outcome))

    assert decided.unreadable is None
    assert decided.result.conditions[0].status == "False"
    assert decided.result.events == ()


def test_unchanged_with_carries_the_events_and_the_kept_verdict() -> None:
    warning = Event("Warning", Reason.STORAGE_ERROR, "could not read")
    verified_view = make_view(status=verified_status())

    fresh = verification.unchanged_with(make_view(), (warning,))
    kept = verification.unchanged_with(verified_view, (warning,))

    assert fresh == StepResult(
        verification.unchanged(make_view()).conditions, events=(warning,), proceed=False
    )
    assert kept == StepResult(
        verification.unchanged(verified_view).conditions, events=(warning,), proceed=True
    )


# --- the reasons a step writes are the registry's -----------------------------------------


def step_conditions() -> list[DesiredCondition]:
    """Every condition the three steps write, over the situations they meet."""
    spec = make_spec(components=[("tokenizer", TOKENIZER_URI, DIGEST_B)])
    view = make_view(spec)
    verified_view = make_view(status=verified_status())
    results = [
        modelref.decide(view, True),
        modelref.decide(view, False),
        numbering.decide(view, VersionDecision(version=1)),
        numbering.decide(view, VersionDecision(version=1, holder="other")),
        verification.hashing(view),
        verification.unchanged(verified_view),
        verification.decide(view, hashed(one_object(), one_object(HEX_B))).result,
        verification.decide(view, hashed(one_object(HEX_C), one_object(HEX_B))).result,
        verification.decide(verified_view, hashed(one_object(HEX_C))).result,
        *(
            verification.decide(view, hashed(failed(reason), one_object(HEX_B))).result
            for reason in sorted(REASONS)
            if REASONS[reason].condition == ARTIFACT_VERIFIED and REASONS[reason].status == "False"
        ),
    ]
    return [c for r in results for c in r.conditions]


def test_every_reason_a_step_writes_is_registered_for_its_condition_and_status() -> None:
    written = step_conditions()

    assert {(c.type, c.reason) for c in written} >= {
        (MODEL_FOUND, Reason.MODEL_EXISTS),
        (VERSION_ASSIGNED, Reason.DUPLICATE_VERSION),
        (ARTIFACT_VERIFIED, Reason.ARTIFACT_CHANGED),
    }
    for c in written:
        info = REASONS[c.reason]
        assert (info.condition, info.status) == (c.type, c.status), c


def test_the_not_yet_verified_reason_is_registered_for_artifact_verified() -> None:
    (kept,) = verification.unchanged(make_view()).conditions

    info = REASONS[kept.reason]
    assert (info.condition, info.status) == (ARTIFACT_VERIFIED, "Unknown")


@pytest.mark.parametrize(
    ("expected", "read", "seconds", "long"),
    [
        (100, 0, 0.5, False),  # nothing read: no rate to judge by
        (100, 10, 0.0, False),  # no time passed: no rate either
        (100, 100, 9.0, False),  # all read: nothing left, however slow it was
        (100, 120, 9.0, False),  # more than expected (a size grew): nothing left
        (3, 3, 0.3, False),  # a small artifact that waited its turn
        (101, 50, 1.0, True),  # 51 left at 50 per second: just over a second
        (100, 50, 1.0, True),  # 50 left at 50 per second: exactly a second
        (99, 50, 1.0, False),  # 49 left at 50 per second: just under
        (100, 1, 0.25, True),  # 1% in a quarter of a second
        (1 << 30, 256 << 20, 0.25, False),  # 1 GiB at 1 GiB/s: 0.75 s left
        (1 << 31, 256 << 20, 0.25, True),  # 2 GiB at 1 GiB/s: 1.75 s left
    ],
)
def test_a_read_is_long_when_what_is_left_takes_a_second_at_the_rate_seen(
    expected: int, read: int, seconds: float, long: bool
) -> None:
    assert verification.LONG_READ_SECONDS == 1.0
    assert verification.read_is_long(expected, read, seconds) is long
