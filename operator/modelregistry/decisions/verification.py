"""Step 3: the bytes in storage hash to the expected digest (ArtifactVerified)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from modelregistry import conditions as cond
from modelregistry.api.modelversion import (
    Artifact,
    ModelVersionSpec,
    ModelVersionStatus,
    VerifiedArtifact,
    VerifiedComponent,
    VerifiedFile,
)
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.oci.record import OciArtifactDigest
from modelregistry.decisions.oci.record import record as oci_record
from modelregistry.decisions.passdata import Event, StepResult, VersionView
from modelregistry.digest import ArtifactDigest
from modelregistry.reasons import ARTIFACT_VERIFIED, Reason, is_transient

CONDITIONS = (ARTIFACT_VERIFIED,)

# Failures that say nothing about the bytes: a re-check that meets one keeps
# the verification it had and tries again on the next periodic pass.
UNREADABLE_REASONS = frozenset(
    {Reason.STORAGE_UNREACHABLE, Reason.CREDENTIALS_NOT_FOUND, Reason.STORAGE_ERROR}
)

# A prefix may hold more files than fit in an object; all are in the digest.
MAX_LISTED_FILES = 1000

# VerifiedArtifact.verified_by of a record that rests on the store's checksums.
STORE_CHECKSUM = "StoreChecksum"
# A first verification whose bytes still to read need this long at the rate they
# arrive is worth announcing (Reconciling=True, Verifying) while it lasts.
LONG_READ_SECONDS = 1.0


@dataclass(frozen=True)
class VerificationFailure:
    """Why hashing did not produce a digest."""

    reason: str
    message: str

    @property
    def transient(self) -> bool:
        return is_transient(self.reason)


Outcome = ArtifactDigest | VerificationFailure


@dataclass(frozen=True)
class Hashed:
    """The outcome for the artifact, and one per spec.components item, in order."""

    artifact: Outcome
    components: tuple[Outcome, ...] = ()


@dataclass(frozen=True)
class VerificationDecision:
    result: StepResult
    # The reason a re-check could not read the bytes (the verification stands).
    unreadable: str | None = None


# --- what is expected, and whether it is proven ----------------------------------


def pinned_for(artifact: Artifact, pinned: VerifiedArtifact | None) -> VerifiedArtifact | None:
    """The record, if it was pinned for this artifact's URI (not an older spec's)."""
    return pinned if pinned is not None and pinned.uri == artifact.uri else None


def expected_digest(artifact: Artifact, pinned: VerifiedArtifact | None) -> str | None:
    """The digest the bytes must have: the spec's, else the one pinned on first verification."""
    if artifact.digest:
        return artifact.digest
    here = pinned_for(artifact, pinned)
    return here.digest if here is not None else None


def _proves(artifact: Artifact, pinned: VerifiedArtifact | None) -> bool:
    here = pinned_for(artifact, pinned)
    return here is not None and here.digest == expected_digest(artifact, here)


def component_record(status: ModelVersionStatus, name: str) -> VerifiedArtifact | None:
    return next((c.artifact for c in status.components if c.name == name), None)


def is_verified(spec: ModelVersionSpec, status: ModelVersionStatus) -> bool:
    """Whether the current status already proves the artifact and every component."""
    return (
        cond.is_true(status.conditions, ARTIFACT_VERIFIED)
        and _proves(spec.artifact, status.artifact)
        and all(_proves(c.artifact, component_record(status, c.name)) for c in spec.components)
    )


def store_checksum_stands_for(
    artifact: Artifact, pinned: VerifiedArtifact | None, policy_accepts: bool
) -> str | None:
    """The digest a store's checksum may prove instead of hashing, or None to hash.

    Only on a first verification (nothing pinned for this URI yet) under a
    Model that opts in, and only for a declared digest: the checksum can
    confirm what the version says, never decide what it pins. Whatever it
    accepts is hashed in full on the next periodic pass.
    """
    if not policy_accepts or not artifact.digest or pinned_for(artifact, pinned) is not None:
        return None
    return artifact.digest


def store_checksum_accepted(expected: str, stored: ArtifactDigest | None) -> bool:
    """A store's checksums only ever accept: anything else is settled by hashing."""
    return stored is not None and stored.digest == expected


def read_is_long(expected: int, read: int, seconds: float) -> bool:
    """Whether the bytes still to read take LONG_READ_SECONDS or more at the rate seen so far.

    `expected` bytes to read in all (as far as known), `read` of them read in
    `seconds`. Nothing read yet says nothing of the rate.
    """
    if read <= 0 or seconds <= 0:
        return False
    remaining = max(expected - read, 0)
    return remaining * seconds >= LONG_READ_SECONDS * read


