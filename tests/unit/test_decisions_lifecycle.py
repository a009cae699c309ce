"""The lifecycle step: gates, the stage to grant, approvals, history, deletion protection."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from modelregistry.api.lifecycle import (
    HISTORY_LIMIT,
    Approval,
    DeletionProtection,
    HistoryEntry,
    HistorySummary,
    PromotionPolicy,
    Stage,
)
from modelregistry.api.model import ApprovalPolicy, ModelPolicy
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import lifecycle
from modelregistry.decisions.lifecycle import (
    AUTO_STAGING,
    VERSION_LIMIT,
    Holder,
    Observed,
    Policy,
    StageDecision,
)
from modelregistry.decisions.passdata import Event, StepResult
from modelregistry.reasons import STAGE_GRANTED, Reason

from .builders import HOUR, NOW, condition
from .lifecyclebuilders import (
    NAME,
    NEWCOMER,
    OTHER,
    UID,
    VALIDATED_AT,
    approval,
    at,
    entry,
    passing,
    version_view,
)

DAY = timedelta(days=1)
PRODUCTION_APPROVAL = Policy(approval_for=frozenset({"Production"}))


def granted(stage: str, message: str | None = None) -> DesiredCondition:
    return DesiredCondition(
        STAGE_GRANTED, "True", Reason.GRANTED, message or f"{stage} is granted."
    )


def refused(reason: str, message: str) -> DesiredCondition:
    return DesiredCondition(STAGE_GRANTED, "False", reason, message)


def moved(current: str, to: str) -> str:
    return f"Version 3 of Model 'fraud': {current} -> {to}."


def not_verified(stage: str) -> str:
    return f"{stage} needs verified bytes, and ArtifactVerified is not True: see its message."


def failed_checks(stage: str) -> str:
    return f"{stage} needs passed checks, and Validated is False: see its message."


def pending_checks(stage: str) -> str:
    return f"{stage} is granted once the checks pass; they have not yet (Validated)."


def held_by(holder: str) -> str:
    return (
        f"ModelVersion {holder} holds Production (Model 'fraud', "
        "spec.policy.productionHandover: wait): set its spec.stage to Archived (or to "
        "Staging), or set the handover to replace."
    )


def taking_over(newcomer: str) -> str:
    return (
        f"ModelVersion {newcomer} is taking Production over (Model 'fraud'); "
        "this version asks again once it is done."
    )


# --- Policy.of: the safe defaults ------------------------------------------------------


def test_no_policy_is_every_default() -> None:
    assert Policy.of(None) == Policy(
        allowed=None,
        exclusive=True,
        handover="wait",
        approval_for=frozenset(),
        approvers=frozenset(),
        min_approvals=1,
        auto_staging=False,
        retention_days=None,
    )


def test_an_empty_policy_is_every_default() -> None:
    assert Policy.of(ModelPolicy()) == Policy()


def test_every_setting_is_read() -> None:
    policy = ModelPolicy(
        stages=["None", "Production"],
        production_exclusive=True,
        production_handover="replace",
        promotion=PromotionPolicy(auto_staging=True),
        approval=ApprovalPolicy(
            required_for=["Staging", "Production"], approvers=["alice", "sre"], min_approvals=2
        ),
        archived_retention_days=2555,
    )

    assert Policy.of(policy) == Policy(
        allowed=frozenset({"None", "Production"}),
        exclusive=True,
        handover="replace",
        approval_for=frozenset({"Staging", "Production"}),
        approvers=frozenset({"alice", "sre"}),
        min_approvals=2,
        auto_staging=True,
        retention_days=2555,
    )


@pytest.mark.parametrize(("setting", "exclusive"), [(None, True), (True, True), (False, False)])
def test_production_is_exclusive_unless_switched_off(setting: bool | None, exclusive: bool) -> None:
    assert Policy.of(ModelPolicy(production_exclusive=setting)).exclusive is exclusive


def test_an_approval_policy_without_a_minimum_needs_one() -> None:
    policy = ModelPolicy(approval=ApprovalPolicy(required_for=["Production"]))

    assert Policy.of(policy) == Policy(approval_for=frozenset({"Production"}), min_approvals=1)


def test_promotion_without_auto_staging_grants_nothing_by_itself() -> None:
    assert Policy.of(ModelPolicy(promotion=PromotionPolicy())).auto_staging is False


# --- the gates, one table each -----------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "stage", "expected"),
    [
        (None, "Production", None),
        (frozenset({"Production"}), "Production", None),
        (
            frozenset({"Archived", "None", "Staging"}),
            "Production",
            (
                Reason.STAGE_NOT_ALLOWED,
                "Model 'fraud' allows the stages None, Staging, Archived (spec.policy.stages), "
                "not Production: set spec.stage to one of them.",
            ),
        ),
        (
            frozenset({"Production"}),
            "Staging",
            (
                Reason.STAGE_NOT_ALLOWED,
                "Model 'fraud' allows the stages Production (spec.policy.stages), not Staging: "
                "set spec.stage to one of them.",
            ),
        ),
    ],
)
def test_allowed_gate(
    allowed: frozenset[str] | None, stage: str, expected: tuple[str, str] | None
) -> None:
    observed = passing(Policy(allowed=allowed))

    assert lifecycle._allowed(stage, version_view(), observed) == expected


@pytest.mark.parametrize(
    ("verified", "expected"),
    [(True, None), (False, (Reason.NOT_VERIFIED, not_verified("Staging")))],
)
def test_verified_gate(verified: bool, expected: tuple[str, str] | None) -> None:
    observed = passing(verified=verified)

    assert lifecycle._verified("Staging", version_view(), observed) == expected


@pytest.mark.parametrize(
    ("validated", "expected"),
    [
        ("True", None),
        ("False", (Reason.VALIDATION_FAILED, failed_checks("Production"))),
        ("Unknown", (Reason.VALIDATION_PENDING, pending_checks("Production"))),
    ],
)
def test_validated_gate(validated: str, expected: tuple[str, str] | None) -> None:
    observed = passing(validated=validated)

    assert lifecycle._validated("Production", version_view(), observed) == expected


def approval_required(
    count: int = 1, whose: str = "holders of the approve verb on the Model", have: str = ""
) -> tuple[str, str]:
    plural = "s" if count > 1 else ""
    return (
        Reason.APPROVAL_REQUIRED,
        f"Production needs {count} approval{plural} from {whose} given since the version "
        f"became Validated{have}: modelregistry approve {NAME} --stage Production "
        "--comment '...'",
    )


@pytest.mark.parametrize(
    ("policy", "approvals", "problem", "expected"),
    [
        # Not asked for by the policy: neither approvals nor the admission policy matter.
        (Policy(approval_for=frozenset({"Staging"})), [], "no policy", None),
        (PRODUCTION_APPROVAL, [approval("alice")], None, None),
        (
            PRODUCTION_APPROVAL,
            [approval("alice")],
            "The admission policy is missing.",
            (Reason.ADMISSION_POLICY_MISSING, "The admission policy is missing."),
        ),
        (PRODUCTION_APPROVAL, [], None, approval_required()),
        (PRODUCTION_APPROVAL, [approval("alice", "Staging")], None, approval_required()),
        (
            Policy(approval_for=frozenset({"Production"}), min_approvals=2),
            [approval("alice"), approval("alice", time=NOW - timedelta(minutes=1))],
            None,
            approval_required(2, have="; has 1 (alice)"),
        ),
        (
            Policy(
                approval_for=frozenset({"Production"}),
                approvers=frozenset({"sre", "bob", "alice"}),
                min_approvals=3,
            ),
            [approval("bob"), approval("carol"), approval("alice")],
            None,
            approval_required(3, "alice, bob, sre", "; has 2 (bob, alice)"),
        ),
        (
            Policy(approval_for=frozenset({"Production"}), min_approvals=2),
            [approval("alice"), approval("bob")],
            None,
            None,
        ),
    ],
)
def test_approved_gate(
    policy: Policy, approvals: list[Approval], problem: str | None, expected: object
) -> None:
    view = version_view("Production", approvals=approvals)
    observed = passing(policy, admission_problem=problem)

    assert lifecycle._approved("Production", view, observed) == expected


@pytest.mark.parametrize(
    ("stage", "policy", "holder", "incoming", "expected"),
    [
        ("Production", Policy(), None, None, None),
        ("Production", Policy(), Holder(NAME, UID), None, None),
        ("Production", Policy(), OTHER, None, (Reason.PRODUCTION_HELD, held_by("fraud-1"))),
        ("Production", Policy(handover="replace"), OTHER, None, None),
        ("Production", Policy(exclusive=False), OTHER, NEWCOMER, None),
        ("Staging", Policy(), OTHER, NEWCOMER, None),
        (
            "Production",
            Policy(handover="replace"),
            OTHER,
            NEWCOMER,
            (Reason.PRODUCTION_HELD, taking_over("fraud-9")),
        ),
        ("Production", Policy(), None, NEWCOMER, (Reason.PRODUCTION_HELD, taking_over("fraud-9"))),
        # This version is the one taking over: the holder it replaces is no reason to wait.
        ("Production", Policy(handover="replace"), OTHER, Holder(NAME, UID), None),
        (
            "Production",
            Policy(),
            OTHER,
            Holder(NAME, UID),
            (Reason.PRODUCTION_HELD, held_by("fraud-1")),
        ),
    ],
)
def test_exclusive_gate(
    stage: str,
    policy: Policy,
    holder: Holder | None,
    incoming: Holder | None,
    expected: tuple[str, str] | None,
) -> None:
    observed = passing(policy, holder=holder, incoming=incoming)

    assert lifecycle._exclusive(stage, version_view(), observed) == expected


def test_the_gates_run_in_order_what_a_person_fixes_first_is_said_first() -> None:
    assert [g.__name__ for g in lifecycle.GATES] == [
        "_allowed",
        "_metadata",
        "_verified",
        "_validated",
        "_signed",
        "_champion",
        "_approved",
        "_exclusive",
    ]
    assert [g.__name__ for g in lifecycle.HOLDING] == ["_verified", "_not_failed"]


@pytest.mark.parametrize(
    ("observed", "reason"),
    [
        (
            Observed(Policy(allowed=frozenset({"None"}), approval_for=frozenset({"Production"}))),
            Reason.STAGE_NOT_ALLOWED,
        ),
        (Observed(PRODUCTION_APPROVAL, holder=OTHER), Reason.NOT_VERIFIED),
        (Observed(PRODUCTION_APPROVAL, verified=True, validated="False"), Reason.VALIDATION_FAILED),
        (passing(PRODUCTION_APPROVAL, holder=OTHER), Reason.APPROVAL_REQUIRED),
        (passing(holder=OTHER), Reason.PRODUCTION_HELD),
        (passing(), None),
    ],
)
def test_first_failure_is_the_earliest_gate_that_fails(
    observed: Observed, reason: str | None
) -> None:
    failure = lifecycle.first_failure("Production", version_view("Production"), observed)

    assert (failure[0] if failure else None) == reason


def test_first_failure_runs_only_the_gates_it_is_given() -> None:
    observed = passing(PRODUCTION_APPROVAL, holder=OTHER)
    view = version_view("Production")

    assert lifecycle.first_failure("Production", view, observed, lifecycle.HOLDING) is None


# --- counted approvals ------------------------------------------------------------------


def count(
    approvals: list[Approval],
    approvers: frozenset[str] = frozenset(),
    stage: str = "Production",
) -> list[Approval]:
    return lifecycle.counted_approvals(stage, approvals, VALIDATED_AT, approvers, NOW)


def test_approvals_count_only_for_the_stage_they_name() -> None:
    staging, production = approval("alice", "Staging"), approval("bob")

    assert count([staging, production]) == [production]
    assert count([staging, production], stage="Staging") == [staging]


def test_approvals_count_only_from_when_the_version_became_validated() -> None:
    before = approval("alice", time=VALIDATED_AT - timedelta(seconds=1))
    exactly = approval("bob", time=VALIDATED_AT)
    after = approval("carol", time=VALIDATED_AT + timedelta(seconds=1))

    assert count([before, exactly, after]) == [exactly, after]


def test_nothing_counts_while_the_version_is_not_validated() -> None:
    given = [approval("alice")]

    assert lifecycle.counted_approvals("Production", given, None, frozenset(), NOW) == []


def test_an_approval_from_a_clock_far_ahead_does_not_count_yet() -> None:
    limit = approval("alice", time=NOW + timedelta(minutes=5))
    beyond = approval("bob", time=NOW + timedelta(minutes=5, seconds=1))

    assert count([limit, beyond]) == [limit]


def test_an_approval_whose_time_cannot_be_read_is_skipped() -> None:
    unreadable = approval("alice").model_copy(update={"time": "2030-02-30T00:00:00Z"})
    readable = approval("bob")

    assert count([unreadable, readable]) == [readable]


def test_approvers_are_named_by_user_or_by_group() -> None:
    by_user = approval("alice")
    by_group = approval("bob", groups=["ml", "sre"])
    outsider = approval("carol", groups=["ml"])

    assert count([by_user, by_group, outsider], frozenset({"alice", "sre"})) == [by_user, by_group]


def test_without_an_approvers_list_anyone_counts() -> None:
    given = [approval("alice"), approval("bob", groups=["ml"])]

    assert count(given) == given


def test_one_approval_per_user_the_first_one_kept() -> None:
    first = approval("alice", time=NOW - timedelta(minutes=2))
    again = approval("alice", time=NOW - timedelta(minutes=1))
    bob = approval("bob")

    assert count([first, bob, again]) == [first, bob]


# --- the stage to grant ---------------------------------------------------------------


def replaced_history(generation: int = 1) -> list[HistoryEntry]:
    return [
        entry("None", "Production", actor="alice"),
        entry(
            "Production",
            "Archived",
            Reason.REPLACED,
            actor="fraud-9",
            message="ModelVersion fraud-9 took Production (spec.policy.productionHandover: "
            "replace); version 3 was archived.",
            generation=generation,
        ),
    ]


@pytest.mark.parametrize(
    ("asked", "stage", "observed", "expected"),
    [
        ("Staging", None, passing(), ("Staging", None)),
        ("Production", "Staging", passing(), ("Production", None)),
        ("Archived", "Production", passing(), ("Archived", None)),
        ("None", "Staging", passing(), ("None", None)),
        ("None", None, passing(over_limit=True), ("Archived", VERSION_LIMIT)),
        ("None", "Staging", passing(over_limit=True), ("Archived", VERSION_LIMIT)),
        # Production is never archived by the limit, and a stage asked for wins.
        ("None", "Production", passing(over_limit=True), ("None", None)),
        ("Staging", None, passing(over_limit=True), ("Staging", None)),
        ("None", None, passing(Policy(auto_staging=True)), ("Staging", AUTO_STAGING)),
        (
            "None",
            None,
            passing(Policy(auto_staging=True), over_limit=True),
            ("Archived", VERSION_LIMIT),
        ),
        ("Production", None, passing(Policy(auto_staging=True)), ("Production", None)),
    ],
)
def test_target(
    asked: Stage, stage: Stage | None, observed: Observed, expected: tuple[str, str | None]
) -> None:
    assert lifecycle.target(version_view(asked, stage=stage), observed) == expected


def test_a_version_archived_by_the_limit_stays_archived_once_it_is_no_longer_over_it() -> None:
    held = condition(STAGE_GRANTED, "False", Reason.VERSION_LIMIT)
    view = version_view(stage="Archived", conditions=[held])

    assert lifecycle.target(view, passing()) == ("Archived", VERSION_LIMIT)


@pytest.mark.parametrize(
    ("stage", "reason"),
    [("Archived", Reason.GRANTED), ("Staging", Reason.VERSION_LIMIT), ("Archived", None)],
)
def test_only_an_archive_by_the_limit_is_kept_by_the_limit(
    stage: Stage, reason: str | None
) -> None:
    held = [] if reason is None else [condition(STAGE_GRANTED, "False", reason)]
    view = version_view(stage=stage, conditions=held)

    assert lifecycle.target(view, passing()) == ("None", None)


def test_a_version_replaced_at_this_generation_stays_archived() -> None:
    view = version_view("Production", stage="Archived", history=replaced_history())

    assert lifecycle.target(view, passing()) == ("Archived", None)


@pytest.mark.parametrize(
    ("stage", "history", "generation"),
    [
        ("Archived", replaced_history(), 2),  # spec changed since: it asks again
        ("Staging", replaced_history(), 1),
        ("Archived", [], 1),
        ("Archived", [*replaced_history(), entry("Archived", "Archived", "Granted")], 1),
    ],
)
def test_production_is_asked_again_unless_replaced_at_this_generation(
    stage: Stage, history: list[HistoryEntry], generation: int
) -> None:
    view = version_view("Production", stage=stage, history=history, generation=generation)

    assert lifecycle.target(view, passing()) == ("Production", None)


# --- decide: what is written and announced --------------------------------------------


def decision(
    condition: DesiredCondition,
    status: dict[str, object],
    *events: Event,
    take: bool = False,
    release: bool = False,
) -> StageDecision:
    return StageDecision(
        StepResult((condition,), status=status, events=events),
        take_production=take,
        release_production=release,
    )


def promoted(message: str, reason: str = Reason.GRANTED) -> Event:
    return Event("Normal", reason, message, action="Promote")


def test_nothing_asked_nothing_held_nothing_written_but_the_condition() -> None:
    assert lifecycle.decide(version_view(), passing()) == decision(
        granted("None", "No stage is asked for (spec.stage: None)."),
        {"stage": "None", "deletion_protection": None},
    )


def test_staging_is_granted_with_a_history_entry_and_an_event() -> None:
    message = moved("None", "Staging")

    assert lifecycle.decide(version_view("Staging"), passing()) == decision(
        granted("Staging"),
        {
            "stage": "Staging",
            "history": [entry("None", "Staging", message=message)],
            "history_summary": None,
            "deletion_protection": None,
        },
        promoted(message),
    )


def test_a_stage_held_is_granted_again_without_history() -> None:
    earlier = [entry("None", "Staging")]
    view = version_view("Staging", stage="Staging", history=earlier)

    assert lifecycle.decide(view, passing()) == decision(
        granted("Staging"), {"stage": "Staging", "deletion_protection": None}
    )


def test_production_with_its_approvals_names_the_approvers_and_takes_the_lock() -> None:
    given = [approval("alice"), approval("bob"), approval("alice", time=NOW - HOUR / 2)]
    view = version_view("Production", stage="Staging", approvals=given, generation=4)
    policy = Policy(approval_for=frozenset({"Production"}), min_approvals=2)
    message = moved("Staging", "Production")

    assert lifecycle.decide(view, passing(policy)) == decision(
        granted("Production"),
        {
            "stage": "Production",
            "history": [
                entry("Staging", "Production", actor="alice, bob", message=message, generation=4)
            ],
            "history_summary": None,
            "deletion_protection": DeletionProtection(reason="Production"),
        },
        promoted(message),
        take=True,
    )


def test_approvals_name_no_actor_where_the_policy_asks_for_none() -> None:
    view = version_view("Staging", approvals=[approval("alice", "Staging")])

    result = lifecycle.decide(view, passing(PRODUCTION_APPROVAL)).result

    assert result.status["history"] == [entry("None", "Staging", message=moved("None", "Staging"))]


def test_production_shared_by_policy_needs_no_lock() -> None:
    stage = lifecycle.decide(version_view("Production"), passing(Policy(exclusive=False)))

    assert (stage.take_production, stage.release_production) == (False, False)
    assert stage.result.status["stage"] == "Production"


def test_production_already_held_takes_no_lock_again() -> None:
    view = version_view("Production", stage="Production")

    assert lifecycle.decide(view, passing()) == decision(
        granted("Production"),
        {"stage": "Production", "deletion_protection": DeletionProtection(reason="Production")},
    )


def test_a_refused_promotion_keeps_the_stage_held_and_says_why() -> None:
    view = version_view("Production", stage="Staging")

    assert lifecycle.decide(view, passing(PRODUCTION_APPROVAL)) == decision(
        refused(*approval_required()), {"stage": "Staging", "deletion_protection": None}
    )


def test_a_newcomer_waits_while_another_holds_production() -> None:
    view = version_view("Production")

    assert lifecycle.decide(view, passing(holder=OTHER)) == decision(
        refused(Reason.PRODUCTION_HELD, held_by("fraud-1")),
        {"stage": "None", "deletion_protection": None},
    )


@pytest.mark.parametrize(
    "observed",
    [
        passing(PRODUCTION_APPROVAL, admission_problem="No admission policy."),
        passing(PRODUCTION_APPROVAL),  # the approvals given before a re-validation
        passing(Policy(allowed=frozenset({"None"}))),
        passing(holder=OTHER),
        # The checks run again: the stage stays until they fail.
        passing(validated="Unknown", validated_since=None),
    ],
)
def test_a_stage_held_is_judged_only_by_its_bytes_and_its_checks(observed: Observed) -> None:
    view = version_view("Production", stage="Production")

    assert lifecycle.decide(view, observed) == decision(
        granted("Production"),
        {"stage": "Production", "deletion_protection": DeletionProtection(reason="Production")},
    )


@pytest.mark.parametrize(
    ("asked", "held", "observed", "reason", "gate_message"),
    [
        (
            "Production",
            "Production",
            passing(verified=False),
            Reason.NOT_VERIFIED,
            not_verified("Production"),
        ),
        (
            "Staging",
            "Staging",
            passing(validated="False", validated_since=None),
            Reason.VALIDATION_FAILED,
            failed_checks("Staging"),
        ),
        # Asking for more while the bytes went bad: the gate of the stage asked for speaks.
        (
            "Production",
            "Staging",
            passing(verified=False),
            Reason.NOT_VERIFIED,
            not_verified("Production"),
        ),
    ],
)
def test_a_stage_held_is_taken_away_when_the_bytes_or_the_checks_stop_passing(
    asked: Stage, held: Stage, observed: Observed, reason: str, gate_message: str
) -> None:
    view = version_view(asked, stage=held, history=[entry("None", held)])
    message = f"{gate_message} {held} was taken away."
    lost = f"Version 3 of Model 'fraud' lost {held}: {message}"

    assert lifecycle.decide(view, observed) == decision(
        refused(reason, message),
        {
            "stage": "None",
            "history": [
                entry("None", held),
                entry(held, "None", Reason.STAGE_REVOKED, message=lost),
            ],
            "history_summary": None,
            "deletion_protection": None,
        },
        Event("Warning", Reason.STAGE_REVOKED, lost, action="Promote"),
        release=held == "Production",
    )


def test_leaving_production_releases_the_lock_after_the_write() -> None:
    view = version_view("Staging", stage="Production")
    message = moved("Production", "Staging")

    assert lifecycle.decide(view, passing()) == decision(
        granted("Staging"),
        {
            "stage": "Staging",
            "history": [entry("Production", "Staging", message=message)],
            "history_summary": None,
            "deletion_protection": None,
        },
        promoted(message),
        release=True,
    )


def test_archiving_starts_the_retention() -> None:
    view = version_view("Archived", stage="Staging")
    message = moved("Staging", "Archived")

    assert lifecycle.decide(view, passing(Policy(retention_days=30))) == decision(
        granted("Archived"),
        {
            "stage": "Archived",
            "history": [entry("Staging", "Archived", message=message)],
            "history_summary": None,
            "deletion_protection": DeletionProtection(reason="Retention", until=at(NOW + 30 * DAY)),
        },
        promoted(message),
    )


def test_archived_again_the_retention_runs_from_now_not_from_an_earlier_archive() -> None:
    earlier = [
        entry("None", "Archived", time=NOW - 100 * DAY),
        entry("Archived", "Staging", time=NOW - 60 * DAY),
    ]
    view = version_view("Archived", stage="Staging", history=earlier)

    result = lifecycle.decide(view, passing(Policy(retention_days=30))).result

    assert result.status["deletion_protection"] == DeletionProtection(
        reason="Retention", until=at(NOW + 30 * DAY)
    )


def test_auto_staging_is_granted_by_the_policy_in_its_name() -> None:
    message = moved("None", "Staging")

    assert lifecycle.decide(version_view(), passing(Policy(auto_staging=True))) == decision(
        granted("Staging", "Staging, granted by the Model's spec.policy.promotion.autoStaging."),
        {
            "stage": "Staging",
            "history": [entry("None", "Staging", actor=AUTO_STAGING, message=message)],
            "history_summary": None,
            "deletion_protection": None,
        },
        promoted(message),
    )


def test_auto_staging_waits_for_the_checks_like_any_other_promotion() -> None:
    observed = passing(Policy(auto_staging=True), validated="Unknown", validated_since=None)

    assert lifecycle.decide(version_view(), observed) == decision(
        refused(Reason.VALIDATION_PENDING, pending_checks("Staging")),
        {"stage": "None", "deletion_protection": None},
    )


VERSION_LIMIT_MESSAGE = (
    "Archived: Model 'fraud' keeps at most its spec.policy.versionLimit active versions, and "
    "this is one of the oldest that ask for no stage. Set spec.stage to Staging to bring it back."
)


def test_the_version_limit_archives_in_its_own_name() -> None:
    view = version_view(stage="Staging")
    message = moved("Staging", "Archived")

    assert lifecycle.decide(view, passing(over_limit=True)) == decision(
        refused(Reason.VERSION_LIMIT, VERSION_LIMIT_MESSAGE),
        {
            "stage": "Archived",
            "history": [
                entry(
                    "Staging",
                    "Archived",
                    Reason.VERSION_LIMIT,
                    actor=VERSION_LIMIT,
                    message=message,
                )
            ],
            "history_summary": None,
            "deletion_protection": None,
        },
        promoted(message, Reason.VERSION_LIMIT),
    )


def test_archived_by_the_limit_it_stays_so_without_another_entry() -> None:
    held = condition(STAGE_GRANTED, "False", Reason.VERSION_LIMIT)
    view = version_view(stage="Archived", conditions=[held])

    assert lifecycle.decide(view, passing()) == decision(
        refused(Reason.VERSION_LIMIT, VERSION_LIMIT_MESSAGE),
        {"stage": "Archived", "deletion_protection": None},
    )


def test_a_version_replaced_at_this_generation_says_so_and_stays_archived() -> None:
    history = replaced_history()
    view = version_view("Production", stage="Archived", history=history)

    assert lifecycle.decide(view, passing()) == decision(
        refused(
            Reason.REPLACED,
            f"{history[-1].message} Change spec.stage (to Staging, say, then Production) to ask "
            "for Production again.",
        ),
        {"stage": "Archived", "deletion_protection": None},
    )


def test_the_replaced_condition_quotes_the_newest_entry() -> None:
    history = [entry("None", "Staging"), *replaced_history()]
    view = version_view("Production", stage="Archived", history=history)

    condition = lifecycle.decide(view, passing()).result.conditions[0]

    assert condition.message.startswith(f"{history[-1].message} Change spec.stage")


def test_a_change_with_room_in_the_history_keeps_its_summary() -> None:
    summary = HistorySummary(count=40, first=at(NOW - 900 * HOUR), last=at(NOW - 800 * HOUR))
    view = version_view("Staging", history=[entry("None", "None")], summary=summary)

    status = lifecycle.decide(view, passing()).result.status

    assert status["history_summary"] == summary


def test_a_replaced_version_asking_again_at_a_new_generation_takes_production() -> None:
    view = version_view("Production", stage="Archived", history=replaced_history(), generation=2)
    message = moved("Archived", "Production")

    stage = lifecycle.decide(view, passing())

    assert stage.take_production is True
    assert stage.result.status["history"] == [
        *replaced_history(),
        entry("Archived", "Production", message=message, generation=2),
    ]


def test_a_full_history_moves_its_oldest_entry_into_the_summary() -> None:
    full = [entry("None", "None", time=NOW - (HISTORY_LIMIT - i) * HOUR) for i in range(32)]
    view = version_view("Staging", history=full)

    status = lifecycle.decide(view, passing()).result.status

    assert status["history"] == [
        *full[1:],
        entry("None", "Staging", message=moved("None", "Staging")),
    ]
    assert status["history_summary"] == HistorySummary(
        count=1, first=full[0].time, last=full[0].time
    )


# --- deletion protection ---------------------------------------------------------------


def protection(
    granted_stage: str,
    *,
    history: list[HistoryEntry] | None = None,
    kept: DeletionProtection | None = None,
    days: int | None = 30,
) -> DeletionProtection | None:
    view = version_view(stage="Archived", history=history or [], protection=kept)
    return lifecycle.deletion_protection(granted_stage, view, Policy(retention_days=days))


def retained(until: str) -> DeletionProtection:
    return DeletionProtection(reason="Retention", until=until)


@pytest.mark.parametrize("days", [None, 0, 30])
def test_production_is_protected_whatever_the_retention(days: int | None) -> None:
    assert protection("Production", days=days) == DeletionProtection(reason="Production")


@pytest.mark.parametrize("stage", ["None", "Staging"])
def test_other_stages_are_not_protected(stage: str) -> None:
    assert protection(stage, kept=retained(at(NOW + DAY))) is None


@pytest.mark.parametrize("days", [None, 0])
def test_archived_without_retention_is_not_protected(days: int | None) -> None:
    assert protection("Archived", history=[entry("None", "Archived")], days=days) is None


def test_retention_runs_from_the_last_move_to_archived() -> None:
    history = [
        entry("None", "Archived", time=NOW - 20 * DAY),
        entry("Archived", "Staging", time=NOW - 15 * DAY),
        entry("Staging", "Archived", time=NOW - 10 * DAY),
        entry("Archived", "Archived", Reason.REPLACED, time=NOW - 5 * DAY),
    ]

    assert protection("Archived", history=history) == retained(at(NOW - 5 * DAY + 30 * DAY))


def test_retention_without_a_recorded_move_runs_from_now() -> None:
    assert protection("Archived", history=[entry("None", "Staging")]) == retained(
        at(NOW + 30 * DAY)
    )


def test_a_retention_date_once_set_is_kept() -> None:
    kept = retained(at(NOW + 3 * DAY))

    assert protection("Archived", history=[entry("None", "Archived")], kept=kept) == kept


@pytest.mark.parametrize("until", [NOW, NOW - timedelta(seconds=1)])
def test_a_retention_date_that_has_come_is_cleared(until: datetime) -> None:
    assert protection("Archived", kept=retained(at(until))) is None


def test_a_retention_ending_now_computed_from_history_is_cleared() -> None:
    history = [entry("None", "Archived", time=NOW - 30 * DAY)]

    assert protection("Archived", history=history) is None


@pytest.mark.parametrize(
    "kept", [DeletionProtection(reason="Production"), DeletionProtection(reason="Retention")]
)
def test_a_protection_without_a_retention_date_is_computed_afresh(kept: DeletionProtection) -> None:
    history = [entry("Production", "Archived", time=NOW - DAY)]

    assert protection("Archived", history=history, kept=kept) == retained(at(NOW + 29 * DAY))


# --- fencing a holder --------------------------------------------------------------------


def test_the_fence_archives_the_holder_with_a_history_entry() -> None:
    view = version_view("Production", stage="Production", history=[entry("None", "Production")])

    patch = lifecycle.fence(view, "fraud-9", Policy(handover="replace"))

    assert patch == {
        "stage": "Archived",
        "history": [
            {
                "time": at(NOW),
                "from": "None",
                "to": "Production",
                "reason": "Granted",
                "message": "",
                "generation": 1,
            },
            {
                "time": at(NOW),
                "from": "Production",
                "to": "Archived",
                "actor": "fraud-9",
                "reason": "Replaced",
                "message": "ModelVersion fraud-9 took Production (spec.policy.productionHandover: "
                "replace); version 3 was archived.",
                "generation": 1,
            },
        ],
        "deletionProtection": None,
    }


def test_the_fenced_holder_is_kept_for_the_retention_from_now() -> None:
    earlier = [entry("None", "Archived", time=NOW - 100 * DAY), entry("Archived", "Production")]
    view = version_view("Production", stage="Production", history=earlier, generation=3)

    patch = lifecycle.fence(view, "fraud-9", Policy(retention_days=30))

    assert patch["deletionProtection"] == {"reason": "Retention", "until": at(NOW + 30 * DAY)}
    assert patch["history"][-1] == {  # type: ignore[index]
        "time": at(NOW),
        "from": "Production",
        "to": "Archived",
        "actor": "fraud-9",
        "reason": "Replaced",
        "message": "ModelVersion fraud-9 took Production (spec.policy.productionHandover: "
        "wait); version 3 was archived.",
        "generation": 3,
    }


def test_a_holder_without_production_loses_only_the_lock() -> None:
    view = version_view("Production", stage="Staging")

    patch = lifecycle.fence(view, "fraud-9", Policy())

    assert patch == {
        "stage": "Staging",
        "history": [
            {
                "time": at(NOW),
                "from": "Staging",
                "to": "Staging",
                "actor": "fraud-9",
                "reason": "Replaced",
                "message": "ModelVersion fraud-9 took the Production lock, which this version "
                "held without holding Production.",
                "generation": 1,
            }
        ],
    }


def test_a_holder_never_granted_anything_is_fenced_at_none() -> None:
    patch = lifecycle.fence(version_view("Production"), "fraud-9", Policy())

    assert patch["stage"] == "None"
    assert [(e["from"], e["to"]) for e in patch["history"]] == [("None", "None")]  # type: ignore[attr-defined]


def test_the_fence_summarises_a_full_history() -> None:
    full = [entry("None", "None", time=NOW - (40 - i) * HOUR) for i in range(HISTORY_LIMIT)]
    view = version_view(
        "Production",
        stage="Production",
        history=full,
        summary=HistorySummary(count=5, first=at(NOW - 100 * HOUR), last=at(NOW - 50 * HOUR)),
    )

    patch = lifecycle.fence(view, "fraud-9", Policy())

    assert patch["historySummary"] == {
        "count": 6,
        "first": at(NOW - 100 * HOUR),
        "last": full[0].time,
    }
    assert len(patch["history"]) == HISTORY_LIMIT  # type: ignore[arg-type]


def test_observed_defaults_trust_nothing() -> None:
    assert Observed() == Observed(
        policy=Policy(),
        verified=False,
        validated="Unknown",
        validated_since=None,
        admission_problem=None,
        holder=None,
        incoming=None,
        over_limit=False,
    )
