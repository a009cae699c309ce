"""Step 2, the version number: claims, the counter, and the step's exact condition."""

from __future__ import annotations

import pytest

from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import numbering
from modelregistry.decisions.numbering import (
    Claim,
    VersionDecision,
    decide_claim,
    in_turn,
    reserve,
)
from modelregistry.decisions.passdata import StepResult
from modelregistry.reasons import VERSION_ASSIGNED, Reason

from .builders import duplicate, make_spec, make_view, version_held

DAY1 = "2030-01-01T00:00:00Z"


def claim(name: str, version: int | None, created: str = DAY1, *, settled: bool = False) -> Claim:
    return Claim(name=name, uid=f"uid-{name}", created=created, version=version, settled=settled)


def test_the_step_owns_version_assigned_only() -> None:
    assert numbering.CONDITIONS == (VERSION_ASSIGNED,)


def test_seniority_is_creation_time_then_name() -> None:
    assert claim("b", 1, "2030-01-02T00:00:00Z").seniority == ("2030-01-02T00:00:00Z", "b")


# --- decide_claim --------------------------------------------------------------------


def test_a_claim_needs_a_number() -> None:
    own = claim("new", None)

    with pytest.raises(ValueError) as raised:
        decide_claim(own, [own])

    assert str(raised.value) == (
        "decide_claim needs a claimed number; use reserve() for new numbers"
    )


@pytest.mark.parametrize("number", [1, 42])
def test_keeps_the_spec_number(number: int) -> None:
    own = claim("mine", number)

    decided = decide_claim(own, [claim("a", number - 1), claim("b", number + 1), own])

    assert decided == VersionDecision(version=number)
    assert decided.assigned is False


def test_own_claim_is_not_counted_as_a_rival() -> None:
    own = claim("new", 3, created="2030-01-02T00:00:00Z")
    stale_self = Claim(name="new", uid=own.uid, created="2029-01-01T00:00:00Z", version=3)

    assert decide_claim(own, [stale_self]) == VersionDecision(version=3)


def test_oldest_claim_holds_a_number() -> None:
    older = claim("zeta", 2, created="2030-01-01T00:00:00Z")
    newer = claim("alpha", 2, created="2030-01-01T00:00:01Z")

    assert decide_claim(older, [older, newer]) == VersionDecision(version=2)
    assert decide_claim(newer, [older, newer]) == VersionDecision(version=2, holder="zeta")


def test_tie_on_creation_time_goes_to_the_name_first_in_order() -> None:
    first = claim("fraud-a", 2)
    second = claim("fraud-b", 2)

    assert decide_claim(first, [first, second]) == VersionDecision(version=2)
    assert decide_claim(second, [first, second]) == VersionDecision(version=2, holder="fraud-a")


def test_a_rival_must_be_strictly_senior_to_hold_the_number() -> None:
    # Same name and creation time, another uid: neither is senior to the other.
    own = Claim(name="twin", uid="uid-1", created=DAY1, version=4)
    twin = Claim(name="twin", uid="uid-2", created=DAY1, version=4)

    assert decide_claim(own, [twin]) == VersionDecision(version=4)


def test_holder_is_the_oldest_of_several_senior_claims() -> None:
    own = claim("d", 5, created="2030-01-04T00:00:00Z")
    siblings = [
        claim("c", 5, created="2030-01-03T00:00:00Z"),
        claim("a", 5, created="2030-01-01T00:00:00Z"),
        claim("b", 5, created="2030-01-02T00:00:00Z"),
        claim("z", 6, created="2029-01-01T00:00:00Z"),
    ]

    assert decide_claim(own, siblings) == VersionDecision(version=5, holder="a")


def test_claims_on_other_numbers_are_no_rivals() -> None:
    own = claim("d", 5, created="2030-01-04T00:00:00Z")

    assert decide_claim(own, [claim("old", 6, created="2029-01-01T00:00:00Z")]) == (
        VersionDecision(version=5)
    )


def test_exactly_one_of_competing_claims_holds_the_number() -> None:
    claims = [
        claim("m", 3, created="2030-01-01T00:00:01Z"),
        claim("k", 3, created="2030-01-01T00:00:00Z"),
        claim("j", 3, created="2030-01-01T00:00:00Z"),
    ]

    decided = {c.name: decide_claim(c, claims) for c in claims}

    assert decided == {
        "m": VersionDecision(version=3, holder="j"),
        "k": VersionDecision(version=3, holder="j"),
        "j": VersionDecision(version=3),
    }


def test_a_recorded_number_is_kept_whatever_the_siblings_say() -> None:
    own = claim("newer", 3, created="2030-01-02T00:00:00Z", settled=True)
    senior_rival = claim("older", 3, created="2030-01-01T00:00:00Z", settled=True)

    assert decide_claim(own, [own, senior_rival]) == VersionDecision(version=3)