def hash_owed(status: ModelVersionStatus) -> bool:
    """Whether a record rests on a store's checksum and the bytes still need hashing."""
    records = [status.artifact, *(c.artifact for c in status.components)]
    return any(r is not None and r.verified_by == STORE_CHECKSUM for r in records)


def next_check(status: ModelVersionStatus, interval: timedelta) -> datetime | None:
    """When the bytes are due to be hashed again; None means now.

    A version waiting on a failure that may clear up is due at once (the
    periodic pass helps the backoff), and so is one whose record rests on the
    store's checksum; a stalled or verified one once per interval after its
    last check.
    """
    if status.artifact_checked_at is None or hash_owed(status):
        return None
    verified = cond.find(status.conditions, ARTIFACT_VERIFIED)
    if verified is not None and verified.status == "False" and is_transient(verified.reason):
        return None
    try:
        checked_at = cond.parse_time(status.artifact_checked_at)
    except ValueError:
        return None  # a time nobody can read: check now, which writes a readable one
    return checked_at + interval


def reverification_due(status: ModelVersionStatus, now: datetime, interval: timedelta) -> bool:
    due = next_check(status, interval)
    return due is None or now >= due


# --- judging the bytes ------------------------------------------------------------


def judge_bytes(
    field: str, artifact: Artifact, pinned: VerifiedArtifact | None, observed: ArtifactDigest
) -> VerificationFailure | None:
    """Compare hashed bytes to what `field` expects; None means they match."""
    expected = expected_digest(artifact, pinned)
    if expected is None or observed.digest == expected:
        return None
    here = pinned_for(artifact, pinned)
    if here is not None and here.digest == expected:
        versions = ""
        if here.version_id and observed.version_id and here.version_id != observed.version_id:
            versions = f" (versionId {here.version_id} -> {observed.version_id})"
        return VerificationFailure(
            Reason.ARTIFACT_CHANGED,
            f"{artifact.uri} ({field}) changed after it was verified: it was {expected}, it "
            f"is now {observed.digest}{versions}. Restore the verified bytes, or register "
            "the new bytes as a new ModelVersion.",
        )
    return VerificationFailure(
        Reason.DIGEST_MISMATCH,
        f"{artifact.uri} hashes to {observed.digest}, but {field}.digest is {expected}. "
        f"{field}.digest is immutable: upload the expected bytes (checked again "
        "periodically), or create a new ModelVersion with the right digest "
        "(`modelregistry digest PATH` computes it).",
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
        verified_by=STORE_CHECKSUM if observed.by_store_checksum else None,
        oci=oci_record(observed) if isinstance(observed, OciArtifactDigest) else None,
    )


@dataclass(frozen=True)
class _Judgment:
    name: str | None  # None: the artifact; else a component's name
    declared: Artifact
    outcome: Outcome
    failure: VerificationFailure | None


def _judgments(view: VersionView, hashed: Hashed) -> list[_Judgment]:
    """Each hashed target and its verdict, judged against what was pinned before this pass."""
    spec, status = view.spec, view.status
    targets: list[tuple[str, str | None, Artifact, VerifiedArtifact | None, Outcome]] = [
        ("spec.artifact", None, spec.artifact, status.artifact, hashed.artifact)
    ]
    for i, (component, outcome) in enumerate(zip(spec.components, hashed.components, strict=True)):
        pinned = component_record(status, component.name)
        field = f"spec.components[{i}].artifact"
        targets.append((field, component.name, component.artifact, pinned, outcome))
    judged = []
    for field, name, declared, pinned, outcome in targets:
        failure = (
            outcome
            if isinstance(outcome, VerificationFailure)
            else judge_bytes(field, declared, pinned, outcome)
        )
        judged.append(_Judgment(name, declared, outcome, failure))
    return judged


# --- the step ----------------------------------------------------------------------


def hashing(view: VersionView) -> StepResult:
    """The step while the bytes are being hashed for the first time."""
    parts = f" and {len(view.spec.components)} components" if view.spec.components else ""
    message = f"Hashing {view.spec.artifact.uri}{parts}."
    return StepResult(
        (DesiredCondition(ARTIFACT_VERIFIED, "Unknown", Reason.VERIFYING, message),),
        proceed=False,
    )


