"""Step 3b: the artifact's files are the ones its signer signed (SignatureVerified).

Runs after the bytes are verified, on the files that verification hashed:
the same read, not a second one. The bundle (an OpenSSF model-signing
signature, `modelsigning.py`) must verify with the identity the version
names, and its statement must list exactly the artifact's files with
exactly their digests, so the signature covers the bytes of the versionIds
recorded in status.artifact. Only the bundle itself, where it lies among
the files, is not signed.

The first bundle that verifies is pinned by its digest (and versionId):
other bytes at its URI later are refused, as other artifact bytes are. Which
keys count is the Model's business (`policy.signing.trustedKeys`), judged by
the lifecycle's gate: this step says which key verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from modelregistry import conditions as cond
from modelregistry import signingkeys
from modelregistry.api.modelversion import VerifiedArtifact
from modelregistry.api.signing import ArtifactSignature, VerifiedSignature
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import modelsigning
from modelregistry.decisions.modelsigning import BundleError
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.digest import SHA256_PREFIX, FileDigest
from modelregistry.reasons import SIGNATURE_VERIFIED, Reason, is_transient
from modelregistry.signingkeys import KeyProblem

CONDITIONS = (SIGNATURE_VERIFIED,)
FIELD = "spec.artifact.signature"


@dataclass(frozen=True)
class Fetched:
    """The bundle's bytes as read from the store."""

    raw: bytes
    version_id: str | None = None


@dataclass(frozen=True)
class Unavailable:
    """Why the bundle or the trust material could not be read (a reason and what to do)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Trust:
    """The PEM text the version's signature names: a public key, or trust-root certificates."""

    pem: bytes
    source: str  # where it was read, for messages: ConfigMap 'x', key 'y'


@dataclass(frozen=True)
class Observed:
    bundle: Fetched | Unavailable
    trust: Trust | Unavailable
    artifact: VerifiedArtifact  # the verified record the files belong to
    files: tuple[FileDigest, ...]  # every file of that record, as hashed


@dataclass(frozen=True)
class _Verified:
    """A signature that verified: over what statement, by which key (and certificate)."""

    statement: modelsigning.Statement
    fingerprint: str
    signer: str | None = None


def declared(view: VersionView) -> ArtifactSignature | None:
    return view.spec.artifact.signature


def pinned_for(view: VersionView) -> VerifiedSignature | None:
    """The record of the bundle verified before, if it was this URI's."""
    signature, record = declared(view), view.status.artifact_signature
    if signature is None or record is None or record.uri != signature.uri:
        return None
    return record


def needs_check(view: VersionView, hashed: bool) -> bool:
    """Whether this pass verifies the signature.

    Whenever the bytes were hashed; otherwise until it has an answer that
    does not clear up by itself (True, or a failure a person must fix).
    """
    if declared(view) is None:
        return False
    if hashed:
        return True
    found = cond.find(view.status.conditions, SIGNATURE_VERIFIED)
    return found is None or found.status == "Unknown" or is_transient(found.reason)


def files_of(record: VerifiedArtifact) -> tuple[FileDigest, ...] | None:
    """The files a verified record lists, or None when it lists only some of them."""
    if not record.uri.endswith("/"):
        name = record.uri.rsplit("/", 1)[-1]
        return (FileDigest(name, record.digest.removeprefix(SHA256_PREFIX), record.size),)
    if len(record.files) != record.file_count:
        return None
    return tuple(
        FileDigest(f.path, f.digest.removeprefix(SHA256_PREFIX), f.size, f.version_id)
        for f in record.files
    )


