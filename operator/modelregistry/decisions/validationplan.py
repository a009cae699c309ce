"""Which checks a version's validation runs: the Model's floor, then the version's own.

A Model's `spec.policy.validation.requiredChecks` run for every version,
whatever it declares; the version's `spec.validation` (or, when it declares
none, the Model's `spec.defaultValidation`) adds checks to them and never
replaces one. A declared check with the name of a required one tightens it
when both are the same built-in (thresholds add up; the larger number of
calls and the lower latency bound hold) and is refused otherwise.
`requireSignature` adds the format check when no format check is planned,
so the rule holds without one being listed.

A compare check scores the version and another one (`against`: the Model's
Production holder, or an alias) on a held-out data set; the plan learns
which version that is, and its identity (name, number, verified digest) is
part of what a run does, so a new holder starts a new run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from modelregistry import conditions as cond
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    DETAIL_AGAINST,
    DETAIL_DATASET_DIGEST,
    DETAIL_HOLDER,
    DETAIL_HOLDER_DIGEST,
    DETAIL_HOLDER_VERSION,
    DETAIL_METRIC,
    HOLDER,
    RESERVED_CHECK_NAMES,
    CheckResult,
    HeldOutDataset,
    ModelVersionSpec,
    ModelVersionStatus,
    StorageSettings,
    Validation,
    ValidationCheck,
    VerifiedArtifact,
)
from modelregistry.api.oci import RegistrySettings
from modelregistry.decisions import quantity
from modelregistry.reasons import ARTIFACT_VERIFIED

# The check `requireSignature` adds when none of the planned checks is a format check.
SIGNATURE_CHECK: Final = "format"
SIGNATURE_CHECK_FALLBACK: Final = "signature"


# The fields only compare checks have: left out of a digest while unset, so the
# digests of runs made before compare existed stay what they were.
_COMPARE_FIELDS: Final = ("dataset", "metric", "against")


@dataclass(frozen=True)
class Compared:
    """A version a compare check scores besides the candidate: its verified bytes."""

    name: str
    version: int
    artifact: VerifiedArtifact  # its status.artifact: the fetch step re-hashes these bytes
    format: str | None = None  # its spec.artifact.format
    storage: StorageSettings | None = None  # its spec.artifact.storage (endpoint, region)
    registry: RegistrySettings | None = None  # an oci:// version's spec.artifact.registry


@dataclass(frozen=True)
class Plan:
    """The checks that apply to a version, and what they are judged against."""

    checks: tuple[ValidationCheck, ...] = ()
    deadline_seconds: int | None = None
    policy: ValidationPolicy | None = None
    required: frozenset[str] = frozenset()  # names of the checks the Model requires
    # Why the plan cannot run as written (only when the CRD's rules were bypassed).
    problems: tuple[str, ...] = ()
    # The version each compare target (holder, an alias) names now; None: none to score.
    against: Mapping[str, Compared | None] = field(default_factory=dict)
    # Whether which version that is belongs to the run (a version asking for Production it
    # does not hold: the gate compares it with the current holder). Any other version is
    # scored once, against the version of its run's start: a handover re-runs no Pod for it.
    pin_against: bool = True

    @property
    def pod_checks(self) -> list[ValidationCheck]:
        return [c for c in self.checks if c.builtin != "metrics"]

    @property
    def targets(self) -> tuple[str, ...]:
        """What the compare checks score besides the candidate: holder, or aliases."""
        return compare_targets(self.checks)

    def compared(self, check: ValidationCheck) -> Compared | None:
        """The version `check` (a compare check) scores besides the candidate, if any."""
        return self.against.get(check.against or HOLDER)

    @property
    def digest(self) -> str:
        """Changes whenever what a run would do changes."""
        validation = Validation(checks=list(self.checks), deadline_seconds=self.deadline_seconds)
        policy = (
            self.policy.model_dump(mode="json", by_alias=True, exclude={"required_checks"})
            if self.policy
            else None
        )
        dumped: dict[str, Any] | None = None
        if self.checks or self.deadline_seconds:
            dumped = validation.model_dump(mode="json", by_alias=True)
            dumped["checks"] = [
                {
                    k: _unset_left_out(k, v)
                    for k, v in c.items()
                    if v is not None or k not in _COMPARE_FIELDS
                }
                for c in dumped["checks"]
            ]
        content: dict[str, Any] = {"validation": dumped, "policy": policy}
        if self.targets and self.pin_against:
            content["against"] = {t: _identity(self.against.get(t)) for t in self.targets}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _unset_left_out(key: str, value: Any) -> Any:
    """A data set's dump without its storage while unset: the digests of runs made before
    a data set could name its own store stay what they were."""
    if key == "dataset" and isinstance(value, dict) and value.get("storage") is None:
        return {k: v for k, v in value.items() if k != "storage"}
    return value


def _identity(compared: Compared | None) -> dict[str, Any] | None:
    """What makes a compared version another one: a new holder is a new run."""
    if compared is None:
        return None
    return {
        "name": compared.name,
        "version": compared.version,
        "digest": compared.artifact.digest,
    }


def compare_inputs(check: ValidationCheck) -> tuple[HeldOutDataset, str] | None:
    """The data set and metric of a compare check; None for any other check (and for a
    compare check without them, which the CRD's rules refuse and the plan names)."""
    if check.builtin == "compare" and check.dataset is not None and check.metric is not None:
        return check.dataset, check.metric
    return None


def compare_targets(checks: tuple[ValidationCheck, ...] | list[ValidationCheck]) -> tuple[str, ...]:
    """The targets (holder, aliases) of the compare checks, sorted, each once."""
    return tuple(sorted({c.against or HOLDER for c in checks if compare_inputs(c)}))


def pins_against(asked: str | None, granted: str | None) -> bool:
    """Whether a version's compare runs follow the version they score besides it: only
    while it asks for Production (`spec.stage`) and does not hold it (`status.stage`)."""
    return asked == "Production" and granted != "Production"


def target_version(
    target: str,
    *,
    own_name: str,
    holder: str | None,
    aliases: Mapping[str, int],
    names: Mapping[int, str],
) -> str | None:
    """The ModelVersion a compare target names: the Production holder, or the version an
    alias points at (`names`: version number to name). Never the candidate itself: a
    version holding Production is scored alone."""
    if target == HOLDER:
        found = holder
    else:
        found = names.get(aliases[target]) if target in aliases else None
    return None if found == own_name else found


def compared_version(
    name: str, model: str, spec: ModelVersionSpec, status: ModelVersionStatus
) -> Compared | None:
    """The version `name` as a compare check scores it: its verified bytes, or None when it
    is not a verified version of `model`."""
    verified = cond.find(status.conditions, ARTIFACT_VERIFIED)
    number = spec.version if spec.version is not None else status.version
    if (
        spec.model_ref.name != model
        or status.artifact is None
        or verified is None
        or verified.status != "True"
        or number is None
    ):
        return None
    return Compared(
        name,
        number,
        status.artifact,
        spec.artifact.format,
        spec.artifact.storage,
        spec.artifact.registry,
    )


def gate_checks(plan: Plan) -> frozenset[str]:
    """The compare checks whose scores the champion gate may read: those the Model requires
    (`policy.validation.requiredChecks`). A version's own compare check, or one it can replace
    (the Model's defaultValidation), scores on a data set and metric the version chose."""
    return frozenset(c.name for c in plan.checks if compare_inputs(c) and c.name in plan.required)


def measured_results(
    results: tuple[CheckResult, ...] | list[CheckResult], metric: str, holder: str | None
) -> tuple[CheckResult, ...]:
    """The check results whose scores the gate may compare: a run's record (details, which
    the operator wrote from its plan) says it scored `metric`, and scored the version the
    gate compares with (`holder`; None: it scored this version alone). A result measured
    against an earlier holder, or on another metric, is left out."""
    kept = []
    for result in results:
        details = result.details or {}
        if details.get(DETAIL_METRIC) == metric and details.get(DETAIL_HOLDER) == holder:
            kept.append(result)
    return tuple(kept)


def compare_details(check: ValidationCheck, plan: Plan) -> dict[str, str] | None:
    """What status records of a compare check: what the operator ran it on (None: another
    kind of check). Known before the Pod runs, so no report can change it."""
    inputs = compare_inputs(check)
    if inputs is None:
        return None
    dataset, metric = inputs
    details = {
        DETAIL_METRIC: metric,
        DETAIL_DATASET_DIGEST: dataset.digest,
        DETAIL_AGAINST: check.against or HOLDER,
    }
    compared = plan.compared(check)
    if compared is not None:
        details[DETAIL_HOLDER] = compared.name
        details[DETAIL_HOLDER_VERSION] = str(compared.version)
        details[DETAIL_HOLDER_DIGEST] = compared.artifact.digest
    return details


def plan_for(
    own: Validation | None, default: Validation | None, policy: ValidationPolicy | None
) -> Plan:
    """The floor (`policy.requiredChecks`) plus the version's checks, else the Model's default."""
    declared = own if own is not None else default
    where = "spec.validation" if own is not None else "the Model's spec.defaultValidation"
    required = list(policy.required_checks) if policy else []
    problems = []
    for check in required:
        if check.builtin is None:
            problems.append(
                f"required check {check.name!r} (the Model's spec.policy.validation."
                "requiredChecks) is not a built-in check; set builtin: format, metrics, "
                "loadAndPredict or compare"
            )
        else:
            problems += _check_problems(check, "the Model's spec.policy.validation.requiredChecks")
    checks: dict[str, ValidationCheck] = {c.name: c for c in required}
    for check in declared.checks if declared else []:
        problems += _check_problems(check, where)
        floor = checks.get(check.name)
        if floor is None:
            checks[check.name] = check
        else:
            tightened = _tighten(floor, check)
            if tightened is None:
                problems.append(
                    f"check {check.name!r} in {where} has the name of a check the Model requires "
                    "(spec.policy.validation.requiredChecks) but is not the same built-in; "
                    "give it another name"
                )
            else:
                checks[check.name] = tightened
    if (
        policy
        and policy.require_signature
        and not any(c.builtin == "format" for c in checks.values())
    ):
        free = [n for n in (SIGNATURE_CHECK, SIGNATURE_CHECK_FALLBACK) if n not in checks]
        if not free:  # both names taken by checks of other kinds
            problems.append(
                "the Model's spec.policy.validation.requireSignature adds a format check, but "
                "both its names, format and signature, are taken by checks of other kinds; "
                "rename one of them"
            )
        else:
            checks = {free[0]: ValidationCheck(name=free[0], builtin="format"), **checks}
    return Plan(
        checks=tuple(checks.values()),
        deadline_seconds=declared.deadline_seconds if declared else None,
        policy=policy,
        required=frozenset(c.name for c in required),
        problems=tuple(problems),
    )


def _check_problems(check: ValidationCheck, where: str) -> list[str]:
    """What keeps one declared check from running as written."""
    problems = []
    if check.name == "fetch":
        problems.append(f"check 'fetch' in {where}: the name is the validation Pod's fetch step")
    elif check.builtin is None and check.name in RESERVED_CHECK_NAMES:
        problems.append(
            f"custom check {check.name!r} in {where} takes a name reserved for the registry's "
            "own checks; give it another name"
        )
    if check.builtin is None and not check.image:
        problems.append(f"check {check.name!r} in {where} sets neither builtin nor image")
    if check.builtin == "compare" and (check.dataset is None or check.metric is None):
        problems.append(
            f"compare check {check.name!r} in {where} needs dataset (uri, digest, target) "
            "and metric"
        )
    elif check.dataset is not None and check.dataset.uri.endswith("/"):
        problems.append(
            f"compare check {check.name!r} in {where}: the data set is one object (a CSV or "
            "Parquet file), not a prefix"
        )
    resources = check.resources
    for kind, asked in (
        (("requests", resources.requests), ("limits", resources.limits)) if resources else ()
    ):
        for name, value in (asked or {}).items():
            try:
                quantity.parse(value)
            except quantity.QuantityError as error:
                problems.append(
                    f"check {check.name!r} in {where}: resources.{kind}.{name}: {error}"
                )
    return problems


def _tighten(floor: ValidationCheck, declared: ValidationCheck) -> ValidationCheck | None:
    """The required check, made stricter by a declared one of the same kind (None: not the same)."""
    if floor.builtin is None or floor.builtin != declared.builtin:
        return None
    thresholds = list(dict.fromkeys([*floor.thresholds, *declared.thresholds]))
    calls = max((n for n in (floor.calls, declared.calls) if n is not None), default=None)
    latency = min(
        (n for n in (floor.max_latency_p95_ms, declared.max_latency_p95_ms) if n is not None),
        default=None,
    )
    return floor.model_copy(
        update={"thresholds": thresholds, "calls": calls, "max_latency_p95_ms": latency}
    )
