"""Pure decisions: from what was observed to the status to write.

Nothing here does I/O. The reconciler gathers observations (the object, its
Model, its siblings, the outcome of hashing), calls these functions, and
then writes what they return. Each function is tested with exact condition
lists in tests/unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from modelregistry import conditions as cond
from modelregistry.api.meta import Condition
from modelregistry.api.model import ModelStatus, VersionCounts
from modelregistry.api.modelversion import (
    Artifact,
    ModelVersionSpec,
    ModelVersionStatus,
    VerifiedArtifact,
    VerifiedComponent,
    VerifiedFile,
)
from modelregistry.conditions import DesiredCondition, Reason
from modelregistry.digest import ArtifactDigest

# Failures that may clear up without a person: retried with backoff.
TRANSIENT_REASONS = frozenset(
    {
        Reason.ARTIFACT_NOT_FOUND,
        Reason.STORAGE_UNREACHABLE,
        Reason.CREDENTIALS_NOT_FOUND,
        Reason.STORAGE_ERROR,
    }
)

# Failures that say nothing about the bytes: a re-check that meets one keeps
# the verification it had and tries again on the next periodic pass.
UNREADABLE_REASONS = frozenset(
    {Reason.STORAGE_UNREACHABLE, Reason.CREDENTIALS_NOT_FOUND, Reason.STORAGE_ERROR}
)

# A prefix may hold more files than fit in an object; all are in the digest.
MAX_LISTED_FILES = 1000


# --- version numbers --------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A ModelVersion's claim on a version number of its Model."""

    name: str
    uid: str
    created: str  # creationTimestamp, RFC 3339: sorts in time order
    version: int | None  # spec.version, else status.version
    settled: bool = False  # status.version records `version`: the number is held

    @property
    def seniority(self) -> tuple[str, str]:
        return (self.created, self.name)


@dataclass(frozen=True)
class VersionDecision:
    version: int
    holder: str | None = None  # name of the ModelVersion that holds `version`, if not us
    assigned: bool = False  # True when the number was newly assigned on this pass


def decide_version(own: Claim, siblings: Sequence[Claim]) -> VersionDecision:
    """Keep the claimed number, or assign the next free one.

    A number recorded in status is held for good: a later claim on it is
    refused, whatever the objects' ages. Among unsettled claims on one number
    the oldest object holds it (ties by name), so the decision is the same
    whichever object is reconciled first.
    """
    if own.settled and own.version is not None:
        return VersionDecision(version=own.version)
    others = [s for s in siblings if s.uid != own.uid]
    if own.version is None:
        highest = max((s.version for s in others if s.version is not None), default=0)
        return VersionDecision(version=highest + 1, assigned=True)
    rivals = [s for s in others if s.version == own.version]
    holders = [s for s in rivals if s.settled] or [s for s in rivals if s.seniority < own.seniority]
    holder = min(holders, key=lambda s: s.seniority) if holders else None
    return VersionDecision(version=own.version, holder=holder.name if holder else None)


# --- verification -----------------------------------------------------------


@dataclass(frozen=True)
class VerificationFailure:
    """Why hashing did not produce a digest."""

    reason: str
    message: str
    transient: bool  # True: retry with backoff; False: a person must act


Outcome = ArtifactDigest | VerificationFailure


def expected_digest(spec: ModelVersionSpec, status: ModelVersionStatus) -> str | None:
    """The digest the bytes must have: the spec's, else the one pinned on first verification."""
    return _expected(spec.artifact, status.artifact)


def _expected(artifact: Artifact, pinned: VerifiedArtifact | None) -> str | None:
    if artifact.digest:
        return artifact.digest
    if pinned is not None and pinned.uri == artifact.uri:
        return pinned.digest
    return None


def _proves(artifact: Artifact, pinned: VerifiedArtifact | None) -> bool:
    return (
        pinned is not None
        and pinned.uri == artifact.uri
        and pinned.digest == _expected(artifact, pinned)
    )


def component_record(status: ModelVersionStatus, name: str) -> VerifiedArtifact | None:
    return next((c.artifact for c in status.components if c.name == name), None)