def decide(view: VersionView, observed: Observed) -> StepResult:
    signature = declared(view)
    assert signature is not None  # the reconciler asks only for a declared signature
    failure = _unavailable(observed)
    if failure is not None:
        return _failed(failure.reason, failure.message)
    assert isinstance(observed.bundle, Fetched) and isinstance(observed.trust, Trust)
    bundle_digest = SHA256_PREFIX + hashlib.sha256(observed.bundle.raw).hexdigest()
    pinned = pinned_for(view)
    if pinned is not None and pinned.digest != bundle_digest:
        versions = ""
        if pinned.version_id and observed.bundle.version_id != pinned.version_id:
            versions = f" (versionId {pinned.version_id} -> {observed.bundle.version_id})"
        return _failed(
            Reason.SIGNATURE_CHANGED,
            f"The bundle at {signature.uri} ({FIELD}.uri) changed after it was verified: it was "
            f"{pinned.digest}, it is now {bundle_digest}{versions}. Restore the verified bundle, "
            "or register the model again as a new ModelVersion.",
        )
    try:
        bundle = modelsigning.parse_bundle(observed.bundle.raw)
    except BundleError as error:
        return _invalid(signature, f"is not a model-signing bundle: {error}")
    try:
        verified = _verify(signature, bundle, observed.trust)
    except _Refused as refused:
        return _failed(refused.reason, refused.message)
    artifact = observed.artifact
    differences = modelsigning.compare(
        verified.statement,
        observed.files,
        single_object=_single_object(artifact),
        exempt=_exempt(artifact.uri, signature.uri),
    )
    if differences:
        return _failed(
            Reason.FILES_DIFFER,
            f"The files of {artifact.uri} ({artifact.digest}) are not the ones {signature.uri} "
            f"signs: {differences.describe()}. Sign exactly the artifact's files, or register "
            "the signed files as a new ModelVersion.",
        )
    record = VerifiedSignature(
        uri=signature.uri,
        digest=bundle_digest,
        version_id=observed.bundle.version_id,
        method="certificate" if signature.certificate is not None else "key",
        key_fingerprint=verified.fingerprint,
        signer=verified.signer,
        files=len(verified.statement.resources),
        artifact_digest=artifact.digest,
        verified_at=cond.format_time(view.now),
    )
    return StepResult(
        (DesiredCondition(SIGNATURE_VERIFIED, "True", Reason.SIGNED, _signed(record, artifact)),),
        status={"artifact_signature": record},
    )


class _Refused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _unavailable(observed: Observed) -> Unavailable | None:
    """The first thing that could not be read: the bundle before the trust material."""
    for item in (observed.bundle, observed.trust):
        if isinstance(item, Unavailable):
            return item
    return None


def _verify(signature: ArtifactSignature, bundle: modelsigning.Bundle, trust: Trust) -> _Verified:
    """Check the signature over the payload with the version's identity; read the statement."""
    if signature.certificate is not None:
        key, fingerprint, signer = _certificate_key(signature, bundle, trust)
        verifier = f"the signing certificate's key (root {fingerprint})"
    else:
        key, signer = _public_key(signature, bundle, trust), None
        fingerprint = signingkeys.fingerprint(key)
        verifier = f"the key in {trust.source} ({fingerprint})"
    if not signingkeys.signature_valid(
        key, bundle.signature, modelsigning.pae(bundle.payload_type, bundle.payload)
    ):
        raise _invalid_error(
            signature,
            f"does not verify with {verifier}: its payload or signature was altered, or another "
            "key signed it",
        )
    try:
        statement = modelsigning.parse_statement(bundle.payload_type, bundle.payload)
    except BundleError as error:
        raise _invalid_error(signature, f"signs something else than a model: {error}") from None
    return _Verified(statement, fingerprint, signer)


def _public_key(
    signature: ArtifactSignature, bundle: modelsigning.Bundle, trust: Trust
) -> EllipticCurvePublicKey:
    if bundle.certificates:
        raise _invalid_error(
            signature,
            f"is signed with a certificate, not a key: set {FIELD}.certificate to its trust "
            "root instead of publicKey",
        )
    try:
        key = signingkeys.load_public_key(trust.pem, trust.source)
    except KeyProblem as problem:
        raise _Refused(Reason.KEY_INVALID, _fix_key(problem, f"{FIELD}.publicKey")) from None
    # model-signing names the key it signed with; another key's signature cannot verify.
    if bundle.key_hint is not None and bundle.key_hint != signingkeys.key_hint(key):
        raise _invalid_error(
            signature,
            f"was signed with another key than the one in {trust.source} "
            f"({signingkeys.fingerprint(key)})",
        )
    return key


