"""Ready, Reconciling and Stalled from the owned conditions, and the transition Events."""

from __future__ import annotations

import pytest

from modelregistry.api.meta import Condition, ConditionStatus
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import Event
from modelregistry.decisions.summary import stalled, summarize, transition_events
from modelregistry.reasons import (
    ARTIFACT_VERIFIED,
    MODEL_FOUND,
    READY,
    RECONCILING,
    STALLED,
    VERSION_ASSIGNED,
    Reason,
)

from .builders import OWNED, condition

FOUND = DesiredCondition(MODEL_FOUND, "True", Reason.MODEL_EXISTS, "found")
HELD = DesiredCondition(VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "held")
VERIFIED = DesiredCondition(ARTIFACT_VERIFIED, "True", Reason.VERIFIED, "verified")


# --- summarize ---------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["Version 1 of Model 'fraud' is ready.", "all good"])
def test_every_owned_condition_true_is_ready(message: str) -> None:
    assert summarize([FOUND, HELD, VERIFIED], message) == (
        [DesiredCondition(READY, "True", Reason.SUCCEEDED, message)],
        False,
    )


def test_no_owned_condition_is_progressing() -> None:
    message = "Nothing has been checked yet."

    assert summarize([], "unused") == (
        [
            DesiredCondition(READY, "Unknown", Reason.PROGRESSING, message),
            DesiredCondition(RECONCILING, "True", Reason.PROGRESSING, message),
        ],
        False,
    )


def test_unknown_is_work_under_way_without_retry() -> None:
    hashing = DesiredCondition(ARTIFACT_VERIFIED, "Unknown", Reason.VERIFYING, "Hashing x.")

    assert summarize([FOUND, HELD, hashing], "unused") == (
        [
            DesiredCondition(READY, "Unknown", Reason.VERIFYING, "Hashing x."),
            DesiredCondition(RECONCILING, "True", Reason.VERIFYING, "Hashing x."),
        ],
        False,
    )


@pytest.mark.parametrize(
    "reason",
    [
        Reason.MODEL_NOT_FOUND,
        Reason.ARTIFACT_NOT_FOUND,
        Reason.STORAGE_UNREACHABLE,
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.STORAGE_ERROR,
    ],
)
def test_a_transient_false_is_a_wait_that_is_retried(reason: str) -> None:
    waiting = DesiredCondition(ARTIFACT_VERIFIED, "False", reason, "Not there.")

    assert summarize([FOUND, HELD, waiting], "unused") == (
        [
            DesiredCondition(READY, "False", reason, "Not there."),
            DesiredCondition(RECONCILING, "True", reason, "Not there. Retrying."),
        ],
        True,
    )


@pytest.mark.parametrize(
    "reason",
    [
        Reason.DUPLICATE_VERSION,
        Reason.ACCESS_DENIED,
        Reason.CREDENTIALS_REJECTED,
        Reason.INVALID_ENDPOINT,
        Reason.INVALID_ARTIFACT,
        Reason.DIGEST_MISMATCH,
        Reason.ARTIFACT_CHANGED,
        "SomethingNobodyRegistered",
    ],
)
def test_any_other_false_needs_a_person(reason: str) -> None:
    refused = DesiredCondition(VERSION_ASSIGNED, "False", reason, "Fix it.")

    assert summarize([FOUND, refused, VERIFIED], "unused") == (
        [
            DesiredCondition(READY, "False", reason, "Fix it."),
            DesiredCondition(STALLED, "True", reason, "Fix it."),
        ],
        False,
    )


def test_the_first_condition_that_is_not_true_decides() -> None:
    missing = DesiredCondition(MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, "No model.")
    mismatch = DesiredCondition(ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, "Wrong.")

    assert summarize([missing, HELD, mismatch], "unused") == (
        [
            DesiredCondition(READY, "False", Reason.MODEL_NOT_FOUND, "No model."),
            DesiredCondition(RECONCILING, "True", Reason.MODEL_NOT_FOUND, "No model. Retrying."),
        ],
        True,
    )
    assert summarize([FOUND, mismatch, missing], "unused")[0][0] == DesiredCondition(
        READY, "False", Reason.DIGEST_MISMATCH, "Wrong."
    )


@pytest.mark.parametrize(
    ("reason", "message"), [(Reason.INVALID_SPEC, "The spec is invalid."), ("Other", "x")]
)
def test_stalled_without_any_step(reason: str, message: str) -> None:
    assert stalled(reason, message) == [
        DesiredCondition(READY, "False", reason, message),
        DesiredCondition(STALLED, "True", reason, message),
    ]


# --- transition_events ----------------------------------------------------------------------


def verified_now(status: ConditionStatus, reason: str, message: str = "m") -> Condition:
    return condition(ARTIFACT_VERIFIED, status, reason, message)


def test_a_condition_turning_false_is_a_warning() -> None:
    after = [verified_now("False", Reason.DIGEST_MISMATCH, "Wrong bytes.")]

    assert transition_events([], after, OWNED) == [
        Event("Warning", Reason.DIGEST_MISMATCH, "Wrong bytes.", "Reconcile")
    ]