def test_a_senior_claim_on_a_recorded_number_is_refused() -> None:
    holder = claim("assigned", 3, created="2030-01-02T00:00:00Z", settled=True)
    late = claim("late-spec", 3, created="2030-01-01T00:00:00Z")

    assert decide_claim(late, [holder, late]) == VersionDecision(version=3, holder="assigned")


def test_among_several_recorded_holders_the_oldest_is_named() -> None:
    late = claim("late", 3, created="2029-01-01T00:00:00Z")
    holders = [
        claim("second", 3, created="2030-01-03T00:00:00Z", settled=True),
        claim("first", 3, created="2030-01-02T00:00:00Z", settled=True),
        claim("senior-unsettled", 3, created="2028-01-01T00:00:00Z"),
    ]

    assert decide_claim(late, holders) == VersionDecision(version=3, holder="first")


# --- in_turn ------------------------------------------------------------------------------


def test_in_turn_numbers_askers_and_waiting_siblings_oldest_first() -> None:
    young = Claim("b-young", "u3", "2026-03-01T00:00:03Z", None)
    asking = [young]
    waiting = [
        Claim("c-old", "u1", "2026-03-01T00:00:01Z", None),
        Claim("a-mid", "u2", "2026-03-01T00:00:02Z", None),
        young,  # the asker is in the index too: once only
    ]
    assert [c.name for c in in_turn(asking, waiting)] == ["c-old", "a-mid", "b-young"]


def test_in_turn_breaks_a_tie_in_time_by_name_then_uid() -> None:
    at = "2026-03-01T00:00:01Z"
    claims = [Claim("b", "u1", at, None), Claim("a", "u9", at, None), Claim("a", "u2", at, None)]
    assert [(c.name, c.uid) for c in in_turn([], claims)] == [("a", "u2"), ("a", "u9"), ("b", "u1")]


def test_in_turn_leaves_out_versions_that_have_or_claim_a_number() -> None:
    at = "2026-03-01T00:00:01Z"
    waiting = [
        Claim("held", "u1", at, 3, settled=True),
        Claim("claims", "u2", at, 7),
        Claim("settled-without-number", "u3", at, None, settled=True),
        Claim("new", "u4", at, None),
    ]
    assert [c.name for c in in_turn([], waiting)] == ["new"]
    assert in_turn([], []) == []


# --- reserve ------------------------------------------------------------------------------


def test_first_version_of_a_model_is_one() -> None:
    assert reserve(0, [], 1) == [1]


def test_assigns_the_next_number_after_the_highest_known() -> None:
    assert reserve(0, [1, 4, None], 1) == [5]


def test_recorded_numbers_count_when_assigning() -> None:
    assert reserve(2, [7], 1) == [8]


def test_the_counter_counts_when_it_is_ahead() -> None:
    assert reserve(41, [3, None, 40], 3) == [42, 43, 44]


@pytest.mark.parametrize("count", [0, -1])
def test_reserving_nothing_is_refused(count: int) -> None:
    with pytest.raises(ValueError) as raised:
        reserve(0, [], count)

    assert str(raised.value) == "count must be at least 1"


# --- the step -------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "number"), [("fraud", 1), ("churn", 42)])
def test_a_number_from_spec_version_is_held(model: str, number: int) -> None:
    view = make_view(make_spec(model=model, version=number))

    result = numbering.decide(view, VersionDecision(version=number))

    assert result == StepResult(
        (
            DesiredCondition(
                VERSION_ASSIGNED, "True", Reason.VERSION_HELD, version_held(number, model)
            ),
        ),
        status={"version": number},
    )
    assert result.proceed is True


@pytest.mark.parametrize(("model", "number"), [("fraud", 1), ("churn", 42)])
def test_a_handed_out_number_says_so(model: str, number: int) -> None:
    view = make_view(make_spec(model=model))

    result = numbering.decide(view, VersionDecision(version=number, assigned=True))

    (held,) = result.conditions
    assert held.message == f"Version {number} of Model '{model}' (assigned by the operator)."
    assert result.status == {"version": number}
    assert result.proceed is True


@pytest.mark.parametrize(("model", "number", "holder"), [("fraud", 3, "v3"), ("churn", 42, "x")])
def test_a_number_held_by_another_version_stops_the_chain(
    model: str, number: int, holder: str
) -> None:
    view = make_view(make_spec(model=model, version=number))

    result = numbering.decide(view, VersionDecision(version=number, holder=holder))

    assert result == StepResult(
        (
            DesiredCondition(
                VERSION_ASSIGNED,
                "False",
                Reason.DUPLICATE_VERSION,
                duplicate(number, holder, model),
            ),
        ),
        proceed=False,
    )
    assert result.status == {}  # a refused claim is not the version


def test_the_duplicate_message_in_full() -> None:
    view = make_view(make_spec(model="churn", version=7))

    (refused,) = numbering.decide(view, VersionDecision(version=7, holder="churn-7")).conditions

    assert refused.message == (
        "Version 7 of Model 'churn' is already held by ModelVersion 'churn-7'. Versions are "
        "immutable: delete this ModelVersion and create one with another spec.version, or "
        "omit spec.version to get the next free number."
    )