def unchanged(view: VersionView) -> StepResult:
    """Nothing hashed on this pass: the condition stands as it is."""
    found = cond.find(view.status.conditions, ARTIFACT_VERIFIED)
    if found is None:  # nothing hashed yet, and not on this pass: soon, then
        return StepResult(
            (
                DesiredCondition(
                    ARTIFACT_VERIFIED,
                    "Unknown",
                    Reason.VERIFYING,
                    "The artifact has not been verified yet.",
                ),
            ),
            proceed=False,
            retry=True,
        )
    kept = DesiredCondition(found.type, found.status, found.reason, found.message)
    return StepResult((kept,), proceed=found.status == "True")


def decide(
    view: VersionView, hashed: Hashed, unreadable_before: str | None = None
) -> VerificationDecision:
    """Judge the hashed artifact and components together.

    Each target that matches gets a fresh record; one that fails keeps the
    record pinned before, so consumers still see what was verified. The first
    failure decides the condition: bytes that are wrong before bytes that
    could not be read, then the artifact's before the components' in order.
    A re-check that could not read the bytes of a verified version revokes
    nothing: it says nothing about the bytes.
    """
    judged = _judgments(view, hashed)
    failures = [j.failure for j in judged if j.failure is not None]
    if (
        failures
        and all(f.reason in UNREADABLE_REASONS for f in failures)
        and is_verified(view.spec, view.status)
    ):
        return _keep_verification(view, failures[0], unreadable_before)

    artifact = view.status.artifact
    records = {c.name: c.artifact for c in view.status.components}
    for j in judged:
        if j.failure is None and isinstance(j.outcome, ArtifactDigest):
            record = verified_record(j.declared.uri, j.outcome, view.now)
            if j.name is None:
                artifact = record
            else:
                records[j.name] = record
    components = [
        VerifiedComponent(name=c.name, artifact=records[c.name])
        for c in view.spec.components
        if c.name in records
    ]
    status = {
        "artifact": artifact,
        "components": components,
        "artifact_checked_at": cond.format_time(view.now),
    }
    # Bytes that were read and are wrong say more than bytes that could not be read.
    failures.sort(key=lambda f: f.reason in UNREADABLE_REASONS)
    if failures:
        first = failures[0]
        condition = DesiredCondition(ARTIFACT_VERIFIED, "False", first.reason, first.message)
        return VerificationDecision(StepResult((condition,), status=status, proceed=False))
    assert artifact is not None  # every target matched
    by_checksum = [r.uri for r in (artifact, *(c.artifact for c in components)) if r.verified_by]
    return VerificationDecision(
        StepResult((_verified_condition(artifact, len(components), by_checksum),), status=status)
    )


def _keep_verification(
    view: VersionView, failure: VerificationFailure, unreadable_before: str | None
) -> VerificationDecision:
    """The verification stands; one Warning per run of failures, not one per pass.

    artifactCheckedAt keeps the time of the last check that read the bytes,
    so the next periodic pass tries again.
    """
    events: tuple[Event, ...] = ()
    if unreadable_before != failure.reason:
        verified_at = view.status.artifact.verified_at if view.status.artifact else "earlier"
        events = (
            Event(
                "Warning",
                failure.reason,
                f"Re-verification could not read the bytes: {failure.message} The "
                f"verification of {verified_at} stands; the next periodic pass tries again.",
            ),
        )
    return VerificationDecision(unchanged_with(view, events), unreadable=failure.reason)


def unchanged_with(view: VersionView, events: tuple[Event, ...]) -> StepResult:
    kept = unchanged(view)
    return StepResult(kept.conditions, events=events, proceed=kept.proceed)


def _verified_condition(
    artifact: VerifiedArtifact, components: int, by_checksum: list[str]
) -> DesiredCondition:
    files = f", {artifact.file_count} files" if artifact.file_count > 1 else ""
    version = f", versionId {artifact.version_id}" if artifact.version_id else ""
    parts = f" All {components} components match their digests too." if components else ""
    message = f"{artifact.uri} is {artifact.digest} ({artifact.size} bytes{files}{version}).{parts}"
    if not by_checksum:
        return DesiredCondition(ARTIFACT_VERIFIED, "True", Reason.VERIFIED, message)
    return DesiredCondition(
        ARTIFACT_VERIFIED,
        "True",
        Reason.CHECKSUM_ACCEPTED,
        f"{message} By the store's SHA-256 checksum, not yet hashed here: "
        f"{', '.join(by_checksum)}; the operator hashes the bytes on its next periodic pass.",
    )
