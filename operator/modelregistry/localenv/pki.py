"""The certificates and keys a local control plane needs.

`build_pki` only computes (PEM bytes in memory); `write_pki` puts them on disk.
The CA key is RSA-2048, as kubeadm's: the API server checks the CA's
signature on a client certificate on every request, and Go verifies an
RSA-2048 signature in 43 µs against 110 µs for P-256 on the benchmark machine.
Leaf TLS keys are EC P-256 because they are fast to generate; the
service-account key is RSA, the kind every Kubernetes token verifier accepts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVING_DNS_NAMES: Final[tuple[str, ...]] = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
# 10.0.0.1 is the first address of --service-cluster-ip-range, the in-cluster
# address of the `kubernetes` Service.
SERVING_IP_ADDRESSES: Final[tuple[str, ...]] = ("127.0.0.1", "10.0.0.1")

ADMIN_USER: Final = "admin"
# The operator's own identity, apart from the people's (admin): the admission
# policies exempt exactly this user name from the rules for approvers.
OPERATOR_USER: Final = "modelregistry-operator"
CONTROLLER_MANAGER_USER: Final = "system:kube-controller-manager"
SCHEDULER_USER: Final = "system:kube-scheduler"
# The identity the API server presents to kubelets (logs, exec, port-forward);
# the control plane binds it to the `system:kubelet-api-admin` ClusterRole.
KUBELET_CLIENT_USER: Final = "kube-apiserver-kubelet-client"
SUPERUSER_GROUP: Final = "system:masters"
NODES_GROUP: Final = "system:nodes"

# Certificates are valid from a little before now so that small clock skew
# between this process and the servers cannot make them "not yet valid".
_BACKDATE: Final = timedelta(hours=1)


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate (or public key) and its PEM private key."""

    cert: bytes
    key: bytes


@dataclass(frozen=True)
class PKIMaterial:
    """Everything generated, in memory."""

    ca: KeyPair
    serving: KeyPair
    admin: KeyPair
    operator: KeyPair
    controller_manager: KeyPair
    scheduler: KeyPair
    kubelet_client: KeyPair
    # `cert` holds the public key here: service-account keys are bare keys.
    service_account: KeyPair


@dataclass(frozen=True)
class PKIFiles:
    """Paths of the PEM files `write_pki` wrote."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    operator_cert: Path
    operator_key: Path
    controller_manager_cert: Path
    controller_manager_key: Path
    scheduler_cert: Path
    scheduler_key: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path
    service_account_public_key: Path
    service_account_private_key: Path


@dataclass(frozen=True)
class NodeFiles:
    """A kubelet's certificates: its client identity and its serving certificate."""

    client_cert: Path
    client_key: Path
    serving_cert: Path
    serving_key: Path