def is_verified(spec: ModelVersionSpec, status: ModelVersionStatus) -> bool:
    """Whether the current status already proves the artifact and every component."""
    return (
        cond.is_true(status.conditions, cond.ARTIFACT_VERIFIED)
        and _proves(spec.artifact, status.artifact)
        and all(_proves(c.artifact, component_record(status, c.name)) for c in spec.components)
    )


def reverification_due(status: ModelVersionStatus, now: datetime, interval: timedelta) -> bool:
    """Whether the periodic check should hash the bytes again.

    A stalled version is looked at again once per interval rather than on
    every periodic pass; one waiting on a failure that may clear up (its
    condition says "Retrying") is looked at on every pass.
    """
    if status.artifact_checked_at is None:
        return True
    verified = cond.find(status.conditions, cond.ARTIFACT_VERIFIED)
    if verified is not None and verified.status == "False" and verified.reason in TRANSIENT_REASONS:
        return True
    try:
        checked_at = cond.parse_time(status.artifact_checked_at)
    except ValueError:
        return True  # a time nobody can read: check now, which writes a readable one
    return now - checked_at >= interval


def settled_for_now(
    spec: ModelVersionSpec,
    status: ModelVersionStatus,
    generation: int,
    now: datetime,
    interval: timedelta,
) -> bool:
    """Whether a periodic pass has nothing to do: Ready, current, and no re-check due."""
    return (
        status.observed_generation == generation
        and cond.is_true(status.conditions, cond.READY)
        and is_verified(spec, status)
        and not reverification_due(status, now, interval)
    )


def judge_bytes(
    field: str, artifact: Artifact, pinned: VerifiedArtifact | None, observed: ArtifactDigest
) -> VerificationFailure | None:
    """Compare hashed bytes to what `field` expects; None means they match."""
    expected = _expected(artifact, pinned)
    if expected is None or observed.digest == expected:
        return None
    if pinned is not None and pinned.uri == artifact.uri and pinned.digest == expected:
        versions = ""
        if pinned.version_id and observed.version_id and pinned.version_id != observed.version_id:
            versions = f" (versionId {pinned.version_id} -> {observed.version_id})"
        return VerificationFailure(
            reason=Reason.ARTIFACT_CHANGED,
            message=(
                f"{artifact.uri} ({field}) changed after it was verified: it was {expected}, it "
                f"is now {observed.digest}{versions}. Restore the verified bytes, or register "
                "the new bytes as a new ModelVersion."
            ),
            transient=False,
        )
    return VerificationFailure(
        reason=Reason.DIGEST_MISMATCH,
        message=(
            f"{artifact.uri} hashes to {observed.digest}, but {field}.digest is {expected}. "
            f"{field}.digest is immutable: upload the expected bytes (checked again "
            "periodically), or create a new ModelVersion with the right digest "
            "(`modelregistry digest PATH` computes it)."
        ),
        transient=False,
    )


def verified_record(uri: str, observed: ArtifactDigest, now: datetime) -> VerifiedArtifact:
    files = (
        [
            VerifiedFile(path=f.path, digest=f.digest, size=f.size, version_id=f.version_id)
            for f in observed.files[:MAX_LISTED_FILES]
        ]
        if observed.is_prefix
        else []
    )
    return VerifiedArtifact(
        uri=uri,
        digest=observed.digest,
        size=observed.size,
        file_count=len(observed.files),
        files=files,
        version_id=observed.version_id,
        verified_at=cond.format_time(now),
    )


# --- status -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    action: str = "Verify"  # what the operator was doing (events.k8s.io `action`)


@dataclass(frozen=True)
class Decision:
    """What to write, what to announce, and whether to retry soon."""

    status: ModelVersionStatus
    events: tuple[Event, ...] = ()
    retry: bool = False
    # The reason a re-check could not read the bytes (the verification stands).
    unreadable: str | None = None


@dataclass(frozen=True)
class Situation:
    """Everything observed on one pass over a ModelVersion."""

    spec: ModelVersionSpec
    status: ModelVersionStatus
    generation: int
    now: datetime
    model_found: bool = True
    version: VersionDecision | None = None
    verifying: bool = False  # hashing is about to start
    outcome: Outcome | None = None  # None: nothing hashed on this pass
    # One per spec.components item, in order, whenever `outcome` is set.
    component_outcomes: tuple[Outcome, ...] = ()
    namespace: str = ""
    # The reason the previous re-check could not read the bytes, already announced.
    unreadable_before: str | None = None


