"""A Model's resolved stages and aliases, its protected versions, and its version limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelregistry.api.lifecycle import ProductionLock, ResolvedVersion
from modelregistry.api.meta import ConditionStatus
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.decisions.model import VersionSummary, over_limit, resolve, summarize_model
from modelregistry.reasons import ALIASES_RESOLVED, READY, Reason

from .builders import DIGEST_A, DIGEST_B, NOW, NOW_TEXT, Row, conditions


def version(
    number: int | None,
    stage: str | None = "None",
    *,
    ready: bool = True,
    asked: str = "None",
    verified: bool = True,
    version_id: str | None = None,
    protected: bool = False,
) -> VersionSummary:
    """Version `number` of Model 'fraud', its bytes verified at a URI of its own."""
    return VersionSummary(
        version=number,
        ready=ready,
        stalled=False,
        stage=stage,
        name=f"fraud-{number}",
        uid=f"uid-{number}",
        asked=asked,
        uri=f"s3://models/fraud/{number}/" if verified else None,
        digest=(DIGEST_B if number == 2 else DIGEST_A) if verified else None,
        version_id=version_id,
        protected=protected,
    )


def resolved(
    number: int, stage: str = "None", digest: str = DIGEST_A, version_id: str | None = None
) -> ResolvedVersion:
    return ResolvedVersion.model_validate(
        {
            "version": number,
            "name": f"fraud-{number}",
            "stage": stage,
            "uri": f"s3://models/fraud/{number}/",
            "digest": digest,
            **({"versionId": version_id} if version_id else {}),
        }
    )


# --- resolve ---------------------------------------------------------------------------


def test_each_stage_held_resolves_to_its_newest_holder() -> None:
    versions = [
        version(1, "Production"),
        version(2, "Staging", version_id="v2"),
        version(3, "Production"),
        version(4, "Archived"),
        version(5, "None"),
    ]

    assert resolve(versions, {}) == (
        {
            "Staging": resolved(2, "Staging", DIGEST_B, "v2"),
            "Production": resolved(3, "Production"),
        },
        [],
    )


def test_a_holder_without_verified_bytes_leaves_the_stage_to_the_one_before() -> None:
    versions = [version(1, "Production"), version(3, "Production", verified=False)]

    assert resolve(versions, {}) == ({"Production": resolved(1, "Production")}, [])


@pytest.mark.parametrize(
    "unverified",
    [
        VersionSummary(None, True, False, "Production", uri="s3://m/", digest=DIGEST_A),
        VersionSummary(7, True, False, "Production", uri=None, digest=DIGEST_A),
        VersionSummary(7, True, False, "Production", uri="s3://m/", digest=None),
    ],
)
def test_a_version_without_number_uri_or_digest_resolves_nothing(
    unverified: VersionSummary,
) -> None:
    assert resolve([unverified], {"champion": 7}) == (
        {},
        [
            "alias 'champion' points at version 7, which "
            + ("does not exist" if unverified.version is None else "is not Ready")
        ],
    )


def test_aliases_resolve_to_ready_versions_whatever_their_stage() -> None:
    versions = [version(1, "Archived"), version(2, None), version(3, "Staging")]

    found, unresolved = resolve(versions, {"champion": 1, "shadow": 2, "challenger": 3})

    assert unresolved == []
    assert found == {
        "Staging": resolved(3, "Staging"),
        "champion": resolved(1, "Archived"),
        "shadow": resolved(2, "None", DIGEST_B),
        "challenger": resolved(3, "Staging"),
    }


def test_a_stage_the_api_does_not_know_resolves_as_none() -> None:
    found, _ = resolve([version(1, "Candidate")], {"champion": 1})

    assert found == {"champion": resolved(1, "None")}


def test_aliases_that_do_not_resolve_are_named_in_order() -> None:
    versions = [version(1, ready=False), version(2), version(3, ready=False, verified=False)]

    found, unresolved = resolve(versions, {"zeta": 3, "champion": 1, "ghost": 9, "ok": 2})

    assert found == {"ok": resolved(2, digest=DIGEST_B)}
    assert unresolved == [
        "alias 'champion' points at version 1, which is not Ready",
        "alias 'ghost' points at version 9, which does not exist",
        "alias 'zeta' points at version 3, which is not Ready",
    ]


def test_a_claim_on_a_held_number_does_not_shadow_its_holder() -> None:
    """Anyone who may create a version can claim the champion's number in spec.version; the
    claim is refused (not settled) and the alias stays with the version that holds it."""
    claim = replace(version(1, ready=False, verified=False), name="mallory", settled=False)

    for versions in ([version(1), claim], [claim, version(1)]):
        found, unresolved = resolve(versions, {"champion": 1})
        assert (found, unresolved) == ({"champion": resolved(1)}, [])
    assert resolve([claim], {"champion": 1}) == (
        {},
        ["alias 'champion' points at version 1, which does not exist"],
    )


def test_an_alias_named_like_a_stage_wins_over_the_stage() -> None:
    found, _ = resolve([version(1, "Staging"), version(2)], {"Staging": 2})

    assert found == {"Staging": resolved(2, digest=DIGEST_B)}


# --- the Model's status -----------------------------------------------------------------


def aliases_condition(status: ConditionStatus, reason: str, message: str) -> Row:
    return (ALIASES_RESOLVED, status, reason, message, NOW_TEXT)


def test_the_summary_resolves_stages_and_aliases_from_unsorted_versions() -> None:
    versions = [
        version(3, "Production", protected=True),
        version(1, "Production", protected=True),
        version(2, "Archived", protected=True),
        version(4, "Staging", ready=False),
    ]
    lock = ProductionLock(holder="fraud-3", uid="uid-3", since=NOW_TEXT)
    before = ModelStatus(production=lock, version_sequence=4)

    status = summarize_model(versions, before, 2, NOW, {"champion": 1})

    assert status == ModelStatus(
        observed_generation=2,
        latest_version=4,
        latest_ready_version=3,
        counts=VersionCounts(total=4, ready=3, stalled=0),
        stages={"Production": 3, "Archived": 2, "Staging": 4},
        resolved={
            "Production": resolved(3, "Production"),
            "Staging": resolved(4, "Staging"),
            "champion": resolved(1, "Production"),
        },
        production=lock,
        protected_versions=3,
        version_sequence=4,
        conditions=conditions(
            2,
            (READY, "True", Reason.SUCCEEDED, "4 versions, 3 ready.", NOW_TEXT),
            aliases_condition(
                "True", Reason.ALIASES_READY, "Every alias points at a Ready version."
            ),
        ),
    )


def test_unresolved_aliases_are_a_model_condition_that_says_what_to_do() -> None:
    status = summarize_model(
        [version(1, ready=False)], ModelStatus(), 1, NOW, {"champion": 1, "shadow": 5}
    )

    assert status.resolved is None
    assert status.conditions[1:] == conditions(
        1,
        aliases_condition(
            "False",
            Reason.ALIAS_UNRESOLVED,
            "alias 'champion' points at version 1, which is not Ready; alias 'shadow' points "
            "at version 5, which does not exist. Point the alias at a Ready version in "
            "spec.aliases.",
        ),
    )


@pytest.mark.parametrize("aliases", [None, {}])
def test_without_aliases_the_condition_says_none_are_set(aliases: dict[str, int] | None) -> None:
    status = summarize_model([version(1)], ModelStatus(), 1, NOW, aliases)

    assert status.conditions[1:] == conditions(
        1, aliases_condition("True", Reason.ALIASES_READY, "No aliases are set.")
    )


def test_no_protected_version_counts_zero() -> None:
    status = summarize_model([version(1), version(2)], ModelStatus(), 1, NOW)

    assert status.protected_versions == 0


# --- the version limit ----------------------------------------------------------------


def numbers(found: list[VersionSummary]) -> list[int | None]:
    return [v.version for v in found]


@pytest.mark.parametrize("limit", [None, 8, 9])
def test_within_the_limit_nothing_is_archived(limit: int | None) -> None:
    versions = [version(i) for i in range(1, 9)]

    assert over_limit(versions, limit, None) == []


def test_the_oldest_beyond_the_limit_are_archived_by_number_not_by_order() -> None:
    versions = [version(i) for i in (5, 2, 7, 1, 3, 6, 4, 8)]

    assert numbers(over_limit(versions, 3, None)) == [1, 2, 3, 4, 5]


def test_archived_versions_are_not_active_and_are_not_archived_again() -> None:
    versions = [version(1, "Archived"), version(2, "Archived"), version(3), version(4)]

    assert over_limit(versions, 2, None) == []
    assert numbers(over_limit(versions, 1, None)) == [3]


def test_production_aliases_stages_asked_for_and_unnumbered_versions_are_spared() -> None:
    versions = [
        version(1, "Production", asked="Production"),
        version(2, "Staging", asked="Staging"),
        version(3),
        version(4),
        version(5, "Production"),  # asks for nothing, still serves Production
        version(None),
        version(6, "Staging"),  # granted Staging by the policy, asks for nothing
        version(7),
    ]

    assert numbers(over_limit(versions, 2, {"champion": 4})) == [3, 6, 7]


def test_fewer_candidates_than_the_excess_archives_only_them() -> None:
    versions = [version(1, asked="Staging"), version(2), version(3, asked="Production")]

    assert numbers(over_limit(versions, 1, {})) == [2]
