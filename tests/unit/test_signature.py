"""The signature step (SignatureVerified): each outcome, its reason, message and record."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelregistry import signingkeys
from modelregistry.api.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    VerifiedArtifact,
    VerifiedFile,
)
from modelregistry.api.signing import VerifiedSignature
from modelregistry.client.signing import signed_bundle
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import modelsigning, signature
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.decisions.signature import Fetched, Observed, Trust, Unavailable
from modelregistry.digest import FileDigest, prefix_artifact
from modelregistry.reasons import SIGNATURE_VERIFIED
from tests.certificates import certificate
from tests.unit.builders import NOW, NOW_TEXT, condition, make_view

PREFIX = "s3://models/churn/3/"
BUNDLE_URI = PREFIX + "model.sig"
OBJECT = "s3://models/churn/model.onnx"
SOURCE = "ConfigMap 'keys' key 'team.pub'"
HEX_A, HEX_B, HEX_C = "a" * 64, "b" * 64, "c" * 64

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
FINGERPRINT = signingkeys.fingerprint(KEY.public_key())


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


KEY_PEM = pem(KEY)


def spec(uri: str = PREFIX, bundle: str = BUNDLE_URI, **identity: Any) -> ModelVersionSpec:
    chosen = identity or {"publicKey": {"name": "keys", "key": "team.pub"}}
    return ModelVersionSpec.model_validate(
        {
            "modelRef": {"name": "churn"},
            "artifact": {"uri": uri, "signature": {"uri": bundle, **chosen}},
        }
    )


FILES = (
    FileDigest("config.json", HEX_A, 10, "v-config"),
    FileDigest("weights/w.bin", HEX_B, 100, "v-weights"),
)


def bundle_file(raw: bytes) -> FileDigest:
    return FileDigest("model.sig", hashlib.sha256(raw).hexdigest(), len(raw), "v-sig")


def prefix_record(files: tuple[FileDigest, ...]) -> VerifiedArtifact:
    hashed = prefix_artifact(files)
    return VerifiedArtifact(
        uri=PREFIX,
        digest=hashed.digest,
        size=hashed.size,
        file_count=len(files),
        files=[
            VerifiedFile(path=f.path, digest=f.digest, size=f.size, version_id=f.version_id)
            for f in hashed.files
        ],
        verified_at=NOW_TEXT,
    )


def signed(files: tuple[FileDigest, ...] = FILES, key: ec.EllipticCurvePrivateKey = KEY) -> bytes:
    return signed_bundle(files, key, model_name="3", single_object=False)


def observe(
    raw: bytes | Unavailable,
    trust: bytes | Unavailable = KEY_PEM,
    files: tuple[FileDigest, ...] = FILES,
    *,
    inside: bool = True,
) -> Observed:
    """The bundle `raw` (inside the prefix: one of the files) against `files` as hashed."""
    bundle = raw if isinstance(raw, Unavailable) else Fetched(raw, "v-sig")
    there = files
    if inside and not isinstance(raw, Unavailable):
        there = (*files, bundle_file(raw))
    return Observed(
        bundle=bundle,
        trust=trust if isinstance(trust, Unavailable) else Trust(trust, SOURCE),
        artifact=prefix_record(there),
        files=there,
    )


def view(status: ModelVersionStatus | None = None, **options: Any) -> VersionView:
    return make_view(spec(**options), status)


def only(result: StepResult) -> DesiredCondition:
    (found,) = result.conditions
    assert found.type == SIGNATURE_VERIFIED
    return found


def refused(result: StepResult, reason: str) -> str:
    found = only(result)
    assert (found.status, found.reason) == ("False", reason)
    assert result.proceed is False
    assert "artifact_signature" not in result.status  # a record pinned before stays
    return found.message


# --- verified --------------------------------------------------------------------------


def test_a_prefix_signed_with_its_files_verifies_and_is_recorded() -> None:
    raw = signed()
    observed = observe(raw)
    result = signature.decide(view(), observed)

    artifact = observed.artifact
    assert only(result) == DesiredCondition(
        SIGNATURE_VERIFIED,
        "True",
        "Signed",
        f"{BUNDLE_URI} signs the 2 files of {PREFIX} ({artifact.digest}, at the versionIds in "
        f"status.artifact.files) with key {FINGERPRINT}.",
    )
    assert result.proceed is True
    assert result.retry is False
    assert result.status == {
        "artifact_signature": VerifiedSignature(
            uri=BUNDLE_URI,
            digest="sha256:" + hashlib.sha256(raw).hexdigest(),
            version_id="v-sig",
            method="key",
            key_fingerprint=FINGERPRINT,
            signer=None,
            files=2,
            artifact_digest=artifact.digest,
            verified_at=NOW_TEXT,
        )
    }


def test_a_single_object_signed_as_dot_verifies() -> None:
    weights = FileDigest("churn/model.onnx", HEX_C, 7, "v9")
    raw = signed_bundle((weights,), KEY, model_name="model.onnx", single_object=True)
    record = VerifiedArtifact(
        uri=OBJECT,
        digest="sha256:" + HEX_C,
        size=7,
        file_count=1,
        version_id="v9",
        verified_at=NOW_TEXT,
    )
    observed = Observed(Fetched(raw, None), Trust(pem(KEY), SOURCE), record, (weights,))
    result = signature.decide(view(uri=OBJECT, bundle=OBJECT + ".sig"), observed)
    assert only(result).message == (
        f"{OBJECT}.sig signs the 1 file of {OBJECT} (sha256:{HEX_C}, versionId v9) with key "
        f"{FINGERPRINT}."
    )
    assert result.status["artifact_signature"].version_id is None


def test_a_bundle_next_to_the_prefix_needs_no_exemption() -> None:
    raw = signed()
    outside = "s3://models/churn/3.sig"
    result = signature.decide(view(bundle=outside), observe(raw, inside=False))
    assert only(result).status == "True"
    # Inside the prefix, it would have been the one file not signed.
    assert signature.decide(view(bundle=outside), observe(raw)).conditions[0].reason == (
        "FilesDiffer"
    )


def test_the_same_bundle_verifies_again_later() -> None:
    raw = signed()
    first = signature.decide(view(), observe(raw))
    again = make_view(
        spec(),
        ModelVersionStatus(artifact_signature=first.status["artifact_signature"]),
        now=NOW + datetime.timedelta(hours=1),
    )
    result = signature.decide(again, observe(raw))
    assert only(result).status == "True"
    assert result.status["artifact_signature"].verified_at != NOW_TEXT


# --- not readable yet ---------------------------------------------------------------------


def test_a_bundle_that_cannot_be_read_says_so_and_is_retried() -> None:
    missing = Unavailable("SignatureMissing", "Nothing found at the bundle's URI.")
    result = signature.decide(view(), observe(missing))
    assert refused(result, "SignatureMissing") == "Nothing found at the bundle's URI."
    assert result.retry is True


def test_a_key_that_cannot_be_read_says_so_and_is_retried() -> None:
    result = signature.decide(view(), observe(signed(), Unavailable("KeyNotFound", "No key.")))
    assert refused(result, "KeyNotFound") == "No key."
    assert result.retry is True


def test_the_bundle_is_said_before_the_key() -> None:
    result = signature.decide(
        view(), observe(Unavailable("SignatureUnreadable", "b"), Unavailable("KeyNotFound", "k"))
    )
    assert refused(result, "SignatureUnreadable") == "b"


def test_a_key_that_is_not_a_key_is_retried_after_the_fix() -> None:
    result = signature.decide(view(), observe(signed(), b"-----BEGIN CERTIFICATE-----"))
    assert refused(result, "KeyInvalid") == (
        f"{SOURCE} is not a PEM public key (-----BEGIN PUBLIC KEY-----) "
        "(spec.artifact.signature.publicKey). Put the PEM text there; the operator looks again."
    )
    assert result.retry is True


# --- refused --------------------------------------------------------------------------------


def invalid(problem: str) -> str:
    return (
        f"The bundle at {BUNDLE_URI} (spec.artifact.signature.uri) {problem}. Upload a valid "
        "signature there (checked again periodically), or register the model again as a new "
        "ModelVersion."
    )


def test_a_bundle_changed_after_it_was_verified_is_refused() -> None:
    first = signature.decide(view(), observe(signed())).status["artifact_signature"]
    other = signed()  # ECDSA signatures differ each time: other bytes, same meaning
    result = signature.decide(view(ModelVersionStatus(artifact_signature=first)), observe(other))
    now = "sha256:" + hashlib.sha256(other).hexdigest()
    message = refused(result, "SignatureChanged")
    assert message == (
        f"The bundle at {BUNDLE_URI} (spec.artifact.signature.uri) changed after it was "
        f"verified: it was {first.digest}, it is now {now}. Restore the verified bundle, or "
        "register the model again as a new ModelVersion."
    )
    assert result.retry is False


def test_a_changed_bundle_names_both_version_ids() -> None:
    first = signature.decide(view(), observe(signed())).status["artifact_signature"]
    pinned = first.model_copy(update={"version_id": "v-old"})
    result = signature.decide(
        view(ModelVersionStatus(artifact_signature=pinned)), observe(signed())
    )
    assert "(versionId v-old -> v-sig)" in refused(result, "SignatureChanged")


def test_a_record_of_another_uri_pins_nothing() -> None:
    first = signature.decide(view(), observe(signed())).status["artifact_signature"]
    elsewhere = first.model_copy(update={"uri": "s3://models/other.sig"})
    result = signature.decide(
        view(ModelVersionStatus(artifact_signature=elsewhere)), observe(signed())
    )
    assert only(result).status == "True"


def test_what_is_not_a_bundle_is_refused() -> None:
    result = signature.decide(view(), observe(b"not json"))
    assert refused(result, "SignatureInvalid") == invalid(
        "is not a model-signing bundle: it is not JSON: a model-signing bundle is a JSON document"
    )
    assert result.retry is False


def test_a_signature_by_another_key_is_refused_naming_the_key() -> None:
    result = signature.decide(view(), observe(signed(key=OTHER)))
    assert refused(result, "SignatureInvalid") == invalid(
        f"was signed with another key than the one in {SOURCE} ({FINGERPRINT})"
    )


def test_a_signature_by_another_key_without_a_hint_does_not_verify() -> None:
    document = json.loads(signed(key=OTHER))
    document["verificationMaterial"]["publicKey"] = {}
    result = signature.decide(view(), observe(json.dumps(document).encode()))
    assert refused(result, "SignatureInvalid") == invalid(
        f"does not verify with the key in {SOURCE} ({FINGERPRINT}): its payload or signature was "
        "altered, or another key signed it"
    )


def test_an_altered_payload_does_not_verify() -> None:
    document = json.loads(signed())
    payload = modelsigning.payload_bytes(
        modelsigning.statement_for(
            (FileDigest("config.json", HEX_C, 1), FILES[1]), model_name="3", single_object=False
        )
    )
    document["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    result = signature.decide(view(), observe(json.dumps(document).encode()))
    assert "does not verify with the key" in refused(result, "SignatureInvalid")


def test_a_signed_payload_that_is_not_a_model_statement_is_refused() -> None:
    payload = json.dumps(
        {"_type": "https://in-toto.io/Statement/v1", "predicateType": "x"}
    ).encode()
    sig = signingkeys.sign(KEY, modelsigning.pae(modelsigning.PAYLOAD_TYPE, payload))
    raw = modelsigning.bundle_bytes(payload, sig, key_hint=signingkeys.key_hint(KEY.public_key()))
    assert refused(signature.decide(view(), observe(raw)), "SignatureInvalid") == invalid(
        "signs something else than a model: its predicateType is 'x', not "
        "'https://model_signing/signature/v1.0'"
    )


def test_files_added_removed_or_changed_are_named() -> None:
    raw = signed()
    there = (FileDigest("config.json", HEX_C, 10), FileDigest("extra.py", HEX_A, 1))
    observed = observe(raw, files=there)
    result = signature.decide(view(), observed)
    assert refused(result, "FilesDiffer") == (
        f"The files of {PREFIX} ({observed.artifact.digest}) are not the ones {BUNDLE_URI} signs: "
        "not signed: extra.py; signed but missing: weights/w.bin; changed since signing: "
        "config.json. Sign exactly the artifact's files, or register the signed files as a new "
        "ModelVersion."
    )
    assert result.retry is False


def test_a_certificate_bundle_where_a_key_is_named_is_refused() -> None:
    pki = PKI()
    result = signature.decide(view(), observe(pki.bundle()))
    assert refused(result, "SignatureInvalid") == invalid(
        "is signed with a certificate, not a key: set spec.artifact.signature.certificate to its "
        "trust root instead of publicKey"
    )


# --- certificates ------------------------------------------------------------------------


class PKI:
    def __init__(self, email: str | None = "ml@example.com") -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.root = certificate("Root", self.root_key, "Root", self.root_key, ca=True)
        self.leaf = certificate(
            "signer", self.leaf_key, "Root", self.root_key, ca=False, email=email
        )

    def roots(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def bundle(self, files: tuple[FileDigest, ...] = FILES) -> bytes:
        statement = modelsigning.statement_for(files, model_name="3", single_object=False)
        payload = modelsigning.payload_bytes(statement)
        sig = signingkeys.sign(self.leaf_key, modelsigning.pae(modelsigning.PAYLOAD_TYPE, payload))
        chain = [self.leaf.public_bytes(serialization.Encoding.DER)]
        return modelsigning.bundle_bytes(payload, sig, certificates=chain)


def by_certificate(identity: str | None = None) -> dict[str, Any]:
    trust: dict[str, Any] = {"trustRoot": {"name": "ca", "key": "roots.pem"}}
    if identity is not None:
        trust["identity"] = identity
    return {"certificate": trust}


def test_a_certificate_that_leads_to_the_trust_root_verifies() -> None:
    pki = PKI()
    result = signature.decide(
        view(**by_certificate("ml@example.com")), observe(pki.bundle(), pki.roots())
    )
    root = signingkeys.fingerprint(pki.root_key.public_key())
    assert only(result).status == "True"
    assert only(result).message.endswith(
        f"with certificate of CN=signer (ml@example.com), root key {root}."
    )
    record = result.status["artifact_signature"]
    assert (record.method, record.key_fingerprint, record.signer) == (
        "certificate",
        root,
        "CN=signer (ml@example.com)",
    )


def test_a_certificate_without_alternative_names_verifies_when_no_identity_is_asked() -> None:
    pki = PKI(email=None)
    result = signature.decide(view(**by_certificate()), observe(pki.bundle(), pki.roots()))
    assert result.status["artifact_signature"].signer == "CN=signer"


def test_a_certificate_of_another_identity_is_refused() -> None:
    pki = PKI()
    result = signature.decide(
        view(**by_certificate("ops@example.com")), observe(pki.bundle(), pki.roots())
    )
    assert refused(result, "SignatureInvalid") == (
        f"The bundle at {BUNDLE_URI} was signed by CN=signer (alternative names: "
        "ml@example.com), not by 'ops@example.com' (spec.artifact.signature.certificate."
        "identity). Sign with a certificate of that identity, or register the model again as a "
        "new ModelVersion naming the signer's."
    )


def test_a_certificate_of_another_root_is_refused() -> None:
    pki, other = PKI(), PKI()
    result = signature.decide(view(**by_certificate()), observe(pki.bundle(), other.roots()))
    assert refused(result, "SignatureInvalid").startswith(
        f"The bundle at {BUNDLE_URI} (spec.artifact.signature.uri) is not trusted by {SOURCE}: "
        "the signing certificate (CN=signer) does not lead to a trusted root"
    )


def test_a_trust_root_without_certificates_is_retried() -> None:
    pki = PKI()
    result = signature.decide(view(**by_certificate()), observe(pki.bundle(), pem(KEY)))
    assert refused(result, "KeyInvalid") == (
        f"{SOURCE} holds no PEM certificate (-----BEGIN CERTIFICATE-----) "
        "(spec.artifact.signature.certificate.trustRoot). Put the PEM text there; the operator "
        "looks again."
    )


def test_a_key_bundle_where_a_certificate_is_named_is_refused() -> None:
    pki = PKI()
    result = signature.decide(view(**by_certificate()), observe(signed(), pki.roots()))
    assert refused(result, "SignatureInvalid") == invalid(
        "is signed with a key, not a certificate: name the key in spec.artifact.signature.publicKey"
    )


def test_a_certificate_bundle_signed_by_another_key_does_not_verify() -> None:
    pki = PKI()
    document = json.loads(pki.bundle())
    other = json.loads(signed())
    document["dsseEnvelope"]["signatures"] = other["dsseEnvelope"]["signatures"]
    result = signature.decide(
        view(**by_certificate()), observe(json.dumps(document).encode(), pki.roots())
    )
    root = signingkeys.fingerprint(pki.root_key.public_key())
    assert refused(result, "SignatureInvalid") == invalid(
        f"does not verify with the signing certificate's key (root {root}): its payload or "
        "signature was altered, or another key signed it"
    )


# --- when to check, and on which files ------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "hashed", "expected"),
    [
        ([], False, True),
        ([], True, True),
        ([condition(SIGNATURE_VERIFIED, "True", "Signed")], False, False),
        ([condition(SIGNATURE_VERIFIED, "True", "Signed")], True, True),
        ([condition(SIGNATURE_VERIFIED, "False", "FilesDiffer")], False, False),
        ([condition(SIGNATURE_VERIFIED, "False", "KeyNotFound")], False, True),
        ([condition(SIGNATURE_VERIFIED, "False", "SignatureMissing")], False, True),
        ([condition(SIGNATURE_VERIFIED, "Unknown", "SignaturePending")], False, True),
    ],
)
def test_a_check_is_due_when_hashed_or_until_settled(
    conditions: list[Any], hashed: bool, expected: bool
) -> None:
    assert (
        signature.needs_check(view(ModelVersionStatus(conditions=conditions)), hashed) is expected
    )


def test_no_check_without_a_declared_signature() -> None:
    assert signature.needs_check(make_view(), hashed=True) is False


def test_the_record_serves_as_the_files_when_it_lists_them_all() -> None:
    record = prefix_record(FILES)
    assert signature.files_of(record) == tuple(sorted(FILES, key=lambda f: f.path.encode()))
    listed_some = record.model_copy(update={"file_count": 3})
    assert signature.files_of(listed_some) is None
    one = VerifiedArtifact(
        uri=OBJECT, digest="sha256:" + HEX_C, size=5, file_count=1, version_id="v", verified_at="t"
    )
    assert signature.files_of(one) == (FileDigest("model.onnx", HEX_C, 5),)
    # A prefix of one file is a prefix: its record lists it.
    lone = prefix_record(FILES[:1])
    assert signature.files_of(lone) == (FILES[0],)


def test_the_record_s_files_verify_as_the_hashed_ones_do() -> None:
    raw = signed()
    hashed = observe(raw)
    from_record = Observed(
        hashed.bundle, hashed.trust, hashed.artifact, signature.files_of(hashed.artifact) or ()
    )
    assert only(signature.decide(view(), from_record)).status == "True"


def test_kept_stands_as_it_was() -> None:
    kept = signature.kept(
        view(
            ModelVersionStatus(
                conditions=[
                    condition(SIGNATURE_VERIFIED, "False", "FilesDiffer", "the files differ")
                ]
            )
        )
    )
    assert kept.conditions == (
        DesiredCondition(SIGNATURE_VERIFIED, "False", "FilesDiffer", "the files differ"),
    )
    assert kept.proceed is False
    good = signature.kept(
        view(ModelVersionStatus(conditions=[condition(SIGNATURE_VERIFIED, "True", "Signed", "ok")]))
    )
    assert good.proceed is True
    first = signature.kept(view())
    assert first.conditions == (
        DesiredCondition(
            SIGNATURE_VERIFIED,
            "Unknown",
            "SignaturePending",
            "The signature is checked once the artifact's bytes are verified.",
        ),
    )
    assert first.proceed is False