def decide(situation: Situation) -> Decision:
    """The status, events and retry wish for one pass."""
    s = situation
    old = s.status
    unreadable = _unreadable_on_recheck(s)
    if unreadable is not None:
        return _keep_verification(s, unreadable)
    artifact = old.artifact
    components = list(old.components)
    model = s.spec.model_ref.name
    verified = _artifact_condition(old)
    summary: list[DesiredCondition]
    retry = False

    if not s.model_found:
        message = (
            f"Model {model!r} does not exist in namespace {s.namespace!r}. Create it (or fix "
            "spec.modelRef.name); this version waits for it."
        )
        summary = [
            DesiredCondition(cond.READY, "False", Reason.MODEL_NOT_FOUND, message),
            DesiredCondition(cond.RECONCILING, "True", Reason.MODEL_NOT_FOUND, message),
        ]
        retry = True
    elif s.version is not None and s.version.holder is not None:
        message = (
            f"Version {s.version.version} of Model {model!r} is already held by ModelVersion "
            f"{s.version.holder!r}. Versions are immutable: delete this ModelVersion and create "
            "one with another spec.version, or omit spec.version to get the next free number."
        )
        summary = [
            DesiredCondition(cond.READY, "False", Reason.DUPLICATE_VERSION, message),
            DesiredCondition(cond.STALLED, "True", Reason.DUPLICATE_VERSION, message),
        ]
    elif s.verifying:
        parts = f" and {len(s.spec.components)} components" if s.spec.components else ""
        message = f"Hashing {s.spec.artifact.uri}{parts}."
        summary = [
            DesiredCondition(cond.READY, "Unknown", Reason.VERIFYING, message),
            DesiredCondition(cond.RECONCILING, "True", Reason.VERIFYING, message),
        ]
    else:
        verdict: Outcome | None = s.outcome
        if s.outcome is not None:
            artifact, components, verified, verdict = _weigh(s)
        summary, retry = _summarize(verified, verdict, s.version, model)

    desired = ([verified] if verified is not None else []) + summary
    status = ModelVersionStatus(
        observed_generation=s.generation,
        # A refused claim is not the version: status.version names only a held number.
        version=s.version.version if s.version and s.version.holder is None else old.version,
        stage=old.stage or "None",
        artifact=artifact,
        components=components,
        artifact_checked_at=(
            cond.format_time(s.now) if s.outcome is not None else old.artifact_checked_at
        ),
        conditions=cond.merge_conditions(
            old.conditions, _ordered(desired), generation=s.generation, now=s.now
        ),
        kopf=old.kopf,
    )
    events = _events(old.conditions, status.conditions, s.version)
    return Decision(status=status, events=events, retry=retry)


def _unreadable_on_recheck(s: Situation) -> VerificationFailure | None:
    """The failure of a re-check that could not read the bytes of a verified version."""
    if s.outcome is None or not is_verified(s.spec, s.status):
        return None
    if s.model_found is False or (s.version is not None and s.version.holder is not None):
        return None
    # Bytes that were read and differ count, even when another target could not be read.
    failures = [failure for *_, failure in _judgments(s) if failure is not None]
    if failures and all(f.reason in UNREADABLE_REASONS for f in failures):
        return failures[0]
    return None


def _keep_verification(s: Situation, failure: VerificationFailure) -> Decision:
    """A store that cannot be read revokes nothing: the bytes were proven before.

    artifactCheckedAt stays as it was, so the next periodic pass tries again;
    the Warning is posted once per run of failures, not on every pass.
    """
    status = s.status.model_copy(update={"observed_generation": s.generation})
    events: tuple[Event, ...] = ()
    if s.unreadable_before != failure.reason:
        verified_at = s.status.artifact.verified_at if s.status.artifact else "earlier"
        events = (
            Event(
                "Warning",
                failure.reason,
                f"Re-verification could not read the bytes: {failure.message} The "
                f"verification of {verified_at} stands; the next periodic pass tries again.",
            ),
        )
    return Decision(status=status, events=events, unreadable=failure.reason)


