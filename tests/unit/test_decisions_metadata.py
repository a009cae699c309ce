"""Required metadata: the paths a Model may name (drawn from the API types), which of them the
admission policy checks, and which a spec lacks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelregistry.api.model import ModelPolicy
from modelregistry.api.modelversion import Signature
from modelregistry.api.specpaths import BY_PATH, MAPS, PATHS, SpecPath, target
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import lifecycle, metadata
from modelregistry.decisions.lifecycle import Policy
from modelregistry.decisions.metadata import VOCABULARY, VOCABULARY_MAPS, checked_at_admission
from modelregistry.decisions.passdata import VersionView
from modelregistry.reasons import METADATA_COMPLETE, STAGE_GRANTED, Reason

from .builders import condition
from .lifecyclebuilders import passing, version_view

Body = dict[str, Any]

# --- the paths, from the API types ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("signature", "object"),
        ("featureRetrieval", "object"),
        ("modelCard.intendedUse", "text"),
        ("lineage.code.commit", "text"),
        ("lineage.datasets", "list"),
        ("lineage.datasets[].version", "text"),
        ("lineage.parents[].version", "value"),
        ("lineage.environment.dependencies", "list"),
        ("signature.inputs[].shape", "list"),
        ("artifact.format", "text"),
        ("version", "value"),
        ("components[].artifact.storage.secretRef.name", "text"),
        ("validation.checks[].env[].value", "text"),
        ("validation.deadlineSeconds", "value"),
    ],
)
def test_each_field_of_the_spec_is_a_path_of_its_kind(path: str, kind: str) -> None:
    assert BY_PATH[path] == SpecPath(path, kind)  # type: ignore[arg-type]


def test_maps_are_paths_whose_keys_follow_and_their_values_kind() -> None:
    assert (
        SpecPath("metrics", "map", "value"),
        SpecPath("hyperparameters", "map", "text"),
        SpecPath("validation.checks[].resources.requests", "map", "text"),
        SpecPath("validation.checks[].resources.limits", "map", "text"),
    ) == MAPS


def test_the_stage_asked_for_is_no_metadata_and_paths_come_in_the_types_order() -> None:
    assert "stage" not in BY_PATH
    assert [p.path for p in PATHS[:5]] == [
        "modelRef",
        "modelRef.name",
        "version",
        "description",
        "artifact",
    ]
    assert len(BY_PATH) == len(PATHS)


def test_lists_counts_the_lists_a_path_goes_through() -> None:
    assert [BY_PATH[p].lists for p in ("signature", "lineage.datasets[].name")] == [0, 1]
    assert BY_PATH["validation.checks[].env[].name"].lists == 2


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("signature", (BY_PATH["signature"], None)),
        ("metrics", (BY_PATH["metrics"], None)),
        ("metrics.f1", (BY_PATH["metrics"], "f1")),
        ("metrics.f1.macro", (BY_PATH["metrics"], "f1.macro")),
        ("hyperparameters.algorithm", (BY_PATH["hyperparameters"], "algorithm")),
        (
            "validation.checks[].resources.limits.memory",
            (BY_PATH["validation.checks[].resources.limits"], "memory"),
        ),
        ("metrics.", None),
        ("modelcard.intendedUse", None),
        ("signature.inputs.name", None),
        ("", None),
    ],
)
def test_a_path_names_a_field_or_a_key_of_a_map(
    path: str, expected: tuple[SpecPath, str | None] | None
) -> None:
    assert target(path) == expected


# --- what the admission policy checks -----------------------------------------------------


def test_the_vocabulary_goes_through_one_list_at_most_and_maps_outside_lists() -> None:
    assert tuple(p for p in PATHS if p.lists < 2) == VOCABULARY
    assert [m.path for m in VOCABULARY_MAPS] == ["metrics", "hyperparameters"]


@pytest.mark.parametrize(
    ("path", "checked"),
    [
        ("signature", True),
        ("lineage.datasets[].version", True),
        ("metrics.auc", True),
        ("hyperparameters.algorithm", True),
        ("validation.checks[].resources.limits", True),
        ("validation.checks[].resources.limits.memory", False),
        ("validation.checks[].env[].name", False),
        ("no.such.path", False),
    ],
)
def test_which_paths_the_admission_policy_checks(path: str, checked: bool) -> None:
    assert checked_at_admission(path) is checked


# --- what a spec lacks ------------------------------------------------------------------


def spec(**fields: Any) -> Body:
    return {"modelRef": {"name": "churn"}, "artifact": {"uri": "s3://b/k"}, **fields}


@pytest.mark.parametrize(
    ("fields", "path", "lacks"),
    [
        # An object is set when it is there at all, even empty (as CEL's has()).
        ({}, "signature", True),
        ({"signature": {}}, "signature", False),
        # Text, lists and maps must not be empty.
        ({"modelCard": {}}, "modelCard.intendedUse", True),
        ({"modelCard": {"intendedUse": ""}}, "modelCard.intendedUse", True),
        ({"modelCard": {"intendedUse": "fraud triage"}}, "modelCard.intendedUse", False),
        ({"featureRetrieval": {"features": []}}, "featureRetrieval.features", True),
        ({"featureRetrieval": {"features": ["v:f"]}}, "featureRetrieval.features", False),
        ({"metrics": {}}, "metrics", True),
        ({"metrics": {"auc": 0.9}}, "metrics", False),
        # Numbers and booleans are set when there, zero included.
        ({"validation": {"deadlineSeconds": 0}}, "validation.deadlineSeconds", False),
        ({"validation": {}}, "validation.deadlineSeconds", True),
        # A key of a map: there, with a value that is set.
        ({"metrics": {"auc": 0.0}}, "metrics.auc", False),
        ({"metrics": {"auc": 0.9}}, "metrics.f1", True),
        ({}, "metrics.f1", True),
        ({"hyperparameters": {"algorithm": ""}}, "hyperparameters.algorithm", True),
        ({"hyperparameters": {"algorithm": "xgb"}}, "hyperparameters.algorithm", False),
        ({"metrics": {"f1.macro": 0.7}}, "metrics.f1.macro", False),
        # Through a list: not empty, and every item has it.
        ({"lineage": {"datasets": []}}, "lineage.datasets[].version", True),
        ({"lineage": {}}, "lineage.datasets[].version", True),
        (
            {"lineage": {"datasets": [{"name": "a", "version": "1"}, {"name": "b"}]}},
            "lineage.datasets[].version",
            True,
        ),
        (
            {
                "lineage": {
                    "datasets": [{"name": "a", "version": "1"}, {"name": "b", "version": ""}]
                }
            },
            "lineage.datasets[].version",
            True,
        ),
        (
            {
                "lineage": {
                    "datasets": [{"name": "a", "version": "1"}, {"name": "b", "version": "2"}]
                }
            },
            "lineage.datasets[].version",
            False,
        ),
        # Two lists deep, and a map in a list: the operator's alone.
        (
            {"validation": {"checks": [{"name": "c", "env": [{"name": "A"}]}]}},
            "validation.checks[].env[].value",
            True,
        ),
        (
            {"validation": {"checks": [{"name": "c", "env": [{"name": "A", "value": "1"}]}]}},
            "validation.checks[].env[].value",
            False,
        ),
        (
            {"validation": {"checks": [{"name": "c", "env": []}]}},
            "validation.checks[].env[].value",
            True,
        ),
        (
            {
                "validation": {
                    "checks": [
                        {"name": "a", "resources": {"limits": {"memory": "1Gi"}}},
                        {"name": "b", "resources": {"limits": {"cpu": "1"}}},
                    ]
                }
            },
            "validation.checks[].resources.limits.memory",
            True,
        ),
        (
            {"validation": {"checks": [{"name": "a", "resources": {"limits": {"memory": "1Gi"}}}]}},
            "validation.checks[].resources.limits.memory",
            False,
        ),
        # A path that names nothing is never set.
        ({"signature": {}}, "signatures", True),
    ],
)
def test_what_a_spec_lacks(fields: Body, path: str, lacks: bool) -> None:
    assert metadata.missing(spec(**fields), [path]) == ([path] if lacks else [])


def test_each_missing_path_once_in_the_policy_s_order() -> None:
    required = ["signature", "metrics.f1", "modelRef.name", "signature", "lineage.code.commit"]

    assert metadata.missing(spec(), required) == ["signature", "metrics.f1", "lineage.code.commit"]
    assert metadata.missing(spec(), []) == []


def test_something_other_than_an_object_on_the_way_is_not_set() -> None:
    odd: Body = {"lineage": "text", "metrics": ["auc"], "signature": {"inputs": "x"}}

    assert metadata.missing(odd, ["lineage.code", "metrics.auc", "signature.inputs[].name"]) == [
        "lineage.code",
        "metrics.auc",
        "signature.inputs[].name",
    ]


# --- in the lifecycle: marked, and not promoted -------------------------------------------

REQUIRING = Policy(required_metadata=("signature", "metrics.f1"))
INCOMPLETE = (
    "Model 'fraud' requires signature, metrics.f1 of every version "
    "(spec.policy.requiredMetadata), and the spec lacks signature, metrics.f1. What a version "
    "registered cannot change: register a new version that sets them. This one keeps the stage "
    "it holds and is not promoted to Staging or Production."
)


def with_spec(view: VersionView, **fields: Any) -> VersionView:
    return dataclasses.replace(view, spec=view.spec.model_copy(update=fields))


def by_type(decision: lifecycle.StageDecision) -> dict[str, DesiredCondition]:
    return {c.type: c for c in decision.result.conditions}


def test_the_policy_reads_required_metadata() -> None:
    policy = ModelPolicy(required_metadata=["signature", "lineage.datasets[].version"])

    assert Policy.of(policy).required_metadata == ("signature", "lineage.datasets[].version")
    assert Policy.of(ModelPolicy()).required_metadata == ()


def test_a_version_lacking_what_the_model_requires_is_marked_and_not_promoted() -> None:
    decision = lifecycle.decide(version_view("Staging"), passing(REQUIRING))

    assert list(by_type(decision).values()) == [
        DesiredCondition(METADATA_COMPLETE, "False", Reason.METADATA_INCOMPLETE, INCOMPLETE),
        DesiredCondition(
            STAGE_GRANTED,
            "False",
            Reason.METADATA_MISSING,
            "Staging needs what Model 'fraud' requires of every version "
            "(spec.policy.requiredMetadata), and the spec lacks signature, metrics.f1: register "
            "a new version that sets them.",
        ),
    ]
    assert decision.result.status["stage"] == "None"


def test_what_cannot_change_is_said_before_what_may_come() -> None:
    decision = lifecycle.decide(version_view("Production"), passing(REQUIRING, verified=False))

    assert by_type(decision)[STAGE_GRANTED].reason == Reason.METADATA_MISSING


def test_a_stage_held_is_kept_under_a_stricter_policy() -> None:
    decision = lifecycle.decide(version_view("Production", stage="Production"), passing(REQUIRING))

    assert by_type(decision)[STAGE_GRANTED].reason == Reason.GRANTED
    assert by_type(decision)[METADATA_COMPLETE].status == "False"
    assert decision.result.status["stage"] == "Production"


def test_asking_for_no_stage_is_granted_and_still_marked() -> None:
    decision = lifecycle.decide(version_view("None"), passing(REQUIRING))

    assert by_type(decision)[STAGE_GRANTED].reason == Reason.GRANTED
    assert by_type(decision)[METADATA_COMPLETE].reason == Reason.METADATA_INCOMPLETE


def test_a_complete_version_is_said_so_and_promoted() -> None:
    view = with_spec(
        version_view("Staging"), signature=Signature(), metrics={"f1": 0.8, "auc": 0.9}
    )

    decision = lifecycle.decide(view, passing(REQUIRING))

    assert by_type(decision)[METADATA_COMPLETE] == DesiredCondition(
        METADATA_COMPLETE,
        "True",
        Reason.METADATA_PRESENT,
        "The spec sets everything Model 'fraud' requires of its versions "
        "(spec.policy.requiredMetadata): signature, metrics.f1.",
    )
    assert decision.result.status["stage"] == "Staging"


def test_no_requirement_writes_no_condition_but_clears_an_old_one() -> None:
    plain = lifecycle.decide(version_view("Staging"), passing())
    marked = version_view(
        "Staging",
        conditions=[condition(METADATA_COMPLETE, "False", Reason.METADATA_INCOMPLETE)],
    )

    assert METADATA_COMPLETE not in by_type(plain)
    assert by_type(lifecycle.decide(marked, passing()))[METADATA_COMPLETE] == DesiredCondition(
        METADATA_COMPLETE,
        "True",
        Reason.METADATA_PRESENT,
        "Model 'fraud' requires no metadata of its versions any more "
        "(spec.policy.requiredMetadata).",
    )
