"""Condition types, reasons, and the one helper that writes conditions.

The types follow kstatus, so `kubectl wait --for=condition=Ready`, Flux and
Argo CD read them without custom health checks:

- Ready (normal polarity): True when the version is verified and usable.
- Reconciling (abnormal polarity): present and True while work is under way
  (verifying bytes, waiting for a Model or an upload); absent otherwise.
- Stalled (abnormal polarity): present and True when only a person can
  unblock progress (digest mismatch, access denied, a duplicate version);
  absent otherwise.
- ArtifactVerified (normal polarity): whether the bytes in storage hash to
  the expected digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelregistry.api.meta import Condition, ConditionStatus

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
ARTIFACT_VERIFIED = "ArtifactVerified"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Reason:
    """Reasons, one CamelCase word each, shared by the condition types."""

    # Success.
    VERIFIED = "Verified"
    """The artifact's bytes hash to the expected (or pinned) digest."""
    SUCCEEDED = "Succeeded"
    """Every sub-step finished; used by Model's Ready."""

    # Work under way.
    PROGRESSING = "Progressing"
    """A new generation is being reconciled."""
    VERIFYING = "Verifying"
    """The operator is hashing the artifact."""

    # Waiting for something that may appear on its own.
    MODEL_NOT_FOUND = "ModelNotFound"
    """spec.modelRef names a Model that does not exist (yet)."""
    ARTIFACT_NOT_FOUND = "ArtifactNotFound"
    """No object at spec.artifact.uri (yet)."""
    STORAGE_UNREACHABLE = "StorageUnreachable"
    """The object store did not answer; retried with backoff."""
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    """The Secret in spec.artifact.storage.secretRef is missing or incomplete."""

    # Only a person can fix these.
    DIGEST_MISMATCH = "DigestMismatch"
    """The bytes hash to something other than spec.artifact.digest."""
    ARTIFACT_CHANGED = "ArtifactChanged"
    """The bytes changed after they were verified and pinned."""
    ACCESS_DENIED = "AccessDenied"
    """The object store refused the credentials."""
    DUPLICATE_VERSION = "DuplicateVersion"
    """Another ModelVersion of the same Model holds this version number."""
    INVALID_SPEC = "InvalidSpec"
    """The spec is invalid in a way the schema could not catch."""
    STORAGE_ERROR = "StorageError"
    """The object store answered with an unexpected error."""


@dataclass(frozen=True)
class DesiredCondition:
    """A condition as decided, before timestamps and generation are stamped."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def merge_conditions(
    current: Sequence[Condition],
    desired: Iterable[DesiredCondition],
    *,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Return the new condition list.

    `lastTransitionTime` is kept while a condition's status stays the same, so
    it answers "since when". Conditions not in `desired` are dropped, which is
    how Reconciling and Stalled disappear when they stop being true. The order
    is the order of `desired`, so the output is stable and writes happen only
    on real change.
    """
    by_type = {c.type: c for c in current}
    timestamp = format_time(now)
    merged: list[Condition] = []
    for want in desired:
        previous = by_type.get(want.type)
        transition = (
            previous.last_transition_time
            if previous is not None and previous.status == want.status
            else timestamp
        )
        merged.append(
            Condition(
                type=want.type,
                status=want.status,
                reason=want.reason,
                message=want.message,
                last_transition_time=transition,
                observed_generation=generation,
            )
        )
    return merged


def find(conditions: Sequence[Condition], condition_type: str) -> Condition | None:
    return next((c for c in conditions if c.type == condition_type), None)


def is_true(conditions: Sequence[Condition], condition_type: str) -> bool:
    found = find(conditions, condition_type)
    return found is not None and found.status == "True"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes times."""
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as written here, or with fractions or an offset (other writers)."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
