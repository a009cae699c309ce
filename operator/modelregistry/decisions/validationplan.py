"""Which checks a version's validation runs: the Model's floor, then the version's own.

A Model's `spec.policy.validation.requiredChecks` run for every version,
whatever it declares; the version's `spec.validation` (or, when it declares
none, the Model's `spec.defaultValidation`) adds checks to them and never
replaces one. A declared check with the name of a required one tightens it
when both are the same built-in (thresholds add up; the larger number of
calls and the lower latency bound hold) and is refused otherwise.
`requireSignature` adds the format check when no format check is planned,
so the rule holds without one being listed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    RESERVED_CHECK_NAMES,
    Validation,
    ValidationCheck,
)
from modelregistry.decisions import quantity

# The check `requireSignature` adds when none of the planned checks is a format check.
SIGNATURE_CHECK: Final = "format"
SIGNATURE_CHECK_FALLBACK: Final = "signature"


@dataclass(frozen=True)
class Plan:
    """The checks that apply to a version, and what they are judged against."""

    checks: tuple[ValidationCheck, ...] = ()
    deadline_seconds: int | None = None
    policy: ValidationPolicy | None = None
    required: frozenset[str] = frozenset()  # names of the checks the Model requires
    # Why the plan cannot run as written (only when the CRD's rules were bypassed).
    problems: tuple[str, ...] = ()

    @property
    def pod_checks(self) -> list[ValidationCheck]:
        return [c for c in self.checks if c.builtin != "metrics"]

    @property
    def digest(self) -> str:
        """Changes whenever what a run would do changes."""
        validation = Validation(checks=list(self.checks), deadline_seconds=self.deadline_seconds)
        policy = (
            self.policy.model_dump(mode="json", by_alias=True, exclude={"required_checks"})
            if self.policy
            else None
        )
        content = {
            "validation": validation.model_dump(mode="json", by_alias=True)
            if self.checks or self.deadline_seconds
            else None,
            "policy": policy,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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
                "requiredChecks) is not a built-in check; set builtin: format, metrics or "
                "loadAndPredict"
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
