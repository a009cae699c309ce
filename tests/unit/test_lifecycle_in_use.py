"""A version in use (status.deployments) is not archived on request nor deleted, by the Model's
policy.protectInUse (default true), and the refusal names its users."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from modelregistry.api.deployments import Deployment
from modelregistry.api.lifecycle import DeletionProtection, Stage
from modelregistry.api.model import ModelPolicy
from modelregistry.decisions import lifecycle
from modelregistry.decisions.lifecycle import Policy
from modelregistry.decisions.passdata import VersionView
from modelregistry.reasons import STAGE_GRANTED, Reason

from .builders import NOW
from .lifecyclebuilders import NEWCOMER, at, entry, passing, version_view

DAY = timedelta(days=1)


def used_by(view: VersionView, *names: str, count: int | None = None) -> VersionView:
    users = [
        Deployment(kind="Pod", namespace="team-a", name=n, since="2026-12-01T00:00:00Z")
        for n in names
    ]
    status = view.status.model_copy(
        update={"deployments": users or None, "deployment_count": count or len(names) or None}
    )
    return dataclasses.replace(view, status=status)


def stage_granted(decision: lifecycle.StageDecision) -> tuple[str, str, str]:
    (found,) = (c for c in decision.result.conditions if c.type == STAGE_GRANTED)
    return found.status, found.reason, found.message


@pytest.mark.parametrize("held", ["None", "Staging", "Production"])
def test_archived_is_refused_while_in_use_naming_the_users(held: Stage) -> None:
    view = used_by(version_view("Archived", stage=held), "server-a", "server-b")

    decision = lifecycle.decide(view, passing())

    status, reason, message = stage_granted(decision)
    assert (status, reason) == ("False", Reason.IN_USE)
    assert message == (
        "Archived is refused: this version is in use by Pod team-a/server-a, Pod "
        "team-a/server-b (status.deployments). Move them to another version first, or set "
        "Model 'fraud''s spec.policy.protectInUse to false."
    )
    assert decision.result.status["stage"] == held
    assert "history" not in decision.result.status
    assert not decision.release_production


def test_many_users_are_named_three_and_counted() -> None:
    view = used_by(version_view("Archived", stage="Staging"), "a", "b", "c", "d", count=40)

    _, _, message = stage_granted(lifecycle.decide(view, passing()))

    assert "in use by Pod team-a/a, Pod team-a/b, Pod team-a/c and 37 more " in message


def test_archived_is_granted_once_nothing_uses_it() -> None:
    view = version_view("Archived", stage="Staging")

    decision = lifecycle.decide(view, passing())

    assert stage_granted(decision)[:2] == ("True", Reason.GRANTED)
    assert decision.result.status["stage"] == "Archived"


def test_the_policy_may_let_a_version_in_use_be_archived_and_deleted() -> None:
    view = used_by(version_view("Archived", stage="Staging"), "server-a")
    policy = Policy.of(ModelPolicy.model_validate({"protectInUse": False}))

    decision = lifecycle.decide(view, passing(policy))

    assert decision.result.status["stage"] == "Archived"
    assert decision.result.status["deletion_protection"] is None


@pytest.mark.parametrize(
    ("written", "protects"),
    [({}, True), ({"protectInUse": True}, True), ({"protectInUse": False}, False)],
)
def test_protection_in_use_is_the_default(written: dict[str, bool], protects: bool) -> None:
    assert Policy.of(ModelPolicy.model_validate(written)).protect_in_use is protects
    assert Policy.of(None).protect_in_use is True


@pytest.mark.parametrize("held", ["None", "Staging", "Archived"])
def test_a_version_in_use_may_not_be_deleted(held: Stage) -> None:
    view = used_by(version_view(held, stage=held), "server-a")

    decision = lifecycle.decide(view, passing())

    assert decision.result.status["deletion_protection"] == DeletionProtection(
        reason="InUse", users="Pod team-a/server-a"
    )


def test_production_is_protected_as_production_in_use_or_not() -> None:
    view = used_by(version_view("Production", stage="Production"), "server-a")

    assert lifecycle.deletion_protection("Production", view, Policy()) == DeletionProtection(
        reason="Production"
    )


def test_retention_comes_back_when_the_users_leave() -> None:
    archived = entry("Staging", "Archived", time=NOW - 2 * DAY)
    view = version_view("Archived", stage="Archived", history=[archived])
    policy = Policy(retention_days=30)

    in_use = lifecycle.deletion_protection("Archived", used_by(view, "server-a"), policy)
    after = lifecycle.deletion_protection("Archived", view, policy)

    assert in_use == DeletionProtection(reason="InUse", users="Pod team-a/server-a")
    assert after == DeletionProtection(reason="Retention", until=at(NOW + 28 * DAY))


def test_a_version_the_version_limit_archives_is_not_held_by_its_users() -> None:
    # The limit is the Model's own policy: its archiving is not a request to refuse.
    view = used_by(version_view("None", stage="None"), "server-a")

    decision = lifecycle.decide(view, passing(over_limit=True))

    assert decision.result.status["stage"] == "Archived"
    assert decision.result.status["deletion_protection"] == DeletionProtection(
        reason="InUse", users="Pod team-a/server-a"
    )


def test_a_version_replaced_in_production_stays_protected_while_in_use() -> None:
    view = used_by(version_view("Production", stage="Production"), "server-a")

    fenced = lifecycle.fence(view, NEWCOMER.name, Policy())

    assert fenced["stage"] == "Archived"
    assert fenced["deletionProtection"] == {"reason": "InUse", "users": "Pod team-a/server-a"}
