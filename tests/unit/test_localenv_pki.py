"""The local control plane's PKI: certificate fields, names, and trust."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from modelregistry.localenv.pki import (
    PKIFiles,
    PKIMaterial,
    build_node_certificates,
    build_pki,
    generate_node_certificates,
    generate_pki,
    write_pki,
)

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def material() -> PKIMaterial:
    return build_pki(now=NOW, validity=timedelta(days=30))


@pytest.fixture(scope="module")
def current() -> PKIMaterial:
    """Material valid now, for real TLS handshakes."""
    return build_pki()


@pytest.fixture
def files(current: PKIMaterial, tmp_path: Path) -> PKIFiles:
    return write_pki(current, tmp_path / "pki")


def cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def names(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in certificate.subject.get_attributes_for_oid(oid)]


def extended_usages(certificate: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_ca_is_a_self_signed_ca(material: PKIMaterial) -> None:
    ca = cert(material.ca.cert)
    assert ca.subject == ca.issuer
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_the_ca_signs_with_rsa_2048_and_leaves_keep_p256_keys(material: PKIMaterial) -> None:
    ca_key = cert(material.ca.cert).public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey) and ca_key.key_size == 2048
    admin = cert(material.admin.cert)
    assert isinstance(admin.signature_algorithm_parameters, padding.PKCS1v15)
    leaf_key = admin.public_key()
    assert isinstance(leaf_key, ec.EllipticCurvePublicKey)
    assert leaf_key.curve.name == "secp256r1"


def test_certificates_are_valid_around_the_given_time(material: PKIMaterial) -> None:
    for pem in (material.ca.cert, material.serving.cert, material.admin.cert):
        certificate = cert(pem)
        assert certificate.not_valid_before_utc < NOW < certificate.not_valid_after_utc
        assert certificate.not_valid_after_utc >= NOW + timedelta(days=30)


def test_serving_certificate_names_the_apiserver(material: PKIMaterial) -> None:
    serving = cert(material.serving.cert)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) >= {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.0.0.1"),
    }
    assert extended_usages(serving) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    serving.verify_directly_issued_by(cert(material.ca.cert))


def test_admin_certificate_is_a_superuser_client(material: PKIMaterial) -> None:
    admin = cert(material.admin.cert)
    assert names(admin, NameOID.COMMON_NAME) == ["admin"]
    assert names(admin, NameOID.ORGANIZATION_NAME) == ["system:masters"]
    assert extended_usages(admin) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    admin.verify_directly_issued_by(cert(material.ca.cert))


def test_controller_manager_certificate_names_its_user(material: PKIMaterial) -> None:
    controller_manager = cert(material.controller_manager.cert)
    assert names(controller_manager, NameOID.COMMON_NAME) == ["system:kube-controller-manager"]
    assert extended_usages(controller_manager) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    controller_manager.verify_directly_issued_by(cert(material.ca.cert))


@pytest.mark.parametrize(
    ("field", "user"),
    [("scheduler", "system:kube-scheduler"), ("kubelet_client", "kube-apiserver-kubelet-client")],
)
def test_component_client_certificates_name_their_users(
    material: PKIMaterial, field: str, user: str
) -> None:
    certificate = cert(getattr(material, field).cert)
    assert names(certificate, NameOID.COMMON_NAME) == [user]
    # Not superusers: RBAC grants them what they need.
    assert names(certificate, NameOID.ORGANIZATION_NAME) == []
    assert extended_usages(certificate) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    certificate.verify_directly_issued_by(cert(material.ca.cert))


def test_node_certificates_carry_the_node_identity_and_its_ip(material: PKIMaterial) -> None:
    client_pair, serving_pair = build_node_certificates(
        material.ca, "node-a", ("10.213.0.1",), now=NOW
    )
    client, serving = cert(client_pair.cert), cert(serving_pair.cert)
    # What the Node authorizer and NodeRestriction recognise.
    assert names(client, NameOID.COMMON_NAME) == ["system:node:node-a"]
    assert names(client, NameOID.ORGANIZATION_NAME) == ["system:nodes"]
    assert extended_usages(client) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert extended_usages(serving) == [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.213.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["node-a"]
    for certificate in (client, serving):
        certificate.verify_directly_issued_by(cert(material.ca.cert))
        assert certificate.not_valid_before_utc < NOW < certificate.not_valid_after_utc


def test_generate_node_certificates_signs_with_the_written_ca(
    files: PKIFiles, tmp_path: Path
) -> None:
    node = generate_node_certificates(files, "node-b", ("10.0.9.1",), tmp_path / "node")
    ca = cert(files.ca_cert.read_bytes())
    for path in (node.client_cert, node.serving_cert):
        cert(path.read_bytes()).verify_directly_issued_by(ca)
    for path in (node.client_key, node.serving_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_service_account_keys_are_a_matching_rsa_pair(material: PKIMaterial) -> None:
    private = serialization.load_pem_private_key(material.service_account.key, password=None)
    public = serialization.load_pem_public_key(material.service_account.cert)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert isinstance(public, rsa.RSAPublicKey)
    assert private.public_key().public_numbers() == public.public_numbers()


def test_each_build_makes_a_new_ca(material: PKIMaterial, current: PKIMaterial) -> None:
    assert cert(current.ca.cert).public_key() != cert(material.ca.cert).public_key()


def test_write_pki_writes_pem_files_with_private_keys_owner_only(
    current: PKIMaterial, files: PKIFiles
) -> None:
    assert files.ca_cert.read_bytes() == current.ca.cert
    assert files.admin_key.read_bytes() == current.admin.key
    assert files.service_account_public_key.read_bytes() == current.service_account.cert
    private = [
        files.ca_key,
        files.serving_key,
        files.admin_key,
        files.controller_manager_key,
        files.scheduler_key,
        files.kubelet_client_key,
        files.service_account_private_key,
    ]
    for path in private:
        assert path.parent == files.directory
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_generate_pki_creates_the_directory(tmp_path: Path) -> None:
    files = generate_pki(tmp_path / "new" / "pki")
    assert files.serving_cert.is_file()
    assert files.serving_key.is_file()


def handshake(files: PKIFiles, server_hostname: str) -> x509.Certificate:
    """Mutual TLS in memory, as kubectl with the admin cert would talk to the apiserver.

    Returns the client certificate as the server saw it.
    """
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.serving_cert, files.serving_key)
    server_context.load_verify_locations(files.ca_cert)
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.create_default_context(cafile=str(files.ca_cert))
    client_context.load_cert_chain(files.admin_cert, files.admin_key)

    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    client = client_context.wrap_bio(to_client, to_server, server_hostname=server_hostname)
    done: set[str] = set()
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if name not in done:
                try:
                    side.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
        if done == {"client", "server"}:
            break
    assert done == {"client", "server"}
    peer = server.getpeercert(binary_form=True)
    assert peer is not None
    return x509.load_der_x509_certificate(peer)


@pytest.mark.parametrize(
    "hostname", ["127.0.0.1", "10.0.0.1", "localhost", "kubernetes.default.svc"]
)
def test_admin_and_apiserver_trust_each_other_through_the_ca(
    files: PKIFiles, hostname: str
) -> None:
    peer = handshake(files, hostname)
    assert names(peer, NameOID.COMMON_NAME) == ["admin"]
    assert names(peer, NameOID.ORGANIZATION_NAME) == ["system:masters"]


def test_serving_certificate_does_not_cover_other_names(files: PKIFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(files, "example.com")