def _certificate_key(
    signature: ArtifactSignature, bundle: modelsigning.Bundle, trust: Trust
) -> tuple[EllipticCurvePublicKey, str, str]:
    """The signing certificate's key, its root's fingerprint, and who it names."""
    assert signature.certificate is not None
    if not bundle.certificates:
        raise _invalid_error(
            signature,
            f"is signed with a key, not a certificate: name the key in {FIELD}.publicKey",
        )
    try:
        roots = signingkeys.load_certificates(trust.pem, trust.source)
    except KeyProblem as problem:
        raise _Refused(
            Reason.KEY_INVALID, _fix_key(problem, f"{FIELD}.certificate.trustRoot")
        ) from None
    try:
        signer = signingkeys.verify_chain(bundle.certificates, roots)
    except KeyProblem as problem:
        raise _invalid_error(signature, f"is not trusted by {trust.source}: {problem}") from None
    named = ", ".join(signer.identities)
    expected = signature.certificate.identity
    if expected is not None and expected not in signer.identities:
        raise _Refused(
            Reason.SIGNATURE_INVALID,
            f"The bundle at {signature.uri} was signed by {signer.subject} (alternative names: "
            f"{named or 'none'}), not by {expected!r} ({FIELD}.certificate.identity). Sign with "
            "a certificate of that identity, or register the model again as a new ModelVersion "
            "naming the signer's.",
        )
    who = f"{signer.subject} ({named})" if named else signer.subject
    return signer.key, signer.root_fingerprint, who


def _invalid_error(signature: ArtifactSignature, problem: str) -> _Refused:
    return _Refused(Reason.SIGNATURE_INVALID, _invalid_message(signature, problem))


def _invalid_message(signature: ArtifactSignature, problem: str) -> str:
    return (
        f"The bundle at {signature.uri} ({FIELD}.uri) {problem}. Upload a valid signature there "
        "(checked again periodically), or register the model again as a new ModelVersion."
    )


def _invalid(signature: ArtifactSignature, problem: str) -> StepResult:
    return _failed(Reason.SIGNATURE_INVALID, _invalid_message(signature, problem))


def _fix_key(problem: KeyProblem, field: str) -> str:
    return f"{problem} ({field}). Put the PEM text there; the operator looks again."


def _failed(reason: str, message: str) -> StepResult:
    """SignatureVerified False; the record pinned before stays, so its digest still binds."""
    condition = DesiredCondition(SIGNATURE_VERIFIED, "False", reason, message)
    return StepResult((condition,), proceed=False, retry=is_transient(reason))


def _single_object(artifact: VerifiedArtifact) -> str | None:
    """The object's name, when the artifact is one object (not a prefix)."""
    return None if artifact.uri.endswith("/") else artifact.uri.rsplit("/", 1)[-1]


def _exempt(artifact_uri: str, bundle_uri: str) -> str | None:
    """The bundle's path among the artifact's files, when it lies under the prefix."""
    if artifact_uri.endswith("/") and bundle_uri.startswith(artifact_uri):
        return bundle_uri[len(artifact_uri) :]
    return None


def _signed(record: VerifiedSignature, artifact: VerifiedArtifact) -> str:
    versions = f", versionId {artifact.version_id}" if artifact.version_id else ""
    if artifact.file_count > 1 and any(f.version_id for f in artifact.files):
        versions = ", at the versionIds in status.artifact.files"
    who = f"certificate of {record.signer}, root key" if record.method == "certificate" else "key"
    return (
        f"{record.uri} signs the {record.files} file{'s' * (record.files != 1)} of "
        f"{artifact.uri} ({artifact.digest}{versions}) with {who} {record.key_fingerprint}."
    )


def kept(view: VersionView) -> StepResult:
    """No check on this pass: the condition stands."""
    found = cond.find(view.status.conditions, SIGNATURE_VERIFIED)
    if found is None:
        return StepResult(
            (
                DesiredCondition(
                    SIGNATURE_VERIFIED,
                    "Unknown",
                    Reason.SIGNATURE_PENDING,
                    "The signature is checked once the artifact's bytes are verified.",
                ),
            ),
            proceed=False,
        )
    condition = DesiredCondition(found.type, found.status, found.reason, found.message)
    return StepResult((condition,), proceed=found.status == "True")