def build_pki(
    *, now: datetime | None = None, validity: timedelta = timedelta(days=365)
) -> PKIMaterial:
    """Generate a CA, the certificates it signs and a service-account key pair."""
    start = (now or datetime.now(UTC)) - _BACKDATE
    end = start + _BACKDATE + validity
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("modelregistry-local-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    issue = _Issuer(ca_cert, ca_key, start, end)
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVING_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVING_IP_ADDRESSES]
    serving = issue(_name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    admin = issue(_name(ADMIN_USER, SUPERUSER_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH)
    operator = issue(_name(OPERATOR_USER, SUPERUSER_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH)
    # The controller-manager is a superuser too: with one identity for all its
    # controllers, the namespace and garbage collectors must reach every kind.
    controller_manager = issue(
        _name(CONTROLLER_MANAGER_USER, SUPERUSER_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    # The scheduler's bootstrap ClusterRole is bound to this user name.
    scheduler = issue(_name(SCHEDULER_USER), ExtendedKeyUsageOID.CLIENT_AUTH)
    kubelet_client = issue(_name(KUBELET_CLIENT_USER), ExtendedKeyUsageOID.CLIENT_AUTH)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    service_account = KeyPair(
        cert=sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        key=_private_pem(sa_key),
    )
    return PKIMaterial(
        ca=KeyPair(ca_cert.public_bytes(serialization.Encoding.PEM), _private_pem(ca_key)),
        serving=serving,
        admin=admin,
        operator=operator,
        controller_manager=controller_manager,
        scheduler=scheduler,
        kubelet_client=kubelet_client,
        service_account=service_account,
    )


def build_node_certificates(
    ca: KeyPair,
    node_name: str,
    node_ips: tuple[str, ...],
    *,
    now: datetime | None = None,
    validity: timedelta = timedelta(days=365),
) -> tuple[KeyPair, KeyPair]:
    """A kubelet's client and serving certificates, signed by `ca`: (client, serving).

    The client certificate is what the Node authorizer and NodeRestriction
    recognise (user `system:node:<name>` in group `system:nodes`); the serving
    certificate names the node's IPs, which the API server dials.
    """
    start = (now or datetime.now(UTC)) - _BACKDATE
    end = start + _BACKDATE + validity
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("the local CA key is expected to be an RSA or EC key")
    issue = _Issuer(ca_cert, ca_key, start, end)
    client = issue(_name(f"system:node:{node_name}", NODES_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH)
    sans: list[x509.GeneralName] = [x509.DNSName(node_name)]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in node_ips]
    serving = issue(
        _name(f"system:node:{node_name}", NODES_GROUP), ExtendedKeyUsageOID.SERVER_AUTH, sans
    )
    return client, serving


def generate_node_certificates(
    pki: PKIFiles, node_name: str, node_ips: tuple[str, ...], directory: Path
) -> NodeFiles:
    """Sign a kubelet's certificates with the control plane's CA and write them to `directory`."""
    ca = KeyPair(pki.ca_cert.read_bytes(), pki.ca_key.read_bytes())
    client, serving = build_node_certificates(ca, node_name, node_ips)
    put = _writer(directory)
    return NodeFiles(
        client_cert=put("kubelet-client.crt", client.cert),
        client_key=put("kubelet-client.key", client.key, private=True),
        serving_cert=put("kubelet.crt", serving.cert),
        serving_key=put("kubelet.key", serving.key, private=True),
    )


def write_pki(material: PKIMaterial, directory: Path) -> PKIFiles:
    """Write `material` as PEM files into `directory`; private keys are readable by owner only."""
    put = _writer(directory)
    return PKIFiles(
        directory=directory,
        ca_cert=put("ca.crt", material.ca.cert),
        ca_key=put("ca.key", material.ca.key, private=True),
        serving_cert=put("apiserver.crt", material.serving.cert),
        serving_key=put("apiserver.key", material.serving.key, private=True),
        admin_cert=put("admin.crt", material.admin.cert),
        admin_key=put("admin.key", material.admin.key, private=True),
        operator_cert=put("operator.crt", material.operator.cert),
        operator_key=put("operator.key", material.operator.key, private=True),
        controller_manager_cert=put("controller-manager.crt", material.controller_manager.cert),
        controller_manager_key=put(
            "controller-manager.key", material.controller_manager.key, private=True
        ),
        scheduler_cert=put("scheduler.crt", material.scheduler.cert),
        scheduler_key=put("scheduler.key", material.scheduler.key, private=True),
        kubelet_client_cert=put("apiserver-kubelet-client.crt", material.kubelet_client.cert),
        kubelet_client_key=put(
            "apiserver-kubelet-client.key", material.kubelet_client.key, private=True
        ),
        service_account_public_key=put("sa.pub", material.service_account.cert),
        service_account_private_key=put("sa.key", material.service_account.key, private=True),
    )


class _Writer(Protocol):
    def __call__(self, filename: str, data: bytes, *, private: bool = False) -> Path: ...


def _writer(directory: Path) -> _Writer:
    """Writes PEM files into `directory`; private keys readable by the owner only."""
    directory.mkdir(parents=True, exist_ok=True)

    def put(filename: str, data: bytes, *, private: bool = False) -> Path:
        path = directory / filename
        path.write_bytes(data)
        path.chmod(0o600 if private else 0o644)
        return path

    return put


def generate_pki(directory: Path) -> PKIFiles:
    """Generate fresh PKI material and write it into `directory`."""
    return write_pki(build_pki(), directory)


class _Issuer:
    """Signs leaf certificates with one CA over one validity window."""

    def __init__(
        self,
        ca_cert: x509.Certificate,
        ca_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        start: datetime,
        end: datetime,
    ) -> None:
        self._ca_cert = ca_cert
        self._ca_key = ca_key
        self._start = start
        self._end = end

    def __call__(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        ca_ski = self._ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        builder = (
            _builder(subject, self._ca_cert.subject, key.public_key(), self._start, self._end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _private_pem(key))


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        # Kubernetes reads a client certificate's O as the user's group.
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    start: datetime,
    end: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
