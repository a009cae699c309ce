"""Every condition type and every reason the operator writes, documented once.

The table in docs/operator.md is checked against this registry by a unit
test, and whether a failure may clear up on its own (retried, `Reconciling`)
or needs a person (`Stalled`) is read from here and nowhere else.

Polarity follows kstatus: `Ready` and the domain conditions are good when
True; `Reconciling` and `Stalled` are present only while True.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelregistry.api.meta import ConditionStatus

# --- condition types ---------------------------------------------------------

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
MODEL_FOUND = "ModelFound"
VERSION_ASSIGNED = "VersionAssigned"
ARTIFACT_VERIFIED = "ArtifactVerified"
SIGNATURE_VERIFIED = "SignatureVerified"
VALIDATED = "Validated"
METADATA_COMPLETE = "MetadataComplete"
STAGE_GRANTED = "StageGranted"
ALIASES_RESOLVED = "AliasesResolved"


@dataclass(frozen=True)
class ConditionType:
    name: str
    polarity: Literal["normal", "abnormal"]  # normal: True is good; abnormal: present when True
    doc: str


CONDITION_TYPES: tuple[ConditionType, ...] = (
    ConditionType(READY, "normal", "every step succeeded: the version is usable"),
    ConditionType(
        RECONCILING,
        "abnormal",
        "work under way, or waiting for something that may appear on its own",
    ),
    ConditionType(STALLED, "abnormal", "only a person can unblock it"),
    ConditionType(MODEL_FOUND, "normal", "the Model in `spec.modelRef.name` exists"),
    ConditionType(VERSION_ASSIGNED, "normal", "the version number is held by this ModelVersion"),
    ConditionType(ARTIFACT_VERIFIED, "normal", "the bytes hash to the expected (or pinned) digest"),
    ConditionType(
        SIGNATURE_VERIFIED,
        "normal",
        "the verified files are exactly the ones the bundle in `spec.artifact.signature` signs, "
        "and it verifies with the identity named there; written only where a signature is "
        "declared",
    ),
    ConditionType(VALIDATED, "normal", "the declared validation checks passed on those bytes"),
    ConditionType(
        METADATA_COMPLETE,
        "normal",
        "the spec sets every path the Model's `policy.requiredMetadata` names; informational, "
        "written only where the Model requires some: a version that lacks one stays usable at "
        "the stage it holds and is not promoted",
    ),
    ConditionType(
        STAGE_GRANTED,
        "normal",
        "the stage asked for (`spec.stage`) is the one granted (`status.stage`); informational: "
        "it does not make the version un-Ready, since a version serves at its granted stage",
    ),
    ConditionType(
        ALIASES_RESOLVED,
        "normal",
        "(Model) every alias in `spec.aliases` points at a Ready version of the Model",
    ),
)


# --- reasons -----------------------------------------------------------------


@dataclass(frozen=True)
class ReasonInfo:
    name: str
    condition: str  # the condition type that owns the reason
    status: ConditionStatus  # the status it explains
    doc: str
    # For a False status: True when it may clear up without a person, so the
    # version is retried (Reconciling) instead of Stalled.
    transient: bool = False
    # For a True status: worth a Normal Event when the condition turns to it.
    announce: bool = False


class Reason:
    """Reason names, one CamelCase word each."""

    SUCCEEDED = "Succeeded"
    PROGRESSING = "Progressing"
    INVALID_SPEC = "InvalidSpec"
    MODEL_EXISTS = "ModelExists"
    MODEL_NOT_FOUND = "ModelNotFound"
    VERSION_HELD = "VersionHeld"
    DUPLICATE_VERSION = "DuplicateVersion"
    VERIFIED = "Verified"
    CHECKSUM_ACCEPTED = "ChecksumAccepted"
    VERIFYING = "Verifying"
    ARTIFACT_NOT_FOUND = "ArtifactNotFound"
    STORAGE_UNREACHABLE = "StorageUnreachable"
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    STORAGE_ERROR = "StorageError"
    DIGEST_MISMATCH = "DigestMismatch"
    ARTIFACT_CHANGED = "ArtifactChanged"
    BLOB_DIGEST_MISMATCH = "BlobDigestMismatch"
    ACCESS_DENIED = "AccessDenied"
    CREDENTIALS_REJECTED = "CredentialsRejected"
    INVALID_ENDPOINT = "InvalidEndpoint"
    INVALID_ARTIFACT = "InvalidArtifact"
    NO_CHECKS = "NoChecks"
    CHECKS_PASSED = "ChecksPassed"
    VALIDATION_RUNNING = "ValidationRunning"
    CHECK_FAILED = "CheckFailed"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    UNSCHEDULABLE = "Unschedulable"
    POD_FAILED = "PodFailed"
    ARTIFACT_CHANGED_BEFORE_VALIDATION = "ArtifactChangedBeforeValidation"
    INVALID_CHECK = "InvalidCheck"
    UNTRUSTED_POD = "UntrustedPod"
    POD_ALTERED = "PodAltered"
    GRANTED = "Granted"
    NOT_VERIFIED = "NotVerified"
    VALIDATION_PENDING = "ValidationPending"
    VALIDATION_FAILED = "ValidationFailed"
    APPROVAL_REQUIRED = "ApprovalRequired"
    PRODUCTION_HELD = "ProductionHeld"
    STAGE_NOT_ALLOWED = "StageNotAllowed"
    ADMISSION_POLICY_MISSING = "AdmissionPolicyMissing"
    REPLACED = "Replaced"
    VERSION_LIMIT = "VersionLimit"
    STAGE_REVOKED = "StageRevoked"
    IN_USE = "InUse"
    METADATA_MISSING = "MetadataMissing"
    CHAMPION_NOT_BEATEN = "ChampionNotBeaten"
    METRIC_MISSING = "MetricMissing"
    METADATA_PRESENT = "MetadataPresent"
    METADATA_INCOMPLETE = "MetadataIncomplete"
    ALIASES_READY = "AliasesReady"
    ALIAS_UNRESOLVED = "AliasUnresolved"
    SIGNED = "Signed"
    SIGNATURE_PENDING = "SignaturePending"
    SIGNATURE_MISSING = "SignatureMissing"
    SIGNATURE_UNREADABLE = "SignatureUnreadable"
    KEY_NOT_FOUND = "KeyNotFound"
    KEY_INVALID = "KeyInvalid"
    SIGNATURE_INVALID = "SignatureInvalid"
    FILES_DIFFER = "FilesDiffer"
    SIGNATURE_CHANGED = "SignatureChanged"
    SIGNATURE_REQUIRED = "SignatureRequired"
    SIGNATURE_NOT_VERIFIED = "SignatureNotVerified"
    KEY_NOT_TRUSTED = "KeyNotTrusted"


_REASONS: tuple[ReasonInfo, ...] = (
    ReasonInfo(Reason.SUCCEEDED, READY, "True", "every step succeeded"),
    ReasonInfo(Reason.PROGRESSING, READY, "Unknown", "a new generation is being reconciled"),
    ReasonInfo(
        Reason.INVALID_SPEC,
        READY,
        "False",
        "the spec does not match the API types (the CRD schema was bypassed); fix the named fields",
    ),
    ReasonInfo(Reason.MODEL_EXISTS, MODEL_FOUND, "True", "the Model exists"),
    ReasonInfo(
        Reason.MODEL_NOT_FOUND,
        MODEL_FOUND,
        "False",
        "`spec.modelRef.name` names no Model (yet); looked at again when it appears",
        transient=True,
    ),
    ReasonInfo(
        Reason.VERSION_HELD,
        VERSION_ASSIGNED,
        "True",
        "the number in `status.version` is held by this version, for good",
    ),
    ReasonInfo(
        Reason.DUPLICATE_VERSION,
        VERSION_ASSIGNED,
        "False",
        "another ModelVersion of the Model holds this number (named in the message)",
    ),
    ReasonInfo(
        Reason.VERIFIED,
        ARTIFACT_VERIFIED,
        "True",
        "bytes match; digest, size, files and versionIds recorded",
        announce=True,
    ),
    ReasonInfo(
        Reason.CHECKSUM_ACCEPTED,
        ARTIFACT_VERIFIED,
        "True",
        "the store's full-object SHA-256 checksum equals the declared digest (the Model's "
        "`policy.verification.acceptStoreChecksum`); the bytes are hashed on the next periodic "
        "pass",
        announce=True,
    ),
    ReasonInfo(
        Reason.VERIFYING,
        ARTIFACT_VERIFIED,
        "Unknown",
        "hashing the artifact for the first time",
    ),
    ReasonInfo(
        Reason.ARTIFACT_NOT_FOUND,
        ARTIFACT_VERIFIED,
        "False",
        "nothing at the artifact's URI (yet); retried with backoff until uploaded",
        transient=True,
    ),
    ReasonInfo(
        Reason.STORAGE_UNREACHABLE,
        ARTIFACT_VERIFIED,
        "False",
        "the endpoint does not answer; retried with backoff",
        transient=True,
    ),
    ReasonInfo(
        Reason.CREDENTIALS_NOT_FOUND,
        ARTIFACT_VERIFIED,
        "False",
        "the Secret in `storage.secretRef` (s3://) or `registry.secretRef` (oci://) is "
        "missing, one the operator may not read, or lacks a key",
        transient=True,
    ),
    ReasonInfo(
        Reason.STORAGE_ERROR,
        ARTIFACT_VERIFIED,
        "False",
        "an unexpected answer from the store; retried",
        transient=True,
    ),
    ReasonInfo(
        Reason.DIGEST_MISMATCH,
        ARTIFACT_VERIFIED,
        "False",
        "the bytes are not `spec.artifact.digest`; upload the right bytes or create a new version",
    ),
    ReasonInfo(
        Reason.ARTIFACT_CHANGED,
        ARTIFACT_VERIFIED,
        "False",
        "the bytes changed after they were verified (old and new versionId in the message)",
    ),
    ReasonInfo(
        Reason.BLOB_DIGEST_MISMATCH,
        ARTIFACT_VERIFIED,
        "False",
        "(oci://) the registry served bytes for the manifest or a blob that do not hash to the "
        "digest naming it (the blob and both digests in the message)",
    ),
    ReasonInfo(
        Reason.ACCESS_DENIED,
        ARTIFACT_VERIFIED,
        "False",
        "the store refused the request; fix the credentials or the bucket policy",
    ),
    ReasonInfo(
        Reason.CREDENTIALS_REJECTED,
        ARTIFACT_VERIFIED,
        "False",
        "the store does not know the access key (InvalidAccessKeyId); fix the Secret",
    ),
    ReasonInfo(
        Reason.INVALID_ENDPOINT,
        ARTIFACT_VERIFIED,
        "False",
        "`storage.endpoint` cannot be used (unparseable URL, impossible port)",
    ),
    ReasonInfo(
        Reason.INVALID_ARTIFACT,
        ARTIFACT_VERIFIED,
        "False",
        "the artifact cannot be verified as declared (e.g. a file name no digest can hold)",
    ),
)

_SIGNATURE_REASONS: tuple[ReasonInfo, ...] = (
    ReasonInfo(
        Reason.SIGNED,
        SIGNATURE_VERIFIED,
        "True",
        "the bundle verifies with the named key (or certificate chain) and signs exactly the "
        "verified files; the bundle's digest, versionId and key in status.artifactSignature",
        announce=True,
    ),
    ReasonInfo(
        Reason.SIGNATURE_PENDING,
        SIGNATURE_VERIFIED,
        "Unknown",
        "checked once the artifact's bytes are verified (or hashed next)",
    ),
    ReasonInfo(
        Reason.SIGNATURE_MISSING,
        SIGNATURE_VERIFIED,
        "False",
        "nothing at `spec.artifact.signature.uri` (yet); retried with backoff until uploaded",
        transient=True,
    ),
    ReasonInfo(
        Reason.SIGNATURE_UNREADABLE,
        SIGNATURE_VERIFIED,
        "False",
        "the store did not give the bundle (unreachable, credentials, access); retried",
        transient=True,
    ),
    ReasonInfo(
        Reason.KEY_NOT_FOUND,
        SIGNATURE_VERIFIED,
        "False",
        "the ConfigMap (or its key) the signature names does not exist in the version's "
        "namespace (yet); looked at again",
        transient=True,
    ),
    ReasonInfo(
        Reason.KEY_INVALID,
        SIGNATURE_VERIFIED,
        "False",
        "the ConfigMap entry holds no usable PEM public key or certificate; looked at again",
        transient=True,
    ),
    ReasonInfo(
        Reason.SIGNATURE_INVALID,
        SIGNATURE_VERIFIED,
        "False",
        "the bundle is not a model-signing bundle, does not verify with the named key or trust "
        "root, or names another signer (said in the message)",
    ),
    ReasonInfo(
        Reason.FILES_DIFFER,
        SIGNATURE_VERIFIED,
        "False",
        "the verified files are not the signed ones: files not signed, signed but missing, or "
        "with other digests (named)",
    ),
    ReasonInfo(
        Reason.SIGNATURE_CHANGED,
        SIGNATURE_VERIFIED,
        "False",
        "the bundle's bytes changed after they were verified (both digests and versionIds in "
        "the message)",
    ),
)

_VALIDATION_REASONS: tuple[ReasonInfo, ...] = (
    ReasonInfo(
        Reason.NO_CHECKS,
        VALIDATED,
        "True",
        "no checks apply: none declared (spec.validation, or the Model's spec.defaultValidation) "
        "and none required (the Model's spec.policy.validation.requiredChecks)",
    ),
    ReasonInfo(
        Reason.CHECKS_PASSED,
        VALIDATED,
        "True",
        "every check passed; results in status.validation",
        announce=True,
    ),
    ReasonInfo(
        Reason.VALIDATION_RUNNING,
        VALIDATED,
        "Unknown",
        "the checks are running in the validation Pod (named in the message)",
    ),
    ReasonInfo(
        Reason.CHECK_FAILED,
        VALIDATED,
        "False",
        "a check failed (named, with its report); fix the model and register a new version, "
        "or re-run",
    ),
    ReasonInfo(
        Reason.DEADLINE_EXCEEDED,
        VALIDATED,
        "False",
        "the checks ran past spec.validation.deadlineSeconds",
    ),
    ReasonInfo(
        Reason.IMAGE_PULL_FAILED,
        VALIDATED,
        "False",
        "a check's image cannot be pulled (the kubelet's reason and message)",
    ),
    ReasonInfo(
        Reason.UNSCHEDULABLE,
        VALIDATED,
        "False",
        "no node can run the validation Pod yet (the scheduler's message); retried",
        transient=True,
    ),
    ReasonInfo(
        Reason.POD_FAILED,
        VALIDATED,
        "False",
        "the validation Pod failed for a reason of its own, or vanished twice",
    ),
    ReasonInfo(
        Reason.ARTIFACT_CHANGED_BEFORE_VALIDATION,
        VALIDATED,
        "False",
        "the bytes fetched for validation do not hash to the verified digest",
    ),
    ReasonInfo(
        Reason.INVALID_CHECK,
        VALIDATED,
        "False",
        "a check or a policy threshold cannot be run as written (named in the message)",
    ),
    ReasonInfo(
        Reason.UNTRUSTED_POD,
        VALIDATED,
        "False",
        "the run's Pod was, twice, not the one the operator created (another uid, owner or "
        "spec): nothing it reported counts; re-run, and find who changes Pods in the namespace",
    ),
    ReasonInfo(
        Reason.POD_ALTERED,
        VALIDATED,
        "False",
        "admission changed the validation Pod the operator built (a mutating webhook injected "
        "credentials, a sidecar or another image); the Pod was deleted unread",
    ),
)

_LIFECYCLE_REASONS: tuple[ReasonInfo, ...] = (
    ReasonInfo(
        Reason.GRANTED,
        STAGE_GRANTED,
        "True",
        "the stage asked for is granted (its gates passed), or no stage is asked for",
    ),
    ReasonInfo(
        Reason.NOT_VERIFIED,
        STAGE_GRANTED,
        "False",
        "the bytes are not verified (ArtifactVerified is not True); a stage held is revoked",
        transient=True,
    ),
    ReasonInfo(
        Reason.VALIDATION_PENDING,
        STAGE_GRANTED,
        "False",
        "the checks have not passed yet (Validated is not True yet)",
        transient=True,
    ),
    ReasonInfo(
        Reason.VALIDATION_FAILED,
        STAGE_GRANTED,
        "False",
        "the checks failed (Validated=False); a stage held is revoked",
    ),
    ReasonInfo(
        Reason.APPROVAL_REQUIRED,
        STAGE_GRANTED,
        "False",
        "the Model's policy.approval asks for approvals of this stage; "
        "`modelregistry approve VERSION --stage STAGE` (the message says how many, and whose)",
    ),
    ReasonInfo(
        Reason.PRODUCTION_HELD,
        STAGE_GRANTED,
        "False",
        "another version holds Production (named) and the policy's productionHandover is wait",
        transient=True,
    ),
    ReasonInfo(
        Reason.STAGE_NOT_ALLOWED,
        STAGE_GRANTED,
        "False",
        "the Model's policy.stages does not include the stage asked for",
    ),
    ReasonInfo(
        Reason.ADMISSION_POLICY_MISSING,
        STAGE_GRANTED,
        "False",
        "approvals would count, but the admission policy that checks them is not installed "
        "(or exempts another operator): approvals cannot be trusted, the stage is not granted",
        transient=True,
    ),
    ReasonInfo(
        Reason.REPLACED,
        STAGE_GRANTED,
        "False",
        "another version took Production (productionHandover: replace) and this one was "
        "archived; change spec.stage to ask again",
    ),
    ReasonInfo(
        Reason.IN_USE,
        STAGE_GRANTED,
        "False",
        "Archived is asked for while workloads use the version (named; status.deployments) and "
        "the Model's policy.protectInUse is not false; granted once they are gone",
    ),
    ReasonInfo(
        Reason.VERSION_LIMIT,
        STAGE_GRANTED,
        "False",
        "archived by the Model's policy.versionLimit (the oldest versions that ask for no "
        "stage); set spec.stage to Staging to bring it back",
    ),
    ReasonInfo(
        Reason.STAGE_REVOKED,
        STAGE_GRANTED,
        "False",
        "the stage held was taken away (its gates no longer pass)",
    ),
    ReasonInfo(
        Reason.METADATA_MISSING,
        STAGE_GRANTED,
        "False",
        "the spec lacks paths the Model's policy.requiredMetadata names (listed); register a new "
        "version that sets them",
    ),
    ReasonInfo(
        Reason.CHAMPION_NOT_BEATEN,
        STAGE_GRANTED,
        "False",
        "the metric of the Model's policy.production.mustBeat does not beat the holder's (or the "
        "aliased version's) by the margin: both values in the message and status.comparison; "
        "looked at again when the holder changes",
        transient=True,
    ),
    ReasonInfo(
        Reason.METRIC_MISSING,
        STAGE_GRANTED,
        "False",
        "the version has no value for the metric of the Model's policy.production.mustBeat "
        "(named); register a new version with it in spec.metrics",
    ),
    ReasonInfo(
        Reason.SIGNATURE_REQUIRED,
        STAGE_GRANTED,
        "False",
        "the Model's policy.signing.required asks for a signed artifact and the version "
        "declares no spec.artifact.signature; register it again signed",
    ),
    ReasonInfo(
        Reason.SIGNATURE_NOT_VERIFIED,
        STAGE_GRANTED,
        "False",
        "the Model's policy.signing.required asks for a verified signature and "
        "SignatureVerified is not True (see its message)",
        transient=True,
    ),
    ReasonInfo(
        Reason.KEY_NOT_TRUSTED,
        STAGE_GRANTED,
        "False",
        "the signature verified with a key the Model's policy.signing.trustedKeys does not "
        "list (its fingerprint in the message); sign with a trusted key, or have the Model's "
        "owners add it",
    ),
    ReasonInfo(
        Reason.ALIASES_READY,
        ALIASES_RESOLVED,
        "True",
        "(Model) every alias points at a Ready version",
    ),
    ReasonInfo(
        Reason.ALIAS_UNRESOLVED,
        ALIASES_RESOLVED,
        "False",
        "(Model) an alias points at a version that does not exist or is not Ready (named)",
    ),
)

_METADATA_REASONS: tuple[ReasonInfo, ...] = (
    ReasonInfo(
        Reason.METADATA_PRESENT,
        METADATA_COMPLETE,
        "True",
        "the spec sets every path the Model's policy.requiredMetadata names (or it names none "
        "any more)",
    ),
    ReasonInfo(
        Reason.METADATA_INCOMPLETE,
        METADATA_COMPLETE,
        "False",
        "the spec lacks paths the Model's policy.requiredMetadata names (listed): the version "
        "stays, keeps the stage it holds, and is not promoted; register a new version that sets "
        "them",
    ),
)

REASONS: dict[str, ReasonInfo] = {
    r.name: r
    for r in (
        *_REASONS,
        *_SIGNATURE_REASONS,
        *_VALIDATION_REASONS,
        *_METADATA_REASONS,
        *_LIFECYCLE_REASONS,
    )
}


def is_transient(reason: str) -> bool:
    """Whether a failure with `reason` may clear up without a person (unknown: no)."""
    found = REASONS.get(reason)
    return found is not None and found.transient


def announced(reason: str) -> bool:
    """Whether a condition turning True with `reason` deserves a Normal Event."""
    found = REASONS.get(reason)
    return found is not None and found.announce