def test_an_announced_reason_turning_true_is_normal() -> None:
    before = [verified_now("Unknown", Reason.VERIFYING)]
    after = [verified_now("True", Reason.VERIFIED, "s3://x is fine.")]

    assert transition_events(before, after, OWNED) == [
        Event("Normal", Reason.VERIFIED, "s3://x is fine.", "Reconcile")
    ]


@pytest.mark.parametrize(("type_", "reason"), [(MODEL_FOUND, Reason.MODEL_EXISTS)])
def test_a_quiet_reason_turning_true_is_not_announced(type_: str, reason: str) -> None:
    before = [condition(type_, "False", Reason.MODEL_NOT_FOUND)]

    assert transition_events(before, [condition(type_, "True", reason)], OWNED) == []


def test_version_held_is_not_announced() -> None:
    after = [condition(VERSION_ASSIGNED, "True", Reason.VERSION_HELD, "Version 4.")]

    assert transition_events([], after, OWNED) == []


def test_unknown_is_not_announced() -> None:
    before = [verified_now("True", Reason.VERIFIED)]
    after = [verified_now("Unknown", Reason.VERIFYING)]

    assert transition_events(before, after, OWNED) == []


def test_an_unchanged_status_and_reason_is_not_announced_again() -> None:
    before = [verified_now("False", Reason.STORAGE_ERROR, "first message")]
    after = [verified_now("False", Reason.STORAGE_ERROR, "another message")]

    assert transition_events(before, after, OWNED) == []


def test_a_change_of_reason_alone_is_announced() -> None:
    before = [verified_now("False", Reason.STORAGE_UNREACHABLE, "down")]
    after = [verified_now("False", Reason.ACCESS_DENIED, "denied")]

    assert transition_events(before, after, OWNED) == [
        Event("Warning", Reason.ACCESS_DENIED, "denied")
    ]


def test_a_change_of_status_alone_is_announced() -> None:
    before = [verified_now("True", "Same")]
    after = [verified_now("False", "Same", "now false")]

    assert transition_events(before, after, OWNED) == [Event("Warning", "Same", "now false")]


def test_only_owned_types_are_announced_in_their_order() -> None:
    after = [
        condition(ARTIFACT_VERIFIED, "False", Reason.STORAGE_ERROR, "store"),
        condition(READY, "False", Reason.STORAGE_ERROR, "store"),
        condition(MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, "model"),
    ]

    assert transition_events([], after, OWNED) == [
        Event("Warning", Reason.MODEL_NOT_FOUND, "model"),
        Event("Warning", Reason.STORAGE_ERROR, "store"),
    ]
    assert transition_events([], after, (ARTIFACT_VERIFIED,)) == [
        Event("Warning", Reason.STORAGE_ERROR, "store")
    ]


def test_stalled_is_announced_when_no_owned_condition_said_it() -> None:
    after = [
        condition(READY, "False", Reason.INVALID_SPEC, "bad spec"),
        condition(STALLED, "True", Reason.INVALID_SPEC, "bad spec"),
    ]

    assert transition_events([], after, OWNED) == [
        Event("Warning", Reason.INVALID_SPEC, "bad spec")
    ]


def test_stalled_is_not_announced_twice_with_its_owned_condition() -> None:
    after = [
        condition(STALLED, "True", Reason.DIGEST_MISMATCH, "wrong"),
        condition(ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, "wrong"),
    ]

    assert transition_events([], after, OWNED) == [
        Event("Warning", Reason.DIGEST_MISMATCH, "wrong")
    ]


def test_stalled_with_another_reason_than_the_owned_events_is_announced_too() -> None:
    after = [
        condition(STALLED, "True", Reason.DUPLICATE_VERSION, "taken"),
        condition(ARTIFACT_VERIFIED, "False", Reason.DIGEST_MISMATCH, "wrong"),
    ]

    assert transition_events([], after, OWNED) == [
        Event("Warning", Reason.DIGEST_MISMATCH, "wrong"),
        Event("Warning", Reason.DUPLICATE_VERSION, "taken"),
    ]


def test_an_unchanged_stall_is_not_announced_again() -> None:
    stall = condition(STALLED, "True", Reason.INVALID_SPEC, "bad")

    assert transition_events([stall], [stall], OWNED) == []


def test_a_stall_that_changes_reason_is_announced() -> None:
    before = [condition(STALLED, "True", Reason.INVALID_SPEC, "bad")]
    after = [condition(STALLED, "True", Reason.ACCESS_DENIED, "denied")]

    assert transition_events(before, after, ()) == [
        Event("Warning", Reason.ACCESS_DENIED, "denied")
    ]


def test_nothing_after_is_nothing_to_announce() -> None:
    before = [verified_now("True", Reason.VERIFIED)]

    assert transition_events(before, [], OWNED) == []
