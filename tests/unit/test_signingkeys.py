"""Keys and certificates of model signatures: what is accepted, what is refused, and why."""

from __future__ import annotations

import datetime
import hashlib
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from modelregistry import signingkeys
from modelregistry.signingkeys import KeyProblem


def public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: object, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    assert hasattr(key, "private_bytes")
    raw: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return raw


def test_the_fingerprint_is_what_openssl_prints() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=public_pem(key),
        capture_output=True,
        check=True,
    ).stdout
    expected = "sha256:" + hashlib.sha256(der).hexdigest()
    assert signingkeys.fingerprint(signingkeys.load_public_key(public_pem(key))) == expected


def test_the_key_hint_is_the_sha256_of_the_pem() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    assert signingkeys.key_hint(key.public_key()) == hashlib.sha256(public_pem(key)).hexdigest()


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [
        (ec.SECP256R1(), hashes.SHA256()),
        (ec.SECP384R1(), hashes.SHA384()),
        (ec.SECP521R1(), hashes.SHA512()),
    ],
)
def test_signatures_use_the_hash_that_matches_the_curve(
    curve: ec.EllipticCurve, algorithm: hashes.HashAlgorithm
) -> None:
    key = ec.generate_private_key(curve)
    signature = signingkeys.sign(key, b"data")
    key.public_key().verify(signature, b"data", ec.ECDSA(algorithm))  # raises if not
    assert signingkeys.signature_valid(key.public_key(), signature, b"data")
    assert not signingkeys.signature_valid(key.public_key(), signature, b"other data")
    other = ec.generate_private_key(curve)
    assert not signingkeys.signature_valid(other.public_key(), signature, b"data")


def test_a_signature_with_another_hash_does_not_verify() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    signature = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert not signingkeys.signature_valid(key.public_key(), signature, b"data")


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        (b"not a key", "not a PEM public key"),
        (b"", "not a PEM public key"),
        (public_pem(rsa.generate_private_key(65537, 2048)), "not an elliptic-curve key"),
        (
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "not an elliptic-curve key",
        ),
        (public_pem(ec.generate_private_key(ec.SECP256K1())), "secp256k1, not P-256"),
    ],
)
def test_public_keys_that_are_refused(pem: bytes, problem: str) -> None:
    with pytest.raises(KeyProblem, match=problem):
        signingkeys.load_public_key(pem, "ConfigMap 'keys'")
    with pytest.raises(KeyProblem, match=r"^ConfigMap 'keys'"):
        signingkeys.load_public_key(pem, "ConfigMap 'keys'")


def test_a_private_key_with_a_password() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = private_pem(key, b"secret")
    loaded = signingkeys.load_private_key(pem, b"secret")
    assert signingkeys.fingerprint(loaded.public_key()) == signingkeys.fingerprint(key.public_key())
    with pytest.raises(KeyProblem, match="password does not open it"):
        signingkeys.load_private_key(pem, b"wrong")
    with pytest.raises(KeyProblem, match=r"signing key k\.pem: "):
        signingkeys.load_private_key(pem, None, "signing key k.pem")
    with pytest.raises(KeyProblem, match="signing key"):
        signingkeys.load_private_key(private_pem(key), b"unneeded")


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (rsa.generate_private_key(65537, 2048), "not an elliptic-curve key"),
        (ec.generate_private_key(ec.SECP256K1()), "secp256k1"),
    ],
)
def test_private_keys_that_are_refused(key: object, problem: str) -> None:
    with pytest.raises(KeyProblem, match=problem):
        signingkeys.load_private_key(private_pem(key))


def test_a_private_key_that_is_not_pem() -> None:
    with pytest.raises(KeyProblem, match="not a PEM private key"):
        signingkeys.load_private_key(b"-----BEGIN PRIVATE KEY-----\nxx\n")


# --- certificates ------------------------------------------------------------------------

NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=not sign and not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    sign: bool = True,
    code_signing: bool = False,
    names: tuple[x509.GeneralName, ...] = (),
    start: datetime.datetime = NOW - datetime.timedelta(hours=1),
    days: int = 1,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(sign=sign, ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if code_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


class PKI:
    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = make_certificate("Root", self.root_key, "Root", self.root_key, ca=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = make_certificate("CA", self.ca_key, "Root", self.root_key, ca=True)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())

    def leaf(self, **options: object) -> x509.Certificate:
        return make_certificate("signer", self.leaf_key, "CA", self.ca_key, **options)  # type: ignore[arg-type]


def test_a_chain_through_an_intermediate_names_the_signer_and_the_root() -> None:
    pki = PKI()
    names = (
        x509.RFC822Name("ml@example.com"),
        x509.UniformResourceIdentifier("https://ci.example.com/train"),
        x509.DNSName("trainer.example.com"),
    )
    leaf = pki.leaf(names=names)
    signer = signingkeys.verify_chain([der(leaf), der(pki.ca)], [pki.root])
    assert signer.subject == "CN=signer"
    assert signer.identities == (
        "ml@example.com",
        "https://ci.example.com/train",
        "trainer.example.com",
    )
    assert signer.root_fingerprint == signingkeys.fingerprint(pki.root_key.public_key())
    assert signingkeys.fingerprint(signer.key) == signingkeys.fingerprint(pki.leaf_key.public_key())


def test_the_intermediate_may_come_from_the_trust_root_and_code_signing_suffices() -> None:
    pki = PKI()
    leaf = pki.leaf(sign=False, code_signing=True)
    signer = signingkeys.verify_chain([der(leaf)], [pki.root, pki.ca])
    assert signer.identities == ()
    assert signer.root_fingerprint in {
        signingkeys.fingerprint(pki.root_key.public_key()),
        signingkeys.fingerprint(pki.ca_key.public_key()),
    }


def test_a_certificate_that_may_not_sign_is_refused() -> None:
    pki = PKI()
    with pytest.raises(KeyProblem, match="allows neither digital signatures"):
        signingkeys.verify_chain([der(pki.leaf(sign=False)), der(pki.ca)], [pki.root])


def test_a_chain_to_another_root_is_refused() -> None:
    pki, other = PKI(), PKI()
    with pytest.raises(KeyProblem, match=r"\(CN=signer\) does not lead to a trusted root"):
        signingkeys.verify_chain([der(pki.leaf()), der(pki.ca)], [other.root])


def test_the_chain_is_checked_when_the_certificate_was_issued() -> None:
    # model-signing's rule: no timestamp in the bundle, so the certificate's notBefore.
    pki = PKI()
    old = NOW - datetime.timedelta(days=30)
    pki.root = make_certificate(
        "Root", pki.root_key, "Root", pki.root_key, ca=True, start=old, days=60
    )
    pki.ca = make_certificate("CA", pki.ca_key, "Root", pki.root_key, ca=True, start=old, days=60)
    expired = pki.leaf(start=old, days=1)
    assert signingkeys.verify_chain([der(expired), der(pki.ca)], [pki.root]).subject == "CN=signer"
    # A certificate issued before its CA was valid is refused.
    early = pki.leaf(start=old - datetime.timedelta(days=1))
    with pytest.raises(KeyProblem, match="does not lead to a trusted root"):
        signingkeys.verify_chain([der(early), der(pki.ca)], [pki.root])


def test_a_chain_that_is_not_der_is_refused() -> None:
    with pytest.raises(KeyProblem, match="not DER"):
        signingkeys.verify_chain([b"junk"], [PKI().root])


def test_a_trust_root_without_certificates_is_refused() -> None:
    with pytest.raises(KeyProblem, match=r"^ConfigMap 'ca' holds no PEM certificate"):
        signingkeys.load_certificates(b"-----BEGIN PUBLIC KEY-----\n", "ConfigMap 'ca'")
    pki = PKI()
    pems = pki.root.public_bytes(serialization.Encoding.PEM) + pki.ca.public_bytes(
        serialization.Encoding.PEM
    )
    assert signingkeys.load_certificates(pems) == [pki.root, pki.ca]