def _judgments(
    s: Situation,
) -> list[tuple[str | None, Artifact, Outcome, VerificationFailure | None]]:
    """Each hashed target (None: the artifact, else a component's name) and its verdict.

    Bytes are judged against the records pinned before this pass.
    """
    records = {c.name: c.artifact for c in s.status.components}
    targets = [("spec.artifact", None, s.spec.artifact, s.outcome)] + [
        (f"spec.components[{i}].artifact", c.name, c.artifact, outcome)
        for i, (c, outcome) in enumerate(zip(s.spec.components, s.component_outcomes, strict=True))
    ]
    judged: list[tuple[str | None, Artifact, Outcome, VerificationFailure | None]] = []
    for field, name, declared, outcome in targets:
        if outcome is None:
            continue
        pinned = s.status.artifact if name is None else records.get(name)
        failure = (
            outcome
            if isinstance(outcome, VerificationFailure)
            else judge_bytes(field, declared, pinned, outcome)
        )
        judged.append((name, declared, outcome, failure))
    return judged


def _weigh(
    s: Situation,
) -> tuple[VerifiedArtifact | None, list[VerifiedComponent], DesiredCondition, Outcome]:
    """Judge the hashed artifact and components together.

    Each target that matches gets a fresh record; one that fails keeps the
    record pinned before, so consumers still see what was verified. The first
    failure decides the ArtifactVerified condition: bytes that are wrong
    before bytes that could not be read, then the artifact's before the
    components' in order.
    """
    artifact = s.status.artifact
    records = {c.name: c.artifact for c in s.status.components}
    judged = _judgments(s)
    for name, declared, outcome, failure in judged:
        if failure is None and isinstance(outcome, ArtifactDigest):
            record = verified_record(declared.uri, outcome, s.now)
            if name is None:
                artifact = record
            else:
                records[name] = record
    # Bytes that were read and are wrong say more than bytes that could not be read.
    failures = sorted(
        (failure for *_, failure in judged if failure is not None),
        key=lambda f: f.reason in UNREADABLE_REASONS,
    )
    components = [
        VerifiedComponent(name=c.name, artifact=records[c.name])
        for c in s.spec.components
        if c.name in records
    ]
    if failures:
        return artifact, components, _failed_condition(failures[0]), failures[0]
    assert artifact is not None and s.outcome is not None  # every target matched
    return artifact, components, _verified_condition(artifact, len(components)), s.outcome


def invalid_spec(
    status: ModelVersionStatus, problem: str, generation: int, now: datetime
) -> Decision:
    """Status for a spec the API types reject (the CRD schema was bypassed)."""
    message = f"The spec is invalid: {problem}. Fix the named fields and apply again."
    desired = [
        DesiredCondition(cond.READY, "False", Reason.INVALID_SPEC, message),
        DesiredCondition(cond.STALLED, "True", Reason.INVALID_SPEC, message),
    ]
    new = status.model_copy(
        update={
            "observed_generation": generation,
            "conditions": cond.merge_conditions(
                status.conditions, desired, generation=generation, now=now
            ),
        }
    )
    return Decision(status=new, events=_events(status.conditions, new.conditions, None))


def _summarize(
    verified: DesiredCondition | None,
    outcome: Outcome | None,
    version: VersionDecision | None,
    model: str,
) -> tuple[list[DesiredCondition], bool]:
    if verified is not None and verified.status == "True":
        number = f"Version {version.version} of " if version else ""
        message = f"{number}Model {model!r} is verified and ready."
        return [DesiredCondition(cond.READY, "True", Reason.SUCCEEDED, message)], False
    if verified is None:
        message = "The artifact has not been verified yet."
        return [
            DesiredCondition(cond.READY, "Unknown", Reason.PROGRESSING, message),
            DesiredCondition(cond.RECONCILING, "True", Reason.PROGRESSING, message),
        ], True
    # Without a fresh outcome (a pass that hashed nothing), the reason says
    # whether the failure was one that may clear up on its own.
    transient = (
        outcome.transient
        if isinstance(outcome, VerificationFailure)
        else outcome is None and verified.reason in TRANSIENT_REASONS
    )
    ready = DesiredCondition(cond.READY, "False", verified.reason, verified.message)
    if transient:
        waiting = DesiredCondition(
            cond.RECONCILING, "True", verified.reason, verified.message + " Retrying."
        )
        return [ready, waiting], True
    return [ready, DesiredCondition(cond.STALLED, "True", verified.reason, verified.message)], False


