"""`modelregistry fingerprint`: what a Model's policy.signing.trustedKeys lists, from PEM files."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from modelregistry import cli, signingkeys
from modelregistry.signingkeys import KeyProblem
from tests.unit.test_signingkeys import NOW, PKI, public_pem


def openssl_fingerprint(pem: bytes) -> str:
    """What `openssl pkey -pubin -outform DER | sha256sum` says, independently of the code."""
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, capture_output=True, check=True
    ).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def certificate_pem(*certificates: object) -> bytes:
    return b"".join(
        c.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]
        for c in certificates
    )


def test_a_public_key_s_fingerprint_names_its_curve() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = public_pem(key)
    assert signingkeys.fingerprints(pem) == [(openssl_fingerprint(pem), "public key (P-384)")]


def test_each_certificate_s_key_is_fingerprinted_with_its_subject() -> None:
    pki = PKI()
    found = signingkeys.fingerprints(certificate_pem(pki.root, pki.ca))
    assert found == [
        (openssl_fingerprint(public_pem(pki.root_key)), "certificate CN=Root"),
        (openssl_fingerprint(public_pem(pki.ca_key)), "certificate CN=CA"),
    ]


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        (b"not a key", "keys.pem is not a PEM public key"),
        (
            public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "keys.pem is not an elliptic-curve key",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "keys.pem holds no PEM certificate",
        ),
    ],
)
def test_what_is_not_a_usable_key_is_refused(pem: bytes, problem: str) -> None:
    with pytest.raises(KeyProblem, match=problem):
        signingkeys.fingerprints(pem, "keys.pem")


def test_a_certificate_of_an_unusable_key_is_refused_naming_it() -> None:
    pki = PKI()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")]))
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW)
        .sign(pki.ca_key, hashes.SHA256())
    )
    with pytest.raises(KeyProblem, match="the key of CN=rsa is not an elliptic-curve key"):
        signingkeys.fingerprints(certificate_pem(rsa_certificate))


def test_the_command_prints_one_line_per_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "team.pub"
    path.write_bytes(public_pem(key))
    assert cli.main(["fingerprint", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{openssl_fingerprint(public_pem(key))}  public key (P-256)\n"
    assert err == ""


def test_the_command_says_what_is_wrong_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["fingerprint", str(tmp_path / "missing.pub")]) == 2
    assert capsys.readouterr().err == (
        f"modelregistry fingerprint: {tmp_path / 'missing.pub'}: No such file or directory\n"
    )
    (tmp_path / "x.pub").write_text("hello")
    assert cli.main(["fingerprint", str(tmp_path / "x.pub")]) == 2
    assert capsys.readouterr().err == (
        f"modelregistry fingerprint: {tmp_path / 'x.pub'} is not a PEM public key "
        "(-----BEGIN PUBLIC KEY-----)\n"
    )
