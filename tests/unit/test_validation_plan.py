"""Which checks a version's validation runs: the Model's required checks are a floor, the
version's own (or the Model's default) add to them, requireSignature adds a format check, and
what cannot run as written is a problem named with its field."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import RESERVED_CHECK_NAMES, Validation, ValidationCheck
from modelregistry.decisions.validationplan import (
    SIGNATURE_CHECK,
    SIGNATURE_CHECK_FALLBACK,
    Plan,
    plan_for,
)

from .validationbuilders import FAIRNESS, FORMAT, LOAD, POD_PLAN, POLICY, QUALITY, plan_of

OWN = "spec.validation"
DEFAULT = "the Model's spec.defaultValidation"
FLOOR = "the Model's spec.policy.validation.requiredChecks"
IMAGE_SIGNATURE = "registry.example/signature:1"


def check(name: str, **fields: Any) -> ValidationCheck:
    return ValidationCheck.model_validate({"name": name, **fields})


def floor(*checks: ValidationCheck, **fields: Any) -> ValidationPolicy:
    """A Model policy whose required checks are `checks`."""
    return ValidationPolicy(required_checks=list(checks), **fields)


def validation(*checks: ValidationCheck, deadline: int | None = None) -> Validation:
    return Validation(checks=list(checks), deadline_seconds=deadline)


def test_the_names_require_signature_gives_its_format_check() -> None:
    assert (SIGNATURE_CHECK, SIGNATURE_CHECK_FALLBACK) == ("format", "signature")


def test_the_reserved_names_are_the_builtins_and_the_fetch_step() -> None:
    assert RESERVED_CHECK_NAMES == (
        "format",
        "metrics",
        "loadandpredict",
        "load-and-predict",
        "fetch",
    )


# --- own, default and floor -------------------------------------------------------------------

REQUIRED_FORMAT = check("format", builtin="format")
REQUIRED_QUALITY = check("quality", builtin="metrics", thresholds=["auc >= 0.9"])
REQUIRED_LOAD = check("load", builtin="loadAndPredict", calls=20, maxLatencyP95Ms=100)


@pytest.mark.parametrize(
    ("own", "default", "policy", "checks"),
    [
        # The version's own validation wins over the Model's default, whole.
        (validation(FAIRNESS), validation(FORMAT, QUALITY), None, (FAIRNESS,)),
        # Without its own, a version gets the default.
        (None, validation(FORMAT, QUALITY), None, (FORMAT, QUALITY)),
        # An empty own validation still overrides the default.
        (validation(), validation(FORMAT), None, ()),
        (None, None, None, ()),
        (None, None, ValidationPolicy(), ()),
        # The floor runs whatever the version declares...
        (None, None, floor(REQUIRED_FORMAT), (REQUIRED_FORMAT,)),
        (validation(), None, floor(REQUIRED_FORMAT), (REQUIRED_FORMAT,)),
        (validation(), validation(LOAD), floor(REQUIRED_FORMAT), (REQUIRED_FORMAT,)),
        # ...first, and the version's checks add to it.
        (validation(FAIRNESS), None, floor(REQUIRED_FORMAT), (REQUIRED_FORMAT, FAIRNESS)),
        (None, validation(LOAD), floor(REQUIRED_FORMAT), (REQUIRED_FORMAT, LOAD)),
        (
            validation(FAIRNESS, LOAD),
            validation(QUALITY),
            floor(REQUIRED_FORMAT, REQUIRED_QUALITY),
            (REQUIRED_FORMAT, REQUIRED_QUALITY, FAIRNESS, LOAD),
        ),
        # The same check declared again changes nothing.
        (validation(FORMAT), None, floor(REQUIRED_FORMAT), (REQUIRED_FORMAT,)),
    ],
    ids=[
        "own-wins",
        "default",
        "empty-own",
        "nothing",
        "empty-policy",
        "floor-alone",
        "floor-despite-empty-own",
        "floor-despite-empty-own-and-default",
        "floor-then-own",
        "floor-then-default",
        "floor-then-own-not-default",
        "floor-declared-again",
    ],
)
def test_the_floor_then_the_version_s_checks(
    own: Validation | None,
    default: Validation | None,
    policy: ValidationPolicy | None,
    checks: tuple[ValidationCheck, ...],
) -> None:
    plan = plan_for(own, default, policy)

    assert plan == Plan(
        checks=checks,
        deadline_seconds=None,
        policy=policy,
        required=frozenset(c.name for c in (policy.required_checks if policy else [])),
        problems=(),
    )


@pytest.mark.parametrize(
    ("required", "declared", "tightened"),
    [
        # Thresholds add up, in order, each once.
        (
            REQUIRED_QUALITY,
            check("quality", builtin="metrics", thresholds=["f1 >= 0.8", "auc >= 0.9"]),
            check("quality", builtin="metrics", thresholds=["auc >= 0.9", "f1 >= 0.8"]),
        ),
        (
            check("quality", builtin="metrics"),
            check("quality", builtin="metrics", thresholds=["f1 >= 0.8"]),
            check("quality", builtin="metrics", thresholds=["f1 >= 0.8"]),
        ),
        # The larger number of calls and the lower latency bound hold.
        (
            REQUIRED_LOAD,
            check("load", builtin="loadAndPredict", calls=50, maxLatencyP95Ms=250),
            check("load", builtin="loadAndPredict", calls=50, maxLatencyP95Ms=100),
        ),
        (
            REQUIRED_LOAD,
            check("load", builtin="loadAndPredict", calls=5, maxLatencyP95Ms=12.5),
            check("load", builtin="loadAndPredict", calls=20, maxLatencyP95Ms=12.5),
        ),
        (
            REQUIRED_LOAD,
            check("load", builtin="loadAndPredict"),
            REQUIRED_LOAD,
        ),
        (
            check("load", builtin="loadAndPredict"),
            check("load", builtin="loadAndPredict", calls=7, maxLatencyP95Ms=30),
            check("load", builtin="loadAndPredict", calls=7, maxLatencyP95Ms=30),
        ),
        (
            check("load", builtin="loadAndPredict"),
            check("load", builtin="loadAndPredict"),
            check("load", builtin="loadAndPredict"),
        ),
        # What the floor sets beyond that (its resources) stays the floor's.
        (
            check("load", builtin="loadAndPredict", resources={"limits": {"memory": "2Gi"}}),
            check("load", builtin="loadAndPredict", resources={"limits": {"memory": "64Gi"}}),
            check("load", builtin="loadAndPredict", resources={"limits": {"memory": "2Gi"}}),
        ),
    ],
    ids=[
        "thresholds-union",
        "thresholds-added",
        "more-calls-lower-latency",
        "floor-calls-own-latency",
        "nothing-declared",
        "nothing-required",
        "neither",
        "floor-resources",
    ],
)
def test_a_declared_check_of_the_same_builtin_tightens_the_required_one(
    required: ValidationCheck, declared: ValidationCheck, tightened: ValidationCheck
) -> None:
    plan = plan_for(validation(FAIRNESS, declared), None, floor(FORMAT, required))

    assert plan.checks == (FORMAT, tightened, FAIRNESS)
    assert plan.problems == ()
    assert plan.required == frozenset({"format", required.name})


@pytest.mark.parametrize(
    ("declared", "where", "own"),
    [
        (check("load", builtin="format"), OWN, True),
        (check("load", builtin="metrics"), DEFAULT, False),
        (check("load", image="registry.example/load:1"), OWN, True),
    ],
)
def test_a_declared_check_of_another_kind_cannot_take_a_required_name(
    declared: ValidationCheck, where: str, own: bool
) -> None:
    declared_as = validation(declared)

    plan = plan_for(declared_as if own else None, None if own else declared_as, floor(LOAD))

    assert plan.checks == (LOAD,)  # the floor stands
    assert plan.problems == (
        f"check 'load' in {where} has the name of a check the Model requires "
        "(spec.policy.validation.requiredChecks) but is not the same built-in; give it another "
        "name",
    )


def test_a_custom_format_check_neither_replaces_nor_passes_for_the_required_one() -> None:
    custom = check("format", image="registry.example/always-true:1")

    plan = plan_for(validation(custom), None, floor(REQUIRED_FORMAT))

    assert plan.checks == (REQUIRED_FORMAT,)
    assert plan.problems == (
        "custom check 'format' in spec.validation takes a name reserved for the registry's own "
        "checks; give it another name",
        "check 'format' in spec.validation has the name of a check the Model requires "
        "(spec.policy.validation.requiredChecks) but is not the same built-in; give it another "
        "name",
    )


def test_a_required_check_must_be_a_builtin() -> None:
    custom = check("bias", image="registry.example/bias:1")

    plan = plan_for(validation(check("bias", image="registry.example/bias:2")), None, floor(custom))

    assert plan.checks == (custom,)
    assert plan.problems == (
        "required check 'bias' (the Model's spec.policy.validation.requiredChecks) is not a "
        "built-in check; set builtin: format, metrics or loadAndPredict",
        "check 'bias' in spec.validation has the name of a check the Model requires "
        "(spec.policy.validation.requiredChecks) but is not the same built-in; give it another "
        "name",
    )


def test_the_problems_of_every_required_check_are_kept() -> None:
    custom = check("bias", image="registry.example/bias:1")
    fetch = check("fetch", builtin="format")

    plan = plan_for(None, None, floor(custom, REQUIRED_FORMAT, fetch, REQUIRED_LOAD))

    assert plan.checks == (custom, REQUIRED_FORMAT, fetch, REQUIRED_LOAD)
    assert plan.problems == (
        "required check 'bias' (the Model's spec.policy.validation.requiredChecks) is not a "
        "built-in check; set builtin: format, metrics or loadAndPredict",
        f"check 'fetch' in {FLOOR}: the name is the validation Pod's fetch step",
    )


def test_a_required_check_s_own_problems_are_named_after_the_floor() -> None:
    required = check("fetch", builtin="loadAndPredict", resources={"requests": {"cpu": "a lot"}})

    plan = plan_for(None, None, floor(required))

    assert plan.problems == (
        f"check 'fetch' in {FLOOR}: the name is the validation Pod's fetch step",
        f"check 'fetch' in {FLOOR}: resources.requests.cpu: 'a lot' is not a Kubernetes "
        "quantity (such as 500m, 2 or 1Gi)",
    )


def test_the_deadline_is_the_declared_validation_s() -> None:
    assert plan_for(validation(FORMAT, deadline=60), None, None).deadline_seconds == 60
    assert plan_for(None, validation(FORMAT, deadline=90), None).deadline_seconds == 90
    assert plan_for(validation(), validation(deadline=90), None).deadline_seconds is None
    assert plan_for(None, None, floor(FORMAT)).deadline_seconds is None


# --- requireSignature -------------------------------------------------------------------------

SIGNED = ValidationPolicy(require_signature=True)
ADDED_FORMAT = check("format", builtin="format")
ADDED_SIGNATURE = check("signature", builtin="format")


@pytest.mark.parametrize(
    ("declared", "policy", "checks"),
    [
        # Without a format check in the plan, one is added, first.
        ((), SIGNED, (ADDED_FORMAT,)),
        ((FAIRNESS, LOAD), SIGNED, (ADDED_FORMAT, FAIRNESS, LOAD)),
        ((QUALITY,), POLICY, (ADDED_FORMAT, QUALITY)),
        # A format check under any name is enough.
        (
            (LOAD, check("files", builtin="format")),
            SIGNED,
            (LOAD, check("files", builtin="format")),
        ),
        ((FORMAT,), SIGNED, (FORMAT,)),
        # `format` taken by a check of another kind: the added one is `signature`.
        (
            (check("format", builtin="loadAndPredict"),),
            SIGNED,
            (ADDED_SIGNATURE, check("format", builtin="loadAndPredict")),
        ),
        # Without the rule nothing is added.
        ((FAIRNESS,), ValidationPolicy(require_signature=False), (FAIRNESS,)),
        ((FAIRNESS,), ValidationPolicy(), (FAIRNESS,)),
        ((FAIRNESS,), None, (FAIRNESS,)),
    ],
    ids=[
        "nothing-declared",
        "added-first",
        "metrics-only",
        "format-by-another-name",
        "format-listed",
        "name-taken",
        "rule-off",
        "rule-unset",
        "no-policy",
    ],
)
def test_require_signature_holds_without_a_listed_format_check(
    declared: tuple[ValidationCheck, ...],
    policy: ValidationPolicy | None,
    checks: tuple[ValidationCheck, ...],
) -> None:
    plan = plan_for(validation(*declared), None, policy)

    assert plan.checks == checks
    assert plan.problems == ()
    assert plan.required == frozenset()


def test_require_signature_counts_a_required_format_check() -> None:
    required = check("files", builtin="format")

    plan = plan_for(validation(FAIRNESS), None, floor(required, require_signature=True))

    assert plan.checks == (required, FAIRNESS)


def test_require_signature_with_both_its_names_taken_is_a_problem() -> None:
    taken = (check("format", builtin="metrics"), check("signature", image=IMAGE_SIGNATURE))

    plan = plan_for(validation(*taken), None, SIGNED)

    assert plan.checks == taken
    assert plan.problems == (
        "the Model's spec.policy.validation.requireSignature adds a format check, but both its "
        "names, format and signature, are taken by checks of other kinds; rename one of them",
    )


# --- what cannot run as written ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["format", "metrics", "loadandpredict", "load-and-predict"])
@pytest.mark.parametrize("own", [True, False], ids=["own", "default"])
def test_a_custom_check_cannot_take_a_builtin_s_name(name: str, own: bool) -> None:
    custom = validation(check(name, image="registry.example/mine:1"))

    plan = plan_for(custom if own else None, None if own else custom, None)

    assert plan.problems == (
        f"custom check {name!r} in {OWN if own else DEFAULT} takes a name reserved for the "
        "registry's own checks; give it another name",
    )


@pytest.mark.parametrize("name", ["format", "metrics", "load-and-predict", "loadandpredict"])
def test_a_builtin_check_may_take_a_builtin_s_name(name: str) -> None:
    builtin = check(name, builtin="loadAndPredict")

    plan = plan_for(validation(builtin), None, None)

    assert plan.checks == (builtin,)
    assert plan.problems == ()


@pytest.mark.parametrize(
    "fetch", [check("fetch", image="registry.example/f:1"), check("fetch", builtin="format")]
)
def test_no_check_may_be_named_fetch(fetch: ValidationCheck) -> None:
    plan = plan_for(validation(fetch), None, None)

    assert plan.problems == (
        "check 'fetch' in spec.validation: the name is the validation Pod's fetch step",
    )


def test_a_check_with_neither_builtin_nor_image_is_a_problem() -> None:
    plan = plan_for(None, validation(check("empty"), check("metrics")), None)

    assert plan.problems == (
        f"check 'empty' in {DEFAULT} sets neither builtin nor image",
        f"custom check 'metrics' in {DEFAULT} takes a name reserved for the registry's own "
        "checks; give it another name",
        f"check 'metrics' in {DEFAULT} sets neither builtin nor image",
    )


@pytest.mark.parametrize(
    ("resources", "problems"),
    [
        ({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}, ()),
        (
            {"requests": {"cpu": "half"}},
            ("resources.requests.cpu: 'half' is not a Kubernetes quantity",),
        ),
        (
            {"limits": {"memory": "1GB"}},
            ("resources.limits.memory: '1GB' is not a Kubernetes quantity",),
        ),
        (
            {"requests": {"memory": "1e99"}, "limits": {"cpu": "x", "nvidia.com/gpu": "1"}},
            (
                "resources.requests.memory: '1e99': the exponent is out of range",
                "resources.limits.cpu: 'x' is not a Kubernetes quantity",
            ),
        ),
        ({"requests": None, "limits": None}, ()),
        ({}, ()),
    ],
)
def test_every_resource_quantity_must_parse(
    resources: dict[str, Any], problems: tuple[str, ...]
) -> None:
    declared = check("load", builtin="loadAndPredict", resources=resources)

    plan = plan_for(validation(declared), None, None)

    assert [re.sub(r" \(such as 500m, 2 or 1Gi\)$", "", p) for p in plan.problems] == [
        f"check 'load' in spec.validation: {p}" for p in problems
    ]


def test_the_plan_keeps_every_problem_in_order() -> None:
    plan = plan_for(
        validation(check("fetch"), check("format", image=IMAGE_SIGNATURE), LOAD),
        None,
        floor(check("load", image=IMAGE_SIGNATURE)),
    )

    assert plan.problems == (
        "required check 'load' (the Model's spec.policy.validation.requiredChecks) is not a "
        "built-in check; set builtin: format, metrics or loadAndPredict",
        "check 'fetch' in spec.validation: the name is the validation Pod's fetch step",
        "check 'fetch' in spec.validation sets neither builtin nor image",
        "custom check 'format' in spec.validation takes a name reserved for the registry's own "
        "checks; give it another name",
        "check 'load' in spec.validation has the name of a check the Model requires "
        "(spec.policy.validation.requiredChecks) but is not the same built-in; give it another "
        "name",
    )


# --- what the plan holds ----------------------------------------------------------------------


def test_the_metrics_check_needs_no_pod() -> None:
    plan = plan_of(QUALITY, FORMAT, FAIRNESS, LOAD)

    assert plan.pod_checks == [FORMAT, FAIRNESS, LOAD]
    assert plan_of(QUALITY).pod_checks == []
    assert Plan().pod_checks == []


def test_an_empty_plan() -> None:
    assert Plan() == Plan(
        checks=(), deadline_seconds=None, policy=None, required=frozenset(), problems=()
    )


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_digest_is_the_sha256_of_the_canonical_json_of_checks_and_policy() -> None:
    plan = plan_of(FORMAT, policy=POLICY, deadline=120)

    assert plan.digest == digest_of(
        '{"policy":{"metricThresholds":["auc >= 0.9"],"requireSignature":true},'
        '"validation":{"checks":[{"args":[],"builtin":"format","calls":null,"command":[],'
        '"env":[],"image":null,"maxLatencyP95Ms":null,"name":"format","resources":null,'
        '"thresholds":[]}],"deadlineSeconds":120}}'
    )


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        (Plan(), '{"policy":null,"validation":null}'),
        (
            Plan(deadline_seconds=30),
            '{"policy":null,"validation":{"checks":[],"deadlineSeconds":30}}',
        ),
        (
            Plan(policy=ValidationPolicy()),
            '{"policy":{"metricThresholds":[],"requireSignature":null},"validation":null}',
        ),
    ],
)
def test_the_digest_of_a_plan_without_checks(plan: Plan, text: str) -> None:
    assert plan.digest == digest_of(text)


def test_the_digest_leaves_the_required_checks_to_the_checks_they_became() -> None:
    required = floor(REQUIRED_FORMAT, require_signature=True, metric_thresholds=["auc >= 0.9"])

    planned = plan_for(None, None, required)

    assert planned.digest == plan_of(REQUIRED_FORMAT, policy=POLICY).digest


def test_the_digest_is_stable_for_the_same_checks() -> None:
    again = plan_of(
        *Validation.model_validate(
            {
                "checks": [
                    {"name": "format", "builtin": "format"},
                    LOAD.model_dump(by_alias=True),
                    FAIRNESS.model_dump(),
                ]
            }
        ).checks,
        policy=ValidationPolicy.model_validate(
            {"metricThresholds": ["auc >= 0.9"], "requireSignature": True}
        ),
    )

    assert again.digest == POD_PLAN.digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", POD_PLAN.digest)


@pytest.mark.parametrize(
    "other",
    [
        plan_of(FORMAT, LOAD, policy=POLICY),  # a check less
        plan_of(FORMAT, LOAD, FAIRNESS, QUALITY, policy=POLICY),  # a check more
        plan_of(FORMAT, LOAD.model_copy(update={"calls": 6}), FAIRNESS, policy=POLICY),
        plan_of(FORMAT, LOAD, FAIRNESS, policy=POLICY, deadline=600),
        plan_of(FORMAT, LOAD, FAIRNESS),  # no policy
        plan_of(
            FORMAT, LOAD, FAIRNESS, policy=POLICY.model_copy(update={"require_signature": False})
        ),
        plan_of(
            FORMAT,
            LOAD,
            FAIRNESS,
            policy=POLICY.model_copy(update={"metric_thresholds": ["auc >= 0.95"]}),
        ),
        plan_of(LOAD, FORMAT, FAIRNESS, policy=POLICY),  # another order
    ],
)
def test_the_digest_changes_with_what_a_run_would_do(other: Plan) -> None:
    assert other.digest != POD_PLAN.digest


def test_problems_and_required_names_do_not_change_the_digest() -> None:
    """What a run would do is in the checks; a problem ends the run before it does anything."""
    plain = plan_of(FORMAT, policy=POLICY)

    assert (
        Plan(
            checks=(FORMAT,), policy=POLICY, required=frozenset({"format"}), problems=("x",)
        ).digest
        == plain.digest
    )
