"""Keys and certificates of model signatures, with the `cryptography` package.

The rules are model-signing's, so a signature it accepts is accepted here:

- keys are elliptic-curve keys on P-256, P-384 or P-521, and the signature
  is ECDSA (DER) with SHA-256, SHA-384 or SHA-512 to match the curve;
- a key-signed bundle names its key by a hint, the hex SHA-256 of the
  public key's PEM (SubjectPublicKeyInfo);
- a certificate chain is checked at the signing certificate's notBefore
  (model-signing's bundles carry no timestamp), and that certificate must
  allow digital signatures or code signing.

A key's fingerprint, as the Model's `policy.signing.trustedKeys` lists it,
is `sha256:` and the hex SHA-256 of its DER SubjectPublicKeyInfo: what
`openssl pkey -pubin -outform DER | sha256sum` prints.

Pure: no I/O; keys and certificates come in as bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

CURVES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
FINGERPRINT_PREFIX: Final = "sha256:"


class KeyProblem(ValueError):
    """Key or certificate material that cannot be used; the message says why."""


def _hash_for(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    size = key.curve.key_size
    if size == 256:
        return hashes.SHA256()
    if size == 384:
        return hashes.SHA384()
    return hashes.SHA512()


def _supported(key: object, what: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyProblem(
            f"{what} is not an elliptic-curve key: model signatures use ECDSA keys on "
            "P-256, P-384 or P-521"
        )
    if key.curve.name not in CURVES:
        raise KeyProblem(
            f"{what} is on curve {key.curve.name}, not P-256, P-384 or P-521 (model-signing's)"
        )
    return key


def load_public_key(pem: bytes, what: str = "the key") -> ec.EllipticCurvePublicKey:
    """A PEM public key (`-----BEGIN PUBLIC KEY-----`); KeyProblem otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyProblem(f"{what} is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    return _supported(key, what)


def load_private_key(
    pem: bytes, password: bytes | None = None, what: str = "the signing key"
) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, decrypted with `password` when it is encrypted."""
    try:
        key = serialization.load_pem_private_key(pem, password)
    except TypeError as error:  # a password given for a plain key, or none for an encrypted one
        raise KeyProblem(f"{what}: {error}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyProblem(
            f"{what} is not a PEM private key, or the password does not open it"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyProblem(
            f"{what} is not an elliptic-curve key: model signatures use ECDSA keys on "
            "P-256, P-384 or P-521 (openssl ecparam -name prime256v1 -genkey -noout)"
        )
    _supported(key.public_key(), what)
    return key


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """`sha256:` and the hex SHA-256 of the key's DER SubjectPublicKeyInfo."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return FINGERPRINT_PREFIX + hashlib.sha256(der).hexdigest()


def fingerprints(pem: bytes, what: str = "the file") -> list[tuple[str, str]]:
    """(fingerprint, what it is) of a PEM public key, or of each PEM certificate's key.

    What `modelregistry fingerprint` prints for a Model's trustedKeys: a
    signer's public key, or for certificate signing the root CA's.
    """
    if b"-----BEGIN CERTIFICATE-----" in pem:
        found = []
        for certificate in load_certificates(pem, what):
            subject = certificate.subject.rfc4514_string()
            key = _supported(certificate.public_key(), f"the key of {subject}")
            found.append((fingerprint(key), f"certificate {subject}"))
        return found
    key = load_public_key(pem, what)
    return [(fingerprint(key), f"public key ({CURVES[key.curve.name]})")]


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """model-signing's name for a key in a bundle: hex SHA-256 of its PEM."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def signature_valid(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(_hash_for(key)))
    except InvalidSignature:
        return False
    return True


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(_hash_for(key.public_key())))


# --- certificates ------------------------------------------------------------------------


def load_certificates(pem: bytes, what: str = "the trust root") -> list[x509.Certificate]:
    """Every certificate of a PEM bundle; KeyProblem when there is none."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise KeyProblem(f"{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    return certificates


@dataclass(frozen=True)
class Signer:
    """The signing certificate of a chain that leads to a trusted root."""

    key: ec.EllipticCurvePublicKey
    subject: str  # RFC 4514
    identities: tuple[str, ...]  # the certificate's subject alternative names
    root_fingerprint: str  # of the root's key: what trustedKeys may pin


def verify_chain(chain: Sequence[bytes], roots: Sequence[x509.Certificate]) -> Signer:
    """Check a bundle's chain (DER, signing certificate first) against `roots`.

    At the signing certificate's notBefore, as model-signing checks it; the
    other certificates of the chain may serve as intermediates. KeyProblem
    says what fails.
    """
    try:
        certificates = [x509.load_der_x509_certificate(c) for c in chain]
    except ValueError:
        raise KeyProblem("the bundle's certificate chain holds something that is not DER") from None
    leaf, intermediates = certificates[0], certificates[1:]
    # Code signing, not TLS client auth: the EKU is checked below, as model-signing does.
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(leaf.not_valid_before_utc)
        .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, intermediates)
    except (VerificationError, x509.UnsupportedGeneralNameType) as error:
        raise KeyProblem(
            f"the signing certificate ({leaf.subject.rfc4514_string()}) does not lead to a "
            f"trusted root: {error}"
        ) from None
    if not _may_sign(leaf):
        raise KeyProblem(
            f"the signing certificate ({leaf.subject.rfc4514_string()}) allows neither digital "
            "signatures (keyUsage) nor code signing (extendedKeyUsage)"
        )
    root = verified.chain[-1]
    return Signer(
        key=_supported(leaf.public_key(), "the signing certificate's key"),
        subject=leaf.subject.rfc4514_string(),
        identities=_identities(leaf),
        root_fingerprint=fingerprint(_supported(root.public_key(), "the root's key")),
    )


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if usage.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CODE_SIGNING in extended


def _identities(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    found: list[str] = []
    for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
        found.extend(str(v) for v in names.get_values_for_type(kind))
    return tuple(found)
