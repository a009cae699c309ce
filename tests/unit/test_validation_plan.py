"""Which checks a version's validation runs: the Model's required checks are a floor, the
version's own (or the Model's default) add to them, requireSignature adds a format check, and
what cannot run as written is a problem named with its field."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    RESERVED_CHECK_NAMES,
    ModelVersionSpec,
    ModelVersionStatus,
    StorageSettings,
    Validation,
    ValidationCheck,
    VerifiedArtifact,
)
from modelregistry.decisions.validationplan import (
    SIGNATURE_CHECK,
    SIGNATURE_CHECK_FALLBACK,
    Compared,
    Plan,
    compare_details,
    compare_inputs,
    compare_targets,
    compared_version,
    plan_for,
    target_version,
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
        "compare",
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
        "built-in check; set builtin: format, metrics, loadAndPredict or compare",
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
        "built-in check; set builtin: format, metrics, loadAndPredict or compare",
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
        "built-in check; set builtin: format, metrics, loadAndPredict or compare",
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


# --- compare checks: the version scored besides this one ------------------------------------

HOLDOUT = {"uri": "s3://models/holdout.csv", "digest": "sha256:" + "c" * 64, "target": "y"}
COMPARE = check("ab", builtin="compare", metric="auc", dataset=HOLDOUT)
HOLDER_RECORD = VerifiedArtifact(
    uri="s3://models/fraud/2/", digest="sha256:" + "b" * 64, size=9, file_count=1,
    verified_at="2030-01-02T03:04:05Z",
)  # fmt: skip
HOLDER = Compared("fraud-2", 2, HOLDER_RECORD, "mlflow")


def test_the_targets_are_the_compare_checks_holder_or_aliases_each_once() -> None:
    champion = check("ab-2", builtin="compare", metric="f1", dataset=HOLDOUT, against="champion")
    again = check("ab-3", builtin="compare", metric="f1", dataset=HOLDOUT, against="holder")

    assert compare_targets((FORMAT, champion, COMPARE, again, FAIRNESS)) == ("champion", "holder")
    assert compare_targets([FORMAT, LOAD]) == ()
    assert plan_of(COMPARE, champion).targets == ("champion", "holder")


@pytest.mark.parametrize(
    ("target", "holder", "found"),
    [
        ("holder", "fraud-2", "fraud-2"),
        ("holder", None, None),  # nobody holds Production yet
        ("holder", "fraud-3", None),  # the candidate itself
        ("champion", "fraud-2", "fraud-1"),
        ("shadow", "fraud-2", None),  # an alias naming the candidate
        ("canary", "fraud-2", None),  # an alias of a version that does not exist
        ("unknown", "fraud-2", None),  # no such alias
    ],
)
def test_which_version_a_target_names(target: str, holder: str | None, found: str | None) -> None:
    assert (
        target_version(
            target,
            own_name="fraud-3",
            holder=holder,
            aliases={"champion": 1, "shadow": 3, "canary": 9},
            names={1: "fraud-1", 2: "fraud-2", 3: "fraud-3"},
        )
        == found
    )


VERIFIED = {
    "type": "ArtifactVerified",
    "status": "True",
    "reason": "Verified",
    "message": "ok",
    "lastTransitionTime": "2030-01-02T03:04:05Z",
}


def verified_status(**fields: Any) -> ModelVersionStatus:
    body = {"artifact": HOLDER_RECORD.model_dump(by_alias=True), "conditions": [VERIFIED], **fields}
    return ModelVersionStatus.model_validate(body)


def holder_spec(**fields: Any) -> ModelVersionSpec:
    artifact = {"uri": "s3://models/fraud/2/", "format": "mlflow", "storage": {"region": "r"}}
    return ModelVersionSpec.model_validate(
        {"modelRef": {"name": "fraud"}, "artifact": artifact, **fields}
    )


def test_a_verified_version_of_the_model_is_compared_with_its_verified_bytes() -> None:
    found = compared_version("fraud-2", "fraud", holder_spec(version=2), verified_status())

    assert found == Compared(
        "fraud-2", 2, HOLDER_RECORD, "mlflow", StorageSettings.model_validate({"region": "r"})
    )
    assert compared_version("fraud-2", "fraud", holder_spec(), verified_status(version=4)) == (
        Compared("fraud-2", 4, HOLDER_RECORD, "mlflow", found.storage if found else None)
    )


@pytest.mark.parametrize(
    ("model", "spec", "status"),
    [
        ("other", holder_spec(version=2), verified_status()),  # another Model's version
        ("fraud", holder_spec(), verified_status()),  # no number yet
        ("fraud", holder_spec(version=2), ModelVersionStatus()),  # nothing verified
        (
            "fraud",
            holder_spec(version=2),
            verified_status(conditions=[{**VERIFIED, "status": "False"}]),
        ),  # its bytes changed
        ("fraud", holder_spec(version=2), verified_status(conditions=[])),
    ],
    ids=["other-model", "no-number", "no-record", "not-verified", "no-condition"],
)  # fmt: skip
def test_what_is_not_a_verified_version_of_the_model_is_not_compared(
    model: str, spec: ModelVersionSpec, status: ModelVersionStatus
) -> None:
    assert compared_version("fraud-2", model, spec, status) is None


def test_the_details_status_records_are_what_the_operator_ran_the_check_on() -> None:
    champion = check("ab-2", builtin="compare", metric="f1", dataset=HOLDOUT, against="champion")
    plan = Plan(checks=(FORMAT, COMPARE, champion), against={"holder": HOLDER, "champion": None})

    assert compare_details(FORMAT, plan) is None
    assert compare_details(COMPARE, plan) == {
        "metric": "auc",
        "datasetDigest": "sha256:" + "c" * 64,
        "against": "holder",
        "holder": "fraud-2",
        "holderVersion": "2",
        "holderDigest": "sha256:" + "b" * 64,
    }
    assert compare_details(champion, plan) == {
        "metric": "f1",
        "datasetDigest": "sha256:" + "c" * 64,
        "against": "champion",
    }
    assert compare_details(check("ab", builtin="compare"), plan) is None
    assert (plan.compared(COMPARE), plan.compared(champion), plan.compared(FORMAT)) == (
        HOLDER,
        None,
        HOLDER,
    )


def test_the_digest_of_a_compare_plan_names_the_version_compared() -> None:
    plan = Plan(checks=(COMPARE,), against={"holder": HOLDER})

    assert plan.digest == digest_of(
        '{"against":{"holder":{"digest":"sha256:' + "b" * 64 + '","name":"fraud-2",'
        '"version":2}},"policy":null,"validation":{"checks":[{"args":[],"builtin":"compare",'
        '"calls":null,"command":[],"dataset":{"digest":"sha256:' + "c" * 64 + '","features":'
        '[],"format":null,"target":"y","uri":"s3://models/holdout.csv"},"env":[],"image":null,'
        '"maxLatencyP95Ms":null,"metric":"auc","name":"ab","resources":null,"thresholds":[]}],'
        '"deadlineSeconds":null}}'
    )
    assert Plan(checks=(COMPARE,)).digest == digest_of(
        '{"against":{"holder":null},"policy":null,"validation":{"checks":[{"args":[],'
        '"builtin":"compare","calls":null,"command":[],"dataset":{"digest":"sha256:'
        + "c"
        * 64
        + '","features":[],"format":null,"target":"y","uri":"s3://models/holdout.csv"},'
        '"env":[],"image":null,"maxLatencyP95Ms":null,"metric":"auc","name":"ab",'
        '"resources":null,"thresholds":[]}],"deadlineSeconds":null}}'
    )


@pytest.mark.parametrize(
    "other",
    [
        None,  # no holder any more
        Compared("fraud-4", 2, HOLDER_RECORD),
        Compared("fraud-2", 3, HOLDER_RECORD),
        Compared("fraud-2", 2, HOLDER_RECORD.model_copy(update={"digest": "sha256:" + "e" * 64})),
    ],
    ids=["none", "name", "version", "digest"],
)
def test_a_new_holder_is_a_new_run(other: Compared | None) -> None:
    assert Plan(checks=(COMPARE,), against={"holder": other}).digest != (
        Plan(checks=(COMPARE,), against={"holder": HOLDER}).digest
    )


def test_what_does_not_make_another_version_leaves_the_digest() -> None:
    moved = Compared(
        "fraud-2",
        2,
        HOLDER_RECORD.model_copy(update={"verified_at": "2031-01-01T00:00:00Z", "size": 7}),
        "onnx",
        StorageSettings(region="elsewhere"),
    )

    assert Plan(checks=(COMPARE,), against={"holder": moved}).digest == (
        Plan(checks=(COMPARE,), against={"holder": HOLDER}).digest
    )
    # Targets no compare check names are not part of it either.
    assert Plan(checks=(FORMAT,), against={"holder": HOLDER}).digest == plan_of(FORMAT).digest


@pytest.mark.parametrize(
    ("compare", "problem"),
    [
        (
            check("ab", builtin="compare", metric="auc"),
            "compare check 'ab' in spec.validation needs dataset (uri, digest, target) and metric",
        ),
        (
            check("ab", builtin="compare", dataset=HOLDOUT),
            "compare check 'ab' in spec.validation needs dataset (uri, digest, target) and metric",
        ),
        (
            check("ab", builtin="compare", metric="f1", dataset={**HOLDOUT, "uri": "s3://models/h/"}),
            "compare check 'ab' in spec.validation: the data set is one object (a CSV or Parquet "
            "file), not a prefix",
        ),
    ],
)  # fmt: skip
def test_a_compare_check_without_what_it_needs_is_a_problem(
    compare: ValidationCheck, problem: str
) -> None:
    assert plan_for(validation(compare), None, None).problems == (problem,)
    assert plan_for(validation(COMPARE), None, None).problems == ()


@pytest.mark.parametrize(
    ("fields", "runs"),
    [
        ({"builtin": "compare", "metric": "auc", "dataset": HOLDOUT}, True),
        ({"builtin": "compare", "metric": "auc"}, False),
        ({"builtin": "compare", "dataset": HOLDOUT}, False),
        ({"builtin": "compare"}, False),
        ({"builtin": "format", "metric": "auc", "dataset": HOLDOUT}, False),  # CEL bypassed
        ({"image": "registry.example/ab:1", "metric": "auc", "dataset": HOLDOUT}, False),
    ],
    ids=["compare", "no-dataset", "no-metric", "neither", "format", "custom"],
)
def test_only_a_compare_check_with_its_data_set_and_metric_compares(
    fields: dict[str, Any], runs: bool
) -> None:
    planned = check("ab", **fields)
    plan = Plan(checks=(planned,), against={"holder": HOLDER})

    assert compare_inputs(planned) == ((planned.dataset, "auc") if runs else None)
    assert (compare_details(planned, plan) is not None) is runs
    assert compare_targets((planned,)) == (("holder",) if runs else ())