def _artifact_condition(status: ModelVersionStatus) -> DesiredCondition | None:
    found = cond.find(status.conditions, cond.ARTIFACT_VERIFIED)
    if found is None:
        return None
    return DesiredCondition(found.type, found.status, found.reason, found.message)


def _verified_condition(artifact: VerifiedArtifact, components: int = 0) -> DesiredCondition:
    files = f", {artifact.file_count} files" if artifact.file_count > 1 else ""
    version = f", versionId {artifact.version_id}" if artifact.version_id else ""
    parts = f" All {components} components match their digests too." if components else ""
    return DesiredCondition(
        cond.ARTIFACT_VERIFIED,
        "True",
        Reason.VERIFIED,
        f"{artifact.uri} is {artifact.digest} ({artifact.size} bytes{files}{version}).{parts}",
    )


def _failed_condition(failure: VerificationFailure) -> DesiredCondition:
    return DesiredCondition(cond.ARTIFACT_VERIFIED, "False", failure.reason, failure.message)


_ORDER = (cond.READY, cond.RECONCILING, cond.STALLED, cond.ARTIFACT_VERIFIED)


def _ordered(desired: list[DesiredCondition]) -> list[DesiredCondition]:
    return sorted(desired, key=lambda c: _ORDER.index(c.type) if c.type in _ORDER else len(_ORDER))


def _events(
    before: Sequence[Condition], after: Sequence[Condition], version: VersionDecision | None
) -> tuple[Event, ...]:
    """Announce changes a person may want to see in `kubectl describe`."""
    events: list[Event] = []
    if version is not None and version.assigned:
        events.append(
            Event("Normal", "VersionAssigned", f"Assigned version {version.version}.", "Assign")
        )
    for condition_type in (cond.ARTIFACT_VERIFIED, cond.STALLED):
        old = cond.find(before, condition_type)
        new = cond.find(after, condition_type)
        if new is None or (
            old is not None and (old.status, old.reason) == (new.status, new.reason)
        ):
            continue
        if any(e.reason == new.reason for e in events):
            continue  # Stalled for the reason ArtifactVerified just announced
        good = condition_type == cond.ARTIFACT_VERIFIED and new.status == "True"
        events.append(Event("Normal" if good else "Warning", new.reason, new.message))
    return tuple(events)


# --- Model ------------------------------------------------------------------


@dataclass(frozen=True)
class VersionSummary:
    """What a Model needs to know of one of its versions."""

    version: int | None
    ready: bool
    stalled: bool
    stage: str | None


def summarize_model(
    versions: Sequence[VersionSummary], status: ModelStatus, generation: int, now: datetime
) -> ModelStatus:
    numbers = [v.version for v in versions if v.version is not None]
    ready_numbers = [v.version for v in versions if v.version is not None and v.ready]
    stages = {
        v.stage: v.version
        for v in sorted(versions, key=lambda v: v.version or 0)
        if v.stage and v.stage != "None" and v.version is not None
    }
    counts = VersionCounts(
        total=len(versions),
        ready=sum(v.ready for v in versions),
        stalled=sum(v.stalled for v in versions),
    )
    noun = "version" if counts.total == 1 else "versions"
    message = f"{counts.total} {noun}, {counts.ready} ready."
    return ModelStatus(
        observed_generation=generation,
        latest_version=max(numbers, default=None),
        latest_ready_version=max(ready_numbers, default=None),
        counts=counts,
        stages=stages or None,
        conditions=cond.merge_conditions(
            status.conditions,
            [DesiredCondition(cond.READY, "True", Reason.SUCCEEDED, message)],
            generation=generation,
            now=now,
        ),
        kopf=status.kopf,
    )
